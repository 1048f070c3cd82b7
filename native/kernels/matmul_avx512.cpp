// AVX-512 (F/BW/VL/DQ) variants of the matmul building blocks (see matmul_kernels.h). Mirrors
// matmul_avx2.cpp line by line with 16-lane vectors: the same loops, a 6×32 register tile instead
// of 6×16. (Compiled everywhere, executed only where the CPU has AVX-512.)
// ISA-file rule: only <immintrin.h>, C headers and static-inline headers here.
// GCC 12 warns falsely about the undefined-vector idiom inside its own AVX-512 headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/f16.h"
#include "kernels/matmul_kernels.h"
#include "kernels/weight_types.h"

#define TL_INLINE static inline __attribute__((always_inline))

namespace tl::avx512 {
namespace {

enum : int { kF32 = ggml::F32, kF16 = ggml::F16, kBF16 = ggml::BF16, kQ8 = ggml::Q8_0 };  // weight_types.h ids

TL_INLINE int64_t row_bytes(int wt, int64_t K) {
  return wt == kF32 ? K * 4 : wt == kQ8 ? K / 32 * 34 : K * 2;
}

TL_INLINE float hsum(__m512 v) { return _mm512_reduce_add_ps(v); }

// Broadcast of a Q8_0 block's f16 scale, converted to f32 (16 and 8 lanes).
TL_INLINE __m512 q8_scale16(const uint8_t* block) {
  uint16_t h;
  std::memcpy(&h, block, 2);
  return _mm512_cvtph_ps(_mm256_set1_epi16((short)h));
}
TL_INLINE __m256 q8_scale8(const uint8_t* block) {
  uint16_t h;
  std::memcpy(&h, block, 2);
  return _mm256_cvtph_ps(_mm_set1_epi16((short)h));
}

// 16 (or 8) int8 weights → f32, times the block scale (exact).
TL_INLINE __m512 q8_load16(const int8_t* q, __m512 d) {
  __m128i b = _mm_loadu_si128((const __m128i*)q);
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b)), d);
}
TL_INLINE __m256 q8_load8(const int8_t* q, __m256 d) {
  __m128i b = _mm_loadl_epi64((const __m128i*)q);
  return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), d);
}

// 16 int8 weights → f32, unscaled.
TL_INLINE __m512 q8_int8(const int8_t* q) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)q)));
}

// 16 consecutive weights w[row, k..k+15] as f32. For Q8_0, k must be a multiple of 16.
TL_INLINE __m512 load16(const uint8_t* row, int wt, int64_t k) {
  switch (wt) {
    case kF32: return _mm512_loadu_ps((const float*)row + k);
    case kF16: return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)((const uint16_t*)row + k)));
    case kBF16: {
      __m256i h = _mm256_loadu_si256((const __m256i*)((const uint16_t*)row + k));
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    default: {
      const uint8_t* block = row + (k >> 5) * 34;
      return q8_load16((const int8_t*)(block + 2) + (k & 31), q8_scale16(block));
    }
  }
}

// 8 consecutive weights as f32 (used by the packing transposes). For Q8_0, k % 8 == 0.
TL_INLINE __m256 load8(const uint8_t* row, int wt, int64_t k) {
  switch (wt) {
    case kF32: return _mm256_loadu_ps((const float*)row + k);
    case kF16: return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)((const uint16_t*)row + k)));
    case kBF16: {
      __m128i h = _mm_loadu_si128((const __m128i*)((const uint16_t*)row + k));
      return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    default: {
      const uint8_t* block = row + (k >> 5) * 34;
      return q8_load8((const int8_t*)(block + 2) + (k & 31), q8_scale8(block));
    }
  }
}

// One weight w[row, k] as f32 (tails).
TL_INLINE float load1(const uint8_t* row, int wt, int64_t k) {
  switch (wt) {
    case kF32: return ((const float*)row)[k];
    case kF16: return f16_to_f32(((const uint16_t*)row)[k]);
    case kBF16: return bf16_to_f32(((const uint16_t*)row)[k]);
    default: {
      const uint8_t* block = row + (k >> 5) * 34;
      uint16_t h;
      std::memcpy(&h, block, 2);
      return f16_to_f32(h) * (float)((const int8_t*)(block + 2))[k & 31];
    }
  }
}

