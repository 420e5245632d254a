// The logits API: validation, then, row by row, the logits kernels of the active ISA
// (src/kernels/logits.hpp), split between threads.
//
// Per row: c from the first chunk; the LogitsState of each segment of kLogitsSegment elements, merged
// in order (again about the row's maxima where c proves far off them: Engine::off_center); from it
// (README.md, "Logits", has the derivation), with S = sn + fp, X = (an + h + F) / S and
// F = e^(qmax/T - pmax/T - c) fq - fp:
//   KL(P || Q) = (log1p(X) - X) + (h + F - af) / S    (= log1p(X) - (an + af) / S, used for |X| > 1/2)
//   log Z_q - log Z_p = c + log1p(X),   log Z_p = pmax/T + log S,
// with log1p(X) as a log-sum-exp of its near and far parts where X is near -1 or e^e overflows.
// Reverse KL is the same with p and q swapped; JSD and the gradients take further passes over the row
// with these normalisers.  Many rows: each thread takes whole rows, so a row's passes find it in cache.
// Fewer rows than threads: the segments of all rows are shared out, pass by pass.  Either way each
// segment is computed alike and merged in the same order, so the bits do not depend on the split.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "dispatch.hpp"
#include "kldiv/logits.hpp"
#include "logits_rows.hpp"
#include "logits_state.hpp"
#include "parallel.hpp"
#include "validate_logits.hpp"

namespace kldiv::detail {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
// Below e^709 a double exp is finite: past this (with margin) log(1 + X) is taken in the log domain.
constexpr double kLogDomain = 700;
constexpr double kRecenter = 32;  // Engine::off_center; above kHeadroom (src/kernels/logits.hpp)

// What a row's first pass gives.
struct RowResult {
  LogitsRow row;
  double value;  // the divergence, before T^2
  double lse_p, lse_q;
  std::int64_t argmax_p, argmax_q;
  bool nan;
};

// Writes n copies of v into a row of the given dtype.
void fill_row(void* dst, Dtype dtype, std::size_t n, double v) {
  const auto f = static_cast<float>(v);
  switch (dtype) {
    case Dtype::f64: std::fill_n(static_cast<double*>(dst), n, v); break;
    case Dtype::f32: std::fill_n(static_cast<float*>(dst), n, f); break;
    case Dtype::bf16: std::fill_n(static_cast<bf16*>(dst), n, to_bf16(f)); break;
    case Dtype::f16: std::fill_n(static_cast<f16*>(dst), n, to_f16(f)); break;
  }
}

class Engine {
 public:
  Engine(const Rows& p, const Rows& q, const LogitsOptions& o, bool argmax)
      : table_(active_kernels()),
        k_(table_.logits[static_cast<int>(p.dtype)][static_cast<int>(q.dtype)]),
        ks_(table_.logits[static_cast<int>(q.dtype)][static_cast<int>(p.dtype)]),
        pm_(p), qm_(q), o_(o), s_(1.0 / o.temperature), argmax_(argmax),
        reverse_(o.divergence == Divergence::reverse_kl), cols_(static_cast<std::size_t>(p.cols)),
        segs_((cols_ + kLogitsSegment - 1) / kLogitsSegment) {
  }

  bool masked(std::size_t r) const { return o_.labels && o_.labels[r] == o_.ignore_index; }
  std::size_t segments() const { return segs_; }
  double t2() const { return o_.temperature_squared ? o_.temperature * o_.temperature : 1.0; }

