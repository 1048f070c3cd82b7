// The per-ISA building blocks of the matmul family, combined by the dispatcher (matmul.cpp).
// Each ISA namespace (tl::avx2 in matmul_avx2.cpp, tl::avx512 in matmul_avx512.cpp) provides the
// same set with its own register tile MR×NR. Plain functions on raw pointers: no STL, no templates,
// so nothing compiled with ISA flags can leak into generic code.
//
// Packed layouts (as in BLIS/GotoBLAS):
//   A panel: pa[k * MR + i] = a[i, k] for the MR rows of one tile (rows past the edge are zero).
//   B panel: pb[k * NR + j] = B[k, j] for the NR columns of one tile (columns past the edge zero),
//            where B = wᵀ converted to f32 (matmul_t) or b itself (matmul).
#pragma once
#include <cstddef>
#include <cstdint>

// The same declarations for each ISA namespace (only kMR/kNR differ).
#define TL_MATMUL_ISA_DECLS(ns, MR_, NR_)                                                              \
  namespace tl::ns {                                                                                  \
  constexpr int kMR = MR_;                                                                            \
  constexpr int kNR = NR_;                                                                            \
  /* GEMV: out[n] = Σ_k a[k] · w[n, k] for n in [n0, n1). w: rows of row_bytes bytes. */              \
  void gemv_t(float* out, const float* a, const void* w, int wt, int64_t K, int64_t n0, int64_t n1);  \
  /* Skinny M (2..~32): out[m, n] (row stride ldo) for m < M, n in [n0, n1), as dot products of  \
     rows of a with weight rows; non-f32 weights are expanded 3 rows at a time into scratch      \
     (3·K floats). No packing: each weight row is read once per call. */                         \
  void skinny_t(float* out, int64_t ldo, const float* a, int64_t M, const void* w, int wt, int64_t K,  \
                int64_t n0, int64_t n1, float* scratch);                                          \
  /* GEMV on b [K, N]: out[n] = Σ_k a[k] · b[k, n] for n in [n0, n1). */                              \
  void gemv(float* out, const float* a, const float* b, int64_t K, int64_t N, int64_t n0, int64_t n1); \
  /* Packs rows [0, mr) × columns [0, kc) of a (row stride lda) into one A panel. */                  \
  void pack_a(float* pa, const float* a, int64_t lda, int64_t mr, int64_t kc);                        \
  /* Packs B = wᵀ rows k0..k0+kc, columns n0..n0+nr (converted to f32) into one B panel. */            \
  void pack_bt(float* pb, const void* w, int wt, int64_t K, int64_t n0, int64_t nr, int64_t k0,       \
               int64_t kc);                                                                           \
  /* Packs b[k0.., n0..] (row stride ldb; b points at element [k0, n0]) into one B panel. */          \
  void pack_b(float* pb, const float* b, int64_t ldb, int64_t nr, int64_t kc);                        \
  /* c[MR×NR] (row stride ldc) = (accumulate ? c : 0) + pa · pb over kc steps. */                      \
  void micro(int64_t kc, const float* pa, const float* pb, float* c, int64_t ldc, int accumulate);    \
  /* The same for the first `rows` (1 ≤ rows < MR) rows only: the bottom edge of out. */            \
  void micro_edge(int64_t kc, const float* pa, const float* pb, float* c, int64_t ldc, int accumulate, \
                  int rows);                                                                      \
  }

TL_MATMUL_ISA_DECLS(avx2, 6, 16)    // matmul_avx2.cpp:   6×16 tile, 8-lane vectors
TL_MATMUL_ISA_DECLS(avx512, 6, 32)  // matmul_avx512.cpp: 6×32 tile, 16-lane vectors
#undef TL_MATMUL_ISA_DECLS

// AVX-512 BF16 (vdpbf16ps) micro-kernels for bf16 weights, run only where active_bf16_dot(): the same
// 6×32 tile over panels whose 32-bit words are bf16 pairs (k = 2p, 2p + 1) of A and of the weights,
// packed by avx512::pack_a / pack_bt as f32 words, kc counting pairs. In matmul_avx512.cpp.
namespace tl::avx512 {
void micro_bf16(int64_t kc, const float* pa, const float* pb, float* c, int64_t ldc, int accumulate);
void micro_edge_bf16(int64_t kc, const float* pa, const float* pb, float* c, int64_t ldc, int accumulate, int rows);
// Skinny M (as skinny_t) on bf16 rows: a [M, K] already rounded to bf16, w [N, K] bf16 weights.
void skinny_t_bf16(float* out, int64_t ldo, const uint16_t* a, int64_t M, const uint16_t* w, int64_t K, int64_t n0,
                   int64_t n1);
}  // namespace tl::avx512
