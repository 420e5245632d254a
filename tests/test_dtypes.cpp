// bf16 and f16 through the loss API, on every ISA and at 1 and 2 threads: each result must be exactly
// kldiv's own f32 result on the widened inputs, rounded once to the type (so the bits are the same on
// every FMA ISA, as the f32 bits are: test_platform_bits.cpp); a reduced loss must be the half nearest an
// f32-accurate sum (a __float128 / long double sum of the f32 losses); and the typed C entry points must
// give these bits for bf16 and f16 and exactly the bits of the _f32 / _f64 functions for f32 and f64.
#include <cmath>
#include <cstdint>
#include <array>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kldiv/kldiv.h"
#include "support.hpp"

namespace {

using kldiv::bf16;
using kldiv::f16;
using kldiv::Reduction;

bf16 round_to(bf16, float v) { return kldiv::to_bf16(v); }
f16 round_to(f16, float v) { return kldiv::to_f16(v); }
template <class E>
E rounded(float v) {
  return round_to(E{}, v);
}

template <class E>
bool same(E a, float want) {
  const float got = kldiv::to_float(a);
  return std::isnan(want) ? std::isnan(got) : a.bits == rounded<E>(want).bits;
}

template <class E>
std::vector<float> widened(const std::vector<E>& v) {
  std::vector<float> w;
  for (E e : v) w.push_back(kldiv::to_float(e));
  return w;
}

// n inputs: random log-probabilities and targets (probabilities, or log-probabilities), with the edge
// values of the README's table every 997 elements, and targets of 0.
template <class E>
void inputs(std::size_t n, bool log_target, std::vector<E>& x, std::vector<E>& t) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const float edges_t[] = {0.0f, -0.0f, nan, inf, -1.0f, 1e-30f, 60000.0f, -inf, 12.0f};
  const float edges_x[] = {-inf, 0.0f, 1.0f, nan, -60000.0f, -3.0f, 60000.0f, inf, -1e-8f};
  test::Random rng(log_target ? 5 : 6);
  x.resize(n);
  t.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const float u = static_cast<float>(rng.uniform()), v = static_cast<float>(rng.uniform());
    float xi = -8.0f * u, ti = log_target ? -6.0f * v : (i % 7 == 0 ? 0.0f : v);
    if (i % 997 == 3) {
      const std::size_t k = (i / 997) % 9;
      xi = edges_x[k];
      ti = edges_t[(k * 4) % 9];
    }
    x[i] = rounded<E>(xi);
    t[i] = rounded<E>(ti);
  }
}

template <class E>
void check_dtype(bool log_target, int threads) {
  const std::size_t n = 3 * 8192 + 37;  // blocks and a tail
  std::vector<E> x, t;
  inputs(n, log_target, x, t);
  const std::vector<float> xf = widened(x), tf = widened(t);
  const kldiv::Shape shape{static_cast<std::int64_t>(n / 37), 37};
  kldiv::Options options;
  options.log_target = log_target;
  options.num_threads = threads;

  // Reduction none and the per-element gradients.
  options.reduction = Reduction::none;
  std::vector<E> out(n), gi(n), gt(n), g(n);
  std::vector<float> outf(n), gif(n), gtf(n);
  test::Random rng(9);
  for (E& e : g) e = rounded<E>(static_cast<float>(rng.uniform() * 4 - 2));
  const std::vector<float> gf = widened(g);
  kldiv::forward(x.data(), t.data(), shape, options, out.data());
  kldiv::forward(xf.data(), tf.data(), shape, options, outf.data());
  kldiv::backward(g.data(), x.data(), t.data(), shape, options, gi.data(), gt.data());
  kldiv::backward(gf.data(), xf.data(), tf.data(), shape, options, gif.data(), gtf.data());
  std::size_t bad = 0;
  for (std::size_t i = 0; i < n; ++i) bad += !same(out[i], outf[i]) + !same(gi[i], gif[i]) + !same(gt[i], gtf[i]);
  CHECK(bad == 0);

  // Every reduction: the loss, the gradients of one upstream gradient, and forward_backward.
  for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::batchmean}) {
    const std::string reduction = kldiv::to_string(r);
    CAPTURE(reduction);
    options.reduction = r;
    const E loss = kldiv::loss(x.data(), t.data(), shape, options);
    const E g1 = rounded<E>(0.75f);
    kldiv::backward(&g1, x.data(), t.data(), shape, options, gi.data(), gt.data());
    const float g1f = kldiv::to_float(g1);
    kldiv::backward(&g1f, xf.data(), tf.data(), shape, options, gif.data(), gtf.data());
    bad = 0;
    for (std::size_t i = 0; i < n; ++i) bad += !same(gi[i], gif[i]) + !same(gt[i], gtf[i]);
    CHECK(bad == 0);
    std::vector<E> fgi(n), fgt(n);
    const E fb = kldiv::forward_backward(x.data(), t.data(), shape, options, fgi.data(), fgt.data(), g1f);
    CHECK(std::memcmp(&fb, &loss, sizeof fb) == 0);
    CHECK(std::memcmp(fgi.data(), gi.data(), n * sizeof(E)) == 0);
    CHECK(std::memcmp(fgt.data(), gt.data(), n * sizeof(E)) == 0);
  }
}

