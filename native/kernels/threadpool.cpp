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
// Spin iterations (a pause each, ~20 ns on Zen 5) between checks while waiting. Each check may
// cost a system call (sched_yield, or this thread's CPU clock: ~1.5 µs each in a KVM guest), and a
// job published meanwhile waits for it: checked every 64 / 256 spins, they added ~1 µs to a
// worker's start.
constexpr int kSpinsPerYield = 1024, kSpinsPerCheck = 4096;

// Whether a worker spinning for its next job since `start` should go to sleep: after kSpin, or as
// soon as it is clearly not getting a core to itself (from its first check on, it ran for under
// half the elapsed wall time). The second case is a shared machine (or a CPU quota per process
// group, e.g. Linux's autogroup), where the workers' CPU time comes out of the same budget as the
// calling thread's: spinning there only slows the caller down, which made 2 threads slower than 1
// on a loaded machine.
struct SpinClock {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now(), mark;
  double cpu_mark = -1;
  bool should_stop() {
    const auto now = std::chrono::steady_clock::now();
    if (now - start > kSpin) return true;
    if (cpu_mark < 0) {  // the first check: start measuring the share of the core this thread gets
      mark = now, cpu_mark = thread_cpu_ms();
      return false;
    }
    const double wall_ms = std::chrono::duration<double, std::milli>(now - mark).count();
    return wall_ms > 0.05 && thread_cpu_ms() - cpu_mark < 0.5 * wall_ms;
  }
};

// A job goes out as `chunks` ranges of [0, n), `per` per thread; thread t starts at chunk t·per.
// A thread claims chunk c of the job published as generation g by raising claim slot c from below
// g to g (compare-exchange): nothing has to reopen the slots for the next job, so the chunks a
// worker takes every time stay in its own cache. Each cache line that crosses between cores costs
// ~0.2 µs here (2 vCPUs of a KVM guest), and a worker's share of a job used to wait on about ten
// of them in a row (the job's fields, every slot reopened by the caller, its chunks' slots, the
// others' slots, the done count): a 5 µs job took as long at 2 threads as at 1. Now one 768×768
// Q4_K GEMV at 2 threads takes 5.2–5.4 µs a call against 6.3–10 µs before (9.2–9.6 at 1 thread;
// `node bench/ab/pool-ab.cjs OLD NEW 768 5`), and 110M decode at 2 threads runs 1.03–1.09× (q4_0,
// q4_k_m, q6_k; bench/ab/decode-addon-ab.mjs, f16 KV, 200 tokens).
class Pool {
 public:
  ~Pool() { resize(1); }

  int threads() const { return nthreads_; }

  void resize(int n) {
    std::lock_guard<std::mutex> job_lock(job_mutex_);
    stop_workers();
    nthreads_ = std::max(1, n);
    claim_.reset(new Claim[(size_t)nthreads_ * kChunksPerThread]);
    for (int i = 0; i < nthreads_ * kChunksPerThread; i++) claim_[i].v.store(0);
    job_.quit = false;
    // Each worker starts from the generation current now: read inside the new thread instead, a
    // job published before the thread got scheduled would be taken as already seen (deadlock).
    const uint64_t start = job_.generation.load(std::memory_order_acquire);
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
    const int per = std::min(std::max(parts_per_thread, 1), kChunksPerThread);
    const int64_t chunks = std::min<int64_t>(n, (int64_t)want * per);
    // Publish as a seqlock: an odd generation while the fields change, the next even one when the
    // job is out. A worker takes the fields only if the generation is even and the same before
    // and after it read them, and claims chunks with that generation: a claim can only succeed
    // while that job still has an unclaimed chunk, i.e. before it can end, so the fields it read
    // are the job's for as long as it runs that chunk.
    const uint64_t g = job_.generation.load(std::memory_order_relaxed) + 2;
    {
      std::lock_guard<std::mutex> lk(wake_mutex_);
      job_.generation.store(g - 1, std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_release);
      job_.fn.store(fn, std::memory_order_relaxed);
      job_.ctx.store(ctx, std::memory_order_relaxed);
      job_.n.store(n, std::memory_order_relaxed);
      job_.chunks.store(chunks, std::memory_order_relaxed);
      job_.per.store(per, std::memory_order_relaxed);
      job_.generation.store(g, std::memory_order_release);
    }
    wake_cv_.notify_all();
    // The caller works through the chunks from the front, workers from their own offsets: when a
    // worker is slow to wake or gets preempted (a busy machine), the caller simply does more of the
    // job, so 2 threads never cost much more than 1.
    // the caller counts its own chunks itself (one shared write less); it waits for the others'
    const int64_t own = claim_and_run(JobView{fn, ctx, n, chunks, per, g}, 0, 0);
    done_target_ += (uint64_t)(chunks - own);
    for (int spins = 1; done_.load(std::memory_order_acquire) != done_target_; spins++) {
      cpu_relax();
      if (spins % kSpinsPerYield == 0) std::this_thread::yield();  // a preempted worker may need this core
    }
  }

 private:
  static constexpr int kChunksPerThread = 4;

