// The scalar reference of the matmul family for float weights: the plain definition every SIMD
// path is tested against (see matmul.h for what is computed). Expands one weight row to f32, then
// dots it with every row of a, accumulating in f32 in k order.
#include <cstring>
#include <vector>

#include "kernels/matmul.h"

namespace tl::ref {

// Float weight types only (matmul.cpp computes quantized types with the table's dot products).
void matmul_t(float* out, const float* a, const void* w, int wtype, int64_t M, int64_t N, int64_t K, int64_t n0,
              int64_t n1) {
  const WeightTypeInfo& t = *weight_type(wtype);
  std::vector<float> row((size_t)K);
  for (int64_t n = n0; n < n1; n++) {
    t.dequantize_row(row.data(), static_cast<const uint8_t*>(w) + n * type_row_bytes(t, K), K);
    for (int64_t m = 0; m < M; m++) {
      const float* am = a + m * K;
      float s = 0.0f;
      for (int64_t k = 0; k < K; k++) s += am[k] * row[k];
      out[m * N + n] = s;
    }
  }
}

void matmul(float* out, const float* a, const float* b, int64_t M, int64_t K, int64_t N, int64_t n0, int64_t n1) {
  for (int64_t m = 0; m < M; m++) {
    const float* am = a + m * K;
    for (int64_t n = n0; n < n1; n++) {
      float s = 0.0f;
      for (int64_t k = 0; k < K; k++) s += am[k] * b[k * N + n];
      out[m * N + n] = s;
    }
  }
}

}  // namespace tl::ref
