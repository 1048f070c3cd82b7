#include "kernels/threadpool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
static inline void cpu_relax() { _mm_pause(); }
#elif defined(__aarch64__)
static inline void cpu_relax() { asm volatile("yield"); }
#else
static inline void cpu_relax() {}
#endif

namespace tl {

int physical_cores() {
  static const int cores = [] {
    std::set<std::string> siblings;
    for (int cpu = 0; cpu < 4096; cpu++) {
      std::ifstream f("/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/thread_siblings_list");
      if (!f) break;
      std::string s;
      std::getline(f, s);
      siblings.insert(s);
    }
    int n = (int)siblings.size();
    if (n < 1) n = (int)std::thread::hardware_concurrency() ;
    return std::max(1, n);
  }();
  return cores;
}

namespace {

// Spin this long after a job before sleeping: long enough to cover the gap between the kernels
// of one decode step, short enough that an idle model costs nothing.
constexpr auto kSpin = std::chrono::microseconds(200);

class Pool {
 public:
  ~Pool() { resize(1); }

  int threads() const { return nthreads_; }

  void resize(int n) {
    std::lock_guard<std::mutex> job_lock(job_mutex_);
    stop_workers();
    nthreads_ = std::max(1, n);
    quit_ = false;
    // Each worker starts from the generation current now: read inside the new thread instead, a
    // job published before the thread got scheduled would be taken as already seen (deadlock).
    const uint64_t start = generation_.load(std::memory_order_acquire);
    for (int i = 1; i < nthreads_; i++) workers_.emplace_back([this, i, start] { worker_loop(i, start); });
  }

  void run(int64_t n, int64_t min_per_thread, RangeFn fn, void* ctx) {
    if (n <= 0) return;
    int want = (int)std::min<int64_t>(nthreads_, std::max<int64_t>(1, n / std::max<int64_t>(1, min_per_thread)));
    std::unique_lock<std::mutex> job_lock(job_mutex_, std::try_to_lock);
    if (want <= 1 || !job_lock.owns_lock()) {  // small job, or the pool is busy for another JS thread
      fn(0, n, 0, ctx);
      return;
    }
    fn_ = fn; ctx_ = ctx; n_ = n; active_ = want;
    pending_.store(want - 1, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lk(wake_mutex_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_cv_.notify_all();
    fn(0, n / want, 0, ctx);
    while (pending_.load(std::memory_order_acquire) != 0) cpu_relax();
  }

 private:
  void worker_loop(int index, uint64_t seen) {
    for (;;) {
      auto deadline = std::chrono::steady_clock::now() + kSpin;
      uint64_t gen;
      int spins = 0;
      while ((gen = generation_.load(std::memory_order_acquire)) == seen && !quit_.load(std::memory_order_relaxed)) {
        cpu_relax();
        if (++spins % 256 == 0 && std::chrono::steady_clock::now() > deadline) {
          std::unique_lock<std::mutex> lk(wake_mutex_);
          wake_cv_.wait(lk, [&] { return generation_.load(std::memory_order_acquire) != seen || quit_.load(); });
        }
      }
      if (quit_.load()) return;
      seen = gen;
      if (index < active_) {
        int64_t b = n_ * index / active_, e = n_ * (index + 1) / active_;
        fn_(b, e, index, ctx_);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lk(wake_mutex_);
      quit_ = true;
    }
    wake_cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  int nthreads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex job_mutex_;  // one job at a time
  std::mutex wake_mutex_;
  std::condition_variable wake_cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> quit_{false};
  std::atomic<int> pending_{0};
  RangeFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
  int active_ = 1;
};

Pool& pool() {
  // Leaked on purpose: joining threads from a static destructor at process exit can deadlock.
  static Pool* p = [] {
    auto* q = new Pool();
    q->resize(physical_cores());
    return q;
  }();
  return *p;
}

}  // namespace

void pool_set_threads(int n) { pool().resize(n < 1 ? physical_cores() : n); }
int pool_threads() { return pool().threads(); }
void parallel_for(int64_t n, int64_t min_per_thread, RangeFn fn, void* ctx) { pool().run(n, min_per_thread, fn, ctx); }

}  // namespace tl
