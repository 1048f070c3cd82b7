// Scalar half (IEEE binary16) and bfloat16 conversions, usable from every translation unit.
// Everything here is `static inline` on purpose: an inline function with external linkage that
// got compiled inside an AVX2 file could be the copy the linker keeps for generic code too.
#pragma once
#include <cstdint>
#include <cstring>

namespace tl {

static inline float f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalize
      int e = -1;
      do { e++; mant <<= 1; } while ((mant & 0x400) == 0);
      bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000 | (mant << 13);  // inf / nan
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Round to nearest even, like F16C's vcvtps2ph with rounding mode 0.
static inline uint16_t f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t absx = x & 0x7fffffff;
  if (absx >= 0x7f800000) return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000 ? 0x200 | ((absx >> 13) & 0x3ff) : 0));
  if (absx >= 0x477ff000) return (uint16_t)(sign | 0x7c00);  // overflows to inf after rounding
  if (absx < 0x38800000) {                                    // result is subnormal or zero
    if (absx < 0x33000000) return (uint16_t)sign;             // < half the smallest subnormal
    uint32_t e = absx >> 23;
    uint32_t m = (absx & 0x7fffff) | 0x800000;
    uint32_t shift = 126 - e;  // 14 + (113 - e)... shifts the 24-bit mantissa into 10 bits
    uint32_t r = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (r & 1))) r++;
    return (uint16_t)(sign | r);
  }
  uint32_t r = absx + 0xc8000fff + ((absx >> 13) & 1);  // rebias exponent (-112<<23) and round to even
  return (uint16_t)(sign | (r >> 13));
}

static inline float bf16_to_f32(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

static inline uint16_t f32_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40);  // keep NaN quiet
  x += 0x7fff + ((x >> 16) & 1);                                               // round to nearest even
  return (uint16_t)(x >> 16);
}

// GGUF Q8_0 block: one f16 scale, then 32 signed 8-bit values; value = scale * q.
constexpr int kQ8Block = 32;
constexpr int kQ8BlockBytes = 34;

}  // namespace tl
