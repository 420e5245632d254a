// The logits API: accuracy against the long-double reference, the edge values on every ISA, identical
// rows, bits across ISAs and thread counts, bad input, and the internal per-row entry (logits_rows.hpp).
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "logits_rows.hpp"
#include "logits_support.hpp"

namespace {

using kldiv::Divergence;
using kldiv::Reduction;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr Divergence kDivergences[] = {Divergence::kl, Divergence::reverse_kl, Divergence::jsd};

// Slow runs (test::slow_run: qemu, sanitizers): fewer temperatures and thread counts, the same cases.

double normal(test::Random& rng) {
  const double u = rng.uniform(), v = rng.uniform();
  return std::sqrt(-2 * std::log(1 - u)) * std::cos(6.283185307179586 * v);
}

kldiv::LogitsOptions options(Divergence d, double t, Reduction r = Reduction::none, double beta = 0.5) {
  kldiv::LogitsOptions o;
  o.divergence = d;
  o.temperature = t;
  o.reduction = r;
  o.beta = beta;
  return o;
}

template <class T>
std::vector<double> none_values(const std::vector<T>& p, const std::vector<T>& q, std::int64_t rows, std::int64_t cols,
                                const kldiv::LogitsOptions& o) {
  std::vector<double> out(static_cast<std::size_t>(rows));
  kldiv::logits_forward(kldiv::Rows(p.data(), rows, cols), kldiv::Rows(q.data(), rows, cols), o, out.data());
  return out;
}

template <class T>
std::vector<T> gradient(const std::vector<T>& p, const std::vector<T>& q, std::int64_t rows, std::int64_t cols,
                        const kldiv::LogitsOptions& o, std::vector<double>* values = nullptr) {
  std::vector<T> g(p.size(), T(7));
  std::vector<double> go(static_cast<std::size_t>(rows), 1.0), out(static_cast<std::size_t>(rows));
  kldiv::logits_forward_backward(kldiv::Rows(p.data(), rows, cols), kldiv::Rows(q.data(), rows, cols), o, go.data(),
                                 out.data(), g.data(), cols);
  if (values) *values = out;
  return g;
}

// Relative error of every row's value and gradient against the reference; returns the worst value error,
// relative to the value or, by_scale, to it plus the scale of its logit differences' rounding.
template <class T>
double check_against_reference(const std::vector<T>& p, const std::vector<T>& q, std::int64_t rows, std::int64_t cols,
                               const kldiv::LogitsOptions& o, double grad_bound, bool grad_relative = false,
                               bool by_scale = false) {
  std::vector<double> values;
  const std::vector<T> g = gradient(p, q, rows, cols, o, &values);
  double worst = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::size_t at = static_cast<std::size_t>(r * cols);
    const auto ref = test::logits_reference(p.data() + at, q.data() + at, static_cast<std::size_t>(cols), o.temperature,
                                            static_cast<int>(o.divergence), o.beta);
    const long double err = std::fabs(values[static_cast<std::size_t>(r)] - ref.value);
    worst = std::max(worst, static_cast<double>(err / (by_scale ? ref.value + ref.value_scale : ref.value)));
    long double gerr = 0, gmax = 0;
    for (std::int64_t j = 0; j < cols; ++j) {
      gerr = std::max(gerr, std::fabs(g[at + static_cast<std::size_t>(j)] - ref.grad[static_cast<std::size_t>(j)]));
      gmax = std::max(gmax, std::fabs(ref.grad[static_cast<std::size_t>(j)]));
    }
    // Relative to the largest entry where log ratios are huge (reverse KL's gradient is Q times them).
    CHECK(gerr <= grad_bound * (grad_relative ? std::max<long double>(ref.grad_scale, gmax) : ref.grad_scale));
  }
  return worst;
}

// huge: a tenth of the entries of one row or the other masked with a huge finite logit (-1e30, as
// masked_fill does), which must not pull the kernels' centre (src/kernels/logits.hpp, center_entry).
// steps: each chunk of the stats pass shifted, so that its maxima lie just within, or beyond, the
// headroom above the earlier chunks' (kHeadroom, src/kernels/logits.hpp), or far below them.
enum class Kind { independent, close, masked, huge, steps };
constexpr double kStepP[] = {0, 14, 18, 40, -500}, kStepQ[] = {0, -500, 30, 13, 2000};

