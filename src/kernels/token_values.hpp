// kldiv-eval's per-token values (include/kldiv/eval.hpp) for a pair with a llama.cpp row, written once
// over the vector vocabulary and instantiated per ISA by the files in src/isa/.  (Two rows of logits take
// the logits kernels instead: src/eval_accumulator.cpp.)
//
// A token compares two rows of the vocabulary: the base's P and the candidate's Q, each a llama.cpp row
// (log p_i = scale*code_i + min_log_prob as stored, no renormalisation) or logits, F32, BF16 or F16 (a
// full log-softmax; halves widened exactly by the vocabulary's loads, src/kernels/half.hpp).  Everything
// past the loads is double: a code times a float scale is exact in double, so the differences
// log P_i - log Q_i of close models do not cancel into float noise.  Element i of each group of kLanes
// goes to accumulator lane i, on every ISA, and the lanes are summed in reduction.cpp's fixed tree: a
// token's values have the same bits on every FMA target and thread count.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <tuple>
#include <type_traits>

#include "../kernel_table.hpp"
#include "../reduction.hpp"
#include "half.hpp"
#include "loss.hpp"  // with_flag
#include "math.hpp"

namespace kldiv::detail::KLDIV_TARGET {
namespace token {

inline constexpr float kIota[kLanes] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
inline constexpr double kIotaD[kLanes] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

// llama.cpp's cut: for KL, a base entry whose stored log p is at most this counts as probability 0.
inline constexpr double kCut = -16.0;

template <class V>
KLDIV_INLINE value_t<V> first_lane(V v) noexcept {
  value_t<V> b[traits<V>::size];
  traits<V>::store(b, v);
  return b[0];
}

// A llama.cpp row: its codes as floats, dequantized in double.
template <class Vf>
struct Codes {
  const std::uint16_t* p;
  double scale, min_log_prob;
  static constexpr bool is_codes = true;
  // The codes, below 2^16, convert exactly through the vocabulary's widening load.
  static KLDIV_INLINE Vf load_codes(const std::uint16_t* c) noexcept { return shifted_to_fp<0>(traits<Vf>::load_u16(c)); }
  KLDIV_INLINE Vf load(std::size_t i) const noexcept { return load_codes(p + i); }
  // k < size elements, padded with code 0, the smallest.
  KLDIV_INLINE Vf load_part(std::size_t i, std::size_t k) const noexcept {
    std::uint16_t b[traits<Vf>::size] = {};
    std::memcpy(b, p + i, k * sizeof *b);
    return load_codes(b);
  }
  template <class Vd>
  KLDIV_INLINE Vd value(Vd c) const noexcept {
    return vfma(Vd(scale), c, Vd(min_log_prob));
  }
  double value_at(std::size_t i) const noexcept { return scale * p[i] + min_log_prob; }  // exact product
  // Whether value * inv_t - offset is in the fast exp's range for every code (monotone in the code), with
  // a margin for targets whose FMA rounds twice.
  bool exp_fast(double inv_t, double offset) const noexcept {
    const double m = consts<double>::exp_fast - 1;
    return min_log_prob * inv_t - offset >= -m && (scale * 65535 + min_log_prob) * inv_t - offset <= m;
  }
};

// Logits stored as S (float, bf16 or f16).
template <class Vf, class S>
struct Logits {
  const S* p;
  static constexpr bool is_codes = false;
  KLDIV_INLINE Vf load(std::size_t i) const noexcept { return load_as<Vf>(p + i); }
  // k < size elements, padded with -inf, which never wins an argmax.
  KLDIV_INLINE Vf load_part(std::size_t i, std::size_t k) const noexcept {
    return load_row<Vf>(p + i, k, -std::numeric_limits<float>::infinity());
  }
  template <class Vd>
  KLDIV_INLINE Vd value(Vd x) const noexcept {
    return x;
  }
  double value_at(std::size_t i) const noexcept { return as_double(p[i]); }
  bool exp_fast(double, double) const noexcept { return false; }  // -inf and huge logits need the checks
};

// Calls f(group, a) for every group of kLanes elements, a[k] the k-th float vector of raw values; in the
// last, partial group (Tail), missing elements are the source's padding.
template <class Vf, bool Tail, class Src, class F>
KLDIV_INLINE void group(const Src& s, std::size_t g, std::size_t n, F&& f) noexcept {
  constexpr std::size_t W = traits<Vf>::size, K = kLanes / W;
  Vf a[K];
  for (std::size_t k = 0; k < K; ++k) {
    const std::size_t i = g + k * W;
    if constexpr (Tail)
      a[k] = i + W <= n ? s.load(i) : s.load_part(i, i < n ? n - i : 0);
    else
      a[k] = s.load(i);
  }
  f(a);
}

// f(a) for the row's first group: whole, or all of a short row.
template <class Vf, class Src, class F>
KLDIV_INLINE void first_group(const Src& s, std::size_t n, F&& f) noexcept {
  if (n >= kLanes)
    group<Vf, false>(s, 0, n, f);
  else
    group<Vf, true>(s, 0, n, f);
}

template <class Vf, class Src, class F>
KLDIV_INLINE void for_groups(const Src& s, std::size_t n, F&& f) noexcept {
  std::size_t g = 0;
  for (; g + kLanes <= n; g += kLanes) group<Vf, false>(s, g, n, [&](const Vf* a) { f(g, a, std::false_type{}); });
  if (g < n) group<Vf, true>(s, g, n, [&](const Vf* a) { f(g, a, std::true_type{}); });
}

// The first index of the largest raw value (NaN never wins, but one in the first group stays its lane's
// best), group by group.  Indices are floats, exact below 2^24 (the callers' limit on the vocabulary).
// Two sets of lanes take alternate groups: each set is a chain of compares and selects, whose latency
// bound the pass with one set.
template <class Vf>
class ArgMax {
 public:
  static constexpr std::size_t W = traits<Vf>::size, K = kLanes / W, Sets = 2;
  // Both sets start from the first group, as it is; update() on it again changes nothing.
  KLDIV_INLINE void start(const Vf* a) noexcept {
    for (std::size_t c = 0; c < Sets; ++c)
      for (std::size_t k = 0; k < K; ++k) {
        best_[c][k] = a[k];
        index_[c][k] = indices(0, k);
      }
  }
  template <std::size_t C>
  KLDIV_INLINE void update(std::size_t g, const Vf* a) noexcept {
    for (std::size_t k = 0; k < K; ++k) {
      const auto better = a[k] > best_[C][k];
      best_[C][k] = vselect(better, a[k], best_[C][k]);
      index_[C][k] = vselect(better, indices(g, k), index_[C][k]);
    }
  }
  // Per lane the first of its maxima; across lanes and sets the smallest index among equals.
  KLDIV_INLINE std::size_t finish(float* max_out) const noexcept {
    constexpr std::size_t L = Sets * kLanes;
    float v[L], ix[L];
    for (std::size_t c = 0; c < Sets; ++c)
      for (std::size_t k = 0; k < K; ++k) {
        traits<Vf>::store(v + c * kLanes + k * W, best_[c][k]);
        traits<Vf>::store(ix + c * kLanes + k * W, index_[c][k]);
      }
    std::size_t j = 0;
    for (std::size_t l = 1; l < L; ++l)
      if (v[l] > v[j] || (v[l] == v[j] && ix[l] < ix[j])) j = l;
    *max_out = v[j];
    return static_cast<std::size_t>(ix[j]);
  }

