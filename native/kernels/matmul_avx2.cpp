// AVX2 + FMA + F16C variants of the matmul building blocks (see matmul_kernels.h).
// ISA-file rule: only <immintrin.h>, C headers and static-inline headers here.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/f16.h"
#include "kernels/matmul_kernels.h"
#include "kernels/weight_types.h"

#define TL_INLINE static inline __attribute__((always_inline))

namespace tl::avx2 {
namespace {

enum : int { kF32 = ggml::F32, kF16 = ggml::F16, kBF16 = ggml::BF16, kQ8 = ggml::Q8_0 };  // weight_types.h ids

TL_INLINE int64_t row_bytes(int wt, int64_t K) {
  return wt == kF32 ? K * 4 : wt == kQ8 ? K / 32 * 34 : K * 2;
}

TL_INLINE float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Broadcast of a Q8_0 block's f16 scale, converted to f32.
TL_INLINE __m256 q8_scale(const uint8_t* block) {
  uint16_t h;
  std::memcpy(&h, block, 2);
  return _mm256_cvtph_ps(_mm_set1_epi16((short)h));
}

// 8 int8 weights → f32, times the block scale (exact: 11-bit scale × 8-bit integer).
TL_INLINE __m256 q8_load8(const int8_t* q, __m256 d) {
  __m128i b = _mm_loadl_epi64((const __m128i*)q);
  return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), d);
}

// 8 int8 weights → f32, unscaled.
TL_INLINE __m256 q8_int8(const int8_t* q) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)q)));
}

// 8 consecutive weights w[row, k..k+7] as f32. For Q8_0, k must be a multiple of 8.
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
      return q8_load8((const int8_t*)(block + 2) + (k & 31), q8_scale(block));
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

// GEMV over R weight rows at once (R = 4, `stride` rows apart, or 1 for the tail); two accumulators per row keep
// eight FMA chains in flight. wt is a compile-time constant after inlining.
TL_INLINE void gemv_t_rows(float* out, const float* a, const uint8_t* w, int wt, int64_t K, int64_t n, int R,
                            int64_t stride = 1) {
  const int64_t rb = row_bytes(wt, K);
  const uint8_t* row[4];
  __m256 acc0[4], acc1[4];
  for (int r = 0; r < R; r++) {
    row[r] = w + (n + r * stride) * rb;
    acc0[r] = _mm256_setzero_ps();
    acc1[r] = _mm256_setzero_ps();
  }
  int64_t k = 0;
  if (wt == kQ8) {
    for (; k < K; k += 32) {
      const __m256 a0 = _mm256_loadu_ps(a + k), a1 = _mm256_loadu_ps(a + k + 8);
      const __m256 a2 = _mm256_loadu_ps(a + k + 16), a3 = _mm256_loadu_ps(a + k + 24);
      // Σ q·a over the block first, then one multiply-add by the scale: 5 instead of 8
      // multiplies per 32 weights (the rounding differs from d·q·a only at f32 level).
      for (int r = 0; r < R; r++) {
        const uint8_t* block = row[r] + (k >> 5) * 34;
        const int8_t* q = (const int8_t*)(block + 2);
        __m256 s0 = _mm256_mul_ps(q8_int8(q), a0);
        __m256 s1 = _mm256_mul_ps(q8_int8(q + 8), a1);
        s0 = _mm256_fmadd_ps(q8_int8(q + 16), a2, s0);
        s1 = _mm256_fmadd_ps(q8_int8(q + 24), a3, s1);
        const __m256 d = q8_scale(block);
        if (r & 1)
          acc1[r] = _mm256_fmadd_ps(_mm256_add_ps(s0, s1), d, acc1[r]);
        else
          acc0[r] = _mm256_fmadd_ps(_mm256_add_ps(s0, s1), d, acc0[r]);
      }
    }
  } else {
    for (; k + 16 <= K; k += 16) {
      const __m256 a0 = _mm256_loadu_ps(a + k), a1 = _mm256_loadu_ps(a + k + 8);
      if (wt == kF32)  // this step's cache line of each row, 1 KiB ahead (matmul_avx512.cpp's kGemvF32Prefetch)
        for (int r = 0; r < R; r++) _mm_prefetch(reinterpret_cast<const char*>(row[r] + k * 4) + 1024, _MM_HINT_T0);
      for (int r = 0; r < R; r++) {
        acc0[r] = _mm256_fmadd_ps(load8(row[r], wt, k), a0, acc0[r]);
        acc1[r] = _mm256_fmadd_ps(load8(row[r], wt, k + 8), a1, acc1[r]);
      }
    }
    if (k + 8 <= K) {
      const __m256 a0 = _mm256_loadu_ps(a + k);
      for (int r = 0; r < R; r++) acc0[r] = _mm256_fmadd_ps(load8(row[r], wt, k), a0, acc0[r]);
      k += 8;
    }
  }
  for (int r = 0; r < R; r++) {
    float s = hsum(_mm256_add_ps(acc0[r], acc1[r]));
    for (int64_t kk = k; kk < K; kk++) s += a[kk] * load1(row[r], wt, kk);
    out[n + r * stride] = s;
  }
}

