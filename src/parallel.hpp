// OpenMP: splitting a pass between threads in whole blocks, so that results never depend on the count.
#pragma once

#include <cstddef>

#include "kernel_table.hpp"

namespace kldiv::detail {

// The threads a call may use: `requested`, else the global setting, else OpenMP's default; 1 inside an
// active parallel region, so that a host's own threads are not oversubscribed.
int thread_budget(int requested) noexcept;

// out[i] = l(x[i], t[i]) for i < n.
template <class T>
void parallel_pointwise(const TypedKernels<T>& k, const T* x, const T* t, T* out, std::size_t n, bool log_target,
                        int threads) noexcept;

// The sum of l over [0, n), n >= 1, as the fixed pairwise tree over the partials of all kBlock blocks.
template <class T>
Partial parallel_sum(const TypedKernels<T>& k, const T* x, const T* t, std::size_t n, bool log_target,
                     int threads) noexcept;

}  // namespace kldiv::detail
