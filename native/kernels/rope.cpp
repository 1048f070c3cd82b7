#include "kernels/rope.h"

#include <cmath>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/rope_kernels.h"
#include "kernels/threadpool.h"

namespace tl {

namespace scalar {
// The reference: std::fma is a libm call on baseline x86-64 (exact, slower).
void rope_rotate_row(float* x, const float* cs, int dims, RopeLayout layout) { rope_rotate_row_body(x, cs, dims, layout); }
}  // namespace scalar

namespace {
using RotateRow = void (*)(float*, const float*, int, RopeLayout);
RotateRow pick_rotate_row() {
#if defined(TL_HAVE_X86_VARIANTS)
  if (active_isa() >= Isa::Avx512) return avx512::rope_rotate_row;
  if (active_isa() == Isa::Avx2) return avx2::rope_rotate_row;
#endif
  return scalar::rope_rotate_row;
}
}  // namespace

void rope_rotate_row(float* x, const float* cs, int dims, RopeLayout layout) { pick_rotate_row()(x, cs, dims, layout); }

void rope_table(float* table, int64_t pos0, int64_t npos, const RopeParams& rope) {
  const int half = rope.dims / 2;
  // ggml: theta_scale = powf(freq_base, -2.0f/n_dims), freq_base an f32 hyperparameter.
  const float scale = ::powf((float)rope.theta, -2.0f / (float)rope.dims);
  // ~20 ns per sincos pair: split long tables over the pool.
  parallel_for(npos, 64, [&](int64_t b, int64_t e, int) {
    for (int64_t p = b; p < e; p++) {
      float* row = table + p * rope.dims;
      float angle = (float)(pos0 + p);  // ggml's theta_base = (float)pos, then theta *= theta_scale
      for (int i = 0; i < half; i++) {
        row[2 * i] = ::cosf(angle);
        row[2 * i + 1] = ::sinf(angle);
        angle *= scale;
      }
    }
  });
}

const float* rope_table_cached(int64_t pos0, int64_t npos, const RopeParams& rope) {
  struct Key {
    double theta = 0;
    int dims = 0;
    int64_t pos0 = -1, npos = 0;
  };
  static thread_local std::vector<float> table;
  static thread_local Key key;
  if (key.theta != rope.theta || key.dims != rope.dims || key.pos0 != pos0 || key.npos != npos) {
    table.resize((size_t)npos * rope.dims);
    rope_table(table.data(), pos0, npos, rope);
    key = Key{rope.theta, rope.dims, pos0, npos};
  }
  return table.data();
}

void rope(float* x, int64_t T, int64_t n_heads, int64_t D, int64_t pos0, const RopeParams& r) {
  if (T <= 0 || n_heads <= 0) return;
  const float* table = rope_table_cached(pos0, T, r);
  const RotateRow rotate = pick_rotate_row();
  parallel_for(T * n_heads, 256, [&](int64_t b, int64_t e, int) {
    for (int64_t row = b; row < e; row++) {
      int64_t t = row / n_heads;
      rotate(x + row * D, table + t * r.dims, r.dims, r.layout);
    }
  });
}

}  // namespace tl
