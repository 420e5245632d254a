// AVX-512F (+DQ, CD) with FMA; compiled with -mavx512f -mavx512dq -mavx512cd -mfma.
#define KLDIV_TARGET avx512
#include "../kernels/simd_xsimd.hpp"
#include "../kernels/loss.hpp"

namespace kldiv::detail {
const KernelTable& avx512_kernels() {
  using A = xsimd::avx512f;
  static constexpr KernelTable table = avx512::make_table<xsimd::batch<float, A>, xsimd::batch<double, A>>("avx512");
  return table;
}
}  // namespace kldiv::detail
