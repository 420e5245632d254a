/* The C ABI: every call returns a status; kldiv_last_error() says why one failed. */
#include <kldiv/kldiv.h>
#include <stdio.h>

int main(void) {
  const float input[6] = {-1.2f, -0.9f, -1.2f, -2.3f, -0.4f, -1.6f}; /* log-probabilities */
  const float target[6] = {0.3f, 0.4f, 0.3f, 0.1f, 0.7f, 0.2f};      /* probabilities */
  const int64_t shape[2] = {2, 3};
  float loss;
  kldiv_status status = kldiv_forward_f32(input, target, shape, 2, KLDIV_REDUCTION_BATCHMEAN, 0, &loss);
  if (status != KLDIV_OK) {
    fprintf(stderr, "kldiv: %s: %s\n", kldiv_status_string(status), kldiv_last_error());
    return 1;
  }
  printf("kldiv %s (%s): batchmean KL = %.7g\n", kldiv_version(), kldiv_isa(), loss);
  return 0;
}
