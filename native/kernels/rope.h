// Rotary position embedding (RoPE): the frequency table and the rotation of one head row.
//
// Pair i (i < dims/2) of a head is rotated by the angle pos * theta^(-2i/dims):
//   'interleaved' pairs dimensions (2i, 2i+1)      — llama2.c, GGUF Llama
//   'half'        pairs dimensions (i, i + dims/2)  — Hugging Face Llama (rotate_half)
// Dimensions >= dims are left alone (partial rotary). Angles and their cos/sin are computed in
// double and rounded once to f32, so the native kernels and the JS baseline agree to ~1 ulp.
#pragma once
#include <cstdint>

namespace tl {

enum class RopeLayout : int { Interleaved = 0, Half = 1 };

struct RopeParams {
  bool enabled = false;
  double theta = 10000.0;
  RopeLayout layout = RopeLayout::Interleaved;
  int dims = 0;  // rotated dimensions per head: even, 2 <= dims <= D
};

// cos/sin for positions pos0 .. pos0+npos-1: table[(p * dims/2 + i) * 2 + {0: cos, 1: sin}].
// `table` holds npos * dims floats. Runs on the thread pool when large.
void rope_table(float* table, int64_t pos0, int64_t npos, const RopeParams& rope);

// Rotates one head row x[0..D) in place with the cos/sin of one position (a row of rope_table).
static inline void rope_rotate_row(float* x, const float* cs, int dims, RopeLayout layout) {
  int half = dims / 2;
  if (layout == RopeLayout::Interleaved) {
    for (int i = 0; i < half; i++) {
      float c = cs[2 * i], s = cs[2 * i + 1];
      float x0 = x[2 * i], x1 = x[2 * i + 1];
      x[2 * i] = x0 * c - x1 * s;
      x[2 * i + 1] = x0 * s + x1 * c;
    }
  } else {
    for (int i = 0; i < half; i++) {
      float c = cs[2 * i], s = cs[2 * i + 1];
      float x0 = x[i], x1 = x[i + half];
      x[i] = x0 * c - x1 * s;
      x[i + half] = x0 * s + x1 * c;
    }
  }
}

// In place: x is [T, n_heads, D]; row t is rotated at position pos0 + t.
void rope(float* x, int64_t T, int64_t n_heads, int64_t D, int64_t pos0, const RopeParams& rope);

}  // namespace tl
