// The per-ISA RoPE row rotation behind rope.h (rope.cpp is the scalar reference; rope_avx2.cpp and
// rope_avx512.cpp compile the same loop with FMA in hardware, so std::fma becomes one instruction
// instead of a libm call). All variants give identical bits: fma rounds once, by definition.
#pragma once
#include <cmath>

#include "kernels/rope.h"

namespace tl {

// ggml's rotate_pairs as its FMA builds compute it: x0' = fma(x0, c, -(x1*s)), x1' = fma(x0, s, x1*c).
// `static` keeps each ISA's copy local to its object (see scripts/check-isa.mjs).
// One loop per layout, so each has constant strides and the compiler vectorizes it (one loop with
// the strides in variables stayed scalar: ~0.6 ns a pair).
static inline void rope_rotate_row_body(float* x, const float* cs, int dims, RopeLayout layout) {
  const int half = dims / 2;
  if (layout == RopeLayout::Interleaved) {
    for (int i = 0; i < half; i++) {
      const float c = cs[2 * i], s = cs[2 * i + 1];
      const float x0 = x[2 * i], x1 = x[2 * i + 1];
      x[2 * i] = std::fma(x0, c, -(x1 * s));
      x[2 * i + 1] = std::fma(x0, s, x1 * c);
    }
  } else {
    float* x1p = x + half;
    for (int i = 0; i < half; i++) {
      const float c = cs[2 * i], s = cs[2 * i + 1];
      const float x0 = x[i], x1 = x1p[i];
      x[i] = std::fma(x0, c, -(x1 * s));
      x1p[i] = std::fma(x0, s, x1 * c);
    }
  }
}

#define TL_ROPE_KERNEL_API void rope_rotate_row(float* x, const float* cs, int dims, RopeLayout layout);
namespace scalar { TL_ROPE_KERNEL_API }
namespace avx2 { TL_ROPE_KERNEL_API }
namespace avx512 { TL_ROPE_KERNEL_API }
#undef TL_ROPE_KERNEL_API

}  // namespace tl
