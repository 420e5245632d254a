// The contract between the per-ISA kernels and the rest of the library.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kldiv/dtype.hpp"

namespace kldiv::detail {

// Elements are summed in kLanes interleaved accumulators (element i of a block goes to lane i % kLanes),
// whatever the register width: 1 AVX-512, 2 AVX2 or 4 SSE2/NEON registers of float, 16 scalars.  That is
// what makes the sums bit-identical across ISAs.
inline constexpr std::size_t kLanes = 16;

// Elements per block.  Each block gives one partial sum; the partials are reduced in a fixed tree.  Work
// is split between threads in whole blocks, so the result does not depend on the thread count.
inline constexpr std::size_t kBlock = 8192;

// An unevaluated sum hi + lo (a double-double), |lo| <= ulp(hi)/2 once normalised.
struct Partial {
  double hi;
  double lo;
};

template <class T>
struct TypedKernels {
  // out[i] = l(x[i], t[i]) for i < n.
  void (*pointwise)(const T* x, const T* t, T* out, std::size_t n, bool log_target);
  // partials[b] = sum of l over elements [b*kBlock, min(n, (b+1)*kBlock)), for every block b.
  void (*block_sums)(const T* x, const T* t, std::size_t n, bool log_target, Partial* partials);
  // The gradients for upstream gradients g[i] (g_per_element) or g[0]; either output may be null.
  void (*backward)(const T* g, bool g_per_element, const T* x, const T* t, T* grad_input, T* grad_target,
                   std::size_t n, bool log_target);
  // block_sums and backward (for one g) in one pass.
  void (*forward_backward)(const T* x, const T* t, T g, T* grad_input, T* grad_target, std::size_t n,
                           bool log_target, Partial* partials);
  // The elementary functions the kernels use, exposed so that tests can measure them.
  void (*log)(const T* in, T* out, std::size_t n);
  void (*exp)(const T* in, T* out, std::size_t n);
};

// out[i] = in[i] converted, i < n (src/kernels/half.hpp): the bits of the kernels' own loads and stores,
// exposed for the scalar conversions of dtype.hpp and for the tests.
struct HalfConversions {
  void (*bf16_to_f32)(const bf16* in, float* out, std::size_t n);
  void (*f32_to_bf16)(const float* in, bf16* out, std::size_t n);
  void (*f16_to_f32)(const f16* in, float* out, std::size_t n);
  void (*f32_to_f16)(const float* in, f16* out, std::size_t n);
};

// One side of a token for kldiv-eval's kernels (src/kernels/token_values.hpp): a llama.cpp row, whose
// log p_i = scale*codes[i] + min_log_prob as stored, or float logits, which go through a log-softmax.
struct TokenSide {
  const std::uint16_t* codes;  // null for logits
  const float* logits;         // null for codes
  double scale, min_log_prob;
};

struct TokenParams {
  std::size_t n;           // the vocabulary
  int divergence;          // 0 KL(P||Q), 1 KL(Q||P), 2 JSD with beta
  double beta;
  double inv_temperature;  // 1/T, for the divergence only
  std::int64_t token;      // the correct next token, or -1
};

struct TokenValues {
  double divergence;
  double log_p, log_q;  // of the correct token at T = 1 (NaN without one)
  double delta_p;       // q(token) - p(token)
  bool same_top;        // the first argmaxes agree
};

struct EvalKernels {
  void (*token)(const TokenSide& p, const TokenSide& q, const TokenParams& params, TokenValues* out);
};

struct KernelTable {
  const char* name;
  TypedKernels<float> f32;
  TypedKernels<double> f64;
  HalfConversions half;
  EvalKernels eval{};
};

// A kernel table with kldiv-eval's kernels added (the ISA files compose the families this way).
constexpr KernelTable with_eval(KernelTable table, EvalKernels eval) noexcept {
  table.eval = eval;
  return table;
}

// One per ISA compiled in (see src/isa/); dispatch.cpp picks among them.
const KernelTable& avx512_kernels();
const KernelTable& avx2_kernels();
const KernelTable& sse2_kernels();
const KernelTable& neon_kernels();
const KernelTable& scalar_kernels();

}  // namespace kldiv::detail
