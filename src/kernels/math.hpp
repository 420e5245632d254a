// log and exp, written once over the vector vocabulary (simd_xsimd.hpp / simd_scalar.hpp).
//
// Both are division-free for float and use only +, -, *, FMA and bit operations, so every target with
// an FMA computes the same bits.  Double log divides once; IEEE division is exact on every target,
// including NEON's vdivq_f64.  Measured accuracy is in README.md ("Accuracy"), tested in tests/.
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#include "coefficients.hpp"

namespace kldiv::detail::KLDIV_TARGET {

template <class V>
using value_t = typename traits<V>::value_type;
template <class V>
using bits_t = typename traits<V>::bits_type;

template <class T>
struct consts;

template <>
struct consts<float> {
  using bits = std::uint32_t;
  static constexpr int mantissa = 23;
  static constexpr float min_normal = 0x1p-126f;
  static constexpr float subnormal_scale = 0x1p23f;   // 2^mantissa
  // ln 2 = ln2_hi + ln2_lo; ln2_hi has 16 bits, so n * ln2_hi is exact even without FMA (sse2).  ln 2
  // rounded to one float would be 2^-28.4 off, a bias of -0.03 ulp in log t for t < 1/2.
  static constexpr float ln2_hi = 0x1.62e4p-1f;
  static constexpr float ln2_lo = 0x1.7f7d1cp-20f;
  static constexpr float log2e = 0x1.715476p+0f;
  static constexpr float exp_fast = 87.0f;            // |t| <= this: 2^n and the result are in range
  static constexpr float exp_lo = -104.0f;            // below: exp underflows to 0
  static constexpr float exp_hi = 89.0f;              // above: exp overflows to inf
  static constexpr int exp_bias = 127;
  static constexpr bits pow2_bits(int e) { return bits(exp_bias + e) << mantissa; }
  static constexpr const float (&log_poly)[4] = coefficients::log_f32;
  static constexpr const float (&exp_poly)[5] = coefficients::exp_f32;
};

template <>
struct consts<double> {
  using bits = std::uint64_t;
  static constexpr int mantissa = 52;
  static constexpr bits sqrt_half = 0x3fe6a09e667f3bcdull;
  static constexpr bits exponent_offset = 1024;
  static constexpr double min_normal = 0x1p-1022;
  static constexpr double subnormal_scale = 0x1p52;
  static constexpr double ln2_hi = 0x1.62e42feep-1;  // 32 bits
  static constexpr double ln2_lo = 0x1.a39ef35793c76p-33;
  static constexpr double log2e = 0x1.71547652b82fep+0;
  static constexpr double exp_fast = 708.0;
  static constexpr double exp_lo = -746.0;
  static constexpr double exp_hi = 710.0;
  static constexpr int exp_bias = 1023;
  static constexpr bits pow2_bits(int e) { return bits(exp_bias + e) << mantissa; }
  static constexpr const double (&log_poly)[7] = coefficients::log_f64;
  static constexpr const double (&exp_poly)[10] = coefficients::exp_f64;
};

// -v with the sign of zero kept.  Not named neg: xsimd::neg, found by argument-dependent lookup, negates
// AVX-512 vectors as 0 - v, which turns -0 into +0 (so does unary minus).
template <class V>
KLDIV_INLINE V flip_sign(V v) noexcept {
  return v * V(-1);
}

// c[0] + x*(c[1] + x*(c[2] + ...)), with FMA.
template <class V, class T, std::size_t N, std::size_t... I>
KLDIV_INLINE V horner_(V x, const T (&c)[N], std::index_sequence<I...>) noexcept {
  V r(c[N - 1]);
  ((r = vfma(r, x, V(c[N - 2 - I]))), ...);
  return r;
}
template <class V, class T, std::size_t N>
KLDIV_INLINE V horner(V x, const T (&c)[N]) noexcept {
  return horner_(x, c, std::make_index_sequence<N - 1>{});
}

// c[Lo] + x c[Lo+1] + ... + x^(N-1) c[Lo+N-1] by Estrin's scheme, pw[k] = x^(2^k): a chain of log2 N
// FMAs instead of Horner's N - 1, where latency binds (the double exp of kldiv-eval's token pass).
template <std::size_t Lo, std::size_t N, class V, class T, std::size_t M>
KLDIV_INLINE V estrin_(const V* pw, const T (&c)[M]) noexcept {
  if constexpr (N == 1) {
    return V(c[Lo]);
  } else {
    constexpr std::size_t k = [] {  // 2^k = H, the largest power of two below N
      std::size_t j = 0;
      while ((std::size_t(2) << j) < N) ++j;
      return j;
    }();
    constexpr std::size_t H = std::size_t(1) << k;
    return vfma(estrin_<Lo + H, N - H>(pw, c), pw[k], estrin_<Lo, H>(pw, c));
  }
}
// c[Lo] + x c[Lo+1] + ... + x^(N-Lo-1) c[N-1], given x^2.
template <std::size_t Lo, class V, class T, std::size_t N>
KLDIV_INLINE V estrin(V x, V x2, const T (&c)[N]) noexcept {
  static_assert(N - Lo <= 16, "powers up to x^8");
  V pw[4] = {x, x2, x2 * x2, V(0)};
  if constexpr (N - Lo > 8) pw[3] = pw[2] * pw[2];
  return estrin_<Lo, N - Lo>(pw, c);
}

// The exponent field e + exponent_offset, held in the low bits of an unsigned vector, as the floating
// point value e: 2^p + k has k in its low mantissa bits, so one OR and one subtraction convert it.
template <class V>
KLDIV_INLINE V exponent_to_fp(bits_t<V> biased) noexcept {
  using T = value_t<V>;
  using K = consts<T>;
  constexpr T two_p = T(typename K::bits(1) << K::mantissa);
  return from_bits<T>(biased | bits_t<V>(K::pow2_bits(K::mantissa))) - V(two_p + T(K::exponent_offset));
}

// log(1 + f) + c for f = m - 1 in [sqrt(1/2) - 1, sqrt(2) - 1) and a small c (e * ln2_lo), double.  c
// joins the small correction term, computed and rounded afresh for every f, before f is added: added to
// f or to a rounded log(1 + f), values on a fixed grid, c would round the same way across a binade, a
// bias on average (README, "Accuracy").
template <class V>
KLDIV_INLINE V log1p_reduced(V f, V c) noexcept {
  using K = consts<value_t<V>>;
  const V s = f / (V(2) + f);
  const V z = s * s;
  const V half_f2 = V(0.5) * f * f;
  return f + (vfma(s, vfma(z, horner(z, K::log_poly), half_f2), c) - half_f2);
}

// t = 2^e * m with m in [1, 2), for positive normal float t: AVX-512 in two instructions, the others
// from the bits.  The same values on every target.
template <class V>
struct ExponentMantissa {
  V e, m;
};
template <class V>
KLDIV_INLINE ExponentMantissa<V> exponent_and_mantissa(V t) noexcept {
  using K = consts<float>;
  if constexpr (traits<V>::native_getexp) {
    return {traits<V>::getexp(t), traits<V>::getmant(t)};
  } else {
    using B = bits_t<V>;
    const B b = as_bits(t);
    return {shifted_to_fp<K::mantissa>(b) - V(float(K::exp_bias)),
            from_bits<float>((b & B((1u << K::mantissa) - 1)) | B(K::pow2_bits(0)))};
  }
}

// log t for float, t = 2^e * m, m in [1, 2) (tools/coefficients.sollya): log c_j from a 16-entry table and
// log1p(r), r = m/c_j - 1 = m * invc_j - 1, exact in one FMA since invc_j has 5 bits, |r| < 1/16
// (vfma_exact: also on SSE2).
// hi = e * ln2_hi + logc_hi is exact too (both on a 2^-17 grid), and hi + r is split exactly into s + err
// (Fast2Sum: |logc_hi| >= |r| wherever logc_hi != 0), so only the last addition rounds a large term.
// Near t = 1 the table's ends (c = 1, and c = 2 for t just below 1) make hi exactly 0.  Against the
// degree-8 polynomial it replaces: 8 multiplies or FMAs instead of 13, three table lookups (one permute
// each on AVX-512), and a max error of 0.600 ulp instead of 0.907 (README, "Accuracy").
template <class V, class B>
KLDIV_INLINE V log_table(V e, V m, B j) noexcept {
  using K = consts<float>;
  const auto& p = K::log_poly;
  const V r = vfma_exact(m, lookup16(coefficients::log_f32_invc, j), V(-1));
  const V hi = vfma(e, V(K::ln2_hi), lookup16(coefficients::log_f32_logc_hi, j));
  const V c = vfma(e, V(K::ln2_lo), lookup16(coefficients::log_f32_logc_lo, j));
  const V r2 = r * r;
  const V q = vfma(vfma(V(p[3]), r, V(p[2])), r2, vfma(V(p[1]), r, V(p[0])));
  const V s = hi + r;
  const V err = (hi - s) + r;
  return s + (err + vfma(r2, q, c));
}

// log t for positive finite t; subnormal t only when MaySubnormal.  Other inputs give garbage.
template <bool MaySubnormal, class V>
KLDIV_INLINE V log_positive(V t) noexcept {
  using T = value_t<V>;
  using B = bits_t<V>;
  using K = consts<T>;
  V scaled(0);  // subnormal t is scaled by 2^mantissa into the normal range, then unscaled in e
  if constexpr (MaySubnormal) {
    const auto sub = t < V(K::min_normal);
    t = vselect(sub, t * V(K::subnormal_scale), t);
    scaled = vselect(sub, V(T(K::mantissa)), scaled);
  }
  if constexpr (std::is_same_v<T, float>) {
    const auto [e, m] = exponent_and_mantissa(t);
    return log_table(MaySubnormal ? e - scaled : e, m, as_bits(t) >> (K::mantissa - 4));  // j: m's top 4 bits
  } else {
    // t = 2^e * m with m in [sqrt(1/2), sqrt(2)).  Unsigned wrap-around does the borrow between fields.
    const B ix = as_bits(t) - B(K::sqrt_half);
    // e = ix >> mantissa, arithmetically, by a bit trick, as AVX2 cannot convert int64 to double.
    V e = exponent_to_fp<V>((ix + B(K::exponent_offset << K::mantissa)) >> K::mantissa);
    if constexpr (MaySubnormal) e = e - scaled;
    const V m = from_bits<T>((ix & B((typename K::bits(1) << K::mantissa) - 1)) + B(K::sqrt_half));
    // m - 1 is exact (Sterbenz); so is e * ln2_hi, even without FMA (sse2).
    return vfma(e, V(K::ln2_hi), log1p_reduced(m - V(1), e * V(K::ln2_lo)));
  }
}

// log t for every t, with IEEE special values: -inf at 0, NaN below 0 and for NaN, +inf at +inf.
template <class V>
KLDIV_INLINE V vlog(V t) noexcept {
  using T = value_t<V>;
  using L = std::numeric_limits<T>;
  V r = log_positive<true>(t);
  r = vselect(t == V(0), V(-L::infinity()), r);
  r = vselect(t == V(L::infinity()), V(L::infinity()), r);
  return vselect(t >= V(0), r, V(L::quiet_NaN()));  // false for NaN too
}

// exp t.  Without Extreme, only for |t| <= consts::exp_fast; with it, for every t, including results
// that overflow, underflow or are subnormal.
template <bool Extreme, class V>
KLDIV_INLINE V vexp(V t) noexcept {
  using T = value_t<V>;
  using B = bits_t<V>;
  using K = consts<T>;
  if constexpr (Extreme) {
    t = vselect(t > V(K::exp_hi), V(K::exp_hi), t);  // NaN passes both and stays NaN
    t = vselect(t < V(K::exp_lo), V(K::exp_lo), t);
  }
  // n = round(t / ln 2), in float and, through the 1.5 * 2^p trick, in the low bits of k.
  constexpr T round_magic = T(3) * T(typename K::bits(1) << (K::mantissa - 1));
  const V k = vfma(t, V(K::log2e), V(round_magic));
  const V n = k - V(round_magic);
  V r = vfma(n, V(-K::ln2_hi), t);
  r = vfma(n, V(-K::ln2_lo), r);
  const V r2 = r * r;
  V poly;
  if constexpr (std::is_same_v<T, double>)  // c0 by Horner: all of Estrin would cost 0.03 ulp, to 1.02
    poly = vfma(estrin<1>(r, r2, K::exp_poly), r, V(K::exp_poly[0]));
  else
    poly = horner(r, K::exp_poly);
  const V p = vfma(r2, poly, r) + V(1);
  const B n_biased = as_bits(k) - B(K::pow2_bits(K::mantissa) | (typename K::bits(1) << (K::mantissa - 1)));
  if constexpr (!Extreme) {
    if constexpr (traits<V>::native_getexp) return traits<V>::scale_pow2(p, n);  // the same bits
    return p * from_bits<T>((n_biased + B(K::exp_bias)) << K::mantissa);
  } else {
    // 2^n in two steps, so that each factor is a normal number; the last product rounds once.
    const B a = n_biased + B(2 * K::exp_bias);
    const B half = a >> 1;
    return (p * from_bits<T>(half << K::mantissa)) * from_bits<T>((a - half) << K::mantissa);
  }
}

// Whether every lane of t is in the fast exp's range.
template <class V>
KLDIV_INLINE bool exp_fast_range(V t) noexcept {
  using K = consts<value_t<V>>;
  return vall((t >= V(-K::exp_fast)) & (t <= V(K::exp_fast)));
}

// exp t on the fast path when every lane is within its range, else the general one: the same bits.
template <class V>
KLDIV_INLINE V vexp_checked(V t) noexcept {
  return exp_fast_range(t) ? vexp<false>(t) : vexp<true>(t);
}

}  // namespace kldiv::detail::KLDIV_TARGET
