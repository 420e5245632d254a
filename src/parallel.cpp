#include "parallel.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>

#include "kldiv/kldiv.hpp"
#include "reduction.hpp"

namespace kldiv::detail {
namespace {

std::atomic<int> g_threads{0};

// Below this many elements per thread, waking another thread costs more than it saves.
constexpr std::size_t kMinPerThread = 4 * kBlock;

// Partial sums are computed in waves of kWave blocks, into a buffer on the stack.
constexpr std::size_t kWave = 512;

int threads_for(std::size_t n, int budget) noexcept {
  const std::size_t useful = std::max<std::size_t>(1, n / kMinPerThread);
  return static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(budget), useful));
}

// Calls f(first, last) for shares of [0, blocks) on `count` threads; on the caller alone for one thread,
// since even a serial parallel region costs a system call.
template <class F>
void split(std::size_t blocks, int count, F&& f) noexcept {
  if (count <= 1) return f(std::size_t{0}, blocks);
#pragma omp parallel num_threads(count)
  {
    const std::size_t i = static_cast<std::size_t>(omp_get_thread_num()), m = static_cast<std::size_t>(omp_get_num_threads());
    f(blocks * i / m, blocks * (i + 1) / m);
  }
}

// A binary counter of complete subtrees: pushing the roots of equal-sized subtrees left to right and
// folding the rest right to left reproduces exactly the pairwise tree of tree_sum() over all of them.
class SubtreeStack {
 public:
  void push(Partial p) noexcept {
    int level = 0;
    while (size_ > 0 && levels_[size_ - 1] == level) {
      Partial pair[2] = {roots_[--size_], p};
      p = tree_sum(pair, 2);
      ++level;
    }
    roots_[size_] = p;
    levels_[size_++] = level;
  }
  Partial fold() noexcept {
    Partial acc = roots_[--size_];
    while (size_ > 0) {
      Partial pair[2] = {roots_[--size_], acc};
      acc = tree_sum(pair, 2);
    }
    return acc;
  }

 private:
  Partial roots_[64];
  int levels_[64];
  int size_ = 0;
};

}  // namespace

int thread_budget(int requested) noexcept {
  if (omp_in_parallel()) return 1;
  const int n = requested > 0 ? requested : g_threads.load(std::memory_order_relaxed);
  return n > 0 ? n : omp_get_max_threads();
}

void parallel_ranges(std::size_t n, int threads, RangeBody body, void* context) noexcept {
  split((n + kBlock - 1) / kBlock, threads_for(n, threads), [&](std::size_t first, std::size_t last) {
    const std::size_t begin = first * kBlock, end = std::min(n, last * kBlock);
    if (begin < end) body(context, begin, end);
  });
}

void parallel_items(std::size_t count, int threads, RangeBody body, void* context) noexcept {
  split(count, static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(std::max(threads, 1)), count)),
        [&](std::size_t first, std::size_t last) {
          if (first < last) body(context, first, last);
        });
}

Partial parallel_blocks(std::size_t n, int threads, BlockBody body, void* context) noexcept {
  const std::size_t blocks = (n + kBlock - 1) / kBlock;
  const int count = threads_for(n, threads);
  Partial partials[kWave];
  SubtreeStack roots;
  // Each full wave is a complete subtree of the pairwise tree over all blocks; the last one is the
  // tree's node over what is left.  So the result is that tree's, whatever the thread count.
  for (std::size_t wave = 0; wave < blocks; wave += kWave) {
    const std::size_t size = std::min(kWave, blocks - wave);
    split(size, std::min<int>(count, static_cast<int>(size)), [&](std::size_t first, std::size_t last) {
      const std::size_t begin = (wave + first) * kBlock, end = std::min(n, (wave + last) * kBlock);
      if (begin < end) body(context, begin, end, partials + first);
    });
    roots.push(tree_sum(partials, size));
  }
  return roots.fold();
}

}  // namespace kldiv::detail

namespace kldiv {

void set_num_threads(int n) noexcept { detail::g_threads.store(n > 0 ? n : 0, std::memory_order_relaxed); }

int num_threads() noexcept { return detail::g_threads.load(std::memory_order_relaxed); }

}  // namespace kldiv