  double center(std::size_t r) const {
    return reverse_ ? ks_.center(at(qm_, r, 0), at(pm_, r, 0), cols_, s_) : k_.center(at(pm_, r, 0), at(qm_, r, 0), cols_, s_);
  }
  LogitsState segment(std::size_t r, std::size_t k, double c) const {
    const std::size_t off = k * kLogitsSegment, n = std::min(kLogitsSegment, cols_ - off);
    LogitsState st;
    if (reverse_)
      ks_.stats(at(qm_, r, off), at(pm_, r, off), n, off, s_, c, argmax_, &st);
    else
      k_.stats(at(pm_, r, off), at(qm_, r, off), n, off, s_, c, argmax_, &st);
    return st;
  }
  void merge(LogitsState& a, const LogitsState& b) const {
    merge_state(a, b, s_, [this](double x) { return exp(x); });
  }
  LogitsState state(std::size_t r, double c) const {
    LogitsState st = segment(r, 0, c);
    for (std::size_t k = 1; k < segs_; ++k) merge(st, segment(r, k, c));
    return st;
  }

  // Near elements hold their q-side mass as p-side weights times e^u, which underflow (float below
  // e^-87) when that mass lies e^-e above them: where the row's maxima disagree with the centre taken
  // from its first chunk (e = (qmax - pmax) s - c < -kRecenter).  Such a row is summed again about its
  // maxima, c = (qtop - ptop) s, which leaves |e| <= kHeadroom and the near elements' two weights within
  // e^(1/2 + kHeadroom) of each other: what underflows on one side is then negligible on the other.
  bool off_center(const LogitsState& a, double c) const {
    return a.ok && a.pmax > -kInf && a.qmax > -kInf && (a.qmax - a.pmax) * s_ - c < -kRecenter;
  }
  double recenter(const LogitsState& a) const { return (a.qtop - a.ptop) * s_; }

  // The divergence and normalisers from a row's merged state.
  RowResult finish(const LogitsState& a, double c) const {
    RowResult out{};
    out.row.s = s_;
    out.row.beta = o_.beta;
    out.row.divergence = static_cast<int>(o_.divergence);
    out.nan = !a.ok || a.pmax == -kInf || a.qmax == -kInf;
    if (out.nan) {
      out.value = out.lse_p = out.lse_q = kNaN;
      out.argmax_p = out.argmax_q = -1;
      return out;
    }
    const double m1 = a.pmax * s_, m2 = a.qmax * s_;  // the first side (p, or q for reverse KL) and the second
    const double e = m2 - m1 - c, S = a.sn + a.fp;
    const double f = (a.fq == 0 ? 0.0 : a.fq * exp(e)) - a.fp;
    double x = (a.an + a.h + f) / S, l1p = log1p(x);
    if (e > kLogDomain || x < -0.5) {
      // e^e overflows, or 1 + X = (near + e^e fq) / S is small enough to be lost in X (far below 1 where
      // P and Q have their mass apart): log(1 + X) as a log-sum-exp of its two parts.
      const double near = a.sn + a.an + a.h;  // the sum of w e^u: each term is positive
      const double l_near = near > 0 ? log(near) : -kInf, l_far = a.fq > 0 ? log(a.fq) + e : -kInf;
      const double hi = std::max(l_near, l_far), lo = std::min(l_near, l_far);
      l1p = (hi + log1p(lo == -kInf ? 0.0 : exp(lo - hi))) - log(S);
      x = kInf;  // the branch below that does not use X
    }
    double kl = std::fabs(x) <= 0.5 ? (l1p - x) + (a.h + f - a.af) / S : l1p - (a.an + a.af) / S;
    if (kl < 0) kl = 0;  // rounding below the true value, which is >= 0
    const double d = c + l1p, log_s = log(S);
    const double l1 = m1 + log_s, l2 = l1 + d;
    const double ls1 = log_s, ls2 = (m1 - m2 + log_s) + d;
    out.value = kl;
    if (reverse_) {
      out.row = {a.qmax, a.pmax, s_, ls2, ls1, -d, o_.beta, kl, 0, out.row.divergence};
      out.lse_q = l1, out.lse_p = l2;
      out.argmax_p = a.argmax_q, out.argmax_q = a.argmax_p;
    } else {
      out.row = {a.pmax, a.qmax, s_, ls1, ls2, d, o_.beta, kl, 0, out.row.divergence};
      out.lse_p = l1, out.lse_q = l2;
      out.argmax_p = a.argmax_p, out.argmax_q = a.argmax_q;
    }
    return out;
  }

