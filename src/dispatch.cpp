#include "dispatch.hpp"

#include <atomic>
#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif
#include <cstdlib>
#include <string>

#include "kldiv/kldiv.hpp"

namespace kldiv::detail {
namespace {

struct Isa {
  const char* name;
  const KernelTable& (*kernels)();  // null where this build does not compile the ISA
  bool (*supported)();
};

#if defined(__x86_64__) || defined(_M_X64)
// __builtin_cpu_supports reads CPUID and checks, through XCR0, that the OS saves the wider registers.
// xsimd's detection is deliberately not used: xsimd::available_architectures() keeps its result in a
// function-local static, which becomes a global (GNU unique) symbol of libkldiv.a outside namespace kldiv,
// shared at link time with a host that uses another xsimd version whose struct has another layout
// (.ci/consumers.sh checks the symbols).
bool cpu_ready() {
  static const bool ready = (__builtin_cpu_init(), true);
  return ready;
}
bool avx512_supported() {
  return cpu_ready() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
// F16C from CPUID leaf 1 (ECX bit 29): Clang 14's __builtin_cpu_supports does not know "f16c".  Its
// YMM state is the one AVX2 needs, which avx2's check has already found enabled by the OS.
bool f16c_supported() {
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
}
bool avx2_supported() {
  return cpu_ready() && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c_supported();
}
bool sse2_supported() { return cpu_ready() && __builtin_cpu_supports("sse2"); }
#endif
bool always() { return true; }
bool never() { return false; }

// Best first.  Every name is known on every platform, so that asking for a foreign one is a clear error.
const Isa kIsas[] = {
#if defined(KLDIV_HAVE_AVX512)
    {"avx512", &avx512_kernels, &avx512_supported},
#else
    {"avx512", nullptr, &never},
#endif
#if defined(KLDIV_HAVE_AVX2)
    {"avx2", &avx2_kernels, &avx2_supported},
#else
    {"avx2", nullptr, &never},
#endif
#if defined(KLDIV_HAVE_SSE2)
    {"sse2", &sse2_kernels, &sse2_supported},
#else
    {"sse2", nullptr, &never},
#endif
#if defined(KLDIV_HAVE_NEON)
    {"neon", &neon_kernels, &always},
#else
    {"neon", nullptr, &never},
#endif
    {"scalar", &scalar_kernels, &always},
};

bool usable(const Isa& isa) { return isa.kernels != nullptr && isa.supported(); }

std::string usable_list() {
  std::string list;
  for (const Isa& isa : kIsas)
    if (usable(isa)) list += (list.empty() ? "" : ", ") + std::string(isa.name);
  return list;
}

// "auto" or "" (as an empty KLDIV_ISA= is) picks the best usable ISA.
const KernelTable& lookup(std::string_view name) {
  if (name.empty() || name == "auto") {
    for (const Isa& isa : kIsas)
      if (usable(isa)) return isa.kernels();
  }
  for (const Isa& isa : kIsas) {
    if (name != isa.name) continue;
    if (!isa.kernels) throw unsupported_isa("ISA '" + std::string(name) + "' is not compiled into this build (available: " + usable_list() + ")");
    if (!isa.supported()) throw unsupported_isa("ISA '" + std::string(name) + "' is not supported by this CPU (available: " + usable_list() + ")");
    return isa.kernels();
  }
  throw unsupported_isa("unknown ISA '" + std::string(name) + "'; expected auto, avx512, avx2, sse2, neon or scalar");
}

std::atomic<const KernelTable*> g_forced{nullptr};

const KernelTable& from_environment() {
  // A failed initialisation is retried (and fails again) on the next call, so every call reports it.
  static const KernelTable& table = [] () -> const KernelTable& {
    const char* env = std::getenv("KLDIV_ISA");
    try {
      return lookup(env ? env : "auto");
    } catch (const unsupported_isa& e) {
      throw unsupported_isa(std::string("KLDIV_ISA: ") + e.what());
    }
  }();
  return table;
}

}  // namespace

const KernelTable& active_kernels() {
  if (const KernelTable* forced = g_forced.load(std::memory_order_acquire)) return *forced;
  return from_environment();
}

}  // namespace kldiv::detail

namespace kldiv {

const char* isa() { return detail::active_kernels().name; }

void set_isa(std::string_view name) { detail::g_forced.store(&detail::lookup(name), std::memory_order_release); }

std::vector<std::string> available_isas() {
  std::vector<std::string> names;
  for (const detail::Isa& isa : detail::kIsas)
    if (detail::usable(isa)) names.emplace_back(isa.name);
  return names;
}

}  // namespace kldiv
