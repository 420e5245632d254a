// More than 2^31 elements: the reductions over a (65537, 32769) f32 input, 2 147 581 953 elements, 8.6 GB
// each for x and t (17.2 GB in all), against a reference computed in chunks.  Opt-in, because of the
// memory and the minutes it takes: `build/tests/kldiv_tests --test-suite=large --no-skip` (README, "Tests").
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <memory>
#include <vector>

#include "support.hpp"

namespace {

using kldiv::Reduction;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Element i's random value in [0, 1), independent of the order of generation (SplitMix64 of i).
double uniform_at(std::uint64_t seed, std::uint64_t i) {
  test::Random rng(seed + i * 0x9e3779b97f4a7c15ull);
  return rng.uniform();
}

}  // namespace

// Not part of the default run (doctest's skip): asked for by name, as above.
TEST_SUITE("large" * doctest::skip()) {
TEST_CASE("large: reductions over more than 2^31 elements (17.2 GB)") {
  const std::int64_t rows = 65537, cols = 32769;
  const std::size_t n = static_cast<std::size_t>(rows * cols);
  REQUIRE(n > (std::size_t(1) << 31));
  const std::vector<std::int64_t> shape = {rows, cols};

  auto start = Clock::now();
  std::unique_ptr<float[]> x(new float[n]), t(new float[n]);
  const auto count = static_cast<std::int64_t>(n);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < count; ++i) {
    const double u = uniform_at(1, static_cast<std::uint64_t>(i));
    t[i] = u < 0.02 ? 0.0f : static_cast<float>(u);                                          // probabilities
    x[i] = static_cast<float>(std::log(uniform_at(2, static_cast<std::uint64_t>(i)) / cols + 1e-12));  // log q
  }
  MESSAGE("generated " << n << " elements in " << seconds_since(start) << " s");

  // The reference, in chunks of 2^20 elements: each summed in long double, the chunks in test::wide.  Used
  // with log_target as well, where the same t are read as log-probabilities.
  start = Clock::now();
  constexpr std::size_t kChunk = std::size_t(1) << 20;
  const auto chunks = static_cast<std::int64_t>((n + kChunk - 1) / kChunk);
  std::vector<long double> value[2], scale[2];
  for (int lt = 0; lt < 2; ++lt) {
    value[lt].resize(chunks);
    scale[lt].resize(chunks);
  }
#pragma omp parallel for schedule(dynamic, 8)
  for (std::int64_t c = 0; c < chunks; ++c) {
    long double v[2] = {0, 0}, s[2] = {0, 0};
    const std::size_t end = std::min(n, static_cast<std::size_t>(c + 1) * kChunk);
    for (std::size_t i = static_cast<std::size_t>(c) * kChunk; i < end; ++i)
      for (int lt = 0; lt < 2; ++lt) {
        const test::Reference r = test::reference(x[i], t[i], lt == 1);
        v[lt] += r.value;
        s[lt] += r.scale;
      }
    for (int lt = 0; lt < 2; ++lt) {
      value[lt][c] = v[lt];
      scale[lt][c] = s[lt];
    }
  }
  MESSAGE("reference in " << seconds_since(start) << " s");

  constexpr long double u = test::unit_roundoff<float>();
  for (bool log_target : {false, true}) {
    CAPTURE(log_target);
    test::wide exact = 0, magnitude = 0;
    for (std::int64_t c = 0; c < chunks; ++c) {
      exact += value[log_target][c];
      magnitude += scale[log_target][c];
    }
    for (Reduction r : {Reduction::sum, Reduction::mean, Reduction::batchmean}) {
      const std::string what = std::string(kldiv::to_string(r)) + (log_target ? " log_target" : "");
      CAPTURE(what);
      kldiv::Options o;
      o.reduction = r;
      o.log_target = log_target;
      start = Clock::now();
      const float got = kldiv::loss(x.get(), t.get(), kldiv::Shape(shape), o);
      const double took = seconds_since(start);
      const long double divisor = r == Reduction::sum ? 1.0L : r == Reduction::mean ? static_cast<long double>(n) : rows;
      const long double want = static_cast<long double>(exact) / divisor;
      const long double unit = u * (static_cast<long double>(magnitude) / divisor + std::fabs(want));
      const long double err = std::fabs(static_cast<long double>(got) - want);
      char line[256];
      std::snprintf(line, sizeof line, "%s: %.9g, reference %.12g, error %.3g relative = %.3g u(A+B+|exact|) (bound 4); %.2f s, %.2f Gelem/s",
                    what.c_str(), static_cast<double>(got), static_cast<double>(want),
                    static_cast<double>(err / std::fabs(want)), static_cast<double>(err / unit), took, n / took / 1e9);
      MESSAGE(line);
      CHECK(err <= 4 * unit);
      if (r == Reduction::sum) {
        o.num_threads = 1;  // the same bits on one thread
        const float one = kldiv::loss(x.get(), t.get(), kldiv::Shape(shape), o);
        CHECK(std::memcmp(&one, &got, sizeof got) == 0);
        o.num_threads = 0;
        // The fused pass without gradient outputs: the same loss.
        const float fused = kldiv::forward_backward(x.get(), t.get(), kldiv::Shape(shape), o, nullptr, nullptr, 1.0f);
        CHECK(std::memcmp(&fused, &got, sizeof got) == 0);
      }
    }
  }
}
}  // TEST_SUITE("large")
