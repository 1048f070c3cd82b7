// AVX2+FMA sampling weights (interface: sample_kernels.h, reference: sample_scalar.cpp): the max
// in f32 lanes, then exp in double lanes — the argument exactly as the reference forms it, a
// degree-13 Taylor polynomial on |r| ≤ ln2/2 (truncation < 1e-17), ≤ 2 ulp of double in all.
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "kernels/sample_kernels.h"

namespace tl::avx2 {

namespace {

// exp(x) for x ≤ 0 in double lanes; x < −708 (results below the normal range, which no f32
// weight holds and no sum ≥ 1 can feel) and −inf give 0.
inline __m256d exp_neg_pd(__m256d x) {
  const __m256d under = _mm256_cmp_pd(x, _mm256_set1_pd(-708.0), _CMP_LT_OQ);
  x = _mm256_max_pd(x, _mm256_set1_pd(-708.0));
  x = _mm256_min_pd(x, _mm256_setzero_pd());
  const __m256d n = _mm256_round_pd(_mm256_mul_pd(x, _mm256_set1_pd(1.4426950408889634)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // fdlibm's split of ln 2: n·LN2_HI is exact for |n| < 2^20, so r carries no rounding from it.
  __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(6.93147180369123816490e-01), x);
  r = _mm256_fnmadd_pd(n, _mm256_set1_pd(1.90821492927058770002e-10), r);
  __m256d p = _mm256_set1_pd(1.0 / 6227020800.0);  // 1/13!
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 479001600.0));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 39916800.0));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 3628800.0));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 362880.0));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 40320.0));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 5040.0));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 720.0));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 120.0));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 24.0));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 6.0));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(0.5));
  p = _mm256_fmadd_pd(_mm256_mul_pd(p, r), r, r);  // r + r²·q(r)
  p = _mm256_add_pd(p, _mm256_set1_pd(1.0));
  // 2^n from its bits: adding 1.5·2^52 leaves n (two's complement) in the low mantissa bits.
  const __m256d magic = _mm256_set1_pd(6755399441055744.0);
  const __m256i ni = _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(n, magic)), _mm256_castpd_si256(magic));
  const __m256d scale = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(ni, _mm256_set1_epi64x(1023)), 52));
  return _mm256_andnot_pd(under, _mm256_mul_pd(p, scale));
}

inline double hsum_pd(__m256d v) {
  const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

inline float hmax_ps(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

}  // namespace

double sample_weights(float* prob, const float* logits, int64_t n, double inv_temperature) {
  __m256 mx = _mm256_set1_ps(-INFINITY), nan = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(logits + i);
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    mx = _mm256_max_ps(mx, v);
  }
  bool has_nan = _mm256_movemask_ps(nan) != 0;
  float m = hmax_ps(mx);
  for (; i < n; i++) {
    const float v = logits[i];
    if (v != v) has_nan = true;
    else if (v > m) m = v;
  }
  if (has_nan || !std::isfinite(m)) return NAN;
  const double md = m;
  const __m256d mv = _mm256_set1_pd(md), tv = _mm256_set1_pd(inv_temperature);
  __m256d s0 = _mm256_setzero_pd(), s1 = s0;
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256d x0 = _mm256_mul_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(logits + i)), mv), tv);
    const __m256d x1 = _mm256_mul_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(logits + i + 4)), mv), tv);
    const __m256d e0 = exp_neg_pd(x0), e1 = exp_neg_pd(x1);
    _mm_storeu_ps(prob + i, _mm256_cvtpd_ps(e0));
    _mm_storeu_ps(prob + i + 4, _mm256_cvtpd_ps(e1));
    s0 = _mm256_add_pd(s0, e0);
    s1 = _mm256_add_pd(s1, e1);
  }
  double sum = hsum_pd(_mm256_add_pd(s0, s1));
  for (; i < n; i++) {
    const double p = std::exp(((double)logits[i] - md) * inv_temperature);
    prob[i] = (float)p;
    sum += p;
  }
  return sum;
}

}  // namespace tl::avx2
