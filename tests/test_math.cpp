// The elementary functions inside the kernels, measured in ulps against the C library in a wider type:
// float log and exp over every float of their domain, double over 2 million samples.  The bounds
// asserted here are the ones README.md documents.
//
// KLDIV_TEST_SWEEP_STEP=S (default 1) subsamples both sweeps for slow runs (qemu, sanitizers): the best
// ISA visits every S-th float instead of every float (the other ISAs every 61*S-th instead of every
// 61st), and the double samples are 2 million / S (at least 20 000) instead of 2 million.  The special
// values are always all tested.  With S > 1 the measured maxima can only be lower than the full sweep's,
// so the bounds still hold but are no longer proved exhaustively: the full sweep runs natively.
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <vector>

#include "dispatch.hpp"
#include "support.hpp"

namespace {

using test::sweep_step;

// ulps; measured maxima (README, "Accuracy"): float log 0.600, exp 1.009 (at subnormal results, which
// round twice); double log 0.835 (0.842 on sse2, without FMA), exp 0.99.
constexpr double kLogBoundF32 = 0.61, kExpBoundF32 = 1.01;
constexpr double kLogBoundF64 = 0.85, kExpBoundF64 = 1.0;

// The mean signed error of the log, in ulps (README, "Accuracy"): a bias adds up over the millions of
// terms of a sum.  A correctly rounded float log averages +0.0004 over [2^-126, 1].
constexpr double kLogMeanBound = 0.002;

// got - want in ulps of want (of T); huge where a special value is wrong.
template <class T>
double signed_ulp_error(T got, long double want) {
  if (std::isnan(want)) return std::isnan(got) ? 0 : 1e9;
  if (std::isinf(want)) return got == want ? 0 : 1e9;
  constexpr int digits = std::numeric_limits<T>::digits;
  const int e = std::max(std::ilogb(static_cast<T>(want)), std::numeric_limits<T>::min_exponent - 1);
  return static_cast<double>((static_cast<long double>(got) - want) / std::ldexp(1.0L, e - digits + 1));
}
template <class T>
double ulp_error(T got, long double want) {
  return std::fabs(signed_ulp_error(got, want));
}

float from_bits(std::uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

// Max ulp error of kernel f against ref over the floats with bits in [lo, hi) stepping by `step`, the
// mismatches against `other` (when given), and the mean signed error over those of the floats with bits
// in [mean_lo, mean_hi].
struct Sweep {
  double max_ulp = 0;
  std::uint64_t differ = 0;
  double signed_sum = 0, signed_sq = 0;
  std::uint64_t signed_n = 0;
  double mean() const { return signed_sum / static_cast<double>(signed_n); }
  double std_error() const {
    const double n = static_cast<double>(signed_n);
    return std::sqrt((signed_sq / n - mean() * mean()) / (n - 1));
  }
};

template <class Ref>
Sweep sweep_f32(void (*f)(const float*, float*, std::size_t), void (*other)(const float*, float*, std::size_t),
                std::uint32_t lo, std::uint32_t hi, std::uint32_t step, Ref ref, std::uint32_t mean_lo = 1,
                std::uint32_t mean_hi = 0) {
  constexpr std::size_t kChunk = 1 << 16;
  const std::uint64_t count = (static_cast<std::uint64_t>(hi) - lo + step - 1) / step;
  const std::int64_t chunks = static_cast<std::int64_t>((count + kChunk - 1) / kChunk);
  double max_ulp = 0, signed_sum = 0, signed_sq = 0;
  std::uint64_t differ = 0, signed_n = 0;
#pragma omp parallel for schedule(dynamic, 16) reduction(max : max_ulp) reduction(+ : differ, signed_sum, signed_sq, signed_n)
  for (std::int64_t c = 0; c < chunks; ++c) {
    std::vector<float> in, out(kChunk), out2(kChunk);
    for (std::uint64_t i = c * kChunk; i < std::min<std::uint64_t>(count, (c + 1) * kChunk); ++i)
      in.push_back(from_bits(static_cast<std::uint32_t>(lo + i * step)));
    f(in.data(), out.data(), in.size());
    if (other) other(in.data(), out2.data(), in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
      const double err = signed_ulp_error(out[i], ref(static_cast<double>(in[i])));
      max_ulp = std::max(max_ulp, std::fabs(err));
      const std::uint32_t bits = static_cast<std::uint32_t>(lo + (c * kChunk + i) * step);
      if (bits >= mean_lo && bits <= mean_hi) {
        signed_sum += err;
        signed_sq += err * err;
        ++signed_n;
      }
      if (other && std::memcmp(&out[i], &out2[i], 4) != 0 && !(std::isnan(out[i]) && std::isnan(out2[i]))) ++differ;
    }
  }
  return {max_ulp, differ, signed_sum, signed_sq, signed_n};
}

// The max ulp error and the mean signed error, with its standard error, over samples in [lo, hi].
struct Samples {
  double max_ulp, mean, std_error;
};

template <class T>
Samples sample_f64(void (*f)(const T*, T*, std::size_t), long double (*ref)(long double), double lo, double hi,
                   bool log_scale) {
  test::Random rng(7);
  const std::size_t n = std::max<std::size_t>(20000, 2000000 / sweep_step());
  std::vector<T> in(n), out(n);
  for (auto& v : in) {
    const double u = rng.uniform();
    v = static_cast<T>(log_scale ? std::exp2(std::log2(lo) + u * (std::log2(hi) - std::log2(lo))) : lo + u * (hi - lo));
  }
  f(in.data(), out.data(), n);
  double max_ulp = 0, sum = 0, sum2 = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double err = signed_ulp_error(out[i], ref(in[i]));
    max_ulp = std::max(max_ulp, std::fabs(err));
    sum += err;
    sum2 += err * err;
  }
  const double mean = sum / n;
  return {max_ulp, mean, std::sqrt((sum2 / n - mean * mean) / (n - 1))};
}

long double ref_log(long double v) { return std::log(v); }
long double ref_exp(long double v) { return std::exp(v); }

const kldiv::detail::KernelTable& current() { return kldiv::detail::active_kernels(); }

}  // namespace

