// kldiv-eval's accumulator (eval.hpp, eval.h): per-token values against a wide reference, bits across
// ISAs, threads, orders and splits, identical rows, and bad input through the C ABI.
// tests/eval_reference.py checks the statistics and the command against numpy.
#include <algorithm>
#include <cstddef>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "kldiv/eval.h"
#include "kldiv/eval.hpp"
#include "kldiv/eval_files.hpp"
#include "support.hpp"

namespace {

using kldiv::eval::Accumulator;
using kldiv::eval::Divergence;
using kldiv::eval::Rows;

struct Data {
  std::int64_t rows, vocab;
  std::vector<float> p, q;              // logits
  std::vector<std::uint16_t> lp, lq;    // the same as llama.cpp rows
  std::vector<std::int64_t> tokens;
};

float normal(test::Random& r) {
  const double u = std::max(r.uniform(), 1e-300), v = r.uniform();
  return static_cast<float>(std::sqrt(-2 * std::log(u)) * std::cos(6.283185307179586 * v));
}

Data make(std::int64_t rows, std::int64_t vocab, double noise, std::uint64_t seed) {
  test::Random r(seed);
  Data d{rows, vocab, {}, {}, {}, {}, {}};
  d.p.resize(rows * vocab);
  d.q.resize(rows * vocab);
  for (std::size_t i = 0; i < d.p.size(); ++i) {
    d.p[i] = 3 * normal(r);
    d.q[i] = d.p[i] + static_cast<float>(noise) * normal(r);
  }
  const std::int64_t nv = kldiv_llama_row_size(vocab);
  d.lp.resize(rows * nv);
  d.lq.resize(rows * nv);
  for (std::int64_t i = 0; i < rows; ++i) {
    kldiv::eval::quantize_llama_row(&d.p[i * vocab], vocab, &d.lp[i * nv]);
    kldiv::eval::quantize_llama_row(&d.q[i * vocab], vocab, &d.lq[i * nv]);
    d.tokens.push_back(static_cast<std::int64_t>(r.next() % static_cast<std::uint64_t>(vocab)));
  }
  return d;
}

Rows logits(const Data& d, const std::vector<float>& v, std::int64_t first = 0, std::int64_t count = -1) {
  return Rows::logits(v.data() + first * d.vocab, count < 0 ? d.rows : count, d.vocab);
}
Rows llama(const Data& d, const std::vector<std::uint16_t>& v, std::int64_t first = 0, std::int64_t count = -1) {
  const std::int64_t nv = kldiv_llama_row_size(d.vocab);
  return Rows::llama(v.data() + first * nv, count < 0 ? d.rows : count, nv);
}

// A row's log-probabilities at temperature t, in long double, as the accumulator defines them.
std::vector<long double> log_probs(const Rows& r, std::int64_t i, std::int64_t vocab, long double t) {
  std::vector<long double> v(vocab);
  if (r.source == kldiv::eval::Source::llama) {
    const auto* row = static_cast<const std::uint16_t*>(r.data) + i * r.stride;
    float h[2];
    std::memcpy(h, row, sizeof h);
    for (std::int64_t k = 0; k < vocab; ++k) v[k] = static_cast<long double>(h[0]) * row[4 + k] + h[1];
    if (t == 1) return v;
  } else {
    for (std::int64_t k = 0; k < vocab; ++k) v[k] = static_cast<const float*>(r.data)[i * r.stride + k];
  }
  long double m = -INFINITY, s = 0;
  for (auto& x : v) m = std::max(m, x /= t);
  for (const auto x : v) s += std::exp(x - m);
  for (auto& x : v) x -= m + std::log(s);
  return v;
}

long double reference(const Rows& p, const Rows& q, std::int64_t i, std::int64_t vocab, Divergence d, double beta,
                      long double t) {
  const auto lp = log_probs(p, i, vocab, t), lq = log_probs(q, i, vocab, t);
  const auto stored = log_probs(p, i, vocab, 1);
  long double sum = 0;
  for (std::int64_t k = 0; k < vocab; ++k) {
    const long double a = std::exp(lp[k]), b = std::exp(lq[k]);
    if (d == Divergence::kl) {
      if (p.source == kldiv::eval::Source::llama && stored[k] <= -16) continue;
      sum += a * (lp[k] - lq[k]);
    } else if (d == Divergence::reverse_kl) {
      sum += b * (lq[k] - lp[k]);
    } else {
      const long double lm = std::log(beta * a + (1 - beta) * b);
      sum += beta * a * (lp[k] - lm) + (1 - beta) * b * (lq[k] - lm);
    }
  }
  return sum;
}

// Every field's bits (not the padding's).
bool same_bits(const kldiv_eval_result& a, const kldiv_eval_result& b) {
  const std::size_t first = offsetof(kldiv_eval_result, divergence);
  return a.tokens == b.tokens && a.has_tokens == b.has_tokens &&
         std::memcmp(reinterpret_cast<const char*>(&a) + first, reinterpret_cast<const char*>(&b) + first, sizeof a - first) == 0;
}

}  // namespace

