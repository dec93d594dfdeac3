// Dense matrix products for the recurrent kernels. Row-major throughout.
#pragma once

namespace rnnx {

class ThreadPool;

// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C
//   op(A) = A [M,K] (lda >= K) or, with transA, A is stored [K,M] (lda >= M);
//   op(B) = B [K,N] (ldb >= N) or, with transB, B is stored [N,K] (ldb >= K);
//   C [M,N] with row stride ldc >= N. beta == 0 overwrites C (NaNs in C are not propagated).
// pool may be null (single thread). Work is split over M and N only, never over K, so the
// result is bit-identical whatever the thread count. float runs the best SIMD kernel the CPU
// supports (AVX-512, AVX2+FMA, portable), chosen once from CPUID feature bits; double runs
// portable code (it exists for float64 gradient checks).
template <typename T>
void Gemm(bool transA, bool transB, int M, int N, int K, T alpha, const T* A, int lda, const T* B, int ldb,
          T beta, T* C, int ldc, ThreadPool* pool);

// Name of the float kernel in use: "avx512", "avx2" or "portable".
const char* GemmKernelName();

}  // namespace rnnx
