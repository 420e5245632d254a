// The contract between the per-ISA kernels and the rest of the library.
#pragma once

#include <cstddef>

#include "kldiv/dtype.hpp"

namespace kldiv::detail {

// Elements are summed in kLanes interleaved accumulators (element i of a block goes to lane i % kLanes),
// whatever the register width: 1 AVX-512, 2 AVX2 or 4 SSE2/NEON registers of float, 16 scalars.  That is
// what makes the sums bit-identical across ISAs.
inline constexpr std::size_t kLanes = 16;

// Elements per block.  Each block gives one partial sum; the partials are reduced in a fixed tree.  Work
// is split between threads in whole blocks, so the result does not depend on the thread count.
inline constexpr std::size_t kBlock = 8192;

// An unevaluated sum hi + lo (a double-double), |lo| <= ulp(hi)/2 once normalised.
struct Partial {
  double hi;
  double lo;
};

// The loss kernels over arrays of E (float, double, bf16 or f16), computed in C (float for the halves,
// which are widened on load and rounded once on store: src/kernels/half.hpp).
template <class E, class C>
struct LossKernels {
  // out[i] = l(x[i], t[i]) for i < n.
  void (*pointwise)(const E* x, const E* t, E* out, std::size_t n, bool log_target);
  // partials[b] = sum of l over elements [b*kBlock, min(n, (b+1)*kBlock)), for every block b.
  void (*block_sums)(const E* x, const E* t, std::size_t n, bool log_target, Partial* partials);
  // The gradients for upstream gradients g[i], or g_one for all where g is null; either output may be null.
  void (*backward)(const E* g, C g_one, const E* x, const E* t, E* grad_input, E* grad_target, std::size_t n,
                   bool log_target);
  // block_sums and backward (for one g) in one pass.
  void (*forward_backward)(const E* x, const E* t, C g, E* grad_input, E* grad_target, std::size_t n,
                           bool log_target, Partial* partials);
};

template <class T>
struct TypedKernels : LossKernels<T, T> {
  // The elementary functions the kernels use, exposed so that tests can measure them.
  void (*log)(const T* in, T* out, std::size_t n);
  void (*exp)(const T* in, T* out, std::size_t n);
};

// out[i] = in[i] converted, i < n (src/kernels/half.hpp): the bits of the kernels' own loads and stores,
// exposed for the scalar conversions of dtype.hpp and for the tests.
struct HalfConversions {
  void (*bf16_to_f32)(const bf16* in, float* out, std::size_t n);
  void (*f32_to_bf16)(const float* in, bf16* out, std::size_t n);
  void (*f16_to_f32)(const f16* in, float* out, std::size_t n);
  void (*f32_to_f16)(const float* in, f16* out, std::size_t n);
};

struct KernelTable {
  const char* name;
  TypedKernels<float> f32;
  TypedKernels<double> f64;
  LossKernels<bf16, float> kernels_bf16;
  LossKernels<f16, float> kernels_f16;
  HalfConversions half;
};

// One per ISA compiled in (see src/isa/); dispatch.cpp picks among them.
const KernelTable& avx512_kernels();
const KernelTable& avx2_kernels();
const KernelTable& sse2_kernels();
const KernelTable& neon_kernels();
const KernelTable& scalar_kernels();

}  // namespace kldiv::detail
