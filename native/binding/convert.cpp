// N-API glue of the conversions: argument checks (check.h) → raw pointers → kernels/convert.h.
//   f32ToF16(out: Uint16Array, x: Float32Array)    f16ToF32(out: Float32Array, x: Uint16Array)
//   f32ToBf16(out: Uint16Array, x: Float32Array)   bf16ToF32(out: Float32Array, x: Uint16Array)
//   quantizeQ8_0(out: Uint8Array, x: Float32Array) dequantizeQ8_0(out: Float32Array, x: Uint8Array)
#include "binding/check.h"
#include "kernels/convert.h"

namespace tl::binding {

namespace {

void expect_disjoint(Napi::Env env, const void* out, size_t out_bytes, const void* in, size_t in_bytes) {
  const uint8_t* o = static_cast<const uint8_t*>(out);
  const uint8_t* i = static_cast<const uint8_t*>(in);
  if (out_bytes && in_bytes && o < i + in_bytes && i < o + out_bytes) throw_range(env, "out must not overlap x");
}

// out[i] = convert(x[i]), same element count.
template <class Out, class In>
Napi::Value elementwise(const Napi::CallbackInfo& info, napi_typedarray_type out_kind, napi_typedarray_type in_kind,
                        void (*fn)(Out*, const In*, int64_t)) {
  Napi::Env env = info.Env();
  auto x = typed_array<In>(info, 1, "x", in_kind);
  auto out = typed_array<Out>(info, 0, "out", out_kind, (int64_t)x.length, "[x.length]");
  expect_disjoint(env, out.data, out.length * sizeof(Out), x.data, x.length * sizeof(In));
  fn(out.data, x.data, (int64_t)x.length);
  return env.Undefined();
}

Napi::Value F32ToF16(const Napi::CallbackInfo& info) {
  return elementwise<uint16_t, float>(info, napi_uint16_array, napi_float32_array, f32_to_f16_array);
}
Napi::Value F16ToF32(const Napi::CallbackInfo& info) {
  return elementwise<float, uint16_t>(info, napi_float32_array, napi_uint16_array, f16_to_f32_array);
}
Napi::Value F32ToBf16(const Napi::CallbackInfo& info) {
  return elementwise<uint16_t, float>(info, napi_uint16_array, napi_float32_array, f32_to_bf16_array);
}
Napi::Value Bf16ToF32(const Napi::CallbackInfo& info) {
  return elementwise<float, uint16_t>(info, napi_float32_array, napi_uint16_array, bf16_to_f32_array);
}

Napi::Value QuantizeQ8_0(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto x = typed_array<float>(info, 1, "x", napi_float32_array);
  if (x.length % 32 != 0)
    throw_range(env, "x has " + std::to_string(x.length) + " elements, expected a multiple of 32 (q8_0 blocks)");
  const int64_t blocks = (int64_t)x.length / 32;
  const std::string shape = "[" + std::to_string(blocks) + " blocks of 34 bytes]";
  auto out = typed_array<uint8_t>(info, 0, "out", napi_uint8_array, blocks * 34, shape.c_str());
  expect_disjoint(env, out.data, out.length, x.data, x.length * 4);
  quantize_q8_0(out.data, x.data, (int64_t)x.length);
  return env.Undefined();
}

Napi::Value DequantizeQ8_0(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto x = typed_array<uint8_t>(info, 1, "x", napi_uint8_array);
  if (x.length % 34 != 0)
    throw_range(env, "x has " + std::to_string(x.length) + " bytes, expected a multiple of 34 (q8_0 blocks)");
  const int64_t blocks = (int64_t)x.length / 34;
  const std::string shape = "[" + std::to_string(blocks) + " blocks × 32]";
  auto out = typed_array<float>(info, 0, "out", napi_float32_array, blocks * 32, shape.c_str());
  expect_disjoint(env, out.data, out.length * 4, x.data, x.length);
  dequantize_q8_0(out.data, x.data, blocks * 32);
  return env.Undefined();
}

}  // namespace

void init_convert(Napi::Env env, Napi::Object exports) {
  exports.Set("f32ToF16", Napi::Function::New(env, F32ToF16, "f32ToF16"));
  exports.Set("f16ToF32", Napi::Function::New(env, F16ToF32, "f16ToF32"));
  exports.Set("f32ToBf16", Napi::Function::New(env, F32ToBf16, "f32ToBf16"));
  exports.Set("bf16ToF32", Napi::Function::New(env, Bf16ToF32, "bf16ToF32"));
  exports.Set("quantizeQ8_0", Napi::Function::New(env, QuantizeQ8_0, "quantizeQ8_0"));
  exports.Set("dequantizeQ8_0", Napi::Function::New(env, DequantizeQ8_0, "dequantizeQ8_0"));
}

}  // namespace tl::binding
