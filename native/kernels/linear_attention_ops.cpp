// The small ops around a Gated DeltaNet layer (linear_attention_ops.h).
#include "kernels/linear_attention_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

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
  // Channels are independent: split them over threads; each thread walks its channels over time.
  const int64_t grain = std::max<int64_t>(8, kMinElemsPerThread / std::max<int64_t>(1, T * K));
  parallel_for(C, grain, [&](int64_t c0, int64_t c1, int) {
    std::vector<float> win((size_t)(W + T));  // in = state ++ x, one channel
    for (int64_t c = c0; c < c1; c++) {
      for (int64_t w = 0; w < W; w++) win[w] = state[w * C + c];
      for (int64_t t = 0; t < T; t++) win[W + t] = x[t * C + c];
      const float* wc = weight + c * K;
      for (int64_t t = 0; t < T; t++) {
        float s = 0.f;
        for (int64_t w = 0; w < K; w++) s += win[t + w] * wc[w];
        out[t * C + c] = silu ? s * sigmoid(s) : s;
      }
      for (int64_t w = 0; w < W; w++) state[w * C + c] = win[T + w];
    }
  });
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
  parallel_for(rows, std::max<int64_t>(1, kMinElemsPerThread / dim), [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; r++) {
      const float* xr = x + r * dim;
      const float* zr = z + r * dim;
      float s = 0.f;
      for (int64_t i = 0; i < dim; i++) s += xr[i] * xr[i];
      const float inv = 1.f / std::sqrt(s / (float)dim + eps);
      for (int64_t i = 0; i < dim; i++) out[r * dim + i] = xr[i] * inv * weight[i] * (zr[i] * sigmoid(zr[i]));
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
