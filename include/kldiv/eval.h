/* kldiv-eval: llama.cpp-compatible statistics of a model against its base, token by token.  The C ABI.
 *
 * A thin skin over eval.hpp (see there and README.md, "kldiv-eval"): no exception crosses it; every
 * failing call returns a kldiv_status, kldiv_last_error() gives the message, and nothing is changed.
 */
#ifndef KLDIV_EVAL_H
#define KLDIV_EVAL_H

#include <stdint.h>

#include "kldiv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a block of rows holds. */
typedef enum kldiv_eval_source {
  KLDIV_EVAL_LOGITS = 0, /* logits of any kldiv_dtype: a full log-softmax */
  KLDIV_EVAL_LLAMA = 1   /* llama.cpp rows: uint16 [scale, min_log_prob as two floats][codes] */
} kldiv_eval_source;

/* A block of rows of one side.  rows.cols must be the accumulator's n_vocab.
   - KLDIV_EVAL_LOGITS: rows as for the logits API (kldiv.h): row r at element r*stride of data, stride >=
     cols, dtype F32, BF16, F16 or F64.  F64 pairs only with F64 logits (as in the logits API, whose f64
     kernels they use); F32, BF16 and F16 pair with each other and with llama.cpp rows.
   - KLDIV_EVAL_LLAMA: rows.data points to uint16 rows, row r at element r*stride, stride >=
     kldiv_llama_row_size(cols); rows.dtype is ignored. */
typedef struct kldiv_eval_rows {
  kldiv_eval_source source;
  kldiv_rows rows;
} kldiv_eval_rows;

typedef struct kldiv_eval_options {
  kldiv_divergence divergence; /* KL(P_base || Q) (default KLDIV_KL), KLDIV_REVERSE_KL or KLDIV_JSD, as in kldiv.h */
  double beta;                 /* KLDIV_JSD only, 0 < beta < 1; default 0.5 */
  double temperature;          /* finite, > 0, for the divergence only; default 1 */
  int num_threads;             /* 0 (default): the global setting */
} kldiv_eval_options;
void kldiv_eval_options_init(kldiv_eval_options* options);

/* Every statistic.  Undefined values are NaN.  Percentiles interpolate linearly at fraction*(n - 1). */
typedef struct kldiv_eval_percentiles {
  double max, p99_9, p99, p95, p90, p75, median, p25, p10, p5, p1, p0_1, min;
} kldiv_eval_percentiles;

typedef struct kldiv_eval_result {
  int64_t tokens;
  int has_tokens; /* nonzero: correct tokens were given, and delta_p and ppl are filled (else NaN) */
  struct {
    double mean, se;
    kldiv_eval_percentiles pct; /* p75 and p25 are filled too */
  } divergence;
  struct {
    double mean, se, rms, rms_se;
    kldiv_eval_percentiles pct;
  } delta_p; /* q(token) - p(token), fractions */
  struct {
    double mean, se;
  } same_top;
  struct {
    double q, q_se, base, base_se, cor_ln, ln_ratio, ln_ratio_se, ratio, ratio_se, diff, diff_se;
  } ppl;
} kldiv_eval_result;

typedef struct kldiv_eval kldiv_eval; /* an accumulator */

/* n_vocab in [1, 2^24]. */
kldiv_status kldiv_eval_create(int64_t n_vocab, const kldiv_eval_options* options, kldiv_eval** out);
void kldiv_eval_destroy(kldiv_eval* eval); /* NULL is fine */

/* Adds base->rows.rows tokens; candidate has as many rows.  tokens: one correct next token per row, in
   [0, n_vocab), or NULL; an accumulator takes either always or never.  A row of logits with a NaN or +inf,
   or with every logit -inf, is an error (-inf alone is a masked entry, probability 0). */
kldiv_status kldiv_eval_add(kldiv_eval* eval, const kldiv_eval_rows* base, const kldiv_eval_rows* candidate,
                            const int64_t* tokens);

/* Adds from's tokens to into (same n_vocab, options and use of tokens). */
kldiv_status kldiv_eval_merge(kldiv_eval* into, const kldiv_eval* from);

/* The statistics of every token added so far; the accumulator is unchanged. */
kldiv_status kldiv_eval_finish(const kldiv_eval* eval, kldiv_eval_result* out);

/* llama.cpp's row: 2*((n_vocab + 1)/2) + 4 uint16 values; -1 for n_vocab outside [1, 2^24]. */
int64_t kldiv_llama_row_size(int64_t n_vocab);

/* Quantizes one row of float logits the way llama-perplexity --kl-divergence-base stores it, into
   kldiv_llama_row_size(n_vocab) uint16 values. */
kldiv_status kldiv_llama_quantize_row(const float* logits, int64_t n_vocab, uint16_t* row);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KLDIV_EVAL_H */
