// kldiv: the element types (C++17).  Placeholder for issue 11's header of the same name (which adds bf16,
// f16 and their conversions); replaced by it on merge.
#ifndef KLDIV_DTYPE_HPP
#define KLDIV_DTYPE_HPP

#include <cstdint>

namespace kldiv {

// The values of kldiv_dtype in kldiv.h.
enum class Dtype : int { f32 = 0, f64 = 1, bf16 = 2, f16 = 3 };

}  // namespace kldiv

#endif  // KLDIV_DTYPE_HPP
