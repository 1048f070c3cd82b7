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

__attribute__((target("avx512f"))) static double pass512(long iters) {
  __m512 acc[CHAINS];
  for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_set1_ps(1.0f + c * 1e-3f);
  const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
  const double t0 = cpu_seconds();
  for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_fmadd_ps(acc[c], x, y);
  }
  const double dt = cpu_seconds() - t0;
  float sink = 0;
  for (int c = 0; c < CHAINS; c++) sink += _mm512_reduce_add_ps(acc[c]);
  if (sink == 12345.0f) puts("");  // keeps the chains alive
  return (double)iters * CHAINS * 16 * 2 / dt / 1e9;
}

__attribute__((target("avx2,fma"))) static double pass256(long iters) {
  __m256 acc[CHAINS];
  for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_set1_ps(1.0f + c * 1e-3f);
  const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
  const double t0 = cpu_seconds();
  for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_fmadd_ps(acc[c], x, y);
  }
  const double dt = cpu_seconds() - t0;
  float lanes[8], sink = 0;
  for (int c = 0; c < CHAINS; c++) {
    _mm256_storeu_ps(lanes, acc[c]);
    for (int l = 0; l < 8; l++) sink += lanes[l];
  }
  if (sink == 12345.0f) puts("");
  return (double)iters * CHAINS * 8 * 2 / dt / 1e9;
}

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
