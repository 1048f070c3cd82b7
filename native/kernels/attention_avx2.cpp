// AVX2+FMA tile kernels for attention (interface: attention_tile.h; reference:
// attention_scalar.cpp). Two paths, chosen by the tile's row count:
//
// direct (R <= kDirectMaxRows, decode): per row, 4 keys at a time as dot products straight from
//   the KV cache (f16 converted in-register), online softmax, then o += p·v with the output row
//   held in registers. Memory-bound: every KV byte is read once per block.
// blocked (prefill): queries transposed once per tile to qt[D][Rp] (Rp = R rounded up to 16), so
//   scores come out transposed, st[j][r], from a 16-row × 6-key register tile that broadcasts key
//   elements; the softmax then runs down columns (no horizontal reductions), and o[r][c] += p·V
//   uses a 4-row × 16-column register tile. Compute-bound.
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/attention_tile.h"
#include "kernels/f16.h"
#include "kernels/vmath_avx2.h"

namespace tl::avx2 {

static inline int round_up(int x, int m) { return (x + m - 1) / m * m; }

// 8 consecutive K/V elements as f32.
static inline __m256 load8(const void* base, int64_t i, bool f16) {
  if (f16) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(base) + i)));
  return _mm256_loadu_ps(static_cast<const float*>(base) + i);
}
static inline float load1(const void* base, int64_t i, bool f16) {
  return f16 ? f16_to_f32(static_cast<const uint16_t*>(base)[i]) : static_cast<const float*>(base)[i];
}

// Scratch layout of the blocked path (offsets in floats, all multiples of 16).
struct Blocked {
  float* qt;      // [D][Rp]
  float* st;      // [kKeyBlock][Rp]
  float* kc;      // [kKeyBlock][D]   converted / zero-padded key block
  float* vc;      // [kKeyBlock][Dp]  converted / padded value block
  float* alpha;   // [Rp]
  int32_t* last;  // [Rp]
  int Rp, Dp;
};

static Blocked blocked_layout(const AttnTile* t) {
  const int D = t->D, Dp32 = round_up(D, 32);
  Blocked b;
  b.Rp = round_up(t->R, 16);
  b.Dp = round_up(D, 16);
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
  std::memset(t->o, 0, sizeof(float) * (size_t)b.Rp * b.Dp);
}

// ── direct path ──────────────────────────────────────────────────────────────────────────────

// dot(q, k_j) for 4 keys at once; the reduction of the 4 accumulators is shared.
static inline __m128 dot4(const float* q, const void* k, int64_t stride, int64_t j, int D, bool f16) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  const int64_t o0 = j * stride, o1 = o0 + stride, o2 = o1 + stride, o3 = o2 + stride;
  int d = 0;
  for (; d + 8 <= D; d += 8) {
    const __m256 qv = _mm256_loadu_ps(q + d);
    a0 = _mm256_fmadd_ps(qv, load8(k, o0 + d, f16), a0);
    a1 = _mm256_fmadd_ps(qv, load8(k, o1 + d, f16), a1);
    a2 = _mm256_fmadd_ps(qv, load8(k, o2 + d, f16), a2);
    a3 = _mm256_fmadd_ps(qv, load8(k, o3 + d, f16), a3);
  }
  const __m256 h01 = _mm256_hadd_ps(a0, a1), h23 = _mm256_hadd_ps(a2, a3);
  const __m256 h = _mm256_hadd_ps(h01, h23);  // lanes: [0 1 2 3 | 0 1 2 3] partial sums
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  if (d < D) {
    float tail[4] = {0, 0, 0, 0};
    for (; d < D; d++) {
      tail[0] += q[d] * load1(k, o0 + d, f16);
      tail[1] += q[d] * load1(k, o1 + d, f16);
      tail[2] += q[d] * load1(k, o2 + d, f16);
      tail[3] += q[d] * load1(k, o3 + d, f16);
    }
    s = _mm_add_ps(s, _mm_loadu_ps(tail));
  }
  return s;
}

static inline float dot1(const float* q, const void* k, int64_t off, int D, bool f16) {
  __m256 a = _mm256_setzero_ps();
  int d = 0;
  for (; d + 8 <= D; d += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), load8(k, off + d, f16), a);
  float s = hsum256(a);
  for (; d < D; d++) s += q[d] * load1(k, off + d, f16);
  return s;
}