// The reduced loss of finite inputs against an f32-accurate sum: the half nearest it (a tie is not met
// by these inputs), checked against both neighbours of the result.
template <class E>
void check_reduced(bool log_target) {
  const std::size_t rows = 11, n = rows * 3725;  // 5 blocks and a tail
  std::vector<E> x(n), t(n);
  test::Random rng(13);
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = rounded<E>(static_cast<float>(-10 * rng.uniform()));
    t[i] = rounded<E>(static_cast<float>(log_target ? -10 * rng.uniform() : rng.uniform()));
  }
  const std::vector<float> xf = widened(x), tf = widened(t);
  std::vector<float> l(n);
  kldiv::Options options;
  options.log_target = log_target;
  options.reduction = Reduction::none;
  kldiv::forward(xf.data(), tf.data(), {static_cast<std::int64_t>(n)}, options, l.data());
  test::wide sum = 0;
  for (float v : l) sum += v;
  for (Reduction r : {Reduction::batchmean, Reduction::mean}) {  // a sum would overflow f16
    const std::string reduction = kldiv::to_string(r);
    CAPTURE(reduction);
    options.reduction = r;
    const double want = static_cast<double>(sum / (r == Reduction::mean ? n : rows));
    const E got = kldiv::loss(x.data(), t.data(), {static_cast<std::int64_t>(rows), static_cast<std::int64_t>(n / rows)}, options);
    const double error = std::fabs(kldiv::to_float(got) - want);
    CHECK(error <= std::fabs(kldiv::to_float(E{static_cast<std::uint16_t>(got.bits + 1)}) - want));
    CHECK(error <= std::fabs(kldiv::to_float(E{static_cast<std::uint16_t>(got.bits - 1)}) - want));
  }
}

}  // namespace

TEST_CASE("dtypes: bf16 and f16 are the f32 results rounded once, on every ISA and thread count") {
  test::for_each_isa([](const std::string&) {
    for (bool lt : {false, true}) {
      CAPTURE(lt);
      for (int threads : {1, 2}) {
        CAPTURE(threads);
        check_dtype<bf16>(lt, threads);
        check_dtype<f16>(lt, threads);
      }
    }
  });
}

TEST_CASE("dtypes: a reduced half loss is the half nearest an f32-accurate sum") {
  for (bool lt : {false, true}) {
    CAPTURE(lt);
    check_reduced<bf16>(lt);
    check_reduced<f16>(lt);
  }
}

TEST_CASE("dtypes: f16 overflows to inf and underflows to subnormals, as IEEE says") {
  const f16 x[] = {kldiv::to_f16(-60000.0f), kldiv::to_f16(-1.0f)}, t[] = {kldiv::to_f16(2.0f), kldiv::to_f16(1e-7f)};
  f16 out[2];
  kldiv::Options options;
  options.reduction = Reduction::none;
  kldiv::forward(x, t, {2}, options, out);
  CHECK(kldiv::to_float(out[0]) == std::numeric_limits<float>::infinity());  // 2 log 2 + 120000
  const float tt = kldiv::to_float(t[1]);  // 2^-23, itself subnormal
  CHECK(out[1].bits == kldiv::to_f16(tt * std::log(tt) + tt).bits);  // about -1.77e-6, subnormal
  CHECK(out[1].bits != 0);
}

