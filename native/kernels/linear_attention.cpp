// Linear attention driver (linear_attention.h): the two update rules in chunked form, written on
// the per-ISA primitives of linear_attention_kernels.h, threaded over heads on the shared pool.
// A chunk of one token is exactly the recurrent step; decode (T = 1) takes the fused row kernel.
// The chunked forms' matrix products run on the matmul family's packed f32 micro-kernels on
// AVX2 / AVX-512, on la_gemm on the scalar path. The causal chunked prefills (scalar-gate delta
// rule, paper's rule) have their own chunk kernels there (delta_chunk_packed, linear_chunk_packed):
// the carried state stays packed as the products' B panels between chunks, each chunk operand is
// packed once, and each thread walks the chunks over one contiguous range of heads; the other
// cases (per-channel gate, non-causal) go through gemm_tiles, which packs both operands per product.
#include "kernels/linear_attention.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/linear_attention_kernels.h"
#include "kernels/matmul_kernels.h"
#include "kernels/threadpool.h"
#include "kernels/weight_types.h"

namespace tl {

namespace {

struct Prims {
  float (*dot)(const float*, const float*, int64_t);
  void (*axpy)(float*, float, const float*, int64_t);
  void (*scale)(float*, float, int64_t);
  void (*dot_rows)(float*, const float*, int64_t, int64_t, const float*, int64_t, float);
  void (*feature)(float*, const float*, int64_t, int);
  void (*gemm)(float*, int64_t, const float*, int64_t, const float*, int64_t, int64_t, int64_t, int64_t);
  void (*delta_rows)(float*, int64_t, int64_t, const float*, const float*, float, const float*, const float*, float,
                     float, float*);
  void (*solve_lower)(float*, int64_t, int64_t, int64_t, const float*, int64_t);
  void (*pack_at)(float*, const float*, int64_t, int64_t, int64_t, const float*, int);
};

// C[M, N] += A[M, K] · B[K, N] on the f32 GEMM micro-kernels of the matmul family
// (matmul_kernels.h): A and B packed into its tile layout on the calling thread, then each MR×NR
// tile accumulated in place (edge tiles through a scratch tile). The chunked forms' products are
// small (tens to a few hundred rows), so one pass, no cache blocking.
struct GemmTiles {
  int mr, nr;
  void (*pack_a)(float*, const float*, int64_t, int64_t, int64_t);
  void (*pack_b)(float*, const float*, int64_t, int64_t, int64_t);
  void (*micro)(int64_t, const float*, const float*, float*, int64_t, int);
  void (*micro_edge)(int64_t, const float*, const float*, float*, int64_t, int, int);
  void (*pack_bt)(float*, const void*, int, int64_t, int64_t, int64_t, int64_t, int64_t);
};

#if defined(TL_HAVE_X86_VARIANTS)
constexpr GemmTiles kTiles512{avx512::kMR, avx512::kNR, avx512::pack_a, avx512::pack_b, avx512::micro,
                              avx512::micro_edge, avx512::pack_bt};
constexpr GemmTiles kTiles2{avx2::kMR, avx2::kNR, avx2::pack_a, avx2::pack_b, avx2::micro, avx2::micro_edge,
                            avx2::pack_bt};
#endif

// A 64-byte aligned float buffer (the micro-kernels load B panels aligned), grown on demand; its
// contents are not kept when it grows.
struct AlignedBuf {
  float* p = nullptr;
  size_t cap = 0;
  ~AlignedBuf() { std::free(p); }
  float* get(size_t floats) {
    if (floats > cap) {
      std::free(p);
      p = static_cast<float*>(std::aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64));
      if (!p) {
        cap = 0;
        throw std::bad_alloc();
      }
      cap = floats;
    }
    return p;
  }
};

// Packed panels of gemm_tiles, kept per thread; separate from scratch(), which holds the chunk's operands.
float* pack_space(size_t floats) {
  static thread_local AlignedBuf buf;
  return buf.get(floats);
}

template <const GemmTiles& U>
void gemm_tiles(float* C, int64_t ldc, const float* A, int64_t lda, const float* B, int64_t ldb, int64_t M, int64_t K,
                int64_t N) {
  if (M <= 0 || N <= 0 || K <= 0) return;
  const int64_t mr = U.mr, nr = U.nr, mt = (M + mr - 1) / mr, nt = (N + nr - 1) / nr;
  float* pb = pack_space((size_t)(nt * nr + mt * mr) * K);
  float* pa = pb + nt * nr * K;
  for (int64_t j = 0; j < nt; j++) U.pack_b(pb + j * nr * K, B + j * nr, ldb, std::min(nr, N - j * nr), K);
  for (int64_t i = 0; i < mt; i++) U.pack_a(pa + i * mr * K, A + i * mr * lda, lda, std::min(mr, M - i * mr), K);
  alignas(64) float edge[16 * 64];  // one MR×NR tile (MR ≤ 16, NR ≤ 64)
  for (int64_t j = 0; j < nt; j++) {
    const int64_t cols = std::min(nr, N - j * nr);
    for (int64_t i = 0; i < mt; i++) {
      const int64_t rows = std::min(mr, M - i * mr);
      float* c = C + i * mr * ldc + j * nr;
      if (cols == nr && rows == mr) {
        U.micro(K, pa + i * mr * K, pb + j * nr * K, c, ldc, 1);
      } else if (cols == nr) {
        U.micro_edge(K, pa + i * mr * K, pb + j * nr * K, c, ldc, 1, (int)rows);
      } else {
        U.micro(K, pa + i * mr * K, pb + j * nr * K, edge, nr, 0);
        for (int64_t r = 0; r < rows; r++)
          for (int64_t x = 0; x < cols; x++) c[r * ldc + x] += edge[r * nr + x];
      }
    }
  }
}

Prims pick() {
  switch (active_isa()) {
#if defined(TL_HAVE_X86_VARIANTS)
    case Isa::Avx512:
      return {avx512::la_dot, avx512::la_axpy, avx512::la_scale, avx512::la_dot_rows, avx512::la_feature, gemm_tiles<kTiles512>, avx512::la_delta_rows, avx512::la_solve_lower, avx512::la_pack_at};
    case Isa::Avx2: return {avx2::la_dot, avx2::la_axpy, avx2::la_scale, avx2::la_dot_rows, avx2::la_feature, gemm_tiles<kTiles2>, avx2::la_delta_rows, avx2::la_solve_lower, avx2::la_pack_at};
#endif
    default: return {scalar::la_dot, scalar::la_axpy, scalar::la_scale, scalar::la_dot_rows, scalar::la_feature, scalar::la_gemm, scalar::la_delta_rows, scalar::la_solve_lower, scalar::la_pack_at};
  }
}

// Per-thread scratch kept between calls (decode calls once per layer per token).
float* scratch(size_t floats) {
  static thread_local std::vector<float> mem;
  if (mem.size() < floats) mem.resize(floats);
  return mem.data();
}

// ── the paper's rule ──────────────────────────────────────────────────────────────────────────

// One KV head: S [Dk, Dv] and z [Dk] at `st`, its G query heads. Per chunk of n tokens, with
// Φq, Φk the feature-mapped rows and A = mask(Φq Φkᵀ) (lower triangle, diagonal included):
//   num = Φq·S + A·V,  den = Φq·z + rowsum(A) + eps,  out = num / den;  then S += Φkᵀ·V, z += Σ Φk.
void linear_head(const Prims& P, float* out, const float* q, const float* k, const float* v, float* st, int64_t hk,
                 const LinearAttentionParams& p) {
  const int64_t T = p.T, H = p.H, Hkv = p.Hkv, Dk = p.Dk, Dv = p.Dv, G = H / Hkv;
  const int64_t C = std::max<int64_t>(1, std::min(p.chunk, T));
  float* S = st;
  float* z = st + Dk * Dv;
  // Scratch: Φk [C, Dk], Φkᵀ [Dk, C], Φq [C, Dk], num [C, Dv], A [C, C], den [C].
  float* fk = scratch((size_t)C * (3 * Dk + Dv + C + 1));
  float* fkT = fk + C * Dk;
  float* fq = fkT + Dk * C;
  float* num = fq + C * Dk;
  float* A = num + C * Dv;
  float* den = A + C * C;
  const int64_t ldv = Hkv * Dv;

  auto absorb = [&](int64_t t0, int64_t n) {
    for (int64_t r = 0; r < n; r++) P.feature(fk + r * Dk, k + ((t0 + r) * Hkv + hk) * Dk, Dk, (int)p.phi);
    for (int64_t r = 0; r < n; r++)
      for (int64_t i = 0; i < Dk; i++) fkT[i * n + r] = fk[r * Dk + i];
    P.gemm(S, Dv, fkT, n, v + (t0 * Hkv + hk) * Dv, ldv, Dk, n, Dv);
    for (int64_t r = 0; r < n; r++) P.axpy(z, 1.f, fk + r * Dk, Dk);
  };
  // Rows [t0, t0 + n) of query head h; `masked`: add the chunk's own tokens (Φk must hold them).
  auto read_out = [&](int64_t h, int64_t t0, int64_t n, bool masked) {
    for (int64_t r = 0; r < n; r++) P.feature(fq + r * Dk, q + ((t0 + r) * H + h) * Dk, Dk, (int)p.phi);
    std::memset(num, 0, (size_t)n * Dv * sizeof(float));
    P.gemm(num, Dv, fq, Dk, S, Dv, n, Dk, Dv);
    for (int64_t r = 0; r < n; r++) den[r] = P.dot(fq + r * Dk, z, Dk) + p.eps;
    if (masked) {
      for (int64_t r = 0; r < n; r++) {
        float* ar = A + r * n;
        P.dot_rows(ar, fk, r + 1, Dk, fq + r * Dk, Dk, 1.f);
        for (int64_t s = r + 1; s < n; s++) ar[s] = 0.f;
        for (int64_t s = 0; s <= r; s++) den[r] += ar[s];
      }
      P.gemm(num, Dv, A, n, v + (t0 * Hkv + hk) * Dv, ldv, n, n, Dv);
    }
    for (int64_t r = 0; r < n; r++) {
      float* o = out + ((t0 + r) * H + h) * Dv;
      const float inv = 1.f / den[r];
      for (int64_t j = 0; j < Dv; j++) o[j] = num[r * Dv + j] * inv;
    }
  };

  if (!p.causal) {  // every query sees the state after all T tokens
    for (int64_t t0 = 0; t0 < T; t0 += C) absorb(t0, std::min(C, T - t0));
    for (int64_t t0 = 0; t0 < T; t0 += C)
      for (int64_t g = 0; g < G; g++) read_out(hk * G + g, t0, std::min(C, T - t0), false);
    return;
  }
  for (int64_t t0 = 0; t0 < T; t0 += C) {
    const int64_t n = std::min(C, T - t0);
    for (int64_t r = 0; r < n; r++) P.feature(fk + r * Dk, k + ((t0 + r) * Hkv + hk) * Dk, Dk, (int)p.phi);
    for (int64_t g = 0; g < G; g++) read_out(hk * G + g, t0, n, true);
    absorb(t0, n);
  }
}

// ── the gated delta rule ─────────────────────────────────────────────────────────────────────

// Rows of q, k or v fetched a few lines at a time (step() per micro-kernel call) while a chunk
// computes: a token's rows lie an [H, D] slice apart (8 KiB for H = 16, D = 128), a stride the
// hardware prefetchers do not follow (a page apart), so each row read cold began with a miss to
// memory. Streams are taken row by row, all streams of a row before the next row.
struct RowPrefetch {
  const char* base[3] = {};
  int64_t stride[3] = {}, lines = 0, rows = 0, streams = 0;
  int64_t r = 0, s = 0, l = 0;
  void step(int count) {
    for (; count > 0 && r < rows; count--) {
      __builtin_prefetch(base[s] + r * stride[s] + 64 * l, 0, 3);
      if (++l == lines) {
        l = 0;
        if (++s == streams) s = 0, r++;
      }
    }
  }
};

// dst[c][r] = src[r·ld + c] for r < rows, c < cols (dst is [cols, rows]); 8 rows at a time so the
// writes go out in runs.
void transpose_rows(float* __restrict dst, const float* __restrict src, int64_t ld, int64_t rows, int64_t cols) {
  int64_t r0 = 0;
  for (; r0 + 8 <= rows; r0 += 8)
    for (int64_t c = 0; c < cols; c++)
      for (int64_t r = 0; r < 8; r++) dst[c * rows + r0 + r] = src[(r0 + r) * ld + c];
  for (; r0 < rows; r0++)
    for (int64_t c = 0; c < cols; c++) dst[c * rows + r0] = src[r0 * ld + c];
}

// The decays of a scalar-gate chunk (n tokens): Gc[r] = Σ_{r'≤r} g_r' (log Γ_r), gam[r] = Γ_r and,
// when factor, igam[r] = 1/Γ_r. factor: the chunk's log-decays span at most kFactorRange, so no Γ_r
// or 1/Γ_s overflows or underflows f32 and a pair decay Γ_r/Γ_s is gam[r]·igam[s] (n exps in all);
// otherwise it is exp(Gc[r] − Gc[s]), one exp per pair.
constexpr float kFactorRange = 80.f;

struct ChunkDecays {
  const float* Gc;
  const float* gam;
  const float* igam;
  bool factor;
  float pair(int64_t r, int64_t s) const { return factor ? gam[r] * igam[s] : std::exp(Gc[r] - Gc[s]); }
};

// Fills Gc, gam, igam [n] from the chunk's gates g[r·ldg] (r < n).
ChunkDecays chunk_decays(float* Gc, float* gam, float* igam, const float* g, int64_t ldg, int64_t n) {
  float lo = 0.f, hi = 0.f;
  for (int64_t r = 0; r < n; r++) {
    Gc[r] = g[r * ldg] + (r ? Gc[r - 1] : 0.f);
    lo = std::min(lo, Gc[r]);
    hi = std::max(hi, Gc[r]);
  }
  const bool factor = hi - lo <= kFactorRange;
  for (int64_t r = 0; r < n; r++) {
    gam[r] = std::exp(Gc[r]);
    igam[r] = factor ? 1.f / gam[r] : 0.f;
  }
  return {Gc, gam, igam, factor};
}

// The decays and causal masks of the pair products A = K·Kᵀ and B = Q·Kᵀ ([n, n], row-major), in
// place: A[r][s] ·= −β_r Γ_r/Γ_s (s < r), B[r][s] ·= scale Γ_r/Γ_s (s ≤ r), every other entry 0;
// β_r is beta[r·ldb]. The factor test is hoisted out of the row loops.
void decay_mask_pairs(float* A, float* B, int64_t n, const float* beta, int64_t ldb, float scale,
                      const ChunkDecays& dec) {
  for (int64_t r = 0; r < n; r++) {
    float* __restrict ar = A + r * n;
    float* __restrict br = B + r * n;
    const float nb = -beta[r * ldb];
    if (dec.factor) {
      const float gr = dec.gam[r];
      for (int64_t s = 0; s <= r; s++) {
        const float e = gr * dec.igam[s];
        ar[s] *= nb * e;
        br[s] *= scale * e;
      }
    } else {
      for (int64_t s = 0; s <= r; s++) {
        const float e = std::exp(dec.Gc[r] - dec.Gc[s]);
        ar[s] *= nb * e;
        br[s] *= scale * e;
      }
    }
    ar[r] = 0.f;
    for (int64_t s = r + 1; s < n; s++) ar[s] = br[s] = 0.f;
  }
}

// One chunk (the n tokens from t0) of value head h with a scalar gate (Qwen3.5, Qwen3-Next), WY form with the bulk of the
// work in register-blocked products (P.gemm): per chunk of n tokens, with Γ_r = exp(Σ_{r'≤r} g_r'),
// K, Q, V the chunk's rows and S the carried state [Dk, Dv],
//   A = −mask_{s<r}(β_r Γ_r/Γ_s · K Kᵀ),  B = scale · mask_{s≤r}(Γ_r/Γ_s · Q Kᵀ)     (n×n products)
//   D = (I − A)⁻¹ · β∘(V − (Γ∘K)·S)        (blocked forward substitution: a product per block of
//                                           kSub rows, then the rows of the block one by one)
//   out = scale (Γ∘Q)·S + B·D;   S ← Γ_n S + (Γ_n/Γ ∘ K)ᵀ·D.
// The pair decays Γ_r/Γ_s come from n exps when the chunk's log-decays span less than kFactorRange
// (no f32 overflow or underflow), else from one exp per pair.
void delta_chunk_scalar_gate(const Prims& P, float* out, const float* q, const float* k, const float* v,
                             const float* g, const float* beta, float* S, int64_t h, int64_t t0,
                             const GatedDeltaParams& p, RowPrefetch&) {
  constexpr int64_t kSub = 16;
  const int64_t T = p.T, Hk = p.Hk, Hv = p.Hv, Dk = p.Dk, Dv = p.Dv, hk = h % Hk;
  const int64_t C = std::max<int64_t>(1, std::min(p.chunk, T));
  const int64_t ldk = Hk * Dk, ldv = Hv * Dv;  // row strides of q/k and of v/out
  // Scratch: kT [Dk, C]; DO [2C, Dv] (D then the outputs); AB [2C, C] (A then B); Gc, γ, 1/γ [C].
  // The products read the chunk's key and query rows where they lie (the GEMM packs them anyway).
  float* kT = scratch((size_t)C * Dk + 2 * C * Dv + 2 * C * C + 3 * C);
  float* DO = kT + C * Dk;
  float* AB = DO + 2 * C * Dv;
  float* Gc = AB + 2 * C * C;
  float* gam = Gc + C;
  float* igam = gam + C;
  const int64_t n = std::min(C, T - t0);
  const float* K0 = k + (t0 * Hk + hk) * Dk;
  const float* Q0 = q + (t0 * Hk + hk) * Dk;
  const float* V0 = v + (t0 * Hv + h) * Dv;
  float* O0 = out + (t0 * Hv + h) * Dv;
  float* A = AB;
  float* B = AB + n * n;
  float* dm = DO;
  float* om = DO + n * Dv;
  auto bt = [&](int64_t r) { return beta[(t0 + r) * Hv + h]; };
  const ChunkDecays dec = chunk_decays(Gc, gam, igam, g + t0 * Hv + h, Hv, n);
  transpose_rows(kT, K0, ldk, n, Dk);
  // Pair products K·Kᵀ and Q·Kᵀ, then the decays and the masks:
  // A[r][s] = −β_r Γ_r/Γ_s k_r·k_s (s < r), B[r][s] = scale Γ_r/Γ_s q_r·k_s (s ≤ r), else 0.
  std::memset(AB, 0, (size_t)2 * n * n * sizeof(float));
  P.gemm(A, n, K0, ldk, kT, n, n, Dk, n);
  P.gemm(B, n, Q0, ldk, kT, n, n, Dk, n);
  decay_mask_pairs(A, B, n, beta + t0 * Hv + h, Hv, p.scale, dec);
  // K·S and Q·S: the carried state's part of u (rows of D) and of the outputs, scaled per row
  // below by Γ_r (and the attention scale for the outputs).
  std::memset(DO, 0, (size_t)2 * n * Dv * sizeof(float));
  P.gemm(dm, Dv, K0, ldk, S, Dv, n, Dk, Dv);
  P.gemm(om, Dv, Q0, ldk, S, Dv, n, Dk, Dv);
  // D: right-hand side β∘(V − Γ∘u), then the unit lower-triangular solve in place, by blocks.
  for (int64_t r = 0; r < n; r++) {
    const float b = bt(r), gr = gam[r];
    const float* __restrict vr = V0 + r * ldv;
    float* __restrict d = dm + r * Dv;
    for (int64_t j = 0; j < Dv; j++) d[j] = b * (vr[j] - gr * d[j]);
    P.scale(om + r * Dv, gr * p.scale, Dv);
  }
  for (int64_t r0 = 0; r0 < n; r0 += kSub) {
    const int64_t r1 = std::min(n, r0 + kSub);
    if (r0 > 0) P.gemm(dm + r0 * Dv, Dv, A + r0 * n, n, dm, Dv, r1 - r0, r0, Dv);
    P.solve_lower(dm + r0 * Dv, Dv, r1 - r0, Dv, A + r0 * n + r0, n);
  }
  // Outputs: scale (Γ∘Q)·S + B·D.
  P.gemm(om, Dv, B, n, dm, Dv, n, n, Dv);
  for (int64_t r = 0; r < n; r++) std::memcpy(O0 + r * ldv, om + r * Dv, (size_t)Dv * sizeof(float));
  // Carry: S ← Γ_n S + Kᵀ·(Γ_n/Γ ∘ D) (D is not needed after this).
  for (int64_t s = 0; s < n; s++) P.scale(dm + s * Dv, dec.pair(n - 1, s), Dv);
  P.scale(S, std::exp(Gc[n - 1]), Dk * Dv);
  P.gemm(S, Dv, kT, n, dm, Dv, Dk, n, Dv);
}

#if defined(TL_HAVE_X86_VARIANTS)
// C (+)= A·B over packed operands: row tile i of A at pa + i·pa_step (U.mr rows), column panel j
// of B at pb + j·pb_step (U.nr columns), C's tile (i, j) at C + i·mr·ldc + j·cstep (cstep = nr for
// a row-major C; a C kept in B-panel layout has ldc = nr, cstep = nr·rows). Panel by panel of B, so
// one B panel stays in L1 while the A panels pass over it.
//   lower: skip the tiles wholly above the diagonal (every column past every row of the tile);
//   tri_k: A is lower triangular, so row tile i runs only its first min(kc, its last row + 1) steps.
// Columns past N (N not a multiple of nr) go through a scratch tile.
template <const GemmTiles& U>
void tile_product(float* C, int64_t ldc, int64_t cstep, const float* pa, int64_t pa_step, const float* pb,
                  int64_t pb_step, int64_t M, int64_t N, int64_t kc, int accumulate, bool lower, bool tri_k,
                  RowPrefetch* pf = nullptr, int pf_lines = 0) {
  const int64_t mr = U.mr, nr = U.nr, mt = (M + mr - 1) / mr, nt = (N + nr - 1) / nr;
  alignas(64) float edge[16 * 64];  // one MR×NR tile (MR ≤ 16, NR ≤ 64)
  for (int64_t j = 0; j < nt; j++) {
    const int64_t cols = std::min(nr, N - j * nr);
    const float* b = pb + j * pb_step;
    for (int64_t i = 0; i < mt; i++) {
      const int64_t rows = std::min(mr, M - i * mr), end = i * mr + rows;
      if (lower && j * nr >= end) continue;
      const int64_t k = tri_k ? std::min(kc, end) : kc;
      const float* a = pa + i * pa_step;
      float* c = C + i * mr * ldc + j * cstep;
      if (pf) pf->step(pf_lines);
      if (cols == nr) {
        if (rows == mr)
          U.micro(k, a, b, c, ldc, accumulate);
        else
          U.micro_edge(k, a, b, c, ldc, accumulate, (int)rows);
      } else {
        U.micro(k, a, b, edge, nr, 0);
        for (int64_t r = 0; r < rows; r++)
          for (int64_t x = 0; x < cols; x++) c[r * ldc + x] = (accumulate ? c[r * ldc + x] : 0.f) + edge[r * nr + x];
      }
    }
  }
}

// delta_chunk_scalar_gate on the packed micro-kernels with each operand packed once per chunk and
// the carried state kept packed: Sp holds S [Dk, Dv] as the B panels of the products that read it
// (panel j: columns j·nr … j·nr+nr−1, zeros past Dv, as Dk rows of nr), and the state update
// writes its tiles there in place (ldc = nr), so S is never packed or unpacked between chunks.
// The chunk's keys and queries are packed once as A panels (for K·Kᵀ, Q·Kᵀ, K·S, Q·S), Kᵀ once
// as B panels, and D once, block by block as the solve finishes it, as B panels (for the solve's
// own products, B·D and the state update); Kᵀ for the update is packed from K's rows with the
// per-token decays Γ_n/Γ_s folded in. The pair products skip the tiles above the diagonal and
// B·D the steps past it. The outputs are written in place in out.
template <const GemmTiles& U>
void delta_chunk_packed(const Prims& P, float* out, const float* q, const float* k, const float* v, const float* g,
                        const float* beta, float* Sp, int64_t h, int64_t t0, const GatedDeltaParams& p,
                        RowPrefetch& next) {
  constexpr int64_t kSub = 16;
  const int64_t T = p.T, Hk = p.Hk, Hv = p.Hv, Dk = p.Dk, Dv = p.Dv, hk = h % Hk;
  const int64_t C = std::max<int64_t>(1, std::min(p.chunk, T));
  const int64_t mr = U.mr, nr = U.nr;
  const int64_t ldk = Hk * Dk, ldv = Hv * Dv;
  const int64_t n = std::min(C, T - t0);
  const int64_t mtn = (n + mr - 1) / mr, ntn = (n + nr - 1) / nr, mtk = (Dk + mr - 1) / mr, ntv = (Dv + nr - 1) / nr;
  // Panels (each a multiple of 16 floats, so each stays 64-byte aligned): K and Q as A panels,
  // Kᵀ and D as B panels, the rows of L = A or B as A panels, the decayed Kᵀ as A panels; then
  // A and B [n, n], D [n, Dv], and Γ's pieces [n] each.
  auto up16 = [](int64_t x) { return (x + 15) / 16 * 16; };
  const int64_t sK = up16(mtn * mr * Dk), sKt = up16(ntn * nr * Dk), sD = up16(ntv * nr * n), sL = up16(mtn * mr * n),
                sKs = up16(mtk * mr * n);
  static thread_local AlignedBuf buf;
  float* pK = buf.get((size_t)(2 * sK + sKt + sD + sL + sKs + 2 * n * n + n * Dv + 4 * n));
  float* pQ = pK + sK;
  float* pKt = pQ + sK;
  float* pD = pKt + sKt;
  float* pL = pD + sD;
  float* pKs = pL + sL;
  float* A = pKs + sKs;
  float* B = A + n * n;
  float* dm = B + n * n;
  float* Gc = dm + n * Dv;
  float* gam = Gc + n;
  float* igam = gam + n;
  float* es = igam + n;
  const float* K0 = k + (t0 * Hk + hk) * Dk;
  const float* Q0 = q + (t0 * Hk + hk) * Dk;
  const float* V0 = v + (t0 * Hv + h) * Dv;
  float* O0 = out + (t0 * Hv + h) * Dv;
  auto bt = [&](int64_t r) { return beta[(t0 + r) * Hv + h]; };
  const ChunkDecays dec = chunk_decays(Gc, gam, igam, g + t0 * Hv + h, Hv, n);
  for (int64_t i = 0; i < mtn; i++) {
    const int64_t rows = std::min(mr, n - i * mr);
    U.pack_a(pK + i * mr * Dk, K0 + i * mr * ldk, ldk, rows, Dk);
    U.pack_a(pQ + i * mr * Dk, Q0 + i * mr * ldk, ldk, rows, Dk);
  }
  for (int64_t j = 0; j < ntn; j++) U.pack_bt(pKt + j * nr * Dk, K0, ggml::F32, ldk, j * nr, std::min(nr, n - j * nr), 0, Dk);
  // Pair products (lower tiles only), then the decays and the masks:
  // A[r][s] = −β_r Γ_r/Γ_s k_r·k_s (s < r), B[r][s] = scale Γ_r/Γ_s q_r·k_s (s ≤ r), else 0.
  // This chunk's value rows come in during the pair products, before the right-hand side reads them.
  RowPrefetch pv;
  pv.base[0] = (const char*)V0;
  pv.stride[0] = ldv * 4, pv.lines = (Dv * 4 + 63) / 64, pv.rows = n, pv.streams = 1;
  const int pv_lines = (int)((pv.lines * n + ntn * mtn - 1) / (ntn * mtn));
  tile_product<U>(A, n, nr, pK, mr * Dk, pKt, nr * Dk, n, n, Dk, 0, true, false, &pv, pv_lines);
  tile_product<U>(B, n, nr, pQ, mr * Dk, pKt, nr * Dk, n, n, Dk, 0, true, false, &pv, pv_lines);
  pv.step(1 << 30);
  decay_mask_pairs(A, B, n, beta + t0 * Hv + h, Hv, p.scale, dec);
  // K·S into D's rows and Q·S into the output rows, scaled per row below by Γ_r (and the
  // attention scale for the outputs).
  tile_product<U>(dm, Dv, nr, pK, mr * Dk, Sp, nr * Dk, n, Dv, Dk, 0, false, false);
  tile_product<U>(O0, ldv, nr, pQ, mr * Dk, Sp, nr * Dk, n, Dv, Dk, 0, false, false);
  for (int64_t r = 0; r < n; r++) {
    const float b = bt(r), gr = gam[r];
    const float* __restrict vr = V0 + r * ldv;
    float* __restrict d = dm + r * Dv;
    for (int64_t j = 0; j < Dv; j++) d[j] = b * (vr[j] - gr * d[j]);
    P.scale(O0 + r * ldv, gr * p.scale, Dv);
  }
  // D: the unit lower-triangular solve in place, by blocks of kSub rows (a product with the rows
  // already packed, then the block's own rows), each finished block packed into D's B panels.
  for (int64_t r0 = 0; r0 < n; r0 += kSub) {
    const int64_t r1 = std::min(n, r0 + kSub), m = r1 - r0;
    if (r0 > 0) {
      for (int64_t i = 0; i * mr < m; i++) U.pack_a(pL + i * mr * r0, A + (r0 + i * mr) * n, n, std::min(mr, m - i * mr), r0);
      tile_product<U>(dm + r0 * Dv, Dv, nr, pL, mr * r0, pD, nr * n, m, Dv, r0, 1, false, false);
    }
    P.solve_lower(dm + r0 * Dv, Dv, m, Dv, A + r0 * n + r0, n);
    for (int64_t j = 0; j < ntv; j++) U.pack_b(pD + j * nr * n + r0 * nr, dm + r0 * Dv + j * nr, Dv, std::min(nr, Dv - j * nr), m);
  }
  // Outputs += B·D (B lower triangular: row tile i needs D's rows up to its own last).
  for (int64_t i = 0; i < mtn; i++) {
    const int64_t rows = std::min(mr, n - i * mr);
    U.pack_a(pL + i * mr * n, B + i * mr * n, n, rows, i * mr + rows);
  }
  tile_product<U>(O0, ldv, nr, pL, mr * n, pD, nr * n, n, Dv, n, 1, false, true);
  // Carry: S ← Γ_n S + (Γ_n/Γ ∘ K)ᵀ·D, the update's tiles written into the packed state.
  for (int64_t s = 0; s < n; s++) es[s] = dec.pair(n - 1, s);
  P.scale(Sp, std::exp(Gc[n - 1]), Dk * ntv * nr);
  P.pack_at(pKs, K0, ldk, n, Dk, es, (int)mr);
  // The next chunk's key and query rows come in during the state update.
  const int nx_lines = (int)((next.lines * next.rows * next.streams + mtk * ntv - 1) / (mtk * ntv));
  tile_product<U>(Sp, nr, nr * Dk, pKs, mr * n, pD, nr * n, Dk, ntv * nr, n, 1, false, false, &next, nx_lines);
}

// One chunk (the n tokens from t0) of KV head hk of the paper's rule, causal, on the packed
// micro-kernels, the state S kept as B panels (as delta_chunk_packed's) and z [Dk] beside it:
// the feature rows Φk, Φq are computed once, then packed once each (Φq as A panels, Φkᵀ as B and
// as A panels, V as B panels) for all the chunk's products; the outputs are written in place.
//   num = Φq·S + mask(Φq Φkᵀ)·V,  den = Φq·z + rowsum(mask(Φq Φkᵀ)) + eps,  out = num / den;
//   then S += Φkᵀ·V, z += Σ Φk.
template <const GemmTiles& U>
void linear_chunk_packed(const Prims& P, float* out, const float* q, const float* k, const float* v, float* Sp,
                         float* z, int64_t hk, int64_t t0, const LinearAttentionParams& p, RowPrefetch& next) {
  const int64_t T = p.T, H = p.H, Hkv = p.Hkv, Dk = p.Dk, Dv = p.Dv, G = H / Hkv;
  const int64_t C = std::max<int64_t>(1, std::min(p.chunk, T));
  const int64_t mr = U.mr, nr = U.nr;
  const int64_t ldq = H * Dk, ldk = Hkv * Dk, ldv = Hkv * Dv, ldo = H * Dv;
  const int64_t n = std::min(C, T - t0);
  const int64_t mtn = (n + mr - 1) / mr, ntn = (n + nr - 1) / nr, mtk = (Dk + mr - 1) / mr, ntv = (Dv + nr - 1) / nr;
  auto up16 = [](int64_t x) { return (x + 15) / 16 * 16; };
  const int64_t sQ = up16(mtn * mr * Dk), sKt = up16(ntn * nr * Dk), sV = up16(ntv * nr * n), sL = up16(mtn * mr * n),
                sKs = up16(mtk * mr * n);
  static thread_local AlignedBuf buf;
  float* pQ = buf.get((size_t)(sQ + sKt + sV + sL + sKs + 2 * n * Dk + n * n + 2 * n));
  float* pKt = pQ + sQ;
  float* pV = pKt + sKt;
  float* pL = pV + sV;
  float* pKs = pL + sL;
  float* fk = pKs + sKs;
  float* fq = fk + n * Dk;
  float* A = fq + n * Dk;
  float* den = A + n * n;
  float* ones = den + n;
  const float* K0 = k + (t0 * Hkv + hk) * Dk;
  const float* V0 = v + (t0 * Hkv + hk) * Dv;
  for (int64_t r = 0; r < n; r++) {
    P.feature(fk + r * Dk, K0 + r * ldk, Dk, (int)p.phi);
    ones[r] = 1.f;
  }
  for (int64_t j = 0; j < ntn; j++) U.pack_bt(pKt + j * nr * Dk, fk, ggml::F32, Dk, j * nr, std::min(nr, n - j * nr), 0, Dk);
  for (int64_t j = 0; j < ntv; j++) U.pack_b(pV + j * nr * n, V0 + j * nr, ldv, std::min(nr, Dv - j * nr), n);
  for (int64_t g = 0; g < G; g++) {
    const int64_t h = hk * G + g;
    const float* Q0 = q + (t0 * H + h) * Dk;
    float* O0 = out + (t0 * H + h) * Dv;
    for (int64_t r = 0; r < n; r++) P.feature(fq + r * Dk, Q0 + r * ldq, Dk, (int)p.phi);
    for (int64_t i = 0; i < mtn; i++) U.pack_a(pQ + i * mr * Dk, fq + i * mr * Dk, Dk, std::min(mr, n - i * mr), Dk);
    // A = mask(Φq Φkᵀ) (lower tiles, then the mask), den = Φq·z + rowsum(A) + eps.
    tile_product<U>(A, n, nr, pQ, mr * Dk, pKt, nr * Dk, n, n, Dk, 0, true, false);
    for (int64_t r = 0; r < n; r++) {
      float* ar = A + r * n;
      float d = P.dot(fq + r * Dk, z, Dk) + p.eps;
      for (int64_t s2 = 0; s2 <= r; s2++) d += ar[s2];
      for (int64_t s2 = r + 1; s2 < n; s2++) ar[s2] = 0.f;
      den[r] = d;
    }
    // num = Φq·S + A·V in the output rows (A lower triangular: row tile i stops at its last row).
    tile_product<U>(O0, ldo, nr, pQ, mr * Dk, Sp, nr * Dk, n, Dv, Dk, 0, false, false);
    for (int64_t i = 0; i < mtn; i++) {
      const int64_t rows = std::min(mr, n - i * mr);
      U.pack_a(pL + i * mr * n, A + i * mr * n, n, rows, i * mr + rows);
    }
    tile_product<U>(O0, ldo, nr, pL, mr * n, pV, nr * n, n, Dv, n, 1, false, true);
    for (int64_t r = 0; r < n; r++) P.scale(O0 + r * ldo, 1.f / den[r], Dv);
  }
  // S += Φkᵀ·V, z += Σ Φk.
  // (the next chunk's key, query and value rows come in meanwhile)
  P.pack_at(pKs, fk, Dk, n, Dk, ones, (int)mr);
  const int nx_lines = (int)((next.lines * next.rows * next.streams + mtk * ntv - 1) / (mtk * ntv));
  tile_product<U>(Sp, nr, nr * Dk, pKs, mr * n, pV, nr * n, Dk, ntv * nr, n, 1, false, false, &next, nx_lines);
  for (int64_t r = 0; r < n; r++) P.axpy(z, 1.f, fk + r * Dk, Dk);
}
#endif

// The chunk kernel of the active ISA and the panel width of its state layout (the scalar path
// keeps S row-major, one panel of Dv columns).
struct DeltaChunk {
  int64_t nr;
  void (*fn)(const Prims&, float*, const float*, const float*, const float*, const float*, const float*, float*, int64_t,
             int64_t, const GatedDeltaParams&, RowPrefetch&);
};

DeltaChunk pick_delta_chunk(int64_t Dv) {
  switch (active_isa()) {
#if defined(TL_HAVE_X86_VARIANTS)
    case Isa::Avx512: return {kTiles512.nr, delta_chunk_packed<kTiles512>};
    case Isa::Avx2: return {kTiles2.nr, delta_chunk_packed<kTiles2>};
#endif
    default: return {Dv, delta_chunk_scalar_gate};
  }
}

// The states of all value heads in the chunked form's layout (B panels of nr columns), kept by
// the calling thread between calls.
float* chunk_states(size_t floats) {
  static thread_local AlignedBuf buf;
  return buf.get(floats);
}

// state (llama.cpp's [Dv, Dk]: row j = column j of S) to S as B panels of nr columns: row by row
// of state (contiguous reads), each panel's writes within its Dk·nr floats.
void state_to_panels(float* __restrict Sp, const float* __restrict M, int64_t Dk, int64_t Dv, int64_t nr) {
  const int64_t ntv = (Dv + nr - 1) / nr;
  for (int64_t jp = 0; jp < ntv; jp++) {
    float* panel = Sp + jp * nr * Dk;
    for (int64_t x = 0; x < nr; x++) {
      const int64_t j = jp * nr + x;
      if (j < Dv)
        for (int64_t i = 0; i < Dk; i++) panel[i * nr + x] = M[j * Dk + i];
      else
        for (int64_t i = 0; i < Dk; i++) panel[i * nr + x] = 0.f;
    }
  }
}

void panels_to_state(float* __restrict M, const float* __restrict Sp, int64_t Dk, int64_t Dv, int64_t nr) {
  for (int64_t j = 0; j < Dv; j++) {
    const float* col = Sp + (j / nr) * nr * Dk + j % nr;
    for (int64_t i = 0; i < Dk; i++) M[j * Dk + i] = col[i * nr];
  }
}

// One value head h: state rows M [Dv, Dk] (row j = column j of S), key head h % Hk. The
// recurrence (chunk 1, decode) and the per-channel-gate chunked form.
void delta_head(const Prims& P, float* out, const float* q, const float* k, const float* v, const float* g,
                const float* beta, float* M, int64_t h, const GatedDeltaParams& p) {
  const int64_t T = p.T, Hk = p.Hk, Hv = p.Hv, Dk = p.Dk, Dv = p.Dv, hk = h % Hk;
  const int64_t Gd = p.channel_gate ? Dk : 1;  // decays per token
  const int64_t C = std::max<int64_t>(1, std::min(p.chunk, T));
  auto kt = [&](int64_t t) { return k + (t * Hk + hk) * Dk; };
  auto qt = [&](int64_t t) { return q + (t * Hk + hk) * Dk; };
  auto vt = [&](int64_t t) { return v + (t * Hv + h) * Dv; };
  auto gt = [&](int64_t t) { return g + (t * Hv + h) * Gd; };
  auto bt = [&](int64_t t) { return beta[t * Hv + h]; };

  if (C == 1) {  // the recurrence, one fused pass over the state rows per token
    float* dec = scratch(Dk);
    for (int64_t t = 0; t < T; t++) {
      const float* gv = gt(t);
      if (p.channel_gate)
        for (int64_t i = 0; i < Dk; i++) dec[i] = std::exp(gv[i]);
      P.delta_rows(M, Dv, Dk, kt(t), qt(t), std::exp(gv[0]), p.channel_gate ? dec : nullptr, vt(t), bt(t), p.scale,
                   out + (t * Hv + h) * Dv);
    }
    return;
  }

  // Scratch: S [Dk, Dv] (the state in the layout the products want), cumulative log-decays Gc
  // [C, Gd], decayed keys/queries kd, qd [C, Dk], kdᵀ [Dk, C], u then d [C, Dv], o [C, Dv], pair
  // weights A, B [C, C], one weighted row w [Dk].
  float* S = scratch((size_t)Dk * Dv + C * Gd + 3 * C * Dk + 2 * C * Dv + 2 * C * C + Dk);
  float* Gc = S + Dk * Dv;
  float* kd = Gc + C * Gd;
  float* qd = kd + C * Dk;
  float* kT = qd + C * Dk;
  float* dm = kT + C * Dk;
  float* om = dm + C * Dv;
  float* A = om + C * Dv;
  float* B = A + C * C;
  float* w = B + C * C;
  for (int64_t j = 0; j < Dv; j++)
    for (int64_t i = 0; i < Dk; i++) S[i * Dv + j] = M[j * Dk + i];

  // Σ_i x[i]·y[i]·exp(Gc[t][i] − Gc[s][i]) : the pair weight of tokens s ≤ t inside the chunk
  // (per-channel gate; the scalar gate's factor e = exp(Gc[t] − Gc[s]) is shared by A and B).
  auto decayed_dot = [&](const float* x, const float* y, int64_t t, int64_t s) {
    for (int64_t i = 0; i < Dk; i++) w[i] = x[i] * std::exp(Gc[t * Dk + i] - Gc[s * Dk + i]);
    return P.dot(w, y, Dk);
  };

  for (int64_t t0 = 0; t0 < T; t0 += C) {
    const int64_t n = std::min(T, t0 + C) - t0;
    // Γ_r = exp(Σ_{r' ≤ r} g_r') from the chunk start, applied to k_r and q_r for the carried-state terms.
    for (int64_t r = 0; r < n; r++) {
      const float* gv = gt(t0 + r);
      for (int64_t i = 0; i < Gd; i++) Gc[r * Gd + i] = gv[i] + (r ? Gc[(r - 1) * Gd + i] : 0.f);
      const float gamma0 = std::exp(Gc[r * Gd]);
      for (int64_t i = 0; i < Dk; i++) {
        const float gamma = p.channel_gate ? std::exp(Gc[r * Gd + i]) : gamma0;
        kd[r * Dk + i] = gamma * kt(t0 + r)[i];
        qd[r * Dk + i] = gamma * qt(t0 + r)[i];
      }
    }
    // Carried state: u = (Γ∘K)·S₀, o = (Γ∘Q)·S₀.
    std::memset(dm, 0, (size_t)2 * C * Dv * sizeof(float));  // dm and om
    P.gemm(dm, Dv, kd, Dk, S, Dv, n, Dk, Dv);
    P.gemm(om, Dv, qd, Dk, S, Dv, n, Dk, Dv);
    // Pair weights: A[r][s] = β_r (Γ_r/Γ_s ⊙ k_r)·k_s for s < r; B[r][s] = (Γ_r/Γ_s ⊙ q_r)·k_s for s ≤ r, else 0.
    for (int64_t r = 0; r < n; r++) {
      const float br = bt(t0 + r);
      if (p.channel_gate) {
        for (int64_t s = 0; s < r; s++) A[r * n + s] = br * decayed_dot(kt(t0 + r), kt(t0 + s), r, s);
        for (int64_t s = 0; s <= r; s++) B[r * n + s] = decayed_dot(qt(t0 + r), kt(t0 + s), r, s);
      } else {
        for (int64_t s = 0; s <= r; s++) {
          const float e = std::exp(Gc[r] - Gc[s]);
          if (s < r) A[r * n + s] = br * e * P.dot(kt(t0 + r), kt(t0 + s), Dk);
          B[r * n + s] = e * P.dot(qt(t0 + r), kt(t0 + s), Dk);
        }
      }
      for (int64_t s = r + 1; s < n; s++) B[r * n + s] = 0.f;
    }
    // WY / forward substitution: d_r = β_r (v_r − u_r) − Σ_{s<r} A[r][s] d_s.
    for (int64_t r = 0; r < n; r++) {
      float* d = dm + r * Dv;
      const float* vr = vt(t0 + r);
      const float b = bt(t0 + r);
      for (int64_t j = 0; j < Dv; j++) d[j] = b * (vr[j] - d[j]);
      for (int64_t s = 0; s < r; s++) P.axpy(d, -A[r * n + s], dm + s * Dv, Dv);
    }
    // Outputs: o = scale (o + B·D).
    P.gemm(om, Dv, B, n, dm, Dv, n, n, Dv);
    for (int64_t r = 0; r < n; r++) {
      float* dst = out + ((t0 + r) * Hv + h) * Dv;
      for (int64_t j = 0; j < Dv; j++) dst[j] = p.scale * om[r * Dv + j];
    }
    // Carry: S ← Γ_n S₀ + (Γ_n/Γ ⊙ K)ᵀ·D.
    const float* Gn = Gc + (n - 1) * Gd;
    for (int64_t s = 0; s < n; s++) {
      const float e0 = std::exp(Gn[0] - Gc[s * Gd]);
      for (int64_t i = 0; i < Dk; i++)
        kT[i * n + s] = kt(t0 + s)[i] * (p.channel_gate ? std::exp(Gn[i] - Gc[s * Gd + i]) : e0);
    }
    if (p.channel_gate)
      for (int64_t i = 0; i < Dk; i++) P.scale(S + i * Dv, std::exp(Gn[i]), Dv);
    else
      P.scale(S, std::exp(Gn[0]), Dk * Dv);
    P.gemm(S, Dv, kT, n, dm, Dv, Dk, n, Dv);
  }
  for (int64_t j = 0; j < Dv; j++)
    for (int64_t i = 0; i < Dk; i++) M[j * Dk + i] = S[i * Dv + j];
}

}  // namespace

