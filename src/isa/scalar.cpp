// Plain C++, one element at a time: the fallback for CPUs without a vector target here, and a
// reference for the bits of the FMA targets.
#define KLDIV_TARGET scalar
#include "../kernels/simd_scalar.hpp"
#include "../kernels/loss.hpp"
#include "../kernels/logits.hpp"
#include "../kernels/token_values.hpp"

namespace kldiv::detail {
const KernelTable& scalar_kernels() {
  static constexpr KernelTable table =
      with_eval(scalar::add_logits<float, double>(scalar::make_table<float, double>("scalar")),
                scalar::eval_kernels<float, double>());
  return table;
}
}  // namespace kldiv::detail
