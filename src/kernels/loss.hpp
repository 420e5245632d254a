// The KL-divergence kernels, written once over the vector vocabulary and instantiated per ISA by the
// files in src/isa/.  One pass over memory: each element of x and t is loaded once; its loss and
// gradients are computed in registers, the loss stored (reduction none) or added to the block's
// accumulators, the gradients stored.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <tuple>
#include <type_traits>
#include <utility>

#include "../kernel_table.hpp"
#include "../reduction.hpp"
#include "half.hpp"
#include "math.hpp"

namespace kldiv::detail::KLDIV_TARGET {

// What one pass computes, as bits of a template argument: the loss, and the gradients for an upstream
// gradient g.
using Want = unsigned;
inline constexpr Want kLoss = 1, kGradInput = 2, kGradTarget = 4;

template <class V>
struct Terms {
  V loss, grad_input, grad_target;
};

// PyTorch's formulas, operation for operation, so that overflow, inf and NaN come out the same:
//   l = xlogy(t, t) - t*x        xlogy(t, t) = 0 at t == 0, NaN at NaN, t*log(t) otherwise
//   l = exp(t) * (t - x)         with log_target
// and their autograd gradients (see kldiv.hpp).  The fast paths cover vectors whose t are all normal
// positive (log) or moderate (exp); the others take the general path, which gives the same bits wherever
// both apply.  Unless Checked, the caller vouches for the fast path (see Speculation).  log t or exp t is
// computed once for the loss and both gradients.
template <bool LogTarget, Want W, bool Checked, class V>
KLDIV_INLINE Terms<V> terms(V x, V t, V g) noexcept {
  using T = value_t<V>;
  using K = consts<T>;
  using L = std::numeric_limits<T>;
  Terms<V> r{};
  if constexpr (LogTarget) {
    const V e = Checked ? vexp_checked(t) : vexp<false>(t);
    const V d = t - x;
    if constexpr (W & kLoss) r.loss = e * d;
    if constexpr (W & kGradInput) r.grad_input = flip_sign(g * e);
    if constexpr (W & kGradTarget) r.grad_target = (g * d) * e + g * e;
  } else {
    const bool normal = !Checked || vall((t >= V(K::min_normal)) & (t <= V(L::max())));
    const V log_t = normal ? log_positive<false>(t) : vlog(t);
    if constexpr (W & kLoss) {
      const V xlogy = normal ? t * log_t : vselect(t == V(0), V(0), t * log_t);
      r.loss = xlogy - t * x;
    }
    if constexpr (W & kGradInput) r.grad_input = flip_sign(g) * t;  // PyTorch: (-g) * t
    if constexpr (W & kGradTarget) {
      // g*xlogy(t != 0, t) + g*(t/t) - g*x, where t/t is exactly 1, or NaN at 0, inf and NaN.
      const V xlogy_grad = normal ? log_t : vselect(t == V(0), V(0), log_t);
      const V nan(L::quiet_NaN());  // t - t is 0 exactly for finite t
      const V ratio = normal ? V(1) : vselect(t == V(0), nan, vselect(t - t == V(0), V(1), nan));
      r.grad_target = (g * xlogy_grad + g * ratio) - g * x;
    }
  }
  return r;
}

// The fast paths' ranges of t as one unsigned comparison, key(t) < limit: t in [min_normal, max] (log)
// or |t| <= exp_fast (exp), NaN excluded.  Keys combine with max, so one comparison checks a block.
template <bool LogTarget, class V>
struct FastRange {
  using T = value_t<V>;
  using U = typename consts<T>::bits;
  static U bits_of(T v) noexcept {
    U b;
    std::memcpy(&b, &v, sizeof b);
    return b;
  }
  static KLDIV_INLINE bits_t<V> key(V t) noexcept {
    if constexpr (LogTarget)
      return as_bits(t) & bits_t<V>(~(U(1) << (8 * sizeof(U) - 1)));
    else
      return as_bits(t) - bits_t<V>(bits_of(consts<T>::min_normal));
  }
  static U limit() noexcept {
    if constexpr (LogTarget)
      return bits_of(consts<T>::exp_fast) + 1;
    else
      return bits_of(std::numeric_limits<T>::max()) - bits_of(consts<T>::min_normal) + 1;
  }
};

// Float passes first compute the whole vectors of each stretch of kBlock elements on the fast path,
// speculatively, while a max of FastRange keys records whether that was right: one integer max a vector
// instead of two compares and a branch, 10 % faster on Zen 4.  A stretch where it was wrong is computed
// again, checked vector by vector, and so is the rest of the call: sparse targets (t == 0) lose one
// stretch.  Both give the same bits.  Not for double (AVX2 has no unsigned 64-bit max), nor where an
// output is an input's array (in place), which the first attempt would overwrite.
template <class V, bool LogTarget>
class Speculation {
 public:
  explicit Speculation(bool in_place) noexcept : on_(kOn && !in_place), key_(0) {}
  // Runs run(), which computes unchecked and passes each vector's t to note(); false if it was not run
  // or was wrong, and the caller must compute the stretch checked.
  template <class Run>
  KLDIV_INLINE bool attempt(Run&& run) noexcept {
    if constexpr (kOn) {
      if (on_) {
        key_ = bits_t<V>(0);
        run();
        on_ = vall(key_ < bits_t<V>(FastRange<LogTarget, V>::limit()));
        return on_;
      }
    }
    return false;
  }
  KLDIV_INLINE void note(V t) noexcept { key_ = vmax(key_, FastRange<LogTarget, V>::key(t)); }

