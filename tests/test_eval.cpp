// kldiv-eval's accumulator (eval.hpp, eval.h): per-token values against a wide reference for every kind of
// side (llama.cpp rows, logits in F32, BF16, F16 and F64), bits across ISAs, threads, orders and splits,
// identical rows, and bad input through both APIs.  tests/eval_reference.py checks the statistics and the
// command against numpy.
#include <algorithm>
#include <cstddef>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "kldiv/eval.h"
#include "kldiv/eval.hpp"
#include "kldiv/eval_files.hpp"
#include "support.hpp"

namespace {

using kldiv::Divergence;
using kldiv::Dtype;
using kldiv::eval::Accumulator;
using kldiv::eval::Rows;
using kldiv::eval::Source;

// What one side of a pair is: llama.cpp rows, or logits stored in a dtype.
enum class Kind { llama, f32, bf16, f16, f64 };
constexpr Kind kKinds16[] = {Kind::llama, Kind::f32, Kind::bf16, Kind::f16};  // the kinds that pair freely

// A std::string, which CAPTURE prints (a const char* it prints as an address).
std::string name(Kind k) {
  switch (k) {
    case Kind::llama: return "llama";
    case Kind::f32: return "f32";
    case Kind::bf16: return "bf16";
    case Kind::f16: return "f16";
    case Kind::f64: return "f64";
  }
  return "?";
}

// One model's rows in every kind.
struct Model {
  std::vector<float> f32;
  std::vector<kldiv::bf16> bf16;
  std::vector<kldiv::f16> f16;
  std::vector<double> f64;
  std::vector<std::uint16_t> llama;
};

struct Data {
  std::int64_t rows, vocab;
  Model p, q;
  std::vector<std::int64_t> tokens;
};

float normal(test::Random& r) {
  const double u = std::max(r.uniform(), 1e-300), v = r.uniform();
  return static_cast<float>(std::sqrt(-2 * std::log(u)) * std::cos(6.283185307179586 * v));
}

void fill_kinds(Model& m, std::int64_t rows, std::int64_t vocab) {
  const std::int64_t nv = kldiv_llama_row_size(vocab);
  m.llama.resize(rows * nv);
  for (std::int64_t i = 0; i < rows; ++i) kldiv::eval::quantize_llama_row(&m.f32[i * vocab], vocab, &m.llama[i * nv]);
  for (const float v : m.f32) {
    m.bf16.push_back(kldiv::to_bf16(v));
    m.f16.push_back(kldiv::to_f16(v));
    m.f64.push_back(v);
  }
}

// q = p + noise N(0, 1), p = 3 N(0, 1).
Data make(std::int64_t rows, std::int64_t vocab, double noise, std::uint64_t seed) {
  test::Random r(seed);
  Data d{rows, vocab, {}, {}, {}};
  d.p.f32.resize(rows * vocab);
  d.q.f32.resize(rows * vocab);
  for (std::size_t i = 0; i < d.p.f32.size(); ++i) {
    d.p.f32[i] = 3 * normal(r);
    d.q.f32[i] = d.p.f32[i] + static_cast<float>(noise) * normal(r);
  }
  fill_kinds(d.p, rows, vocab);
  fill_kinds(d.q, rows, vocab);
  for (std::int64_t i = 0; i < rows; ++i) d.tokens.push_back(static_cast<std::int64_t>(r.next() % static_cast<std::uint64_t>(vocab)));
  return d;
}

// Rows [first, first + count) (count < 0: all) of one model in one kind.
Rows side(const Data& d, const Model& m, Kind k, std::int64_t first = 0, std::int64_t count = -1) {
  const std::int64_t n = count < 0 ? d.rows - first : count, v = d.vocab, at = first * v;
  switch (k) {
    case Kind::llama: {
      const std::int64_t nv = kldiv_llama_row_size(v);
      return Rows::llama(m.llama.data() + first * nv, n, v, nv);
    }
    case Kind::bf16: return Rows::logits(kldiv::Rows(m.bf16.data() + at, n, v));
    case Kind::f16: return Rows::logits(kldiv::Rows(m.f16.data() + at, n, v));
    case Kind::f64: return Rows::logits(kldiv::Rows(m.f64.data() + at, n, v));
    default: return Rows::logits(kldiv::Rows(m.f32.data() + at, n, v));
  }
}

bool logits_pair(Kind a, Kind b) { return a != Kind::llama && b != Kind::llama; }

// Element k of row i of logits, widened.
long double stored(const kldiv::Rows& r, std::int64_t i, std::int64_t k) {
  const std::int64_t at = i * r.stride + k;
  switch (r.dtype) {
    case Dtype::bf16: return kldiv::to_float(static_cast<const kldiv::bf16*>(r.data)[at]);
    case Dtype::f16: return kldiv::to_float(static_cast<const kldiv::f16*>(r.data)[at]);
    case Dtype::f64: return static_cast<const double*>(r.data)[at];
    default: return static_cast<const float*>(r.data)[at];
  }
}

// A row's log-probabilities at temperature t, in long double, as the accumulator defines them.
std::vector<long double> log_probs(const Rows& r, std::int64_t i, long double t) {
  const std::int64_t vocab = r.rows.cols;
  std::vector<long double> v(vocab);
  if (r.source == Source::llama) {
    const auto* row = static_cast<const std::uint16_t*>(r.rows.data) + i * r.rows.stride;
    float h[2];
    std::memcpy(h, row, sizeof h);
    for (std::int64_t k = 0; k < vocab; ++k) v[k] = static_cast<long double>(h[0]) * row[4 + k] + h[1];
    if (t == 1) return v;
  } else {
    for (std::int64_t k = 0; k < vocab; ++k) v[k] = stored(r.rows, i, k);
  }
  long double m = -INFINITY, s = 0;
  for (auto& x : v) m = std::max(m, x /= t);
  for (const auto x : v) s += std::exp(x - m);
  for (auto& x : v) x -= m + std::log(s);
  return v;
}

long double reference(const Rows& p, const Rows& q, std::int64_t i, Divergence d, double beta, long double t) {
  const auto lp = log_probs(p, i, t), lq = log_probs(q, i, t);
  const auto as_stored = log_probs(p, i, 1);
  long double sum = 0;
  for (std::size_t k = 0; k < lp.size(); ++k) {
    const long double a = std::exp(lp[k]), b = std::exp(lq[k]);
    if (d == Divergence::kl) {
      if ((p.source == Source::llama && as_stored[k] <= -16) || a == 0) continue;  // P = 0 adds 0
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

TEST_CASE("eval: per-token values match a long-double reference for every kind of side, on every ISA") {
  // Small: the reference is software long double under qemu (aarch64), and does not depend on the ISA.
  const Data near = make(2, 1031, 1e-3, 1), far = make(2, 1031, 1.0, 2);
  struct Case {
    const Data* data;
    Divergence div;
    double t;
    Kind base, cand;
    std::int64_t row;
    long double want, nll_p, nll_q;
  };
  std::vector<std::pair<Kind, Kind>> kinds;
  for (const Kind a : kKinds16)
    for (const Kind b : kKinds16) kinds.emplace_back(a, b);
  kinds.emplace_back(Kind::f64, Kind::f64);
  std::vector<Case> cases;
  for (const Data* data : {&near, &far})
    for (const Divergence div : {Divergence::kl, Divergence::reverse_kl, Divergence::jsd})
      for (const double t : {1.0, 2.0})
        for (const auto& [a, b] : kinds)
          for (std::int64_t row = 0; row < data->rows; ++row) {
            const Rows p = side(*data, data->p, a, row, 1), q = side(*data, data->q, b, row, 1);
            const std::int64_t tok = data->tokens[row];
            cases.push_back({data, div, t, a, b, row, reference(p, q, 0, div, 0.3, t), -log_probs(p, 0, 1)[tok],
                             -log_probs(q, 0, 1)[tok]});
          }
  test::for_each_isa([&](const std::string&) {
    for (const Case& c : cases) {
      Accumulator acc(c.data->vocab, {c.div, 0.3, c.t, 0});
      acc.add(side(*c.data, c.data->p, c.base, c.row, 1), side(*c.data, c.data->q, c.cand, c.row, 1), &c.data->tokens[c.row]);
      const auto r = acc.finish();
      CAPTURE(name(c.base));
      CAPTURE(name(c.cand));
      CAPTURE(static_cast<int>(c.div));
      CAPTURE(c.t);
      // The logits kernels' asserted bound (README.md, "Accuracy of the logits kernels"): f32 arithmetic
      // with double sums, or f64; kldiv-eval's own kernel is double past the loads.
      const long double rel = !logits_pair(c.base, c.cand) ? 1e-7L : c.base == Kind::f64 ? 1e-10L : 2e-6L;
      CHECK(std::fabs(r.divergence.mean - c.want) <= rel * std::fabs(c.want) + 1e-15L);
      // One token: PPL = exp(nll), delta p = q - p; a normaliser's error is absolute in the log.
      const long double abs = logits_pair(c.base, c.cand) && c.base != Kind::f64 ? 1e-6L : 1e-12L;
      CHECK(std::fabs(std::log(r.ppl.base) - c.nll_p) <= abs);
      CHECK(std::fabs(std::log(r.ppl.q) - c.nll_q) <= abs);
      const long double dp = std::exp(-c.nll_q) - std::exp(-c.nll_p);
      CHECK(std::fabs(r.delta_p.mean - dp) <= abs * (std::exp(-c.nll_q) + std::exp(-c.nll_p)) + 1e-18L);
      CHECK(r.ppl.ln_ratio == doctest::Approx(static_cast<double>(c.nll_q - c.nll_p)).epsilon(1e-5).scale(1e-7));
    }
  });
}

TEST_CASE("eval: masked (-inf) logits: P = 0 adds 0, Q = 0 where P > 0 gives +inf, on every ISA") {
  // A row's normaliser is first summed with the fast exp, then again checked where an argument left its
  // range, as -inf logits do.
  Data d = make(1, 1031, 0.1, 7);
  for (std::int64_t k = 5; k < d.vocab; k += 3) d.p.f32[static_cast<std::size_t>(k)] = -INFINITY;
  const Rows masked = Rows::logits(kldiv::Rows(d.p.f32.data(), 1, d.vocab)), llama = side(d, d.q, Kind::llama);
  test::for_each_isa([&](const std::string&) {
    for (const double t : {1.0, 2.0}) {
      CAPTURE(t);
      Accumulator kl(d.vocab, {Divergence::kl, 0.5, t, 0});
      kl.add(masked, llama);
      const long double want = reference(masked, llama, 0, Divergence::kl, 0.5, t);
      CHECK(std::isfinite(want));
      CHECK(std::fabs(kl.finish().divergence.mean - want) <= 1e-7L * std::fabs(want));
      Accumulator inf(d.vocab, {Divergence::kl, 0.5, t, 0});
      inf.add(llama, masked);
      CHECK(inf.finish().divergence.mean == INFINITY);
    }
  });
}

TEST_CASE("eval: a row's normaliser and top hold whatever its first group leaves to the rest, on every ISA") {
  // A side's normaliser is summed in one pass from its first group's largest value; where the rest of
  // the row lies too far above or below that for the fast exp, a second pass sums from the row's top.
  // 300 below keeps the one pass (arguments up to about 300), 1000 below and a top 2000 above leave it.
  struct Shape {
    const char* name;
    float first_group, top;
  };
  for (const Shape sh : {Shape{"first group 300 below", -300, 0}, Shape{"first group 1000 below", -1000, 0},
                         Shape{"top 2000 above", 0, 2000}}) {
    Data d = make(1, 1031, 0.3, 11);
    d.tokens[0] = 500;  // a likely token: a unlikely one's perplexity, e^2000, is +inf
    for (Model* m : {&d.p, &d.q}) {
      for (std::size_t k = 0; k < 16; ++k) m->f32[k] += sh.first_group;
      if (sh.top != 0) m->f32[500] = sh.top;
      *m = Model{m->f32, {}, {}, {}, {}};
      fill_kinds(*m, d.rows, d.vocab);
    }
    const std::pair<Kind, Kind> pairs[] = {{Kind::llama, Kind::f32}, {Kind::f32, Kind::llama}, {Kind::llama, Kind::llama},
                                           {Kind::llama, Kind::bf16}, {Kind::f16, Kind::llama}};
    const auto top = [](const std::vector<long double>& v) { return std::max_element(v.begin(), v.end()) - v.begin(); };
    test::for_each_isa([&](const std::string&) {
      for (const auto& pair : pairs)  // no structured binding: Clang 14 cannot capture one (CAPTURE is a lambda)
        for (const Divergence div : {Divergence::kl, Divergence::reverse_kl})
          for (const double t : {1.0, 2.0}) {
            CAPTURE(std::string(sh.name));
            const Kind a = pair.first, b = pair.second;
            CAPTURE(name(a));
            CAPTURE(name(b));
            CAPTURE(static_cast<int>(div));
            CAPTURE(t);
            const Rows p = side(d, d.p, a), q = side(d, d.q, b);
            Accumulator acc(d.vocab, {div, 0.5, t, 0});
            acc.add(p, q, d.tokens.data());
            const auto r = acc.finish();
            const long double want = reference(p, q, 0, div, 0.5, t);
            CHECK(std::fabs(r.divergence.mean - want) <= 1e-7L * std::fabs(want) + 1e-15L);
            const auto lp = log_probs(p, 0, 1), lq = log_probs(q, 0, 1);
            CHECK(std::fabs(std::log(r.ppl.base) + lp[500]) <= 1e-12L);
            CHECK(std::fabs(std::log(r.ppl.q) + lq[500]) <= 1e-12L);
            CHECK(r.same_top.mean == (top(lp) == top(lq) ? 1.0 : 0.0));
          }
    });
  }
}

TEST_CASE("eval: the same bits on every FMA ISA, thread count, order and split") {
  const Data d = make(37, 1001, 0.2, 3);
  struct Pair {
    Kind base, cand;
    Divergence div;
    double t;
  };
  for (const Pair& c : {Pair{Kind::llama, Kind::f32, Divergence::kl, 1.0}, Pair{Kind::llama, Kind::f32, Divergence::jsd, 1.0},
                        Pair{Kind::f16, Kind::llama, Divergence::reverse_kl, 2.0}, Pair{Kind::f32, Kind::bf16, Divergence::jsd, 1.0},
                        Pair{Kind::f32, Kind::f16, Divergence::kl, 2.0}, Pair{Kind::bf16, Kind::bf16, Divergence::reverse_kl, 0.5},
                        Pair{Kind::f64, Kind::f64, Divergence::kl, 2.0}}) {
    CAPTURE(name(c.base));
    CAPTURE(name(c.cand));
    const kldiv::eval::Options o{c.div, 0.5, c.t, 0};
    kldiv_eval_result first{};
    bool have = false;
    test::for_each_isa([&](const std::string& isa) {
      if (!test::has_fma(isa)) return;
      for (const int threads : {1, 2, 7}) {
        kldiv::eval::Options ot = o;
        ot.num_threads = threads;
        Accumulator acc(d.vocab, ot);
        acc.add(side(d, d.p, c.base), side(d, d.q, c.cand), d.tokens.data());
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
    Accumulator parts[3] = {Accumulator(d.vocab, o), Accumulator(d.vocab, o), Accumulator(d.vocab, o)};
    for (std::size_t k = 0; k < order.size(); ++k)
      parts[k % 3].add(side(d, d.p, c.base, order[k], 1), side(d, d.q, c.cand, order[k], 1), &d.tokens[order[k]]);
    parts[2].merge(parts[0]);
    parts[1].merge(parts[2]);
    CHECK(parts[1].tokens() == d.rows);
    CHECK(same_bits(parts[1].finish(), first));
  }
}

TEST_CASE("eval: identical rows give exactly 0 and a same top of 1, for every kind") {
  const Data d = make(5, 333, 0.5, 4);
  for (const Kind k : {Kind::llama, Kind::f32, Kind::bf16, Kind::f16, Kind::f64})
    for (const Divergence div : {Divergence::kl, Divergence::reverse_kl, Divergence::jsd})
      for (const double t : {1.0, 0.7}) {
        CAPTURE(name(k));
        CAPTURE(static_cast<int>(div));
        CAPTURE(t);
        Accumulator acc(d.vocab, {div, 0.25, t, 0});
        const Rows r = side(d, d.p, k);
        acc.add(r, r, d.tokens.data());
        const auto s = acc.finish();
        CHECK(s.divergence.pct.max == 0);
        CHECK(s.divergence.pct.min == 0);
        CHECK(s.same_top.mean == 1);
        CHECK(s.delta_p.rms == 0);
        CHECK(s.ppl.ln_ratio == 0);
        CHECK(std::isnan(s.delta_p.rms_se));  // undefined where RMS is 0
      }
}

TEST_CASE("eval: identical llama.cpp rows with an absurd header still give exactly 0") {
  // log p = 0.01 code + 800: P overflows to inf, and inf times a zero difference must not become NaN.
  const std::int64_t v = 7, nv = kldiv_llama_row_size(v);
  std::vector<std::uint16_t> row(nv, 0);
  const float header[2] = {0.01f, 800.0f};
  std::memcpy(row.data(), header, sizeof header);
  for (std::int64_t k = 0; k < v; ++k) row[4 + k] = static_cast<std::uint16_t>(1000 * k);
  for (const Divergence div : {Divergence::kl, Divergence::reverse_kl, Divergence::jsd}) {
    Accumulator acc(v, {div, 0.5, 1.0, 0});
    acc.add(Rows::llama(row.data(), 1, v, nv), Rows::llama(row.data(), 1, v, nv));
    CHECK(acc.finish().divergence.mean == 0);
  }
}

TEST_CASE("eval: a row's top is the first of its largest entries, wherever they lie") {
  // Two entries of one side (a llama.cpp row's codes, or logits) share the largest value; the other side,
  // with one maximum at m, agrees exactly when m is the first.  At T = 1 the llama.cpp side's top comes
  // from the divergence's pass, at T = 2 from its own.  Groups are 16 entries: the pairs lie in one
  // group, in neighbouring ones, in the tail, and far apart.
  struct Case {
    std::int64_t vocab, a, b;
  };
  test::for_each_isa([](const std::string&) {
    for (const Case c : {Case{7, 2, 6}, Case{7, 0, 3}, Case{1031, 0, 1}, Case{1031, 3, 17}, Case{1031, 15, 16},
                         Case{1031, 16, 40}, Case{1031, 33, 50}, Case{1031, 500, 1030}, Case{1031, 1029, 1030},
                         Case{1031, 16, 1000}}) {
      const std::int64_t nv = kldiv_llama_row_size(c.vocab);
      std::vector<std::uint16_t> row(nv);
      const float header[2] = {1e-4f, -7.0f};
      std::memcpy(row.data(), header, sizeof header);
      test::Random r(static_cast<std::uint64_t>(c.a * 131 + c.b));
      for (std::int64_t k = 0; k < c.vocab; ++k) row[4 + k] = static_cast<std::uint16_t>(r.next() % 60000);
      std::vector<float> random_logits(c.vocab);
      for (auto& v : random_logits) v = static_cast<float>(r.uniform());  // below 1
      for (const std::int64_t m : {c.a, c.b})
        for (const double t : {1.0, 2.0})
          for (const bool llama_base : {true, false})
            for (const bool ties_in_llama : {true, false}) {
              CAPTURE(c.vocab);
              CAPTURE(c.a);
              CAPTURE(c.b);
              CAPTURE(m);
              CAPTURE(t);
              CAPTURE(llama_base);
              CAPTURE(ties_in_llama);
              std::vector<std::uint16_t> codes = row;
              std::vector<float> logits(c.vocab, 0.0f);
              if (ties_in_llama) {
                codes[4 + c.a] = codes[4 + c.b] = 65535;
                logits[m] = 1;
              } else {
                codes[4 + m] = 65535;
                logits = random_logits;
                logits[c.a] = logits[c.b] = 1;
              }
              const Rows llama = Rows::llama(codes.data(), 1, c.vocab, nv), other = Rows::logits(kldiv::Rows(logits.data(), 1, c.vocab));
              Accumulator acc(c.vocab, {Divergence::kl, 0.5, t, 0});
              if (llama_base)
                acc.add(llama, other);
              else
                acc.add(other, llama);
              CHECK(acc.finish().same_top.mean == (m == c.a ? 1.0 : 0.0));
            }
    }
  });
}

TEST_CASE("eval: few tokens: standard errors 0, undefined values NaN") {
  const Data d = make(4, 64, 0.5, 5);
  Accumulator acc(d.vocab);
  CHECK(std::isnan(acc.finish().divergence.mean));  // no tokens yet
  acc.add(side(d, d.p, Kind::f32), side(d, d.q, Kind::f32));
  const auto s = acc.finish();
  CHECK(s.tokens == 4);
  CHECK(s.has_tokens == 0);
  CHECK(s.divergence.se == 0);
  CHECK(s.divergence.pct.max >= s.divergence.pct.p90);
  CHECK(std::isnan(s.ppl.q));
  CHECK(std::isnan(s.delta_p.mean));
}

namespace {

template <class E>
void set_enum(E& e, int v) {
  std::memcpy(&e, &v, sizeof v);  // as a C caller may pass any int
}
template <class E>
int get_enum(const E& e) {
  int v;
  std::memcpy(&v, &e, sizeof v);
  return v;
}

// The C ABI's rows as the C++ API's, the enums copied as ints (any value, as c_guard.hpp reads them).
Rows cpp_rows(const kldiv_eval_rows& r) {
  return {static_cast<Source>(get_enum(r.source)),
          kldiv::Rows(r.rows.data, static_cast<Dtype>(get_enum(r.rows.dtype)), r.rows.rows, r.rows.cols, r.rows.stride)};
}

// One bad add: base, candidate and tokens as the C ABI takes them, changed from a valid call.
struct BadAdd {
  kldiv_eval_rows base, cand;
  std::vector<std::int64_t> tokens;
  bool null_base = false, null_tokens = false;
  std::vector<float> f32;  // buffers a case may change
  std::vector<std::uint16_t> u16;
};

struct BadCase {
  const char* what;
  kldiv_status status;
  const char* message;  // a part of the message
  std::function<void(BadAdd&)> make;
};

}  // namespace

TEST_CASE("eval: bad rows through both APIs are errors and change nothing") {
  const std::int64_t V = 65, N = 4, nv = kldiv_llama_row_size(V);
  const Data d = make(N, V, 0.5, 6);
  const auto logits_rows = [&](const void* data, kldiv_dtype dtype) {
    return kldiv_eval_rows{KLDIV_EVAL_LOGITS, {data, dtype, N, V, V}};
  };
  const kldiv_eval_rows f32p = logits_rows(d.p.f32.data(), KLDIV_DTYPE_F32), f32q = logits_rows(d.q.f32.data(), KLDIV_DTYPE_F32);
  const kldiv_eval_rows f16q = logits_rows(d.q.f16.data(), KLDIV_DTYPE_F16), bf16q = logits_rows(d.q.bf16.data(), KLDIV_DTYPE_BF16);
  const kldiv_eval_rows f64p = logits_rows(d.p.f64.data(), KLDIV_DTYPE_F64);
  const kldiv_eval_rows llq{KLDIV_EVAL_LLAMA, {d.q.llama.data(), KLDIV_DTYPE_F32, N, V, nv}};
  const std::uint16_t f16_nan = 0x7e00, bf16_inf = 0x7f80;
  const float nan = NAN, inf = INFINITY, negative = -1;
  const std::vector<BadCase> cases = {
      {"base is null", KLDIV_ERROR_NULL_POINTER, "base is null", [](BadAdd& b) { b.null_base = true; }},
      {"logits data null", KLDIV_ERROR_NULL_POINTER, "base's data is null", [](BadAdd& b) { b.base.rows.data = nullptr; }},
      {"llama data null", KLDIV_ERROR_NULL_POINTER, "candidate's data is null", [](BadAdd& b) { b.cand.rows.data = nullptr; }},
      {"rows differ", KLDIV_ERROR_INVALID_SHAPE, "base has 4 rows, candidate 3", [](BadAdd& b) { b.cand.rows.rows = 3; }},
      {"negative rows", KLDIV_ERROR_INVALID_SHAPE, "negative row count", [](BadAdd& b) { b.base.rows.rows = b.cand.rows.rows = -1; }},
      {"cols not n_vocab", KLDIV_ERROR_INVALID_SHAPE, "base has 64 columns, the vocabulary 65", [](BadAdd& b) { b.base.rows.cols = 64; }},
      {"llama cols", KLDIV_ERROR_INVALID_SHAPE, "candidate has 66 columns", [](BadAdd& b) { b.cand.rows.cols = 66; }},
      {"logits stride", KLDIV_ERROR_INVALID_SHAPE, "base's stride 64 is below its column count 65", [](BadAdd& b) { b.base.rows.stride = 64; }},
      {"llama stride", KLDIV_ERROR_INVALID_SHAPE, "below the llama.cpp row size 70", [&](BadAdd& b) { b.cand.rows.stride = nv - 1; }},
      {"size overflows", KLDIV_ERROR_INVALID_SHAPE, "overflows", [](BadAdd& b) { b.base.rows.stride = std::int64_t(1) << 62; }},
      {"llama size overflows", KLDIV_ERROR_INVALID_SHAPE, "overflows", [](BadAdd& b) { b.cand.rows.stride = std::int64_t(1) << 62; }},
      {"unknown source", KLDIV_ERROR_INVALID_ARGUMENT, "candidate: unknown source 7", [](BadAdd& b) { set_enum(b.cand.source, 7); }},
      {"unknown dtype", KLDIV_ERROR_INVALID_ARGUMENT, "9 is not a valid dtype for base", [](BadAdd& b) { set_enum(b.base.rows.dtype, 9); }},
      {"negative dtype", KLDIV_ERROR_INVALID_ARGUMENT, "-1 is not a valid dtype", [](BadAdd& b) { set_enum(b.base.rows.dtype, -1); }},
      {"F64 with F32", KLDIV_ERROR_INVALID_ARGUMENT, "F64 logits pair only with F64 logits; base is F64 logits, candidate F32 logits",
       [&](BadAdd& b) { b.base = f64p, b.cand = f32q; }},
      {"F64 with llama", KLDIV_ERROR_INVALID_ARGUMENT, "candidate llama.cpp rows", [&](BadAdd& b) { b.base = f64p; }},
      {"tokens missing", KLDIV_ERROR_INVALID_ARGUMENT, "tokens missing", [](BadAdd& b) { b.null_tokens = true; }},
      {"token out of range", KLDIV_ERROR_INVALID_ARGUMENT, "token 65 of row 2 is not in [0, 65)", [](BadAdd& b) { b.tokens[2] = 65; }},
      {"negative token", KLDIV_ERROR_INVALID_ARGUMENT, "token -1 of row 0", [](BadAdd& b) { b.tokens[0] = -1; }},
      {"llama scale NaN", KLDIV_ERROR_INVALID_ARGUMENT, "candidate row 3: scale nan",
       [&](BadAdd& b) { std::memcpy(&b.u16[3 * nv], &nan, 4), b.cand.rows.data = b.u16.data(); }},
      {"llama scale negative", KLDIV_ERROR_INVALID_ARGUMENT, "candidate row 1: scale -1",
       [&](BadAdd& b) { std::memcpy(&b.u16[nv], &negative, 4), b.cand.rows.data = b.u16.data(); }},
      {"llama min NaN", KLDIV_ERROR_INVALID_ARGUMENT, "candidate row 0: min_log_prob",
       [&](BadAdd& b) { std::memcpy(&b.u16[2], &nan, 4), b.cand.rows.data = b.u16.data(); }},
      {"NaN logit, logits pair", KLDIV_ERROR_INVALID_ARGUMENT, "base row 2: a logit is NaN or +inf",
       [&](BadAdd& b) { b.f32[2 * V + 7] = nan, b.base.rows.data = b.f32.data(), b.cand = f32q; }},
      {"+inf logit, with llama", KLDIV_ERROR_INVALID_ARGUMENT, "base row 1: a logit is NaN or +inf",
       [&](BadAdd& b) { b.f32[V + 64] = inf, b.base.rows.data = b.f32.data(); }},
      {"all -inf, with llama", KLDIV_ERROR_INVALID_ARGUMENT, "base row 3: a logit is NaN or +inf, or every logit is -inf",
       [&](BadAdd& b) { std::fill_n(&b.f32[3 * V], V, -inf), b.base.rows.data = b.f32.data(); }},
      {"f16 NaN, candidate", KLDIV_ERROR_INVALID_ARGUMENT, "candidate row 0: a logit is NaN",
       [&](BadAdd& b) {
         b.u16.assign(d.q.f16.size(), 0);
         std::memcpy(b.u16.data(), d.q.f16.data(), 2 * b.u16.size());
         b.u16[5] = f16_nan;
         b.cand = f16q, b.cand.rows.data = b.u16.data();
       }},
      {"bf16 +inf, logits pair", KLDIV_ERROR_INVALID_ARGUMENT, "candidate row 3: a logit is NaN or +inf",
       [&](BadAdd& b) {
         b.u16.assign(d.q.bf16.size(), 0);
         std::memcpy(b.u16.data(), d.q.bf16.data(), 2 * b.u16.size());
         b.u16[3 * V] = bf16_inf;
         b.cand = bf16q, b.cand.rows.data = b.u16.data(), b.base = f32p;
       }},
  };

  kldiv_eval_options o;
  kldiv_eval_options_init(&o);
  kldiv_eval* e = nullptr;
  REQUIRE(kldiv_eval_create(V, &o, &e) == KLDIV_OK);
  Accumulator acc(V);
  // A valid call first: f32 logits against llama.cpp rows, with tokens.
  REQUIRE(kldiv_eval_add(e, &f32p, &llq, d.tokens.data()) == KLDIV_OK);
  acc.add(cpp_rows(f32p), cpp_rows(llq), d.tokens.data());
  kldiv_eval_result before;
  REQUIRE(kldiv_eval_finish(e, &before) == KLDIV_OK);
  CHECK(same_bits(before, acc.finish()));
  for (const BadCase& c : cases) {
    CAPTURE(c.what);
    BadAdd b{f32p, llq, d.tokens, false, false, d.p.f32, d.q.llama};
    c.make(b);
    const std::int64_t* tokens = b.null_tokens ? nullptr : b.tokens.data();
    CHECK(kldiv_eval_add(e, b.null_base ? nullptr : &b.base, &b.cand, tokens) == c.status);
    const std::string message = kldiv_last_error();
    CAPTURE(message);
    CHECK(message.find(c.message) != std::string::npos);
    if (!b.null_base) {
      const auto cpp = [&] { acc.add(cpp_rows(b.base), cpp_rows(b.cand), tokens); };
      std::string what;
      try {
        cpp();
      } catch (const kldiv::error& x) {
        what = x.what();
        CHECK(what == message);
      }
      CHECK(!what.empty());
      if (c.status == KLDIV_ERROR_NULL_POINTER) CHECK_THROWS_AS(cpp(), kldiv::null_pointer);
      if (c.status == KLDIV_ERROR_INVALID_SHAPE) CHECK_THROWS_AS(cpp(), kldiv::invalid_shape);
      if (c.status == KLDIV_ERROR_INVALID_ARGUMENT) CHECK_THROWS_AS(cpp(), kldiv::invalid_argument);
    }
    kldiv_eval_result after;
    REQUIRE(kldiv_eval_finish(e, &after) == KLDIV_OK);
    CHECK(same_bits(before, after));
    CHECK(same_bits(before, acc.finish()));
  }
  // The same rows as other dtypes are fine: F16 and BF16 logits against llama.cpp rows and each other.
  Accumulator more(V);
  more.add(cpp_rows(f16q), cpp_rows(llq), d.tokens.data());
  more.add(cpp_rows(bf16q), cpp_rows(f16q), d.tokens.data());
  CHECK(more.tokens() == 2 * N);
  kldiv_eval_destroy(e);
}

TEST_CASE("eval: bad options, merges and quantizer input through the C ABI") {
  const Data d = make(4, 65, 0.5, 6);
  kldiv_eval_options o;
  kldiv_eval_options_init(&o);
  CHECK(o.divergence == KLDIV_KL);
  kldiv_eval* e = nullptr;
  CHECK(kldiv_eval_create(0, &o, &e) == KLDIV_ERROR_INVALID_ARGUMENT);
  CHECK(kldiv_eval_create((std::int64_t(1) << 24) + 1, &o, &e) == KLDIV_ERROR_INVALID_ARGUMENT);
  CHECK(kldiv_eval_create(65, &o, nullptr) == KLDIV_ERROR_NULL_POINTER);
  o.divergence = KLDIV_JSD;
  o.beta = 1;
  CHECK(kldiv_eval_create(65, &o, &e) == KLDIV_ERROR_INVALID_ARGUMENT);
  CHECK(std::string(kldiv_last_error()).find("beta") != std::string::npos);
  kldiv_eval_options_init(&o);
  o.temperature = 0;
  CHECK(kldiv_eval_create(65, &o, &e) == KLDIV_ERROR_INVALID_ARGUMENT);
  kldiv_eval_options_init(&o);
  o.num_threads = -1;
  CHECK(kldiv_eval_create(65, &o, &e) == KLDIV_ERROR_INVALID_ARGUMENT);
  kldiv_eval_options_init(&o);
  set_enum(o.divergence, 3);
  CHECK(kldiv_eval_create(65, &o, &e) == KLDIV_ERROR_INVALID_ARGUMENT);
  CHECK(e == nullptr);
  kldiv_eval_options_init(&o);
  REQUIRE(kldiv_eval_create(65, &o, &e) == KLDIV_OK);

  const std::int64_t nv = kldiv_llama_row_size(65);
  const kldiv_eval_rows p{KLDIV_EVAL_LOGITS, {d.p.f32.data(), KLDIV_DTYPE_F32, 4, 65, 65}},
      q{KLDIV_EVAL_LLAMA, {d.q.llama.data(), KLDIV_DTYPE_F32, 4, 65, nv}};
  REQUIRE(kldiv_eval_add(e, &p, &q, d.tokens.data()) == KLDIV_OK);
  kldiv_eval_result before;
  REQUIRE(kldiv_eval_finish(e, &before) == KLDIV_OK);
  CHECK(kldiv_eval_add(nullptr, &p, &q, d.tokens.data()) == KLDIV_ERROR_NULL_POINTER);

  kldiv_eval* other = nullptr;
  REQUIRE(kldiv_eval_create(64, &o, &other) == KLDIV_OK);
  CHECK(kldiv_eval_merge(e, other) == KLDIV_ERROR_INVALID_ARGUMENT);
  kldiv_eval_destroy(other);
  o.divergence = KLDIV_REVERSE_KL;
  REQUIRE(kldiv_eval_create(65, &o, &other) == KLDIV_OK);
  CHECK(kldiv_eval_merge(e, other) == KLDIV_ERROR_INVALID_ARGUMENT);
  kldiv_eval_destroy(other);
  kldiv_eval_options_init(&o);
  REQUIRE(kldiv_eval_create(65, &o, &other) == KLDIV_OK);
  REQUIRE(kldiv_eval_add(other, &p, &q, nullptr) == KLDIV_OK);
  CHECK(kldiv_eval_merge(e, other) == KLDIV_ERROR_INVALID_ARGUMENT);  // without tokens into with
  CHECK(kldiv_eval_merge(e, nullptr) == KLDIV_ERROR_NULL_POINTER);
  kldiv_eval_destroy(other);
  CHECK(kldiv_eval_finish(e, nullptr) == KLDIV_ERROR_NULL_POINTER);

  kldiv_eval_result after;
  REQUIRE(kldiv_eval_finish(e, &after) == KLDIV_OK);
  CHECK(same_bits(before, after));
  kldiv_eval_destroy(e);

  CHECK(kldiv_llama_row_size(5) == 10);
  CHECK(kldiv_llama_row_size(6) == 10);
  CHECK(kldiv_llama_row_size(std::int64_t(1) << 24) == (std::int64_t(1) << 24) + 4);
  for (const std::int64_t v : {std::int64_t(0), std::int64_t(-3), (std::int64_t(1) << 24) + 1, std::numeric_limits<std::int64_t>::max()})
    CHECK(kldiv_llama_row_size(v) == -1);
  std::vector<float> row(5, 1.0f);
  std::vector<std::uint16_t> out(kldiv_llama_row_size(5), 0x1234);
  row[1] = NAN;
  CHECK(kldiv_llama_quantize_row(row.data(), 5, out.data()) == KLDIV_ERROR_INVALID_ARGUMENT);
  CHECK(kldiv_llama_quantize_row(nullptr, 5, out.data()) == KLDIV_ERROR_NULL_POINTER);
  for (const auto v : out) CHECK(v == 0x1234);
}

TEST_CASE("eval: the llama.cpp writer's rows dequantize to the log-softmax within a step") {
  const Data d = make(2, 2001, 0.0, 7);
  const std::int64_t nv = kldiv_llama_row_size(d.vocab);
  for (std::int64_t i = 0; i < d.rows; ++i) {
    const auto lp = log_probs(side(d, d.p, Kind::f32), i, 1);
    const auto stored = log_probs(side(d, d.p, Kind::llama), i, 1);
    long double top = -INFINITY;
    for (const auto v : lp) top = std::max(top, v);
    float scale;
    std::memcpy(&scale, &d.p.llama[i * nv], sizeof scale);
    CHECK(scale == doctest::Approx(16.0 / 65535).epsilon(1e-3));
    for (std::int64_t k = 0; k < d.vocab; ++k)
      if (lp[k] > top - 15.99L) CHECK(std::fabs(stored[k] - lp[k]) < 0.55L * 16 / 65535);  // half a step
  }
}
