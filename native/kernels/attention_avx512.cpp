// AVX-512 tile kernels for attention: the 16-lane mirror of attention_avx2.cpp (read that file
// first; the structure, names and comments match line for line). Differences: the blocked path
// pads rows to 32 (two zmm registers per register-tile row), and tails use masked loads instead
// of scalar loops. (Compiled everywhere, executed only where the CPU has AVX-512.)
// GCC 12 warns falsely about the undefined-vector idiom inside its own AVX-512 headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/attention_tile.h"
#include "kernels/f16.h"
#include "kernels/vmath_avx512.h"

namespace tl::avx512 {

static inline int round_up(int x, int m) { return (x + m - 1) / m * m; }

static inline __mmask16 tail_mask(int n) { return (__mmask16)((1u << n) - 1u); }

// 16 consecutive K/V elements as f32 (only the lanes in `m`; the others read as 0).
static inline __m512 load16(const void* base, int64_t i, bool f16, __mmask16 m = 0xffff) {
  if (f16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(base) + i));
  return _mm512_maskz_loadu_ps(m, static_cast<const float*>(base) + i);
}

// Scratch layout of the blocked path (offsets in floats, all multiples of 16).
struct Blocked {
  float* qt;      // [D][Rp]
  float* st;      // [kKeyBlock][Rp]
  float* kc;      // [kKeyBlock][D]   converted / zero-padded key block
  float* vc;      // [kKeyBlock][D]   converted value block (f16 cache)
  float* alpha;   // [Rp]
  int32_t* last;  // [Rp]
  int Rp;
};

static Blocked blocked_layout(const AttnTile* t) {
  const int D = t->D, Dp32 = round_up(D, 32);
  Blocked b;
  b.Rp = round_up(t->R, 32);
  b.qt = t->scratch;
  b.st = b.qt + (size_t)Dp32 * kMaxTileRows;
  b.kc = b.st + (size_t)kKeyBlock * kMaxTileRows;
  b.vc = b.kc + (size_t)kKeyBlock * Dp32;
  b.alpha = b.vc + (size_t)kKeyBlock * Dp32;
  b.last = reinterpret_cast<int32_t*>(b.alpha + kMaxTileRows);
  return b;
}

void attn_begin(AttnTile* t) {
  const int R = t->R, D = t->D;
  if (R <= kDirectMaxRows) {
    for (int r = 0; r < R; r++) {
      t->m[r] = -INFINITY;
      t->l[r] = 0.f;
    }
    std::memset(t->o, 0, sizeof(float) * (size_t)R * D);
    return;
  }
  Blocked b = blocked_layout(t);
  // Padding rows repeat the last real row's limit with zero queries: harmless, never written out.
  for (int r = 0; r < b.Rp; r++) {
    const bool real = r < R;
    b.last[r] = t->last[real ? r : R - 1];
    for (int d = 0; d < D; d++) b.qt[(size_t)d * b.Rp + r] = real ? t->q[(size_t)r * D + d] : 0.f;
    t->m[r] = -INFINITY;
    t->l[r] = 0.f;
  }
  std::memset(t->o, 0, sizeof(float) * (size_t)b.Rp * D);
}

// ── score modifiers (attention_tile.h: soft-capping, then the additive bias) ─────────────────

// cap·tanh(x / cap), with tanh(y) = sign(y)·(1 - e)/(1 + e), e = exp(-2|y|) ∈ (0, 1]: no overflow,
// and the absolute error stays at a few ulps of 1 (the scalar reference uses std::tanh).
static inline __m512 softcap512(__m512 x, float cap) {
  const __m512 y = _mm512_mul_ps(x, _mm512_set1_ps(1.f / cap));
  const __m512 ay = _mm512_abs_ps(y);
  const __m512 e = exp512(_mm512_mul_ps(ay, _mm512_set1_ps(-2.f)));
  const __m512 one = _mm512_set1_ps(1.f);
  const __m512 th = _mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e));
  const __mmask16 neg = _mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mul_ps(_mm512_set1_ps(cap), _mm512_mask_sub_ps(th, neg, _mm512_setzero_ps(), th));
}

