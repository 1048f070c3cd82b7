// matmul_t for quantized weight types (see matmul.h): quantize each row of a once per activation
// type (Q8_0 / Q8_1 / Q8_K), then compute every output as one dot product of a packed weight row
// with a quantized activation row, with the active ISA's kernel from the weight-type table.
//
// Regimes, all on the thread pool, split over blocks of weight rows (of all projections at once,
// so Q/K/V or gate/up share one pool job):
//   GEMV (M = 1): each thread streams its weight rows once; types with a 4-row kernel (dotw4) take
//     row i of 4 segments of the thread's rows per call, sharing the activation loads (each output
//     computed exactly as by the 1-row kernel). The quantized row also gets copies in the 4-row
//     kernels' layouts (quant_blocks.h: halves of blocks side by side, f32 scales, sums),
//     written once per product instead of rebuilt in each of the ~N / 4 kernel calls.
//   small M and GEMM: a block of kRowsPerTile weight rows (a few tens of KiB, stays in L2) meets
//     kActRowsPerTile quantized activation rows at a time; each weight row stays in L1 while it
//     is dotted with those activation rows.
//   from the type's gemm_min_rows on (weight-type table, qgemm.h: 2..16 rows on VNNI, so batched
//   decode too), types with a tile kernel: the same tiles go to qgemm.h's register-blocked
//   micro-kernels, whose outputs are bit-identical to the dot kernel's.
#include "kernels/matmul_quant.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/f16.h"
#include "kernels/qgemm.h"
#include "kernels/quant_blocks.h"
#include "kernels/threadpool.h"
#include "kernels/weight_types.h"

