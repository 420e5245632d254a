// kldiv::backward and kldiv::forward_backward against PyTorch's own autograd gradients:
// tests/data/golden_backward.txt, written by tools/gen_golden.py with PyTorch 1.13 (the file's header
// describes its format); and both gradients against central differences of kldiv::forward.  Every golden
// case runs with every gradient block of the file on every ISA available here.
//
// What must agree with PyTorch, for d/d input and d/d target:
//   - NaN exactly where PyTorch has NaN (std::isnan on both sides; NaN bits are never compared);
//   - infinities exactly, sign included;
//   - zeros: where both results are zero, the same sign (as in test_golden.cpp);
//   - finite values within the tolerance below.
//
// THE TOLERANCE.  u is the unit roundoff of the dtype (2^-24, 2^-53); g the upstream gradient as autograd
// applies it to the element: grad_output[i] for none, else the file's `scaled` (grad_output / numel,
// / shape[0] or itself, rounded in the dtype: PyTorch scales g in the dtype, kldiv in double and then
// rounds to the dtype, so the two scaled values differ by at most an ulp and each is within u of the
// exact g).  Per element, the magnitudes the errors are stated in:
//   log_target = false:  d/dx = -g t                   S_x = |g t|
//                        d/dt = g log t + g - g x      S_t = |g log t| + |g| + |g x|
//   log_target = true:   d/dx = -g e^t                 S_x = |g| e^t
//                        d/dt = g (t-x) e^t + g e^t    S_t = |g| e^t (|t - x| + 1)
// Each side's error, to first order: u for the scaled g (reductions only), u per rounded product, sum or
// difference (the sums' errors are at most u S each), and the elementary functions' own: PyTorch's log
// is glibc's (< 1 ulp = 2u relative), its exp Sleef's (<= 1 ulp); kldiv's are measured in test_math.cpp
// (log <= 1.27 ulp, exp <= 1.01 ulp: <= 2.54u).  Counting operation by operation:
//   d/dx, probabilities:  PyTorch u + u = 2u S_x,          kldiv 2u S_x            -> 4u S_x
//   d/dx, log_target:     PyTorch u + 2u + u = 4u S_x,     kldiv 4.02u S_x         -> 8.02u S_x
//   d/dt, probabilities:  PyTorch u S + 3u|g log t| + 2u|g| + u|g x| + 2u S <= 6u S_t
//                         kldiv   u S + 3.54u|g log t| + 0 + u|g x| + 2u S <= 6.54u S_t    -> 12.54u S_t
//   d/dt, log_target:     PyTorch u S + 5u|g (t-x) e^t| + 3u|g e^t| + u S <= 7u S_t (t - x, g *, * e^t
//                         and e^t's 2u in the first term), kldiv 7.02u S_t                -> 14.02u S_t
// hence C = 8 for d/dx without log_target, 12 with it, and 16 for d/dt: a margin of 2 over the worst case
// for d/dx and of 1.1 to 1.3 for d/dt, whose worst case (every rounding at its maximum, in the same
// direction) does not occur.  Measured on this file, every ISA (KLDIV_GOLDEN_STATS=1 prints it): the
// largest |ours - torch| / (u S) is 2.15 for d/dx and 2.40 for d/dt.  A lost term (a missing g or g x), a
// wrong sign, a wrong divisor (a factor 2 or more), zero, or a result 64 ulps off fail, as the test case
// "golden backward: the comparison rejects wrong results" checks.
//
// Floors for subnormal results: a product or exp that lands below the smallest normal number errs by up
// to one denorm_min (dm) absolutely, not relatively; that error is then multiplied by what the value is
// multiplied by.  Both sides summed: d/dx 2 dm (probabilities), 4 dm (1 + |g|) (log_target); d/dt 4 dm
// (probabilities), 4 dm (1 + |g| (|t - x| + 1)) (log_target).
//
// AUTOGRAD'S (g*t)/t.  PyTorch differentiates xlogy(t, t) with respect to its second argument as
// (g * t) / t, rounded twice; kldiv computes g * (t/t), i.e. g times exactly 1 (or NaN where t/t is NaN:
// t = 0, -0, +inf, NaN).  Where g*t is a normal number the two differ by at most an ulp of g or so, which
// the C above does not even need.  Where g*t underflows (t subnormal or tiny, g < 1) PyTorch's quotient
// can be far from g -- e.g. g = 0.5, t = 2^-149: g t rounds to 0 and PyTorch's d/dt lacks the +g term
// entirely; where g*t overflows PyTorch's quotient is +-inf.  Nothing is excluded for this: the test
// recomputes PyTorch's quotient q = fl(fl(g t) / t) in the dtype, exactly as PyTorch does, and adds
// |q - g| to the tolerance of d/dt (also where it is an ulp).  The elements where |q - g| exceeds 2u|g|
// (an underflow) are counted, listed by the test case "golden backward: where autograd's (g*t)/t is not
// g", and their number is asserted; an overflow (q infinite) would make that test case fail, and the file
// has none (|g| <= 1 in it, so |g t| <= |t|).
//
// forward_backward: for every reduced block, its loss must have the bits of kldiv::forward and its
// gradients those of kldiv::backward (memcmp; any two NaNs are alike), and the loss must match PyTorch's
// within test_golden.cpp's reduction bound (C = 12, derived there).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
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

