// Row ops (RMSNorm, LayerNorm, softmax: one block per row), elementwise activations, embedding
// gather and argmax on the GPU. All f32, f32 accumulation; each thread reads and writes the same
// indices, so out may alias the input as the backend contract allows.
#include "cuda/common.cuh"

namespace tl::cuda {
namespace {

constexpr int kRowThreads = 256;

// Grid-stride over rows so any row count fits in one launch; every thread of a block runs the
// same iterations, as the block reductions require.
__global__ void rmsnorm_kernel(float* out, const float* x, const float* __restrict__ w, int64_t rows, int64_t dim,
                               float eps) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* xr = x + r * dim;
    float* o = out + r * dim;
    float ss = 0.f;
    for (int64_t c = threadIdx.x; c < dim; c += blockDim.x) ss += xr[c] * xr[c];
    const float inv = 1.f / sqrtf(block_sum(ss) / (float)dim + eps);
    for (int64_t c = threadIdx.x; c < dim; c += blockDim.x) o[c] = xr[c] * inv * w[c];
  }
}

__global__ void layernorm_kernel(float* out, const float* x, const float* __restrict__ w,
                                 const float* __restrict__ b, int64_t rows, int64_t dim, float eps) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* xr = x + r * dim;
    float* o = out + r * dim;
    float s = 0.f;
    for (int64_t c = threadIdx.x; c < dim; c += blockDim.x) s += xr[c];
    const float mean = block_sum(s) / (float)dim;
    float sq = 0.f;  // two passes: no cancellation from E[x²] − mean²
    for (int64_t c = threadIdx.x; c < dim; c += blockDim.x) sq += (xr[c] - mean) * (xr[c] - mean);
    const float inv = 1.f / sqrtf(block_sum(sq) / (float)dim + eps);
    for (int64_t c = threadIdx.x; c < dim; c += blockDim.x) o[c] = (xr[c] - mean) * inv * w[c] + (b ? b[c] : 0.f);
  }
}

__global__ void softmax_kernel(float* out, const float* x, int64_t rows, int64_t cols, float inv_temperature) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* xr = x + r * cols;
    float* o = out + r * cols;
    float mx = -INFINITY;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) mx = fmaxf(mx, xr[c] * inv_temperature);
    mx = block_max(mx);
    float s = 0.f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) s += expf(xr[c] * inv_temperature - mx);
    const float inv = 1.f / block_sum(s);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) o[c] = expf(xr[c] * inv_temperature - mx) * inv;
  }
}

enum class Act { gelu_tanh, gelu_erf, silu };

template <Act A>
__device__ __forceinline__ float activate(float x) {
  if (A == Act::gelu_tanh) return 0.5f * x * (1.f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
  if (A == Act::gelu_erf) return 0.5f * x * (1.f + erff(x * 0.7071067811865476f));
  return x / (1.f + expf(-x));
}

template <Act A>
__global__ void activation_kernel(float* out, const float* x, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = activate<A>(x[i]);
}

__global__ void swiglu_kernel(float* out, const float* gate, const float* up, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = activate<Act::silu>(gate[i]) * up[i];
}

template <bool Mul>
__global__ void binary_kernel(float* out, const float* a, const float* b, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = Mul ? a[i] * b[i] : a[i] + b[i];
}

// One block per id (grid-stride); an id outside [0, rows) yields a row of NaN rather than a fault.
template <class W>
__global__ void embedding_kernel(float* out, W table, const int32_t* __restrict__ ids, int64_t n, int64_t rows,
                                 int64_t cols) {
  for (int64_t i = blockIdx.x; i < n; i += gridDim.x) {
    const int64_t row = ids[i];
    float* o = out + i * cols;
    const bool ok = row >= 0 && row < rows;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) o[c] = ok ? table.at(row, c, cols) : NAN;
  }
}

// One block of 1024 threads: per-thread first maximum, then a tree reduction keeping the
// smaller index on ties. NaN is skipped; index -1 means every element was NaN.
__global__ void __launch_bounds__(1024) argmax_kernel(const float* __restrict__ x, int64_t n, int64_t* result) {
  __shared__ float best_v[1024];
  __shared__ int64_t best_i[1024];
  float bv = -INFINITY;
  int64_t bi = -1;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    float v = x[i];
    if (bi < 0 ? !isnan(v) : v > bv) {
      bv = v;
      bi = i;
    }
  }
  best_v[threadIdx.x] = bv;
  best_i[threadIdx.x] = bi;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
    if ((int)threadIdx.x < stride) {
      float ov = best_v[threadIdx.x + stride];
      int64_t oi = best_i[threadIdx.x + stride];
      int64_t mi = best_i[threadIdx.x];
      bool take = oi >= 0 && (mi < 0 || ov > best_v[threadIdx.x] || (ov == best_v[threadIdx.x] && oi < mi));
      if (take) {
        best_v[threadIdx.x] = ov;
        best_i[threadIdx.x] = oi;
      }
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) *result = best_i[0];
}

__global__ void cast_f16_kernel(__half* __restrict__ dst, const float* __restrict__ src, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    dst[i] = __float2half_rn(src[i]);
}
__global__ void cast_bf16_kernel(__nv_bfloat16* __restrict__ dst, const float* __restrict__ src, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    dst[i] = __float2bfloat16_rn(src[i]);
}

