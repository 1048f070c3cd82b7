// Dispatch for the sampling helpers (sample.h). One row per call, single-threaded: a 32k
// vocabulary takes tens of microseconds, far below what waking a pool thread would pay back.
#include "kernels/sample.h"

#include "kernels/cpu.h"
#include "kernels/sample_kernels.h"

namespace tl {

double sample_weights(float* prob, const float* logits, int64_t n, double inv_temperature) {
#if defined(TL_HAVE_X86_VARIANTS)
  if (active_isa() >= Isa::Avx512) return avx512::sample_weights(prob, logits, n, inv_temperature);
  if (active_isa() == Isa::Avx2) return avx2::sample_weights(prob, logits, n, inv_temperature);
#endif
  return scalar::sample_weights(prob, logits, n, inv_temperature);
}

// Serial by definition (each step rounds the running remainder), so one loop for every ISA.
int64_t sample_draw(const float* prob, int64_t n, double r) {
  for (int64_t j = 0; j < n; j++) {
    r -= (double)prob[j];
    if (r < 0) return j;
  }
  return n - 1;
}

}  // namespace tl
