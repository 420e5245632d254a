// SSE2, the x86-64 baseline: no FMA, so its last bits may differ from the FMA targets.
#define KLDIV_TARGET sse2
#include "../kernels/simd_xsimd.hpp"
#include "../kernels/loss.hpp"
#include "../kernels/logits.hpp"
#include "../kernels/token_values.hpp"

namespace kldiv::detail {
const KernelTable& sse2_kernels() {
  using A = xsimd::sse2;
  using F = xsimd::batch<float, A>;
  using D = xsimd::batch<double, A>;
  static constexpr KernelTable table =
      with_eval(sse2::add_logits<F, D>(sse2::make_table<F, D>("sse2")), sse2::eval_kernels<F, D>());
  return table;
}
}  // namespace kldiv::detail
