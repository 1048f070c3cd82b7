// backendInfo / setThreads / setIsa: what the native backend runs with, and the knobs.
#include "binding/check.h"
#include "kernels/cpu.h"
#include "kernels/threadpool.h"

namespace tl::binding {

static Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("isa", isa_name(active_isa_level()));
  o.Set("detectedIsa", isa_name(detected_isa_level()));
  o.Set("threads", pool_threads());
  o.Set("physicalCores", physical_cores());
#ifdef TL_HAVE_CUDA
  o.Set("cuda", true);
#else
  o.Set("cuda", false);
#endif
  return o;
}

static Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int64_t n = dim(info, 0, "threads", 0, 1024);
  pool_set_threads((int)n);
  return Napi::Number::New(info.Env(), pool_threads());
}

static Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw_type(env, "isa must be a string: scalar | avx2 | avx512 | avx512vnni | avx512bf16 | neon");
  std::string name = info[0].As<Napi::String>();
  Isa isa;
  if (!parse_isa(name.c_str(), &isa)) throw_range(env, "isa must be one of scalar | avx2 | avx512 | avx512vnni | avx512bf16 | neon, got '" + name + "'");
  bool supported = set_isa_cap(isa);
  Napi::Object o = Napi::Object::New(env);
  o.Set("isa", isa_name(active_isa_level()));
  o.Set("supported", supported);
  return o;
}

void init_info(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  exports.Set("setIsa", Napi::Function::New(env, SetIsa, "setIsa"));
}

}  // namespace tl::binding