static void step_direct(AttnTile* t, int64_t j0, int64_t j1) {
  const int D = t->D;
  const bool f16 = t->f16;
  const int64_t stride = t->kv_stride;
  float* sc = t->scratch;  // kKeyBlock scores (+ -inf padding to a multiple of 8)
  for (int r = 0; r < t->R; r++) {
    const int64_t je = j1 < (int64_t)t->last[r] + 1 ? j1 : (int64_t)t->last[r] + 1;
    if (je <= j0) continue;
    const int n = (int)(je - j0);
    const float* qr = t->q + (size_t)r * D;
    int j = 0;
    for (; j + 4 <= n; j += 4) _mm_storeu_ps(sc + j, dot4(qr, t->k, stride, j0 + j, D, f16));
    for (; j < n; j++) sc[j] = dot1(qr, t->k, (j0 + j) * stride, D, f16);
    const int n8 = round_up(n, 8);
    for (j = n; j < n8; j++) sc[j] = -INFINITY;

    __m256 mx = _mm256_set1_ps(-INFINITY);
    for (j = 0; j < n8; j += 8) mx = _mm256_max_ps(mx, _mm256_loadu_ps(sc + j));
    const float m_old = t->m[r];
    const float m_new = std::fmax(m_old, hmax256(mx));
    const float alpha = std::exp(m_old - m_new);
    const __m256 mv = _mm256_set1_ps(m_new);
    __m256 sum = _mm256_setzero_ps();
    for (j = 0; j < n8; j += 8) {
      const __m256 p = exp256(_mm256_sub_ps(_mm256_loadu_ps(sc + j), mv));
      _mm256_storeu_ps(sc + j, p);
      sum = _mm256_add_ps(sum, p);
    }
    t->l[r] = t->l[r] * alpha + hsum256(sum);
    t->m[r] = m_new;

    // o = o·alpha + Σ p_j v_j, 32 columns at a time in registers.
    float* o = t->o + (size_t)r * D;
    const __m256 av = _mm256_set1_ps(alpha);
    const void* v = t->v;
    int c = 0;
    for (; c + 32 <= D; c += 32) {
      __m256 o0 = _mm256_mul_ps(_mm256_loadu_ps(o + c), av), o1 = _mm256_mul_ps(_mm256_loadu_ps(o + c + 8), av);
      __m256 o2 = _mm256_mul_ps(_mm256_loadu_ps(o + c + 16), av), o3 = _mm256_mul_ps(_mm256_loadu_ps(o + c + 24), av);
      for (j = 0; j < n; j++) {
        const __m256 p = _mm256_broadcast_ss(sc + j);
        const int64_t off = (j0 + j) * stride + c;
        o0 = _mm256_fmadd_ps(p, load8(v, off, f16), o0);
        o1 = _mm256_fmadd_ps(p, load8(v, off + 8, f16), o1);
        o2 = _mm256_fmadd_ps(p, load8(v, off + 16, f16), o2);
        o3 = _mm256_fmadd_ps(p, load8(v, off + 24, f16), o3);
      }
      _mm256_storeu_ps(o + c, o0);
      _mm256_storeu_ps(o + c + 8, o1);
      _mm256_storeu_ps(o + c + 16, o2);
      _mm256_storeu_ps(o + c + 24, o3);
    }
    for (; c + 8 <= D; c += 8) {
      __m256 o0 = _mm256_mul_ps(_mm256_loadu_ps(o + c), av);
      for (j = 0; j < n; j++) o0 = _mm256_fmadd_ps(_mm256_broadcast_ss(sc + j), load8(v, (j0 + j) * stride + c, f16), o0);
      _mm256_storeu_ps(o + c, o0);
    }
    for (; c < D; c++) {
      float acc = o[c] * alpha;
      for (j = 0; j < n; j++) acc += sc[j] * load1(v, (j0 + j) * stride + c, f16);
      o[c] = acc;
    }
  }
}

// ── blocked path ─────────────────────────────────────────────────────────────────────────────

