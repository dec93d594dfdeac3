// A fixed pool of worker threads for data-parallel loops inside one training step.
// Work is split statically (the same ranges every call for the same thread count), so
// results never depend on scheduling: training stays bit-reproducible.
#pragma once

#include <functional>

namespace rnnx {

class ThreadPool {
 public:
  // threads: total workers including the calling thread (>= 1).
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const;

  // Splits [begin, end) into size() contiguous chunks (chunk boundaries are multiples of
  // `grain`) and runs fn(chunkBegin, chunkEnd) on each, the calling thread taking the first.
  // Returns when all chunks are done. Not re-entrant.
  void ParallelFor(int begin, int end, int grain, const std::function<void(int, int)>& fn);

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace rnnx
