// Argument checks, done before anything is written.  Each failure throws the kldiv error that the C ABI
// maps to its status.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kldiv/kldiv.hpp"

namespace kldiv::detail {

struct Extent {
  std::size_t numel;
  double batch;  // the batchmean divisor: shape[0], or 1 for a 0-dim input
};

// `out` is the output of forward() or the grad_output of backward(), named `out_name` in messages: numel
// values for Reduction::none, else one.
Extent validate(const void* input, const void* target, const void* out, Shape shape, const Options& options,
                std::size_t element_size, const char* out_name = "out");

}  // namespace kldiv::detail