TEST_CASE("dtypes: the typed C entry points") {
  const std::size_t n = 1000;
  std::vector<float> x(n), t(n);
  test::Random rng(21);
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = static_cast<float>(-5 * rng.uniform());
    t[i] = static_cast<float>(rng.uniform());
  }
  const std::int64_t shape[] = {10, 100};
  std::vector<float> a(n), b(n), ga(n), gb(n);
  // f32: exactly the bits of the _f32 functions.
  REQUIRE(kldiv_forward(KLDIV_DTYPE_F32, x.data(), t.data(), shape, 2, KLDIV_REDUCTION_NONE, 0, a.data()) == KLDIV_OK);
  REQUIRE(kldiv_forward_f32(x.data(), t.data(), shape, 2, KLDIV_REDUCTION_NONE, 0, b.data()) == KLDIV_OK);
  CHECK(std::memcmp(a.data(), b.data(), n * 4) == 0);
  double loss = 0;
  float loss_f32 = 0;
  REQUIRE(kldiv_forward_backward(KLDIV_DTYPE_F32, x.data(), t.data(), shape, 2, KLDIV_REDUCTION_BATCHMEAN, 0, 0.5,
                                 &loss, ga.data(), nullptr) == KLDIV_OK);
  REQUIRE(kldiv_forward_backward_f32(x.data(), t.data(), shape, 2, KLDIV_REDUCTION_BATCHMEAN, 0, 0.5f, &loss_f32,
                                     gb.data(), nullptr) == KLDIV_OK);
  CHECK(loss == static_cast<double>(loss_f32));
  CHECK(std::memcmp(ga.data(), gb.data(), n * 4) == 0);
  const float g = 1.5f;
  REQUIRE(kldiv_backward(KLDIV_DTYPE_F32, &g, x.data(), t.data(), shape, 2, KLDIV_REDUCTION_SUM, 0, nullptr,
                         ga.data()) == KLDIV_OK);
  REQUIRE(kldiv_backward_f32(&g, x.data(), t.data(), shape, 2, KLDIV_REDUCTION_SUM, 0, nullptr, gb.data()) == KLDIV_OK);
  CHECK(std::memcmp(ga.data(), gb.data(), n * 4) == 0);
  // f64.
  std::vector<double> xd(x.begin(), x.end()), td(t.begin(), t.end());
  double la = 0, lb = 0;
  REQUIRE(kldiv_forward(KLDIV_DTYPE_F64, xd.data(), td.data(), shape, 2, KLDIV_REDUCTION_MEAN, 0, &la) == KLDIV_OK);
  REQUIRE(kldiv_forward_f64(xd.data(), td.data(), shape, 2, KLDIV_REDUCTION_MEAN, 0, &lb) == KLDIV_OK);
  CHECK(std::memcmp(&la, &lb, sizeof la) == 0);
  // bf16 and f16: the bits of the C++ API; the loss of forward_backward is the half's value.
  std::vector<bf16> xh(n), th(n), gh(n), gh2(n);
  for (std::size_t i = 0; i < n; ++i) {
    xh[i] = kldiv::to_bf16(x[i]);
    th[i] = kldiv::to_bf16(t[i]);
  }
  kldiv::Options options;
  options.reduction = Reduction::sum;
  const bf16 want = kldiv::forward_backward(xh.data(), th.data(), {10, 100}, options, gh2.data(), nullptr, 2.0f);
  REQUIRE(kldiv_forward_backward(KLDIV_DTYPE_BF16, xh.data(), th.data(), shape, 2, KLDIV_REDUCTION_SUM, 0, 2.0, &loss,
                                 gh.data(), nullptr) == KLDIV_OK);
  CHECK(loss == static_cast<double>(kldiv::to_float(want)));
  CHECK(std::memcmp(gh.data(), gh2.data(), n * 2) == 0);
  f16 lh{0};
  std::vector<f16> xf16(n), tf16(n);
  for (std::size_t i = 0; i < n; ++i) {
    xf16[i] = kldiv::to_f16(x[i]);
    tf16[i] = kldiv::to_f16(t[i]);
  }
  REQUIRE(kldiv_forward(KLDIV_DTYPE_F16, xf16.data(), tf16.data(), shape, 2, KLDIV_REDUCTION_SUM, 0, &lh) == KLDIV_OK);
  CHECK(lh.bits == kldiv::loss(xf16.data(), tf16.data(), {10, 100}, options).bits);
}