TEST_CASE("eval: per-token divergences match a long-double reference on every ISA") {
  // Small: the reference is software long double under qemu (aarch64), and does not depend on the ISA.
  const Data near = make(2, 1031, 1e-3, 1), far = make(2, 1031, 1.0, 2);
  struct Case {
    const Data* data;
    Divergence div;
    double t;
    int kinds;  // bit 0: the base as llama.cpp rows, bit 1: the candidate
    std::int64_t row;
    long double want;
  };
  const auto side = [](const Data& d, int kinds, bool base, std::int64_t row) {
    const bool as_llama = kinds & (base ? 1 : 2);
    return as_llama ? llama(d, base ? d.lp : d.lq, row, 1) : logits(d, base ? d.p : d.q, row, 1);
  };
  std::vector<Case> cases;
  for (const Data* data : {&near, &far})
    for (const Divergence div : {Divergence::kl, Divergence::reverse_kl, Divergence::jsd})
      for (const double t : {1.0, 2.0})
        for (int kinds = 0; kinds < 4; ++kinds)
          for (std::int64_t row = 0; row < data->rows; ++row)
            cases.push_back({data, div, t, kinds, row,
                             reference(side(*data, kinds, true, row), side(*data, kinds, false, row), 0, data->vocab,
                                       div, 0.3, t)});
  test::for_each_isa([&](const std::string&) {
    for (const Case& c : cases) {
      Accumulator acc(c.data->vocab, {c.div, 0.3, c.t, 0});
      acc.add(side(*c.data, c.kinds, true, c.row), side(*c.data, c.kinds, false, c.row));
      const double got = acc.finish().divergence.mean;
      CAPTURE(c.kinds);
      CAPTURE(static_cast<int>(c.div));
      CAPTURE(c.t);
      CHECK(std::fabs(got - c.want) <= 1e-7L * std::fabs(c.want) + 1e-15L);
    }
  });
}

TEST_CASE("eval: the same bits on every FMA ISA, thread count, order and split") {
  const Data d = make(37, 1001, 0.2, 3);
  for (const Divergence div : {Divergence::kl, Divergence::jsd}) {
    kldiv_eval_result first{};
    bool have = false;
    test::for_each_isa([&](const std::string& isa) {
      if (!test::has_fma(isa)) return;
      for (const int threads : {1, 2, 7}) {
        Accumulator acc(d.vocab, {div, 0.5, 1.0, threads});
        acc.add(llama(d, d.lp), logits(d, d.q), d.tokens.data());
        const auto r = acc.finish();
        if (!have) first = r;
        have = true;
        CHECK(same_bits(r, first));
      }
    });
    // Rows added in another order, split between three accumulators, merged.
    std::vector<std::int64_t> order(d.rows);
    std::iota(order.begin(), order.end(), 0);
    std::reverse(order.begin(), order.end());
    std::rotate(order.begin(), order.begin() + 11, order.end());
    Accumulator parts[3] = {Accumulator(d.vocab, {div, 0.5, 1.0, 0}), Accumulator(d.vocab, {div, 0.5, 1.0, 0}),
                            Accumulator(d.vocab, {div, 0.5, 1.0, 0})};
    for (std::size_t k = 0; k < order.size(); ++k)
      parts[k % 3].add(llama(d, d.lp, order[k], 1), logits(d, d.q, order[k], 1), &d.tokens[order[k]]);
    parts[2].merge(parts[0]);
    parts[1].merge(parts[2]);
    CHECK(parts[1].tokens() == d.rows);
    CHECK(same_bits(parts[1].finish(), first));
  }
}