  struct JobView {  // one job's fields as a thread read them
    RangeFn fn;
    void* ctx;
    int64_t n, chunks;
    int per;
    uint64_t generation;
  };

  // Claims open chunks of job j and runs them: the thread's own `per` chunks from `first` on,
  // then any the others left. A worker counts them done after its own (the caller may be waiting
  // on just those) and again after the rest; the caller (thread 0) gets its count back.
  int64_t claim_and_run(const JobView& j, int64_t first, int thread) {
    int64_t ran = 0, total = 0;
    const auto report = [&] {
      if (thread != 0 && ran > 0) done_.fetch_add((uint64_t)ran, std::memory_order_acq_rel);
      total += ran, ran = 0;
    };
    for (int64_t i = 0; i < j.chunks; i++) {
      if (i == j.per) report();
      const int64_t c = (first + i) % j.chunks;
      uint64_t seen = claim_[c].v.load(std::memory_order_relaxed);
      if (seen >= j.generation || !claim_[c].v.compare_exchange_strong(seen, j.generation, std::memory_order_acq_rel)) continue;
      j.fn(j.n * c / j.chunks, j.n * (c + 1) / j.chunks, thread, j.ctx);
      ran++;
    }
    report();
    return total;
  }

  // The published job, if generation g is still even and current after its fields were read.
  bool read_job(uint64_t g, JobView* j) {
    j->fn = job_.fn.load(std::memory_order_relaxed);
    j->ctx = job_.ctx.load(std::memory_order_relaxed);
    j->n = job_.n.load(std::memory_order_relaxed);
    j->chunks = job_.chunks.load(std::memory_order_relaxed);
    j->per = job_.per.load(std::memory_order_relaxed);
    j->generation = g;
    std::atomic_thread_fence(std::memory_order_acquire);
    return job_.generation.load(std::memory_order_relaxed) == g;
  }

  void worker_loop(int index, uint64_t seen) {
    for (;;) {
      SpinClock clock;
      uint64_t g;
      int spins = 0;
      // a new, completely written job (even generation) or quit
      const auto waiting = [&] { return ((g = job_.generation.load(std::memory_order_acquire)) == seen || (g & 1)) && !job_.quit.load(std::memory_order_relaxed); };
      while (waiting()) {
        cpu_relax();
        // Yield now and then: on a busy machine this worker may share a core with the thread
        // that will post the next job, and pure spinning would steal that thread's time.
        if (++spins % kSpinsPerYield == 0) std::this_thread::yield();
        if (spins % kSpinsPerCheck == 0 && clock.should_stop()) {
          std::unique_lock<std::mutex> lk(wake_mutex_);
          // A timed wait in a loop rather than wait(lock, pred): the latter needs GLIBCXX_3.4.30
          // (GCC 12's libstdc++), which would raise the prebuilt binary's floor for no gain.
          while (waiting()) wake_cv_.wait_for(lk, std::chrono::milliseconds(100));
        }
      }
      if (job_.quit.load()) return;
      JobView j;
      if (!read_job(g, &j)) continue;  // already replaced by a newer job: wait for that one
      seen = g;
      claim_and_run(j, (int64_t)index * j.per, index);  // its part's first chunk
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lk(wake_mutex_);
      job_.quit = true;
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
  // The job, all in one cache line (a worker takes it in one transfer); then the done count (every
  // chunk the workers ever finished: the caller waits for done_target_) and the claim slots, a
  // line each.
  struct alignas(64) JobLine {
    std::atomic<uint64_t> generation{0};
    std::atomic<RangeFn> fn{nullptr};
    std::atomic<void*> ctx{nullptr};
    std::atomic<int64_t> n{0}, chunks{1};
    std::atomic<int> per{kChunksPerThread};
    std::atomic<bool> quit{false};  // the workers end (polled with the generation)
  } job_;
  alignas(64) std::atomic<uint64_t> done_{0};
  uint64_t done_target_ = 0;  // the caller's own (under job_mutex_)
  struct alignas(64) Claim { std::atomic<uint64_t> v; };
  std::unique_ptr<Claim[]> claim_;  // per chunk slot: the generation of the last job that claimed it
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

void reclaim_for_write(const void* p, size_t bytes) {
  if (pool().threads() == 1) return;
  const char* c = static_cast<const char*>(p);
  for (size_t off = 0; off < bytes; off += 64) {
#if defined(__x86_64__)
    // PREFETCHW, which every x86-64 CPU runs (Intel's before Broadwell as a no-op); GCC emits it
    // for __builtin_prefetch(p, 1) only with -mprfchw
    __asm__ volatile("prefetchw %0" : : "m"(c[off]));
#else
    __builtin_prefetch(c + off, 1, 3);
#endif
  }
}

void pool_set_threads(int n) { pool().resize(n < 1 ? physical_cores() : n); }
int pool_threads() { return pool().threads(); }
void parallel_for(int64_t n, int64_t min_per_thread, RangeFn fn, void* ctx, int parts_per_thread) {
  pool().run(n, min_per_thread, fn, ctx, parts_per_thread);
}

}  // namespace tl
