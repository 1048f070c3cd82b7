// AVX2 quantized GEMM tiles (body: qgemm.inc; maddubs/madd), 2 weight rows × 4 activation rows.
#include <immintrin.h>

#include <cmath>
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "kernels/qgemm.h"
#include "kernels/quant_blocks.h"

#define TL_QGEMM_NS avx2
#include "kernels/qgemm.inc"
#undef TL_QGEMM_NS
