// AVX2+FMA sampling weights (body: sample.inc; interface: sample_kernels.h, reference:
// sample_scalar.cpp): 8 f32 lanes for the max, 4 double lanes for exp, 2^n built in the exponent
// bits.
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "kernels/sample_kernels.h"

namespace tl::avx2 {
namespace {

constexpr int64_t kF32Lanes = 8;
using Vf = __m256;
using Vd = __m256d;
using NanMask = __m256;  // all-ones lanes where a NaN was seen

inline float vf_hmax(Vf v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

inline NanMask nan_none() { return _mm256_setzero_ps(); }
inline NanMask nan_add(NanMask m, Vf v) { return _mm256_or_ps(m, _mm256_cmp_ps(v, v, _CMP_UNORD_Q)); }
inline bool nan_any(NanMask m) { return _mm256_movemask_ps(m) != 0; }

inline Vd vd_round(Vd v) { return _mm256_round_pd(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline Vd vd_load_f32(const float* p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }
inline void vd_store_f32(float* p, Vd v) { _mm_storeu_ps(p, _mm256_cvtpd_ps(v)); }
inline double vd_hsum(Vd v) {
  const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

// p·2^n (n integral, −1021 ≤ n ≤ 0), 0 where x < −708. 2^n from its bits: adding 1.5·2^52 leaves
// n (two's complement) in the low mantissa bits.
inline Vd exp_scale(Vd p, Vd n, Vd x) {
  const __m256d under = _mm256_cmp_pd(x, _mm256_set1_pd(-708.0), _CMP_LT_OQ);
  const __m256d magic = _mm256_set1_pd(6755399441055744.0);
  const __m256i ni = _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(n, magic)), _mm256_castpd_si256(magic));
  const __m256d scale = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(ni, _mm256_set1_epi64x(1023)), 52));
  return _mm256_andnot_pd(under, _mm256_mul_pd(p, scale));
}

}  // namespace
}  // namespace tl::avx2

#define TL_SAMPLE_NS avx2
#define TL_SAMPLE_MM(op) _mm256_##op
#include "kernels/sample.inc"
