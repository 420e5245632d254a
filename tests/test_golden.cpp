// kldiv::forward against PyTorch's own results: tests/data/golden_forward.txt, written by
// tools/gen_golden.py with PyTorch 1.13 (the file's header describes its format).  Every case runs with
// every reduction on every ISA available here.
//
// What must agree:
//   - NaN exactly where PyTorch has NaN (std::isnan on both sides; NaN bits are never compared);
//   - infinities exactly, sign included;
//   - zeros: where both results are zero, the same sign (PyTorch's sum of -0.0 terms is +0.0, and
//     exp(-1000) * (-1000 - 0) is -0.0 in 'none');
//   - finite values within the tolerance below.
//
// The tolerance, with u the unit roundoff of the dtype (2^-24, 2^-53) and, per element,
//   s = |t log t| + |t x|      (|e^t t| + |e^t x| with log_target: test::reference's scale).
// PyTorch is not a bit-exact reference: it computes l = f32(f32(t * logf(t)) - f32(t * x)) with glibc's
// logf and exp(t) with Sleef's exp, each within 1 ulp (a relative 2u), so to first order
//   log_target = false:  |l_torch - l| <= (2u + u)|t log t| + u|t x| + u(|t log t| + |t x|) <= 4u s,
//   log_target = true:   |l_torch - l| <= (2u + u + u) e^t |t - x|                            <= 4u s,
// with l the exact loss; on this file the largest |l_torch - l| / (u s) is 1.78 (measured against
// test::reference in long double).  kldiv documents |l_ours - l| <= 4u s (README; test_accuracy.cpp
// checks it), so any kldiv within its own bound satisfies
//   |ours - torch| <= (4 + 1.78) u s,          and we use C = 8 per element.
// The largest |ours - torch| / (u s) measured here is 2.01 (KLDIV_GOLDEN_STATS=1 prints it): C = 8 has a
// margin of 4 over today's kldiv, yet a log or exp a few ulps worse than documented, a lost term or a
// wrong sign fails.
//
// Reductions: S = sum s_i / divisor.  kldiv sums exactly (double-double) and rounds once; its documented
// bound is 4u (sum s_i + |sum l_i|) / divisor <= 8u S.  PyTorch sums in the working precision (a cascade,
// whose worst case grows with its depth); its measured error on this file is at most 2.08u S, in
// zeros_f32_log_4x15, sum.  Hence C = 12 >= 8 + 2.08 for mean, sum and batchmean (measured
// |ours - torch| <= 1.87u S).  A wrong divisor, a dropped element or a float-precision naive sum are
// errors of order S itself, or 10^3 u S and more, far outside.
//
// A floor for subnormal results: an exp or product that lands below the smallest normal number has an
// absolute error of up to one denorm_min (rather than a relative one), multiplied by |t - x| with
// log_target; e.g. float exp(-103.9) rounds to 2^-149, and PyTorch's l = -103.9 * 2^-149 is 1.9 times
// the exact value.  Per element: 2 denorm_min (1 + |t| + |x|) with log_target, 2 denorm_min without; for a
// reduction, the sum of those over the elements, divided like the reduction, plus 2 denorm_min.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "golden_format.hpp"
#include "support.hpp"

#ifndef KLDIV_TEST_DATA
#error "KLDIV_TEST_DATA must name the tests/data directory"
#endif

namespace {

using golden_format::hex;
using kldiv::Reduction;

// The number of case blocks tools/gen_golden.py writes; a file that parses but holds fewer (say, a
// truncated one) must fail.
constexpr std::size_t kExpectedCases = 164;

constexpr long double kElementC = 8;
constexpr long double kReductionC = 12;

struct GoldenCase : golden_format::CaseHeader {
  std::vector<double> input, target;  // float32 cases hold float values, exactly
  bool has_none = false;
  std::vector<double> none;
  double mean = 0, sum = 0, batchmean = 0;
  bool seen_mean = false, seen_sum = false, seen_batchmean = false;