// What tools/gen_golden.py writes: a file that parses but holds fewer cases or blocks (say, a truncated
// one) must fail.
constexpr std::size_t kExpectedCases = 36;
constexpr std::size_t kExpectedBlocks = 212;
// The elements (summed over every block, before ISAs) where PyTorch's (g*t)/t is not within 2u|g| of g
// because g*t underflowed; listed by a test case below.  All are in the two edge_*_prob cases, at their
// subnormal t (float 1e-40 twice and 2^-149, double 1e-310 twice and 2^-1074; in columns 0 and 1), in
// every block but sum with grad_output 1 (g = 1 there, and g*t = t exactly): 2 x 3 x 2 x 6 = 72.
constexpr std::size_t kExpectedUnderflows = 72;

constexpr long double kInputC = 8;           // d/dx, probabilities
constexpr long double kInputLogC = 12;       // d/dx, log_target
constexpr long double kTargetC = 16;         // d/dt
constexpr long double kLossC = 12;           // the loss of forward_backward (test_golden.cpp's reduction C)

struct Block {
  Reduction reduction = Reduction::none;
  std::vector<double> grad_output;  // numel values for none, else 1
  double scaled = 0, loss = 0;      // reductions only
  bool seen_scaled = false, seen_loss = false;
  std::vector<double> grad_input, grad_target;
  bool seen_input = false, seen_target = false;
};

struct BackwardCase : golden_format::CaseHeader {
  std::vector<double> input, target;  // float32 cases hold float values, exactly
  std::vector<Block> blocks;
};

struct BackwardFile : golden_format::File<BackwardCase> {
  std::size_t blocks = 0;
};

// "<count> v..." into out; count must be `expected`.
void parse_array(std::istringstream& in, const std::string& key, const BackwardCase& c, std::size_t expected,
                 const golden_format::Location& at, std::vector<double>& out) {
  std::string first, token;
  if (!(in >> first)) at.fail(key + " without a count");
  const std::int64_t n = golden_format::parse_int(first, at);
  while (in >> token) out.push_back(golden_format::parse_value(token, at));
  if (static_cast<std::int64_t>(out.size()) != n) at.fail(key + ": count and values differ");
  if (out.size() != expected)
    at.fail(key + ": " + std::to_string(out.size()) + " values, expected " + std::to_string(expected));
  for (double v : out) golden_format::check_float32(c, v, key, at);
}

double parse_scalar(std::istringstream& in, const BackwardCase& c, const golden_format::Location& at,
                    const std::string& key) {
  std::string v;
  if (!(in >> v)) at.fail(key + " without a value");
  const double d = golden_format::parse_value(v, at);
  golden_format::check_float32(c, d, key, at);
  return d;
}

BackwardFile parse_backward(const std::string& path) {
  BackwardFile file;
  Block* b = nullptr;  // the open block
  auto close_block = [&](const BackwardCase& c, const golden_format::Location& at) {
    if (!b) return;
    const bool none = b->reduction == Reduction::none;
    if (!b->seen_input || !b->seen_target || b->grad_output.size() != (none ? c.numel : 1) ||
        (!none && (!b->seen_scaled || !b->seen_loss)))
      at.fail("incomplete grad block in " + c.name);
    b = nullptr;
  };
  auto read_key = [&](const std::string& key, std::istringstream& in, BackwardCase& c,
                      const golden_format::Location& at) {
    if (key == "input" || key == "target") {
      if (!c.shape_seen || b) at.fail(key + " out of place");
      parse_array(in, key, c, c.numel, at, key == "input" ? c.input : c.target);
    } else if (key == "grad") {
      if (c.input.size() != c.numel || c.target.size() != c.numel) at.fail("grad before input and target");
      close_block(c, at);
      std::string r;
      in >> r;
      c.blocks.emplace_back();
      b = &c.blocks.back();
      try {
        b->reduction = kldiv::parse_reduction(r);
      } catch (const std::exception&) {
        at.fail("bad reduction " + r);
      }
    } else if (!b) {
      at.fail("'" + key + "' outside a grad block");
    } else if (key == "grad_output") {
      parse_array(in, key, c, b->reduction == Reduction::none ? c.numel : 1, at, b->grad_output);
    } else if (key == "scaled" || key == "loss") {
      if (b->reduction == Reduction::none) at.fail(key + " in a none block");
      (key == "scaled" ? b->scaled : b->loss) = parse_scalar(in, c, at, key);
      (key == "scaled" ? b->seen_scaled : b->seen_loss) = true;
    } else if (key == "grad_input" || key == "grad_target") {
      parse_array(in, key, c, c.numel, at, key == "grad_input" ? b->grad_input : b->grad_target);
      (key == "grad_input" ? b->seen_input : b->seen_target) = true;
    } else if (key == "end") {
      close_block(c, at);
      if (!c.shape_seen || c.blocks.empty()) at.fail("incomplete case " + c.name);
      file.blocks += c.blocks.size();
      return true;
    } else {
      at.fail("unknown key '" + key + "'");
    }
    return false;
  };
  golden_format::parse(path, "kldiv-golden-backward", file, read_key);
  return file;
}

const BackwardFile& golden() {
  static const BackwardFile file = parse_backward(KLDIV_TEST_DATA "/golden_backward.txt");
  return file;
}

// ---- the tolerance -------------------------------------------------------------------------------

// tol = C u scale + floor + extra (extra: |autograd's (g t)/t - g|, for d/dt without log_target).
struct Bound {
  long double scale = 0, floor = 0, extra = 0;
};

