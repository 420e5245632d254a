// KL, reverse KL and JSD from two rows of logits, written once over the vector vocabulary and
// instantiated per ISA (src/isa/) for each pair of storage types of p and q.  README.md ("Logits") has
// the semantics and the accuracy bound; src/logits.cpp the row-level algorithm.  Here:
//
// - stats: one read of a segment of a row.  Per chunk of kLogitsChunk elements, x = (p - pmax) s,
//   w = exp(x) and the logit difference d = (q - p) s, u = d - c are summed into the LogitsState sums,
//   pmax and qmax being references: the earlier chunks' maxima while the chunk's own stay within
//   kHeadroom of them, else (a re-read from L1) its own, the running state rescaled.  Near elements
//   (|u| <= 1/2) contribute w (e^u - 1 - u) by a series, never as a difference of two rounded exps: that
//   is what keeps close rows accurate.  Far ones contribute their q-side exp separately.
// - jsd and gradient: second passes with the row's normalisers known (LogitsRow), per element in terms of
//   r = lq - lp, again by series where |r| <= 1/2.
//
// Lanes: element i of a chunk goes to accumulator i mod kLanes whatever the register width, and chunk
// sums are reduced in a fixed pairwise order, so every FMA target gives the same bits.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "../kernel_table.hpp"
#include "../logits_state.hpp"
#include "half.hpp"
#include "math.hpp"

namespace kldiv::detail::KLDIV_TARGET {

template <class V, class S>
KLDIV_INLINE void store_row(S* p, std::size_t k, V v) noexcept {
  store_as_n(p, k, v);
}

template <class T>
inline constexpr T kInf = std::numeric_limits<T>::infinity();

// exp t for t <= 0 (or -inf, NaN): the fast path while every lane is above its underflow range.  Both
// paths give the same bits where both apply, so the branch does not depend on the vector width.
template <class V>
KLDIV_INLINE V exp_nonpositive(V t) noexcept {
  using K = consts<value_t<V>>;
  return vall(t >= V(-K::exp_fast)) ? vexp<false>(t) : vexp<true>(t);
}

// e^u - 1 - u for |u| <= 1/2, as u^2 (1/2! + u/3! + ... + u^7/9!): the truncation is below 2^-28 of it.
template <class V>
KLDIV_INLINE V expm1_minus(V u) noexcept {
  using T = value_t<V>;
  static constexpr T c[] = {T(1) / 2,      T(1) / 6,       T(1) / 24,       T(1) / 120,
                            T(1) / 720,    T(1) / 5040,    T(1) / 40320,    T(1) / 362880,
                            T(1) / 3628800, T(1) / 39916800, T(1) / 479001600};
  if constexpr (std::is_same_v<T, float>) {
    static constexpr T cf[] = {c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]};
    return (u * u) * horner(u, cf);
  } else {
    return (u * u) * horner(u, c);  // to u^13/13!: below 2^-53 of it
  }
}

// log1p(y) - y for |y| <= 0.65, as -y^2/(2 + y) + 2 (z^3/3 + z^5/5 + ...), z = y/(2 + y), |z| <= 0.25.
template <class V>
KLDIV_INLINE V log1p_minus(V y) noexcept {
  using T = value_t<V>;
  static constexpr T c[] = {T(1) / 3, T(1) / 5, T(1) / 7, T(1) / 9, T(1) / 11, T(1) / 13,
                            T(1) / 15, T(1) / 17, T(1) / 19, T(1) / 21, T(1) / 23, T(1) / 25};
  const V den = V(2) + y;
  const V z = vdiv(y, den), z2 = z * z;
  V series;
  if constexpr (std::is_same_v<T, float>) {
    static constexpr T cf[] = {c[0], c[1], c[2], c[3], c[4], c[5]};
    series = horner(z2, cf);
  } else {
    series = horner(z2, c);
  }
  return V(2) * (z * z2) * series - vdiv(y * y, den);
}

inline constexpr double kNear = 0.5;  // |u| or |r| up to this takes the series

