// AVX2+FMA primitives of the linear-attention family (interface: linear_attention_kernels.h,
// reference: linear_attention_scalar.cpp). 8 lanes, scalar tails; the delta-rule row kernel
// keeps one state row in registers for its decay, dot, update and read-out when Dk ≤ 128.
#include <immintrin.h>

#include "kernels/linear_attention_kernels.h"
#include "kernels/vmath_avx2.h"

#include <cmath>

namespace tl::avx2 {

static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

float la_dot(const float* a, const float* b, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), a3);
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), a0);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}

void la_axpy(float* y, float a, const float* x, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; i++) y[i] += a * x[i];
}

void la_scale(float* y, float a, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(va, _mm256_loadu_ps(y + i)));
  for (; i < n; i++) y[i] *= a;
}

// Four rows at a time share each load of x.
void la_dot_rows(float* out, const float* M, int64_t rows, int64_t ld, const float* x, int64_t n, float alpha) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const float *m0 = M + r * ld, *m1 = m0 + ld, *m2 = m1 + ld, *m3 = m2 + ld;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
      const __m256 xv = _mm256_loadu_ps(x + i);
      s0 = _mm256_fmadd_ps(_mm256_loadu_ps(m0 + i), xv, s0);
      s1 = _mm256_fmadd_ps(_mm256_loadu_ps(m1 + i), xv, s1);
      s2 = _mm256_fmadd_ps(_mm256_loadu_ps(m2 + i), xv, s2);
      s3 = _mm256_fmadd_ps(_mm256_loadu_ps(m3 + i), xv, s3);
    }
    float d0 = hsum(s0), d1 = hsum(s1), d2 = hsum(s2), d3 = hsum(s3);
    for (; i < n; i++) {
      d0 += m0[i] * x[i];
      d1 += m1[i] * x[i];
      d2 += m2[i] * x[i];
      d3 += m3[i] * x[i];
    }
    out[r] = alpha * d0;
    out[r + 1] = alpha * d1;
    out[r + 2] = alpha * d2;
    out[r + 3] = alpha * d3;
  }
  for (; r < rows; r++) out[r] = alpha * la_dot(M + r * ld, x, n);
}

static inline __m256 feature256(__m256 x, int phi) {
  const __m256 zero = _mm256_setzero_ps();
  if (phi == 0) {  // elu + 1: x + 1 above 0, eˣ below (exp256 of a non-positive argument)
    const __m256 pos = _mm256_cmp_ps(x, zero, _CMP_GT_OQ);
    return _mm256_blendv_ps(exp256(_mm256_min_ps(x, zero)), _mm256_add_ps(x, _mm256_set1_ps(1.f)), pos);
  }
  return phi == 1 ? _mm256_max_ps(x, zero) : x;
}

void la_feature(float* dst, const float* src, int64_t n, int phi) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, feature256(_mm256_loadu_ps(src + i), phi));
  for (; i < n; i++) {
    const float x = src[i];
    dst[i] = phi == 0 ? (x > 0.f ? x + 1.f : std::exp(x)) : phi == 1 ? (x > 0.f ? x : 0.f) : x;
  }
}

// Register blocks of R rows × 32 columns (4 vectors): each k loads four vectors of B once and
// broadcasts R values of A into 4·R FMAs. Columns past the last multiple of 8 go scalar.
template <int R, int V>
static inline void gemm_block(float* C, int64_t ldc, const float* A, int64_t lda, const float* B, int64_t ldb, int64_t K) {
  __m256 acc[R][V];
  for (int r = 0; r < R; r++)
    for (int v = 0; v < V; v++) acc[r][v] = _mm256_loadu_ps(C + r * ldc + 8 * v);
  for (int64_t k = 0; k < K; k++) {
    __m256 b[V];
    for (int v = 0; v < V; v++) b[v] = _mm256_loadu_ps(B + k * ldb + 8 * v);
    for (int r = 0; r < R; r++) {
      const __m256 a = _mm256_set1_ps(A[r * lda + k]);
      for (int v = 0; v < V; v++) acc[r][v] = _mm256_fmadd_ps(a, b[v], acc[r][v]);
    }
  }
  for (int r = 0; r < R; r++)
    for (int v = 0; v < V; v++) _mm256_storeu_ps(C + r * ldc + 8 * v, acc[r][v]);
}

template <int V>
static inline void gemm_cols(float* C, int64_t ldc, const float* A, int64_t lda, const float* B, int64_t ldb, int64_t M,
                             int64_t K) {
  int64_t i = 0;
  for (; i + 4 <= M; i += 4) gemm_block<4, V>(C + i * ldc, ldc, A + i * lda, lda, B, ldb, K);
  for (; i < M; i++) gemm_block<1, V>(C + i * ldc, ldc, A + i * lda, lda, B, ldb, K);
}

