// Shared test helpers: ISA iteration, platform-independent random data, and high-precision references.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "kldiv/kldiv.hpp"

namespace test {

// The ISAs the cases run on: every one available here, or those KLDIV_TEST_ISAS lists (comma-separated;
// tests/CMakeLists.txt sets it under emulation), each of which must be available: a name that is not
// fails the case rather than testing less.
inline std::vector<std::string> isas() {
  const std::vector<std::string> available = kldiv::available_isas();
  const char* env = std::getenv("KLDIV_TEST_ISAS");
  if (env == nullptr || *env == '\0') return available;
  std::vector<std::string> chosen;
  for (std::string list = env; !list.empty();) {
    const std::size_t comma = list.find(',');
    const std::string name = list.substr(0, comma);
    list = comma == std::string::npos ? "" : list.substr(comma + 1);
    if (std::find(available.begin(), available.end(), name) == available.end()) throw std::runtime_error("KLDIV_TEST_ISAS: '" + name + "' is not an available ISA");
    chosen.push_back(name);
  }
  return chosen;
}

// Runs f once per ISA of isas(), forced; restores automatic selection afterwards.
template <class F>
void for_each_isa(F&& f) {
  for (const std::string& isa : isas()) {
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