// Any int as a dtype, as a C caller may pass; in C++ the enum value itself is out of range, so UBSan's
// enum check is off for these calls (the library reads the parameter as an int, see c_guard.hpp).
#if defined(__clang__)
__attribute__((no_sanitize("enum")))
#endif
static std::array<kldiv_status, 3> bad_dtype_calls(int dtype, const void* x, const void* t, const std::int64_t* shape,
                                                    void* out, double* loss) {
  kldiv_dtype d;
  std::memcpy(&d, &dtype, sizeof d);
  const kldiv_status forward = kldiv_forward(d, x, t, shape, 1, KLDIV_REDUCTION_NONE, 0, out);
  const kldiv_status backward = kldiv_backward(d, x, x, t, shape, 1, KLDIV_REDUCTION_NONE, 0, out, out);
  const kldiv_status fused = kldiv_forward_backward(d, x, t, shape, 1, KLDIV_REDUCTION_SUM, 0, 1.0, loss, out, out);
  return {forward, backward, fused};
}

TEST_CASE("dtypes: bad input is an error and writes nothing") {
  const bf16 x[4] = {}, t[4] = {};
  bf16 out[4] = {{0x1234}, {0x1234}, {0x1234}, {0x1234}};
  const std::int64_t shape[] = {4};
  double loss = 42;
  for (int dtype : {-1, 4, 1000}) {
    CAPTURE(dtype);
    const auto statuses = bad_dtype_calls(dtype, x, t, shape, out, &loss);
    CHECK(statuses[0] == KLDIV_ERROR_INVALID_ARGUMENT);
    CHECK(std::string(kldiv_last_error()).find("unknown dtype") != std::string::npos);
    CHECK(statuses[1] == KLDIV_ERROR_INVALID_ARGUMENT);
    CHECK(statuses[2] == KLDIV_ERROR_INVALID_ARGUMENT);
  }
  CHECK(kldiv_forward(KLDIV_DTYPE_BF16, nullptr, t, shape, 1, KLDIV_REDUCTION_NONE, 0, out) == KLDIV_ERROR_NULL_POINTER);
  CHECK(kldiv_forward(KLDIV_DTYPE_F16, x, t, shape, 1, KLDIV_REDUCTION_NONE, 0, nullptr) == KLDIV_ERROR_NULL_POINTER);
  const std::int64_t negative[] = {-4};
  CHECK(kldiv_forward(KLDIV_DTYPE_BF16, x, t, negative, 1, KLDIV_REDUCTION_NONE, 0, out) == KLDIV_ERROR_INVALID_SHAPE);
  CHECK(kldiv_forward_backward(KLDIV_DTYPE_BF16, x, t, shape, 1, KLDIV_REDUCTION_SUM, 0, 1.0, nullptr, out, out) ==
        KLDIV_ERROR_NULL_POINTER);
  CHECK(kldiv_forward_backward(KLDIV_DTYPE_F16, x, t, shape, 1, KLDIV_REDUCTION_NONE, 0, 1.0, &loss, out, out) ==
        KLDIV_ERROR_INVALID_ARGUMENT);
  for (const bf16& o : out) CHECK(o.bits == 0x1234);
  CHECK(loss == 42);
  kldiv::Options options;
  options.reduction = Reduction::none;
  CHECK_THROWS_AS(kldiv::loss(x, t, {4}, options), kldiv::invalid_argument);
}
