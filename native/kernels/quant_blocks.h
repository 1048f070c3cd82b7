// GGML block layouts of the quantized types (ggml-common.h), as plain structs. All fields are
// little-endian as stored in GGUF; f16 scales are kept as raw bits (uint16_t).
// Only data and static inline helpers (internal linkage), so every ISA file can include it
// without leaking symbols. Also the layouts of the copies GEMV makes of an activation row.
#pragma once
#include <cstdint>

namespace tl::qb {

constexpr int QK = 32;    // legacy block
constexpr int QK_K = 256; // K-quant super-block

struct Q4_0 { uint16_t d; uint8_t qs[16]; };                 // x = d·(nibble − 8); low nibbles = first 16
struct Q4_1 { uint16_t d, m; uint8_t qs[16]; };              // x = d·nibble + m
struct Q5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; };  // x = d·(nibble | bit<<4 − 16)
struct Q5_1 { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; };
struct Q8_0 { uint16_t d; int8_t qs[32]; };
struct Q8_1 { uint16_t d, s; int8_t qs[32]; };               // s = f16(d · Σ qs)
struct IQ4_NL { uint16_t d; uint8_t qs[16]; };               // x = d·kvalues[nibble]

struct Q2_K { uint8_t scales[16]; uint8_t qs[64]; uint16_t d, dmin; };           // 16 groups of 16
struct Q3_K { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; uint16_t d; };
struct Q4_K { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; };          // 8 groups of 32
struct Q5_K { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; };
struct Q6_K { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; };
struct Q8_K { float d; int8_t qs[256]; int16_t bsums[16]; };                    // bsums: Σ of each 16
struct IQ4_XS { uint16_t d; uint16_t scales_h; uint8_t scales_l[4]; uint8_t qs[128]; };

static_assert(sizeof(Q4_0) == 18 && sizeof(Q4_1) == 20 && sizeof(Q5_0) == 22 && sizeof(Q5_1) == 24, "legacy");
static_assert(sizeof(Q8_0) == 34 && sizeof(Q8_1) == 36 && sizeof(IQ4_NL) == 18, "legacy");
static_assert(sizeof(Q2_K) == 84 && sizeof(Q3_K) == 110 && sizeof(Q4_K) == 144, "k-quants");
static_assert(sizeof(Q5_K) == 176 && sizeof(Q6_K) == 210 && sizeof(Q8_K) == 292 && sizeof(IQ4_XS) == 136, "k-quants");

