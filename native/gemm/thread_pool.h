// A fixed pool of worker threads for data-parallel loops inside one training step.
// Work is split into fixed ranges (the same ranges every call for the same thread count), so
// results never depend on scheduling: training stays bit-reproducible. Which thread runs a range
// is decided at run time: each thread, the caller included, claims the next unclaimed range, so a
// worker that the OS has not scheduled yet (a busy machine) delays nothing; the caller runs its
// range as well.
//
// Dispatch: the caller publishes the job and bumps an atomic generation counter; workers spin on
// it for a short while (~100 µs, so back-to-back loops of a time step cost a few µs to start) and
// then sleep on a condition variable, so idle workers do not burn a core between steps. The caller
// waits for completion the same way (spin, then sleep).
#pragma once

#include <functional>
#include <memory>
#include <stdexcept>

namespace rnnx {

class ThreadPool {
 public:
  // threads: total workers including the calling thread (>= 1; smaller values mean 1).
  // Starts threads - 1 persistent worker threads.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const;

  // Splits [begin, end) into size() contiguous chunks (chunk boundaries are multiples of
  // `grain`) and runs fn(chunkBegin, chunkEnd) once on each, on whichever thread claims it first
  // (the calling thread claims too, starting with the first chunk; with idle workers spinning,
  // each chunk runs on its own thread). Returns when all chunks are done. Not re-entrant.
  // Details: chunk i is [begin + g(i), begin + g(i+1)) with g(i) = grain * floor(i * G / size()),
  // G = ceil((end - begin) / grain), the last chunk ending at `end`; empty chunks are skipped (fn is
  // never called with an empty range). An exception thrown by fn on any thread is caught there and
  // rethrown on the calling thread once every chunk has finished (the first one, in chunk order).
  // A call made from inside a running fn (nested) or while another thread is using the pool does
  // not deadlock: nested calls run all chunks, in order, on the calling thread (same boundaries);
  // concurrent callers take turns.
  void ParallelFor(int begin, int end, int grain, const std::function<void(int, int)>& fn);

 private:
  struct Impl;
  Impl* impl_;
};

// The most threads one pool may have: options.threads and RNNX_NUM_THREADS share this bound.
constexpr int kMaxThreads = 1024;

// Thrown when the OS refuses to start a worker thread (pids limit, RLIMIT_NPROC, memory).
class ThreadStartError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The process-wide pool of `threads` threads (1..kMaxThreads), shared by every trainer and call that
// asks for that many: a thousand undisposed trainers hold one pool, not a thousand. The pool lives
// while someone holds it. Throws ThreadStartError (no thread left running) when a thread cannot
// be created. Concurrent users take turns inside ParallelFor.
std::shared_ptr<ThreadPool> SharedPool(int threads);

// Default thread count: the RNNX_NUM_THREADS environment variable when it holds an integer in
// [1, kMaxThreads], else the number of hardware threads (at least 1).
int DefaultThreadCount();

}  // namespace rnnx