 private:
  static constexpr bool kOn = std::is_same_v<value_t<V>, float>;
  bool on_;
  bits_t<V> key_;
};

// Whether an output is one of the input arrays (null pointers are no array).
template <class T>
bool in_place(std::initializer_list<const T*> inputs, std::initializer_list<const T*> outputs) noexcept {
  for (const T* o : outputs)
    for (const T* i : inputs)
      if (o != nullptr && o == i) return true;
  return false;
}

// A block's kLanes loss accumulators, lane j taking the elements j mod kLanes (bf16: 2j and 2j + 1 of
// every 2 kLanes, as load_pair reads them).  Float losses are summed in double, which is exact enough (a
// lane adds kBlock / (kLanes * fold) = 128 terms: its error stays below 2^-46 of their magnitudes) and
// cheaper than compensation; each lane first adds its four elements of a step in float, pairwise (fold).
// Widening is costly (on Zen 4 a quarter of the pass at fold 2): folding four makes the pass 13 % faster
// for two float roundings, at most 2u times the four losses' magnitudes.  Double losses are compensated
// (Knuth's TwoSum, s + c carrying the sum with its rounding errors).
template <class V, bool Widen = std::is_same_v<value_t<V>, float>>
struct Lanes {
  using Wide = decltype(widen(std::declval<V>()));
  using D = typename Wide::value_type;
  static constexpr std::size_t K = std::tuple_size<Wide>::value, S = traits<D>::size;
  static constexpr std::size_t fold = 4;  // consecutive sets of kLanes losses added before add()
  D sum[kLanes / S];

  Lanes() noexcept {
    for (D& d : sum) d = D(0);
  }
  KLDIV_INLINE void add(std::size_t r, V loss) noexcept {
    const Wide w = widen(loss);
    for (std::size_t k = 0; k < K; ++k) sum[r * K + k] = sum[r * K + k] + w[k];
  }
  Partial partial() const noexcept {
    double s[kLanes];
    for (std::size_t i = 0; i < kLanes / S; ++i) traits<D>::store(s + i * S, sum[i]);
    return float_lanes_to_partial(s);
  }
};

template <class V>
struct Lanes<V, false> {
  static constexpr std::size_t S = traits<V>::size;
  static constexpr std::size_t fold = 1;
  V s[kLanes / S], c[kLanes / S];

