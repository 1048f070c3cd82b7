// Attention driver: splits the work into tiles (KV head × query-head group × query block of one
// sequence), runs them on the thread pool, and applies RoPE (queries while packing a tile, new keys in place
// before any tile reads them). The per-ISA tile kernels do the arithmetic (attention_tile.h).
#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/attention_ggml.h"
#include "kernels/attention_tile.h"
#include "kernels/cpu.h"
#include "kernels/f16.h"
#include "kernels/threadpool.h"

namespace tl {

namespace {

// Decode splits its keys between threads only when each part gets at least this many key blocks.
constexpr int64_t kSplitMinBlocks = 2;

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

// One sequence of the call: query rows [q0, q1) see key rows from k0 on; query row t sits at
// position pos0 + (t - q0) of its sequence, i.e. key row k0 + pos0 + (t - q0), and (causal) sees
// the keys up to there, else the first nkeys. A plain call is one sequence {0, T, 0, pos_offset, S}.
struct Seq {
  int64_t q0, q1, k0, pos0, nkeys;
};

std::vector<Seq> sequences(const AttentionParams& p) {
  if (!p.seq_bounds) return {Seq{0, p.T, 0, p.pos_offset, p.S}};
  std::vector<Seq> out;
  for (int64_t i = 0; i < p.n_seqs; i++) {
    const int64_t a = p.seq_bounds[i], b = p.seq_bounds[i + 1];
    if (b > a) out.push_back(Seq{a, b, a, 0, b - a});
  }
  return out;
}

// Rotates the new key rows of every sequence (row k0 + pos0 + j at position pos0 + j) in place.
// `table` holds positions from table_pos0 on. The sequences cover the query rows 0..T-1 in order.
void rotate_new_keys(void* k, const AttentionParams& p, const std::vector<Seq>& seqs, const float* table, int64_t table_pos0) {
  const int64_t D = p.D, Hkv = p.Hkv;
  const int dims = p.rope.dims;
  std::vector<int32_t> seq_of(p.T);  // query row → its sequence
  for (size_t i = 0; i < seqs.size(); i++)
    for (int64_t t = seqs[i].q0; t < seqs[i].q1; t++) seq_of[t] = (int32_t)i;
  parallel_for(p.T * Hkv, 512, [&](int64_t b, int64_t e, int) {
    std::vector<float> tmp(p.kv_f16 ? D : 0);
    for (int64_t row = b; row < e; row++) {
      const int64_t t = row / Hkv, hk = row % Hkv;
      const Seq& sq = seqs[seq_of[t]];
      const int64_t pos = sq.pos0 + (t - sq.q0);
      const int64_t off = ((sq.k0 + pos) * Hkv + hk) * D;
      const float* cs = table + (pos - table_pos0) * dims;
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
  const int64_t T = p.T, H = p.H, Hkv = p.Hkv, D = p.D;
  if (T <= 0 || H <= 0 || D <= 0) return;
  const int64_t G = H / Hkv;  // query heads per KV head
  const TileKernels kern = pick_kernels();
  const std::vector<Seq> seqs = sequences(p);

  // RoPE: one cos/sin table serves the query rows and the new key rows (same positions): those of
  // the call, or 0 .. longest sequence - 1 for a packed batch.
  const float* table = nullptr;
  int64_t table_pos0 = p.pos_offset;
  if (p.rope.enabled) {
    int64_t npos = T;
    if (p.seq_bounds) {
      table_pos0 = 0;
      npos = 0;
      for (const Seq& sq : seqs) npos = std::max(npos, sq.q1 - sq.q0);
    }
    table = rope_table_cached(table_pos0, npos, p.rope);
    rotate_new_keys(k, p, seqs, table, table_pos0);
  }

  // Tile shape: all query heads of a group (up to kMaxTileRows) times as many query positions
  // as fit. Decode-sized work (T * G small) becomes one row-by-row tile per KV head.
  const int64_t ng = std::min<int64_t>(G, kMaxTileRows);
  const int64_t nt = std::max<int64_t>(1, kMaxTileRows / ng);
  const int64_t n_gt = (G + ng - 1) / ng;
  const int64_t heads = Hkv * n_gt;
  // Query blocks: (sequence, first row) pairs. Within each sequence in the order 0, n-1, 1, n-2, …:
  // under a causal mask their costs differ, and this order gives each thread's contiguous range a
  // fair mix.
  struct QBlock {
    int32_t seq;
    int64_t t0;
  };
  std::vector<QBlock> qblocks;
  double work = 0;
  for (size_t i = 0; i < seqs.size(); i++) {
    const Seq& sq = seqs[i];
    const int64_t len = sq.q1 - sq.q0, n = (len + nt - 1) / nt;
    for (int64_t j = 0; j < n; j++) {
      const int64_t qi = (j % 2 == 0) ? j / 2 : n - 1 - j / 2;
      qblocks.push_back(QBlock{(int32_t)i, sq.q0 + qi * nt});
    }
    const double avg_keys = p.causal ? (double)sq.pos0 + (double)(len + 1) / 2 : (double)sq.nkeys;
    work += (double)H * len * avg_keys * D;
  }
  const int64_t n_qb = (int64_t)qblocks.size(), items = heads * n_qb;

  // Keep small jobs on one thread: each thread should get at least ~64k multiply-adds.
  const int64_t grain = std::max<int64_t>(1, (int64_t)((double)items * 65536.0 / std::max(work, 1.0)));

  const size_t kv_elem = p.kv_f16 ? 2 : 4;
  // Decode (one query token, any context) and short prompts in the first 256 positions on an f32
  // cache take llama.cpp's order on AVX-512, so a model decodes exactly as llama.cpp does
  // (attention_ggml.h); decode costs about the tiled kernel's time, batches about 2x.
#if defined(TL_HAVE_X86_VARIANTS)
  const bool ggml_order = active_isa() >= Isa::Avx512 && !p.kv_f16 && p.softcap == 0.f && !p.position_bias &&
                          !p.seq_bounds && T <= kGgmlMaxRows && (T == 1 || (p.causal ? p.pos_offset + T : p.S) <= kGgmlMaxKeys);
#else
  const bool ggml_order = false;
#endif
  // Decode on the tiled kernels (one query token, one sequence: a tile per KV head): a thread takes
  // all its KV heads through the keys block by block together, so it reads the cache in memory
  // order (its heads' slices of a block of key rows, one after the other) instead of once per head
  // down a stride of Hkv·D elements.
  const bool interleave_heads = !ggml_order && T == 1 && n_qb == 1;

  // A tile and the writable views of its query rows, key limits and bias rows.
  struct Slot {
    AttnTile tile;
    float* qpack;
    int32_t* last;
    const float** bias_rows;
  };
  // This thread's first `ntiles` slots, set up for the call (their memory is kept between calls).
  const auto thread_slots = [&](int64_t ntiles) -> std::vector<Slot>& {
    // per tile: its scratch, output, queries, key limits, m and l, each rounded up to 16 floats by Arena::take
    const size_t tile_floats = tile_scratch_floats((int)D) + tile_out_floats((int)D) + (size_t)kMaxTileRows * (D + 4) + 6 * 16;
    Arena arena((size_t)ntiles * tile_floats + 64);
    static thread_local std::vector<Slot> t_tiles;
    static thread_local std::vector<const float*> t_bias_rows;  // bias row of each tile row (position_bias only)
    if ((int64_t)t_tiles.size() < ntiles) t_tiles.resize((size_t)ntiles);
    if ((int64_t)t_bias_rows.size() < ntiles * kMaxTileRows) t_bias_rows.resize((size_t)(ntiles * kMaxTileRows));
    for (int64_t i = 0; i < ntiles; i++) {
      Slot& slot = t_tiles[(size_t)i];
      AttnTile& tile = slot.tile;
      tile = AttnTile{};
      slot.qpack = arena.take((size_t)kMaxTileRows * D);
      slot.last = reinterpret_cast<int32_t*>(arena.take(kMaxTileRows));
      slot.bias_rows = t_bias_rows.data() + i * kMaxTileRows;
      tile.q = slot.qpack;
      tile.last = slot.last;
      tile.m = arena.take(kMaxTileRows);
      tile.l = arena.take(kMaxTileRows);
      tile.o = arena.take(tile_out_floats((int)D));
      tile.scratch = arena.take(tile_scratch_floats((int)D));
      tile.D = (int)D;
      tile.kv_stride = Hkv * D;
      tile.f16 = p.kv_f16;
      tile.softcap = p.softcap;
      tile.bias = p.position_bias ? slot.bias_rows : nullptr;
    }
    return t_tiles;
  };

  // Packs the query rows of `item` into `slot` (rotated, pre-scaled) and points it at its KV head.
  // Returns the last key any of its rows sees.
  const auto prepare = [&](int64_t item, Slot& slot) -> int32_t {
    const int64_t head_slot = item / n_qb;
    const QBlock& qb = qblocks[(size_t)(item % n_qb)];
    const Seq& sq = seqs[(size_t)qb.seq];
    const int64_t hk = head_slot / n_gt, gt = head_slot % n_gt;
    const int64_t t0 = qb.t0, t1 = std::min(sq.q1, t0 + nt);
    const int64_t g0 = gt * ng, g1 = std::min(G, g0 + ng);
    AttnTile& tile = slot.tile;
    float* qpack = slot.qpack;
    int32_t* last = slot.last;
    const float** bias_rows = slot.bias_rows;
    int R = 0;
    int32_t kmax = 0;
    for (int64_t t = t0; t < t1; t++) {
      const int64_t pos = sq.pos0 + (t - sq.q0);  // position in the sequence = key index from k0
      for (int64_t g = g0; g < g1; g++, R++) {
        const int64_t h = hk * G + g;
        float* dst = qpack + (size_t)R * D;
        std::memcpy(dst, q + (t * H + h) * D, D * sizeof(float));
        if (p.rope.enabled) rope_rotate_row(dst, table + (pos - table_pos0) * p.rope.dims, p.rope.dims, p.rope.layout);
        if (!ggml_order) for (int64_t d = 0; d < D; d++) dst[d] *= p.scale;
        last[R] = (int32_t)(p.causal ? pos : sq.nkeys - 1);
        if (p.position_bias) bias_rows[R] = p.position_bias + (size_t)((h * p.T + t) * p.S + sq.k0);
        kmax = std::max(kmax, last[R]);
      }
    }
    tile.R = R;
    tile.k = static_cast<const uint8_t*>(k) + (size_t)((sq.k0 * Hkv + hk) * D) * kv_elem;
    tile.v = static_cast<const uint8_t*>(v) + (size_t)((sq.k0 * Hkv + hk) * D) * kv_elem;
    return kmax;
  };
  // Writes `item`'s R normalized rows o[R][D] to out.
  const auto store = [&](int64_t item, int R, const float* o) {
    const int64_t head_slot = item / n_qb;
    const QBlock& qb = qblocks[(size_t)(item % n_qb)];
    const int64_t hk = head_slot / n_gt, gt = head_slot % n_gt;
    const int64_t g0 = gt * ng, ngc = std::min(G, g0 + ng) - g0;
    for (int r = 0; r < R; r++) {
      const int64_t t = qb.t0 + r / ngc, h = hk * G + g0 + r % ngc;
      std::memcpy(out + (t * H + h) * D, o + (size_t)r * D, D * sizeof(float));
    }
  };

  // Items [ib, ib + ntiles) (consecutive KV heads of one query token) through key blocks [b0, b1)
  // of kKeyBlock keys (clipped to the last key a row sees), all heads a block at a time; the tiles
  // end normalized by their own softmax sums (tile.m, tile.l say what those were).
  const auto heads_through_keys = [&](std::vector<Slot>& tiles, int64_t ib, int64_t ntiles, int64_t b0, int64_t b1) {
    int32_t kmax = 0;
    for (int64_t i = 0; i < ntiles; i++) {
      kmax = std::max(kmax, prepare(ib + i, tiles[(size_t)i]));
      kern.begin(&tiles[(size_t)i].tile);
    }
    // When these tiles hold every KV head, each key block's K and V rows are read once through,
    // in address order, just before the tiles step through it. In decode the cache comes from
    // memory (a layer of weights went through the caches since), and the kernels' own reads, one
    // head's slice of each row at a time between their arithmetic, waited on memory latency;
    // prefetch hints (the tile kernels' own for the next block, or every row hinted up front) did
    // not change that, plain loads in address order did. bench/ab/attn-decode-ab.cjs, 12 layers of
    // 12 heads × 64 (f16), 1 thread: 1.3-1.6× at 160-512 keys; 32 query heads on 8 KV heads: 1.2×.
    // Where the rows are already in L3 it costs: 0.8× at 160 keys (AB_WARM=1).
    const size_t row_bytes = (size_t)(Hkv * D) * kv_elem;
    const char* k_rows = static_cast<const char*>(tiles[0].tile.k);
    const char* v_rows = static_cast<const char*>(tiles[0].tile.v);
    // the tiles' heads are consecutive (ascending items of one query block)
    const bool whole_rows =
        (size_t)(static_cast<const char*>(tiles[(size_t)ntiles - 1].tile.k) - k_rows) + (size_t)D * kv_elem == row_bytes;
    const auto read_through = [&](int64_t j0, int64_t j1) {
      const volatile char* kr = k_rows + (size_t)j0 * row_bytes;  // volatile: the loads are the point
      const volatile char* vr = v_rows + (size_t)j0 * row_bytes;
      for (size_t off = 0, end = (size_t)(j1 - j0) * row_bytes; off < end; off += 64) (void)kr[off], (void)vr[off];
    };
    for (int64_t j0 = b0 * kKeyBlock; j0 <= kmax && j0 < b1 * kKeyBlock; j0 += kKeyBlock) {
      const int64_t j1 = std::min<int64_t>(j0 + kKeyBlock, (int64_t)kmax + 1);
      if (whole_rows) read_through(j0, j1);
      for (int64_t i = 0; i < ntiles; i++) kern.step(&tiles[(size_t)i].tile, j0, j1);
    }
    for (int64_t i = 0; i < ntiles; i++) kern.end(&tiles[(size_t)i].tile);
  };

  // Decode with threads to spare: the threads split the keys, not the heads (as flash-decoding
  // does). Each takes every head through its share of the key blocks, reading whole rows through
  // as one thread does, and the caller merges the parts' softmax states. Split by heads, each
  // thread read its few lines of every row between its arithmetic and waited on memory (attention
  // took as long at 2 threads as at 1); reading a row's lines through did not help there (0.86-0.88×).
  // bench/ab/attn-decode-ab.cjs, 12 layers of 12 heads × 64 (f16), 2 threads: 1.03-1.42× at 160-512
  // keys; with one key block per part it was slower (0.68-0.91× at 64-144 keys), hence kSplitMinBlocks.
  // The merged sums round differently from one thread's: outputs differ across thread counts by
  // float rounding (the ggml-order path, which matches llama.cpp's arithmetic, never splits).
  const int64_t n_blocks = interleave_heads ? (int64_t)(p.causal ? seqs[0].pos0 : seqs[0].nkeys - 1) / kKeyBlock + 1 : 0;
  const int64_t parts = std::min<int64_t>(pool_threads(), n_blocks / kSplitMinBlocks);
  if (interleave_heads && parts > 1) {
    const int64_t R0 = std::min<int64_t>(G, ng);  // rows per tile: T = 1, so one query head group
    const size_t per_part = (size_t)items * R0 * (D + 2);
    static thread_local std::vector<float> merged;  // per part: o[items][R0][D], then m and l [items][R0]
    if (merged.size() < (size_t)parts * per_part) merged.resize((size_t)parts * per_part);
    float* parts_out = merged.data();
    parallel_for(parts, 1, [&](int64_t pb, int64_t pe, int) {
      std::vector<Slot>& tiles = thread_slots(items);
      for (int64_t part = pb; part < pe; part++) {
        heads_through_keys(tiles, 0, items, n_blocks * part / parts, n_blocks * (part + 1) / parts);
        float* o = parts_out + (size_t)part * per_part;
        float* ml = o + (size_t)items * R0 * D;
        for (int64_t i = 0; i < items; i++) {
          const AttnTile& tile = tiles[(size_t)i].tile;
          std::memcpy(o + (size_t)i * R0 * D, tile.o, sizeof(float) * (size_t)tile.R * D);
          for (int r = 0; r < tile.R; r++) ml[2 * (i * R0 + r)] = tile.m[r], ml[2 * (i * R0 + r) + 1] = tile.l[r];
        }
      }
    }, 1);
    // out = Σ_part w·o_part / Σ_part w, w = l_part·exp(m_part − max m): each o_part is normalized by
    // its l_part; a part whose rows saw no key (l = 0) adds nothing.
    std::vector<float> rows((size_t)R0 * D);
    for (int64_t i = 0; i < items; i++) {
      const int R = (int)std::min<int64_t>(R0, G - (i % n_gt) * ng);
      for (int r = 0; r < R; r++) {
        const size_t at = (size_t)(i * R0 + r);
        const auto o_of = [&](int64_t part) { return parts_out + (size_t)part * per_part + at * D; };
        const auto m_of = [&](int64_t part) { return parts_out[(size_t)part * per_part + (size_t)items * R0 * D + 2 * at]; };
        const auto l_of = [&](int64_t part) { return parts_out[(size_t)part * per_part + (size_t)items * R0 * D + 2 * at + 1]; };
        float mx = -INFINITY, den = 0.f;
        for (int64_t part = 0; part < parts; part++)
          if (l_of(part) > 0.f) mx = std::max(mx, m_of(part));
        float* row = rows.data() + (size_t)r * D;
        std::fill(row, row + D, 0.f);
        for (int64_t part = 0; part < parts; part++) {
          if (!(l_of(part) > 0.f)) continue;
          const float w = l_of(part) * std::exp(m_of(part) - mx);
          const float* o = o_of(part);
          den += w;
          for (int64_t d = 0; d < D; d++) row[d] += w * o[d];
        }
        const float inv = 1.f / den;
        for (int64_t d = 0; d < D; d++) row[d] *= inv;
      }
      store(i, R, rows.data());
    }
    return;
  }

  parallel_for(items, grain, [&](int64_t ib, int64_t ie, int) {
    if (interleave_heads) {
      std::vector<Slot>& tiles = thread_slots(ie - ib);
      heads_through_keys(tiles, ib, ie - ib, 0, n_blocks);
      for (int64_t i = 0; i < ie - ib; i++) store(ib + i, tiles[(size_t)i].tile.R, tiles[(size_t)i].tile.o);
      return;
    }

    Slot& slot = thread_slots(1)[0];
    AttnTile& tile = slot.tile;
    for (int64_t item = ib; item < ie; item++) {
      const int32_t kmax = prepare(item, slot);
      const int R = tile.R;
      if (ggml_order) {
#if defined(TL_HAVE_X86_VARIANTS)
        static thread_local std::vector<float> scratch;
        const size_t need = attn_ggml_rows_scratch_floats(R, (int64_t)kmax + 1, (int)D);
        if (scratch.size() < need) scratch.resize(need);
        if (T == 1)  // decode: the rows of this tile share their keys (a KV head's query heads)
          avx512::attn_ggml_rows_decode(tile.o, tile.q, R, static_cast<const float*>(tile.k), static_cast<const float*>(tile.v),
                                        tile.kv_stride, (int)D, (int64_t)kmax + 1, p.scale, scratch.data());
        else
          for (int r = 0; r < R; r++)
          avx512::attn_ggml_row(tile.o + (size_t)r * D, tile.q + (size_t)r * D, static_cast<const float*>(tile.k),
                                static_cast<const float*>(tile.v), tile.kv_stride, (int)D, (int64_t)tile.last[r] + 1, p.scale, T >= 2,
                                scratch.data());
#endif
      } else {
        kern.begin(&tile);
        for (int64_t j0 = 0; j0 <= kmax; j0 += kKeyBlock) kern.step(&tile, j0, std::min<int64_t>(j0 + kKeyBlock, (int64_t)kmax + 1));
        kern.end(&tile);
      }
      store(item, R, tile.o);
    }
  });
}

}  // namespace tl
