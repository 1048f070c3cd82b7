// One attention row in llama.cpp's arithmetic order on AVX-512 (see attention_ggml.h).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "kernels/attention_ggml.h"
#include "kernels/vmath_avx512.h"

namespace tl::avx512 {

// ggml_vec_dot_f32 as its AVX-512 build computes it (see attention_ggml.h for the order).
static inline float ggml_dot(const float* x, const float* y, int n) {
  const int np = n & ~63;
  float sum = 0.f;
  if (np > 0) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int i = 0; i < np; i += 64) {
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), a0);
      a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), a1);
      a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 32), _mm512_loadu_ps(y + i + 32), a2);
      a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 48), _mm512_loadu_ps(y + i + 48), a3);
    }
    sum = hsum512(_mm512_add_ps(_mm512_add_ps(a0, a2), _mm512_add_ps(a1, a3)));
  }
  int i = np;
  alignas(64) float prod[16];
  for (; n - i >= 16; i += 16) {  // the tail, as GCC vectorized `sumf += x[i]*y[i]`: products, then in order
    _mm512_store_ps(prod, _mm512_mul_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    for (int l = 0; l < 16; l++) sum += prod[l];
  }
  if (n - i >= 8) {
    _mm256_store_ps(prod, _mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (int l = 0; l < 8; l++) sum += prod[l];
    i += 8;
  }
  for (; i < n; i++) sum = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(x[i]), _mm_set_ss(y[i]), _mm_set_ss(sum)));
  return sum;
}

void attn_ggml_row(float* out, const float* q, const float* k, const float* v, int64_t kv_stride, int D, int64_t nkeys,
                   float scale, bool batch, float* scratch) {
  const int lanes = batch ? 16 : 64;
  float* p = scratch;                                         // [nkeys rounded up to 16] scores
  float* acc = p + (size_t)((nkeys + 15) / 16) * 16;          // [lanes][D]

  // KQ, scaled (soft_max_ext multiplies the raw dot by scale).
  float mx = -INFINITY;
  for (int64_t c = 0; c < nkeys; c++) {
    p[c] = ggml_dot(k + c * kv_stride, q, D) * scale;
    mx = p[c] > mx ? p[c] : mx;
  }
  // exp in blocks of 16 keys from key 0 (keys past the last are masked: 0), block sums in a double.
  double sum = 0;
  const __m512 vmx = _mm512_set1_ps(mx);
  for (int64_t c = 0; c < nkeys; c += 16) {
    const int n = nkeys - c < 16 ? (int)(nkeys - c) : 16;
    const __mmask16 m = (__mmask16)((1u << n) - 1u);
    const __m512 e = _mm512_maskz_mov_ps(m, exp512_ggml(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, p + c), vmx)));
    _mm512_storeu_ps(p + c, e);
    sum += (double)hsum512(e);
  }
  const __m512 inv = _mm512_set1_ps((float)(1.0 / sum));
  for (int64_t c = 0; c < nkeys; c += 16) _mm512_storeu_ps(p + c, _mm512_mul_ps(_mm512_loadu_ps(p + c), inv));

  // KQV: lane (c mod lanes) of each output accumulates v_cd·p_c by fma, in key order.
  for (size_t i = 0; i < (size_t)lanes * D; i++) acc[i] = 0.f;
  const int Dv = D & ~15;
  const __mmask16 dm = (__mmask16)((1u << (D - Dv)) - 1u);
  for (int64_t c = 0; c < nkeys; c++) {
    float* a = acc + (size_t)(c % lanes) * D;
    const float* vr = v + c * kv_stride;
    const __m512 pc = _mm512_set1_ps(p[c]);
    int d = 0;
    for (; d < Dv; d += 16) _mm512_storeu_ps(a + d, _mm512_fmadd_ps(_mm512_loadu_ps(vr + d), pc, _mm512_loadu_ps(a + d)));
    if (dm) _mm512_mask_storeu_ps(a + d, dm, _mm512_fmadd_ps(_mm512_maskz_loadu_ps(dm, vr + d), pc, _mm512_maskz_loadu_ps(dm, a + d)));
  }
  // Combine the lanes per output: (a0+a2)+(a1+a3) over the four 16-lane accumulators (decode),
  // then the 16-lane tree, vectorized across d.
  if (!batch) {
    for (int l = 0; l < 16; l++) {
      float* a0 = acc + (size_t)l * D;
      const float *a1 = a0 + 16 * D, *a2 = a0 + 32 * D, *a3 = a0 + 48 * D;
      for (int d = 0; d < D; d++) a0[d] = (a0[d] + a2[d]) + (a1[d] + a3[d]);
    }
  }
  for (int half = 8; half >= 1; half /= 2)
    for (int l = 0; l < half; l++) {
      float* a = acc + (size_t)l * D;
      const float* b = acc + (size_t)(l + half) * D;
      for (int d = 0; d < D; d++) a[d] += b[d];
    }
  for (int d = 0; d < D; d++) out[d] = acc[d];
}

}  // namespace tl::avx512
