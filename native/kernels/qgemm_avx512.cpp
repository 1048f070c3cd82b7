// AVX-512 quantized GEMM tiles (body: qgemm.inc), compiled twice:
//   tl::avx512      AVX-512BW: maddubs/madd on 256-bit vectors, 32 registers
//   tl::avx512vnni  AVX-512 VNNI: vpdpbusd / vpdpwssd, enabled for that copy only (qgemm.cpp picks it
//                   only when the CPU reports avx512vnni and the ISA cap allows it)
#include <immintrin.h>

#include <cmath>
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "kernels/qgemm.h"
#include "kernels/quant_blocks.h"
#include "kernels/quant_kernels.h"  // the dot kernels, for the packed-pair tiles' edge rows

// GCC 12 flags the undefined upper halves of its own 256→512-bit cast intrinsics
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#define TL_QGEMM_NS avx512
#include "kernels/qgemm.inc"
#undef TL_QGEMM_NS

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512vnni"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512vnni")
#endif
#define TL_QGEMM_NS avx512vnni
#define TL_QGEMM_VNNI 1
#include "kernels/qgemm.inc"
#undef TL_QGEMM_VNNI
#undef TL_QGEMM_NS
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