TEST_CASE("math: float log and exp over every float, on every ISA") {
  const auto& best = current();
  const auto log_ref = [](double v) -> long double { return std::log(v); };  // double is exact enough for float
  const auto exp_ref = [](double v) -> long double { return std::exp(v); };
  test::for_each_isa([&](const std::string& isa) {
    const auto& k = current();
    // The best ISA over all positive floats, subnormals included; the others on a 1-in-61 subset,
    // compared bit for bit with the best one where both have FMA.  Both subsampled by sweep_step().
    const std::uint32_t step = (&k == &best ? 1 : 61) * sweep_step();
    if (step > 1 && &k == &best) MESSAGE("KLDIV_TEST_SWEEP_STEP=" << sweep_step() << ": float sweeps subsampled");
    using Fn = void (*)(const float*, float*, std::size_t);
    const bool compare = &k != &best && test::has_fma(isa) && test::has_fma(best.name);
    const Fn other = compare ? best.f32.log : nullptr;
    // The mean signed error over [2^-126, 1], from the same sweep.
    const Sweep lg = sweep_f32(k.f32.log, other, 1, 0x7f800000u, step, log_ref, 0x00800000u, 0x3f800000u);
    MESSAGE(isa << " float log: max " << lg.max_ulp << " ulp, mean over [2^-126, 1] " << lg.mean() << " ulp ("
                << lg.signed_n << " floats)");
    CHECK(lg.max_ulp <= kLogBoundF32);
    CHECK(lg.differ == 0);
    // Plus four standard errors, as a subsampled sweep measures the mean less closely (1e-5 exhaustive).
    CHECK(std::fabs(lg.mean()) <= kLogMeanBound + 4 * lg.std_error());
    // exp: every t in [-104, 89] (bits of the negatives run upward from 0x80000000).
    const Fn other_exp = compare ? best.f32.exp : nullptr;
    const Sweep pos = sweep_f32(k.f32.exp, other_exp, 0, 0x42b20000u, step, exp_ref);  // [0, 89]
    const Sweep neg = sweep_f32(k.f32.exp, other_exp, 0x80000000u, 0xc2d00001u, step, exp_ref);  // [-104, -0]
    MESSAGE(isa << " float exp: max " << std::max(pos.max_ulp, neg.max_ulp) << " ulp");
    CHECK(std::max(pos.max_ulp, neg.max_ulp) <= kExpBoundF32);
    CHECK(pos.differ + neg.differ == 0);
  });
}

TEST_CASE("math: double log and exp on 2 million samples, on every ISA") {
  test::for_each_isa([](const std::string& isa) {
    const auto& k = current().f64;
    const Samples wide = sample_f64(k.log, ref_log, 1e-300, 1e300, true);
    const Samples below_one = sample_f64(k.log, ref_log, 1e-300, 1, true);
    const Samples near_one = sample_f64(k.log, ref_log, 0.25, 1, false);
    const double lg = std::max({wide.max_ulp, below_one.max_ulp, near_one.max_ulp,
                                sample_f64(k.log, ref_log, 0.5, 2.0, false).max_ulp,
                                sample_f64(k.log, ref_log, 4.9e-324, 2.2e-308, false).max_ulp});  // subnormals
    const double ex = std::max({sample_f64(k.exp, ref_exp, -708, 709, false).max_ulp,
                                sample_f64(k.exp, ref_exp, -1, 1, false).max_ulp,
                                sample_f64(k.exp, ref_exp, -745, -708, false).max_ulp});  // subnormal results
    MESSAGE(isa << " double log: max " << lg << " ulp, mean " << below_one.mean << " ulp over [1e-300, 1], "
                << near_one.mean << " over [0.25, 1]; exp: max " << ex << " ulp");
    CHECK(lg <= kLogBoundF64);
    CHECK(ex <= kExpBoundF64);
    // The bound plus four standard errors: fewer samples under an emulator measure the mean less closely.
    for (const Samples& s : {below_one, near_one}) CHECK(std::fabs(s.mean) <= kLogMeanBound + 4 * s.std_error);
  });
}

TEST_CASE("math: special values") {
  test::for_each_isa([](const std::string&) {
    const auto& k = current();
    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    const float in[] = {0.0f, -0.0f, -1.0f, inf, -inf, nan, 1.0f, 88.8f, -104.0f, 1e-45f};
    float lg[10], ex[10];
    k.f32.log(in, lg, 10);
    k.f32.exp(in, ex, 10);
    CHECK(lg[0] == -inf);
    CHECK(lg[1] == -inf);
    CHECK(std::isnan(lg[2]));
    CHECK(lg[3] == inf);
    CHECK(std::isnan(lg[4]));
    CHECK(std::isnan(lg[5]));
    CHECK(lg[6] == 0);
    CHECK(lg[9] == doctest::Approx(std::log(static_cast<double>(in[9]))));  // the smallest subnormal
    CHECK(ex[0] == 1);
    CHECK(ex[3] == inf);
    CHECK(ex[4] == 0);
    CHECK(std::isnan(ex[5]));
    CHECK(ex[7] == inf);  // past float's overflow threshold, 88.7228
    CHECK(ex[8] == 0);    // e^-104 is below half the smallest subnormal
  });
}
