// Loads and stores of every element type into the float (or double) vectors of the kernels, written once
// over the vector vocabulary (simd_xsimd.hpp / simd_scalar.hpp):
//   load_as<V>(p), load_as_n<V>(p, k)      S = float, double, bf16 or f16; halves widen to float lanes
//   store_as<V>(p, v), store_as_n<V>(p, k, v)   rounding once to S, to nearest even
//   load_row<V>(p, k, fill)                 k <= size elements, the rest `fill`
// The _n forms take k <= size elements (zeros past them on loads).  Every target gives the same bits: the
// portable forms below use only integer operations and exact float ones, and the native f16 instructions
// (AVX-512F, F16C) round and treat NaN the same way.  The NaN rule: a NaN keeps its sign and the upper bits
// of its payload, and is made quiet, except bf16 -> float, which keeps the bits as they are.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "../kernel_table.hpp"
#include "math.hpp"

namespace kldiv::detail::KLDIV_TARGET {

// Selection between bits by comparisons of bits, in signed 32-bit lanes: every compared value here is
// below 2^31, and signed comparisons are native where unsigned ones are not (SSE2, AVX2).
template <class V>
struct Compare32 {
  using U = bits_t<V>;
  using I = decltype(from_bits<std::int32_t>(std::declval<U>()));
  static KLDIV_INLINE I s(U b) noexcept { return from_bits<std::int32_t>(b); }
  // a < limit ? below : otherwise
  static KLDIV_INLINE U below(U a, std::uint32_t limit, U below, U otherwise) noexcept {
    return from_bits<std::uint32_t>(vselect(s(a) < I(static_cast<std::int32_t>(limit)), s(below), s(otherwise)));
  }
};

// bf16 -> float: the 16 bits are the upper half of the float.
template <class V>
KLDIV_INLINE V bf16_to_float(bits_t<V> h) noexcept {
  return from_bits<float>(h << 16);
}

// float -> bf16, to nearest even: add half an ulp of bf16 less one, plus the lowest kept bit, and
// truncate.  A carry into the exponent is the correct rounding up, to inf past the largest finite value.
template <class V>
KLDIV_INLINE bits_t<V> float_to_bf16(V v) noexcept {
  using U = bits_t<V>;
  const U b = as_bits(v);
  const U rounded = (b + U(0x7fff) + ((b >> 16) & U(1))) >> 16;
  const U nan = (b >> 16) | U(0x40);
  return Compare32<V>::below(b & U(0x7fffffff), 0x7f800001u, rounded, nan);
}

// f16 -> float, exactly.  Normal values move their exponent (bias 15 -> 127); subnormals are their
// integer mantissa times 2^-24, an exact conversion and product whose operands and result are normal
// floats (so not even a flush-to-zero mode changes them); inf and NaN keep an all-ones exponent.
template <class V>
KLDIV_INLINE V f16_to_float(bits_t<V> h) noexcept {
  using U = bits_t<V>;
  using L = Compare32<V>;
  const U magnitude = (h & U(0x7fff)) << 13;  // exponent and mantissa in a float's places
  const U normal = magnitude + U(0x38000000);  // (127 - 15) << 23
  const U subnormal = as_bits(shifted_to_fp<0>(h & U(0x3ff)) * V(0x1p-24f));
  const U inf = magnitude | U(0x70000000);
  U r = L::below(magnitude, 0x00800000u, subnormal, normal);
  r = L::below(magnitude, 0x0f800000u, r, L::below(magnitude, 0x0f800001u, inf, inf | U(0x00400000)));
  return from_bits<float>(r | ((h & U(0x8000)) << 16));
}

// float -> f16, to nearest even.  Normal results round like bf16 (13 bits dropped, exponent rebiased);
// below 2^-14, |v| + 1/2 rounds |v| to a multiple of 2^-24 (the ulp of 1/2), the subnormal's mantissa,
// and a flush-to-zero mode could only flush inputs that round to 0 anyway.  From 65520, halfway between
// 65504 and 2^16, the result is inf.
template <class V>
KLDIV_INLINE bits_t<V> float_to_f16(V v) noexcept {
  using U = bits_t<V>;
  using L = Compare32<V>;
  const U b = as_bits(v);
  const U a = b & U(0x7fffffff);
  const U normal = (a - U(0x38000000) + U(0xfff) + ((a >> 13) & U(1))) >> 13;
  const U subnormal = as_bits(from_bits<float>(a) + V(0.5f)) - U(0x3f000000);
  const U nan = ((a >> 13) & U(0x3ff)) | U(0x7e00);
  U r = L::below(a, 0x38800000u, subnormal, normal);
  r = L::below(a, 0x477ff000u, r, U(0x7c00));
  r = L::below(a, 0x7f800001u, r, nan);
  return r | ((b >> 16) & U(0x8000));
}

template <class V>
KLDIV_INLINE V load_as(const value_t<V>* p) noexcept {
  return traits<V>::load(p);
}
template <class V>
KLDIV_INLINE V load_as(const bf16* p) noexcept {
  return bf16_to_float<V>(traits<V>::load_u16(&p->bits));
}
template <class V>
KLDIV_INLINE V load_as(const f16* p) noexcept {
  if constexpr (traits<V>::native_f16)
    return traits<V>::load_f16(&p->bits);
  else
    return f16_to_float<V>(traits<V>::load_u16(&p->bits));
}

template <class V>
KLDIV_INLINE void store_as(value_t<V>* p, V v) noexcept {
  traits<V>::store(p, v);
}
template <class V>
KLDIV_INLINE void store_as(bf16* p, V v) noexcept {
  traits<V>::store_u16(&p->bits, float_to_bf16(v));
}
template <class V>
KLDIV_INLINE void store_as(f16* p, V v) noexcept {
  if constexpr (traits<V>::native_f16)
    traits<V>::store_f16(&p->bits, v);
  else
    traits<V>::store_u16(&p->bits, float_to_f16(v));
}

// A pair of float vectors from a group of 2 kLanes elements at p, for the r-th register of each set of
// kLanes lanes.  bf16: the even and the odd elements of the 2 size at p + 2 r size, from one load by a
// shift and a mask, half the work of two widening loads.  Other types: the size elements at p + r size
// and those kLanes later.  Either way lane k of register r takes fixed elements of the group, (2j, 2j + 1)
// or (j, kLanes + j) for j = r size + k, whatever size is: every ISA sums the same elements in a lane.
template <class V, class S>
KLDIV_INLINE std::array<V, 2> load_pair(const S* p, std::size_t r) noexcept {
  constexpr std::size_t W = traits<V>::size;
  if constexpr (std::is_same_v<S, bf16>) {
    static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the pairs of load_u32 are little-endian");
    const bits_t<V> b = traits<V>::load_u32(&p[2 * r * W].bits);
    return {from_bits<float>(b << 16), from_bits<float>(b & bits_t<V>(0xffff0000u))};
  } else {
    return {load_as<V>(p + r * W), load_as<V>(p + kLanes + r * W)};
  }
}
template <class V, class S>
KLDIV_INLINE void store_pair(S* p, std::size_t r, V a, V b) noexcept {
  constexpr std::size_t W = traits<V>::size;
  if constexpr (std::is_same_v<S, bf16>) {
    traits<V>::store_u32(&p[2 * r * W].bits, float_to_bf16(a) | (float_to_bf16(b) << 16));
  } else {
    store_as(p + r * W, a);
    store_as(p + kLanes + r * W, b);
  }
}

// k < size elements go through a zeroed buffer of one vector; k == size is a plain load or store.
template <class V, class S>
KLDIV_INLINE V load_as_n(const S* p, std::size_t k) noexcept {
  if (k == traits<V>::size) return load_as<V>(p);
  S b[traits<V>::size] = {};
  std::memcpy(b, p, k * sizeof *p);
  return load_as<V>(b);
}
template <class V, class S>
KLDIV_INLINE void store_as_n(S* p, std::size_t k, V v) noexcept {
  if (k == traits<V>::size) return store_as(p, v);
  S b[traits<V>::size];
  store_as(b, v);
  std::memcpy(p, b, k * sizeof *p);
}

// A row's elements as V, halves widened; k < size loads pad with `fill` (e.g. -inf, which no maximum
// or softmax takes).
template <class V, class S>
KLDIV_INLINE V load_row(const S* p, std::size_t k, value_t<V> fill) noexcept {
  using T = value_t<V>;
  if (k == traits<V>::size) return load_as<V>(p);
  T lane[traits<V>::size];
  for (std::size_t i = 0; i < traits<V>::size; ++i) lane[i] = T(i);
  return vselect(traits<V>::load(lane) < V(T(k)), load_as_n<V>(p, k), V(fill));
}

// One stored element as a double, exactly.
inline double as_double(float v) noexcept { return v; }
inline double as_double(double v) noexcept { return v; }
inline double as_double(bf16 v) noexcept { return to_float(v); }
inline double as_double(f16 v) noexcept { return to_float(v); }

// out[i] = in[i] converted, for i < n: the conversions of the kernel table (kernel_table.hpp).
template <class V, class From, class To>
void convert_entry(const From* in, To* out, std::size_t n) noexcept {
  constexpr std::size_t S = traits<V>::size;
  std::size_t i = 0;
  for (; i + S <= n; i += S) store_as(out + i, load_as<V>(in + i));
  if (i < n) store_as_n(out + i, n - i, load_as_n<V>(in + i, n - i));
}

template <class V>
constexpr HalfConversions half_conversions() noexcept {
  return {&convert_entry<V, bf16, float>, &convert_entry<V, float, bf16>, &convert_entry<V, f16, float>,
          &convert_entry<V, float, f16>};
}

}  // namespace kldiv::detail::KLDIV_TARGET
