// The scalar reference of the matmul family: the plain definition every SIMD path is tested
// against (see matmul.h for what is computed). Expands one weight row to f32, then dots it with
// every row of a, accumulating in f32 in k order.
#include <cstring>
#include <vector>

#include "kernels/f16.h"
#include "kernels/matmul.h"

namespace tl::ref {

// Row n of w as f32 (exact for every weight type).
static void expand_row(float* dst, const void* w, WeightType wt, int64_t K, int64_t n) {
  const uint8_t* row = static_cast<const uint8_t*>(w) + n * weight_row_bytes(wt, K);
  switch (wt) {
    case WeightType::F32:
      std::memcpy(dst, row, (size_t)K * 4);
      break;
    case WeightType::F16:
      for (int64_t k = 0; k < K; k++) dst[k] = f16_to_f32(reinterpret_cast<const uint16_t*>(row)[k]);
      break;
    case WeightType::BF16:
      for (int64_t k = 0; k < K; k++) dst[k] = bf16_to_f32(reinterpret_cast<const uint16_t*>(row)[k]);
      break;
    case WeightType::Q8_0:
      for (int64_t b = 0; b < K / kQ8Block; b++) {
        const uint8_t* block = row + b * kQ8BlockBytes;
        uint16_t h;
        std::memcpy(&h, block, 2);
        const float d = f16_to_f32(h);
        const int8_t* q = reinterpret_cast<const int8_t*>(block + 2);
        for (int j = 0; j < kQ8Block; j++) dst[b * kQ8Block + j] = d * (float)q[j];
      }
      break;
  }
}

void matmul_t(float* out, const float* a, const void* w, WeightType wt, int64_t M, int64_t N, int64_t K, int64_t n0,
              int64_t n1) {
  std::vector<float> row((size_t)K);
  for (int64_t n = n0; n < n1; n++) {
    expand_row(row.data(), w, wt, K, n);
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