TEST_CASE("eval: identical rows give exactly 0 and a same top of 1") {
  const Data d = make(5, 333, 0.5, 4);
  for (const Divergence div : {Divergence::kl, Divergence::reverse_kl, Divergence::jsd})
    for (const double t : {1.0, 0.7}) {
      for (const bool as_llama : {false, true}) {
        Accumulator acc(d.vocab, {div, 0.25, t, 0});
        const Rows r = as_llama ? llama(d, d.lp) : logits(d, d.p);
        acc.add(r, r, d.tokens.data());
        const auto s = acc.finish();
        CHECK(s.divergence.pct.max == 0);
        CHECK(s.divergence.pct.min == 0);
        CHECK(s.same_top.mean == 1);
        CHECK(s.delta_p.rms == 0);
        CHECK(std::isnan(s.delta_p.rms_se));  // undefined where RMS is 0
      }
    }
}

TEST_CASE("eval: few tokens: standard errors 0, undefined values NaN") {
  const Data d = make(4, 64, 0.5, 5);
  Accumulator acc(d.vocab);
  CHECK(std::isnan(acc.finish().divergence.mean));  // no tokens yet
  acc.add(logits(d, d.p), logits(d, d.q));
  const auto s = acc.finish();
  CHECK(s.tokens == 4);
  CHECK(s.has_tokens == 0);
  CHECK(s.divergence.se == 0);
  CHECK(s.divergence.pct.max >= s.divergence.pct.p90);
  CHECK(std::isnan(s.ppl.q));
  CHECK(std::isnan(s.delta_p.mean));
}