// F32 GEMV prefetches each of its 4 row streams 1 KiB ahead: 4 bytes a weight outrun the hardware
// prefetcher (bf16 and f16 stream at ~40 GB/s without). Zen 5, 1 thread, the 110M Llama's layer
// GEMVs streamed 28 → 33 GB/s (bench/ab/gemv-ab.cjs, type 0); 110M f32 decode 1.08× (AVX2 path
// 1.03–1.05×; bench/ab/decode-addon-ab.mjs), 2 threads unchanged. 512 and 2048 bytes: 0.96–0.98×
// of 1024; the same hints for bf16: no gain.
constexpr int kGemvF32Prefetch = 1024;
// GEMV over R weight rows at once (R = 4, `stride` rows apart, or 1 for the tail), two accumulators per row.
TL_INLINE void gemv_t_rows(float* out, const float* a, const uint8_t* w, int wt, int64_t K, int64_t n, int R,
                            int64_t stride = 1) {
  const int64_t rb = row_bytes(wt, K);
  const uint8_t* row[4];
  __m512 acc0[4], acc1[4];
  for (int r = 0; r < R; r++) {
    row[r] = w + (n + r * stride) * rb;
    acc0[r] = _mm512_setzero_ps();
    acc1[r] = _mm512_setzero_ps();
  }
  int64_t k = 0;
  if (wt == kQ8) {
    for (; k < K; k += 32) {
      const __m512 a0 = _mm512_loadu_ps(a + k), a1 = _mm512_loadu_ps(a + k + 16);
      // Σ q·a over the block first, then one multiply-add by the scale (as in the AVX2 file).
      for (int r = 0; r < R; r++) {
        const uint8_t* block = row[r] + (k >> 5) * 34;
        const int8_t* q = (const int8_t*)(block + 2);
        __m512 s0 = _mm512_mul_ps(q8_int8(q), a0);
        s0 = _mm512_fmadd_ps(q8_int8(q + 16), a1, s0);
        const __m512 d = q8_scale16(block);
        if (r & 1)
          acc1[r] = _mm512_fmadd_ps(s0, d, acc1[r]);
        else
          acc0[r] = _mm512_fmadd_ps(s0, d, acc0[r]);
      }
    }
  } else {
    for (; k + 32 <= K; k += 32) {
      const __m512 a0 = _mm512_loadu_ps(a + k), a1 = _mm512_loadu_ps(a + k + 16);
      if (wt == kF32)  // the 2 cache lines of each row this step reads, kGemvF32Prefetch bytes ahead
        for (int r = 0; r < R; r++) {
          _mm_prefetch(reinterpret_cast<const char*>(row[r] + k * 4) + kGemvF32Prefetch, _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(row[r] + k * 4) + kGemvF32Prefetch + 64, _MM_HINT_T0);
        }
      for (int r = 0; r < R; r++) {
        acc0[r] = _mm512_fmadd_ps(load16(row[r], wt, k), a0, acc0[r]);
        acc1[r] = _mm512_fmadd_ps(load16(row[r], wt, k + 16), a1, acc1[r]);
      }
    }
    if (k + 16 <= K) {
      const __m512 a0 = _mm512_loadu_ps(a + k);
      for (int r = 0; r < R; r++) acc0[r] = _mm512_fmadd_ps(load16(row[r], wt, k), a0, acc0[r]);
      k += 16;
    }
  }
  for (int r = 0; r < R; r++) {
    float s = hsum(_mm512_add_ps(acc0[r], acc1[r]));
    for (int64_t kk = k; kk < K; kk++) s += a[kk] * load1(row[r], wt, kk);
    out[n + r * stride] = s;
  }
}

// The vector helpers of gemv_float.inc.
struct FVec {
  using V = __m512;
  static constexpr int kLanes = 16;
  TL_INLINE V zero() { return _mm512_setzero_ps(); }
  TL_INLINE V load(const float* p) { return _mm512_loadu_ps(p); }
  TL_INLINE V load_f16(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)p)); }
  TL_INLINE V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  TL_INLINE float reduce(V v) { return hsum(v); }
};
#include "kernels/gemv_float.inc"

