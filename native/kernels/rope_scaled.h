// Scaled RoPE's cos/sin table (Llama 3 frequency divisors, linear interpolation, YaRN, LongRoPE),
// in ggml's float recipe (ggml_rope_cache_init + rope_yarn), step for step in f32:
//   theta_scale = powf(base, -2/dims); theta_0 = (float)pos; theta_{i+1} = theta_i * theta_scale
//   extrap = theta_i / ff[i]; interp = freq_scale * extrap
//   angle = ramp ? interp * (1 - ramp[i]) + extrap * ramp[i] : interp     (each product rounded)
//   cos/sin = cosf/sinf(angle) * mscale  (the C library's, as ggml calls them)
// The caller computes the per-pair YaRN ramp and the magnitude (ts/layers/rope-table.ts), as
// ggml computes them once per call.
#pragma once
#include <cstdint>

namespace tl {

struct ScaledRopeParams {
  int dims = 0;                           // rotated dimensions per head (even)
  float base = 10000.0f;                  // rope.freq_base
  float freq_scale = 1.0f;                // 1 / factor (1 for Llama 3's divisors)
  const float* freq_factors = nullptr;    // dims/2 divisors or null
  const float* ramp = nullptr;            // dims/2 YaRN ramp mixes or null (no YaRN)
  float mscale = 1.0f;                    // cos/sin magnitude
};

// table[(p * dims/2 + i) * 2 + {0: cos, 1: sin}] for positions pos0 .. pos0+npos-1.
void rope_scaled_table(float* table, int64_t pos0, int64_t npos, const ScaledRopeParams& p);

}  // namespace tl
