// Fused causal scaled-dot-product attention on the GPU, flash-attention style: keys and values
// stream through shared memory in tiles of 32, each query row keeps a running max, sum and f32
// output accumulator (online softmax), so the T×S score matrix never exists.
//
// Work split. The H/Hkv query heads that share one KV head (grouped-query attention) and all T
// query positions form the rows r = t·G + (h mod G) of that KV head; a block of 8 warps takes 8
// consecutive rows (one per warp), so each staged K/V tile serves 8 rows — for decode (T = 1) those
// are the G heads of one group. Long KV caches are also split along S across blocks
// (flash-decoding) when there are too few blocks to fill the GPU; a second kernel merges the
// partial (max, sum, output) triples.
//
// Prefill against an f16 KV cache with D = 64 or 128 runs on tensor cores instead
// (attention_tc.cuh: 64×64 tiles, wmma); everything else uses the SIMT kernel below.
//
// Within a warp: lane j scores key j of the tile (dot product over D from shared memory; rows are
// padded to D+1 floats so the 32 lanes hit 32 banks), then every lane updates the D/32 output
// dimensions it owns with the 32 probabilities broadcast by shuffles.
#include <type_traits>

#include "cuda/common.cuh"
#include "cuda/rope.cuh"

namespace tl::cuda {
namespace {

constexpr int kWarps = 8;  // query rows per block
constexpr int kTile = 32;  // keys per staged tile (one per lane when scoring)
constexpr int kMinKeysPerSplit = 256;

struct Params {
  int T, S, H, Hkv, D, G;  // G = H / Hkv
  int pos_offset;
  bool causal;
  float scale;
  bool rope;
  double theta;
  int rope_layout, rope_dims;
  int keys_per_split;  // a multiple of kTile
};

__device__ __forceinline__ float kv_load(const float* p, int64_t i) { return __ldg(p + i); }
__device__ __forceinline__ float kv_load(const __half* p, int64_t i) { return __half2float(p[i]); }

// NPL: output dimensions per lane (D ≤ 32·NPL).
template <class KV, int NPL>
__global__ void __launch_bounds__(kWarps * 32)
    flash_attention_kernel(float* __restrict__ out, float* __restrict__ part_acc, float* __restrict__ part_ml,
                           const float* __restrict__ q, const KV* __restrict__ k, const KV* __restrict__ v, Params p) {
  extern __shared__ float smem[];
  const int D = p.D, ldk = D + 1;
  float* Ks = smem;               // [kTile][D + 1]
  float* Vs = Ks + kTile * ldk;   // [kTile][D]
  float* Qs = Vs + kTile * D;     // [kWarps][D]: each warp's scaled (and rotated) query
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int g = blockIdx.y;  // KV head
  const int rows = p.T * p.G;
  const int r = blockIdx.x * kWarps + warp;
  const bool active = r < rows;
  const int t = active ? r / p.G : 0;
  const int h = g * p.G + (active ? r % p.G : 0);

  // Keys of this split; with the causal mask, no row of the block sees past the last row's limit.
  const int split = blockIdx.z;
  const int s_begin = split * p.keys_per_split;
  int s_end = min(p.S, s_begin + p.keys_per_split);
  if (p.causal) {
    int r_last = min(rows - 1, (int)blockIdx.x * kWarps + kWarps - 1);
    s_end = min(s_end, p.pos_offset + r_last / p.G + 1);
  }
  const int my_end = !active ? s_begin : p.causal ? min(s_end, p.pos_offset + t + 1) : s_end;

  float* qrow = Qs + warp * D;
  if (active) {
    const float* src = q + ((int64_t)t * p.H + h) * D;
    for (int d = lane; d < D; d += 32) qrow[d] = src[d] * p.scale;  // rotation is linear: scale first
    __syncwarp();
    if (p.rope) {
      for (int j = lane; j < p.rope_dims / 2; j += 32) {
        int i0, i1;
        rope_pair(p.rope_layout, p.rope_dims, j, &i0, &i1);
        float s, c;
        rope_sincos(p.theta, p.rope_dims, j, (int64_t)p.pos_offset + t, &s, &c);
        float x0 = qrow[i0], x1 = qrow[i1];
        qrow[i0] = x0 * c - x1 * s;
        qrow[i1] = x0 * s + x1 * c;
      }
      __syncwarp();
    }
  }

  float m = -INFINITY, l = 0.f, acc[NPL];
#pragma unroll
  for (int i = 0; i < NPL; i++) acc[i] = 0.f;

  for (int s0 = s_begin; s0 < s_end; s0 += kTile) {
    __syncthreads();  // the previous tile is no longer read
    for (int idx = threadIdx.x; idx < kTile * D; idx += blockDim.x) {
      int j = idx / D, d = idx - j * D, s = s0 + j;
      float kv = 0.f, vv = 0.f;
      if (s < s_end) {
        int64_t off = ((int64_t)s * p.Hkv + g) * D + d;
        kv = kv_load(k, off);
        vv = kv_load(v, off);
      }
      Ks[j * ldk + d] = kv;
      Vs[j * D + d] = vv;
    }
    __syncthreads();
    if (s0 >= my_end) continue;  // this row sees none of the tile (warp-uniform)

    const int s = s0 + lane;
    float score = -INFINITY;
    if (s < my_end) {
      const float* kr = Ks + lane * ldk;
      float dot = 0.f;
      for (int d = 0; d < D; d++) dot += qrow[d] * kr[d];
      score = dot;
    }
    const float m_new = fmaxf(m, warp_max(score));  // finite: key s0 is visible
    const float alpha = expf(m - m_new);            // 0 on the first tile (m = -inf)
    const float prob = s < my_end ? expf(score - m_new) : 0.f;
    l = l * alpha + warp_sum(prob);
#pragma unroll
    for (int i = 0; i < NPL; i++) acc[i] *= alpha;
    const int visible = min(kTile, my_end - s0);
    for (int j = 0; j < visible; j++) {
      float pj = __shfl_sync(0xffffffffu, prob, j);
      const float* vr = Vs + j * D;
#pragma unroll
      for (int i = 0; i < NPL; i++) {
        int d = lane + 32 * i;
        if (d < D) acc[i] += pj * vr[d];
      }
    }
    m = m_new;
  }

  if (!active) return;
  const int64_t row_id = (int64_t)t * p.H + h;
  if (gridDim.z == 1) {
    const float inv = l > 0.f ? 1.f / l : 0.f;
    float* o = out + row_id * D;
#pragma unroll
    for (int i = 0; i < NPL; i++) {
      int d = lane + 32 * i;
      if (d < D) o[d] = acc[i] * inv;
    }
  } else {  // unnormalized partial result of this split; merge_splits_kernel finishes it
    const int64_t slot = (int64_t)split * p.T * p.H + row_id;
    float* pa = part_acc + slot * D;
#pragma unroll
    for (int i = 0; i < NPL; i++) {
      int d = lane + 32 * i;
      if (d < D) pa[d] = acc[i];
    }
    if (lane == 0) {
      part_ml[slot * 2] = m;
      part_ml[slot * 2 + 1] = l;
    }
  }
}

}  // namespace
}  // namespace tl::cuda