  double reduced(Reduction r) const { return r == Reduction::mean ? mean : r == Reduction::sum ? sum : batchmean; }
};

using GoldenFile = golden_format::File<GoldenCase>;

// "<key> <count> v..." or "<key> same <index>" (input, target) or "none omitted".
void parse_array(std::istringstream& in, const std::string& key, const GoldenFile& file, GoldenCase& c,
                 const golden_format::Location& at, std::vector<double>& out) {
  std::string first;
  if (!(in >> first)) at.fail(key + " without values");
  if (first == "same" && key != "none") {
    std::string idx;
    in >> idx;
    const std::int64_t i = golden_format::parse_int(idx, at);
    if (i >= c.index) at.fail(key + " refers to a later case");
    const GoldenCase& src = file.cases[static_cast<std::size_t>(i)];
    out = key == "input" ? src.input : src.target;
  } else if (first == "omitted" && key == "none") {
    c.has_none = false;
    return;
  } else {
    const std::int64_t n = golden_format::parse_int(first, at);
    out.reserve(static_cast<std::size_t>(n));
    std::string token;
    while (in >> token) out.push_back(golden_format::parse_value(token, at));
    if (static_cast<std::int64_t>(out.size()) != n) at.fail(key + ": count and values differ");
    if (key == "none") c.has_none = true;
  }
  if (out.size() != c.numel)
    at.fail(key + ": " + std::to_string(out.size()) + " values for numel " + std::to_string(c.numel));
  for (double v : out) golden_format::check_float32(c, v, key, at);
}

GoldenFile parse_golden(const std::string& path) {
  GoldenFile file;
  auto read_key = [&](const std::string& key, std::istringstream& in, GoldenCase& c,
                      const golden_format::Location& at) {
    if (key == "input" || key == "target" || key == "none") {
      if (!c.shape_seen) at.fail(key + " before shape");
      parse_array(in, key, file, c, at, key == "input" ? c.input : key == "target" ? c.target : c.none);
    } else if (key == "mean" || key == "sum" || key == "batchmean") {
      std::string v;
      in >> v;
      const double value = golden_format::parse_value(v, at);
      (key == "mean" ? c.mean : key == "sum" ? c.sum : c.batchmean) = value;
      (key == "mean" ? c.seen_mean : key == "sum" ? c.seen_sum : c.seen_batchmean) = true;
    } else if (key == "end") {
      if (!c.shape_seen || c.input.size() != c.numel || c.target.size() != c.numel || !c.seen_mean || !c.seen_sum ||
          !c.seen_batchmean)
        at.fail("incomplete case " + c.name);
      return true;
    } else {
      at.fail("unknown key '" + key + "'");
    }
    return false;
  };
  golden_format::parse(path, "kldiv-golden-forward", file, read_key);
  return file;
}

const GoldenFile& golden() {
  static const GoldenFile file = parse_golden(KLDIV_TEST_DATA "/golden_forward.txt");
  return file;
}

// ---- comparison ----------------------------------------------------------------------------------

// The magnitudes a result is compared in: C u scale + floor.
struct Bound {
  long double scale = 0;
  long double floor = 0;
};

template <class T>
Bound element_bound(T x, T t, bool log_target) {
  constexpr long double dm = std::numeric_limits<T>::denorm_min();
  const test::Reference r = test::reference(x, t, log_target);
  Bound b;
  b.scale = r.scale;
  b.floor = log_target ? 2 * dm * (1 + std::fabs(static_cast<long double>(t)) + std::fabs(static_cast<long double>(x)))
                       : 2 * dm;
  return b;
}

// Empty when `ours` agrees with `torch`, else why not.
template <class T>
std::string disagreement(T ours, double torch, const Bound& b, long double c, long double* ratio = nullptr) {
  constexpr long double u = test::unit_roundoff<T>();
  if (std::isnan(torch)) return std::isnan(ours) ? "" : "PyTorch has NaN";
  if (std::isnan(ours)) return "ours is NaN";
  if (std::isinf(torch) || std::isinf(ours)) return static_cast<double>(ours) == torch ? "" : "infinities differ";
  if (torch == 0 && ours == 0)
    return std::signbit(torch) == std::signbit(ours) ? "" : "the signs of zero differ";
  const long double err = std::fabs(static_cast<long double>(ours) - static_cast<long double>(torch));
  const long double tol = c * u * b.scale + b.floor;
  if (ratio && std::isfinite(b.scale) && b.scale > 0) {
    const long double excess = err > b.floor ? err - b.floor : 0;
    *ratio = std::max(*ratio, excess / (u * b.scale));
  }
  if (err <= tol) return "";
  std::ostringstream s;
  s.precision(9);
  s << "|ours - torch| = " << static_cast<double>(err) << " > tolerance " << static_cast<double>(tol);
  return s.str();
}

struct Stats {
  long double element_ratio = 0, reduction_ratio = 0;  // max (|ours - torch| - floor) / (u scale)
  std::string element_worst, reduction_worst;          // where those maxima are
  std::size_t elements = 0, reductions = 0;
};

// Runs one case with every reduction on the active ISA; returns the disagreements, described.
template <class T>
std::vector<std::string> run_case(const GoldenCase& c, Stats& stats) {
  std::vector<std::string> problems;
  const std::vector<T> x(c.input.begin(), c.input.end()), t(c.target.begin(), c.target.end());
  const kldiv::Shape shape(c.shape);
  auto note = [&](const std::string& what, const std::string& where, double torch, T ours, const std::string& data) {
    problems.push_back(c.name + " [" + where + "]: " + what + "; torch " + hex(torch) + ", ours " +
                       hex(static_cast<double>(ours)) + data);
  };

  kldiv::Options options;
  options.log_target = c.log_target;

  std::vector<Bound> bounds(c.numel);
  for (std::size_t i = 0; i < c.numel; ++i) bounds[i] = element_bound(x[i], t[i], c.log_target);

  if (c.has_none) {
    options.reduction = Reduction::none;
    std::vector<T> out(c.numel, T(12345));  // a value no case expects: unwritten elements show
    kldiv::forward(x.data(), t.data(), shape, options, out.data());
    for (std::size_t i = 0; i < c.numel; ++i) {
      const long double before = stats.element_ratio;
      const std::string why = disagreement(out[i], c.none[i], bounds[i], kElementC, &stats.element_ratio);
      if (stats.element_ratio > before) stats.element_worst = c.name + " element " + std::to_string(i);
      if (!why.empty())
        note(why, "none, element " + std::to_string(i), c.none[i], out[i],
             "; x " + hex(static_cast<double>(x[i])) + ", t " + hex(static_cast<double>(t[i])));
      ++stats.elements;
    }
  }

  // The reductions' bound: the elements' magnitudes and floors, summed and divided like the reduction.
  long double scale = 0, floor = 0;
  for (const Bound& b : bounds) {
    scale += b.scale;
    floor += b.floor;
  }
  for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::batchmean}) {
    options.reduction = r;
    T out = T(12345);
    kldiv::forward(x.data(), t.data(), shape, options, &out);
    const long double divisor = r == Reduction::mean                                ? static_cast<long double>(c.numel)
                                : r == Reduction::batchmean && !c.shape.empty() ? static_cast<long double>(c.shape[0])
                                                                                  : 1.0L;
    Bound b;
    // 0/0 (mean of an empty input) makes scale NaN; PyTorch's NaN is then compared before the bound.
    b.scale = scale / divisor;
    b.floor = floor / divisor + 2 * static_cast<long double>(std::numeric_limits<T>::denorm_min());
    const double torch = c.reduced(r);
    const long double before = stats.reduction_ratio;
    const std::string why = disagreement(out, torch, b, kReductionC, &stats.reduction_ratio);
    if (stats.reduction_ratio > before) stats.reduction_worst = c.name + " " + kldiv::to_string(r);
    if (!why.empty()) note(why, kldiv::to_string(r), torch, out, "");
    ++stats.reductions;
  }
  return problems;
}

