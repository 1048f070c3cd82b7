// Quantized GEMM tiles (prefill, and batched decode from a few rows on): a tile of weight rows ×
// quantized activation rows computed with register-blocked integer micro-kernels (qgemm.inc,
// compiled per ISA in qgemm_avx2.cpp / qgemm_avx512.cpp), instead of one dot-kernel call per output.
// TENSORLOOM_QGEMM=0 (read once) turns them off, for benchmarks.
//
// Every output is bit-identical to the type's dot kernel (qdot.inc) on the same rows: the int32
// block / group sums are exact in any order, and per output the f32 arithmetic (block scale × sum,
// the fma across blocks in sequence, K-quant mins apart, the final horizontal sum) is done in the
// dot kernel's order. matmul_quant.cpp calls them through the weight-type table (active_gemm).
#pragma once
#include <atomic>
#include <cstdint>

#include "kernels/weight_types.h"

namespace tl {

// Bumped by matmul_quant.cpp before each product's work items run. A tile kernel that prepares its
// activation rows (biases and scales for all of them) keeps that per thread and reuses it while this
// value and the activation rows are the same: in the product's other work items on that thread.
extern std::atomic<uint64_t> g_qgemm_act_generation;

// Default threshold for a table row that gives none (gemm_min_rows 0): from this many activation
// rows on the tiles, below it the dot kernels' 4-row form.
constexpr int64_t kQgemmMinRows = 33;

}  // namespace tl

// The tile kernels, as `void qgemm_<type>(…)` with QgemmTileFn's signature: on VNNI for every
// quantized type (pairs / packed pairs / 16-row kernels), on AVX2 and AVX-512BW (256-bit tiles) for
// the legacy types, IQ4_NL, IQ4_XS and the K-quants (IQ4_XS and the K-quants with kernels
// of their own, below); the K-quants' and IQ4_XS's first 256-bit tiles had measured slower than the
// dot kernels' 4-row form there (1 thread, 128×1024×2048, GFLOP/s per CPU-second, tiles vs dot, AVX2
// / AVX-512BW: q2_K 58–73 vs 72–97, q3_K 50–69 vs 65–80, q6_K 59–69 vs 89–97, iq4_xs 62–90 vs 70–96;
// IQ4_NL's old tile 44–65 vs 54–56, its two-blocks-at-a-time tile (Q4_0's) 1.55× the dot kernels
// at M = 128 on AVX2, 1.5× on AVX-512BW). Which a type uses on which ISA is its row of the weight-type table
// (weight_types.cpp, gemm_avx2 / gemm_avx512 / gemm_vnni; null = the dot path).
#define TL_QGEMM_TILE_LIST(X) X(q4_0) X(q4_1) X(q5_0) X(q5_1) X(q8_0) X(iq4_nl)
#define TL_QGEMM_LIST(X) TL_QGEMM_TILE_LIST(X) X(q2_K) X(q3_K) X(q4_K) X(q5_K) X(q6_K) X(iq4_xs)

