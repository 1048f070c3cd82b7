// AVX-512 dot products of the quantized weight types (body: qdot.inc), compiled twice:
//   tl::avx512      AVX-512BW: maddubs/madd
//   tl::avx512vnni  AVX-512 VNNI: vpdpbusd, enabled for that copy only (the table picks it only
//                   when the CPU reports avx512vnni and the ISA cap allows it)
// GCC 12 warns falsely about the undefined-vector idiom inside its own AVX-512 headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/quant_blocks.h"
#include "kernels/quant_kernels.h"

#define TL_QDOT_NS avx512
#include "kernels/qdot.inc"
#undef TL_QDOT_NS

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512vnni"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512vnni")
#endif
#define TL_QDOT_NS avx512vnni
#define TL_QDOT_VNNI 1
#include "kernels/qdot.inc"
#undef TL_QDOT_VNNI
#undef TL_QDOT_NS
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
