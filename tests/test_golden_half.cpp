// kldiv's bf16 and f16 functions against PyTorch 1.13.1's kl_div and autograd in those dtypes
// (tests/data/golden_half.txt, from tools/gen_golden_half.py), on every ISA.  PyTorch rounds to the half
// type after each of its operations, kldiv once, so they may differ by a few ulps of the type: at most
// kMaxUlps (README, "bf16 and f16"); inf and NaN must agree exactly (NaN as any NaN).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "support.hpp"

namespace {

// Measured maxima, in ulps of the terms (see error()): bf16 1 for the losses and 2 for the gradients, f16
// 0.5 and 11, the latter a mean's gradient, whose terms g/numel * t PyTorch rounds near f16's subnormals
// (README, "bf16 and f16").
constexpr double kMaxUlps = 2, kMaxUlpsF16Gradients = 11;

struct Case {
  std::string name, dtype, reduction;
  bool log_target = false;
  std::vector<std::int64_t> shape;
  std::vector<std::uint16_t> input, target, grad_output, out, grad_input, grad_target;
};

std::vector<std::uint16_t> read_bits(std::istringstream& line) {
  std::size_t n = 0;
  line >> n;
  std::vector<std::uint16_t> v(n);
  for (auto& b : v) {
    std::string s;
    line >> s;
    b = static_cast<std::uint16_t>(std::stoul(s, nullptr, 16));
  }
  return v;
}

std::vector<Case> load() {
  std::ifstream in(std::string(KLDIV_TEST_DATA) + "/golden_half.txt");
  REQUIRE(in.good());
  std::vector<Case> cases;
  std::string text;
  while (std::getline(in, text)) {
    std::istringstream line(text);
    std::string key;
    line >> key;
    if (key == "case") {
      cases.emplace_back();
      line >> key >> cases.back().name;
    } else if (cases.empty()) {
      continue;
    } else if (key == "dtype") {
      line >> cases.back().dtype;
    } else if (key == "log_target") {
      int v = 0;
      line >> v;
      cases.back().log_target = v != 0;
    } else if (key == "reduction") {
      line >> cases.back().reduction;
    } else if (key == "shape") {
      int ndim = 0;
      line >> ndim;
      cases.back().shape.resize(ndim);
      for (auto& s : cases.back().shape) line >> s;
    } else if (key == "input" || key == "target" || key == "grad_output" || key == "out" || key == "grad_input" ||
               key == "grad_target") {
      Case& c = cases.back();
      std::vector<std::uint16_t>* field = key == "input" ? &c.input : key == "target" ? &c.target
                                        : key == "grad_output" ? &c.grad_output : key == "out" ? &c.out
                                        : key == "grad_input" ? &c.grad_input : &c.grad_target;
      *field = read_bits(line);
    }
  }
  return cases;
}

// |got - want| in ulps of the type at the scale of the terms that make the value (scale, see below):
// where terms cancel, each of PyTorch's roundings is an ulp of a term, not of the result.  Where the scale
// is not finite (inf, NaN inputs) in ulps of the value itself.  inf and NaN must agree (NaN as any NaN).
template <class E>
double error(E got, std::uint16_t want_bits, double scale) {
  constexpr int p = std::is_same_v<E, kldiv::bf16> ? 7 : 10;  // mantissa bits
  const double x = kldiv::to_float(got), y = kldiv::to_float(E{want_bits});
  if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y) ? 0 : 1e9;
  if (std::isinf(x) || std::isinf(y)) return x == y ? 0 : 1e9;
  const double s = std::isfinite(scale) ? std::max(scale, std::fabs(y)) : std::fabs(y);
  const int emin = std::is_same_v<E, kldiv::bf16> ? -126 : -14;
  return std::fabs(x - y) / std::ldexp(1.0, std::max(s == 0 ? emin : std::ilogb(s), emin) - p);
}

template <class E>
std::vector<E> as(const std::vector<std::uint16_t>& bits) {
  std::vector<E> v;
  for (auto b : bits) v.push_back(E{b});
  return v;
}

