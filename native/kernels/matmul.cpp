// The matmul dispatcher (baseline ISA): picks the SIMD variant with tl::active_isa() per call,
// chooses the regime (GEMV for M = 1, dot products on unpacked weights for M ≤ kSkinnyMaxM,
// packed GEMM above) and splits the work over the shared thread pool. Quantized weight types go
// to matmul_quant.cpp (integer dot products on quantized activations).
#include "kernels/matmul.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "kernels/convert.h"
#include "kernels/cpu.h"
#include "kernels/matmul_kernels.h"
#include "kernels/matmul_quant.h"
#include "kernels/threadpool.h"

namespace tl {
namespace {

// Cache blocking of the packed GEMM (BLIS loop order jc → pc → ic → jr → ir): the KC×NC B block
// (1 MiB) is packed once and reused by every A block; the MC×KC A block (96 KiB) stays in L2
// while the KC×NR B micro-panels (32 / 64 KiB) stream past it. Tuned on Zen 4 (32 KiB L1d, 1 MiB
// L2) against OpenBLAS with paired CPU-time runs; KC 256..768 and MC 48..144 were within a few %.
// Re-checked on Zen 5 (48 KiB L1d, 1 MiB L2, AVX-512): KC 256..512 × MC 48..144 × NC 512..1024
// within the noise of a loaded machine (±3 %); NC = 4096 (one A packing per K block) was 5 % slower
// on 512×4096×4096. What did count there: A packed with 8×8 transposes instead of scalar loads
// (A is packed once per NC columns), the next B panel's weights prefetched while the first A block
// runs over the current one, and the out tile prefetched at the start of each micro-kernel.
constexpr int64_t kKC = 512;  // a multiple of 32, so a Q8_0 block never straddles two K blocks
constexpr int64_t kMC = 48;   // a multiple of every MR (6)
constexpr int64_t kNC = 512;  // a multiple of every NR (16, 32)

// Up to this many rows of a, matmul_t uses the dot-product kernel on unpacked weights: packing
// (and transposing) all of w costs more than it saves when each weight is used by few rows.
constexpr int64_t kSkinnyMaxM = 32;

// Largest A (floats) packed once and shared by the threads (16 MiB): above it, each thread packs
// the A blocks it needs, which costs little next to the arithmetic of so large a product.
constexpr int64_t kMaxSharedA = 4 << 20;

// Below this much work (multiply-adds) per thread, extra threads cost more than they save.
constexpr int64_t kMinMacsPerThread = 1 << 16;

// The building blocks of one ISA, so the GEMM driver below is written once.
struct GemmIsa {
  int mr, nr;
  void (*gemv_t)(float*, const float*, const void*, int, int64_t, int64_t, int64_t);
  void (*skinny_t)(float*, int64_t, const float*, int64_t, const void*, int, int64_t, int64_t, int64_t, float*);
  void (*gemv)(float*, const float*, const float*, int64_t, int64_t, int64_t, int64_t);
  void (*pack_a)(float*, const float*, int64_t, int64_t, int64_t);
  void (*pack_bt)(float*, const void*, int, int64_t, int64_t, int64_t, int64_t, int64_t);
  void (*pack_b)(float*, const float*, int64_t, int64_t, int64_t);
  void (*micro)(int64_t, const float*, const float*, float*, int64_t, int);
  void (*micro_edge)(int64_t, const float*, const float*, float*, int64_t, int, int);
};

#if defined(TL_HAVE_X86_VARIANTS)
const GemmIsa kAvx2 = {avx2::kMR,    avx2::kNR,     avx2::gemv_t, avx2::skinny_t, avx2::gemv,
                       avx2::pack_a, avx2::pack_bt, avx2::pack_b, avx2::micro, avx2::micro_edge};
const GemmIsa kAvx512 = {avx512::kMR,    avx512::kNR,     avx512::gemv_t, avx512::skinny_t, avx512::gemv,
                         avx512::pack_a, avx512::pack_bt, avx512::pack_b, avx512::micro, avx512::micro_edge};
// bf16 weights on AVX-512 BF16: the AVX-512 blocks with vdpbf16ps micro-kernels (gemm_columns_bf16).
const GemmIsa kAvx512Bf16 = {avx512::kMR,    avx512::kNR,     avx512::gemv_t, avx512::skinny_t, avx512::gemv,
                             avx512::pack_a, avx512::pack_bt, avx512::pack_b, avx512::micro_bf16,
                             avx512::micro_edge_bf16};
#endif

// The SIMD building blocks for the active ISA, or null for the scalar reference path.
const GemmIsa* simd_isa() {
#if defined(TL_HAVE_X86_VARIANTS)
  switch (active_isa()) {
    case Isa::Avx512: return &kAvx512;
    case Isa::Avx2: return &kAvx2;
    default: return nullptr;
  }
#else
  return nullptr;
#endif
}

// Per-thread packing buffers, 64-byte aligned, grown on demand and kept (pool threads live long).
struct PackBuffers {
  float* a = nullptr;
  float* b = nullptr;
  size_t a_cap = 0, b_cap = 0;
  ~PackBuffers() {
    std::free(a);
    std::free(b);
  }
  static float* grow(float*& p, size_t& cap, size_t n) {
    if (n > cap) {
      std::free(p);
      p = static_cast<float*>(std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64));
      if (!p) throw std::bad_alloc();
      cap = n;
    }
    return p;
  }
};
thread_local PackBuffers t_pack;
// The caller's copy of all of A packed (see pack_all_a), shared by the threads of one GEMM.
thread_local PackBuffers t_shared;

// What B is: wᵀ in some weight type (matmul_t) or a plain f32 [K, N] matrix (matmul).
struct BSource {
  const void* w;   // matmul_t weights, or null
  int wt;          // GGML type id of w (f32, f16, bf16)
  const float* b;  // matmul's b, or null
};

// Rows of A rounded up to whole MR tiles: the height of a fully packed A.
int64_t padded_rows(const GemmIsa& isa, int64_t M) { return (M + isa.mr - 1) / isa.mr * isa.mr; }

// A row rounded to f16 / bf16 and back (ggml's vec_dot_type for those weights: see matmul_t_float).
void round_row(float* out, const float* a, int64_t K, int wt, uint16_t* half) {
  if (wt == ggml::F16) {
    f32_to_f16_array(half, a, K);
    f16_to_f32_array(out, half, K);
  } else {
    f32_to_bf16_array(half, a, K);
    bf16_to_f32_array(out, half, K);
  }
}
thread_local std::vector<float> t_round_rows;
thread_local std::vector<uint16_t> t_round_half;

// All of A packed once, in the layout gemm_block reads: the K block starting at pc holds every
// MR-row tile of it (MR × kc floats each, zero-padded rows) at packed + pc × padded_rows + row × kc.
// Threads that split the columns then share it instead of each repacking A for its own columns
// (with the pool's chunks that was 8 packings of A at 2 threads against 1 at 1 thread).
// `round_wt` (F16 / BF16, or 0): each tile's rows are rounded to that type first, here on the
// threads that pack them (a separate pass on the calling thread was serial work in every
// f16-weight product: ~3 % of a 2-thread T5 encode).
float* pack_all_a(const GemmIsa& isa, const float* a, int64_t M, int64_t K, int round_wt = 0) {
  const int64_t mp = padded_rows(isa, M), tiles = mp / isa.mr;
  float* packed = PackBuffers::grow(t_shared.a, t_shared.a_cap, (size_t)(mp * K));
  parallel_for(tiles, std::max<int64_t>(1, kMinMacsPerThread / std::max<int64_t>(1, isa.mr * K)), [&](int64_t b, int64_t e, int) {
    for (int64_t t = b; t < e; t++) {
      const int64_t row = t * isa.mr, rows = std::min<int64_t>(isa.mr, M - row);
      const float* src = a + row * K;
      if (round_wt) {
        if (t_round_rows.size() < (size_t)(isa.mr * K)) t_round_rows.resize((size_t)(isa.mr * K));
        if (t_round_half.size() < (size_t)K) t_round_half.resize((size_t)K);
        for (int64_t i = 0; i < rows; i++) round_row(t_round_rows.data() + i * K, src + i * K, K, round_wt, t_round_half.data());
        src = t_round_rows.data();
      }
      for (int64_t pc = 0; pc < K; pc += kKC) {
        const int64_t kc = std::min(kKC, K - pc);
        isa.pack_a(packed + pc * mp + row * kc, src + pc, K, rows, kc);
      }
    }
  });
  return packed;
}

// The cache lines a B panel is packed from (nr columns of B, kc steps of k from k0): for matmul_t
// nr weight rows of kc weights, for matmul kc rows of b of nr floats. prefetch(n, k0, l0, l1)
// touches lines [l0, l1) of `lines` for the panel whose first column is n (none past column N).
struct PanelSource {
  const float* b;    // matmul's b, or null
  const char* w;     // matmul_t's weights
  int64_t N, ld;     // columns of B; bytes per source row (a weight row, or a row of b)
  int64_t elt;       // bytes per element
  int64_t rows, lpr; // source rows per panel, lines touched per row (+1: rows need not start on a line)
  int64_t lines;
  PanelSource(const BSource& src, int64_t N_, int64_t K, int64_t kc, int64_t nr)
      : b(src.b), w((const char*)src.w), N(N_) {
    elt = b ? 4 : type_row_bytes(*weight_type(src.wt), 1);
    ld = b ? N * 4 : type_row_bytes(*weight_type(src.wt), K);
    rows = b ? kc : nr;
    lpr = ((b ? nr : kc) * elt + 63) / 64 + 1;
    lines = rows * lpr;
  }
  void prefetch(int64_t n, int64_t k0, int64_t l0, int64_t l1) const {
    if (n >= N) return;
    for (int64_t l = l0; l < l1; l++) {
      const int64_t r = l / lpr, off = (l % lpr) * 64;
      const char* p = b ? (const char*)(b + (k0 + r) * N + n) + off : w + (n + r) * ld + k0 * elt + off;
      if (!b && n + r >= N) return;
      __builtin_prefetch(p, 0, 2);
    }
  }
};

// out[m0..m1, n0..n1) of the product, with packing and cache blocking, on the calling thread.
// `packed_a` (from pack_all_a, or null to pack A block by block here) needs m0 = 0.
void gemm_block(const GemmIsa& isa, float* out, const float* a, const BSource& src, int64_t M, int64_t N, int64_t K,
                int64_t m0, int64_t m1, int64_t n0, int64_t n1, const float* packed_a = nullptr) {
  const int mr = isa.mr, nr = isa.nr;
  const int64_t mp = padded_rows(isa, M);
  float* own_a = packed_a ? nullptr : PackBuffers::grow(t_pack.a, t_pack.a_cap, (size_t)(kMC * kKC));
  float* pb = PackBuffers::grow(t_pack.b, t_pack.b_cap, (size_t)(kNC * kKC));
  alignas(64) float edge[16 * 64];  // MR×NR scratch for partial tiles (MR ≤ 16, NR ≤ 64)
  for (int64_t jc = n0; jc < n1; jc += kNC) {
    const int64_t nc = std::min(kNC, n1 - jc);
    for (int64_t pc = 0; pc < K; pc += kKC) {
      const int64_t kc = std::min(kKC, K - pc);
      const PanelSource next(src, N, K, kc, nr);
      const int accumulate = pc > 0;
      for (int64_t ic = m0; ic < m1; ic += kMC) {
        const int64_t mc = std::min(kMC, m1 - ic);
        const float* pa = packed_a ? packed_a + pc * mp + ic * kc : own_a;
        if (!packed_a)
          for (int64_t ir = 0; ir < mc; ir += mr)
            isa.pack_a(own_a + ir * kc, a + (ic + ir) * K + pc, K, std::min<int64_t>(mr, mc - ir), kc);
        for (int64_t jr = 0; jr < nc; jr += nr) {
          const int64_t nrr = std::min<int64_t>(nr, nc - jr);
          if (ic == m0) {  // pack each B micro-panel just before its first use: the weight reads
                           // (memory-bound) overlap the microkernel's arithmetic
            if (src.b)
              isa.pack_b(pb + jr * kc, src.b + pc * N + jc + jr, N, nrr, kc);
            else
              isa.pack_bt(pb + jr * kc, src.w, src.wt, K, jc + jr, nrr, pc, kc);
          }
          // While the first A block runs over this panel, bring the next panel's source into the
          // caches a slice per micro-tile, so its packing does not wait on memory.
          const int64_t next_lines = ic == m0 && jr + nr < nc ? next.lines : 0;
          const int64_t tiles = (mc + mr - 1) / mr;
          for (int64_t ir = 0; ir < mc; ir += mr) {
            const int64_t mrr = std::min<int64_t>(mr, mc - ir);
            if (next_lines) {
              const int64_t t = ir / mr;
              next.prefetch(jc + jr + nr, pc, next_lines * t / tiles, next_lines * (t + 1) / tiles);
            }
            float* c = out + (ic + ir) * N + jc + jr;
            if (mrr == mr && nrr == nr) {
              isa.micro(kc, pa + ir * kc, pb + jr * kc, c, N, accumulate);
            } else if (nrr == nr) {  // bottom edge: fewer rows, straight into out
              isa.micro_edge(kc, pa + ir * kc, pb + jr * kc, c, N, accumulate, (int)mrr);
            } else {  // partial tile: compute the full tile in scratch, copy the live part
              isa.micro(kc, pa + ir * kc, pb + jr * kc, edge, nr, 0);
              for (int64_t i = 0; i < mrr; i++)
                for (int64_t j = 0; j < nrr; j++) c[i * N + j] = (accumulate ? c[i * N + j] : 0.0f) + edge[i * nr + j];
            }
          }
        }
      }
    }
  }
}

// One product of a multi-projection GEMM: out = A · wᵀ, N columns.
struct GemmPart {
  float* out;
  BSource src;
  int64_t N;
};

// Column panels of all `parts` (sharing A, packed once) over the threads, handed out in chunks of a
// few panels from an atomic counter rather than one fixed range per thread: on a busy machine a
// thread that loses its core for a while no longer holds up the whole product (the other one takes
// the chunks it has not reached), and several projections of the same input (T5's q, k, v) run as
// one job: one packing of A, one wake-up and one join instead of one each.
void gemm_columns(const GemmIsa& isa, const float* a, const GemmPart* parts, int count, int64_t M, int64_t K,
                  int round_wt) {
  int64_t panels = 0;
  for (int i = 0; i < count; i++) panels += (parts[i].N + isa.nr - 1) / isa.nr;
  const int threads = pool_threads();
  const bool share_a = padded_rows(isa, M) * K <= kMaxSharedA && (threads > 1 || count > 1 || parts[0].N > kNC);
  const float* packed_a = share_a ? pack_all_a(isa, a, M, K, round_wt) : nullptr;
  if (!packed_a && round_wt) {  // A too large to share: rounded here, each thread packs its own
    const size_t n = (size_t)(M * K);
    if (t_round_rows.size() < n) t_round_rows.resize(n);
    if (t_round_half.size() < (size_t)K) t_round_half.resize((size_t)K);
    for (int64_t m = 0; m < M; m++) round_row(t_round_rows.data() + m * K, a + m * K, K, round_wt, t_round_half.data());
    a = t_round_rows.data();
  }
  // About 4 chunks per thread, of 2..8 panels: fewer would leave the balancing coarse, smaller
  // ones would cut the prefetch of the next panel's weights (only within a chunk) too often. One
  // thread: one chunk per projection, as before.
  // Without a shared A each chunk packs A again for every A block: then chunks of NC columns at
  // least, as the fixed per-thread ranges were (one A packing per NC columns of arithmetic).
  int64_t per_chunk = threads == 1 ? panels : std::min<int64_t>(8, std::max<int64_t>(2, panels / (4 * threads)));
  if (!packed_a) per_chunk = std::max<int64_t>(per_chunk, kNC / isa.nr);
  struct Chunk {
    int part;
    int64_t n0, n1;
  };
  // The last few panels of the job go out one at a time: the join waits for the slower thread's
  // last chunk, so with 8-panel chunks to the end the other thread spun for up to a whole chunk
  // (≈ 0.4 ms on T5-base's 128-token encode, four such joins a layer).
  // (Not without a shared A: each chunk would pack A again.)
  static thread_local std::vector<Chunk> t_chunks;  // kept: no allocation per product
  std::vector<Chunk>& chunks = t_chunks;             // the caller's, also where the workers read it
  chunks.clear();
  const int64_t singles = threads > 1 && packed_a ? per_chunk * threads : 0;
  int64_t before = 0;  // panels of the parts before part i
  for (int i = 0; i < count; i++) {
    const int64_t np_i = (parts[i].N + isa.nr - 1) / isa.nr;
    // column where this part's single-panel chunks start (past its end when it has none)
    const int64_t split = std::max<int64_t>(0, panels - singles - before) * isa.nr;
    for (int64_t n = 0; n < parts[i].N;) {
      const int64_t step = n >= split ? isa.nr : per_chunk * isa.nr;
      const int64_t end = std::min(parts[i].N, n < split ? std::min(split, n + step) : n + step);
      chunks.push_back({i, n, end});
      n = end;
    }
    before += np_i;
  }
  const int64_t macs = M * K * panels * isa.nr;
  const int64_t workers = std::max<int64_t>(1, std::min<int64_t>(threads, macs / kMinMacsPerThread));
  std::atomic<int64_t> next{0};
  const int64_t nchunks = (int64_t)chunks.size();
  parallel_for(workers, 1, [&](int64_t b, int64_t e, int) {
    for (int64_t w = b; w < e; w++)
      for (int64_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < nchunks;) {
        const Chunk& ch = chunks[(size_t)c];
        const GemmPart& p = parts[ch.part];
        gemm_block(isa, p.out, a, p.src, M, p.N, K, 0, M, ch.n0, ch.n1, packed_a);
      }
  });
}

// Whether bf16 weights' GEMM can take vdpbf16ps (gemm_columns_bf16): the CPU has it, the cap allows
// it, and K pairs up.
bool bf16_pairs_gemm(int64_t K) {
#if defined(TL_HAVE_X86_VARIANTS)
  return active_bf16_dot() && K % 2 == 0;
#else
  (void)K;
  return false;
#endif
}

// gemm_columns for bf16 weights on AVX-512 BF16. A is rounded to bf16 as ggml does for these weights
// (its vec_dot_type; the other paths round it the same way), and then each (k, k + 1) pair of A and
// of a weight row is one 32-bit word, so the f32 driver runs unchanged over K/2 word columns (A,
// and the weights read as f32 rows of K/2 words) with the vdpbf16ps micro-kernels: each word step
// is two multiply-adds, the products exact in f32 and summed in f32 as before.
thread_local std::vector<uint16_t> t_bf16_a;
void gemm_columns_bf16(const float* a, const GemmPart* parts, int count, int64_t M, int64_t K) {
#if defined(TL_HAVE_X86_VARIANTS)
  if (t_bf16_a.size() < (size_t)(M * K)) t_bf16_a.resize((size_t)(M * K));
  f32_to_bf16_array(t_bf16_a.data(), a, M * K);  // threaded
  GemmPart words[16];
  for (int i = 0; i < count; i++) words[i] = GemmPart{parts[i].out, BSource{parts[i].src.w, ggml::F32, nullptr}, parts[i].N};
  gemm_columns(kAvx512Bf16, reinterpret_cast<const float*>(t_bf16_a.data()), words, count, M, K / 2, 0);
#else
  (void)a, (void)parts, (void)count, (void)M, (void)K;
#endif
}

// Splits the output over threads: by column panels when there are enough, else by row tiles.
void gemm(const GemmIsa& isa, float* out, const float* a, const BSource& src, int64_t M, int64_t N, int64_t K) {
  const int64_t macs_per_row = N * K;
  const int64_t col_panels = (N + isa.nr - 1) / isa.nr;
  const int64_t row_tiles = (M + isa.mr - 1) / isa.mr;
  if (col_panels >= 2 * pool_threads() || col_panels >= row_tiles) {
    const GemmPart part{out, src, N};
    gemm_columns(isa, a, &part, 1, M, K, 0);
  } else {
    const int64_t grain = std::max<int64_t>(1, kMinMacsPerThread / std::max<int64_t>(1, macs_per_row * isa.mr));
    parallel_for(row_tiles, grain, [&](int64_t b, int64_t e, int) {
      gemm_block(isa, out, a, src, M, N, K, b * isa.mr, std::min(M, e * isa.mr), 0, N);
    });
  }
}

// Rows of output per thread so that each thread gets at least kMinMacsPerThread of work.
int64_t grain_rows(int64_t macs_per_item) {
  return std::max<int64_t>(1, kMinMacsPerThread / std::max<int64_t>(1, macs_per_item));
}

}  // namespace

