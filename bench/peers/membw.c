/*
 * Memory read bandwidth for bench/matmul.bench.ts (so GEMV can be quoted as a share of it).
 * Compiled at bench time with the system C compiler; never part of the package.
 *
 *   membw THREADS [MiB]
 *
 * Each thread sums its own slice of a buffer far larger than the last-level cache (default
 * 512 MiB), with 8 independent vector accumulators so the loop is limited by memory, not by
 * add latency. Prints "GB/s" as the median of 9 passes (GB = 1e9 bytes).
 */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
  const float* p;
  size_t n;
  float sum;
} Job;

static void* run(void* arg) {
  Job* j = (Job*)arg;
  __m256 acc[8];
  for (int i = 0; i < 8; i++) acc[i] = _mm256_setzero_ps();
  for (size_t i = 0; i + 64 <= j->n; i += 64)
    for (int u = 0; u < 8; u++) acc[u] = _mm256_add_ps(acc[u], _mm256_load_ps(j->p + i + 8 * u));
  float out[8];
  for (int u = 1; u < 8; u++) acc[0] = _mm256_add_ps(acc[0], acc[u]);
  _mm256_storeu_ps(out, acc[0]);
  j->sum = out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
  return NULL;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 512;
  if (threads < 1 || threads > 64) return 2;
  size_t n = mib * 1024 * 1024 / sizeof(float);
  float* buf = aligned_alloc(64, n * sizeof(float));
  if (!buf) return 1;
  for (size_t i = 0; i < n; i++) buf[i] = (float)(i & 1023);  // touch every page
  pthread_t tid[64];
  Job jobs[64];
  double gbs[9];
  float sink = 0;
  for (int pass = 0; pass < 9; pass++) {
    double t0 = now_s();
    for (int t = 0; t < threads; t++) {
      size_t b = n / threads * t, e = t == threads - 1 ? n : n / threads * (t + 1);
      jobs[t] = (Job){buf + b, e - b, 0};
      pthread_create(&tid[t], NULL, run, &jobs[t]);
    }
    for (int t = 0; t < threads; t++) {
      pthread_join(tid[t], NULL);
      sink += jobs[t].sum;
    }
    gbs[pass] = n * sizeof(float) / (now_s() - t0) / 1e9;
  }
  qsort(gbs, 9, sizeof(double), cmp);
  printf("%.3f\n", gbs[4]);
  if (sink == 12345.678f) printf("\n");  // keep the sums alive
  free(buf);
  return 0;
}
