// AVX-512 float GEMM micro-kernels. Compiled with function target attributes (no -m flags for the
// rest of the build); the driver calls them only when CPUID reports avx512f, avx2 and fma.
// Only AVX512F instructions are used, so CPUs without the VL/BW/DQ extensions run them too.
#include "gemm/gemm_kernels.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>

#include <utility>

#define RNNX_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))

namespace rnnx {
namespace gemm_detail {
namespace {

// Register tile kMR × (16·kNV): kMR·kNV accumulators + kNV B vectors; A is broadcast straight from
// memory (embedded broadcast), so 32 zmm registers hold a 14 × 32 tile with room to spare.
constexpr int kMR = 14;
constexpr int kNV = 2;
constexpr int kNR = 16 * kNV;
// An unpacked (directA) A panel has one row of A per k, a page apart: the hardware prefetcher
// does not follow that, so the kernel prefetches the piece it needs kPrefetchRows steps ahead.
constexpr int kPrefetchRows = 32;

// ROW_A: Ap is an unpacked row-major A (row i at Ap + i·as, k contiguous) instead of a k-major
// panel; the FMA chain per element is the same, so the result is bit-identical to the packed path.
template <int ROWS, bool ROW_A>
RNNX_TARGET_AVX512 void Tile(int nr, int kc, const float* Ap, int as, const float* Bp, float* C, int ldc, float alpha,
                             float beta) {
  __m512 acc[ROWS][kNV];
#pragma GCC unroll 16
  for (int i = 0; i < ROWS; ++i) {
#pragma GCC unroll 4
    for (int j = 0; j < kNV; ++j) acc[i][j] = _mm512_setzero_ps();
  }
  for (int k = 0; k < kc; ++k) {
    if (!ROW_A && as != kMR) {  // unpacked Aᵀ
      _mm_prefetch(reinterpret_cast<const char*>(Ap + kPrefetchRows * as), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(Ap + kPrefetchRows * as + ROWS - 1), _MM_HINT_T0);
    }
    __m512 b[kNV];
#pragma GCC unroll 4
    for (int j = 0; j < kNV; ++j) b[j] = _mm512_load_ps(Bp + 16 * j);
#pragma GCC unroll 16
    for (int i = 0; i < ROWS; ++i) {
      const __m512 a = _mm512_set1_ps(ROW_A ? Ap[i * as] : Ap[i]);
#pragma GCC unroll 4
      for (int j = 0; j < kNV; ++j) acc[i][j] = _mm512_fmadd_ps(a, b[j], acc[i][j]);
    }
    Ap += ROW_A ? 1 : as;
    Bp += kNR;
  }
  __mmask16 mask[kNV];
#pragma GCC unroll 4
  for (int j = 0; j < kNV; ++j) {
    const int n = nr - 16 * j;
    mask[j] = n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1u);
  }
  const __m512 va = _mm512_set1_ps(alpha);
  if (beta == 0.0f) {
#pragma GCC unroll 16
    for (int i = 0; i < ROWS; ++i) {
#pragma GCC unroll 4
      for (int j = 0; j < kNV; ++j)
        _mm512_mask_storeu_ps(C + i * ldc + 16 * j, mask[j], _mm512_mul_ps(va, acc[i][j]));
    }
  } else {
    const __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
    for (int i = 0; i < ROWS; ++i) {
#pragma GCC unroll 4
      for (int j = 0; j < kNV; ++j) {
        float* c = C + i * ldc + 16 * j;
        const __m512 old = _mm512_maskz_loadu_ps(mask[j], c);
        _mm512_mask_storeu_ps(c, mask[j], _mm512_fmadd_ps(vb, old, _mm512_mul_ps(va, acc[i][j])));
      }
    }
  }
}

template <bool ROW_A, std::size_t... R>
RNNX_TARGET_AVX512 void Dispatch(std::index_sequence<R...>, int mr, int nr, int kc, const float* Ap, int as, const float* Bp,
                                 float* C, int ldc, float alpha, float beta) {
  using TileFn = void (*)(int, int, const float*, int, const float*, float*, int, float, float);
  static constexpr TileFn table[] = {&Tile<int(R) + 1, ROW_A>...};
  table[mr - 1](nr, kc, Ap, as, Bp, C, ldc, alpha, beta);
}

RNNX_TARGET_AVX512 void Micro(int mr, int nr, int kc, const float* Ap, int as, const float* Bp, float* C, int ldc, float alpha,
                              float beta) {
  Dispatch<false>(std::make_index_sequence<kMR>{}, mr, nr, kc, Ap, as, Bp, C, ldc, alpha, beta);
}

RNNX_TARGET_AVX512 void MicroRowA(int mr, int nr, int kc, const float* Ap, int as, const float* Bp, float* C, int ldc,
                                  float alpha, float beta) {
  Dispatch<true>(std::make_index_sequence<kMR>{}, mr, nr, kc, Ap, as, Bp, C, ldc, alpha, beta);
}

// directA: an unpacked Aᵀ is read in place (56 bytes per row, prefetched): dGᵀ·X went from 76 to
// about 105 GFLOP/s on one core once the packing pass over the 26 MB dGates was gone.
const KernelSet<float> kAvx512 = {"avx512", kMR,   kNR, /*mc=*/kMR * 10, /*kc=*/256, /*nc=*/kNR * 32,
                                  &Micro,   /*directA=*/true, &MicroRowA};

}  // namespace

const KernelSet<float>* Avx512FloatKernels() { return &kAvx512; }

}  // namespace gemm_detail
}  // namespace rnnx

#else

namespace rnnx {
namespace gemm_detail {
const KernelSet<float>* Avx512FloatKernels() { return nullptr; }
}  // namespace gemm_detail
}  // namespace rnnx

#endif
