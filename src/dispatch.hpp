// Which ISA's kernels run: the best the CPU supports, or the one forced by KLDIV_ISA or set_isa().
#pragma once

#include <type_traits>

#include "kernel_table.hpp"

namespace kldiv::detail {

// The kernels in use.  Throws unsupported_isa if KLDIV_ISA names an ISA that is unknown or not available
// here and set_isa() has not overridden it.
const KernelTable& active_kernels();

// The loss kernels for arrays of E.
template <class E>
const auto& typed(const KernelTable& table) noexcept {
  if constexpr (std::is_same_v<E, float>)
    return table.f32;
  else if constexpr (std::is_same_v<E, double>)
    return table.f64;
  else if constexpr (std::is_same_v<E, bf16>)
    return table.kernels_bf16;
  else
    return table.kernels_f16;
}

}  // namespace kldiv::detail
