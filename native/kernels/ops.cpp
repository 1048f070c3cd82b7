// Dispatch and threading for the row and elementwise ops (ops.h). Work is split over the pool
// only when a call is large enough to pay for waking a thread (~64k elements per thread).
#include "kernels/ops.h"

#include <algorithm>
#include <cstring>

#include "kernels/cpu.h"
#include "kernels/f16.h"
#include "kernels/ops_kernels.h"
#include "kernels/threadpool.h"

namespace tl {

namespace {

constexpr int64_t kMinElemsPerThread = 1 << 16;

// Picks the variant for the active ISA. AVX-512 machines run the AVX-512 kernels.
#if defined(TL_HAVE_X86_VARIANTS)
#define TL_PICK(fn) (active_isa() >= Isa::Avx512 ? avx512::fn : active_isa() == Isa::Avx2 ? avx2::fn : scalar::fn)
#else
#define TL_PICK(fn) (scalar::fn)
#endif

// Rows of `len` elements, split so that each thread gets >= kMinElemsPerThread elements.
template <class F>
void for_rows(int64_t rows, int64_t len, F&& f) {
  const int64_t grain = std::max<int64_t>(1, kMinElemsPerThread / std::max<int64_t>(1, len));
  parallel_for(rows, grain, [&](int64_t b, int64_t e, int) { f(b, e); });
}

// Flat elementwise ranges, split on 64-byte boundaries.
template <class F>
void for_elems(int64_t n, F&& f) {
  const int64_t chunks = (n + 15) / 16;
  parallel_for(chunks, kMinElemsPerThread / 16, [&](int64_t b, int64_t e, int) {
    const int64_t i0 = b * 16, i1 = std::min(n, e * 16);
    f(i0, i1 - i0);
  });
}

}  // namespace

void rmsnorm(float* out, const float* x, const float* w, int64_t rows, int64_t dim, float eps) {
  auto fn = TL_PICK(rmsnorm_rows);
  for_rows(rows, dim, [&](int64_t b, int64_t e) { fn(out + b * dim, x + b * dim, w, e - b, dim, eps); });
}

void layernorm(float* out, const float* x, const float* w, const float* bias, int64_t rows, int64_t dim, float eps) {
  auto fn = TL_PICK(layernorm_rows);
  for_rows(rows, dim, [&](int64_t b, int64_t e) { fn(out + b * dim, x + b * dim, w, bias, e - b, dim, eps); });
}

void softmax(float* out, const float* x, int64_t rows, int64_t cols, float temperature) {
  auto fn = TL_PICK(softmax_rows);
  const float inv_t = 1.f / temperature;
  for_rows(rows, cols * 4, [&](int64_t b, int64_t e) { fn(out + b * cols, x + b * cols, e - b, cols, inv_t); });
}

void gelu(float* out, const float* x, int64_t n, GeluKind kind) {
  auto fn = kind == GeluKind::Tanh ? TL_PICK(gelu_tanh) : TL_PICK(gelu_erf);
  for_elems(n, [&](int64_t i, int64_t len) { fn(out + i, x + i, len); });
}

void silu(float* out, const float* x, int64_t n) {
  auto fn = TL_PICK(silu);
  for_elems(n, [&](int64_t i, int64_t len) { fn(out + i, x + i, len); });
}

void swiglu(float* out, const float* gate, const float* up, int64_t n) {
  auto fn = TL_PICK(swiglu);
  for_elems(n, [&](int64_t i, int64_t len) { fn(out + i, gate + i, up + i, len); });
}

void add(float* out, const float* a, const float* b, int64_t n) {
  auto fn = TL_PICK(add);
  for_elems(n, [&](int64_t i, int64_t len) { fn(out + i, a + i, b + i, len); });
}

void mul(float* out, const float* a, const float* b, int64_t n) {
  auto fn = TL_PICK(mul);
  for_elems(n, [&](int64_t i, int64_t len) { fn(out + i, a + i, b + i, len); });
}

int64_t argmax(const float* x, int64_t n) { return TL_PICK(argmax)(x, n); }

// One row per token: conversion cost is negligible next to the rest of a forward step, so this
// stays scalar (the f16/bf16 decoders of f16.h are exact).
void embedding(float* out, const void* table, TableType type, int64_t rows, int64_t cols, const uint32_t* ids, int64_t n_ids) {
  (void)rows;
  for (int64_t i = 0; i < n_ids; i++) {
    float* dst = out + i * cols;
    const int64_t row = ids[i];
    switch (type) {
      case TableType::F32:
        std::memcpy(dst, static_cast<const float*>(table) + row * cols, cols * sizeof(float));
        break;
      case TableType::F16: {
        const uint16_t* src = static_cast<const uint16_t*>(table) + row * cols;
        for (int64_t c = 0; c < cols; c++) dst[c] = f16_to_f32(src[c]);
        break;
      }
      case TableType::BF16: {
        const uint16_t* src = static_cast<const uint16_t*>(table) + row * cols;
        for (int64_t c = 0; c < cols; c++) dst[c] = bf16_to_f32(src[c]);
        break;
      }
      case TableType::Q8_0: {
        const int64_t blocks = cols / kQ8Block;
        const uint8_t* src = static_cast<const uint8_t*>(table) + row * blocks * kQ8BlockBytes;
        for (int64_t bi = 0; bi < blocks; bi++) {
          const uint8_t* blk = src + bi * kQ8BlockBytes;
          uint16_t scale_bits;
          std::memcpy(&scale_bits, blk, 2);  // little-endian, as GGUF stores it
          const float scale = f16_to_f32(scale_bits);
          const int8_t* q = reinterpret_cast<const int8_t*>(blk + 2);
          for (int k = 0; k < kQ8Block; k++) dst[bi * kQ8Block + k] = scale * (float)q[k];
        }
        break;
      }
    }
  }
}

}  // namespace tl