// The vector helpers of gemv_float.inc.
struct FVec {
  using V = __m256;
  static constexpr int kLanes = 8;
  TL_INLINE V zero() { return _mm256_setzero_ps(); }
  TL_INLINE V load(const float* p) { return _mm256_loadu_ps(p); }
  TL_INLINE V load_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)p)); }
  TL_INLINE V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  TL_INLINE float reduce(V v) { return hsum(v); }
};
#include "kernels/gemv_float.inc"

TL_INLINE void gemv_t_f16_rows(float* out, const float* a, const uint16_t* w, int64_t K, int64_t n0, int64_t n1) {
  if (gemv_t_f16_segments(out, a, w, K, n0, n1)) return;
  // K % 8 != 0 (ggml's vec_dot path): one row at a time in memory order, four accumulators.
  for (int64_t n = n0; n < n1; n++) {
    const uint16_t* row = w + n * K;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 32 <= K; k += 32) {
      acc0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(row + k))), _mm256_loadu_ps(a + k), acc0);
      acc1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(row + k + 8))), _mm256_loadu_ps(a + k + 8), acc1);
      acc2 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(row + k + 16))), _mm256_loadu_ps(a + k + 16), acc2);
      acc3 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(row + k + 24))), _mm256_loadu_ps(a + k + 24), acc3);
    }
    // ggml's order (its AVX ggml_vec_dot_f16): accumulators paired (0+2, 1+3), then summed, the
    // halves added and reduced with two horizontal adds, the tail past the last 32 added in double.
    const __m256 v = _mm256_add_ps(_mm256_add_ps(acc0, acc2), _mm256_add_ps(acc1, acc3));
    __m128 t = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    t = _mm_hadd_ps(t, t);
    double s = _mm_cvtss_f32(_mm_hadd_ps(t, t));
    for (; k < K; k++) s += (double)(a[k] * f16_to_f32(row[k]));
    out[n] = (float)s;
  }
}

// 8×8 transpose of r[0..7] in place.
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

TL_INLINE void pack_bt_typed(float* pb, const uint8_t* w, int wt, int64_t K, int64_t n0, int64_t nr, int64_t k0,
                             int64_t kc) {
  for (int64_t j0 = 0; j0 < kNR; j0 += 8) pack_bt_8(pb, w, wt, K, n0, nr, j0, k0, kc);
}

// Skinny M: a 4×3 tile of dot products, out[m, j] = Σ_k a[m, k] · wr[j][k] for m < RM, j < RN,
// with f32 weight rows wr. 12 accumulators + 3 weight vectors + 1 activation vector = 16
// registers; each weight vector feeds RM FMAs, each activation vector RN.
TL_INLINE void dot_tile(float* out, int64_t ldo, const float* a, int64_t lda, const float* const* wr, int64_t K,
                        int RM, int RN) {
  __m256 acc[4][3];
  for (int m = 0; m < RM; m++)
    for (int j = 0; j < RN; j++) acc[m][j] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    __m256 wv[3];
    for (int j = 0; j < RN; j++) wv[j] = _mm256_loadu_ps(wr[j] + k);
    for (int m = 0; m < RM; m++) {
      const __m256 av = _mm256_loadu_ps(a + m * lda + k);
      for (int j = 0; j < RN; j++) acc[m][j] = _mm256_fmadd_ps(av, wv[j], acc[m][j]);
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
      const __m256 d = q8_scale(block);
      for (int c = 0; c < 4; c++) _mm256_storeu_ps(dst + k + 8 * c, q8_load8((const int8_t*)(block + 2) + 8 * c, d));
    }
    return;
  }
  for (; k + 8 <= K; k += 8) _mm256_storeu_ps(dst + k, load8(row, wt, k));
  for (; k < K; k++) dst[k] = load1(row, wt, k);
}


