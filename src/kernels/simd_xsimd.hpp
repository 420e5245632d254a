// The vector vocabulary of the generic kernels, on xsimd batches.  simd_scalar.hpp defines the same
// names on plain float and double; the kernels use nothing else.
#pragma once

#ifndef KLDIV_TARGET
#error "Include this from an ISA file that defines KLDIV_TARGET (see src/isa/)."
#endif

#include <array>
#include <cstdint>
#include <type_traits>

#include "inline.hpp"

#include <xsimd/xsimd.hpp>

namespace kldiv::detail::KLDIV_TARGET {

template <class V>
struct traits;

template <class T, class A>
struct traits<xsimd::batch<T, A>> {
  using value_type = T;
  using bits_type = xsimd::batch<std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>, A>;
  static constexpr std::size_t size = xsimd::batch<T, A>::size;
  static xsimd::batch<T, A> load(const T* p) noexcept { return xsimd::batch<T, A>::load_unaligned(p); }
  static void store(T* p, xsimd::batch<T, A> v) noexcept { v.store_unaligned(p); }
  // size 16-bit values zero-extended into the 32-bit lanes of bits_type, and back (each lane < 2^16):
  // the halves of half.hpp.  xsimd 8.1 has no widening loads, so each target spells its own.
  static bits_type load_u16(const std::uint16_t* p) noexcept;
  static void store_u16(std::uint16_t* p, bits_type v) noexcept;
  // 2 size 16-bit values as the 32-bit lanes, p[2k] in the low half of lane k (little-endian), and back.
  static bits_type load_u32(const std::uint16_t* p) noexcept {
#if defined(__aarch64__)
    if constexpr (std::is_same_v<A, xsimd::neon64>) return vreinterpretq_u32_u16(vld1q_u16(p));
#endif
    return bits_type::load_unaligned(reinterpret_cast<const std::uint32_t*>(p));  // x86: may_alias loads
  }
  static void store_u32(std::uint16_t* p, bits_type v) noexcept {
#if defined(__aarch64__)
    if constexpr (std::is_same_v<A, xsimd::neon64>) return vst1q_u16(p, vreinterpretq_u16_u32(v));
#endif
    v.store_unaligned(reinterpret_cast<std::uint32_t*>(p));
  }
  // Whether the target converts f16 <-> float itself (AVX-512F, F16C), rounding to nearest even.
  static constexpr bool native_f16 =
#if defined(__AVX512F__)
      std::is_same_v<A, xsimd::avx512f> ||
#endif
#if defined(__F16C__)
      std::is_base_of_v<xsimd::avx, A> ||
#endif
      false;
  static xsimd::batch<T, A> load_f16(const std::uint16_t* p) noexcept;
  // t = 2^getexp(t) * getmant(t), getmant in [1, 2), for positive normal float t, and scale_pow2
  // (math.hpp).
  static constexpr bool native_getexp =
#if defined(__AVX512F__)
      std::is_same_v<A, xsimd::avx512f> ||
#endif
      false;
#if defined(__AVX512F__)
  // v * 2^n for integral n, exact where the product is normal: one instruction (vscalef) instead of
  // building 2^n from the bits and multiplying (math.hpp's exp).
  static xsimd::batch<T, A> scale_pow2(xsimd::batch<T, A> v, xsimd::batch<T, A> n) noexcept {
    if constexpr (sizeof(T) == 4)
      return _mm512_scalef_ps(v, n);
    else
      return _mm512_scalef_pd(v, n);
  }
  static xsimd::batch<T, A> getexp(xsimd::batch<T, A> t) noexcept { return _mm512_getexp_ps(t); }
  static xsimd::batch<T, A> getmant(xsimd::batch<T, A> t) noexcept {
    return _mm512_getmant_ps(t, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_src);
  }
#endif
  static void store_f16(std::uint16_t* p, xsimd::batch<T, A> v) noexcept;
};

template <class A>
inline constexpr bool always_false = false;

template <class T, class A>
KLDIV_INLINE auto traits<xsimd::batch<T, A>>::load_u16(const std::uint16_t* p) noexcept -> bits_type {
  static_assert(sizeof(T) == 4);
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<A, xsimd::avx512f>) {
    return _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  } else
#endif
#if defined(__AVX2__)
  if constexpr (std::is_base_of_v<xsimd::avx2, A>) {
    return _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  } else
#endif
#if defined(__SSE2__)
  if constexpr (std::is_base_of_v<xsimd::sse2, A> && !std::is_base_of_v<xsimd::avx, A>) {
    return _mm_unpacklo_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)), _mm_setzero_si128());
  } else
