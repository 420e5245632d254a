#include "validate_logits.hpp"

#include <cmath>
#include <limits>
#include <string>

namespace kldiv::detail {
namespace {

bool valid_dtype(Dtype d) {
  const int v = static_cast<int>(d);
  return v >= 0 && v <= 3;
}

// Whether (rows - 1) * stride + cols elements of `size` bytes fit in the address space.
bool fits(std::int64_t rows, std::int64_t cols, std::int64_t stride, std::size_t size) {
  if (rows == 0 || cols == 0) return true;
  const auto limit = static_cast<std::uint64_t>(std::numeric_limits<std::ptrdiff_t>::max()) / size;
  const auto r = static_cast<std::uint64_t>(rows - 1), s = static_cast<std::uint64_t>(stride);
  if (r != 0 && s > limit / r) return false;
  return r * s <= limit - static_cast<std::uint64_t>(cols);
}

}  // namespace

const char* dtype_name(Dtype d) noexcept {
  switch (d) {
    case Dtype::f32: return "F32";
    case Dtype::f64: return "F64";
    case Dtype::bf16: return "BF16";
    case Dtype::f16: return "F16";
  }
  return "?";
}

void check_rows(const Rows& m, const char* name) {
  const std::string n = name;
  if (!valid_dtype(m.dtype))
    throw invalid_argument(std::to_string(static_cast<int>(m.dtype)) + " is not a valid dtype for " + n);
  if (m.rows < 0) throw invalid_shape(n + " has a negative row count, " + std::to_string(m.rows));
  if (m.cols < 0) throw invalid_shape(n + " has a negative column count, " + std::to_string(m.cols));
  if (m.cols == 0 && m.rows > 0) throw invalid_shape(n + " has rows but no columns");
  if (m.stride < m.cols)
    throw invalid_shape(n + "'s stride " + std::to_string(m.stride) + " is below its column count " + std::to_string(m.cols));
  if (!fits(m.rows, m.cols, m.stride, element_size(m.dtype)))
    throw invalid_shape(n + "'s size overflows the address space");
  if (m.rows > 0 && m.data == nullptr) throw null_pointer(n + "'s data is null");
}

std::size_t element_size(Dtype dtype) noexcept {
  return dtype == Dtype::f64 ? 8 : dtype == Dtype::f32 ? 4 : 2;
}

std::size_t validate_logits(const Rows& p, const Rows& q, const LogitsOptions& options, const void* out,
                            const char* out_name) {
  const int d = static_cast<int>(options.divergence);
  if (d < 0 || d > 2) throw invalid_argument(std::to_string(d) + " is not a valid divergence");
  const int r = static_cast<int>(options.reduction);
  if (r < 0 || r > 3) throw invalid_argument(std::to_string(r) + " is not a valid value for reduction");
  if (options.num_threads < 0)
    throw invalid_argument("num_threads must be >= 0 (0 = default), got " + std::to_string(options.num_threads));
  if (!(std::isfinite(options.temperature) && options.temperature > 0))
    throw invalid_argument("temperature must be finite and > 0, got " + std::to_string(options.temperature));
  if (options.divergence == Divergence::jsd && !(options.beta > 0 && options.beta < 1))
    throw invalid_argument("beta must be in (0, 1) for JSD, got " + std::to_string(options.beta));
  check_rows(p, "p");
  check_rows(q, "q");
  if ((p.dtype == Dtype::f64) != (q.dtype == Dtype::f64))
    throw invalid_argument(std::string("F64 pairs only with F64; p is ") + dtype_name(p.dtype) + ", q is " + dtype_name(q.dtype));
  if (p.rows != q.rows || p.cols != q.cols)
    throw invalid_shape("p is " + std::to_string(p.rows) + " x " + std::to_string(p.cols) + " but q is " +
                        std::to_string(q.rows) + " x " + std::to_string(q.cols));
  const bool none = options.reduction == Reduction::none;
  if ((p.rows > 0 || !none) && out == nullptr) throw null_pointer(std::string(out_name) + " is null");
  return static_cast<std::size_t>(p.rows);
}

void validate_gradient(const Rows& q, const LogitsOptions& options, const double* grad_output, const void* grad_q,
                       std::int64_t grad_stride) {
  const bool none = options.reduction == Reduction::none;
  if ((q.rows > 0 || !none) && grad_output == nullptr) throw null_pointer("grad_output is null");
  if (grad_stride < q.cols)
    throw invalid_shape("grad_stride " + std::to_string(grad_stride) + " is below the column count " + std::to_string(q.cols));
  if (!fits(q.rows, q.cols, grad_stride, element_size(q.dtype))) throw invalid_shape("grad_q's size overflows the address space");
  if (q.rows > 0 && grad_q == nullptr) throw null_pointer("grad_q is null");
}

}  // namespace kldiv::detail
