// AVX2 with FMA; compiled with -mavx2 -mfma.
#define KLDIV_TARGET avx2
#include "../kernels/simd_xsimd.hpp"
#include "../kernels/loss.hpp"

namespace kldiv::detail {
const KernelTable& avx2_kernels() {
  using A = xsimd::fma3<xsimd::avx2>;
  static constexpr KernelTable table = avx2::make_table<xsimd::batch<float, A>, xsimd::batch<double, A>>("avx2");
  return table;
}
}  // namespace kldiv::detail
