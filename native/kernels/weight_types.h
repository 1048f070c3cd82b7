// The table of weight types (ggml's type_traits): the only native place that knows a type.
//
// A weight type is a GGML type id (the number GGUF files store) with its block layout, a scalar
// dequantizer, the activation type its dot product takes and its dot kernels per ISA. Float types
// use matmul.h's f32 paths; like ggml, F16 and BF16 weights take activations rounded to F16 / BF16
// (ggml's vec_dot_type), F32 weights f32 activations. Every quantized type
// takes activations quantized to an integer block format, exactly as ggml does on x86:
//   Q4_0, Q5_0, Q8_0, IQ4_NL  ·  Q8_0 blocks (32 int8 + f16 scale)
//   Q4_1, Q5_1               ·  Q8_1 blocks (32 int8 + f16 scale + f16 scale·Σq)
//   Q2_K..Q6_K, IQ4_XS       ·  Q8_K blocks (256 int8 + f32 scale + 16 int16 group sums)
// and accumulates int8×int8 products in int32 per block, scaled to f32 per (sub-)block.
//
// Adding a type: one row in weight_types.cpp, its dequantizer and scalar dot in quant_ref.cpp,
// its SIMD dot in qdot.inc (optional: a missing SIMD dot falls back to the scalar one), its GEMM
// tiles in qgemm.inc (optional: without them GEMM calls the dot kernels).
#pragma once
#include <cstddef>
#include <cstdint>

namespace tl {

// GGML type ids (ggml.h's enum ggml_type) of the types we compute with or quantize activations to.
namespace ggml {
constexpr int F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9, Q2_K = 10, Q3_K = 11,
              Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15, IQ4_NL = 20, IQ4_XS = 23, BF16 = 30;
}

// f32 row of n values (n a multiple of the block size) from a row of blocks.
using DequantizeRowFn = void (*)(float* out, const void* x, int64_t n);
// f32 row of n values to the activation block format (Q8_0 / Q8_1 / Q8_K).
using QuantizeRowFn = void (*)(void* out, const float* x, int64_t n);
// Σ_k w[k] · a[k] over one row of n values: w in the weight type, a in its activation type.
using VecDotFn = float (*)(const void* w, const void* a, int64_t n);
// The same for 4 activation rows a, a + a_stride, …: out[r], each bit-identical to VecDotFn's.
using VecDot4Fn = void (*)(const void* w, const void* a, int64_t a_stride, int64_t n, float* out);
// 4 weight rows w, w + w_stride, … with one activation row a (GEMV): out[r], each bit-identical to VecDotFn's.
using VecDotW4Fn = void (*)(const void* w, int64_t w_stride, const void* a, int64_t n, float* out);
// GEMM tile (qgemm.h): out[m·ldo + n] = dot(weight row n, activation row m) for n < rows_w, m < rows_a,
// each bit-identical to VecDotFn's. w: rows_w weight rows (w_stride bytes apart); a: rows_a
// quantized activation rows (a_stride bytes apart); K values per row.
using QgemmTileFn = void (*)(const uint8_t* w, int64_t w_stride, int64_t rows_w, const uint8_t* a, int64_t a_stride,
                             int64_t rows_a, int64_t K, float* out, int64_t ldo);

struct WeightTypeInfo {
  int id;               // GGML type id
  const char* name;     // GGML's name ("q4_K")
  int block;            // values per block
  int block_bytes;      // bytes per block
  int act;              // GGML id of the activation type its dot takes (ggml's vec_dot_type)
  DequantizeRowFn dequantize_row;  // scalar reference
  VecDotFn dot_ref;     // scalar reference (null for float types: matmul.h computes those)
  VecDotFn dot_avx2;    // AVX2 (maddubs/madd); null = no SIMD kernel, use dot_ref
  VecDotFn dot_avx512;  // AVX-512BW
  VecDotFn dot_vnni;    // AVX-512 VNNI (vpdpbusd)
  VecDot4Fn dot4_avx2, dot4_avx512, dot4_vnni;  // 4 activation rows per weight row (small M, GEMM)
  VecDotW4Fn dotw4_avx2, dotw4_avx512, dotw4_vnni;  // 4 weight rows per activation row (GEMV)
  QgemmTileFn gemm_avx2, gemm_avx512, gemm_vnni;    // GEMM tiles (qgemm.h); null = dot path
  int gemm_min_rows[3] = {};  // fewest activation rows for which that tile is used (AVX2, AVX-512BW, VNNI)
  VecDotW4Fn dotw4_icelake = nullptr;  // VNNI + VBMI / GFNI (cpu.h's active_icelake()), where a type has one
};

struct ActTypeInfo {
  int id;               // GGML type id (Q8_0, Q8_1, Q8_K)
  const char* name;
  int block;
  int block_bytes;
  QuantizeRowFn quantize_row;  // bit-exact with ggml's x86 quantizer of that type (scalar)
  QuantizeRowFn quantize_row_avx2, quantize_row_avx512;  // the same bytes, vectorized
};

// The row for a GGML type id, or null if we cannot compute with that type.
const WeightTypeInfo* weight_type(int id);
// The activation format with that id (Q8_0, Q8_1, Q8_K), or null.
const ActTypeInfo* act_type(int id);
// All rows, in id order (for listing and tests).
const WeightTypeInfo* weight_types(int* count);

// Bytes of one row of K values (K must be a multiple of the block size).
static inline int64_t type_row_bytes(const WeightTypeInfo& t, int64_t K) { return K / t.block * t.block_bytes; }
static inline bool is_float_type(const WeightTypeInfo& t) { return t.block == 1; }

// The dot kernel for the active ISA (falls back to the scalar reference), and its 4-row forms
// (null on the scalar path: call the 1-row kernel per row).
VecDotFn active_dot(const WeightTypeInfo& t);
VecDot4Fn active_dot4(const WeightTypeInfo& t);
VecDotW4Fn active_dotw4(const WeightTypeInfo& t);
// The GEMM tile kernel for the active ISA and M activation rows, or null (none there, M below its
// gemm_min_rows, scalar path, or TENSORLOOM_QGEMM=0, read once, which keeps every M on the dot
// kernels to measure what the tiles gain).
QgemmTileFn active_gemm(const WeightTypeInfo& t, int64_t M);
// The activation quantizer for the active ISA (every level gives the same bytes).
QuantizeRowFn active_quantize(const ActTypeInfo& t);

// Dequantizes rows [0, rows) of a [rows, cols] tensor (threaded).
void dequantize_rows(float* out, const void* x, const WeightTypeInfo& t, int64_t rows, int64_t cols);
// Gathers rows ids[0..n_ids) of a [rows, cols] table as f32 (embedding lookup / get_rows).
void get_rows(float* out, const void* table, const WeightTypeInfo& t, int64_t cols, const uint32_t* ids, int64_t n_ids);

}  // namespace tl
