// The same bits on every platform: FNV-1a hashes of the outputs for fixed inputs, checked against
// constants committed below, so that the x86-64 run (avx512, avx2, scalar) and the aarch64 run under
// qemu (neon, scalar) check the very same values.
//
// - Inputs come from test::Random (SplitMix64) through IEEE operations that are exact or correctly rounded
//   (multiply, add, divide, integer-to-float), never through libm, whose log and exp differ between
//   C libraries, and this file is compiled with -ffp-contract=off (tests/CMakeLists.txt): GCC's default
//   fuses a*b + c on aarch64, where FMA is baseline, and not on x86-64 without -mfma, which made the
//   inputs differ.  The inputs are then bit-identical on every platform.
// - For f32, f64, bf16 and f16, log_target false and true, every reduction: the `none` elements and the
//   reduced results, on several shapes (a 0-dim input, odd sizes with vector tails, 65 blocks), for
//   thread counts 1 to 16.  Every thread count must give the 1-thread bits exactly (memcmp); those are
//   hashed.  The half inputs are generated in f32 with the half's own limits (its subnormals, its exp
//   overflow and underflow, values whose t log t overflows it) and rounded to the half by to_bf16 and
//   to_f16, which are integer operations.
// - The gradients (backward, and forward_backward's loss and gradients) are hashed the same way, and
//   compared for 1, 3 and 16 threads.  Slow runs (KLDIV_TEST_SWEEP_STEP > 1) compare 2, 3, 7 and 16 only.
// - Every FMA target: avx512, avx2, neon, scalar.  sse2 has no FMA (README, "Sums and bits"), so its
//   last bits differ; it is held to the reference tolerance by test_accuracy.cpp and test_gradients.cpp
//   (the halves: to its own f32 results rounded once, by test_dtypes.cpp) instead, and skipped here.
// - NaN results are hashed as one canonical NaN: which NaN (its sign and payload) an operation returns
//   is not specified by IEEE 754 and differs between x86 and Arm.  Every other bit, the sign of zero
//   included, is hashed as computed.
//
// If a deliberate change to the kernels changes bits, the failing check prints the new table, ready to
// paste below, after the old and new values have been explained.
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "support.hpp"