std::vector<std::string> run_case(const GoldenCase& c, Stats& stats) {
  return c.f64 ? run_case<double>(c, stats) : run_case<float>(c, stats);
}

const GoldenCase* find_case(const std::string& name) {
  for (const GoldenCase& c : golden().cases)
    if (c.name == name) return &c;
  return nullptr;
}

}  // namespace

TEST_CASE("golden: the file parses and covers every dtype, log_target, shape and edge value") {
  const GoldenFile* file = nullptr;
  REQUIRE_NOTHROW(file = &golden());
  CHECK(file->torch_version.rfind("1.13", 0) == 0);
  REQUIRE(file->cases.size() == kExpectedCases);

  // Every combination holds edge cases, every listed shape, nearly equal data and exact zeros in t.
  std::map<std::string, int> count;
  std::size_t none_values = 0;
  for (const GoldenCase& c : file->cases) {
    const std::string combo = std::string(c.f64 ? "f64" : "f32") + (c.log_target ? "_log" : "_prob");
    CAPTURE(c.name);
    CHECK(c.name.find(combo) != std::string::npos);
    for (const char* kind : {"edge_", "shape_", "near_equal_", "zeros_"})
      if (c.name.rfind(kind, 0) == 0) ++count[combo + " " + kind];
    std::string dims;
    for (std::size_t i = 0; i < c.shape.size(); ++i) dims += (i ? "x" : "") + std::to_string(c.shape[i]);
    if (c.name.rfind("shape_", 0) == 0) ++count[combo + " " + (dims.empty() ? "scalar" : dims)];
    if (c.name.rfind("zeros_", 0) == 0) {
      std::size_t zeros = 0;
      for (double v : c.target) zeros += v == 0;
      CHECK(zeros > 0);
    }
    if (c.has_none) none_values += c.none.size();
  }
  for (const char* combo : {"f32_prob", "f32_log", "f64_prob", "f64_log"}) {
    CAPTURE(combo);
    const std::string k = combo;
    CHECK(count[k + " edge_"] >= 19);
    CHECK(count[k + " near_equal_"] == 1);
    CHECK(count[k + " zeros_"] == 2);
    for (const char* dims : {"scalar", "0", "0x5", "3x0", "1", "7", "17", "4x33", "2x3x4x5", "3x1000"}) {
      CAPTURE(dims);
      CHECK(count[k + " " + dims] == 1);
    }
  }
  CHECK(none_values > 3000);
}