// Lanes beyond the series' range, NaN included.
template <class V>
KLDIV_INLINE auto far(V u) noexcept {
  using T = value_t<V>;
  return (u > V(T(kNear))) | (u < V(T(-kNear))) | (u != u);
}

// The 16 accumulator lanes of R registers, reduced pairwise in double.
template <class V, std::size_t R>
double lane_sum(const V (&acc)[R]) noexcept {
  constexpr std::size_t S = traits<V>::size;
  value_t<V> l[kLanes];
  for (std::size_t r = 0; r < R; ++r) traits<V>::store(l + r * S, acc[r]);
  double d[kLanes];
  for (std::size_t j = 0; j < kLanes; ++j) d[j] = static_cast<double>(l[j]);
  for (std::size_t w = kLanes / 2; w >= 1; w /= 2)
    for (std::size_t j = 0; j < w; ++j) d[j] = d[2 * j] + d[2 * j + 1];
  return d[0];
}

// The largest of V's lanes; NaN lanes are passed over.
template <class V>
KLDIV_INLINE value_t<V> lane_max(V v) noexcept {
  constexpr std::size_t S = traits<V>::size;
  value_t<V> l[S];
  traits<V>::store(l, v);
  value_t<V> m = -kInf<value_t<V>>;
  for (std::size_t j = 0; j < S; ++j) m = std::max(m, l[j]);
  return m;
}

// The raw maxima of p and q over n <= kLogitsChunk elements, and whether all are below +inf (no NaN).
template <class V, class Sp, class Sq>
KLDIV_INLINE void chunk_max(const Sp* p, const Sq* q, std::size_t n, value_t<V>& pmax, value_t<V>& qmax,
                            bool& ok) noexcept {
  using T = value_t<V>;
  constexpr std::size_t S = traits<V>::size;
  // Two accumulators each: max is exact, so their order does not change a bit, and it halves the chains.
  V mp(-kInf<T>), mq(-kInf<T>), mp2(-kInf<T>), mq2(-kInf<T>), bad(0);
  std::size_t i = 0;
  for (; i + 2 * S <= n; i += 2 * S) {
    const V pv = load_as<V>(p + i), qv = load_as<V>(q + i), pv2 = load_as<V>(p + i + S), qv2 = load_as<V>(q + i + S);
    mp = vmax(mp, pv);
    mq = vmax(mq, qv);
    mp2 = vmax(mp2, pv2);
    mq2 = vmax(mq2, qv2);
    bad = vselect((pv < V(kInf<T>)) & (qv < V(kInf<T>)) & (pv2 < V(kInf<T>)) & (qv2 < V(kInf<T>)), bad, V(1));
  }
  for (; i < n; i += S) {
    const std::size_t k = std::min(S, n - i);
    const V pv = load_row<V>(p + i, k, -kInf<T>), qv = load_row<V>(q + i, k, -kInf<T>);
    mp = vmax(mp, pv);
    mq = vmax(mq, qv);
    bad = vselect((pv < V(kInf<T>)) & (qv < V(kInf<T>)), bad, V(1));
  }
  pmax = lane_max(vmax(mp, mp2));
  qmax = lane_max(vmax(mq, mq2));
  ok = vall(bad == V(0));
}

template <class S>
std::int64_t first_index(const S* p, std::size_t n, double value) noexcept {
  for (std::size_t i = 0; i < n; ++i)
    if (as_double(p[i]) == value) return static_cast<std::int64_t>(i);
  return -1;
}

// c of a row: the mean of the logit differences d = (q - p) s of its first chunk that lie within
// kCenterWindow of c0 = (max q - max p) s, or c0 where none do (0 where c0 is not finite).  The kernels
// take the series where |d - c| <= 1/2, and a branch per vector picks the near and far sides.  c0 alone
// sits in the tail of d's distribution (each maximum is an extreme), so for close rows up to two thirds
// of the vectors had far lanes, mispredicting both branches; the mean puts c in the middle.  The window
// keeps e^(c0 - c) far from overflow, whatever huge finite logits (-1e30 as a mask) a row holds.
inline constexpr double kCenterWindow = 8;