#endif
#if defined(__aarch64__)
  if constexpr (std::is_same_v<A, xsimd::neon64>) {
    return vmovl_u16(vld1_u16(p));
  } else
#endif
  {
    static_assert(always_false<A>, "load_u16() has no widening load for this target");
  }
}

template <class T, class A>
KLDIV_INLINE void traits<xsimd::batch<T, A>>::store_u16(std::uint16_t* p, bits_type v) noexcept {
  static_assert(sizeof(T) == 4);
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<A, xsimd::avx512f>) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(v));
  } else
#endif
#if defined(__AVX2__)
  if constexpr (std::is_base_of_v<xsimd::avx2, A>) {
    const __m256i w = v;
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p),
                     _mm_packus_epi32(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1)));
  } else
#endif
#if defined(__SSE2__)
  if constexpr (std::is_base_of_v<xsimd::sse2, A> && !std::is_base_of_v<xsimd::avx, A>) {
    // SSE2 packs only with signed saturation: sign-extend the low 16 bits first, which packs them as is.
    const __m128i s = _mm_srai_epi32(_mm_slli_epi32(v, 16), 16);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_packs_epi32(s, s));
  } else
#endif
#if defined(__aarch64__)
  if constexpr (std::is_same_v<A, xsimd::neon64>) {
    vst1_u16(p, vmovn_u32(v));
  } else
#endif
  {
    static_assert(always_false<A>, "store_u16() has no narrowing store for this target");
  }
}

template <class T, class A>
KLDIV_INLINE auto traits<xsimd::batch<T, A>>::load_f16([[maybe_unused]] const std::uint16_t* p) noexcept -> xsimd::batch<T, A> {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<A, xsimd::avx512f>) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  } else
#endif
#if defined(__F16C__)
  if constexpr (std::is_base_of_v<xsimd::avx, A>) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  } else
#endif
  {
    static_assert(always_false<A>, "load_f16() needs native_f16");
  }
}

template <class T, class A>
KLDIV_INLINE void traits<xsimd::batch<T, A>>::store_f16([[maybe_unused]] std::uint16_t* p, [[maybe_unused]] xsimd::batch<T, A> v) noexcept {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<A, xsimd::avx512f>) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  } else
#endif
#if defined(__F16C__)
  if constexpr (std::is_base_of_v<xsimd::avx, A>) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  } else
#endif
  {
    static_assert(always_false<A>, "store_f16() needs native_f16");
  }
}

// A fused multiply-add on every target that has one: xsimd 8.1 fuses only for fma3<> and NEON tags, so
// AVX-512 gets it by hand.  SSE2 has no FMA; its results may differ in the last bit (README, "Bits").
template <class T, class A>
KLDIV_INLINE xsimd::batch<T, A> vfma(xsimd::batch<T, A> a, xsimd::batch<T, A> b, xsimd::batch<T, A> c) noexcept {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<A, xsimd::avx512f>) {
    if constexpr (std::is_same_v<T, float>)
      return _mm512_fmadd_ps(a, b, c);
    else
      return _mm512_fmadd_pd(a, b, c);
  }
#endif
  return xsimd::fma(a, b, c);
}