unsigned row_grid(int64_t rows) { return grid_for(rows, 1); }

template <Act A>
void launch_activation(float* out, const float* x, int64_t n) {
  if (n == 0) return;
  activation_kernel<A><<<grid_for(n, 256), 256>>>(out, x, n);
  TL_CUDA_LAUNCHED("activation_kernel");
}

template <class W>
void launch_embedding(float* out, W table, const int32_t* ids, int64_t n, int64_t rows, int64_t cols) {
  embedding_kernel<W><<<grid_for(n, 1), 256>>>(out, table, ids, n, rows, cols);
  TL_CUDA_LAUNCHED("embedding_kernel");
}

}  // namespace

void rmsnorm(float* out, const float* x, const float* weight, int64_t rows, int64_t dim, float eps) {
  require_device();
  if (rows == 0 || dim == 0) return;
  rmsnorm_kernel<<<row_grid(rows), kRowThreads>>>(out, x, weight, rows, dim, eps);
  TL_CUDA_LAUNCHED("rmsnorm_kernel");
}

void layernorm(float* out, const float* x, const float* weight, const float* bias, int64_t rows, int64_t dim,
               float eps) {
  require_device();
  if (rows == 0 || dim == 0) return;
  layernorm_kernel<<<row_grid(rows), kRowThreads>>>(out, x, weight, bias, rows, dim, eps);
  TL_CUDA_LAUNCHED("layernorm_kernel");
}

void softmax(float* out, const float* x, int64_t rows, int64_t cols, float temperature) {
  require_device();
  if (!(temperature > 0.f)) throw Error("softmax: temperature must be > 0");
  if (rows == 0 || cols == 0) return;
  softmax_kernel<<<row_grid(rows), kRowThreads>>>(out, x, rows, cols, 1.f / temperature);
  TL_CUDA_LAUNCHED("softmax_kernel");
}

void gelu(float* out, const float* x, int64_t n, bool tanh_approximation) {
  require_device();
  tanh_approximation ? launch_activation<Act::gelu_tanh>(out, x, n) : launch_activation<Act::gelu_erf>(out, x, n);
}

void silu(float* out, const float* x, int64_t n) {
  require_device();
  launch_activation<Act::silu>(out, x, n);
}

void swiglu(float* out, const float* gate, const float* up, int64_t n) {
  require_device();
  if (n == 0) return;
  swiglu_kernel<<<grid_for(n, 256), 256>>>(out, gate, up, n);
  TL_CUDA_LAUNCHED("swiglu_kernel");
}

void add(float* out, const float* a, const float* b, int64_t n) {
  require_device();
  if (n == 0) return;
  binary_kernel<false><<<grid_for(n, 256), 256>>>(out, a, b, n);
  TL_CUDA_LAUNCHED("binary_kernel");
}

void mul(float* out, const float* a, const float* b, int64_t n) {
  require_device();
  if (n == 0) return;
  binary_kernel<true><<<grid_for(n, 256), 256>>>(out, a, b, n);
  TL_CUDA_LAUNCHED("binary_kernel");
}

void embedding(float* out, const void* table, WType wt, int64_t rows, int64_t cols, const int32_t* ids, int64_t n) {
  require_device();
  if (n == 0 || cols == 0) return;
  switch (wt) {
    case WType::f32: launch_embedding(out, LoadF32{static_cast<const float*>(table)}, ids, n, rows, cols); break;
    case WType::f16: launch_embedding(out, LoadF16{static_cast<const __half*>(table)}, ids, n, rows, cols); break;
    case WType::bf16:
      launch_embedding(out, LoadBF16{static_cast<const __nv_bfloat16*>(table)}, ids, n, rows, cols);
      break;
    case WType::q8_0:
      if (cols % 32) throw Error("embedding: q8_0 tables need cols to be a multiple of 32");
      launch_embedding(out, LoadQ8{static_cast<const uint8_t*>(table)}, ids, n, rows, cols);
      break;
    default: throw Error("embedding: unknown table type " + std::to_string((int)wt));
  }
}

void cast_f32(void* dst, WType dst_type, const float* src, int64_t n) {
  require_device();
  if (n == 0) return;
  switch (dst_type) {
    case WType::f32: copy(dst, src, (size_t)n * sizeof(float)); break;
    case WType::f16:
      cast_f16_kernel<<<grid_for(n, 256), 256>>>(static_cast<__half*>(dst), src, n);
      TL_CUDA_LAUNCHED("cast_f16_kernel");
      break;
    case WType::bf16:
      cast_bf16_kernel<<<grid_for(n, 256), 256>>>(static_cast<__nv_bfloat16*>(dst), src, n);
      TL_CUDA_LAUNCHED("cast_bf16_kernel");
      break;
    default: throw Error("cast_f32: target must be f32, f16 or bf16");
  }
}

int64_t argmax(const float* x, int64_t n) {
  require_device();
  if (n <= 0) throw Error("argmax: empty input");
  int64_t* result = static_cast<int64_t*>(scratch(sizeof(int64_t)));
  argmax_kernel<<<1, 1024>>>(x, n, result);
  TL_CUDA_LAUNCHED("argmax_kernel");
  int64_t host = -1;
  download(&host, result, sizeof host);
  return host < 0 ? 0 : host;
}

}  // namespace tl::cuda