TEST_CASE("golden: kldiv::forward matches PyTorch on every case, reduction and ISA") {
  const GoldenFile& file = golden();
  REQUIRE(file.cases.size() == kExpectedCases);
  Stats stats;
  test::for_each_isa([&](const std::string&) {
    for (const GoldenCase& c : file.cases) {
      const std::vector<std::string> problems = run_case(c, stats);
      for (std::size_t i = 0; i < problems.size() && i < 5; ++i) FAIL_CHECK(problems[i]);
      CHECK_MESSAGE(problems.empty(), c.name << ": " << problems.size() << " disagreements");
    }
  });
  // Every value was looked at: 3 reductions per case, and every recorded 'none' element, per ISA.
  const std::size_t isas = test::isas().size();
  std::size_t none_values = 0;
  for (const GoldenCase& c : file.cases) none_values += c.has_none ? c.none.size() : 0;
  CHECK(stats.reductions == 3 * file.cases.size() * isas);
  CHECK(stats.elements == none_values * isas);
  if (std::getenv("KLDIV_GOLDEN_STATS"))
    MESSAGE("max (|ours - torch| - floor) / (u scale): elements " << static_cast<double>(stats.element_ratio)
                                                                   << " at " << stats.element_worst << " (C = "
                                                                   << static_cast<double>(kElementC) << "), reductions "
                                                                   << static_cast<double>(stats.reduction_ratio) << " at "
                                                                   << stats.reduction_worst << " (C = "
                                                                   << static_cast<double>(kReductionC) << ")");
}

