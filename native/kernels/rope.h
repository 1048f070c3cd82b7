// Rotary position embedding (RoPE): the frequency table and the rotation of one head row.
//
// Pair i (i < dims/2) of a head is rotated by the angle pos * theta^(-2i/dims):
//   'interleaved' pairs dimensions (2i, 2i+1)      — llama2.c, GGUF Llama
//   'half'        pairs dimensions (i, i + dims/2)  — Hugging Face Llama (rotate_half)
// Dimensions >= dims are left alone (partial rotary).
//
// The arithmetic is ggml's (ggml_rope_cache_init + rotate_pairs), step for step in f32, so a model
// rotates exactly as llama.cpp rotates it and greedy decodes do not drift apart by an ulp:
//   scale = powf(theta, -2/dims); angle_0 = (float)pos; angle_{i+1} = angle_i * scale (f32)
//   cos/sin = cosf/sinf(angle_i) (the C library's, as ggml's sincosf)
//   x0' = fma(x0, cos, -(x1 * sin)),  x1' = fma(x0, sin, x1 * cos)
// (the fused forms are what GCC emits for ggml's `x0*cos - x1*sin` in the FMA builds llama.cpp
// ships for AVX2/AVX-512 CPUs). The iterated f32 angle is off the exact pos * theta^(-2i/dims) by
// up to ~i/2 ulp relative: up to ~1e-4 rad at position 1000 for i = 32. That is llama.cpp's model.
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

// The same table, kept per calling thread and reused while theta, dims and the positions match:
// every rope and attention call of a forward step asks for the same one (2 per layer), and its
// sincos cost ~20 ns a pair. Valid until the calling thread's next call with other positions.
const float* rope_table_cached(int64_t pos0, int64_t npos, const RopeParams& rope);

// Rotates one head row x[0..D) in place with the cos/sin of one position (a row of rope_table).
// Every ISA variant gives the same bits (the fma is exact by definition).
void rope_rotate_row(float* x, const float* cs, int dims, RopeLayout layout);

// In place: x is [T, n_heads, D]; row t is rotated at position pos0 + t.
void rope(float* x, int64_t T, int64_t n_heads, int64_t D, int64_t pos0, const RopeParams& rope);

}  // namespace tl
