// The C ABI: each entry point calls the C++ API and turns its exceptions into a status and a message.
#include <cstdio>
#include <cstring>
#include <new>

#include "kldiv/kldiv.h"
#include "kldiv/kldiv.hpp"
#include "c_guard.hpp"

namespace kldiv::detail {

// A fixed buffer: recording an error must not allocate, or it could throw on the way out.
thread_local char g_last_error[512] = "";

kldiv_status fail(kldiv_status status, const char* message) noexcept {
  std::snprintf(g_last_error, sizeof g_last_error, "%s", message);
  return status;
}

}  // namespace kldiv::detail

namespace {

using kldiv::detail::guarded;
using kldiv::detail::raw;

kldiv::Options options_of(int reduction, int log_target) {
  kldiv::Options options;
  options.reduction = static_cast<kldiv::Reduction>(reduction);  // any int: kldiv::Reduction is `: int`
  options.log_target = log_target != 0;
  return options;
}

template <class T>
kldiv_status forward(const T* input, const T* target, const int64_t* shape, int ndim, int reduction,
                     int log_target, T* out) noexcept {
  return guarded(
      [&] { kldiv::forward(input, target, kldiv::Shape(shape, ndim), options_of(reduction, log_target), out); });
}

template <class T>
kldiv_status backward(const T* grad_output, const T* input, const T* target, const int64_t* shape, int ndim,
                      int reduction, int log_target, T* grad_input, T* grad_target) noexcept {
  return guarded([&] {
    kldiv::backward(grad_output, input, target, kldiv::Shape(shape, ndim), options_of(reduction, log_target),
                    grad_input, grad_target);
  });
}

template <class T>
kldiv_status forward_backward(const T* input, const T* target, const int64_t* shape, int ndim, int reduction,
                              int log_target, T grad_output, T* loss, T* grad_input, T* grad_target) noexcept {
  return guarded([&] {
    if (!loss) throw kldiv::null_pointer("loss is null");
    const T value = kldiv::forward_backward(input, target, kldiv::Shape(shape, ndim),
                                            options_of(reduction, log_target), grad_input, grad_target, grad_output);
    *loss = value;
  });
}

}  // namespace

extern "C" {

kldiv_status kldiv_forward_f32(const float* input, const float* target, const int64_t* shape, int ndim,
                               kldiv_reduction reduction, int log_target, float* out) {
  return forward(input, target, shape, ndim, raw(reduction), log_target, out);
}

kldiv_status kldiv_forward_f64(const double* input, const double* target, const int64_t* shape, int ndim,
                               kldiv_reduction reduction, int log_target, double* out) {
  return forward(input, target, shape, ndim, raw(reduction), log_target, out);
}

kldiv_status kldiv_backward_f32(const float* grad_output, const float* input, const float* target,
                                const int64_t* shape, int ndim, kldiv_reduction reduction, int log_target,
                                float* grad_input, float* grad_target) {
  return backward(grad_output, input, target, shape, ndim, raw(reduction), log_target, grad_input, grad_target);
}

kldiv_status kldiv_backward_f64(const double* grad_output, const double* input, const double* target,
                                const int64_t* shape, int ndim, kldiv_reduction reduction, int log_target,
                                double* grad_input, double* grad_target) {
  return backward(grad_output, input, target, shape, ndim, raw(reduction), log_target, grad_input, grad_target);
}

kldiv_status kldiv_forward_backward_f32(const float* input, const float* target, const int64_t* shape, int ndim,
                                        kldiv_reduction reduction, int log_target, float grad_output, float* loss,
                                        float* grad_input, float* grad_target) {
  return forward_backward(input, target, shape, ndim, raw(reduction), log_target, grad_output, loss, grad_input,
                          grad_target);
}

kldiv_status kldiv_forward_backward_f64(const double* input, const double* target, const int64_t* shape,
                                        int ndim, kldiv_reduction reduction, int log_target, double grad_output,
                                        double* loss, double* grad_input, double* grad_target) {
  return forward_backward(input, target, shape, ndim, raw(reduction), log_target, grad_output, loss, grad_input,
                          grad_target);
}

const char* kldiv_status_string(kldiv_status status) {
  switch (raw(status)) {
    case KLDIV_OK: return "ok";
    case KLDIV_ERROR_NULL_POINTER: return "null pointer";
    case KLDIV_ERROR_INVALID_SHAPE: return "invalid shape";
    case KLDIV_ERROR_INVALID_ARGUMENT: return "invalid argument";
    case KLDIV_ERROR_UNSUPPORTED_ISA: return "unsupported ISA";
  }
  return "unknown status";
}

const char* kldiv_last_error(void) { return kldiv::detail::g_last_error; }

const char* kldiv_isa(void) {
  const char* name = "";
  guarded([&] { name = kldiv::isa(); });
  return name;
}

kldiv_status kldiv_set_isa(const char* name) {
  return guarded([&] { kldiv::set_isa(name ? name : "auto"); });
}

void kldiv_set_num_threads(int n) { kldiv::set_num_threads(n); }

const char* kldiv_version(void) { return kldiv::version(); }

}  // extern "C"
