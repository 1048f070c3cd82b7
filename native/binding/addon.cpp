// The addon's entry point: each kernel family registers its exports from its own file.
#include <napi.h>

#if !defined(_WIN32)
#include <dlfcn.h>
#endif

namespace tl::binding {
void init_info(Napi::Env env, Napi::Object exports);       // binding/info.cpp
void init_matmul(Napi::Env env, Napi::Object exports);     // binding/matmul.cpp
void init_attention(Napi::Env env, Napi::Object exports);  // binding/attention.cpp
void init_ops(Napi::Env env, Napi::Object exports);        // binding/ops.cpp
void init_files(Napi::Env env, Napi::Object exports);      // binding/files.cpp (mmap)
void init_convert(Napi::Env env, Napi::Object exports);    // binding/convert.cpp
void init_weights(Napi::Env env, Napi::Object exports);    // binding/weights.cpp
void init_cuda(Napi::Env env, Napi::Object exports);       // binding/cuda.cpp (stubs without CUDA)
void init_linear_attention(Napi::Env env, Napi::Object exports);  // binding/linear_attention.cpp
void init_moe(Napi::Env env, Napi::Object exports);        // binding/moe.cpp
void init_rope_scaled(Napi::Env env, Napi::Object exports);  // binding/rope_scaled.cpp
void init_sample(Napi::Env env, Napi::Object exports);      // binding/sample.cpp
}  // namespace tl::binding

// Node unloads an addon when the worker thread that first loaded it exits, but the kernels'
// thread pool is per process and its threads keep running this library's code: keep the library
// mapped for the life of the process (otherwise disposing a model could crash the process).
static void keep_library_loaded() {
#if !defined(_WIN32)
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&keep_library_loaded), &info) != 0 && info.dli_fname != nullptr) {
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
  }
#endif
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  keep_library_loaded();
  tl::binding::init_info(env, exports);
  tl::binding::init_matmul(env, exports);
  tl::binding::init_attention(env, exports);
  tl::binding::init_ops(env, exports);
  tl::binding::init_files(env, exports);
  tl::binding::init_convert(env, exports);
  tl::binding::init_weights(env, exports);
  tl::binding::init_cuda(env, exports);
  tl::binding::init_linear_attention(env, exports);
  tl::binding::init_moe(env, exports);
  tl::binding::init_rope_scaled(env, exports);
  tl::binding::init_sample(env, exports);
  return exports;
}

NODE_API_MODULE(tensorloom, Init)