// Float weights (f32, f16, bf16): the f32 paths above. F16 / BF16 weights take activations rounded
// to F16 / BF16 first (ggml's vec_dot_type for them), so the products are ggml's exactly.
// The float GEMV goes out in 2 chunks per thread, not the pool's 4: each chunk is 4 row streams
// (gemv_float.inc) that start cold, ~1 µs each at 2 threads (as for the quantized GEMV, see
// matmul_quant.cpp). 2 threads, both builds alternating in one process: one streamed GEMV N × 768
// (bench/ab/gemv-calls-ab.cjs, both orders) bf16 1.02–1.17× at N = 256 / 768, f32 1.02–1.05×, 1.0
// at 2048; 110M decode (decode-addon-ab.mjs) f16 1.05–1.07×, bf16 1.00–1.06×. One chunk per thread
// was about the same in decode and leaves nothing to take over from a thread that runs late.
constexpr int kFloatGemvPartsPerThread = 2;

thread_local std::vector<float> t_rounded_a;
thread_local std::vector<uint16_t> t_half_a;

// Whether a product with this many output columns goes to gemm_columns (see gemm).
bool columns_path(const GemmIsa& isa, int64_t M, int64_t N) {
  const int64_t col_panels = (N + isa.nr - 1) / isa.nr, row_tiles = (M + isa.mr - 1) / isa.mr;
  return col_panels >= 2 * pool_threads() || col_panels >= row_tiles;
}

