// Argument checks for the N-API glue. Every exported function validates its arguments here
// before any kernel sees a pointer: wrong kinds throw TypeError, wrong sizes throw RangeError,
// and the message names the argument and what was expected.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

namespace tl::binding {

[[noreturn]] inline void throw_type(Napi::Env env, const std::string& msg) {
  throw Napi::TypeError::New(env, "tensorloom: " + msg);
}
[[noreturn]] inline void throw_range(Napi::Env env, const std::string& msg) {
  throw Napi::RangeError::New(env, "tensorloom: " + msg);
}

inline const char* typed_array_kind_name(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
  }
  return "TypedArray";
}

// Typed arrays over a SharedArrayBuffer are refused (the JS backend refuses them too, in
// ts/backend/checks.ts): another thread could write the memory while a kernel reads it. This must
// come before anything asks for the buffer as an ArrayBuffer (node-addon-api then fails with a
// bare "Invalid argument").
inline void reject_shared(Napi::Env env, napi_value typed_array, const std::string& name) {
  napi_value buffer = nullptr;
  bool is_array_buffer = false;
  if (napi_get_typedarray_info(env, typed_array, nullptr, nullptr, nullptr, &buffer, nullptr) != napi_ok ||
      napi_is_arraybuffer(env, buffer, &is_array_buffer) != napi_ok || !is_array_buffer)
    throw_type(env, name + " is backed by a SharedArrayBuffer; tensorloom's kernels take typed arrays over an ordinary ArrayBuffer (copy it first)");
}

// A typed array argument: checks its kind, that its buffer is not detached, and (when
// expected >= 0) that it holds exactly `expected` elements (or at least, with at_least).
template <class T>
struct ArrayArg {
  T* data = nullptr;
  size_t length = 0;
};

// The shape named in a length error: text, or a callable that builds it, called only when the
// error is thrown (a shape built before every call cost a heap allocation on the hot path).
inline std::string shape_text(std::nullptr_t) { return std::string(); }
inline std::string shape_text(const char* s) { return s ? std::string(s) : std::string(); }
inline std::string shape_text(const std::string& s) { return s; }
template <class F>
inline auto shape_text(const F& f) -> decltype(std::string(f())) { return f(); }

// A typed array value (an argument or an object's property) called `name` in errors (text, or a
// callable that builds it, like shape).
template <class T, class Shape = const char*, class Name = const char*>
inline ArrayArg<T> typed_array_value(Napi::Env env, Napi::Value v, const Name& name_of, napi_typedarray_type kind,
                                     int64_t expected = -1, const Shape& shape = nullptr, bool at_least = false) {
  // The usual call (the right kind and length over an ordinary ArrayBuffer) costs two N-API calls
  // and builds no string; anything else (an empty or detached array included) goes on to the
  // checks below, whose errors name it. Kernels take ~200 typed arrays a decode step.
  {
    napi_typedarray_type got = napi_int8_array;
    size_t length = 0;
    void* data = nullptr;
    napi_value buffer = nullptr;
    bool is_array_buffer = false;
    if (napi_get_typedarray_info(env, v, &got, &length, &data, &buffer, nullptr) == napi_ok && got == kind && length > 0 &&
        (expected < 0 || (at_least ? length >= (size_t)expected : length == (size_t)expected)) &&
        napi_is_arraybuffer(env, buffer, &is_array_buffer) == napi_ok && is_array_buffer)
      return ArrayArg<T>{static_cast<T*>(data), length};
  }
  const std::string name = shape_text(name_of);
  if (!v.IsTypedArray()) throw_type(env, name + " must be a " + typed_array_kind_name(kind));
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.TypedArrayType() != kind)
    throw_type(env, name + " must be a " + typed_array_kind_name(kind) + ", got " +
                        typed_array_kind_name(ta.TypedArrayType()));
  reject_shared(env, ta, name);
  if (ta.ArrayBuffer().IsDetached()) throw_type(env, name + " has a detached ArrayBuffer");
  ArrayArg<T> a;
  a.length = ta.ElementLength();
  a.data = reinterpret_cast<T*>(static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset());
  if (expected >= 0) {
    bool ok = at_least ? a.length >= (size_t)expected : a.length == (size_t)expected;
    if (!ok) {
      const std::string shape_s = shape_text(shape);
      throw_range(env, name + " has " + std::to_string(a.length) + " elements, expected " +
                           (at_least ? "at least " : "") + std::to_string(expected) +
                           (shape_s.empty() ? std::string() : " (shape " + shape_s + ")"));
    }
  }
  return a;
}

// The same for positional argument `index`.
template <class T, class Shape = const char*>
inline ArrayArg<T> typed_array(const Napi::CallbackInfo& info, size_t index, const char* name,
                               napi_typedarray_type kind, int64_t expected = -1, const Shape& shape = nullptr,
                               bool at_least = false) {
  Napi::Value v = index < info.Length() ? info[index] : info.Env().Undefined();
  return typed_array_value<T, Shape>(info.Env(), v, name, kind, expected, shape, at_least);
}

template <class Shape = const char*>
inline ArrayArg<float> f32_array(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t expected = -1,
                                 const Shape& shape = nullptr) {
  return typed_array<float>(info, i, name, napi_float32_array, expected, shape);
}

// A non-negative integer dimension, at most `max` (guards against sizes that overflow).
inline int64_t dim(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min = 1,
                   int64_t max = (int64_t)1 << 40) {
  Napi::Env env = info.Env();
  if (index >= info.Length() || !info[index].IsNumber()) throw_type(env, std::string(name) + " must be a number");
  double d = info[index].As<Napi::Number>().DoubleValue();
  if (!(d == (double)(int64_t)d)) throw_range(env, std::string(name) + " must be an integer, got " + std::to_string(d));
  int64_t v = (int64_t)d;
  if (v < min || v > max)
    throw_range(env, std::string(name) + " must be in [" + std::to_string(min) + ", " + std::to_string(max) +
                         "], got " + std::to_string(v));
  return v;
}

inline double number(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (index >= info.Length() || !info[index].IsNumber()) throw_type(info.Env(), std::string(name) + " must be a number");
  return info[index].As<Napi::Number>().DoubleValue();
}

// a*b with an overflow check, for element counts computed from dims.
inline int64_t checked_mul(Napi::Env env, int64_t a, int64_t b, const char* what) {
  if (a != 0 && b > ((int64_t)1 << 50) / a) throw_range(env, std::string(what) + " is too large");
  return a * b;
}

}  // namespace tl::binding
