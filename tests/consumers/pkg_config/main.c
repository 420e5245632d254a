/* A C program that includes only kldiv/kldiv.h and links the static library through pkg-config:
 *   gcc main.c $(pkg-config --cflags kldiv) $(pkg-config --static --libs kldiv)        (.ci/consumers.sh) */
#include <kldiv/kldiv.h>

#include <math.h>
#include <stdio.h>

int main(void) {
  enum { N = 3000 };
  static float x[N], t[N];
  const int64_t shape[2] = {3, N / 3};
  double want = 0;
  float loss = 0;
  int i;
  kldiv_status status;
  for (i = 0; i < N; ++i) {
    t[i] = (float)((i % 5 + 1) / 3000.0);
    x[i] = (float)log((i % 9 + 1) / 4500.0);
    want += t[i] * log((double)t[i]) - (double)t[i] * x[i];
  }
  want /= 3;
  status = kldiv_forward_f32(x, t, shape, 2, KLDIV_REDUCTION_BATCHMEAN, 0, &loss);
  if (status != KLDIV_OK) {
    fprintf(stderr, "kldiv: %s: %s\n", kldiv_status_string(status), kldiv_last_error());
    return 1;
  }
  printf("pkg-config C consumer: kldiv %s (%s): batchmean %.7g, expected %.7g\n", kldiv_version(), kldiv_isa(),
         loss, want);
  return fabs(loss - want) <= 1e-5 * fabs(want) ? 0 : 1;
}