TEST_CASE("eval: bad input through the C ABI is an error and changes nothing") {
  const Data d = make(4, 65, 0.5, 6);
  kldiv_eval_options o;
  kldiv_eval_options_init(&o);
  kldiv_eval* e = nullptr;
  CHECK(kldiv_eval_create(0, &o, &e) == KLDIV_ERROR_INVALID_ARGUMENT);
  CHECK(kldiv_eval_create(65, &o, nullptr) == KLDIV_ERROR_NULL_POINTER);
  o.divergence = KLDIV_EVAL_JSD;
  o.beta = 1;
  CHECK(kldiv_eval_create(65, &o, &e) == KLDIV_ERROR_INVALID_ARGUMENT);
  CHECK(std::string(kldiv_last_error()).find("beta") != std::string::npos);
  kldiv_eval_options_init(&o);
  o.temperature = 0;
  CHECK(kldiv_eval_create(65, &o, &e) == KLDIV_ERROR_INVALID_ARGUMENT);
  kldiv_eval_options_init(&o);
  std::memset(&o.divergence, 0x7f, sizeof o.divergence);
  CHECK(kldiv_eval_create(65, &o, &e) == KLDIV_ERROR_INVALID_ARGUMENT);
  kldiv_eval_options_init(&o);
  REQUIRE(kldiv_eval_create(65, &o, &e) == KLDIV_OK);

  const std::int64_t nv = kldiv_llama_row_size(65);
  kldiv_eval_rows p{KLDIV_EVAL_LOGITS_F32, d.p.data(), 4, 65}, q{KLDIV_EVAL_LLAMA, d.lq.data(), 4, nv};
  REQUIRE(kldiv_eval_add(e, &p, &q, d.tokens.data()) == KLDIV_OK);
  kldiv_eval_result before;
  REQUIRE(kldiv_eval_finish(e, &before) == KLDIV_OK);

  kldiv_eval_rows bad = q;
  bad.rows = 3;
  CHECK(kldiv_eval_add(e, &p, &bad, d.tokens.data()) == KLDIV_ERROR_INVALID_SHAPE);
  bad = q;
  bad.stride = nv - 1;
  CHECK(kldiv_eval_add(e, &p, &bad, d.tokens.data()) == KLDIV_ERROR_INVALID_SHAPE);
  bad = p;
  bad.data = nullptr;
  CHECK(kldiv_eval_add(e, &bad, &q, d.tokens.data()) == KLDIV_ERROR_NULL_POINTER);
  CHECK(kldiv_eval_add(e, nullptr, &q, d.tokens.data()) == KLDIV_ERROR_NULL_POINTER);
  CHECK(kldiv_eval_add(e, &p, &q, nullptr) == KLDIV_ERROR_INVALID_ARGUMENT);  // tokens before, none now
  std::vector<std::int64_t> tokens = d.tokens;
  tokens[2] = 65;
  CHECK(kldiv_eval_add(e, &p, &q, tokens.data()) == KLDIV_ERROR_INVALID_ARGUMENT);
  CHECK(std::string(kldiv_last_error()) == "token 65 of row 2 is not in [0, 65)");
  std::vector<std::uint16_t> rows = d.lq;
  const float nan = NAN, negative = -1;
  std::memcpy(&rows[3 * nv], &nan, sizeof nan);
  bad = q;
  bad.data = rows.data();
  CHECK(kldiv_eval_add(e, &p, &bad, d.tokens.data()) == KLDIV_ERROR_INVALID_ARGUMENT);
  CHECK(std::string(kldiv_last_error()).rfind("candidate row 3: scale nan", 0) == 0);
  std::memcpy(&rows[3 * nv], &negative, sizeof negative);
  CHECK(kldiv_eval_add(e, &p, &bad, d.tokens.data()) == KLDIV_ERROR_INVALID_ARGUMENT);
  std::memcpy(&rows[3 * nv], &d.lq[3 * nv], 4);
  std::memcpy(&rows[3 * nv + 2], &nan, sizeof nan);
  CHECK(kldiv_eval_add(e, &p, &bad, d.tokens.data()) == KLDIV_ERROR_INVALID_ARGUMENT);
  CHECK(std::string(kldiv_last_error()).find("min_log_prob") != std::string::npos);
  bad = q;
  std::memset(&bad.source, 0x7f, sizeof bad.source);
  CHECK(kldiv_eval_add(e, &p, &bad, d.tokens.data()) == KLDIV_ERROR_INVALID_ARGUMENT);

  kldiv_eval* other = nullptr;
  REQUIRE(kldiv_eval_create(64, &o, &other) == KLDIV_OK);
  CHECK(kldiv_eval_merge(e, other) == KLDIV_ERROR_INVALID_ARGUMENT);
  kldiv_eval_destroy(other);
  o.divergence = KLDIV_EVAL_REVERSE_KL;
  REQUIRE(kldiv_eval_create(65, &o, &other) == KLDIV_OK);
  CHECK(kldiv_eval_merge(e, other) == KLDIV_ERROR_INVALID_ARGUMENT);
  kldiv_eval_destroy(other);
  kldiv_eval_options_init(&o);
  REQUIRE(kldiv_eval_create(65, &o, &other) == KLDIV_OK);
  REQUIRE(kldiv_eval_add(other, &p, &q, nullptr) == KLDIV_OK);
  CHECK(kldiv_eval_merge(e, other) == KLDIV_ERROR_INVALID_ARGUMENT);  // without tokens into with
  kldiv_eval_destroy(other);
  CHECK(kldiv_eval_finish(e, nullptr) == KLDIV_ERROR_NULL_POINTER);

  kldiv_eval_result after;
  REQUIRE(kldiv_eval_finish(e, &after) == KLDIV_OK);
  CHECK(same_bits(before, after));
  kldiv_eval_destroy(e);

  std::vector<float> row(5, 1.0f);
  std::vector<std::uint16_t> out(kldiv_llama_row_size(5));
  row[1] = NAN;
  CHECK(kldiv_llama_quantize_row(row.data(), 5, out.data()) == KLDIV_ERROR_INVALID_ARGUMENT);
  CHECK(kldiv_llama_quantize_row(nullptr, 5, out.data()) == KLDIV_ERROR_NULL_POINTER);
}

TEST_CASE("eval: the llama.cpp writer's rows dequantize to the log-softmax within a step") {
  const Data d = make(2, 2001, 0.0, 7);
  const std::int64_t nv = kldiv_llama_row_size(d.vocab);
  for (std::int64_t i = 0; i < d.rows; ++i) {
    const auto lp = log_probs(logits(d, d.p), i, d.vocab, 1);
    const auto stored = log_probs(llama(d, d.lp), i, d.vocab, 1);
    long double top = -INFINITY;
    for (const auto v : lp) top = std::max(top, v);
    float scale;
    std::memcpy(&scale, &d.lp[i * nv], sizeof scale);
    CHECK(scale == doctest::Approx(16.0 / 65535).epsilon(1e-3));
    for (std::int64_t k = 0; k < d.vocab; ++k)
      if (lp[k] > top - 15.99L) CHECK(std::fabs(stored[k] - lp[k]) < 0.55L * 16 / 65535);  // half a step
  }
}
