// Device selection, memory and errors for the CUDA backend. Everything runs on the legacy default
// stream, in order, so a download sees every kernel launched before it.
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "cuda/common.cuh"

namespace tl::cuda {

[[noreturn]] void fail(cudaError_t err, const char* what, const char* file, int line) {
  const char* base = file;
  for (const char* c = file; *c; c++)
    if (*c == '/') base = c + 1;
  throw Error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(err) + " (" + cudaGetErrorName(err) +
              ", " + base + ":" + std::to_string(line) + ")");
}

int device_count(std::string* why) {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear it: it is not sticky, but keep later checks clean
    if (why) *why = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
    return 0;
  }
  if (n == 0 && why) *why = "0 devices";
  return n;
}

DeviceInfo device_info(int device) {
  cudaDeviceProp prop;
  TL_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  DeviceInfo d;
  d.name = prop.name;
  d.major = prop.major;
  d.minor = prop.minor;
  d.total_memory = prop.totalGlobalMem;
  d.multiprocessors = prop.multiProcessorCount;
  return d;
}

namespace {
std::once_flag g_select_once;
std::string g_select_error;  // empty once a device is selected
int g_sm_count = 1;
int g_smem_optin = 48 * 1024;

void select_device() {
  std::string why;
  int n = device_count(&why);
  if (n == 0) {
    g_select_error = "no CUDA device found (cudaGetDeviceCount: " + why + ")";
    return;
  }
  int dev = 0;
  if (const char* env = std::getenv("TENSORLOOM_CUDA_DEVICE")) dev = std::atoi(env);
  if (dev < 0 || dev >= n) {
    g_select_error = "TENSORLOOM_CUDA_DEVICE=" + std::to_string(dev) + " but only " + std::to_string(n) +
                     " CUDA device(s) exist";
    return;
  }
  cudaError_t err = cudaSetDevice(dev);
  if (err == cudaSuccess) err = cudaDeviceGetAttribute(&g_sm_count, cudaDevAttrMultiProcessorCount, dev);
  if (err == cudaSuccess) err = cudaDeviceGetAttribute(&g_smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
  if (err != cudaSuccess) {
    g_select_error = std::string("cannot use CUDA device ") + std::to_string(dev) + ": " + cudaGetErrorString(err);
    return;
  }
}

void* g_scratch = nullptr;
size_t g_scratch_bytes = 0;
}  // namespace

void require_device() {
  std::call_once(g_select_once, select_device);
  if (!g_select_error.empty()) throw Error(g_select_error);
}

int multiprocessor_count() { return g_sm_count; }
int max_shared_memory_per_block() { return g_smem_optin; }

void* alloc(size_t bytes) {
  require_device();
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, bytes ? bytes : 1);
  if (err != cudaSuccess) {
    cudaGetLastError();
    throw Error("cannot allocate " + std::to_string(bytes) + " bytes of CUDA device memory: " + cudaGetErrorString(err));
  }
  return p;
}

void release(void* ptr) noexcept {
  if (ptr) cudaFree(ptr);  // errors ignored: also runs from finalizers while the process exits
}

void upload(void* dst, const void* host_src, size_t bytes) {
  require_device();
  if (bytes) TL_CUDA_CHECK(cudaMemcpy(dst, host_src, bytes, cudaMemcpyHostToDevice));
}

void download(void* host_dst, const void* src, size_t bytes) {
  require_device();
  if (bytes) TL_CUDA_CHECK(cudaMemcpy(host_dst, src, bytes, cudaMemcpyDeviceToHost));
}

void copy(void* dst, const void* src, size_t bytes) {
  require_device();
  if (bytes) TL_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, 0));
}

void synchronize() {
  require_device();
  TL_CUDA_CHECK(cudaDeviceSynchronize());
}

void* scratch(size_t bytes) {
  if (bytes > g_scratch_bytes) {
    if (g_scratch) {
      TL_CUDA_CHECK(cudaDeviceSynchronize());  // the old buffer may still be in use
      cudaFree(g_scratch);
      g_scratch = nullptr;
      g_scratch_bytes = 0;
    }
    g_scratch = alloc(bytes);
    g_scratch_bytes = bytes;
  }
  return g_scratch;
}

}  // namespace tl::cuda
