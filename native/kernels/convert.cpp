// Conversions: the scalar reference (tl::ref) and the dispatcher that picks a SIMD variant with
// tl::active_isa() and splits long arrays over the thread pool.
#include "kernels/convert.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu.h"
#include "kernels/f16.h"
#include "kernels/threadpool.h"

namespace tl {

namespace ref {

void f32_to_f16_array(uint16_t* out, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = f32_to_f16(x[i]);
}
void f16_to_f32_array(float* out, const uint16_t* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = f16_to_f32(x[i]);
}
void f32_to_bf16_array(uint16_t* out, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = f32_to_bf16(x[i]);
}
void bf16_to_f32_array(float* out, const uint16_t* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = bf16_to_f32(x[i]);
}

void quantize_q8_0(uint8_t* out, const float* x, int64_t n) {
  for (int64_t b = 0; b < n / kQ8Block; b++) {
    const float* xb = x + b * kQ8Block;
    uint8_t* block = out + b * kQ8BlockBytes;
    float amax = 0.0f;
    for (int j = 0; j < kQ8Block; j++) amax = std::fmax(amax, std::fabs(xb[j]));  // fmax skips NaN
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t h = f32_to_f16(d);
    std::memcpy(block, &h, 2);
    for (int j = 0; j < kQ8Block; j++) {
      const float q = std::roundf(xb[j] * id);
      block[2 + j] = (uint8_t)(int8_t)(q == q ? q : 0.0f);  // NaN input (or ∞ · 0) → 0
    }
  }
}

void dequantize_q8_0(float* out, const uint8_t* x, int64_t n) {
  for (int64_t b = 0; b < n / kQ8Block; b++) {
    const uint8_t* block = x + b * kQ8BlockBytes;
    uint16_t h;
    std::memcpy(&h, block, 2);
    const float d = f16_to_f32(h);
    for (int j = 0; j < kQ8Block; j++) out[b * kQ8Block + j] = d * (float)(int8_t)block[2 + j];
  }
}

}  // namespace ref

namespace {

enum class Path { Scalar, Avx2, Avx512 };

Path path() {
#if defined(TL_HAVE_X86_VARIANTS)
  switch (active_isa()) {
    case Isa::Avx512: return Path::Avx512;
    case Isa::Avx2: return Path::Avx2;
    default: return Path::Scalar;
  }
#else
  return Path::Scalar;
#endif
}

// Conversions are memory-bound: split only long arrays, in chunks of whole Q8_0 blocks.
constexpr int64_t kMinPerThread = 1 << 18;

template <class Out, class In, class Fn>
void run(Out* out, const In* x, int64_t n, int64_t out_per_block, Fn fn) {
  // Work in units of 32 elements so every chunk boundary is a Q8_0 block boundary.
  const int64_t units = (n + 31) / 32;
  parallel_for(units, kMinPerThread / 32, [&](int64_t b, int64_t e, int) {
    const int64_t i0 = b * 32, i1 = std::min<int64_t>(n, e * 32);
    fn(out + b * out_per_block, x + i0, i1 - i0);
  });
}

#if defined(TL_HAVE_X86_VARIANTS)
#define TL_PICK(fn) (path() == Path::Avx512 ? avx512::fn : path() == Path::Avx2 ? avx2::fn : ref::fn)
#else
#define TL_PICK(fn) (ref::fn)
#endif

}  // namespace

void f32_to_f16_array(uint16_t* out, const float* x, int64_t n) { run(out, x, n, 32, TL_PICK(f32_to_f16_array)); }
void f16_to_f32_array(float* out, const uint16_t* x, int64_t n) { run(out, x, n, 32, TL_PICK(f16_to_f32_array)); }
void f32_to_bf16_array(uint16_t* out, const float* x, int64_t n) { run(out, x, n, 32, TL_PICK(f32_to_bf16_array)); }
void bf16_to_f32_array(float* out, const uint16_t* x, int64_t n) { run(out, x, n, 32, TL_PICK(bf16_to_f32_array)); }
void quantize_q8_0(uint8_t* out, const float* x, int64_t n) { run(out, x, n, kQ8BlockBytes, TL_PICK(quantize_q8_0)); }
void dequantize_q8_0(float* out, const uint8_t* x, int64_t n) {
  // Input is in 34-byte blocks: the unit of 32 outputs is one block of input.
  const int64_t blocks = n / kQ8Block;
  auto fn = TL_PICK(dequantize_q8_0);
  parallel_for(blocks, kMinPerThread / 32, [&](int64_t b, int64_t e, int) {
    fn(out + b * kQ8Block, x + b * kQ8BlockBytes, (e - b) * kQ8Block);
  });
}

}  // namespace tl
