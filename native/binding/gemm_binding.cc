// N-API adapter for the GEMM test/benchmark exports. Every argument is checked here, so bad input
// from JavaScript becomes a JS Error naming the argument, never a crash in the kernel.
//
//   gemmKernelName(): string                       float kernel in use ("avx512" | "avx2" | "portable")
//   gemmAvailableKernels(): string[]               kernels this CPU can run, best first
//   gemmSelectKernel(name: string): void           switch the float kernel (throws when unavailable)
//   gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, threads = 1, packed = false): void
//       C = alpha·op(A)·op(B) + beta·C in place; A, B, C all Float32Array or all Float64Array;
//       packed: pack B with PackedB first and call GemmPacked.
//   gemmTime(transA, transB, M, N, K, A, lda, B, ldb, C, ldc, threads, reps, packed): Float64Array
//       seconds taken by each of `reps` calls (alpha 1, beta 0), timed in C++ so the JS call overhead
//       is not counted; with packed, B is packed once before timing (as a trainer packs R per step).
// ThreadPool checks (the pools are the same per-thread-count pools gemm uses):
//   threadPoolChunks(threads, begin, end, grain): {chunks: Int32Array, threadsUsed: number}
//       the [begin, end) pairs fn received, sorted, and how many distinct OS threads ran them.
//   threadPoolThrow(threads, chunk): void  ParallelFor whose fn throws in the given chunk index
//       (rethrown here as a JS Error); then runs one more loop to show the pool still works.
//   threadPoolNested(threads, n): number   a ParallelFor over [0, n) whose chunks each run a nested
//       ParallelFor over [0, n); returns the number of inner iterations executed (n * n expected).
//   threadPoolDispatchTime(threads, reps): Float64Array  seconds per ParallelFor with a trivial fn.
#include "binding/gemm_binding.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gemm/gemm.h"
#include "gemm/thread_pool.h"

namespace rnnx {
namespace {

[[noreturn]] void Fail(Napi::Env env, const std::string& fn, const std::string& msg) {
  Napi::TypeError e = Napi::TypeError::New(env, fn + ": " + msg);
  e.Set("code", Napi::String::New(env, "RNNX_INVALID_ARGUMENT"));
  throw e;
}

bool BoolArg(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name, bool def, bool optional) {
  if (i >= info.Length() || info[i].IsUndefined()) {
    if (optional) return def;
    Fail(info.Env(), fn, std::string(name) + " must be a boolean, got undefined");
  }
  if (!info[i].IsBoolean())
    Fail(info.Env(), fn, std::string(name) + " must be a boolean, got " + info[i].ToString().Utf8Value());
  return info[i].As<Napi::Boolean>().Value();
}

int IntArg(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name, int min, int max,
           int def = 0, bool optional = false) {
  const std::string range = "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (i >= info.Length() || info[i].IsUndefined()) {
    if (optional) return def;
    Fail(info.Env(), fn, std::string(name) + " must be " + range + ", got undefined");
  }
  if (!info[i].IsNumber()) Fail(info.Env(), fn, std::string(name) + " must be " + range + ", got " + info[i].ToString().Utf8Value());
  const double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= min && v <= max) || std::floor(v) != v)
    Fail(info.Env(), fn, std::string(name) + " must be " + range + ", got " + info[i].ToString().Utf8Value());
  return static_cast<int>(v);
}

double NumberArg(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name) {
  if (i >= info.Length() || !info[i].IsNumber() || !std::isfinite(info[i].As<Napi::Number>().DoubleValue())) {
    const std::string got = i < info.Length() ? info[i].ToString().Utf8Value() : "undefined";
    Fail(info.Env(), fn, std::string(name) + " must be a finite number, got " + got);
  }
  return info[i].As<Napi::Number>().DoubleValue();
}

enum class Elem { kFloat32, kFloat64 };

Elem ElemOf(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name) {
  if (i < info.Length() && info[i].IsTypedArray()) {
    const napi_typedarray_type t = info[i].As<Napi::TypedArray>().TypedArrayType();
    if (t == napi_float32_array) return Elem::kFloat32;
    if (t == napi_float64_array) return Elem::kFloat64;
  }
  Fail(info.Env(), fn, std::string(name) + " must be a Float32Array or Float64Array");
}