// The scores s[0..n) of row r for keys j0 .. j0+n-1 (contiguous: the direct path).
static inline void score_mods_row(const AttnTile* t, int r, float* s, int64_t j0, int n) {
  if (t->softcap > 0.f) {
    for (int j = 0; j < n; j += 16) {
      const __mmask16 m = n - j >= 16 ? (__mmask16)0xffff : tail_mask(n - j);
      _mm512_mask_storeu_ps(s + j, m, softcap512(_mm512_maskz_loadu_ps(m, s + j), t->softcap));
    }
  }
  if (t->bias) {
    const float* b = t->bias[r] + j0;
    for (int j = 0; j < n; j += 16) {
      const __mmask16 m = n - j >= 16 ? (__mmask16)0xffff : tail_mask(n - j);
      _mm512_mask_storeu_ps(s + j, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, s + j), _mm512_maskz_loadu_ps(m, b + j)));
    }
  }
}

// ── direct path ──────────────────────────────────────────────────────────────────────────────

// dot(q, k_j) for 4 keys at once, written to s[0..4); two accumulators per key (even and odd
// chunks of 16) so the FMA latency is hidden.
static inline void dot4(float* s, const float* q, const void* k, int64_t stride, int64_t j, int D, bool f16) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  const int64_t o0 = j * stride, o1 = o0 + stride, o2 = o1 + stride, o3 = o2 + stride;
  int d = 0;
  for (; d + 32 <= D; d += 32) {
    const __m512 qv = _mm512_loadu_ps(q + d), qw = _mm512_loadu_ps(q + d + 16);
    a0 = _mm512_fmadd_ps(qv, load16(k, o0 + d, f16), a0);
    a1 = _mm512_fmadd_ps(qv, load16(k, o1 + d, f16), a1);
    a2 = _mm512_fmadd_ps(qv, load16(k, o2 + d, f16), a2);
    a3 = _mm512_fmadd_ps(qv, load16(k, o3 + d, f16), a3);
    b0 = _mm512_fmadd_ps(qw, load16(k, o0 + d + 16, f16), b0);
    b1 = _mm512_fmadd_ps(qw, load16(k, o1 + d + 16, f16), b1);
    b2 = _mm512_fmadd_ps(qw, load16(k, o2 + d + 16, f16), b2);
    b3 = _mm512_fmadd_ps(qw, load16(k, o3 + d + 16, f16), b3);
  }
  for (; d < D; d += 16) {
    const __mmask16 m = D - d >= 16 ? (__mmask16)0xffff : tail_mask(D - d);
    const __m512 qv = _mm512_maskz_loadu_ps(m, q + d);
    a0 = _mm512_fmadd_ps(qv, load16(k, o0 + d, f16, m), a0);
    a1 = _mm512_fmadd_ps(qv, load16(k, o1 + d, f16, m), a1);
    a2 = _mm512_fmadd_ps(qv, load16(k, o2 + d, f16, m), a2);
    a3 = _mm512_fmadd_ps(qv, load16(k, o3 + d, f16, m), a3);
  }
  // the 4 horizontal sums together: pairs of lanes of the 4 keys interleaved and added (13 shuffles
  // and adds against 4 separate reductions' ~32)
  a0 = _mm512_add_ps(a0, b0), a1 = _mm512_add_ps(a1, b1), a2 = _mm512_add_ps(a2, b2), a3 = _mm512_add_ps(a3, b3);
  const __m512 s01 = _mm512_add_ps(_mm512_unpacklo_ps(a0, a1), _mm512_unpackhi_ps(a0, a1));
  const __m512 s23 = _mm512_add_ps(_mm512_unpacklo_ps(a2, a3), _mm512_unpackhi_ps(a2, a3));
  const __m512 q4 = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(s01), _mm512_castps_pd(s23))),
                                  _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(s01), _mm512_castps_pd(s23))));
  // lanes 4c + 0..3 of q4: 128-bit chunk c's sums for keys 0..3
  const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(q4), _mm512_extractf32x8_ps(q4, 1));
  const __m128 t = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  _mm_storeu_ps(s, t);
}

