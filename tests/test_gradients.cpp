// Gradients against a high-precision reference, their NaN pattern, and the bits of the fused pass:
// forward_backward must give forward's loss bits and backward's gradient bits, on any thread count.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kldiv/kldiv.h"
#include "support.hpp"

namespace {

using kldiv::Reduction;
constexpr Reduction kReductions[] = {Reduction::none, Reduction::mean, Reduction::sum, Reduction::batchmean};

template <class T>
struct Data {
  std::vector<std::int64_t> shape;
  std::vector<T> x, t, g;  // g: numel upstream gradients (none) or one
  std::size_t numel() const { return x.size(); }
};

template <class T>
Data<T> make(std::vector<std::int64_t> shape, bool log_target, std::uint64_t seed) {
  Data<T> d{shape, {}, {}, {}};
  std::size_t n = 1;
  for (auto s : shape) n *= static_cast<std::size_t>(s);
  test::Random rng(seed);
  for (std::size_t i = 0; i < n; ++i) {
    const double p = rng.uniform() < 0.03 ? 0.0 : rng.uniform();
    d.t.push_back(static_cast<T>(log_target ? std::log(p + 1e-8) : p));
    d.x.push_back(static_cast<T>(std::log(rng.uniform() + 1e-6)));
    d.g.push_back(static_cast<T>(rng.uniform() * 2 - 0.5));
  }
  return d;
}

template <class T>
long double divisor(const Data<T>& d, Reduction r) {
  if (r == Reduction::mean) return static_cast<long double>(d.numel());
  if (r == Reduction::batchmean && !d.shape.empty()) return static_cast<long double>(d.shape[0]);
  return 1;
}

// |got - want| <= 6u * scale: the scaled upstream gradient is rounded once, then each gradient takes at
// most four more roundings (three products and a sum) plus log's or exp's error (< 1.3 ulp).
template <class T>
bool close(T got, long double want, long double scale) {
  if (std::isnan(want)) return std::isnan(got);
  return std::fabs(got - want) <= 6 * test::unit_roundoff<T>() * scale + std::numeric_limits<T>::denorm_min();
}

template <class T>
void check_reference(const std::vector<std::int64_t>& shape, bool log_target) {
  const Data<T> d = make<T>(shape, log_target, 77 + shape.size());
  for (Reduction r : kReductions) {
    CAPTURE(kldiv::to_string(r));
    kldiv::Options o;
    o.reduction = r;
    o.log_target = log_target;
    const bool none = r == Reduction::none;
    const T g0 = T(0.7);
    std::vector<T> gx(d.numel()), gt(d.numel());
    kldiv::backward(none ? d.g.data() : &g0, d.x.data(), d.t.data(), kldiv::Shape(d.shape), o, gx.data(), gt.data());
    std::size_t bad_x = 0, bad_t = 0;
    for (std::size_t i = 0; i < d.numel(); ++i) {
      const long double g = none ? static_cast<long double>(d.g[i]) : static_cast<long double>(g0) / divisor(d, r);
      const long double x = d.x[i], t = d.t[i];
      long double want_x, want_t, scale_x, scale_t;
      if (log_target) {
        const long double e = std::exp(t);
        want_x = -g * e;
        want_t = g * e * (t - x + 1);
        scale_x = std::fabs(g * e);
        scale_t = std::fabs(g * e) * (std::fabs(t) + std::fabs(x) + 1);
      } else {
        want_x = -g * t;
        want_t = t == 0 ? std::numeric_limits<long double>::quiet_NaN() : g * std::log(t) + g - g * x;
        scale_x = std::fabs(g * t);
        scale_t = t == 0 ? 0 : std::fabs(g) * (std::fabs(std::log(t)) + 1 + std::fabs(x));
      }
      bad_x += !close(gx[i], want_x, scale_x);
      bad_t += !close(gt[i], want_t, scale_t);
    }
    CHECK(bad_x == 0);
    CHECK(bad_t == 0);
  }
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

template <class T>
void check_fused_bits(const std::vector<std::int64_t>& shape, bool log_target) {
  const Data<T> d = make<T>(shape, log_target, 5);
  for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::batchmean}) {
    CAPTURE(kldiv::to_string(r));
    kldiv::Options o;
    o.reduction = r;
    o.log_target = log_target;
    o.num_threads = 1;
    const T g = T(1.25);
    const T loss = kldiv::loss(d.x.data(), d.t.data(), kldiv::Shape(d.shape), o);
    std::vector<T> gx(d.numel()), gt(d.numel());
    kldiv::backward(&g, d.x.data(), d.t.data(), kldiv::Shape(d.shape), o, gx.data(), gt.data());
    for (int threads : {1, 2, 3, 7}) {
      CAPTURE(threads);
      o.num_threads = threads;
      std::vector<T> fx(d.numel(), T(-9)), ft(d.numel(), T(-9)), bx(d.numel()), only_x(d.numel(), T(-9));
      const T fused = kldiv::forward_backward(d.x.data(), d.t.data(), kldiv::Shape(d.shape), o, fx.data(), ft.data(), g);
      CHECK(std::memcmp(&fused, &loss, sizeof(T)) == 0);
      CHECK(same_bits(fx, gx));
      CHECK(same_bits(ft, gt));
      // Without the target gradient, and backward on other thread counts: the same bits again.
      const T fused_x = kldiv::forward_backward(d.x.data(), d.t.data(), kldiv::Shape(d.shape), o, only_x.data(), nullptr, g);
      CHECK(std::memcmp(&fused_x, &loss, sizeof(T)) == 0);
      CHECK(same_bits(only_x, gx));
      kldiv::backward(&g, d.x.data(), d.t.data(), kldiv::Shape(d.shape), o, bx.data(), nullptr);
      CHECK(same_bits(bx, gx));
    }
  }
}

