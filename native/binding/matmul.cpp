// N-API glue of the matmul family: argument checks (check.h) → raw pointers → kernels/matmul.h.
//   matmulT(out: Float32Array, a: Float32Array, wData, type: GGML type id, N, K, M)
//     wData: Float32Array (f32), Uint16Array (f16, bf16) or Uint8Array of blocks (quantized types)
//   matmulTMany(a: Float32Array, M, K, projections: { out, data, type, rows }[])
//   matmul(out: Float32Array, a: Float32Array, b: Float32Array, M, K, N)
#include "binding/check.h"
#include "binding/weight_arg.h"
#include "kernels/matmul.h"

namespace tl::binding {

namespace {

std::string shape2(const char* r, int64_t rv, const char* c, int64_t cv) {
  return std::string("[") + r + "=" + std::to_string(rv) + ", " + c + "=" + std::to_string(cv) + "]";
}

// Throws if two byte ranges overlap (the kernels read inputs while writing out).
// in_name: text or a callable that builds it (shape_text, check.h).
template <class Name>
void expect_disjoint(Napi::Env env, const void* out, size_t out_bytes, const void* in, size_t in_bytes,
                     const Name& in_name) {
  const uint8_t* o = static_cast<const uint8_t*>(out);
  const uint8_t* i = static_cast<const uint8_t*>(in);
  if (out_bytes && in_bytes && o < i + in_bytes && i < o + out_bytes)
    throw_range(env, "out must not overlap " + shape_text(in_name));
}

Napi::Value MatmulT(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const WeightTypeInfo& t = weight_type_arg(info, 3, "w.type");
  const int64_t N = dim(info, 4, "w.rows");
  const int64_t K = dim(info, 5, "w.cols");
  const int64_t M = dim(info, 6, "M");
  const int64_t MN = checked_mul(env, M, N, "out (M * w.rows)");
  const int64_t MK = checked_mul(env, M, K, "a (M * w.cols)");
  auto out = f32_array(info, 0, "out", MN, [&] { return shape2("M", M, "N", N); });
  auto a = f32_array(info, 1, "a", MK, [&] { return shape2("M", M, "K", K); });
  const WeightData w = weight_data_arg(info, 2, "w.data", t, N, K, "w.cols");
  expect_disjoint(env, out.data, out.length * 4, a.data, a.length * 4, "a");
  expect_disjoint(env, out.data, out.length * 4, w.data, w.bytes, "w.data");
  matmul_t(out.data, a.data, w.data, t.id, M, N, K);
  return env.Undefined();
}

// matmulTMany(a: Float32Array, M, K, projections: { out, data, type, rows }[]): every
// out = a · dataᵀ, with a quantized once per activation type (Q/K/V, gate/up in one call).
Napi::Value MatmulTMany(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t M = dim(info, 1, "M");
  const int64_t K = dim(info, 2, "K");
  auto a = f32_array(info, 0, "a", checked_mul(env, M, K, "a (M * K)"), [&] { return shape2("M", M, "K", K); });
  if (info.Length() <= 3 || !info[3].IsArray()) throw_type(env, "projections must be an array of { out, data, type, rows }");
  Napi::Array list = info[3].As<Napi::Array>();
  const uint32_t count = list.Length();
  if (count < 1 || count > 16) throw_range(env, "projections must hold 1 to 16 entries, got " + std::to_string(count));
  Projection p[16];
  for (uint32_t i = 0; i < count; i++) {
    // error texts are built only when thrown (this runs ~25 times a decode step)
    const auto at = [i] { return "projections[" + std::to_string(i) + "]"; };
    Napi::Value v = list.Get(i);
    if (!v.IsObject()) throw_type(env, at() + " must be an object { out, data, type, rows }");
    Napi::Object o = v.As<Napi::Object>();
    Napi::Value type = o.Get("type"), rows = o.Get("rows");
    if (!type.IsNumber()) throw_type(env, at() + ".type must be a GGML type id (number)");
    const WeightTypeInfo* t = weight_type(type.As<Napi::Number>().Int32Value());
    if (!t || type.As<Napi::Number>().DoubleValue() != (double)t->id)
      throw_range(env, at() + ".type is not a weight type tensorloom computes with (" + weight_type_list() + ")");
    if (!rows.IsNumber()) throw_type(env, at() + ".rows must be a number");
    const double rd = rows.As<Napi::Number>().DoubleValue();
    if (!(rd >= 1 && rd <= (double)((int64_t)1 << 40) && rd == (double)(int64_t)rd))
      throw_range(env, at() + ".rows must be a positive integer, got " + std::to_string(rd));
    const int64_t N = (int64_t)rd;
    const auto data_name = [&] { return at() + ".data"; };
    const WeightData w = weight_data_value(env, o.Get("data"), data_name, *t, N, K, "K");
    auto out = typed_array_value<float>(env, o.Get("out"), [&] { return at() + ".out"; }, napi_float32_array,
                                        checked_mul(env, M, N, "out"), [&] { return shape2("M", M, "N", N); });
    expect_disjoint(env, out.data, out.length * 4, a.data, a.length * 4, "a");
    expect_disjoint(env, out.data, out.length * 4, w.data, w.bytes, data_name);
    for (uint32_t j = 0; j < i; j++)
      expect_disjoint(env, out.data, out.length * 4, p[j].out, (size_t)(M * p[j].N * 4), "another projection's out");
    p[i] = Projection{out.data, w.data, t->id, N};
  }
  matmul_t_many(a.data, M, K, p, (int)count);
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
  auto out = f32_array(info, 0, "out", MN, [&] { return shape2("M", M, "N", N); });
  auto a = f32_array(info, 1, "a", MK, [&] { return shape2("M", M, "K", K); });
  auto b = f32_array(info, 2, "b", KN, [&] { return shape2("K", K, "N", N); });
  expect_disjoint(env, out.data, out.length * 4, a.data, a.length * 4, "a");
  expect_disjoint(env, out.data, out.length * 4, b.data, b.length * 4, "b");
  matmul(out.data, a.data, b.data, M, K, N);
  return env.Undefined();
}

}  // namespace

void init_matmul(Napi::Env env, Napi::Object exports) {
  exports.Set("matmulT", Napi::Function::New(env, MatmulT, "matmulT"));
  exports.Set("matmulTMany", Napi::Function::New(env, MatmulTMany, "matmulTMany"));
  exports.Set("matmul", Napi::Function::New(env, Matmul, "matmul"));
}

}  // namespace tl::binding
