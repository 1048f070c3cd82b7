// Attention driver: splits the work into tiles (KV head × query-head group × query block), runs
// them on the thread pool, and applies RoPE (queries while packing a tile, new keys in place
// before any tile reads them). The per-ISA tile kernels do the arithmetic (attention_tile.h).
#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/attention_tile.h"
#include "kernels/cpu.h"
#include "kernels/f16.h"
#include "kernels/threadpool.h"

namespace tl {

namespace {

struct TileKernels {
  void (*begin)(AttnTile*);
  void (*step)(AttnTile*, int64_t, int64_t);
  void (*end)(AttnTile*);
};

TileKernels pick_kernels() {
  switch (active_isa()) {
#if defined(TL_HAVE_X86_VARIANTS)
    case Isa::Avx512: return {avx512::attn_begin, avx512::attn_step, avx512::attn_end};
    case Isa::Avx2: return {avx2::attn_begin, avx2::attn_step, avx2::attn_end};
#endif
    default: return {scalar::attn_begin, scalar::attn_step, scalar::attn_end};
  }
}

// Rotates key rows s in [pos_offset, pos_offset + T) of every KV head in place.
void rotate_new_keys(void* k, const AttentionParams& p, const float* table) {
  const int64_t D = p.D, Hkv = p.Hkv;
  const int dims = p.rope.dims;
  parallel_for(p.T * Hkv, 512, [&](int64_t b, int64_t e, int) {
    std::vector<float> tmp(p.kv_f16 ? D : 0);
    for (int64_t row = b; row < e; row++) {
      int64_t t = row / Hkv, hk = row % Hkv;
      int64_t off = ((p.pos_offset + t) * Hkv + hk) * D;
      const float* cs = table + t * dims;
      if (!p.kv_f16) {
        rope_rotate_row(static_cast<float*>(k) + off, cs, dims, p.rope.layout);
      } else {
        uint16_t* kr = static_cast<uint16_t*>(k) + off;
        for (int64_t d = 0; d < D; d++) tmp[d] = f16_to_f32(kr[d]);
        rope_rotate_row(tmp.data(), cs, dims, p.rope.layout);
        for (int64_t d = 0; d < D; d++) kr[d] = f32_to_f16(tmp[d]);
      }
    }
  });
}

// The cos/sin table of the call's positions. Every layer of a model asks for the same one in a
// forward step, so the last table is kept (per calling thread) and reused when theta, dims and
// the positions match: prefill at T = 1024 saves ~32k sincos per layer.
const float* cached_rope_table(const AttentionParams& p) {
  struct Key {
    double theta = 0;
    int dims = 0;
    int64_t pos0 = -1, npos = 0;
  };
  static thread_local std::vector<float> table;
  static thread_local Key key;
  if (key.theta != p.rope.theta || key.dims != p.rope.dims || key.pos0 != p.pos_offset || key.npos != p.T) {
    table.resize((size_t)p.T * p.rope.dims);
    rope_table(table.data(), p.pos_offset, p.T, p.rope);
    key = Key{p.rope.theta, p.rope.dims, p.pos_offset, p.T};
  }
  return table.data();
}

// 64-byte aligned float buffers carved from one per-thread allocation that is kept between
// calls (decode calls attention once per layer per token: no allocation, no zeroing per call).
struct Arena {
  float* base;
  size_t used = 0;
  explicit Arena(size_t floats) {
    static thread_local std::vector<float> mem;
    if (mem.size() < floats + 16 * 8) mem.resize(floats + 16 * 8);
    base = mem.data();
  }
  float* take(size_t n) {
    uintptr_t at = reinterpret_cast<uintptr_t>(base + used);
    size_t pad = ((64 - at % 64) % 64) / sizeof(float);
    float* out = base + used + pad;
    used += pad + ((n + 15) / 16) * 16;
    return out;
  }
};

}  // namespace

void attention(float* out, const float* q, void* k, const void* v, const AttentionParams& p) {
  const int64_t T = p.T, S = p.S, H = p.H, Hkv = p.Hkv, D = p.D;
  if (T <= 0 || H <= 0 || D <= 0) return;
  const int64_t G = H / Hkv;  // query heads per KV head
  const TileKernels kern = pick_kernels();

  // RoPE: one cos/sin table serves the query rows and the new key rows (same positions).
  const float* table = nullptr;
  if (p.rope.enabled) {
    table = cached_rope_table(p);
    rotate_new_keys(k, p, table);
  }

  // Tile shape: all query heads of a group (up to kMaxTileRows) times as many query positions
  // as fit. Decode-sized work (T * G small) becomes one row-by-row tile per KV head.
  const int64_t ng = std::min<int64_t>(G, kMaxTileRows);
  const int64_t nt = std::max<int64_t>(1, kMaxTileRows / ng);
  const int64_t n_gt = (G + ng - 1) / ng, n_qt = (T + nt - 1) / nt;
  const int64_t heads = Hkv * n_gt, items = heads * n_qt;

  // Keep small jobs on one thread: each thread should get at least ~64k multiply-adds.
  const double avg_keys = p.causal ? (double)p.pos_offset + (double)(T + 1) / 2 : (double)S;
  const double work = (double)H * T * avg_keys * D;
  const int64_t grain = std::max<int64_t>(1, (int64_t)((double)items * 65536.0 / std::max(work, 1.0)));

  const size_t kv_elem = p.kv_f16 ? 2 : 4;
  parallel_for(items, grain, [&](int64_t ib, int64_t ie, int) {
    Arena arena(tile_scratch_floats((int)D) + tile_out_floats((int)D) + (size_t)kMaxTileRows * (D + 4) + 64);
    float* qpack = arena.take((size_t)kMaxTileRows * D);
    int32_t* last = reinterpret_cast<int32_t*>(arena.take(kMaxTileRows));
    AttnTile tile;
    tile.m = arena.take(kMaxTileRows);
    tile.l = arena.take(kMaxTileRows);
    tile.o = arena.take(tile_out_floats((int)D));
    tile.scratch = arena.take(tile_scratch_floats((int)D));
    tile.q = qpack;
    tile.last = last;
    tile.D = (int)D;
    tile.kv_stride = Hkv * D;
    tile.f16 = p.kv_f16;

    for (int64_t item = ib; item < ie; item++) {
      // Query blocks in the order 0, n-1, 1, n-2, …: under a causal mask their costs differ, and
      // this order gives each thread's contiguous range a fair mix.
      const int64_t head_slot = item / n_qt, qpos = item % n_qt;
      const int64_t qi = (qpos % 2 == 0) ? qpos / 2 : n_qt - 1 - qpos / 2;
      const int64_t hk = head_slot / n_gt, gt = head_slot % n_gt;
      const int64_t t0 = qi * nt, t1 = std::min(T, t0 + nt);
      const int64_t g0 = gt * ng, g1 = std::min(G, g0 + ng), ngc = g1 - g0;

      int R = 0;
      int32_t kmax = 0;
      for (int64_t t = t0; t < t1; t++) {
        for (int64_t g = g0; g < g1; g++, R++) {
          const int64_t h = hk * G + g;
          float* dst = qpack + (size_t)R * D;
          std::memcpy(dst, q + (t * H + h) * D, D * sizeof(float));
          if (p.rope.enabled) rope_rotate_row(dst, table + t * p.rope.dims, p.rope.dims, p.rope.layout);
          for (int64_t d = 0; d < D; d++) dst[d] *= p.scale;
          last[R] = (int32_t)(p.causal ? p.pos_offset + t : S - 1);
          kmax = std::max(kmax, last[R]);
        }
      }
      tile.R = R;
      tile.k = static_cast<const uint8_t*>(k) + (size_t)(hk * D) * kv_elem;
      tile.v = static_cast<const uint8_t*>(v) + (size_t)(hk * D) * kv_elem;

      kern.begin(&tile);
      for (int64_t j0 = 0; j0 <= kmax; j0 += kKeyBlock) kern.step(&tile, j0, std::min<int64_t>(j0 + kKeyBlock, (int64_t)kmax + 1));
      kern.end(&tile);

      for (int r = 0; r < R; r++) {
        const int64_t t = t0 + r / ngc, h = hk * G + g0 + r % ngc;
        std::memcpy(out + (t * H + h) * D, tile.o + (size_t)r * D, D * sizeof(float));
      }
    }
  });
}

}  // namespace tl
