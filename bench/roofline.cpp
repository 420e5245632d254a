// The roofline passes, compiled with -march=native (this file only; see CMakeLists.txt): the best this
// machine can do with the bytes a KL pass must move.  Only plain C++ and static functions here, so
// that no inline function compiled with the machine's ISA can be picked by the linker for another TU.
#include <omp.h>  // plain C declarations, no inline code

#include <cstddef>

#include "baselines.hpp"

namespace bench {
namespace {

// Four vector registers' worth of independent accumulators: enough to hide the add latency, so the
// loop runs at the speed of its loads.  GCC and Clang vectorise the inner loop into whole registers.
template <class T>
T read_pass(const T* __restrict x, const T* __restrict t, std::size_t n) noexcept {
  constexpr std::size_t A = 4 * 64 / sizeof(T);
  T acc[A] = {};
  std::size_t i = 0;
  for (; i + A <= n; i += A)
    for (std::size_t j = 0; j < A; ++j) acc[j] += x[i + j] + t[i + j];
  T s = 0;
  for (; i < n; ++i) s += x[i] + t[i];
  for (std::size_t j = 0; j < A; ++j) s += acc[j];
  return s;
}

template <class T>
void read_write_pass(const T* __restrict x, const T* __restrict t, T* __restrict out, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) out[i] = x[i] + t[i];
}

// Thread i of count gets a contiguous share, cut at 64-element boundaries (whole cache lines).
struct Share {
  std::size_t begin, end;
};
Share share(std::size_t n, int i, int count) noexcept {
  const std::size_t chunks = (n + 63) / 64;
  const std::size_t b = chunks * i / count * 64, e = chunks * (i + 1) / count * 64;
  return {b < n ? b : n, e < n ? e : n};
}

template <class T>
double read(const T* x, const T* t, std::size_t n, int threads) noexcept {
  const int count = useful_threads(n, threads);
  if (count == 1) return read_pass(x, t, n);  // no OpenMP call at all on one thread
  double total = 0;
#pragma omp parallel num_threads(count) reduction(+ : total)
  {
    const Share s = share(n, omp_get_thread_num(), omp_get_num_threads());
    total += read_pass(x + s.begin, t + s.begin, s.end - s.begin);
  }
  return total;
}

template <class T>
void read_write(const T* x, const T* t, T* out, std::size_t n, int threads) noexcept {
  const int count = useful_threads(n, threads);
  if (count == 1) return read_write_pass(x, t, out, n);
#pragma omp parallel num_threads(count)
  {
    const Share s = share(n, omp_get_thread_num(), omp_get_num_threads());
    read_write_pass(x + s.begin, t + s.begin, out + s.begin, s.end - s.begin);
  }
}

}  // namespace

double roofline_read(const float* x, const float* t, std::size_t n, int threads) noexcept { return read(x, t, n, threads); }
double roofline_read(const double* x, const double* t, std::size_t n, int threads) noexcept { return read(x, t, n, threads); }
void roofline_read_write(const float* x, const float* t, float* out, std::size_t n, int threads) noexcept {
  read_write(x, t, out, n, threads);
}
void roofline_read_write(const double* x, const double* t, double* out, std::size_t n, int threads) noexcept {
  read_write(x, t, out, n, threads);
}

}  // namespace bench
