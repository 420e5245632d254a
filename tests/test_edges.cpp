// PyTorch's edge values (python3-torch 1.13.1; ../shared/notes/pytorch-semantics.md), each entry a
// check, on every ISA: alone as a 0-dim input, and inside a longer vector at several lanes, so that it
// goes through the vector body as well as the tail and takes the general path of its vector.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernel_table.hpp"
#include "support.hpp"

namespace {

enum class Want { zero, negzero, nan, pinf, ninf, formula };

struct Edge {
  double x, t;
  bool log_target;
  Want want;
};

constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double nan = std::numeric_limits<double>::quiet_NaN();

const Edge kEdges[] = {
    // log_target = false: l = xlogy(t, t) - t*x
    {-1, 0, false, Want::zero},
    {-inf, 0, false, Want::nan},
    {inf, 0, false, Want::nan},
    {nan, 0, false, Want::nan},
    {-1, -0.5, false, Want::nan},
    {-1, -0.0, false, Want::zero},
    {-1, nan, false, Want::nan},
    {nan, 0.5, false, Want::nan},
    {-1, inf, false, Want::pinf},
    {0, inf, false, Want::nan},
    {-inf, inf, false, Want::pinf},
    {inf, inf, false, Want::nan},
    {-inf, 0.5, false, Want::pinf},
    {inf, 0.5, false, Want::ninf},
    {-1, 1, false, Want::formula},
    {0, 1, false, Want::zero},
    {-0.5, 0.25, false, Want::formula},
    {0, 1e-40, false, Want::formula},   // a float subnormal target
    {0, 1e-310, false, Want::formula},  // a double subnormal target (float: flushes to 0 on conversion)
    {0, 3e38, false, Want::formula},    // t log t overflows float (inf), not double
    // log_target = true: l = exp(t) * (t - x)
    {-1, -inf, true, Want::nan},
    {-inf, -inf, true, Want::nan},
    {-1, inf, true, Want::pinf},
    {-1, nan, true, Want::nan},
    {nan, -1, true, Want::nan},
    {-inf, -1, true, Want::pinf},
    {inf, -1, true, Want::ninf},
    {-1, 0, true, Want::formula},
    {0, -1000, true, Want::negzero},  // exp underflows to 0, times a negative
    {0, 100, true, Want::formula},    // exp overflows float, not double
    {88, 88.7, true, Want::formula},  // just below float's overflow threshold
    {-104, -103, true, Want::formula},  // a float subnormal result
    {-746, -745, true, Want::formula},  // a double subnormal result
};

template <class T>
void check_value(T got, const Edge& e) {
  const T x = static_cast<T>(e.x), t = static_cast<T>(e.t);
  CAPTURE(static_cast<double>(x));
  CAPTURE(static_cast<double>(t));
  CAPTURE(e.log_target);
  CAPTURE(static_cast<double>(got));
  switch (e.want) {
    case Want::zero: CHECK((got == 0 && !std::signbit(got))); break;
    case Want::negzero: CHECK((got == 0 && std::signbit(got))); break;
    case Want::nan: CHECK(std::isnan(got)); break;
    case Want::pinf: CHECK(got == std::numeric_limits<T>::infinity()); break;
    case Want::ninf: CHECK(got == -std::numeric_limits<T>::infinity()); break;
    case Want::formula: {
      // PyTorch's operations in T, each rounded; kldiv must agree within its bound, inf for inf.
      const long double lx = x, lt = t;
      const long double a = e.log_target ? std::exp(lt) : (lt == 0 ? 0.0L : lt * std::log(lt));
      const T want = e.log_target ? static_cast<T>(static_cast<T>(a) * static_cast<T>(lt - lx))
                                  : static_cast<T>(static_cast<T>(a) - static_cast<T>(lt * lx));
      if (std::isinf(want)) {
        CHECK(got == want);
      } else {
        const long double scale = e.log_target ? std::fabs(a * lt) + std::fabs(a * lx) : std::fabs(a) + std::fabs(lt * lx);
        CHECK(std::fabs(static_cast<long double>(got) - want) <=
              4 * test::unit_roundoff<T>() * scale + std::numeric_limits<T>::denorm_min());
      }
      break;
    }
  }
}

template <class T>
void check_edges() {
  for (const Edge& e : kEdges) {
    const T x = static_cast<T>(e.x), t = static_cast<T>(e.t);
    kldiv::Options o;
    o.log_target = e.log_target;
    o.reduction = kldiv::Reduction::none;
    // Alone, as a 0-dim input: none gives l, every reduction gives l too (PyTorch's sum starts at +0).
    T got = 7;
    kldiv::forward(&x, &t, {}, o, &got);
    check_value(got, e);
    for (auto r : {kldiv::Reduction::sum, kldiv::Reduction::mean, kldiv::Reduction::batchmean}) {
      o.reduction = r;
      T reduced = 7;
      kldiv::forward(&x, &t, {}, o, &reduced);
      CHECK(((std::isnan(reduced) && std::isnan(got)) || reduced == got));
    }
    // Inside a vector of ordinary elements, at several positions: in the first vector, the first
    // and second step of the reductions' loop (64 elements), the end of the first block, a block
    // after a clean one (which the reductions compute speculatively, see src/kernels/loss.hpp), and
    // the tail.
    const std::size_t n = 2 * kldiv::detail::kBlock + 37;
    for (std::size_t pos : {std::size_t(0), std::size_t(5), std::size_t(23), std::size_t(64), std::size_t(100),
                            kldiv::detail::kBlock - 1, 2 * kldiv::detail::kBlock - 100, n - 1}) {
      CAPTURE(pos);
      std::vector<T> xs(n, T(-1)), ts(n, e.log_target ? T(-0.5) : T(0.5)), out(n);
      xs[pos] = x;
      ts[pos] = t;
      o.reduction = kldiv::Reduction::none;
      kldiv::forward(xs.data(), ts.data(), {static_cast<std::int64_t>(n)}, o, out.data());
      check_value(out[pos], e);
      const Edge ordinary{-1, e.log_target ? -0.5 : 0.5, e.log_target, Want::formula};
      const T first = out[pos == 0 ? 1 : 0];
      check_value(first, ordinary);
      std::size_t differ = 0;  // every ordinary element gives the same bits
      for (std::size_t i = 0; i < n; ++i) differ += i != pos && std::memcmp(&out[i], &first, sizeof first) != 0;
      CHECK(differ == 0);
      o.reduction = kldiv::Reduction::sum;
      T sum = 0;
      kldiv::forward(xs.data(), ts.data(), {static_cast<std::int64_t>(n)}, o, &sum);
      if (std::isnan(out[pos]) || std::isinf(out[pos])) {
        CHECK(((std::isnan(sum) && std::isnan(out[pos])) || sum == out[pos]));
      } else {
        CHECK(std::isfinite(sum));
      }
    }
  }
}

}  // namespace