template <class V, class Sp, class Sq>
double center_entry(const void* pvoid, const void* qvoid, std::size_t n, double s) noexcept {
  using T = value_t<V>;
  constexpr std::size_t S = traits<V>::size, R = kLanes / S;
  const auto* p = static_cast<const Sp*>(pvoid);
  const auto* q = static_cast<const Sq*>(qvoid);
  const std::size_t len = std::min(n, kLogitsChunk);
  T pm, qm;
  bool ok;
  chunk_max<V>(p, q, len, pm, qm, ok);
  const T c0 = (qm - pm) * T(s);
  if (!ok || c0 - c0 != T(0)) return 0.0;
  const V vs(static_cast<T>(s)), vc0(c0), window(static_cast<T>(kCenterWindow)), zero(0), one(1);
  V sum[R], count[R];
  for (std::size_t r = 0; r < R; ++r) sum[r] = count[r] = zero;
  for (std::size_t i = 0; i < len; i += kLanes) {
    for (std::size_t r = 0; r < R && i + r * S < len; ++r) {
      const std::size_t j = i + r * S, k = std::min(S, len - j);
      const V u = (load_row<V>(q + j, k, -kInf<T>) - load_row<V>(p + j, k, -kInf<T>)) * vs - vc0;
      const auto in = (u <= window) & (u >= -window);  // false for NaN, +-inf
      sum[r] = sum[r] + vselect(in, u, zero);
      count[r] = count[r] + vselect(in, one, zero);
    }
  }
  // In T, since the kernels subtract c in T and the row's normalisers (src/logits.cpp) must use that c.
  const double m = lane_sum(count);
  return static_cast<double>(static_cast<T>(static_cast<double>(c0) + (m > 0 ? lane_sum(sum) / m : 0.0)));
}

// exp of a double through the ISA's double vector, so that it has the same bits as the table's.
template <class Vd>
double exp_scalar(double x) noexcept {
  double b[traits<Vd>::size];
  traits<Vd>::store(b, vexp<true>(Vd(x)));
  return b[0];
}

// A chunk is summed against the running references (the maxima of the earlier chunks of the segment)
// while its own maxima lie at most kHeadroom above them, in units of s: its weights are then below e^16,
// so no lane's sums overflow (1024 e^16, and e^16 |u| with logits of magnitude up to 1e30).  That spares
// most chunks the max pass, which re-reads the chunk.  Otherwise, and for a segment's first chunk, the
// chunk is summed again against its own maxima.  Either choice depends only on the chunk's sums and
// maxima, which are the same bits on every ISA.
inline constexpr double kHeadroom = 16;

