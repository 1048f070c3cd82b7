// AVX-512 primitives of the linear-attention family (interface: linear_attention_kernels.h,
// reference: linear_attention_scalar.cpp). 16 lanes, masked tails; the delta-rule row kernel keeps
// one state row in registers for its decay, dot, update and read-out when Dk ≤ 256.
#include <immintrin.h>

#include "kernels/linear_attention_kernels.h"
#include "kernels/vmath_avx512.h"

namespace tl::avx512 {

static inline __mmask16 tail_mask(int64_t left) { return (__mmask16)((1u << left) - 1u); }

float la_dot(const float* a, const float* b, int64_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), a0);
    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), a1);
    a2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), a2);
    a3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), a3);
  }
  for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), a0);
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), a1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

void la_axpy(float* y, float a, const float* x, int64_t n) {
  const __m512 va = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

void la_scale(float* y, float a, int64_t n) {
  const __m512 va = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_mul_ps(va, _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(va, _mm512_maskz_loadu_ps(m, y + i)));
  }
}

// Four rows at a time share each load of x.
void la_dot_rows(float* out, const float* M, int64_t rows, int64_t ld, const float* x, int64_t n, float alpha) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const float *m0 = M + r * ld, *m1 = m0 + ld, *m2 = m1 + ld, *m3 = m2 + ld;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      const __m512 xv = _mm512_loadu_ps(x + i);
      s0 = _mm512_fmadd_ps(_mm512_loadu_ps(m0 + i), xv, s0);
      s1 = _mm512_fmadd_ps(_mm512_loadu_ps(m1 + i), xv, s1);
      s2 = _mm512_fmadd_ps(_mm512_loadu_ps(m2 + i), xv, s2);
      s3 = _mm512_fmadd_ps(_mm512_loadu_ps(m3 + i), xv, s3);
    }
    if (i < n) {
      const __mmask16 m = tail_mask(n - i);
      const __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
      s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, m0 + i), xv, s0);
      s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, m1 + i), xv, s1);
      s2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, m2 + i), xv, s2);
      s3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, m3 + i), xv, s3);
    }
    out[r] = alpha * _mm512_reduce_add_ps(s0);
    out[r + 1] = alpha * _mm512_reduce_add_ps(s1);
    out[r + 2] = alpha * _mm512_reduce_add_ps(s2);
    out[r + 3] = alpha * _mm512_reduce_add_ps(s3);
  }
  for (; r < rows; r++) out[r] = alpha * la_dot(M + r * ld, x, n);
}

static inline __m512 feature512(__m512 x, int phi) {
  const __m512 zero = _mm512_setzero_ps();
  if (phi == 0) {  // elu + 1: x + 1 above 0, eˣ below (exp512 of a non-positive argument)
    const __mmask16 pos = _mm512_cmp_ps_mask(x, zero, _CMP_GT_OQ);
    return _mm512_mask_blend_ps(pos, exp512(_mm512_min_ps(x, zero)), _mm512_add_ps(x, _mm512_set1_ps(1.f)));
  }
  return phi == 1 ? _mm512_max_ps(x, zero) : x;
}

void la_feature(float* dst, const float* src, int64_t n, int phi) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, feature512(_mm512_loadu_ps(src + i), phi));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(dst + i, m, feature512(_mm512_maskz_loadu_ps(m, src + i), phi));
  }
}

// Register blocks of R rows × 64 columns (4 vectors, masked at the right edge): each k loads four
// vectors of B once and broadcasts R values of A into 4·R FMAs.
template <int R>
static inline void gemm_block(float* C, int64_t ldc, const float* A, int64_t lda, const float* B, int64_t ldb, int64_t K,
                              const __mmask16* mask) {
  __m512 acc[R][4];
  for (int r = 0; r < R; r++)
    for (int v = 0; v < 4; v++) acc[r][v] = _mm512_maskz_loadu_ps(mask[v], C + r * ldc + 16 * v);
  for (int64_t k = 0; k < K; k++) {
    __m512 b[4];
    for (int v = 0; v < 4; v++) b[v] = _mm512_maskz_loadu_ps(mask[v], B + k * ldb + 16 * v);
    for (int r = 0; r < R; r++) {
      const __m512 a = _mm512_set1_ps(A[r * lda + k]);
      for (int v = 0; v < 4; v++) acc[r][v] = _mm512_fmadd_ps(a, b[v], acc[r][v]);
    }
  }
  for (int r = 0; r < R; r++)
    for (int v = 0; v < 4; v++) _mm512_mask_storeu_ps(C + r * ldc + 16 * v, mask[v], acc[r][v]);
}

void la_gemm(float* C, int64_t ldc, const float* A, int64_t lda, const float* B, int64_t ldb, int64_t M, int64_t K,
             int64_t N) {
  for (int64_t j0 = 0; j0 < N; j0 += 64) {
    __mmask16 mask[4];
    for (int v = 0; v < 4; v++) {
      const int64_t left = N - j0 - 16 * v;
      mask[v] = left >= 16 ? (__mmask16)0xFFFF : left > 0 ? tail_mask(left) : (__mmask16)0;
    }
    int64_t i = 0;
    for (; i + 4 <= M; i += 4) gemm_block<4>(C + i * ldc + j0, ldc, A + i * lda, lda, B + j0, ldb, K, mask);
    for (; i < M; i++) gemm_block<1>(C + i * ldc + j0, ldc, A + i * lda, lda, B + j0, ldb, K, mask);
  }
}

