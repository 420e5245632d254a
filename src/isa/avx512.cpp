// AVX-512F (+DQ, CD) with FMA; compiled with -mavx512f -mavx512dq -mavx512cd -mfma.
#define KLDIV_TARGET avx512
#include "../kernels/simd_xsimd.hpp"
#include "../kernels/loss.hpp"
#include "../kernels/logits.hpp"
#include "../kernels/token_values.hpp"

namespace kldiv::detail {
const KernelTable& avx512_kernels() {
  using A = xsimd::avx512f;
  using F = xsimd::batch<float, A>;
  using D = xsimd::batch<double, A>;
  static constexpr KernelTable table =
      with_eval(avx512::add_logits<F, D>(avx512::make_table<F, D>("avx512")), avx512::eval_kernels<F, D>());
  return table;
}
}  // namespace kldiv::detail
