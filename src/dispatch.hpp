// Which ISA's kernels run: the best the CPU supports, or the one forced by KLDIV_ISA or set_isa().
#pragma once

#include "kernel_table.hpp"

namespace kldiv::detail {

// The kernels in use.  Throws unsupported_isa if KLDIV_ISA names an ISA that is unknown or not available
// here and set_isa() has not overridden it.
const KernelTable& active_kernels();

template <class T>
const TypedKernels<T>& typed(const KernelTable& table) noexcept {
  if constexpr (sizeof(T) == 4)
    return table.f32;
  else
    return table.f64;
}

}  // namespace kldiv::detail
