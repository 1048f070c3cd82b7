// N-API glue of the weight-type table (kernels/weight_types.h):
//   weightTypes() -> { id, name, blockSize, blockBytes, activationType }[]   (the table's rows)
//   dequantizeRows(out: Float32Array, data, type: GGML id, rows, cols)      (scalar reference)
//   quantizeActivations(out: Uint8Array, x: Float32Array, type: 8 | 9 | 15) (Q8_0 / Q8_1 / Q8_K,
//     as matmulT quantizes its input rows; x.length a multiple of the block size)
#include "binding/check.h"
#include "binding/weight_arg.h"
#include "kernels/weight_types.h"

namespace tl::binding {

namespace {

Napi::Value WeightTypes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int n = 0;
  const WeightTypeInfo* t = weight_types(&n);
  Napi::Array out = Napi::Array::New(env, n);
  for (int i = 0; i < n; i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", t[i].id);
    o.Set("name", t[i].name);
    o.Set("blockSize", t[i].block);
    o.Set("blockBytes", t[i].block_bytes);
    o.Set("activationType", t[i].act);
    out.Set(i, o);
  }
  return out;
}

Napi::Value DequantizeRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const WeightTypeInfo& t = weight_type_arg(info, 2, "type");
  const int64_t rows = dim(info, 3, "rows"), cols = dim(info, 4, "cols");
  const WeightData x = weight_data_arg(info, 1, "data", t, rows, cols, "cols");
  const int64_t n = checked_mul(env, rows, cols, "rows * cols");
  auto out = f32_array(info, 0, "out", n, ("[" + std::to_string(rows) + ", " + std::to_string(cols) + "]").c_str());
  const uint8_t* o = reinterpret_cast<const uint8_t*>(out.data);
  const uint8_t* xi = static_cast<const uint8_t*>(x.data);
  if (o < xi + x.bytes && xi < o + out.length * 4) throw_range(env, "out must not overlap data");
  dequantize_rows(out.data, x.data, t, rows, cols);
  return env.Undefined();
}

Napi::Value QuantizeActivations(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() <= 2 || !info[2].IsNumber()) throw_type(env, "type must be a GGML type id (number)");
  const ActTypeInfo* at = act_type(info[2].As<Napi::Number>().Int32Value());
  if (!at || info[2].As<Napi::Number>().DoubleValue() != (double)at->id)
    throw_range(env, "type must be an activation type: q8_0 (8), q8_1 (9) or q8_K (15)");
  auto x = f32_array(info, 1, "x");
  if (x.length % at->block != 0)
    throw_range(env, "x has " + std::to_string(x.length) + " elements, expected a multiple of " +
                         std::to_string(at->block) + " (" + at->name + " blocks)");
  const int64_t blocks = (int64_t)x.length / at->block;
  const std::string shape = "[" + std::to_string(blocks) + " blocks of " + std::to_string(at->block_bytes) + " bytes]";
  auto out = typed_array<uint8_t>(info, 0, "out", napi_uint8_array, blocks * at->block_bytes, shape.c_str());
  active_quantize(*at)(out.data, x.data, (int64_t)x.length);
  return env.Undefined();
}

}  // namespace

void init_weights(Napi::Env env, Napi::Object exports) {
  exports.Set("weightTypes", Napi::Function::New(env, WeightTypes, "weightTypes"));
  exports.Set("dequantizeRows", Napi::Function::New(env, DequantizeRows, "dequantizeRows"));
  exports.Set("quantizeActivations", Napi::Function::New(env, QuantizeActivations, "quantizeActivations"));
}

}  // namespace tl::binding