template <class T>
void accuracy_rows(Kind kind, std::int64_t rows, std::int64_t cols, std::uint64_t seed, std::vector<T>& p, std::vector<T>& q) {
  test::Random rng(seed);
  const auto n = static_cast<std::size_t>(rows * cols);
  p.resize(n);
  q.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    p[i] = static_cast<T>(3 * normal(rng));
    q[i] = kind == Kind::close ? static_cast<T>(p[i] + 1e-3 * normal(rng)) : static_cast<T>(3 * normal(rng));
    if (kind == Kind::masked && rng.uniform() < 0.3) p[i] = q[i] = static_cast<T>(-kInf);
    if (kind == Kind::huge && rng.uniform() < 0.1) (rng.uniform() < 0.5 ? p : q)[i] = static_cast<T>(-1e30);
    if (kind == Kind::steps) {
      const std::size_t chunk = (i % static_cast<std::size_t>(cols)) / 1024 % 5;
      p[i] = static_cast<T>(p[i] + kStepP[chunk]);
      q[i] = static_cast<T>(q[i] + kStepQ[chunk]);
    }
  }
}

}  // namespace

// The targets are 1e-5 (independent, masked) and 1e-3 (close); README.md ("Logits: accuracy")
// derives the bound of 2e-6 asserted here for f32, and 1e-12 for f64.
TEST_CASE("logits accuracy: independent, nearly equal and masked rows against long double") {
  const Kind kinds[] = {Kind::independent, Kind::close, Kind::masked, Kind::huge, Kind::steps};
  const std::string names[] = {"independent", "close", "masked", "huge", "steps"};
  for (int k = 0; k < 5; ++k) {
    CAPTURE(names[k]);
    const std::int64_t rows = kinds[k] == Kind::close ? 1 : 3, cols = kinds[k] == Kind::close ? 32000 : 5000;
    std::vector<float> pf, qf;
    std::vector<double> pd, qd;
    accuracy_rows(kinds[k], rows, cols, 11 + k, pf, qf);
    accuracy_rows(kinds[k], rows, cols, 11 + k, pd, qd);
    for (Divergence d : kDivergences)
      for (double t : {1.0, 2.0}) {
        if (t != 1.0 && test::slow_run()) continue;
        CAPTURE(static_cast<int>(d));
        CAPTURE(t);
        const auto o = options(d, t, Reduction::none, 0.3);
        const bool huge = kinds[k] == Kind::huge;
        const double ef = check_against_reference(pf, qf, rows, cols, o, 1e-5, huge);
        CHECK(ef <= 2e-6);
        CHECK(ef <= (kinds[k] == Kind::close ? 1e-3 : 1e-5));
        CHECK(check_against_reference(pd, qd, rows, cols, o, 1e-10, huge) <= 1e-10);
      }
  }
}

// One side's mass on a single entry, far above the rest of its row, the other side's spread: the mass of
// the near entries must be summed apart, not recovered as a difference of totals, and the entries' weights
// taken about a centre near the heavy entry (src/logits.cpp, recenter). The heavy entry sits in the first
// chunk, or after a first chunk where both sides agree.
template <class T>
void concentrated_rows(double big, std::int64_t cols, std::vector<T>& p, std::vector<T>& q) {
  test::Random rng(static_cast<std::uint64_t>(big));
  const auto n = static_cast<std::size_t>(cols);
  p.assign(4 * n, T(0));
  q.assign(4 * n, T(0));
  for (std::size_t i = 0; i < n; ++i) {
    p[i] = static_cast<T>(0.1 * normal(rng)), q[i] = static_cast<T>(0.1 * normal(rng));
    q[3 * n + i] = p[3 * n + i] = p[n + i] = q[n + i] = i < 1024 ? static_cast<T>(3 * normal(rng)) : T(0);
  }
  p[1500] = static_cast<T>(big);
  p[n + 2500] = static_cast<T>(big);
  q[2 * n + 1500] = static_cast<T>(big);
  q[3 * n + 2500] = static_cast<T>(big);
}