struct ElementBounds {
  Bound x, t;
  bool underflow = false;  // autograd's (g t)/t is more than 2u|g| from g
  bool overflow = false;   // autograd's (g t)/t is infinite for a finite t != 0
};

// PyTorch's quotient (g * t) / t, each operation rounded in T, as its xlogy backward computes it.
template <class T>
T autograd_quotient(T g, T t) {
  volatile T product = g * t;  // volatile: two separate roundings, whatever the compiler's contraction
  return product / t;
}

template <class T>
ElementBounds element_bounds(T x, T t, T g, bool log_target) {
  constexpr long double dm = std::numeric_limits<T>::denorm_min();
  constexpr long double u = test::unit_roundoff<T>();
  const long double lx = x, lt = t, ag = std::fabs(static_cast<long double>(g));
  constexpr long double inf = std::numeric_limits<long double>::infinity();
  ElementBounds b;
  if (log_target) {
    const long double e = std::exp(lt);
    b.x = {ag * e, 4 * dm * (1 + ag), 0};
    b.t = {ag * e * (std::fabs(lt - lx) + 1), 4 * dm * (1 + ag * (std::fabs(lt - lx) + 1)), 0};
    return b;
  }
  b.x = {ag * std::fabs(lt), 2 * dm, 0};
  // Where t <= 0 or t is not finite, d/dt is NaN (PyTorch) and is compared before any tolerance.
  const long double log_t = lt > 0 && std::isfinite(lt) ? std::log(lt) : inf;
  b.t = {ag * (std::fabs(log_t) + 1 + std::fabs(lx)), 4 * dm, 0};
  if (std::isfinite(t) && t != 0) {
    const T q = autograd_quotient(g, t);
    if (std::isinf(q)) {
      b.overflow = true;
    } else if (!std::isnan(q)) {
      b.t.extra = std::fabs(static_cast<long double>(q) - static_cast<long double>(g));
      b.underflow = b.t.extra > 2 * u * ag;
    }
  }
  return b;
}

// Empty when `ours` agrees with `torch`, else why not.  ratio: the largest (err - floor - extra) / (u scale).
template <class T>
std::string disagreement(T ours, double torch, const Bound& b, long double c, long double* ratio = nullptr) {
  constexpr long double u = test::unit_roundoff<T>();
  if (std::isnan(torch)) return std::isnan(ours) ? "" : "PyTorch has NaN";
  if (std::isnan(ours)) return "ours is NaN";
  if (std::isinf(torch) || std::isinf(ours)) return static_cast<double>(ours) == torch ? "" : "infinities differ";
  if (torch == 0 && ours == 0) return std::signbit(torch) == std::signbit(ours) ? "" : "the signs of zero differ";
  const long double err = std::fabs(static_cast<long double>(ours) - static_cast<long double>(torch));
  const long double tol = c * u * b.scale + b.floor + b.extra;
  if (ratio && std::isfinite(b.scale) && b.scale > 0) {
    const long double excess = std::max(0.0L, err - b.floor - b.extra);
    *ratio = std::max(*ratio, excess / (u * b.scale));
  }
  if (err <= tol) return "";
  std::ostringstream s;
  s.precision(9);
  s << "|ours - torch| = " << static_cast<double>(err) << " > tolerance " << static_cast<double>(tol);
  return s.str();
}

template <class T>
bool same_bits(const T* a, const T* b, std::size_t n) {
  // A NaN's sign and payload are unspecified (x86 propagates an operand's NaN, and compilers may swap
  // the operands of commutative operations): two NaNs count as the same bits.
  for (std::size_t i = 0; i < n; ++i)
    if (!(std::isnan(a[i]) && std::isnan(b[i])) && std::memcmp(a + i, b + i, sizeof(T)) != 0) return false;
  return true;
}

// The bits of a value, in hex (NaN signs and payloads show).
template <class T>
std::string bits(T v) {
  std::uint64_t b = 0;
  std::memcpy(&b, &v, sizeof v);
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%0*llx", static_cast<int>(2 * sizeof v), static_cast<unsigned long long>(b));
  return buf;
}

// Empty if a and b have the same bits, else where they first differ.
template <class T>
std::string first_difference(const T* a, const T* b, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (!same_bits(a + i, b + i, 1))
      return " (first at element " + std::to_string(i) + ": " + bits(a[i]) + " vs " + bits(b[i]) + ")";
  return "";
}

long double divisor(const BackwardCase& c, Reduction r) {
  if (r == Reduction::mean) return static_cast<long double>(c.numel);
  if (r == Reduction::batchmean && !c.shape.empty()) return static_cast<long double>(c.shape[0]);
  return 1;
}

// The upstream gradient autograd applies to element i of block b.
double element_g(const Block& b, std::size_t i) {
  return b.reduction == Reduction::none ? b.grad_output[i] : b.scaled;
}

struct Stats {
  long double ratio_x = 0, ratio_t = 0, ratio_loss = 0;  // max (|ours - torch| - floor - extra) / (u scale)
  std::string worst_x, worst_t, worst_loss;
  std::size_t elements = 0, blocks = 0, fused = 0, nans = 0, infs = 0;
};

