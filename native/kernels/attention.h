// Fused scaled-dot-product attention with online softmax (flash-attention style): the T×S score
// matrix is never materialized; queries are processed in tiles against key blocks, keeping a
// running max, a running sum and an un-normalized output per query row.
//
// Semantics (the contract of ts/backend/types.ts, AttentionShape):
//   q, out: [T, H, D] f32.  k, v: [S, Hkv, D], f32 or f16 (raw bits), same dtype for both.
//   Query head h reads KV head h / (H / Hkv) (grouped-query attention).
//   causal: query t sees keys s <= pos_offset + t; otherwise every query sees all S keys.
//   scale multiplies q·k (1/sqrt(D) by default, chosen by the caller).
//   softcap > 0: each scaled score x becomes softcap·tanh(x / softcap) (Gemma 2).
//   position_bias: [H, T, S] f32; bias[(h·T + t)·S + s] is added to the score of query head h, row
//   t and key s, after scale and softcap, before the causal mask and the softmax (T5's relative
//   position buckets). In a packed batch s is the key's row in the call (S == T).
//   rope.enabled: query row t is rotated at position pos_offset + t on the fly (q is not written),
//   and the key rows s in [pos_offset, pos_offset + T) are rotated in place in k before use.
// Packed batch (seq_bounds set): rows [b_i, b_{i+1}) of q and of k/v are sequence i (S == T,
//   pos_offset == 0); a query sees only the keys of its own sequence (all of them, or those at or
//   before it when causal), and RoPE positions restart at 0 in each sequence. Encoders run a batch
//   of texts of different lengths this way in one call, without padding.
// The caller has validated shapes: H % Hkv == 0, S >= pos_offset + T when causal or rope, and the
// bounds (b_0 = 0, non-decreasing, b_n = T).
#pragma once
#include <cstdint>

#include "kernels/rope.h"

namespace tl {

struct AttentionParams {
  int64_t T = 0, S = 0, H = 0, Hkv = 0, D = 0;
  int64_t pos_offset = 0;
  bool causal = true;
  float scale = 0.f;
  bool kv_f16 = false;  // k/v hold f16 bits (uint16_t) instead of f32
  RopeParams rope;
  const int32_t* seq_bounds = nullptr;  // n_seqs + 1 row offsets, or null for one sequence
  int64_t n_seqs = 0;
  float softcap = 0.f;                    // 0 = none
  const float* position_bias = nullptr;  // [H, T, S], or null
};

void attention(float* out, const float* q, void* k, const void* v, const AttentionParams& p);

}  // namespace tl