TEST_CASE("logits accuracy: one side concentrated on an entry, the other spread, on every ISA and thread count") {
  test::for_each_isa([](const std::string&) {
    for (double big : {50.0, 120.0, 800.0}) {
      CAPTURE(big);
      const std::int64_t cols = 5000;
      std::vector<float> pf, qf;
      std::vector<double> pd, qd;
      concentrated_rows(big, cols, pf, qf);
      concentrated_rows(big, cols, pd, qd);
      for (Divergence d : kDivergences) {
        CAPTURE(static_cast<int>(d));
        auto o = options(d, 1.0, Reduction::none, 0.3);
        CHECK(check_against_reference(pf, qf, 4, cols, o, 1e-5, false, true) <= 2e-6);
        CHECK(check_against_reference(pd, qd, 4, cols, o, 1e-10, false, true) <= 1e-10);
        const std::vector<double> one = none_values(pf, qf, 4, cols, o);
        o.num_threads = 4;
        CHECK(none_values(pf, qf, 4, cols, o) == one);
        // Fewer rows than threads: the rows' segments are shared out.
        const std::vector<float> p2(pf.begin() + 2 * cols, pf.end()), q2(qf.begin() + 2 * cols, qf.end());
        CHECK(none_values(p2, q2, 2, cols, o) == std::vector<double>(one.begin() + 2, one.end()));
      }
    }
  });
}

TEST_CASE("logits accuracy: reductions are the reference's sums") {
  std::vector<float> p, q;
  accuracy_rows(Kind::masked, 6, 777, 5, p, q);
  std::vector<std::int64_t> labels = {1, -100, 2, 3, -100, 4};
  for (Divergence d : kDivergences) {
    auto o = options(d, 2.0, Reduction::sum);
    o.temperature_squared = true;
    o.labels = labels.data();
    long double sum = 0;
    for (std::size_t r = 0; r < 6; ++r)
      if (labels[r] != -100) sum += 4 * test::logits_reference(p.data() + r * 777, q.data() + r * 777, 777, 2.0L, static_cast<int>(d), 0.5L).value;
    const kldiv::Rows pr(p.data(), 6, 777), qr(q.data(), 6, 777);
    CHECK(std::fabs(kldiv::logits_loss(pr, qr, o) - sum) <= 1e-6 * sum);
    o.reduction = Reduction::batchmean;
    CHECK(std::fabs(kldiv::logits_loss(pr, qr, o) - sum / 4) <= 1e-6 * sum);
    o.reduction = Reduction::mean;
    CHECK(std::fabs(kldiv::logits_loss(pr, qr, o) - sum / (4 * 777)) <= 1e-6 * sum);
    // Masked rows: value 0, gradient 0.
    o.reduction = Reduction::none;
    std::vector<double> out(6), go(6, 1.0);
    std::vector<float> g(p.size(), 5.0f);
    kldiv::logits_forward_backward(pr, qr, o, go.data(), out.data(), g.data(), 777);
    CHECK(out[1] == 0);
    CHECK(out[4] == 0);
    for (std::size_t j = 0; j < 777; ++j) CHECK((g[777 + j] == 0 && g[4 * 777 + j] == 0));
  }
  // Fully masked or empty: batchmean and mean give 0.
  std::vector<std::int64_t> all(6, -100);
  auto o = options(Divergence::kl, 1.0, Reduction::batchmean);
  o.labels = all.data();
  CHECK(kldiv::logits_loss(kldiv::Rows(p.data(), 6, 777), kldiv::Rows(q.data(), 6, 777), o) == 0);
  o.labels = nullptr;
  CHECK(kldiv::logits_loss(kldiv::Rows(p.data(), 0, 777), kldiv::Rows(q.data(), 0, 777), o) == 0);
  o.reduction = Reduction::mean;
  CHECK(kldiv::logits_loss(kldiv::Rows(static_cast<const float*>(nullptr), 0, 0), kldiv::Rows(static_cast<const float*>(nullptr), 0, 0), o) == 0);
}