// One case, every block, on the active ISA; returns the disagreements, described.
template <class T>
std::vector<std::string> run_case(const BackwardCase& c, Stats& stats) {
  std::vector<std::string> problems;
  const std::vector<T> x(c.input.begin(), c.input.end()), t(c.target.begin(), c.target.end());
  const kldiv::Shape shape(c.shape);
  const std::size_t n = c.numel;
  constexpr T kSentinel = T(12345);  // a value no case expects: unwritten elements show

  for (std::size_t bi = 0; bi < c.blocks.size(); ++bi) {
    const Block& b = c.blocks[bi];
    const bool none = b.reduction == Reduction::none;
    const std::string where = c.name + " [" + kldiv::to_string(b.reduction) + ", grad_output " +
                              (none ? std::string("array") : hex(b.grad_output[0])) + "]";
    kldiv::Options options;
    options.reduction = b.reduction;
    options.log_target = c.log_target;
    const std::vector<T> go(b.grad_output.begin(), b.grad_output.end());

    std::vector<T> gx(n, kSentinel), gt(n, kSentinel);
    kldiv::backward(go.data(), x.data(), t.data(), shape, options, gx.data(), gt.data());
    for (std::size_t i = 0; i < n; ++i) {
      const ElementBounds eb = element_bounds(x[i], t[i], static_cast<T>(element_g(b, i)), c.log_target);
      const std::string data = "; x " + hex(static_cast<double>(x[i])) + ", t " + hex(static_cast<double>(t[i])) +
                               ", g " + hex(element_g(b, i));
      const long double bx = stats.ratio_x, bt = stats.ratio_t;
      const std::string wx =
          disagreement(gx[i], b.grad_input[i], eb.x, c.log_target ? kInputLogC : kInputC, &stats.ratio_x);
      const std::string wt = disagreement(gt[i], b.grad_target[i], eb.t, kTargetC, &stats.ratio_t);
      if (stats.ratio_x > bx) stats.worst_x = where + " element " + std::to_string(i);
      if (stats.ratio_t > bt) stats.worst_t = where + " element " + std::to_string(i);
      if (!wx.empty())
        problems.push_back(where + " d/dinput element " + std::to_string(i) + ": " + wx + "; torch " +
                           hex(b.grad_input[i]) + ", ours " + hex(static_cast<double>(gx[i])) + data);
      if (!wt.empty())
        problems.push_back(where + " d/dtarget element " + std::to_string(i) + ": " + wt + "; torch " +
                           hex(b.grad_target[i]) + ", ours " + hex(static_cast<double>(gt[i])) + data);
      stats.nans += std::isnan(b.grad_input[i]) + std::isnan(b.grad_target[i]);
      stats.infs += std::isinf(b.grad_input[i]) + std::isinf(b.grad_target[i]);
      ++stats.elements;
    }
    // Either output alone: the same bits.
    std::vector<T> gx_only(n, kSentinel), gt_only(n, kSentinel);
    kldiv::backward(go.data(), x.data(), t.data(), shape, options, gx_only.data(), nullptr);
    kldiv::backward(go.data(), x.data(), t.data(), shape, options, nullptr, gt_only.data());
    if (!same_bits(gx_only.data(), gx.data(), n))
      problems.push_back(where + ": backward(grad_input only) changes its bits" + first_difference(gx_only.data(), gx.data(), n));
    if (!same_bits(gt_only.data(), gt.data(), n))
      problems.push_back(where + ": backward(grad_target only) changes its bits" + first_difference(gt_only.data(), gt.data(), n));
    ++stats.blocks;
    if (none) continue;

    // The fused pass: forward's loss bits, backward's gradient bits, and PyTorch's loss.
    std::vector<T> fx(n, kSentinel), ft(n, kSentinel), fx_only(n, kSentinel);
    const T loss = kldiv::forward_backward(x.data(), t.data(), shape, options, fx.data(), ft.data(), go[0]);
    const T loss_x_only = kldiv::forward_backward(x.data(), t.data(), shape, options, fx_only.data(), nullptr, go[0]);
    T loss_forward = kSentinel;
    kldiv::forward(x.data(), t.data(), shape, options, &loss_forward);
    if (!same_bits(&loss, &loss_forward, 1))
      problems.push_back(where + ": forward_backward's loss " + bits(loss) + " has not the bits of forward's " +
                         bits(loss_forward));
    if (!same_bits(&loss_x_only, &loss_forward, 1))
      problems.push_back(where + ": forward_backward(grad_target = null)'s loss " + bits(loss_x_only) +
                         " has not the bits of forward's " + bits(loss_forward));
    if (!same_bits(fx.data(), gx.data(), n))
      problems.push_back(where + ": forward_backward's d/dinput is not backward's" + first_difference(fx.data(), gx.data(), n));
    if (!same_bits(ft.data(), gt.data(), n))
      problems.push_back(where + ": forward_backward's d/dtarget is not backward's" + first_difference(ft.data(), gt.data(), n));
    if (!same_bits(fx_only.data(), gx.data(), n))
      problems.push_back(where + ": forward_backward(grad_target = null)'s d/dinput is not backward's" +
                         first_difference(fx_only.data(), gx.data(), n));
    // PyTorch's loss, with test_golden.cpp's reduction bound.
    Bound lb;
    constexpr long double dm = std::numeric_limits<T>::denorm_min();
    for (std::size_t i = 0; i < n; ++i) {
      lb.scale += test::reference(x[i], t[i], c.log_target).scale;
      lb.floor += c.log_target ? 2 * dm * (1 + std::fabs(static_cast<long double>(t[i])) + std::fabs(static_cast<long double>(x[i])))
                               : 2 * dm;
    }
    const long double div = divisor(c, b.reduction);
    lb.scale /= div;  // 0/0 (mean of an empty input) is NaN; PyTorch's NaN is compared first
    lb.floor = lb.floor / div + 2 * dm;
    const long double before = stats.ratio_loss;
    const std::string wl = disagreement(loss, b.loss, lb, kLossC, &stats.ratio_loss);
    if (stats.ratio_loss > before) stats.worst_loss = where;
    if (!wl.empty())
      problems.push_back(where + " loss: " + wl + "; torch " + hex(b.loss) + ", ours " + hex(static_cast<double>(loss)));
    ++stats.fused;
  }
  return problems;
}

