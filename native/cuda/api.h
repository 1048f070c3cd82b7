// The CUDA backend's host-side C++ API. Plain C++ only (no CUDA, no N-API types), so the N-API
// glue (native/binding/cuda.cpp, compiled by the host compiler) and any C++ caller can use it.
//
// Conventions:
// - Every pointer argument of an op is a DEVICE pointer from alloc(); shapes are the caller's
//   responsibility (the N-API glue checks buffer sizes before calling).
// - All work runs in order on one stream; download() and synchronize() wait for it.
// - Any CUDA failure throws tl::cuda::Error with the runtime's message and what was being done.
// - The first call that needs the GPU selects device 0 (TENSORLOOM_CUDA_DEVICE=<n> picks another)
//   and throws "no CUDA device found (cudaGetDeviceCount: ...)" when there is none.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace tl::cuda {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The weight types the CUDA kernels compute with, named by their GGML type ids (the weight-type
// table, native/kernels/weight_types.h, holds their sizes; the JS side passes the same ids).
// Other types of the table are refused by the N-API glue with "not supported on CUDA".
enum class WType : int { f32 = 0, f16 = 1, q8_0 = 8, bf16 = 30 };
enum class RopeLayout : int { interleaved = 0, half = 1 };

// ── device and memory ───────────────────────────────────────────────────────────────────────
struct DeviceInfo {
  std::string name;
  int major = 0, minor = 0;  // compute capability
  size_t total_memory = 0;   // bytes
  int multiprocessors = 0;
};

// Number of devices; never throws. When there are none, *why gets the runtime's reason.
int device_count(std::string* why);
DeviceInfo device_info(int device);
// Throws Error("no CUDA device found (cudaGetDeviceCount: ...)") when no device can be used.
void require_device();

void* alloc(size_t bytes);             // uninitialized device memory
void release(void* ptr) noexcept;      // never throws (used from finalizers)
void upload(void* dst, const void* host_src, size_t bytes);
void download(void* host_dst, const void* src, size_t bytes);  // waits for pending work
void copy(void* dst, const void* src, size_t bytes);            // device to device
// dst[i] = src[i] rounded to dst_type (f32, f16 or bf16; round to nearest even): e.g. the new K/V
// rows of a step into an f16 KV cache.
void cast_f32(void* dst, WType dst_type, const float* src, int64_t n);
void synchronize();

// ── matmul ──────────────────────────────────────────────────────────────────────────────────
// GEMMs with M > 8 and f32/f16/bf16 weights go to cuBLAS when it can be loaded at run time
// (dlopen libcublas.so.13; TENSORLOOM_CUBLAS=0 disables, =<path> picks a library), else to our
// kernels. gemm_provider() says which and why; use_cublas(false) forces our kernels (tests).
std::string gemm_provider();
bool use_cublas(bool enabled);  // returns whether cuBLAS is now in use
// out[M, N] = a[M, K] · wᵀ, w row-major [N, K] of type wt (q8_0: K % 32 == 0, GGUF blocks).
void matmul_t(float* out, const float* a, const void* w, WType wt, int64_t M, int64_t N, int64_t K);
// out[M, N] = a[M, K] · b[K, N], all f32.
void matmul(float* out, const float* a, const float* b, int64_t M, int64_t K, int64_t N);

// ── attention ───────────────────────────────────────────────────────────────────────────────
struct AttentionArgs {
  int T = 1, S = 1, H = 1, Hkv = 1, D = 64;  // D <= kMaxHeadDim
  int pos_offset = 0;
  bool causal = true;
  float scale = 0.125f;  // usually 1/sqrt(D)
  bool kv_f16 = false;  // k, v hold IEEE halves instead of floats
  bool rope = false;
  double rope_theta = 10000;
  RopeLayout rope_layout = RopeLayout::interleaved;
  int rope_dims = 0;  // 0 = D
};
constexpr int kMaxHeadDim = 256;
// q, out: [T, H, D] f32; k, v: [S, Hkv, D]. Causal or with rope: pos_offset + T <= S. With rope, q is rotated on the fly and the key rows
// [pos_offset, pos_offset + T) are rotated in place in k (see ts/backend/types.ts AttentionShape).
void attention(float* out, const float* q, void* k, const void* v, const AttentionArgs& args);
// Prefill with an f16 KV cache and D = 64/128 runs on tensor cores (Q and P rounded to f16, f32
// accumulation) unless switched off here (tests compare both kernels). Returns the new setting.
bool use_tensor_core_attention(bool enabled);

// ── row and elementwise ops (f32) ───────────────────────────────────────────────────────────
void rope(float* x, int64_t T, int heads, int D, int64_t pos_offset, double theta, RopeLayout layout, int dims);
void rmsnorm(float* out, const float* x, const float* weight, int64_t rows, int64_t dim, float eps);
void layernorm(float* out, const float* x, const float* weight, const float* bias /* nullable */, int64_t rows,
               int64_t dim, float eps);
void softmax(float* out, const float* x, int64_t rows, int64_t cols, float temperature);
void gelu(float* out, const float* x, int64_t n, bool tanh_approximation);
void silu(float* out, const float* x, int64_t n);
void swiglu(float* out, const float* gate, const float* up, int64_t n);
void add(float* out, const float* a, const float* b, int64_t n);
void mul(float* out, const float* a, const float* b, int64_t n);
// out[i, :] = table[ids[i], :] as f32; ids is a DEVICE array of n row indices, all < rows.
void embedding(float* out, const void* table, WType wt, int64_t rows, int64_t cols, const int32_t* ids, int64_t n);
// Index of the largest element (first on ties; NaN never wins). Waits for the result.
int64_t argmax(const float* x, int64_t n);

}  // namespace tl::cuda