// A [rows, cols] matrix with row stride ld needs (rows-1)*ld + cols elements.
template <typename T>
T* Matrix(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name, int rows, int cols, int ld) {
  auto arr = info[i].As<Napi::TypedArrayOf<T>>();
  const std::int64_t need = rows == 0 || cols == 0 ? 0 : static_cast<std::int64_t>(rows - 1) * ld + cols;
  if (static_cast<std::int64_t>(arr.ElementLength()) < need)
    Fail(info.Env(), fn,
         std::string(name) + " has " + std::to_string(arr.ElementLength()) + " elements, need at least " +
             std::to_string(need) + " for " + std::to_string(rows) + " x " + std::to_string(cols) + " with stride " +
             std::to_string(ld));
  return arr.Data();
}

ThreadPool* Pool(int threads);

// The process-wide pool for this thread count (SharedPool), kept for the life of the process so
// that timing loops do not start threads. ThreadStartError becomes a JS error at the callers'
// guards (and NODE_ADDON_API_CPP_EXCEPTIONS_ALL catches the rest).
ThreadPool* PoolFor(int threads) {
  if (threads <= 1) return nullptr;
  return Pool(threads);
}

ThreadPool* Pool(int threads) {
  static std::mutex m;
  static auto* pools = new std::map<int, std::shared_ptr<ThreadPool>>();
  std::lock_guard<std::mutex> lock(m);
  std::shared_ptr<ThreadPool>& p = (*pools)[threads];
  if (!p) p = SharedPool(threads);
  return p.get();
}

struct Shape {
  bool transA, transB;
  int M, N, K, lda, ldb, ldc;
};

// Reads transA, transB, M, N, K at 0..4 and the strides at the given positions; checks the strides.
Shape ReadShape(const Napi::CallbackInfo& info, const char* fn, std::size_t ilda, std::size_t ildb, std::size_t ildc) {
  constexpr int kMax = 1 << 30;
  Shape s;
  s.transA = BoolArg(info, 0, fn, "transA", false, false);
  s.transB = BoolArg(info, 1, fn, "transB", false, false);
  s.M = IntArg(info, 2, fn, "M", 0, kMax);
  s.N = IntArg(info, 3, fn, "N", 0, kMax);
  s.K = IntArg(info, 4, fn, "K", 0, kMax);
  const int colsA = s.transA ? s.M : s.K, colsB = s.transB ? s.K : s.N;
  s.lda = IntArg(info, ilda, fn, "lda", colsA > 1 ? colsA : 1, kMax);
  s.ldb = IntArg(info, ildb, fn, "ldb", colsB > 1 ? colsB : 1, kMax);
  s.ldc = IntArg(info, ildc, fn, "ldc", s.N > 1 ? s.N : 1, kMax);
  return s;
}

template <typename T>
void GemmTyped(const Napi::CallbackInfo& info, const Shape& s, T alpha, T beta, int threads, bool packed) {
  const char* fn = "gemm";
  const T* A = Matrix<T>(info, 6, fn, "A", s.transA ? s.K : s.M, s.transA ? s.M : s.K, s.lda);
  const T* B = Matrix<T>(info, 8, fn, "B", s.transB ? s.N : s.K, s.transB ? s.K : s.N, s.ldb);
  T* C = Matrix<T>(info, 11, fn, "C", s.M, s.N, s.ldc);
  ThreadPool* pool = PoolFor(threads);
  if (packed) {
    PackedB<T> pb;
    pb.Pack(s.transB, s.K, s.N, B, s.ldb, pool);
    GemmPacked<T>(s.transA, s.M, alpha, A, s.lda, pb, beta, C, s.ldc, pool);
  } else {
    Gemm<T>(s.transA, s.transB, s.M, s.N, s.K, alpha, A, s.lda, B, s.ldb, beta, C, s.ldc, pool);
  }
}

