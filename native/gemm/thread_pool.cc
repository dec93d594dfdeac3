#include "gemm/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RNNX_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define RNNX_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define RNNX_CPU_RELAX() ((void)0)
#endif

namespace rnnx {

namespace {

// How long a worker (or the waiting caller) spins before sleeping. Long enough to bridge the
// element-wise work between two products of one time step, short enough not to steal a core
// from other processes between training steps.
constexpr std::chrono::microseconds kSpin{100};

// Depth of pool jobs running on this thread: a ParallelFor issued from inside one runs serially.
thread_local int tlsJobDepth = 0;

struct DepthGuard {
  DepthGuard() { ++tlsJobDepth; }
  ~DepthGuard() { --tlsJobDepth; }
};

// Spins until pred() holds or kSpin has passed; returns pred()'s last value.
template <typename Pred>
bool SpinFor(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (pred()) return true;
      RNNX_CPU_RELAX();
    }
    if (std::chrono::steady_clock::now() >= deadline) return pred();
  }
}

}  // namespace

struct ThreadPool::Impl {
  explicit Impl(int n) : threads(n), chunks(n), errors(n) {}

  const int threads;
  std::vector<std::thread> workers;
  std::mutex dispatchMutex;  // one ParallelFor at a time

  // The job being run; written by the caller before the generation bump (release), read by
  // workers after seeing it (acquire).
  const std::function<void(int, int)>* fn = nullptr;
  std::vector<std::pair<int, int>> chunks;
  std::vector<std::exception_ptr> errors;
  bool stop = false;

  alignas(64) std::atomic<std::uint64_t> generation{0};
  alignas(64) std::atomic<int> pending{0};

  // Sleeping workers wait on wakeCv; a sleeping caller on doneCv.
  std::mutex sleepMutex;
  std::condition_variable wakeCv;
  std::condition_variable doneCv;
  std::atomic<int> sleepers{0};
  std::atomic<bool> callerSleeping{false};

  void RunChunk(int index) {
    const auto [b, e] = chunks[index];
    if (b >= e) return;
    DepthGuard depth;
    try {
      (*fn)(b, e);
    } catch (...) {
      errors[index] = std::current_exception();
    }
  }

  void WorkerLoop(int index) {
    std::uint64_t seen = 0;
    for (;;) {
      auto changed = [&] { return generation.load(std::memory_order_acquire) != seen; };
      if (!SpinFor(changed)) {
        std::unique_lock<std::mutex> lock(sleepMutex);
        sleepers.fetch_add(1);  // seq_cst: pairs with the caller's bump-then-check
        while (!changed()) wakeCv.wait(lock);
        sleepers.fetch_sub(1);
      }
      seen = generation.load(std::memory_order_acquire);
      if (stop) return;
      RunChunk(index);
      if (pending.fetch_sub(1) == 1 && callerSleeping.load()) {
        // Taking the mutex orders this notify after the caller has started waiting.
        std::lock_guard<std::mutex> lock(sleepMutex);
        doneCv.notify_one();
      }
    }
  }

  void Publish() {
    generation.fetch_add(1);  // seq_cst
    if (sleepers.load() > 0) {
      std::lock_guard<std::mutex> lock(sleepMutex);
      wakeCv.notify_all();
    }
  }

  void WaitDone() {
    auto done = [&] { return pending.load(std::memory_order_acquire) == 0; };
    if (SpinFor(done)) return;
    std::unique_lock<std::mutex> lock(sleepMutex);
    callerSleeping.store(true);
    while (!done()) doneCv.wait(lock);
    callerSleeping.store(false);
  }
};

ThreadPool::ThreadPool(int threads) : impl_(new Impl(threads < 1 ? 1 : threads)) {
  try {
    impl_->workers.reserve(impl_->threads - 1);
    for (int i = 1; i < impl_->threads; ++i) impl_->workers.emplace_back([this, i] { impl_->WorkerLoop(i); });
  } catch (...) {
    impl_->stop = true;
    impl_->Publish();
    for (auto& t : impl_->workers) t.join();
    delete impl_;
    throw;
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(impl_->dispatchMutex);
    impl_->stop = true;
    impl_->Publish();
  }
  for (auto& t : impl_->workers) t.join();
  delete impl_;
}

int ThreadPool::size() const { return impl_->threads; }

void ThreadPool::ParallelFor(int begin, int end, int grain, const std::function<void(int, int)>& fn) {
  if (end <= begin) return;
  if (grain < 1) grain = 1;
  Impl& p = *impl_;
  const int n = p.threads;
  const long long grains = (static_cast<long long>(end) - begin + grain - 1) / grain;
  auto bound = [&](int i) -> int {
    if (i >= n) return end;
    const long long g = static_cast<long long>(grain) * (static_cast<long long>(i) * grains / n);
    return static_cast<int>(std::min<long long>(end, begin + g));
  };

  if (n == 1 || tlsJobDepth > 0) {
    // Serial: same chunk boundaries, in order, on this thread.
    for (int i = 0; i < n; ++i) {
      const int b = bound(i), e = bound(i + 1);
      if (b < e) fn(b, e);
    }
    return;
  }

  std::lock_guard<std::mutex> dispatch(p.dispatchMutex);
  for (int i = 0; i < n; ++i) {
    p.chunks[i] = {bound(i), bound(i + 1)};
    p.errors[i] = nullptr;
  }
  p.fn = &fn;
  p.pending.store(n - 1, std::memory_order_relaxed);
  p.Publish();
  p.RunChunk(0);
  p.WaitDone();
  p.fn = nullptr;
  for (int i = 0; i < n; ++i) {
    if (p.errors[i]) {
      std::exception_ptr e = p.errors[i];
      for (int j = i; j < n; ++j) p.errors[j] = nullptr;
      std::rethrow_exception(e);
    }
  }
}

std::shared_ptr<ThreadPool> SharedPool(int threads) {
  if (threads < 1) threads = 1;
  if (threads > kMaxThreads) {
    throw ThreadStartError("threads must be at most " + std::to_string(kMaxThreads) + ", got " + std::to_string(threads));
  }
  static std::mutex mutex;
  static auto* pools = new std::map<int, std::weak_ptr<ThreadPool>>();  // never destroyed: safe at exit
  std::lock_guard<std::mutex> lock(mutex);
  std::weak_ptr<ThreadPool>& slot = (*pools)[threads];
  if (std::shared_ptr<ThreadPool> p = slot.lock()) return p;
  std::shared_ptr<ThreadPool> p;
  try {
    p = std::make_shared<ThreadPool>(threads);
  } catch (const std::system_error& e) {
    throw ThreadStartError("could not start " + std::to_string(threads - 1) + " worker threads (" + e.what() +
                           "): the process has hit a thread limit; lower options.threads or RNNX_NUM_THREADS");
  }
  slot = p;
  return p;
}

int DefaultThreadCount() {
  if (const char* env = std::getenv("RNNX_NUM_THREADS")) {
    char* endp = nullptr;
    const long v = std::strtol(env, &endp, 10);
    if (endp != env && *endp == '\0' && v >= 1 && v <= kMaxThreads) return static_cast<int>(v);
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

}  // namespace rnnx
