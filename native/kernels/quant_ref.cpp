// Scalar references of the quantized types: dequantizers, activation quantizers and dot products
// (the definitions every SIMD kernel is tested against). Formats and arithmetic follow ggml
// (ggml-quants.c, ggml-cpu/quants.c): integer products summed in int32 per (sub-)block, then
// scaled in f32 by the product of the weight's and the activation's scales.
#include <cmath>
#include <cstring>

#include "kernels/f16.h"
#include "kernels/quant_blocks.h"
#include "kernels/quant_kernels.h"

namespace tl::ref {

using namespace tl::qb;

namespace {

inline float h2f(uint16_t h) { return f16_to_f32(h); }

// The 5th bit of value j (0..31) of a Q5_0 / Q5_1 block.
inline int q5_high(const uint8_t* qh, int j) {
  uint32_t bits;
  std::memcpy(&bits, qh, 4);
  return (bits >> j) & 1;
}

// Round half to even (the x86 quantizers' _mm256_round_ps / ggml's nearest_int), for |v| < 2^22:
// adding 1.5·2^23 leaves the integer in the low mantissa bits, rounded to even by the FPU.
inline int round_even(float v) {
  const float biased = v + 12582912.f;
  int32_t bits;
  std::memcpy(&bits, &biased, 4);
  return (bits & 0x007fffff) - 0x00400000;
}

// Unsigned values of one legacy block (0..15 for 4-bit, 0..31 for 5-bit), in element order.
inline void unpack_nibbles(const uint8_t* qs, int* q) {
  for (int j = 0; j < 16; j++) {
    q[j] = qs[j] & 0xF;
    q[j + 16] = qs[j] >> 4;
  }
}
inline void unpack_q5(const uint8_t* qs, const uint8_t* qh, int* q) {
  unpack_nibbles(qs, q);
  for (int j = 0; j < 32; j++) q[j] |= q5_high(qh, j) << 4;
}

// Signed integer values of one K-quant super-block (256), and its per-group integer scales.
void unpack_q2_K(const Q2_K& b, int* q) {
  for (int e = 0; e < 256; e++) q[e] = (b.qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3;
}
void unpack_q3_K(const Q3_K& b, int* q) {
  for (int e = 0; e < 256; e++) {
    const int low = (b.qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3;
    const int high = (b.hmask[e % 32] >> (e / 32)) & 1;
    q[e] = low - (high ? 0 : 4);
  }
}
void unpack_q4_K(const Q4_K& b, int* q) {
  for (int e = 0; e < 256; e++) {
    const uint8_t byte = b.qs[(e / 64) * 32 + e % 32];
    q[e] = (e % 64) < 32 ? byte & 0xF : byte >> 4;
  }
}
void unpack_q5_K(const Q5_K& b, int* q) {
  for (int e = 0; e < 256; e++) {
    const uint8_t byte = b.qs[(e / 64) * 32 + e % 32];
    const int low = (e % 64) < 32 ? byte & 0xF : byte >> 4;
    q[e] = low | (((b.qh[e % 32] >> (e / 32)) & 1) << 4);
  }
}
void unpack_q6_K(const Q6_K& b, int* q) {
  for (int e = 0; e < 256; e++) {
    const int h = e / 128, part = (e % 128) / 32, l = e % 32;
    const uint8_t lo = b.ql[h * 64 + (part & 1) * 32 + l];
    const int low = part < 2 ? lo & 0xF : lo >> 4;
    const int high = (b.qh[h * 32 + l] >> (2 * part)) & 3;
    q[e] = (low | (high << 4)) - 32;
  }
}
inline int iq4_xs_scale(const IQ4_XS& b, int ib) {
  return (((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((b.scales_h >> (2 * ib)) & 3) << 4)) - 32;
}

}  // namespace

// ── dequantizers ─────────────────────────────────────────────────────────────────────────────

void dequantize_f32(float* out, const void* x, int64_t n) { std::memcpy(out, x, (size_t)n * 4); }
void dequantize_f16(float* out, const void* x, int64_t n) {
  const uint16_t* h = static_cast<const uint16_t*>(x);
  for (int64_t i = 0; i < n; i++) out[i] = f16_to_f32(h[i]);
}
void dequantize_bf16(float* out, const void* x, int64_t n) {
  const uint16_t* h = static_cast<const uint16_t*>(x);
  for (int64_t i = 0; i < n; i++) out[i] = bf16_to_f32(h[i]);
}

void dequantize_q4_0(float* out, const void* x, int64_t n) {
  const Q4_0* b = static_cast<const Q4_0*>(x);
  int q[32];
  for (int64_t i = 0; i < n / QK; i++, out += QK) {
    const float d = h2f(b[i].d);
    unpack_nibbles(b[i].qs, q);
    for (int j = 0; j < 32; j++) out[j] = (float)(q[j] - 8) * d;
  }
}
void dequantize_q4_1(float* out, const void* x, int64_t n) {
  const Q4_1* b = static_cast<const Q4_1*>(x);
  int q[32];
  for (int64_t i = 0; i < n / QK; i++, out += QK) {
    const float d = h2f(b[i].d), m = h2f(b[i].m);
    unpack_nibbles(b[i].qs, q);
    for (int j = 0; j < 32; j++) out[j] = (float)q[j] * d + m;
  }
}
void dequantize_q5_0(float* out, const void* x, int64_t n) {
  const Q5_0* b = static_cast<const Q5_0*>(x);
  int q[32];
  for (int64_t i = 0; i < n / QK; i++, out += QK) {
    const float d = h2f(b[i].d);
    unpack_q5(b[i].qs, b[i].qh, q);
    for (int j = 0; j < 32; j++) out[j] = (float)(q[j] - 16) * d;
  }
}
void dequantize_q5_1(float* out, const void* x, int64_t n) {
  const Q5_1* b = static_cast<const Q5_1*>(x);
  int q[32];
  for (int64_t i = 0; i < n / QK; i++, out += QK) {
    const float d = h2f(b[i].d), m = h2f(b[i].m);
    unpack_q5(b[i].qs, b[i].qh, q);
    for (int j = 0; j < 32; j++) out[j] = (float)q[j] * d + m;
  }
}
void dequantize_q8_0(float* out, const void* x, int64_t n) {
  const Q8_0* b = static_cast<const Q8_0*>(x);
  for (int64_t i = 0; i < n / QK; i++, out += QK) {
    const float d = h2f(b[i].d);
    for (int j = 0; j < 32; j++) out[j] = (float)b[i].qs[j] * d;
  }
}
void dequantize_iq4_nl(float* out, const void* x, int64_t n) {
  const IQ4_NL* b = static_cast<const IQ4_NL*>(x);
  int q[32];
  for (int64_t i = 0; i < n / QK; i++, out += QK) {
    const float d = h2f(b[i].d);
    unpack_nibbles(b[i].qs, q);
    for (int j = 0; j < 32; j++) out[j] = d * (float)kIq4nlValues[q[j]];
  }
}
void dequantize_q2_K(float* out, const void* x, int64_t n) {
  const Q2_K* b = static_cast<const Q2_K*>(x);
  int q[256];
  for (int64_t i = 0; i < n / QK_K; i++, out += QK_K) {
    const float d = h2f(b[i].d), dmin = h2f(b[i].dmin);
    unpack_q2_K(b[i], q);
    for (int e = 0; e < 256; e++) {
      const uint8_t sc = b[i].scales[e / 16];
      out[e] = d * (float)(sc & 0xF) * (float)q[e] - dmin * (float)(sc >> 4);
    }
  }
}
void dequantize_q3_K(float* out, const void* x, int64_t n) {
  const Q3_K* b = static_cast<const Q3_K*>(x);
  int q[256];
  int8_t sc[16];
  for (int64_t i = 0; i < n / QK_K; i++, out += QK_K) {
    const float d = h2f(b[i].d);
    unpack_q3_K(b[i], q);
    q3k_scales(b[i].scales, sc);
    for (int e = 0; e < 256; e++) out[e] = d * (float)sc[e / 16] * (float)q[e];
  }
}
void dequantize_q4_K(float* out, const void* x, int64_t n) {
  const Q4_K* b = static_cast<const Q4_K*>(x);
  int q[256];
  for (int64_t i = 0; i < n / QK_K; i++, out += QK_K) {
    const float d = h2f(b[i].d), dmin = h2f(b[i].dmin);
    unpack_q4_K(b[i], q);
    for (int g = 0; g < 8; g++) {
      uint8_t sc, m;
      k4_scale_min(g, b[i].scales, &sc, &m);
      const float dg = d * sc, mg = dmin * m;
      for (int l = 0; l < 32; l++) out[g * 32 + l] = dg * (float)q[g * 32 + l] - mg;
    }
  }
}
void dequantize_q5_K(float* out, const void* x, int64_t n) {
  const Q5_K* b = static_cast<const Q5_K*>(x);
  int q[256];
  for (int64_t i = 0; i < n / QK_K; i++, out += QK_K) {
    const float d = h2f(b[i].d), dmin = h2f(b[i].dmin);
    unpack_q5_K(b[i], q);
    for (int g = 0; g < 8; g++) {
      uint8_t sc, m;
      k4_scale_min(g, b[i].scales, &sc, &m);
      const float dg = d * sc, mg = dmin * m;
      for (int l = 0; l < 32; l++) out[g * 32 + l] = dg * (float)q[g * 32 + l] - mg;
    }
  }
}
void dequantize_q6_K(float* out, const void* x, int64_t n) {
  const Q6_K* b = static_cast<const Q6_K*>(x);
  int q[256];
  for (int64_t i = 0; i < n / QK_K; i++, out += QK_K) {
    const float d = h2f(b[i].d);
    unpack_q6_K(b[i], q);
    for (int e = 0; e < 256; e++) out[e] = d * (float)b[i].scales[e / 16] * (float)q[e];
  }
}
void dequantize_iq4_xs(float* out, const void* x, int64_t n) {
  const IQ4_XS* b = static_cast<const IQ4_XS*>(x);
  for (int64_t i = 0; i < n / QK_K; i++, out += QK_K) {
    const float d = h2f(b[i].d);
    for (int ib = 0; ib < 8; ib++) {
      const float dl = d * (float)iq4_xs_scale(b[i], ib);
      const uint8_t* qs = b[i].qs + 16 * ib;
      for (int j = 0; j < 16; j++) {
        out[32 * ib + j] = dl * (float)kIq4nlValues[qs[j] & 0xF];
        out[32 * ib + j + 16] = dl * (float)kIq4nlValues[qs[j] >> 4];
      }
    }
  }
}

// ── activation quantizers ────────────────────────────────────────────────────────────────────

namespace {
// One Q8_0/Q8_1 block as ggml's x86 quantizer computes it; returns d (before f16 rounding) and Σq.
float quantize_block32(const float* x, int8_t* qs, int* sum) {
  float amax = 0.0f;
  for (int j = 0; j < 32; j++) amax = std::fmax(amax, std::fabs(x[j]));
  const float d = amax / 127.f;
  const float id = amax != 0.0f ? 127.f / amax : 0.0f;
  int s = 0;
  for (int j = 0; j < 32; j++) {
    const int v = round_even(x[j] * id);
    qs[j] = (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v);
    s += qs[j];
  }
  *sum = s;
  return d;
}
}  // namespace

void quantize_act_q8_0(void* out, const float* x, int64_t n) {
  Q8_0* y = static_cast<Q8_0*>(out);
  for (int64_t i = 0; i < n / QK; i++) {
    int sum;
    y[i].d = f32_to_f16(quantize_block32(x + i * QK, y[i].qs, &sum));
  }
}
void quantize_act_q8_1(void* out, const float* x, int64_t n) {
  Q8_1* y = static_cast<Q8_1*>(out);
  for (int64_t i = 0; i < n / QK; i++) {
    int sum;
    const float d = quantize_block32(x + i * QK, y[i].qs, &sum);
    y[i].d = f32_to_f16(d);
    y[i].s = f32_to_f16(d * (float)sum);
  }
}
void quantize_act_q8_K(void* out, const float* x, int64_t n) {
  Q8_K* y = static_cast<Q8_K*>(out);
  for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK_K; j++) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      std::memset(&y[i], 0, sizeof(Q8_K));
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < QK_K; j++) {
      const int v = round_even(iscale * x[j]);
      y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
    }
    for (int g = 0; g < 16; g++) {
      int s = 0;
      for (int l = 0; l < 16; l++) s += y[i].qs[g * 16 + l];
      y[i].bsums[g] = (int16_t)s;
    }
    y[i].d = 1 / iscale;
  }
}

// ── dot products ─────────────────────────────────────────────────────────────────────────────

namespace {
inline int dot32(const int* q, const int8_t* y) {
  int s = 0;
  for (int j = 0; j < 32; j++) s += q[j] * y[j];
  return s;
}
}  // namespace

float dot_q4_0(const void* w, const void* a, int64_t n) {
  const Q4_0* x = static_cast<const Q4_0*>(w);
  const Q8_0* y = static_cast<const Q8_0*>(a);
  int q[32];
  float sum = 0.0f;
  for (int64_t i = 0; i < n / QK; i++) {
    unpack_nibbles(x[i].qs, q);
    for (int j = 0; j < 32; j++) q[j] -= 8;
    sum = std::fma((float)dot32(q, y[i].qs), h2f(x[i].d) * h2f(y[i].d), sum);  // llama.cpp's repacked x86 GEMV order
  }
  return sum;
}
float dot_q4_1(const void* w, const void* a, int64_t n) {
  const Q4_1* x = static_cast<const Q4_1*>(w);
  const Q8_1* y = static_cast<const Q8_1*>(a);
  int q[32];
  float sum = 0.0f;
  for (int64_t i = 0; i < n / QK; i++) {
    unpack_nibbles(x[i].qs, q);
    sum += (h2f(x[i].d) * h2f(y[i].d)) * (float)dot32(q, y[i].qs) + h2f(x[i].m) * h2f(y[i].s);
  }
  return sum;
}
float dot_q5_0(const void* w, const void* a, int64_t n) {
  const Q5_0* x = static_cast<const Q5_0*>(w);
  const Q8_0* y = static_cast<const Q8_0*>(a);
  int q[32];
  float sum = 0.0f;
  for (int64_t i = 0; i < n / QK; i++) {
    unpack_q5(x[i].qs, x[i].qh, q);
    for (int j = 0; j < 32; j++) q[j] -= 16;
    sum += (float)dot32(q, y[i].qs) * (h2f(x[i].d) * h2f(y[i].d));
  }
  return sum;
}
float dot_q5_1(const void* w, const void* a, int64_t n) {
  const Q5_1* x = static_cast<const Q5_1*>(w);
  const Q8_1* y = static_cast<const Q8_1*>(a);
  int q[32];
  float sum = 0.0f;
  for (int64_t i = 0; i < n / QK; i++) {
    unpack_q5(x[i].qs, x[i].qh, q);
    sum += (h2f(x[i].d) * h2f(y[i].d)) * (float)dot32(q, y[i].qs) + h2f(x[i].m) * h2f(y[i].s);
  }
  return sum;
}
float dot_q8_0(const void* w, const void* a, int64_t n) {
  const Q8_0* x = static_cast<const Q8_0*>(w);
  const Q8_0* y = static_cast<const Q8_0*>(a);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / QK; i++) {
    int s = 0;
    for (int j = 0; j < 32; j++) s += x[i].qs[j] * y[i].qs[j];
    sum += (float)s * (h2f(x[i].d) * h2f(y[i].d));
  }
  return sum;
}
float dot_iq4_nl(const void* w, const void* a, int64_t n) {
  const IQ4_NL* x = static_cast<const IQ4_NL*>(w);
  const Q8_0* y = static_cast<const Q8_0*>(a);
  int q[32];
  float sum = 0.0f;
  for (int64_t i = 0; i < n / QK; i++) {
    unpack_nibbles(x[i].qs, q);
    for (int j = 0; j < 32; j++) q[j] = kIq4nlValues[q[j]];
    sum = std::fma((float)dot32(q, y[i].qs), h2f(x[i].d) * h2f(y[i].d), sum);  // llama.cpp's repacked x86 GEMV order
  }
  return sum;
}