static void matmul_t_float(float* out, const float* a, const void* w, int wt, int64_t M, int64_t N, int64_t K) {
  const GemmIsa* isa = simd_isa();
  const int round_wt = wt == ggml::F16 || wt == ggml::BF16 ? wt : 0;
  if (isa && M > kSkinnyMaxM && columns_path(*isa, M, N)) {  // rounds A itself, on the packing threads
    const GemmPart part{out, BSource{w, wt, nullptr}, N};
    if (wt == ggml::BF16 && bf16_pairs_gemm(K))
      gemm_columns_bf16(a, &part, 1, M, K);
    else
      gemm_columns(*isa, a, &part, 1, M, K, round_wt);
    return;
  }
#if defined(TL_HAVE_X86_VARIANTS)
  if (isa && M > 1 && M <= kSkinnyMaxM && wt == ggml::BF16 && active_bf16_dot()) {
    // a's rows as bf16 once, then vdpbf16ps against the weight rows as stored (no f32 expansion)
    if (t_bf16_a.size() < (size_t)(M * K)) t_bf16_a.resize((size_t)(M * K));
    f32_to_bf16_array(t_bf16_a.data(), a, M * K);
    const uint16_t* a16 = t_bf16_a.data();
    parallel_for(N, grain_rows(M * K), [&](int64_t b, int64_t e, int) {
      avx512::skinny_t_bf16(out, N, a16, M, static_cast<const uint16_t*>(w), K, b, e);
    });
    return;
  }
#endif
  if (round_wt) {
    const size_t n = (size_t)(M * K);
    if (t_rounded_a.size() < n) t_rounded_a.resize(n);
    if (t_half_a.size() < n) t_half_a.resize(n);
    if (wt == ggml::F16) {
      f32_to_f16_array(t_half_a.data(), a, (int64_t)n);
      f16_to_f32_array(t_rounded_a.data(), t_half_a.data(), (int64_t)n);
    } else {
      f32_to_bf16_array(t_half_a.data(), a, (int64_t)n);
      bf16_to_f32_array(t_rounded_a.data(), t_half_a.data(), (int64_t)n);
    }
    a = t_rounded_a.data();
  }
  if (!isa) {
    parallel_for(N, grain_rows(M * K), [&](int64_t b, int64_t e, int) { ref::matmul_t(out, a, w, wt, M, N, K, b, e); });
  } else if (M == 1) {
    parallel_for(N, grain_rows(K), [&](int64_t b, int64_t e, int) { isa->gemv_t(out, a, w, wt, K, b, e); }, kFloatGemvPartsPerThread);
  } else if (M <= kSkinnyMaxM) {
    parallel_for(N, grain_rows(M * K), [&](int64_t b, int64_t e, int) {
      float* scratch = wt == ggml::F32 ? nullptr : PackBuffers::grow(t_pack.b, t_pack.b_cap, (size_t)(3 * K));
      isa->skinny_t(out, N, a, M, w, wt, K, b, e, scratch);
    });
  } else {
    gemm(*isa, out, a, BSource{w, wt, nullptr}, M, N, K);
  }
  // the rounded rows back before the next call writes them (threadpool.h: the workers read them)
  if (round_wt && M <= kSkinnyMaxM) reclaim_for_write(t_rounded_a.data(), (size_t)(M * K) * sizeof(float));
}