std::vector<std::string> run_case(const BackwardCase& c, Stats& stats) {
  return c.f64 ? run_case<double>(c, stats) : run_case<float>(c, stats);
}

const BackwardCase* find_case(const std::string& prefix) {
  for (const BackwardCase& c : golden().cases)
    if (c.name.rfind(prefix, 0) == 0) return &c;
  return nullptr;
}

std::string combo(const BackwardCase& c) { return std::string(c.f64 ? "f64" : "f32") + (c.log_target ? "_log" : "_prob"); }

}  // namespace

TEST_CASE("golden backward: the file parses and covers every dtype, log_target, reduction, shape and edge value") {
  const BackwardFile* file = nullptr;
  REQUIRE_NOTHROW(file = &golden());
  CHECK(file->torch_version.rfind("1.13", 0) == 0);
  REQUIRE(file->cases.size() == kExpectedCases);
  REQUIRE(file->blocks == kExpectedBlocks);

  std::map<std::string, int> count;
  for (const BackwardCase& c : file->cases) {
    CAPTURE(c.name);
    const std::string k = combo(c);
    CHECK(c.name.find(k) != std::string::npos);
    REQUIRE(!c.blocks.empty());
    CHECK(c.blocks[0].reduction == Reduction::none);  // every case has its none block first
    std::string dims;
    for (std::size_t i = 0; i < c.shape.size(); ++i) dims += (i ? "x" : "") + std::to_string(c.shape[i]);
    for (const char* kind : {"edge_", "shape_", "zeros_"})
      if (c.name.rfind(kind, 0) == 0) ++count[k + " " + kind];
    if (c.name.rfind("shape_", 0) == 0) ++count[k + " " + (dims.empty() ? "scalar" : dims)];
    for (const Block& b : c.blocks) {
      ++count[k + " " + kldiv::to_string(b.reduction) + (b.reduction == Reduction::none ? "" : " " + hex(b.grad_output[0]))];
      if (b.reduction == Reduction::none) continue;
      // scaled is grad_output divided like the reduction, in the dtype (for non-empty cases; an empty
      // case's is whatever PyTorch's division by zero gives).
      if (c.numel == 0) continue;
      const double want = b.grad_output[0] / static_cast<double>(divisor(c, b.reduction));
      CHECK(b.scaled == (c.f64 ? want : static_cast<double>(static_cast<float>(want))));
    }
    if (c.name.rfind("zeros_", 0) == 0) CHECK(std::count(c.target.begin(), c.target.end(), 0.0) > 0);
  }
  for (const char* k : {"f32_prob", "f32_log", "f64_prob", "f64_log"}) {
    const std::string s = k;
    CAPTURE(s);
    CHECK(count[s + " edge_"] == 1);
    CHECK(count[s + " zeros_"] == 1);
    for (const std::string dims : {"scalar", "0", "0x5", "3x0", "7", "4x33", "2x3x4x5"}) {
      CAPTURE(dims);
      CHECK(count[s + " " + dims] == 1);
    }
    CHECK(count[s + " none"] == 9);
    for (const char* r : {"mean", "sum", "batchmean"})
      for (double g : {1.0, -0.37}) {
        const std::string reduction = r;
        CAPTURE(reduction);
        CAPTURE(g);
        const double in_dtype = s.rfind("f32", 0) == 0 ? static_cast<double>(static_cast<float>(g)) : g;
        CHECK(count[s + " " + r + " " + hex(in_dtype)] >= 7);  // 7 cases with all six blocks
      }
  }

  // The edge values of the brief are present.
  auto has = [](const std::vector<double>& v, double want) {
    for (double e : v)
      if ((std::isnan(want) && std::isnan(e)) || (e == want && std::signbit(e) == std::signbit(want))) return true;
    return false;
  };
  for (const BackwardCase& c : file->cases) {
    if (c.name.rfind("edge_", 0) != 0) continue;
    CAPTURE(c.name);
    const double inf = INFINITY, nan = NAN;
    for (double v : {inf, -inf, nan}) CHECK(has(c.input, v));
    if (!c.log_target) {
      for (double v : {0.0, -0.0, -0.5, nan, inf}) CHECK(has(c.target, v));
    } else {
      for (double v : {inf, -inf, nan, -1000.0, 100.0, 0.0}) CHECK(has(c.target, v));
    }
  }
}

