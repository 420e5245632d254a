/* The C ABI called as a C program calls it: reductions, dtypes and statuses pass as plain ints, any value (C lets
   an int convert to an enum parameter; a C++ caller could not do so without undefined behaviour). */
#include "kldiv/kldiv.h"

#include "c_calls.h"

int fuzz_forward_f32(const float* x, const float* t, const int64_t* shape, int ndim, int reduction, int log_target,
                     float* out) {
  return kldiv_forward_f32(x, t, shape, ndim, reduction, log_target, out);
}

int fuzz_forward_f64(const double* x, const double* t, const int64_t* shape, int ndim, int reduction, int log_target,
                     double* out) {
  return kldiv_forward_f64(x, t, shape, ndim, reduction, log_target, out);
}

int fuzz_backward_f32(const float* g, const float* x, const float* t, const int64_t* shape, int ndim, int reduction,
                      int log_target, float* grad_input, float* grad_target) {
  return kldiv_backward_f32(g, x, t, shape, ndim, reduction, log_target, grad_input, grad_target);
}

int fuzz_backward_f64(const double* g, const double* x, const double* t, const int64_t* shape, int ndim, int reduction,
                      int log_target, double* grad_input, double* grad_target) {
  return kldiv_backward_f64(g, x, t, shape, ndim, reduction, log_target, grad_input, grad_target);
}

int fuzz_forward_backward_f32(const float* x, const float* t, const int64_t* shape, int ndim, int reduction,
                              int log_target, float g, float* loss, float* grad_input, float* grad_target) {
  return kldiv_forward_backward_f32(x, t, shape, ndim, reduction, log_target, g, loss, grad_input, grad_target);
}

int fuzz_forward_backward_f64(const double* x, const double* t, const int64_t* shape, int ndim, int reduction,
                              int log_target, double g, double* loss, double* grad_input, double* grad_target) {
  return kldiv_forward_backward_f64(x, t, shape, ndim, reduction, log_target, g, loss, grad_input, grad_target);
}

int fuzz_forward(int dtype, const void* x, const void* t, const int64_t* shape, int ndim, int reduction, int log_target,
                 void* out) {
  return kldiv_forward(dtype, x, t, shape, ndim, reduction, log_target, out);
}

int fuzz_backward(int dtype, const void* g, const void* x, const void* t, const int64_t* shape, int ndim,
                  int reduction, int log_target, void* grad_input, void* grad_target) {
  return kldiv_backward(dtype, g, x, t, shape, ndim, reduction, log_target, grad_input, grad_target);
}

int fuzz_forward_backward(int dtype, const void* x, const void* t, const int64_t* shape, int ndim, int reduction,
                          int log_target, double g, double* loss, void* grad_input, void* grad_target) {
  return kldiv_forward_backward(dtype, x, t, shape, ndim, reduction, log_target, g, loss, grad_input, grad_target);
}

const char* fuzz_status_string(int status) { return kldiv_status_string(status); }