TL_INLINE void gemv_t_f16_rows(float* out, const float* a, const uint16_t* w, int64_t K, int64_t n0, int64_t n1) {
  if (gemv_t_f16_segments(out, a, w, K, n0, n1)) return;
  // K % 16 != 0 (ggml's vec_dot path: its AVX ggml_vec_dot_f16's order, four 8-lane accumulators
  // over 32 weights per step; acc01 holds its accumulators 0 | 1, acc23 its 2 | 3): one row at a
  // time, in memory order.
  for (int64_t n = n0; n < n1; n++) {
    const uint16_t* row = w + n * K;
    __m512 acc01 = _mm512_setzero_ps(), acc23 = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 32 <= K; k += 32) {
      acc01 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(row + k))), _mm512_loadu_ps(a + k), acc01);
      acc23 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(row + k + 16))), _mm512_loadu_ps(a + k + 16), acc23);
    }
    // ggml's reduction: (0 + 2) + (1 + 3), the two 128-bit halves added, two horizontal adds; the
    // tail past the last 32 added in double.
    const __m512 x = _mm512_add_ps(acc01, acc23);
    const __m256 v = _mm256_add_ps(_mm512_castps512_ps256(x), _mm512_extractf32x8_ps(x, 1));
    __m128 t = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    t = _mm_hadd_ps(t, t);
    double s = _mm_cvtss_f32(_mm_hadd_ps(t, t));
    for (; k < K; k++) s += (double)(a[k] * f16_to_f32(row[k]));
    out[n] = (float)s;
  }
}

// 8×8 transpose of r[0..7] in place (256-bit, as in the AVX2 file).
TL_INLINE void transpose8(__m256 r[8]) {
  __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// Packs 8 columns (weight rows n0+j0 .. n0+j0+7, those ≥ nr as zeros) of the B panel.
TL_INLINE void pack_bt_8(float* pb, const uint8_t* w, int wt, int64_t K, int64_t n0, int64_t nr, int64_t j0,
                         int64_t k0, int64_t kc) {
  const int64_t rb = row_bytes(wt, K);
  const uint8_t* row[8];
  int live = 0;
  for (int j = 0; j < 8; j++) {
    row[j] = j0 + j < nr ? w + (n0 + j0 + j) * rb : nullptr;
    if (row[j]) live = j + 1;
  }
  int64_t k = 0;
  for (; k + 8 <= kc; k += 8) {
    __m256 r[8];
    for (int j = 0; j < 8; j++) r[j] = j < live ? load8(row[j], wt, k0 + k) : _mm256_setzero_ps();
    transpose8(r);
    for (int t = 0; t < 8; t++) _mm256_store_ps(pb + (k + t) * kNR + j0, r[t]);
  }
  for (; k < kc; k++)
    for (int j = 0; j < 8; j++) pb[k * kNR + j0 + j] = j < live ? load1(row[j], wt, k0 + k) : 0.0f;
}

// 16×16 transpose of r[0..15] in place (512-bit: 64 shuffles for 256 floats, against 96 for four
// 8×8 blocks).
TL_INLINE void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int h = 0; h < 16; h += 8)
    for (int i = 0; i < 4; i++) {
      t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
      t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xDD);
    }
  for (int i = 0; i < 8; i++) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
  }
}

// f32 weights, 16 live rows n0+j0 .. n0+j0+15: 16×16 blocks, then the k tail one at a time.
TL_INLINE void pack_bt_16_f32(float* pb, const float* w, int64_t K, int64_t n, int64_t j0, int64_t k0, int64_t kc) {
  const float* row = w + n * K + k0;
  int64_t k = 0;
  for (; k + 16 <= kc; k += 16) {
    __m512 r[16];
    for (int j = 0; j < 16; j++) r[j] = _mm512_loadu_ps(row + j * K + k);
    transpose16(r);
    for (int t = 0; t < 16; t++) _mm512_store_ps(pb + (k + t) * kNR + j0, r[t]);
  }
  for (; k < kc; k++)
    for (int j = 0; j < 16; j++) pb[k * kNR + j0 + j] = row[j * K + k];
}

