// N-API glue of the optional CUDA backend (kernels: native/cuda/, host API: native/cuda/api.h).
//
// This file is always compiled. Without the CUDA switch (TL_HAVE_CUDA, defined by CMakeLists.txt
// only for `npm run build:cuda`) every cuda* export throws "this build has no CUDA support", and
// cudaInfo() says so without throwing. With it, the functions below check their arguments, turn
// JS values into device pointers and call the host API; a tl::cuda::Error becomes a JS Error.
//
// Device memory is handed to JS as an External (type-tagged, freed by cudaFree or, failing that,
// when garbage-collected). Every op checks that each buffer holds enough bytes for the shapes it
// is given, so a wrong size is a RangeError here instead of a fault on the GPU.
#include <climits>
#include <cmath>
#include <string>

#include "binding/check.h"
#include "binding/weight_arg.h"
#ifdef TL_HAVE_CUDA
#include "cuda/api.h"
#endif

namespace tl::binding {

static const char kNoCudaBuild[] = "this build has no CUDA support: rebuild with npm run build:cuda";

// Every export but cudaInfo, so the CPU-only build registers the same names.
static const char* const kCudaExports[] = {
    "cudaAlloc",   "cudaFree",    "cudaUpload",   "cudaDownload", "cudaCopy", "cudaSynchronize",
    "cudaMatmulT", "cudaMatmul",  "cudaAttention", "cudaRope",    "cudaRmsnorm", "cudaLayernorm",
    "cudaSoftmax", "cudaGelu",    "cudaSilu",     "cudaSwiglu",   "cudaAdd",  "cudaMul",
    "cudaEmbedding", "cudaArgmax", "cudaUseCublas", "cudaCastF32", "cudaUseTensorCoreAttention",
};

#ifndef TL_HAVE_CUDA

static Napi::Value CudaInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("built", false);
  o.Set("deviceCount", 0);
  o.Set("error", kNoCudaBuild);
  o.Set("devices", Napi::Array::New(env));
  return o;
}

static Napi::Value NoCuda(const Napi::CallbackInfo& info) {
  throw Napi::Error::New(info.Env(), std::string("tensorloom: ") + kNoCudaBuild);
}

void init_cuda(Napi::Env env, Napi::Object exports) {
  exports.Set("cudaInfo", Napi::Function::New(env, CudaInfo, "cudaInfo"));
  for (const char* name : kCudaExports) exports.Set(name, Napi::Function::New(env, NoCuda, name));
}

#else  // TL_HAVE_CUDA

namespace {

using tl::cuda::WType;

struct DeviceBuffer {
  void* ptr;
  size_t bytes;
};
constexpr napi_type_tag kBufferTag = {0x7c1e4f0a9b3d5e21ULL, 0x5a0c6d2e8f1b3a47ULL};

// Runs f, turning the host API's errors into JS errors (node-addon-api only converts Napi::Error).
template <class F>
Napi::Value guarded(const Napi::CallbackInfo& info, F&& f) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("tensorloom: ") + e.what());
  }
}

DeviceBuffer* buffer(const Napi::CallbackInfo& info, size_t i, const char* name, uint64_t need_bytes = 0,
                     const std::string& shape = "") {
  Napi::Env env = info.Env();
  if (i >= info.Length() || !info[i].IsExternal() || !info[i].As<Napi::External<DeviceBuffer>>().CheckTypeTag(&kBufferTag))
    throw_type(env, std::string(name) + " must be a CUDA device buffer (from cudaAlloc)");
  DeviceBuffer* b = info[i].As<Napi::External<DeviceBuffer>>().Data();
  if (!b->ptr) throw Napi::Error::New(env, std::string("tensorloom: ") + name + " was already freed");
  if (b->bytes < need_bytes)
    throw_range(env, std::string(name) + " holds " + std::to_string(b->bytes) + " bytes, expected at least " +
                         std::to_string(need_bytes) + (shape.empty() ? "" : " (" + shape + ")"));
  return b;
}

float* f32_buffer(const Napi::CallbackInfo& info, size_t i, const char* name, uint64_t elements,
                  const std::string& shape = "") {
  return static_cast<float*>(buffer(info, i, name, elements * 4, shape + (shape.empty() ? "" : " ") + "f32")->ptr);
}

