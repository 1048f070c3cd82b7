// The interface between the attention driver (attention.cpp: work split, RoPE, query packing)
// and the per-ISA tile kernels (attention_scalar.cpp, attention_avx2.cpp, attention_avx512.cpp).
//
// A tile is a set of R query rows that share one KV head: rows r = ti * ng + gi for ti < nt query
// positions and gi < ng query heads of the group. The driver packs them (rotated, pre-scaled by
// `scale`) into q[R][D], sets last[r] (the last key row r may see), and then calls
//   begin(tile); step(tile, j0, j1) for ascending key blocks [j0, j1) of at most kKeyBlock keys;
//   end(tile)  -> o[r][0..D) holds the normalized output of row r.
// Score modifiers, applied by every kernel to each score x = q_r·k_j (q pre-scaled) before the
// mask and the softmax, in this order: softcap > 0 → x = softcap·tanh(x / softcap) (Gemma 2);
// bias → x += bias[r][j] (T5's relative position buckets; j counts from the tile's key base).
// The kernels keep the online-softmax state in the tile (m, l, o) and use its scratch buffers.
// Plain struct, no STL: this header is included by the ISA files (see HELPERS.md, ISA-file rule).
#pragma once
#include <cstddef>
#include <cstdint>

namespace tl {

// Keys per block: a multiple of 16 (two AVX2 / one AVX-512 register of rows) and of 6 and 12
// (the microkernels' key groups).
constexpr int kKeyBlock = 48;
// Most rows in one tile (a multiple of 16 and 32, the row padding of the blocked kernels).
constexpr int kMaxTileRows = 64;
// Tiles of at most this many rows use the row-by-row path (decode: memory-bound dot products);
// larger tiles use the blocked path (prefill: register-tiled, compute-bound).
constexpr int kDirectMaxRows = 4;

struct AttnTile {
  // Set by the driver.
  int R = 0;           // rows in the tile (1 .. kMaxTileRows)
  int D = 0;           // head dimension
  const float* q = nullptr;     // [R][D] rotated and pre-scaled queries
  const int32_t* last = nullptr;  // [R] last visible key index per row (>= 0)
  const void* k = nullptr;      // KV head base: row s is at k + s * kv_stride elements
  const void* v = nullptr;
  int64_t kv_stride = 0;        // elements between consecutive key rows (Hkv * D)
  bool f16 = false;             // k/v are uint16_t f16 bits
  float softcap = 0.f;          // > 0: scores are soft-capped (see above); 0: not
  const float* const* bias = nullptr;  // null, or [R] rows of additive score biases, indexed by key
  // Online-softmax state, sized by tile_state_floats(); o is [R][D] after end().
  float* m = nullptr;  // [kMaxTileRows] running max
  float* l = nullptr;  // [kMaxTileRows] running sum
  float* o = nullptr;  // kernel-specific layout while running
  float* scratch = nullptr;  // tile_scratch_floats(D) floats
};

// Scratch the kernels may use, in floats (generous, for every ISA). The blocked path keeps
// transposed queries, scores, a converted key block and a converted value block there; the direct
// path only the scores of one block (first 64 floats) and, when it copies them, the key and value
// blocks right after.
static inline size_t tile_scratch_floats(int D) {
  size_t Dp = (size_t)((D + 31) / 32) * 32;
  return Dp * kMaxTileRows            // transposed / packed queries
         + (size_t)kKeyBlock * kMaxTileRows  // scores / probabilities
         + (size_t)kKeyBlock * Dp * 2        // converted key and value blocks
         + kMaxTileRows * 2 + 64;            // per-row factors, alignment slack
}
static inline size_t tile_out_floats(int D) { return (size_t)((D + 31) / 32) * 32 * kMaxTileRows + 16; }

#define TL_ATTN_TILE_API                      \
  void attn_begin(AttnTile* t);               \
  void attn_step(AttnTile* t, int64_t j0, int64_t j1); \
  void attn_end(AttnTile* t);

namespace scalar { TL_ATTN_TILE_API }
namespace avx2 { TL_ATTN_TILE_API }
namespace avx512 { TL_ATTN_TILE_API }

#undef TL_ATTN_TILE_API

}  // namespace tl
