// Scalar reference tile kernel for attention (see attention_tile.h): one query row at a time,
// plain loops, std::exp. The SIMD kernels are tested against it.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/attention_tile.h"
#include "kernels/f16.h"

namespace tl::scalar {

static inline float load_kv(const void* base, int64_t i, bool f16) {
  return f16 ? f16_to_f32(static_cast<const uint16_t*>(base)[i]) : static_cast<const float*>(base)[i];
}

void attn_begin(AttnTile* t) {
  for (int r = 0; r < t->R; r++) {
    t->m[r] = -std::numeric_limits<float>::infinity();
    t->l[r] = 0.f;
    for (int d = 0; d < t->D; d++) t->o[(size_t)r * t->D + d] = 0.f;
  }
}

void attn_step(AttnTile* t, int64_t j0, int64_t j1) {
  const int D = t->D;
  float* s = t->scratch;  // scores of one row for this block
  for (int r = 0; r < t->R; r++) {
    const int64_t je = std::min<int64_t>(j1, (int64_t)t->last[r] + 1);
    if (je <= j0) continue;  // this row sees none of these keys
    const float* qr = t->q + (size_t)r * D;
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t j = j0; j < je; j++) {
      float dot = 0.f;
      for (int d = 0; d < D; d++) dot += qr[d] * load_kv(t->k, j * t->kv_stride + d, t->f16);
      if (t->softcap > 0.f) dot = t->softcap * std::tanh(dot / t->softcap);
      if (t->bias) dot += t->bias[r][j];
      s[j - j0] = dot;
      mx = std::max(mx, dot);
    }
    const float m_new = std::max(t->m[r], mx);
    const float alpha = std::exp(t->m[r] - m_new);  // 0 on the first block (m = -inf)
    float* o = t->o + (size_t)r * D;
    for (int d = 0; d < D; d++) o[d] *= alpha;
    float l = t->l[r] * alpha;
    for (int64_t j = j0; j < je; j++) {
      const float pj = std::exp(s[j - j0] - m_new);
      l += pj;
      for (int d = 0; d < D; d++) o[d] += pj * load_kv(t->v, j * t->kv_stride + d, t->f16);
    }
    t->m[r] = m_new;
    t->l[r] = l;
  }
}

void attn_end(AttnTile* t) {
  for (int r = 0; r < t->R; r++) {
    const float inv = 1.f / t->l[r];
    for (int d = 0; d < t->D; d++) t->o[(size_t)r * t->D + d] *= inv;
  }
}

}  // namespace tl::scalar