namespace {

using kldiv::Reduction;
constexpr Reduction kReductions[] = {Reduction::none, Reduction::mean, Reduction::sum, Reduction::batchmean};
constexpr int kMaxThreads = 16;

// 64-bit FNV-1a over bytes.
struct Fnv1a {
  std::uint64_t h = 0xcbf29ce484222325ull;
  void bytes(const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
  }
  template <class T>
  void values(const std::vector<T>& v);
};

// A float in [0, 1) from 24 (f32) or 53 (f64) random bits: exact on every platform.
template <class T>
T unit(test::Random& rng) {
  constexpr int bits = std::numeric_limits<T>::digits;
  return static_cast<T>(rng.next() >> (64 - bits)) * (T(1) / static_cast<T>(std::uint64_t(1) << bits));
}

// What the inputs of an element type T are made of: values computed in C and stored as T.  exp_hi is
// near exp's overflow in T, exp_lo where exp reaches T's subnormals and 0 (the halves are computed in f32,
// so bf16's limits are f32's), big a target whose t log t overflows T, and log targets up to pos_log keep
// exp(t) (t - x) finite in T.
template <class T>
struct Kind {
  using C = T;
  static constexpr C denorm_min = std::numeric_limits<T>::denorm_min(), min = std::numeric_limits<T>::min(),
                     max = std::numeric_limits<T>::max(), exp_hi = sizeof(T) == 4 ? C(88) : C(709),
                     exp_lo = sizeof(T) == 4 ? C(-104) : C(-745), big = C(1e30), pos_log = C(20);
  static T store(C v) { return v; }
  static C widen(T v) { return v; }
};
template <>
struct Kind<kldiv::bf16> {
  using C = float;
  static constexpr C denorm_min = 0x1p-133f, min = 0x1p-126f, max = 0x1.fep127f, exp_hi = 88, exp_lo = -104,
                     big = 1e30f, pos_log = 20;
  static kldiv::bf16 store(C v) { return kldiv::to_bf16(v); }
  static C widen(kldiv::bf16 v) { return kldiv::to_float(v); }
};
template <>
struct Kind<kldiv::f16> {
  using C = float;
  static constexpr C denorm_min = 0x1p-24f, min = 0x1p-14f, max = 65504, exp_hi = 11, exp_lo = -17, big = 30000,
                     pos_log = 4;
  static kldiv::f16 store(C v) { return kldiv::to_f16(v); }
  static C widen(kldiv::f16 v) { return kldiv::to_float(v); }
};

template <class T>
void Fnv1a::values(const std::vector<T>& v) {
  for (T x : v) {
    if (std::isnan(Kind<T>::widen(x))) x = Kind<T>::store(std::numeric_limits<typename Kind<T>::C>::quiet_NaN());
    bytes(&x, sizeof x);
  }
}

// Inputs that reach every path of the kernels and every special case of the formula, mostly ordinary
// values (so that most vectors take the fast paths) with sparse exceptions: exact zeros, subnormals,
// values that over- or underflow in exp, t > 1, and in the `special` set also negative t, inf and NaN.
template <class T>
void make_inputs(std::size_t n, bool log_target, bool special, std::uint64_t seed, std::vector<T>& x,
                 std::vector<T>& t) {
  using K = Kind<T>;
  using C = typename K::C;
  using L = std::numeric_limits<C>;
  test::Random rng(seed);
  x.resize(n);
  t.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t kind = rng.next() % 1000;
    C xi = -C(40) * unit<C>(rng);  // log-probabilities
    const C u = unit<C>(rng);
    C v;
    if (!log_target) {
      v = u;                                                    // probabilities
      if (kind < 10) v = C(0);                                  // xlogy's zero
      else if (kind < 15) v = u * K::denorm_min * C(1 << 20);   // subnormal t (0 and 1 in f16)
      else if (kind < 20) v = u * C(50);                        // t > 1
      else if (kind < 25) v = K::min * (C(1) + u);              // smallest normals
    } else {
      v = -C(30) * u;                                           // log-probabilities
      if (kind < 10) v = K::exp_lo + u * (K::exp_lo / C(-8));   // exp subnormal or 0
      else if (kind < 15) v = K::pos_log * u;                   // positive log targets
      else if (kind < 20) v = -C(0);
    }
    if (special) {
      const C inf = L::infinity(), nan = L::quiet_NaN();
      const C specials[] = {nan, inf, -inf, -C(0), C(-0.5), K::big, -K::big, K::max};
      if (kind >= 900 && kind < 950) v = specials[kind % 8];
      if (kind >= 950) xi = specials[(kind / 8) % 8];
      // exp near its overflow threshold (the loss overflows too, so only here, not in the sums)
      if (log_target && kind >= 850 && kind < 900) v = K::exp_hi * (C(0.99) + u / C(100));
    }
    x[i] = K::store(xi);
    t[i] = K::store(v);
  }
}

template <class T>
struct Outputs {
  std::vector<T> forward, grad_input, grad_target, fused;  // fused: loss, then both gradients
};

// The gradients are checked on fewer thread counts: they are elementwise, and each costs two passes.
bool with_gradients(int threads) { return threads == 1 || threads == 3 || threads == kMaxThreads; }
// Slow runs (qemu, sanitizers: KLDIV_TEST_SWEEP_STEP > 1) compare these thread counts only; the native
// run compares all.  Under qemu the full sweep took 108 s of the suite.
bool slow_run_threads(int threads) { return threads == 2 || threads == 3 || threads == 7 || threads == kMaxThreads; }