std::vector<std::vector<std::int64_t>> shapes() {
  return {{}, {1}, {7}, {17}, {4, 33}, {2, 3, 4, 5}, {3, 8197}, {1, 40000}};
}

}  // namespace

TEST_CASE("gradients: against the high-precision reference, every reduction, dtype and ISA") {
  test::for_each_isa([](const std::string&) {
    for (const auto& shape : shapes()) {
      CAPTURE(shape.size());
      for (bool log_target : {false, true}) {
        CAPTURE(log_target);
        check_reference<float>(shape, log_target);
        check_reference<double>(shape, log_target);
      }
    }
  });
}

TEST_CASE("gradients: the fused pass has the bits of forward and backward, on any thread count") {
  test::for_each_isa([](const std::string&) {
    for (const auto& shape : {std::vector<std::int64_t>{7, 33}, {64, 4001}}) {
      for (bool log_target : {false, true}) {
        CAPTURE(log_target);
        check_fused_bits<float>(shape, log_target);
        check_fused_bits<double>(shape, log_target);
      }
    }
  });
}

TEST_CASE("gradients: PyTorch's NaN and inf pattern") {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  test::for_each_isa([&](const std::string&) {
    // Without log_target: d/dt is NaN at t == 0, t < 0, t == +inf and NaN t; d/dx = -g*t always.
    const float t[] = {0.0f, -0.0f, -0.5f, inf, nan, 0.5f, 0.5f, 0.5f};
    const float x[] = {-1.0f, -1.0f, -1.0f, -1.0f, -1.0f, -inf, inf, nan};
    float gx[8], gt[8];
    const float g = 1;
    kldiv::Options o{kldiv::Reduction::sum, false, 0};
    kldiv::backward(&g, x, t, {8}, o, gx, gt);
    for (int i : {0, 1, 2, 3, 4}) CHECK(std::isnan(gt[i]));
    CHECK(gx[0] == 0);
    CHECK(gx[2] == 0.5f);  // not masked for t < 0
    CHECK(gx[3] == -inf);
    CHECK(std::isnan(gx[4]));
    CHECK(gt[5] == inf);   // -g*x with x = -inf
    CHECK(gt[6] == -inf);
    CHECK(std::isnan(gt[7]));
    // With log_target: t = -inf gives NaN (inf * 0), t = +inf gives +inf.
    const float lt[] = {-inf, inf, -1000.0f, 0.0f};
    const float lx[] = {-1.0f, -1.0f, 0.0f, -1.0f};
    o.log_target = true;
    kldiv::backward(&g, lx, lt, {4}, o, gx, gt);
    CHECK(std::isnan(gt[0]));
    CHECK(gx[0] == 0);
    CHECK(gt[1] == inf);
    CHECK(gx[1] == -inf);
    CHECK(gt[2] == 0);
    CHECK(gt[3] == 2.0f);  // e^0 * (0 + 1 + 1)
    CHECK(gx[3] == -1.0f);
  });
}

