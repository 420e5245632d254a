// In place: an output may be the very array of an input (the gradient written over x, the loss over t).
// The float passes compute each block speculatively and recompute it when the speculation was wrong
// (src/kernels/loss.hpp); that must not read inputs the first attempt overwrote.  So the data holds
// values outside the fast range (0, subnormal, negative, inf, NaN) in several blocks, and every in-place
// result must have the bits of the same call with separate outputs.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernel_table.hpp"
#include "support.hpp"

namespace {

using kldiv::Reduction;

// The same bits, except that any NaN matches any NaN: which NaN an operation returns is unspecified, and
// on aarch64 the input-gradient-only pass and the both-gradients pass return different NaNs for -g*t.
template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!(std::isnan(a[i]) && std::isnan(b[i])) && std::memcmp(&a[i], &b[i], sizeof(T)) != 0) return false;
  return true;
}

template <class T>
struct Data {
  std::vector<T> x, t, g;
};

// Three blocks and a tail; specials in the first and third block, the second clean.  With finite, only
// specials whose loss is finite (so that a reduced loss can tell right from wrong).
template <class T>
Data<T> make_data(bool log_target, bool finite) {
  const std::size_t n = 3 * kldiv::detail::kBlock + 21;
  test::Random rng(7);
  Data<T> d{std::vector<T>(n), std::vector<T>(n), std::vector<T>(n)};
  for (std::size_t i = 0; i < n; ++i) {
    d.x[i] = static_cast<T>(-4 * rng.uniform());
    d.t[i] = static_cast<T>(log_target ? -3 * rng.uniform() : rng.uniform() + 0.01);
    d.g[i] = static_cast<T>(rng.uniform() - 0.5);
  }
  using L = std::numeric_limits<T>;
  const std::vector<T> specials =
      finite ? (log_target ? std::vector<T>{T(-100), T(-1000), T(-90)} : std::vector<T>{T(0), L::denorm_min(), L::min() / 2})
             : std::vector<T>{T(0), L::denorm_min(), T(-0.5), L::infinity(), L::quiet_NaN(), T(200)};
  std::size_t at = 100;
  for (T s : specials) {
    d.t[at] = s;
    d.t[at + 2 * kldiv::detail::kBlock] = s;
    at += 1000;
  }
  return d;
}

template <class T>
void check_in_place(bool log_target) {
  const Data<T> d = make_data<T>(log_target, false);
  const std::size_t n = d.x.size();
  const kldiv::Shape shape{static_cast<std::int64_t>(n)};
  kldiv::Options o;
  o.log_target = log_target;

  {  // forward, none: the loss over x, and over t
    o.reduction = Reduction::none;
    std::vector<T> want(n);
    kldiv::forward(d.x.data(), d.t.data(), shape, o, want.data());
    std::vector<T> x = d.x, t = d.t;
    kldiv::forward(x.data(), d.t.data(), shape, o, x.data());
    CHECK(same_bits(x, want));
    kldiv::forward(d.x.data(), t.data(), shape, o, t.data());
    CHECK(same_bits(t, want));
  }
  {  // backward, none: the gradients over x and t, and over grad_output
    o.reduction = Reduction::none;
    std::vector<T> gi(n), gt(n);
    kldiv::backward(d.g.data(), d.x.data(), d.t.data(), shape, o, gi.data(), gt.data());
    std::vector<T> x = d.x, t = d.t, g = d.g;
    kldiv::backward(d.g.data(), x.data(), t.data(), shape, o, x.data(), t.data());
    CHECK(same_bits(x, gi));
    CHECK(same_bits(t, gt));
    std::vector<T> gi_only(n);  // the same pass (input gradient only) with a separate output
    kldiv::backward(d.g.data(), d.x.data(), d.t.data(), shape, o, gi_only.data(), nullptr);
    kldiv::backward(g.data(), d.x.data(), d.t.data(), shape, o, g.data(), nullptr);
    CHECK(same_bits(g, gi_only));
  }
  for (bool finite : {false, true}) {  // forward_backward: the gradients over x and t
    CAPTURE(finite);
    const Data<T> f = make_data<T>(log_target, finite);
    for (Reduction r : {Reduction::sum, Reduction::mean, Reduction::batchmean}) {
      CAPTURE(static_cast<int>(r));
      o.reduction = r;
      std::vector<T> gi(n), gt(n);
      const T want = kldiv::forward_backward(f.x.data(), f.t.data(), shape, o, gi.data(), gt.data());
      CHECK(std::isfinite(want) == finite);
      std::vector<T> x = f.x, t = f.t;
      const T got = kldiv::forward_backward(x.data(), t.data(), shape, o, x.data(), t.data());
      CHECK(((std::isnan(got) && std::isnan(want)) || std::memcmp(&got, &want, sizeof got) == 0));
      CHECK(same_bits(x, gi));
      CHECK(same_bits(t, gt));
    }
  }
}

}  // namespace

TEST_CASE("in place: an output over an input gives the bits of separate outputs") {
  test::for_each_isa([](const std::string&) {
    for (bool log_target : {false, true}) {
      CAPTURE(log_target);
      check_in_place<float>(log_target);
      check_in_place<double>(log_target);
    }
  });
}
