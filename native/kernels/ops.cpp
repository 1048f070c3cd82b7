// Dispatch and threading for the row and elementwise ops (ops.h). Work is split over the pool
// only when a call is large enough to pay for waking a thread (~64k elements per thread).
#include "kernels/ops.h"

#include <algorithm>
#include <cstring>

#include "kernels/cpu.h"
#include "kernels/f16.h"
#include "kernels/ops_kernels.h"
#include "kernels/threadpool.h"
#include "kernels/weight_types.h"

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

void relu(float* out, const float* x, int64_t n) {
  auto fn = TL_PICK(relu);
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
// is the table's scalar dequantizer (exact for every type).
void embedding(float* out, const void* table, int type, int64_t rows, int64_t cols, const uint32_t* ids, int64_t n_ids) {
  (void)rows;
  get_rows(out, table, *weight_type(type), cols, ids, n_ids);
}

}  // namespace tl
