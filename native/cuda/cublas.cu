// Optional cuBLAS for the large GEMMs, loaded at run time with dlopen — never a link-time
// dependency (the build machine and CI have no cuBLAS; a user's GPU machine usually does).
// When it is absent, disabled (TENSORLOOM_CUBLAS=0 or cudaUseCublas(false)), or refuses a call,
// matmul_t uses our own kernels (matmul.cu), so results never depend on it being there.
//
// No cuBLAS header is available at build time, so the few entry points and enum values used are
// declared here; their values are those of cublas_api.h / library_types.h (CUDA 12/13).
#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "cuda/api.h"
#include "cuda/cublas.h"

namespace tl::cuda {
namespace {

// cublas_api.h
constexpr int kOpN = 0, kOpT = 1;                        // cublasOperation_t
constexpr int kCompute32F = 68;                          // cublasComputeType_t CUBLAS_COMPUTE_32F
constexpr int kGemmDefault = -1;                         // cublasGemmAlgo_t CUBLAS_GEMM_DEFAULT
using CublasHandle = void*;
using CreateFn = int (*)(CublasHandle*);                 // cublasCreate_v2
using GemmExFn = int (*)(CublasHandle, int, int, int, int, int, const void*, const void*, int, int, const void*,
                         int, int, const void*, void*, int, int, int, int);  // cublasGemmEx

struct Cublas {
  CublasHandle handle = nullptr;
  GemmExFn gemm_ex = nullptr;
  std::string status;  // "cuBLAS (<library>)" or why it is not used
};

std::once_flag g_once;
Cublas g_cublas;
bool g_enabled = true;

void load() {
  try {
    require_device();  // the handle binds to the current device: select ours first
  } catch (const Error& e) {
    g_cublas.status = std::string("own kernels (") + e.what() + ")";
    return;
  }
  const char* env = std::getenv("TENSORLOOM_CUBLAS");
  if (env && std::strcmp(env, "0") == 0) {
    g_cublas.status = "own kernels (cuBLAS disabled by TENSORLOOM_CUBLAS=0)";
    g_enabled = false;
    return;
  }
  // Same major version as the runtime we link, then whatever the loader finds.
  const char* names[] = {env && *env ? env : nullptr, "libcublas.so.13", "libcublas.so"};
  void* lib = nullptr;
  const char* found = nullptr;
  std::string errors;
  for (const char* name : names) {
    if (!name) continue;
    lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (lib) {
      found = name;
      break;
    }
    errors += std::string(errors.empty() ? "" : "; ") + dlerror();
  }
  if (!lib) {
    g_cublas.status = "own kernels (no cuBLAS: " + errors + ")";
    return;
  }
  auto create = reinterpret_cast<CreateFn>(dlsym(lib, "cublasCreate_v2"));
  auto gemm_ex = reinterpret_cast<GemmExFn>(dlsym(lib, "cublasGemmEx"));
  if (!create || !gemm_ex) {
    g_cublas.status = std::string("own kernels (") + found + " lacks cublasCreate_v2/cublasGemmEx)";
    return;
  }
  CublasHandle h = nullptr;
  int st = create(&h);
  if (st != 0) {
    g_cublas.status = std::string("own kernels (cublasCreate failed with status ") + std::to_string(st) + ")";
    return;
  }
  g_cublas.handle = h;  // kept for the life of the process; runs on the legacy default stream
  g_cublas.gemm_ex = gemm_ex;
  g_cublas.status = std::string("cuBLAS (") + found + ")";
}

}  // namespace

std::string gemm_provider() {
  std::call_once(g_once, load);
  return g_cublas.gemm_ex && !g_enabled ? "own kernels (cuBLAS switched off)" : g_cublas.status;
}

bool use_cublas(bool enabled) {
  std::call_once(g_once, load);
  g_enabled = enabled;
  return enabled && g_cublas.gemm_ex != nullptr;
}

bool cublas_enabled() {
  std::call_once(g_once, load);
  return g_enabled && g_cublas.gemm_ex != nullptr;
}

bool cublas_gemm_t(float* out, const void* a, CudaDataType a_type, const void* w, CudaDataType w_type, int64_t M,
                   int64_t N, int64_t K) {
  std::call_once(g_once, load);
  if (!g_enabled || !g_cublas.gemm_ex) return false;
  if (M > 0x7fffffff || N > 0x7fffffff || K > 0x7fffffff) return false;
  // Row-major out[M, N] = a[M, K] · w[N, K]ᵀ is column-major outᵀ[N, M] = op_T(w) · a:
  // w read as column-major [K, N] (ld K) transposed, a as column-major [K, M] (ld K).
  const float alpha = 1.f, beta = 0.f;
  int st = g_cublas.gemm_ex(g_cublas.handle, kOpT, kOpN, (int)N, (int)M, (int)K, &alpha, w, (int)w_type, (int)K, a,
                            (int)a_type, (int)K, &beta, out, (int)CudaDataType::f32, (int)N, kCompute32F, kGemmDefault);
  return st == 0;
}

}  // namespace tl::cuda
