// AVX2 dot products of the quantized weight types (body: qdot.inc; maddubs/madd).
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/quant_blocks.h"
#include "kernels/quant_kernels.h"

#define TL_QDOT_NS avx2
#include "kernels/qdot.inc"
#undef TL_QDOT_NS
