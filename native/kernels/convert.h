// Array conversions between f32 and the weight storage types (plain C++ API, no JS types).
//   f16:  IEEE binary16, round to nearest even (as F16C's vcvtps2ph); NaN stays NaN (quiet).
//   bf16: the top 16 bits of the f32, round to nearest even; NaN stays NaN (quiet).
//   Q8_0: ggml's reference quantizer, per block of 32: amax = max|x|, d = amax / 127,
//         id = d ? 1/d : 0, q[j] = roundf(x[j] * id) (half away from zero), stored d as f16.
//         Dequantize: x[j] = f32(d) * q[j]. Non-finite inputs: NaN is ignored by amax and
//         quantizes to 0; an infinite amax gives d = inf and q = 0 for the whole block.
// The entry points pick the SIMD variant with tl::active_isa() per call; every variant
// produces the same bits as the scalar reference in tl::ref.
#pragma once
#include <cstdint>

namespace tl {

void f32_to_f16_array(uint16_t* out, const float* x, int64_t n);
void f16_to_f32_array(float* out, const uint16_t* x, int64_t n);
void f32_to_bf16_array(uint16_t* out, const float* x, int64_t n);
void bf16_to_f32_array(float* out, const uint16_t* x, int64_t n);
// n % 32 == 0; out holds n / 32 * 34 bytes.
void quantize_q8_0(uint8_t* out, const float* x, int64_t n);
void dequantize_q8_0(float* out, const uint8_t* x, int64_t n);

namespace ref {
void f32_to_f16_array(uint16_t* out, const float* x, int64_t n);
void f16_to_f32_array(float* out, const uint16_t* x, int64_t n);
void f32_to_bf16_array(uint16_t* out, const float* x, int64_t n);
void bf16_to_f32_array(float* out, const uint16_t* x, int64_t n);
void quantize_q8_0(uint8_t* out, const float* x, int64_t n);
void dequantize_q8_0(float* out, const uint8_t* x, int64_t n);
}  // namespace ref

// The SIMD variants (convert_avx2.cpp, convert_avx512.cpp), same contracts.
#define TL_CONVERT_ISA_DECLS(ns)                                            \
  namespace ns {                                                            \
  void f32_to_f16_array(uint16_t* out, const float* x, int64_t n);          \
  void f16_to_f32_array(float* out, const uint16_t* x, int64_t n);          \
  void f32_to_bf16_array(uint16_t* out, const float* x, int64_t n);         \
  void bf16_to_f32_array(float* out, const uint16_t* x, int64_t n);         \
  void quantize_q8_0(uint8_t* out, const float* x, int64_t n);              \
  void dequantize_q8_0(float* out, const uint8_t* x, int64_t n);            \
  }
TL_CONVERT_ISA_DECLS(avx2)
TL_CONVERT_ISA_DECLS(avx512)
#undef TL_CONVERT_ISA_DECLS

}  // namespace tl