namespace tl {

std::atomic<uint64_t> g_qgemm_act_generation{0};

namespace {

constexpr int64_t kRowsPerTile = 16;      // weight rows per work item when M > 1
// With a tile kernel and from this many activation rows on, work items of up to kGemmRowsPerItem
// weight rows: a tile call packs its weight rows once, and larger items cost fewer calls (the tile
// drivers loop over 16-row or smaller groups inside, so the work per row is the same); halved
// while the projection would give fewer than 4 items per thread. (Activation rows a tile prepares,
// Q4_0 / IQ4_NL / Q8_0 biases and scales on VNNI, are kept per thread for the whole product.)
constexpr int64_t kGemmRowsPerItem = 64;
constexpr int64_t kGemmBigItemMinRows = 32;
constexpr int64_t kActRowsPerTile = 64;   // quantized activation rows per pass over a tile
constexpr int64_t kMinMacsPerThread = 1 << 16;
// Activation buffers up to this size are taken back after each product (threadpool.h's
// reclaim_for_write): decode and small batches; a prompt's rows are quantized on all threads.
constexpr size_t kReclaimMaxBytes = 64 << 10;

// The quantized activations of one call, one buffer per activation type (kept per calling thread).
struct ActBuffers {
  std::vector<uint8_t> data[3];  // Q8_0, Q8_1, Q8_K
  size_t used[3] = {0, 0, 0};    // bytes the last call wrote
};
thread_local ActBuffers t_act;

int act_slot(int act) { return act == ggml::Q8_0 ? 0 : act == ggml::Q8_1 ? 1 : 2; }

// Quantizes the M rows of a to `at` into buf (rows of row_bytes), threaded when large.
void quantize_rows(uint8_t* buf, const float* a, int64_t M, int64_t K, const ActTypeInfo& at, int64_t row_bytes) {
  const int64_t grain = std::max<int64_t>(1, (1 << 15) / K);
  const QuantizeRowFn quantize = active_quantize(at);
  parallel_for(M, grain, [&](int64_t b, int64_t e, int) {
    for (int64_t m = b; m < e; m++) quantize(buf + m * row_bytes, a + m * K, K);
  });
}

// The Q8_0x4 copy of a quantized GEMV activation row of nb Q8_0 blocks (quant_blocks.h).
void write_act_quads(uint8_t* row, int64_t nb) {
  const auto* blocks = reinterpret_cast<const qb::Q8_0*>(row);
  auto* quads = const_cast<qb::Q8_0x4*>(qb::gemv_act_quads(row, nb));
  for (int64_t g = 0; g < nb / 4; g++) {
    qb::Q8_0x4& q = quads[g];
    for (int c = 0; c < 4; c++) {
      const qb::Q8_0& b = blocks[4 * g + c];
      std::memcpy(q.lo + 16 * c, b.qs, 16);
      std::memcpy(q.hi + 16 * c, b.qs + 16, 16);
      int32_t sum = 0;
      for (int j = 0; j < 32; j++) sum += b.qs[j];
      for (int r = 0; r < 4; r++) q.d[4 * c + r] = f16_to_f32(b.d), q.neg_sum[4 * c + r] = r == 0 ? -sum : 0;
    }
  }
}

// The ActPair copies of a quantized GEMV activation row of nb Q8_0 / Q8_1 blocks (quant_blocks.h).
template <class Act>
void write_act_pairs(uint8_t* row, int64_t nb) {
  const auto* blocks = reinterpret_cast<const Act*>(row);
  auto* pairs = const_cast<qb::ActPair*>(qb::gemv_act_pairs<Act>(row, nb));
  for (int64_t p = 0; p < nb / 2; p++) {
    qb::ActPair& q = pairs[p];
    for (int b = 0; b < 2; b++) {
      const Act& y = blocks[2 * p + b];
      q.ds[2 * b] = f16_to_f32(y.d);
      if constexpr (sizeof(Act) == sizeof(qb::Q8_1)) q.ds[2 * b + 1] = f16_to_f32(y.s);
      else q.ds[2 * b + 1] = 0.0f;
      for (int l = 0; l < 8; l++) q.neg16_sum4[8 * b + l] = -16 * (y.qs[4 * l] + y.qs[4 * l + 1] + y.qs[4 * l + 2] + y.qs[4 * l + 3]);
    }
  }
}

// The Q8_KHalves copy of a quantized GEMV activation row of nb Q8_K blocks (quant_blocks.h).
void write_act_halves(uint8_t* row, int64_t nb) {
  const auto* blocks = reinterpret_cast<const qb::Q8_K*>(row);
  auto* halves = const_cast<qb::Q8_KHalves*>(qb::gemv_act_halves(row, nb));
  for (int64_t i = 0; i < nb; i++) {
    qb::Q8_KHalves& q = halves[i];
    for (int h = 0; h < 2; h++)
      for (int c = 0; c < 4; c++) {
        const int8_t* y = blocks[i].qs + 128 * h + 32 * c;
        std::memcpy(q.lo[h] + 16 * c, y, 16);
        std::memcpy(q.hi[h] + 16 * c, y + 16, 16);
        for (int m = 0; m < 4; m++) {
          q.neg128_lo[h][4 * c + m] = -128 * (y[4 * m] + y[4 * m + 1] + y[4 * m + 2] + y[4 * m + 3]);
          q.neg128_hi[h][4 * c + m] = -128 * (y[16 + 4 * m] + y[16 + 4 * m + 1] + y[16 + 4 * m + 2] + y[16 + 4 * m + 3]);
        }
      }
  }
}

struct Job {
  const Projection* p;
  const WeightTypeInfo* type;
  VecDotFn dot;
  VecDot4Fn dot4;  // null on the scalar path
  VecDotW4Fn dotw4;  // null on the scalar path
  QgemmTileFn tile;  // GEMM tile kernel, or null (M below its threshold, scalar path, type without one)
  const uint8_t* act;  // quantized a for this projection's activation type
  int64_t act_row_bytes;
  int64_t w_row_bytes;
  int64_t first_block;  // index of this projection's first block of rows in the flat item list
  int64_t rows_per_block;  // weight rows per work item
};

// GEMV rows [n0, r1) of one projection: cut into 4 equal segments, row i of each in one kernel
// call: 4 long sequential streams the hardware prefetcher follows and 4 independent chains; each
// output exactly the 1-row kernel's. 4 adjacent rows per call were 4 short interleaved streams:
// 110M Llama decode, 1 thread, A/B in one process (bench/ab/decode-addon-ab.mjs), segments vs
// adjacent rows: q4_0 1.19×, q4_k_m 1.22×, q5_k_m 1.07×, q6_k 1.30×, iq4_nl 1.12×, q4_1 / q5_0 /
// q5_1 1.06–1.11×; q8_0 1.36× over one row per call; 2 threads 1.06–1.14×.
// `half` 0 runs the first half of each segment, 1 the second half and the rows past the segments,
// so half 1 right after half 0 continues the same 4 streams (see matmul_t_quant).
void gemv_rows(const Job& job, int64_t K, int64_t n0, int64_t r1, int half) {
  const int64_t N = job.p->N, L = (r1 - n0) / 4, rb = job.w_row_bytes;
  const uint8_t* w = static_cast<const uint8_t*>(job.p->w);
  float* out = job.p->out;
  // A 4-row kernel may read a few bytes past the end of each of its rows (qdot.inc's
  // k_legacy2_w512: one 64-byte load per pair of blocks), into the row after it: so the
  // matrix's last row, whose next bytes may not exist, goes to the one-row kernel.
  const int64_t L4 = r1 == N && n0 + 4 * L == N ? L - 1 : L;
  const int64_t i0 = half == 0 ? 0 : L / 2, i1 = half == 0 ? L / 2 : L;
  for (int64_t i = i0; i < std::min(i1, L4); i++) {
    float o[4];
    job.dotw4(w + (n0 + i) * rb, L * rb, job.act, K, o);
    for (int s = 0; s < 4; s++) out[n0 + s * L + i] = o[s];
  }
  for (int64_t i = std::max(i0, L4); i < i1; i++)
    for (int s = 0; s < 4; s++) out[n0 + s * L + i] = job.dot(w + (n0 + s * L + i) * rb, job.act, K);
  if (half == 1)
    for (int64_t n = n0 + 4 * L; n < r1; n++) out[n] = job.dot(w + n * rb, job.act, K);
}

}  // namespace

void matmul_t_quant(const float* a, int64_t M, int64_t K, const Projection* p, int count) {
  // 1. quantize a once per activation type used
  Job jobs[16];
  bool quantized[3] = {false, false, false};
  const int64_t rows_per_block = M == 1 ? 4 : kRowsPerTile;
  int64_t blocks = 0;
  for (int i = 0; i < count; i++) {
    const WeightTypeInfo& t = *weight_type(p[i].type);
    const ActTypeInfo& at = *act_type(t.act);
    const int slot = act_slot(t.act);
    const int64_t arb = K / at.block * at.block_bytes;
    std::vector<uint8_t>& buf = t_act.data[slot];
    if (!quantized[slot]) {
      // GEMV's row carries copies in the 4-row kernels' layouts (quant_blocks.h)
      const int64_t nb = K / at.block;
      const size_t bytes = M > 1 ? (size_t)(M * arb)
                           : t.act == ggml::Q8_K ? (size_t)qb::gemv_act_bytes_q8_k(nb)
                                                 : (size_t)qb::gemv_act_bytes(nb, t.act == ggml::Q8_1);
      if (buf.size() < bytes) buf.resize(bytes);
      t_act.used[slot] = bytes;
      quantize_rows(buf.data(), a, M, K, at, arb);
      if (M == 1 && t.act == ggml::Q8_0) write_act_quads(buf.data(), nb), write_act_pairs<qb::Q8_0>(buf.data(), nb);
      if (M == 1 && t.act == ggml::Q8_1) write_act_pairs<qb::Q8_1>(buf.data(), nb);
      if (M == 1 && t.act == ggml::Q8_K) write_act_halves(buf.data(), nb);
      quantized[slot] = true;
    }
    const QgemmTileFn tile = active_gemm(t, M);
    int64_t rpb = rows_per_block;
    if (tile && M >= kGemmBigItemMinRows) {
      rpb = kGemmRowsPerItem;
      while (rpb > kRowsPerTile && p[i].N < 4 * pool_threads() * rpb) rpb /= 2;
    }
    jobs[i] = Job{&p[i], &t, active_dot(t), active_dot4(t), active_dotw4(t),
                  tile, buf.data(), arb, type_row_bytes(t, K), blocks, rpb};
    blocks += (p[i].N + rpb - 1) / rpb;
  }

  g_qgemm_act_generation.fetch_add(1, std::memory_order_relaxed);  // new activations (qgemm.h)
  // 2. all projections' blocks of weight rows as one flat list of work items
  const int64_t macs_per_block = rows_per_block * M * K;
  const int64_t grain = std::max<int64_t>(1, kMinMacsPerThread / std::max<int64_t>(1, macs_per_block));
  bool gemv = M == 1;
  for (int i = 0; i < count; i++) gemv = gemv && jobs[i].dotw4;
  if (gemv) {
    // GEMV: each thread's share of the flat list goes out as two pieces, the first and the second
    // half of each of its 4 row segments (gemv_rows): a thread that runs both continues the same 4
    // streams, and one that finishes early can still take the other's second piece. Each stream
    // that starts cold costs ~1 µs at 2 threads (a 768×768 Q4_0 chunk of 83 KB ran at ~25 GB/s, ~38
    // per thread in long runs). The pool's 4 chunks per thread, each its own 4 streams, had been
    // cut to 2 (2 threads, the 110M Llama's 84 layer GEMVs, bench/ab/gemv-stream.cjs: Q4_0 1.45 →
    // 1.21 ms, Q4_K 1.29 → 1.17); 1 chunk per thread was faster still but left nothing to take
    // over from a thread that runs late. Against those 2 chunks, 2 threads, both builds alternating
    // in one process: one streamed Q4_0 GEMV N × 768 1.00–1.03× (N = 256), 1.04–1.07× (768),
    // 1.03–1.12× (2048); 110M decode (bench/ab/decode-addon-ab.mjs, f16 KV, both orders) q4_k_m
    // 1.01–1.07×, q4_0 1.00–1.02×. 1 thread runs the same kernel calls in the same order as before.
    const int64_t threads = std::min<int64_t>(pool_threads(), std::max<int64_t>(1, blocks / grain));
    // the runs of thread range t's rows in each projection, half h of each: a piece runs its
    // second halves last run first, so the run its first halves ended on continues straight away
    const auto piece = [&](int64_t t, int h) {
      const int64_t b0 = blocks * t / threads, b1 = blocks * (t + 1) / threads;
      for (int r = 0; r < count; r++) {
        const int j = h == 0 ? r : count - 1 - r;
        const Job& job = jobs[j];
        const int64_t jb0 = std::max(b0, job.first_block), jb1 = std::min(b1, j + 1 < count ? jobs[j + 1].first_block : blocks);
        if (jb0 < jb1)
          gemv_rows(job, K, (jb0 - job.first_block) * job.rows_per_block,
                    std::min(job.p->N, (jb1 - job.first_block) * job.rows_per_block), h);
      }
    };
    if (threads == 1) {  // both halves of each projection in turn: its 4 streams once through
      for (int j = 0; j < count; j++)
        for (int h = 0; h < 2; h++) gemv_rows(jobs[j], K, 0, jobs[j].p->N, h);
    } else {
      parallel_for(2 * threads, 2, [&](int64_t c0, int64_t c1, int) {
        for (int64_t c = c0; c < c1; c++) piece(c / 2, (int)(c % 2));
      }, 2);
    }
  } else parallel_for(blocks, grain, [&](int64_t b0, int64_t b1, int) {
    int j = 0;
    for (int64_t blk = b0; blk < b1; blk++) {
      while (j + 1 < count && jobs[j + 1].first_block <= blk) j++;
      const Job& job = jobs[j];
      const int64_t N = job.p->N;
      const int64_t n0 = (blk - job.first_block) * job.rows_per_block;
      const int64_t n1 = std::min(N, n0 + job.rows_per_block);
      const uint8_t* w = static_cast<const uint8_t*>(job.p->w);
      float* out = job.p->out;
      if (job.tile) {  // all M activation rows: a tile kernel may repack its weight rows once for them
        job.tile(w + n0 * job.w_row_bytes, job.w_row_bytes, n1 - n0, job.act, job.act_row_bytes, M, K, out + n0, N);
        continue;
      }
      for (int64_t m0 = 0; m0 < M; m0 += kActRowsPerTile) {
        const int64_t m1 = std::min(M, m0 + kActRowsPerTile);
        for (int64_t n = n0; n < n1; n++) {
          const uint8_t* wrow = w + n * job.w_row_bytes;
          int64_t m = m0;
          if (job.dot4) {  // 4 activation rows per pass: the weight row is unpacked once for them
            float o[4];
            for (; m + 4 <= m1; m += 4) {
              job.dot4(wrow, job.act + m * job.act_row_bytes, job.act_row_bytes, K, o);
              for (int r = 0; r < 4; r++) out[(m + r) * N + n] = o[r];
            }
          }
          for (; m < m1; m++) out[m * N + n] = job.dot(wrow, job.act + m * job.act_row_bytes, K);
        }
      }
    }
  });
  // The activations of decode-sized products back before the next call quantizes into them: at 2
  // threads a GEMV's quantize-and-copy step took 1.4–1.65 µs instead of 0.5–0.7 at 1 thread,
  // waiting on the worker's copies of the lines, and 0.7–0.9 µs with this. 2 threads, alternating
  // runs: the 110M Llama's 84 layer GEMVs streamed (bench/ab/gemv-stream.cjs) Q4_0 1.02–1.09×,
  // Q4_K 1.02–1.03×; one streamed Q4_0 GEMV N × 768, N = 256 / 768 / 2048: 1.10× / 1.04–1.06× /
  // 1.02×. Decode gains ~1.5 % at 2 threads, below what bench/ab/decode-addon-ab.mjs resolves here.
  for (int slot = 0; slot < 3; slot++)
    if (quantized[slot] && t_act.used[slot] <= kReclaimMaxBytes) reclaim_for_write(t_act.data[slot].data(), t_act.used[slot]);
}

}  // namespace tl
