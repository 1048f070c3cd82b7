// Read-only memory maps of model files, handed to JS as external ArrayBuffers so tensor views
// point straight into the page cache (no copy at all).
//
//   mmapFile(path) → ArrayBuffer   the whole file, PROT_READ, MAP_PRIVATE, 2 MiB-aligned, MADV_HUGEPAGE
//   hugePages(buffer, off, len)    the whole 2 MiB pages of [off, off + len) of a mapping moved to
//                                  anonymous huge pages (a private copy: see "Page size" below)
//   munmapFile(buffer) → boolean   detaches the buffer (every view becomes length 0) and unmaps
//                                  now; false if it was not one of ours or already closed
//   residentBytes(buffer) → number bytes of the mapping currently in RAM (mincore)
//   hugeBuffer(bytes) → ArrayBuffer zeroed, writable anonymous memory, 2 MiB-aligned, MADV_HUGEPAGE
//                                  (the KV cache: see "Page size")
//
// Lifetime: a Mapping lives until V8 collects the ArrayBuffer (the finalizer deletes it). An
// explicit munmapFile unmaps early and marks it closed, so the finalizer does not unmap twice.
// The registry (data pointer → Mapping) lets munmapFile find the mapping from the buffer alone;
// it is shared by all worker threads, hence the mutex.
//
// Page size. Decode streams every weight once per token: a 1.6 GB file is ~390 K 4 KiB pages, each
// a TLB miss per token, with page-table entries (~3 MB) that the streamed weights keep evicting.
// Measured on an AMD Zen 5 VM (no PMU there to count the misses themselves): 1B-shaped Llama q8_0,
// 1 thread, A/B in one process (bench/ab/decode-ab.mjs), CPU ms per token over the page cache's
// 4 KiB pages ~70-95, over the same bytes in 2 MiB pages (a page cache read in through a
// MADV_HUGEPAGE mapping, or an anonymous huge-page copy) ~56-65; llama-bench
// shows the same (mmap 10.5-10.9 tok/s, --load-mode none 14.8-16). So:
//   - mmapFile aligns the mapping to 2 MiB and advises MADV_HUGEPAGE: pages the file brings into
//     the page cache through this mapping come in as 2 MiB folios (on file systems with large
//     folios, e.g. ext4 from Linux 6.16) and are mapped by PMD, at no cost in memory or load
//     time. Pages already cached in small folios stay small: the hint cannot help those.
//   - hugePages is for that case: a private copy of a range in anonymous huge pages, fast to
//     stream whatever the page cache holds, at the cost of a copy at load (and of memory the page
//     cache could otherwise share between processes). The TS side chooses (mapped-file.ts).
// The KV cache is written a row at a time as a sequence grows, and in 4 KiB pages every ~3rd row of
// a small model's layer began with a page fault, which costs ~12 µs in a VM (the 110M Llama, f16
// cache: +4.5 µs per row written, ~100 µs per decoded token until positions repeat). hugeBuffer
// gives it 2 MiB pages: one fault per 2 MiB. (Reading the rows back measured the same in either
// page size: the cost was the first touch, not TLB misses.)
// Both hints are best effort: where THP is off the memory simply stays in 4 KiB pages.
//
// Sparse reads. A token embedding is read one row per token. Linux (6.18 here) maps a page-cache
// folio whole when one of its pages is read through a mapping, and with the file cached in large
// folios (up to 2 MiB) every row read mapped its folio: after ~600 random tokens 97 % of the
// 1B-shaped model's 141 MiB Q4_K embedding counted in the process's RSS (measured through
// /proc/self/pagemap; the same with no advice, MADV_NOHUGEPAGE or MADV_RANDOM), which took its peak
// RSS over file + KV cache + 100 MB. read_file_mapped lets such a reader copy its rows with pread
// from the mapping's file instead (the embedding op does, for tables of kSparseReadMin bytes or
// more: ops.cpp): the same bytes, straight from the page cache, and the mapping's pages untouched
// (1B-shaped q4_k_m, 128-token prompts, 128 tokens each: peak RSS 1016 → 879 MiB). The file is
// opened on the first such read and only while its path still names the mapped file (device and
// inode); otherwise the reader falls back to the mapping.
#include "binding/check.h"
#include "binding/files.h"

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define TL_HAVE_MMAP 1
#endif

