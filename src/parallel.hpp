// OpenMP: splitting a pass between threads in whole blocks, so that results never depend on the count.
#pragma once

#include <cstddef>

#include "kernel_table.hpp"

namespace kldiv::detail {

// The threads a call may use: `requested`, else the global setting, else OpenMP's default; 1 inside an
// active parallel region, so that a host's own threads are not oversubscribed.
int thread_budget(int requested) noexcept;

// Calls body(context, begin, end) on shares of [0, n) that are whole blocks of kBlock elements (the
// last may be shorter), on at most `threads` threads.
using RangeBody = void (*)(void* context, std::size_t begin, std::size_t end);
void parallel_ranges(std::size_t n, int threads, RangeBody body, void* context) noexcept;

// The sum over [0, n), n >= 1, of the block partials that body(context, begin, end, partials) writes for
// the blocks of [begin, end): the fixed pairwise tree over all blocks, whatever the thread count.
using BlockBody = void (*)(void* context, std::size_t begin, std::size_t end, Partial* partials);
Partial parallel_blocks(std::size_t n, int threads, BlockBody body, void* context) noexcept;

// Calls body(context, begin, end) on contiguous shares of [0, count) items, on at most `threads` threads
// (one per item at most).  For work whose result per item does not depend on the split.
void parallel_items(std::size_t count, int threads, RangeBody body, void* context) noexcept;

// The same for any callable f(begin, end) or f(begin, end, partials).
template <class F>
void parallel_for(std::size_t n, int threads, F&& f) noexcept {
  parallel_ranges(n, threads, [](void* c, std::size_t b, std::size_t e) { (*static_cast<F*>(c))(b, e); }, &f);
}
template <class F>
void parallel_items(std::size_t count, int threads, F&& f) noexcept {
  parallel_items(count, threads, [](void* c, std::size_t b, std::size_t e) { (*static_cast<F*>(c))(b, e); }, &f);
}
template <class F>
Partial parallel_sum(std::size_t n, int threads, F&& f) noexcept {
  return parallel_blocks(
      n, threads, [](void* c, std::size_t b, std::size_t e, Partial* p) { (*static_cast<F*>(c))(b, e, p); }, &f);
}

}  // namespace kldiv::detail
