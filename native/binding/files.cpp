// Read-only memory maps of model files, handed to JS as external ArrayBuffers so tensor views
// point straight into the page cache (no copy at all).
//
//   mmapFile(path) → ArrayBuffer   the whole file, PROT_READ, MAP_PRIVATE
//   munmapFile(buffer) → boolean   detaches the buffer (every view becomes length 0) and unmaps
//                                  now; false if it was not one of ours or already closed
//   residentBytes(buffer) → number bytes of the mapping currently in RAM (mincore)
//
// Lifetime: a Mapping lives until V8 collects the ArrayBuffer (the finalizer deletes it). An
// explicit munmapFile unmaps early and marks it closed, so the finalizer does not unmap twice.
// The registry (data pointer → Mapping) lets munmapFile find the mapping from the buffer alone;
// it is shared by all worker threads, hence the mutex.
#include "binding/check.h"

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define TL_HAVE_MMAP 1
#endif

#include <cerrno>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace tl::binding {

#ifdef TL_HAVE_MMAP
namespace {

struct Mapping {
  void* ptr;
  size_t len;
  bool closed;
};

std::mutex registry_mutex;
std::unordered_map<void*, Mapping*>& registry() {
  static auto* map = new std::unordered_map<void*, Mapping*>();  // never destroyed: finalizers may run at exit
  return *map;
}

void finalize_mapping(Napi::Env, void*, Mapping* m) {
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    if (!m->closed) {
      registry().erase(m->ptr);
      munmap(m->ptr, m->len);
      m->closed = true;
    }
  }
  delete m;
}

std::string errno_text(int e) { return std::string(std::strerror(e)); }

}  // namespace

static Napi::Value MmapFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw_type(env, "path must be a string");
  std::string path = info[0].As<Napi::String>();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    Napi::Error err = Napi::Error::New(env, "cannot open '" + path + "': " + errno_text(e));
    err.Set("code", e == ENOENT ? "ENOENT" : "EIO");
    throw err;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    throw Napi::Error::New(env, "cannot stat '" + path + "': " + errno_text(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    throw Napi::Error::New(env, "'" + path + "' is not a regular file");
  }
  if (st.st_size <= 0) {
    close(fd);
    throw Napi::Error::New(env, "'" + path + "' is empty");
  }
  size_t len = (size_t)st.st_size;
  void* ptr = mmap(nullptr, len, PROT_READ, MAP_PRIVATE, fd, 0);
  int e = errno;
  close(fd);  // the mapping keeps the file alive
  if (ptr == MAP_FAILED) throw Napi::Error::New(env, "cannot mmap '" + path + "': " + errno_text(e));

  auto* m = new Mapping{ptr, len, false};
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    registry()[ptr] = m;
  }
  // The memory is PROT_READ: a JS write through a view would fault. The TS wrapper only hands out
  // read-only use (weights), and documents it.
  return Napi::ArrayBuffer::New(env, ptr, len, finalize_mapping, m);
}

static Napi::Value MunmapFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArrayBuffer()) throw_type(env, "buffer must be an ArrayBuffer from mmapFile");
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  if (ab.IsDetached()) return Napi::Boolean::New(env, false);
  void* ptr = ab.Data();
  Mapping* m = nullptr;
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    auto it = registry().find(ptr);
    if (it == registry().end() || it->second->len != ab.ByteLength()) return Napi::Boolean::New(env, false);
    m = it->second;
    registry().erase(it);
    // Unmap, then detach: no JS runs in between (we are on the JS thread), and after Detach no view
    // can reach the memory. Detach may run the finalizer synchronously, which deletes `m`, so `m`
    // is not touched after it; the finalizer sees `closed` and only frees the Mapping.
    munmap(m->ptr, m->len);
    m->closed = true;
  }
  ab.Detach();
  return Napi::Boolean::New(env, true);
}

static Napi::Value ResidentBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArrayBuffer()) throw_type(env, "buffer must be an ArrayBuffer from mmapFile");
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  if (ab.IsDetached()) return Napi::Number::New(env, 0);
  void* ptr = ab.Data();
  size_t len = ab.ByteLength();
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    if (registry().find(ptr) == registry().end()) throw_type(env, "buffer must be an ArrayBuffer from mmapFile");
  }
  long page = sysconf(_SC_PAGESIZE);
  size_t pages = (len + (size_t)page - 1) / (size_t)page;
#if defined(__APPLE__)
  std::vector<char> vec(pages);
#else
  std::vector<unsigned char> vec(pages);
#endif
  if (mincore(ptr, len, vec.data()) != 0) return Napi::Number::New(env, -1);
  size_t resident = 0;
  for (size_t i = 0; i < pages; i++)
    if (vec[i] & 1) resident += (size_t)page;
  if (resident > len) resident = len;
  return Napi::Number::New(env, (double)resident);
}
#endif  // TL_HAVE_MMAP

void init_files(Napi::Env env, Napi::Object exports) {
#ifdef TL_HAVE_MMAP
  exports.Set("mmapFile", Napi::Function::New(env, MmapFile, "mmapFile"));
  exports.Set("munmapFile", Napi::Function::New(env, MunmapFile, "munmapFile"));
  exports.Set("residentBytes", Napi::Function::New(env, ResidentBytes, "residentBytes"));
#else
  (void)env;
  (void)exports;
#endif
}

}  // namespace tl::binding