static inline float dot1(const float* q, const void* k, int64_t off, int D, bool f16) {
  __m512 a = _mm512_setzero_ps();
  for (int d = 0; d < D; d += 16) {
    const __mmask16 m = D - d >= 16 ? (__mmask16)0xffff : tail_mask(D - d);
    a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + d), load16(k, off + d, f16, m), a);
  }
  return hsum512(a);
}

// Asks for the K and V rows of the next key block while this one is computed (see the AVX2 file).
static inline void prefetch_block(const AttnTile* t, int64_t j) {
  int64_t jend = j + kKeyBlock;
  int64_t lim = 0;  // one past the last key any row sees
  for (int r = 0; r < t->R; r++) lim = lim > (int64_t)t->last[r] + 1 ? lim : (int64_t)t->last[r] + 1;
  if (jend > lim) jend = lim;
  const size_t esz = t->f16 ? 2 : 4, row_bytes = (size_t)t->D * esz, stride = (size_t)t->kv_stride * esz;
  const char* k = static_cast<const char*>(t->k) + (size_t)j * stride;
  const char* v = static_cast<const char*>(t->v) + (size_t)j * stride;
  for (; j < jend; j++, k += stride, v += stride) {
    for (size_t off = 0; off < row_bytes; off += 64) {
      _mm_prefetch(k + off, _MM_HINT_T0);
      _mm_prefetch(v + off, _MM_HINT_T0);
    }
  }
}

static void pack_rows(float* dst, int ld, const void* src, int64_t stride, int64_t j0, int n, int nrows, int D, bool f16);