// st[j][r..r+16) = Σ_d qt[d][r..r+16) · k_j[d] for 6 keys j.
static inline void qk_16x6(const Blocked& b, const float* k0, int64_t ks, int D, int rg, int jg) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  const float* k = k0 + (int64_t)jg * ks;
  const float* q = b.qt + rg;
  for (int d = 0; d < D; d++, q += b.Rp, k++) {
    const __m256 q0 = _mm256_load_ps(q), q1 = _mm256_load_ps(q + 8);
    __m256 kb = _mm256_broadcast_ss(k);
    c00 = _mm256_fmadd_ps(q0, kb, c00); c01 = _mm256_fmadd_ps(q1, kb, c01);
    kb = _mm256_broadcast_ss(k + ks);
    c10 = _mm256_fmadd_ps(q0, kb, c10); c11 = _mm256_fmadd_ps(q1, kb, c11);
    kb = _mm256_broadcast_ss(k + 2 * ks);
    c20 = _mm256_fmadd_ps(q0, kb, c20); c21 = _mm256_fmadd_ps(q1, kb, c21);
    kb = _mm256_broadcast_ss(k + 3 * ks);
    c30 = _mm256_fmadd_ps(q0, kb, c30); c31 = _mm256_fmadd_ps(q1, kb, c31);
    kb = _mm256_broadcast_ss(k + 4 * ks);
    c40 = _mm256_fmadd_ps(q0, kb, c40); c41 = _mm256_fmadd_ps(q1, kb, c41);
    kb = _mm256_broadcast_ss(k + 5 * ks);
    c50 = _mm256_fmadd_ps(q0, kb, c50); c51 = _mm256_fmadd_ps(q1, kb, c51);
  }
  float* s = b.st + (size_t)jg * b.Rp + rg;
  _mm256_store_ps(s, c00); _mm256_store_ps(s + 8, c01); s += b.Rp;
  _mm256_store_ps(s, c10); _mm256_store_ps(s + 8, c11); s += b.Rp;
  _mm256_store_ps(s, c20); _mm256_store_ps(s + 8, c21); s += b.Rp;
  _mm256_store_ps(s, c30); _mm256_store_ps(s + 8, c31); s += b.Rp;
  _mm256_store_ps(s, c40); _mm256_store_ps(s + 8, c41); s += b.Rp;
  _mm256_store_ps(s, c50); _mm256_store_ps(s + 8, c51);
}

// o[r..r+4)[c..c+16) = o·alpha + Σ_j st[j][r..r+4) · v_j[c..c+16).
static inline void pv_4x16(const Blocked& b, float* o, const float* v0, int64_t vs, int n, int r, int c) {
  float* o0 = o + (size_t)r * b.Dp + c;
  float* o1 = o0 + b.Dp;
  float* o2 = o1 + b.Dp;
  float* o3 = o2 + b.Dp;
  __m256 a = _mm256_set1_ps(b.alpha[r]);
  __m256 c00 = _mm256_mul_ps(_mm256_load_ps(o0), a), c01 = _mm256_mul_ps(_mm256_load_ps(o0 + 8), a);
  a = _mm256_set1_ps(b.alpha[r + 1]);
  __m256 c10 = _mm256_mul_ps(_mm256_load_ps(o1), a), c11 = _mm256_mul_ps(_mm256_load_ps(o1 + 8), a);
  a = _mm256_set1_ps(b.alpha[r + 2]);
  __m256 c20 = _mm256_mul_ps(_mm256_load_ps(o2), a), c21 = _mm256_mul_ps(_mm256_load_ps(o2 + 8), a);
  a = _mm256_set1_ps(b.alpha[r + 3]);
  __m256 c30 = _mm256_mul_ps(_mm256_load_ps(o3), a), c31 = _mm256_mul_ps(_mm256_load_ps(o3 + 8), a);
  const float* p = b.st + r;
  const float* v = v0 + c;
  for (int j = 0; j < n; j++, p += b.Rp, v += vs) {
    const __m256 v0r = _mm256_loadu_ps(v), v1r = _mm256_loadu_ps(v + 8);
    __m256 pb = _mm256_broadcast_ss(p);
    c00 = _mm256_fmadd_ps(pb, v0r, c00); c01 = _mm256_fmadd_ps(pb, v1r, c01);
    pb = _mm256_broadcast_ss(p + 1);
    c10 = _mm256_fmadd_ps(pb, v0r, c10); c11 = _mm256_fmadd_ps(pb, v1r, c11);
    pb = _mm256_broadcast_ss(p + 2);
    c20 = _mm256_fmadd_ps(pb, v0r, c20); c21 = _mm256_fmadd_ps(pb, v1r, c21);
    pb = _mm256_broadcast_ss(p + 3);
    c30 = _mm256_fmadd_ps(pb, v0r, c30); c31 = _mm256_fmadd_ps(pb, v1r, c31);
  }
  _mm256_store_ps(o0, c00); _mm256_store_ps(o0 + 8, c01);
  _mm256_store_ps(o1, c10); _mm256_store_ps(o1 + 8, c11);
  _mm256_store_ps(o2, c20); _mm256_store_ps(o2 + 8, c21);
  _mm256_store_ps(o3, c30); _mm256_store_ps(o3 + 8, c31);
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
    int d = 0;
    for (; d + 8 <= D; d += 8) _mm256_storeu_ps(row + d, load8(src, off + d, f16));
    for (; d < D; d++) row[d] = load1(src, off + d, f16);
    for (; d < ld; d++) row[d] = 0.f;
  }
}

