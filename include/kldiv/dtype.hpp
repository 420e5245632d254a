// kldiv: the element types (C++17).  bf16 and f16 are storage types: 16 bits that the library widens to
// float, computes in float, and rounds once back to the type.
#ifndef KLDIV_DTYPE_HPP
#define KLDIV_DTYPE_HPP

#include <cstdint>

namespace kldiv {

// The values of kldiv_dtype in kldiv.h.
enum class Dtype : int { f32 = 0, f64 = 1, bf16 = 2, f16 = 3 };

// bfloat16: the upper half of a float (1 sign, 8 exponent, 7 mantissa bits).
struct bf16 {
  std::uint16_t bits;
};
// IEEE binary16 (1 sign, 5 exponent, 10 mantissa bits): largest finite 65504, subnormals from 2^-24.
struct f16 {
  std::uint16_t bits;
};
static_assert(sizeof(bf16) == 2 && sizeof(f16) == 2, "arrays of halves are arrays of 16-bit values");

// Exact widening.  A NaN stays a NaN of the same sign and payload: bf16's bits become the upper half of
// the float's as they are; an f16 NaN is made quiet, as the F16C and AVX-512 instructions do.
float to_float(bf16 h) noexcept;
float to_float(f16 h) noexcept;
// Rounding to nearest, ties to even: beyond the largest finite value (in f16 from 65520) to +-inf, in f16
// to subnormals or 0 below 2^-14.  A NaN stays a NaN of the same sign, with the upper bits of its payload,
// made quiet.  These are the bits of every ISA's kernels.
bf16 to_bf16(float v) noexcept;
f16 to_f16(float v) noexcept;

}  // namespace kldiv

#endif  // KLDIV_DTYPE_HPP