#include "cuda/attention_tc.cuh"  // tensor-core kernel for f16 KV prefill (uses Params)

namespace tl::cuda {
namespace {

// One block per output row (t, h): rescales each split's partial sums to the common max.
__global__ void merge_splits_kernel(float* __restrict__ out, const float* __restrict__ part_acc,
                                    const float* __restrict__ part_ml, int splits, int64_t rows, int D) {
  const int64_t row = blockIdx.x;
  float mx = -INFINITY;
  for (int s = 0; s < splits; s++) mx = fmaxf(mx, part_ml[(s * rows + row) * 2]);
  float total = 0.f;
  for (int s = 0; s < splits; s++) {
    float ms = part_ml[(s * rows + row) * 2];
    if (ms > -INFINITY) total += part_ml[(s * rows + row) * 2 + 1] * expf(ms - mx);
  }
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float o = 0.f;
    for (int s = 0; s < splits; s++) {
      float ms = part_ml[(s * rows + row) * 2];
      if (ms > -INFINITY) o += part_acc[(s * rows + row) * D + d] * expf(ms - mx);
    }
    out[row * D + d] = total > 0.f ? o / total : 0.f;
  }
}

// Splits S across blocks when the grid alone (row blocks × KV heads) would leave most
// multiprocessors idle (decode, short prompts). Sets p.keys_per_split; returns the grid.
dim3 plan_grid(Params& p, int rows_per_block) {
  if ((int64_t)p.T * p.G > 0x7fffffff || p.Hkv > 65535) throw Error("attention: T·H too large for one launch");
  const int row_blocks = (p.T * p.G + rows_per_block - 1) / rows_per_block;
  const int64_t blocks = (int64_t)row_blocks * p.Hkv;
  int splits = 1;
  const int64_t want = 2LL * multiprocessor_count();
  if (blocks < want && p.S >= 2 * kMinKeysPerSplit) {
    int64_t by_blocks = (want + blocks - 1) / blocks;
    int64_t by_keys = p.S / kMinKeysPerSplit;
    splits = (int)(by_blocks < by_keys ? by_blocks : by_keys);
  }
  const int per = (p.S + splits - 1) / splits;
  p.keys_per_split = (per + 63) / 64 * 64;  // whole tiles for both kernels
  splits = (p.S + p.keys_per_split - 1) / p.keys_per_split;
  return dim3((unsigned)row_blocks, (unsigned)p.Hkv, (unsigned)splits);
}

// Runs launch(part_acc, part_ml) — the attention kernel — then merges split partials if any.
template <class Launch>
void with_splits(float* out, const Params& p, dim3 grid, Launch launch) {
  float* part_acc = nullptr;
  float* part_ml = nullptr;
  if (grid.z > 1) {
    size_t slots = (size_t)grid.z * p.T * p.H;
    part_acc = static_cast<float*>(scratch(slots * (p.D + 2) * sizeof(float)));
    part_ml = part_acc + slots * p.D;
  }
  launch(part_acc, part_ml);
  if (grid.z > 1) {
    merge_splits_kernel<<<(unsigned)((int64_t)p.T * p.H), 128>>>(out, part_acc, part_ml, (int)grid.z,
                                                                  (int64_t)p.T * p.H, p.D);
    TL_CUDA_LAUNCHED("merge_splits_kernel");
  }
}

template <class KV, int NPL>
void launch_simt(float* out, const float* q, const KV* k, const KV* v, Params p) {
  const dim3 grid = plan_grid(p, kWarps);
  const size_t smem = (size_t)(kTile * (p.D + 1) + kTile * p.D + kWarps * p.D) * sizeof(float);
  auto kernel = flash_attention_kernel<KV, NPL>;
  if (smem > 48 * 1024) TL_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  with_splits(out, p, grid, [&](float* part_acc, float* part_ml) {
    kernel<<<grid, kWarps * 32, smem>>>(out, part_acc, part_ml, q, k, v, p);
    TL_CUDA_LAUNCHED("flash_attention_kernel");
  });
}

template <int D>
void launch_tc(float* out, const float* q, const __half* k, const __half* v, Params p) {
  const dim3 grid = plan_grid(p, tc::kRows);
  const size_t smem = tc::Smem(D).total;
  auto kernel = tc::flash_attention_tc_kernel<D>;
  TL_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  with_splits(out, p, grid, [&](float* part_acc, float* part_ml) {
    kernel<<<grid, tc::kWarps * 32, smem>>>(out, part_acc, part_ml, q, k, v, p);
    TL_CUDA_LAUNCHED("flash_attention_tc_kernel");
  });
}

bool g_tensor_core_attention = true;

template <class KV>
void run_attention(float* out, const float* q, KV* k, const KV* v, const Params& p) {
  if (p.rope) {  // rotate the T new keys in place, then attend
    launch_rope<KV>(k + (int64_t)p.pos_offset * p.Hkv * p.D, p.T, p.Hkv, p.D, p.pos_offset, p.theta,
                    (RopeLayout)p.rope_layout, p.rope_dims);
  }
  // Prefill with an f16 cache: tensor cores, when at least half a 64-row tile is filled.
  // (D = 128 needs ~113 KB of shared memory: sm_80/90 have it, sm_86/89 take the SIMT kernel.)
  if constexpr (std::is_same<KV, __half>::value) {
    if (g_tensor_core_attention && (int64_t)p.T * p.G >= 32 && (p.D == 64 || p.D == 128) &&
        tc::Smem(p.D).total <= (size_t)max_shared_memory_per_block()) {
      if (p.D == 64) return launch_tc<64>(out, q, k, v, p);
      return launch_tc<128>(out, q, k, v, p);
    }
  }
  if (p.D <= 64) launch_simt<KV, 2>(out, q, k, v, p);
  else if (p.D <= 128) launch_simt<KV, 4>(out, q, k, v, p);
  else launch_simt<KV, 8>(out, q, k, v, p);
}

}  // namespace