static void step_direct(AttnTile* t, int64_t j0, int64_t j1) {
  const int D = t->D;
  float* sc = t->scratch;  // kKeyBlock scores (+ -inf padding to a multiple of 16)
  prefetch_block(t, j1);
  // Key j of the block is at kb + (base + j) * stride. With several rows (grouped-query decode)
  // the block is read once per row; if the rows of a KV head lie a multiple of 4 KiB apart they
  // all fall into the same L1 sets and evict each other, so then copy the block first into
  // contiguous f32 rows.
  const void* kb = t->k;
  const void* vb = t->v;
  int64_t stride = t->kv_stride, base = j0;
  bool f16 = t->f16;
  const int64_t stride_bytes = t->kv_stride * (t->f16 ? 2 : 4);
  if (t->R > 1 && t->kv_stride != D && stride_bytes % 4096 == 0) {
    float* kc = t->scratch + 64;
    float* vc = kc + (size_t)kKeyBlock * D;
    const int n = (int)(j1 - j0);
    pack_rows(kc, D, t->k, t->kv_stride, j0, n, n, D, t->f16);
    pack_rows(vc, D, t->v, t->kv_stride, j0, n, n, D, t->f16);
    kb = kc;
    vb = vc;
    stride = D;
    base = 0;
    f16 = false;
  }
  for (int r = 0; r < t->R; r++) {
    const int64_t je = j1 < (int64_t)t->last[r] + 1 ? j1 : (int64_t)t->last[r] + 1;
    if (je <= j0) continue;
    const int n = (int)(je - j0);
    const float* qr = t->q + (size_t)r * D;
    int j = 0;
    for (; j + 4 <= n; j += 4) dot4(sc + j, qr, kb, stride, base + j, D, f16);
    for (; j < n; j++) sc[j] = dot1(qr, kb, (base + j) * stride, D, f16);
    if (t->softcap > 0.f || t->bias) score_mods_row(t, r, sc, j0, n);
    const int n16 = round_up(n, 16);
    for (j = n; j < n16; j++) sc[j] = -INFINITY;

    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (j = 0; j < n16; j += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(sc + j));
    const float m_old = t->m[r];
    const float m_new = std::fmax(m_old, hmax512(mx));
    const float alpha = std::exp(m_old - m_new);
    const __m512 mv = _mm512_set1_ps(m_new);
    __m512 sum = _mm512_setzero_ps();
    for (j = 0; j < n16; j += 16) {
      const __m512 p = exp512(_mm512_sub_ps(_mm512_loadu_ps(sc + j), mv));
      _mm512_storeu_ps(sc + j, p);
      sum = _mm512_add_ps(sum, p);
    }
    t->l[r] = t->l[r] * alpha + hsum512(sum);
    t->m[r] = m_new;

    // o = o·alpha + Σ p_j v_j, 128 columns at a time in registers (8 independent accumulators:
    // enough FMAs in flight to cover their latency), then 64, then 16 (masked tail).
    float* o = t->o + (size_t)r * D;
    const __m512 av = _mm512_set1_ps(alpha);
    const void* v = vb;
    int c = 0;
    for (; c + 128 <= D; c += 128) {
      __m512 acc[8];
      for (int i = 0; i < 8; i++) acc[i] = _mm512_mul_ps(_mm512_loadu_ps(o + c + 16 * i), av);
      for (j = 0; j < n; j++) {
        const __m512 p = _mm512_set1_ps(sc[j]);
        const int64_t off = (base + j) * stride + c;
        for (int i = 0; i < 8; i++) acc[i] = _mm512_fmadd_ps(p, load16(v, off + 16 * i, f16), acc[i]);
      }
      for (int i = 0; i < 8; i++) _mm512_storeu_ps(o + c + 16 * i, acc[i]);
    }
    for (; c + 64 <= D; c += 64) {
      __m512 o0 = _mm512_mul_ps(_mm512_loadu_ps(o + c), av), o1 = _mm512_mul_ps(_mm512_loadu_ps(o + c + 16), av);
      __m512 o2 = _mm512_mul_ps(_mm512_loadu_ps(o + c + 32), av), o3 = _mm512_mul_ps(_mm512_loadu_ps(o + c + 48), av);
      // odd keys into their own 4 accumulators: 8 chains hide the fma latency (4 left it showing)
      __m512 e0 = _mm512_setzero_ps(), e1 = e0, e2 = e0, e3 = e0;
      for (j = 0; j + 2 <= n; j += 2) {
        const __m512 p = _mm512_set1_ps(sc[j]), p1 = _mm512_set1_ps(sc[j + 1]);
        const int64_t off = (base + j) * stride + c, off1 = off + stride;
        o0 = _mm512_fmadd_ps(p, load16(v, off, f16), o0);
        o1 = _mm512_fmadd_ps(p, load16(v, off + 16, f16), o1);
        o2 = _mm512_fmadd_ps(p, load16(v, off + 32, f16), o2);
        o3 = _mm512_fmadd_ps(p, load16(v, off + 48, f16), o3);
        e0 = _mm512_fmadd_ps(p1, load16(v, off1, f16), e0);
        e1 = _mm512_fmadd_ps(p1, load16(v, off1 + 16, f16), e1);
        e2 = _mm512_fmadd_ps(p1, load16(v, off1 + 32, f16), e2);
        e3 = _mm512_fmadd_ps(p1, load16(v, off1 + 48, f16), e3);
      }
      o0 = _mm512_add_ps(o0, e0), o1 = _mm512_add_ps(o1, e1), o2 = _mm512_add_ps(o2, e2), o3 = _mm512_add_ps(o3, e3);
      for (; j < n; j++) {
        const __m512 p = _mm512_set1_ps(sc[j]);
        const int64_t off = (base + j) * stride + c;
        o0 = _mm512_fmadd_ps(p, load16(v, off, f16), o0);
        o1 = _mm512_fmadd_ps(p, load16(v, off + 16, f16), o1);
        o2 = _mm512_fmadd_ps(p, load16(v, off + 32, f16), o2);
        o3 = _mm512_fmadd_ps(p, load16(v, off + 48, f16), o3);
      }
      _mm512_storeu_ps(o + c, o0);
      _mm512_storeu_ps(o + c + 16, o1);
      _mm512_storeu_ps(o + c + 32, o2);
      _mm512_storeu_ps(o + c + 48, o3);
    }
    for (; c < D; c += 16) {
      const __mmask16 m = D - c >= 16 ? (__mmask16)0xffff : tail_mask(D - c);
      __m512 o0 = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, o + c), av);
      for (j = 0; j < n; j++) o0 = _mm512_fmadd_ps(_mm512_set1_ps(sc[j]), load16(v, (base + j) * stride + c, f16, m), o0);
      _mm512_mask_storeu_ps(o + c, m, o0);
    }
  }
}

