// One attention row in llama.cpp's arithmetic order on AVX-512 (see attention_ggml.h).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "kernels/attention_ggml.h"
#include "kernels/vmath_avx512.h"

namespace tl::avx512 {

// ggml_dot's 64-wide part (n a multiple of 64) before its lane tree: (a0+a2)+(a1+a3).
static inline __m512 ggml_dot_lanes(const float* x, const float* y, int n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int i = 0; i < n; i += 64) {
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), a0);
    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), a1);
    a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 32), _mm512_loadu_ps(y + i + 32), a2);
    a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 48), _mm512_loadu_ps(y + i + 48), a3);
  }
  return _mm512_add_ps(_mm512_add_ps(a0, a2), _mm512_add_ps(a1, a3));
}

// ggml_vec_dot_f32 as its AVX-512 build computes it (see attention_ggml.h for the order).
static inline float ggml_dot(const float* x, const float* y, int n) {
  const int np = n & ~63;
  float sum = np > 0 ? hsum512(ggml_dot_lanes(x, y, np)) : 0.f;
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

// hsum512 of s[0..16) at once: lane j of the result = hsum512(s[j]), by the same additions
// (lane l + l+8, then l + l+4, l + l+2, 0 + 1), pairs of vectors interleaved at each step.
static inline __m512 lane_trees16(const __m512* s) {
  __m512 w[8], x[4], y[2];
  for (int i = 0; i < 8; i++)  // chunks [s2i lanes 0-7 | s2i+1 lanes 0-7] after l + l+8
    w[i] = _mm512_add_ps(_mm512_shuffle_f32x4(s[2 * i], s[2 * i + 1], 0x44), _mm512_shuffle_f32x4(s[2 * i], s[2 * i + 1], 0xEE));
  for (int i = 0; i < 4; i++)  // chunk k = s4i+k lanes 0-3 after l + l+4
    x[i] = _mm512_add_ps(_mm512_shuffle_f32x4(w[2 * i], w[2 * i + 1], 0x88), _mm512_shuffle_f32x4(w[2 * i], w[2 * i + 1], 0xDD));
  for (int i = 0; i < 2; i++)  // chunk k = [s8i+k lanes 0-1, s8i+4+k lanes 0-1] after l + l+2
    y[i] = _mm512_add_ps(_mm512_shuffle_ps(x[2 * i], x[2 * i + 1], 0x44), _mm512_shuffle_ps(x[2 * i], x[2 * i + 1], 0xEE));
  // lane 4k+m = s[4m+k] after 0 + 1; put s[j] in lane j.
  const __m512 z = _mm512_add_ps(_mm512_shuffle_ps(y[0], y[1], 0x88), _mm512_shuffle_ps(y[0], y[1], 0xDD));
  const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_ps(idx, z);
}

// ggml_dot of q with n ≤ 16 keys k + j·kv_stride (D a multiple of 64) in lane j, the lanes past
// n 0: each key's four accumulators as ggml_dot, then the 16 lane trees done together.
static inline __m512 dots16(const float* k, int64_t kv_stride, int n, const float* q, int D) {
  __m512 s[16];
  for (int j = 0; j < 16; j++) s[j] = _mm512_setzero_ps();
  for (int j = 0; j < n; j++) s[j] = ggml_dot_lanes(k + j * kv_stride, q, D);
  return lane_trees16(s);
}

// KQV for 16·NV outputs from d0 and one lane l, R accumulators of 16 lanes (R = 4: mul_mat's
// vec_dot, key c in accumulator (c/16) mod 4; R = 1: tinyBLAS). The lane's accumulators stay in
// registers while its keys (l + 16i in each block of 16R keys) are added in key order: the same
// fmas as a loop over keys into 16R accumulator rows, without storing those rows.
// t[l·D + d] = the lane's accumulators combined ((a0+a2)+(a1+a3) for R = 4).
template <int NV, int R>
static inline void kqv_lane(float* t, const float* v, int64_t kv_stride, int d0, int D, int64_t nkeys, const float* p, int l) {
  __m512 a[R][NV];
  for (int i = 0; i < R; i++)
    for (int j = 0; j < NV; j++) a[i][j] = _mm512_setzero_ps();
  for (int64_t c0 = l; c0 < nkeys; c0 += 16 * R) {
    for (int i = 0; i < R; i++) {
      const int64_t c = c0 + 16 * i;
      if (c >= nkeys) break;
      const float* vr = v + c * kv_stride + d0;
      const __m512 pc = _mm512_set1_ps(p[c]);
      for (int j = 0; j < NV; j++) a[i][j] = _mm512_fmadd_ps(_mm512_loadu_ps(vr + 16 * j), pc, a[i][j]);
    }
  }
  for (int j = 0; j < NV; j++) {
    __m512 s = a[0][j];
    if constexpr (R == 4) s = _mm512_add_ps(_mm512_add_ps(a[0][j], a[2][j]), _mm512_add_ps(a[1][j], a[3][j]));
    _mm512_storeu_ps(t + (size_t)l * D + d0 + 16 * j, s);
  }
}

// kqv_lane over every lane and all of D (a multiple of 16), 64 outputs at a time, for nrows rows
// sharing the values: row r's probabilities at p + r·np, its lane sums at t + r·16·D. The rows
// take turns on each lane, whose value rows are then in L1.
template <int R>
static void kqv_by_lane(float* t, const float* v, int64_t kv_stride, int D, int64_t nkeys, const float* p, int nrows, size_t np) {
  for (int d0 = 0; d0 < D; d0 += 64)
    for (int l = 0; l < 16; l++)
      for (int r = 0; r < nrows; r++) {
        float* tr = t + (size_t)r * 16 * D;
        const float* pr = p + (size_t)r * np;
        switch (D - d0 >= 64 ? 4 : (D - d0) / 16) {
          case 4: kqv_lane<4, R>(tr, v, kv_stride, d0, D, nkeys, pr, l); break;
          case 3: kqv_lane<3, R>(tr, v, kv_stride, d0, D, nkeys, pr, l); break;
          case 2: kqv_lane<2, R>(tr, v, kv_stride, d0, D, nkeys, pr, l); break;
          default: kqv_lane<1, R>(tr, v, kv_stride, d0, D, nkeys, pr, l); break;
        }
      }
}

// out[d] = the 16-lane tree of t[0..16)[d] (l + l+8, l + l+4, l + l+2, 0 + 1); D a multiple of 16.
static void lane_tree_rows(float* out, float* t, int D) {
  for (int half = 8; half >= 1; half /= 2)
    for (int l = 0; l < half; l++) {
      float* a = t + (size_t)l * D;
      const float* b = t + (size_t)(l + half) * D;
      for (int d = 0; d < D; d += 16) _mm512_storeu_ps(a + d, _mm512_add_ps(_mm512_loadu_ps(a + d), _mm512_loadu_ps(b + d)));
    }
  for (int d = 0; d < D; d += 16) _mm512_storeu_ps(out + d, _mm512_loadu_ps(t + d));
}

// soft_max_ext after the scores p[0..nkeys) (scaled, max mx): ggml's exp of p − mx in blocks of
// 16 keys from key 0 (keys past the last masked: 0), block sums added in a double, p ×= 1/sum.
static void softmax_ggml(float* p, int64_t nkeys, float mx) {
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

}

void attn_ggml_row(float* out, const float* q, const float* k, const float* v, int64_t kv_stride, int D, int64_t nkeys,
                   float scale, bool batch, float* scratch) {
  const int lanes = batch ? 16 : 64;
  float* p = scratch;                                         // [nkeys rounded up to 16] scores
  float* acc = p + (size_t)((nkeys + 15) / 16) * 16;          // [lanes][D]

  // KQ, scaled (soft_max_ext multiplies the raw dot by scale).
  float mx = -INFINITY;
  if (D % 64 == 0) {
    // 16 keys at a time: each key's four accumulators as ggml_dot, then the 16 lane trees of
    // the 16 keys done together (the same additions as hsum512, 16 keys per instruction).
    const __m512 vscale = _mm512_set1_ps(scale);
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    for (int64_t c0 = 0; c0 < nkeys; c0 += 16) {
      const int n = nkeys - c0 < 16 ? (int)(nkeys - c0) : 16;
      const __mmask16 m = (__mmask16)((1u << n) - 1u);
      const __m512 sc = _mm512_mul_ps(dots16(k + c0 * kv_stride, kv_stride, n, q, D), vscale);
      _mm512_mask_storeu_ps(p + c0, m, sc);
      vmax = _mm512_mask_max_ps(vmax, m, vmax, sc);
    }
    mx = hmax512(vmax);
  } else {
    for (int64_t c = 0; c < nkeys; c++) {
      p[c] = ggml_dot(k + c * kv_stride, q, D) * scale;
      mx = p[c] > mx ? p[c] : mx;
    }
  }
  softmax_ggml(p, nkeys, mx);

  // KQV: lane (c mod lanes) of each output accumulates v_cd·p_c by fma, in key order.
  if (D % 16 == 0) {
    if (batch) kqv_by_lane<1>(acc, v, kv_stride, D, nkeys, p, 1, 0);
    else kqv_by_lane<4>(acc, v, kv_stride, D, nkeys, p, 1, 0);
    lane_tree_rows(out, acc, D);
    return;
  }
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

void attn_ggml_rows_decode(float* out, const float* q, int nrows, const float* k, const float* v, int64_t kv_stride, int D,
                           int64_t nkeys, float scale, float* scratch) {
  if (D % 64 != 0 || nrows > 64) {
    for (int r = 0; r < nrows; r++) attn_ggml_row(out + (size_t)r * D, q + (size_t)r * D, k, v, kv_stride, D, nkeys, scale, false, scratch);
    return;
  }
  const size_t np = (size_t)((nkeys + 15) / 16) * 16;
  float* p = scratch;                  // [nrows][np] scores
  float* t = p + (size_t)nrows * np;   // [nrows][16][D] lane sums
  // KQ as attn_ggml_row, the rows taking turns on each block of 16 keys (then in L1).
  const __m512 vscale = _mm512_set1_ps(scale);
  __m512 vmax[64];
  for (int r = 0; r < nrows; r++) vmax[r] = _mm512_set1_ps(-INFINITY);
  for (int64_t c0 = 0; c0 < nkeys; c0 += 16) {
    const int n = nkeys - c0 < 16 ? (int)(nkeys - c0) : 16;
    const __mmask16 m = (__mmask16)((1u << n) - 1u);
    for (int r = 0; r < nrows; r++) {
      const __m512 sc = _mm512_mul_ps(dots16(k + c0 * kv_stride, kv_stride, n, q + (size_t)r * D, D), vscale);
      _mm512_mask_storeu_ps(p + (size_t)r * np + c0, m, sc);
      vmax[r] = _mm512_mask_max_ps(vmax[r], m, vmax[r], sc);
    }
  }
  for (int r = 0; r < nrows; r++) softmax_ggml(p + (size_t)r * np, nkeys, hmax512(vmax[r]));
  kqv_by_lane<4>(t, v, kv_stride, D, nkeys, p, nrows, np);
  for (int r = 0; r < nrows; r++) lane_tree_rows(out + (size_t)r * D, t + (size_t)r * 16 * D, D);
}

}  // namespace tl::avx512