bool boolean(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsBoolean()) throw_type(info.Env(), std::string(name) + " must be a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

// A GGML type id the CUDA kernels compute with (f32, f16, bf16, q8_0); other types of the
// weight-type table get a clear "not supported on CUDA" RangeError.
WType weight_type(const Napi::CallbackInfo& info, size_t i) {
  const WeightTypeInfo& t = weight_type_arg(info, i, "dtype code");
  if (t.id != ggml::F32 && t.id != ggml::F16 && t.id != ggml::BF16 && t.id != ggml::Q8_0)
    throw_range(info.Env(), std::string("weight type ") + t.name + " (" + std::to_string(t.id) +
                                ") is not supported on CUDA (f32, f16, bf16 and q8_0 are)");
  return static_cast<WType>(t.id);
}

// Bytes of a [rows, cols] matrix of the given type, from the weight-type table (cols must be whole blocks).
uint64_t weight_bytes(Napi::Env env, WType wt, int64_t rows, int64_t cols, const char* cols_name) {
  const WeightTypeInfo& t = *tl::weight_type(static_cast<int>(wt));
  expect_whole_blocks(env, t, cols, cols_name);
  return (uint64_t)checked_mul(env, rows, type_row_bytes(t, cols), "weights");
}

std::string dims(std::initializer_list<int64_t> ds) {
  std::string s = "[";
  for (int64_t d : ds) s += (s.size() > 1 ? ", " : "") + std::to_string(d);
  return s + "]";
}

// ── device and memory ───────────────────────────────────────────────────────────────────────

Napi::Value CudaInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  std::string why;
  int n = tl::cuda::device_count(&why);
  o.Set("built", true);
  o.Set("deviceCount", n);
  if (n == 0) o.Set("error", "no CUDA device found (cudaGetDeviceCount: " + why + ")");
  Napi::Array devices = Napi::Array::New(env);
  for (int d = 0; d < n; d++) {
    try {
      tl::cuda::DeviceInfo di = tl::cuda::device_info(d);
      Napi::Object e = Napi::Object::New(env);
      e.Set("name", di.name);
      e.Set("computeCapability", std::to_string(di.major) + "." + std::to_string(di.minor));
      e.Set("totalMemory", (double)di.total_memory);
      e.Set("multiprocessors", di.multiprocessors);
      devices.Set((uint32_t)d, e);
    } catch (const std::exception& e) {
      o.Set("error", std::string(e.what()));
    }
  }
  o.Set("devices", devices);
  // cudaInfo(true) also says what serves large GEMMs (this loads cuBLAS and creates a context)
  const bool with_gemm = info.Length() > 0 && info[0].IsBoolean() && info[0].As<Napi::Boolean>().Value();
  if (n > 0 && with_gemm) o.Set("gemm", tl::cuda::gemm_provider());
  return o;
}

// cudaUseCublas(enabled) → whether cuBLAS now serves the large GEMMs (false when not loadable).
Napi::Value UseCublas(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    bool enabled = boolean(info, 0, "enabled");
    tl::cuda::require_device();
    return Napi::Boolean::New(info.Env(), tl::cuda::use_cublas(enabled));
  });
}

// cudaUseTensorCoreAttention(enabled) → the new setting (f16-KV prefill on tensor cores or SIMT).
Napi::Value UseTensorCoreAttention(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    bool enabled = boolean(info, 0, "enabled");
    tl::cuda::require_device();
    return Napi::Boolean::New(info.Env(), tl::cuda::use_tensor_core_attention(enabled));
  });
}

Napi::Value Alloc(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    int64_t bytes = dim(info, 0, "bytes", 0, (int64_t)1 << 40);
    void* ptr = tl::cuda::alloc((size_t)bytes);
    auto ext = Napi::External<DeviceBuffer>::New(info.Env(), new DeviceBuffer{ptr, (size_t)bytes},
                                                 [](Napi::Env, DeviceBuffer* b) {
                                                   tl::cuda::release(b->ptr);
                                                   delete b;
                                                 });
    ext.TypeTag(&kBufferTag);
    return ext;
  });
}

Napi::Value Free(const Napi::CallbackInfo& info) {
  DeviceBuffer* b = buffer(info, 0, "buffer");
  tl::cuda::release(b->ptr);
  b->ptr = nullptr;
  b->bytes = 0;
  return info.Env().Undefined();
}

