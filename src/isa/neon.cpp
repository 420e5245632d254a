// NEON on AArch64 (the baseline there), with FMA.
#define KLDIV_TARGET neon
#include "../kernels/simd_xsimd.hpp"
#include "../kernels/loss.hpp"
#include "../kernels/logits.hpp"
#include "../kernels/token_values.hpp"

namespace kldiv::detail {
const KernelTable& neon_kernels() {
  using A = xsimd::neon64;
  using F = xsimd::batch<float, A>;
  using D = xsimd::batch<double, A>;
  static constexpr KernelTable table =
      with_eval(neon::add_logits<F, D>(neon::make_table<F, D>("neon")), neon::eval_kernels<F, D>());
  return table;
}
}  // namespace kldiv::detail