// a*b + c rounded once, where a*b + c has at most 53 significant bits (the float log's r = m*invc - 1
// has 29): an FMA, or on SSE2, which has none, the same in double, where it is exact.
template <class A>
KLDIV_INLINE xsimd::batch<float, A> vfma_exact(xsimd::batch<float, A> a, xsimd::batch<float, A> b,
                                               xsimd::batch<float, A> c) noexcept {
#if defined(__SSE2__) && !defined(__FMA__)
  if constexpr (std::is_same_v<A, xsimd::sse2>) {
    const auto half = [](__m128 x, __m128 y, __m128 z) {
      return _mm_cvtpd_ps(_mm_add_pd(_mm_mul_pd(_mm_cvtps_pd(x), _mm_cvtps_pd(y)), _mm_cvtps_pd(z)));
    };
    const __m128 va = a, vb = b, vc = c;
    return _mm_movelh_ps(half(va, vb, vc), half(_mm_movehl_ps(va, va), _mm_movehl_ps(vb, vb), _mm_movehl_ps(vc, vc)));
  }
#endif
  return vfma(a, b, c);
}

// The lanes of a float vector as doubles, in order: [0, S/2) then [S/2, S).  xsimd 8.1 has no
// widening conversion, so each target spells its own.
template <class A>
KLDIV_INLINE std::array<xsimd::batch<double, A>, 2> widen(xsimd::batch<float, A> v) noexcept {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<A, xsimd::avx512f>) {
    return {_mm512_cvtps_pd(_mm512_castps512_ps256(v)),
            _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)))};
  } else
#endif
#if defined(__AVX__)
  if constexpr (std::is_base_of_v<xsimd::avx, A>) {
    return {_mm256_cvtps_pd(_mm256_castps256_ps128(v)), _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1))};
  } else
#endif
#if defined(__SSE2__)
  if constexpr (std::is_base_of_v<xsimd::sse2, A>) {
    return {_mm_cvtps_pd(v), _mm_cvtps_pd(_mm_movehl_ps(v, v))};
  } else
#endif
#if defined(__aarch64__)
  if constexpr (std::is_same_v<A, xsimd::neon64>) {
    return {vcvt_f64_f32(vget_low_f32(v)), vcvt_high_f64_f32(v)};
  } else
#endif
  {
    static_assert(always_false<A>, "widen() has no conversion for this target");
  }
}

// a / b, correctly rounded on every target: xsimd 8.1 divides NEON floats by a reciprocal estimate and
// Newton steps, which would give NEON other bits than the FMA targets.
template <class T, class A>
KLDIV_INLINE xsimd::batch<T, A> vdiv(xsimd::batch<T, A> a, xsimd::batch<T, A> b) noexcept {
#if defined(__aarch64__)
  if constexpr (std::is_same_v<A, xsimd::neon64> && std::is_same_v<T, float>) return vdivq_f32(a, b);
#endif
  return a / b;
}

// table[j & 15] lane by lane (j's other bits are ignored): the float log's table (math.hpp).  The same
// bits on every target; one permute on AVX-512, two and a blend on AVX2, a table lookup of bytes on NEON.
template <class A>
KLDIV_INLINE xsimd::batch<float, A> lookup16(const float (&table)[16], xsimd::batch<std::uint32_t, A> j) noexcept {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<A, xsimd::avx512f>) {
    return _mm512_permutexvar_ps(j, _mm512_load_ps(table));
  } else
#endif
#if defined(__AVX2__)
  if constexpr (std::is_base_of_v<xsimd::avx2, A>) {
    const __m256 lo = _mm256_permutevar8x32_ps(_mm256_load_ps(table), j);
    const __m256 hi = _mm256_permutevar8x32_ps(_mm256_load_ps(table + 8), j);
    return _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(_mm256_slli_epi32(j, 28)));  // by bit 3 of j
  } else
