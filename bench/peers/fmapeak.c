/*
 * Measured f32 FMA peak of one thread, for the "% of FMA peak" columns of the benches: VMs report
 * their nominal clock in /proc/cpuinfo (2.1 GHz here) while the cores run faster, and hardware
 * cycle counters are often hidden, so the peak is measured rather than computed from the clock.
 * Compiled at bench time with the system C compiler; never part of the package.
 *
 *   fmapeak avx512|avx2
 *
 * 12 independent accumulator chains (more than FMA latency × ports needs on current x86 cores),
 * each doing acc = acc * x + y, timed over ~50 ms of CPU time; prints GFLOP/s (2 flops per lane
 * per FMA), the best of 7 passes.
 */
#include <immintrin.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double cpu_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

#define CHAINS 12

// One timing pass at one vector width: CHAINS accumulators, each acc = acc * x + y, iters times.
#define FMA_PASS(NAME, TARGET, VEC, LANES, SET1, FMADD, STOREU)                       \
  __attribute__((target(TARGET))) static double NAME(long iters) {                    \
    VEC acc[CHAINS];                                                                  \
    for (int c = 0; c < CHAINS; c++) acc[c] = SET1(1.0f + c * 1e-3f);                 \
    const VEC x = SET1(0.999999f), y = SET1(1e-7f);                                   \
    const double t0 = cpu_seconds();                                                  \
    for (long i = 0; i < iters; i++) {                                                \
      _Pragma("GCC unroll 12") for (int c = 0; c < CHAINS; c++) acc[c] = FMADD(acc[c], x, y); \
    }                                                                                 \
    const double dt = cpu_seconds() - t0;                                             \
    float lanes[LANES], sink = 0;                                                     \
    for (int c = 0; c < CHAINS; c++) {                                                \
      STOREU(lanes, acc[c]);                                                          \
      for (int l = 0; l < LANES; l++) sink += lanes[l];                               \
    }                                                                                 \
    if (sink == 12345.0f) puts(""); /* keeps the chains alive */                      \
    return (double)iters * CHAINS * LANES * 2 / dt / 1e9;                             \
  }

FMA_PASS(pass512, "avx512f", __m512, 16, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_storeu_ps)
FMA_PASS(pass256, "avx2,fma", __m256, 8, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_storeu_ps)

int main(int argc, char** argv) {
  const int wide = argc > 1 && strcmp(argv[1], "avx512") == 0;
  const long iters = 2000000;  // ~50 ms at ~200 GFLOP/s
  double best = 0;
  for (int p = 0; p < 7; p++) {
    const double g = wide ? pass512(iters) : pass256(iters);
    if (g > best) best = g;
  }
  printf("%.1f\n", best);
  return 0;
}
