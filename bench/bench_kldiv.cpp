// kldiv's benchmark suite: kldiv::forward, backward and forward_backward on every ISA against the
// roofline, a scalar loop and PyTorch, all in one binary so that ratios come from one run.
// tools/bench_report.py runs a selection of it and computes the ratios; run it directly for everything
// (--benchmark_list_tests shows the names).
//
// Names: <impl>/<dtype>/<reduction>/<target>/<rows>x<cols>/threads:<n>
//   impl      kldiv:<isa> | scalar | torch | roofline                        the forward pass
//             peer:<name>   a hand-written loop over another library's vectorized log (bench/peers/;
//                           f32, batchmean, prob, one thread)
//             kldiv.backward:<isa>        backward, grad_input only (batchmean: grad_output 1; none: an array)
//             kldiv.backward_both:<isa>   backward, grad_input and grad_target
//             kldiv.forward_backward:<isa>  the loss and grad_input in one pass (batchmean only)
//             torch.forward_backward      libtorch: kl_div, then loss.backward() into input.grad (batchmean)
//   dtype     f32 | f64 | bf16 | f16   (bf16, f16: the same data rounded to the type; forward batchmean on
//                                      the best ISA and libtorch)
//   target    prob (log_target off) | logt (on); the roofline has "read" / "readwrite" and "-" instead
// Counters (medians over repetitions, wall-clock time): elem/s and bytes/s, bytes = what the pass must
// move: the arrays it needs read once and its outputs written once.  forward: x, t (+ out for none);
// backward: t (+ g for none) and grad_input, plus x and grad_target for both gradients; forward_backward:
// x, t and grad_input, the bytes of the read-two-write-one roofline.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "baselines.hpp"
#include "bench_logits.hpp"
#include "kldiv/kldiv.hpp"
#include "peers/peers.hpp"

