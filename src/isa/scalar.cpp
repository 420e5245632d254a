// Plain C++, one element at a time: the fallback for CPUs without a vector target here, and a
// reference for the bits of the FMA targets.
#define KLDIV_TARGET scalar
#include "../kernels/simd_scalar.hpp"
#include "../kernels/loss.hpp"
#include "../kernels/logits.hpp"

namespace kldiv::detail {
const KernelTable& scalar_kernels() {
  static constexpr KernelTable table = scalar::add_logits<float, double>(scalar::make_table<float, double>("scalar"));
  return table;
}
}  // namespace kldiv::detail
