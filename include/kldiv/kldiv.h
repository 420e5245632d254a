/* kldiv: PyTorch's kl_div loss, fast on every CPU.  The C ABI.
 *
 * A thin skin over the C++ API in kldiv.hpp: no exception crosses it.  Every
 * function that can fail returns a kldiv_status; kldiv_last_error() then gives
 * the message, per calling thread.  A failed call writes nothing to its outputs.
 *
 * Semantics (PyTorch >= 1.13): input x holds log-probabilities, target t
 * probabilities (or log-probabilities when log_target != 0), same shape (N, *):
 *   log_target == 0:  l = xlogy(t, t) - t*x   (0 where t == 0, NaN where t < 0)
 *   log_target != 0:  l = exp(t) * (t - x)
 * NONE writes l; SUM sums it; MEAN divides by numel; BATCHMEAN by shape[0]
 * (not at all for a 0-dim input).  See README.md for the full table of edge values.
 */
#ifndef KLDIV_KLDIV_H
#define KLDIV_KLDIV_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kldiv_reduction {
  KLDIV_REDUCTION_NONE = 0,
  KLDIV_REDUCTION_MEAN = 1,
  KLDIV_REDUCTION_SUM = 2,
  KLDIV_REDUCTION_BATCHMEAN = 3
} kldiv_reduction;

/* The element types.  BF16 (bfloat16) and F16 (IEEE binary16) are 16-bit storage types: widened to f32,
   computed in f32 and rounded once to the type, to nearest even. */
typedef enum kldiv_dtype {
  KLDIV_DTYPE_F32 = 0,
  KLDIV_DTYPE_F64 = 1,
  KLDIV_DTYPE_BF16 = 2,
  KLDIV_DTYPE_F16 = 3
} kldiv_dtype;

typedef enum kldiv_status {
  KLDIV_OK = 0,
  KLDIV_ERROR_NULL_POINTER = 1,
  KLDIV_ERROR_INVALID_SHAPE = 2,
  KLDIV_ERROR_INVALID_ARGUMENT = 3,
  KLDIV_ERROR_UNSUPPORTED_ISA = 4
} kldiv_status;

/* shape: ndim sizes (ndim 0 is a scalar); numel = product of sizes. out: numel values for NONE, else 1.
   With numel == 0, input, target and (for NONE) out may be NULL.  Here and below, an output may be the
   very array of an input (in place); a partial overlap is not supported. */
kldiv_status kldiv_forward_f32(const float* input, const float* target, const int64_t* shape, int ndim,
                               kldiv_reduction reduction, int log_target, float* out);
kldiv_status kldiv_forward_f64(const double* input, const double* target, const int64_t* shape, int ndim,
                               kldiv_reduction reduction, int log_target, double* out);

/* Gradients, as PyTorch's autograd computes them (see kldiv.hpp for the formulas).  grad_output holds
   numel values for NONE, else 1 (scaled like the reduction).  grad_input and grad_target are numel values
   each; either may be NULL to skip it. */
kldiv_status kldiv_backward_f32(const float* grad_output, const float* input, const float* target,
                                const int64_t* shape, int ndim, kldiv_reduction reduction, int log_target,
                                float* grad_input, float* grad_target);
kldiv_status kldiv_backward_f64(const double* grad_output, const double* input, const double* target,
                                const int64_t* shape, int ndim, kldiv_reduction reduction, int log_target,
                                double* grad_input, double* grad_target);

/* The reduced loss (into *loss) and its gradients in one pass over memory, for an upstream gradient
   grad_output (1 when the loss is the objective).  reduction must not be NONE.  grad_input and grad_target
   may be NULL.  The results have the bits of kldiv_forward_* and kldiv_backward_*. */
kldiv_status kldiv_forward_backward_f32(const float* input, const float* target, const int64_t* shape, int ndim,
                                        kldiv_reduction reduction, int log_target, float grad_output, float* loss,
                                        float* grad_input, float* grad_target);
kldiv_status kldiv_forward_backward_f64(const double* input, const double* target, const int64_t* shape,
                                        int ndim, kldiv_reduction reduction, int log_target, double grad_output,
                                        double* loss, double* grad_input, double* grad_target);

/* A static description of a status, e.g. "invalid shape". */
const char* kldiv_status_string(kldiv_status status);

/* The message of the last failed call on this thread ("" if none failed yet). Valid until the next
   failing call on the same thread. */
const char* kldiv_last_error(void);

/* The ISA in use: "avx512", "avx2", "sse2", "neon" or "scalar". */
const char* kldiv_isa(void);

/* Force one of those, or "auto", "" or NULL for the best available ("" as an empty KLDIV_ISA= is).
   An unknown or unavailable name is KLDIV_ERROR_UNSUPPORTED_ISA and changes nothing. Overrides the
   KLDIV_ISA environment variable. */
kldiv_status kldiv_set_isa(const char* name);

/* The default thread count of every call; 0 = OpenMP's default. Negative values count as 0. */
void kldiv_set_num_threads(int n);

/* "MAJOR.MINOR.PATCH". */
const char* kldiv_version(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KLDIV_KLDIV_H */
