// The weight-type table (see weight_types.h) and the type-generic row operations built on it.
#include "kernels/weight_types.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "kernels/cpu.h"
#include "kernels/qgemm.h"
#include "kernels/quant_blocks.h"
#include "kernels/quant_kernels.h"
#include "kernels/threadpool.h"

namespace tl {

namespace {

#if defined(TL_HAVE_X86_VARIANTS)
// GEMM tiles (qgemm.h) per ISA: on every level, or only on VNNI, where below it the dot kernels'
// 4-row form measured as fast or faster (1 thread, 128×1024×2048, GFLOP/s per CPU-second, tiles vs
// dot, AVX2 / AVX-512BW: q2_K 58–73 vs 72–97, q3_K 50–69 vs 65–80, q6_K 59–69 vs 89–97, iq4_xs 62–90
// vs 70–96 (its decoded-row kernel since: see qgemm.h); q4_1 50–64 vs 47–57, q5_1 45–56 vs 43–52;
// iq4_nl: see qgemm.h).
// With each, the fewest activation rows from which it is used (qgemm.h's TL_QGEMM_MIN_ROWS_<type>).
#define TL_GEMM_ALL(t) avx2::qgemm_##t, avx512::qgemm_##t, avx512vnni::qgemm_##t, TL_QGEMM_MIN_ROWS_##t
#define TL_SIMD_DOTS(t) avx2::dot_##t, avx512::dot_##t, avx512vnni::dot_##t, avx2::dot4_##t, avx512::dot4_##t, avx512vnni::dot4_##t
#define TL_SIMD_DOTW4(t) avx2::dotw4_##t, avx512::dotw4_##t, avx512vnni::dotw4_##t
#define TL_DOTW4_ICELAKE(t) avx512vnni::dotw4_##t##_icelake
#else
#define TL_GEMM_ALL(t) nullptr, nullptr, nullptr
#define TL_SIMD_DOTS(t) nullptr, nullptr, nullptr, nullptr, nullptr, nullptr
#define TL_SIMD_DOTW4(t) nullptr, nullptr, nullptr
#define TL_DOTW4_ICELAKE(t) nullptr
#endif
// GEMV takes 4 weight rows per kernel call (dotw4), row i of each of 4 segments of a thread's rows
// (matmul_quant.cpp); a row with null dotw4 entries would take one row per call. 4 segments beat
// one row per call (110M Llama quantized by llama.cpp, decode, 1 thread, tokens per CPU-second,
// A/B in one process, bench/ab/decode-addon-ab.mjs): Q8_0 1.36×, IQ4_XS 1.09×, Q2_K 1.05×; 4
// adjacent rows per call had been slower than one row for Q8_0 (~0.8×: 4 short interleaved streams
// in the same pages, which the hardware prefetcher follows badly) and 1.06–1.30× slower than
// 4 segments for the others (see matmul_quant.cpp).
// In the AVX-512 builds every 4-row kernel is a 512-bit one (qdot.inc, outputs bit-identical to the
// one-row kernel's). Against the 256-bit 4-row kernels: Q4_K, Q5_K, Q6_K ~1.2× / ~1.45× / ~1.45×
// GB/s on cached matrices; Q4_0, IQ4_NL (two blocks per vector) ~1.65× in L2, ~1.45× streamed;
// Q5_0, Q4_1, Q5_1, Q8_0 (two rows per vector) decode-shaped GEMV streamed 1.37× / 1.28× / 1.21× /
// 1.06×, 110M decode 1.31× / 1.20× / 1.32× / 0.99× (Q5_0, Q4_1, Q5_1 have since gone to two blocks
// of a row per vector, k_legacy2_w512: another 1.03–1.10×); IQ4_XS (two groups per vector)
// GEMV 1.54×, decode 1.20×; Q3_K and Q2_K (two parts per vector) GEMV 2.27× / 1.74×, q3_k_m decode
// 1.55× (1 thread) / 1.49× (2), q2_k 1.27× (its Q3_K tensors) then 1.18× (its Q2_K ones).
#define TL_QUANT_ROW(ID, t, block, bytes, act, gemm) \
  {ID, #t, block, bytes, act, ref::dequantize_##t, ref::dot_##t, TL_SIMD_DOTS(t), TL_SIMD_DOTW4(t), gemm(t)}
// The same with an Ice Lake 4-row GEMV kernel (VBMI / GFNI) besides its VNNI one: Q5_0, Q5_1 (qdot.inc's
// k_legacy2_w512), Q3_K, Q5_K, Q6_K.
#define TL_QUANT_ROW_ICELAKE(ID, t, block, bytes, act, gemm) \
  {ID, #t, block, bytes, act, ref::dequantize_##t, ref::dot_##t, TL_SIMD_DOTS(t), TL_SIMD_DOTW4(t), gemm(t), TL_DOTW4_ICELAKE(t)}
// A type whose dot product has only the scalar reference so far.
#define TL_QUANT_ROW_SCALAR(ID, t, block, bytes, act) \
  {ID, #t, block, bytes, act, ref::dequantize_##t, ref::dot_##t, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr}

// One row per type, in GGML id order. Block bytes are the sizes of quant_blocks.h's structs.
const WeightTypeInfo kTypes[] = {
    {ggml::F32, "f32", 1, 4, ggml::F32, ref::dequantize_f32, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr},
    {ggml::F16, "f16", 1, 2, ggml::F16, ref::dequantize_f16, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr},
    TL_QUANT_ROW(ggml::Q4_0, q4_0, 32, sizeof(qb::Q4_0), ggml::Q8_0, TL_GEMM_ALL),
    TL_QUANT_ROW(ggml::Q4_1, q4_1, 32, sizeof(qb::Q4_1), ggml::Q8_1, TL_GEMM_ALL),
    TL_QUANT_ROW_ICELAKE(ggml::Q5_0, q5_0, 32, sizeof(qb::Q5_0), ggml::Q8_0, TL_GEMM_ALL),
    TL_QUANT_ROW_ICELAKE(ggml::Q5_1, q5_1, 32, sizeof(qb::Q5_1), ggml::Q8_1, TL_GEMM_ALL),
    TL_QUANT_ROW(ggml::Q8_0, q8_0, 32, sizeof(qb::Q8_0), ggml::Q8_0, TL_GEMM_ALL),
    TL_QUANT_ROW(ggml::Q2_K, q2_K, 256, sizeof(qb::Q2_K), ggml::Q8_K, TL_GEMM_ALL),
    TL_QUANT_ROW_ICELAKE(ggml::Q3_K, q3_K, 256, sizeof(qb::Q3_K), ggml::Q8_K, TL_GEMM_ALL),
    TL_QUANT_ROW(ggml::Q4_K, q4_K, 256, sizeof(qb::Q4_K), ggml::Q8_K, TL_GEMM_ALL),
    TL_QUANT_ROW_ICELAKE(ggml::Q5_K, q5_K, 256, sizeof(qb::Q5_K), ggml::Q8_K, TL_GEMM_ALL),
    TL_QUANT_ROW_ICELAKE(ggml::Q6_K, q6_K, 256, sizeof(qb::Q6_K), ggml::Q8_K, TL_GEMM_ALL),
    TL_QUANT_ROW(ggml::IQ4_NL, iq4_nl, 32, sizeof(qb::IQ4_NL), ggml::Q8_0, TL_GEMM_ALL),
    TL_QUANT_ROW(ggml::IQ4_XS, iq4_xs, 256, sizeof(qb::IQ4_XS), ggml::Q8_K, TL_GEMM_ALL),
    {ggml::BF16, "bf16", 1, 2, ggml::BF16, ref::dequantize_bf16, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr},
};
constexpr int kTypeCount = (int)(sizeof(kTypes) / sizeof(kTypes[0]));

#if defined(TL_HAVE_X86_VARIANTS)
#define TL_SIMD_QACT(t) avx2::quantize_act_##t, avx512::quantize_act_##t
#else
#define TL_SIMD_QACT(t) nullptr, nullptr
#endif
const ActTypeInfo kActTypes[] = {
    {ggml::Q8_0, "q8_0", 32, sizeof(qb::Q8_0), ref::quantize_act_q8_0, TL_SIMD_QACT(q8_0)},
    {ggml::Q8_1, "q8_1", 32, sizeof(qb::Q8_1), ref::quantize_act_q8_1, TL_SIMD_QACT(q8_1)},
    {ggml::Q8_K, "q8_K", 256, sizeof(qb::Q8_K), ref::quantize_act_q8_K, TL_SIMD_QACT(q8_K)},
};

}  // namespace

const WeightTypeInfo* weight_type(int id) {
  for (const auto& t : kTypes)
    if (t.id == id) return &t;
  return nullptr;
}

const ActTypeInfo* act_type(int id) {
  for (const auto& t : kActTypes)
    if (t.id == id) return &t;
  return nullptr;
}

const WeightTypeInfo* weight_types(int* count) {
  *count = kTypeCount;
  return kTypes;
}

VecDotFn active_dot(const WeightTypeInfo& t) {
  // Each level falls back to the one below when a type has no kernel of its own there.
  switch (active_isa_level()) {
    case Isa::Avx512Bf16:  // no quantized kernels of its own
    case Isa::Avx512Vnni:
      if (t.dot_vnni) return t.dot_vnni;
      [[fallthrough]];
    case Isa::Avx512:
      if (t.dot_avx512) return t.dot_avx512;
      [[fallthrough]];
    case Isa::Avx2:
      if (t.dot_avx2) return t.dot_avx2;
      [[fallthrough]];
    default:
      return t.dot_ref;
  }
}

VecDot4Fn active_dot4(const WeightTypeInfo& t) {
  switch (active_isa_level()) {
    case Isa::Avx512Bf16:  // no quantized kernels of its own
    case Isa::Avx512Vnni:
      if (t.dot4_vnni) return t.dot4_vnni;
      [[fallthrough]];
    case Isa::Avx512:
      if (t.dot4_avx512) return t.dot4_avx512;
      [[fallthrough]];
    case Isa::Avx2:
      return t.dot4_avx2;
    default:
      return nullptr;
  }
}

VecDotW4Fn active_dotw4(const WeightTypeInfo& t) {
  switch (active_isa_level()) {
    case Isa::Avx512Bf16:  // no quantized kernels of its own
    case Isa::Avx512Vnni:
      if (t.dotw4_icelake && active_icelake()) return t.dotw4_icelake;
      if (t.dotw4_vnni) return t.dotw4_vnni;
      [[fallthrough]];
    case Isa::Avx512:
      if (t.dotw4_avx512) return t.dotw4_avx512;
      [[fallthrough]];
    case Isa::Avx2:
      return t.dotw4_avx2;
    default:
      return nullptr;
  }
}

QgemmTileFn active_gemm(const WeightTypeInfo& t, int64_t M) {
  static const bool disabled = [] {
    const char* v = std::getenv("TENSORLOOM_QGEMM");
    return v && std::strcmp(v, "0") == 0;
  }();
  if (disabled) return nullptr;
  // the tile of the highest level (at most the active one) that has one, with that level's threshold
  QgemmTileFn tile = nullptr;
  int min_rows = 0;
  switch (active_isa_level()) {
    case Isa::Avx512Bf16:  // no quantized kernels of its own
    case Isa::Avx512Vnni:
      if (t.gemm_vnni) {
        tile = t.gemm_vnni, min_rows = t.gemm_min_rows[2];
        break;
      }
      [[fallthrough]];
    case Isa::Avx512:
      if (t.gemm_avx512) {
        tile = t.gemm_avx512, min_rows = t.gemm_min_rows[1];
        break;
      }
      [[fallthrough]];
    case Isa::Avx2:
      tile = t.gemm_avx2, min_rows = t.gemm_min_rows[0];
      break;
    default:
      return nullptr;
  }
  // GEMV (M = 1) always takes the dot kernels; a row without a threshold the GEMM default
  return M >= std::max<int64_t>(2, min_rows > 0 ? min_rows : kQgemmMinRows) ? tile : nullptr;
}

QuantizeRowFn active_quantize(const ActTypeInfo& t) {
  switch (active_isa_level()) {
    case Isa::Avx512Bf16:  // no quantized kernels of its own
    case Isa::Avx512Vnni:
    case Isa::Avx512:
      if (t.quantize_row_avx512) return t.quantize_row_avx512;
      [[fallthrough]];
    case Isa::Avx2:
      if (t.quantize_row_avx2) return t.quantize_row_avx2;
      [[fallthrough]];
    default:
      return t.quantize_row;
  }
}

void dequantize_rows(float* out, const void* x, const WeightTypeInfo& t, int64_t rows, int64_t cols) {
  const int64_t rb = type_row_bytes(t, cols);
  const int64_t grain = std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(1, cols));
  parallel_for(rows, grain, [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; r++) t.dequantize_row(out + r * cols, static_cast<const uint8_t*>(x) + r * rb, cols);
  });
}

void get_rows(float* out, const void* table, const WeightTypeInfo& t, int64_t cols, const uint32_t* ids, int64_t n_ids) {
  const int64_t rb = type_row_bytes(t, cols);
  for (int64_t i = 0; i < n_ids; i++)
    t.dequantize_row(out + i * cols, static_cast<const uint8_t*>(table) + (int64_t)ids[i] * rb, cols);
}

}  // namespace tl
