// Scalar reference for the row and elementwise ops (ops_kernels.h): plain loops, double
// accumulators for the norms, libm for exp/tanh/erfc. The SIMD variants are tested against it.
#include <cmath>

#include "kernels/ops_kernels.h"

namespace tl::scalar {

void rmsnorm_rows(float* out, const float* x, const float* w, int64_t rows, int64_t dim, float eps) {
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * dim;
    float* yr = out + r * dim;
    const float inv = rms_scale_ggml(xr, dim, eps);
    for (int64_t i = 0; i < dim; i++) yr[i] = xr[i] * inv * w[i];
  }
}

void layernorm_rows(float* out, const float* x, const float* w, const float* b, int64_t rows, int64_t dim, float eps) {
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * dim;
    float* yr = out + r * dim;
    double sum = 0;
    for (int64_t i = 0; i < dim; i++) sum += xr[i];
    const double mean = sum / dim;
    double var = 0;
    for (int64_t i = 0; i < dim; i++) var += (xr[i] - mean) * (xr[i] - mean);
    const float inv = (float)(1.0 / std::sqrt(var / dim + eps));
    const float mf = (float)mean;
    for (int64_t i = 0; i < dim; i++) yr[i] = (xr[i] - mf) * inv * w[i] + (b ? b[i] : 0.f);
  }
}

void softmax_rows(float* out, const float* x, int64_t rows, int64_t cols, float inv_temperature) {
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * cols;
    float* yr = out + r * cols;
    float mx = -INFINITY;
    for (int64_t i = 0; i < cols; i++) mx = std::fmax(mx, xr[i]);
    double sum = 0;
    for (int64_t i = 0; i < cols; i++) {
      yr[i] = std::exp((xr[i] - mx) * inv_temperature);
      sum += yr[i];
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < cols; i++) yr[i] *= inv;
  }
}

void gelu_tanh(float* out, const float* x, int64_t n) {
  const double k = std::sqrt(2.0 / M_PI);
  for (int64_t i = 0; i < n; i++) {
    const double v = x[i];
    out[i] = (float)(0.5 * v * (1.0 + std::tanh(k * (v + 0.044715 * v * v * v))));
  }
}

void gelu_erf(float* out, const float* x, int64_t n) {
  // 0.5·x·erfc(-x/√2) == 0.5·x·(1 + erf(x/√2)) without the cancellation for negative x.
  for (int64_t i = 0; i < n; i++) {
    const double v = x[i];
    out[i] = (float)(0.5 * v * std::erfc(-v * M_SQRT1_2));
  }
}

void silu(float* out, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = (float)(x[i] / (1.0 + std::exp(-(double)x[i])));
}

void relu(float* out, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = x[i] > 0.f ? x[i] : 0.f;
}

void swiglu(float* out, const float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const double g = gate[i];
    out[i] = (float)(g / (1.0 + std::exp(-g)) * up[i]);
  }
}

void add(float* out, const float* a, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void mul(float* out, const float* a, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = a[i] * b[i];
}

int64_t argmax(const float* x, int64_t n) {
  int64_t best = 0;
  float bv = -INFINITY;
  for (int64_t i = 0; i < n; i++)
    if (x[i] > bv) {
      bv = x[i];
      best = i;
    }
  return best;
}

}  // namespace tl::scalar
