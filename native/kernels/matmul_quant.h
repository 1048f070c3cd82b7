// matmul_t for quantized weight types: activations quantized once, integer dot products.
// Called by matmul.cpp's entry points (matmul.h describes what is computed).
#pragma once
#include <cstdint>

#include "kernels/matmul.h"

namespace tl {

// Every projection's out[M, N] = a[M, K] · wᵀ; all p[i].type quantized (not f32/f16/bf16).
// a is quantized once per distinct activation type among the projections.
void matmul_t_quant(const float* a, int64_t M, int64_t K, const Projection* p, int count);

}  // namespace tl
