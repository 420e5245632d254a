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

/* The divergence per token (the values of the logits kernels' kldiv_divergence). */
typedef enum kldiv_eval_divergence {
  KLDIV_EVAL_KL = 0,         /* KL(P_base || Q) */
  KLDIV_EVAL_REVERSE_KL = 1, /* KL(Q || P_base) */
  KLDIV_EVAL_JSD = 2         /* beta KL(P || M) + (1 - beta) KL(Q || M), M = beta P + (1 - beta) Q */
} kldiv_eval_divergence;

/* What a block of rows holds. */
typedef enum kldiv_eval_source {
  KLDIV_EVAL_LOGITS_F32 = 0, /* float logits: a full log-softmax */
  KLDIV_EVAL_LLAMA = 1       /* llama.cpp rows: uint16 [scale, min_log_prob as two floats][codes] */
} kldiv_eval_source;

/* rows rows; row r starts at element r*stride of data (floats, or uint16 for KLDIV_EVAL_LLAMA, whose
   stride is at least kldiv_llama_row_size(n_vocab)). */
typedef struct kldiv_eval_rows {
  kldiv_eval_source source;
  const void* data;
  int64_t rows;
  int64_t stride;
} kldiv_eval_rows;

typedef struct kldiv_eval_options {
  kldiv_eval_divergence divergence; /* default KLDIV_EVAL_KL */
  double beta;                      /* KLDIV_EVAL_JSD only, 0 < beta < 1; default 0.5 */
  double temperature;               /* finite, > 0, for the divergence only; default 1 */
  int num_threads;                  /* 0 (default): the global setting */
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

/* Adds base->rows tokens; candidate has as many rows.  tokens: one correct next token per row, in
   [0, n_vocab), or NULL; an accumulator takes either always or never. */
kldiv_status kldiv_eval_add(kldiv_eval* eval, const kldiv_eval_rows* base, const kldiv_eval_rows* candidate,
                            const int64_t* tokens);

/* Adds from's tokens to into (same n_vocab, options and use of tokens). */
kldiv_status kldiv_eval_merge(kldiv_eval* into, const kldiv_eval* from);

/* The statistics of every token added so far; the accumulator is unchanged. */
kldiv_status kldiv_eval_finish(const kldiv_eval* eval, kldiv_eval_result* out);

/* llama.cpp's row: 2*((n_vocab + 1)/2) + 4 uint16 values. */
int64_t kldiv_llama_row_size(int64_t n_vocab);

/* Quantizes one row of float logits the way llama-perplexity --kl-divergence-base stores it, into
   kldiv_llama_row_size(n_vocab) uint16 values. */
kldiv_status kldiv_llama_quantize_row(const float* logits, int64_t n_vocab, uint16_t* row);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KLDIV_EVAL_H */