TEST_CASE("golden: mean of an empty input is NaN for PyTorch and for kldiv; sum is 0") {
  int checked = 0;
  for (const GoldenCase& c : golden().cases) {
    if (c.numel != 0) continue;
    CAPTURE(c.name);
    CHECK(std::isnan(c.mean));
    CHECK(c.sum == 0);
    // batchmean divides by shape[0]: NaN for (0,) and (0, 5), 0 for (3, 0).
    CHECK(std::isnan(c.batchmean) == (c.shape[0] == 0));
    test::for_each_isa([&](const std::string&) {
      kldiv::Options options;
      options.log_target = c.log_target;
      options.reduction = Reduction::mean;
      const kldiv::Shape shape(c.shape);
      if (c.f64) {
        double out = 0;
        kldiv::forward(static_cast<const double*>(nullptr), nullptr, shape, options, &out);
        CHECK(std::isnan(out));
      } else {
        float out = 0;
        kldiv::forward(static_cast<const float*>(nullptr), nullptr, shape, options, &out);
        CHECK(std::isnan(out));
      }
      ++checked;
    });
  }
  CHECK(checked == 12 * static_cast<int>(test::isas().size()));  // 3 empty shapes x 4 combinations
}

TEST_CASE("golden: the comparison rejects wrong results") {
  // The checks above must be able to fail: wrong values, all zeros and wrong NaN/inf placement are caught.
  const GoldenCase* c = find_case("shape_f32_prob_4x33");
  REQUIRE(c != nullptr);
  REQUIRE(c->has_none);
  Stats stats;
  std::size_t rejected_zero = 0, rejected_ulps = 0, accepted_exact = 0;
  for (std::size_t i = 0; i < c->numel; ++i) {
    const float x = static_cast<float>(c->input[i]), t = static_cast<float>(c->target[i]);
    const Bound b = element_bound(x, t, false);
    const float torch = static_cast<float>(c->none[i]);
    accepted_exact += disagreement(torch, c->none[i], b, kElementC).empty();
    rejected_zero += !disagreement(0.0f, c->none[i], b, kElementC).empty();
    // 64 ulps of the result away: far more than the error of either side, unless t log t and t x cancel.
    float off = torch;
    for (int k = 0; k < 64; ++k) off = std::nextafter(off, torch > 0 ? 1e30f : -1e30f);
    rejected_ulps += !disagreement(off, c->none[i], b, kElementC).empty();
  }
  CHECK(accepted_exact == c->numel);
  CHECK(rejected_zero > c->numel * 9 / 10);
  CHECK(rejected_ulps > c->numel / 2);
  const Bound any{1, 0};
  CHECK_FALSE(disagreement(1.0f, std::nan(""), any, kElementC).empty());
  CHECK_FALSE(disagreement(std::nanf(""), 1.0, any, kElementC).empty());
  CHECK_FALSE(disagreement(-INFINITY, INFINITY, any, kElementC).empty());
  CHECK_FALSE(disagreement(3.0e38f, INFINITY, any, kElementC).empty());
  CHECK_FALSE(disagreement(-0.0f, 0.0, any, kElementC).empty());
  CHECK(disagreement(std::nanf(""), -std::nan(""), any, kElementC).empty());

  // A reduction off by one part in 10^5 (say, a wrong divisor or a lost element) fails.
  const GoldenCase* big = find_case("shape_f32_prob_3x1000");
  REQUIRE(big != nullptr);
  long double scale = 0;
  for (std::size_t i = 0; i < big->numel; ++i)
    scale += element_bound(static_cast<float>(big->input[i]), static_cast<float>(big->target[i]), false).scale;
  const Bound sum_bound{scale, 0};
  const float sum = static_cast<float>(big->sum);
  CHECK(disagreement(sum, big->sum, sum_bound, kReductionC).empty());
  CHECK_FALSE(disagreement(sum * (1 + 1e-5f), big->sum, sum_bound, kReductionC).empty());
  CHECK_FALSE(disagreement(static_cast<float>(big->batchmean), big->sum, sum_bound, kReductionC).empty());
}