// ── blocked path ─────────────────────────────────────────────────────────────────────────────

// st[j][r..r+32) = Σ_d qt[d][r..r+32) · k_j[d] for 6 keys j. Not inlined (see the AVX2 file).
static __attribute__((noinline)) void qk_32x6(const Blocked& b, const float* k0, int64_t ks, int D, int rg, int jg) {
  __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m512 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  const float* k_0 = k0 + (int64_t)jg * ks;
  const float *k_1 = k_0 + ks, *k_2 = k_1 + ks, *k_3 = k_2 + ks, *k_4 = k_3 + ks, *k_5 = k_4 + ks;
  const float* q = b.qt + rg;
  const size_t ldq = b.Rp;
  for (int d = 0; d < D; d++, q += ldq) {
    const __m512 q0 = _mm512_load_ps(q), q1 = _mm512_load_ps(q + 16);
    __m512 kb = _mm512_set1_ps(k_0[d]);
    c00 = _mm512_fmadd_ps(q0, kb, c00); c01 = _mm512_fmadd_ps(q1, kb, c01);
    kb = _mm512_set1_ps(k_1[d]);
    c10 = _mm512_fmadd_ps(q0, kb, c10); c11 = _mm512_fmadd_ps(q1, kb, c11);
    kb = _mm512_set1_ps(k_2[d]);
    c20 = _mm512_fmadd_ps(q0, kb, c20); c21 = _mm512_fmadd_ps(q1, kb, c21);
    kb = _mm512_set1_ps(k_3[d]);
    c30 = _mm512_fmadd_ps(q0, kb, c30); c31 = _mm512_fmadd_ps(q1, kb, c31);
    kb = _mm512_set1_ps(k_4[d]);
    c40 = _mm512_fmadd_ps(q0, kb, c40); c41 = _mm512_fmadd_ps(q1, kb, c41);
    kb = _mm512_set1_ps(k_5[d]);
    c50 = _mm512_fmadd_ps(q0, kb, c50); c51 = _mm512_fmadd_ps(q1, kb, c51);
  }
  float* s = b.st + (size_t)jg * b.Rp + rg;
  _mm512_store_ps(s, c00); _mm512_store_ps(s + 16, c01); s += b.Rp;
  _mm512_store_ps(s, c10); _mm512_store_ps(s + 16, c11); s += b.Rp;
  _mm512_store_ps(s, c20); _mm512_store_ps(s + 16, c21); s += b.Rp;
  _mm512_store_ps(s, c30); _mm512_store_ps(s + 16, c31); s += b.Rp;
  _mm512_store_ps(s, c40); _mm512_store_ps(s + 16, c41); s += b.Rp;
  _mm512_store_ps(s, c50); _mm512_store_ps(s + 16, c51);
}