// f16 / bf16 weights, 16 live rows: each row's 16 halves widened to one zmm, then the same 16×16
// transpose (16 conversions, 64 shuffles and 16 stores per 256 weights, against 32 conversions,
// 96 shuffles and 32 stores as four 8×8 blocks, and no per-row liveness tests in the loop): the
// f16 panel packing was a third of a T5 encode's GEMM time.
TL_INLINE void pack_bt_16_half(float* pb, const uint8_t* w, int wt, int64_t K, int64_t n, int64_t j0, int64_t k0,
                               int64_t kc) {
  const int64_t rb = row_bytes(wt, K);
  const uint8_t* row = w + n * rb;
  int64_t k = 0;
  for (; k + 16 <= kc; k += 16) {
    __m512 r[16];
    for (int j = 0; j < 16; j++) r[j] = load16(row + j * rb, wt, k0 + k);
    transpose16(r);
    for (int t = 0; t < 16; t++) _mm512_store_ps(pb + (k + t) * kNR + j0, r[t]);
  }
  for (; k < kc; k++)
    for (int j = 0; j < 16; j++) pb[k * kNR + j0 + j] = load1(row + j * rb, wt, k0 + k);
}

TL_INLINE void pack_bt_typed(float* pb, const uint8_t* w, int wt, int64_t K, int64_t n0, int64_t nr, int64_t k0,
                             int64_t kc) {
  for (int64_t j0 = 0; j0 < kNR; j0 += 16) {
    if (wt == kF32 && j0 + 16 <= nr) {
      pack_bt_16_f32(pb, (const float*)w, K, n0 + j0, j0, k0, kc);
    } else if ((wt == kF16 || wt == kBF16) && j0 + 16 <= nr) {
      pack_bt_16_half(pb, w, wt, K, n0 + j0, j0, k0, kc);
    } else {
      pack_bt_8(pb, w, wt, K, n0, nr, j0, k0, kc);
      pack_bt_8(pb, w, wt, K, n0, nr, j0 + 8, k0, kc);
    }
  }
}

// Skinny M: a 4×3 tile of dot products, out[m, j] = Σ_k a[m, k] · wr[j][k] for m < RM, j < RN,
// with f32 weight rows wr (as in the AVX2 file, 16 lanes).
TL_INLINE void dot_tile(float* out, int64_t ldo, const float* a, int64_t lda, const float* const* wr, int64_t K,
                        int RM, int RN) {
  __m512 acc[4][3];
  for (int m = 0; m < RM; m++)
    for (int j = 0; j < RN; j++) acc[m][j] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    __m512 wv[3];
    for (int j = 0; j < RN; j++) wv[j] = _mm512_loadu_ps(wr[j] + k);
    for (int m = 0; m < RM; m++) {
      const __m512 av = _mm512_loadu_ps(a + m * lda + k);
      for (int j = 0; j < RN; j++) acc[m][j] = _mm512_fmadd_ps(av, wv[j], acc[m][j]);
    }
  }
  for (int m = 0; m < RM; m++)
    for (int j = 0; j < RN; j++) {
      float s = hsum(acc[m][j]);
      for (int64_t kk = k; kk < K; kk++) s += a[m * lda + kk] * wr[j][kk];
      out[m * ldo + j] = s;
    }
}

// One specialized copy per (RM, RN), chosen at run time for the tails.
TL_INLINE void dot_tile_any(float* out, int64_t ldo, const float* a, int64_t lda, const float* const* wr, int64_t K,
                            int RM, int RN) {
#define TL_CASE(rm, rn) \
  case rm * 4 + rn: dot_tile(out, ldo, a, lda, wr, K, rm, rn); break;
  switch (RM * 4 + RN) {
    TL_CASE(4, 3) TL_CASE(4, 2) TL_CASE(4, 1) TL_CASE(3, 3) TL_CASE(3, 2) TL_CASE(3, 1)
    TL_CASE(2, 3) TL_CASE(2, 2) TL_CASE(2, 1) TL_CASE(1, 3) TL_CASE(1, 2) TL_CASE(1, 1)
    default: break;
  }
#undef TL_CASE
}

// Weight row n as f32 into dst (K floats).
TL_INLINE void expand_row(float* dst, const uint8_t* w, int wt, int64_t K, int64_t n) {
  const uint8_t* row = w + n * row_bytes(wt, K);
  int64_t k = 0;
  if (wt == kQ8) {  // one scale per block of 32
    for (; k < K; k += 32) {
      const uint8_t* block = row + (k >> 5) * 34;
      const __m512 d = q8_scale16(block);
      for (int c = 0; c < 2; c++) _mm512_storeu_ps(dst + k + 16 * c, q8_load16((const int8_t*)(block + 2) + 16 * c, d));
    }
    return;
  }
  for (; k + 16 <= K; k += 16) _mm512_storeu_ps(dst + k, load16(row, wt, k));
  for (; k < K; k++) dst[k] = load1(row, wt, k);
}


