// The KL-divergence kernels, written once over the vector vocabulary and instantiated per ISA by the
// files in src/isa/.  One pass over memory: each element of x and t is loaded once, its loss computed
// in registers and either stored (reduction none) or added to the block's accumulators.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "../kernel_table.hpp"
#include "../reduction.hpp"
#include "math.hpp"

namespace kldiv::detail::KLDIV_TARGET {

// PyTorch's formula, operation for operation, so that overflow, inf and NaN come out the same:
//   l = xlogy(t, t) - t*x        xlogy(t, t) = 0 at t == 0, NaN at NaN, t*log(t) otherwise
//   l = exp(t) * (t - x)         with log_target
// The fast paths cover vectors whose t are all normal positive (log) or moderate (exp); the others take
// the general path, which gives the same bits wherever both apply.
template <bool LogTarget, class V>
KLDIV_INLINE V loss(V x, V t) noexcept {
  using T = value_t<V>;
  using K = consts<T>;
  if constexpr (LogTarget) {
    const bool moderate = vall((t >= V(-K::exp_fast)) & (t <= V(K::exp_fast)));
    const V e = moderate ? vexp<false>(t) : vexp<true>(t);
    return e * (t - x);
  } else {
    const bool normal = vall((t >= V(K::min_normal)) & (t <= V(std::numeric_limits<T>::max())));
    const V xlogy = normal ? t * log_positive<false>(t) : vselect(t == V(0), V(0), t * vlog(t));
    return xlogy - t * x;
  }
}

// Compensated accumulation (Knuth's TwoSum): s + c carries the lane's sum with its rounding errors, so
// block sums are accurate whatever their length and the order of magnitudes.
template <class V>
KLDIV_INLINE void accumulate(V& s, V& c, V v) noexcept {
  const V sum = s + v;
  const V bv = sum - s;
  c = c + ((s - (sum - bv)) + (v - bv));
  s = sum;
}

template <class V, bool LogTarget>
void pointwise_loop(const value_t<V>* x, const value_t<V>* t, value_t<V>* out, std::size_t n) noexcept {
  using T = value_t<V>;
  using Tr = traits<V>;
  constexpr std::size_t W = Tr::size;
  std::size_t i = 0;
  for (; i + W <= n; i += W) Tr::store(out + i, loss<LogTarget>(Tr::load(x + i), Tr::load(t + i)));
  if (i < n) {
    T bx[W] = {}, bt[W] = {}, bo[W];  // padding (0, 0) is a valid input; its result is dropped
    std::memcpy(bx, x + i, (n - i) * sizeof(T));
    std::memcpy(bt, t + i, (n - i) * sizeof(T));
    Tr::store(bo, loss<LogTarget>(Tr::load(bx), Tr::load(bt)));
    std::memcpy(out + i, bo, (n - i) * sizeof(T));
  }
}

template <class V, bool LogTarget>
void block_sums_loop(const value_t<V>* x, const value_t<V>* t, std::size_t n, Partial* partials) noexcept {
  using T = value_t<V>;
  using Tr = traits<V>;
  constexpr std::size_t W = Tr::size;
  constexpr std::size_t R = kLanes / W;  // registers per virtual lane set
  static_assert(kLanes % W == 0 && kBlock % kLanes == 0);

  for (std::size_t begin = 0; begin < n; begin += kBlock) {
    const std::size_t len = std::min(kBlock, n - begin);
    const T* xb = x + begin;
    const T* tb = t + begin;
    V s[R], c[R];
    for (std::size_t r = 0; r < R; ++r) s[r] = c[r] = V(0);

    std::size_t i = 0;
    for (; i + kLanes <= len; i += kLanes)
      for (std::size_t r = 0; r < R; ++r)
        accumulate(s[r], c[r], loss<LogTarget>(Tr::load(xb + i + r * W), Tr::load(tb + i + r * W)));
    if (i < len) {  // the last, partial chunk: lanes past the end add exactly 0
      const std::size_t rest = len - i;
      T bx[kLanes] = {}, bt[kLanes] = {}, lane[kLanes];
      std::memcpy(bx, xb + i, rest * sizeof(T));
      std::memcpy(bt, tb + i, rest * sizeof(T));
      for (std::size_t j = 0; j < kLanes; ++j) lane[j] = T(j);
      for (std::size_t r = 0; r < R; ++r) {
        const V l = loss<LogTarget>(Tr::load(bx + r * W), Tr::load(bt + r * W));
        accumulate(s[r], c[r], vselect(Tr::load(lane + r * W) < V(T(rest)), l, V(0)));
      }
    }

    T sl[kLanes], cl[kLanes];
    for (std::size_t r = 0; r < R; ++r) {
      Tr::store(sl + r * W, s[r]);
      Tr::store(cl + r * W, c[r]);
    }
    partials[begin / kBlock] = lanes_to_partial(sl, cl);
  }
}

template <class V>
void pointwise_entry(const value_t<V>* x, const value_t<V>* t, value_t<V>* out, std::size_t n,
                     bool log_target) noexcept {
  log_target ? pointwise_loop<V, true>(x, t, out, n) : pointwise_loop<V, false>(x, t, out, n);
}

template <class V>
void block_sums_entry(const value_t<V>* x, const value_t<V>* t, std::size_t n, bool log_target,
                      Partial* partials) noexcept {
  log_target ? block_sums_loop<V, true>(x, t, n, partials) : block_sums_loop<V, false>(x, t, n, partials);
}

template <class V, V (*F)(V)>
void map_entry(const value_t<V>* in, value_t<V>* out, std::size_t n) noexcept {
  using T = value_t<V>;
  using Tr = traits<V>;
  constexpr std::size_t W = Tr::size;
  for (std::size_t i = 0; i < n; i += W) {
    T b[W] = {};
    const std::size_t k = std::min(W, n - i);
    std::memcpy(b, in + i, k * sizeof(T));
    Tr::store(b, F(Tr::load(b)));
    std::memcpy(out + i, b, k * sizeof(T));
  }
}

template <class V>
constexpr TypedKernels<value_t<V>> typed_kernels() noexcept {
  return {&pointwise_entry<V>, &block_sums_entry<V>, &map_entry<V, &vlog<V>>, &map_entry<V, &vexp<true, V>>};
}

template <class Vf, class Vd>
constexpr KernelTable make_table(const char* name) noexcept {
  return {name, typed_kernels<Vf>(), typed_kernels<Vd>()};
}

}  // namespace kldiv::detail::KLDIV_TARGET