void la_delta_rows(float* M, int64_t rows, int64_t Dk, const float* k, const float* q, float decay,
                   const float* decay_vec, const float* v, float beta, float scale, float* out) {
  constexpr int kMaxVecs = 16;  // Dk ≤ 256 stays in registers
  const int64_t nv = (Dk + 15) / 16;
  if (nv > kMaxVecs) {
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
  const __mmask16 last = (Dk % 16) ? tail_mask(Dk % 16) : (__mmask16)0xFFFF;
  const __m512 vdecay = _mm512_set1_ps(decay);
  __m512 kv[kMaxVecs], qv[kMaxVecs], dv[kMaxVecs];
  for (int64_t c = 0; c < nv; c++) {
    const __mmask16 mk = c == nv - 1 ? last : (__mmask16)0xFFFF;
    kv[c] = _mm512_maskz_loadu_ps(mk, k + 16 * c);
    qv[c] = _mm512_maskz_loadu_ps(mk, q + 16 * c);
    dv[c] = decay_vec ? _mm512_maskz_loadu_ps(mk, decay_vec + 16 * c) : vdecay;
  }
  for (int64_t j = 0; j < rows; j++) {
    float* m = M + j * Dk;
    __m512 row[kMaxVecs];
    __m512 acc = _mm512_setzero_ps();
    for (int64_t c = 0; c < nv; c++) {
      const __mmask16 mk = c == nv - 1 ? last : (__mmask16)0xFFFF;
      row[c] = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, m + 16 * c), dv[c]);
      acc = _mm512_fmadd_ps(row[c], kv[c], acc);
    }
    const __m512 d = _mm512_set1_ps(beta * (v[j] - _mm512_reduce_add_ps(acc)));
    __m512 o = _mm512_setzero_ps();
    for (int64_t c = 0; c < nv; c++) {
      const __mmask16 mk = c == nv - 1 ? last : (__mmask16)0xFFFF;
      row[c] = _mm512_fmadd_ps(d, kv[c], row[c]);
      _mm512_mask_storeu_ps(m + 16 * c, mk, row[c]);
      o = _mm512_fmadd_ps(row[c], qv[c], o);
    }
    out[j] = scale * _mm512_reduce_add_ps(o);
  }
}

// 128 columns (8 vectors) at a time: row r's accumulators stay in registers over its r steps, each
// step a broadcast of L and one load of the earlier row per vector (L1 hits).
void la_solve_lower(float* D, int64_t ldd, int64_t m, int64_t n, const float* L, int64_t ldl) {
  constexpr int V = 8;
  for (int64_t c0 = 0; c0 < n; c0 += 16 * V) {
    __mmask16 mask[V];
    for (int v = 0; v < V; v++) {
      const int64_t left = n - c0 - 16 * v;
      mask[v] = left >= 16 ? (__mmask16)0xFFFF : left > 0 ? tail_mask(left) : (__mmask16)0;
    }
    for (int64_t r = 1; r < m; r++) {
      float* dr = D + r * ldd + c0;
      __m512 acc[V];
      for (int v = 0; v < V; v++) acc[v] = _mm512_maskz_loadu_ps(mask[v], dr + 16 * v);
      for (int64_t s = 0; s < r; s++) {
        const __m512 a = _mm512_set1_ps(L[r * ldl + s]);
        const float* ds = D + s * ldd + c0;
        for (int v = 0; v < V; v++) acc[v] = _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(mask[v], ds + 16 * v), acc[v]);
      }
      for (int v = 0; v < V; v++) _mm512_mask_storeu_ps(dr + 16 * v, mask[v], acc[v]);
    }
  }
}

// Row by row of a (one pass over its lines), each row's mr-wide pieces scaled and stored with a
// masked store into their panels.
void la_pack_at(float* pa, const float* a, int64_t lda, int64_t kc, int64_t cols, const float* scale, int mr) {
  const int64_t np = (cols + mr - 1) / mr;
  const __mmask8 full = (__mmask8)((1u << mr) - 1u);
  const int64_t last = cols - (np - 1) * mr;
  const __mmask8 lastm = (__mmask8)((1u << last) - 1u);
  for (int64_t k = 0; k < kc; k++) {
    const __m256 s = _mm256_set1_ps(scale[k]);
    const float* row = a + k * lda;
    float* dst = pa + k * mr;
    for (int64_t p = 0; p < np; p++, dst += mr * kc)
      _mm256_mask_storeu_ps(dst, full, _mm256_mul_ps(s, _mm256_maskz_loadu_ps(p == np - 1 ? lastm : full, row + p * mr)));
  }
}

}  // namespace tl::avx512
