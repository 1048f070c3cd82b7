/*
 * OpenBLAS sgemm timing harness for bench/matmul.bench.ts. Compiled at bench time, only when
 * OpenBLAS is installed (Debian: libopenblas-dev); never part of the package.
 *
 *   openblas_sgemm THREADS MxNxK [MxNxK ...]
 *
 * Computes C[M,N] = A[M,K] · Wᵀ with W [N,K] (our matmulT layout: cblas NoTrans × Trans) and
 * prints first "core NAME" (the kernel OpenBLAS chose: openblas_get_corename), then one line per
 * shape: "M N K wall_ms cpu_ms", medians of 7 samples, each sample repeating
 * the call until it lasts at least 20 ms (as bench/lib.ts's timeIt does). cpu_ms is process CPU
 * time per call: on a machine shared with other work it stays close to the quiet-machine time
 * at 1 thread, where wall time does not.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

extern void openblas_set_num_threads(int);
extern char* openblas_get_corename(void);

static double now_ms(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s THREADS MxNxK [MxNxK ...]\n", argv[0]);
    return 2;
  }
  openblas_set_num_threads(atoi(argv[1]));
  printf("core %s\n", openblas_get_corename());
  for (int s = 2; s < argc; s++) {
    long M, N, K;
    if (sscanf(argv[s], "%ldx%ldx%ld", &M, &N, &K) != 3) return 2;
    float* a = malloc(sizeof(float) * M * K);
    float* w = malloc(sizeof(float) * N * K);
    float* c = malloc(sizeof(float) * M * N);
    for (long i = 0; i < M * K; i++) a[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    for (long i = 0; i < N * K; i++) w[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
#define CALL() cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, w, K, 0.0f, c, N)
    CALL();
    CALL();
    long reps = 1;
    for (;;) {
      double t0 = now_ms(CLOCK_MONOTONIC);
      for (long r = 0; r < reps; r++) CALL();
      double dt = now_ms(CLOCK_MONOTONIC) - t0;
      if (dt >= 20 || reps >= (1 << 20)) break;
      long next = (long)(reps * 20 / (dt > 1e-3 ? dt : 1e-3)) + 1;
      reps = next > reps * 2 ? next : reps * 2;
    }
    double wall[7], cpu[7];
    for (int i = 0; i < 7; i++) {
      double t0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
      for (long r = 0; r < reps; r++) CALL();
      wall[i] = (now_ms(CLOCK_MONOTONIC) - t0) / reps;
      cpu[i] = (now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0) / reps;
    }
    qsort(wall, 7, sizeof(double), cmp);
    qsort(cpu, 7, sizeof(double), cmp);
    printf("%ld %ld %ld %.6f %.6f\n", M, N, K, wall[3], cpu[3]);
    fflush(stdout);
    free(a);
    free(w);
    free(c);
  }
  return 0;
}