// In GEMV (M = 1) a Q8_0 activation row of nb blocks is followed (from the next 64-byte boundary)
// by a second copy of its first nb / 4 · 4 blocks, 4 blocks per Q8_0x4, laid out for the Q4_0 /
// IQ4_NL 4-row kernels (512-bit: four blocks per vector, 256-bit: two): chunk c (16 bytes) of `lo`
// holds values 0..15 of block c, of `hi` values 16..31, the four blocks' scales widened to f32
// (each 4 times: lanes 4c..4c+3) and −Σ of each block's 32 values (lane 4c; the other lanes 0). matmul_quant.cpp writes it once per GEMV;
// the kernel, called once per 4 weight rows, would otherwise rebuild it in every call.
struct Q8_0x4 { int8_t lo[64]; int8_t hi[64]; float d[16]; int32_t neg_sum[16]; };
static_assert(sizeof(Q8_0x4) == 256, "four 64-byte vectors");
static inline const Q8_0x4* gemv_act_quads(const void* a, int64_t nb) {
  const uintptr_t end = reinterpret_cast<uintptr_t>(a) + (uintptr_t)(nb * (int64_t)sizeof(Q8_0));
  return reinterpret_cast<const Q8_0x4*>((end + 63) & ~(uintptr_t)63);
}
// Then (and after a Q8_1 row, from its next 64-byte boundary) one ActPair per pair of blocks i,
// i + 1 for the 512-bit Q4_1 / Q5_0 / Q5_1 4-row kernel: [d_i, s_i, d_{i+1}, s_{i+1}] widened to
// f32 (Q8_0: s = 0) and −16 · (Σ of each 4 adjacent values of the two blocks) (Q5_0's offset).
struct ActPair { int32_t neg16_sum4[16]; float ds[4]; int32_t pad[12]; };
static_assert(sizeof(ActPair) == 128, "two 64-byte lines");
template <class Act>
static inline const ActPair* gemv_act_pairs(const void* a, int64_t nb) {
  static_assert(sizeof(Act) == sizeof(Q8_0) || sizeof(Act) == sizeof(Q8_1), "legacy activations");
  const uintptr_t end = reinterpret_cast<uintptr_t>(a) + (uintptr_t)(nb * (int64_t)sizeof(Act));
  const uintptr_t at = (end + 63) & ~(uintptr_t)63;
  return reinterpret_cast<const ActPair*>(at + (sizeof(Act) == sizeof(Q8_0) ? (uintptr_t)(nb / 4 * (int64_t)sizeof(Q8_0x4)) : 0));
}
// Bytes a GEMV Q8_0 / Q8_1 activation row of nb blocks takes with its copies (alignment included).
constexpr int64_t gemv_act_bytes(int64_t nb, bool q8_1) {
  return nb * (int64_t)(q8_1 ? sizeof(Q8_1) : sizeof(Q8_0)) + 63 + (q8_1 ? 0 : nb / 4 * (int64_t)sizeof(Q8_0x4)) +
         nb / 2 * (int64_t)sizeof(ActPair);
}

// In GEMV a Q8_K activation row of nb super-blocks is followed (from the next 64-byte boundary) by
// one Q8_KHalves per super-block, for the IQ4_XS 4-row kernels (the 256-bit one reads lo and hi
// only): for h = 0, 1 (groups 4h ..
// 4h + 3 of 32 values), chunk c (16 bytes) of lo[h] holds values 0..15 of group 4h + c, of hi[h]
// values 16..31, and lane 4c + m of neg128_lo[h] / neg128_hi[h] is −128 · Σ of that chunk's
// values 4m..4m + 3.
struct Q8_KHalves { int8_t lo[2][64]; int8_t hi[2][64]; int32_t neg128_lo[2][16]; int32_t neg128_hi[2][16]; };
static_assert(sizeof(Q8_KHalves) == 512, "eight 64-byte vectors");
static inline const Q8_KHalves* gemv_act_halves(const void* a, int64_t nb) {
  const uintptr_t end = reinterpret_cast<uintptr_t>(a) + (uintptr_t)(nb * (int64_t)sizeof(Q8_K));
  return reinterpret_cast<const Q8_KHalves*>((end + 63) & ~(uintptr_t)63);
}
// Bytes a GEMV Q8_K activation row of nb super-blocks takes with its copy (alignment included).
constexpr int64_t gemv_act_bytes_q8_k(int64_t nb) { return nb * (int64_t)(sizeof(Q8_K) + sizeof(Q8_KHalves)) + 63; }

// IQ4_NL / IQ4_XS's 16 non-linear levels.
alignas(16) static const int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                                    1,    13,   25,  38,  53,  69,  89,  113};

// The 6-bit scale and min of group j (0..7) of a Q4_K / Q5_K super-block (12 packed bytes).
static inline void k4_scale_min(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// The 16 signed 6-bit scales (−32..31) of a Q3_K super-block from its 12 packed bytes.
static inline void q3k_scales(const uint8_t* packed, int8_t* out) {
  for (int j = 0; j < 16; j++) {
    const int low = j < 8 ? packed[j] & 0xF : packed[j - 8] >> 4;
    const int high = (packed[8 + (j & 3)] >> (2 * (j >> 2))) & 3;
    out[j] = (int8_t)((low | (high << 4)) - 32);
  }
}

}  // namespace tl::qb
