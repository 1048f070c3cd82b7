// Tensor-core flash attention for prefill with an f16 KV cache (included by attention.cu, which
// owns Params, the split planning and the merge of split partials).
//
// A block of 4 warps takes 64 query rows (rows r = t·G + (h mod G) of one KV head, as in the SIMT
// kernel) and streams the keys in tiles of 64:
//   1. S = Q·Kᵀ with wmma 16×16×16 (f16 in, f32 out): warp w computes score rows 16w..16w+15;
//   2. online softmax on those rows in f32 (running max m, sum l, causal mask), P rounded to f16;
//   3. O = O·α + P·V with wmma, O kept in shared memory as f32 (so each row can be rescaled).
// Q is scaled and rotated (RoPE) in f32 while staged, then rounded to f16 like K and V; every
// product accumulates in f32. A warp only touches its own 16 rows of S, P and O, so only the
// staging of Q/K/V needs block-wide barriers.
#pragma once
#include <mma.h>

namespace tl::cuda {
namespace tc {

namespace wmma = nvcuda::wmma;
constexpr int kRows = 64;   // query rows per block
constexpr int kKeys = 64;   // keys per tile
constexpr int kWarps = 4;
constexpr int kLdS = kKeys + 4;  // f32 score row
constexpr int kLdP = kKeys + 8;  // f16 probability row

__host__ __device__ constexpr size_t round128(size_t bytes) { return (bytes + 127) / 128 * 128; }

// Shared memory layout for head dim D (each region 128-byte aligned, as wmma needs 32).
struct Smem {
  size_t q, k, v, s, p, o, stats, total;
  __host__ __device__ explicit Smem(int D) {
    const size_t ld = D + 8;
    q = 0;
    k = q + round128(kRows * ld * 2);
    v = k + round128(kKeys * ld * 2);
    s = v + round128(kKeys * ld * 2);
    p = s + round128(kRows * kLdS * 4);
    o = p + round128(kRows * kLdP * 2);
    stats = o + round128(kRows * (D + 4) * 4);
    total = stats + round128(3 * kRows * 4);
  }
};

// Value of element d of a query row after RoPE (pairs as in rope.cuh), computed per element.
__device__ __forceinline__ float rope_element(const float* x, int d, const Params& p, int64_t pos) {
  if (!p.rope || d >= p.rope_dims) return x[d];
  const int half = p.rope_dims / 2;
  int j, partner;
  bool first;
  if (p.rope_layout == (int)RopeLayout::interleaved) {
    j = d / 2;
    first = (d & 1) == 0;
    partner = first ? d + 1 : d - 1;
  } else {
    first = d < half;
    j = first ? d : d - half;
    partner = first ? d + half : d - half;
  }
  float s, c;
  rope_sincos(p.theta, p.rope_dims, j, pos, &s, &c);
  const float x0 = first ? x[d] : x[partner], x1 = first ? x[partner] : x[d];
  return first ? x0 * c - x1 * s : x0 * s + x1 * c;
}

template <int D>
__global__ void __launch_bounds__(kWarps * 32)
    flash_attention_tc_kernel(float* __restrict__ out, float* __restrict__ part_acc, float* __restrict__ part_ml,
                              const float* __restrict__ q, const __half* __restrict__ k,
                              const __half* __restrict__ v, Params p) {
  static_assert(D % 16 == 0, "head dim must be a multiple of 16");
  constexpr int ld = D + 8, ldO = D + 4;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  const Smem L(D);
  __half* Qs = reinterpret_cast<__half*>(smem_raw + L.q);  // [kRows][ld]
  __half* Ks = reinterpret_cast<__half*>(smem_raw + L.k);  // [kKeys][ld]
  __half* Vs = reinterpret_cast<__half*>(smem_raw + L.v);  // [kKeys][ld]
  float* Ss = reinterpret_cast<float*>(smem_raw + L.s);    // [kRows][kLdS]
  __half* Ps = reinterpret_cast<__half*>(smem_raw + L.p);  // [kRows][kLdP]
  float* Os = reinterpret_cast<float*>(smem_raw + L.o);    // [kRows][ldO]
  float* row_m = reinterpret_cast<float*>(smem_raw + L.stats);
  float* row_l = row_m + kRows;
  float* row_alpha = row_l + kRows;

  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int g = blockIdx.y;
  const int rows = p.T * p.G;
  const int r0 = blockIdx.x * kRows;
  const int split = blockIdx.z;
  const int s_begin = split * p.keys_per_split;
  int s_end = min(p.S, s_begin + p.keys_per_split);
  if (p.causal) s_end = min(s_end, p.pos_offset + (min(rows, r0 + kRows) - 1) / p.G + 1);

  // Stage Q (scaled, rotated, rounded to f16); zero rows past the end. Clear O and the stats.
  for (int idx = threadIdx.x; idx < kRows * D; idx += blockDim.x) {
    const int i = idx / D, d = idx - i * D, r = r0 + i;
    float x = 0.f;
    if (r < rows) {
      const int t = r / p.G, h = g * p.G + r % p.G;
      x = rope_element(q + ((int64_t)t * p.H + h) * D, d, p, (int64_t)p.pos_offset + t) * p.scale;
    }
    Qs[i * ld + d] = __float2half_rn(x);
    Os[i * ldO + d] = 0.f;
  }
  for (int i = threadIdx.x; i < kRows; i += blockDim.x) {
    row_m[i] = -INFINITY;
    row_l[i] = 0.f;
  }

  const int w0 = warp * 16;  // this warp's first row in the block
  for (int s0 = s_begin; s0 < s_end; s0 += kKeys) {
    __syncthreads();  // Q staged / previous K and V no longer read
    for (int idx = threadIdx.x; idx < kKeys * D; idx += blockDim.x) {
      const int j = idx / D, d = idx - j * D, s = s0 + j;
      __half kv = __float2half_rn(0.f), vv = kv;
      if (s < s_end) {
        const int64_t off = ((int64_t)s * p.Hkv + g) * D + d;
        kv = k[off];
        vv = v[off];
      }
      Ks[j * ld + d] = kv;
      Vs[j * ld + d] = vv;
    }
    __syncthreads();

    // 1. scores of this warp's 16 rows against the 64 keys
    for (int cb = 0; cb < kKeys / 16; cb++) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::fill_fragment(acc, 0.f);
#pragma unroll
      for (int kk = 0; kk < D; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fq;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> fk;  // Kᵀ
        wmma::load_matrix_sync(fq, Qs + w0 * ld + kk, ld);
        wmma::load_matrix_sync(fk, Ks + cb * 16 * ld + kk, ld);
        wmma::mma_sync(acc, fq, fk, acc);
      }
      wmma::store_matrix_sync(Ss + w0 * kLdS + cb * 16, acc, kLdS, wmma::mem_row_major);
    }
    __syncwarp();

    // 2. online softmax, one row at a time across the warp (two keys per lane)
    for (int i = w0; i < w0 + 16; i++) {
      const int r = r0 + i;
      const int limit = r >= rows ? s0 : p.causal ? min(s_end, p.pos_offset + r / p.G + 1) : s_end;
      const int c0 = lane, c1 = lane + 32;
      const bool ok0 = s0 + c0 < limit, ok1 = s0 + c1 < limit;
      const float x0 = ok0 ? Ss[i * kLdS + c0] : -INFINITY, x1 = ok1 ? Ss[i * kLdS + c1] : -INFINITY;
      const float m_old = row_m[i];
      const float m_new = fmaxf(m_old, warp_max(fmaxf(x0, x1)));
      float p0 = 0.f, p1 = 0.f, alpha = 1.f;
      if (m_new > -INFINITY) {  // else: nothing visible to this row yet
        p0 = ok0 ? expf(x0 - m_new) : 0.f;
        p1 = ok1 ? expf(x1 - m_new) : 0.f;
        alpha = expf(m_old - m_new);  // 0 while m_old = -inf
      }
      const float sum = warp_sum(p0 + p1);
      Ps[i * kLdP + c0] = __float2half_rn(p0);
      Ps[i * kLdP + c1] = __float2half_rn(p1);
      if (lane == 0) {
        row_m[i] = m_new;
        row_l[i] = row_l[i] * alpha + sum;
        row_alpha[i] = alpha;
      }
    }
    __syncwarp();

    // 3. O = O·α + P·V on this warp's rows
    for (int i = w0; i < w0 + 16; i++) {
      const float a = row_alpha[i];
      for (int d = lane; d < D; d += 32) Os[i * ldO + d] *= a;
    }
    __syncwarp();
    for (int cb = 0; cb < D / 16; cb++) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::load_matrix_sync(acc, Os + w0 * ldO + cb * 16, ldO, wmma::mem_row_major);
#pragma unroll
      for (int kk = 0; kk < kKeys; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fp;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fv;
        wmma::load_matrix_sync(fp, Ps + w0 * kLdP + kk, kLdP);
        wmma::load_matrix_sync(fv, Vs + kk * ld + cb * 16, ld);
        wmma::mma_sync(acc, fp, fv, acc);
      }
      wmma::store_matrix_sync(Os + w0 * ldO + cb * 16, acc, ldO, wmma::mem_row_major);
    }
    __syncwarp();
  }
  __syncthreads();  // the stats and O written above are read by other threads below

  // Write this block's rows: normalized, or as a split partial for merge_splits_kernel.
  for (int idx = threadIdx.x; idx < kRows * D; idx += blockDim.x) {
    const int i = idx / D, d = idx - i * D, r = r0 + i;
    if (r >= rows) continue;
    const int t = r / p.G, h = g * p.G + r % p.G;
    const int64_t row_id = (int64_t)t * p.H + h;
    if (gridDim.z == 1) {
      const float l = row_l[i];
      out[row_id * D + d] = l > 0.f ? Os[i * ldO + d] / l : 0.f;
    } else {
      const int64_t slot = (int64_t)split * p.T * p.H + row_id;
      part_acc[slot * D + d] = Os[i * ldO + d];
      if (d == 0) {
        part_ml[slot * 2] = row_m[i];
        part_ml[slot * 2 + 1] = row_l[i];
      }
    }
  }
}

}  // namespace tc
}  // namespace tl::cuda
