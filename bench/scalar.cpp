// The scalar baseline: the loop a user writes by hand, compiled at -O3 for the baseline ISA, std::log
// and std::exp from libm.  No fast-math, so the compiler keeps the loop as written (scalar, in order).
#include <algorithm>
#include <cmath>

#include "baselines.hpp"

namespace bench {
namespace {

template <bool LogTarget, class T>
inline T loss(T x, T t) noexcept {
  if constexpr (LogTarget)
    return std::exp(t) * (t - x);
  else
    return (t > 0 ? t * std::log(t) : T(0)) - t * x;
}

template <bool LogTarget, class T>
double run(const T* x, const T* t, T* out, std::int64_t rows, std::size_t n, kldiv::Reduction reduction,
           int threads) noexcept {
  const int count = useful_threads(n, threads);
  const auto len = static_cast<std::ptrdiff_t>(n);
  if (reduction == kldiv::Reduction::none) {
#pragma omp parallel for num_threads(count) if (count > 1) schedule(static)
    for (std::ptrdiff_t i = 0; i < len; ++i) out[i] = loss<LogTarget>(x[i], t[i]);
    return 0;
  }
  double sum = 0;  // a double accumulator: what a careful user writes, and free next to the log
#pragma omp parallel for num_threads(count) if (count > 1) schedule(static) reduction(+ : sum)
  for (std::ptrdiff_t i = 0; i < len; ++i) sum += loss<LogTarget>(x[i], t[i]);
  return reduction == kldiv::Reduction::mean        ? sum / static_cast<double>(n)
         : reduction == kldiv::Reduction::batchmean ? sum / static_cast<double>(rows)
                                                    : sum;
}

template <class T>
double dispatch(const T* x, const T* t, T* out, std::int64_t rows, std::size_t n, kldiv::Reduction reduction,
                bool log_target, int threads) noexcept {
  return log_target ? run<true>(x, t, out, rows, n, reduction, threads)
                    : run<false>(x, t, out, rows, n, reduction, threads);
}

}  // namespace

// Here rather than inline in baselines.hpp: roofline.cpp is compiled with -march=native, and an inline
// function it instantiated could be the copy the linker keeps for everyone.
int useful_threads(std::size_t n, int threads) noexcept {
  const std::size_t useful = n / 32768 > 0 ? n / 32768 : 1;
  return threads < 1 ? 1 : static_cast<int>(useful < static_cast<std::size_t>(threads) ? useful : threads);
}

double scalar_forward(const float* x, const float* t, float* out, std::int64_t rows, std::size_t n,
                      kldiv::Reduction reduction, bool log_target, int threads) noexcept {
  return dispatch(x, t, out, rows, n, reduction, log_target, threads);
}
double scalar_forward(const double* x, const double* t, double* out, std::int64_t rows, std::size_t n,
                      kldiv::Reduction reduction, bool log_target, int threads) noexcept {
  return dispatch(x, t, out, rows, n, reduction, log_target, threads);
}

}  // namespace bench

namespace bench {

double scalar_logits_kl(const float* p, const float* q, std::int64_t rows, std::int64_t cols, double temperature) noexcept {
  const float inv_t = static_cast<float>(1 / temperature);
  double total = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* a = p + r * cols;
    const float* b = q + r * cols;
    // The max and a double sum of exp for each normaliser...
    float ma = a[0], mb = b[0];
    for (std::int64_t j = 1; j < cols; ++j) ma = std::max(ma, a[j]), mb = std::max(mb, b[j]);
    double sa = 0, sb = 0;
    for (std::int64_t j = 0; j < cols; ++j) sa += std::exp((a[j] - ma) * inv_t), sb += std::exp((b[j] - mb) * inv_t);
    const float la = static_cast<float>(ma * inv_t + std::log(sa)), lb = static_cast<float>(mb * inv_t + std::log(sb));
    // ...then one fused loop over expf.
    double kl = 0;
    for (std::int64_t j = 0; j < cols; ++j) {
      const float lpa = a[j] * inv_t - la, lpb = b[j] * inv_t - lb;
      kl += std::exp(lpa) * (lpa - lpb);
    }
    total += kl;
  }
  return total / static_cast<double>(rows);
}

}  // namespace bench
