/* The compute ceiling of the f32 pass on this machine (docs/performance.md): the core clock, from a
 * chain of dependent integer adds (one cycle each), and the sustained rate of independent 512-bit FMAs.
 * tools/bench_report.py builds and runs it; by hand:
 *   gcc -O2 -mavx512f tools/peak_fma.c -o /tmp/peak_fma && /tmp/peak_fma */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
  struct timespec s;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &s);  /* CPU time: other processes on a shared core do not count */
  return s.tv_sec + 1e-9 * s.tv_nsec;
}

#define FMA(r) r = _mm512_fmadd_ps(r, m, c)

int main(void) {
  const long n = 400000000;
  long k = 0, one = 1;
  double t0 = now();
  for (long i = 0; i < n / 8; ++i)
    __asm__ volatile("add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
                     "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0" : "+r"(k) : "r"(one));
  const double ghz = (double)k / (now() - t0) * 1e-9;

  /* Ten independent chains hide the FMA latency; the empty asm keeps them in registers. */
  __m512 a0 = _mm512_set1_ps(1.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0;
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  t0 = now();
  for (long i = 0; i < n / 4; ++i) {
    FMA(a0); FMA(a1); FMA(a2); FMA(a3); FMA(a4); FMA(a5); FMA(a6); FMA(a7); FMA(a8); FMA(a9);
    __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7), "+v"(a8), "+v"(a9));
  }
  const double fma_per_ns = 10.0 * (n / 4) / (now() - t0) * 1e-9;
  float out[16];
  _mm512_storeu_ps(out, _mm512_add_ps(_mm512_add_ps(a0, a9), _mm512_add_ps(a1, a8)));
  printf("clock %.2f GHz; %.2f 512-bit FMAs per ns = %.2f per cycle (%g)\n", ghz, fma_per_ns, fma_per_ns / ghz,
         out[0]);
  printf("f32 pass ceiling at 10 multiplies or FMAs per 16 floats (FMA_OPS_PER_16 in tools/bench_report.py): "
         "%.2f Gelem/s per core\n", fma_per_ns * 16 / 10);
  return 0;
}