void la_gemm(float* C, int64_t ldc, const float* A, int64_t lda, const float* B, int64_t ldb, int64_t M, int64_t K,
             int64_t N) {
  int64_t j0 = 0;
  for (; j0 + 32 <= N; j0 += 32) gemm_cols<4>(C + j0, ldc, A, lda, B + j0, ldb, M, K);
  for (; j0 + 8 <= N; j0 += 8) gemm_cols<1>(C + j0, ldc, A, lda, B + j0, ldb, M, K);
  if (j0 < N)
    for (int64_t i = 0; i < M; i++)
      for (int64_t k = 0; k < K; k++) {
        const float a = A[i * lda + k];
        for (int64_t j = j0; j < N; j++) C[i * ldc + j] += a * B[k * ldb + j];
      }
}

void la_delta_rows(float* M, int64_t rows, int64_t Dk, const float* k, const float* q, float decay,
                   const float* decay_vec, const float* v, float beta, float scale, float* out) {
  constexpr int kMaxVecs = 16;  // Dk ≤ 128 stays in registers
  const int64_t nv = Dk / 8;
  if (Dk % 8 != 0 || nv > kMaxVecs) {
    for (int64_t j = 0; j < rows; j++) {
      float* m = M + j * Dk;
      if (decay_vec)
        for (int64_t i = 0; i < Dk; i++) m[i] *= decay_vec[i];
      else
        la_scale(m, decay, Dk);
      const float d = beta * (v[j] - la_dot(m, k, Dk));
      la_axpy(m, d, k, Dk);
      out[j] = scale * la_dot(m, q, Dk);
    }
    return;
  }
  const __m256 vdecay = _mm256_set1_ps(decay);
  for (int64_t j = 0; j < rows; j++) {
    float* m = M + j * Dk;
    __m256 row[kMaxVecs];
    __m256 acc = _mm256_setzero_ps();
    for (int64_t c = 0; c < nv; c++) {
      const __m256 dec = decay_vec ? _mm256_loadu_ps(decay_vec + 8 * c) : vdecay;
      row[c] = _mm256_mul_ps(_mm256_loadu_ps(m + 8 * c), dec);
      acc = _mm256_fmadd_ps(row[c], _mm256_loadu_ps(k + 8 * c), acc);
    }
    const __m256 d = _mm256_set1_ps(beta * (v[j] - hsum(acc)));
    __m256 o = _mm256_setzero_ps();
    for (int64_t c = 0; c < nv; c++) {
      row[c] = _mm256_fmadd_ps(d, _mm256_loadu_ps(k + 8 * c), row[c]);
      _mm256_storeu_ps(m + 8 * c, row[c]);
      o = _mm256_fmadd_ps(row[c], _mm256_loadu_ps(q + 8 * c), o);
    }
    out[j] = scale * hsum(o);
  }
}

// 32 columns (4 vectors) at a time: row r's accumulators stay in registers over its r steps, each
// step a broadcast of L and one load of the earlier row per vector (L1 hits); scalar tail columns.
void la_solve_lower(float* D, int64_t ldd, int64_t m, int64_t n, const float* L, int64_t ldl) {
  constexpr int V = 4;
  int64_t c0 = 0;
  for (; c0 + 8 * V <= n; c0 += 8 * V)
    for (int64_t r = 1; r < m; r++) {
      float* dr = D + r * ldd + c0;
      __m256 acc[V];
      for (int v = 0; v < V; v++) acc[v] = _mm256_loadu_ps(dr + 8 * v);
      for (int64_t s = 0; s < r; s++) {
        const __m256 a = _mm256_set1_ps(L[r * ldl + s]);
        const float* ds = D + s * ldd + c0;
        for (int v = 0; v < V; v++) acc[v] = _mm256_fmadd_ps(a, _mm256_loadu_ps(ds + 8 * v), acc[v]);
      }
      for (int v = 0; v < V; v++) _mm256_storeu_ps(dr + 8 * v, acc[v]);
    }
  if (c0 < n)
    for (int64_t r = 1; r < m; r++)
      for (int64_t s = 0; s < r; s++) la_axpy(D + r * ldd + c0, L[r * ldl + s], D + s * ldd + c0, n - c0);
}

// Row by row of a (one pass over its lines); the pieces of 6 go out as 4 + 2 floats (a masked
// store is slow on AMD's AVX2 cores), loaded 8 at a time while those 8 lie inside the row, the
// rest one float at a time.
void la_pack_at(float* pa, const float* a, int64_t lda, int64_t kc, int64_t cols, const float* scale, int mr) {
  const int64_t np = (cols + mr - 1) / mr;
  for (int64_t k = 0; k < kc; k++) {
    const float sk = scale[k];
    const float* row = a + k * lda;
    float* dst = pa + k * mr;
    int64_t p = 0;
    if (mr == 6) {
      const __m256 s = _mm256_set1_ps(sk);
      for (; p * mr + 8 <= cols; p++, dst += mr * kc) {
        const __m256 x = _mm256_mul_ps(s, _mm256_loadu_ps(row + p * mr));
        _mm_storeu_ps(dst, _mm256_castps256_ps128(x));
        _mm_storel_pi((__m64*)(dst + 4), _mm256_extractf128_ps(x, 1));
      }
    }
    for (; p < np; p++, dst += mr * kc)
      for (int i = 0; i < mr; i++) dst[i] = p * mr + i < cols ? sk * row[p * mr + i] : 0.f;
  }
}

}  // namespace tl::avx2