// With each tile, the fewest activation rows from which matmul_quant.cpp uses it, per ISA
// {AVX2, AVX-512BW, VNNI} (0 = no tile there); GEMV (M = 1) always takes the dot kernels. Where the
// tiles win is mostly a question of how often a weight row is unpacked: the dot kernels' 4-row form
// unpacks it once per 4 activation rows, the tiles once per 16-row tile (16-row kernels) or 4-row
// pack for all rows; the 16-row repacking of Q2_K pays off from ~12 rows, Q4_K's (a transpose in
// registers) from ~6: Q4_K, dot → tiles, M = 4 120→124 / 142→127 (768×2048), M = 6 97→156 /
// 110→149, M = 8 129→194 / 142→178, M = 16 150→253 / 150→239 (the rest below is before that
// repacking). Measured
// 2026-12-02 (1 thread, 2048×768 and 4096×4096 weights, GFLOP/s per CPU-second, dot → tiles, A/B of
// two builds, medians of 3 alternating runs; bench: see matmul.bench.ts --quant):
//   VNNI  M = 2     4     8     16    (2048×768)
//   q8_0    52→51 77→116 78→120 74→120   q4_K 64→32 117→59 117→114 120→164 (M = 12: 121→145)
//   q4_0    19→26 60→87  59→141 58→207   q6_K 57→59 110→103 114→134 116→186 (M = 12: 109→159;
//   q2_K    36→26 103→60 113→103 110→159          4096×4096: M = 8 95→86, M = 16 78→119)
//   q3_K 33→48, q5_K 51→49 (M = 3: 53→64), iq4_nl 28→45, iq4_xs 45→60, q4_1 33→61, q5_0 32→56,
//   q5_1 31→50 at M = 2, and more from there. q2_K M = 12: 77→126.
//   AVX2 / AVX-512BW at M = 4: q8_0 64→71 / 56→72, q4_0 49→48 / 51→63 (M = 8: 50→57), q4_1
//   51→60 / 53→66, q5_0 50→56 / 38→54, q5_1 45→54 / 47→58. Q4_0's tile then took two blocks at a
//   time (qgemm.inc's tile24_s4_pairs, 2026-12-04, TENSORLOOM_ISA=avx2 bench/ab/qgemm-ab.cjs):
//   M = 128 1.96× / 1.91× (110M / 1B-shaped layer; AVX-512BW 1.80× / 1.70×), and on AVX2 it now
//   beats the dot kernels from 4 rows: M = 4 54→121 / 54→78, M = 6 28→54 / 41→62; its edges
//   through the same tile with a row repeated: M = 5 1.24×, M = 7 1.75× the old tile's edges.
//   IQ4_XS on AVX2 / AVX-512BW (2026-12-05, each weight row decoded once per call, then the dot
//   kernel's arithmetic 4 activation rows at a time; bench/ab/qgemm-ab.cjs OLD NEW 23 M 1, 110M /
//   1B-shaped layer): M = 128 1.36× / 1.23× (AVX-512BW 1.35× / 1.21×), M = 8 1.19× / 1.07×,
//   M = 4 1.01× / 0.93×: from 8 rows. Q4_K and Q2_K on AVX2 / AVX-512BW (2026-12-05, qgemm.inc's
//   tile_k_lanes, groups side by side; AVX2-only Zen 1, 110M / 1B-shaped layer): Q4_K M = 128
//   1.52×, M = 8 1.14× / 1.16×, M = 5 1.22× / 1.02×, M = 4 0.95× / 0.75×; Q2_K M = 128 1.59× /
//   1.58×, M = 8 1.23× / 1.21×, M = 5 1.11× / 1.08×, M = 4 1.02× / 0.97×: both from 5 rows. Q3_K
//   and Q6_K (tile_k_parts, parts in pairs): Q3_K M = 128 1.90× / 1.82×, M = 8 1.37× / 1.31×, M = 3
//   1.36× / 1.28×, M = 2 1.09× / 0.97× (from 3 rows); Q6_K M = 128 1.28× / 1.24×, M = 32 1.18× /
//   1.17×, M = 16 1.04× / 1.07×, M = 12 1.06× / 1.00×, M = 8 0.94× / 0.90× (from 16 rows); Q5_K
//   M = 128 1.32× / 1.31×, M = 16 1.11× / 1.12×, M = 12 1.07× / 1.06×, M = 8 0.92× / 0.91× (from 12).
#define TL_QGEMM_MIN_ROWS_q8_0 {4, 4, 4}
#define TL_QGEMM_MIN_ROWS_q4_0 {4, 4, 2}
#define TL_QGEMM_MIN_ROWS_q4_1 {4, 4, 2}
#define TL_QGEMM_MIN_ROWS_q5_0 {4, 4, 2}
#define TL_QGEMM_MIN_ROWS_q5_1 {4, 4, 2}
#define TL_QGEMM_MIN_ROWS_q2_K {5, 5, 12}
#define TL_QGEMM_MIN_ROWS_q3_K {3, 3, 2}
#define TL_QGEMM_MIN_ROWS_q4_K {5, 5, 6}
#define TL_QGEMM_MIN_ROWS_q5_K {12, 12, 3}
#define TL_QGEMM_MIN_ROWS_q6_K {16, 16, 12}
#define TL_QGEMM_MIN_ROWS_iq4_nl {4, 4, 2}
#define TL_QGEMM_MIN_ROWS_iq4_xs {8, 8, 2}

#define TL_QGEMM_DECL(t)                                                                              \
  void qgemm_##t(const uint8_t* w, int64_t w_stride, int64_t rows_w, const uint8_t* a, int64_t a_stride, \
                 int64_t rows_a, int64_t K, float* out, int64_t ldo);
namespace tl::avx2 { TL_QGEMM_TILE_LIST(TL_QGEMM_DECL) TL_QGEMM_DECL(iq4_xs) TL_QGEMM_DECL(q2_K) TL_QGEMM_DECL(q3_K) TL_QGEMM_DECL(q4_K) TL_QGEMM_DECL(q5_K) TL_QGEMM_DECL(q6_K) }
namespace tl::avx512 { TL_QGEMM_TILE_LIST(TL_QGEMM_DECL) TL_QGEMM_DECL(iq4_xs) TL_QGEMM_DECL(q2_K) TL_QGEMM_DECL(q3_K) TL_QGEMM_DECL(q4_K) TL_QGEMM_DECL(q5_K) TL_QGEMM_DECL(q6_K) }
namespace tl::avx512vnni { TL_QGEMM_LIST(TL_QGEMM_DECL) }
