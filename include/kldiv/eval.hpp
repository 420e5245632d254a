// kldiv-eval: llama.cpp-compatible statistics of a model against its base, token by token.  The C++ API
// (C++17); eval.h is its C ABI.
//
// Per token: the divergence between the base's P and the candidate's Q over the whole vocabulary, whether
// their first argmaxes agree, and, with the correct next token, both models' log-probabilities of it and
// delta p = q(token) - p(token).  Then llama-perplexity's aggregates (README.md, "kldiv-eval").  A row is
// logits (a full log-softmax) or a llama.cpp row (log p_i = scale*code_i + min_log_prob, as stored); for
// KL, a llama.cpp base entry with log p <= -16 counts as probability 0, as llama.cpp's reader does.  The
// temperature divides both rows for the divergence only, with no T^2.  Two rows of logits go through the
// logits kernels (logits.hpp: their divergence, normalisers and argmaxes, with the accuracy bound of
// README.md, "Accuracy of the logits kernels"); a pair with a llama.cpp row through kldiv-eval's own
// kernel, in double past the loads.
//
// The statistics depend only on the multiset of tokens added: not on the order, the split between
// accumulators or the thread count.
#ifndef KLDIV_EVAL_HPP
#define KLDIV_EVAL_HPP

#include <cstdint>
#include <vector>

#include "eval.h"
#include "kldiv.hpp"
#include "logits.hpp"

namespace kldiv::eval {

struct Options {
  Divergence divergence = Divergence::kl;  // the logits API's (logits.hpp): KL(P_base || Q) by default
  double beta = 0.5;                       // jsd only, in (0, 1)
  double temperature = 1.0;                // finite, > 0
  int num_threads = 0;                     // 0: the global setting (kldiv::set_num_threads)
};

enum class Source : int { logits = KLDIV_EVAL_LOGITS, llama = KLDIV_EVAL_LLAMA };

// A block of rows of one side (eval.h, kldiv_eval_rows): logits of any dtype as a kldiv::Rows (F64 only
// with F64), or llama.cpp rows, rows.data their uint16 values, rows.stride in uint16 (>=
// llama_row_size(n_vocab)), rows.dtype ignored.  rows.cols is n_vocab either way.
struct Rows {
  Source source = Source::logits;
  kldiv::Rows rows;
  static Rows logits(const kldiv::Rows& rows) noexcept { return {Source::logits, rows}; }
  static Rows llama(const std::uint16_t* data, std::int64_t rows, std::int64_t n_vocab, std::int64_t stride) noexcept {
    return {Source::llama, kldiv::Rows(data, Dtype::f32, rows, n_vocab, stride)};
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
  // finite, and a row of logits with a NaN or +inf or with every logit -inf.
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