void linear_attention(float* out, const float* q, const float* k, const float* v, float* state,
                      const LinearAttentionParams& p) {
  if (p.T <= 0 || p.Hkv <= 0) return;
  const Prims P = pick();
  const int64_t per_head = p.Dk * p.Dv + p.Dk;
#if defined(TL_HAVE_X86_VARIANTS)
  const Isa isa = active_isa();
  if (p.causal && p.chunk > 1 && p.T > 1 && (isa == Isa::Avx512 || isa == Isa::Avx2)) {
    // As gated_delta_rule: one contiguous range of KV heads per thread, chunk by chunk over its
    // heads, each head's S kept as B panels of nr columns (and z beside it) between chunks.
    // (Decode, T = 1, stays on linear_head: converting S to panels and back would be most of it.)
    const int64_t Dk = p.Dk, Dv = p.Dv, C = std::min(p.chunk, p.T);
    const int64_t nr = isa == Isa::Avx512 ? kTiles512.nr : kTiles2.nr;
    auto chunk = isa == Isa::Avx512 ? linear_chunk_packed<kTiles512> : linear_chunk_packed<kTiles2>;
    const int64_t ntv = (Dv + nr - 1) / nr, sp_head = (Dk * ntv * nr + Dk + 15) / 16 * 16;
    float* S = chunk_states((size_t)(p.Hkv * sp_head));
    const int64_t groups = std::min<int64_t>(p.Hkv, pool_threads());
    parallel_for(groups, 1, [&](int64_t gb, int64_t ge, int) {
      const int64_t b = p.Hkv * gb / groups, e = p.Hkv * ge / groups;
      for (int64_t hk = b; hk < e; hk++) {  // row-major S → panels; z after them
        const float* st = state + hk * per_head;
        float* sp = S + hk * sp_head;
        for (int64_t jp = 0; jp < ntv; jp++)
          for (int64_t i = 0; i < Dk; i++)
            for (int64_t x = 0; x < nr; x++) {
              const int64_t j = jp * nr + x;
              sp[jp * nr * Dk + i * nr + x] = j < Dv ? st[i * Dv + j] : 0.f;
            }
        std::memcpy(sp + Dk * ntv * nr, st + Dk * Dv, (size_t)Dk * sizeof(float));
      }
      for (int64_t t0 = 0; t0 < p.T; t0 += C)
        for (int64_t hk = b; hk < e; hk++) {
          float* sp = S + hk * sp_head;
          RowPrefetch pf;  // the key/query/value rows of this thread's next (head, chunk)
          const int64_t nh = hk + 1 == e ? b : hk + 1, nt = hk + 1 == e ? t0 + C : t0;
          if (nt < p.T) {  // (of its query heads, the first; lines: as many as the shorter row has)
            pf.base[0] = (const char*)(k + (nt * p.Hkv + nh) * Dk);
            pf.base[1] = (const char*)(q + (nt * p.H + nh * (p.H / p.Hkv)) * Dk);
            pf.base[2] = (const char*)(v + (nt * p.Hkv + nh) * Dv);
            pf.stride[0] = p.Hkv * Dk * 4, pf.stride[1] = p.H * Dk * 4, pf.stride[2] = p.Hkv * Dv * 4;
            pf.lines = (std::min(Dk, Dv) * 4 + 63) / 64, pf.streams = 3, pf.rows = std::min(C, p.T - nt);
          }
          chunk(P, out, q, k, v, sp, sp + Dk * ntv * nr, hk, t0, p, pf);
        }
      for (int64_t hk = b; hk < e; hk++) {
        float* st = state + hk * per_head;
        const float* sp = S + hk * sp_head;
        for (int64_t i = 0; i < Dk; i++)
          for (int64_t j = 0; j < Dv; j++) st[i * Dv + j] = sp[(j / nr) * nr * Dk + i * nr + j % nr];
        std::memcpy(st + Dk * Dv, sp + Dk * ntv * nr, (size_t)Dk * sizeof(float));
      }
    });
    return;
  }
#endif
  parallel_for(p.Hkv, 1, [&](int64_t b, int64_t e, int) {
    for (int64_t hk = b; hk < e; hk++) linear_head(P, out, q, k, v, state + hk * per_head, hk, p);
  });
}