TEST_CASE("golden backward: kldiv::backward and forward_backward match PyTorch on every case, block and ISA") {
  const BackwardFile& file = golden();
  REQUIRE(file.cases.size() == kExpectedCases);
  REQUIRE(file.blocks == kExpectedBlocks);
  Stats stats;
  test::for_each_isa([&](const std::string&) {
    for (const BackwardCase& c : file.cases) {
      const std::vector<std::string> problems = run_case(c, stats);
      for (std::size_t i = 0; i < problems.size() && i < 8; ++i) FAIL_CHECK(problems[i]);
      CHECK_MESSAGE(problems.empty(), c.name << ": " << problems.size() << " disagreements");
    }
  });
  // Every value was looked at, on every ISA: each block's gradients, and each reduced block's fused pass.
  const std::size_t isas = test::isas().size();
  std::size_t elements = 0, reduced = 0;
  for (const BackwardCase& c : file.cases)
    for (const Block& b : c.blocks) {
      elements += c.numel;
      reduced += b.reduction != Reduction::none;
    }
  CHECK(stats.blocks == file.blocks * isas);
  CHECK(stats.elements == elements * isas);
  CHECK(stats.fused == reduced * isas);
  CHECK(stats.nans > 0);
  CHECK(stats.infs > 0);
  if (std::getenv("KLDIV_GOLDEN_STATS"))
    MESSAGE("max (|ours - torch| - floor - extra) / (u S): d/dinput " << static_cast<double>(stats.ratio_x) << " at "
                                                                        << stats.worst_x << "; d/dtarget "
                                                                        << static_cast<double>(stats.ratio_t) << " at "
                                                                        << stats.worst_t << "; fused loss "
                                                                        << static_cast<double>(stats.ratio_loss) << " at "
                                                                        << stats.worst_loss << "; " << stats.elements
                                                                        << " elements, " << stats.nans << " NaN and "
                                                                        << stats.infs << " inf gradients compared");
}

TEST_CASE("golden backward: where autograd's (g*t)/t is not g") {
  // The elements where PyTorch's (g*t)/t is more than 2u|g| away from g, because g*t underflowed, and
  // where their tolerance of d/dt is widened by that difference (see the top of this file).  Listed here
  // (grouped by case and t, with the largest difference relative to g), counted, and none where g*t
  // overflows.
  std::size_t underflows = 0, overflows = 0;
  std::set<std::string> cases;
  std::map<std::string, std::pair<std::size_t, long double>> groups;  // case and t -> count, max |q - g| / |g|
  for (const BackwardCase& c : golden().cases) {
    if (c.log_target) continue;
    for (const Block& b : c.blocks)
      for (std::size_t i = 0; i < c.numel; ++i) {
        const ElementBounds eb =
            c.f64 ? element_bounds(c.input[i], c.target[i], element_g(b, i), false)
                  : element_bounds(static_cast<float>(c.input[i]), static_cast<float>(c.target[i]),
                                   static_cast<float>(element_g(b, i)), false);
        overflows += eb.overflow;
        if (!eb.underflow) continue;
        ++underflows;
        cases.insert(c.name);
        auto& group = groups[c.name + ", t = " + hex(c.target[i])];
        ++group.first;
        group.second = std::max(group.second, eb.t.extra / std::fabs(static_cast<long double>(element_g(b, i))));
      }
  }
  for (const auto& [where, group] : groups)
    MESSAGE(where << ": " << group.first << " elements where autograd's (g*t)/t is not g, by up to "
                  << static_cast<double>(group.second) << " |g|; their d/dt tolerance includes |(g*t)/t - g|");
  CHECK(overflows == 0);
  CHECK(underflows == kExpectedUnderflows);
  CHECK(cases == std::set<std::string>{"edge_f32_prob_29x3", "edge_f64_prob_29x3"});
}

