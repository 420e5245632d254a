// The scalar conversions of dtype.hpp: one element through the scalar kernels' conversions, so that
// they have the bits of every ISA's kernels (src/kernels/half.hpp) from one formula.
#include "kldiv/dtype.hpp"

#include <cstddef>

#include "kernel_table.hpp"

namespace kldiv {
namespace {

template <class From, class To>
To one(void (*convert)(const From*, To*, std::size_t), From v) noexcept {
  To r;
  convert(&v, &r, 1);
  return r;
}

const detail::HalfConversions& scalar() noexcept { return detail::scalar_kernels().half; }

}  // namespace

float to_float(bf16 h) noexcept { return one(scalar().bf16_to_f32, h); }
float to_float(f16 h) noexcept { return one(scalar().f16_to_f32, h); }
bf16 to_bf16(float v) noexcept { return one(scalar().f32_to_bf16, v); }
f16 to_f16(float v) noexcept { return one(scalar().f32_to_f16, v); }

}  // namespace kldiv
