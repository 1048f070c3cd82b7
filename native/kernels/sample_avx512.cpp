// AVX-512 sampling weights (body: sample.inc; interface: sample_kernels.h, reference:
// sample_scalar.cpp): 16 f32 lanes for the max, 8 double lanes for exp, 2^n applied with scalef.
// GCC 12 warns falsely about the undefined-vector idiom inside its own AVX-512 headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "kernels/sample_kernels.h"

namespace tl::avx512 {
namespace {

constexpr int64_t kF32Lanes = 16;
using Vf = __m512;
using Vd = __m512d;
using NanMask = __mmask16;  // bits of the lanes where a NaN was seen

inline float vf_hmax(Vf v) { return _mm512_reduce_max_ps(v); }

inline NanMask nan_none() { return 0; }
inline NanMask nan_add(NanMask m, Vf v) { return m | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q); }
inline bool nan_any(NanMask m) { return m != 0; }

inline Vd vd_round(Vd v) { return _mm512_roundscale_pd(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline Vd vd_load_f32(const float* p) { return _mm512_cvtps_pd(_mm256_loadu_ps(p)); }
inline void vd_store_f32(float* p, Vd v) { _mm256_storeu_ps(p, _mm512_cvtpd_ps(v)); }
inline double vd_hsum(Vd v) { return _mm512_reduce_add_pd(v); }

// p·2^n by scalef, 0 where x < −708 (kept where x ≥ −708).
inline Vd exp_scale(Vd p, Vd n, Vd x) {
  const __mmask8 keep = _mm512_cmp_pd_mask(x, _mm512_set1_pd(-708.0), _CMP_GE_OQ);
  return _mm512_maskz_mov_pd(keep, _mm512_scalef_pd(p, n));
}

}  // namespace
}  // namespace tl::avx512

#define TL_SAMPLE_NS avx512
#define TL_SAMPLE_MM(op) _mm512_##op
#include "kernels/sample.inc"
