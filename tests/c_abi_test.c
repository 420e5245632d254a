/* The C ABI from a C99 program: every entry point links, and the basic contract holds. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kldiv/eval.h"
#include "kldiv/kldiv.h"

static int failures = 0, checks = 0;
#define CHECK(cond)                                                  \
  do {                                                               \
    ++checks;                                                        \
    if (!(cond)) {                                                   \
      ++failures;                                                    \
      fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
    }                                                                \
  } while (0)

static kldiv_eval_rows eval_rows(kldiv_eval_source source, const void* data, kldiv_dtype dtype, int64_t rows,
                                 int64_t cols, int64_t stride) {
  kldiv_eval_rows r;
  r.source = source;
  r.rows.data = data;
  r.rows.dtype = dtype;
  r.rows.rows = rows;
  r.rows.cols = cols;
  r.rows.stride = stride;
  return r;
}

int main(void) {
  const float x[4] = {-1.0f, -2.0f, -0.5f, -3.0f};
  const float t[4] = {0.5f, 0.25f, 0.0f, 0.25f};
  const int64_t shape[2] = {2, 2};
  double want = 0;
  float none[4], sum = 0, batchmean = 0, mean = 0;
  int i;
  for (i = 0; i < 4; ++i) want += (t[i] > 0 ? t[i] * log(t[i]) : 0.0) - t[i] * x[i];

  CHECK(kldiv_forward_f32(x, t, shape, 2, KLDIV_REDUCTION_NONE, 0, none) == KLDIV_OK);
  CHECK(kldiv_forward_f32(x, t, shape, 2, KLDIV_REDUCTION_SUM, 0, &sum) == KLDIV_OK);
  CHECK(kldiv_forward_f32(x, t, shape, 2, KLDIV_REDUCTION_MEAN, 0, &mean) == KLDIV_OK);
  CHECK(kldiv_forward_f32(x, t, shape, 2, KLDIV_REDUCTION_BATCHMEAN, 0, &batchmean) == KLDIV_OK);
  CHECK(fabs(sum - want) < 1e-6);
  CHECK(fabs(mean - want / 4) < 1e-6);
  CHECK(fabs(batchmean - want / 2) < 1e-6);
  CHECK(none[2] == 0.0f);
  CHECK(fabs(none[0] - (0.5 * log(0.5) + 0.5)) < 1e-6);

  {
    const double xd[1] = {-1.0}, td[1] = {0.0};
    double out = 0;
    CHECK(kldiv_forward_f64(xd, td, NULL, 0, KLDIV_REDUCTION_NONE, 1, &out) == KLDIV_OK); /* exp(0)*(0+1) */
    CHECK(out == 1.0);
  }

  {
    float untouched = 42.0f;
    const int64_t bad[2] = {2, -1};
    CHECK(kldiv_forward_f32(x, t, bad, 2, KLDIV_REDUCTION_SUM, 0, &untouched) == KLDIV_ERROR_INVALID_SHAPE);
    CHECK(untouched == 42.0f);
    CHECK(strlen(kldiv_last_error()) > 0);
    CHECK(strcmp(kldiv_status_string(KLDIV_ERROR_INVALID_SHAPE), "invalid shape") == 0);
  }

  CHECK(kldiv_set_isa("scalar") == KLDIV_OK);
  CHECK(strcmp(kldiv_isa(), "scalar") == 0);
  CHECK(kldiv_set_isa("no-such-isa") == KLDIV_ERROR_UNSUPPORTED_ISA);
  CHECK(strcmp(kldiv_isa(), "scalar") == 0);
  CHECK(kldiv_set_isa(NULL) == KLDIV_OK);
  kldiv_set_num_threads(2);
  CHECK(kldiv_forward_f32(x, t, shape, 2, KLDIV_REDUCTION_SUM, 0, &sum) == KLDIV_OK);
  kldiv_set_num_threads(0);
  CHECK(strlen(kldiv_version()) >= 5);

  {
    /* kldiv-eval: bf16 logits of a base against f32 logits and llama.cpp rows of a candidate. */
    enum { V = 5, N = 3 };
    const float base32[N][V] = {{1, 2, 3, 4, 5}, {0, 0, 1, 0, 0}, {-1, 2, -3, 4, -5}};
    float cand[N][V];
    uint16_t base16[N][V], rows[N][14]; /* kldiv_llama_row_size(5) == 10; a stride of 14 */
    const int64_t tokens[N] = {4, 2, 0};
    double kl_want = 0;
    int r, k;
    kldiv_eval_options o;
    kldiv_eval* e = NULL;
    kldiv_eval_result res, again;
    kldiv_eval_rows p, q;
    CHECK(kldiv_llama_row_size(V) == 10);
    for (r = 0; r < N; ++r) {
      double mp = -INFINITY, mq = -INFINITY, sp = 0, sq = 0;
      for (k = 0; k < V; ++k) {
        cand[r][k] = base32[r][k] + 0.25f * (float)((k * 7 + r) % 3 - 1);
      }
      CHECK(kldiv_llama_quantize_row(cand[r], V, rows[r]) == KLDIV_OK);
      for (k = 0; k < V; ++k) {
        mp = fmax(mp, base32[r][k]);
        mq = fmax(mq, cand[r][k]);
      }
      for (k = 0; k < V; ++k) {
        sp += exp(base32[r][k] - mp);
        sq += exp(cand[r][k] - mq);
      }
      for (k = 0; k < V; ++k) {
        const double lp = base32[r][k] - mp - log(sp), lq = cand[r][k] - mq - log(sq);
        kl_want += exp(lp) * (lp - lq) / N;
      }
    }
    /* The base's values are small integers: exact in bf16, the upper half of their float. */
    for (r = 0; r < N; ++r)
      for (k = 0; k < V; ++k) {
        uint32_t bits;
        memcpy(&bits, &base32[r][k], sizeof bits);
        base16[r][k] = (uint16_t)(bits >> 16);
      }
    kldiv_eval_options_init(&o);
    CHECK(o.divergence == KLDIV_KL && o.beta == 0.5 && o.temperature == 1 && o.num_threads == 0);
    CHECK(kldiv_eval_create(V, &o, &e) == KLDIV_OK);
    p = eval_rows(KLDIV_EVAL_LOGITS, base16, KLDIV_DTYPE_BF16, N, V, V);
    q = eval_rows(KLDIV_EVAL_LOGITS, cand, KLDIV_DTYPE_F32, N, V, V);
    CHECK(kldiv_eval_add(e, &p, &q, tokens) == KLDIV_OK);
    CHECK(kldiv_eval_finish(e, &res) == KLDIV_OK);
    CHECK(res.tokens == N && res.has_tokens);
    CHECK(fabs(res.divergence.mean - kl_want) <= 1e-6 * kl_want);
    CHECK(res.same_top.mean == 1);
    /* A bad dtype is an error and changes nothing. */
    p.rows.dtype = (kldiv_dtype)7;
    CHECK(kldiv_eval_add(e, &p, &q, tokens) == KLDIV_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(kldiv_last_error(), "dtype") != NULL);
    p.rows.dtype = KLDIV_DTYPE_BF16;
    q = eval_rows(KLDIV_EVAL_LLAMA, rows, KLDIV_DTYPE_F32, N, V, 9);
    CHECK(kldiv_eval_add(e, &p, &q, tokens) == KLDIV_ERROR_INVALID_SHAPE);
    CHECK(kldiv_eval_finish(e, &again) == KLDIV_OK);
    CHECK(again.tokens == N && again.divergence.mean == res.divergence.mean);
    /* llama.cpp rows of the candidate: the same KL within the 16-bit quantization. */
    q.rows.stride = 14;
    CHECK(kldiv_eval_add(e, &p, &q, tokens) == KLDIV_OK);
    CHECK(kldiv_eval_finish(e, &again) == KLDIV_OK);
    CHECK(again.tokens == 2 * N);
    CHECK(fabs(again.divergence.mean - kl_want) <= 1e-3 * kl_want);
    CHECK(kldiv_eval_merge(e, e) == KLDIV_OK);
    CHECK(kldiv_eval_finish(e, &res) == KLDIV_OK);
    CHECK(res.tokens == 4 * N && fabs(res.divergence.mean - again.divergence.mean) <= 1e-15 * kl_want);
    kldiv_eval_destroy(e);
    kldiv_eval_destroy(NULL);
  }

  printf("kldiv %s on %s: %d passed, %d failed\n", kldiv_version(), kldiv_isa(), checks - failures, failures);
  return failures == 0 ? 0 : 1;
}
