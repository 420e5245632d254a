// The logits API against PyTorch 1.13.1's composition (tests/data/golden_logits.txt, written by
// tools/gen_golden_logits.py; its header gives the format): every divergence, temperature, T^2,
// labels, reduction and the autograd gradient, contiguous and strided (padding NaN, never read).
#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "logits_support.hpp"

namespace {

struct GoldenCase {
  std::string name, dtype_p, dtype_q, divergence;
  std::int64_t rows = 0, cols = 0;
  std::uint64_t seed_p = 0, seed_q = 0;
  int mask = 0;
  double beta = 0, temperature = 0;
  bool tsq = false, labels = false;
  std::vector<double> none, reduced, grad;  // grad: full, or empty with the summary below
  double grad_sum = 0, grad_sq = 0;
  std::vector<std::pair<std::int64_t, double>> samples;
};

double value(const std::string& t) {
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  if (t.empty() || *end) throw std::runtime_error("bad value " + t);
  return v;
}

std::vector<double> values(std::istringstream& in) {
  std::vector<double> v;
  for (std::string t; in >> t;) v.push_back(value(t));
  return v;
}

std::vector<GoldenCase> read_golden() {
  const std::string path = std::string(KLDIV_TEST_DATA) + "/golden_logits.txt";
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::vector<GoldenCase> cases;
  std::size_t declared = 0;
  bool magic = false;
  for (std::string line; std::getline(f, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    std::string key;
    in >> key;
    if (key == "kldiv-golden-logits") {
      int version = 0;
      in >> version;
      magic = version == 1;
    } else if (key == "torch" || key == "end") {
    } else if (key == "cases") {
      in >> declared;
    } else if (key == "case") {
      cases.emplace_back();
      in >> cases.back().name;
    } else if (cases.empty()) {
      throw std::runtime_error(path + ": '" + key + "' outside a case");
    } else if (GoldenCase& c = cases.back(); key == "input") {
      in >> c.dtype_p >> c.dtype_q >> c.rows >> c.cols >> c.seed_p >> c.seed_q >> c.mask;
    } else if (key == "options") {
      std::string beta, t;
      int tsq = 0, labels = 0;
      in >> c.divergence >> beta >> t >> tsq >> labels;
      c.beta = value(beta), c.temperature = value(t), c.tsq = tsq, c.labels = labels;
    } else if (key == "none") {
      c.none = values(in);
    } else if (key == "reduced") {
      c.reduced = values(in);
    } else if (key == "grad") {
      std::string kind;
      in >> kind;
      if (kind == "full") {
        c.grad = values(in);
      } else {
        std::string a, b;
        std::size_t k = 0;
        in >> a >> b >> k;
        c.grad_sum = value(a), c.grad_sq = value(b);
        for (std::size_t i = 0; i < k; ++i) {
          std::int64_t at = 0;
          std::string v;
          in >> at >> v;
          c.samples.emplace_back(at, value(v));
        }
      }
    } else {
      throw std::runtime_error(path + ": unknown key " + key);
    }
  }
  if (!magic || cases.size() != declared) throw std::runtime_error(path + ": bad header or case count");
  return cases;
}

kldiv::Divergence divergence_of(const std::string& name) {
  if (name == "kl") return kldiv::Divergence::kl;
  if (name == "reverse_kl") return kldiv::Divergence::reverse_kl;
  if (name == "jsd") return kldiv::Divergence::jsd;
  throw std::runtime_error("unknown divergence " + name);
}

// Values in one dtype, rows at `stride`, padding NaN.
struct Matrix {
  std::vector<float> f;
  std::vector<double> d;
  std::vector<kldiv::bf16> b;
  std::vector<kldiv::f16> h;
  kldiv::Rows rows;
  Matrix(const std::string& dtype, const std::vector<double>& v, std::int64_t r, std::int64_t c, std::int64_t stride) {
    const auto n = static_cast<std::size_t>(r * stride);
    for (std::int64_t i = 0; i < r; ++i)
      for (std::int64_t j = 0; j < stride; ++j) {
        const double x = j < c ? v[static_cast<std::size_t>(i * c + j)] : std::nan("");
        // The inputs are exact in float, so float -> half rounds once, as torch's double -> half does.
        if (dtype == "f64") d.push_back(x);
        else if (dtype == "f32") f.push_back(static_cast<float>(x));
        else if (dtype == "bf16") b.push_back(kldiv::to_bf16(static_cast<float>(x)));
        else h.push_back(kldiv::to_f16(static_cast<float>(x)));
      }
    if (dtype == "f64") rows = kldiv::Rows(d.data(), r, c, stride);
    else if (dtype == "f32") rows = kldiv::Rows(f.data(), r, c, stride);
    else if (dtype == "bf16") rows = kldiv::Rows(b.data(), r, c, stride);
    else if (dtype == "f16") rows = kldiv::Rows(h.data(), r, c, stride);
    else throw std::runtime_error("unknown dtype " + dtype);
    (void)n;
  }
};

// PyTorch computed in float32 (float64 for f64 inputs): the tolerance is its rounding, a few units of
// 2^-24 of the magnitudes summed.
// A gradient stored in a half dtype has its rounding too (2^-9 relative for bf16, 2^-12 for f16).
bool close(double ours, double torch, double scale, bool f64, double stored = 0) {
  if (std::isnan(torch)) return std::isnan(ours);
  if (std::isinf(torch)) return ours == torch;
  const double tol = (f64 ? 1e-12 : 2e-5) * (std::fabs(torch) + scale) + stored * std::fabs(torch);
  return std::fabs(ours - torch) <= tol;
}

void check_case(const GoldenCase& c, std::int64_t extra_stride) {
  std::vector<double> p, q;
  test::golden_logits(static_cast<std::size_t>(c.rows * c.cols), c.seed_p, c.seed_q, c.mask, p, q);
  const std::int64_t stride = c.cols + extra_stride;
  const Matrix mp(c.dtype_p, p, c.rows, c.cols, stride), mq(c.dtype_q, q, c.rows, c.cols, stride);
  const bool f64 = c.dtype_p == "f64";
  std::vector<std::int64_t> labels(static_cast<std::size_t>(c.rows));
  for (std::int64_t r = 0; r < c.rows; ++r) labels[static_cast<std::size_t>(r)] = r % 3 == 1 ? -100 : r;
  kldiv::LogitsOptions o;
  o.divergence = divergence_of(c.divergence);
  o.beta = c.beta;
  o.temperature = c.temperature;
  o.temperature_squared = c.tsq;
  o.labels = c.labels ? labels.data() : nullptr;

  o.reduction = kldiv::Reduction::none;
  std::vector<double> none(static_cast<std::size_t>(c.rows));
  kldiv::logits_forward(mp.rows, mq.rows, o, none.data());
  double row_scale = c.tsq ? c.temperature * c.temperature : 1.0;
  for (std::size_t r = 0; r < none.size(); ++r) {
    CAPTURE(r);
    CHECK_MESSAGE(close(none[r], c.none[r], row_scale, f64), none[r], " vs ", c.none[r]);
  }
  const kldiv::Reduction reductions[] = {kldiv::Reduction::mean, kldiv::Reduction::sum, kldiv::Reduction::batchmean};
  for (int i = 0; i < 3; ++i) {
    o.reduction = reductions[i];
    CAPTURE(kldiv::to_string(o.reduction));
    const double v = kldiv::logits_loss(mp.rows, mq.rows, o);
    CHECK_MESSAGE(close(v, c.reduced[static_cast<std::size_t>(i)], row_scale, f64), v, " vs ", c.reduced[static_cast<std::size_t>(i)]);
  }

  o.reduction = kldiv::Reduction::batchmean;
  const double g = 1.0;
  double out = 0;
  const auto gn = static_cast<std::size_t>(c.rows * stride);
  std::vector<float> gf(c.dtype_q == "f32" ? gn : 0);
  std::vector<double> gd(f64 ? gn : 0);
  std::vector<kldiv::bf16> gb(c.dtype_q == "bf16" ? gn : 0);
  std::vector<kldiv::f16> gh(c.dtype_q == "f16" ? gn : 0);
  void* grad = f64 ? static_cast<void*>(gd.data())
               : !gf.empty() ? static_cast<void*>(gf.data())
               : !gb.empty() ? static_cast<void*>(gb.data()) : static_cast<void*>(gh.data());
  const double stored = c.dtype_q == "bf16" ? 0x1p-8 : c.dtype_q == "f16" ? 0x1p-11 : 0;
  kldiv::logits_forward_backward(mp.rows, mq.rows, o, &g, &out, grad, stride);
  CHECK(out == kldiv::logits_loss(mp.rows, mq.rows, o));
  const auto at = [&](std::int64_t i) {
    const auto k = static_cast<std::size_t>(i / c.cols * stride + i % c.cols);
    if (f64) return gd[k];
    if (!gf.empty()) return static_cast<double>(gf[k]);
    return static_cast<double>(!gb.empty() ? kldiv::to_float(gb[k]) : kldiv::to_float(gh[k]));
  };
  // Gradients are compared with the largest one of their row as the scale.
  double gmax = 0;
  for (std::int64_t i = 0; i < c.rows * c.cols; ++i) gmax = std::max(gmax, std::fabs(at(i)));
  if (!c.grad.empty()) {
    for (std::int64_t i = 0; i < c.rows * c.cols; ++i) {
      CAPTURE(i);
      CHECK_MESSAGE(close(at(i), c.grad[static_cast<std::size_t>(i)], gmax, f64, stored), at(i), " vs ", c.grad[static_cast<std::size_t>(i)]);
    }
  } else {
    // The gradient sums to 0 but for rounding: PyTorch's sum is noise of 2^-24 of the magnitudes.
    double sum = 0, sq = 0, sum_abs = 0;
    for (std::int64_t i = 0; i < c.rows * c.cols; ++i) sum += at(i), sq += at(i) * at(i), sum_abs += std::fabs(at(i));
    CHECK(std::fabs(sum - c.grad_sum) <= 1e-5 * sum_abs);
    CHECK(close(sq, c.grad_sq, 0, false));
    for (const auto& sample : c.samples) {
      const auto i = sample.first;  // no structured binding: Clang 14 cannot capture one (CAPTURE)
      const auto v = sample.second;
      CAPTURE(i);
      CHECK_MESSAGE(close(at(i), v, gmax, f64), at(i), " vs ", v);
    }
  }
}

}  // namespace

TEST_CASE("logits golden: the file covers every divergence, temperature, T^2, labels and size") {
  const auto cases = read_golden();
  bool div[3] = {}, t[4] = {}, tsq[2] = {}, labels = false, f64 = false, large = false, bf16 = false, f16 = false,
       mixed = false;
  for (const auto& c : cases) {
    div[static_cast<int>(divergence_of(c.divergence))] = true;
    for (int i = 0; i < 4; ++i) t[i] = t[i] || c.temperature == std::ldexp(0.5, i);
    tsq[c.tsq] = true;
    labels = labels || c.labels;
    f64 = f64 || c.dtype_p == "f64";
    large = large || c.cols == 128256;
    bf16 = bf16 || c.dtype_q == "bf16";
    f16 = f16 || c.dtype_q == "f16";
    mixed = mixed || c.dtype_p != c.dtype_q;
    CHECK(c.none.size() == static_cast<std::size_t>(c.rows));
    CHECK(c.reduced.size() == 3);
  }
  CHECK((div[0] && div[1] && div[2] && t[0] && t[1] && t[2] && t[3] && tsq[0] && tsq[1] && labels && f64 && large && bf16 && f16 &&
         mixed));
}

TEST_CASE("logits golden: values and gradients match PyTorch's composition on every case and ISA") {
  const auto cases = read_golden();
  // The long rows once, on the best ISA (test_logits.cpp checks that every ISA gives the same bits).
  for (const auto& c : cases) {
    CAPTURE(c.name);
    if (c.cols >= 10000) check_case(c, 0);
  }
  test::for_each_isa([&](const std::string&) {
    for (const auto& c : cases) {
      CAPTURE(c.name);
      if (c.cols >= 10000) continue;
      check_case(c, 0);
      check_case(c, 3);
    }
  });
}
