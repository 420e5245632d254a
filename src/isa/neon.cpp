// NEON on AArch64 (the baseline there), with FMA.
#define KLDIV_TARGET neon
#include "../kernels/simd_xsimd.hpp"
#include "../kernels/loss.hpp"

namespace kldiv::detail {
const KernelTable& neon_kernels() {
  using A = xsimd::neon64;
  static constexpr KernelTable table = neon::make_table<xsimd::batch<float, A>, xsimd::batch<double, A>>("neon");
  return table;
}
}  // namespace kldiv::detail