#include <cerrno>
#include <cmath>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace tl::binding {

#ifdef TL_HAVE_MMAP
namespace {

struct Mapping {
  void* ptr;
  size_t len;      // bytes of the file (the ArrayBuffer's length)
  size_t map_len;  // bytes mapped at ptr
  bool closed;
  std::string path;  // the file's, for hugePages; empty for a hugeBuffer
  bool anonymous = false;  // a hugeBuffer: its bytes are reported to V8 as external memory
  int fd = -1;  // the file, opened by the first read_file_mapped (closed when unmapped); -2: not readable
  dev_t dev = 0;  // the mapped file's identity: read_file_mapped reads only the same file
  ino_t ino = 0;
};

// Unmaps m and closes its file (registry_mutex held).
void unmap(Mapping* m) {
  munmap(m->ptr, m->map_len);
  if (m->fd >= 0) close(m->fd);
  m->fd = -1;
  m->closed = true;
}

constexpr size_t kHugePage = size_t(2) << 20;

// An address range of `len` bytes starting at a 2 MiB boundary, reserved PROT_NONE (to be
// replaced with MAP_FIXED), or nullptr. A THP can only be mapped by PMD at an aligned address.
void* reserve_aligned(size_t len) {
  void* raw = mmap(nullptr, len + kHugePage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const uintptr_t r = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t a = (r + kHugePage - 1) & ~(uintptr_t)(kHugePage - 1);
  if (a > r) munmap(raw, a - r);
  const uintptr_t end = r + len + kHugePage, aend = a + len;
  if (end > aend) munmap(reinterpret_cast<void*>(aend), end - aend);
  return reinterpret_cast<void*>(a);
}

void advise_huge(void* p, size_t len) {
#ifdef MADV_HUGEPAGE
  madvise(p, len, MADV_HUGEPAGE);  // best effort: EINVAL where THP is not built in
#else
  (void)p, (void)len;
#endif
}

// n bytes (a multiple of 2 MiB) of zeroed, writable anonymous memory at a 2 MiB boundary, advised
// MADV_HUGEPAGE; nullptr (errno set) when it cannot be mapped.
void* map_anonymous_huge(size_t n) {
  void* p = reserve_aligned(n);
  if (p && mmap(p, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
    const int e = errno;
    munmap(p, n);
    errno = e;
    p = nullptr;
  }
  if (p) advise_huge(p, n);
  return p;
}

std::mutex registry_mutex;
std::unordered_map<void*, Mapping*>& registry() {
  static auto* map = new std::unordered_map<void*, Mapping*>();  // never destroyed: finalizers may run at exit
  return *map;
}

void finalize_mapping(Napi::Env env, void*, Mapping* m) {
  if (m->anonymous) Napi::MemoryManagement::AdjustExternalMemory(env, -(int64_t)m->map_len);
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    if (!m->closed) {
      registry().erase(m->ptr);
      unmap(m);
    }
  }
  delete m;
}

std::string errno_text(int e) { return std::string(std::strerror(e)); }

// Opens `path` read-only; throws (and closes) unless it is a non-empty regular file.
int open_regular(Napi::Env env, const std::string& path) {
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
  return fd;
}

// Registers m and hands its bytes to JS (PROT_READ: a JS write through a view would fault; the TS
// wrapper only hands out read-only use (weights), and documents it).
Napi::Value wrap(Napi::Env env, Mapping* m) {
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    registry()[m->ptr] = m;
  }
  return Napi::ArrayBuffer::New(env, m->ptr, m->len, finalize_mapping, m);
}

}  // namespace

