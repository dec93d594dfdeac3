// Internal to the GEMM: the contract between the blocked driver (gemm.cc) and the per-ISA
// micro-kernels (gemm_avx2.cc, gemm_avx512.cc). Nothing outside native/gemm*.cc includes it.
#pragma once

namespace rnnx {
namespace gemm_detail {

// Micro-kernel: C[mr, nr] = alpha * Ap·Bp + beta * C (beta == 0: C is not read).
//   Ap: one A panel, k-major with stride `as` between consecutive k (Ap[k*as + i] = op(A)[i, k]):
//       a packed panel (as == MR) or, for kernels with directA, A itself when stored [K, M]
//       (as == lda). Rows i >= mr are not read by kernels with directA; the others need them
//       zero-padded (packed panels always are).
//   Bp: one packed B panel, kc × NR floats, k-major (Bp[k*NR + j] = op(B)[k, j]); columns j >= nr
//       are zero padding; 64-byte aligned.
//   C:  row-major with row stride ldc; only mr × nr elements are read or written.
// Every element is accumulated by the same chain of FMAs (k ascending, from 0) whatever mr and nr
// are: the driver relies on it for bit-identical results under any split of M and N.
template <typename T>
using MicroKernel = void (*)(int mr, int nr, int kc, const T* Ap, int as, const T* Bp, T* C, int ldc, T alpha,
                             T beta);

// A register tile (mr × nr) plus cache blocking. mc is a multiple of mr, nc of nr.
template <typename T>
struct KernelSet {
  const char* name;
  int mr, nr;      // register tile
  int mc, kc, nc;  // cache blocks: A block mc × kc (L2), B block kc × nc
  MicroKernel<T> micro;
  // The kernel reads only mr rows of Ap, so a transposed A ([K, M] storage) is used in place,
  // unpacked: that saves a pass over A, which dominates when N is small (dW = dGatesᵀ·X).
  bool directA;
  // Optional: the same tile reading an unpacked row-major A (Ap[i*as + k] = op(A)[i, k], as == lda),
  // for blocks of few rows (the recurrent products of a small batch): packing them cost more than
  // it saved, since each packed panel fed only a few B panels. Null: always pack.
  MicroKernel<T> microRowA;
};

// Defined in gemm_avx512.cc / gemm_avx2.cc; return null when the file was built for a target
// without x86 SIMD. Callers check CPUID before using them.
const KernelSet<float>* Avx512FloatKernels();
const KernelSet<float>* Avx2FloatKernels();

}  // namespace gemm_detail
}  // namespace rnnx
