// The GPU backend (device 'cuda'): StepCore (step_core.h) over CudaExec, which launches the functors of
// kernels.h one thread per index and sends every matrix product to cuBLAS (loaded at run time,
// cublas_loader.h). The CUDA runtime is linked statically, so the addon needs only the
// driver's libcuda at run time.
//
// Everything runs on the legacy default stream (0): the kernels, the copies and cuBLAS (whose
// handle's stream is never changed) are then ordered without events, and a cuBLAS carrying its
// own copy of the runtime shares that stream through the driver.
#include <cuda_runtime.h>

#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>

#include "cublas_loader.h"
#include "cuda_backend.h"
#include "exec_host.h"
#include "step_core.h"

namespace rnnx {
namespace cuda {

namespace {

void Check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorName(e) + " (" +
                             cudaGetErrorString(e) + ")");
  }
}

template <typename F>
__global__ void ForEachKernel(F f, long long n) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) f(static_cast<int>(i));
}

constexpr int kReduceThreads = 256;
constexpr int kReduceBlocks = 240;

// Deterministic two-pass sum: a fixed grid of partial sums (grid-stride, fixed order in each
// thread, tree in each block), then one block adds the partials. Same result every run.
__global__ void SumPartials(const float* p, long long n, bool squares, float* partials) {
  __shared__ float sh[kReduceThreads];
  float acc = 0;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const float v = p[i];
    acc += squares ? v * v : v;
  }
  sh[threadIdx.x] = acc;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) partials[blockIdx.x] = sh[0];
}

__global__ void SumFinal(const float* partials, int count, float* dst) {
  __shared__ float sh[kReduceThreads];
  float acc = 0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) acc += partials[i];
  sh[threadIdx.x] = acc;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) *dst = sh[0];
}

class CudaExec {
 public:
  using Scalar = float;

  CudaExec() {
    std::string why;
    blas_ = LoadCublas(&why);
    if (!blas_) throw std::runtime_error(why);
    Check(cudaSetDevice(0), "cudaSetDevice");
    const int st = blas_->create(&handle_);
    if (st != 0) throw std::runtime_error("cublasCreate failed with status " + std::to_string(st));
    // Plain FP32 products (no TF32): the backend must agree with the CPU step to 1e-4.
    if (blas_->setMathMode) blas_->setMathMode(handle_, kCublasDefaultMath);
    Check(cudaMalloc(&partials_, kReduceBlocks * sizeof(float)), "cudaMalloc");
  }
  ~CudaExec() {
    cudaFree(partials_);
    if (handle_) blas_->destroy(handle_);
  }
  CudaExec(const CudaExec&) = delete;
  CudaExec& operator=(const CudaExec&) = delete;

  template <typename U>
  U* Alloc(size_t n) {
    void* p = nullptr;
    const size_t bytes = (n > 0 ? n : 1) * sizeof(U);
    Check(cudaMalloc(&p, bytes), "cudaMalloc");
    Check(cudaMemsetAsync(p, 0, bytes, 0), "cudaMemsetAsync");
    return static_cast<U*>(p);
  }
  template <typename U>
  void Free(U* p) {
    cudaFree(p);
  }
  template <typename U>
  void Upload(U* dst, const U* src, size_t n) {
    CountTransfer(n * sizeof(U), true, &counts_);
    if (n) Check(cudaMemcpyAsync(dst, src, n * sizeof(U), cudaMemcpyHostToDevice, 0), "cudaMemcpy H2D");
  }
  template <typename U>
  void Download(U* dst, const U* src, size_t n) {
    CountTransfer(n * sizeof(U), false, &counts_);
    if (n) Check(cudaMemcpyAsync(dst, src, n * sizeof(U), cudaMemcpyDeviceToHost, 0), "cudaMemcpy D2H");
    Check(cudaStreamSynchronize(0), "cudaStreamSynchronize");
  }
  template <typename U>
  void Copy(U* dst, const U* src, size_t n) {
    if (n) Check(cudaMemcpyAsync(dst, src, n * sizeof(U), cudaMemcpyDeviceToDevice, 0), "cudaMemcpy D2D");
  }
  const Transfers& transfers() const { return counts_; }
  template <typename U>
  void Zero(U* p, size_t n) {
    if (n) Check(cudaMemsetAsync(p, 0, n * sizeof(U), 0), "cudaMemsetAsync");
  }

