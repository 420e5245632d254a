// kldiv-eval's aggregates, with llama-perplexity's definitions (tools/perplexity/perplexity.cpp).
//
// The records are sorted by their values and every sum is a compensated (double-double) sum in that
// order, so the result depends only on the multiset of tokens, never on the order they were added in.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kldiv/eval.hpp"

namespace kldiv::eval {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A key whose unsigned order is the numeric order of doubles, -0 before +0 and every NaN last (as one
// NaN: the records' NaNs are made canonical first).
std::uint64_t key(double v) {
  std::uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return (b >> 63) ? ~b : b | (std::uint64_t(1) << 63);
}

double canonical(double v) { return std::isnan(v) ? kNaN : v; }

bool before(const TokenRecord& a, const TokenRecord& b) {
  const double x[4] = {a.divergence, a.nll_q, a.nll_p, a.delta_p}, y[4] = {b.divergence, b.nll_q, b.nll_p, b.delta_p};
  for (int i = 0; i < 4; ++i)
    if (key(x[i]) != key(y[i])) return key(x[i]) < key(y[i]);
  return a.same_top < b.same_top;
}

// A double-double running sum (TwoSum on every addition); once inf or NaN, the IEEE sum.
class Sum {
 public:
  void add(double x) {
    const double s = hi_ + x;
    if (!std::isfinite(s)) {
      hi_ = s;
      lo_ = 0;
      return;
    }
    const double bb = s - hi_;
    lo_ += (hi_ - (s - bb)) + (x - bb);
    hi_ = s;
  }
  double value() const { return std::isfinite(hi_) ? hi_ + lo_ : hi_; }

 private:
  double hi_ = 0, lo_ = 0;
};

struct MeanSe {
  double mean, se;
};

// llama.cpp's mean_and_uncertainty: the standard error of the mean is 0 for n <= 10, and a variance that
// rounds below 0 counts as 0.
MeanSe mean_se(double sum, double sum2, double n) {
  const double f = sum / n;
  const double var = sum2 / n - f * f;
  return {f, var > 0 && n > 10 ? std::sqrt(var / (n - 1)) : 0.0};
}

// llama.cpp's covariance of two means (0 for n <= 10, with the standard errors).
double covariance(double sa, double sb, double sab, double n) {
  return n > 10 ? (sab / n - (sa / n) * (sb / n)) / (n - 1) : 0.0;
}

double sqrt0(double v) { return std::sqrt(v > 0 ? v : 0.0); }  // NaN stays NaN

// Linear interpolation at fraction*(n - 1) of sorted values, the position in double.
double percentile(const std::vector<double>& v, double fraction) {
  if (v.empty()) return kNaN;
  const double pos = fraction * static_cast<double>(v.size() - 1);
  const std::size_t i = static_cast<std::size_t>(pos);
  const double t = pos - static_cast<double>(i);
  if (t == 0 || i + 1 >= v.size()) return v[i];
  return v[i] + t * (v[i + 1] - v[i]);
}

kldiv_eval_percentiles percentiles(std::vector<double> v) {
  std::sort(v.begin(), v.end(), [](double a, double b) { return key(a) < key(b); });
  const auto p = [&](double f) { return percentile(v, f); };
  return {p(1), p(0.999), p(0.99), p(0.95), p(0.9), p(0.75), p(0.5), p(0.25), p(0.1), p(0.05), p(0.01), p(0.001), p(0)};
}

}  // namespace

Result statistics(std::vector<TokenRecord> records, bool has_tokens) {
  for (auto& r : records) {
    r.divergence = canonical(r.divergence);
    r.nll_q = canonical(r.nll_q);
    r.nll_p = canonical(r.nll_p);
    r.delta_p = canonical(r.delta_p);
  }
  std::sort(records.begin(), records.end(), before);

  Result out;
  double* all = &out.divergence.mean;  // every double field starts NaN (undefined)
  const std::size_t doubles = (sizeof out - offsetof(Result, divergence)) / sizeof(double);
  std::fill(all, all + doubles, kNaN);
  out.tokens = static_cast<std::int64_t>(records.size());
  out.has_tokens = has_tokens;
  if (records.empty()) return out;
  const double n = static_cast<double>(records.size());

  Sum d, d2, top, q, q2, p, p2, qp, dp, dp2, dp4;
  std::vector<double> div, delta;
  div.reserve(records.size());
  for (const auto& r : records) {
    d.add(r.divergence);
    d2.add(r.divergence * r.divergence);
    top.add(r.same_top ? 1.0 : 0.0);
    div.push_back(r.divergence);
    if (!has_tokens) continue;
    q.add(r.nll_q);
    q2.add(r.nll_q * r.nll_q);
    p.add(r.nll_p);
    p2.add(r.nll_p * r.nll_p);
    qp.add(r.nll_q * r.nll_p);
    dp.add(r.delta_p);
    const double sq = r.delta_p * r.delta_p;
    dp2.add(sq);
    dp4.add(sq * sq);
    delta.push_back(r.delta_p);
  }

  const MeanSe kl = mean_se(d.value(), d2.value(), n);
  out.divergence.mean = kl.mean;
  out.divergence.se = kl.se;
  out.divergence.pct = percentiles(std::move(div));

  const double same = top.value() / n;
  out.same_top.mean = same;
  out.same_top.se = n > 10 ? std::sqrt(same * (1 - same) / (n - 1)) : 0.0;
  if (!has_tokens) return out;

  const MeanSe mean_dp = mean_se(dp.value(), dp2.value(), n), mse = mean_se(dp2.value(), dp4.value(), n);
  out.delta_p.mean = mean_dp.mean;
  out.delta_p.se = mean_dp.se;
  out.delta_p.rms = std::sqrt(mse.mean);
  out.delta_p.rms_se = 0.5 / out.delta_p.rms * mse.se;  // NaN (0 * inf) where rms is 0
  out.delta_p.pct = percentiles(std::move(delta));

  const MeanSe lq = mean_se(q.value(), q2.value(), n), lp = mean_se(p.value(), p2.value(), n);
  const double cov = covariance(q.value(), p.value(), qp.value(), n);
  auto& ppl = out.ppl;
  ppl.q = std::exp(lq.mean);
  ppl.q_se = ppl.q * lq.se;
  ppl.base = std::exp(lp.mean);
  ppl.base_se = ppl.base * lp.se;
  ppl.cor_ln = cov / (lq.se * lp.se);
  ppl.ln_ratio = lq.mean - lp.mean;
  ppl.ln_ratio_se = sqrt0(lq.se * lq.se + lp.se * lp.se - 2.0 * cov);
  ppl.ratio = std::exp(ppl.ln_ratio);
  ppl.ratio_se = ppl.ratio * ppl.ln_ratio_se;
  ppl.diff = ppl.q - ppl.base;
  ppl.diff_se = sqrt0(ppl.q_se * ppl.q_se + ppl.base_se * ppl.base_se - 2.0 * ppl.q * ppl.base * cov);
  return out;
}

}  // namespace kldiv::eval