struct Worst {
  double loss = 0, grad = 0;
  int skipped = 0;
};

template <class E>
void check(const Case& c, Worst& worst) {
  kldiv::Options options;
  options.reduction = kldiv::parse_reduction(c.reduction);
  options.log_target = c.log_target;
  const kldiv::Shape shape(c.shape);
  const auto x = as<E>(c.input), t = as<E>(c.target), g = as<E>(c.grad_output);
  const std::size_t n = x.size();
  std::vector<E> out(c.out.size()), gi(n), gt(n);
  kldiv::forward(x.data(), t.data(), shape, options, out.data());
  kldiv::backward(g.data(), x.data(), t.data(), shape, options, gi.data(), gt.data());
  const bool none = options.reduction == kldiv::Reduction::none;
  const double divisor = options.reduction == kldiv::Reduction::mean ? static_cast<double>(n)
                         : options.reduction == kldiv::Reduction::batchmean ? static_cast<double>(c.shape[0]) : 1.0;
  // Each element's terms: l = t log t - t x or e^t (t - x); d/dx = -g t or -g e^t; d/dt = g log t + g - g x
  // or g (t - x) e^t + g e^t.
  double loss_scale = 0, loss_err = 0, grad_err = 0;
  int& skipped = worst.skipped;
  for (std::size_t i = 0; i < n; ++i) {
    const double xi = kldiv::to_float(x[i]), ti = kldiv::to_float(t[i]);
    const double gi_ = none ? kldiv::to_float(g[i]) : kldiv::to_float(g[0]) / divisor;
    double ls, is, ts;
    if (c.log_target) {
      const double e = std::exp(ti);
      ls = std::fabs(e * ti) + std::fabs(e * xi);
      is = std::fabs(gi_ * e);
      ts = std::fabs(gi_ * (ti - xi) * e) + is;
    } else {
      const double lt = ti > 0 ? std::log(ti) : 0;
      ls = std::fabs(ti * lt) + std::fabs(ti * xi);
      is = std::fabs(gi_ * ti);
      ts = std::fabs(gi_ * lt) + std::fabs(gi_) + std::fabs(gi_ * xi);
    }
    loss_scale += ls;
    if (none) loss_err = std::max(loss_err, error(out[i], c.out[i], ls));
    grad_err = std::max(grad_err, error(gi[i], c.grad_input[i], is));
    // PyTorch's f16 d/dt is off at subnormal t (by about g; README, "bf16 and f16"): not compared there.
    const bool subnormal_f16 = std::is_same_v<E, kldiv::f16> && ti != 0 && std::fabs(ti) < 0x1p-14;
    if (!subnormal_f16) grad_err = std::max(grad_err, error(gt[i], c.grad_target[i], ts));
    skipped += subnormal_f16;
  }
  if (!none) loss_err = error(out[0], c.out[0], loss_scale / divisor);
  CHECK(loss_err <= kMaxUlps);
  CHECK(grad_err <= (std::is_same_v<E, kldiv::f16> ? kMaxUlpsF16Gradients : kMaxUlps));
  worst.loss = std::max(worst.loss, loss_err);
  worst.grad = std::max(worst.grad, grad_err);
}

}  // namespace

TEST_CASE("golden half: PyTorch 1.13.1's bf16 and f16 kl_div and gradients, on every ISA") {
  const std::vector<Case> cases = load();
  CHECK(cases.size() == 24);
  test::for_each_isa([&](const std::string& isa) {
    Worst b, h;
    for (const Case& c : cases) {
      CAPTURE(c.name);
      if (c.dtype == "bf16")
        check<kldiv::bf16>(c, b);
      else
        check<kldiv::f16>(c, h);
    }
    MESSAGE(isa << ": max ulps (of the terms) from PyTorch: bf16 loss " << b.loss << ", gradients " << b.grad
                << "; f16 loss " << h.loss << ", gradients " << h.grad << " (d/dt not compared at " << h.skipped
                << " subnormal targets)");
    CHECK(b.skipped == 0);
  });
}
