#include "validate.hpp"

#include <cstdint>
#include <limits>
#include <string>

namespace kldiv::detail {

Extent validate(const void* input, const void* target, const void* out, Shape shape, const Options& options,
                std::size_t element_size, const char* out_name) {
  const auto r = static_cast<int>(options.reduction);
  if (r < 0 || r > 3) throw invalid_argument(std::to_string(r) + " is not a valid value for reduction");
  if (options.num_threads < 0)
    throw invalid_argument("num_threads must be >= 0 (0 = default), got " + std::to_string(options.num_threads));
  if (shape.too_long())
    throw invalid_shape("a braced shape has at most " + std::to_string(Shape::kMaxListed) + " sizes; pass a vector or a pointer");
  if (shape.ndim() < 0) throw invalid_shape("ndim must be >= 0, got " + std::to_string(shape.ndim()));
  if (shape.ndim() > 0 && shape.data() == nullptr) throw null_pointer("shape is null but ndim is " + std::to_string(shape.ndim()));

  // A zero size makes numel 0 whatever the others are; otherwise the product must fit in memory.
  const std::uint64_t limit = static_cast<std::uint64_t>(std::numeric_limits<std::ptrdiff_t>::max()) / element_size;
  std::uint64_t numel = 1;
  bool empty = false, overflow = false;
  for (int d = 0; d < shape.ndim(); ++d) {
    const std::int64_t size = shape.data()[d];
    if (size < 0) throw invalid_shape("size " + std::to_string(size) + " of dimension " + std::to_string(d) + " is negative");
    const auto u = static_cast<std::uint64_t>(size);
    if (u == 0)
      empty = true;
    else if (u > limit / numel)
      overflow = true;
    else
      numel *= u;
  }
  if (empty) numel = 0;
  else if (overflow) throw invalid_shape("the number of elements overflows the address space");

  const bool none = options.reduction == Reduction::none;
  if (numel > 0 && input == nullptr) throw null_pointer("input is null");
  if (numel > 0 && target == nullptr) throw null_pointer("target is null");
  if ((numel > 0 || !none) && out == nullptr) throw null_pointer(std::string(out_name) + " is null");
  const double batch = shape.ndim() == 0 ? 1.0 : static_cast<double>(shape.data()[0]);
  return {static_cast<std::size_t>(numel), batch};
}

}  // namespace kldiv::detail