  // JSD's sums over segment k.
  void jsd(std::size_t r, std::size_t k, const LogitsRow& row, double* j, double* kq) const {
    const std::size_t off = k * kLogitsSegment, n = std::min(kLogitsSegment, cols_ - off);
    k_.jsd(at(pm_, r, off), at(qm_, r, off), n, row, j, kq);
  }
  static void finish_jsd(RowResult& res, double j, double kq) {
    res.value = j < 0 ? 0.0 : j;
    res.row.kl = kq;
  }

  void gradient(std::size_t r, std::size_t k, const RowResult& res, void* grad, std::size_t grad_stride) const {
    const std::size_t off = k * kLogitsSegment, n = std::min(kLogitsSegment, cols_ - off);
    void* g = static_cast<char*>(grad) + (r * grad_stride + off) * element_size(qm_.dtype);
    if (res.nan || masked(r)) return fill_row(g, qm_.dtype, n, masked(r) ? 0.0 : kNaN);
    k_.gradient(at(pm_, r, off), at(qm_, r, off), n, res.row, g);
  }

 private:
  double exp(double x) const {
    double y;
    table_.f64.exp(&x, &y, 1);
    return y;
  }
  double log(double x) const {
    double y;
    table_.f64.log(&x, &y, 1);
    return y;
  }
  // log(1 + x) to a few ulps: log(w) x / (w - 1) with w = 1 + x rounded (Goldberg).
  double log1p(double x) const {
    const double w = 1 + x;
    if (w == 1) return x;
    if (w == kInf) return kInf;
    return log(w) * (x / (w - 1));
  }
  static const void* at(const Rows& m, std::size_t r, std::size_t off) {
    return static_cast<const char*>(m.data) + (r * static_cast<std::size_t>(m.stride) + off) * element_size(m.dtype);
  }

