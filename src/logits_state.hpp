// Combining LogitsState (kernel_table.hpp) of consecutive pieces of a row, the online log-sum-exp at
// the granularity of pieces: sums kept relative to a smaller reference (a maximum, or a little below one)
// are rescaled by exp((old - new)/T) when the reference grows.  Shared by the kernels (chunks of a segment) and src/logits.cpp (segments of
// a row), with the exp of the caller's ISA, so that both give the same bits.
#pragma once

#include <limits>

#include "kernel_table.hpp"

namespace kldiv::detail {

inline LogitsState empty_state() noexcept {
  constexpr double ninf = -std::numeric_limits<double>::infinity();
  return {ninf, ninf, ninf, ninf, 0, 0, 0, 0, 0, 0, -1, -1, true};
}

// exp((lo - hi) s), lo <= hi: the factor that brings sums relative to lo to hi; 0 for an empty side.
template <class Exp>
double rescale(double lo, double hi, double s, Exp& exp) noexcept {
  if (lo == hi) return 1.0;
  return lo == -std::numeric_limits<double>::infinity() ? 0.0 : exp((lo - hi) * s);
}

// x f, where f == 0 (sums whose weights all underflow) drops x even if it is -inf.
inline double scaled(double x, double f) noexcept { return f == 0 ? 0.0 : x * f; }

// a := a followed by b.  The side with the smaller reference is rescaled (x * 1 is exact, so the other is
// left as it is).  A NaN maximum compares false: its row is NaN anyway (ok is false).
template <class Exp>
void merge_state(LogitsState& a, const LogitsState& b, double s, Exp&& exp) noexcept {
  const double pmax = b.pmax > a.pmax ? b.pmax : a.pmax, qmax = b.qmax > a.qmax ? b.qmax : a.qmax;
  const double fa = rescale(a.pmax, pmax, s, exp), fb = rescale(b.pmax, pmax, s, exp);
  a.sn = scaled(a.sn, fa) + scaled(b.sn, fb);
  a.an = scaled(a.an, fa) + scaled(b.an, fb);
  a.h = scaled(a.h, fa) + scaled(b.h, fb);
  a.fp = scaled(a.fp, fa) + scaled(b.fp, fb);
  a.af = scaled(a.af, fa) + scaled(b.af, fb);
  a.fq = scaled(a.fq, rescale(a.qmax, qmax, s, exp)) + scaled(b.fq, rescale(b.qmax, qmax, s, exp));
  if (b.ptop > a.ptop) a.argmax_p = b.argmax_p;
  if (b.qtop > a.qtop) a.argmax_q = b.argmax_q;
  a.pmax = pmax;
  a.qmax = qmax;
  a.ptop = b.ptop > a.ptop ? b.ptop : a.ptop;
  a.qtop = b.qtop > a.qtop ? b.qtop : a.qtop;
  a.ok = a.ok && b.ok;
}

}  // namespace kldiv::detail
