// Matrix multiplication kernels (plain C++ API, no JS types).
//
//   matmul_t: out[M, N] = a[M, K] · wᵀ, w stored row-major [N, K] the way model files store a
//             Linear layer's weight ([out_features, in_features]), as f32, f16, bf16 or Q8_0.
//   matmul:   out[M, N] = a[M, K] · b[K, N], all f32.
//
// What is computed, exactly: every weight is first expanded to f32 (f16/bf16 conversion is exact;
// a Q8_0 weight is f32(d) * q, which is exact too since d has 11 significant bits and q 8), then
// out[m, n] = Σ_k a[m, k] · w[n, k] accumulated in f32. Only the summation order differs between
// the scalar reference and the SIMD paths, so results agree to f32 rounding of a K-term sum.
//
// The entry points pick the SIMD variant with tl::active_isa() on every call and split the work
// over the shared thread pool. Three regimes:
//   GEMV (M = 1) and skinny M (≤ kSkinnyMaxM): stream each weight row once, reuse it for all M
//     rows of a; N is split across threads.
//   GEMM: B (the weights, converted to f32) and A are packed into cache-sized panels and a
//     register-blocked microkernel computes MR×NR tiles of out.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tl {

enum class WeightType : int { F32 = 0, F16 = 1, BF16 = 2, Q8_0 = 3 };

// Bytes of one weight row of K values (Q8_0: K must be a multiple of 32).
static inline int64_t weight_row_bytes(WeightType t, int64_t K) {
  switch (t) {
    case WeightType::F32: return K * 4;
    case WeightType::F16:
    case WeightType::BF16: return K * 2;
    case WeightType::Q8_0: return K / 32 * 34;
  }
  return 0;
}

// Multithreaded, ISA-dispatched entry points. out must not overlap a, w or b.
void matmul_t(float* out, const float* a, const void* w, WeightType wt, int64_t M, int64_t N, int64_t K);
void matmul(float* out, const float* a, const float* b, int64_t M, int64_t K, int64_t N);

// The scalar reference (single thread, plain loops): the definition the SIMD paths are tested
// against. Computes output columns [n0, n1) only, so the scalar path can still be threaded.
namespace ref {
void matmul_t(float* out, const float* a, const void* w, WeightType wt, int64_t M, int64_t N, int64_t K,
              int64_t n0, int64_t n1);
void matmul(float* out, const float* a, const float* b, int64_t M, int64_t K, int64_t N, int64_t n0, int64_t n1);
}  // namespace ref

}  // namespace tl