TEST_CASE("golden backward: the comparison rejects wrong results") {
  // The checks above must be able to fail.  On realistic data, gradients 64 ulps off, without the +g of
  // d/dt, with a wrong sign, scaled by a wrong divisor, or zero, are rejected; PyTorch's own are accepted.
  for (const char* name : {"shape_f32_prob_4x33", "shape_f64_prob_4x33", "shape_f32_log_4x33", "shape_f64_log_4x33"}) {
    const BackwardCase* c = find_case(name);
    REQUIRE(c != nullptr);
    CAPTURE(c->name);
    REQUIRE(c->blocks.size() == 2);
    auto run = [&](auto zero) {
      using T = decltype(zero);
      const long double cx = c->log_target ? kInputLogC : kInputC;
      for (const Block& b : c->blocks) {
        const std::string reduction = kldiv::to_string(b.reduction);
        CAPTURE(reduction);
        std::size_t accepted = 0, off_x = 0, off_t = 0, no_g = 0, sign = 0, zeros = 0, divisor2 = 0;
        for (std::size_t i = 0; i < c->numel; ++i) {
          const T x = static_cast<T>(c->input[i]), t = static_cast<T>(c->target[i]);
          const T g = static_cast<T>(element_g(b, i));
          const ElementBounds eb = element_bounds(x, t, g, c->log_target);
          const T tx = static_cast<T>(b.grad_input[i]), tt = static_cast<T>(b.grad_target[i]);
          accepted += disagreement(tx, b.grad_input[i], eb.x, cx).empty() &&
                      disagreement(tt, b.grad_target[i], eb.t, kTargetC).empty();
          T ox = tx, ot = tt;
          for (int k = 0; k < 64; ++k) {
            ox = std::nextafter(ox, tx > 0 ? T(1e30) : T(-1e30));
            ot = std::nextafter(ot, tt > 0 ? T(1e30) : T(-1e30));
          }
          off_x += !disagreement(ox, b.grad_input[i], eb.x, cx).empty();
          off_t += !disagreement(ot, b.grad_target[i], eb.t, kTargetC).empty();
          // Without the g of g*(t/t) (or g*e^t with log_target).
          const T missing = c->log_target ? static_cast<T>(tt - g * std::exp(t)) : static_cast<T>(tt - g);
          no_g += !disagreement(missing, b.grad_target[i], eb.t, kTargetC).empty();
          sign += !disagreement(static_cast<T>(-tx), b.grad_input[i], eb.x, cx).empty() &&
                  !disagreement(static_cast<T>(-tt), b.grad_target[i], eb.t, kTargetC).empty();
          zeros += !disagreement(T(0), b.grad_input[i], eb.x, cx).empty();
          divisor2 += !disagreement(static_cast<T>(tx / 2), b.grad_input[i], eb.x, cx).empty() &&
                      !disagreement(static_cast<T>(tt / 2), b.grad_target[i], eb.t, kTargetC).empty();
        }
        CHECK(accepted == c->numel);
        CHECK(off_x == c->numel);
        // d/dt's terms often nearly cancel (log t and x are both log-probabilities), so 64 ulps of the
        // result are then within 16u S; as in test_golden.cpp, most must still be rejected.
        CHECK(off_t > c->numel / 2);
        CHECK(no_g > c->numel * 9 / 10);
        CHECK(sign == c->numel);
        CHECK(zeros == c->numel);
        CHECK(divisor2 == c->numel);
      }
    };
    if (c->f64)
      run(0.0);
    else
      run(0.0f);
  }
  // NaN, inf and zero-sign placement.
  const Bound any{1, 0, 0};
  CHECK_FALSE(disagreement(1.0f, std::nan(""), any, kTargetC).empty());
  CHECK_FALSE(disagreement(std::nanf(""), 1.0, any, kTargetC).empty());
  CHECK_FALSE(disagreement(std::nanf(""), INFINITY, any, kTargetC).empty());
  CHECK_FALSE(disagreement(-INFINITY, INFINITY, any, kTargetC).empty());
  CHECK_FALSE(disagreement(3.0e38f, INFINITY, any, kTargetC).empty());
  CHECK_FALSE(disagreement(-0.0f, 0.0, any, kTargetC).empty());
  CHECK(disagreement(std::nanf(""), -std::nan(""), any, kTargetC).empty());
  // The widening for autograd's (g*t)/t applies only where it is due: at t = 2^-149 with g = 0.5, where
  // PyTorch's d/dt lacks the +g, a result with the +g passes, and one off by 2g does not.
  const ElementBounds eb = element_bounds(-5.0f, 0x1p-149f, 0.5f, false);
  CHECK(eb.underflow);
  const float torch = 0.5f * std::log(0x1p-149f) + 0.5f * 5.0f;
  CHECK(disagreement(torch + 0.5f, torch, eb.t, kTargetC).empty());
  CHECK_FALSE(disagreement(torch + 1.0f, torch, eb.t, kTargetC).empty());
  CHECK_FALSE(element_bounds(-5.0f, 0.375f, 0.5f, false).underflow);
  CHECK(element_bounds(-5.0f, 3e38f, 1.5f, false).overflow);
}