  const KernelTable& table_;
  const LogitsKernels& k_;
  const LogitsKernels& ks_;
  const Rows& pm_;
  const Rows& qm_;
  const LogitsOptions& o_;
  double s_;
  bool argmax_, reverse_;
  std::size_t cols_, segs_;
};

// The gradient request of a call: null grad for forward only.
struct GradientRequest {
  void* grad = nullptr;
  std::size_t stride = 0;
  const double* g = nullptr;  // per row (none) or the one value, already divided like the reduction
  bool per_row = false;
};

// Rows [begin, end): results[r - begin] and, when asked, the gradient.
void run(const Rows& p, const Rows& q, const LogitsOptions& o, std::size_t begin, std::size_t end, bool argmax,
         RowResult* results, const GradientRequest& gr) {
  const Engine e(p, q, o, argmax);
  const std::size_t rows = end - begin, segs = e.segments();
  if (rows == 0) return;
  const double inv_t = 1.0 / o.temperature, t2 = e.t2();
  const auto scale = [&](std::size_t r) { return (gr.per_row ? gr.g[r] : gr.g[0]) * inv_t * t2; };
  const bool jsd = o.divergence == Divergence::jsd;

  // An element costs about three times kl_div's (two exps and a series), so a thread is worth waking
  // from a quarter of kl_div's minimum share (parallel.cpp).
  const std::size_t elements = rows * static_cast<std::size_t>(p.cols);
  const int threads = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(thread_budget(o.num_threads)),
                                                             std::max<std::size_t>(1, elements / kBlock)));
  const auto masked_result = [&](RowResult& res) {
    res = RowResult{};
    res.value = 0;
    res.lse_p = res.lse_q = kNaN;
    res.argmax_p = res.argmax_q = -1;
  };

  if (rows >= static_cast<std::size_t>(threads) || segs == 1) {
    parallel_items(rows, threads, [&](std::size_t b, std::size_t en) {
      for (std::size_t i = b; i < en; ++i) {
        const std::size_t r = begin + i;
        RowResult& res = results[i];
        if (e.masked(r)) {
          masked_result(res);
        } else {
          double c = e.center(r);
          LogitsState st = e.state(r, c);
          if (e.off_center(st, c)) st = e.state(r, c = e.recenter(st));
          res = e.finish(st, c);
          if (jsd && !res.nan) {
            double j = 0, kq = 0;
            for (std::size_t k = 0; k < segs; ++k) {
              double jk, kqk;
              e.jsd(r, k, res.row, &jk, &kqk);
              j += jk, kq += kqk;
            }
            Engine::finish_jsd(res, j, kq);
          }
        }
        if (gr.grad) {
          res.row.scale = scale(r);
          for (std::size_t k = 0; k < segs; ++k) e.gradient(r, k, res, gr.grad, gr.stride);
        }
      }
    });
    return;
  }

  // Few long rows: pass by pass over (row, segment) items.
  const std::size_t items = rows * segs;
  std::vector<double> centers(rows);
  for (std::size_t i = 0; i < rows; ++i) centers[i] = e.masked(begin + i) ? 0.0 : e.center(begin + i);
  std::vector<LogitsState> states(items);
  parallel_items(items, threads, [&](std::size_t b, std::size_t en) {
    for (std::size_t it = b; it < en; ++it) {
      const std::size_t i = it / segs, r = begin + i;
      if (!e.masked(r)) states[it] = e.segment(r, it % segs, centers[i]);
    }
  });
  for (std::size_t i = 0; i < rows; ++i) {
    if (e.masked(begin + i)) {
      masked_result(results[i]);
      continue;
    }
    LogitsState st = states[i * segs];
    for (std::size_t k = 1; k < segs; ++k) e.merge(st, states[i * segs + k]);
    double c = centers[i];
    if (e.off_center(st, c)) st = e.state(begin + i, c = e.recenter(st));  // rare, so not shared out
    results[i] = e.finish(st, c);
  }
  if (jsd) {
    std::vector<double> js(items), kqs(items);
    parallel_items(items, threads, [&](std::size_t b, std::size_t en) {
      for (std::size_t it = b; it < en; ++it) {
        const std::size_t i = it / segs;
        if (!e.masked(begin + i) && !results[i].nan) e.jsd(begin + i, it % segs, results[i].row, &js[it], &kqs[it]);
      }
    });
    for (std::size_t i = 0; i < rows; ++i) {
      if (e.masked(begin + i) || results[i].nan) continue;
      double j = 0, kq = 0;
      for (std::size_t k = 0; k < segs; ++k) j += js[i * segs + k], kq += kqs[i * segs + k];
      Engine::finish_jsd(results[i], j, kq);
    }
  }
  if (gr.grad) {
    for (std::size_t i = 0; i < rows; ++i) results[i].row.scale = scale(begin + i);
    parallel_items(items, threads, [&](std::size_t b, std::size_t en) {
      for (std::size_t it = b; it < en; ++it) e.gradient(begin + it / segs, it % segs, results[it / segs], gr.grad, gr.stride);
    });
  }
}

std::size_t kept_rows(const LogitsOptions& o, std::size_t rows) {
  if (!o.labels) return rows;
  std::size_t kept = 0;
  for (std::size_t r = 0; r < rows; ++r) kept += o.labels[r] != o.ignore_index;
  return kept;
}

double divisor(const LogitsOptions& o, std::size_t kept, std::int64_t cols) {
  switch (o.reduction) {
    case Reduction::batchmean: return static_cast<double>(std::max<std::size_t>(kept, 1));
    case Reduction::mean: return std::max(static_cast<double>(kept) * static_cast<double>(cols), 1.0);
    default: return 1.0;
  }
}

