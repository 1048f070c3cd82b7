// Elementwise and row ops of a transformer block: norms, softmax, activations, residual add,
// gating multiply, embedding row gather (any weight type) and argmax. All f32; `out` may alias the inputs where
// ts/backend/types.ts says so (every op here reads element i before it writes element i).
// The caller (N-API glue) has validated sizes; the functions pick the SIMD variant per call and
// split large work over the thread pool.
#pragma once
#include <cstdint>

namespace tl {

void rmsnorm(float* out, const float* x, const float* weight, int64_t rows, int64_t dim, float eps);
// bias may be null.
void layernorm(float* out, const float* x, const float* weight, const float* bias, int64_t rows, int64_t dim, float eps);
// Row-wise softmax(x / temperature), temperature > 0.
void softmax(float* out, const float* x, int64_t rows, int64_t cols, float temperature);

enum class GeluKind : int { Tanh = 0, Erf = 1 };
void gelu(float* out, const float* x, int64_t n, GeluKind kind);
void silu(float* out, const float* x, int64_t n);
// x > 0 ? x : 0 (ggml's relu: NaN and −0 give +0).
void relu(float* out, const float* x, int64_t n);
void swiglu(float* out, const float* gate, const float* up, int64_t n);
void add(float* out, const float* a, const float* b, int64_t n);
void mul(float* out, const float* a, const float* b, int64_t n);

// out[i, :] = row ids[i] of table [rows, cols] of GGML type `type` (weight_types.h) as f32. ids are
// < rows and cols a multiple of the type's block (checked by the caller).
void embedding(float* out, const void* table, int type, int64_t rows, int64_t cols, const uint32_t* ids, int64_t n_ids);

// Index of the largest element; the first on ties; NaNs are ignored (0 if every element is NaN).
int64_t argmax(const float* x, int64_t n);

}  // namespace tl