template <class T>
Outputs<T> run(const std::vector<T>& x, const std::vector<T>& t, const std::vector<std::int64_t>& shape, Reduction r,
               bool log_target, int threads) {
  kldiv::Options o;
  o.reduction = r;
  o.log_target = log_target;
  o.num_threads = threads;
  const std::size_t n = x.size();
  Outputs<T> out;
  out.forward.resize(r == Reduction::none ? n : 1);
  kldiv::forward(x.data(), t.data(), kldiv::Shape(shape), o, out.forward.data());
  if (!with_gradients(threads)) return out;
  // The upstream gradient: numel values for none, else one.
  using C = typename Kind<T>::C;
  std::vector<T> g(r == Reduction::none ? n : 1);
  test::Random rng(5);
  for (auto& v : g) v = Kind<T>::store(C(2) * unit<C>(rng) - C(0.5));
  out.grad_input.resize(n);
  out.grad_target.resize(n);
  kldiv::backward(g.data(), x.data(), t.data(), kldiv::Shape(shape), o, out.grad_input.data(), out.grad_target.data());
  if (r != Reduction::none) {
    std::vector<T> gi(n), gt(n);
    const T loss =
        kldiv::forward_backward(x.data(), t.data(), kldiv::Shape(shape), o, gi.data(), gt.data(), Kind<T>::widen(g[0]));
    out.fused.push_back(loss);
    out.fused.insert(out.fused.end(), gi.begin(), gi.end());
    out.fused.insert(out.fused.end(), gt.begin(), gt.end());
  }
  return out;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

template <class T>
bool same_bits(const Outputs<T>& a, const Outputs<T>& b) {
  return same_bits(a.forward, b.forward) && same_bits(a.grad_input, b.grad_input) &&
         same_bits(a.grad_target, b.grad_target) && same_bits(a.fused, b.fused);
}

// 16 threads need 16 * 32768 elements (src/parallel.cpp); 64 x 8193 is 65 blocks, the last with 64
// elements, shared unevenly between any number of threads.
const std::vector<std::vector<std::int64_t>> kShapes = {{}, {1, 37}, {3, 5, 7, 11}, {64, 8193}};

struct Key {
  const char* dtype;
  bool log_target;
  Reduction reduction;
  const char* output;  // "forward", "backward" or "fused"
  bool special;        // inputs with inf, NaN and negative t; `none` only
};

std::string name(const Key& k) {
  return std::string(k.dtype) + (k.log_target ? " log_target " : " ") + kldiv::to_string(k.reduction) + " " + k.output +
         (k.special ? " special" : "");
}

// The committed hashes, the same for x86-64 (avx512, avx2, scalar) and aarch64 (neon, scalar).
const std::map<std::string, std::uint64_t> kExpected = {
    {"f32 batchmean backward", 0xf036a38248e22cdcull},
    {"f32 batchmean forward", 0xc3478d58c319db38ull},
    {"f32 batchmean fused", 0xe93f247ebd7f727dull},
    {"f32 log_target batchmean backward", 0x6334f31305dd3d45ull},
    {"f32 log_target batchmean forward", 0xc89281fe2416a6b7ull},
    {"f32 log_target batchmean fused", 0x556c55f5fce383a7ull},
    {"f32 log_target mean backward", 0x63fc094f022b76d7ull},
    {"f32 log_target mean forward", 0x05524c275c181fa6ull},
    {"f32 log_target mean fused", 0x4a6860bc288bdfc0ull},
    {"f32 log_target none backward", 0x5b7bcb564bac87aaull},
    {"f32 log_target none backward special", 0x6c5025eb9076efbbull},
    {"f32 log_target none forward", 0x4cddd559ef110e3cull},
    {"f32 log_target none forward special", 0x7afa8eb91f86f265ull},
    {"f32 log_target sum backward", 0x8c3ea506ea649054ull},
    {"f32 log_target sum forward", 0x42eca054a465beb7ull},
    {"f32 log_target sum fused", 0xa8603427795c3b36ull},
    {"f32 mean backward", 0xd0159498b6b5ee60ull},
    {"f32 mean forward", 0xe174ff0e4c6214daull},
    {"f32 mean fused", 0xa2988b14506fd7a7ull},
    {"f32 none backward", 0xf56d293b87b07e7full},
    {"f32 none backward special", 0x660f587f476f16d5ull},
    {"f32 none forward", 0xd8c92acb47f46169ull},
    {"f32 none forward special", 0x0298ee1e5281e9a9ull},
    {"f32 sum backward", 0x85a8dbf18dc30d00ull},
    {"f32 sum forward", 0x76d308bc2b036269ull},
    {"f32 sum fused", 0xa25de14068420758ull},
    {"f64 batchmean backward", 0x9dd804254b567db1ull},
    {"f64 batchmean forward", 0x39e5fb2495fdd1b5ull},
    {"f64 batchmean fused", 0xf749dc0254a50121ull},
    {"f64 log_target batchmean backward", 0xc06f04b514694a7full},
    {"f64 log_target batchmean forward", 0x60a87783fb0930beull},
    {"f64 log_target batchmean fused", 0xba7b6516f00fb0c0ull},
    {"f64 log_target mean backward", 0xd3cffc7e329e2603ull},
    {"f64 log_target mean forward", 0x8b7ecb52d06ea687ull},
    {"f64 log_target mean fused", 0xde631befdbb07a41ull},
    {"f64 log_target none backward", 0x8bee04062c1af8e1ull},
    {"f64 log_target none backward special", 0x80068e8ea9e1ea0aull},
    {"f64 log_target none forward", 0x8698e3022ce6b3b4ull},
    {"f64 log_target none forward special", 0x899c04c498ef31b5ull},
    {"f64 log_target sum backward", 0x152673dfa22b932bull},
    {"f64 log_target sum forward", 0xdc514c60d129075cull},
    {"f64 log_target sum fused", 0x51871a2ab7098f02ull},
    {"f64 mean backward", 0x73c811a77a21927bull},
    {"f64 mean forward", 0xd8fc2dae278cb107ull},
    {"f64 mean fused", 0x22c843b053339439ull},
    {"f64 none backward", 0xcb063566a4c13015ull},
    {"f64 none backward special", 0x90dd1d32e0c1d76cull},
    {"f64 none forward", 0xb9f506c60133e799ull},
    {"f64 none forward special", 0x567f8886f8689b77ull},
    {"f64 sum backward", 0xf620849c34539d2full},
    {"f64 sum forward", 0xc592e355c04e6ac6ull},
    {"f64 sum fused", 0x972a86fb622c7c34ull},
};

// The same for bf16 and f16.
const std::map<std::string, std::uint64_t> kExpectedHalf = {
    {"bf16 batchmean backward", 0x135ef490464f229dull},
    {"bf16 batchmean forward", 0xc08537fd40a5fdeaull},
    {"bf16 batchmean fused", 0xb2bb2f44aff72f8eull},
    {"bf16 log_target batchmean backward", 0x40a5bc3976033b6full},
    {"bf16 log_target batchmean forward", 0x1f2cccb3bd8e7975ull},
    {"bf16 log_target batchmean fused", 0xd815485d2aeef40full},
    {"bf16 log_target mean backward", 0x1cfbf9c46b8ff0f6ull},
    {"bf16 log_target mean forward", 0xb9b2231d5bd28150ull},
    {"bf16 log_target mean fused", 0x4cd511dbb05fd713ull},
    {"bf16 log_target none backward", 0xceef79f32c59310cull},
    {"bf16 log_target none backward special", 0x6d4f94331c4e147bull},
    {"bf16 log_target none forward", 0x554d620b5eb3e734ull},
    {"bf16 log_target none forward special", 0x5aed1d7722b0ef56ull},
    {"bf16 log_target sum backward", 0x53d0f110408189e4ull},
    {"bf16 log_target sum forward", 0x302ade28df6f1a38ull},
    {"bf16 log_target sum fused", 0xed20b4f9143645d9ull},
    {"bf16 mean backward", 0x5545fa8bb9de84c0ull},
    {"bf16 mean forward", 0xf4da186df87f2347ull},
    {"bf16 mean fused", 0xae5d7f05f823d60aull},
    {"bf16 none backward", 0xd1dbbbf58746e044ull},
    {"bf16 none backward special", 0xd43630e59eab74f4ull},
    {"bf16 none forward", 0xc55677b52190587bull},
    {"bf16 none forward special", 0x2cdf0989bc7f1f45ull},
    {"bf16 sum backward", 0x879da356cea08a38ull},
    {"bf16 sum forward", 0xd8148c6d226195ecull},
    {"bf16 sum fused", 0x53c7daa4b02c99adull},
    {"f16 batchmean backward", 0xf91179f29ffff5d1ull},
    {"f16 batchmean forward", 0xce3e4ac95e741a75ull},
    {"f16 batchmean fused", 0xfd2f315483656fcdull},
    {"f16 log_target batchmean backward", 0x195c882bfdfd1136ull},
    {"f16 log_target batchmean forward", 0x2278050ba441daf0ull},
    {"f16 log_target batchmean fused", 0x98e3cc2f334d4a5bull},
    {"f16 log_target mean backward", 0x64126b3e7c620907ull},
    {"f16 log_target mean forward", 0x427638d9a74d33a5ull},
    {"f16 log_target mean fused", 0x4524fd60cb46878bull},
    {"f16 log_target none backward", 0x45248ab75dec862dull},
    {"f16 log_target none backward special", 0x9840b929425a79c3ull},
    {"f16 log_target none forward", 0x53902513dd935dacull},
    {"f16 log_target none forward special", 0xba6e37bc1cbdf62eull},
    {"f16 log_target sum backward", 0x67a429b2dbac1c08ull},
    {"f16 log_target sum forward", 0x6de372c9aecb4660ull},
    {"f16 log_target sum fused", 0x94a7b758d62d79b1ull},
    {"f16 mean backward", 0x2479082500164997ull},
    {"f16 mean forward", 0x8b24fe32b8ae4279ull},
    {"f16 mean fused", 0x83a84ab8a024b50full},
    {"f16 none backward", 0x38314ae0d5755e87ull},
    {"f16 none backward special", 0xde71739342a51724ull},
    {"f16 none forward", 0x455205f081368ddcull},
    {"f16 none forward special", 0x9b56ccf3c2125c23ull},
    {"f16 sum backward", 0x6ddf00812301d1d5ull},
    {"f16 sum forward", 0x5541088c535a5f2dull},
    {"f16 sum fused", 0xd380250112891e5dull},
};

// Hashes of every output for one dtype, on the active ISA; checks every thread count against 1 thread.
template <class T>
void hash_outputs(const char* dtype, std::map<std::string, std::uint64_t>& hashes) {
  for (bool special : {false, true}) {
    for (bool log_target : {false, true}) {
      CAPTURE(log_target);
      for (Reduction r : kReductions) {
        if (special && r != Reduction::none) continue;  // a NaN anywhere makes every reduction NaN
        CAPTURE(kldiv::to_string(r));
        Fnv1a forward, backward, fused;
        for (const auto& shape : kShapes) {
          CAPTURE(shape.size());
          std::size_t n = 1;
          for (auto s : shape) n *= static_cast<std::size_t>(s);
          std::vector<T> x, t;
          make_inputs(n, log_target, special, 1000 + n, x, t);
          const Outputs<T> one = run(x, t, shape, r, log_target, 1);
          for (int threads = 2; threads <= kMaxThreads; ++threads) {
            if (test::slow_run() && !slow_run_threads(threads)) continue;
            CAPTURE(threads);
            const Outputs<T> other = run(x, t, shape, r, log_target, threads);
            CHECK(same_bits(one.forward, other.forward));
            if (with_gradients(threads)) CHECK(same_bits(one, other));
          }
          forward.values(one.forward);
          backward.values(one.grad_input);
          backward.values(one.grad_target);
          fused.values(one.fused);
        }
        hashes[name({dtype, log_target, r, "forward", special})] = forward.h;
        hashes[name({dtype, log_target, r, "backward", special})] = backward.h;
        if (r != Reduction::none) hashes[name({dtype, log_target, r, "fused", special})] = fused.h;
      }
    }
  }
}

std::string table(const std::map<std::string, std::uint64_t>& hashes) {
  std::string s;
  char line[160];
  for (const auto& [key, h] : hashes) {
    std::snprintf(line, sizeof line, "    {\"%s\", 0x%016" PRIx64 "ull},\n", key.c_str(), h);
    s += line;
  }
  return s;
}

// Checks the hashes that hash_all computes on every FMA ISA against the committed table `expected`
// (named `table_name` in the message that prints a new one).
template <class F>
void check_committed(const std::map<std::string, std::uint64_t>& expected, const char* table_name, F&& hash_all) {
  bool any = false;
  test::for_each_isa([&](const std::string& isa) {
    if (!test::has_fma(isa)) {
      MESSAGE(isa << ": no FMA, not bit-compared (held to the reference tolerance instead)");
      return;
    }
    std::map<std::string, std::uint64_t> hashes;
    hash_all(hashes);
    std::size_t matched = 0;
    for (const auto& entry : hashes) {  // (Clang 14 cannot capture a structured binding in CAPTURE)
      const std::string& key = entry.first;
      const std::uint64_t h = entry.second;
      const auto want = expected.find(key);
      CAPTURE(key);
      CHECK(want != expected.end());
      if (want != expected.end()) {
        CHECK(h == want->second);
        matched += h == want->second;
      }
    }
    CHECK(hashes.size() == expected.size());
    Fnv1a digest;  // of the table, to compare runs at a glance
    for (const auto& [key, h] : hashes) {
      digest.bytes(key.data(), key.size());
      digest.bytes(&h, sizeof h);
    }
    char hex[20];
    std::snprintf(hex, sizeof hex, "%016" PRIx64, digest.h);
    MESSAGE(isa << ": " << matched << " of " << expected.size() << " committed hashes matched; digest of all "
                << hashes.size() << ": " << hex);
    if (matched != expected.size() || hashes.size() != expected.size())
      MESSAGE(isa << " computed (the table " << std::string(table_name) << " in tests/test_platform_bits.cpp):\n"
                  << table(hashes));
    any = true;
  });
  CHECK(any);
}

}  // namespace

TEST_CASE("platform bits: committed hashes of every output, f32 and f64, threads 1 to 16, every FMA ISA") {
  check_committed(kExpected, "kExpected", [](std::map<std::string, std::uint64_t>& hashes) {
    hash_outputs<float>("f32", hashes);
    hash_outputs<double>("f64", hashes);
  });
}

TEST_CASE("platform bits: committed hashes of every output, bf16 and f16, threads 1 to 16, every FMA ISA") {
  check_committed(kExpectedHalf, "kExpectedHalf", [](std::map<std::string, std::uint64_t>& hashes) {
    hash_outputs<kldiv::bf16>("bf16", hashes);
    hash_outputs<kldiv::f16>("f16", hashes);
  });
}
