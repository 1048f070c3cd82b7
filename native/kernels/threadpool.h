// One thread pool per process, shared by every kernel.
//
// parallel_for splits [0, n) into one contiguous range per thread; the calling thread works on
// the first range itself, then takes over any range whose worker has not claimed it yet, so a
// worker that is slow to wake (a busy machine) never makes 2 threads slower than 1. Workers spin
// briefly after each job before sleeping, so the per-token stream of small jobs in decode never
// pays an OS wake-up, while an idle process burns no CPU. If a second JS thread calls in while
// the pool is busy, its job runs inline on that thread.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tl {

// fn(begin, end, thread_index): process items [begin, end).
using RangeFn = void (*)(int64_t begin, int64_t end, int thread, void* ctx);

// Default = physical cores (SMT siblings counted once).
int physical_cores();
void pool_set_threads(int n);  // n < 1 -> physical_cores()
int pool_threads();

// Runs fn over [0, n). `min_per_thread` keeps small jobs on fewer threads (wake-up cost).
// `parts_per_thread` (1..4): the range is cut into this many chunks per thread (more: better
// balance when a thread runs late; fewer: longer runs of memory per call of fn).
void parallel_for(int64_t n, int64_t min_per_thread, RangeFn fn, void* ctx, int parts_per_thread = 4);

// For a buffer the calling thread fills before each job and the workers read during it (a GEMV's
// activations): asks for its cache lines back in a writable state, all at once, as soon as the job
// is done. Otherwise each write of the next fill waits in turn for the core that read the line to
// give its copy up (~0.2 µs a line on a KVM guest). No-op at 1 thread.
void reclaim_for_write(const void* p, size_t bytes);

// Convenience for lambdas: parallel_for(n, grain, [&](int64_t b, int64_t e, int t) { ... });
template <class F>
inline void parallel_for(int64_t n, int64_t min_per_thread, F&& f, int parts_per_thread = 4) {
  parallel_for(n, min_per_thread,
               [](int64_t b, int64_t e, int t, void* c) { (*static_cast<F*>(c))(b, e, t); }, &f, parts_per_thread);
}

}  // namespace tl
