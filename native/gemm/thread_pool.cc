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

  // The job being run; written by the caller before it publishes the job (release), read by a
  // worker only after it has claimed a chunk of that job (acquire), i.e. while the job is live.
  const std::function<void(int, int)>* fn = nullptr;
  std::vector<std::pair<int, int>> chunks;
  std::vector<std::exception_ptr> errors;
  bool stop = false;

  // Job generation (high 32 bits) and the next unclaimed chunk (low 32 bits), in one word so that
  // a claim (CAS) can only succeed for the job that is running: a worker that wakes late for an
  // old job finds a new generation and claims nothing of it by mistake.
  alignas(64) std::atomic<std::uint64_t> state{0};
  alignas(64) std::atomic<int> pending{0};  // chunks of the current job not finished yet

  // Sleeping workers wait on wakeCv; a sleeping caller on doneCv.
  std::mutex sleepMutex;
  std::condition_variable wakeCv;
  std::condition_variable doneCv;
  std::atomic<int> sleepers{0};
  std::atomic<bool> callerSleeping{false};

  static std::uint32_t Gen(std::uint64_t s) { return static_cast<std::uint32_t>(s >> 32); }

  // Claims the next chunk of job `gen`; -1 when it is no longer running or has none left.
  int Claim(std::uint32_t gen) {
    std::uint64_t s = state.load(std::memory_order_acquire);
    for (;;) {
      if (Gen(s) != gen || static_cast<int>(s & 0xffffffffu) >= threads) return -1;
      if (state.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire))
        return static_cast<int>(s & 0xffffffffu);
    }
  }

  void RunChunk(int index) {
    const auto [b, e] = chunks[index];
    if (b < e) {
      DepthGuard depth;
      try {
        (*fn)(b, e);
      } catch (...) {
        errors[index] = std::current_exception();
      }
    }
    if (pending.fetch_sub(1) == 1 && callerSleeping.load()) {
      // Taking the mutex orders this notify after the caller has started waiting.
      std::lock_guard<std::mutex> lock(sleepMutex);
      doneCv.notify_one();
    }
  }

  // Runs chunks of job `gen` until none is left unclaimed.
  void RunClaimed(std::uint32_t gen) {
    for (int i = Claim(gen); i >= 0; i = Claim(gen)) RunChunk(i);
  }

  void WorkerLoop() {
    std::uint32_t seen = 0;
    for (;;) {
      auto changed = [&] { return Gen(state.load(std::memory_order_acquire)) != seen; };
      if (!SpinFor(changed)) {
        std::unique_lock<std::mutex> lock(sleepMutex);
        sleepers.fetch_add(1);  // seq_cst: pairs with the caller's publish-then-check
        while (!changed()) wakeCv.wait(lock);
        sleepers.fetch_sub(1);
      }
      seen = Gen(state.load(std::memory_order_acquire));
      if (stop) return;
      RunClaimed(seen);
    }
  }

  // Starts a new job: generation + 1, chunk 0 next. Returns the new generation.
  std::uint32_t Publish() {
    const std::uint32_t gen = Gen(state.load(std::memory_order_relaxed)) + 1;
    state.store(static_cast<std::uint64_t>(gen) << 32);  // seq_cst
    if (sleepers.load() > 0) {
      std::lock_guard<std::mutex> lock(sleepMutex);
      wakeCv.notify_all();
    }
    return gen;
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
    for (int i = 1; i < impl_->threads; ++i) impl_->workers.emplace_back([this] { impl_->WorkerLoop(); });
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
  p.pending.store(n, std::memory_order_relaxed);
  // The caller claims chunks like any worker: on a busy machine a worker may not get a core for
  // milliseconds, and then the caller runs its chunk too instead of waiting for it to start.
  const std::uint32_t gen = p.Publish();
  p.RunClaimed(gen);
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