void gated_delta_rule(float* out, const float* q, const float* k, const float* v, const float* g,
                      const float* beta, float* state, const GatedDeltaParams& p) {
  if (p.T <= 0 || p.Hv <= 0) return;
  const Prims P = pick();
  const int64_t Dk = p.Dk, Dv = p.Dv, C = std::min(p.chunk, p.T);
  if (p.channel_gate || C <= 1) {
    parallel_for(p.Hv, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t h = b; h < e; h++) delta_head(P, out, q, k, v, g, beta, state + h * Dv * Dk, h, p);
    });
    return;
  }
  // Each thread takes one contiguous range of heads (one range per thread: the pool would cut
  // 16 heads into 8 pieces of 2 for 2 threads) and walks the chunks in order, all its heads within
  // a chunk: a token's rows of q/k/v/out for those heads are one contiguous run sharing its pages.
  // Head by head over the whole sequence read 512-byte rows an [H, D] slice apart, a page apart for
  // H = 16, D = 128, and paid a cache and TLB miss per row (~20 % of a T = 4096 prefill); pieces of
  // 2 heads paid a TLB miss per 2 rows. The heads never meet, so there is no barrier per chunk.
  const DeltaChunk dc = pick_delta_chunk(Dv);
  const int64_t per_head = Dk * ((Dv + dc.nr - 1) / dc.nr) * dc.nr;
  float* S = chunk_states((size_t)(p.Hv * per_head));
  const int64_t groups = std::min<int64_t>(p.Hv, pool_threads());
  parallel_for(groups, 1, [&](int64_t gb, int64_t ge, int) {
    const int64_t b = p.Hv * gb / groups, e = p.Hv * ge / groups;
    for (int64_t h = b; h < e; h++) state_to_panels(S + h * per_head, state + h * Dv * Dk, Dk, Dv, dc.nr);
    // While head h's chunk computes, the key and query rows of this thread's next (head, chunk) come in.
    auto next_rows = [&](int64_t h, int64_t t0) {
      RowPrefetch pf;
      if (h + 1 == e) h = b, t0 += C;
      else h++;
      if (t0 >= p.T) return pf;
      const int64_t hk = h % p.Hk;
      pf.base[0] = (const char*)(k + (t0 * p.Hk + hk) * Dk);
      pf.base[1] = (const char*)(q + (t0 * p.Hk + hk) * Dk);
      pf.stride[0] = pf.stride[1] = p.Hk * Dk * 4, pf.lines = (Dk * 4 + 63) / 64, pf.streams = 2;
      pf.rows = std::min(C, p.T - t0);
      return pf;
    };
    for (int64_t t0 = 0; t0 < p.T; t0 += C)
      for (int64_t h = b; h < e; h++) {
        RowPrefetch pf = next_rows(h, t0);
        dc.fn(P, out, q, k, v, g, beta, S + h * per_head, h, t0, p, pf);
      }
    for (int64_t h = b; h < e; h++) panels_to_state(state + h * Dv * Dk, S + h * per_head, Dk, Dv, dc.nr);
  });
}

}  // namespace tl
