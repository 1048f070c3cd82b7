// AVX-512 conversions; mirror convert_avx2.cpp with 16 lanes, bit-identical to tl::ref.
// (Compiled everywhere, executed only where the CPU has AVX-512.)
// ISA-file rule: only <immintrin.h>, C headers and static-inline headers here.
// GCC 12 warns falsely about the undefined-vector idiom inside its own AVX-512 headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/convert.h"
#include "kernels/f16.h"

namespace tl::avx512 {

void f32_to_f16_array(uint16_t* out, const float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256((__m256i*)(out + i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  for (; i < n; i++) out[i] = f32_to_f16(x[i]);
}

void f16_to_f32_array(float* out, const uint16_t* x, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(x + i))));
  for (; i < n; i++) out[i] = f16_to_f32(x[i]);
}

// Round-to-nearest-even bf16 bits of 16 floats, in the low 16 bits of each 32-bit lane.
static inline __m512i bf16_bits(__m512i x) {
  const __m512i abs = _mm512_and_si512(x, _mm512_set1_epi32(0x7fffffff));
  const __mmask16 is_nan = _mm512_cmpgt_epi32_mask(abs, _mm512_set1_epi32(0x7f800000));
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(x, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lsb)), 16);
  const __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(0x40));
  return _mm512_mask_blend_epi32(is_nan, rounded, quiet);
}

void f32_to_bf16_array(uint16_t* out, const float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256((__m256i*)(out + i), _mm512_cvtepi32_epi16(bf16_bits(_mm512_loadu_si512(x + i))));
  for (; i < n; i++) out[i] = f32_to_bf16(x[i]);
}

void bf16_to_f32_array(float* out, const uint16_t* x, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)(x + i)));
    _mm512_storeu_si512(out + i, _mm512_slli_epi32(w, 16));
  }
  for (; i < n; i++) out[i] = bf16_to_f32(x[i]);
}

// roundf (half away from zero) of 16 floats as int32; NaN → 0.
static inline __m512i round_away(__m512 v) {
  const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m512 sign = _mm512_and_ps(v, _mm512_set1_ps(-0.0f));
  const __m512 frac = _mm512_andnot_ps(_mm512_set1_ps(-0.0f), _mm512_sub_ps(v, t));  // |v - t|, exact
  const __mmask16 up = _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
  const __m512 step = _mm512_maskz_mov_ps(up, _mm512_or_ps(sign, _mm512_set1_ps(1.0f)));
  const __m512 r = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), _mm512_add_ps(t, step));
  return _mm512_cvttps_epi32(r);
}

void quantize_q8_0(uint8_t* out, const float* x, int64_t n) {
  for (int64_t b = 0; b < n / kQ8Block; b++) {
    const float* xb = x + b * kQ8Block;
    uint8_t* block = out + b * kQ8BlockBytes;
    const __m512 v0 = _mm512_loadu_ps(xb), v1 = _mm512_loadu_ps(xb + 16);
    // abs then max with NaN in the first operand → the other operand is kept (NaN skipped).
    __m512 amax = _mm512_max_ps(_mm512_abs_ps(v0), _mm512_setzero_ps());
    amax = _mm512_max_ps(_mm512_abs_ps(v1), amax);
    const float d = _mm512_reduce_max_ps(amax) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t h = f32_to_f16(d);
    std::memcpy(block, &h, 2);
    const __m512 vid = _mm512_set1_ps(id);
    _mm_storeu_si128((__m128i*)(block + 2), _mm512_cvtepi32_epi8(round_away(_mm512_mul_ps(v0, vid))));
    _mm_storeu_si128((__m128i*)(block + 18), _mm512_cvtepi32_epi8(round_away(_mm512_mul_ps(v1, vid))));
  }
}

void dequantize_q8_0(float* out, const uint8_t* x, int64_t n) {
  for (int64_t b = 0; b < n / kQ8Block; b++) {
    const uint8_t* block = x + b * kQ8BlockBytes;
    uint16_t h;
    std::memcpy(&h, block, 2);
    const __m512 d = _mm512_cvtph_ps(_mm256_set1_epi16((short)h));
    for (int j = 0; j < 2; j++) {
      const __m512i q = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)(block + 2 + 16 * j)));
      _mm512_storeu_ps(out + b * kQ8Block + 16 * j, _mm512_mul_ps(_mm512_cvtepi32_ps(q), d));
    }
  }
}

}  // namespace tl::avx512
