// Placeholder: correct, slow reference loops. The kernels helper replaces the float path with
// blocked SIMD micro-kernels (gemm_avx2.cc, gemm_avx512.cc) dispatched on CPUID.
#include "gemm.h"

#include "thread_pool.h"

namespace rnnx {

template <typename T>
void Gemm(bool transA, bool transB, int M, int N, int K, T alpha, const T* A, int lda, const T* B, int ldb,
          T beta, T* C, int ldc, ThreadPool* pool) {
  (void)pool;
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < N; ++j) {
      T acc = 0;
      for (int k = 0; k < K; ++k) {
        const T a = transA ? A[k * lda + i] : A[i * lda + k];
        const T b = transB ? B[j * ldb + k] : B[k * ldb + j];
        acc += a * b;
      }
      T* c = &C[i * ldc + j];
      *c = beta == T(0) ? alpha * acc : alpha * acc + beta * *c;
    }
  }
}

template void Gemm<float>(bool, bool, int, int, int, float, const float*, int, const float*, int, float, float*, int,
                          ThreadPool*);
template void Gemm<double>(bool, bool, int, int, int, double, const double*, int, const double*, int, double, double*,
                           int, ThreadPool*);

const char* GemmKernelName() { return "portable"; }

}  // namespace rnnx
