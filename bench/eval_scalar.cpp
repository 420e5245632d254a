#include "eval_scalar.hpp"

#include <cmath>
#include <cstring>

namespace bench {
namespace {

void header(const std::uint16_t* row, float* scale, float* min) {
  std::memcpy(scale, row, 4);
  std::memcpy(min, row + 2, 4);
}

// Max and first argmax, a double sum of expf, then one loop over the base row with the -16 cut.
void one(const std::uint16_t* base, const float* logits, const std::uint16_t* cand, int tok, int n, ScalarTotals& t) {
  float scale, min;
  header(base, &scale, &min);
  const std::uint16_t* codes = base + 4;
  float cs = 0, cm = 0;
  if (cand) header(cand, &cs, &cm);
  const auto q = [&](int i) { return cand ? cs * cand[4 + i] + cm : logits[i]; };
  float max_logit = q(0);
  int imax = 0;
  for (int i = 1; i < n; ++i)
    if (q(i) > max_logit) {
      max_logit = q(i);
      imax = i;
    }
  double sum_exp = 0;
  if (!cand)
    for (int i = 0; i < n; ++i) sum_exp += expf(logits[i] - max_logit);
  const float log_sum = cand ? 0.0f : static_cast<float>(std::log(sum_exp));
  const float top = cand ? 0.0f : max_logit + log_sum;
  t.nll += top - q(tok);
  t.nll_base += -(scale * codes[tok] + min);
  double kld = 0;
  int imax_base = -1;
  float best = 0;
  for (int i = 0; i < n; ++i) {
    const float lp = scale * codes[i] + min;
    if (i == 0 || lp > best) {
      best = lp;
      imax_base = i;
    }
    if (lp > -16.f) kld += expf(lp) * (lp - q(i) + top);
  }
  t.kld += kld;
  t.same_top += imax == imax_base;
}

}  // namespace

ScalarTotals scalar_llama_loop(const std::uint16_t* base, const float* candidate_logits,
                               const std::uint16_t* candidate_rows, const std::int64_t* tokens, std::int64_t rows,
                               int n_vocab, std::int64_t row_size, int threads) noexcept {
  ScalarTotals total;
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    ScalarTotals mine;
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t r = 0; r < rows; ++r)
      one(base + r * row_size, candidate_logits ? candidate_logits + r * n_vocab : nullptr,
          candidate_rows ? candidate_rows + r * row_size : nullptr, static_cast<int>(tokens[r]), n_vocab, mine);
#pragma omp critical
    {
      total.kld += mine.kld;
      total.nll += mine.nll;
      total.nll_base += mine.nll_base;
      total.same_top += mine.same_top;
    }
  }
  return total;
}

}  // namespace bench
