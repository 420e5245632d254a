// kldiv-eval's accumulator: validation, the per-token kernels on threads, merging.
#include <omp.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "dispatch.hpp"
#include "kldiv/eval.hpp"
#include "kldiv/eval_files.hpp"
#include "parallel.hpp"

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

// rows of one side, checked: sizes, and each llama.cpp row's scale and minimum.
void check_rows(const Rows& r, const char* name, std::int64_t n_vocab) {
  const std::string who(name);
  const int s = static_cast<int>(r.source);
  if (s != KLDIV_EVAL_LOGITS_F32 && s != KLDIV_EVAL_LLAMA) throw invalid_argument(who + ": unknown source " + std::to_string(s));
  if (r.rows < 0) throw invalid_shape(who + ": rows " + std::to_string(r.rows) + " is negative");
  if (r.rows == 0) return;
  if (!r.data) throw null_pointer(who + ": data is null");
  const std::int64_t width = r.source == Source::llama ? llama_row_size(n_vocab) : n_vocab;
  if (r.stride < width)
    throw invalid_shape(who + ": stride " + std::to_string(r.stride) + " is below the row's " + std::to_string(width));
  if (r.stride > std::numeric_limits<std::int64_t>::max() / 8 / r.rows) throw invalid_shape(who + ": the rows' size overflows");
  if (r.source != Source::llama) return;
  const auto* d = static_cast<const std::uint16_t*>(r.data);
  for (std::int64_t i = 0; i < r.rows; ++i) {
    const float scale = header_float(d + i * r.stride, 0), min = header_float(d + i * r.stride, 1);
    if (!(std::isfinite(scale) && scale >= 0))
      throw invalid_argument(who + " row " + std::to_string(i) + ": scale " + str(scale) + " is not finite and >= 0");
    if (!std::isfinite(min))
      throw invalid_argument(who + " row " + std::to_string(i) + ": min_log_prob " + str(min) + " is not finite");
  }
}

detail::TokenSide side_of(const Rows& r, std::int64_t i) {
  if (r.source == Source::llama) {
    const auto* row = static_cast<const std::uint16_t*>(r.data) + i * r.stride;
    return {row + 4, nullptr, header_float(row, 0), header_float(row, 1)};
  }
  return {nullptr, static_cast<const float*>(r.data) + i * r.stride, 0, 0};
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
  if (base.rows != candidate.rows)
    throw invalid_shape("base has " + std::to_string(base.rows) + " rows, candidate " + std::to_string(candidate.rows));
  const std::int64_t n = base.rows;
  if (n == 0) return;
  const int with_tokens = tokens != nullptr;
  if (has_tokens_ >= 0 && has_tokens_ != with_tokens)
    throw invalid_argument(with_tokens ? "tokens given, but earlier rows came without" : "tokens missing, but earlier rows came with them");
  if (tokens)
    for (std::int64_t i = 0; i < n; ++i)
      if (tokens[i] < 0 || tokens[i] >= n_vocab_)
        throw invalid_argument("token " + std::to_string(tokens[i]) + " of row " + std::to_string(i) + " is not in [0, " +
                               std::to_string(n_vocab_) + ")");
  const auto& kernels = detail::active_kernels().eval;
  detail::TokenParams params{static_cast<std::size_t>(n_vocab_), static_cast<int>(options_.divergence), options_.beta,
                             1.0 / options_.temperature, -1};
  std::vector<TokenRecord> added(static_cast<std::size_t>(n));
  const int threads = static_cast<int>(std::min<std::int64_t>(detail::thread_budget(options_.num_threads), n));
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) firstprivate(params) if (threads > 1)
  for (std::int64_t i = 0; i < n; ++i) {
    params.token = tokens ? tokens[i] : -1;
    detail::TokenValues v;
    kernels.token(side_of(base, i), side_of(candidate, i), params, &v);
    added[static_cast<std::size_t>(i)] = {v.divergence, -v.log_q, -v.log_p, v.delta_p, v.same_top};
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