// The sums of n <= kLogitsChunk elements against the references pm and qm (LogitsState's, with its
// maxima and ok left to the caller), and the raw maxima of p and q.
template <class V, class Sp, class Sq>
KLDIV_INLINE LogitsState chunk_sums(const Sp* p, const Sq* q, std::size_t n, value_t<V> pm, value_t<V> qm,
                                    value_t<V> s, value_t<V> c, value_t<V>& top_p, value_t<V>& top_q) noexcept {
  using T = value_t<V>;
  constexpr std::size_t S = traits<V>::size, R = kLanes / S;
  const V vs(s), vc(c), zero(0);
  // An all -inf side has no weights; any finite reference keeps its exps at exp(-inf) = 0.
  const V vpm(pm == -kInf<T> ? T(0) : pm), vqm(qm == -kInf<T> ? T(0) : qm);
  V sn[R], an[R], hs[R], fp[R], af[R], fq[R];
  for (std::size_t r = 0; r < R; ++r) sn[r] = an[r] = hs[r] = fp[r] = af[r] = fq[r] = zero;
  V mp(-kInf<T>), mq(-kInf<T>);
  for (std::size_t i = 0; i < n; i += kLanes) {
    for (std::size_t r = 0; r < R && i + r * S < n; ++r) {
      const std::size_t j = i + r * S, k = std::min(S, n - j);
      const V pv = load_row<V>(p + j, k, -kInf<T>), qv = load_row<V>(q + j, k, -kInf<T>);
      mp = vmax(mp, pv);
      mq = vmax(mq, qv);
      const V w = exp_nonpositive((pv - vpm) * vs);  // x <= kHeadroom: the fast exp's range
      const V u = (qv - pv) * vs - vc;  // NaN where both are -inf (padding): a far term of weight 0
      const auto near = (u <= V(T(kNear))) & (u >= V(T(-kNear)));
      const V wu = w * u;
      // Each side is skipped when no lane takes it, and selects are skipped when every lane does (the
      // common case for close rows): adding zeros, or selecting every lane, would not change a bit.
      if (vall(near)) {
        sn[r] = sn[r] + w;
        an[r] = an[r] + wu;
        hs[r] = hs[r] + w * expm1_minus(u);
        continue;
      }
      if (!vall(!near)) {
        sn[r] = sn[r] + vselect(near, w, zero);
        an[r] = an[r] + vselect(near, wu, zero);
        hs[r] = hs[r] + vselect(near, w * expm1_minus(u), zero);
      }
      fp[r] = fp[r] + vselect(near, zero, w);
      af[r] = af[r] + vselect(near | (w == zero), zero, wu);
      fq[r] = fq[r] + vselect(near, zero, exp_nonpositive((qv - vqm) * vs));
    }
  }
  top_p = lane_max(mp);
  top_q = lane_max(mq);
  const double inf = kInf<double>;
  return {static_cast<double>(pm), static_cast<double>(qm), -inf, -inf, lane_sum(sn), lane_sum(an), lane_sum(hs),
          lane_sum(fp), lane_sum(af), lane_sum(fq), -1, -1, true};
}

template <class V, class Vd, class Sp, class Sq>
void stats_entry(const void* pvoid, const void* qvoid, std::size_t n, std::size_t base, double s_d, double c_d,
                 bool argmax, LogitsState* out) noexcept {
  using T = value_t<V>;
  const auto* p = static_cast<const Sp*>(pvoid);
  const auto* q = static_cast<const Sq*>(qvoid);
  const T s = T(s_d), c = T(c_d);
  LogitsState st = empty_state();
  for (std::size_t b = 0; b < n; b += kLogitsChunk) {
    const std::size_t len = std::min(kLogitsChunk, n - b);
    T cpm, cqm;
    LogitsState chunk;
    bool fast = st.pmax > -kInf<double> && st.qmax > -kInf<double>;
    if (fast) {
      chunk = chunk_sums<V>(p + b, q + b, len, T(st.pmax), T(st.qmax), s, c, cpm, cqm);
      // NaN and +inf logits make a sum or a maximum non-finite, and take the checked pass below.
      fast = (cpm - st.pmax) * s_d <= kHeadroom && (cqm - st.qmax) * s_d <= kHeadroom;
      for (const double x : {chunk.sn, chunk.an, chunk.h, chunk.fp, chunk.af, chunk.fq}) fast = fast && x - x == 0;
    }
    if (!fast) {
      bool ok;
      chunk_max<V>(p + b, q + b, len, cpm, cqm, ok);
      // Relative to the running maxima, so that only the running state is ever rescaled.
      const T pm = std::max(cpm, static_cast<T>(st.pmax)), qm = std::max(cqm, static_cast<T>(st.qmax));
      T unused_p, unused_q;
      chunk = chunk_sums<V>(p + b, q + b, len, pm, qm, s, c, unused_p, unused_q);
      chunk.ok = ok;
    }
    chunk.ptop = cpm;
    chunk.qtop = cqm;
    if (argmax) {
      if (static_cast<double>(cpm) > st.ptop) chunk.argmax_p = static_cast<std::int64_t>(base + b) + first_index(p + b, len, cpm);
      if (static_cast<double>(cqm) > st.qtop) chunk.argmax_q = static_cast<std::int64_t>(base + b) + first_index(q + b, len, cqm);
    }
    merge_state(st, chunk, s_d, [](double x) { return exp_scalar<Vd>(x); });
  }
  *out = st;
}

