// Shared device-side helpers of the CUDA kernels: error checks, reductions and weight loaders.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/api.h"

namespace tl::cuda {

// Throws Error("CUDA error in <what>: <runtime message> (<file>:<line>)").
[[noreturn]] void fail(cudaError_t err, const char* what, const char* file, int line);

#define TL_CUDA_CHECK(expr)                                                    \
  do {                                                                         \
    cudaError_t tl_err_ = (expr);                                              \
    if (tl_err_ != cudaSuccess) ::tl::cuda::fail(tl_err_, #expr, __FILE__, __LINE__); \
  } while (0)

// After a <<<...>>> launch: reports bad launch configurations right away (faults inside the
// kernel surface at the next synchronizing call: download, argmax, synchronize).
#define TL_CUDA_LAUNCHED(kernel)                                                          \
  do {                                                                                     \
    cudaError_t tl_err_ = cudaGetLastError();                                              \
    if (tl_err_ != cudaSuccess) ::tl::cuda::fail(tl_err_, "launching " kernel, __FILE__, __LINE__); \
  } while (0)

// A device scratch buffer owned by the backend, grown on demand (single stream: one user at a time).
void* scratch(size_t bytes);
int multiprocessor_count();
// Largest dynamic shared memory a block may opt in to (e.g. 227 KB on H100, 99 KB on sm_86/89).
int max_shared_memory_per_block();

inline unsigned grid_for(int64_t n, int per_block, int64_t max_blocks = 65535) {
  int64_t b = (n + per_block - 1) / per_block;
  if (b < 1) b = 1;
  return (unsigned)(b < max_blocks ? b : max_blocks);
}

// ── warp and block reductions ───────────────────────────────────────────────────────────────
__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
// Sum over the whole block (blockDim.x a multiple of 32, at most 1024); every thread gets it.
__device__ __forceinline__ float block_sum(float v) {
  __shared__ float part[32];
  __shared__ float total;
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // part[] may still be read by a previous call
  if (lane == 0) part[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float s = lane < (int)(blockDim.x >> 5) ? part[lane] : 0.f;
    s = warp_sum(s);
    if (lane == 0) total = s;
  }
  __syncthreads();
  return total;
}
__device__ __forceinline__ float block_max(float v) {
  __shared__ float part[32];
  __shared__ float total;
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) part[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float s = lane < (int)(blockDim.x >> 5) ? part[lane] : -INFINITY;
    s = warp_max(s);
    if (lane == 0) total = s;
  }
  __syncthreads();
  return total;
}

// ── weight loaders: element (row, col) of a row-major [rows, K] matrix, as f32 ─────────────
// One struct per storage type so the kernels are written once as templates.
struct LoadF32 {
  const float* p;
  __device__ __forceinline__ float at(int64_t row, int64_t col, int64_t K) const { return p[row * K + col]; }
  // 8 consecutive columns starting at col (col % 8 == 0 and K % 8 == 0, so 16-byte aligned).
  __device__ __forceinline__ void at8(int64_t row, int64_t col, int64_t K, float* v) const {
    const float4* q = reinterpret_cast<const float4*>(p + row * K + col);
    float4 a = __ldg(q), b = __ldg(q + 1);
    v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w; v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
  }
};
struct LoadF16 {
  const __half* p;
  __device__ __forceinline__ float at(int64_t row, int64_t col, int64_t K) const { return __half2float(p[row * K + col]); }
  __device__ __forceinline__ void at8(int64_t row, int64_t col, int64_t K, float* v) const {
    uint4 raw = __ldg(reinterpret_cast<const uint4*>(p + row * K + col));
    const __half2* h = reinterpret_cast<const __half2*>(&raw);
    for (int i = 0; i < 4; i++) {
      float2 f = __half22float2(h[i]);
      v[2 * i] = f.x; v[2 * i + 1] = f.y;
    }
  }
};
struct LoadBF16 {
  const __nv_bfloat16* p;
  __device__ __forceinline__ float at(int64_t row, int64_t col, int64_t K) const { return __bfloat162float(p[row * K + col]); }
  __device__ __forceinline__ void at8(int64_t row, int64_t col, int64_t K, float* v) const {
    uint4 raw = __ldg(reinterpret_cast<const uint4*>(p + row * K + col));
    const uint32_t w[4] = {raw.x, raw.y, raw.z, raw.w};
    for (int i = 0; i < 4; i++) {  // bf16 → f32 is a 16-bit shift
      v[2 * i] = __uint_as_float(w[i] << 16);
      v[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
    }
  }
};
// GGUF Q8_0: per row K/32 blocks of 34 bytes = f16 scale + 32 int8; value = scale * q.
struct LoadQ8 {
  const uint8_t* p;
  __device__ __forceinline__ const uint8_t* block(int64_t row, int64_t col, int64_t K) const {
    return p + (row * (K / 32) + col / 32) * 34;
  }
  __device__ __forceinline__ float at(int64_t row, int64_t col, int64_t K) const {
    const uint8_t* b = block(row, col, K);
    float d = __half2float(*reinterpret_cast<const __half*>(b));  // blocks start 2-byte aligned
    return d * (float)(int8_t)b[2 + (col & 31)];
  }
  __device__ __forceinline__ void at8(int64_t row, int64_t col, int64_t K, float* v) const {
    const uint8_t* b = block(row, col, K);
    float d = __half2float(*reinterpret_cast<const __half*>(b));
    const uint16_t* q = reinterpret_cast<const uint16_t*>(b + 2 + (col & 31));  // 2-byte aligned
    for (int i = 0; i < 4; i++) {
      uint16_t two = __ldg(q + i);
      v[2 * i] = d * (float)(int8_t)(two & 0xff);
      v[2 * i + 1] = d * (float)(int8_t)(two >> 8);
    }
  }
};

}  // namespace tl::cuda
