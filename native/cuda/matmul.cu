// Matmul on the GPU: out[M, N] = a[M, K] · wᵀ with weights row-major [N, K] (f32, f16, bf16, Q8_0),
// and out = a · b for a plain f32 b [K, N]. Three kernels:
//   gemv_kernel       M ≤ 8 (decode, batched decode): bandwidth-bound, one warp per output column,
//                     weights read once for all M rows, 16-byte loads, f32 accumulation.
//   gemm_wmma_kernel  f16/bf16 weights, M > 8: tensor cores (wmma 16×16×16), 64×64 block tiles,
//                     activations rounded to the weights' type in shared memory, f32 accumulation.
//   gemm_simt_kernel  f32 and Q8_0 weights (dequantized while staging), and a · b: 64×64 tiles,
//                     4×4 outputs per thread, f32 FMA.
// For M > 8 with f32/f16/bf16 weights, cuBLAS is used instead when it is loaded (cublas.cu):
// f16/bf16 activations are rounded to the weights' type first (cuBLAS needs equal types), exactly
// what gemm_wmma_kernel does while staging.
#include <mma.h>

#include "cuda/common.cuh"
#include "cuda/cublas.h"

namespace tl::cuda {
namespace {

// ── GEMV / skinny M ─────────────────────────────────────────────────────────────────────────
constexpr int kGemvMaxM = 8;
constexpr int kGemvWarps = 8;  // warps (= output columns) per block

template <class W>
__global__ void __launch_bounds__(kGemvWarps * 32)
    gemv_kernel(float* __restrict__ out, const float* __restrict__ a, W w, int M, int64_t N, int64_t K) {
  const int64_t n = (int64_t)blockIdx.x * kGemvWarps + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (n >= N) return;  // the whole warp leaves together
  float acc[kGemvMaxM];
#pragma unroll
  for (int m = 0; m < kGemvMaxM; m++) acc[m] = 0.f;

  if ((K & 7) == 0) {  // 8 weights per lane per step: 16-byte loads (q8_0 always lands here)
    for (int64_t k = (int64_t)lane * 8; k < K; k += 32 * 8) {
      float wv[8];
      w.at8(n, k, K, wv);
#pragma unroll
      for (int m = 0; m < kGemvMaxM; m++) {
        if (m < M) {
          const float4* ap = reinterpret_cast<const float4*>(a + m * K + k);
          float4 x0 = __ldg(ap), x1 = __ldg(ap + 1);
          acc[m] += x0.x * wv[0] + x0.y * wv[1] + x0.z * wv[2] + x0.w * wv[3] + x1.x * wv[4] + x1.y * wv[5] +
                    x1.z * wv[6] + x1.w * wv[7];
        }
      }
    }
  } else {  // odd K: one weight per lane per step
    for (int64_t k = lane; k < K; k += 32) {
      float wv = w.at(n, k, K);
#pragma unroll
      for (int m = 0; m < kGemvMaxM; m++)
        if (m < M) acc[m] += a[m * K + k] * wv;
    }
  }
#pragma unroll
  for (int m = 0; m < kGemvMaxM; m++) {
    if (m < M) {
      float s = warp_sum(acc[m]);
      if (lane == 0) out[m * N + n] = s;
    }
  }
}

// ── SIMT GEMM (f32 FMA) ─────────────────────────────────────────────────────────────────────
constexpr int kBM = 64, kBN = 64, kBK = 16;  // 256 threads as 16×16, each 4×4 outputs

// b stored [K, N] (plain a · b), read through the same loader interface as weights [N, K].
struct LoadKN {
  const float* p;
  int64_t N;
  __device__ __forceinline__ float at(int64_t n, int64_t k, int64_t) const { return p[k * N + n]; }
};

template <class W>
__global__ void __launch_bounds__(256)
    gemm_simt_kernel(float* __restrict__ out, const float* __restrict__ a, W w, int64_t M, int64_t N, int64_t K) {
  __shared__ float As[kBK][kBM + 4];  // transposed tiles: As[k][m], Ws[k][n]
  __shared__ float Ws[kBK][kBN + 4];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int64_t m0 = (int64_t)blockIdx.y * kBM, n0 = (int64_t)blockIdx.x * kBN;
  float acc[4][4] = {};
  for (int64_t k0 = 0; k0 < K; k0 += kBK) {
#pragma unroll
    for (int i = 0; i < 4; i++) {  // 64×16 elements of each tile, 4 per thread, k fastest
      int idx = tid + i * 256;
      int r = idx / kBK, c = idx % kBK;
      int64_t k = k0 + c, m = m0 + r, n = n0 + r;
      As[c][r] = (m < M && k < K) ? a[m * K + k] : 0.f;
      Ws[c][r] = (n < N && k < K) ? w.at(n, k, K) : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kBK; kk++) {
      float av[4], wv[4];
#pragma unroll
      for (int i = 0; i < 4; i++) av[i] = As[kk][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; j++) wv[j] = Ws[kk][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] += av[i] * wv[j];
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; i++) {
    int64_t m = m0 + ty + 16 * i;
#pragma unroll
    for (int j = 0; j < 4; j++) {
      int64_t n = n0 + tx + 16 * j;
      if (m < M && n < N) out[m * N + n] = acc[i][j];
    }
  }
}

// ── tensor-core GEMM for f16 / bf16 weights ────────────────────────────────────────────────
namespace wmma = nvcuda::wmma;
constexpr int kTM = 64, kTN = 64, kTK = 32;
constexpr int kLd = kTK + 8;   // padded row of a staged tile (elements; multiple of 8 as wmma needs)
constexpr int kLdC = kTN + 4;  // padded row of the f32 output tile

template <class T>
__device__ __forceinline__ T from_f32(float x);
template <>
__device__ __forceinline__ __half from_f32<__half>(float x) { return __float2half_rn(x); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

// 4 warps in a 2×2 grid, each owning a 32×32 piece of the 64×64 output tile (2×2 fragments).
template <class T>
__global__ void __launch_bounds__(128)
    gemm_wmma_kernel(float* __restrict__ out, const float* __restrict__ a, const T* __restrict__ w, int64_t M,
                     int64_t N, int64_t K) {
  __shared__ __align__(32) T As[kTM * kLd];   // As[m][k]: matrix_a, row major
  __shared__ __align__(32) T Ws[kTN * kLd];   // Ws[n][k]: matrix_b [K, N] seen column major
  __shared__ __align__(32) float Cs[kTM * kLdC];
  const int tid = threadIdx.x, warp = tid >> 5;
  const int wm = warp >> 1, wn = warp & 1;
  const int64_t m0 = (int64_t)blockIdx.y * kTM, n0 = (int64_t)blockIdx.x * kTN;

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
#pragma unroll
  for (int i = 0; i < 2; i++)
#pragma unroll
    for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.f);

  for (int64_t k0 = 0; k0 < K; k0 += kTK) {
#pragma unroll 4
    for (int i = 0; i < (kTM * kTK) / 128; i++) {  // zero-padded past M, N, K
      int idx = tid + i * 128;
      int r = idx / kTK, c = idx % kTK;
      int64_t k = k0 + c, m = m0 + r, n = n0 + r;
      As[r * kLd + c] = from_f32<T>((m < M && k < K) ? a[m * K + k] : 0.f);
      Ws[r * kLd + c] = (n < N && k < K) ? w[n * K + k] : from_f32<T>(0.f);
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> fb[2];
#pragma unroll
      for (int i = 0; i < 2; i++) wmma::load_matrix_sync(fa[i], As + (wm * 32 + i * 16) * kLd + kk, kLd);
#pragma unroll
      for (int j = 0; j < 2; j++) wmma::load_matrix_sync(fb[j], Ws + (wn * 32 + j * 16) * kLd + kk, kLd);
#pragma unroll
      for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 2; j++) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 2; i++)
#pragma unroll
    for (int j = 0; j < 2; j++)
      wmma::store_matrix_sync(Cs + (wm * 32 + i * 16) * kLdC + wn * 32 + j * 16, acc[i][j], kLdC, wmma::mem_row_major);
  __syncthreads();
  for (int idx = tid; idx < kTM * kTN; idx += 128) {
    int r = idx / kTN, c = idx % kTN;
    int64_t m = m0 + r, n = n0 + c;
    if (m < M && n < N) out[m * N + n] = Cs[r * kLdC + c];
  }
}

// ── launchers ──────────────────────────────────────────────────────────────────────────────
template <class W>
void launch_gemv(float* out, const float* a, W w, int64_t M, int64_t N, int64_t K) {
  unsigned blocks = (unsigned)((N + kGemvWarps - 1) / kGemvWarps);
  gemv_kernel<W><<<blocks, kGemvWarps * 32>>>(out, a, w, (int)M, N, K);
  TL_CUDA_LAUNCHED("gemv_kernel");
}

dim3 tile_grid(int64_t M, int64_t N, int tm, int tn) {
  int64_t gy = (M + tm - 1) / tm, gx = (N + tn - 1) / tn;
  if (gy > 65535 || gx > 0x7fffffff) throw Error("matmul: M or N too large for one launch");
  return dim3((unsigned)gx, (unsigned)gy);
}

template <class W>
void launch_simt(float* out, const float* a, W w, int64_t M, int64_t N, int64_t K) {
  gemm_simt_kernel<W><<<tile_grid(M, N, kBM, kBN), 256>>>(out, a, w, M, N, K);
  TL_CUDA_LAUNCHED("gemm_simt_kernel");
}

template <class T>
void launch_wmma(float* out, const float* a, const T* w, int64_t M, int64_t N, int64_t K) {
  gemm_wmma_kernel<T><<<tile_grid(M, N, kTM, kTN), 128>>>(out, a, w, M, N, K);
  TL_CUDA_LAUNCHED("gemm_wmma_kernel");
}

// f32 activations → the weights' 16-bit type, for cuBLAS.
template <class T>
__global__ void round_activations_kernel(T* __restrict__ out, const float* __restrict__ a, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = from_f32<T>(a[i]);
}

template <class T>
bool cublas_16bit(float* out, const float* a, const T* w, CudaDataType type, int64_t M, int64_t N, int64_t K) {
  T* a16 = static_cast<T*>(scratch((size_t)(M * K) * sizeof(T)));
  round_activations_kernel<T><<<grid_for(M * K, 256), 256>>>(a16, a, M * K);
  TL_CUDA_LAUNCHED("round_activations_kernel");
  return cublas_gemm_t(out, a16, type, w, type, M, N, K);
}

// True when cuBLAS did the GEMM.
bool try_cublas(float* out, const float* a, const void* w, WType wt, int64_t M, int64_t N, int64_t K) {
  if (!cublas_enabled()) return false;
  switch (wt) {
    case WType::f32: return cublas_gemm_t(out, a, CudaDataType::f32, w, CudaDataType::f32, M, N, K);
    case WType::f16: return cublas_16bit(out, a, static_cast<const __half*>(w), CudaDataType::f16, M, N, K);
    case WType::bf16: return cublas_16bit(out, a, static_cast<const __nv_bfloat16*>(w), CudaDataType::bf16, M, N, K);
    default: return false;
  }
}

}  // namespace

void matmul_t(float* out, const float* a, const void* w, WType wt, int64_t M, int64_t N, int64_t K) {
  require_device();
  if (M == 0 || N == 0) return;
  if (K == 0) {
    TL_CUDA_CHECK(cudaMemsetAsync(out, 0, (size_t)(M * N) * sizeof(float), 0));
    return;
  }
  const bool skinny = M <= kGemvMaxM;
  if (!skinny && try_cublas(out, a, w, wt, M, N, K)) return;
  switch (wt) {
    case WType::f32: {
      LoadF32 l{static_cast<const float*>(w)};
      skinny ? launch_gemv(out, a, l, M, N, K) : launch_simt(out, a, l, M, N, K);
      break;
    }
    case WType::f16: {
      const __half* p = static_cast<const __half*>(w);
      skinny ? launch_gemv(out, a, LoadF16{p}, M, N, K) : launch_wmma(out, a, p, M, N, K);
      break;
    }
    case WType::bf16: {
      const __nv_bfloat16* p = static_cast<const __nv_bfloat16*>(w);
      skinny ? launch_gemv(out, a, LoadBF16{p}, M, N, K) : launch_wmma(out, a, p, M, N, K);
      break;
    }
    case WType::q8_0: {
      if (K % 32) throw Error("matmul: q8_0 weights need K to be a multiple of 32");
      LoadQ8 l{static_cast<const uint8_t*>(w)};
      skinny ? launch_gemv(out, a, l, M, N, K) : launch_simt(out, a, l, M, N, K);
      break;
    }
    default:
      throw Error("matmul: unknown weight type " + std::to_string((int)wt));
  }
}

void matmul(float* out, const float* a, const float* b, int64_t M, int64_t K, int64_t N) {
  require_device();
  if (M == 0 || N == 0) return;
  if (K == 0) {
    TL_CUDA_CHECK(cudaMemsetAsync(out, 0, (size_t)(M * N) * sizeof(float), 0));
    return;
  }
  launch_simt(out, a, LoadKN{b, N}, M, N, K);
}

}  // namespace tl::cuda