// The bytes of any typed array argument.
struct HostBytes {
  uint8_t* data;
  size_t bytes;
};
HostBytes host_bytes(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsTypedArray()) throw_type(info.Env(), std::string(name) + " must be a typed array");
  Napi::TypedArray ta = info[i].As<Napi::TypedArray>();
  reject_shared(info.Env(), ta, name);
  if (ta.ArrayBuffer().IsDetached()) throw_type(info.Env(), std::string(name) + " has a detached ArrayBuffer");
  return {static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset(), ta.ByteLength()};
}

int64_t optional_offset(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return i < info.Length() && !info[i].IsUndefined() ? dim(info, i, name, 0, (int64_t)1 << 40) : 0;
}

// cudaUpload(buffer, typedArray, byteOffset = 0): copies the whole array to buffer + byteOffset.
Napi::Value Upload(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    HostBytes h = host_bytes(info, 1, "source");
    int64_t off = optional_offset(info, 2, "byteOffset");
    DeviceBuffer* b = buffer(info, 0, "buffer", (uint64_t)off + h.bytes, "byteOffset + source bytes");
    tl::cuda::upload(static_cast<uint8_t*>(b->ptr) + off, h.data, h.bytes);
    return info.Env().Undefined();
  });
}

// cudaDownload(buffer, typedArray, byteOffset = 0): fills the whole array from buffer + byteOffset.
Napi::Value Download(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    HostBytes h = host_bytes(info, 1, "target");
    int64_t off = optional_offset(info, 2, "byteOffset");
    DeviceBuffer* b = buffer(info, 0, "buffer", (uint64_t)off + h.bytes, "byteOffset + target bytes");
    tl::cuda::download(h.data, static_cast<uint8_t*>(b->ptr) + off, h.bytes);
    return info.Env().Undefined();
  });
}

// cudaCopy(dst, dstByteOffset, src, srcByteOffset, bytes): device to device (e.g. into a KV cache).
Napi::Value Copy(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    int64_t dst_off = dim(info, 1, "dstByteOffset", 0, (int64_t)1 << 40);
    int64_t src_off = dim(info, 3, "srcByteOffset", 0, (int64_t)1 << 40);
    int64_t bytes = dim(info, 4, "bytes", 0, (int64_t)1 << 40);
    DeviceBuffer* d = buffer(info, 0, "dst", (uint64_t)(dst_off + bytes), "dstByteOffset + bytes");
    DeviceBuffer* s = buffer(info, 2, "src", (uint64_t)(src_off + bytes), "srcByteOffset + bytes");
    tl::cuda::copy(static_cast<uint8_t*>(d->ptr) + dst_off, static_cast<uint8_t*>(s->ptr) + src_off, (size_t)bytes);
    return info.Env().Undefined();
  });
}

// cudaCastF32(dst, dstByteOffset, dtypeCode, src, srcByteOffset, n): n f32 values rounded to
// f32/f16/bf16 at dst + dstByteOffset (e.g. new K/V rows into an f16 cache).
Napi::Value CastF32(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    int64_t dst_off = dim(info, 1, "dstByteOffset", 0, (int64_t)1 << 40);
    WType wt = weight_type(info, 2);
    if (wt == WType::q8_0) throw_range(env, "cast target must be f32, f16 or bf16");
    int64_t src_off = dim(info, 4, "srcByteOffset", 0, (int64_t)1 << 40);
    int64_t n = dim(info, 5, "n", 0, (int64_t)1 << 40);
    int64_t elt = wt == WType::f32 ? 4 : 2;
    if (dst_off % elt) throw_range(env, "dstByteOffset must be a multiple of " + std::to_string(elt));
    if (src_off % 4) throw_range(env, "srcByteOffset must be a multiple of 4");
    DeviceBuffer* d = buffer(info, 0, "dst", (uint64_t)(dst_off + n * elt), "dstByteOffset + n elements");
    DeviceBuffer* s = buffer(info, 3, "src", (uint64_t)(src_off + n * 4), "srcByteOffset + n f32");
    tl::cuda::cast_f32(static_cast<uint8_t*>(d->ptr) + dst_off, wt,
                       reinterpret_cast<const float*>(static_cast<uint8_t*>(s->ptr) + src_off), n);
    return env.Undefined();
  });
}

Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    tl::cuda::synchronize();
    return info.Env().Undefined();
  });
}

// ── matmul ──────────────────────────────────────────────────────────────────────────────────

