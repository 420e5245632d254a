// The C++ API: validation, then the kernels of the active ISA, split between threads.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "dispatch.hpp"
#include "kldiv/kldiv.hpp"
#include "parallel.hpp"
#include "reduction.hpp"
#include "validate.hpp"

namespace kldiv {
namespace {

// What the reduction divides the sum by: numel (mean), shape[0] (batchmean; 1 for a 0-dim input), 1 (sum).
double divisor(const detail::Extent& extent, Reduction reduction) {
  if (reduction == Reduction::mean) return static_cast<double>(extent.numel);
  if (reduction == Reduction::batchmean) return extent.batch;
  return 1.0;
}

// The type an element type E is computed in: float for f32, bf16 and f16, double for f64.
template <class E>
using compute_t = std::conditional_t<std::is_same_v<E, double>, double, float>;

template <class E>
compute_t<E> widened(E v) noexcept {
  if constexpr (std::is_floating_point_v<E>)
    return v;
  else
    return to_float(v);
}

// d rounded once to E, to nearest even.  A half goes through float rounded to odd (an inexact result
// gets an odd last bit): float keeps more than two bits beyond either half, so rounding that float to
// nearest even rounds d itself, with no double rounding.
template <class E>
E narrowed(double d) noexcept {
  if constexpr (std::is_floating_point_v<E>) {
    return static_cast<E>(d);
  } else {
    float f = static_cast<float>(d);
    std::uint32_t b;
    std::memcpy(&b, &f, sizeof b);
    if (std::isfinite(f) && static_cast<double>(f) != d && (b & 1) == 0) {
      b = std::fabs(static_cast<double>(f)) > std::fabs(d) ? b - 1 : b + 1;  // the neighbour toward d
      std::memcpy(&f, &b, sizeof f);
    }
    if constexpr (std::is_same_v<E, bf16>)
      return to_bf16(f);
    else
      return to_f16(f);
  }
}

template <class E>
E reduced(detail::Partial sum, const detail::Extent& extent, Reduction reduction) {
  return narrowed<E>(detail::finish(sum, divisor(extent, reduction)));
}

// The one upstream gradient of a reduced loss as each element sees it: g / divisor, rounded once.
template <class C>
C per_element(C g, const detail::Extent& extent, Reduction reduction) {
  return static_cast<C>(static_cast<double>(g) / divisor(extent, reduction));
}

template <class T>
void forward_impl(const T* input, const T* target, Shape shape, const Options& options, T* out) {
  const detail::Extent extent = detail::validate(input, target, out, shape, options, sizeof(T));
  const auto& k = detail::typed<T>(detail::active_kernels());
  const int threads = detail::thread_budget(options.num_threads);
  const bool lt = options.log_target;
  if (options.reduction == Reduction::none) {
    detail::parallel_for(extent.numel, threads, [&](std::size_t b, std::size_t e) {
      k.pointwise(input + b, target + b, out + b, e - b, lt);
    });
    return;
  }
  const detail::Partial sum =
      extent.numel == 0 ? detail::Partial{0.0, 0.0}
                        : detail::parallel_sum(extent.numel, threads, [&](std::size_t b, std::size_t e, detail::Partial* p) {
                            k.block_sums(input + b, target + b, e - b, lt, p);
                          });
  *out = reduced<T>(sum, extent, options.reduction);
}

template <class T>
T* offset(T* p, std::size_t i) {
  return p ? p + i : nullptr;
}

template <class T>
void backward_impl(const T* grad_output, const T* input, const T* target, Shape shape, const Options& options,
                   T* grad_input, T* grad_target) {
  const bool none = options.reduction == Reduction::none;
  const detail::Extent extent = detail::validate(input, target, grad_output, shape, options, sizeof(T), "grad_output");
  const auto& k = detail::typed<T>(detail::active_kernels());
  if (extent.numel == 0 || (!grad_input && !grad_target)) return;
  const compute_t<T> g = none ? 0 : per_element(widened(*grad_output), extent, options.reduction);
  const bool lt = options.log_target;
  detail::parallel_for(extent.numel, detail::thread_budget(options.num_threads), [&](std::size_t b, std::size_t e) {
    k.backward(none ? grad_output + b : nullptr, g, input + b, target + b, offset(grad_input, b), offset(grad_target, b),
               e - b, lt);
  });
}

template <class T>
T forward_backward_impl(const T* input, const T* target, Shape shape, const Options& options, T* grad_input,
                        T* grad_target, compute_t<T> grad_output) {
  if (options.reduction == Reduction::none)
    throw invalid_argument("forward_backward needs a reduction other than none; use forward() and backward()");
  const T out_dummy{};
  const detail::Extent extent = detail::validate(input, target, &out_dummy, shape, options, sizeof(T));
  const auto& k = detail::typed<T>(detail::active_kernels());
  if (extent.numel == 0) return reduced<T>({0.0, 0.0}, extent, options.reduction);
  const compute_t<T> g = per_element(grad_output, extent, options.reduction);
  const bool lt = options.log_target;
  const detail::Partial sum = detail::parallel_sum(
      extent.numel, detail::thread_budget(options.num_threads), [&](std::size_t b, std::size_t e, detail::Partial* p) {
        k.forward_backward(input + b, target + b, g, offset(grad_input, b), offset(grad_target, b), e - b, lt, p);
      });
  return reduced<T>(sum, extent, options.reduction);
}

template <class T>
T loss_impl(const T* input, const T* target, Shape shape, const Options& options) {
  if (options.reduction == Reduction::none) throw invalid_argument("loss() needs a reduction other than none; use forward()");
  T out{};
  forward_impl(input, target, shape, options, &out);
  return out;
}

}  // namespace

Reduction parse_reduction(std::string_view name) {
  for (Reduction r : {Reduction::none, Reduction::mean, Reduction::sum, Reduction::batchmean})
    if (name == to_string(r)) return r;
  throw invalid_argument(std::string(name) + " is not a valid value for reduction");
}

const char* to_string(Reduction reduction) noexcept {
  switch (reduction) {
    case Reduction::none: return "none";
    case Reduction::mean: return "mean";
    case Reduction::sum: return "sum";
    case Reduction::batchmean: return "batchmean";
  }
  return "invalid";
}

void forward(const float* input, const float* target, Shape shape, const Options& options, float* out) {
  forward_impl(input, target, shape, options, out);
}
void forward(const double* input, const double* target, Shape shape, const Options& options, double* out) {
  forward_impl(input, target, shape, options, out);
}
float loss(const float* input, const float* target, Shape shape, const Options& options) {
  return loss_impl(input, target, shape, options);
}
double loss(const double* input, const double* target, Shape shape, const Options& options) {
  return loss_impl(input, target, shape, options);
}

void backward(const float* grad_output, const float* input, const float* target, Shape shape, const Options& options,
              float* grad_input, float* grad_target) {
  backward_impl(grad_output, input, target, shape, options, grad_input, grad_target);
}
void backward(const double* grad_output, const double* input, const double* target, Shape shape,
              const Options& options, double* grad_input, double* grad_target) {
  backward_impl(grad_output, input, target, shape, options, grad_input, grad_target);
}

float forward_backward(const float* input, const float* target, Shape shape, const Options& options,
                       float* grad_input, float* grad_target, float grad_output) {
  return forward_backward_impl(input, target, shape, options, grad_input, grad_target, grad_output);
}
double forward_backward(const double* input, const double* target, Shape shape, const Options& options,
                        double* grad_input, double* grad_target, double grad_output) {
  return forward_backward_impl(input, target, shape, options, grad_input, grad_target, grad_output);
}

void forward(const bf16* input, const bf16* target, Shape shape, const Options& options, bf16* out) {
  forward_impl(input, target, shape, options, out);
}
void forward(const f16* input, const f16* target, Shape shape, const Options& options, f16* out) {
  forward_impl(input, target, shape, options, out);
}
bf16 loss(const bf16* input, const bf16* target, Shape shape, const Options& options) {
  return loss_impl(input, target, shape, options);
}
f16 loss(const f16* input, const f16* target, Shape shape, const Options& options) {
  return loss_impl(input, target, shape, options);
}
void backward(const bf16* grad_output, const bf16* input, const bf16* target, Shape shape, const Options& options,
              bf16* grad_input, bf16* grad_target) {
  backward_impl(grad_output, input, target, shape, options, grad_input, grad_target);
}
void backward(const f16* grad_output, const f16* input, const f16* target, Shape shape, const Options& options,
              f16* grad_input, f16* grad_target) {
  backward_impl(grad_output, input, target, shape, options, grad_input, grad_target);
}
bf16 forward_backward(const bf16* input, const bf16* target, Shape shape, const Options& options, bf16* grad_input,
                      bf16* grad_target, float grad_output) {
  return forward_backward_impl(input, target, shape, options, grad_input, grad_target, grad_output);
}
f16 forward_backward(const f16* input, const f16* target, Shape shape, const Options& options, f16* grad_input,
                     f16* grad_target, float grad_output) {
  return forward_backward_impl(input, target, shape, options, grad_input, grad_target, grad_output);
}

std::int64_t output_size(Shape shape, Reduction reduction) {
  Options options;
  options.reduction = reduction;
  // Pointers are irrelevant to the size; non-null dummies keep validate() to the shape.
  const char dummy = 0;
  const auto numel = detail::validate(&dummy, &dummy, &dummy, shape, options, 1).numel;
  return reduction == Reduction::none ? static_cast<std::int64_t>(numel) : 1;
}

const char* version() noexcept { return KLDIV_VERSION; }

}  // namespace kldiv
