// Concurrent callers: 8 threads of the host call the library at once, each with its own data, dtype and
// thread count, while one of them keeps changing the global thread count and (among the FMA targets,
// which give the same bits) the ISA.  Each must get exactly the bits it gets alone on one thread, and
// its own error message from the C ABI.  Run under ThreadSanitizer by .ci/sanitizers.sh.
#include <atomic>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "kldiv/kldiv.h"
#include "support.hpp"

namespace {

using kldiv::Reduction;
constexpr int kCallers = 8;
constexpr int kRounds = 3;
constexpr Reduction kReductions[] = {Reduction::none, Reduction::mean, Reduction::sum, Reduction::batchmean};

// Everything one caller computes: forward for every reduction, then backward for none and mean.
template <class T>
std::vector<T> compute(const std::vector<T>& x, const std::vector<T>& t, const std::vector<std::int64_t>& shape,
                       bool log_target, int threads) {
  std::vector<T> all;
  kldiv::Options o;
  o.log_target = log_target;
  o.num_threads = threads;
  for (Reduction r : kReductions) {
    o.reduction = r;
    std::vector<T> out(r == Reduction::none ? x.size() : 1);
    kldiv::forward(x.data(), t.data(), kldiv::Shape(shape), o, out.data());
    all.insert(all.end(), out.begin(), out.end());
  }
  for (Reduction r : {Reduction::none, Reduction::mean}) {
    o.reduction = r;
    const std::vector<T> g(r == Reduction::none ? x.size() : 1, T(0.75));
    std::vector<T> gi(x.size()), gt(x.size());
    kldiv::backward(g.data(), x.data(), t.data(), kldiv::Shape(shape), o, gi.data(), gt.data());
    all.insert(all.end(), gi.begin(), gi.end());
    all.insert(all.end(), gt.begin(), gt.end());
  }
  return all;
}

struct Caller {
  int id;
  std::vector<std::int64_t> shape;
  bool f64, log_target;
  int threads;  // Options::num_threads; 0 = the global setting, which caller 0 keeps changing
  std::vector<float> x32, t32;
  std::vector<double> x64, t64;
  std::vector<unsigned char> alone;  // the bits on one thread, computed before the race
  std::atomic<int> mismatches{0}, bad_messages{0};

  std::vector<unsigned char> run(int n_threads) const {
    std::vector<unsigned char> bytes;
    auto keep = [&](const auto& v) {
      const auto* p = reinterpret_cast<const unsigned char*>(v.data());
      bytes.assign(p, p + v.size() * sizeof(v[0]));
    };
    if (f64)
      keep(compute(x64, t64, shape, log_target, n_threads));
    else
      keep(compute(x32, t32, shape, log_target, n_threads));
    return bytes;
  }
};

}  // namespace

TEST_CASE("concurrency: 8 host threads call at once, each gets its single-threaded bits") {
  std::vector<std::string> fma_isas;
  for (const auto& isa : test::isas())
    if (test::has_fma(isa)) fma_isas.push_back(isa);
  REQUIRE(!fma_isas.empty());
  kldiv::set_isa(fma_isas[0]);

  std::vector<Caller> callers(kCallers);
  for (int i = 0; i < kCallers; ++i) {
    Caller& c = callers[i];
    c.id = i;
    // 60 000 to 900 000 elements: enough for 1 to 27 threads of 32768 elements (src/parallel.cpp).
    c.shape = {i + 2, 30011 + 9973 * i};
    c.f64 = i % 2 == 1;
    c.log_target = (i / 2) % 2 == 1;
    c.threads = i == 7 ? 0 : i + 1;
    const std::size_t n = static_cast<std::size_t>(c.shape[0] * c.shape[1]);
    test::Random rng(4242 + i);
    for (std::size_t k = 0; k < n; ++k) {
      const double p = rng.uniform() < 0.02 ? 0.0 : rng.uniform();
      const double t = c.log_target ? std::log(p + 1e-9) : p;
      const double x = std::log(rng.uniform() + 1e-7);
      c.x32.push_back(static_cast<float>(x));
      c.t32.push_back(static_cast<float>(t));
      c.x64.push_back(x);
      c.t64.push_back(t);
    }
    c.alone = c.run(1);
  }

  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&, i] {
      Caller& c = callers[i];
      ready.fetch_add(1);
      while (ready.load() < kCallers) std::this_thread::yield();  // start together
      for (int round = 0; round < kRounds; ++round) {
        if (i == 0) {  // the global settings change under everyone's feet; the bits must not
          kldiv_set_num_threads(1 + (round * 3) % 5);
          if (kldiv_set_isa(fma_isas[round % fma_isas.size()].c_str()) != KLDIV_OK) c.bad_messages++;
        }
        if (c.run(c.threads) != c.alone) c.mismatches++;
        // A failing call reports its own message on this thread, whatever the others do meanwhile.
        const std::int64_t bad[2] = {2, -1000 - i};
        float out = 0;
        if (kldiv_forward_f32(c.x32.data(), c.t32.data(), bad, 2, KLDIV_REDUCTION_SUM, 0, &out) !=
                KLDIV_ERROR_INVALID_SHAPE ||
            out != 0)
          c.bad_messages++;
        std::this_thread::yield();
        const std::string expected = "size " + std::to_string(-1000 - i) + " of dimension 1 is negative";
        if (std::string(kldiv_last_error()) != expected) c.bad_messages++;
      }
    });
  }
  for (auto& th : threads) th.join();
  kldiv_set_num_threads(0);
  kldiv::set_isa("auto");

  for (const Caller& c : callers) {
    CAPTURE(c.id);
    CAPTURE(c.threads);
    CHECK(c.mismatches.load() == 0);
    CHECK(c.bad_messages.load() == 0);
  }
}