// cudaMatmulT(out, a, w, dtypeCode, M, N, K): out[M,N] = a[M,K] · w[N,K]ᵀ
Napi::Value MatmulT(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    WType wt = weight_type(info, 3);
    int64_t M = dim(info, 4, "M", 0), N = dim(info, 5, "N", 0), K = dim(info, 6, "K", 0);
    float* out = f32_buffer(info, 0, "out", checked_mul(env, M, N, "out"), dims({M, N}));
    float* a = f32_buffer(info, 1, "a", checked_mul(env, M, K, "a"), dims({M, K}));
    void* w = buffer(info, 2, "w", weight_bytes(env, wt, N, K, "K"), "weights " + dims({N, K}))->ptr;
    tl::cuda::matmul_t(out, a, w, wt, M, N, K);
    return env.Undefined();
  });
}

// cudaMatmul(out, a, b, M, K, N): out[M,N] = a[M,K] · b[K,N]
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    int64_t M = dim(info, 3, "M", 0), K = dim(info, 4, "K", 0), N = dim(info, 5, "N", 0);
    float* out = f32_buffer(info, 0, "out", checked_mul(env, M, N, "out"), dims({M, N}));
    float* a = f32_buffer(info, 1, "a", checked_mul(env, M, K, "a"), dims({M, K}));
    float* b = f32_buffer(info, 2, "b", checked_mul(env, K, N, "b"), dims({K, N}));
    tl::cuda::matmul(out, a, b, M, K, N);
    return env.Undefined();
  });
}

// ── attention ───────────────────────────────────────────────────────────────────────────────

// cudaAttention(out, q, k, v, kvF16, T, S, H, Hkv, D, posOffset, causal, scale, ropeTheta,
//               ropeLayout, ropeDims)   — ropeTheta 0 = no RoPE
Napi::Value Attention(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    tl::cuda::AttentionArgs a;
    a.kv_f16 = boolean(info, 4, "kvF16");
    a.T = (int)dim(info, 5, "T", 0, 1 << 30);
    a.S = (int)dim(info, 6, "S", 1, 1 << 30);
    a.H = (int)dim(info, 7, "H", 1, 1 << 16);
    a.Hkv = (int)dim(info, 8, "Hkv", 1, 1 << 16);
    a.D = (int)dim(info, 9, "D", 1, tl::cuda::kMaxHeadDim);
    a.pos_offset = (int)dim(info, 10, "posOffset", 0, 1 << 30);
    a.causal = boolean(info, 11, "causal");
    a.scale = (float)number(info, 12, "scale");
    double theta = number(info, 13, "ropeTheta");
    int64_t layout = dim(info, 14, "ropeLayout", 0, 1);
    int64_t rope_dims = dim(info, 15, "ropeDims", 0, a.D);
    if (a.H % a.Hkv) throw_range(env, "H (" + std::to_string(a.H) + ") must be a multiple of Hkv (" + std::to_string(a.Hkv) + ")");
    if ((a.causal || theta > 0) && (int64_t)a.pos_offset + a.T > a.S)
      throw_range(env, "posOffset + T (" + std::to_string((int64_t)a.pos_offset + a.T) + ") must be at most S (" +
                           std::to_string(a.S) + ") for causal or RoPE attention");
    if (!std::isfinite(a.scale)) throw_range(env, "scale must be a finite number");
    if (!(theta >= 0)) throw_range(env, "ropeTheta must be >= 0 (0 = no RoPE)");
    if (rope_dims % 2) throw_range(env, "ropeDims must be even, got " + std::to_string(rope_dims));
    a.rope = theta > 0;
    a.rope_theta = theta;
    a.rope_layout = (tl::cuda::RopeLayout)layout;
    a.rope_dims = (int)rope_dims;
    int64_t qn = (int64_t)a.T * a.H * a.D, kvn = (int64_t)a.S * a.Hkv * a.D, elt = a.kv_f16 ? 2 : 4;
    const char* kv_type = a.kv_f16 ? " f16" : " f32";
    float* out = f32_buffer(info, 0, "out", qn, "[T, H, D] = " + dims({a.T, a.H, a.D}));
    float* q = f32_buffer(info, 1, "q", qn, "[T, H, D] = " + dims({a.T, a.H, a.D}));
    void* k = buffer(info, 2, "k", kvn * elt, "[S, Hkv, D] = " + dims({a.S, a.Hkv, a.D}) + kv_type)->ptr;
    void* v = buffer(info, 3, "v", kvn * elt, "[S, Hkv, D] = " + dims({a.S, a.Hkv, a.D}) + kv_type)->ptr;
    tl::cuda::attention(out, q, k, v, a);
    return env.Undefined();
  });
}

