// kldiv: KL, reverse KL and JSD straight from two matrices of logits (C++17).  Included by kldiv.hpp.
//
// For row r, P = softmax(p_r / T) (the target: teacher, base model) and Q = softmax(q_r / T) (the input:
// student, candidate):
//   Divergence::kl          KL(P || Q) = sum P (log P - log Q)
//   Divergence::reverse_kl  KL(Q || P)
//   Divergence::jsd         beta KL(P || M) + (1 - beta) KL(Q || M), M = beta P + (1 - beta) Q (TRL's
//                           generalized JSD: beta -> 0 gives beta KL(P || Q), beta -> 1 (1 - beta) KL(Q || P))
// times T^2 with temperature_squared.  A row whose label equals ignore_index is skipped (value 0,
// gradient 0, not counted).  Reductions: none (one value a row), sum (of kept rows), batchmean (sum /
// max(kept, 1)), mean (sum / max(kept * cols, 1)).
//
// Gradient with respect to q's logits, for the upstream gradient g (per row for none, else one value
// scaled like the reduction), times T^2 when asked:
//   kl: g (Q - P) / T,  reverse_kl: g Q (log Q - log P - KL(Q || P)) / T,
//   jsd: g (1 - beta) Q (log(Q / M) - KL(Q || M)) / T.
// Edge values (README.md, "Logits"): -inf is a masked entry (probability 0; P = 0 adds exactly 0); a NaN
// or +inf anywhere in a row, or a row all -inf, makes that row's value and gradient NaN; identical rows
// give exactly +0 and a zero gradient.  F32, BF16 and F16 (any pair) are computed in f32 arithmetic with
// double sums, F64 (with F64 only) in f64; results have the same bits for any thread count and on every
// FMA ISA.
#ifndef KLDIV_LOGITS_HPP
#define KLDIV_LOGITS_HPP

#include <cstdint>

#include "kldiv/dtype.hpp"
#include "kldiv/kldiv.hpp"

namespace kldiv {

enum class Divergence : int { kl = 0, reverse_kl = 1, jsd = 2 };

// rows x cols values of one dtype; row r starts at element r * stride of data; stride >= cols.  A view:
// the caller keeps the data alive.
struct Rows {
  const void* data = nullptr;
  Dtype dtype = Dtype::f32;
  std::int64_t rows = 0, cols = 0, stride = 0;

  Rows() = default;
  Rows(const void* data_, Dtype dtype_, std::int64_t rows_, std::int64_t cols_, std::int64_t stride_) noexcept
      : data(data_), dtype(dtype_), rows(rows_), cols(cols_), stride(stride_) {}
  // Contiguous rows (stride == cols) or strided ones, typed.
  Rows(const float* data_, std::int64_t rows_, std::int64_t cols_) noexcept : Rows(data_, rows_, cols_, cols_) {}
  Rows(const float* data_, std::int64_t rows_, std::int64_t cols_, std::int64_t stride_) noexcept
      : Rows(data_, Dtype::f32, rows_, cols_, stride_) {}
  Rows(const double* data_, std::int64_t rows_, std::int64_t cols_) noexcept : Rows(data_, rows_, cols_, cols_) {}
  Rows(const double* data_, std::int64_t rows_, std::int64_t cols_, std::int64_t stride_) noexcept
      : Rows(data_, Dtype::f64, rows_, cols_, stride_) {}
  Rows(const bf16* data_, std::int64_t rows_, std::int64_t cols_) noexcept : Rows(data_, rows_, cols_, cols_) {}
  Rows(const bf16* data_, std::int64_t rows_, std::int64_t cols_, std::int64_t stride_) noexcept
      : Rows(data_, Dtype::bf16, rows_, cols_, stride_) {}
  Rows(const f16* data_, std::int64_t rows_, std::int64_t cols_) noexcept : Rows(data_, rows_, cols_, cols_) {}
  Rows(const f16* data_, std::int64_t rows_, std::int64_t cols_, std::int64_t stride_) noexcept
      : Rows(data_, Dtype::f16, rows_, cols_, stride_) {}
};

struct LogitsOptions {
  Divergence divergence = Divergence::kl;
  double beta = 0.5;         // jsd only, 0 < beta < 1
  double temperature = 1.0;  // finite, > 0
  bool temperature_squared = false;
  Reduction reduction = Reduction::batchmean;
  const std::int64_t* labels = nullptr;  // null or one label per row
  std::int64_t ignore_index = -100;
  int num_threads = 0;  // 0: the global setting (set_num_threads)
};

// out: rows values for Reduction::none, else 1.  Throws (and writes nothing) on bad input: see README.md.
void logits_forward(const Rows& p, const Rows& q, const LogitsOptions& options, double* out);
// The reduced value; throws invalid_argument for Reduction::none.
double logits_loss(const Rows& p, const Rows& q, const LogitsOptions& options = {});

// The same, plus the gradient with respect to q's logits, in q's dtype, into grad_q: row r at element
// r * grad_stride (grad_stride >= cols).  grad_q may be q's own data with grad_stride == q.stride.
// grad_output: rows values for Reduction::none, else 1.
void logits_forward_backward(const Rows& p, const Rows& q, const LogitsOptions& options, const double* grad_output,
                             double* out, void* grad_q, std::int64_t grad_stride);

}  // namespace kldiv

#endif  // KLDIV_LOGITS_HPP
