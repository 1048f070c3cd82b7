#include "kernels/threadpool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
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

// This thread's CPU time in ms (what it actually ran, unlike the wall clock).
double thread_cpu_ms() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

// Spin this long after a job before sleeping: long enough to cover the gap between the kernels
// of one decode step, short enough that an idle model costs nothing.
constexpr auto kSpin = std::chrono::microseconds(200);

// Whether a worker spinning for its next job since `start` should go to sleep: after kSpin, or as
// soon as it is clearly not getting a core to itself (it ran for under half the elapsed wall time).
// The second case is a shared machine (or a CPU quota per process group, e.g. Linux's autogroup),
// where the workers' CPU time comes out of the same budget as the calling thread's: spinning there
// only slows the caller down, which made 2 threads slower than 1 on a loaded machine.
bool spin_should_stop(std::chrono::steady_clock::time_point start, double cpu_start) {
  const auto elapsed = std::chrono::steady_clock::now() - start;
  if (elapsed > kSpin) return true;
  const double wall_ms = std::chrono::duration<double, std::milli>(elapsed).count();
  return wall_ms > 0.05 && thread_cpu_ms() - cpu_start < 0.5 * wall_ms;
}

class Pool {
 public:
  ~Pool() { resize(1); }

  int threads() const { return nthreads_; }

  void resize(int n) {
    std::lock_guard<std::mutex> job_lock(job_mutex_);
    stop_workers();
    nthreads_ = std::max(1, n);
    claim_.reset(new Claim[(size_t)nthreads_ * kChunksPerThread]);
    for (int i = 0; i < nthreads_ * kChunksPerThread; i++) claim_[i].v.store(kTaken);
    quit_ = false;
    // Each worker starts from the generation current now: read inside the new thread instead, a
    // job published before the thread got scheduled would be taken as already seen (deadlock).
    const uint64_t start = generation_.load(std::memory_order_acquire);
    for (int i = 1; i < nthreads_; i++) workers_.emplace_back([this, i, start] { worker_loop(i, start); });
  }

  void run(int64_t n, int64_t min_per_thread, RangeFn fn, void* ctx, int parts_per_thread) {
    if (n <= 0) return;
    int want = (int)std::min<int64_t>(nthreads_, std::max<int64_t>(1, n / std::max<int64_t>(1, min_per_thread)));
    std::unique_lock<std::mutex> job_lock(job_mutex_, std::try_to_lock);
    if (want <= 1 || !job_lock.owns_lock()) {  // small job, or the pool is busy for another JS thread
      fn(0, n, 0, ctx);
      return;
    }
    // Publish the job as `per` chunks per thread: fields first, then open the chunks.
    // Any thread may claim any open chunk; a thread reads the fields only after it has claimed a
    // chunk of this job, and the job cannot end (nor the fields change) before every claimed chunk
    // is done, so a worker that wakes late never sees a half-written job.
    const int per = std::min(std::max(parts_per_thread, 1), kChunksPerThread);
    const int64_t chunks = std::min<int64_t>(n, (int64_t)want * per);
    fn_ = fn; ctx_ = ctx; n_ = n; chunks_ = chunks;
    per_.store(per, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    const int64_t slots = (int64_t)nthreads_ * kChunksPerThread;
    for (int64_t c = 0; c < slots; c++) claim_[c].v.store(c < chunks ? kOpen : kTaken, std::memory_order_release);
    {
      std::lock_guard<std::mutex> lk(wake_mutex_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_cv_.notify_all();
    // The caller works through the chunks from the front, workers from their own offsets: when a
    // worker is slow to wake or gets preempted (a busy machine), the caller simply does more of the
    // job, so 2 threads never cost much more than 1.
    claim_and_run(0, 0);
    for (int spins = 1; done_.load(std::memory_order_acquire) != chunks; spins++) {
      cpu_relax();
      if (spins % 64 == 0) std::this_thread::yield();  // a preempted worker may need this core
    }
  }

 private:
  static constexpr int kOpen = 0, kTaken = 1;
  static constexpr int kChunksPerThread = 4;

  // Claims open chunks (starting at `first`, wrapping around) and runs them. A slot is read before
  // it is claimed (a failed compare-exchange still takes the line from its owner's cache), and the
  // chunks run are counted once at the end (one write to the shared count per thread and job).
  void claim_and_run(int64_t first, int thread) {
    const int64_t slots = (int64_t)nthreads_ * kChunksPerThread;
    int64_t ran = 0;
    for (int64_t i = 0; i < slots; i++) {
      const int64_t c = (first + i) % slots;
      int expected = kOpen;
      if (claim_[c].v.load(std::memory_order_relaxed) != kOpen ||
          !claim_[c].v.compare_exchange_strong(expected, kTaken, std::memory_order_acq_rel))
        continue;
      const int64_t b = n_ * c / chunks_, e = n_ * (c + 1) / chunks_;
      fn_(b, e, thread, ctx_);
      ran++;
    }
    if (ran > 0) done_.fetch_add(ran, std::memory_order_acq_rel);
  }

  void worker_loop(int index, uint64_t seen) {
    for (;;) {
      const auto spin_start = std::chrono::steady_clock::now();
      const double cpu_start = thread_cpu_ms();
      uint64_t gen;
      int spins = 0;
      while ((gen = generation_.load(std::memory_order_acquire)) == seen && !quit_.load(std::memory_order_relaxed)) {
        cpu_relax();
        // Yield now and then: on a busy machine this worker may share a core with the thread
        // that will post the next job, and pure spinning would steal that thread's time.
        if (++spins % 64 == 0) std::this_thread::yield();
        if (spins % 256 == 0 && spin_should_stop(spin_start, cpu_start)) {
          std::unique_lock<std::mutex> lk(wake_mutex_);
          // A timed wait in a loop rather than wait(lock, pred): the latter needs GLIBCXX_3.4.30
          // (GCC 12's libstdc++), which would raise the prebuilt binary's floor for no gain.
          while (generation_.load(std::memory_order_acquire) == seen && !quit_.load())
            wake_cv_.wait_for(lk, std::chrono::milliseconds(100));
        }
      }
      if (quit_.load()) return;
      seen = gen;
      claim_and_run((int64_t)index * per_.load(std::memory_order_relaxed), index);  // its part's first chunk
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
  // The atomics every job touches from both sides each have a cache line of their own (a line
  // shared by the claim slots, the done count and the generation went back and forth between the
  // cores for every claim): one 768×768 Q4_K GEMV at 2 threads, 7.6 → 7.4 µs a call (9.2 at 1
  // thread; bench/ab/pool-ab.cjs, medians of 4 runs), 110M decode unchanged within noise.
  alignas(64) std::atomic<uint64_t> generation_{0};
  std::atomic<bool> quit_{false};
  alignas(64) std::atomic<int64_t> done_{0};  // chunks finished in the current job
  struct alignas(64) Claim { std::atomic<int> v; };
  std::unique_ptr<Claim[]> claim_;  // per chunk slot: kOpen until a thread takes it
  RangeFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
  int64_t chunks_ = 1;
  std::atomic<int> per_{kChunksPerThread};  // chunks per thread of the current job (where a worker starts)
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
void parallel_for(int64_t n, int64_t min_per_thread, RangeFn fn, void* ctx, int parts_per_thread) {
  pool().run(n, min_per_thread, fn, ctx, parts_per_thread);
}

}  // namespace tl
