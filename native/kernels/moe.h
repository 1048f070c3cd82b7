// Sparse mixture-of-experts feed-forward with SwiGLU experts (Mixtral, Qwen3-MoE, Qwen3.5-MoE,
// Qwen3-Next), as llama.cpp's build_moe_ffn computes it for these families:
//   p = softmax(router logits) over all E experts; each row keeps its top-k experts (ties: the lower
//   expert id) with weights p / Σ_topk p (the sum clamped at f16's smallest normal, as ggml does);
//   out[t] = Σ_j w[t, j] · down_e(silu(gate_e · x[t]) ⊙ (up_e · x[t])),  e = expert j of row t.
// The expert matmuls are batched per expert: the rows routed to expert e are gathered and go through
// its gate/up projections as one matmul_t_many (M = those rows) and its down projection as one
// matmul_t, each threaded by the matmul kernels; then they are added, weighted, into their rows.
// Contributions are added in increasing expert order, each as f32(out + f64(w) · f64(y)): the same
// arithmetic as the JS baseline (ts/backend/js/moe.ts), so the two agree bit for bit.
#pragma once
#include <cstdint>

namespace tl {

// The experts' weights stacked as model files store them: gate and up [E·hidden, dim], down
// [E·dim, hidden], each of one weight type (a GGML type id of weight_types.h).
struct StackedExperts {
  const void* gate;
  int gate_type;
  const void* up;
  int up_type;
  const void* down;
  int down_type;
  int64_t experts;
  int64_t hidden;
};

// out[T, dim] for x[T, dim]; logits [T, E] are the router's outputs, replaced by the probabilities.
// out must not overlap x, logits or the weights; 1 <= used <= E.
void moe_ffn(float* out, const float* x, float* logits, int64_t T, int64_t dim, const StackedExperts& w, int used);

}  // namespace tl
