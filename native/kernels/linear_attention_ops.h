// The small ops around a Gated DeltaNet layer (Qwen3.5 / Qwen3-Next, as llama.cpp computes them).
// Memory-bound and cheap next to the projections and the delta rule, so one generic C++ version
// each (compiled for baseline x86-64, loops the compiler vectorizes with SSE2), threaded over rows;
// the SiLU of conv1d_causal and rmsnorm_gated goes through the ops family's vectorized tl::silu.
//
//   conv1d_causal: depthwise causal convolution of width K over time with a rolling state.
//     x, out: [T, C]; weight: [C, K] (GGUF ssm_conv1d); state: [K-1, C], the K-1 inputs before x.
//     out[t][c] = Σ_w in[t + w][c] · weight[c][w], in = state ++ x; then state ← the last K-1 rows
//     of in. silu = true applies x·sigmoid(x) to out. out may not alias x.
//   l2norm_rows: out = x / sqrt(Σx² + eps) per row of dim. out may alias x.
//   rmsnorm_gated: out = x / rms(x) · weight · silu(z) per row of dim (weight: [dim]). out may alias x.
//   delta_gates: g[i] = softplus(alpha[i] + dt_bias[h]) · a[h], beta[i] = sigmoid(beta_raw[i]),
//     i = t·H + h; g may alias alpha, beta may alias beta_raw.
//   sigmoid_mul: out = x · sigmoid(gate) (gated attention output). out may alias x or gate.
#pragma once
#include <cstdint>

namespace tl {

void conv1d_causal(float* out, const float* x, float* state, const float* weight, int64_t T, int64_t C, int64_t K,
                   bool silu);
void l2norm_rows(float* out, const float* x, int64_t rows, int64_t dim, float eps);
void rmsnorm_gated(float* out, const float* x, const float* z, const float* weight, int64_t rows, int64_t dim,
                   float eps);
void delta_gates(float* g, float* beta, const float* alpha, const float* beta_raw, const float* dt_bias,
                 const float* a, int64_t T, int64_t H);
void sigmoid_mul(float* out, const float* x, const float* gate, int64_t n);

}  // namespace tl
