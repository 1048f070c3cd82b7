// Sparse MoE feed-forward (see moe.h): routing and grouping here, the arithmetic in the matmul and
// ops kernels (which pick their SIMD variant and split work over the thread pool themselves).
#include "kernels/moe.h"

#include <algorithm>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/weight_types.h"

namespace tl {

namespace {

// Per-thread scratch, grown on demand and reused: no allocation per token once warm.
struct Scratch {
  std::vector<int32_t> chosen, count, start, order;
  std::vector<float> weight, xe, g, u, ye;
};

template <typename V>
typename V::value_type* grow(V& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

}  // namespace

void moe_ffn(float* out, const float* x, float* logits, int64_t T, int64_t dim, const StackedExperts& w, int used) {
  thread_local Scratch s;
  const int64_t E = w.experts, H = w.hidden, k = used;
  softmax(logits, logits, T, E, 1.0f);
  int32_t* chosen = grow(s.chosen, (size_t)(T * k));
  float* weight = grow(s.weight, (size_t)(T * k));
  int32_t* count = grow(s.count, (size_t)E);
  std::fill(count, count + E, 0);
  for (int64_t t = 0; t < T; t++) {
    float* p = logits + t * E;
    double sum = 0;
    for (int64_t j = 0; j < k; j++) {
      int64_t best = -1;
      for (int64_t e = 0; e < E; e++) {
        if (p[e] < 0) continue;  // taken (probabilities are >= 0; taken ones are marked -1)
        if (best < 0 || p[e] > p[best]) best = e;
      }
      chosen[t * k + j] = (int32_t)best;
      weight[t * k + j] = p[best];
      sum += p[best];
      p[best] = -1;
      count[best]++;
    }
    const double inv = 1.0 / std::max(sum, 6.103515625e-5);
    for (int64_t j = 0; j < k; j++) weight[t * k + j] = (float)(weight[t * k + j] * inv);
  }
  // (row, slot) pairs grouped by expert, in increasing (row, slot) order within each expert
  int32_t* start = grow(s.start, (size_t)E + 1);
  start[0] = 0;
  for (int64_t e = 0; e < E; e++) start[e + 1] = start[e] + count[e];
  int32_t* order = grow(s.order, (size_t)(T * k));
  std::fill(count, count + E, 0);
  for (int64_t i = 0; i < T * k; i++) order[start[chosen[i]] + count[chosen[i]]++] = (int32_t)i;

  const WeightTypeInfo* gt = weight_type(w.gate_type);
  const WeightTypeInfo* ut = weight_type(w.up_type);
  const WeightTypeInfo* dt = weight_type(w.down_type);
  const int64_t gate_bytes = H * type_row_bytes(*gt, dim), up_bytes = H * type_row_bytes(*ut, dim);
  const int64_t down_bytes = dim * type_row_bytes(*dt, H);
  std::fill(out, out + T * dim, 0.0f);
  for (int64_t e = 0; e < E; e++) {
    const int64_t n = start[e + 1] - start[e];
    if (n == 0) continue;
    const int32_t* idx = order + start[e];
    float* xe = grow(s.xe, (size_t)(n * dim));
    for (int64_t r = 0; r < n; r++) std::copy_n(x + (idx[r] / k) * dim, dim, xe + r * dim);
    float* g = grow(s.g, (size_t)(n * H));
    float* u = grow(s.u, (size_t)(n * H));
    const Projection gu[2] = {
        {g, static_cast<const uint8_t*>(w.gate) + e * gate_bytes, w.gate_type, H},
        {u, static_cast<const uint8_t*>(w.up) + e * up_bytes, w.up_type, H},
    };
    matmul_t_many(xe, n, dim, gu, 2);
    swiglu(g, g, u, n * H);
    float* ye = grow(s.ye, (size_t)(n * dim));
    matmul_t(ye, g, static_cast<const uint8_t*>(w.down) + e * down_bytes, w.down_type, n, dim, H);
    for (int64_t r = 0; r < n; r++) {
      const double wr = weight[idx[r]];
      float* o = out + (idx[r] / k) * dim;
      const float* y = ye + r * dim;
      for (int64_t d = 0; d < dim; d++) o[d] = (float)((double)o[d] + wr * (double)y[d]);
    }
  }
}

}  // namespace tl
