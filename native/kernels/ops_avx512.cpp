// AVX-512 variants of the row and elementwise ops: the 16-lane mirror of ops_avx2.cpp (same
// loops, same formulas, same scalar tails), compiled everywhere, executed only where the CPU has
// AVX-512. Interface: ops_kernels.h; reference: ops_scalar.cpp.
// GCC 12 warns falsely about the undefined-vector idiom inside its own AVX-512 headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "kernels/ops_kernels.h"
#include "kernels/vmath_avx512.h"

namespace tl::avx512 {

// rms_scale_ggml of 8 rows at once: lane r of a double vector sums row r's squares in index order,
// so each scale is rms_scale_ggml's to the bit, 8 dependency chains side by side instead of one
// (serial, the sums were ~3 % of a 128-token prefill at 1 thread).
static void rms_scales8_ggml(float* inv, const float* x, int64_t dim, float eps) {
  __m512d s = _mm512_setzero_pd();
  int64_t i = 0;
  for (; i + 4 <= dim; i += 4) {
    __m128 a0 = _mm_loadu_ps(x + i), a1 = _mm_loadu_ps(x + dim + i), a2 = _mm_loadu_ps(x + 2 * dim + i),
           a3 = _mm_loadu_ps(x + 3 * dim + i);
    __m128 b0 = _mm_loadu_ps(x + 4 * dim + i), b1 = _mm_loadu_ps(x + 5 * dim + i), b2 = _mm_loadu_ps(x + 6 * dim + i),
           b3 = _mm_loadu_ps(x + 7 * dim + i);
    _MM_TRANSPOSE4_PS(a0, a1, a2, a3);  // a_t: element i + t of rows 0..3
    _MM_TRANSPOSE4_PS(b0, b1, b2, b3);  // b_t: of rows 4..7
    const __m256 v[4] = {_mm256_set_m128(b0, a0), _mm256_set_m128(b1, a1), _mm256_set_m128(b2, a2), _mm256_set_m128(b3, a3)};
    for (int t = 0; t < 4; t++) s = _mm512_add_pd(s, _mm512_cvtps_pd(_mm256_mul_ps(v[t], v[t])));
  }
  for (; i < dim; i++) {
    alignas(32) float e[8];
    for (int r = 0; r < 8; r++) e[r] = x[r * dim + i];
    const __m256 v = _mm256_load_ps(e);
    s = _mm512_add_pd(s, _mm512_cvtps_pd(_mm256_mul_ps(v, v)));
  }
  alignas(64) double sum[8];
  _mm512_store_pd(sum, s);
  for (int r = 0; r < 8; r++) inv[r] = rms_scale_from_sum(sum[r], dim, eps);
}

void rmsnorm_rows(float* out, const float* x, const float* w, int64_t rows, int64_t dim, float eps) {
  for (int64_t r0 = 0; r0 < rows; r0 += 8) {  // 8 rows' scales side by side, a last partial group one by one
    const int64_t n = rows - r0 < 8 ? rows - r0 : 8;
    float inv[8];
    if (n == 8)
      rms_scales8_ggml(inv, x + r0 * dim, dim, eps);
    else
      for (int64_t r = 0; r < n; r++) inv[r] = rms_scale_ggml(x + (r0 + r) * dim, dim, eps);
    for (int64_t r = 0; r < n; r++) {
      const float* xr = x + (r0 + r) * dim;
      float* yr = out + (r0 + r) * dim;
      const __m512 iv = _mm512_set1_ps(inv[r]);
      int64_t i = 0;
      for (; i + 16 <= dim; i += 16)
        _mm512_storeu_ps(yr + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(xr + i), iv), _mm512_loadu_ps(w + i)));
      for (; i < dim; i++) yr[i] = xr[i] * inv[r] * w[i];
    }
  }
}

void layernorm_rows(float* out, const float* x, const float* w, const float* b, int64_t rows, int64_t dim, float eps) {
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * dim;
    float* yr = out + r * dim;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    int64_t i = 0;
    for (; i + 32 <= dim; i += 32) {
      s0 = _mm512_add_ps(s0, _mm512_loadu_ps(xr + i));
      s1 = _mm512_add_ps(s1, _mm512_loadu_ps(xr + i + 16));
    }
    for (; i + 16 <= dim; i += 16) s0 = _mm512_add_ps(s0, _mm512_loadu_ps(xr + i));
    float sum = hsum512(_mm512_add_ps(s0, s1));
    for (; i < dim; i++) sum += xr[i];
    const float mean = sum / (float)dim;
    // Second pass on the centred values: no catastrophic cancellation for large means.
    const __m512 mv = _mm512_set1_ps(mean);
    __m512 v0 = _mm512_setzero_ps(), v1 = v0;
    for (i = 0; i + 32 <= dim; i += 32) {
      const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(xr + i), mv), d1 = _mm512_sub_ps(_mm512_loadu_ps(xr + i + 16), mv);
      v0 = _mm512_fmadd_ps(d0, d0, v0);
      v1 = _mm512_fmadd_ps(d1, d1, v1);
    }
    for (; i + 16 <= dim; i += 16) {
      const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(xr + i), mv);
      v0 = _mm512_fmadd_ps(d0, d0, v0);
    }
    float var = hsum512(_mm512_add_ps(v0, v1));
    for (; i < dim; i++) var += (xr[i] - mean) * (xr[i] - mean);
    const float inv = 1.f / std::sqrt(var / (float)dim + eps);
    const __m512 iv = _mm512_set1_ps(inv);
    for (i = 0; i + 16 <= dim; i += 16) {
      const __m512 y = _mm512_mul_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(xr + i), mv), iv), _mm512_loadu_ps(w + i));
      _mm512_storeu_ps(yr + i, b ? _mm512_add_ps(y, _mm512_loadu_ps(b + i)) : y);
    }
    for (; i < dim; i++) yr[i] = (xr[i] - mean) * inv * w[i] + (b ? b[i] : 0.f);
  }
}

