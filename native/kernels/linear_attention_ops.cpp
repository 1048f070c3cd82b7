// The small ops around a Gated DeltaNet layer (linear_attention_ops.h).
#include "kernels/linear_attention_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/ops.h"
#include "kernels/threadpool.h"

namespace tl {

namespace {
constexpr int64_t kMinElemsPerThread = 1 << 15;

inline float sigmoid(float x) { return 1.f / (1.f + std::exp(-x)); }
// log(1 + eˣ) without overflow; above 20 it equals x in f32 (ggml uses the same cut-off).
inline float softplus(float x) { return x > 20.f ? x : std::log1p(std::exp(x)); }
}  // namespace

void conv1d_causal(float* out, const float* x, float* state, const float* weight, int64_t T, int64_t C, int64_t K,
                   bool silu) {
  const int64_t W = K - 1;
  // Row-major over time, vectorizable across channels: each thread takes a block of channels and
  // for every t sums K shifted input rows (in = state ++ x) times the taps, read from a transposed
  // copy of its block's weights. Rows of x are read once per tap in contiguous runs, never by column.
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (C + kBlock - 1) / kBlock;
  const int64_t grain = std::max<int64_t>(1, kMinElemsPerThread / std::max<int64_t>(1, T * K * kBlock));
  parallel_for(blocks, grain, [&](int64_t b0, int64_t b1, int) {
    float wt[kBlock * 16];  // taps of the block, [K][block] (K ≤ 16 here; larger K takes the slow path)
    for (int64_t blk = b0; blk < b1; blk++) {
      const int64_t c0 = blk * kBlock, nc = std::min(kBlock, C - c0);
      const bool fast = K <= 16;
      if (fast)
        for (int64_t c = 0; c < nc; c++)
          for (int64_t w = 0; w < K; w++) wt[w * kBlock + c] = weight[(c0 + c) * K + w];
      auto in_row = [&](int64_t i) { return i < W ? state + i * C + c0 : x + (i - W) * C + c0; };
      for (int64_t t = 0; t < T; t++) {
        float* __restrict o = out + t * C + c0;
        if (fast) {
          for (int64_t c = 0; c < nc; c++) o[c] = 0.f;
          for (int64_t w = 0; w < K; w++) {
            const float* __restrict src = in_row(t + w);
            const float* __restrict tap = wt + w * kBlock;
            for (int64_t c = 0; c < nc; c++) o[c] += src[c] * tap[c];
          }
        } else {
          for (int64_t c = 0; c < nc; c++) {
            float s = 0.f;
            for (int64_t w = 0; w < K; w++) s += in_row(t + w)[c] * weight[(c0 + c) * K + w];
            o[c] = s;
          }
        }
      }
      // state ← the last W rows of in (rows T .. T+W-1); when T < W part of it is the old state,
      // so shift forward in increasing row order (row i + T ≥ i never overwritten before it is read).
      for (int64_t i = 0; i < W; i++) {
        const float* src = in_row(T + i);
        if (src != state + i * C + c0) std::memmove(state + i * C + c0, src, (size_t)nc * sizeof(float));
      }
    }
  });
  if (silu) tl::silu(out, out, T * C);  // the vectorized SiLU of the ops family, in place
}

void l2norm_rows(float* out, const float* x, int64_t rows, int64_t dim, float eps) {
  parallel_for(rows, std::max<int64_t>(1, kMinElemsPerThread / dim), [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; r++) {
      const float* xr = x + r * dim;
      float s = 0.f;
      for (int64_t i = 0; i < dim; i++) s += xr[i] * xr[i];
      const float inv = 1.f / std::sqrt(s + eps);
      for (int64_t i = 0; i < dim; i++) out[r * dim + i] = xr[i] * inv;
    }
  });
}

void rmsnorm_gated(float* out, const float* x, const float* z, const float* weight, int64_t rows, int64_t dim,
                   float eps) {
  static thread_local std::vector<float> gate;  // silu(z), from the vectorized SiLU of the ops family
  if (gate.size() < (size_t)(rows * dim)) gate.resize((size_t)(rows * dim));
  float* sz = gate.data();
  tl::silu(sz, z, rows * dim);
  parallel_for(rows, std::max<int64_t>(1, kMinElemsPerThread / dim), [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; r++) {
      const float* xr = x + r * dim;
      const float* gr = sz + r * dim;
      float s = 0.f;
      for (int64_t i = 0; i < dim; i++) s += xr[i] * xr[i];
      const float inv = 1.f / std::sqrt(s / (float)dim + eps);
      for (int64_t i = 0; i < dim; i++) out[r * dim + i] = xr[i] * inv * weight[i] * gr[i];
    }
  });
}

void delta_gates(float* g, float* beta, const float* alpha, const float* beta_raw, const float* dt_bias,
                 const float* a, int64_t T, int64_t H) {
  for (int64_t t = 0; t < T; t++)
    for (int64_t h = 0; h < H; h++) {
      const int64_t i = t * H + h;
      g[i] = softplus(alpha[i] + dt_bias[h]) * a[h];
      beta[i] = sigmoid(beta_raw[i]);
    }
}

void sigmoid_mul(float* out, const float* x, const float* gate, int64_t n) {
  parallel_for(n, kMinElemsPerThread, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; i++) out[i] = x[i] * sigmoid(gate[i]);
  });
}

}  // namespace tl