namespace {

struct Size {
  std::int64_t rows, cols;
  std::size_t numel() const { return static_cast<std::size_t>(rows * cols); }
  bool operator==(const Size& o) const { return rows == o.rows && cols == o.cols; }
};

// From L1-resident (32 KiB of f32) through L2 and L3 to several times the last-level cache; 1x2^20 is
// one row, so the threads must split within it.
const Size kSizes[] = {{1, 4096}, {8, 4000}, {1, 1 << 20}, {64, 32000}, {256, 32000}};
// The sizes of the gradient benchmarks: issue 3's three shapes and the one long row.
const Size kGradientSizes[] = {{8, 4000}, {1, 1 << 20}, {64, 32000}, {256, 32000}};

const kldiv::Reduction kReductions[] = {kldiv::Reduction::none, kldiv::Reduction::mean, kldiv::Reduction::sum,
                                        kldiv::Reduction::batchmean};

// 64-byte aligned, as PyTorch's CPU allocator aligns tensors: the layout kldiv meets in practice.
template <class T>
struct Buffer {
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T, Free> p;
  explicit Buffer(std::size_t n)
      : p(static_cast<T*>(std::aligned_alloc(64, (n * sizeof(T) + 63) / 64 * 64))) {}
  T* get() const { return p.get(); }
};

// An element type's kldiv::Dtype, and conversions from and to double (a half through float).
template <class T>
constexpr kldiv::Dtype dtype_of() {
  if constexpr (std::is_same_v<T, kldiv::bf16>) return kldiv::Dtype::bf16;
  else if constexpr (std::is_same_v<T, kldiv::f16>) return kldiv::Dtype::f16;
  else return std::is_same_v<T, double> ? kldiv::Dtype::f64 : kldiv::Dtype::f32;
}
template <class T>
T element(double v) {
  if constexpr (std::is_same_v<T, kldiv::bf16>) return kldiv::to_bf16(static_cast<float>(v));
  else if constexpr (std::is_same_v<T, kldiv::f16>) return kldiv::to_f16(static_cast<float>(v));
  else return static_cast<T>(v);
}
double value(float v) { return v; }
double value(double v) { return v; }
double value(kldiv::bf16 v) { return kldiv::to_float(v); }
double value(kldiv::f16 v) { return kldiv::to_float(v); }

// One size's inputs: t = softmax of N(0,1) logits per row, logt = log(t), x = log_softmax of other
// logits, as a classifier's output against soft labels; g, uniform in [0.5, 1.5), is the upstream
// gradient array of backward with reduction none.  ref_* are the loss sums in double, to check every
// implementation's result once per benchmark run, from the stored (for bf16 and f16, rounded) values.
// out, gx and gt receive the outputs.
template <class T>
struct Data {
  Size size;
  Buffer<T> x, t, logt, out, g, gx, gt;
  double ref_prob = 0, ref_logt = 0;
  explicit Data(Size s)
      : size(s), x(s.numel()), t(s.numel()), logt(s.numel()), out(s.numel()), g(s.numel()), gx(s.numel()),
        gt(s.numel()) {
    std::mt19937_64 rng(42);
    std::normal_distribution<double> normal;
    std::uniform_real_distribution<double> uniform(0.5, 1.5);
    std::vector<double> a(s.cols), b(s.cols);
    auto log_softmax = [](std::vector<double>& v) {
      double m = v[0], z = 0;
      for (double e : v) m = std::max(m, e);
      for (double e : v) z += std::exp(e - m);
      for (double& e : v) e -= m + std::log(z);
    };
    for (std::int64_t r = 0; r < s.rows; ++r) {
      for (auto& e : a) e = normal(rng);
      for (auto& e : b) e = normal(rng);
      log_softmax(a);
      log_softmax(b);
      for (std::int64_t c = 0; c < s.cols; ++c) {
        const std::size_t i = static_cast<std::size_t>(r * s.cols + c);
        x.get()[i] = element<T>(b[c]);
        logt.get()[i] = element<T>(a[c]);
        t.get()[i] = element<T>(std::exp(a[c]));
        g.get()[i] = element<T>(uniform(rng));
        out.get()[i] = gx.get()[i] = gt.get()[i] = element<T>(0);  // touch every page before timing
      }
    }
    for (std::size_t i = 0; i < s.numel(); ++i) {
      const double xi = value(x.get()[i]), ti = value(t.get()[i]), li = value(logt.get()[i]);
      ref_prob += ti > 0 ? ti * (std::log(ti) - xi) : 0;
      ref_logt += std::exp(li) * (li - xi);
    }
  }
  const T* target(bool log_target) const { return log_target ? logt.get() : t.get(); }
};

// Benchmarks run in registration order, size by size, so one cached size per type is enough and keeps
// memory to one size's buffers.
template <class T>
const Data<T>& data(Size s) {
  static std::unique_ptr<Data<T>> cached;
  if (!cached || !(cached->size == s)) {
    cached.reset();
    cached = std::make_unique<Data<T>>(s);
  }
  return *cached;
}

struct Case {
  Size size;
  kldiv::Reduction reduction;
  bool log_target;
  int threads;
  double divisor() const {
    return reduction == kldiv::Reduction::mean ? static_cast<double>(size.numel())
           : reduction == kldiv::Reduction::batchmean ? static_cast<double>(size.rows)
                                                      : 1.0;
  }
};

// `arrays`: how many arrays of n elements the pass must read or write once.
template <class T>
void set_counters(benchmark::State& state, std::size_t n, int arrays) {
  using benchmark::Counter;
  const double bytes = static_cast<double>(n * sizeof(T) * arrays);
  state.counters["elem/s"] = Counter(static_cast<double>(n), Counter::kIsIterationInvariantRate, Counter::kIs1000);
  state.counters["bytes/s"] = Counter(bytes, Counter::kIsIterationInvariantRate, Counter::kIs1000);
}

// The relative tolerance of a reduced result: for bf16 and f16, 4 units in the last place of the type
// (kldiv rounds once; PyTorch rounds each operation's result to the type).
template <class T>
constexpr double result_tolerance() {
  if constexpr (std::is_same_v<T, kldiv::bf16>) return 0x1p-6;
  else if constexpr (std::is_same_v<T, kldiv::f16>) return 0x1p-9;
  else return std::is_same_v<T, float> ? 1e-3 : 1e-9;
}

// Skips the benchmark when an implementation's result is off: a fast wrong answer is no result.
// `value` is the reduced loss, or for none the sum of the output.
template <class T>
bool check(benchmark::State& state, const Data<T>& d, const Case& c, double value) {
  const double expected = (c.log_target ? d.ref_logt : d.ref_prob) / (c.reduction == kldiv::Reduction::none ? 1.0 : c.divisor());
  const double tol = result_tolerance<T>();
  if (std::abs(value - expected) <= tol * std::abs(expected)) return true;
  state.SkipWithError(("wrong result: " + std::to_string(value) + " instead of " + std::to_string(expected)).c_str());
  return false;
}

template <class T>
double sum_out(const Data<T>& d) {
  double s = 0;
  for (std::size_t i = 0; i < d.size.numel(); ++i) s += value(d.out.get()[i]);
  return s;
}

template <class T>
void bm_kldiv(benchmark::State& state, std::string isa, Case c) {
  const Data<T>& d = data<T>(c.size);
  kldiv::set_isa(isa);  // global: every kldiv benchmark sets its own
  const kldiv::Options options{c.reduction, c.log_target, c.threads};
  const kldiv::Shape shape{c.size.rows, c.size.cols};
  T* out = d.out.get();
  kldiv::forward(d.x.get(), d.target(c.log_target), shape, options, out);
  if (!check(state, d, c, c.reduction == kldiv::Reduction::none ? sum_out(d) : value(*out))) return;
  for (auto _ : state) {
    kldiv::forward(d.x.get(), d.target(c.log_target), shape, options, out);
    benchmark::ClobberMemory();
  }
  set_counters<T>(state, c.size.numel(), c.reduction == kldiv::Reduction::none ? 3 : 2);
}

template <class T>
void bm_scalar(benchmark::State& state, Case c) {
  const Data<T>& d = data<T>(c.size);
  auto call = [&] {
    return bench::scalar_forward(d.x.get(), d.target(c.log_target), d.out.get(), c.size.rows, c.size.numel(),
                                 c.reduction, c.log_target, c.threads);
  };
  const double r = call();
  if (!check(state, d, c, c.reduction == kldiv::Reduction::none ? sum_out(d) : r)) return;
  for (auto _ : state) {
    benchmark::DoNotOptimize(call());
    benchmark::ClobberMemory();
  }
  set_counters<T>(state, c.size.numel(), c.reduction == kldiv::Reduction::none ? 3 : 2);
}

template <class T>
void bm_peer(benchmark::State& state, bench::Peer peer, Case c) {
  const Data<T>& d = data<T>(c.size);
  const std::size_t n = c.size.numel();
  if (!check(state, d, c, peer.sum(d.x.get(), d.t.get(), n) / c.divisor())) return;
  for (auto _ : state) benchmark::DoNotOptimize(peer.sum(d.x.get(), d.t.get(), n) / c.divisor());
  set_counters<T>(state, n, 2);
}

#if defined(KLDIV_BENCH_HAVE_TORCH)
// Op (TorchKlDiv or TorchKlDivGrad, which take the same arguments) on c's data, with c's threads set.
template <class Op, class T>
Op torch_op(const Data<T>& d, const Case& c) {
  bench::TorchKlDiv::set_threads(c.threads);
  return Op(d.x.get(), d.target(c.log_target), dtype_of<T>(), c.size.rows, c.size.cols, c.reduction, c.log_target);
}

template <class T>
void bm_torch(benchmark::State& state, Case c) {
  const Data<T>& d = data<T>(c.size);
  try {  // libtorch lacks some half kernels on CPU
    auto op = torch_op<bench::TorchKlDiv>(d, c);
    if (!check(state, d, c, op.checksum())) return;
    for (auto _ : state) op.run();
  } catch (const std::exception& e) {
    const std::string what = e.what();
    state.SkipWithError(("libtorch: " + what.substr(0, what.find('\n'))).c_str());
    return;
  }
  set_counters<T>(state, c.size.numel(), c.reduction == kldiv::Reduction::none ? 3 : 2);
}
#endif

// ---- Gradients -------------------------------------------------------------------------------------

// The upstream gradient element i sees: g[i] for none, else grad_output 1 scaled like the reduction.
template <class T>
double upstream(const Data<T>& d, const Case& c, std::size_t i) {
  return c.reduction == kldiv::Reduction::none ? double(d.g.get()[i]) : 1.0 / c.divisor();
}

// A reference gradient in double from the stored (rounded) inputs, and the size of the terms it is made
// of: a difference of near-equal terms (d/dt) is judged against the terms, not the cancelled result.
struct Expected {
  double value, scale;
};

template <class T>
Expected ref_grad_input(const Data<T>& d, const Case& c, std::size_t i) {  // -g*t, -g*exp(t)
  const double g = upstream(d, c, i);
  const double p = c.log_target ? std::exp(double(d.logt.get()[i])) : double(d.t.get()[i]);
  return {-g * p, std::abs(g * p)};
}

template <class T>
Expected ref_grad_target(const Data<T>& d, const Case& c, std::size_t i) {
  const double g = upstream(d, c, i), x = d.x.get()[i];
  if (c.log_target) {  // g*exp(t)*(t - x + 1)
    const double l = d.logt.get()[i], e = std::exp(l);
    return {g * e * (l - x + 1), std::abs(g * e) * (std::abs(l) + std::abs(x) + 1)};
  }
  const double t = d.t.get()[i];  // g*(log t + 1 - x); every t here is > 0
  return {g * (std::log(t) + 1 - x), std::abs(g) * (std::abs(std::log(t)) + 1 + std::abs(x))};
}

// Every element of `got` against the reference: |got - value| <= tol * scale (NaN fails).  Skips the
// benchmark with the first bad element otherwise.
template <class T, class Ref>
bool check_array(benchmark::State& state, const char* what, const T* got, const Data<T>& d, const Case& c, Ref ref) {
  const double tol = std::is_same_v<T, float> ? 2e-6 : 1e-12;
  for (std::size_t i = 0; i < d.size.numel(); ++i) {
    const Expected e = ref(d, c, i);
    if (std::abs(double(got[i]) - e.value) <= tol * e.scale) continue;
    char msg[160];
    std::snprintf(msg, sizeof msg, "wrong %s[%zu]: %.9g instead of %.9g", what, i, double(got[i]), e.value);
    state.SkipWithError(msg);
    return false;
  }
  return true;
}

// Outputs are shared between benchmarks: fill them with NaN before the checked call, so that a pass that
// writes nothing cannot pass on an earlier benchmark's results.
template <class T>
void poison(T* p, std::size_t n) {
  std::fill(p, p + n, std::numeric_limits<T>::quiet_NaN());
}

template <class T>
void bm_backward(benchmark::State& state, std::string isa, Case c, bool both) {
  const Data<T>& d = data<T>(c.size);
  kldiv::set_isa(isa);
  const kldiv::Options options{c.reduction, c.log_target, c.threads};
  const kldiv::Shape shape{c.size.rows, c.size.cols};
  const bool none = c.reduction == kldiv::Reduction::none;
  const T one = 1;
  const T* g = none ? d.g.get() : &one;
  T* gx = d.gx.get();
  T* gt = both ? d.gt.get() : nullptr;
  const std::size_t n = c.size.numel();
  poison(gx, n);
  poison(d.gt.get(), n);
  kldiv::backward(g, d.x.get(), d.target(c.log_target), shape, options, gx, gt);
  if (!check_array(state, "grad_input", gx, d, c, ref_grad_input<T>)) return;
  if (both && !check_array(state, "grad_target", gt, d, c, ref_grad_target<T>)) return;
  if (!both && !std::isnan(d.gt.get()[0])) {
    state.SkipWithError("grad_target written although it was null");
    return;
  }
  for (auto _ : state) {
    kldiv::backward(g, d.x.get(), d.target(c.log_target), shape, options, gx, gt);
    benchmark::ClobberMemory();
  }
  // t and grad_input (+ g for none); both gradients also need x and write grad_target.
  set_counters<T>(state, n, 2 + (none ? 1 : 0) + (both ? 2 : 0));
}

template <class T>
void bm_forward_backward(benchmark::State& state, std::string isa, Case c) {
  const Data<T>& d = data<T>(c.size);
  kldiv::set_isa(isa);
  const kldiv::Options options{c.reduction, c.log_target, c.threads};
  const kldiv::Shape shape{c.size.rows, c.size.cols};
  T* gx = d.gx.get();
  poison(gx, c.size.numel());
  const T loss = kldiv::forward_backward(d.x.get(), d.target(c.log_target), shape, options, gx);
  if (!check(state, d, c, double(loss)) || !check_array(state, "grad_input", gx, d, c, ref_grad_input<T>)) return;
  for (auto _ : state) {
    benchmark::DoNotOptimize(kldiv::forward_backward(d.x.get(), d.target(c.log_target), shape, options, gx));
    benchmark::ClobberMemory();
  }
  set_counters<T>(state, c.size.numel(), 3);  // x, t, grad_input: the read-two-write-one roofline's bytes
}

#if defined(KLDIV_BENCH_HAVE_TORCH)
template <class T>
void bm_torch_forward_backward(benchmark::State& state, Case c) {
  const Data<T>& d = data<T>(c.size);
  auto op = torch_op<bench::TorchKlDivGrad>(d, c);
  op.run();
  if (!check(state, d, c, op.loss()) ||
      !check_array(state, "grad_input", static_cast<const T*>(op.grad_input()), d, c, ref_grad_input<T>))
    return;
  for (auto _ : state) op.run();
  set_counters<T>(state, c.size.numel(), 3);
}
#endif

template <class T>
void bm_roofline(benchmark::State& state, Size size, bool writes, int threads) {
  const Data<T>& d = data<T>(size);
  for (auto _ : state) {
    if (writes)
      bench::roofline_read_write(d.x.get(), d.t.get(), d.out.get(), size.numel(), threads);
    else
      benchmark::DoNotOptimize(bench::roofline_read(d.x.get(), d.t.get(), size.numel(), threads));
    benchmark::ClobberMemory();
  }
  set_counters<T>(state, size.numel(), writes ? 3 : 2);
}

template <class T>
void register_size(Size s, const std::vector<int>& thread_counts, const std::vector<std::string>& isas) {
  const bool gradients = std::find(std::begin(kGradientSizes), std::end(kGradientSizes), s) != std::end(kGradientSizes);
  const std::string dtype = std::is_same_v<T, float> ? "f32" : "f64";
  const std::string size = std::to_string(s.rows) + "x" + std::to_string(s.cols);
  auto add = [](const std::string& name, auto fn, auto... args) {
    benchmark::RegisterBenchmark(name.c_str(), fn, args...)->UseRealTime()->Unit(benchmark::kMicrosecond);
  };
  // Same size and threads next to each other in time, so that a noisy neighbour hits them alike.
  for (int threads : thread_counts) {
    const std::string suffix = "/" + size + "/threads:" + std::to_string(threads);
    for (bool writes : {false, true})
      add("roofline/" + dtype + (writes ? "/readwrite/-" : "/read/-") + suffix, bm_roofline<T>, s, writes, threads);
    for (kldiv::Reduction r : kReductions)
      for (bool log_target : {false, true}) {
        const Case c{s, r, log_target, threads};
        const std::string mid = "/" + dtype + "/" + kldiv::to_string(r) + (log_target ? "/logt" : "/prob") + suffix;
        for (const std::string& isa : isas) add("kldiv:" + isa + mid, bm_kldiv<T>, isa, c);
        add("scalar" + mid, bm_scalar<T>, c);
        if constexpr (std::is_same_v<T, float>)
          if (threads == 1 && r == kldiv::Reduction::batchmean && !log_target)
            for (const bench::Peer& peer : bench::peers()) add("peer:" + std::string(peer.name) + mid, bm_peer<T>, peer, c);
#if defined(KLDIV_BENCH_HAVE_TORCH)
        add("torch" + mid, bm_torch<T>, c);
#endif
      }
    // bf16 and f16 next to f32 at the sizes of issue 11, on the best ISA, and libtorch in the same dtype.
    if (std::is_same_v<T, float> && (s == Size{8, 4000} || s == Size{64, 32000} || s == Size{256, 32000})) {
      const Case c{s, kldiv::Reduction::batchmean, false, threads};
      add("kldiv:" + isas.front() + "/bf16/batchmean/prob" + suffix, bm_kldiv<kldiv::bf16>, isas.front(), c);
      add("kldiv:" + isas.front() + "/f16/batchmean/prob" + suffix, bm_kldiv<kldiv::f16>, isas.front(), c);
#if defined(KLDIV_BENCH_HAVE_TORCH)
      add("torch/bf16/batchmean/prob" + suffix, bm_torch<kldiv::bf16>, c);
      add("torch/f16/batchmean/prob" + suffix, bm_torch<kldiv::f16>, c);
#endif
    }
    if (!gradients) continue;
    // Gradients: batchmean (one upstream value) and none (an array of them); forward_backward has no none.
    for (kldiv::Reduction r : {kldiv::Reduction::batchmean, kldiv::Reduction::none})
      for (bool log_target : {false, true}) {
        const Case c{s, r, log_target, threads};
        const std::string mid = "/" + dtype + "/" + kldiv::to_string(r) + (log_target ? "/logt" : "/prob") + suffix;
        for (const std::string& isa : isas) {
          add("kldiv.backward:" + isa + mid, bm_backward<T>, isa, c, false);
          add("kldiv.backward_both:" + isa + mid, bm_backward<T>, isa, c, true);
          if (r != kldiv::Reduction::none) add("kldiv.forward_backward:" + isa + mid, bm_forward_backward<T>, isa, c);
        }
#if defined(KLDIV_BENCH_HAVE_TORCH)
        if (r != kldiv::Reduction::none) add("torch.forward_backward" + mid, bm_torch_forward_backward<T>, c);
#endif
      }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  const std::vector<std::string> isas = kldiv::available_isas();  // best first
  const int cores = omp_get_num_procs();
  std::vector<int> thread_counts{1};
  if (cores > 1) thread_counts.push_back(cores);

  std::string isa_list;
  for (const auto& isa : isas) isa_list += (isa_list.empty() ? "" : ",") + isa;
  benchmark::AddCustomContext("kldiv_version", kldiv::version());
  benchmark::AddCustomContext("kldiv_isas", isa_list);
  benchmark::AddCustomContext("kldiv_best_isa", isas.front());
  benchmark::AddCustomContext("cores", std::to_string(cores));
  benchmark::AddCustomContext("peers_missing", bench::missing_peers());
#if defined(KLDIV_BENCH_HAVE_TORCH)
  benchmark::AddCustomContext("torch_version", bench::TorchKlDiv::version());
#endif

  for (const Size& s : kSizes) {
    register_size<float>(s, thread_counts, isas);
    register_size<double>(s, thread_counts, isas);
  }
  register_logits_benchmarks(thread_counts);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
