// Placeholder implementation: runs everything on the calling thread. The kernels helper
// replaces it with persistent workers and a spinning barrier.
#include "thread_pool.h"

namespace rnnx {

struct ThreadPool::Impl {
  int threads;
};

ThreadPool::ThreadPool(int threads) : impl_(new Impl{threads < 1 ? 1 : threads}) {}
ThreadPool::~ThreadPool() { delete impl_; }
int ThreadPool::size() const { return impl_->threads; }

void ThreadPool::ParallelFor(int begin, int end, int grain, const std::function<void(int, int)>& fn) {
  (void)grain;
  if (end > begin) fn(begin, end);
}

}  // namespace rnnx
