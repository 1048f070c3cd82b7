// Run-time loaded cuBLAS (cublas.cu): used by matmul_t for large GEMMs when present.
#pragma once
#include <cstdint>
#include <string>

namespace tl::cuda {

// cudaDataType values (library_types.h) of the operand types we pass.
enum class CudaDataType : int { f32 = 0, f16 = 2, bf16 = 14 };

// out[M, N] (f32) = a[M, K] · w[N, K]ᵀ with f32 accumulation. a and w have the same 16-bit type
// or are both f32. Returns false (and does nothing) when cuBLAS is unavailable, switched off, or
// refuses the call; the caller then runs its own kernel.
// Whether cuBLAS is loaded and switched on (cheap; loads it on first use).
bool cublas_enabled();

bool cublas_gemm_t(float* out, const void* a, CudaDataType a_type, const void* w, CudaDataType w_type, int64_t M,
                   int64_t N, int64_t K);

}  // namespace tl::cuda
