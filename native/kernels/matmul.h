// Matrix multiplication kernels (plain C++ API, no JS types).
//
//   matmul_t: out[M, N] = a[M, K] · wᵀ, w stored row-major [N, K] the way model files store a
//             Linear layer's weight ([out_features, in_features]), in any type of the weight-type
//             table (weight_types.h), named by its GGML type id.
//   matmul_t_many: several matmul_t on the same a (Q/K/V, gate/up): a is quantized once per
//             activation type and one thread-pool job computes every output.
//   matmul:   out[M, N] = a[M, K] · b[K, N], all f32.
//
// What is computed, exactly:
//   float weights (f32, f16, bf16): every weight is expanded to f32 (exact); for f16 / bf16 weights
//     the activations are first rounded to f16 / bf16 (round to nearest even), as ggml does; then
//     out[m, n] = Σ_k a[m, k] · w[n, k] accumulated in f32. Only the summation order differs between
//     the scalar reference and the SIMD paths, so results agree to f32 rounding of a K-term sum.
//   quantized weights: as ggml does it. Each row of a is quantized once to the type's activation
//     format (Q8_0 / Q8_1 / Q8_K, bit-exact with ggml's x86 quantizer), then each output is the
//     type's dot product: int8 × int8 (or unpacked int4..int6) products summed exactly in int32 per
//     block, scaled by the blocks' scales in f32. The scalar reference and every SIMD kernel compute
//     the same integers; only the f32 sum over blocks is ordered differently.
//
// The entry points pick the SIMD variant with tl::active_isa() on every call and split the work
// over the shared thread pool. Three regimes:
//   GEMV (M = 1) and skinny M (≤ kSkinnyMaxM): stream each weight row once, reuse it for all M
//     rows of a; N is split across threads.
//   GEMM: float weights: B (converted to f32) and A are packed into cache-sized panels and a
//     register-blocked microkernel computes MR×NR tiles of out. Quantized weights: tiles of weight
//     rows × quantized activation rows, each output one integer dot product (weights stay packed).
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/weight_types.h"

namespace tl {

// One projection of matmul_t_many: out[M, N] = a · wᵀ, w [N, K] of GGML type `type`.
struct Projection {
  float* out;
  const void* w;
  int type;
  int64_t N;
};

// Multithreaded, ISA-dispatched entry points. out must not overlap a, w or b. `wtype` must be a
// type of the table (weight_type(wtype) != null) and K a multiple of its block size.
void matmul_t(float* out, const float* a, const void* w, int wtype, int64_t M, int64_t N, int64_t K);
void matmul_t_many(const float* a, int64_t M, int64_t K, const Projection* p, int count);
void matmul(float* out, const float* a, const float* b, int64_t M, int64_t K, int64_t N);

// The scalar reference (single thread, plain loops): the definition the SIMD paths are tested
// against. Computes output columns [n0, n1) only, so the scalar path can still be threaded.
// Quantized types: `a` is already quantized (rows of act_row_bytes bytes).
namespace ref {
void matmul_t(float* out, const float* a, const void* w, int wtype, int64_t M, int64_t N, int64_t K, int64_t n0,
              int64_t n1);
void matmul(float* out, const float* a, const float* b, int64_t M, int64_t K, int64_t N, int64_t n0, int64_t n1);
}  // namespace ref

}  // namespace tl
