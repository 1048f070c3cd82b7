// N-API glue for the row and elementwise ops (kernels/ops.h): argument checks → kernels.
//
//   rmsnorm(out, x, weight, rows, dim, eps)          layernorm(out, x, weight, bias|null, rows, dim, eps)
//   softmax(out, x, rows, cols, temperature)         gelu(out, x, 'tanh'|'erf')
//   silu(out, x)  relu(out, x)  swiglu(out, gate, up)  add(out, a, b)  mul(out, a, b)
//   embedding(out, table, type: GGML id, rows, cols, ids)   argmax(x) -> number
#include <cmath>
#include <string>
#include <vector>

#include "binding/check.h"
#include "binding/files.h"
#include "binding/weight_arg.h"
#include "kernels/ops.h"
#include "kernels/weight_types.h"

namespace tl::binding {

namespace {

// Embedding tables from this size on are read with pread when they lie in a mapped file (files.cpp,
// "Sparse reads"): a 110M model's 13.8 MB Q4_K table and up; smaller ones cost little RSS either way.
constexpr size_t kSparseReadMin = size_t(4) << 20;

std::string rows_shape(int64_t rows, int64_t cols, const char* r = "rows", const char* c = "dim") {
  return std::string("[") + r + "=" + std::to_string(rows) + ", " + c + "=" + std::to_string(cols) + "]";
}

float eps_arg(const Napi::CallbackInfo& info, size_t i) {
  const double eps = number(info, i, "eps");
  if (!(eps >= 0) || !std::isfinite(eps)) throw_range(info.Env(), "eps must be a finite number >= 0");
  return (float)eps;
}

Napi::Value RmsNorm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t rows = dim(info, 3, "rows", 0), d = dim(info, 4, "dim");
  const float eps = eps_arg(info, 5);
  const int64_t n = checked_mul(env, rows, d, "rows*dim");
  const auto shape = [&] { return rows_shape(rows, d); };
  auto out = f32_array(info, 0, "out", n, shape);
  auto x = f32_array(info, 1, "x", n, shape);
  auto w = f32_array(info, 2, "weight", d, "[dim]");
  rmsnorm(out.data, x.data, w.data, rows, d, eps);
  return env.Undefined();
}

Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t rows = dim(info, 4, "rows", 0), d = dim(info, 5, "dim");
  const float eps = eps_arg(info, 6);
  const int64_t n = checked_mul(env, rows, d, "rows*dim");
  const auto shape = [&] { return rows_shape(rows, d); };
  auto out = f32_array(info, 0, "out", n, shape);
  auto x = f32_array(info, 1, "x", n, shape);
  auto w = f32_array(info, 2, "weight", d, "[dim]");
  const float* bias = nullptr;
  if (info.Length() > 3 && !info[3].IsNull() && !info[3].IsUndefined()) bias = f32_array(info, 3, "bias", d, "[dim]").data;
  layernorm(out.data, x.data, w.data, bias, rows, d, eps);
  return env.Undefined();
}

Napi::Value Softmax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t rows = dim(info, 2, "rows", 0), cols = dim(info, 3, "cols");
  const double temp = number(info, 4, "temperature");
  if (!(temp > 0) || !std::isfinite(temp)) throw_range(env, "temperature must be a finite number > 0");
  const int64_t n = checked_mul(env, rows, cols, "rows*cols");
  const auto shape = [&] { return rows_shape(rows, cols, "rows", "cols"); };
  auto out = f32_array(info, 0, "out", n, shape);
  auto x = f32_array(info, 1, "x", n, shape);
  softmax(out.data, x.data, rows, cols, (float)temp);
  return env.Undefined();
}

// out and the inputs of an elementwise op: same kind, same length (out's length sets it).
struct Unary {
  float* out;
  const float* x;
  int64_t n;
};
Unary unary(const Napi::CallbackInfo& info, const char* xname) {
  auto x = f32_array(info, 1, xname);
  const auto shape = [&] { return "[" + std::to_string(x.length) + "] like " + xname; };
  auto out = f32_array(info, 0, "out", (int64_t)x.length, shape);
  return {out.data, x.data, (int64_t)x.length};
}
struct Binary {
  float* out;
  const float* a;
  const float* b;
  int64_t n;
};
Binary binary(const Napi::CallbackInfo& info, const char* aname, const char* bname) {
  auto a = f32_array(info, 1, aname);
  const auto shape = [&] { return "[" + std::to_string(a.length) + "] like " + aname; };
  auto b = f32_array(info, 2, bname, (int64_t)a.length, shape);
  auto out = f32_array(info, 0, "out", (int64_t)a.length, shape);
  return {out.data, a.data, b.data, (int64_t)a.length};
}

Napi::Value Gelu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GeluKind kind = GeluKind::Tanh;
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    if (!info[2].IsString()) throw_type(env, "approximation must be 'tanh' or 'erf'");
    std::string s = info[2].As<Napi::String>();
    if (s == "tanh")
      kind = GeluKind::Tanh;
    else if (s == "erf")
      kind = GeluKind::Erf;
    else
      throw_range(env, "approximation must be 'tanh' or 'erf', got '" + s + "'");
  }
  Unary u = unary(info, "x");
  gelu(u.out, u.x, u.n, kind);
  return env.Undefined();
}

