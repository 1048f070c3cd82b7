// The per-ISA row kernels behind ops.h (ops_scalar.cpp is the reference; ops_avx2.cpp and
// ops_avx512.cpp the SIMD variants). Each processes a contiguous range; ops.cpp splits the work
// over threads and dispatches on tl::active_isa().
//
// Accuracy of the SIMD variants against the reference (f32): rmsnorm/layernorm/softmax/add/mul/
// silu/swiglu ≤ ~1e-6 relative; gelu ≤ 2e-6 relative + 1e-7 absolute (vectorized exp/erfc, see
// vmath_avx2.h). Tests check these bounds.
#pragma once
#include <cstdint>

namespace tl {

#define TL_OPS_KERNEL_API                                                                                    \
  void rmsnorm_rows(float* out, const float* x, const float* w, int64_t rows, int64_t dim, float eps);     \
  void layernorm_rows(float* out, const float* x, const float* w, const float* b, int64_t rows, int64_t dim, \
                      float eps);                                                                            \
  void softmax_rows(float* out, const float* x, int64_t rows, int64_t cols, float inv_temperature);         \
  void gelu_tanh(float* out, const float* x, int64_t n);                                                     \
  void gelu_erf(float* out, const float* x, int64_t n);                                                      \
  void silu(float* out, const float* x, int64_t n);                                                          \
  void swiglu(float* out, const float* gate, const float* up, int64_t n);                                    \
  void add(float* out, const float* a, const float* b, int64_t n);                                           \
  void mul(float* out, const float* a, const float* b, int64_t n);                                           \
  int64_t argmax(const float* x, int64_t n);

namespace scalar { TL_OPS_KERNEL_API }
namespace avx2 { TL_OPS_KERNEL_API }
namespace avx512 { TL_OPS_KERNEL_API }

#undef TL_OPS_KERNEL_API

}  // namespace tl
