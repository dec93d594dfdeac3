// Dense matrix products for the recurrent kernels. Row-major throughout.
//
// Implementation (gemm.cc): Goto-style blocking. op(B) is packed into panels of NR columns
// (kc × NR, k-major, 64-byte aligned), op(A) into panels of at most MR rows (kc × MR; a block's rows
// are shared out evenly, 16 rows as 8 + 8 rather than 14 + 2), and a register-tile
// micro-kernel (AVX-512: 14 × 32, AVX2+FMA: 6 × 16, portable: 4 × 8 float / 4 × 4 double) runs
// over them. Pack buffers are thread-local, grow-only: no allocation per call in steady state.
// A transposed A (stored [K, M]) is read in place by the AVX-512 kernel (with software prefetch)
// instead of being packed: that pass over A dominated dW = dGatesᵀ·X, where N is small. A
// row-major A block of at most 32 rows (the per-step recurrent products of a small batch) is
// read in place too, by a variant of the same tile (AVX-512 and AVX2 kernels).
// Threads: the larger of M and N is cut into per-thread ranges of whole tiles; each thread packs
// what it needs itself, so threads never wait for each other inside one product.
#pragma once

#include <cstddef>
#include <vector>

namespace rnnx {

class ThreadPool;

namespace gemm_detail {
template <typename T>
struct KernelSet;
}  // namespace gemm_detail

// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C
//   op(A) = A [M,K] (lda >= K) or, with transA, A is stored [K,M] (lda >= M);
//   op(B) = B [K,N] (ldb >= N) or, with transB, B is stored [N,K] (ldb >= K);
//   C [M,N] with row stride ldc >= N. beta == 0 overwrites C (NaNs in C are not propagated).
// pool may be null (single thread). Work is split over M and N only, never over K, so the
// result is bit-identical whatever the thread count. float runs the best SIMD kernel the CPU
// supports (AVX-512, AVX2+FMA, portable), chosen once from CPUID feature bits; double runs
// portable code (it exists for float64 gradient checks).
// Determinism detail: every C element is computed by the same sequence of operations (K cut into
// fixed kc blocks, each accumulated from zero by FMAs in ascending k, then C = alpha*acc + beta*C
// for the first block and C = alpha*acc + C for the next) whichever thread and tile computes it.
// N == 1 takes a matrix-vector path (fixed 8-way partial sums, or k-ordered axpys when transA),
// also split over rows only.
// Negative sizes or strides below the minimum throw std::invalid_argument. M, N or K == 0 is valid
// (K == 0 or alpha == 0 gives C = beta * C).
template <typename T>
void Gemm(bool transA, bool transB, int M, int N, int K, T alpha, const T* A, int lda, const T* B, int ldb,
          T beta, T* C, int ldc, ThreadPool* pool);

// op(B) [K,N] packed once into the kernel's panel layout, for a B reused by many products: the
// recurrent weights R, multiplied by a new h at every time step (pack R once per training step,
// after the optimizer update, then call GemmPacked T times). Owns its buffer, which Pack() only
// reallocates when K × N grows. Movable, not copyable. Remembers the kernel it was packed for.
template <typename T>
class PackedB {
 public:
  PackedB() = default;
  ~PackedB();
  PackedB(PackedB&& other) noexcept;
  PackedB& operator=(PackedB&& other) noexcept;
  PackedB(const PackedB&) = delete;
  PackedB& operator=(const PackedB&) = delete;

  // Packs op(B) [K,N] (same conventions as Gemm: transB means B is stored [N,K]); the panels are
  // split over the pool's threads. B is not referenced afterwards.
  void Pack(bool transB, int K, int N, const T* B, int ldb, ThreadPool* pool = nullptr);

  int K() const { return k_; }
  int N() const { return n_; }
  bool empty() const { return data_ == nullptr; }

 private:
  template <typename U>
  friend void GemmPacked(bool, int, U, const U*, int, const PackedB<U>&, U, U*, int, ThreadPool*);

  const gemm_detail::KernelSet<T>* kernels_ = nullptr;
  T* data_ = nullptr;
  std::size_t capacity_ = 0;  // elements
  int k_ = 0;
  int n_ = 0;
};

// C[M,N] = alpha * op(A)[M,K] * B + beta * C with B = PackedB (K = B.K(), N = B.N()); A, C and
// pool as in Gemm. Bit-identical to Gemm(transA, transB, M, N, K, ...) on the unpacked operand
// as long as the kernel has not been switched with GemmSelectKernel in between.
template <typename T>
void GemmPacked(bool transA, int M, T alpha, const T* A, int lda, const PackedB<T>& B, T beta, T* C, int ldc,
                ThreadPool* pool);

// Name of the float kernel in use: "avx512", "avx2" or "portable".
const char* GemmKernelName();

// Float kernels this CPU can run, best first (e.g. avx512, avx2, portable). For tests and benchmarks.
std::vector<const char*> GemmAvailableKernels();

// Switches the float kernel for the whole process (tests and benchmarks compare kernels on one
// machine). Returns false, changing nothing, when the name is unknown or the CPU lacks the ISA.
// Must not race with running Gemm calls.
bool GemmSelectKernel(const char* name);

}  // namespace rnnx
