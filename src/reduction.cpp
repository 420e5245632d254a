#include "reduction.hpp"

#include <cmath>

namespace kldiv::detail {
namespace {

// Knuth's TwoSum: a + b == s + e exactly, for any ordering of |a| and |b|.
Partial two_sum(double a, double b) noexcept {
  const double s = a + b;
  const double bb = s - a;
  const double e = (a - (s - bb)) + (b - bb);
  return {s, e};
}

// Requires |a| >= |b| (or a == 0).
Partial fast_two_sum(double a, double b) noexcept {
  const double s = a + b;
  return {s, b - (s - a)};
}

// Double-double addition with a relative error of a few units of 2^-106 (the "accurate" variant: the
// low parts are added with their own TwoSum).  Once the sum is inf or NaN, that is the IEEE result and
// the low part (NaN noise from TwoSum) is dropped.
Partial add(Partial a, Partial b) noexcept {
  if (!std::isfinite(a.hi + b.hi)) return {a.hi + b.hi, 0.0};
  Partial s = two_sum(a.hi, b.hi);
  const Partial t = two_sum(a.lo, b.lo);
  s.lo += t.hi;
  s = fast_two_sum(s.hi, s.lo);
  s.lo += t.lo;
  return fast_two_sum(s.hi, s.lo);
}

// p[0..n) reduced in place by add in the fixed pairwise tree of tree_sum.  n >= 1.
template <class T, class Add>
T pairwise(T* p, std::size_t n, Add&& add) noexcept {
  for (std::size_t stride = 1; stride < n; stride *= 2)
    for (std::size_t i = 0; i + stride < n; i += 2 * stride) p[i] = add(p[i], p[i + stride]);
  return p[0];
}

}  // namespace

Partial lanes_to_partial(const double* s, const double* c) noexcept {
  Partial p[kLanes];
  // A lane whose sum met inf or NaN has NaN noise in c: its s alone is the IEEE result.
  for (std::size_t j = 0; j < kLanes; ++j) p[j] = std::isfinite(s[j]) ? two_sum(s[j], c[j]) : Partial{s[j], 0.0};
  return tree_sum(p, kLanes);
}

Partial float_lanes_to_partial(const double* s) noexcept {
  double p[kLanes];
  for (std::size_t j = 0; j < kLanes; ++j) p[j] = s[j];
  return {pairwise(p, kLanes, [](double a, double b) { return a + b; }), 0.0};
}

Partial tree_sum(Partial* p, std::size_t n) noexcept { return pairwise(p, n, add); }

double finish(Partial p, double divisor) noexcept {
  if (!std::isfinite(p.hi) || divisor == 1.0) return (p.hi + p.lo) / divisor;
  // One Newton correction of the quotient keeps the division accurate to about one double ulp.
  const double q = p.hi / divisor;
  const double r = std::fma(-q, divisor, p.hi) + p.lo;
  return q + r / divisor;
}

}  // namespace kldiv::detail