// The first R (< MR) rows of a register tile, for the bottom edge of out: same loop as micro().
TL_INLINE void micro_rows(int64_t kc, const float* pa, const float* pb, float* c, int64_t ldc, int accumulate, int R) {
  __m256 acc[kMR][2];
  for (int i = 0; i < R; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; k++) {
    const __m256 b0 = _mm256_load_ps(pb), b1 = _mm256_load_ps(pb + 8);
    for (int i = 0; i < R; i++) {
      const __m256 x = _mm256_broadcast_ss(pa + i);
      acc[i][0] = _mm256_fmadd_ps(x, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(x, b1, acc[i][1]);
    }
    pa += kMR;
    pb += kNR;
  }
  for (int i = 0; i < R; i++) {
    float* ci = c + i * ldc;
    if (accumulate) {
      acc[i][0] = _mm256_add_ps(acc[i][0], _mm256_loadu_ps(ci));
      acc[i][1] = _mm256_add_ps(acc[i][1], _mm256_loadu_ps(ci + 8));
    }
    _mm256_storeu_ps(ci, acc[i][0]);
    _mm256_storeu_ps(ci + 8, acc[i][1]);
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
  // 32 columns at a time, two k-phases → 8 independent accumulators.
  for (; n + 32 <= n1; n += 32) {
    __m256 acc[8];
    for (int j = 0; j < 8; j++) acc[j] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 2 <= K; k += 2) {
      const float* p0 = b + k * N + n;
      const float* p1 = p0 + N;
      const __m256 x0 = _mm256_broadcast_ss(a + k), x1 = _mm256_broadcast_ss(a + k + 1);
      for (int j = 0; j < 4; j++) {
        acc[j] = _mm256_fmadd_ps(x0, _mm256_loadu_ps(p0 + 8 * j), acc[j]);
        acc[4 + j] = _mm256_fmadd_ps(x1, _mm256_loadu_ps(p1 + 8 * j), acc[4 + j]);
      }
    }
    if (k < K) {
      const float* p0 = b + k * N + n;
      const __m256 x0 = _mm256_broadcast_ss(a + k);
      for (int j = 0; j < 4; j++) acc[j] = _mm256_fmadd_ps(x0, _mm256_loadu_ps(p0 + 8 * j), acc[j]);
    }
    for (int j = 0; j < 4; j++) _mm256_storeu_ps(out + n + 8 * j, _mm256_add_ps(acc[j], acc[4 + j]));
  }
  for (; n + 8 <= n1; n += 8) {
    __m256 acc = _mm256_setzero_ps();
    for (int64_t k = 0; k < K; k++) acc = _mm256_fmadd_ps(_mm256_broadcast_ss(a + k), _mm256_loadu_ps(b + k * N + n), acc);
    _mm256_storeu_ps(out + n, acc);
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
  static_assert(kMR == 6, "pack_a's store mask has 6 lanes");
  int64_t k = 0;
  {  // rows past mr (the bottom edge) load as zeros
    const __m256i mask = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0);
    for (; k + 8 <= kc; k += 8) {
      __m256 r[8];
      for (int i = 0; i < 8; i++) r[i] = i < mr ? _mm256_loadu_ps(a + i * lda + k) : _mm256_setzero_ps();
      transpose8(r);
      for (int t = 0; t < 8; t++) _mm256_maskstore_ps(pa + (k + t) * kMR, mask, r[t]);
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
      _mm256_store_ps(dst, _mm256_loadu_ps(src));
      _mm256_store_ps(dst + 8, _mm256_loadu_ps(src + 8));
    } else {
      for (int j = 0; j < kNR; j++) dst[j] = j < nr ? src[j] : 0.0f;
    }
  }
}

// The 6×16 register tile: 12 accumulators, 2 B loads and 6 broadcasts per k step.
void micro(int64_t kc, const float* pa, const float* pb, float* c, int64_t ldc, int accumulate) {
  // The tile of out is read and written only after the k loop: fetch its lines now, so the loop
  // hides their latency (out can be far larger than the caches).
  for (int i = 0; i < kMR; i++) __builtin_prefetch(c + i * ldc, 1, 3);
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int i = 0; i < kMR; i++) _mm_prefetch((const char*)(c + i * ldc), _MM_HINT_T0);  // C is needed at the end
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; k++) {
    const __m256 b0 = _mm256_load_ps(pb), b1 = _mm256_load_ps(pb + 8);
    __m256 x;
    x = _mm256_broadcast_ss(pa + 0); c00 = _mm256_fmadd_ps(x, b0, c00); c01 = _mm256_fmadd_ps(x, b1, c01);
    x = _mm256_broadcast_ss(pa + 1); c10 = _mm256_fmadd_ps(x, b0, c10); c11 = _mm256_fmadd_ps(x, b1, c11);
    x = _mm256_broadcast_ss(pa + 2); c20 = _mm256_fmadd_ps(x, b0, c20); c21 = _mm256_fmadd_ps(x, b1, c21);
    x = _mm256_broadcast_ss(pa + 3); c30 = _mm256_fmadd_ps(x, b0, c30); c31 = _mm256_fmadd_ps(x, b1, c31);
    x = _mm256_broadcast_ss(pa + 4); c40 = _mm256_fmadd_ps(x, b0, c40); c41 = _mm256_fmadd_ps(x, b1, c41);
    x = _mm256_broadcast_ss(pa + 5); c50 = _mm256_fmadd_ps(x, b0, c50); c51 = _mm256_fmadd_ps(x, b1, c51);
    pa += kMR;
    pb += kNR;
  }
  __m256 rows[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  for (int i = 0; i < kMR; i++) {
    float* ci = c + i * ldc;
    if (accumulate) {
      rows[i][0] = _mm256_add_ps(rows[i][0], _mm256_loadu_ps(ci));
      rows[i][1] = _mm256_add_ps(rows[i][1], _mm256_loadu_ps(ci + 8));
    }
    _mm256_storeu_ps(ci, rows[i][0]);
    _mm256_storeu_ps(ci + 8, rows[i][1]);
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

}  // namespace tl::avx2
