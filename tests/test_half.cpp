// The half-precision conversions of the kernels (src/kernels/half.hpp), on every ISA, against a
// reference written here in double arithmetic: every one of the 65536 bf16 and f16 values widened, and
// every float rounded to bf16 and f16 (2^32 values on the best ISA, every 61st on the others; both
// subsampled by KLDIV_TEST_SWEEP_STEP, see support.hpp).  NaNs must follow the one rule of dtype.hpp bit
// for bit, so every ISA gives the same bits.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <ios>
#include <string>
#include <vector>

#include "dispatch.hpp"
#include "support.hpp"

namespace {

// A half format: bf16 (8 exponent, 7 mantissa bits) or f16 (5, 10).
struct Format {
  const char* name;
  int exponent_bits, mantissa_bits;
  int bias() const { return (1 << (exponent_bits - 1)) - 1; }
  int emin() const { return 1 - bias(); }
  double max_finite() const { return std::ldexp(2.0 - std::ldexp(1.0, -mantissa_bits), bias()); }
  // The value of bits h, from its fields (NaN for NaN).
  double value(std::uint16_t h) const {
    const int e = (h >> mantissa_bits) & ((1 << exponent_bits) - 1);
    const int m = h & ((1 << mantissa_bits) - 1);
    const double sign = (h & 0x8000) ? -1.0 : 1.0;
    if (e == (1 << exponent_bits) - 1) return m ? std::nan("") : sign * HUGE_VAL;
    if (e == 0) return sign * std::ldexp(m, emin() - mantissa_bits);
    return sign * std::ldexp((1 << mantissa_bits) + m, e - bias() - mantissa_bits);
  }
  // The NaN rule: sign and payload kept; f16 made quiet, bf16 as it is (its bits are the float's upper half).
  std::uint32_t widened_nan(std::uint16_t h) const {
    const std::uint32_t quiet = exponent_bits == 8 ? 0 : 0x400000u;
    return (std::uint32_t(h & 0x8000) << 16) | 0x7f800000u | quiet | (std::uint32_t(h & ((1 << mantissa_bits) - 1)) << (23 - mantissa_bits));
  }
  std::uint16_t narrowed_nan(std::uint32_t b) const {
    const std::uint32_t quiet = 1u << (mantissa_bits - 1), all_ones = ((1u << exponent_bits) - 1) << mantissa_bits;
    return static_cast<std::uint16_t>(((b >> 16) & 0x8000) | all_ones | quiet | ((b & 0x7fffff) >> (23 - mantissa_bits)));
  }
  // v rounded to this format, to nearest even, in double, given the spacing ulp of the format's values at
  // |v| (a power of 2): |v| / ulp is rounded to an integer by adding and subtracting 2^52, and scaled back.
  static double rounded(double v, double ulp, double max_finite) {
    const double r = ((std::fabs(v) / ulp + 0x1p52) - 0x1p52) * ulp;
    return std::copysign(r > max_finite ? HUGE_VAL : r, v);
  }
  // That spacing for each binade of float, by the float's biased exponent (0: the subnormal floats).
  std::vector<double> spacing() const {
    std::vector<double> ulp(256);
    for (int e = 0; e < 256; ++e) ulp[e] = std::ldexp(1.0, std::max(std::max(e, 1) - 127, emin()) - mantissa_bits);
    return ulp;
  }
};
const Format kBf16{"bf16", 8, 7}, kF16{"f16", 5, 10};

using Widen = std::function<void(const std::uint16_t*, float*, std::size_t)>;
using Narrow = std::function<void(const float*, std::uint16_t*, std::size_t)>;

// The kernel table's conversions, on 16-bit arrays.  The halves are copied to and from arrays of their
// own type, since calling a conversion through a pointer of another type is undefined (UBSan: function).
template <typename H>
Widen widen_through(void (*convert)(const H*, float*, std::size_t)) {
  return [convert](const std::uint16_t* in, float* out, std::size_t n) {
    std::vector<H> halves(n);
    std::memcpy(halves.data(), in, 2 * n);
    convert(halves.data(), out, n);
  };
}
template <typename H>
Narrow narrow_through(void (*convert)(const float*, H*, std::size_t)) {
  return [convert](const float* in, std::uint16_t* out, std::size_t n) {
    std::vector<H> halves(n);
    convert(in, halves.data(), n);
    std::memcpy(out, halves.data(), 2 * n);
  };
}
Widen widen_of(const kldiv::detail::HalfConversions& h, const Format& f) {
  return &f == &kBf16 ? widen_through(h.bf16_to_f32) : widen_through(h.f16_to_f32);
}
Narrow narrow_of(const kldiv::detail::HalfConversions& h, const Format& f) {
  return &f == &kBf16 ? narrow_through(h.f32_to_bf16) : narrow_through(h.f32_to_f16);
}

std::uint32_t bits_of(float v) {
  std::uint32_t b;
  std::memcpy(&b, &v, 4);
  return b;
}
float float_of(std::uint32_t b) {
  float v;
  std::memcpy(&v, &b, 4);
  return v;
}

bool same(double a, double b) {
  std::uint64_t x, y;
  std::memcpy(&x, &a, 8);
  std::memcpy(&y, &b, 8);
  return x == y;
}

// The 65536 values widened: how many differ from the reference (values with their sign, NaNs by the rule).
std::uint64_t widen_mismatches(Widen widen, const Format& f) {
  std::vector<std::uint16_t> in(65536);
  std::vector<float> out(65536);
  for (std::uint32_t h = 0; h < 65536; ++h) in[h] = static_cast<std::uint16_t>(h);
  widen(in.data(), out.data(), in.size());
  std::uint64_t bad = 0;
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const double want = f.value(static_cast<std::uint16_t>(h));
    const bool ok = std::isnan(want) ? bits_of(out[h]) == f.widened_nan(static_cast<std::uint16_t>(h))
                                     : (out[h] == want && std::signbit(out[h]) == std::signbit(want));
    bad += !ok;
  }
  return bad;
}