Napi::Value GemmJs(const Napi::CallbackInfo& info) {
  const char* fn = "gemm";
  const Shape s = ReadShape(info, fn, 7, 9, 12);
  const double alpha = NumberArg(info, 5, fn, "alpha");
  const double beta = NumberArg(info, 10, fn, "beta");
  const Elem ea = ElemOf(info, 6, fn, "A"), eb = ElemOf(info, 8, fn, "B"), ec = ElemOf(info, 11, fn, "C");
  if (ea != eb || ea != ec) Fail(info.Env(), fn, "A, B and C must all be Float32Array or all Float64Array");
  const int threads = IntArg(info, 13, fn, "threads", 1, 256, 1, true);
  const bool packed = BoolArg(info, 14, fn, "packed", false, true);
  try {
    if (ea == Elem::kFloat32)
      GemmTyped<float>(info, s, static_cast<float>(alpha), static_cast<float>(beta), threads, packed);
    else
      GemmTyped<double>(info, s, alpha, beta, threads, packed);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {  // std::invalid_argument from the kernel's own checks, bad_alloc
    Fail(info.Env(), fn, e.what());
  }
  return info.Env().Undefined();
}

Napi::Value GemmTimeJs(const Napi::CallbackInfo& info) {
  const char* fn = "gemmTime";
  const Shape s = ReadShape(info, fn, 6, 8, 10);
  for (std::size_t i : {5, 7, 9}) {
    if (ElemOf(info, i, fn, i == 5 ? "A" : i == 7 ? "B" : "C") != Elem::kFloat32)
      Fail(info.Env(), fn, std::string(i == 5 ? "A" : i == 7 ? "B" : "C") + " must be a Float32Array");
  }
  const float* A = Matrix<float>(info, 5, fn, "A", s.transA ? s.K : s.M, s.transA ? s.M : s.K, s.lda);
  const float* B = Matrix<float>(info, 7, fn, "B", s.transB ? s.N : s.K, s.transB ? s.K : s.N, s.ldb);
  float* C = Matrix<float>(info, 9, fn, "C", s.M, s.N, s.ldc);
  const int threads = IntArg(info, 11, fn, "threads", 1, 256);
  const int reps = IntArg(info, 12, fn, "reps", 1, 1 << 20);
  const bool packed = BoolArg(info, 13, fn, "packed", false, false);
  ThreadPool* pool = PoolFor(threads);
  Napi::Float64Array out = Napi::Float64Array::New(info.Env(), reps);
  try {
    PackedB<float> pb;
    if (packed) pb.Pack(s.transB, s.K, s.N, B, s.ldb, pool);
    for (int r = 0; r < reps; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      if (packed)
        GemmPacked<float>(s.transA, s.M, 1.0f, A, s.lda, pb, 0.0f, C, s.ldc, pool);
      else
        Gemm<float>(s.transA, s.transB, s.M, s.N, s.K, 1.0f, A, s.lda, B, s.ldb, 0.0f, C, s.ldc, pool);
      out[r] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {  // std::invalid_argument from the kernel's own checks, bad_alloc
    Fail(info.Env(), fn, e.what());
  }
  return out;
}

Napi::Value KernelNameJs(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), GemmKernelName()); }

Napi::Value AvailableKernelsJs(const Napi::CallbackInfo& info) {
  const std::vector<const char*> names = GemmAvailableKernels();
  Napi::Array out = Napi::Array::New(info.Env(), names.size());
  for (std::size_t i = 0; i < names.size(); ++i) out.Set(static_cast<uint32_t>(i), Napi::String::New(info.Env(), names[i]));
  return out;
}

Napi::Value SelectKernelJs(const Napi::CallbackInfo& info) {
  const char* fn = "gemmSelectKernel";
  if (info.Length() < 1 || !info[0].IsString())
    Fail(info.Env(), fn, "name must be a string, got " + (info.Length() ? info[0].ToString().Utf8Value() : std::string("undefined")));
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  if (!GemmSelectKernel(name.c_str())) {
    std::string avail;
    for (const char* n : GemmAvailableKernels()) avail += (avail.empty() ? "" : ", ") + std::string(n);
    Fail(info.Env(), fn, "kernel \"" + name + "\" is not available on this CPU (available: " + avail + ")");
  }
  return info.Env().Undefined();
}

Napi::Value ThreadPoolChunksJs(const Napi::CallbackInfo& info) {
  const char* fn = "threadPoolChunks";
  const int threads = IntArg(info, 0, fn, "threads", 1, 64);
  const int begin = IntArg(info, 1, fn, "begin", -(1 << 30), 1 << 30);
  const int end = IntArg(info, 2, fn, "end", -(1 << 30), 1 << 30);
  const int grain = IntArg(info, 3, fn, "grain", 1, 1 << 30);
  std::mutex m;
  std::vector<std::pair<int, int>> seen;
  std::set<std::thread::id> ids;
  Pool(threads)->ParallelFor(begin, end, grain, [&](int b, int e) {
    std::lock_guard<std::mutex> lock(m);
    seen.emplace_back(b, e);
    ids.insert(std::this_thread::get_id());
  });
  std::sort(seen.begin(), seen.end());
  Napi::Int32Array chunks = Napi::Int32Array::New(info.Env(), seen.size() * 2);
  for (std::size_t i = 0; i < seen.size(); ++i) {
    chunks[2 * i] = seen[i].first;
    chunks[2 * i + 1] = seen[i].second;
  }
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("chunks", chunks);
  out.Set("threadsUsed", static_cast<double>(ids.size()));
  return out;
}

Napi::Value ThreadPoolThrowJs(const Napi::CallbackInfo& info) {
  const char* fn = "threadPoolThrow";
  const int threads = IntArg(info, 0, fn, "threads", 1, 64);
  const int chunk = IntArg(info, 1, fn, "chunk", 0, 63);
  ThreadPool* pool = Pool(threads);
  std::string error;
  try {
    // One element per chunk, so chunk i is [i, i + 1).
    pool->ParallelFor(0, threads, 1, [chunk](int b, int) {
      if (b == chunk) throw std::runtime_error("failure in chunk " + std::to_string(chunk));
    });
  } catch (const std::exception& e) {
    error = e.what();
  }
  std::atomic<int> count{0};
  pool->ParallelFor(0, 1000, 1, [&](int b, int e) { count += e - b; });
  if (count != 1000) Fail(info.Env(), fn, "pool broken after an exception");
  if (!error.empty()) Fail(info.Env(), fn, error);
  return info.Env().Undefined();
}

Napi::Value ThreadPoolNestedJs(const Napi::CallbackInfo& info) {
  const char* fn = "threadPoolNested";
  const int threads = IntArg(info, 0, fn, "threads", 1, 64);
  const int n = IntArg(info, 1, fn, "n", 0, 1 << 12);
  ThreadPool* pool = Pool(threads);
  std::atomic<long long> count{0};
  pool->ParallelFor(0, n, 1, [&](int b, int e) {
    for (int i = b; i < e; ++i) pool->ParallelFor(0, n, 1, [&](int b2, int e2) { count += e2 - b2; });
  });
  return Napi::Number::New(info.Env(), static_cast<double>(count.load()));
}

Napi::Value ThreadPoolDispatchTimeJs(const Napi::CallbackInfo& info) {
  const char* fn = "threadPoolDispatchTime";
  const int threads = IntArg(info, 0, fn, "threads", 1, 64);
  const int reps = IntArg(info, 1, fn, "reps", 1, 1 << 20);
  ThreadPool* pool = Pool(threads);
  Napi::Float64Array out = Napi::Float64Array::New(info.Env(), reps);
  std::atomic<int> sink{0};
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    pool->ParallelFor(0, threads, 1, [&](int b, int) { sink.fetch_add(b, std::memory_order_relaxed); });
    out[r] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return out;
}

}  // namespace

void registerGemmExports(Napi::Env env, Napi::Object exports) {
  exports.Set("gemmKernelName", Napi::Function::New(env, KernelNameJs, "gemmKernelName"));
  exports.Set("gemmAvailableKernels", Napi::Function::New(env, AvailableKernelsJs, "gemmAvailableKernels"));
  exports.Set("gemmSelectKernel", Napi::Function::New(env, SelectKernelJs, "gemmSelectKernel"));
  exports.Set("gemm", Napi::Function::New(env, GemmJs, "gemm"));
  exports.Set("gemmTime", Napi::Function::New(env, GemmTimeJs, "gemmTime"));
  exports.Set("threadPoolChunks", Napi::Function::New(env, ThreadPoolChunksJs, "threadPoolChunks"));
  exports.Set("threadPoolThrow", Napi::Function::New(env, ThreadPoolThrowJs, "threadPoolThrow"));
  exports.Set("threadPoolNested", Napi::Function::New(env, ThreadPoolNestedJs, "threadPoolNested"));
  exports.Set("threadPoolDispatchTime", Napi::Function::New(env, ThreadPoolDispatchTimeJs, "threadPoolDispatchTime"));
}

}  // namespace rnnx
