// kldiv-eval: llama.cpp-compatible statistics of a model against its base, token by token.  The C++ API
// (C++17); eval.h is its C ABI.
//
// Per token: the divergence between the base's P and the candidate's Q over the whole vocabulary, whether
// their first argmaxes agree, and, with the correct next token, both models' log-probabilities of it and
// delta p = q(token) - p(token).  Then llama-perplexity's aggregates (README.md, "kldiv-eval").  A row is
// float logits (a full log-softmax) or a llama.cpp row (log p_i = scale*code_i + min_log_prob, as
// stored); for KL, a llama.cpp base entry with log p <= -16 counts as probability 0, as llama.cpp's
// reader does.  The temperature divides both rows for the divergence only, with no T^2.
//
// The statistics depend only on the multiset of tokens added: not on the order, the split between
// accumulators or the thread count.
#ifndef KLDIV_EVAL_HPP
#define KLDIV_EVAL_HPP

#include <cstdint>
#include <vector>

#include "eval.h"
#include "kldiv.hpp"

namespace kldiv::eval {

enum class Divergence : int { kl = 0, reverse_kl = 1, jsd = 2 };

struct Options {
  Divergence divergence = Divergence::kl;
  double beta = 0.5;         // jsd only, in (0, 1)
  double temperature = 1.0;  // finite, > 0
  int num_threads = 0;       // 0: the global setting (kldiv::set_num_threads)
};

enum class Source : int { logits_f32 = KLDIV_EVAL_LOGITS_F32, llama = KLDIV_EVAL_LLAMA };

// rows rows; row r starts at element r*stride of data: floats, or uint16 for a llama.cpp row.
struct Rows {
  Source source;
  const void* data;
  std::int64_t rows;
  std::int64_t stride;
  static Rows logits(const float* data, std::int64_t rows, std::int64_t stride) noexcept {
    return {Source::logits_f32, data, rows, stride};
  }
  static Rows llama(const std::uint16_t* data, std::int64_t rows, std::int64_t stride) noexcept {
    return {Source::llama, data, rows, stride};
  }
};

using Result = kldiv_eval_result;

// One token's values, as the accumulator keeps them.
struct TokenRecord {
  double divergence;
  double nll_q, nll_p;  // -log q(token), -log p(token)
  double delta_p;
  bool same_top;
};

class Accumulator {
 public:
  // n_vocab in [1, 2^24]; throws invalid_argument for it or bad options.
  explicit Accumulator(std::int64_t n_vocab, const Options& options = {});

  // Adds base.rows tokens; candidate has as many.  tokens: one correct next token per row, in
  // [0, n_vocab), or null; an accumulator takes either always or never.  Throws (and adds nothing) on
  // bad input, including a llama.cpp row whose scale is not finite and >= 0 or whose min_log_prob is not
  // finite.
  void add(const Rows& base, const Rows& candidate, const std::int64_t* tokens = nullptr);

  // Adds other's tokens (same n_vocab, options and use of tokens, else invalid_argument).
  void merge(const Accumulator& other);

  Result finish() const;

  std::int64_t tokens() const noexcept { return static_cast<std::int64_t>(records_.size()); }
  std::int64_t n_vocab() const noexcept { return n_vocab_; }
  const Options& options() const noexcept { return options_; }

 private:
  std::int64_t n_vocab_;
  Options options_;
  int has_tokens_ = -1;  // unknown until tokens are added
  std::vector<TokenRecord> records_;
};

// The statistics of a multiset of token records (what Accumulator::finish computes).
Result statistics(std::vector<TokenRecord> records, bool has_tokens);

}  // namespace kldiv::eval

#endif  // KLDIV_EVAL_HPP
