// kldiv-eval's baseline: llama.cpp's per-token loop as llama-perplexity --kl-divergence runs it (facts
// from its tools/perplexity/perplexity.cpp, our own code): compiled at -O3 for the baseline ISA, expf from
// libm, in its own translation unit (eval_scalar.cpp).
#pragma once

#include <cstdint>

namespace bench {

struct ScalarTotals {
  double kld = 0, nll = 0, nll_base = 0;
  std::int64_t same_top = 0;
};

// rows rows of base llama.cpp rows (stride row_size uint16) against candidate float logits (stride
// n_vocab) or, if candidate_rows is given, candidate llama.cpp rows; one token per row.  Rows are split
// between `threads` OpenMP threads.
ScalarTotals scalar_llama_loop(const std::uint16_t* base, const float* candidate_logits,
                               const std::uint16_t* candidate_rows, const std::int64_t* tokens, std::int64_t rows,
                               int n_vocab, std::int64_t row_size, int threads) noexcept;

}  // namespace bench
