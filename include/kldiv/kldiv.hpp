// kldiv: PyTorch's kl_div loss, fast on every CPU.  The C++ API (C++17).
//
// input x holds log-probabilities, target t probabilities (or log-probabilities with log_target), both
// contiguous, row-major, of the same shape (N, *).  Per element (PyTorch >= 1.13):
//   log_target == false:  l = xlogy(t, t) - t*x      0 where t == 0, NaN where t < 0
//   log_target == true:   l = exp(t) * (t - x)
// Reductions: none (l itself), sum, mean (sum / numel), batchmean (sum / shape[0], the true KL; no
// division for a 0-dim input).  README.md has the table of edge values and the accuracy bound.
#ifndef KLDIV_KLDIV_HPP
#define KLDIV_KLDIV_HPP

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "dtype.hpp"

namespace kldiv {

enum class Reduction : int { none = 0, mean = 1, sum = 2, batchmean = 3 };

// "none" | "mean" | "sum" | "batchmean"; anything else throws invalid_argument with PyTorch's message,
// "<name> is not a valid value for reduction".
Reduction parse_reduction(std::string_view name);
const char* to_string(Reduction reduction) noexcept;

struct Options {
  Reduction reduction = Reduction::mean;  // PyTorch's default
  bool log_target = false;
  int num_threads = 0;  // 0: the global setting (set_num_threads), whose 0 is OpenMP's default
};

// The sizes of input and target; ndim 0 is a scalar.  Built from a braced list it keeps a copy (up to
// kMaxListed sizes); built from a pointer or a vector it refers to them, which must then outlive it.
class Shape {
 public:
  static constexpr int kMaxListed = 8;

  Shape(std::initializer_list<std::int64_t> dims) noexcept
      : dims_(listed_), ndim_(static_cast<int>(dims.size())), too_long_(dims.size() > kMaxListed) {
    if (too_long_) dims_ = nullptr;
    else for (int i = 0; i < ndim_; ++i) listed_[i] = dims.begin()[i];
  }
  Shape(const std::vector<std::int64_t>& dims) noexcept
      : dims_(dims.data()), ndim_(static_cast<int>(dims.size())) {}
  Shape(const std::int64_t* dims, int ndim) noexcept : dims_(dims), ndim_(ndim) {}
  Shape(const Shape& other) noexcept { *this = other; }
  Shape& operator=(const Shape& other) noexcept {
    ndim_ = other.ndim_;
    too_long_ = other.too_long_;
    dims_ = other.dims_ == other.listed_ ? listed_ : other.dims_;
    for (int i = 0; i < kMaxListed; ++i) listed_[i] = other.listed_[i];
    return *this;
  }

  const std::int64_t* data() const noexcept { return dims_; }
  int ndim() const noexcept { return ndim_; }
  // A braced list longer than kMaxListed is kept as no sizes at all, and the library rejects it.
  bool too_long() const noexcept { return too_long_; }

 private:
  std::int64_t listed_[kMaxListed] = {};
  const std::int64_t* dims_;
  int ndim_;
  bool too_long_ = false;
};

// Every error is one of these; all derive from std::invalid_argument.  A call that throws has written
// nothing to its output.
struct error : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
struct null_pointer : error {
  using error::error;
};
struct invalid_shape : error {
  using error::error;
};
struct invalid_argument : error {
  using error::error;
};
struct unsupported_isa : error {
  using error::error;
};

// Writes numel values of l to out for Reduction::none, else the one reduced value.  With numel == 0,
// input, target and (for none) out may be null.  Here and below, an output may be the very array of an
// input (in place); a partial overlap is not supported.
void forward(const float* input, const float* target, Shape shape, const Options& options, float* out);
void forward(const double* input, const double* target, Shape shape, const Options& options, double* out);

// The reduced loss; throws invalid_argument for Reduction::none.
float loss(const float* input, const float* target, Shape shape, const Options& options = {});
double loss(const double* input, const double* target, Shape shape, const Options& options = {});

// Gradients (PyTorch >= 1.13 autograd).  grad_output holds numel values for Reduction::none, else one,
// which is scaled like the reduction: by 1/numel (mean), 1/shape[0] (batchmean, not for 0-dim), 1 (sum).
// With g that scaled upstream gradient, per element:
//   log_target == false:  d/dx = -g*t        d/dt = g*xlogy(t != 0, t) + g*(t/t) - g*x
//   log_target == true:   d/dx = -g*exp(t)   d/dt = g*(t - x)*exp(t) + g*exp(t)
// so d/dt is NaN at t == 0, t < 0 and t == +inf without log_target (t/t is NaN there), as in PyTorch.
// Either output may be null to skip it.  With numel == 0 every pointer may be null.
void backward(const float* grad_output, const float* input, const float* target, Shape shape, const Options& options,
              float* grad_input, float* grad_target);
void backward(const double* grad_output, const double* input, const double* target, Shape shape,
              const Options& options, double* grad_input, double* grad_target);

// The reduced loss and its gradients in one pass: x and t are read once, each gradient written once.
// grad_output is the upstream gradient of the reduced loss (1 for a loss that is the objective).  The
// loss has the bits of loss(), the gradients those of backward().  Reduction::none is invalid here.
float forward_backward(const float* input, const float* target, Shape shape, const Options& options,
                       float* grad_input, float* grad_target = nullptr, float grad_output = 1.0f);
double forward_backward(const double* input, const double* target, Shape shape, const Options& options,
                        double* grad_input, double* grad_target = nullptr, double grad_output = 1.0);

// The number of values forward() writes: numel for Reduction::none, else 1.  Validates the shape.
std::int64_t output_size(Shape shape, Reduction reduction);

// Instruction sets: "avx512", "avx2", "sse2", "neon", "scalar".  The environment variable KLDIV_ISA
// chooses the initial one (default "auto", the best available); set_isa overrides it.  Naming one that
// is unknown or not available on this CPU throws unsupported_isa; there is no silent fallback.
const char* isa();  // a static string
void set_isa(std::string_view name);
std::vector<std::string> available_isas();  // best first

// The thread count of calls whose Options::num_threads is 0; 0 = OpenMP's default.  A call made from
// inside an active OpenMP parallel region runs on its calling thread only.
void set_num_threads(int n) noexcept;
int num_threads() noexcept;

const char* version() noexcept;

}  // namespace kldiv

#endif  // KLDIV_KLDIV_HPP