 private:
  // The indices of the k-th vector of the group at g.
  static KLDIV_INLINE Vf indices(std::size_t g, std::size_t k) noexcept {
    return Vf(static_cast<float>(g + k * W)) + traits<Vf>::load(kIota);
  }
  Vf best_[Sets][K], index_[Sets][K];
};

// (start() stands apart: a branch on the first group inside update() kept the state in memory, GCC 12,
// a store-to-load chain that made this pass a fifth of a float-logits token's time.)
template <class Vf, class Src>
std::size_t first_argmax(const Src& s, std::size_t n, float* max_out) noexcept {
  ArgMax<Vf> m;
  first_group<Vf>(s, n, [&](const Vf* a) KLDIV_INLINE_LAMBDA { m.start(a); });
  const auto on = [&](auto set, auto tail, std::size_t g) KLDIV_INLINE_LAMBDA {
    group<Vf, decltype(tail)::value>(s, g, n,
                                     [&](const Vf* a) KLDIV_INLINE_LAMBDA { m.template update<decltype(set)::value>(g, a); });
  };
  using Set0 = std::integral_constant<std::size_t, 0>;
  using Set1 = std::integral_constant<std::size_t, 1>;
  std::size_t g = 0;
  for (; g + 2 * kLanes <= n; g += 2 * kLanes) {
    on(Set0{}, std::false_type{}, g);
    on(Set1{}, std::false_type{}, g + kLanes);
  }
  if (g + kLanes <= n) {
    on(Set0{}, std::false_type{}, g);
    g += kLanes;
  }
  if (g < n) on(Set1{}, std::true_type{}, g);
  return m.finish(max_out);
}

// The first index of a row's largest raw value, where the row has no NaN: a running max in a pass the
// row needs anyway, then a scan for its first occurrence, cheaper than tracking indices in every lane.
template <class Vf>
class RowMax {
 public:
  static constexpr std::size_t W = traits<Vf>::size, K = kLanes / W;
  RowMax() noexcept {
    for (auto& v : max_) v = Vf(-std::numeric_limits<float>::infinity());
  }
  KLDIV_INLINE void update(const Vf* a) noexcept {
    for (std::size_t k = 0; k < K; ++k) max_[k] = vmax(max_[k], a[k]);
  }
  float top() const noexcept {
    float v[kLanes];
    for (std::size_t k = 0; k < K; ++k) traits<Vf>::store(v + k * W, max_[k]);
    return *std::max_element(v, v + kLanes);
  }
  template <class Src>
  std::size_t finish(const Src& s, std::size_t n) const noexcept {
    const Vf top(this->top());
    for (std::size_t i = 0; i < n; i += W) {
      const Vf a = i + W <= n ? s.load(i) : s.load_part(i, n - i);
      if (vall(a != top)) continue;
      float l[W];
      traits<Vf>::store(l, a);
      return i + static_cast<std::size_t>(std::find(l, l + W, first_lane(top)) - l);
    }
    return 0;  // not reached: the maximum is one of the values
  }

