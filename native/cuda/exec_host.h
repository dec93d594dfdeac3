// HostExec: runs the CUDA backend's step (step_core.h) on the CPU, one "thread" index at a
// time, with a plain column-major GEMM that follows cublasSgemm's argument conventions
// exactly. It is not a fast path: it exists so that the orchestration (buffer offsets,
// leading dimensions, the row-major → column-major GEMM mapping, masking, reductions) and the
// gate math are checked on machines without a GPU, in float64 against finite differences.
// CudaExec (cuda_backend.cu) has the same member functions. Both count the host <-> device
// copies (Upload / Download) the way the GPU makes them, so tests can check the traffic here.
#pragma once

#include <cstddef>
#include <cstring>
#include <stdexcept>

#include "training/trainer.h"

namespace rnnx {
namespace cuda {

inline void CountTransfer(size_t bytes, bool toDevice, Transfers* t) {
  (toDevice ? t->toDevice : t->toHost) += 1;
  (toDevice ? t->bytesToDevice : t->bytesToHost) += static_cast<double>(bytes);
}

template <typename T>
class HostExec {
 public:
  using Scalar = T;

  template <typename U>
  U* Alloc(size_t n) {
    U* p = new U[n > 0 ? n : 1];
    std::memset(p, 0, (n > 0 ? n : 1) * sizeof(U));
    bytes_ += n * sizeof(U);
    return p;
  }
  template <typename U>
  void Free(U* p) {
    delete[] p;
  }
  template <typename U>
  void Upload(U* dst, const U* src, size_t n) {
    CountTransfer(n * sizeof(U), true, &counts_);
    if (n) std::memcpy(dst, src, n * sizeof(U));
  }
  template <typename U>
  void Download(U* dst, const U* src, size_t n) {
    CountTransfer(n * sizeof(U), false, &counts_);
    if (n) std::memcpy(dst, src, n * sizeof(U));
  }
  // Device to device.
  template <typename U>
  void Copy(U* dst, const U* src, size_t n) {
    if (n) std::memcpy(dst, src, n * sizeof(U));
  }
  const Transfers& transfers() const { return counts_; }
  template <typename U>
  void Zero(U* p, size_t n) {
    if (n) std::memset(p, 0, n * sizeof(U));
  }
  size_t bytes() const { return bytes_; }

  // Column-major C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C, as cublasSgemm.
  // beta == 0 overwrites C.
  void GemmCM(bool ta, bool tb, int m, int n, int k, T alpha, const T* A, int lda, const T* B, int ldb, T beta, T* C,
              int ldc) {
    if (m < 0 || n < 0 || k < 0 || lda < (ta ? (k > 1 ? k : 1) : (m > 1 ? m : 1)) ||
        ldb < (tb ? (n > 1 ? n : 1) : (k > 1 ? k : 1)) || ldc < (m > 1 ? m : 1)) {
      throw std::logic_error("HostExec::GemmCM: inconsistent sizes or leading dimensions");
    }
    for (int j = 0; j < n; ++j) {
      for (int i = 0; i < m; ++i) {
        T acc = T(0);
        for (int p = 0; p < k; ++p) {
          const T a = ta ? A[p + static_cast<size_t>(i) * lda] : A[i + static_cast<size_t>(p) * lda];
          const T b = tb ? B[j + static_cast<size_t>(p) * ldb] : B[p + static_cast<size_t>(j) * ldb];
          acc += a * b;
        }
        T& c = C[i + static_cast<size_t>(j) * ldc];
        c = beta == T(0) ? alpha * acc : alpha * acc + beta * c;
      }
    }
  }

  template <typename F>
  void ForEach(long long count, const F& f) {
    for (long long i = 0; i < count; ++i) f(static_cast<int>(i));
  }

  // *dst = Σ p[i] (or Σ p[i]²), dst being "device" memory.
  void Sum(const T* p, size_t n, bool squares, T* dst) {
    T acc = T(0);
    for (size_t i = 0; i < n; ++i) acc += squares ? p[i] * p[i] : p[i];
    *dst = acc;
  }

 private:
  size_t bytes_ = 0;
  Transfers counts_;
};

}  // namespace cuda
}  // namespace rnnx
