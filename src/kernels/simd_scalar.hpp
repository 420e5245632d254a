// The vector vocabulary of the generic kernels on plain float and double: a vector of one lane.  Bits
// are unsigned so that wrap-around and shifts are defined.  The libm fma is correctly rounded, so this
// path gives the same bits as the FMA targets.
#pragma once

#ifndef KLDIV_TARGET
#error "Include this from an ISA file that defines KLDIV_TARGET (see src/isa/)."
#endif

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "inline.hpp"

namespace kldiv::detail::KLDIV_TARGET {

template <class V>
struct traits {
  using value_type = V;
  using bits_type = std::conditional_t<sizeof(V) == 4, std::uint32_t, std::uint64_t>;
  static constexpr std::size_t size = 1;
  static V load(const V* p) noexcept { return *p; }
  static void store(V* p, V v) noexcept { *p = v; }
  // A 16-bit value in the bits of a float, and back (the value < 2^16): the halves of half.hpp.
  static bits_type load_u16(const std::uint16_t* p) noexcept { return *p; }
  static void store_u16(std::uint16_t* p, bits_type v) noexcept { *p = static_cast<std::uint16_t>(v); }
  // Two 16-bit values as one 32-bit lane, p[0] in the low half (little-endian), and back.
  static bits_type load_u32(const std::uint16_t* p) noexcept {
    std::uint32_t b;
    std::memcpy(&b, p, sizeof b);
    return b;
  }
  static void store_u32(std::uint16_t* p, bits_type v) noexcept {
    const std::uint32_t b = static_cast<std::uint32_t>(v);
    std::memcpy(p, &b, sizeof b);
  }
  static constexpr bool native_f16 = false;  // the portable form of half.hpp
  static constexpr bool native_getexp = false;  // math.hpp's form from the bits
};

// ::fma / ::fmaf are C functions, not C++ inline ones, so no weak symbol can be shared with an ISA file.
KLDIV_INLINE float vfma(float a, float b, float c) noexcept { return ::fmaf(a, b, c); }
KLDIV_INLINE double vfma(double a, double b, double c) noexcept { return ::fma(a, b, c); }
KLDIV_INLINE float vfma_exact(float a, float b, float c) noexcept { return ::fmaf(a, b, c); }

template <class T>
KLDIV_INLINE T vdiv(T a, T b) noexcept {
  return a / b;
}

KLDIV_INLINE float lookup16(const float (&table)[16], std::uint32_t j) noexcept { return table[j & 15]; }

template <class T>
KLDIV_INLINE T vselect(bool m, T a, T b) noexcept {
  return m ? a : b;
}

template <class T>
KLDIV_INLINE T vmax(T a, T b) noexcept {
  return a < b ? b : a;
}

template <class T>
KLDIV_INLINE T vmin(T a, T b) noexcept {
  return b < a ? b : a;
}

template <class T>
KLDIV_INLINE void schedule_point(T&) noexcept {}

KLDIV_INLINE bool vall(bool m) noexcept { return m; }

KLDIV_INLINE std::array<double, 1> widen(float v) noexcept { return {v}; }

template <class T>
KLDIV_INLINE typename traits<T>::bits_type as_bits(T v) noexcept {
  typename traits<T>::bits_type b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

template <class T, class U>
KLDIV_INLINE T from_bits(U b) noexcept {
  static_assert(sizeof(T) == sizeof(U));
  T v;
  std::memcpy(&v, &b, sizeof v);
  return v;
}

// b >> Shift as a two's-complement integer (an arithmetic shift, as GCC and Clang define >> on negative
// values), converted to floating point; exact while the result is below 2^mantissa.
template <int Shift, class U>
KLDIV_INLINE auto shifted_to_fp(U b) noexcept {
  using F = std::conditional_t<sizeof(U) == 4, float, double>;
  return static_cast<F>(static_cast<std::make_signed_t<U>>(b) >> Shift);
}

}  // namespace kldiv::detail::KLDIV_TARGET