  Lanes() noexcept {
    for (std::size_t r = 0; r < kLanes / S; ++r) s[r] = c[r] = V(0);
  }
  KLDIV_INLINE void add(std::size_t r, V loss) noexcept {
    const V sum = s[r] + loss;
    const V bv = sum - s[r];
    c[r] = c[r] + ((s[r] - (sum - bv)) + (loss - bv));
    s[r] = sum;
  }
  Partial partial() const noexcept {
    value_t<V> sl[kLanes], cl[kLanes];
    for (std::size_t r = 0; r < kLanes / S; ++r) {
      traits<V>::store(sl + r * S, s[r]);
      traits<V>::store(cl + r * S, c[r]);
    }
    return lanes_to_partial(sl, cl);
  }
};

// Element by element: the loss of reduction none, or the gradients.  g is per element (GArray) or g_one.
// E is the element type of the arrays (value_t<V>, or a half type widened to V: half.hpp).
template <class V, bool LogTarget, Want W, bool GArray, class E>
void elementwise_loop(const E* x, const E* t, const E* g, value_t<V> g_one, E* loss, E* grad_input, E* grad_target,
                      std::size_t n) noexcept {
  constexpr std::size_t S = traits<V>::size;
  const V g_all(g_one);  // one upstream gradient for all, read only by passes that compute a gradient
  Speculation<V, LogTarget> speculation(in_place<E>({x, t, GArray ? g : nullptr}, {loss, grad_input, grad_target}));
  const auto step = [&](auto checked, std::size_t i, std::size_t k) KLDIV_INLINE_LAMBDA {
    const V tv = load_as_n<V>(t + i, k);
    if constexpr (!checked) speculation.note(tv);
    const Terms<V> r = terms<LogTarget, W, checked>(load_as_n<V>(x + i, k), tv, GArray ? load_as_n<V>(g + i, k) : g_all);
    if constexpr (W & kLoss) store_as_n(loss + i, k, r.loss);
    if constexpr (W & kGradInput) store_as_n(grad_input + i, k, r.grad_input);
    if constexpr (W & kGradTarget) store_as_n(grad_target + i, k, r.grad_target);
  };
  for (std::size_t begin = 0; begin < n; begin += kBlock) {
    const std::size_t end = begin + std::min(kBlock, n - begin), whole = end - (end - begin) % S;
    std::size_t i = begin;
    if (!speculation.attempt([&]() KLDIV_INLINE_LAMBDA {
          for (; i < whole; i += S) step(std::false_type{}, i, S);
        }))
      i = begin;
    // The tail is always checked: its padding (t = 0) is outside every fast range.
    for (; i < end; i += S) step(std::true_type{}, i, std::min(S, end - i));
  }
}

// The arrays a pass reads and writes, from some element on (null gradients stay null).
template <class E>
struct Arrays {
  const E* x;
  const E* t;
  E* grad_input;
  E* grad_target;
  Arrays at(std::size_t i) const noexcept {
    return {x + i, t + i, grad_input ? grad_input + i : nullptr, grad_target ? grad_target + i : nullptr};
  }
};

// A copy of the last k < N elements of a block, padded with x = t = 0, whose loss is +0 in either form
// as lanes left empty would be: the tail runs through the same code as whole steps.
template <class E, std::size_t N>
struct PaddedTail {
  E x[N], t[N], grad_input[N], grad_target[N];
  Arrays<E> fill(const Arrays<E>& from, std::size_t k) noexcept {
    std::memset(x, 0, sizeof x);
    std::memset(t, 0, sizeof t);
    std::memcpy(x, from.x, k * sizeof(E));
    std::memcpy(t, from.t, k * sizeof(E));
    return {x, t, from.grad_input ? grad_input : nullptr, from.grad_target ? grad_target : nullptr};
  }
  void drain(const Arrays<E>& to, std::size_t k) const noexcept {
    if (to.grad_input) std::memcpy(to.grad_input, grad_input, k * sizeof(E));
    if (to.grad_target) std::memcpy(to.grad_target, grad_target, k * sizeof(E));
  }
};

// Block by block: partials[b] = the loss summed over block b, in kLanes compensated lanes; the gradients
// for one upstream g are stored on the way.
template <class V, bool LogTarget, Want W, class E>
void reduce_loop(const E* x, const E* t, value_t<V> g, E* grad_input, E* grad_target, std::size_t n,
                 Partial* partials) noexcept {
  constexpr std::size_t S = traits<V>::size;
  constexpr std::size_t R = kLanes / S;  // registers per set of lanes
  // A step is F >= 2 sets of kLanes elements (two for F = 1), read in groups of two sets (load_pair).
  constexpr std::size_t F = Lanes<V>::fold, step = std::max<std::size_t>(F, 2) * kLanes;
  static_assert(kLanes % S == 0 && kBlock % step == 0 && (F == 1 || F % 2 == 0));

  Speculation<V, LogTarget> speculation(in_place<E>({x, t}, {grad_input, grad_target}));
  const Arrays<E> arrays{x, t, grad_input, grad_target};
  Lanes<V> lanes;
  // The losses of a step, set after set; for F >= 2 the F sets folded lane by lane, ((l0 + l1) + (l2 + l3))
  // for F = 4, before they are added to the lanes.  Their gradients are stored on the way.
  const auto add_step = [&](auto checked, const Arrays<E>& a) KLDIV_INLINE_LAMBDA {
    for (std::size_t r = 0; r < R; ++r) {
      // Sets 2h and 2h + 1.
      const auto pair_at = [&](std::size_t h) KLDIV_INLINE_LAMBDA {
        const std::size_t i = 2 * h * kLanes;
        const std::array<V, 2> tv = load_pair<V>(a.t + i, r), xv = load_pair<V>(a.x + i, r);
        Terms<V> e[2];
        for (std::size_t k = 0; k < 2; ++k) {
          if constexpr (!checked) speculation.note(tv[k]);
          e[k] = terms<LogTarget, W, checked>(xv[k], tv[k], V(g));
        }
        if constexpr (W & kGradInput) store_pair(a.grad_input + i, r, e[0].grad_input, e[1].grad_input);
        if constexpr (W & kGradTarget) store_pair(a.grad_target + i, r, e[0].grad_target, e[1].grad_target);
        return std::array<V, 2>{e[0].loss, e[1].loss};
      };
      if constexpr (F == 1) {
        const std::array<V, 2> l = pair_at(0);
        lanes.add(r, l[0]);
        lanes.add(r, l[1]);
      } else {
        std::array<V, 2> l = pair_at(0);
        V folded = l[0] + l[1];
        // Each pair's chains apart: interleaved, GCC 12 spilled (f32 on AVX-512: 4.5 % slower on Zen 5).
        schedule_point(folded);
        for (std::size_t h = 1; h < F / 2; ++h) {
          l = pair_at(h);
          folded = folded + (l[0] + l[1]);
        }
        lanes.add(r, folded);
      }
    }
  };
  PaddedTail<E, step> tail;
  for (std::size_t begin = 0; begin < n; begin += kBlock) {
    const std::size_t len = std::min(kBlock, n - begin), whole = len - len % step;
    const Arrays<E> block = arrays.at(begin);
    lanes = Lanes<V>();
    std::size_t i = 0;
    if (!speculation.attempt([&]() KLDIV_INLINE_LAMBDA {
          for (; i < whole; i += step) add_step(std::false_type{}, block.at(i));
        })) {
      lanes = Lanes<V>();
      i = 0;
    }
    // The tail is always checked: its padding (t = 0) is outside every fast range.
    for (; i < len; i += step) {
      const std::size_t k = std::min(step, len - i);
      add_step(std::true_type{}, k == step ? block.at(i) : tail.fill(block.at(i), k));
      if (k < step) tail.drain(block.at(i), k);
    }
    partials[begin / kBlock] = lanes.partial();
  }
}

// Runs f(std::true_type{}) or f(std::false_type{}): a run-time flag made a template argument.
template <class F>
KLDIV_INLINE void with_flag(bool flag, F&& f) {
  if (flag)
    f(std::true_type{});
  else
    f(std::false_type{});
}

template <class V, class E>
void pointwise_entry(const E* x, const E* t, E* out, std::size_t n, bool log_target) noexcept {
  with_flag(log_target, [&](auto lt) { elementwise_loop<V, lt, kLoss, false, E>(x, t, nullptr, 0, out, nullptr, nullptr, n); });
}

template <class V, class E>
void block_sums_entry(const E* x, const E* t, std::size_t n, bool log_target, Partial* partials) noexcept {
  with_flag(log_target, [&](auto lt) { reduce_loop<V, lt, kLoss, E>(x, t, 0, nullptr, nullptr, n, partials); });
}

template <class V, class E>
void backward_entry(const E* g, value_t<V> g_one, const E* x, const E* t, E* grad_input, E* grad_target, std::size_t n,
                    bool log_target) noexcept {
  with_flag(log_target, [&](auto lt) {
    with_flag(g != nullptr, [&](auto per_element) {
      with_flag(grad_input != nullptr, [&](auto gi) {
        with_flag(grad_target != nullptr, [&](auto gt) {
          constexpr Want w = (gi ? kGradInput : 0) | (gt ? kGradTarget : 0);
          if constexpr (w != 0)
            elementwise_loop<V, lt, w, per_element, E>(x, t, g, g_one, nullptr, grad_input, grad_target, n);
        });
      });
    });
  });
}

template <class V, class E>
void forward_backward_entry(const E* x, const E* t, value_t<V> g, E* grad_input, E* grad_target, std::size_t n,
                            bool log_target, Partial* partials) noexcept {
  with_flag(log_target, [&](auto lt) {
    with_flag(grad_input != nullptr, [&](auto gi) {
      with_flag(grad_target != nullptr, [&](auto gt) {
        constexpr Want w = kLoss | (gi ? kGradInput : 0) | (gt ? kGradTarget : 0);
        reduce_loop<V, lt, w, E>(x, t, g, grad_input, grad_target, n, partials);
      });
    });
  });
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

template <class V, class E>
constexpr LossKernels<E, value_t<V>> loss_kernels() noexcept {
  return {&pointwise_entry<V, E>, &block_sums_entry<V, E>, &backward_entry<V, E>, &forward_backward_entry<V, E>};
}

template <class V>
constexpr TypedKernels<value_t<V>> typed_kernels() noexcept {
  return {loss_kernels<V, value_t<V>>(), &map_entry<V, &vlog<V>>, &map_entry<V, &vexp<true, V>>};
}

template <class Vf, class Vd>
constexpr KernelTable make_table(const char* name) noexcept {
  return {name, typed_kernels<Vf>(), typed_kernels<Vd>(), loss_kernels<Vf, bf16>(), loss_kernels<Vf, f16>(),
          half_conversions<Vf>(), {}};  // logits: kernels/logits.hpp adds them
}

}  // namespace kldiv::detail::KLDIV_TARGET