// Per element of the second passes: lp, lq, P = e^lp, r = lq - lp and, near (|r| <= 1/2), H = e^r - 1 - r
// and E = e^r - 1 = r + H.
template <class V>
struct Element {
  V lp, lq, p, r, h, e;
  decltype(V() < V()) near;
};

template <class V, class Sp, class Sq>
KLDIV_INLINE Element<V> element(const Sp* p, const Sq* q, std::size_t k, const LogitsRow& row) noexcept {
  using T = value_t<V>;
  const V pv = load_row<V>(p, k, -kInf<T>), qv = load_row<V>(q, k, -kInf<T>);
  const V vs(T(row.s));
  Element<V> e;
  e.lp = (pv - V(T(row.pmax))) * vs - V(T(row.lsp));
  e.lq = (qv - V(T(row.qmax))) * vs - V(T(row.lsq));
  e.p = exp_nonpositive(e.lp);
  e.r = (qv - pv) * vs - V(T(row.d));
  e.near = (e.r <= V(T(kNear))) & (e.r >= V(T(-kNear)));
  e.h = expm1_minus(e.r);
  e.e = e.r + e.h;
  return e;
}

// JSD's terms of one element: the JSD (beta tP + (1 - beta) tQ, tP = P log(P/M), tQ = Q log(Q/M)),
// tQ, and log(Q/M) with Q for the gradient.  Near: with y = (1 - beta) E and psi = log(M/P) - (1 - beta) r =
// (log1p(y) - y) + (1 - beta)(E - r), whose first-order parts cancel analytically:
//   JSD = beta (1 - beta) P E r - P psi (1 + y),  tQ = P (1 + E)(beta r - psi),  log(Q/M) = beta r - psi.
template <class V>
struct JsdTerms {
  V jsd, tq, q, log_qm;
};

template <class V>
KLDIV_INLINE JsdTerms<V> jsd_terms(const Element<V>& x, value_t<V> beta) noexcept {
  using T = value_t<V>;
  const V b(beta), nb(T(1) - beta), zero(0);
  JsdTerms<V> t{zero, zero, zero, zero};
  if (!vall(far(x.r))) {
    const V y = nb * x.e;
    const V psi = log1p_minus(vselect(x.near, y, zero)) + nb * x.h;  // not E - r, which cancels
    const V q_near = x.p + x.p * x.e;
    const V lqm_near = b * x.r - psi;
    t.jsd = (b * nb) * (x.p * x.e * x.r) - x.p * psi * (V(1) + y);
    t.tq = q_near * lqm_near;
    t.q = q_near;
    t.log_qm = lqm_near;
  }
  if (!vall(x.near)) {
    // log M = hi + log(w_hi + w_lo e^(lo - hi)), hi the larger of lp and lq.
    const auto p_hi = x.lp >= x.lq;
    const V hi = vselect(p_hi, x.lp, x.lq), lo = vselect(p_hi, x.lq, x.lp);
    const V w_hi = vselect(p_hi, b, nb), w_lo = vselect(p_hi, nb, b);
    const V lm = hi + vlog(w_hi + w_lo * exp_nonpositive(lo - hi));
    const V q = exp_nonpositive(x.lq);
    const V tp = vselect(x.p == zero, zero, x.p * (x.lp - lm)), tq = vselect(q == zero, zero, q * (x.lq - lm));
    t.jsd = vselect(x.near, t.jsd, b * tp + nb * tq);
    t.tq = vselect(x.near, t.tq, tq);
    t.q = vselect(x.near, t.q, q);
    t.log_qm = vselect(x.near, t.log_qm, x.lq - lm);
  }
  return t;
}

