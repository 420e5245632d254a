// Shared test helpers: ISA iteration, platform-independent random data, and high-precision references.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "kldiv/kldiv.hpp"

namespace test {

// Runs f once per ISA available here, forced; restores automatic selection afterwards.
template <class F>
void for_each_isa(F&& f) {
  for (const std::string& isa : kldiv::available_isas()) {
    kldiv::set_isa(isa);
    CAPTURE(isa);
    f(isa);
  }
  kldiv::set_isa("auto");
}

// The ISAs with FMA, which must agree bit for bit (sse2 has no FMA; README, "Bits").
inline bool has_fma(const std::string& isa) { return isa != "sse2"; }

// KLDIV_TEST_SWEEP_STEP=S subsamples the exhaustive sweeps by S for slow runs (qemu, sanitizers; see
// test_math.cpp and test_half.cpp); 1 when unset or not a positive integer.
inline std::uint32_t sweep_step() {
  const char* env = std::getenv("KLDIV_TEST_SWEEP_STEP");
  const long s = env ? std::strtol(env, nullptr, 10) : 1;
  return s >= 1 && s <= 1000000 ? static_cast<std::uint32_t>(s) : 1;
}
// A slow run (qemu, sanitizers): the suites set KLDIV_TEST_SWEEP_STEP there, and some cases do less.
inline bool slow_run() { return sweep_step() > 1; }

// SplitMix64: the same stream on every platform and standard library.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1p-53; }  // [0, 1)

 private:
  std::uint64_t state_;
};

// Wide accumulation for references: __float128 where GCC has it on x86-64, else long double (which is
// IEEE quad on AArch64).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
using wide = __float128;
#else
using wide = long double;
#endif

// The exact-as-possible loss of one element, and the magnitudes the accuracy bound is stated in.
struct Reference {
  long double value;  // l
  long double scale;  // |t log t| + |t x|, or |e^t t| + |e^t x| with log_target
};

template <class T>
Reference reference(T x, T t, bool log_target) {
  const long double lx = x, lt = t;
  if (log_target) {
    const long double e = std::exp(lt);
    return {e * (lt - lx), std::fabs(e * lt) + std::fabs(e * lx)};
  }
  const long double a = (lt == 0) ? 0.0L : lt * std::log(lt);
  return {a - lt * lx, std::fabs(a) + std::fabs(lt * lx)};
}

template <class T>
constexpr long double unit_roundoff() {
  return std::numeric_limits<T>::epsilon() / 2;
}

}  // namespace test