// cudaRope(x, T, heads, D, posOffset, theta, layout, dims)
Napi::Value Rope(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    int64_t T = dim(info, 1, "T", 0), heads = dim(info, 2, "nHeads", 1, 1 << 16), D = dim(info, 3, "D", 1, 1 << 16);
    int64_t pos = dim(info, 4, "posOffset", 0, 1 << 30);
    double theta = number(info, 5, "theta");
    int64_t layout = dim(info, 6, "layout", 0, 1);
    int64_t rd = dim(info, 7, "dims", 0, D);
    if (!(theta > 0)) throw_range(env, "theta must be > 0");
    if (rd % 2) throw_range(env, "dims must be even, got " + std::to_string(rd));
    float* x = f32_buffer(info, 0, "x", checked_mul(env, checked_mul(env, T, heads, "x"), D, "x"), dims({T, heads, D}));
    tl::cuda::rope(x, T, (int)heads, (int)D, pos, theta, (tl::cuda::RopeLayout)layout, (int)rd);
    return env.Undefined();
  });
}

// ── row and elementwise ops ────────────────────────────────────────────────────────────────

// cudaRmsnorm(out, x, weight, rows, dim, eps)
Napi::Value Rmsnorm(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    int64_t rows = dim(info, 3, "rows", 0), d = dim(info, 4, "dim", 1);
    float eps = (float)number(info, 5, "eps");
    int64_t n = checked_mul(env, rows, d, "x");
    float* out = f32_buffer(info, 0, "out", n, dims({rows, d}));
    float* x = f32_buffer(info, 1, "x", n, dims({rows, d}));
    float* w = f32_buffer(info, 2, "weight", d, dims({d}));
    tl::cuda::rmsnorm(out, x, w, rows, d, eps);
    return env.Undefined();
  });
}

// cudaLayernorm(out, x, weight, bias | null, rows, dim, eps)
Napi::Value Layernorm(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    int64_t rows = dim(info, 4, "rows", 0), d = dim(info, 5, "dim", 1);
    float eps = (float)number(info, 6, "eps");
    int64_t n = checked_mul(env, rows, d, "x");
    float* out = f32_buffer(info, 0, "out", n, dims({rows, d}));
    float* x = f32_buffer(info, 1, "x", n, dims({rows, d}));
    float* w = f32_buffer(info, 2, "weight", d, dims({d}));
    float* b = info.Length() > 3 && info[3].IsNull() ? nullptr : f32_buffer(info, 3, "bias", d, dims({d}));
    tl::cuda::layernorm(out, x, w, b, rows, d, eps);
    return env.Undefined();
  });
}

// cudaSoftmax(out, x, rows, cols, temperature)
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    int64_t rows = dim(info, 2, "rows", 0), cols = dim(info, 3, "cols", 1);
    double temp = number(info, 4, "temperature");
    if (!(temp > 0)) throw_range(env, "temperature must be > 0, got " + std::to_string(temp));
    int64_t n = checked_mul(env, rows, cols, "x");
    float* out = f32_buffer(info, 0, "out", n, dims({rows, cols}));
    float* x = f32_buffer(info, 1, "x", n, dims({rows, cols}));
    tl::cuda::softmax(out, x, rows, cols, (float)temp);
    return env.Undefined();
  });
}

// cudaGelu(out, x, n, tanhApproximation)
Napi::Value Gelu(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    int64_t n = dim(info, 2, "n", 0);
    bool tanh_approx = boolean(info, 3, "tanhApproximation");
    float* out = f32_buffer(info, 0, "out", n);
    float* x = f32_buffer(info, 1, "x", n);
    tl::cuda::gelu(out, x, n, tanh_approx);
    return info.Env().Undefined();
  });
}

// cudaSilu(out, x, n)
Napi::Value Silu(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    int64_t n = dim(info, 2, "n", 0);
    float* out = f32_buffer(info, 0, "out", n);
    float* x = f32_buffer(info, 1, "x", n);
    tl::cuda::silu(out, x, n);
    return info.Env().Undefined();
  });
}