// The first R (< MR) rows of a register tile, for the bottom edge of out: same loop as micro().
TL_INLINE void micro_rows(int64_t kc, const float* pa, const float* pb, float* c, int64_t ldc, int accumulate, int R) {
  __m512 acc[kMR][2];
  for (int i = 0; i < R; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; k++) {
    const __m512 b0 = _mm512_load_ps(pb), b1 = _mm512_load_ps(pb + 16);
    for (int i = 0; i < R; i++) {
      const __m512 x = _mm512_set1_ps(pa[i]);
      acc[i][0] = _mm512_fmadd_ps(x, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(x, b1, acc[i][1]);
    }
    pa += kMR;
    pb += kNR;
  }
  for (int i = 0; i < R; i++) {
    float* ci = c + i * ldc;
    if (accumulate) {
      acc[i][0] = _mm512_add_ps(acc[i][0], _mm512_loadu_ps(ci));
      acc[i][1] = _mm512_add_ps(acc[i][1], _mm512_loadu_ps(ci + 16));
    }
    _mm512_storeu_ps(ci, acc[i][0]);
    _mm512_storeu_ps(ci + 16, acc[i][1]);
  }
}

}  // namespace

void gemv_t(float* out, const float* a, const void* w, int wt, int64_t K, int64_t n0, int64_t n1) {
  const uint8_t* wb = (const uint8_t*)w;
  switch (wt) {  // one specialized copy per weight type
    case kF32: gemv_t_typed(out, a, wb, kF32, K, n0, n1); break;
    case kF16: gemv_t_f16_rows(out, a, (const uint16_t*)w, K, n0, n1); break;
    case kBF16: gemv_t_typed(out, a, wb, kBF16, K, n0, n1); break;
    default: gemv_t_typed(out, a, wb, kQ8, K, n0, n1); break;
  }
}

void skinny_t(float* out, int64_t ldo, const float* a, int64_t M, const void* w, int wt, int64_t K, int64_t n0,
              int64_t n1, float* scratch) {
  const uint8_t* wb = (const uint8_t*)w;
  for (int64_t n = n0; n < n1; n += 3) {
    const int rn = (int)(n1 - n < 3 ? n1 - n : 3);
    const float* wr[3];
    for (int j = 0; j < rn; j++) {
      if (wt == kF32) {
        wr[j] = (const float*)wb + (n + j) * K;
      } else {  // convert once, reuse for every row of a
        expand_row(scratch + j * K, wb, wt, K, n + j);
        wr[j] = scratch + j * K;
      }
    }
    for (int64_t m = 0; m < M; m += 4) {
      const int rm = (int)(M - m < 4 ? M - m : 4);
      dot_tile_any(out + m * ldo + n, ldo, a + m * K, K, wr, K, rm, rn);
    }
  }
}

void gemv(float* out, const float* a, const float* b, int64_t K, int64_t N, int64_t n0, int64_t n1) {
  int64_t n = n0;
  // 64 columns at a time, two k-phases → 8 independent accumulators.
  for (; n + 64 <= n1; n += 64) {
    __m512 acc[8];
    for (int j = 0; j < 8; j++) acc[j] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 2 <= K; k += 2) {
      const float* p0 = b + k * N + n;
      const float* p1 = p0 + N;
      const __m512 x0 = _mm512_set1_ps(a[k]), x1 = _mm512_set1_ps(a[k + 1]);
      for (int j = 0; j < 4; j++) {
        acc[j] = _mm512_fmadd_ps(x0, _mm512_loadu_ps(p0 + 16 * j), acc[j]);
        acc[4 + j] = _mm512_fmadd_ps(x1, _mm512_loadu_ps(p1 + 16 * j), acc[4 + j]);
      }
    }
    if (k < K) {
      const float* p0 = b + k * N + n;
      const __m512 x0 = _mm512_set1_ps(a[k]);
      for (int j = 0; j < 4; j++) acc[j] = _mm512_fmadd_ps(x0, _mm512_loadu_ps(p0 + 16 * j), acc[j]);
    }
    for (int j = 0; j < 4; j++) _mm512_storeu_ps(out + n + 16 * j, _mm512_add_ps(acc[j], acc[4 + j]));
  }
  for (; n + 16 <= n1; n += 16) {
    __m512 acc = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k++) acc = _mm512_fmadd_ps(_mm512_set1_ps(a[k]), _mm512_loadu_ps(b + k * N + n), acc);
    _mm512_storeu_ps(out + n, acc);
  }
  for (; n < n1; n++) {
    float s = 0.0f;
    for (int64_t k = 0; k < K; k++) s += a[k] * b[k * N + n];
    out[n] = s;
  }
}

