// Argument checks of the logits API, done before anything is written.  Each failure throws the kldiv
// error that the C ABI maps to its status.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kldiv/logits.hpp"

namespace kldiv::detail {

// The size in bytes of one element of a valid dtype.
std::size_t element_size(Dtype dtype) noexcept;
const char* dtype_name(Dtype dtype) noexcept;  // "F32", "F64", "BF16", "F16" ("?" for another value)

// One matrix, named `name` in the messages: a valid dtype, rows >= 0, cols >= 0 (> 0 with rows),
// stride >= cols, a size within the address space, data non-null with rows.
void check_rows(const Rows& m, const char* name);

// p, q and options; out (rows values for none, else 1; named `out_name`) must be non-null when it has
// values.  Returns the row count.
std::size_t validate_logits(const Rows& p, const Rows& q, const LogitsOptions& options, const void* out,
                            const char* out_name = "out");

// The gradient's extra arguments: grad_output (as out) and grad_q with its stride.
void validate_gradient(const Rows& q, const LogitsOptions& options, const double* grad_output, const void* grad_q,
                       std::int64_t grad_stride);

}  // namespace kldiv::detail
