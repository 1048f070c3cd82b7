// N-API glue of the matmul family: argument checks (check.h) → raw pointers → kernels/matmul.h.
//   matmulT(out: Float32Array, a: Float32Array, wData, dtype: 'f32'|'f16'|'bf16'|'q8_0', N, K, M)
//   matmul(out: Float32Array, a: Float32Array, b: Float32Array, M, K, N)
#include "binding/check.h"
#include "kernels/matmul.h"

namespace tl::binding {

namespace {

std::string shape2(const char* r, int64_t rv, const char* c, int64_t cv) {
  return std::string("[") + r + "=" + std::to_string(rv) + ", " + c + "=" + std::to_string(cv) + "]";
}

// Throws if two byte ranges overlap (the kernels read inputs while writing out).
void expect_disjoint(Napi::Env env, const void* out, size_t out_bytes, const void* in, size_t in_bytes,
                     const char* in_name) {
  const uint8_t* o = static_cast<const uint8_t*>(out);
  const uint8_t* i = static_cast<const uint8_t*>(in);
  if (out_bytes && in_bytes && o < i + in_bytes && i < o + out_bytes)
    throw_range(env, std::string("out must not overlap ") + in_name);
}

bool parse_weight_type(const std::string& s, WeightType* t) {
  if (s == "f32") *t = WeightType::F32;
  else if (s == "f16") *t = WeightType::F16;
  else if (s == "bf16") *t = WeightType::BF16;
  else if (s == "q8_0") *t = WeightType::Q8_0;
  else return false;
  return true;
}

Napi::Value MatmulT(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[3].IsString()) throw_type(env, "w.dtype must be a string: f32 | f16 | bf16 | q8_0");
  const std::string dtype = info[3].As<Napi::String>();
  WeightType wt;
  if (!parse_weight_type(dtype, &wt)) throw_range(env, "w.dtype must be one of f32 | f16 | bf16 | q8_0, got '" + dtype + "'");
  const int64_t N = dim(info, 4, "w.rows");
  const int64_t K = dim(info, 5, "w.cols");
  const int64_t M = dim(info, 6, "M");
  if (wt == WeightType::Q8_0 && K % 32 != 0)
    throw_range(env, "w.cols must be a multiple of 32 for q8_0 weights, got " + std::to_string(K));
  const int64_t MN = checked_mul(env, M, N, "out (M * w.rows)");
  const int64_t MK = checked_mul(env, M, K, "a (M * w.cols)");
  const int64_t NK = checked_mul(env, N, K, "w (w.rows * w.cols)");
  auto out = f32_array(info, 0, "out", MN, shape2("M", M, "N", N).c_str());
  auto a = f32_array(info, 1, "a", MK, shape2("M", M, "K", K).c_str());
  const std::string wshape = shape2("N", N, "K", K);
  const void* w = nullptr;
  size_t w_bytes = 0;
  switch (wt) {
    case WeightType::F32: {
      auto t = typed_array<float>(info, 2, "w.data (f32)", napi_float32_array, NK, wshape.c_str());
      w = t.data;
      w_bytes = t.length * 4;
      break;
    }
    case WeightType::F16:
    case WeightType::BF16: {
      auto t = typed_array<uint16_t>(info, 2, wt == WeightType::F16 ? "w.data (f16)" : "w.data (bf16)", napi_uint16_array,
                                     NK, wshape.c_str());
      w = t.data;
      w_bytes = t.length * 2;
      break;
    }
    case WeightType::Q8_0: {
      const std::string qshape = wshape + " as " + std::to_string(N * (K / 32)) + " blocks of 34 bytes";
      auto t = typed_array<uint8_t>(info, 2, "w.data (q8_0)", napi_uint8_array, N * (K / 32) * 34, qshape.c_str());
      w = t.data;
      w_bytes = t.length;
      break;
    }
  }
  expect_disjoint(env, out.data, out.length * 4, a.data, a.length * 4, "a");
  expect_disjoint(env, out.data, out.length * 4, w, w_bytes, "w.data");
  matmul_t(out.data, a.data, w, wt, M, N, K);
  return env.Undefined();
}

Napi::Value Matmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t M = dim(info, 3, "M");
  const int64_t K = dim(info, 4, "K");
  const int64_t N = dim(info, 5, "N");
  const int64_t MN = checked_mul(env, M, N, "out (M * N)");
  const int64_t MK = checked_mul(env, M, K, "a (M * K)");
  const int64_t KN = checked_mul(env, K, N, "b (K * N)");
  auto out = f32_array(info, 0, "out", MN, shape2("M", M, "N", N).c_str());
  auto a = f32_array(info, 1, "a", MK, shape2("M", M, "K", K).c_str());
  auto b = f32_array(info, 2, "b", KN, shape2("K", K, "N", N).c_str());
  expect_disjoint(env, out.data, out.length * 4, a.data, a.length * 4, "a");
  expect_disjoint(env, out.data, out.length * 4, b.data, b.length * 4, "b");
  matmul(out.data, a.data, b.data, M, K, N);
  return env.Undefined();
}

}  // namespace

void init_matmul(Napi::Env env, Napi::Object exports) {
  exports.Set("matmulT", Napi::Function::New(env, MatmulT, "matmulT"));
  exports.Set("matmul", Napi::Function::New(env, Matmul, "matmul"));
}

}  // namespace tl::binding
