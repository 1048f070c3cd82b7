// Rotary position embedding helpers shared by the attention kernel and the standalone rope op.
// Pair j of a head (j < dims/2) is (2j, 2j+1) in the interleaved layout (llama2.c, GGUF) and
// (j, j + dims/2) in the half layout (Hugging Face), rotated by pos · theta^(-2j/dims).
// The angle is computed in double: at positions in the tens of thousands an f32 angle would be off
// by ~1e-3 rad, more than the CPU kernels' error.
#pragma once
#include "cuda/common.cuh"

namespace tl::cuda {

__device__ __forceinline__ void rope_pair(int layout, int dims, int j, int* i0, int* i1) {
  if (layout == (int)RopeLayout::interleaved) {
    *i0 = 2 * j;
    *i1 = 2 * j + 1;
  } else {
    *i0 = j;
    *i1 = j + dims / 2;
  }
}

__device__ __forceinline__ void rope_sincos(double theta, int dims, int j, int64_t pos, float* s, float* c) {
  double inv_freq = pow(theta, -2.0 * j / dims);
  double sn, cs;
  sincos((double)pos * inv_freq, &sn, &cs);
  *s = (float)sn;
  *c = (float)cs;
}

__device__ __forceinline__ float to_f32(float x) { return x; }
__device__ __forceinline__ float to_f32(__half x) { return __half2float(x); }
__device__ __forceinline__ void store_f32(float* p, float x) { *p = x; }
__device__ __forceinline__ void store_f32(__half* p, float x) { *p = __float2half_rn(x); }

// In place on rows x[t, head, :] (rows of length D), row t at position pos_offset + t.
template <class T>
__global__ void rope_kernel(T* x, int64_t rows, int heads, int D, int64_t pos_offset, double theta, int layout,
                            int dims) {
  const int half = dims / 2;
  const int64_t total = rows * heads * half;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    int j = (int)(i % half);
    int64_t row_head = i / half;
    int64_t t = row_head / heads;
    T* v = x + row_head * D;
    int i0, i1;
    rope_pair(layout, dims, j, &i0, &i1);
    float s, c;
    rope_sincos(theta, dims, j, pos_offset + t, &s, &c);
    float x0 = to_f32(v[i0]), x1 = to_f32(v[i1]);
    store_f32(v + i0, x0 * c - x1 * s);
    store_f32(v + i1, x0 * s + x1 * c);
  }
}

template <class T>
void launch_rope(T* x, int64_t rows, int heads, int D, int64_t pos_offset, double theta, RopeLayout layout, int dims) {
  int64_t total = rows * heads * (dims / 2);
  if (total == 0) return;
  rope_kernel<T><<<grid_for(total, 256), 256>>>(x, rows, heads, D, pos_offset, theta, (int)layout, dims);
  TL_CUDA_LAUNCHED("rope_kernel");
}

}  // namespace tl::cuda