// 8 k steps at a time: the MR rows (zeros past mr, MR ≤ 8) as an 8×8 block, transposed, each
// column's first MR floats stored in k order (masked stores: nothing past the panel is written).
void pack_a(float* pa, const float* a, int64_t lda, int64_t mr, int64_t kc) {
  static_assert(kMR <= 8, "pack_a transposes 8 rows at a time");
  int64_t k = 0;
  {  // rows past mr (the bottom edge) load as zeros
    const __mmask8 mask = (__mmask8)((1u << kMR) - 1);
    for (; k + 8 <= kc; k += 8) {
      __m256 r[8];
      for (int i = 0; i < 8; i++) r[i] = i < mr ? _mm256_loadu_ps(a + i * lda + k) : _mm256_setzero_ps();
      transpose8(r);
      for (int t = 0; t < 8; t++) _mm256_mask_storeu_ps(pa + (k + t) * kMR, mask, r[t]);
    }
  }
  for (; k < kc; k++)
    for (int i = 0; i < kMR; i++) pa[k * kMR + i] = i < mr ? a[i * lda + k] : 0.0f;
}

void pack_bt(float* pb, const void* w, int wt, int64_t K, int64_t n0, int64_t nr, int64_t k0, int64_t kc) {
  const uint8_t* wb = (const uint8_t*)w;
  switch (wt) {
    case kF32: pack_bt_typed(pb, wb, kF32, K, n0, nr, k0, kc); break;
    case kF16: pack_bt_typed(pb, wb, kF16, K, n0, nr, k0, kc); break;
    case kBF16: pack_bt_typed(pb, wb, kBF16, K, n0, nr, k0, kc); break;
    default: pack_bt_typed(pb, wb, kQ8, K, n0, nr, k0, kc); break;
  }
}

void pack_b(float* pb, const float* b, int64_t ldb, int64_t nr, int64_t kc) {
  for (int64_t k = 0; k < kc; k++) {
    const float* src = b + k * ldb;
    float* dst = pb + k * kNR;
    if (nr == kNR) {
      _mm512_store_ps(dst, _mm512_loadu_ps(src));
      _mm512_store_ps(dst + 16, _mm512_loadu_ps(src + 16));
    } else {
      for (int j = 0; j < kNR; j++) dst[j] = j < nr ? src[j] : 0.0f;
    }
  }
}

// The 6×32 register tile: 12 accumulators, 2 B loads and 6 broadcasts per k step.
void micro(int64_t kc, const float* pa, const float* pb, float* c, int64_t ldc, int accumulate) {
  // The tile of out is read and written only after the k loop: fetch its lines now, so the loop
  // hides their latency (out can be far larger than the caches).
  for (int i = 0; i < kMR; i++) {
    __builtin_prefetch(c + i * ldc, 1, 3);
    __builtin_prefetch(c + i * ldc + 16, 1, 3);
  }
  __m512 c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps(), c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps();
  __m512 c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps(), c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps();
  __m512 c40 = _mm512_setzero_ps(), c41 = _mm512_setzero_ps(), c50 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps();
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; k++) {
    const __m512 b0 = _mm512_load_ps(pb), b1 = _mm512_load_ps(pb + 16);
    __m512 x;
    x = _mm512_set1_ps(pa[0]); c00 = _mm512_fmadd_ps(x, b0, c00); c01 = _mm512_fmadd_ps(x, b1, c01);
    x = _mm512_set1_ps(pa[1]); c10 = _mm512_fmadd_ps(x, b0, c10); c11 = _mm512_fmadd_ps(x, b1, c11);
    x = _mm512_set1_ps(pa[2]); c20 = _mm512_fmadd_ps(x, b0, c20); c21 = _mm512_fmadd_ps(x, b1, c21);
    x = _mm512_set1_ps(pa[3]); c30 = _mm512_fmadd_ps(x, b0, c30); c31 = _mm512_fmadd_ps(x, b1, c31);
    x = _mm512_set1_ps(pa[4]); c40 = _mm512_fmadd_ps(x, b0, c40); c41 = _mm512_fmadd_ps(x, b1, c41);
    x = _mm512_set1_ps(pa[5]); c50 = _mm512_fmadd_ps(x, b0, c50); c51 = _mm512_fmadd_ps(x, b1, c51);
    pa += kMR;
    pb += kNR;
  }
  __m512 rows[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  for (int i = 0; i < kMR; i++) {
    float* ci = c + i * ldc;
    if (accumulate) {
      rows[i][0] = _mm512_add_ps(rows[i][0], _mm512_loadu_ps(ci));
      rows[i][1] = _mm512_add_ps(rows[i][1], _mm512_loadu_ps(ci + 16));
    }
    _mm512_storeu_ps(ci, rows[i][0]);
    _mm512_storeu_ps(ci + 16, rows[i][1]);
  }
}

