// Sampling helpers over one row of logits (the generation loop's per-token cost beside the
// forward pass): the softmax weights of a temperature draw and the cumulative draw itself.
// Both reproduce ts/backend/js/sampling.ts, the reference the Sampler used before it had native
// help: weights are computed in double (as Math.exp would), stored as f32, summed in double.
#pragma once
#include <cstdint>

namespace tl {

// prob[i] = exp((logits[i] − max)·inv_temperature), evaluated in double and rounded to f32, for
// i < n (n ≥ 1); returns the double sum of the unrounded weights. Returns NaN (prob unspecified)
// when a logit is NaN or the maximum is not finite — the row has nothing to sample from.
double sample_weights(float* prob, const float* logits, int64_t n, double inv_temperature);

// The first j < n with r − prob[0] − … − prob[j] < 0, subtracted one by one in order in double
// (so the result is exactly the JS loop's); n − 1 when rounding leaves r ≥ 0 at the end.
int64_t sample_draw(const float* prob, int64_t n, double r);

}  // namespace tl