void matmul_t(float* out, const float* a, const void* w, int wtype, int64_t M, int64_t N, int64_t K) {
  if (M <= 0 || N <= 0) return;
  if (K == 0) {
    std::fill(out, out + M * N, 0.0f);
    return;
  }
  const WeightTypeInfo& t = *weight_type(wtype);
  if (is_float_type(t)) {
    matmul_t_float(out, a, w, wtype, M, N, K);
  } else {
    const Projection p{out, w, wtype, N};
    matmul_t_quant(a, M, K, &p, 1);
  }
}

void matmul_t_many(const float* a, int64_t M, int64_t K, const Projection* p, int count) {
  if (M <= 0) return;
  // Quantized projections share one quantized copy of a per activation type.
  Projection quant[16];
  int nq = 0;
  // Float projections of one weight type at GEMM sizes run as one job (gemm_columns: A rounded
  // and packed once, one wake-up and one join); the rest one by one.
  const GemmIsa* isa = simd_isa();
  GemmPart parts[16];
  int np = 0, part_type = -1;
  for (int i = 0; i < count; i++) {
    const bool is_float = is_float_type(*weight_type(p[i].type));
    if (K > 0 && is_float && isa && M > kSkinnyMaxM && np < 16 && p[i].N > 0 && columns_path(*isa, M, p[i].N) &&
        (np == 0 || p[i].type == part_type)) {
      parts[np++] = GemmPart{p[i].out, BSource{p[i].w, p[i].type, nullptr}, p[i].N};
      part_type = p[i].type;
    } else if (K == 0 || is_float || nq == 16) {
      matmul_t(p[i].out, a, p[i].w, p[i].type, M, p[i].N, K);
    } else {
      quant[nq++] = p[i];
    }
  }
  if (np && part_type == ggml::BF16 && bf16_pairs_gemm(K))
    gemm_columns_bf16(a, parts, np, M, K);
  else if (np)
    gemm_columns(*isa, a, parts, np, M, K, part_type == ggml::F16 || part_type == ggml::BF16 ? part_type : 0);
  if (nq) matmul_t_quant(a, M, K, quant, nq);
}

void matmul(float* out, const float* a, const float* b, int64_t M, int64_t K, int64_t N) {
  if (M <= 0 || N <= 0) return;
  if (K == 0) {
    std::fill(out, out + M * N, 0.0f);
    return;
  }
  const GemmIsa* isa = simd_isa();
  if (!isa) {
    parallel_for(N, grain_rows(M * K), [&](int64_t s, int64_t e, int) { ref::matmul(out, a, b, M, K, N, s, e); });
  } else if (M == 1) {
    parallel_for(N, grain_rows(K), [&](int64_t s, int64_t e, int) { isa->gemv(out, a, b, K, N, s, e); });
  } else {
    gemm(*isa, out, a, BSource{nullptr, 0, b}, M, N, K);
  }
}

}  // namespace tl
