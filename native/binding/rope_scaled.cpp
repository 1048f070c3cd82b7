// ropeScaledTable(table, pos0, npos, dims, base, freqScale, freqFactors, ramp, mscale)
//   table: Float32Array [npos, dims/2, 2] (cos, sin), filled for positions pos0 .. pos0+npos-1
//   freqFactors, ramp: Float32Array [dims/2] or null (see kernels/rope_scaled.h)
#include <cmath>
#include <string>

#include "binding/check.h"
#include "kernels/rope_scaled.h"

namespace tl::binding {

namespace {

constexpr int64_t kMaxDims = 4096;
constexpr int64_t kMaxPositions = ((int64_t)1 << 31) - 1;

const float* optional_pairs(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t half) {
  if (index >= info.Length() || info[index].IsNull() || info[index].IsUndefined()) return nullptr;
  return f32_array(info, index, name, half, "[dims/2]").data;
}

float finite_f32(const Napi::CallbackInfo& info, size_t index, const char* name) {
  const double v = number(info, index, name);
  if (!std::isfinite(v)) throw_range(info.Env(), std::string(name) + " must be finite");
  return (float)v;
}

Napi::Value RopeScaledTable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t pos0 = dim(info, 1, "pos0", 0, kMaxPositions);
  const int64_t npos = dim(info, 2, "npos", 0, kMaxPositions - pos0);
  const int64_t dims = dim(info, 3, "dims", 2, kMaxDims);
  if (dims % 2 != 0) throw_range(env, "dims must be even, got " + std::to_string(dims));
  ScaledRopeParams p;
  p.dims = (int)dims;
  p.base = finite_f32(info, 4, "base");
  if (!(p.base > 0)) throw_range(env, "base must be > 0");
  p.freq_scale = finite_f32(info, 5, "freqScale");
  p.freq_factors = optional_pairs(info, 6, "freqFactors", dims / 2);
  p.ramp = optional_pairs(info, 7, "ramp", dims / 2);
  p.mscale = finite_f32(info, 8, "mscale");
  auto table = f32_array(info, 0, "table", checked_mul(env, npos, dims, "npos*dims"), "[npos, dims/2, 2]");
  rope_scaled_table(table.data, pos0, npos, p);
  return env.Undefined();
}

}  // namespace

void init_rope_scaled(Napi::Env env, Napi::Object exports) {
  exports.Set("ropeScaledTable", Napi::Function::New(env, RopeScaledTable, "ropeScaledTable"));
}

}  // namespace tl::binding
