// The reference sampling weights (sample_kernels.h): the JS loop in C++, std::exp in double.
#include <cmath>
#include <cstdint>

#include "kernels/sample_kernels.h"

namespace tl::scalar {

double sample_weights(float* prob, const float* logits, int64_t n, double inv_temperature) {
  // Math.max semantics: any NaN makes the maximum NaN; ±inf maxima are refused as well.
  float m = -INFINITY;
  bool nan = false;
  for (int64_t i = 0; i < n; i++) {
    const float v = logits[i];
    if (v != v) nan = true;
    else if (v > m) m = v;
  }
  if (nan || !std::isfinite(m)) return NAN;
  const double md = m;
  double sum = 0;
  for (int64_t i = 0; i < n; i++) {
    const double p = std::exp(((double)logits[i] - md) * inv_temperature);
    prob[i] = (float)p;
    sum += p;
  }
  return sum;
}

}  // namespace tl::scalar