static Napi::Value MmapFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw_type(env, "path must be a string");
  std::string path = info[0].As<Napi::String>();
  const int fd = open_regular(env, path);
  struct stat st;
  fstat(fd, &st);
  size_t len = (size_t)st.st_size;
  // 2 MiB-aligned (see "Page size"); a plain mapping if the reservation fails
  void* want = len >= kHugePage ? reserve_aligned(len) : nullptr;
  void* ptr = mmap(want, len, PROT_READ, want ? MAP_PRIVATE | MAP_FIXED : MAP_PRIVATE, fd, 0);
  int e = errno;
  if (ptr == MAP_FAILED && want) {
    munmap(want, len);
    ptr = mmap(nullptr, len, PROT_READ, MAP_PRIVATE, fd, 0);
    e = errno;
  }
  close(fd);  // the mapping keeps the file alive
  if (ptr == MAP_FAILED) throw Napi::Error::New(env, "cannot mmap '" + path + "': " + errno_text(e));
  if (len >= kHugePage) advise_huge(ptr, len);
  Mapping* m = new Mapping{ptr, len, len, false, path};
  m->dev = st.st_dev, m->ino = st.st_ino;
  return wrap(env, m);
}

// hugePages(buffer, offset, length) → bytes: the whole 2 MiB pages of a mmapFile mapping inside
// [offset, offset + length) replaced by anonymous huge pages holding the same bytes (read from the
// file again), read-only like the rest; the edges and everything else stay mapped from the file.
// For the weights decode streams whole (see "Page size"), leaving sparse ones (a token embedding
// read a row per token) to the page cache. Same addresses, so every view stays valid.
static Napi::Value HugePages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsArrayBuffer() || !info[1].IsNumber() || !info[2].IsNumber())
    throw_type(env, "hugePages(buffer, offset, length): an ArrayBuffer from mmapFile and two numbers");
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  const double off_d = info[1].As<Napi::Number>().DoubleValue(), len_d = info[2].As<Napi::Number>().DoubleValue();
  if (ab.IsDetached()) return Napi::Number::New(env, 0);
  if (!(off_d >= 0) || !(len_d >= 0) || off_d + len_d > (double)ab.ByteLength())
    throw_range(env, "hugePages: the range lies outside the buffer");
#ifndef __linux__
  return Napi::Number::New(env, 0);  // mremap (and THP) are Linux's
#else
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto it = registry().find(ab.Data());
  if (it == registry().end() || it->second->len != ab.ByteLength()) throw_type(env, "hugePages: buffer must be an ArrayBuffer from mmapFile");
  Mapping* m = it->second;
  const uintptr_t base = reinterpret_cast<uintptr_t>(m->ptr);
  const uintptr_t a = (base + (uintptr_t)off_d + kHugePage - 1) & ~(uintptr_t)(kHugePage - 1);
  const uintptr_t b = (base + (uintptr_t)(off_d + len_d)) & ~(uintptr_t)(kHugePage - 1);
  if (b <= a) return Napi::Number::New(env, 0);
  const int fd = open(m->path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Napi::Number::New(env, 0);  // best effort: the file mapping stays as it is
  const size_t n = b - a;
  // Read into a fresh region first, then move it over the mapping's pages with mremap: the
  // mapping is never without its bytes, and a failure leaves it as it was.
  void* fresh = map_anonymous_huge(n);
  bool ok = fresh != nullptr;
  if (ok) {
    size_t done = 0;
    while (ok && done < n) {
      const ssize_t r = pread(fd, static_cast<char*>(fresh) + done, std::min<size_t>(n - done, size_t(64) << 20), (off_t)(a - base + done));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) ok = false;
      else done += (size_t)r;
    }
  }
  close(fd);
  ok = ok && mprotect(fresh, n, PROT_READ) == 0 &&
       mremap(fresh, n, n, MREMAP_MAYMOVE | MREMAP_FIXED, reinterpret_cast<void*>(a)) != MAP_FAILED;
  if (!ok) {
    if (fresh) munmap(fresh, n);
    return Napi::Number::New(env, 0);
  }
  return Napi::Number::New(env, (double)n);
