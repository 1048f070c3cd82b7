// The per-ISA row kernels behind ops.h (ops_scalar.cpp is the reference; ops_avx2.cpp and
// ops_avx512.cpp the SIMD variants). Each processes a contiguous range; ops.cpp splits the work
// over threads and dispatches on tl::active_isa().
//
// Accuracy of the SIMD variants against the reference (f32): rmsnorm/layernorm/softmax/add/mul/
// silu/swiglu ≤ ~1e-6 relative; gelu ≤ 2e-6 relative + 1e-7 absolute (vectorized exp/erfc, see
// vmath_avx2.h). Tests check these bounds.
#pragma once
#include <cmath>
#include <cstdint>

namespace tl {

// The RMSNorm scale as llama.cpp's CPU backend computes it (ggml_compute_forward_rms_norm_f32):
// each square rounded to f32, summed in order in a double, the mean rounded to f32, then
// 1/sqrtf(mean + eps). Every variant uses it, so normalized rows equal llama.cpp's bit for bit
// (an ulp in the final norm moves every logit; a float SIMD sum was up to ~8 ulps off the scale).
// Serial by nature (~4 cycles per element): ~1 µs for a 4096-wide row, negligible beside a matmul;
// the SIMD variants run several rows' sums side by side (one row per double lane, each in order).
static inline float rms_scale_from_sum(double sum_sq, int64_t n, float eps) {
  const float mean = (float)(sum_sq / (double)n);
  return 1.0f / std::sqrt(mean + eps);
}
static inline float rms_scale_ggml(const float* x, int64_t n, float eps) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += (double)(x[i] * x[i]);
  return rms_scale_from_sum(s, n, eps);
}

#define TL_OPS_KERNEL_API                                                                                    \
  void rmsnorm_rows(float* out, const float* x, const float* w, int64_t rows, int64_t dim, float eps);     \
  void layernorm_rows(float* out, const float* x, const float* w, const float* b, int64_t rows, int64_t dim, \
                      float eps);                                                                            \
  void softmax_rows(float* out, const float* x, int64_t rows, int64_t cols, float inv_temperature);         \
  void gelu_tanh(float* out, const float* x, int64_t n);                                                     \
  void gelu_erf(float* out, const float* x, int64_t n);                                                      \
  void silu(float* out, const float* x, int64_t n);                                                          \
  void relu(float* out, const float* x, int64_t n);                                                          \
  void swiglu(float* out, const float* gate, const float* up, int64_t n);                                    \
  void add(float* out, const float* a, const float* b, int64_t n);                                           \
  void mul(float* out, const float* a, const float* b, int64_t n);                                           \
  int64_t argmax(const float* x, int64_t n);

namespace scalar { TL_OPS_KERNEL_API }
namespace avx2 { TL_OPS_KERNEL_API }
namespace avx512 { TL_OPS_KERNEL_API }

#undef TL_OPS_KERNEL_API

}  // namespace tl