static void step_blocked(AttnTile* t, int64_t j0, int64_t j1) {
  const Blocked b = blocked_layout(t);
  const int D = t->D, n = (int)(j1 - j0), n6 = round_up(n, 6);
  const bool f16 = t->f16;

  // Scores st[j][r], 16 rows × 6 keys per register tile.
  const float* kb;
  int64_t ks;
  if (!f16 && n6 == n) {
    kb = static_cast<const float*>(t->k) + j0 * t->kv_stride;
    ks = t->kv_stride;
  } else {
    pack_rows(b.kc, D, t->k, t->kv_stride, j0, n, n6, D, f16);
    kb = b.kc;
    ks = D;
  }
  for (int rg = 0; rg < b.Rp; rg += 16)
    for (int jg = 0; jg < n6; jg += 6) qk_16x6(b, kb, ks, D, rg, jg);

  // Mask, running max, probabilities and running sum, 8 rows at a time down the columns.
  int32_t min_last = b.last[0];
  for (int r = 1; r < b.Rp; r++) min_last = b.last[r] < min_last ? b.last[r] : min_last;
  const bool need_mask = j1 - 1 > min_last;
  const __m256 neg_inf = _mm256_set1_ps(-INFINITY);
  for (int r = 0; r < b.Rp; r += 8) {
    const __m256i lastv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.last + r));
    __m256 mx = neg_inf;
    float* s = b.st + r;
    for (int j = 0; j < n; j++, s += b.Rp) {
      __m256 x = _mm256_load_ps(s);
      if (need_mask) {
        const __m256i hidden = _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)(j0 + j)), lastv);
        x = _mm256_blendv_ps(x, neg_inf, _mm256_castsi256_ps(hidden));
        _mm256_store_ps(s, x);
      }
      mx = _mm256_max_ps(mx, x);
    }
    const __m256 m_old = _mm256_loadu_ps(t->m + r);
    const __m256 m_new = _mm256_max_ps(m_old, mx);
    const __m256 alpha = exp256(_mm256_sub_ps(m_old, m_new));
    __m256 sum = _mm256_setzero_ps();
    s = b.st + r;
    for (int j = 0; j < n; j++, s += b.Rp) {
      const __m256 p = exp256(_mm256_sub_ps(_mm256_load_ps(s), m_new));
      _mm256_store_ps(s, p);
      sum = _mm256_add_ps(sum, p);
    }
    _mm256_storeu_ps(t->l + r, _mm256_fmadd_ps(_mm256_loadu_ps(t->l + r), alpha, sum));
    _mm256_storeu_ps(t->m + r, m_new);
    _mm256_store_ps(b.alpha + r, alpha);
  }

  // o = o·alpha + P·V, 4 rows × 16 columns per register tile.
  const float* vb;
  int64_t vs;
  if (!f16 && D % 16 == 0) {
    vb = static_cast<const float*>(t->v) + j0 * t->kv_stride;
    vs = t->kv_stride;
  } else {
    pack_rows(b.vc, b.Dp, t->v, t->kv_stride, j0, n, n, D, f16);
    vb = b.vc;
    vs = b.Dp;
  }
  for (int r = 0; r < b.Rp; r += 4)
    for (int c = 0; c < b.Dp; c += 16) pv_4x16(b, t->o, vb, vs, n, r, c);
}

void attn_step(AttnTile* t, int64_t j0, int64_t j1) {
  if (t->R <= kDirectMaxRows)
    step_direct(t, j0, j1);
  else
    step_blocked(t, j0, j1);
}

void attn_end(AttnTile* t) {
  const int R = t->R, D = t->D;
  const int ld = R <= kDirectMaxRows ? D : round_up(D, 16);
  // Compacts [R][ld] to [R][D] in place (ascending, so no row is overwritten before it is read).
  for (int r = 0; r < R; r++) {
    const float inv = 1.f / t->l[r];
    for (int d = 0; d < D; d++) t->o[(size_t)r * D + d] = t->o[(size_t)r * ld + d] * inv;
  }
}

}  // namespace tl::avx2