// Every step-th float (from bits 0) rounded: how many differ from the reference.  The reference is
// computed for the nonnegative ones; each negative one, also rounded by the kernel, must give the bits of
// its magnitude with the sign bit set.
std::uint64_t narrow_mismatches(Narrow narrow, const Format& f, std::uint32_t step) {
  std::vector<double> value(65536);  // of every result's bits, from the reference decoding
  for (std::uint32_t h = 0; h < 65536; ++h) value[h] = f.value(static_cast<std::uint16_t>(h));
  const std::vector<double> ulp = f.spacing();
  const double max_finite = f.max_finite();
  constexpr std::uint64_t kChunk = 1 << 16;
  const std::uint64_t count = ((std::uint64_t(1) << 31) + step - 1) / step;
  const std::int64_t chunks = static_cast<std::int64_t>((count + kChunk - 1) / kChunk);
  std::uint64_t bad = 0;
#pragma omp parallel reduction(+ : bad)
  {
    std::vector<float> in(kChunk), negative(kChunk);
    std::vector<std::uint16_t> out(kChunk), out_negative(kChunk);
    std::vector<double> want(kChunk);
#pragma omp for schedule(dynamic, 64)
    for (std::int64_t c = 0; c < chunks; ++c) {
      const std::uint64_t begin = c * kChunk, n = std::min(count, begin + kChunk) - begin;
      for (std::uint64_t i = 0; i < n; ++i) {
        const std::uint32_t b = static_cast<std::uint32_t>((begin + i) * step);
        in[i] = float_of(b);
        negative[i] = float_of(b | 0x80000000u);
      }
      narrow(in.data(), out.data(), n);
      narrow(negative.data(), out_negative.data(), n);
      for (std::uint64_t i = 0; i < n; ++i) want[i] = Format::rounded(in[i], ulp[(bits_of(in[i]) >> 23) & 0xff], max_finite);
      for (std::uint64_t i = 0; i < n; ++i) {
        // The same value with the same sign, or for a NaN the bits of the rule.
        const bool ok = (std::isnan(in[i]) ? out[i] == f.narrowed_nan(bits_of(in[i])) : same(value[out[i]], want[i])) &&
                        out_negative[i] == (out[i] | 0x8000);
        if (!ok && bad == 0) {
#pragma omp critical
          MESSAGE("first mismatch at float bits 0x" << std::hex << bits_of(in[i]) << " or its negative");
        }
        bad += !ok;
      }
    }
  }
  return bad;
}

const kldiv::detail::HalfConversions& current() { return kldiv::detail::active_kernels().half; }

}  // namespace

