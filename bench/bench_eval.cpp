// kldiv_eval_bench: kldiv-eval's per-token work (kldiv::eval::Accumulator::add) against llama.cpp's scalar
// loop (eval_scalar.cpp) on the same rows, at n_vocab 32000 and 128256, one and two threads.
//   base llama.cpp rows vs candidate float logits (llama-perplexity --kl-divergence's own case), and
//   base llama.cpp rows vs candidate llama.cpp rows (kldiv-eval on two files).
// Counters (wall-clock time): tokens/s and bytes/s, bytes = both inputs' rows.
//
// kldiv_eval_bench --write-pair DIR ROWS VOCAB writes DIR/base.logits and DIR/cand.logits (random
// logits, the candidate perturbed) for timing the command on files (tools/bench_report.py).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "eval_scalar.hpp"
#include "kldiv/eval.hpp"
#include "kldiv/eval_files.hpp"

namespace {

struct Rows {
  int vocab;
  std::int64_t rows, row_size;
  std::vector<float> q;
  std::vector<std::uint16_t> lp, lq;
  std::vector<std::int64_t> tokens;
};

void logits_row(std::mt19937_64& g, float* p, float* q, int vocab) {
  std::normal_distribution<float> n(0, 3), e(0, 0.3f);
  for (int i = 0; i < vocab; ++i) {
    p[i] = n(g);
    q[i] = p[i] + e(g);
  }
}

const Rows& data(int vocab) {
  static Rows cache[2];
  Rows& d = cache[vocab == 32000 ? 0 : 1];
  if (d.rows) return d;
  d.vocab = vocab;
  d.rows = (std::int64_t(32) << 20) / (4 * vocab);  // 32 MB of float logits per side: beyond the caches
  d.row_size = kldiv::eval::llama_row_size(vocab);
  std::mt19937_64 g(13);
  std::vector<float> p(vocab);
  d.q.resize(d.rows * vocab);
  d.lp.resize(d.rows * d.row_size);
  d.lq.resize(d.rows * d.row_size);
  for (std::int64_t r = 0; r < d.rows; ++r) {
    logits_row(g, p.data(), &d.q[r * vocab], vocab);
    kldiv::eval::quantize_llama_row(p.data(), vocab, &d.lp[r * d.row_size]);
    kldiv::eval::quantize_llama_row(&d.q[r * vocab], vocab, &d.lq[r * d.row_size]);
    d.tokens.push_back(static_cast<std::int64_t>(g() % vocab));
  }
  return d;
}

void counters(benchmark::State& state, const Rows& d, bool llama_candidate) {
  using benchmark::Counter;
  const double bytes = d.rows * (2.0 * d.row_size + (llama_candidate ? 2.0 * d.row_size : 4.0 * d.vocab));
  state.counters["tokens/s"] = Counter(static_cast<double>(d.rows), Counter::kIsIterationInvariantRate);
  state.counters["bytes/s"] = Counter(bytes, Counter::kIsIterationInvariantRate, Counter::kIs1000);
}

// Arguments: vocab, threads, candidate (0 logits, 1 llama.cpp rows).
void BM_eval_kldiv(benchmark::State& state) {
  const Rows& d = data(static_cast<int>(state.range(0)));
  const bool llama = state.range(2) != 0;
  kldiv::eval::Options o;
  o.num_threads = static_cast<int>(state.range(1));
  const auto base = kldiv::eval::Rows::llama(d.lp.data(), d.rows, d.vocab, d.row_size);
  const auto cand = llama ? kldiv::eval::Rows::llama(d.lq.data(), d.rows, d.vocab, d.row_size)
                          : kldiv::eval::Rows::logits(kldiv::Rows(d.q.data(), d.rows, d.vocab));
  for (auto _ : state) {
    kldiv::eval::Accumulator acc(d.vocab, o);
    acc.add(base, cand, d.tokens.data());
    benchmark::DoNotOptimize(acc.tokens());
  }
  counters(state, d, llama);
}

void BM_eval_llama_scalar(benchmark::State& state) {
  const Rows& d = data(static_cast<int>(state.range(0)));
  const bool llama = state.range(2) != 0;
  for (auto _ : state) {
    const auto t = bench::scalar_llama_loop(d.lp.data(), llama ? nullptr : d.q.data(), llama ? d.lq.data() : nullptr,
                                            d.tokens.data(), d.rows, d.vocab, d.row_size, static_cast<int>(state.range(1)));
    benchmark::DoNotOptimize(t.kld);
  }
  counters(state, d, llama);
}

void args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"vocab", "threads", "llama_candidate"});
  for (const int candidate : {0, 1})
    for (const int vocab : {32000, 128256})
      for (const int threads : {1, 2}) b->Args({vocab, threads, candidate});
  b->UseRealTime()->Unit(benchmark::kMillisecond);
}
BENCHMARK(BM_eval_kldiv)->Apply(args);
BENCHMARK(BM_eval_llama_scalar)->Apply(args);

int write_pair(const std::string& dir, std::int64_t rows, int vocab) {
  const int n_ctx = 512, per_chunk = n_ctx - 1 - n_ctx / 2;
  const int n_chunk = static_cast<int>((rows + per_chunk - 1) / per_chunk);
  std::mt19937_64 g(7);
  std::vector<std::int32_t> tokens(static_cast<std::size_t>(n_ctx) * n_chunk);
  for (auto& t : tokens) t = static_cast<std::int32_t>(g() % vocab);
  kldiv::eval::LlamaWriter base(dir + "/base.logits", n_ctx, vocab, n_chunk, tokens.data());
  kldiv::eval::LlamaWriter cand(dir + "/cand.logits", n_ctx, vocab, n_chunk, tokens.data());
  std::vector<float> p(static_cast<std::size_t>(per_chunk) * vocab), q(p.size());
  for (int c = 0; c < n_chunk; ++c) {
    for (int r = 0; r < per_chunk; ++r) logits_row(g, &p[r * static_cast<std::size_t>(vocab)], &q[r * static_cast<std::size_t>(vocab)], vocab);
    base.add_chunk(p.data(), vocab);
    cand.add_chunk(q.data(), vocab);
  }
  base.close();
  cand.close();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::strcmp(argv[1], "--write-pair") == 0)
    return write_pair(argv[2], std::atoll(argv[3]), std::atoi(argv[4]));
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