// ot[c..c+nc)[r..r+32) = ot·alpha + Σ_j v_j[c..c+nc) · st[j][r..r+32), for nc <= 6 columns.
static inline __attribute__((always_inline)) void pv_32xn(const Blocked& b, float* ot, const float* v0, int64_t vs, int n,
                                                          int r, int c, const int nc) {
  const __m512 a0 = _mm512_load_ps(b.alpha + r), a1 = _mm512_load_ps(b.alpha + r + 16);
  float* o = ot + (size_t)c * b.Rp + r;
  const size_t ld = b.Rp;
  __m512 c00 = _mm512_mul_ps(_mm512_load_ps(o), a0), c01 = _mm512_mul_ps(_mm512_load_ps(o + 16), a1);
  __m512 c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  if (nc > 1) { c10 = _mm512_mul_ps(_mm512_load_ps(o + ld), a0); c11 = _mm512_mul_ps(_mm512_load_ps(o + ld + 16), a1); }
  if (nc > 2) { c20 = _mm512_mul_ps(_mm512_load_ps(o + 2 * ld), a0); c21 = _mm512_mul_ps(_mm512_load_ps(o + 2 * ld + 16), a1); }
  if (nc > 3) { c30 = _mm512_mul_ps(_mm512_load_ps(o + 3 * ld), a0); c31 = _mm512_mul_ps(_mm512_load_ps(o + 3 * ld + 16), a1); }
  if (nc > 4) { c40 = _mm512_mul_ps(_mm512_load_ps(o + 4 * ld), a0); c41 = _mm512_mul_ps(_mm512_load_ps(o + 4 * ld + 16), a1); }
  if (nc > 5) { c50 = _mm512_mul_ps(_mm512_load_ps(o + 5 * ld), a0); c51 = _mm512_mul_ps(_mm512_load_ps(o + 5 * ld + 16), a1); }
  const float* p = b.st + r;
  const float* v = v0 + c;
  for (int j = 0; j < n; j++, p += b.Rp, v += vs) {
    const __m512 p0 = _mm512_load_ps(p), p1 = _mm512_load_ps(p + 16);
    __m512 vb = _mm512_set1_ps(v[0]);
    c00 = _mm512_fmadd_ps(p0, vb, c00); c01 = _mm512_fmadd_ps(p1, vb, c01);
    if (nc > 1) { vb = _mm512_set1_ps(v[1]); c10 = _mm512_fmadd_ps(p0, vb, c10); c11 = _mm512_fmadd_ps(p1, vb, c11); }
    if (nc > 2) { vb = _mm512_set1_ps(v[2]); c20 = _mm512_fmadd_ps(p0, vb, c20); c21 = _mm512_fmadd_ps(p1, vb, c21); }
    if (nc > 3) { vb = _mm512_set1_ps(v[3]); c30 = _mm512_fmadd_ps(p0, vb, c30); c31 = _mm512_fmadd_ps(p1, vb, c31); }
    if (nc > 4) { vb = _mm512_set1_ps(v[4]); c40 = _mm512_fmadd_ps(p0, vb, c40); c41 = _mm512_fmadd_ps(p1, vb, c41); }
    if (nc > 5) { vb = _mm512_set1_ps(v[5]); c50 = _mm512_fmadd_ps(p0, vb, c50); c51 = _mm512_fmadd_ps(p1, vb, c51); }
  }
  _mm512_store_ps(o, c00); _mm512_store_ps(o + 16, c01);
  if (nc > 1) { _mm512_store_ps(o + ld, c10); _mm512_store_ps(o + ld + 16, c11); }
  if (nc > 2) { _mm512_store_ps(o + 2 * ld, c20); _mm512_store_ps(o + 2 * ld + 16, c21); }
  if (nc > 3) { _mm512_store_ps(o + 3 * ld, c30); _mm512_store_ps(o + 3 * ld + 16, c31); }
  if (nc > 4) { _mm512_store_ps(o + 4 * ld, c40); _mm512_store_ps(o + 4 * ld + 16, c41); }
  if (nc > 5) { _mm512_store_ps(o + 5 * ld, c50); _mm512_store_ps(o + 5 * ld + 16, c51); }
}

static __attribute__((noinline)) void pv_32x6(const Blocked& b, float* ot, const float* v0, int64_t vs, int n, int r, int c) {
  pv_32xn(b, ot, v0, vs, n, r, c, 6);
}
static __attribute__((noinline)) void pv_32x_tail(const Blocked& b, float* ot, const float* v0, int64_t vs, int n, int r, int c,
                                                  int nc) {
  switch (nc) {
    case 5: pv_32xn(b, ot, v0, vs, n, r, c, 5); break;
    case 4: pv_32xn(b, ot, v0, vs, n, r, c, 4); break;
    case 3: pv_32xn(b, ot, v0, vs, n, r, c, 3); break;
    case 2: pv_32xn(b, ot, v0, vs, n, r, c, 2); break;
    case 1: pv_32xn(b, ot, v0, vs, n, r, c, 1); break;
    default: break;
  }
}