void attention(float* out, const float* q, void* k, const void* v, const AttentionArgs& a) {
  require_device();
  if (a.D < 1 || a.D > kMaxHeadDim) throw Error("attention: head dim D must be in [1, 256]");
  if (a.Hkv < 1 || a.H % a.Hkv) throw Error("attention: H must be a multiple of Hkv");
  if (a.pos_offset < 0 || ((a.causal || a.rope) && (int64_t)a.pos_offset + a.T > a.S))
    throw Error("attention: causal or rope attention needs pos_offset + T <= S");
  if (a.rope && (a.rope_dims < 0 || a.rope_dims > a.D || a.rope_dims % 2))
    throw Error("attention: rope dims must be even and at most D");
  if (a.T == 0 || a.H == 0) return;
  Params p;
  p.T = a.T;
  p.S = a.S;
  p.H = a.H;
  p.Hkv = a.Hkv;
  p.D = a.D;
  p.G = a.H / a.Hkv;
  p.pos_offset = a.pos_offset;
  p.causal = a.causal;
  p.scale = a.scale;
  p.rope = a.rope;
  p.theta = a.rope_theta;
  p.rope_layout = (int)a.rope_layout;
  p.rope_dims = a.rope_dims > 0 ? a.rope_dims : a.D;
  p.keys_per_split = 0;
  if (a.kv_f16) run_attention(out, q, static_cast<__half*>(k), static_cast<const __half*>(v), p);
  else run_attention(out, q, static_cast<float*>(k), static_cast<const float*>(v), p);
}

bool use_tensor_core_attention(bool enabled) {
  g_tensor_core_attention = enabled;
  return enabled;
}

void rope(float* x, int64_t T, int heads, int D, int64_t pos_offset, double theta, RopeLayout layout, int dims) {
  require_device();
  if (dims == 0) dims = D;
  if (dims < 0 || dims > D || dims % 2) throw Error("rope: dims must be even and at most D");
  launch_rope<float>(x, T, heads, D, pos_offset, theta, layout, dims);
}

}  // namespace tl::cuda
