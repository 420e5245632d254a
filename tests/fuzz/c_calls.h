/* c_calls.c: the C ABI with plain int reductions and statuses, for the C++ fuzz target. */
#ifndef KLDIV_FUZZ_C_CALLS_H
#define KLDIV_FUZZ_C_CALLS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

int fuzz_forward_f32(const float* x, const float* t, const int64_t* shape, int ndim, int reduction, int log_target,
                     float* out);
int fuzz_forward_f64(const double* x, const double* t, const int64_t* shape, int ndim, int reduction, int log_target,
                     double* out);
int fuzz_backward_f32(const float* g, const float* x, const float* t, const int64_t* shape, int ndim, int reduction,
                      int log_target, float* grad_input, float* grad_target);
int fuzz_backward_f64(const double* g, const double* x, const double* t, const int64_t* shape, int ndim, int reduction,
                      int log_target, double* grad_input, double* grad_target);
int fuzz_forward_backward_f32(const float* x, const float* t, const int64_t* shape, int ndim, int reduction,
                              int log_target, float g, float* loss, float* grad_input, float* grad_target);
int fuzz_forward_backward_f64(const double* x, const double* t, const int64_t* shape, int ndim, int reduction,
                              int log_target, double g, double* loss, double* grad_input, double* grad_target);
/* The typed entry points, with the dtype as a plain int too. */
int fuzz_forward(int dtype, const void* x, const void* t, const int64_t* shape, int ndim, int reduction, int log_target,
                 void* out);
int fuzz_backward(int dtype, const void* g, const void* x, const void* t, const int64_t* shape, int ndim,
                  int reduction, int log_target, void* grad_input, void* grad_target);
int fuzz_forward_backward(int dtype, const void* x, const void* t, const int64_t* shape, int ndim, int reduction,
                          int log_target, double g, double* loss, void* grad_input, void* grad_target);
const char* fuzz_status_string(int status);

#ifdef __cplusplus
}
#endif

#endif
