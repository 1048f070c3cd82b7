// N-API glue for the sampling helpers (kernels/sample.h): argument checks → kernels.
//
//   sampleWeights(prob, logits, invTemperature) -> sum (NaN: a NaN logit or no finite maximum)
//   sampleDraw(prob, n, r) -> index
#include <cmath>
#include <string>

#include "binding/check.h"
#include "kernels/sample.h"

namespace tl::binding {

namespace {

Napi::Value SampleWeights(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto logits = f32_array(info, 1, "logits");
  if (logits.length == 0) throw_range(env, "logits must have at least one element");
  const std::string shape = "[" + std::to_string(logits.length) + "] like logits";
  auto prob = f32_array(info, 0, "prob", (int64_t)logits.length, shape.c_str());
  const double inv_t = number(info, 2, "invTemperature");
  if (!(inv_t > 0) || !std::isfinite(inv_t)) throw_range(env, "invTemperature must be a finite number > 0");
  return Napi::Number::New(env, sample_weights(prob.data, logits.data, (int64_t)logits.length, inv_t));
}

Napi::Value SampleDraw(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto prob = f32_array(info, 0, "prob");
  if (prob.length == 0) throw_range(env, "prob must have at least one element");
  const int64_t n = dim(info, 1, "n", 1, (int64_t)prob.length);
  const double r = number(info, 2, "r");
  if (!(r >= 0) || !std::isfinite(r)) throw_range(env, "r must be a finite number >= 0");
  return Napi::Number::New(env, (double)sample_draw(prob.data, n, r));
}

}  // namespace

void init_sample(Napi::Env env, Napi::Object exports) {
  exports.Set("sampleWeights", Napi::Function::New(env, SampleWeights, "sampleWeights"));
  exports.Set("sampleDraw", Napi::Function::New(env, SampleDraw, "sampleDraw"));
}

}  // namespace tl::binding
