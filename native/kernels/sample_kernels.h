// The per-ISA variants behind sample.h: sample_scalar.cpp is the reference (std::exp in double);
// sample_avx2.cpp and sample_avx512.cpp evaluate the same double exp with a vector polynomial
// (≤ 2 ulp of double, so the stored f32 weights almost always equal the reference's bit for bit,
// and the sum agrees to ~1e-15 relative; test/kernels/sample.test.ts checks both per ISA).
#pragma once
#include <cstdint>

namespace tl {

#define TL_SAMPLE_KERNEL_API double sample_weights(float* prob, const float* logits, int64_t n, double inv_temperature);
namespace scalar { TL_SAMPLE_KERNEL_API }
namespace avx2 { TL_SAMPLE_KERNEL_API }
namespace avx512 { TL_SAMPLE_KERNEL_API }
#undef TL_SAMPLE_KERNEL_API

}  // namespace tl
