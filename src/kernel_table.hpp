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

// The loss kernels over arrays of E (float, double, bf16 or f16), computed in C (float for the halves,
// which are widened on load and rounded once on store: src/kernels/half.hpp).
template <class E, class C>
struct LossKernels {
  // out[i] = l(x[i], t[i]) for i < n.
  void (*pointwise)(const E* x, const E* t, E* out, std::size_t n, bool log_target);
  // partials[b] = sum of l over elements [b*kBlock, min(n, (b+1)*kBlock)), for every block b.
  void (*block_sums)(const E* x, const E* t, std::size_t n, bool log_target, Partial* partials);
  // The gradients for upstream gradients g[i], or g_one for all where g is null; either output may be null.
  void (*backward)(const E* g, C g_one, const E* x, const E* t, E* grad_input, E* grad_target, std::size_t n,
                   bool log_target);
  // block_sums and backward (for one g) in one pass.
  void (*forward_backward)(const E* x, const E* t, C g, E* grad_input, E* grad_target, std::size_t n,
                           bool log_target, Partial* partials);
};

template <class T>
struct TypedKernels : LossKernels<T, T> {
  // The elementary functions the kernels use, exposed so that tests can measure them.
  void (*log)(const T* in, T* out, std::size_t n);
  void (*exp)(const T* in, T* out, std::size_t n);
};

// The logits kernels (src/kernels/logits.hpp), per pair of storage types of p and q.  A row is split
// in segments of kLogitsSegment elements, each computed on its own and combined in order (src/logits.cpp),
// so that a long row may be shared between threads with the same bits.
inline constexpr std::size_t kLogitsSegment = 8192;
inline constexpr std::size_t kLogitsChunk = 1024;  // the online max is updated once a chunk

// One segment's (or a merged row's) pass over x = p/T and y = q/T.  With u = y - x - c (c: LogitsRow),
// w = exp(x - pmax/T) and "near" meaning |u| <= 1/2: sn = sum_near w, an = sum_near w u,
// h = sum_near w (e^u - 1 - u), fp = sum_far w, af = sum_far w u (0 where w == 0),
// fq = sum_far exp(y - qmax/T).  pmax and qmax are the sums' references: -inf until a finite value is
// seen, then at most the maxima ptop and qtop, and never more than kHeadroom T below them
// (src/kernels/logits.hpp).  ok is false once a NaN or +inf is seen.  argmax_*: first index of the
// maximum (when asked), in the row.
struct LogitsState {
  double pmax, qmax;
  double ptop, qtop;
  double sn, an, h, fp, af, fq;  // sn apart from fp: near mass far below fp's must not cancel
  std::int64_t argmax_p, argmax_q;
  bool ok;
};

// What the second passes need of a row, in the row's orientation (p the target, q the input):
// lp = (p - pmax) s - lsp, lq = (q - qmax) s - lsq, r = (q - p) s - d = lq - lp.
struct LogitsRow {
  double pmax, qmax, s;
  double lsp, lsq, d;
  double beta;
  double kl;     // REVERSE_KL: KL(Q || P), JSD: KL(Q || M), for the gradient
  double scale;  // the gradient's factor: upstream g / T, times T^2 if asked
  int divergence;
};

struct LogitsKernels {
  // c of a row, from its first chunk (src/kernels/logits.hpp, center_entry): where the series are centred.
  double (*center)(const void* p, const void* q, std::size_t n, double s);
  // The state of elements [base, base + n) of a row (pointers at element base), started fresh.
  void (*stats)(const void* p, const void* q, std::size_t n, std::size_t base, double s, double c, bool argmax,
                LogitsState* out);
  // JSD: sums over n elements of the per-element JSD and of KL(Q || M)'s terms.
  void (*jsd)(const void* p, const void* q, std::size_t n, const LogitsRow& row, double* jsd, double* kl_qm);
  // The gradient with respect to q's logits, n elements, in q's storage type.
  void (*gradient)(const void* p, const void* q, std::size_t n, const LogitsRow& row, void* grad);
};

// Storage types, as indices of KernelTable::logits (the values of kldiv_dtype).
inline constexpr int kStorageTypes = 4;

// out[i] = in[i] converted, i < n (src/kernels/half.hpp): the bits of the kernels' own loads and stores,
// exposed for the scalar conversions of dtype.hpp and for the tests.
struct HalfConversions {
  void (*bf16_to_f32)(const bf16* in, float* out, std::size_t n);
  void (*f32_to_bf16)(const float* in, bf16* out, std::size_t n);
  void (*f16_to_f32)(const f16* in, float* out, std::size_t n);
  void (*f32_to_f16)(const float* in, f16* out, std::size_t n);
};

// One side of a token for kldiv-eval's kernel (src/kernels/token_values.hpp): a llama.cpp row, whose
// log p_i = scale*codes[i] + min_log_prob as stored, or logits, which go through a log-softmax.
struct TokenSide {
  const std::uint16_t* codes;  // null for logits
  const void* logits;          // null for codes; F32, BF16 or F16 as dtype says
  Dtype dtype;
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
  // At least one side is a llama.cpp row (two rows of logits take the logits kernels).  A side of logits
  // with a NaN or +inf, or all -inf, makes the divergence NaN.
  void (*token)(const TokenSide& p, const TokenSide& q, const TokenParams& params, TokenValues* out);
};

struct KernelTable {
  const char* name;
  TypedKernels<float> f32;
  TypedKernels<double> f64;
  LossKernels<bf16, float> kernels_bf16;
  LossKernels<f16, float> kernels_f16;
  HalfConversions half;
  LogitsKernels logits[kStorageTypes][kStorageTypes];  // [p's type][q's type]; null where not supported
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
