// AVX2 + F16C conversions; bit-identical to tl::ref (convert.cpp).
// ISA-file rule: only <immintrin.h>, C headers and static-inline headers here.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/convert.h"
#include "kernels/f16.h"

namespace tl::avx2 {

void f32_to_f16_array(uint16_t* out, const float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128((__m128i*)(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; i++) out[i] = f32_to_f16(x[i]);
}

void f16_to_f32_array(float* out, const uint16_t* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(x + i))));
  for (; i < n; i++) out[i] = f16_to_f32(x[i]);
}

// Round-to-nearest-even bf16 bits of 8 floats, in the low 16 bits of each 32-bit lane.
static inline __m256i bf16_bits(__m256i x) {
  const __m256i abs = _mm256_and_si256(x, _mm256_set1_epi32(0x7fffffff));
  const __m256i is_nan = _mm256_cmpgt_epi32(abs, _mm256_set1_epi32(0x7f800000));
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
  const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(x, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb)), 16);
  const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(0x40));
  return _mm256_blendv_epi8(rounded, quiet, is_nan);
}

void f32_to_bf16_array(uint16_t* out, const float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i lo = bf16_bits(_mm256_loadu_si256((const __m256i*)(x + i)));
    const __m256i hi = bf16_bits(_mm256_loadu_si256((const __m256i*)(x + i + 8)));
    // packus works per 128-bit lane; the permute restores element order.
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xD8);
    _mm256_storeu_si256((__m256i*)(out + i), packed);
  }
  for (; i < n; i++) out[i] = f32_to_bf16(x[i]);
}

void bf16_to_f32_array(float* out, const uint16_t* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)(x + i)));
    _mm256_storeu_si256((__m256i*)(out + i), _mm256_slli_epi32(w, 16));
  }
  for (; i < n; i++) out[i] = bf16_to_f32(x[i]);
}

// roundf (half away from zero) of 8 floats as int32; NaN → 0.
static inline __m256i round_away(__m256 v) {
  const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 sign = _mm256_and_ps(v, _mm256_set1_ps(-0.0f));
  const __m256 frac = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_sub_ps(v, t));  // |v - t|, exact
  const __m256 step = _mm256_and_ps(_mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ), _mm256_or_ps(sign, _mm256_set1_ps(1.0f)));
  const __m256 r = _mm256_and_ps(_mm256_add_ps(t, step), _mm256_cmp_ps(v, v, _CMP_ORD_Q));
  return _mm256_cvttps_epi32(r);
}

void quantize_q8_0(uint8_t* out, const float* x, int64_t n) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (int64_t b = 0; b < n / kQ8Block; b++) {
    const float* xb = x + b * kQ8Block;
    uint8_t* block = out + b * kQ8BlockBytes;
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int j = 0; j < 4; j++) {
      v[j] = _mm256_loadu_ps(xb + 8 * j);
      amax = _mm256_max_ps(_mm256_and_ps(v[j], abs_mask), amax);  // NaN in the first operand → amax kept
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float d = _mm_cvtss_f32(m) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t h = f32_to_f16(d);
    std::memcpy(block, &h, 2);
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int j = 0; j < 4; j++) q[j] = round_away(_mm256_mul_ps(v[j], vid));
    // int32 → int8 (values are within ±127); packs work per 128-bit lane, the permute fixes order.
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    const __m256i ordered = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i*)(block + 2), ordered);
  }
}

void dequantize_q8_0(float* out, const uint8_t* x, int64_t n) {
  for (int64_t b = 0; b < n / kQ8Block; b++) {
    const uint8_t* block = x + b * kQ8BlockBytes;
    uint16_t h;
    std::memcpy(&h, block, 2);
    const __m256 d = _mm256_cvtph_ps(_mm_set1_epi16((short)h));
    for (int j = 0; j < 4; j++) {
      const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)(block + 2 + 8 * j)));
      _mm256_storeu_ps(out + b * kQ8Block + 8 * j, _mm256_mul_ps(_mm256_cvtepi32_ps(q), d));
    }
  }
}

}  // namespace tl::avx2
