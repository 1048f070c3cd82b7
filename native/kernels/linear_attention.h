// Linear attention: attention as a recurrence over a fixed-size state, so memory per sequence is
// constant in its length. One family, two update rules, each with a recurrent step (decode: the
// state is updated in place, one token at a time) and a chunked form (prefill: inside a chunk of
// `chunk` tokens a masked quadratic form, across chunks the carried state). All f32.
//
// The paper's rule (Katharopoulos et al. 2020, "Transformers are RNNs"), per KV head:
//   S ← S + φ(k) vᵀ,  z ← z + φ(k),  out = φ(q)ᵀS / (φ(q)·z + eps)
//   q: [T, H, Dk], k: [T, Hkv, Dk], v: [T, Hkv, Dv], out: [T, H, Dv]; query head h reads KV head
//   h / (H / Hkv). state: [Hkv, Dk·Dv + Dk] = per head S (Dk rows of Dv) then z (Dk).
//   causal: out_t sees tokens ≤ t (and the incoming state); non-causal: every out_t sees the state
//   after all T tokens. Either way the state ends holding all T tokens.
//
// The gated delta rule (llama.cpp's ggml_gated_delta_net), per value head h, with key head
// h % Hk (llama.cpp's tiled broadcast of q/k heads over value heads):
//   S ← diag(exp(g))·S (g scalar per head, or one per key channel);  d = β·(v − Sᵀk);
//   S ← S + k dᵀ;  out = scale · Sᵀq  (scale = 1/√Dk by default)
//   q, k: [T, Hk, Dk] (L2-normalized upstream), v: [T, Hv, Dv], g: [T, Hv] or [T, Hv, Dk],
//   beta: [T, Hv], out: [T, Hv, Dv]. state: [Hv, Dv, Dk], llama.cpp's layout: row j holds
//   column j of S (state[j·Dk + i] = S[i][j]), so a llama.cpp state snapshot reads the same.
//
// The caller (native/binding/linear_attention.cpp) has validated every shape.
#pragma once
#include <cstdint>

namespace tl {

enum class FeatureMap : int { Elu1 = 0, Relu = 1, Identity = 2 };

struct LinearAttentionParams {
  int64_t T = 0, H = 0, Hkv = 0, Dk = 0, Dv = 0;
  bool causal = true;
  FeatureMap phi = FeatureMap::Elu1;
  float eps = 1e-6f;
  int64_t chunk = 32;  // tokens per chunk of the quadratic form; 1 = the plain recurrence
};

void linear_attention(float* out, const float* q, const float* k, const float* v, float* state,
                      const LinearAttentionParams& p);

struct GatedDeltaParams {
  int64_t T = 0, Hk = 0, Hv = 0, Dk = 0, Dv = 0;
  bool channel_gate = false;  // g holds Dk decays per (token, head) instead of one
  float scale = 0.f;
  int64_t chunk = 64;  // tokens per chunk of the WY form; 1 = the plain recurrence
};

void gated_delta_rule(float* out, const float* q, const float* k, const float* v, const float* g,
                      const float* beta, float* state, const GatedDeltaParams& p);

}  // namespace tl