// Copies rows [j0, j0+n) of a KV head into dst[kKeyBlock][ld] as f32, zero-filling columns
// [D, ld) and rows [n, nrows).
static void pack_rows(float* dst, int ld, const void* src, int64_t stride, int64_t j0, int n, int nrows, int D, bool f16) {
  for (int j = 0; j < nrows; j++) {
    float* row = dst + (size_t)j * ld;
    if (j >= n) {
      std::memset(row, 0, sizeof(float) * ld);
      continue;
    }
    const int64_t off = (j0 + j) * stride;
    for (int d = 0; d < D; d += 16) {
      const __mmask16 m = D - d >= 16 ? (__mmask16)0xffff : tail_mask(D - d);
      _mm512_mask_storeu_ps(row + d, m, load16(src, off + d, f16, m));
    }
    for (int d = D; d < ld; d++) row[d] = 0.f;
  }
}

static void step_blocked(AttnTile* t, int64_t j0, int64_t j1) {
  const Blocked b = blocked_layout(t);
  const int D = t->D, n = (int)(j1 - j0), n6 = round_up(n, 6);
  const bool f16 = t->f16;
  // f32 rows are read in place unless their stride is a multiple of 4 KiB (they would all fall
  // into the same L1 sets): then, as for f16, the block is copied to contiguous rows first.
  const bool in_place = !f16 && (t->kv_stride == D || (t->kv_stride * 4) % 4096 != 0);

  // Keys of this block that each 32-row group can see at all (see the AVX2 file).
  int nl[kMaxTileRows / 32];
  bool need_mask = false;
  for (int g = 0; g < b.Rp / 32; g++) {
    int32_t lo = b.last[32 * g], hi = lo;
    for (int r = 32 * g + 1; r < 32 * g + 32; r++) {
      lo = b.last[r] < lo ? b.last[r] : lo;
      hi = b.last[r] > hi ? b.last[r] : hi;
    }
    const int64_t vis = (int64_t)hi - j0 + 1;
    nl[g] = vis < 0 ? 0 : vis > n ? n : (int)vis;
    need_mask = need_mask || j1 - 1 > lo;
  }

  // Scores st[j][r], 32 rows × 6 keys per register tile.
  const float* kb;
  int64_t ks;
  if (in_place && n6 == n) {
    kb = static_cast<const float*>(t->k) + j0 * t->kv_stride;
    ks = t->kv_stride;
  } else {
    pack_rows(b.kc, D, t->k, t->kv_stride, j0, n, n6, D, f16);
    kb = b.kc;
    ks = D;
  }
  for (int rg = 0; rg < b.Rp; rg += 32)
    for (int jg = 0; jg < nl[rg / 32]; jg += 6) qk_32x6(b, kb, ks, D, rg, jg);

  // Score modifiers on the computed scores st[j][r] (before the mask, which overrides them).
  if (t->softcap > 0.f) {
    for (int rg = 0; rg < b.Rp; rg += 32) {
      float* s = b.st + rg;
      for (int j = 0; j < nl[rg / 32]; j++, s += b.Rp) {
        _mm512_store_ps(s, softcap512(_mm512_load_ps(s), t->softcap));
        _mm512_store_ps(s + 16, softcap512(_mm512_load_ps(s + 16), t->softcap));
      }
    }
  }
  if (t->bias) {
    for (int r = 0; r < t->R; r++) {  // a strided walk down column r: ~1/D of the QK work
      // The bias rows of a prefill tile lie S floats apart, too many streams for the hardware
      // prefetcher: ask for the next block's part of each now (a hint; past the row end is harmless).
      const char* nb = reinterpret_cast<const char*>(t->bias[r] + j1);
      for (int off = 0; off < kKeyBlock * 4; off += 64) _mm_prefetch(nb + off, _MM_HINT_T0);
      const float* br = t->bias[r] + j0;
      float* s = b.st + r;
      for (int j = 0; j < nl[r / 32]; j++) s[(size_t)j * b.Rp] += br[j];
    }
  }

  // Mask, running max, probabilities and running sum, 16 rows at a time down the columns.
  const __m512 neg_inf = _mm512_set1_ps(-INFINITY);
  for (int r = 0; r < b.Rp; r += 16) {
    const int nr = nl[r / 32];
    const __m512i lastv = _mm512_loadu_si512(b.last + r);
    __m512 mx = neg_inf;
    float* s = b.st + r;
    for (int j = 0; j < nr; j++, s += b.Rp) {
      __m512 x = _mm512_load_ps(s);
      if (need_mask) {
        const __mmask16 hidden = _mm512_cmpgt_epi32_mask(_mm512_set1_epi32((int32_t)(j0 + j)), lastv);
        x = _mm512_mask_blend_ps(hidden, x, neg_inf);
        _mm512_store_ps(s, x);
      }
      mx = _mm512_max_ps(mx, x);
    }
    const __m512 m_old = _mm512_loadu_ps(t->m + r);
    const __m512 m_new = _mm512_max_ps(m_old, mx);
    // A row that has seen no key yet keeps m = -inf; exp(-inf - -inf) would be NaN.
    const __m512 alpha = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(m_new, neg_inf, _CMP_EQ_OQ),
                                              exp512(_mm512_sub_ps(m_old, m_new)), _mm512_set1_ps(1.f));
    __m512 sum = _mm512_setzero_ps();
    s = b.st + r;
    for (int j = 0; j < nr; j++, s += b.Rp) {
      const __m512 p = exp512(_mm512_sub_ps(_mm512_load_ps(s), m_new));
      _mm512_store_ps(s, p);
      sum = _mm512_add_ps(sum, p);
    }
    _mm512_storeu_ps(t->l + r, _mm512_fmadd_ps(_mm512_loadu_ps(t->l + r), alpha, sum));
    _mm512_storeu_ps(t->m + r, m_new);
    _mm512_store_ps(b.alpha + r, alpha);
  }

  // ot = ot·alpha + (P·V)ᵀ, 32 rows × 6 value columns per register tile (the QK tile, mirrored).
  const float* vb;
  int64_t vs;
  if (in_place) {
    vb = static_cast<const float*>(t->v) + j0 * t->kv_stride;
    vs = t->kv_stride;
  } else {
    pack_rows(b.vc, D, t->v, t->kv_stride, j0, n, n, D, f16);
    vb = b.vc;
    vs = D;
  }
  for (int r = 0; r < b.Rp; r += 32) {
    const int nr = nl[r / 32];
    if (nr == 0) continue;  // no key visible: alpha is 1, nothing to add
    int c = 0;
    for (; c + 6 <= D; c += 6) pv_32x6(b, t->o, vb, vs, nr, r, c);
    if (c < D) pv_32x_tail(b, t->o, vb, vs, nr, r, c, D - c);
  }
}

void attn_step(AttnTile* t, int64_t j0, int64_t j1) {
  if (t->R <= kDirectMaxRows)
    step_direct(t, j0, j1);
  else
    step_blocked(t, j0, j1);
}

void attn_end(AttnTile* t) {
  const int R = t->R, D = t->D;
  if (R <= kDirectMaxRows) {
    for (int r = 0; r < R; r++) {
      const float inv = 1.f / t->l[r];
      for (int d = 0; d < D; d++) t->o[(size_t)r * D + d] *= inv;
    }
    return;
  }
  // ot[D][Rp] → o[R][D], normalized; through the (now free) query buffer, as it is transposed.
  const Blocked b = blocked_layout(t);
  float* tmp = b.qt;  // D * Rp floats, no longer needed
  std::memcpy(tmp, t->o, sizeof(float) * (size_t)D * b.Rp);
  for (int r = 0; r < R; r++) {
    const float inv = 1.f / t->l[r];
    for (int d = 0; d < D; d++) t->o[(size_t)r * D + d] = tmp[(size_t)d * b.Rp + r] * inv;
  }
}

}  // namespace tl::avx512