// cudaSwiglu / cudaAdd / cudaMul (out, a, b, n)
template <void (*Op)(float*, const float*, const float*, int64_t)>
Napi::Value Binary(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    int64_t n = dim(info, 3, "n", 0);
    float* out = f32_buffer(info, 0, "out", n);
    float* a = f32_buffer(info, 1, "a", n);
    float* b = f32_buffer(info, 2, "b", n);
    Op(out, a, b, n);
    return info.Env().Undefined();
  });
}

// cudaEmbedding(out, table, dtypeCode, rows, cols, ids: Int32Array | Uint32Array on the host)
Napi::Value Embedding(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    WType wt = weight_type(info, 2);
    int64_t rows = dim(info, 3, "rows", 1, INT32_MAX), cols = dim(info, 4, "cols", 1);
    if (info.Length() <= 5 || !info[5].IsTypedArray() ||
        (info[5].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array &&
         info[5].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array))
      throw_type(env, "ids must be an Int32Array or Uint32Array");
    HostBytes ids = host_bytes(info, 5, "ids");
    size_t n = ids.bytes / 4;
    const bool is_signed = info[5].As<Napi::TypedArray>().TypedArrayType() == napi_int32_array;
    for (size_t i = 0; i < n; i++) {
      int64_t id = is_signed ? (int64_t)reinterpret_cast<const int32_t*>(ids.data)[i]
                             : (int64_t)reinterpret_cast<const uint32_t*>(ids.data)[i];
      if (id < 0 || id >= rows)
        throw_range(env, "ids[" + std::to_string(i) + "] = " + std::to_string(id) + " is outside the table's " +
                             std::to_string(rows) + " rows");
    }
    float* out = f32_buffer(info, 0, "out", checked_mul(env, (int64_t)n, cols, "out"), dims({(int64_t)n, cols}));
    void* table = buffer(info, 1, "table", weight_bytes(env, wt, rows, cols, "cols"), "table " + dims({rows, cols}))->ptr;
    if (n == 0) return env.Undefined();
    void* dev_ids = tl::cuda::alloc(ids.bytes);  // ids < rows ≤ 2^31 here, so uint32 reads as int32
    try {
      tl::cuda::upload(dev_ids, ids.data, ids.bytes);
      tl::cuda::embedding(out, table, wt, rows, cols, static_cast<const int32_t*>(dev_ids), (int64_t)n);
    } catch (...) {
      tl::cuda::release(dev_ids);
      throw;
    }
    tl::cuda::release(dev_ids);  // cudaFree waits for the kernel
    return env.Undefined();
  });
}

// cudaArgmax(x, n) → index of the first largest element
Napi::Value Argmax(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    int64_t n = dim(info, 1, "n", 1);
    float* x = f32_buffer(info, 0, "x", n);
    return Napi::Number::New(info.Env(), (double)tl::cuda::argmax(x, n));
  });
}

}  // namespace

void init_cuda(Napi::Env env, Napi::Object exports) {
  struct Entry {
    const char* name;
    Napi::Function::Callback fn;
  };
  const Entry entries[] = {
      {"cudaInfo", CudaInfo},         {"cudaAlloc", Alloc},         {"cudaFree", Free},
      {"cudaUpload", Upload},         {"cudaDownload", Download},   {"cudaCopy", Copy},
      {"cudaSynchronize", Synchronize}, {"cudaMatmulT", MatmulT},   {"cudaMatmul", Matmul},
      {"cudaAttention", Attention},   {"cudaRope", Rope},           {"cudaRmsnorm", Rmsnorm},
      {"cudaLayernorm", Layernorm},   {"cudaSoftmax", Softmax},     {"cudaGelu", Gelu},
      {"cudaSilu", Silu},             {"cudaSwiglu", Binary<tl::cuda::swiglu>},
      {"cudaAdd", Binary<tl::cuda::add>}, {"cudaMul", Binary<tl::cuda::mul>},
      {"cudaEmbedding", Embedding},   {"cudaArgmax", Argmax},       {"cudaUseCublas", UseCublas},
      {"cudaCastF32", CastF32},       {"cudaUseTensorCoreAttention", UseTensorCoreAttention},
  };
  for (const Entry& e : entries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  (void)kCudaExports;  // the CPU-only build's list; both builds export the same names
}

#endif  // TL_HAVE_CUDA

}  // namespace tl::binding