#endif
}

// hugeBuffer(bytes) → ArrayBuffer: zeroed, writable anonymous memory starting at a 2 MiB boundary
// and advised MADV_HUGEPAGE, unmapped when V8 collects the buffer (or by munmapFile). Its size is
// reported to V8 as external memory, so unreachable buffers still prompt a collection.
static Napi::Value HugeBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw_type(env, "hugeBuffer(bytes): bytes must be a number");
  const double bytes = info[0].As<Napi::Number>().DoubleValue();
  if (!(bytes >= 0) || bytes != std::floor(bytes) || bytes > (double)((int64_t)1 << 50))
    throw_range(env, "hugeBuffer: bytes must be an integer in [0, 2^50], got " + std::to_string(bytes));
  const size_t len = (size_t)bytes;
  if (len == 0) return Napi::ArrayBuffer::New(env, 0);
  const size_t map_len = (len + kHugePage - 1) & ~(kHugePage - 1);
  void* p = map_anonymous_huge(map_len);
  if (!p) {
    const int e = errno;
    Napi::Error err = Napi::Error::New(env, "tensorloom: cannot allocate " + std::to_string(len) + " bytes: " + errno_text(e));
    err.Set("code", "ENOMEM");
    throw err;
  }
#ifdef MADV_NOHUGEPAGE
  // The 2 MiB page that holds the end of the buffer is mostly past it: small pages there, so the
  // bytes after `len` are never resident (a 1B model's 8.25 MiB KV cache cost 10 MiB of RSS).
  const size_t whole = len & ~(kHugePage - 1);
  if (whole < map_len) madvise(static_cast<char*>(p) + whole, map_len - whole, MADV_NOHUGEPAGE);
#endif
  Mapping* m = new Mapping{p, len, map_len, false, std::string()};
  m->anonymous = true;
  Napi::MemoryManagement::AdjustExternalMemory(env, (int64_t)map_len);
  return wrap(env, m);
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
    unmap(m);
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

#ifdef TL_HAVE_MMAP
bool read_file_mapped(const void* p, size_t n, void* dst) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  std::lock_guard<std::mutex> lock(registry_mutex);  // held through the read: unmap waits for it
  for (const auto& [base, m] : registry()) {
    const uintptr_t b = reinterpret_cast<uintptr_t>(base);
    if (m->anonymous || m->closed || a < b || a - b > m->len || n > m->len - (a - b)) continue;
    if (m->fd == -2) return false;
    if (m->fd < 0) {  // opened once, and only if the path still names the mapped file
      const int fd = open(m->path.c_str(), O_RDONLY | O_CLOEXEC);
      struct stat st;
      if (fd < 0 || fstat(fd, &st) != 0 || st.st_dev != m->dev || st.st_ino != m->ino) {
        if (fd >= 0) close(fd);
        m->fd = -2;  // not tried again: the reader keeps reading through the mapping
        return false;
      }
      m->fd = fd;
    }
    size_t done = 0;
    while (done < n) {
      const ssize_t r = pread(m->fd, static_cast<char*>(dst) + done, n - done, (off_t)(a - b + done));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      done += (size_t)r;
    }
    return true;
  }
  return false;
}
#else
bool read_file_mapped(const void*, size_t, void*) { return false; }
#endif

void init_files(Napi::Env env, Napi::Object exports) {
#ifdef TL_HAVE_MMAP
  exports.Set("mmapFile", Napi::Function::New(env, MmapFile, "mmapFile"));
  exports.Set("hugePages", Napi::Function::New(env, HugePages, "hugePages"));
  exports.Set("hugeBuffer", Napi::Function::New(env, HugeBuffer, "hugeBuffer"));
  exports.Set("munmapFile", Napi::Function::New(env, MunmapFile, "munmapFile"));
  exports.Set("residentBytes", Napi::Function::New(env, ResidentBytes, "residentBytes"));
#else
  (void)env;
  (void)exports;
#endif
}

}  // namespace tl::binding