// ---- finite differences --------------------------------------------------------------------------
//
// On smooth data (t in (0.01, 1), or its log with log_target; x in (-5, -0.1)), f64, shape (4, 16):
// for each reduction, log_target, element i and variable v (x_i or t_i), the central difference
//   fd = G (L(v + h) - L(v - h)) / (2h)
// of L = kldiv::forward (element i of the output for none, with G = grad_output[i]; the reduced loss
// otherwise, with G the scalar grad_output) is compared with backward's gradient.  h is the power of 2
// nearest 1e-6 |v| (v +- h are then exact; the test checks it).  The error of fd, rigorously to first order:
//   - rounding: each L is within kldiv's documented forward bound e = 4u (S_all / divisor + |L|) of the
//     exact loss (README, "Accuracy"; S_all the sum over elements of |t log t| + |t x|, or the log_target
//     magnitudes), e = 4u s_i + dm for an element of none; so |G| (e+ + e-) / (2h);
//   - truncation: h^2 / 6 max |d^3 l / dv^3| over [v - h, v + h], times |G| / divisor: 0 for x (l is linear
//     in x); 1 / (t - h)^2 for t; e^(t + h) (|t - x| + h + 3) for t with log_target;
// and backward's own error is at most 8u S (half of the golden C = 16 above, S as above).  The tolerance
// is 2 (rounding + truncation) + 8u S: the factor 2 covers the second-order terms dropped above.  It is
// checked to stay below 1e-4 of d/dx itself and of the g (g e^t) term of d/dt (its largest ratio, 4e-5,
// is d/dx of sum at t ~ 0.01, x ~ -0.1: the documented bound counts the whole sum's rounding), so a lost
// term, a wrong sign or a wrong divisor fails by orders of magnitude; the largest |backward - fd| /
// tolerance measured is about 0.1 (KLDIV_GOLDEN_STATS=1 prints it).
namespace {

struct FdStats {
  long double worst = 0;      // max |backward - fd| / tolerance
  long double tightness = 0;  // max tolerance / term (see below)
  std::size_t compared = 0;
};

long double pow2_near(long double v) { return std::ldexp(1.0L, static_cast<int>(std::lround(std::log2(v)))); }

// The loss forward computes with element i of v (x or t) replaced by value; the element for none.
double loss_at(std::vector<double> x, std::vector<double> t, bool target, std::size_t i, double value,
               const std::vector<std::int64_t>& shape, const kldiv::Options& o) {
  (target ? t : x)[i] = value;
  if (o.reduction == Reduction::none) {
    std::vector<double> out(x.size());
    kldiv::forward(x.data(), t.data(), kldiv::Shape(shape), o, out.data());
    return out[i];
  }
  double out = 0;
  kldiv::forward(x.data(), t.data(), kldiv::Shape(shape), o, &out);
  return out;
}

void finite_differences(Reduction r, bool log_target, FdStats& stats) {
  const std::vector<std::int64_t> shape{4, 16};
  const std::size_t n = 64;
  constexpr long double u = test::unit_roundoff<double>();
  constexpr long double dm = std::numeric_limits<double>::denorm_min();
  test::Random rng(2024 + 10 * static_cast<int>(r) + log_target);
  std::vector<double> x(n), t(n), g(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double p = 0.01 + 0.99 * rng.uniform();
    t[i] = log_target ? std::log(p) : p;
    x[i] = -0.1 - 4.9 * rng.uniform();
    g[i] = 2 * rng.uniform() - 1;
  }
  kldiv::Options o;
  o.reduction = r;
  o.log_target = log_target;
  const bool none = r == Reduction::none;
  const double G = 0.75;
  const long double div = r == Reduction::mean ? n : r == Reduction::batchmean ? shape[0] : 1;
  std::vector<double> gx(n), gt(n);
  kldiv::backward(none ? g.data() : &G, x.data(), t.data(), kldiv::Shape(shape), o, gx.data(), gt.data());

  for (std::size_t i = 0; i < n; ++i) {
    const long double Gi = none ? g[i] : G;   // multiplies L
    const long double gs = none ? g[i] : G / div;  // the element's upstream gradient
    for (bool target : {false, true}) {
      CAPTURE(i);
      CAPTURE(target);
      const double v = target ? t[i] : x[i];
      const long double h = pow2_near(1e-6L * std::fabs(static_cast<long double>(v)));
      const double vp = static_cast<double>(v + h), vm = static_cast<double>(v - h);
      REQUIRE(static_cast<long double>(vp) - v == h);
      REQUIRE(v - static_cast<long double>(vm) == h);
      const double Lp = loss_at(x, t, target, i, vp, shape, o), Lm = loss_at(x, t, target, i, vm, shape, o);
      const long double fd = Gi * (static_cast<long double>(Lp) - Lm) / (2 * h);

      // Rounding: the documented forward bound at both points.
      auto forward_bound = [&](double vv, double L) {
        std::vector<double> xx = x, tt = t;
        (target ? tt : xx)[i] = vv;
        if (none) return 4 * u * test::reference(xx[i], tt[i], log_target).scale + dm;
        long double s = 0;
        for (std::size_t j = 0; j < n; ++j) s += test::reference(xx[j], tt[j], log_target).scale;
        return 4 * u * (s / div + std::fabs(static_cast<long double>(L)));
      };
      const long double rounding = std::fabs(Gi) * (forward_bound(vp, Lp) + forward_bound(vm, Lm)) / (2 * h);
      // Truncation: h^2/6 max|l'''| times the element's weight |gs|.
      const long double lt = t[i], lx = x[i];
      long double third = 0;
      if (target) third = log_target ? std::exp(lt + h) * (std::fabs(lt - lx) + h + 3) : 1 / ((lt - h) * (lt - h));
      const long double truncation = h * h / 6 * third * std::fabs(gs);
      // Backward's own error, and the term a wrong gradient would most plausibly lose: d/dx itself (-g t,
      // -g e^t), and for d/dt the g of g*(t/t) (g e^t with log_target).
      long double S, term;
      const long double ag = std::fabs(gs);
      if (log_target) {
        const long double e = std::exp(lt);
        S = target ? ag * e * (std::fabs(lt - lx) + 1) : ag * e;
        term = ag * e;
      } else {
        S = target ? ag * (std::fabs(std::log(lt)) + 1 + std::fabs(lx)) : ag * lt;
        term = target ? ag : ag * lt;
      }
      const long double tol = 2 * (rounding + truncation) + 8 * u * S;
      const double got = target ? gt[i] : gx[i];
      const long double err = std::fabs(static_cast<long double>(got) - fd);
      CHECK_MESSAGE(err <= tol, (std::string(kldiv::to_string(r)) + (log_target ? " log_target" : "") + (target ? " d/dt" : " d/dx"))
                                                    << " element " << i << ": backward " << hex(got) << ", fd "
                                                    << static_cast<double>(fd) << ", |diff| " << static_cast<double>(err)
                                                    << " > tol " << static_cast<double>(tol));
      stats.worst = std::max(stats.worst, err / tol);
      stats.tightness = std::max(stats.tightness, tol / term);
      ++stats.compared;
    }
  }
}

}  // namespace

TEST_CASE("gradients: finite differences") {
  FdStats stats;
  test::for_each_isa([&](const std::string&) {
    for (Reduction r : {Reduction::none, Reduction::mean, Reduction::sum, Reduction::batchmean})
      for (bool log_target : {false, true}) finite_differences(r, log_target, stats);
  });
  CHECK(stats.compared == test::isas().size() * 4 * 2 * 64 * 2);
  // The tolerance is far below the terms a wrong gradient would lose: it cannot hide in it.
  CHECK(stats.tightness < 1e-4L);
  if (std::getenv("KLDIV_GOLDEN_STATS"))
    MESSAGE("finite differences: max |backward - fd| / tolerance " << static_cast<double>(stats.worst)
                                                                   << ", max tolerance / term "
                                                                   << static_cast<double>(stats.tightness) << ", "
                                                                   << stats.compared << " compared");
}
