#include "kernels/rope.h"

#include <cmath>
#include <vector>

#include "kernels/threadpool.h"

namespace tl {

void rope_table(float* table, int64_t pos0, int64_t npos, const RopeParams& rope) {
  const int half = rope.dims / 2;
  std::vector<double> inv_freq(half);
  for (int i = 0; i < half; i++) inv_freq[i] = std::pow(rope.theta, -2.0 * i / rope.dims);
  // ~40 ns per sincos pair: split long tables over the pool.
  parallel_for(npos, 64, [&](int64_t b, int64_t e, int) {
    for (int64_t p = b; p < e; p++) {
      double pos = (double)(pos0 + p);
      float* row = table + p * rope.dims;
      for (int i = 0; i < half; i++) {
        double a = pos * inv_freq[i];
        row[2 * i] = (float)std::cos(a);
        row[2 * i + 1] = (float)std::sin(a);
      }
    }
  });
}

void rope(float* x, int64_t T, int64_t n_heads, int64_t D, int64_t pos0, const RopeParams& r) {
  if (T <= 0 || n_heads <= 0) return;
  std::vector<float> table((size_t)T * r.dims);
  rope_table(table.data(), pos0, T, r);
  parallel_for(T * n_heads, 256, [&](int64_t b, int64_t e, int) {
    for (int64_t row = b; row < e; row++) {
      int64_t t = row / n_heads;
      rope_rotate_row(x + row * D, table.data() + t * r.dims, r.dims, r.layout);
    }
  });
}

}  // namespace tl