TEST_CASE("gradients: bad input through both APIs leaves the outputs untouched") {
  const float x[4] = {-1, -2, -3, -4}, t[4] = {0.1f, 0.2f, 0.3f, 0.4f}, g = 1;
  const std::int64_t shape[1] = {4}, negative[1] = {-4};
  float gx[4] = {7, 7, 7, 7}, gt[4] = {7, 7, 7, 7}, loss = 7;
  CHECK(kldiv_backward_f32(nullptr, x, t, shape, 1, KLDIV_REDUCTION_SUM, 0, gx, gt) == KLDIV_ERROR_NULL_POINTER);
  CHECK(std::string(kldiv_last_error()) == "grad_output is null");
  CHECK(kldiv_backward_f32(&g, x, t, negative, 1, KLDIV_REDUCTION_SUM, 0, gx, gt) == KLDIV_ERROR_INVALID_SHAPE);
  CHECK(kldiv_backward_f32(&g, x, nullptr, shape, 1, KLDIV_REDUCTION_SUM, 0, gx, gt) == KLDIV_ERROR_NULL_POINTER);
  CHECK(kldiv_backward_f32(&g, x, t, shape, 1, static_cast<kldiv_reduction>(9), 0, gx, gt) == KLDIV_ERROR_INVALID_ARGUMENT);
  CHECK(kldiv_forward_backward_f32(x, t, shape, 1, KLDIV_REDUCTION_NONE, 0, 1, &loss, gx, gt) == KLDIV_ERROR_INVALID_ARGUMENT);
  CHECK(kldiv_forward_backward_f32(x, t, shape, 1, KLDIV_REDUCTION_SUM, 0, 1, nullptr, gx, gt) == KLDIV_ERROR_NULL_POINTER);
  CHECK(kldiv_forward_backward_f32(x, nullptr, shape, 1, KLDIV_REDUCTION_SUM, 0, 1, &loss, gx, gt) == KLDIV_ERROR_NULL_POINTER);
  for (int i = 0; i < 4; ++i) CHECK((gx[i] == 7 && gt[i] == 7));
  CHECK(loss == 7);
  // Valid calls through the C ABI agree with the C++ API, and NULL outputs are skipped.
  CHECK(kldiv_forward_backward_f32(x, t, shape, 1, KLDIV_REDUCTION_BATCHMEAN, 0, 1, &loss, gx, nullptr) == KLDIV_OK);
  CHECK(loss == kldiv::loss(x, t, {4}, {kldiv::Reduction::batchmean}));
  CHECK(gx[0] == -0.1f / 4);
  CHECK(gt[0] == 7);
  double gd[4] = {7, 7, 7, 7};
  const double xd[4] = {-1, -2, -3, -4}, td[4] = {0.1, 0.2, 0.3, 0.4}, gone = 2;
  CHECK(kldiv_backward_f64(&gone, xd, td, shape, 1, KLDIV_REDUCTION_MEAN, 0, nullptr, gd) == KLDIV_OK);
  CHECK(gd[1] == doctest::Approx(0.5 * (std::log(0.2) + 1 + 2)));
  CHECK_THROWS_AS(kldiv::forward_backward(x, t, {4}, {kldiv::Reduction::none}, gx), kldiv::invalid_argument);
}
