// AVX2 with FMA; compiled with -mavx2 -mfma.
#define KLDIV_TARGET avx2
#include "../kernels/simd_xsimd.hpp"
#include "../kernels/loss.hpp"
#include "../kernels/logits.hpp"
#include "../kernels/token_values.hpp"

namespace kldiv::detail {
const KernelTable& avx2_kernels() {
  using A = xsimd::fma3<xsimd::avx2>;
  using F = xsimd::batch<float, A>;
  using D = xsimd::batch<double, A>;
  static constexpr KernelTable table =
      with_eval(avx2::add_logits<F, D>(avx2::make_table<F, D>("avx2")), avx2::eval_kernels<F, D>());
  return table;
}
}  // namespace kldiv::detail
