// SSE2, the x86-64 baseline: no FMA, so its last bits may differ from the FMA targets.
#define KLDIV_TARGET sse2
#include "../kernels/simd_xsimd.hpp"
#include "../kernels/loss.hpp"

namespace kldiv::detail {
const KernelTable& sse2_kernels() {
  using A = xsimd::sse2;
  static constexpr KernelTable table = sse2::make_table<xsimd::batch<float, A>, xsimd::batch<double, A>>("sse2");
  return table;
}
}  // namespace kldiv::detail