void micro_edge(int64_t kc, const float* pa, const float* pb, float* c, int64_t ldc, int accumulate, int rows) {
  switch (rows) {  // one specialized copy per row count
    case 1: micro_rows(kc, pa, pb, c, ldc, accumulate, 1); break;
    case 2: micro_rows(kc, pa, pb, c, ldc, accumulate, 2); break;
    case 3: micro_rows(kc, pa, pb, c, ldc, accumulate, 3); break;
    case 4: micro_rows(kc, pa, pb, c, ldc, accumulate, 4); break;
    default: micro_rows(kc, pa, pb, c, ldc, accumulate, 5); break;
  }
}

}  // namespace tl::avx512

// ---- bf16 pairs (vdpbf16ps): AVX-512 BF16 CPUs only (matmul.cpp asks active_bf16_dot()) ----
// The panels hold one 32-bit word per (row or column, k pair): the bf16 values at k = 2p and 2p + 1,
// packed by pack_a / pack_bt as if they were f32 (bit moves only). One vdpbf16ps adds both products
// of a pair to each f32 lane: the 6×32 tile of micro() at half the instructions per multiply-add.
namespace tl::avx512 {
namespace {

#define TL_BF16_INLINE static inline __attribute__((always_inline, target("avx512bf16")))

TL_BF16_INLINE __m512bh bf16_pairs(__m512 words) { return (__m512bh)_mm512_castps_si512(words); }

// One k pair of R rows into acc: 2 B loads, R broadcasts, 2R vdpbf16ps.
TL_BF16_INLINE void bf16_step(__m512 acc[][2], const float* pa, const float* pb, int R) {
  const __m512bh b0 = bf16_pairs(_mm512_load_ps(pb)), b1 = bf16_pairs(_mm512_load_ps(pb + 16));
  for (int i = 0; i < R; i++) {
    const __m512bh x = bf16_pairs(_mm512_set1_ps(pa[i]));
    acc[i][0] = _mm512_dpbf16_ps(acc[i][0], x, b0);
    acc[i][1] = _mm512_dpbf16_ps(acc[i][1], x, b1);
  }
}

// The first R (≤ MR) rows of a tile, 2 B loads and R broadcasts per k pair. Two accumulator sets,
// for even and odd k pairs (4R chains, summed at the end): 2R chains left vdpbf16ps's latency
// showing (1.05–1.1× GEMM GFLOP/s with two sets, 128×2048×4096, 1 and 2 threads).
TL_BF16_INLINE void micro_bf16_rows(int64_t kc, const float* pa, const float* pb, float* c, int64_t ldc,
                                    int accumulate, int R) {
  __m512 even[kMR][2], odd[kMR][2];
  for (int i = 0; i < R; i++) even[i][0] = even[i][1] = odd[i][0] = odd[i][1] = _mm512_setzero_ps();
  int64_t k = 0;
#pragma GCC unroll 2
  for (; k + 2 <= kc; k += 2) {
    bf16_step(even, pa, pb, R);
    bf16_step(odd, pa + kMR, pb + kNR, R);
    pa += 2 * kMR;
    pb += 2 * kNR;
  }
  if (k < kc) bf16_step(even, pa, pb, R);
  for (int i = 0; i < R; i++) {
    float* ci = c + i * ldc;
    __m512 r0 = _mm512_add_ps(even[i][0], odd[i][0]), r1 = _mm512_add_ps(even[i][1], odd[i][1]);
    if (accumulate) {
      r0 = _mm512_add_ps(r0, _mm512_loadu_ps(ci));
      r1 = _mm512_add_ps(r1, _mm512_loadu_ps(ci + 16));
    }
    _mm512_storeu_ps(ci, r0);
    _mm512_storeu_ps(ci + 16, r1);
  }
}

}  // namespace

__attribute__((target("avx512bf16"))) void micro_bf16(int64_t kc, const float* pa, const float* pb, float* c,
                                                       int64_t ldc, int accumulate) {
  for (int i = 0; i < kMR; i++) {  // as in micro()
    __builtin_prefetch(c + i * ldc, 1, 3);
    __builtin_prefetch(c + i * ldc + 16, 1, 3);
  }
  micro_bf16_rows(kc, pa, pb, c, ldc, accumulate, kMR);
}

__attribute__((target("avx512bf16"))) void micro_edge_bf16(int64_t kc, const float* pa, const float* pb, float* c,
                                                            int64_t ldc, int accumulate, int rows) {
  switch (rows) {  // one specialized copy per row count
    case 1: micro_bf16_rows(kc, pa, pb, c, ldc, accumulate, 1); break;
    case 2: micro_bf16_rows(kc, pa, pb, c, ldc, accumulate, 2); break;
    case 3: micro_bf16_rows(kc, pa, pb, c, ldc, accumulate, 3); break;
    case 4: micro_bf16_rows(kc, pa, pb, c, ldc, accumulate, 4); break;
    default: micro_bf16_rows(kc, pa, pb, c, ldc, accumulate, 5); break;
  }
}

// Skinny M: a 4×3 tile of dot products of bf16 rows (a's rows rounded to bf16, the weight rows as
// stored), 32 k per vdpbf16ps, the tail of K masked in (zeros add nothing).
TL_BF16_INLINE void dot_tile_bf16(float* out, int64_t ldo, const uint16_t* a, const uint16_t* const* wr, int64_t K,
                                  int RM, int RN) {
  __m512 acc[4][3];
  for (int m = 0; m < RM; m++)
    for (int j = 0; j < RN; j++) acc[m][j] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; k += 32) {
    const __mmask32 mask = K - k >= 32 ? ~(__mmask32)0 : (__mmask32)((1u << (K - k)) - 1);
    __m512bh wv[3];
    for (int j = 0; j < RN; j++) wv[j] = (__m512bh)_mm512_maskz_loadu_epi16(mask, wr[j] + k);
    for (int m = 0; m < RM; m++) {
      const __m512bh av = (__m512bh)_mm512_maskz_loadu_epi16(mask, a + m * K + k);
      for (int j = 0; j < RN; j++) acc[m][j] = _mm512_dpbf16_ps(acc[m][j], av, wv[j]);
    }
  }
  for (int m = 0; m < RM; m++)
    for (int j = 0; j < RN; j++) out[m * ldo + j] = _mm512_reduce_add_ps(acc[m][j]);
}