 private:
  Vf max_[K];
};

// A row's softmax normaliser at C scales: sum[c] = sum of exp((value_i - ref) * scale[c]), with the row's
// first argmax (argmax's rules).
template <std::size_t C>
struct Normaliser {
  double ref;
  double sum[C];
  std::size_t argmax;
};

// The sums lane by lane, as doubles, from ref.  Checked, every vector takes vexp_checked; fast, the whole
// groups take the fast exp (the tail, whose padding may be -inf, stays checked), the pass also finds the
// argmax, and it returns false unless the fast exp was right everywhere: the raw values' extremes bound
// every argument (rounding is monotone), and a NaN makes its sum NaN.  The same bits either way.
template <bool Checked, class Vf, class Vd, std::size_t C, class Src>
bool exp_sums_pass(const Src& s, std::size_t n, const double (&scale)[C], Normaliser<C>& out) noexcept {
  constexpr std::size_t Wf = traits<Vf>::size, Wd = traits<Vd>::size, J = kLanes / Wd, K = kLanes / Wf;
  const float inf = std::numeric_limits<float>::infinity();
  Vd acc[C][J];
  for (auto& a : acc)
    for (auto& v : a) v = Vd(0);
  RowMax<Vf> high;
  Vf low[K];
  for (auto& v : low) v = Vf(inf);
  const auto arg = [&](Vd v, std::size_t c) KLDIV_INLINE_LAMBDA {
    const Vd d = s.value(v) - Vd(out.ref);
    return scale[c] == 1 ? d : d * Vd(scale[c]);  // d * 1 is d
  };
  for_groups<Vf>(s, n, [&](std::size_t g, const Vf* a, auto tail) KLDIV_INLINE_LAMBDA {
    constexpr bool T = decltype(tail)::value;
    if constexpr (!Checked) {
      high.update(a);  // the padding, -inf or code 0, is never above a value of the row
      for (std::size_t k = 0; k < K; ++k)
        low[k] = vmin(low[k], T ? vselect(Vf(static_cast<float>(g + k * Wf)) + traits<Vf>::load(kIota) <
                                              Vf(static_cast<float>(n)),
                                          a[k], Vf(inf))
                                : a[k]);
    }
    for (std::size_t k = 0; k < K; ++k) {
      const auto halves = widen(a[k]);
      for (std::size_t h = 0; h < halves.size(); ++h) {
        const std::size_t j = k * halves.size() + h;
        for (std::size_t c = 0; c < C; ++c) {
          const Vd x = arg(halves[h], c);
          Vd e = Checked || T ? vexp_checked(x) : vexp<false>(x);
          if constexpr (T)
            e = vselect(Vd(static_cast<double>(g + j * Wd)) + traits<Vd>::load(kIotaD) < Vd(static_cast<double>(n)), e,
                        Vd(0));
          acc[c][j] = acc[c][j] + e;
        }
      }
    }
  });
  bool right = true;
  if constexpr (!Checked) {
    float l[Wf];
    Vf lowest = low[0];
    for (std::size_t k = 1; k < K; ++k) lowest = vmin(lowest, low[k]);
    traits<Vf>::store(l, lowest);
    const Vd top(static_cast<double>(high.top())), bottom(static_cast<double>(*std::min_element(l, l + Wf)));
    const double m = consts<double>::exp_fast;
    for (std::size_t c = 0; c < C; ++c)
      right = right && first_lane(arg(top, c)) <= m && first_lane(arg(bottom, c)) >= -m;
  }
  for (std::size_t c = 0; c < C; ++c) {
    double lanes[kLanes], zero[kLanes] = {};
    for (std::size_t j = 0; j < J; ++j) traits<Vd>::store(lanes + j * Wd, acc[c][j]);
    const Partial p = lanes_to_partial(lanes, zero);
    out.sum[c] = p.hi + p.lo;
    right = right && std::isfinite(out.sum[c]);
  }
  if (!Checked && right) out.argmax = high.finish(s, n);
  return right;
}

// One pass from the first group's largest value, which no NaN-free row of moderate range takes out of
// the fast exp's range; else argmax's pass and a checked pass from the row's largest value.
template <class Vf, class Vd, std::size_t C, class Src>
Normaliser<C> normaliser(const Src& s, std::size_t n, const double (&scale)[C]) noexcept {
  Normaliser<C> r{};
  RowMax<Vf> first;
  first_group<Vf>(s, n, [&](const Vf* a) KLDIV_INLINE_LAMBDA { first.update(a); });
  r.ref = first_lane(s.value(Vd(static_cast<double>(first.top()))));
  if (exp_sums_pass<false, Vf, Vd>(s, n, scale, r)) return r;
  float top;
  r.argmax = first_argmax<Vf>(s, n, &top);
  r.ref = first_lane(s.value(Vd(static_cast<double>(top))));
  exp_sums_pass<true, Vf, Vd>(s, n, scale, r);
  return r;
}

// One divergence term per element, from log P, log Q and their exponentials (for the divergence's needs).
template <int Div, class Vd>
KLDIV_INLINE Vd term(Vd lp, Vd lq, Vd p, Vd q, double beta) noexcept {
  const Vd zero(0);
  Vd t;
  if constexpr (Div == 0) {
    t = vselect(p == zero, zero, p * (lp - lq));  // P_i = 0 adds 0, even where Q_i = 0
  } else if constexpr (Div == 1) {
    t = vselect(q == zero, zero, q * (lq - lp));
  } else {
    const Vd b(beta), c(1 - beta);
    const Vd lm = vlog(vfma(b, p, c * q));
    t = vselect(p == zero, zero, b * p * (lp - lm)) + vselect(q == zero, zero, c * q * (lq - lm));
  }
  // Equal entries add exactly 0: for JSD m's rounding would miss it, and for any divergence an absurd
  // llama.cpp row (log p far above 0) would make an overflowing P times 0 a NaN.
  return vselect(lp == lq, zero, t);
}

// KL's (reverse KL's) term where its weight w = P (Q) is a fast exp, so positive and finite: term's
// selects would change no bit (lp == lq gives w * +0), and are skipped.
template <int Div, class Vd>
KLDIV_INLINE Vd term_fast(Vd lp, Vd lq, Vd w) noexcept {
  return Div == 0 ? w * (lp - lq) : w * (lq - lp);
}

// The divergence over the row, with log P_i = value_i * inv_t - offset_p (and likewise for Q); with
// ArgP (ArgQ), also P's (Q's) first argmax, in the same pass.  fast: the caller knows that every weight
// KL (reverse KL) takes is in the fast exp's range; otherwise each vector is checked.
template <class Vf, class Vd, int Div, bool Cut, bool ArgP, bool ArgQ, class SrcP, class SrcQ>
double divergence(const SrcP& sp, const SrcQ& sq, std::size_t n, double inv_t, double off_p, double off_q,
                  double beta, bool fast, std::size_t* argmax_p, std::size_t* argmax_q) noexcept {
  constexpr std::size_t Wf = traits<Vf>::size, Wd = traits<Vd>::size, J = kLanes / Wd;
  Vd acc[J];
  for (auto& v : acc) v = Vd(0);
  RowMax<Vf> max_p, max_q;
  // A side at T = 1 with offset 0 (a llama.cpp row, deferred) as it is: value * 1 - 0 has the same bits,
  // one FMA later in the chain.
  const bool as_stored_p = inv_t == 1 && off_p == 0, as_stored_q = inv_t == 1 && off_q == 0;
  std::size_t g = 0;
  const auto step = [&](auto tail) KLDIV_INLINE_LAMBDA {
    constexpr bool T = decltype(tail)::value;
    group<Vf, T>(sp, g, n, [&](const Vf* ap) KLDIV_INLINE_LAMBDA {
      group<Vf, T>(sq, g, n, [&](const Vf* aq) KLDIV_INLINE_LAMBDA {
        if constexpr (ArgP) max_p.update(ap);
        if constexpr (ArgQ) max_q.update(aq);
        for (std::size_t k = 0; k < kLanes / Wf; ++k) {
          const auto hp = widen(ap[k]), hq = widen(aq[k]);
          constexpr std::size_t H = std::tuple_size_v<decltype(hp)>;
          std::array<Vd, H> vp, lp, lq;
          for (std::size_t h = 0; h < H; ++h) {
            vp[h] = sp.value(hp[h]);
            const Vd vq = sq.value(hq[h]);
            lp[h] = as_stored_p ? vp[h] : vfma(vp[h], Vd(inv_t), Vd(-off_p));
            lq[h] = as_stored_q ? vq : vfma(vq, Vd(inv_t), Vd(-off_q));
          }
          for (std::size_t h = 0; h < H; ++h) {
            const std::size_t j = k * H + h;
            // Double exps: a float exp would cost 1e-5 of a close pair's KL.
            Vd t;
            if constexpr (Div == 2) {
              t = term<2>(lp[h], lq[h], vexp_checked(lp[h]), vexp_checked(lq[h]), beta);
            } else {
              const Vd l = Div == 0 ? lp[h] : lq[h];
              if (fast || exp_fast_range(l)) {
                t = term_fast<Div>(lp[h], lq[h], vexp<false>(l));
              } else {
                const Vd w = vexp<true>(l);
                t = term<Div>(lp[h], lq[h], w, w, beta);
              }
            }
            // Added where kept: a masked add, where a select of t and an add would take two operations.
            const auto in_row = [&] {
              return Vd(static_cast<double>(g + j * Wd)) + traits<Vd>::load(kIotaD) < Vd(static_cast<double>(n));
            };
            if constexpr (Cut && T)
              acc[j] = vselect((vp[h] > Vd(kCut)) && in_row(), acc[j] + t, acc[j]);
            else if constexpr (Cut)
              acc[j] = vselect(vp[h] > Vd(kCut), acc[j] + t, acc[j]);
            else if constexpr (T)
              acc[j] = vselect(in_row(), acc[j] + t, acc[j]);
            else
              acc[j] = acc[j] + t;
          }
        }
      });
    });
  };
  for (; g + kLanes <= n; g += kLanes) step(std::false_type{});
  if (g < n) step(std::true_type{});
  if constexpr (ArgP) *argmax_p = max_p.finish(sp, n);
  if constexpr (ArgQ) *argmax_q = max_q.finish(sq, n);
  double lanes[kLanes], zero[kLanes] = {};
  for (std::size_t j = 0; j < J; ++j) traits<Vd>::store(lanes + j * Wd, acc[j]);
  const Partial p = lanes_to_partial(lanes, zero);
  return p.hi + p.lo;
}

template <class Vd>
KLDIV_INLINE double log_of(double x) noexcept {
  return first_lane(vlog(Vd(x)));
}

// What a token needs of one side: its first argmax (at T = 1), the offset of log P at the divergence's
// temperature, and the correct token's log-probability at T = 1.
struct Side {
  std::size_t argmax;
  double offset;
  double log_token;
};

// A llama.cpp row at T = 1 needs no pass of its own: its argmax comes from the divergence's pass.
template <class Src>
bool deferred(const Src&, const TokenParams& a) noexcept {
  return Src::is_codes && a.inv_temperature == 1;
}

template <class Vf, class Vd, class Src>
Side side(const Src& s, const TokenParams& a) noexcept {
  Side r{};
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if constexpr (Src::is_codes) {
    r.log_token = a.token >= 0 ? s.value_at(static_cast<std::size_t>(a.token)) : nan;
    if (deferred(s, a)) return r;  // as stored at T = 1
  }
  // A softmax of value/T; logits also give the token's log-probability at T = 1, from a second scale
  // where T is not 1.
  if (Src::is_codes || a.inv_temperature == 1 || a.token < 0) {
    const double scale[1] = {a.inv_temperature};
    const auto z = normaliser<Vf, Vd>(s, a.n, scale);
    r.argmax = z.argmax;
    r.offset = z.ref * a.inv_temperature + log_of<Vd>(z.sum[0]);
    if constexpr (!Src::is_codes)
      r.log_token = a.token >= 0 ? s.value_at(static_cast<std::size_t>(a.token)) - r.offset : nan;
  } else {
    const double scale[2] = {1.0, a.inv_temperature};
    const auto z = normaliser<Vf, Vd>(s, a.n, scale);
    r.argmax = z.argmax;
    r.offset = z.ref * a.inv_temperature + log_of<Vd>(z.sum[1]);
    r.log_token = s.value_at(static_cast<std::size_t>(a.token)) - (z.ref + log_of<Vd>(z.sum[0]));
  }
  return r;
}

// f(source) for a side of logits, by its dtype (F32, BF16 or F16: the caller has checked).  (The
// callers' lambdas are always inlined: an out-of-line one would be a weak symbol of the ISA object, which
// .ci/consumers.sh rejects.)
template <class Vf, class F>
KLDIV_INLINE void with_logits(const TokenSide& s, F&& f) {
  if (s.dtype == Dtype::bf16)
    f(Logits<Vf, bf16>{static_cast<const bf16*>(s.logits)});
  else if (s.dtype == Dtype::f16)
    f(Logits<Vf, f16>{static_cast<const f16*>(s.logits)});
  else
    f(Logits<Vf, float>{static_cast<const float*>(s.logits)});
}

template <class Vf>
KLDIV_INLINE Codes<Vf> codes_of(const TokenSide& s) noexcept {
  return {s.codes, s.scale, s.min_log_prob};
}

// f(source of p, source of q), at least one of them llama.cpp codes.
template <class Vf, class F>
KLDIV_INLINE void with_sources(const TokenSide& p, const TokenSide& q, F&& f) {
  if (!p.codes)
    with_logits<Vf>(p, [&](const auto& sp) KLDIV_INLINE_LAMBDA { f(sp, codes_of<Vf>(q)); });
  else if (!q.codes)
    with_logits<Vf>(q, [&](const auto& sq) KLDIV_INLINE_LAMBDA { f(codes_of<Vf>(p), sq); });
  else
    f(codes_of<Vf>(p), codes_of<Vf>(q));
}

template <class Vf, class Vd, int Div, bool Cut, bool ArgP, bool ArgQ, class SrcP, class SrcQ>
double divergence_of(const SrcP& sp, const SrcQ& sq, const TokenParams& a, Side& ip, Side& iq) noexcept {
  const bool fast = Div == 0 ? sp.exp_fast(a.inv_temperature, ip.offset) : sq.exp_fast(a.inv_temperature, iq.offset);
  return divergence<Vf, Vd, Div, Cut, ArgP, ArgQ>(sp, sq, a.n, a.inv_temperature, ip.offset, iq.offset, a.beta, fast,
                                                  &ip.argmax, &iq.argmax);
}

template <class Vf, class Vd>
void token_entry(const TokenSide& p, const TokenSide& q, const TokenParams& a, TokenValues* out) noexcept {
  with_sources<Vf>(p, q, [&](const auto& sp, const auto& sq) KLDIV_INLINE_LAMBDA {
    Side ip = side<Vf, Vd>(sp, a), iq = side<Vf, Vd>(sq, a);
    constexpr bool cut = std::decay_t<decltype(sp)>::is_codes;
    double d;
    with_flag(deferred(sp, a), [&](auto dp) KLDIV_INLINE_LAMBDA {
      with_flag(deferred(sq, a), [&](auto dq) KLDIV_INLINE_LAMBDA {
        if (a.divergence == 0)
          d = divergence_of<Vf, Vd, 0, cut, dp, dq>(sp, sq, a, ip, iq);
        else if (a.divergence == 1)
          d = divergence_of<Vf, Vd, 1, false, dp, dq>(sp, sq, a, ip, iq);
        else
          d = divergence_of<Vf, Vd, 2, false, dp, dq>(sp, sq, a, ip, iq);
      });
    });
    if constexpr (std::decay_t<decltype(sp)>::is_codes)
      if (sp.scale == 0) ip.argmax = 0;  // every entry is equal
    if constexpr (std::decay_t<decltype(sq)>::is_codes)
      if (sq.scale == 0) iq.argmax = 0;
    // A side of logits with a NaN or +inf, or all -inf, has a NaN offset (its softmax sum is NaN); a
    // llama.cpp side's is finite (or 0 when deferred).  The KL cut could hide it from d.
    const bool bad = ip.offset != ip.offset || iq.offset != iq.offset;
    out->divergence = bad ? std::numeric_limits<double>::quiet_NaN() : d;
    out->same_top = ip.argmax == iq.argmax;
    out->log_p = ip.log_token;
    out->log_q = iq.log_token;
    out->delta_p = first_lane(vexp<true>(Vd(iq.log_token))) - first_lane(vexp<true>(Vd(ip.log_token)));
  });
}

}  // namespace token

template <class Vf, class Vd>
constexpr EvalKernels eval_kernels() noexcept {
  return {&token::token_entry<Vf, Vd>};
}

}  // namespace kldiv::detail::KLDIV_TARGET