namespace {

// Rows whose edges sit at three columns.  Short rows (37 columns: vector tails on every ISA) have them
// at 0, 17 and 36; long ones (3000 columns, three chunks of the stats pass) only in later chunks, past a
// clean first one, where the pass sums against earlier chunks' maxima (src/kernels/logits.hpp).
struct EdgeRows {
  std::int64_t cols;
  std::size_t at[3];
  std::vector<double> p, q;
  std::int64_t rows = 0;
  bool edge(std::size_t j) const { return j == at[0] || j == at[1] || j == at[2]; }
  void add(double (*pv)(std::size_t), double (*qv)(std::size_t)) {
    test::Random rng(static_cast<std::uint64_t>(rows) + 1);
    for (std::size_t j = 0; j < static_cast<std::size_t>(cols); ++j) {
      const double a = 2 * normal(rng), b = 2 * normal(rng);
      p.push_back(edge(j) && pv ? pv(j) : a);
      q.push_back(edge(j) && qv ? qv(j) : b);
    }
    ++rows;
  }
};

double nan_(std::size_t) { return std::nan(""); }
double pinf(std::size_t) { return kInf; }
double ninf(std::size_t) { return -kInf; }

template <class T>
std::vector<T> as(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

template <class T>
void check_edges(EdgeRows e) {
  e.add(nullptr, nullptr);  // 0: plain
  e.add(ninf, ninf);        // 1: masked in both: P = Q = 0
  e.add(ninf, nullptr);     // 2: P = 0 < Q
  e.add(nullptr, ninf);     // 3: Q = 0 < P: KL +inf
  e.add(nan_, nullptr);     // 4: NaN in p
  e.add(nullptr, nan_);     // 5: NaN in q
  e.add(pinf, nullptr);     // 6: +inf in p
  e.add(nullptr, pinf);     // 7: +inf in q
  e.rows = 8;
  for (std::int64_t j = 0; j < e.cols; ++j) e.p.push_back(-kInf), e.q.push_back(1.0);  // 8: p all -inf
  e.rows = 9;
  const std::vector<T> p = as<T>(e.p), q = as<T>(e.q);
  const auto C = static_cast<std::size_t>(e.cols);
  for (Divergence d : kDivergences) {
    CAPTURE(static_cast<int>(d));
    const auto o = options(d, 1.5);
    std::vector<double> v;
    const std::vector<T> g = gradient(p, q, e.rows, e.cols, o, &v);
    // Finite rows match the reference (masked entries as probability 0); the value of each row does not
    // depend on the others (computed alone).
    for (std::size_t r : {0, 1, 2, 3}) {
      CAPTURE(r);
      const auto ref = test::logits_reference(p.data() + r * C, q.data() + r * C, C, 1.5L, static_cast<int>(d), 0.5L);
      if (std::isinf(ref.value)) CHECK(v[r] == kInf);
      else CHECK(std::fabs(v[r] - static_cast<double>(ref.value)) <= 1e-5 * static_cast<double>(ref.value));
      const std::vector<T> pr(p.begin() + r * C, p.begin() + (r + 1) * C), qr(q.begin() + r * C, q.begin() + (r + 1) * C);
      const double alone = none_values(pr, qr, 1, e.cols, o)[0];
      CHECK(std::memcmp(&alone, &v[r], sizeof alone) == 0);
      for (std::size_t j = 0; j < C; ++j) {
        CAPTURE(j);
        const T gj = g[r * C + j];
        if (r == 3 && d == Divergence::kl) {
          CHECK(std::isfinite(gj));  // +inf value, finite gradient Q - P
        } else if (!std::isfinite(static_cast<double>(ref.value))) {
          CHECK(!std::isfinite(gj));
        } else {
          CHECK(std::fabs(gj - static_cast<double>(ref.grad[j])) <= 1e-5);
        }
        // A masked entry of q (Q = 0) gets exactly 0 from reverse KL and JSD (KL's is Q - P = -P).
        if (q[r * C + j] == -kInf && d != Divergence::kl) CHECK(gj == 0);
        if (r == 3 && d == Divergence::kl) CHECK(std::fabs(gj - static_cast<double>(ref.grad[j])) <= 1e-5);
      }
    }
    // Masked entries never make NaN; P > 0 = Q gives +inf for KL, P = 0 < Q for reverse KL.
    CHECK(std::isfinite(v[1]));
    CHECK(std::isfinite(v[2]) == (d != Divergence::reverse_kl));
    CHECK(std::isfinite(v[3]) == (d != Divergence::kl));
    if (d == Divergence::reverse_kl)
      for (std::size_t j : e.at) CHECK(std::isnan(g[2 * C + j]));  // inf - inf where P = 0 < Q
    // NaN, +inf and all -inf rows: NaN value and gradient.
    for (std::size_t r = 4; r < 9; ++r) {
      CAPTURE(r);
      CHECK(std::isnan(v[r]));
      for (std::size_t j = 0; j < C; ++j) CHECK(std::isnan(g[r * C + j]));
    }
  }
}

template <class T>
void check_identical() {
  test::Random rng(3);
  const std::int64_t rows = 5, cols = 1500;
  std::vector<T> p(static_cast<std::size_t>(rows * cols));
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<T>(i % 7 == 3 ? -kInf : 6 * normal(rng) + (i / cols) * 300.0);
  const std::vector<T> q = p;
  for (Divergence d : kDivergences)
    for (double t : {0.3, 1.0, 4.0})
      for (double beta : {0.1, 0.5, 0.9}) {
        auto o = options(d, t, Reduction::none, beta);
        o.temperature_squared = true;
        std::vector<double> v;
        const std::vector<T> g = gradient(p, q, rows, cols, o, &v);
        for (double x : v) CHECK((x == 0 && !std::signbit(x)));
        for (T x : g) CHECK(x == 0);
        o.reduction = Reduction::mean;
        const double m = kldiv::logits_loss(kldiv::Rows(p.data(), rows, cols), kldiv::Rows(q.data(), rows, cols), o);
        CHECK((m == 0 && !std::signbit(m)));
      }
}

}  // namespace

TEST_CASE("logits edges: masked entries, NaN, +inf and all -inf rows, on every ISA") {
  test::for_each_isa([](const std::string&) {
    for (const EdgeRows& e : {EdgeRows{37, {0, 17, 36}}, EdgeRows{3000, {1100, 2047, 2999}}}) {
      CAPTURE(e.cols);
      check_edges<float>(e);
      check_edges<double>(e);
    }
  });
}

TEST_CASE("logits edges: identical rows give exactly +0 and a zero gradient, every dtype, T, beta and ISA") {
  test::for_each_isa([](const std::string&) {
    check_identical<float>();
    check_identical<double>();
  });
}

namespace {

struct Fnv1a {
  std::uint64_t h = 0xcbf29ce484222325ull;
  template <class T>
  void add(T x) {
    if (std::isnan(x)) x = std::numeric_limits<T>::quiet_NaN();  // which NaN is not specified
    unsigned char b[sizeof x];
    std::memcpy(b, &x, sizeof x);
    for (unsigned char c : b) h = (h ^ c) * 0x100000001b3ull;
  }
};

// Values (none) and gradients of all divergences on exact inputs (test::golden_logits), hashed: many short
// rows (whole rows per thread), and two long ones that up to 4 threads share within the rows.
template <class T>
std::uint64_t logits_hash(int threads) {
  Fnv1a h;
  const std::int64_t shapes[][2] = {{20, 1031}, {2, 30000}};
  for (const auto& s : shapes) {
    std::vector<double> pd, qd;
    test::golden_logits(static_cast<std::size_t>(s[0] * s[1]), 5 + s[0], 6 + s[0], 9, pd, qd);
    for (std::size_t i = 0; i < pd.size(); i += 5) qd[i] = pd[i] + 0x1p-10;  // some close entries
    const std::vector<T> p = as<T>(pd), q = as<T>(qd);
    for (Divergence d : kDivergences) {
      auto o = options(d, 1.5, Reduction::none, 0.25);
      o.num_threads = threads;
      std::vector<double> v;
      const std::vector<T> g = gradient(p, q, s[0], s[1], o, &v);
      for (double x : v) h.add(x);
      for (T x : g) h.add(x);
      std::vector<double> lse_p(static_cast<std::size_t>(s[0])), lse_q(lse_p.size());
      std::vector<std::int64_t> ap(lse_p.size()), aq(lse_p.size());
      kldiv::detail::logits_rows(kldiv::Rows(p.data(), s[0], s[1]), kldiv::Rows(q.data(), s[0], s[1]), o, 0, s[0], v.data(),
                                 {lse_p.data(), lse_q.data(), ap.data(), aq.data()});
      for (std::size_t r = 0; r < lse_p.size(); ++r) h.add(v[r]), h.add(lse_p[r]), h.add(lse_q[r]), h.add(ap[r]), h.add(aq[r]);
    }
  }
  return h.h;
}

std::string hex(std::uint64_t h) {
  char b[32];
  std::snprintf(b, sizeof b, "0x%016" PRIx64 "ull", h);
  return b;
}

}  // namespace

// Committed hashes: the x86-64 run and the aarch64 run under qemu (.ci/aarch64.sh) must both give them.
// Inputs are exact; the reference is the scalar ISA's bits (libm's correctly rounded fma).
TEST_CASE("logits bits: the same hashes on every FMA ISA and thread count") {
  const std::uint64_t expected_f32 = 0xe1e437e45bbd89d0ull, expected_f64 = 0x0a58c867a0012de6ull;
  test::for_each_isa([&](const std::string& isa) {
    if (!test::has_fma(isa)) return;
    for (int threads : {1, 2, 4}) {
      if (threads == 2 && test::slow_run()) continue;
      CAPTURE(threads);
      const std::uint64_t f = logits_hash<float>(threads), d = logits_hash<double>(threads);
      CHECK_MESSAGE(f == expected_f32, "f32 hash ", hex(f));
      CHECK_MESSAGE(d == expected_f64, "f64 hash ", hex(d));
    }
  });
}

TEST_CASE("logits rows: normalisers and argmaxes against the reference, for any row range") {
  std::vector<float> p, q;
  accuracy_rows(Kind::masked, 7, 3000, 21, p, q);
  p[2 * 3000 + 5] = p[2 * 3000 + 9] = 40.0f;  // a tie: the first index wins
  q[4 * 3000 + 2999] = 50.0f;
  const kldiv::Rows pr(p.data(), 7, 3000), qr(q.data(), 7, 3000);
  const auto o = options(Divergence::jsd, 2.0);
  std::vector<double> v(7), lp(7), lq(7);
  std::vector<std::int64_t> ap(7), aq(7);
  kldiv::detail::logits_rows(pr, qr, o, 0, 7, v.data(), {lp.data(), lq.data(), ap.data(), aq.data()});
  CHECK(v == none_values(p, q, 7, 3000, o));
  for (std::size_t r = 0; r < 7; ++r) {
    long double mp = -kInf, mq = -kInf, sp = 0, sq = 0;
    std::int64_t ip = 0, iq = 0;
    for (std::size_t j = 0; j < 3000; ++j) {
      if (p[r * 3000 + j] > mp) mp = p[r * 3000 + j], ip = static_cast<std::int64_t>(j);
      if (q[r * 3000 + j] > mq) mq = q[r * 3000 + j], iq = static_cast<std::int64_t>(j);
    }
    for (std::size_t j = 0; j < 3000; ++j) sp += std::exp((p[r * 3000 + j] - mp) / 2), sq += std::exp((q[r * 3000 + j] - mq) / 2);
    CHECK(std::fabs(lp[r] - static_cast<double>(mp / 2 + std::log(sp))) <= 1e-6);
    CHECK(std::fabs(lq[r] - static_cast<double>(mq / 2 + std::log(sq))) <= 1e-6);
    CHECK(ap[r] == ip);
    CHECK(aq[r] == iq);
  }
  CHECK(ap[2] == 5);
  CHECK(aq[4] == 2999);
  // A sub-range gives the same bits, with or without the extras.
  std::vector<double> part(3), lp2(3);
  kldiv::detail::logits_rows(pr, qr, o, 3, 6, part.data(), {lp2.data(), nullptr, nullptr, nullptr});
  for (std::size_t i = 0; i < 3; ++i) CHECK((part[i] == v[3 + i] && lp2[i] == lp[3 + i]));
  CHECK_THROWS_AS(kldiv::detail::logits_rows(pr, qr, o, 5, 8, part.data()), kldiv::invalid_argument);
  CHECK_THROWS_AS(kldiv::detail::logits_rows(pr, qr, o, 0, 1, nullptr), kldiv::null_pointer);
}

namespace {

template <class H>
std::vector<H> to_half(const std::vector<float>& v) {
  std::vector<H> h(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    if constexpr (std::is_same_v<H, kldiv::bf16>) h[i] = kldiv::to_bf16(v[i]);
    else h[i] = kldiv::to_f16(v[i]);
  }
  return h;
}

template <class H>
float widen(H h) {
  return kldiv::to_float(h);
}

// Forward and gradient (in q's dtype) of rows given as halves or floats.
template <class P, class Q>
std::vector<double> half_call(const std::vector<P>& p, const std::vector<Q>& q, std::int64_t rows, std::int64_t cols,
                              const kldiv::LogitsOptions& o, std::vector<Q>& g) {
  std::vector<double> out(static_cast<std::size_t>(rows)), go(out.size(), 1.0);
  g.assign(q.size(), Q{});
  kldiv::logits_forward_backward(kldiv::Rows(p.data(), rows, cols), kldiv::Rows(q.data(), rows, cols), o, go.data(),
                                 out.data(), g.data(), cols);
  return out;
}

template <class H>
void check_identical_half() {
  test::Random rng(4);
  std::vector<float> f(3 * 700);
  for (std::size_t i = 0; i < f.size(); ++i) f[i] = i % 9 == 2 ? -static_cast<float>(kInf) : static_cast<float>(5 * normal(rng));
  const std::vector<H> h = to_half<H>(f);
  for (Divergence d : kDivergences)
    for (double t : {0.5, 3.0}) {
      auto o = options(d, t, Reduction::none, 0.7);
      std::vector<H> g;
      for (double v : half_call(h, h, 3, 700, o, g)) CHECK((v == 0 && !std::signbit(v)));
      for (H x : g) CHECK(widen(x) == 0);
    }
}

}  // namespace

TEST_CASE("logits halves: identical bf16 and f16 rows give exactly +0 and a zero gradient, on every ISA") {
  test::for_each_isa([](const std::string&) {
    check_identical_half<kldiv::bf16>();
    check_identical_half<kldiv::f16>();
  });
}

TEST_CASE("logits halves: bf16, f16 and mixed pairs are the f32 computation of the widened values") {
  test::Random rng(8);
  std::vector<float> pf(4 * 999), qf(pf.size());
  for (std::size_t i = 0; i < pf.size(); ++i) pf[i] = static_cast<float>(3 * normal(rng)), qf[i] = static_cast<float>(pf[i] + 0.2 * normal(rng));
  const auto pb = to_half<kldiv::bf16>(pf), qb = to_half<kldiv::bf16>(qf);
  const auto ph = to_half<kldiv::f16>(pf), qh = to_half<kldiv::f16>(qf);
  std::vector<float> pbw(pf.size()), qbw(pf.size()), qhw(pf.size());
  for (std::size_t i = 0; i < pf.size(); ++i) pbw[i] = widen(pb[i]), qbw[i] = widen(qb[i]), qhw[i] = widen(qh[i]);
  Fnv1a hash;
  test::for_each_isa([&](const std::string& isa) {
    Fnv1a h;
    for (Divergence d : kDivergences) {
      const auto o = options(d, 1.5, Reduction::none, 0.4);
      std::vector<kldiv::bf16> gb;
      std::vector<kldiv::f16> gh;
      std::vector<float> gf;
      // bf16 p against f16 q, and an f32 p against bf16 q: the values of the widened f32 inputs, the
      // gradient rounded once to q's dtype.
      const auto v1 = half_call(pb, qh, 4, 999, o, gh);
      const auto r1 = half_call(pbw, qhw, 4, 999, o, gf);
      CHECK(v1 == r1);
      for (std::size_t i = 0; i < gh.size(); ++i) CHECK(gh[i].bits == kldiv::to_f16(gf[i]).bits);
      const auto v2 = half_call(pf, qb, 4, 999, o, gb);
      const auto r2 = half_call(pf, qbw, 4, 999, o, gf);
      CHECK(v2 == r2);
      for (std::size_t i = 0; i < gb.size(); ++i) CHECK(gb[i].bits == kldiv::to_bf16(gf[i]).bits);
      for (double x : v1) h.add(x);
      for (double x : v2) h.add(x);
      for (auto x : gb) h.add(x.bits);
      for (auto x : gh) h.add(x.bits);
    }
    if (!test::has_fma(isa)) return;
    if (hash.h == Fnv1a{}.h) hash = h;
    CHECK(h.h == hash.h);  // every FMA ISA alike
  });
  CHECK_MESSAGE(hash.h == 0xa66b049ae9bf7101ull, "halves hash ", hex(hash.h));
}