TEST_CASE("edges: PyTorch's edge values, alone and inside vectors") {
  test::for_each_isa([](const std::string&) {
    SUBCASE("float") { check_edges<float>(); }
    SUBCASE("double") { check_edges<double>(); }
  });
}

TEST_CASE("edges: reductions of empty and 0-dim inputs") {
  const float none = 0;
  kldiv::Options o;
  float out = 7;
  o.reduction = kldiv::Reduction::sum;
  kldiv::forward(&none, &none, {0}, o, &out);
  CHECK((out == 0 && !std::signbit(out)));
  o.reduction = kldiv::Reduction::mean;
  kldiv::forward(nullptr, nullptr, {0}, o, &out);
  CHECK(std::isnan(out));
  o.reduction = kldiv::Reduction::batchmean;
  kldiv::forward(nullptr, nullptr, {0, 5}, o, &out);
  CHECK(std::isnan(out));  // 0 / shape[0] == 0 / 0
  kldiv::forward(nullptr, nullptr, {3, 0}, o, &out);
  CHECK(out == 0);  // 0 / 3
  // batchmean skips the division on a 0-dim input, and divides by shape[0] otherwise
  const float x = -1, t = 0.5f;
  const float l = kldiv::loss(&x, &t, {}, {kldiv::Reduction::sum});
  CHECK(kldiv::loss(&x, &t, {}, {kldiv::Reduction::batchmean}) == l);
  const std::vector<float> xs(6, -1.0f), ts(6, 0.5f);
  CHECK(kldiv::loss(xs.data(), ts.data(), {3, 2}, {kldiv::Reduction::batchmean}) ==
        doctest::Approx(kldiv::loss(xs.data(), ts.data(), {3, 2}, {kldiv::Reduction::sum}) / 3).epsilon(1e-7));
  CHECK(kldiv::loss(xs.data(), ts.data(), {3, 2}, {kldiv::Reduction::mean}) ==
        doctest::Approx(kldiv::loss(xs.data(), ts.data(), {3, 2}, {kldiv::Reduction::sum}) / 6).epsilon(1e-7));
}