#endif
#if defined(__aarch64__)
  if constexpr (std::is_same_v<A, xsimd::neon64>) {
    const auto* b = reinterpret_cast<const std::uint8_t*>(table);
    const uint8x16x4_t t = {{vld1q_u8(b), vld1q_u8(b + 16), vld1q_u8(b + 32), vld1q_u8(b + 48)}};
    // The bytes 4j .. 4j + 3 of the table, for each lane.
    const uint32x4_t bytes = vmlaq_n_u32(vdupq_n_u32(0x03020100u), vandq_u32(j, vdupq_n_u32(15)), 0x04040404u);
    return vreinterpretq_f32_u8(vqtbl4q_u8(t, vreinterpretq_u8_u32(bytes)));
  } else
#endif
  {  // SSE2 has no variable permute
    constexpr std::size_t S = xsimd::batch<float, A>::size;
    alignas(16) std::uint32_t index[S];
    alignas(16) float out[S];
    j.store_aligned(index);
    for (std::size_t k = 0; k < S; ++k) out[k] = table[index[k] & 15];
    return xsimd::batch<float, A>::load_aligned(out);
  }
}

template <class T, class A>
KLDIV_INLINE xsimd::batch<T, A> vselect(xsimd::batch_bool<T, A> m, xsimd::batch<T, A> a, xsimd::batch<T, A> b) noexcept {
  return xsimd::select(m, a, b);
}

template <class T, class A>
KLDIV_INLINE xsimd::batch<T, A> vmax(xsimd::batch<T, A> a, xsimd::batch<T, A> b) noexcept {
  return xsimd::max(a, b);
}

template <class T, class A>
KLDIV_INLINE xsimd::batch<T, A> vmin(xsimd::batch<T, A> a, xsimd::batch<T, A> b) noexcept {
  return xsimd::min(a, b);
}

// A point that code may not be moved across, in v's computation (an empty asm that may change v): where
// GCC 12 would interleave independent chains until it runs out of registers and spills (loss.hpp).
template <class T, class A>
KLDIV_INLINE void schedule_point(xsimd::batch<T, A>& v) noexcept {
#if defined(__AVX512F__)
  asm("" : "+v"(v.data));
#elif defined(__x86_64__) || defined(__i386__)
  asm("" : "+x"(v.data));
#elif defined(__aarch64__)
  asm("" : "+w"(v.data));
#endif
}

template <class T, class A>
KLDIV_INLINE bool vall(xsimd::batch_bool<T, A> m) noexcept {
  return xsimd::all(m);
}

template <class T, class A>
KLDIV_INLINE typename traits<xsimd::batch<T, A>>::bits_type as_bits(xsimd::batch<T, A> v) noexcept {
  using B = typename traits<xsimd::batch<T, A>>::bits_type;
#if XSIMD_VERSION_MAJOR >= 11
  return xsimd::bitwise_cast<typename B::value_type>(v);
#else
  return xsimd::bitwise_cast<B>(v);
#endif
}

template <class T, class U, class A>
KLDIV_INLINE xsimd::batch<T, A> from_bits(xsimd::batch<U, A> b) noexcept {
#if XSIMD_VERSION_MAJOR >= 11
  return xsimd::bitwise_cast<T>(b);
#else
  return xsimd::bitwise_cast<xsimd::batch<T, A>>(b);
#endif
}

// b >> Shift as a two's-complement integer (an arithmetic shift), converted to floating point; exact
// while the result is below 2^mantissa.
template <int Shift, class U, class A>
KLDIV_INLINE auto shifted_to_fp(xsimd::batch<U, A> b) noexcept {
  using S = std::make_signed_t<U>;
  using F = std::conditional_t<sizeof(U) == 4, float, double>;
  return xsimd::batch_cast<F>(from_bits<S>(b) >> Shift);
}

}  // namespace kldiv::detail::KLDIV_TARGET