void softmax_rows(float* out, const float* x, int64_t rows, int64_t cols, float inv_temperature) {
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * cols;
    float* yr = out + r * cols;
    __m512 mx = _mm512_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 16 <= cols; i += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(xr + i));
    float m = hmax512(mx);
    for (; i < cols; i++) m = std::fmax(m, xr[i]);
    const __m512 mv = _mm512_set1_ps(m), tv = _mm512_set1_ps(inv_temperature);
    __m512 sv = _mm512_setzero_ps();
    for (i = 0; i + 16 <= cols; i += 16) {
      const __m512 e = exp512(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(xr + i), mv), tv));
      _mm512_storeu_ps(yr + i, e);
      sv = _mm512_add_ps(sv, e);
    }
    float sum = hsum512(sv);
    for (; i < cols; i++) {
      yr[i] = std::exp((xr[i] - m) * inv_temperature);
      sum += yr[i];
    }
    const float inv = 1.f / sum;
    const __m512 iv = _mm512_set1_ps(inv);
    for (i = 0; i + 16 <= cols; i += 16) _mm512_storeu_ps(yr + i, _mm512_mul_ps(_mm512_loadu_ps(yr + i), iv));
    for (; i < cols; i++) yr[i] *= inv;
  }
}

// gelu_tanh(x) = 0.5·x·(1 + tanh(u)) = x·sigmoid(2u), u = √(2/π)·(x + 0.044715·x³).
static inline __m512 gelu_tanh16(__m512 x) {
  const __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
  const __m512 u2 = _mm512_mul_ps(_mm512_set1_ps(2.0f * 0.7978845608028654f), _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), x3, x));
  return _mm512_mul_ps(x, sigmoid512(u2));
}
static inline float gelu_tanh1(float v) { return (float)(0.5 * v * (1.0 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)))); }

// gelu_erf(x) = 0.5·x·erfc(-x/√2): erfc(|z|) for x < 0, 2 - erfc(|z|) for x >= 0.
static inline __m512 gelu_erf16(__m512 x) {
  const __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
  const __m512 az = _mm512_abs_ps(z);
  const __m512 e = erfc512_pos(az);
  const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __m512 c = _mm512_mask_blend_ps(neg, _mm512_sub_ps(_mm512_set1_ps(2.0f), e), e);
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), c);
}
static inline float gelu_erf1(float v) { return (float)(0.5 * v * std::erfc(-v * 0.70710678118654752)); }

// SiLU as llama.cpp computes it (x / (1 + exp(−x)), its exp): SwiGLU outputs then equal its bit for bit.
static inline __m512 silu16(__m512 x) { return silu512_ggml(x); }
static inline float silu1(float v) { return v / (1.f + std::exp(-v)); }

void gelu_tanh(float* out, const float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, gelu_tanh16(_mm512_loadu_ps(x + i)));
  for (; i < n; i++) out[i] = gelu_tanh1(x[i]);
}

void gelu_erf(float* out, const float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, gelu_erf16(_mm512_loadu_ps(x + i)));
  for (; i < n; i++) out[i] = gelu_erf1(x[i]);
}

void silu(float* out, const float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, silu16(_mm512_loadu_ps(x + i)));
  for (; i < n; i++) out[i] = silu1(x[i]);
}

// max(x, 0) with the zero second: maxps returns its second operand when either is NaN and when
// both are zeros, so NaN and −0 give +0, as ggml's `x > 0 ? x : 0` does.
void relu(float* out, const float* x, int64_t n) {
  const __m512 zero = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, _mm512_max_ps(_mm512_loadu_ps(x + i), zero));
  for (; i < n; i++) out[i] = x[i] > 0.f ? x[i] : 0.f;
}

void swiglu(float* out, const float* gate, const float* up, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, _mm512_mul_ps(silu16(_mm512_loadu_ps(gate + i)), _mm512_loadu_ps(up + i)));
  for (; i < n; i++) out[i] = silu1(gate[i]) * up[i];
}

void add(float* out, const float* a, const float* b, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, _mm512_add_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
  for (; i < n; i++) out[i] = a[i] + b[i];
}

void mul(float* out, const float* a, const float* b, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
  for (; i < n; i++) out[i] = a[i] * b[i];
}

int64_t argmax(const float* x, int64_t n) {
  // Pass 1: the maximum (max_ps returns its second operand when the first is NaN: NaNs ignored).
  __m512 m0 = _mm512_set1_ps(-INFINITY), m1 = m0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    m0 = _mm512_max_ps(_mm512_loadu_ps(x + i), m0);
    m1 = _mm512_max_ps(_mm512_loadu_ps(x + i + 16), m1);
  }
  for (; i + 16 <= n; i += 16) m0 = _mm512_max_ps(_mm512_loadu_ps(x + i), m0);
  float m = hmax512(_mm512_max_ps(m0, m1));
  for (; i < n; i++)
    if (x[i] > m) m = x[i];
  if (m == -INFINITY) return 0;  // all -inf or NaN: the scalar rule keeps index 0
  // Pass 2: the first index holding it.
  const __m512 mv = _mm512_set1_ps(m);
  for (i = 0; i + 16 <= n; i += 16) {
    const unsigned mask = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i), mv, _CMP_EQ_OQ);
    if (mask) return i + __builtin_ctz(mask);
  }
  for (; i < n; i++)
    if (x[i] == m) return i;
  return 0;
}

}  // namespace tl::avx512