// The forward value (and gradient) of a validated call.
void compute(const Rows& p, const Rows& q, const LogitsOptions& o, double* out, const double* grad_output, void* grad_q,
             std::int64_t grad_stride) {
  const auto rows = static_cast<std::size_t>(p.rows);
  const bool none = o.reduction == Reduction::none;
  const double div = divisor(o, kept_rows(o, rows), p.cols);
  GradientRequest gr;
  double g = 0;
  if (grad_q) {
    gr.grad = grad_q;
    gr.stride = static_cast<std::size_t>(grad_stride);
    gr.per_row = none;
    if (none) {
      gr.g = grad_output;
    } else {
      g = grad_output[0] / div;
      gr.g = &g;
    }
  }
  std::vector<RowResult> results(rows);
  run(p, q, o, 0, rows, false, results.data(), gr);
  const double t2 = o.temperature_squared ? o.temperature * o.temperature : 1.0;
  if (none) {
    for (std::size_t r = 0; r < rows; ++r) out[r] = results[r].value * t2;
    return;
  }
  // Kept rows' values in row order, compensated (TwoSum), so the sum is the same for any split.
  double sum = 0, comp = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    const double v = results[r].value * t2, t = sum + v, bv = t - sum;
    comp += (sum - (t - bv)) + (v - bv);
    sum = t;
  }
  *out = (std::isfinite(sum) ? sum + comp : sum) / div;
}

}  // namespace

void logits_rows(const Rows& p, const Rows& q, const LogitsOptions& options, std::int64_t begin, std::int64_t end,
                 double* values, const RowExtras& extras) {
  LogitsOptions o = options;
  o.reduction = Reduction::none;
  validate_logits(p, q, o, values, "values");
  if (begin < 0 || end < begin || end > p.rows)
    throw invalid_argument("the row range [" + std::to_string(begin) + ", " + std::to_string(end) + ") is not within [0, " +
                           std::to_string(p.rows) + ")");
  if (begin < end && values == nullptr) throw null_pointer("values is null");
  const auto b = static_cast<std::size_t>(begin), n = static_cast<std::size_t>(end - begin);
  std::vector<RowResult> results(n);
  run(p, q, o, b, b + n, extras.argmax_p || extras.argmax_q, results.data(), GradientRequest{});
  const double t2 = o.temperature_squared ? o.temperature * o.temperature : 1.0;
  for (std::size_t i = 0; i < n; ++i) {
    values[i] = results[i].value * t2;
    if (extras.lse_p) extras.lse_p[i] = results[i].lse_p;
    if (extras.lse_q) extras.lse_q[i] = results[i].lse_q;
    if (extras.argmax_p) extras.argmax_p[i] = results[i].argmax_p;
    if (extras.argmax_q) extras.argmax_q[i] = results[i].argmax_q;
  }
}

}  // namespace kldiv::detail

namespace kldiv {

void logits_forward(const Rows& p, const Rows& q, const LogitsOptions& options, double* out) {
  detail::validate_logits(p, q, options, out);
  detail::compute(p, q, options, out, nullptr, nullptr, 0);
}

double logits_loss(const Rows& p, const Rows& q, const LogitsOptions& options) {
  if (options.reduction == Reduction::none)
    throw invalid_argument("logits_loss() needs a reduction other than none; use logits_forward()");
  double out = 0;
  logits_forward(p, q, options, &out);
  return out;
}

void logits_forward_backward(const Rows& p, const Rows& q, const LogitsOptions& options, const double* grad_output,
                             double* out, void* grad_q, std::int64_t grad_stride) {
  detail::validate_logits(p, q, options, out);
  detail::validate_gradient(q, options, grad_output, grad_q, grad_stride);
  detail::compute(p, q, options, out, grad_output, p.rows > 0 ? grad_q : nullptr, grad_stride);
}

}  // namespace kldiv
