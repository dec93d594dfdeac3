// AVX2+FMA float GEMM micro-kernels. Compiled with function target attributes (no -m flags for the
// rest of the build); the driver calls them only when CPUID reports avx2 and fma.
#include "gemm/gemm_kernels.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>

#include <utility>

#define RNNX_TARGET_AVX2 __attribute__((target("avx2,fma")))

namespace rnnx {
namespace gemm_detail {
namespace {

// Register tile 6 × 16: 12 ymm accumulators + 2 B vectors + 1 broadcast = 15 of the 16 registers.
constexpr int kMR = 6;
constexpr int kNR = 16;

// ROW_A: Ap is an unpacked row-major A (row i at Ap + i·as); same FMA chain as the packed path.
template <int ROWS, bool ROW_A>
RNNX_TARGET_AVX2 void Tile(int nr, int kc, const float* Ap, int as, const float* Bp, float* C, int ldc, float alpha,
                           float beta) {
  __m256 acc[ROWS][2];
#pragma GCC unroll 8
  for (int i = 0; i < ROWS; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(Bp);
    const __m256 b1 = _mm256_load_ps(Bp + 8);
#pragma GCC unroll 8
    for (int i = 0; i < ROWS; ++i) {
      const __m256 a = _mm256_broadcast_ss(ROW_A ? Ap + i * as : Ap + i);
      acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
    }
    Ap += ROW_A ? 1 : as;
    Bp += kNR;
  }
  // Lane j of half h is stored when 8h + j < nr.
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr), lane);
  const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr - 8), lane);
  const __m256 va = _mm256_set1_ps(alpha);
  const bool full = nr == kNR;
  if (beta == 0.0f) {
#pragma GCC unroll 8
    for (int i = 0; i < ROWS; ++i) {
      float* c = C + i * ldc;
      const __m256 r0 = _mm256_mul_ps(va, acc[i][0]);
      const __m256 r1 = _mm256_mul_ps(va, acc[i][1]);
      if (full) {
        _mm256_storeu_ps(c, r0);
        _mm256_storeu_ps(c + 8, r1);
      } else {
        _mm256_maskstore_ps(c, m0, r0);
        _mm256_maskstore_ps(c + 8, m1, r1);
      }
    }
  } else {
    const __m256 vb = _mm256_set1_ps(beta);
#pragma GCC unroll 8
    for (int i = 0; i < ROWS; ++i) {
      float* c = C + i * ldc;
      const __m256 r0 = _mm256_mul_ps(va, acc[i][0]);
      const __m256 r1 = _mm256_mul_ps(va, acc[i][1]);
      if (full) {
        _mm256_storeu_ps(c, _mm256_fmadd_ps(vb, _mm256_loadu_ps(c), r0));
        _mm256_storeu_ps(c + 8, _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + 8), r1));
      } else {
        _mm256_maskstore_ps(c, m0, _mm256_fmadd_ps(vb, _mm256_maskload_ps(c, m0), r0));
        _mm256_maskstore_ps(c + 8, m1, _mm256_fmadd_ps(vb, _mm256_maskload_ps(c + 8, m1), r1));
      }
    }
  }
}

template <bool ROW_A, std::size_t... R>
RNNX_TARGET_AVX2 void Dispatch(std::index_sequence<R...>, int mr, int nr, int kc, const float* Ap, int as, const float* Bp,
                               float* C, int ldc, float alpha, float beta) {
  using TileFn = void (*)(int, int, const float*, int, const float*, float*, int, float, float);
  static constexpr TileFn table[] = {&Tile<int(R) + 1, ROW_A>...};
  table[mr - 1](nr, kc, Ap, as, Bp, C, ldc, alpha, beta);
}

RNNX_TARGET_AVX2 void Micro(int mr, int nr, int kc, const float* Ap, int as, const float* Bp, float* C, int ldc, float alpha,
                            float beta) {
  Dispatch<false>(std::make_index_sequence<kMR>{}, mr, nr, kc, Ap, as, Bp, C, ldc, alpha, beta);
}

RNNX_TARGET_AVX2 void MicroRowA(int mr, int nr, int kc, const float* Ap, int as, const float* Bp, float* C, int ldc,
                                float alpha, float beta) {
  Dispatch<true>(std::make_index_sequence<kMR>{}, mr, nr, kc, Ap, as, Bp, C, ldc, alpha, beta);
}

// directA off: a 6-row strip of an unpacked Aᵀ is 24 bytes per 4 KiB-apart row, too little data
// per cache line fetched; packing measured faster here (dGᵀ·Hprev: 95 vs 45 GFLOP/s, one core).
const KernelSet<float> kAvx2 = {"avx2",      kMR, kNR, /*mc=*/kMR * 24, /*kc=*/256, /*nc=*/kNR * 64,
                                &Micro,      /*directA=*/false, &MicroRowA};

}  // namespace

const KernelSet<float>* Avx2FloatKernels() { return &kAvx2; }

}  // namespace gemm_detail
}  // namespace rnnx

#else

namespace rnnx {
namespace gemm_detail {
const KernelSet<float>* Avx2FloatKernels() { return nullptr; }
}  // namespace gemm_detail
}  // namespace rnnx

#endif
