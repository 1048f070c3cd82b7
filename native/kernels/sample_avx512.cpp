// AVX-512 sampling weights: the 8-double-lane twin of sample_avx2.cpp (same argument, same
// polynomial; 2^n applied with scalef). Interface: sample_kernels.h; reference: sample_scalar.cpp.
// GCC 12 warns falsely about the undefined-vector idiom inside its own AVX-512 headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "kernels/sample_kernels.h"

namespace tl::avx512 {

namespace {

// exp(x) for x ≤ 0 in double lanes; x < −708 and −inf give 0 (see sample_avx2.cpp).
inline __m512d exp_neg_pd(__m512d x) {
  const __mmask8 keep = _mm512_cmp_pd_mask(x, _mm512_set1_pd(-708.0), _CMP_GE_OQ);
  x = _mm512_max_pd(x, _mm512_set1_pd(-708.0));
  x = _mm512_min_pd(x, _mm512_setzero_pd());
  const __m512d n = _mm512_roundscale_pd(_mm512_mul_pd(x, _mm512_set1_pd(1.4426950408889634)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512d r = _mm512_fnmadd_pd(n, _mm512_set1_pd(6.93147180369123816490e-01), x);
  r = _mm512_fnmadd_pd(n, _mm512_set1_pd(1.90821492927058770002e-10), r);
  __m512d p = _mm512_set1_pd(1.0 / 6227020800.0);  // 1/13!
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 479001600.0));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 39916800.0));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 3628800.0));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 362880.0));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 40320.0));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 5040.0));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 720.0));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 120.0));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 24.0));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 6.0));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(0.5));
  p = _mm512_fmadd_pd(_mm512_mul_pd(p, r), r, r);  // r + r²·q(r)
  p = _mm512_add_pd(p, _mm512_set1_pd(1.0));
  return _mm512_maskz_mov_pd(keep, _mm512_scalef_pd(p, n));
}

}  // namespace

double sample_weights(float* prob, const float* logits, int64_t n, double inv_temperature) {
  __m512 mx = _mm512_set1_ps(-INFINITY);
  __mmask16 nan = 0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(logits + i);
    nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    mx = _mm512_max_ps(mx, v);
  }
  bool has_nan = nan != 0;
  float m = _mm512_reduce_max_ps(mx);
  for (; i < n; i++) {
    const float v = logits[i];
    if (v != v) has_nan = true;
    else if (v > m) m = v;
  }
  if (has_nan || !std::isfinite(m)) return NAN;
  const double md = m;
  const __m512d mv = _mm512_set1_pd(md), tv = _mm512_set1_pd(inv_temperature);
  __m512d s0 = _mm512_setzero_pd(), s1 = s0;
  for (i = 0; i + 16 <= n; i += 16) {
    const __m512d x0 = _mm512_mul_pd(_mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(logits + i)), mv), tv);
    const __m512d x1 = _mm512_mul_pd(_mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(logits + i + 8)), mv), tv);
    const __m512d e0 = exp_neg_pd(x0), e1 = exp_neg_pd(x1);
    _mm256_storeu_ps(prob + i, _mm512_cvtpd_ps(e0));
    _mm256_storeu_ps(prob + i + 8, _mm512_cvtpd_ps(e1));
    s0 = _mm512_add_pd(s0, e0);
    s1 = _mm512_add_pd(s1, e1);
  }
  double sum = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
  for (; i < n; i++) {
    const double p = std::exp(((double)logits[i] - md) * inv_temperature);
    prob[i] = (float)p;
    sum += p;
  }
  return sum;
}

}  // namespace tl::avx512