template <class V, class Sp, class Sq>
void jsd_entry(const void* pvoid, const void* qvoid, std::size_t n, const LogitsRow& row, double* jsd,
               double* kl_qm) noexcept {
  using T = value_t<V>;
  constexpr std::size_t S = traits<V>::size, R = kLanes / S;
  const auto* p = static_cast<const Sp*>(pvoid);
  const auto* q = static_cast<const Sq*>(qvoid);
  double sj = 0, sq = 0;
  for (std::size_t b = 0; b < n; b += kLogitsChunk) {
    const std::size_t len = std::min(kLogitsChunk, n - b);
    V aj[R], aq[R];
    for (std::size_t r = 0; r < R; ++r) aj[r] = aq[r] = V(0);
    for (std::size_t i = 0; i < len; i += kLanes) {
      for (std::size_t r = 0; r < R && i + r * S < len; ++r) {
        const std::size_t j = b + i + r * S, k = std::min(S, b + len - j);
        const JsdTerms<V> t = jsd_terms(element<V>(p + j, q + j, k, row), T(row.beta));
        aj[r] = aj[r] + t.jsd;
        aq[r] = aq[r] + t.tq;
      }
    }
    sj += lane_sum(aj);
    sq += lane_sum(aq);
  }
  *jsd = sj;
  *kl_qm = sq;
}

template <class V, class Sp, class Sq>
void gradient_entry(const void* pvoid, const void* qvoid, std::size_t n, const LogitsRow& row_ref, void* gvoid) noexcept {
  using T = value_t<V>;
  const LogitsRow row = row_ref;  // a local copy, so that the stores below cannot alias it
  constexpr std::size_t S = traits<V>::size;
  const auto* p = static_cast<const Sp*>(pvoid);
  const auto* q = static_cast<const Sq*>(qvoid);
  auto* g = static_cast<Sq*>(gvoid);
  const V scale(T(row.scale)), kl(T(row.kl)), zero(0);
  for (std::size_t j = 0; j < n; j += S) {
    const std::size_t k = std::min(S, n - j);
    const Element<V> x = element<V>(p + j, q + j, k, row);
    V d;
    if (row.divergence == 2) {  // JSD: (1 - beta) Q (log(Q/M) - KL(Q || M))
      const JsdTerms<V> t = jsd_terms(x, T(row.beta));
      d = vselect(t.q == zero, zero, V(T(1) - T(row.beta)) * t.q * (t.log_qm - kl));
    } else {
      const V q_near = x.p + x.p * x.e;
      V qv = q_near;
      if (!vall(x.near)) qv = vselect(x.near, q_near, exp_nonpositive(x.lq));
      if (row.divergence == 0)  // KL: Q - P
        d = vselect(x.near, x.p * x.e, qv - x.p);
      else                      // REVERSE_KL: Q (log Q - log P - KL(Q || P))
        d = vselect(qv == zero, zero, qv * (vselect(x.near, x.r, x.lq - x.lp) - kl));
    }
    store_row(g + j, k, d * scale);
  }
}

template <class V, class Vd, class Sp, class Sq>
constexpr LogitsKernels logits_kernels() noexcept {
  return {&center_entry<V, Sp, Sq>, &stats_entry<V, Vd, Sp, Sq>, &jsd_entry<V, Sp, Sq>, &gradient_entry<V, Sp, Sq>};
}

// [p's type][q's type] in kldiv_dtype order: f32, f64, bf16, f16.  F64 pairs only with F64; the others
// (f32, bf16, f16) with each other, all in f32 arithmetic.
template <class Vf, class Vd, class Sp>
constexpr void add_float_row(LogitsKernels (&row)[kStorageTypes]) noexcept {
  row[0] = logits_kernels<Vf, Vd, Sp, float>();
  row[2] = logits_kernels<Vf, Vd, Sp, bf16>();
  row[3] = logits_kernels<Vf, Vd, Sp, f16>();
}

template <class Vf, class Vd>
constexpr KernelTable add_logits(KernelTable t) noexcept {
  add_float_row<Vf, Vd, float>(t.logits[0]);
  add_float_row<Vf, Vd, bf16>(t.logits[2]);
  add_float_row<Vf, Vd, f16>(t.logits[3]);
  t.logits[1][1] = logits_kernels<Vd, Vd, double, double>();
  return t;
}

}  // namespace kldiv::detail::KLDIV_TARGET
