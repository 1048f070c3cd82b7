// Scalar reference primitives of the linear-attention family (interface:
// linear_attention_kernels.h). Plain loops; the SIMD variants are tested against them.
#include "kernels/linear_attention_kernels.h"

#include <cmath>

namespace tl::scalar {

float la_dot(const float* a, const float* b, int64_t n) {
  float s = 0.f;
  for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

void la_axpy(float* y, float a, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

void la_scale(float* y, float a, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] *= a;
}

void la_dot_rows(float* out, const float* M, int64_t rows, int64_t ld, const float* x, int64_t n, float alpha) {
  for (int64_t r = 0; r < rows; r++) out[r] = alpha * la_dot(M + r * ld, x, n);
}

void la_feature(float* dst, const float* src, int64_t n, int phi) {
  for (int64_t i = 0; i < n; i++) {
    const float x = src[i];
    dst[i] = phi == 0 ? (x > 0.f ? x + 1.f : std::exp(x)) : phi == 1 ? (x > 0.f ? x : 0.f) : x;
  }
}

void la_gemm(float* C, int64_t ldc, const float* A, int64_t lda, const float* B, int64_t ldb, int64_t M, int64_t K,
             int64_t N) {
  for (int64_t i = 0; i < M; i++)
    for (int64_t k = 0; k < K; k++) {
      const float a = A[i * lda + k];
      for (int64_t j = 0; j < N; j++) C[i * ldc + j] += a * B[k * ldb + j];
    }
}

void la_delta_rows(float* M, int64_t rows, int64_t Dk, const float* k, const float* q, float decay,
                   const float* decay_vec, const float* v, float beta, float scale, float* out) {
  for (int64_t j = 0; j < rows; j++) {
    float* m = M + j * Dk;
    if (decay_vec)
      for (int64_t i = 0; i < Dk; i++) m[i] *= decay_vec[i];
    else
      for (int64_t i = 0; i < Dk; i++) m[i] *= decay;
    const float d = beta * (v[j] - la_dot(m, k, Dk));
    la_axpy(m, d, k, Dk);
    out[j] = scale * la_dot(m, q, Dk);
  }
}

void la_solve_lower(float* D, int64_t ldd, int64_t m, int64_t n, const float* L, int64_t ldl) {
  for (int64_t r = 1; r < m; r++)
    for (int64_t s = 0; s < r; s++) la_axpy(D + r * ldd, L[r * ldl + s], D + s * ldd, n);
}

void la_pack_at(float* pa, const float* a, int64_t lda, int64_t kc, int64_t cols, const float* scale, int mr) {
  const int64_t np = (cols + mr - 1) / mr;
  for (int64_t p = 0; p < np; p++)
    for (int64_t k = 0; k < kc; k++)
      for (int i = 0; i < mr; i++) {
        const int64_t c = p * mr + i;
        pa[(p * mr) * kc + k * mr + i] = c < cols ? scale[k] * a[k * lda + c] : 0.f;
      }
}

}  // namespace tl::scalar
