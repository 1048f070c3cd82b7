#include "kernels/rope_scaled.h"

#include <cmath>

#include "kernels/threadpool.h"

namespace tl {

void rope_scaled_table(float* table, int64_t pos0, int64_t npos, const ScaledRopeParams& p) {
  const int half = p.dims / 2;
  const float theta_scale = ::powf(p.base, -2.0f / (float)p.dims);
  parallel_for(npos, 64, [&](int64_t b, int64_t e, int) {
    for (int64_t q = b; q < e; q++) {
      float* row = table + q * (int64_t)p.dims;
      float theta = (float)(pos0 + q);
      for (int i = 0; i < half; i++) {
        const float extrap = p.freq_factors ? theta / p.freq_factors[i] : theta;
        const float interp = p.freq_scale * extrap;
        float angle = interp;
        if (p.ramp) {
          // separate roundings, as the JS fallback (no contraction: this file is built without -mfma)
          const float a = interp * (1.0f - p.ramp[i]);
          const float c = extrap * p.ramp[i];
          angle = a + c;
        }
        row[2 * i] = ::cosf(angle) * p.mscale;
        row[2 * i + 1] = ::sinf(angle) * p.mscale;
        theta *= theta_scale;
      }
    }
  });
}

}  // namespace tl