namespace {
// Σ over 16-value groups g of scale[g] · Σ q·y (integer), for K-quants with 16 groups.
inline int scaled_groups16(const int* q, const int8_t* y, const int* scale) {
  int s = 0;
  for (int g = 0; g < 16; g++) {
    int gs = 0;
    for (int l = 0; l < 16; l++) gs += q[g * 16 + l] * y[g * 16 + l];
    s += scale[g] * gs;
  }
  return s;
}
}  // namespace

float dot_q2_K(const void* w, const void* a, int64_t n) {
  const Q2_K* x = static_cast<const Q2_K*>(w);
  const Q8_K* y = static_cast<const Q8_K*>(a);
  int q[256], sc[16];
  float sum = 0.0f, min_sum = 0.0f;
  for (int64_t i = 0; i < n / QK_K; i++) {
    unpack_q2_K(x[i], q);
    int mins = 0;
    for (int g = 0; g < 16; g++) {
      sc[g] = x[i].scales[g] & 0xF;
      mins += y[i].bsums[g] * (x[i].scales[g] >> 4);
    }
    // llama.cpp's repacked x86 GEMV order: one fma per super-block for each term, subtracted at the end
    sum = std::fma((float)scaled_groups16(q, y[i].qs, sc), h2f(x[i].d) * y[i].d, sum);
    min_sum = std::fma((float)mins, h2f(x[i].dmin) * y[i].d, min_sum);
  }
  return sum - min_sum;
}
float dot_q3_K(const void* w, const void* a, int64_t n) {
  const Q3_K* x = static_cast<const Q3_K*>(w);
  const Q8_K* y = static_cast<const Q8_K*>(a);
  int q[256], sc[16];
  int8_t sc8[16];
  float sum = 0.0f;
  for (int64_t i = 0; i < n / QK_K; i++) {
    unpack_q3_K(x[i], q);
    q3k_scales(x[i].scales, sc8);
    for (int g = 0; g < 16; g++) sc[g] = sc8[g];
    sum += h2f(x[i].d) * y[i].d * (float)scaled_groups16(q, y[i].qs, sc);
  }
  return sum;
}
// Q4_K and Q5_K share their super-block arithmetic (8 groups of 32 with 6-bit scale and min);
// only the unpacking of the quants differs.
template <class Block>
// repacked_order: Q4_K sums as llama.cpp's repacked x86 GEMV does (one fma per super-block for the
// scaled sum and one for the mins, subtracted at the end).
static float dot_k_scale_min(const Block* x, const Q8_K* y, int64_t n, void (*unpack)(const Block&, int*), bool repacked_order) {
  int q[256];
  float sum = 0.0f, min_sum = 0.0f;
  for (int64_t i = 0; i < n / QK_K; i++) {
    unpack(x[i], q);
    int isum = 0, mins = 0;
    for (int g = 0; g < 8; g++) {
      uint8_t sc, m;
      k4_scale_min(g, x[i].scales, &sc, &m);
      isum += sc * dot32(q + 32 * g, y[i].qs + 32 * g);
      mins += m * (y[i].bsums[2 * g] + y[i].bsums[2 * g + 1]);
    }
    if (repacked_order) {
      sum = std::fma((float)isum, h2f(x[i].d) * y[i].d, sum);
      min_sum = std::fma((float)mins, h2f(x[i].dmin) * y[i].d, min_sum);
    } else {
      sum += y[i].d * h2f(x[i].d) * (float)isum - y[i].d * h2f(x[i].dmin) * (float)mins;
    }
  }
  return sum - min_sum;
}
float dot_q4_K(const void* w, const void* a, int64_t n) {
  return dot_k_scale_min(static_cast<const Q4_K*>(w), static_cast<const Q8_K*>(a), n, unpack_q4_K, true);
}
float dot_q5_K(const void* w, const void* a, int64_t n) {
  return dot_k_scale_min(static_cast<const Q5_K*>(w), static_cast<const Q8_K*>(a), n, unpack_q5_K, false);
}
float dot_q6_K(const void* w, const void* a, int64_t n) {
  const Q6_K* x = static_cast<const Q6_K*>(w);
  const Q8_K* y = static_cast<const Q8_K*>(a);
  int q[256], sc[16];
  float sum = 0.0f;
  for (int64_t i = 0; i < n / QK_K; i++) {
    unpack_q6_K(x[i], q);
    for (int g = 0; g < 16; g++) sc[g] = x[i].scales[g];
    sum += h2f(x[i].d) * y[i].d * (float)scaled_groups16(q, y[i].qs, sc);
  }
  return sum;
}
float dot_iq4_xs(const void* w, const void* a, int64_t n) {
  const IQ4_XS* x = static_cast<const IQ4_XS*>(w);
  const Q8_K* y = static_cast<const Q8_K*>(a);
  int q[32];
  float sum = 0.0f;
  for (int64_t i = 0; i < n / QK_K; i++) {
    int isum = 0;
    for (int ib = 0; ib < 8; ib++) {
      unpack_nibbles(x[i].qs + 16 * ib, q);
      for (int j = 0; j < 32; j++) q[j] = kIq4nlValues[q[j]];
      isum += iq4_xs_scale(x[i], ib) * dot32(q, y[i].qs + 32 * ib);
    }
    sum += h2f(x[i].d) * y[i].d * (float)isum;
  }
  return sum;
}

}  // namespace tl::ref
