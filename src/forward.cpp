// The C++ API: validation, then the kernels of the active ISA, split between threads.
#include <string>

#include "dispatch.hpp"
#include "kldiv/kldiv.hpp"
#include "parallel.hpp"
#include "reduction.hpp"
#include "validate.hpp"

namespace kldiv {
namespace {

template <class T>
void forward_impl(const T* input, const T* target, Shape shape, const Options& options, T* out) {
  const detail::Extent extent = detail::validate(input, target, out, shape, options, sizeof(T));
  const auto& kernels = detail::typed<T>(detail::active_kernels());
  const int threads = detail::thread_budget(options.num_threads);
  if (options.reduction == Reduction::none) {
    if (extent.numel > 0)
      detail::parallel_pointwise(kernels, input, target, out, extent.numel, options.log_target, threads);
    return;
  }
  const detail::Partial sum = extent.numel > 0
                                  ? detail::parallel_sum(kernels, input, target, extent.numel, options.log_target, threads)
                                  : detail::Partial{0.0, 0.0};
  const double divisor = options.reduction == Reduction::mean        ? static_cast<double>(extent.numel)
                         : options.reduction == Reduction::batchmean ? extent.batch
                                                                     : 1.0;
  *out = static_cast<T>(detail::finish(sum, divisor));
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
