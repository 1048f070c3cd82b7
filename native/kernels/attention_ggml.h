// Attention of one query row in llama.cpp's order (its CPU backend's plain, non-flash attention
// with an f32 KV cache, as the AVX-512 builds of libggml-cpu compute it), so greedy decodes equal
// llama.cpp's token for token instead of drifting apart after an ulp moves an int8 activation:
//
//   KQ   s_c = ggml_vec_dot_f32(D, k_c, q): 4 accumulators × 16 lanes over blocks of 64 (fma),
//        summed (a0+a2)+(a1+a3), then the 16 lanes as a tree (l, l+8 → l, l+4 → l, l+2 → 0+1);
//        the rest of D as GCC vectorized ggml's scalar tail: blocks of 16 and then 8 products
//        added one by one, the last < 8 by scalar fma.
//   soft_max_ext   w_c = s_c·scale (f32); e_c = ggml's expf(w_c − max) in blocks of 16 keys from
//        key 0, each block's 16-lane tree sum added to a double; p_c = e_c·(float)(1/sum).
//   KQV  o_d = Σ_c v_cd·p_c. One token (decode, mul_mat's vec_dot): 64 lanes (key c in lane
//        c mod 64), fma, combined as KQ's; a batch of ≥ 2 tokens (prompt, llamafile's tinyBLAS):
//        16 lanes (c mod 16), fma, one 16-lane tree.
// (llama.cpp pads its KV view to a multiple of 256 keys; padded keys have p = 0 and v = 0 and add
// nothing, so summing over the visible keys only gives the same bits.)
//
// Only an AVX-512 variant: it reproduces the AVX-512 builds of ggml (the library node-llama-cpp
// loads on such CPUs). The driver (attention.cpp) uses it for f32 caches without soft-capping or
// position bias when the active ISA is AVX-512: one-token calls (decode) at any context, and
// calls of at most kGgmlMaxRows query rows seeing at most kGgmlMaxKeys keys; everything else
// runs the tiled online-softmax kernels (attention_tile.h).
// Cost: scores 16 keys at a time (their 16 lane trees interleaved), and for D a multiple of 16
// KQV lane by lane with the lane's accumulators in registers (no 64·D accumulator rows in
// memory); in decode the query heads of a KV head take turns on each block of keys and each
// lane's values while they are in L1 (attn_ggml_rows_decode). Decode costs about the tiled
// kernel's time (H=12, D=64, 64-2048 keys, 1 thread; 1.2-1.6x with D=128 or 4 query heads per KV
// head); batches ~2x the blocked prefill kernel, hence their 256-key limit.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tl {

constexpr int64_t kGgmlMaxRows = 64;
constexpr int64_t kGgmlMaxKeys = 256;  // batch calls only; one-token calls take any number of keys

// Floats of scratch attn_ggml_row needs: the scores of every key, then 64 lanes of D accumulators.
static inline size_t attn_ggml_scratch_floats(int64_t nkeys, int D) { return (size_t)((nkeys + 15) / 16) * 16 + (size_t)64 * D; }

static inline size_t attn_ggml_rows_scratch_floats(int nrows, int64_t nkeys, int D) {
  return (size_t)nrows * ((size_t)((nkeys + 15) / 16) * 16 + (size_t)16 * D) + attn_ggml_scratch_floats(nkeys, D);
}

namespace avx512 {
// out[0..D) = attention of the rotated, unscaled query q over keys/values 0..nkeys-1 (row c at
// k + c·kv_stride, v + c·kv_stride, f32). batch: the call has ≥ 2 query tokens (tinyBLAS's KQV order).
// scratch: attn_ggml_scratch_floats(nkeys, D) floats.
void attn_ggml_row(float* out, const float* q, const float* k, const float* v, int64_t kv_stride, int D, int64_t nkeys,
                   float scale, bool batch, float* scratch);
// attn_ggml_row (one token, batch = false) for nrows ≤ 64 query rows over the same keys and values
// (the query heads of one KV head), rows at q + r·D and out + r·D; reads each key and value block
// once for all rows while it is in L1. scratch: attn_ggml_rows_scratch_floats(nrows, nkeys, D).
void attn_ggml_rows_decode(float* out, const float* q, int nrows, const float* k, const float* v, int64_t kv_stride, int D,
                           int64_t nkeys, float scale, float* scratch);
}  // namespace avx512

}  // namespace tl
