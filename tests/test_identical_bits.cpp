// The same bits whatever the thread count, and whatever the FMA target (avx512, avx2, neon, scalar):
// every reduced result and every element of `none`.
#include <cstring>
#include <map>
#include <vector>

#include "kernel_table.hpp"
#include "parallel.hpp"
#include "support.hpp"

namespace {

using kldiv::Reduction;

template <class T>
std::vector<T> run(const std::vector<T>& x, const std::vector<T>& t, const std::vector<std::int64_t>& shape,
                   Reduction r, bool log_target, int threads) {
  kldiv::Options o;
  o.reduction = r;
  o.log_target = log_target;
  o.num_threads = threads;
  std::vector<T> out(r == Reduction::none ? x.size() : 1);
  kldiv::forward(x.data(), t.data(), kldiv::Shape(shape), o, out.data());
  return out;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

template <class T>
void check_identical(const std::vector<std::int64_t>& shape) {
  std::size_t numel = 1;
  for (auto s : shape) numel *= static_cast<std::size_t>(s);
  test::Random rng(99);
  std::vector<T> x(numel), t(numel);
  for (std::size_t i = 0; i < numel; ++i) {
    t[i] = static_cast<T>(rng.uniform() < 0.02 ? 0.0 : rng.uniform());
    x[i] = static_cast<T>(std::log(rng.uniform() + 1e-9) * 3);
  }
  std::map<std::string, std::vector<T>> reference;  // per (reduction, log_target): the bits of the first FMA target
  test::for_each_isa([&](const std::string& isa) {
    for (bool log_target : {false, true}) {
      CAPTURE(log_target);
      std::vector<T> lt = t;
      if (log_target)
        for (auto& v : lt) v = static_cast<T>(std::log(v + T(1e-6)));
      for (Reduction r : {Reduction::none, Reduction::mean, Reduction::sum, Reduction::batchmean}) {
        CAPTURE(kldiv::to_string(r));
        const auto one = run(x, lt, shape, r, log_target, 1);
        for (int threads : {2, 3, 4, 7}) {
          if (test::slow_run() && (threads == 3 || threads == 4)) continue;  // slow runs: 2 and 7 only
          CAPTURE(threads);
          CHECK(same_bits(one, run(x, lt, shape, r, log_target, threads)));
        }
        if (!test::has_fma(isa)) continue;
        const std::string key = std::string(kldiv::to_string(r)) + (log_target ? "/log" : "");
        const auto found = reference.find(key);
        if (found == reference.end())
          reference.emplace(key, one);
        else
          CHECK(same_bits(found->second, one));
      }
    }
  });
  // The comparison above ran if there were two FMA targets; say so when there were not.
  if (reference.empty()) MESSAGE("no FMA target on this CPU: cross-ISA bits not compared");
}

}  // namespace

// Slow runs (qemu, sanitizers: KLDIV_TEST_SWEEP_STEP > 1) skip 64x32000, which the wave-sized shape's
// blocks and threads already cover, and thread counts 3 and 4: under qemu this case took 90 s of the suite.
TEST_CASE("identical bits across thread counts and FMA targets") {
  const auto wave = static_cast<std::int64_t>(kldiv::detail::kBlock * 512);
  for (const std::vector<std::int64_t>& shape :
       {std::vector<std::int64_t>{7, 1000}, {64, 32000}, {1, wave + 3}, {3, 5, 7, 11}}) {
    if (test::slow_run() && shape.back() == 32000) continue;
    CAPTURE(shape.back());
    check_identical<float>(shape);
    check_identical<double>(shape);
  }
}

TEST_CASE("thread control: inside an outer parallel region, and the global setting") {
  const std::size_t n = 1 << 20;
  std::vector<float> x(n, -2.0f), t(n, 0.25f);
  const float expected = kldiv::loss(x.data(), t.data(), {static_cast<std::int64_t>(n)}, {kldiv::Reduction::sum});
  float inner[4] = {0, 0, 0, 0};
  int budget[4] = {0, 0, 0, 0};
#pragma omp parallel for num_threads(4)
  for (int i = 0; i < 4; ++i) {
    budget[i] = kldiv::detail::thread_budget(8);  // a host's thread gets no threads of its own
    inner[i] = kldiv::loss(x.data(), t.data(), {static_cast<std::int64_t>(n)}, {kldiv::Reduction::sum});
  }
  for (float v : inner) CHECK(v == expected);
  for (int b : budget) CHECK(b == 1);
  CHECK(kldiv::detail::thread_budget(8) == 8);
  kldiv::set_num_threads(3);
  CHECK(kldiv::num_threads() == 3);
  CHECK(kldiv::loss(x.data(), t.data(), {static_cast<std::int64_t>(n)}, {kldiv::Reduction::sum}) == expected);
  kldiv::set_num_threads(-5);
  CHECK(kldiv::num_threads() == 0);
}