Napi::Value Silu(const Napi::CallbackInfo& info) {
  Unary u = unary(info, "x");
  silu(u.out, u.x, u.n);
  return info.Env().Undefined();
}

Napi::Value Relu(const Napi::CallbackInfo& info) {
  Unary u = unary(info, "x");
  relu(u.out, u.x, u.n);
  return info.Env().Undefined();
}

Napi::Value SwiGlu(const Napi::CallbackInfo& info) {
  Binary b = binary(info, "gate", "up");
  swiglu(b.out, b.a, b.b, b.n);
  return info.Env().Undefined();
}

Napi::Value Add(const Napi::CallbackInfo& info) {
  Binary b = binary(info, "a", "b");
  add(b.out, b.a, b.b, b.n);
  return info.Env().Undefined();
}

Napi::Value Mul(const Napi::CallbackInfo& info) {
  Binary b = binary(info, "a", "b");
  mul(b.out, b.a, b.b, b.n);
  return info.Env().Undefined();
}

Napi::Value Embedding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const WeightTypeInfo& t = weight_type_arg(info, 2, "table.type");
  const int64_t rows = dim(info, 3, "table.rows"), cols = dim(info, 4, "table.cols");
  const void* table = weight_data_arg(info, 1, "table.data", t, rows, cols, "table.cols").data;
  if (info.Length() <= 5 || !info[5].IsTypedArray()) throw_type(env, "ids must be an Int32Array or a Uint32Array");
  const napi_typedarray_type kind = info[5].As<Napi::TypedArray>().TypedArrayType();
  if (kind != napi_int32_array && kind != napi_uint32_array)
    throw_type(env, std::string("ids must be an Int32Array or a Uint32Array, got ") + typed_array_kind_name(kind));
  auto ids = typed_array<uint32_t>(info, 5, "ids", kind);
  for (size_t i = 0; i < ids.length; i++) {
    const int64_t id = kind == napi_int32_array ? (int64_t)(int32_t)ids.data[i] : (int64_t)ids.data[i];
    if (id < 0 || id >= rows)
      throw_range(env, "ids[" + std::to_string(i) + "] = " + std::to_string(id) + " is out of range [0, " +
                           std::to_string(rows) + ")");
  }
  const int64_t n = checked_mul(env, (int64_t)ids.length, cols, "ids.length*table.cols");
  const auto oshape = [&] { return rows_shape((int64_t)ids.length, cols, "ids.length", "table.cols"); };
  auto out = f32_array(info, 0, "out", n, oshape);
  // A table of a mapped file of kSparseReadMin bytes or more: its rows copied with pread (files.cpp,
  // "Sparse reads"), so that reading them does not map their page-cache folios into this process.
  const size_t row_bytes = (size_t)type_row_bytes(t, cols);
  if (row_bytes * (size_t)rows >= kSparseReadMin && ids.length > 0) {
    static thread_local std::vector<uint8_t> row;
    if (row.size() < row_bytes) row.resize(row_bytes);
    const uint32_t first = 0;
    const auto row_at = [&](size_t i) {
      const int64_t id = kind == napi_int32_array ? (int64_t)(int32_t)ids.data[i] : (int64_t)ids.data[i];
      return static_cast<const uint8_t*>(table) + (size_t)id * row_bytes;
    };
    if (read_file_mapped(row_at(0), row_bytes, row.data())) {
      for (size_t i = 0; i < ids.length; i++) {
        if (i > 0 && !read_file_mapped(row_at(i), row_bytes, row.data()))
          throw Napi::Error::New(env, "embedding: cannot read row " + std::to_string(i) + " of the mapped table");
        embedding(out.data + i * (size_t)cols, row.data(), t.id, 1, cols, &first, 1);
      }
      return env.Undefined();
    }
  }
  embedding(out.data, table, t.id, rows, cols, ids.data, (int64_t)ids.length);
  return env.Undefined();
}

Napi::Value ArgMax(const Napi::CallbackInfo& info) {
  auto x = f32_array(info, 0, "x");
  if (x.length == 0) throw_range(info.Env(), "x must have at least one element");
  return Napi::Number::New(info.Env(), (double)argmax(x.data, (int64_t)x.length));
}

}  // namespace

void init_ops(Napi::Env env, Napi::Object exports) {
  exports.Set("rmsnorm", Napi::Function::New(env, RmsNorm, "rmsnorm"));
  exports.Set("layernorm", Napi::Function::New(env, LayerNorm, "layernorm"));
  exports.Set("softmax", Napi::Function::New(env, Softmax, "softmax"));
  exports.Set("gelu", Napi::Function::New(env, Gelu, "gelu"));
  exports.Set("silu", Napi::Function::New(env, Silu, "silu"));
  exports.Set("relu", Napi::Function::New(env, Relu, "relu"));
  exports.Set("swiglu", Napi::Function::New(env, SwiGlu, "swiglu"));
  exports.Set("add", Napi::Function::New(env, Add, "add"));
  exports.Set("mul", Napi::Function::New(env, Mul, "mul"));
  exports.Set("embedding", Napi::Function::New(env, Embedding, "embedding"));
  exports.Set("argmax", Napi::Function::New(env, ArgMax, "argmax"));
}

}  // namespace tl::binding
