// Sums that neither lose accuracy nor depend on the thread count or the ISA.
//
// Kernels keep kLanes accumulators per block (double sums of float losses, or compensated pairs s + c
// of double ones) and hand them here: a block's float lanes are added in double, and from then on
// everything is double-double arithmetic on the Partial type, in a fixed order.  Compiled once, outside
// the ISA files, so every ISA shares the same code.
#pragma once

#include <cstddef>

#include "kernel_table.hpp"

namespace kldiv::detail {

// The sum of kLanes lanes, each s[j] + c[j], as one partial, reduced in a fixed pairwise tree.
Partial lanes_to_partial(const double* s, const double* c) noexcept;

// The sum of kLanes double lanes of float losses, in the same tree but in plain double: their own
// rounding (the float folds, 2^-23 of the losses' magnitudes) dwarfs the 2^-51 this adds, and the
// double-double tree cost 7 % of the f32 pass on Zen 5, 16 % at 4096 elements.
Partial float_lanes_to_partial(const double* s) noexcept;

// The sum of p[0..n), reduced in place in a fixed pairwise tree whose shape depends on n alone.  n >= 1.
Partial tree_sum(Partial* p, std::size_t n) noexcept;

// (p.hi + p.lo) / divisor, correctly handling inf and NaN (where p.lo may be NaN).  divisor >= 0: a
// zero divisor (mean of an empty tensor) gives NaN, as 0/0 does.
double finish(Partial p, double divisor) noexcept;

}  // namespace kldiv::detail
