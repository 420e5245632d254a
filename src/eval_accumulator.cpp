// kldiv-eval's accumulator: validation, the per-token values (two rows of logits from the logits kernels,
// a pair with a llama.cpp row from kldiv-eval's kernel), merging.
#include <omp.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "dispatch.hpp"
#include "kldiv/eval.hpp"
#include "kldiv/eval_files.hpp"
#include "logits_rows.hpp"
#include "parallel.hpp"
#include "validate_logits.hpp"

namespace kldiv::eval {
namespace {

constexpr std::int64_t kMaxVocab = std::int64_t(1) << 24;  // argmax indices are exact floats below this

std::string str(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

void check_options(const Options& o) {
  const int d = static_cast<int>(o.divergence);
  if (d < 0 || d > 2) throw invalid_argument("unknown divergence " + std::to_string(d));
  if (o.divergence == Divergence::jsd && !(o.beta > 0 && o.beta < 1))
    throw invalid_argument("beta " + str(o.beta) + " is not in (0, 1)");
  if (!(std::isfinite(o.temperature) && o.temperature > 0))
    throw invalid_argument("temperature " + str(o.temperature) + " is not finite and > 0");
  if (o.num_threads < 0) throw invalid_argument("num_threads " + std::to_string(o.num_threads) + " is negative");
}

float header_float(const std::uint16_t* row, int k) {
  float v;
  std::memcpy(&v, row + 2 * k, sizeof v);
  return v;
}

// One side, checked: its source, n_vocab columns, the layout (validate_logits' rules for logits, the
// llama.cpp row size for llama.cpp rows), and each llama.cpp row's scale and minimum.
void check_rows(const Rows& side, const char* name, std::int64_t n_vocab) {
  const std::string who(name);
  const kldiv::Rows& r = side.rows;
  const int s = static_cast<int>(side.source);
  if (s != KLDIV_EVAL_LOGITS && s != KLDIV_EVAL_LLAMA) throw invalid_argument(who + ": unknown source " + std::to_string(s));
  if (r.cols != n_vocab)
    throw invalid_shape(who + " has " + std::to_string(r.cols) + " columns, the vocabulary " + std::to_string(n_vocab));
  if (side.source == Source::logits) return detail::check_rows(r, name);
  const std::int64_t width = llama_row_size(n_vocab);
  if (r.stride < width)
    throw invalid_shape(who + "'s stride " + std::to_string(r.stride) + " is below the llama.cpp row size " + std::to_string(width));
  detail::check_rows(kldiv::Rows(r.data, Dtype::f16, r.rows, width, r.stride), name);  // as rows of 16-bit values
  const auto* d = static_cast<const std::uint16_t*>(r.data);
  for (std::int64_t i = 0; i < r.rows; ++i) {
    const float scale = header_float(d + i * r.stride, 0), min = header_float(d + i * r.stride, 1);
    if (!(std::isfinite(scale) && scale >= 0))
      throw invalid_argument(who + " row " + std::to_string(i) + ": scale " + str(scale) + " is not finite and >= 0");
    if (!std::isfinite(min))
      throw invalid_argument(who + " row " + std::to_string(i) + ": min_log_prob " + str(min) + " is not finite");
  }
}

bool is_f64(const Rows& r) { return r.source == Source::logits && r.rows.dtype == Dtype::f64; }

std::string kind(const Rows& r) {
  return r.source == Source::llama ? std::string("llama.cpp rows") : std::string(detail::dtype_name(r.rows.dtype)) + " logits";
}

// Element j of row i of logits, widened exactly.
double logit(const kldiv::Rows& r, std::int64_t i, std::int64_t j) {
  const std::int64_t at = i * r.stride + j;
  switch (r.dtype) {
    case Dtype::f64: return static_cast<const double*>(r.data)[at];
    case Dtype::bf16: return to_float(static_cast<const bf16*>(r.data)[at]);
    case Dtype::f16: return to_float(static_cast<const f16*>(r.data)[at]);
    default: return static_cast<const float*>(r.data)[at];
  }
}

// Whether row i of logits is one the kernels make NaN: a NaN or +inf, or every logit -inf.
bool bad_logits_row(const Rows& side, std::int64_t i) {
  if (side.source != Source::logits) return false;
  bool finite = false;
  for (std::int64_t j = 0; j < side.rows.cols; ++j) {
    const double v = logit(side.rows, i, j);
    if (std::isnan(v) || v == std::numeric_limits<double>::infinity()) return true;
    finite = finite || v != -std::numeric_limits<double>::infinity();
  }
  return !finite;
}

detail::TokenSide side_of(const Rows& r, std::int64_t i) {
  const kldiv::Rows& m = r.rows;
  if (r.source == Source::llama) {
    const auto* row = static_cast<const std::uint16_t*>(m.data) + i * m.stride;
    return {row + 4, nullptr, m.dtype, header_float(row, 0), header_float(row, 1)};
  }
  const auto* row = static_cast<const char*>(m.data) + i * m.stride * static_cast<std::int64_t>(detail::element_size(m.dtype));
  return {nullptr, row, m.dtype, 0, 0};
}

// Two blocks of logits through the logits kernels: the divergence, both normalisers and argmaxes in one
// pass; with T != 1 and tokens, the normalisers at T = 1 need a second pass (a KL one, the cheapest).
void logits_records(const Rows& base, const Rows& candidate, const Options& o, const std::int64_t* tokens,
                    TokenRecord* out) {
  const std::int64_t n = base.rows.rows;
  const auto un = static_cast<std::size_t>(n);
  LogitsOptions lo;
  lo.divergence = o.divergence;
  lo.beta = o.beta;
  lo.temperature = o.temperature;
  lo.reduction = Reduction::none;
  lo.num_threads = o.num_threads;
  std::vector<double> value(un), lse_p(un), lse_q(un);
  std::vector<std::int64_t> top_p(un), top_q(un);
  detail::logits_rows(base.rows, candidate.rows, lo, 0, n, value.data(),
                      {lse_p.data(), lse_q.data(), top_p.data(), top_q.data()});
  std::vector<double> log_tok(tokens ? 2 * un : 0), prob(log_tok.size());
  if (tokens && o.temperature != 1) {
    lo.divergence = Divergence::kl;
    lo.temperature = 1;
    std::vector<double> unused(un);
    detail::logits_rows(base.rows, candidate.rows, lo, 0, n, unused.data(), {lse_p.data(), lse_q.data()});
  }
  if (tokens) {
    for (std::size_t i = 0; i < un; ++i) {
      const auto r = static_cast<std::int64_t>(i);
      log_tok[2 * i] = logit(base.rows, r, tokens[i]) - lse_p[i];
      log_tok[2 * i + 1] = logit(candidate.rows, r, tokens[i]) - lse_q[i];
    }
    detail::active_kernels().f64.exp(log_tok.data(), prob.data(), log_tok.size());  // the ISA's bits
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (std::size_t i = 0; i < un; ++i) {
    // A row the kernels make NaN has no argmax (-1).
    out[i] = {top_p[i] < 0 || top_q[i] < 0 ? nan : value[i], tokens ? -log_tok[2 * i + 1] : nan,
              tokens ? -log_tok[2 * i] : nan, tokens ? prob[2 * i + 1] - prob[2 * i] : nan, top_p[i] == top_q[i]};
  }
}

// A pair with a llama.cpp row through kldiv-eval's kernel, rows shared out between threads.
void token_records(const Rows& base, const Rows& candidate, const Options& o, std::int64_t n_vocab,
                   const std::int64_t* tokens, TokenRecord* out) {
  const std::int64_t n = base.rows.rows;
  const auto& kernels = detail::active_kernels().eval;
  detail::TokenParams params{static_cast<std::size_t>(n_vocab), static_cast<int>(o.divergence), o.beta, 1.0 / o.temperature,
                             -1};
  const int threads = static_cast<int>(std::min<std::int64_t>(detail::thread_budget(o.num_threads), n));
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) firstprivate(params) if (threads > 1)
  for (std::int64_t i = 0; i < n; ++i) {
    params.token = tokens ? tokens[i] : -1;
    detail::TokenValues v;
    kernels.token(side_of(base, i), side_of(candidate, i), params, &v);
    out[i] = {v.divergence, -v.log_q, -v.log_p, v.delta_p, v.same_top};
  }
}

}  // namespace

Accumulator::Accumulator(std::int64_t n_vocab, const Options& options) : n_vocab_(n_vocab), options_(options) {
  if (n_vocab < 1 || n_vocab > kMaxVocab)
    throw invalid_argument("n_vocab " + std::to_string(n_vocab) + " is not in [1, 2^24]");
  check_options(options);
}

void Accumulator::add(const Rows& base, const Rows& candidate, const std::int64_t* tokens) {
  check_rows(base, "base", n_vocab_);
  check_rows(candidate, "candidate", n_vocab_);
  if (is_f64(base) != is_f64(candidate))
    throw invalid_argument("F64 logits pair only with F64 logits; base is " + kind(base) + ", candidate " + kind(candidate));
  if (base.rows.rows != candidate.rows.rows)
    throw invalid_shape("base has " + std::to_string(base.rows.rows) + " rows, candidate " + std::to_string(candidate.rows.rows));
  const std::int64_t n = base.rows.rows;
  if (n == 0) return;
  const int with_tokens = tokens != nullptr;
  if (has_tokens_ >= 0 && has_tokens_ != with_tokens)
    throw invalid_argument(with_tokens ? "tokens given, but earlier rows came without" : "tokens missing, but earlier rows came with them");
  if (tokens)
    for (std::int64_t i = 0; i < n; ++i)
      if (tokens[i] < 0 || tokens[i] >= n_vocab_)
        throw invalid_argument("token " + std::to_string(tokens[i]) + " of row " + std::to_string(i) + " is not in [0, " +
                               std::to_string(n_vocab_) + ")");
  std::vector<TokenRecord> added(static_cast<std::size_t>(n));
  if (base.source == Source::logits && candidate.source == Source::logits)
    logits_records(base, candidate, options_, tokens, added.data());
  else
    token_records(base, candidate, options_, n_vocab_, tokens, added.data());
  for (std::int64_t i = 0; i < n; ++i) {
    if (!std::isnan(added[static_cast<std::size_t>(i)].divergence)) continue;
    for (const Rows* side : {&base, &candidate})
      if (bad_logits_row(*side, i))
        throw invalid_argument(std::string(side == &base ? "base" : "candidate") + " row " + std::to_string(i) +
                               ": a logit is NaN or +inf, or every logit is -inf");
  }
  records_.insert(records_.end(), added.begin(), added.end());
  has_tokens_ = with_tokens;
}

void Accumulator::merge(const Accumulator& other) {
  if (other.n_vocab_ != n_vocab_)
    throw invalid_argument("n_vocab " + std::to_string(other.n_vocab_) + " differs from " + std::to_string(n_vocab_));
  const Options& a = options_;
  const Options& b = other.options_;
  if (a.divergence != b.divergence || a.temperature != b.temperature || (a.divergence == Divergence::jsd && a.beta != b.beta))
    throw invalid_argument("the accumulators' divergence options differ");
  if (other.has_tokens_ >= 0 && has_tokens_ >= 0 && other.has_tokens_ != has_tokens_)
    throw invalid_argument("one accumulator has tokens and the other has not");
  if (&other == this) {
    const std::vector<TokenRecord> copy = records_;
    records_.insert(records_.end(), copy.begin(), copy.end());
  } else {
    records_.insert(records_.end(), other.records_.begin(), other.records_.end());
  }
  if (has_tokens_ < 0) has_tokens_ = other.has_tokens_;
}

Result Accumulator::finish() const { return statistics(records_, has_tokens_ == 1); }

}  // namespace kldiv::eval
