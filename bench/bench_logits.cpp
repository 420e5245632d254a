// The logits benchmarks (issue 10): KL and JSD straight from logits, forward and forward+backward, for
// kldiv (best ISA), libtorch's composition and a llama.cpp-style scalar loop, in kldiv_bench's run.
//
// Names: logits/<impl>/<divergence>/<pass>/<dtype>/<rows>x<cols>/threads:<n>   (dtype f32; bf16 for kldiv
// at the DRAM sizes, 256x32000 and 16x128256)
//   impl        kldiv | torch | scalar (KL forward only) | roofline
//   divergence  kl | jsd (beta 0.5);  pass  forward | forward_backward (gradient w.r.t. q, batchmean)
//   roofline    logits/roofline/read/-/f32/...: p and q read once (a forward's bytes); readwrite/-: p and q
//               read, one array written (forward_backward's bytes); bench/roofline.cpp's passes, f32
// Data: p = 2 N(0, 1) logits, q = p + 0.3 N(0, 1) (a student near its teacher), T = 2.  Counters: elem/s
// (rows * cols per second) and bytes/s (p and q read once, the gradient written once).
#include "bench_logits.hpp"

#include <benchmark/benchmark.h>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "baselines.hpp"
#include "kldiv/kldiv.hpp"

namespace {

struct LogitsData {
  std::int64_t rows, cols;
  std::vector<float> p, q, grad;
  std::vector<kldiv::bf16> pb, qb, gradb;
  LogitsData(std::int64_t r, std::int64_t c)
      : rows(r), cols(c), p(r * c), q(r * c), grad(r * c), pb(r * c), qb(r * c), gradb(r * c) {
    std::mt19937_64 rng(7);
    std::normal_distribution<float> normal;
    for (std::size_t i = 0; i < p.size(); ++i) {
      p[i] = 2 * normal(rng), q[i] = p[i] + 0.3f * normal(rng);
      pb[i] = kldiv::to_bf16(p[i]), qb[i] = kldiv::to_bf16(q[i]);
    }
  }
};

const LogitsData& logits_data(std::int64_t rows, std::int64_t cols) {
  static std::unique_ptr<LogitsData> cached;
  if (!cached || cached->rows != rows || cached->cols != cols) {
    cached.reset();
    cached = std::make_unique<LogitsData>(rows, cols);
  }
  return *cached;
}

constexpr double kTemperature = 2.0, kBeta = 0.5;

void counters(benchmark::State& state, const LogitsData& d, bool backward, int element_bytes = 4) {
  using benchmark::Counter;
  const double n = static_cast<double>(d.p.size());
  state.counters["elem/s"] = Counter(n, Counter::kIsIterationInvariantRate, Counter::kIs1000);
  state.counters["bytes/s"] =
      Counter(n * element_bytes * (backward ? 3 : 2), Counter::kIsIterationInvariantRate, Counter::kIs1000);
}

void bm_kldiv(benchmark::State& state, std::int64_t rows, std::int64_t cols, int divergence, bool backward, int threads,
              bool bf16) {
  auto& d = const_cast<LogitsData&>(logits_data(rows, cols));
  kldiv::LogitsOptions o;
  o.divergence = static_cast<kldiv::Divergence>(divergence);
  o.temperature = kTemperature;
  o.beta = kBeta;
  o.num_threads = threads;
  const kldiv::Rows p = bf16 ? kldiv::Rows(d.pb.data(), rows, cols) : kldiv::Rows(d.p.data(), rows, cols);
  const kldiv::Rows q = bf16 ? kldiv::Rows(d.qb.data(), rows, cols) : kldiv::Rows(d.q.data(), rows, cols);
  void* grad = bf16 ? static_cast<void*>(d.gradb.data()) : static_cast<void*>(d.grad.data());
  const double one = 1;
  for (auto _ : state) {
    double out;
    if (backward) kldiv::logits_forward_backward(p, q, o, &one, &out, grad, cols);
    else kldiv::logits_forward(p, q, o, &out);
    benchmark::DoNotOptimize(out);
    benchmark::ClobberMemory();
  }
  counters(state, d, backward, bf16 ? 2 : 4);
}

void bm_roofline(benchmark::State& state, std::int64_t rows, std::int64_t cols, bool writes, int threads) {
  auto& d = const_cast<LogitsData&>(logits_data(rows, cols));
  for (auto _ : state) {
    if (writes) bench::roofline_read_write(d.p.data(), d.q.data(), d.grad.data(), d.p.size(), threads);
    else benchmark::DoNotOptimize(bench::roofline_read(d.p.data(), d.q.data(), d.p.size(), threads));
    benchmark::ClobberMemory();
  }
  counters(state, d, writes);
}

void bm_scalar(benchmark::State& state, std::int64_t rows, std::int64_t cols) {
  const LogitsData& d = logits_data(rows, cols);
  for (auto _ : state) benchmark::DoNotOptimize(bench::scalar_logits_kl(d.p.data(), d.q.data(), rows, cols, kTemperature));
  counters(state, d, false);
}

#if defined(KLDIV_BENCH_HAVE_TORCH)
void bm_torch(benchmark::State& state, std::int64_t rows, std::int64_t cols, int divergence, bool backward, int threads) {
  const LogitsData& d = logits_data(rows, cols);
  bench::TorchKlDiv::set_threads(threads);
  bench::TorchLogits t(d.p.data(), d.q.data(), rows, cols, divergence, kTemperature, kBeta, backward);
  for (int i = 0; i < 5; ++i) t.run();  // the first calls of a shape bind symbols and grow the heap: slow
  for (auto _ : state) benchmark::DoNotOptimize(t.run());
  counters(state, d, backward);
}
#endif

}  // namespace

void register_logits_benchmarks(const std::vector<int>& thread_counts) {
  const std::int64_t sizes[][2] = {{8, 32000}, {64, 32000}, {256, 32000}, {16, 128256}};
  auto add = [](const std::string& name, auto fn, auto... args) {
    benchmark::RegisterBenchmark(name.c_str(), fn, args...)->UseRealTime()->Unit(benchmark::kMicrosecond);
  };
  for (const auto& s : sizes)
    for (int threads : thread_counts) {
      const std::string suffix = "/f32/" + std::to_string(s[0]) + "x" + std::to_string(s[1]) + "/threads:" + std::to_string(threads);
      for (bool writes : {false, true})
        add(std::string("logits/roofline") + (writes ? "/readwrite/-" : "/read/-") + suffix, bm_roofline, s[0], s[1], writes,
            threads);
      for (int div : {0, 2})
        for (bool backward : {false, true}) {
          const std::string mid = std::string(div == 0 ? "/kl" : "/jsd") + (backward ? "/forward_backward" : "/forward") + suffix;
          add("logits/kldiv" + mid, bm_kldiv, s[0], s[1], div, backward, threads, false);
          // bf16 at the DRAM sizes.
          if (s[0] * s[1] >= 256 * 32000) {
            std::string bmid = mid;
            bmid.replace(bmid.find("/f32/"), 5, "/bf16/");
            add("logits/kldiv" + bmid, bm_kldiv, s[0], s[1], div, backward, threads, true);
          }
#if defined(KLDIV_BENCH_HAVE_TORCH)
          add("logits/torch" + mid, bm_torch, s[0], s[1], div, backward, threads);
#endif
          if (div == 0 && !backward && threads == 1) add("logits/scalar" + mid, bm_scalar, s[0], s[1]);
        }
    }
}
