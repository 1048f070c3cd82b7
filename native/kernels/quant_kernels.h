// The per-type kernels behind the weight-type table (weight_types.h): scalar references in
// quant_ref.cpp (tl::ref), SIMD dot products in qdot_avx2.cpp / qdot_avx512.cpp (one body,
// qdot.inc, compiled per ISA). Plain functions on raw pointers; n is the row length in values.
#pragma once
#include <cstdint>

// Every (weight type, activation type) dot product, as `float dot_<type>(w, a, n)`.
#define TL_QDOT_LIST(X) \
  X(q4_0) X(q4_1) X(q5_0) X(q5_1) X(q8_0) X(iq4_nl) X(q2_K) X(q3_K) X(q4_K) X(q5_K) X(q6_K) X(iq4_xs)
// The ones with SIMD kernels (qdot.inc); the table uses the scalar reference for the rest.
#define TL_QDOT_SIMD_LIST(X) TL_QDOT_LIST(X)

#define TL_QDOT_DECL(t) float dot_##t(const void* w, const void* a, int64_t n);
// SIMD only: out[r] = dot(w, a + r·a_stride) for r < 4 (dot4) and out[r] = dot(w + r·w_stride, a)
// (dotw4: 4 weight rows, GEMV), each bit-identical to dot_<t> on that pair of rows. dotw4 may read
// up to 24 bytes past the end of each weight row (k_legacy2_w512's 64-byte loads; in GEMV the row
// after it): never pass it the last row of a buffer. An activation row given to dotw4 must be
// followed by its copies (qb::gemv_act_quads and gemv_act_pairs after a Q8_0 / Q8_1 row,
// gemv_act_halves after a Q8_K row; the GEMV driver writes them).
#define TL_QDOT4_DECL(t) \
  float dot_##t(const void* w, const void* a, int64_t n); \
  void dot4_##t(const void* w, const void* a, int64_t a_stride, int64_t n, float* out); \
  void dotw4_##t(const void* w, int64_t w_stride, const void* a, int64_t n, float* out);

namespace tl::ref {
// Dequantizers (ggml's dequantize_row_*): out[n] from blocks.
void dequantize_f32(float* out, const void* x, int64_t n);
void dequantize_f16(float* out, const void* x, int64_t n);
void dequantize_bf16(float* out, const void* x, int64_t n);
void dequantize_q4_0(float* out, const void* x, int64_t n);
void dequantize_q4_1(float* out, const void* x, int64_t n);
void dequantize_q5_0(float* out, const void* x, int64_t n);
void dequantize_q5_1(float* out, const void* x, int64_t n);
void dequantize_q8_0(float* out, const void* x, int64_t n);
void dequantize_iq4_nl(float* out, const void* x, int64_t n);
void dequantize_q2_K(float* out, const void* x, int64_t n);
void dequantize_q3_K(float* out, const void* x, int64_t n);
void dequantize_q4_K(float* out, const void* x, int64_t n);
void dequantize_q5_K(float* out, const void* x, int64_t n);
void dequantize_q6_K(float* out, const void* x, int64_t n);
void dequantize_iq4_xs(float* out, const void* x, int64_t n);

// Activation quantizers, bit-exact with what ggml runs on x86 (quantize_row_q8_0 / q8_1 of
// ggml-cpu's x86 quants: d = amax/127, q = round-half-even(x · 127/amax); q8_K: the reference,
// d = max/−127 of the signed extreme, q = nearest(x/d) capped at 127, plus 16-value sums).
void quantize_act_q8_0(void* out, const float* x, int64_t n);
void quantize_act_q8_1(void* out, const float* x, int64_t n);
void quantize_act_q8_K(void* out, const float* x, int64_t n);

TL_QDOT_LIST(TL_QDOT_DECL)
}  // namespace tl::ref

// The SIMD activation quantizers, byte for byte the reference's.
#define TL_QACT_DECL                                          \
  void quantize_act_q8_0(void* out, const float* x, int64_t n); \
  void quantize_act_q8_1(void* out, const float* x, int64_t n); \
  void quantize_act_q8_K(void* out, const float* x, int64_t n);

namespace tl::avx2 { TL_QDOT_SIMD_LIST(TL_QDOT4_DECL) TL_QACT_DECL }
namespace tl::avx512 { TL_QDOT_SIMD_LIST(TL_QDOT4_DECL) TL_QACT_DECL }
namespace tl::avx512vnni {
TL_QDOT_SIMD_LIST(TL_QDOT4_DECL) TL_QACT_DECL
// The 4-row GEMV kernels that take AVX-512 VBMI (vpmultishiftqb: Q5_0, Q5_1) or GFNI (vgf2p8affineqb:
// Q3_K, Q5_K, Q6_K): call only where tl::active_icelake().
void dotw4_q5_0_icelake(const void* w, int64_t w_stride, const void* a, int64_t n, float* out);
void dotw4_q5_1_icelake(const void* w, int64_t w_stride, const void* a, int64_t n, float* out);
void dotw4_q3_K_icelake(const void* w, int64_t w_stride, const void* a, int64_t n, float* out);
void dotw4_q5_K_icelake(const void* w, int64_t w_stride, const void* a, int64_t n, float* out);
void dotw4_q6_K_icelake(const void* w, int64_t w_stride, const void* a, int64_t n, float* out);
}