TEST_CASE("half: every bf16 and f16 value widened to float, on every ISA") {
  test::for_each_isa([](const std::string&) {
    for (const Format* f : {&kBf16, &kF16}) {
      const std::string format = f->name;
      CAPTURE(format);
      CHECK(widen_mismatches(widen_of(current(), *f), *f) == 0);
    }
  });
}

TEST_CASE("half: every float rounded to bf16 and f16, on every ISA") {
  const auto& best = kldiv::detail::active_kernels();
  test::for_each_isa([&](const std::string& isa) {
    const std::uint32_t step = (&kldiv::detail::active_kernels() == &best ? 1 : 61) * test::sweep_step();
    for (const Format* f : {&kBf16, &kF16}) {
      const std::string format = f->name;
      CAPTURE(format);
      MESSAGE(isa << " " << f->name << ": every " << step << "-th float");
      CHECK(narrow_mismatches(narrow_of(current(), *f), *f, step) == 0);
    }
  });
}

TEST_CASE("half: tails of every length convert alone and write nothing past them") {
  test::for_each_isa([](const std::string&) {
    const auto& h = current();
    test::Random rng(11);
    for (std::size_t n = 0; n <= 40; ++n) {
      CAPTURE(n);
      std::vector<float> in(n), wide(n + 1, -7.0f);
      for (float& v : in) v = static_cast<float>(rng.uniform() * 8 - 4);
      std::vector<kldiv::bf16> b(n + 1, kldiv::bf16{0xabcd});
      std::vector<kldiv::f16> g(n + 1, kldiv::f16{0xabcd});
      h.f32_to_bf16(in.data(), b.data(), n);
      h.f32_to_f16(in.data(), g.data(), n);
      CHECK(b[n].bits == 0xabcd);
      CHECK(g[n].bits == 0xabcd);
      for (std::size_t i = 0; i < n; ++i) {
        CHECK(b[i].bits == kldiv::to_bf16(in[i]).bits);
        CHECK(g[i].bits == kldiv::to_f16(in[i]).bits);
      }
      h.f16_to_f32(g.data(), wide.data(), n);
      CHECK(wide[n] == -7.0f);
      for (std::size_t i = 0; i < n; ++i) CHECK(wide[i] == kF16.value(g[i].bits));
    }
  });
}

TEST_CASE("half: the scalar conversions of dtype.hpp") {
  CHECK(kldiv::to_bf16(1.0f).bits == 0x3f80);
  CHECK(kldiv::to_bf16(-2.0f).bits == 0xc000);
  CHECK(kldiv::to_bf16(1.0f + 0x1p-8f).bits == 0x3f80);      // a tie, to even
  CHECK(kldiv::to_bf16(1.0f + 0x1p-8f + 0x1p-23f).bits == 0x3f81);
  CHECK(kldiv::to_bf16(3.4e38f).bits == 0x7f80);              // past the largest bf16, 3.3895e38
  CHECK(kldiv::to_f16(65504.0f).bits == 0x7bff);
  CHECK(kldiv::to_f16(65519.0f).bits == 0x7bff);
  CHECK(kldiv::to_f16(65520.0f).bits == 0x7c00);
  CHECK(kldiv::to_f16(0x1p-24f).bits == 0x0001);
  CHECK(kldiv::to_f16(0x1p-25f).bits == 0x0000);              // a tie, to even
  CHECK(kldiv::to_f16(-0x1.8p-25f).bits == 0x8001);
  CHECK(kldiv::to_f16(-0.0f).bits == 0x8000);
  CHECK(kldiv::to_float(kldiv::f16{0x0001}) == 0x1p-24f);
  CHECK(kldiv::to_float(kldiv::f16{0x3c00}) == 1.0f);
  CHECK(kldiv::to_float(kldiv::bf16{0x4049}) == 3.140625f);
  CHECK(std::isnan(kldiv::to_float(kldiv::f16{0x7c01})));
  CHECK(std::isnan(kldiv::to_float(kldiv::bf16{0xff81})));
  CHECK(kldiv::to_f16(std::nanf("")).bits == 0x7e00);
  CHECK(kldiv::to_bf16(-std::numeric_limits<float>::infinity()).bits == 0xff80);
  CHECK(static_cast<int>(kldiv::Dtype::bf16) == 2);
  CHECK(static_cast<int>(kldiv::Dtype::f16) == 3);
}
