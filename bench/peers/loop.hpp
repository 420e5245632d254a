// The one loop every intrinsics-level peer runs, with its log as a template argument: what a careful
// user writes.  Two independent float accumulators of 16 lanes, t*(log t - x) as one FMA, added into a
// double every 4096 elements; the tail is loaded masked, with t = 1 (a zero term) past the end.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstddef>

#include "peers.hpp"

namespace bench::peer {

inline __mmask16 tail_mask(std::size_t k) { return static_cast<__mmask16>((1u << k) - 1); }

template <class Log>
double sum(const float* x, const float* t, std::size_t n) {
  constexpr std::size_t kChunk = 4096;
  const __m512 one = _mm512_set1_ps(1.0f);
  double total = 0;
  for (std::size_t begin = 0; begin < n; begin += kChunk) {
    const std::size_t end = std::min(n, begin + kChunk);
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    std::size_t i = begin;
    for (; i + 32 <= end; i += 32) {
      const __m512 t0 = _mm512_loadu_ps(t + i), t1 = _mm512_loadu_ps(t + i + 16);
      a0 = _mm512_fmadd_ps(t0, _mm512_sub_ps(Log::f(t0), _mm512_loadu_ps(x + i)), a0);
      a1 = _mm512_fmadd_ps(t1, _mm512_sub_ps(Log::f(t1), _mm512_loadu_ps(x + i + 16)), a1);
    }
    for (; i < end; i += 16) {
      const __mmask16 k = tail_mask(std::min<std::size_t>(16, end - i));
      const __m512 t0 = _mm512_mask_loadu_ps(one, k, t + i);
      a0 = _mm512_fmadd_ps(t0, _mm512_sub_ps(Log::f(t0), _mm512_maskz_loadu_ps(k, x + i)), a0);
    }
    total += static_cast<double>(_mm512_reduce_add_ps(_mm512_add_ps(a0, a1)));
  }
  return total;
}

template <class Log>
void log(const float* in, float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail_mask(std::min<std::size_t>(16, n - i));
    _mm512_mask_storeu_ps(out + i, k, Log::f(_mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), k, in + i)));
  }
}

template <class Log>
constexpr Peer make(const char* name) {
  return {name, &sum<Log>, &log<Log>};
}

}  // namespace bench::peer
