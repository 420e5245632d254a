/* The C ABI from a C99 program: every entry point links, and the basic contract holds. */
#include <math.h>
#include <stdio.h>
#include <string.h>

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

  printf("kldiv %s on %s: %d passed, %d failed\n", kldiv_version(), kldiv_isa(), checks - failures, failures);
  return failures == 0 ? 0 : 1;
}