__attribute__((target("avx512bf16"))) void skinny_t_bf16(float* out, int64_t ldo, const uint16_t* a, int64_t M,
                                                          const uint16_t* w, int64_t K, int64_t n0, int64_t n1) {
  for (int64_t n = n0; n < n1; n += 3) {
    const int rn = (int)(n1 - n < 3 ? n1 - n : 3);
    const uint16_t* wr[3] = {};
    for (int j = 0; j < rn; j++) wr[j] = w + (n + j) * K;
    for (int64_t m = 0; m < M; m += 4) {
      const int rm = (int)(M - m < 4 ? M - m : 4);
#define TL_CASE(rm_, rn_) \
  case rm_ * 4 + rn_: dot_tile_bf16(out + m * ldo + n, ldo, a + m * K, wr, K, rm_, rn_); break;
      switch (rm * 4 + rn) {  // one specialized copy per (RM, RN)
        TL_CASE(4, 3) TL_CASE(4, 2) TL_CASE(4, 1) TL_CASE(3, 3) TL_CASE(3, 2) TL_CASE(3, 1)
        TL_CASE(2, 3) TL_CASE(2, 2) TL_CASE(2, 1) TL_CASE(1, 3) TL_CASE(1, 2) TL_CASE(1, 1)
        default: break;
      }
#undef TL_CASE
    }
  }
}

#undef TL_BF16_INLINE
}  // namespace tl::avx512