  void GemmCM(bool ta, bool tb, int m, int n, int k, float alpha, const float* A, int lda, const float* B, int ldb,
              float beta, float* C, int ldc) {
    if (m == 0 || n == 0) return;
    if (k == 0) {  // cuBLAS leaves C untouched when k = 0; the step relies on C = beta * C
      if (beta == 0.0f) {
        for (int j = 0; j < n; ++j) Zero(C + static_cast<size_t>(j) * ldc, m);
      }
      return;
    }
    const int st = blas_->sgemm(handle_, ta ? kCublasOpT : kCublasOpN, tb ? kCublasOpT : kCublasOpN, m, n, k, &alpha,
                                A, lda, B, ldb, &beta, C, ldc);
    if (st != 0) throw std::runtime_error("cublasSgemm failed with status " + std::to_string(st));
  }

  template <typename F>
  void ForEach(long long count, const F& f) {
    if (count <= 0) return;
    const int threads = 256;
    const long long blocks = (count + threads - 1) / threads;
    ForEachKernel<F><<<static_cast<unsigned>(blocks), threads, 0, 0>>>(f, count);
    Check(cudaGetLastError(), "kernel launch");
  }

  void Sum(const float* p, size_t n, bool squares, float* dst) {
    SumPartials<<<kReduceBlocks, kReduceThreads, 0, 0>>>(p, static_cast<long long>(n), squares, partials_);
    Check(cudaGetLastError(), "kernel launch");
    SumFinal<<<1, kReduceThreads, 0, 0>>>(partials_, kReduceBlocks, dst);
    Check(cudaGetLastError(), "kernel launch");
  }

 private:
  const CublasApi* blas_ = nullptr;
  cublasHandle_t handle_ = nullptr;
  float* partials_ = nullptr;
  Transfers counts_;
};

DeviceInfo ProbeOnce() {
  DeviceInfo info;
  info.built = true;
  cudaRuntimeGetVersion(&info.runtimeVersion);
  if (cudaDriverGetVersion(&info.driverVersion) != cudaSuccess) info.driverVersion = 0;
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    info.reason = "no CUDA device: ";
    if (e == cudaSuccess) info.reason += "the driver reports 0 devices";
    else info.reason += std::string(cudaGetErrorName(e)) + " (" + cudaGetErrorString(e) + ")";
    if (e == cudaErrorInsufficientDriver && info.driverVersion == 0) {
      info.reason = "no CUDA device: no NVIDIA driver was found (libcuda.so.1 could not be loaded)";
    } else if (e == cudaErrorInsufficientDriver) {
      info.reason += "; this addon's CUDA runtime " + std::to_string(info.runtimeVersion) +
                     " needs a newer driver than the one installed (" + std::to_string(info.driverVersion) + ")";
    }
    cudaGetLastError();  // clear the sticky error for later calls
    return info;
  }
  info.deviceCount = count;
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) {
    info.name = prop.name;
    info.computeMajor = prop.major;
    info.computeMinor = prop.minor;
    info.memoryGiB = static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0);
  }
  std::string why;
  const CublasApi* blas = LoadCublas(&why);
  if (!blas) {
    info.reason = why;
    info.cublasPath = why;
    return info;
  }
  info.cublasPath = blas->path;
  info.available = true;
  return info;
}

}  // namespace

DeviceInfo Probe() {
  static std::once_flag once;
  static DeviceInfo info;
  std::call_once(once, [] { info = ProbeOnce(); });
  return info;
}

std::unique_ptr<TrainerBackend> CreateCudaBackend(const NetworkDesc& desc, const TrainConfig& config,
                                                  const float* params) {
  const DeviceInfo info = Probe();
  if (!info.available) throw InvalidArgument("device 'cuda' is not available: " + info.reason);
  const std::string device = "cuda:0 (" + info.name + ", sm_" + std::to_string(info.computeMajor) +
                             std::to_string(info.computeMinor) + ")";
  return std::make_unique<StepCore<float, CudaExec>>(desc, config, params, "cuda", device);
}

}  // namespace cuda
}  // namespace rnnx
