// The C ABI's error handling, shared by its files (c_api.cpp, eval_c_api.cpp): no exception crosses it.
#pragma once

#include <cstring>
#include <exception>

#include "kldiv/kldiv.h"
#include "kldiv/kldiv.hpp"

namespace kldiv::detail {

extern thread_local char g_last_error[512];

// Records message as this thread's last error (kldiv_last_error) and returns status.
kldiv_status fail(kldiv_status status, const char* message) noexcept;

// Runs f, turning its exceptions into a status and a message.
template <class F>
kldiv_status guarded(F&& f) noexcept {
  try {
    f();
    return KLDIV_OK;
  } catch (const kldiv::null_pointer& e) {
    return fail(KLDIV_ERROR_NULL_POINTER, e.what());
  } catch (const kldiv::invalid_shape& e) {
    return fail(KLDIV_ERROR_INVALID_SHAPE, e.what());
  } catch (const kldiv::unsupported_isa& e) {
    return fail(KLDIV_ERROR_UNSUPPORTED_ISA, e.what());
  } catch (const std::exception& e) {
    return fail(KLDIV_ERROR_INVALID_ARGUMENT, e.what());
  } catch (...) {
    return fail(KLDIV_ERROR_INVALID_ARGUMENT, "unknown error");
  }
}

// A C caller may pass any int where the ABI takes a kldiv_reduction or a kldiv_status (C converts it
// implicitly), and README.md promises an error status for an unknown reduction.  In C++, though, an enum
// without a fixed underlying type cannot hold a value outside its enumerators' range (0..3, 0..7):
// reading the parameter as that enum is undefined behaviour (UBSan's -fsanitize=enum reports it, and
// -fstrict-enums would let the compiler drop the range check).  So the raw int is copied out of the
// parameter's bytes, without ever reading it as the enum, and validated as an int.
template <class E>
int raw(const E& value) noexcept {
  static_assert(sizeof(E) == sizeof(int), "C enums are int-sized on the supported ABIs");
  int v;
  std::memcpy(&v, &value, sizeof v);
  return v;
}

// A kldiv_rows as the C++ API's Rows, its dtype read as raw() explains (validated later).
inline kldiv::Rows rows_of(const kldiv_rows& m) noexcept {
  return kldiv::Rows(m.data, static_cast<kldiv::Dtype>(raw(m.dtype)), m.rows, m.cols, m.stride);
}

}  // namespace kldiv::detail
