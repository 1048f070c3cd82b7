// Weight arguments of the N-API glue: a GGML type id (number) read through the weight-type table,
// and the raw data of a [rows, cols] tensor of that type: Float32Array for f32, Uint16Array for
// f16 / bf16, Uint8Array of whole blocks for the quantized types.
#pragma once
#include <string>

#include "binding/check.h"
#include "kernels/weight_types.h"

namespace tl::binding {

// The names of the types we compute with, for error messages: "f32 (0), f16 (1), ...".
inline std::string weight_type_list() {
  int n = 0;
  const WeightTypeInfo* t = weight_types(&n);
  std::string s;
  for (int i = 0; i < n; i++) s += (i ? ", " : "") + std::string(t[i].name) + " (" + std::to_string(t[i].id) + ")";
  return s;
}

// The table row for argument `index` (a GGML type id); TypeError if not a number, RangeError if
// not a type we compute with.
inline const WeightTypeInfo& weight_type_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Env env = info.Env();
  if (index >= info.Length() || !info[index].IsNumber())
    throw_type(env, std::string(name) + " must be a GGML type id (number)");
  const double d = info[index].As<Napi::Number>().DoubleValue();
  const WeightTypeInfo* t = d == (double)(int)d ? weight_type((int)d) : nullptr;
  if (!t)
    throw_range(env, std::string(name) + " is " + std::to_string(d) + ", not a weight type tensorloom computes with (" +
                         weight_type_list() + ")");
  return *t;
}

// Checks cols against the type's block size (RangeError naming `cols_name`).
inline void expect_whole_blocks(Napi::Env env, const WeightTypeInfo& t, int64_t cols, const char* cols_name) {
  if (cols % t.block != 0)
    throw_range(env, std::string(cols_name) + " must be a multiple of " + std::to_string(t.block) + " for " + t.name +
                         " weights (its block size), got " + std::to_string(cols));
}

struct WeightData {
  const void* data;
  size_t bytes;
};

// The data of a [rows, cols] tensor of type t (value v, called `name`), with its exact length checked.
// cols_name names the column count in the block-size error ("w.cols").
// `name` is text or a callable that builds it (shape_text, check.h): built only for an error.
template <class Name>
inline WeightData weight_data_value(Napi::Env env, Napi::Value v, const Name& name, const WeightTypeInfo& t,
                                    int64_t rows, int64_t cols, const char* cols_name) {
  expect_whole_blocks(env, t, cols, cols_name);
  if (rows != 0 && cols > ((int64_t)1 << 50) / rows) throw_range(env, shape_text(name) + " is too large");
  const int64_t elems = rows * cols;
  // The usual call (the right kind and length over an ordinary, attached ArrayBuffer) returns here,
  // before the error-message strings below are built: matmulT takes this path ~100 times a decode
  // step, and the quantized types' shape string is past the small-string buffer (a heap allocation).
  {
    const bool f32 = t.id == ggml::F32, half = t.id == ggml::F16 || t.id == ggml::BF16;
    const napi_typedarray_type kind = f32 ? napi_float32_array : half ? napi_uint16_array : napi_uint8_array;
    const int64_t count = f32 || half ? elems : rows * type_row_bytes(t, cols);
    const size_t elem_bytes = f32 ? 4 : half ? 2 : 1;
    napi_typedarray_type got_kind = napi_int8_array;
    size_t got_length = 0;
    void* data = nullptr;
    napi_value buffer = nullptr;
    bool is_array_buffer = false;
    // (a detached buffer reads as length 0: count > 0 here, so it takes the checked path)
    if (napi_get_typedarray_info(env, v, &got_kind, &got_length, &data, &buffer, nullptr) == napi_ok &&
        got_kind == kind && got_length == (size_t)count && count > 0 &&
        napi_is_arraybuffer(env, buffer, &is_array_buffer) == napi_ok && is_array_buffer)
      return {static_cast<uint8_t*>(data), (size_t)count * elem_bytes};
  }
  // anything else: the checked path below, whose errors name the argument, its type and shape
  const std::string label = shape_text(name) + " (" + t.name + ")";
  const std::string shape = "[" + std::to_string(rows) + ", " + std::to_string(cols) + "]";
  if (t.id == ggml::F32) {
    auto a = typed_array_value<float>(env, v, label.c_str(), napi_float32_array, elems, shape.c_str());
    return {a.data, a.length * 4};
  }
  if (t.id == ggml::F16 || t.id == ggml::BF16) {
    auto a = typed_array_value<uint16_t>(env, v, label.c_str(), napi_uint16_array, elems, shape.c_str());
    return {a.data, a.length * 2};
  }
  const int64_t bytes = rows * type_row_bytes(t, cols);
  const std::string qshape = shape + " as " + std::to_string(elems / t.block) + " blocks of " +
                             std::to_string(t.block_bytes) + " bytes";
  auto a = typed_array_value<uint8_t>(env, v, label.c_str(), napi_uint8_array, bytes, qshape.c_str());
  return {a.data, a.length};
}

inline WeightData weight_data_arg(const Napi::CallbackInfo& info, size_t index, const char* name, const WeightTypeInfo& t,
                                  int64_t rows, int64_t cols, const char* cols_name) {
  return weight_data_value(info.Env(), index < info.Length() ? info[index] : info.Env().Undefined(), name, t, rows, cols,
                           cols_name);
}

}  // namespace tl::binding
