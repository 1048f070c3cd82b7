// The per-ISA vector primitives of the linear-attention family (linear_attention_scalar.cpp is the
// reference; _avx2.cpp and _avx512.cpp the SIMD variants). linear_attention.cpp builds both update
// rules from them and dispatches on tl::active_isa().
#pragma once
#include <cstdint>

namespace tl {

#define TL_LINATTN_KERNEL_API                                                                      \
  /* Σ a[i]·b[i] */                                                                                \
  float la_dot(const float* a, const float* b, int64_t n);                                         \
  /* y += a·x */                                                                                   \
  void la_axpy(float* y, float a, const float* x, int64_t n);                                      \
  /* y *= a */                                                                                     \
  void la_scale(float* y, float a, int64_t n);                                                     \
  /* out[r] = alpha · dot(M + r·ld, x), r < rows (a matrix-vector product over rows of n) */       \
  void la_dot_rows(float* out, const float* M, int64_t rows, int64_t ld, const float* x, int64_t n, \
                   float alpha);                                                                   \
  /* dst = φ(src): phi 0 = elu(x) + 1, 1 = relu, 2 = identity (FeatureMap's values) */            \
  void la_feature(float* dst, const float* src, int64_t n, int phi);                              \
  /* C[M, N] += A[M, K] · B[K, N], row-major with leading dimensions (the chunked forms' products) */ \
  void la_gemm(float* C, int64_t ldc, const float* A, int64_t lda, const float* B, int64_t ldb,     \
               int64_t M, int64_t K, int64_t N);                                                    \
  /* One token of the gated delta rule over the state rows M[j] (j < rows, each Dk long):         \
     M[j] *= decay (a scalar, or the vector decay_vec when it is not null);                        \
     d = beta·(v[j] − M[j]·k);  M[j] += d·k;  out[j] = scale · M[j]·q. */                          \
  void la_delta_rows(float* M, int64_t rows, int64_t Dk, const float* k, const float* q,           \
                     float decay, const float* decay_vec, const float* v, float beta, float scale,  \
                     float* out);                                                                 \
  /* Forward substitution in place over m rows of D (row stride ldd, n columns each), with L's   \
     rows holding the negated coefficients: D[r] += Σ_{s<r} L[r·ldl + s]·D[s] for r = 1 … m−1,  \
     s ascending (each step one fused multiply-add, as la_axpy's y += a·x). */                 \
  void la_solve_lower(float* D, int64_t ldd, int64_t m, int64_t n, const float* L, int64_t ldl);  \
  /* The matmul family's A panels (matmul_kernels.h) of aᵀ with row k of a scaled by scale[k]:   \
     a is [kc, cols] (row stride lda); panel p holds columns p·mr … p·mr+mr−1 of a as           \
     pa[p·mr·kc + k·mr + i] = scale[k]·a[k·lda + p·mr + i], zeros past cols (mr ≤ 8). */        \
  void la_pack_at(float* pa, const float* a, int64_t lda, int64_t kc, int64_t cols, const float* scale, int mr);

namespace scalar { TL_LINATTN_KERNEL_API }
namespace avx2 { TL_LINATTN_KERNEL_API }
namespace avx512 { TL_LINATTN_KERNEL_API }

#undef TL_LINATTN_KERNEL_API

}  // namespace tl
