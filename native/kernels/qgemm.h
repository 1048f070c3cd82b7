// Quantized GEMM tiles (prefill, M ≥ kQgemmMinRows): a tile of weight rows × quantized activation
// rows computed with register-blocked integer micro-kernels (qgemm.inc, compiled per ISA in
// qgemm_avx2.cpp / qgemm_avx512.cpp), instead of one dot-kernel call per output.
// TENSORLOOM_QGEMM=0 (read once) turns them off, for benchmarks.
//
// Every output is bit-identical to the type's dot kernel (qdot.inc) on the same rows: the int32
// block / group sums are exact in any order, and per output the f32 arithmetic (block scale × sum,
// the fma across blocks in sequence, K-quant mins apart, the final horizontal sum) is done in the
// dot kernel's order. matmul_quant.cpp calls them through the weight-type table (active_gemm).
#pragma once
#include <cstdint>

#include "kernels/weight_types.h"

namespace tl {

// From this many activation rows on, matmul_quant.cpp uses the tile kernels; up to 32 rows is the
// small-M regime of the dot kernels' 4-row form (batched decode). Measured at 1 thread, 1024×2048
// weights, VNNI, GFLOP/s per CPU-second, dot kernels → tiles: M = 32: q8_0 59 → 114, q4_0 38 → 218,
// q4_K 68 → 214, q5_K 61 → 68, q6_K 85 → 105; M = 16: q5_K and q6_K were still slower as tiles.
constexpr int64_t kQgemmMinRows = 33;

}  // namespace tl

// Every quantized weight type has tile kernels, as `void qgemm_<type>(…)` with QgemmTileFn's
// signature, in all three ISA namespaces (256-bit tiles on AVX2 / AVX-512BW; pairs / 16-row kernels
// on VNNI). Which of them a type uses on which ISA is its row of the weight-type table
// (weight_types.cpp, gemm_avx2 / gemm_avx512 / gemm_vnni): where a tile measured slower than the dot
// kernels' 4-row form, that entry is null and the type keeps the dot path there.
#define TL_QGEMM_LIST(X) X(q4_0) X(q4_1) X(q5_0) X(q5_1) X(q8_0) X(q2_K) X(q3_K) X(q4_K) X(q5_K) X(q6_K) X(iq4_nl) X(iq4_xs)

#define TL_QGEMM_DECL(t)                                                                              \
  void qgemm_##t(const uint8_t* w, int64_t w_stride, int64_t rows_w, const uint8_t* a, int64_t a_stride, \
                 int64_t rows_a, int64_t K, float* out, int64_t ldo);
namespace tl::avx2 { TL_QGEMM_LIST(TL_QGEMM_DECL) }
namespace tl::avx512 { TL_QGEMM_LIST(TL_QGEMM_DECL) }
namespace tl::avx512vnni { TL_QGEMM_LIST(TL_QGEMM_DECL) }
