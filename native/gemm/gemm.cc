// Blocked GEMM driver: argument checks, thread split, cache blocking, packing; the register-tile
// micro-kernels live in gemm_avx512.cc / gemm_avx2.cc (float) and below (portable, double).
#include "gemm/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "gemm/cpu_features.h"
#include "gemm/gemm_kernels.h"
#include "gemm/thread_pool.h"

namespace rnnx {

using gemm_detail::KernelSet;

namespace {

// ---- portable micro-kernel ------------------------------------------------------------------
// Plain loops the compiler vectorises for the baseline ISA. Rows >= mr of Ap are zero padding,
// so the full tile is computed and only mr × nr stored.
template <typename T, int MR, int NR>
void PortableMicro(int mr, int nr, int kc, const T* Ap, int as, const T* Bp, T* C, int ldc, T alpha, T beta) {
  T acc[MR][NR] = {};
  for (int k = 0; k < kc; ++k) {
    for (int i = 0; i < MR; ++i) {
      const T a = Ap[i];
      for (int j = 0; j < NR; ++j) acc[i][j] += a * Bp[j];
    }
    Ap += as;
    Bp += NR;
  }
  for (int i = 0; i < mr; ++i) {
    T* c = C + static_cast<std::ptrdiff_t>(i) * ldc;
    if (beta == T(0)) {
      for (int j = 0; j < nr; ++j) c[j] = alpha * acc[i][j];
    } else {
      for (int j = 0; j < nr; ++j) c[j] = beta * c[j] + alpha * acc[i][j];
    }
  }
}

const KernelSet<float> kPortableFloat = {"portable", 4, 8, 4 * 32, 256, 8 * 128, &PortableMicro<float, 4, 8>, false, nullptr};
const KernelSet<double> kPortableDouble = {"portable", 4, 4, 4 * 32, 256, 4 * 128, &PortableMicro<double, 4, 4>, false, nullptr};

// ---- packing --------------------------------------------------------------------------------
// Elements between consecutive packed A panels: kc × MR plus one cache line, so that the MR-wide
// pieces a transposed A is scattered into do not all map to the same L1 sets (with kc = 256 and
// MR = 6 the panels would be exactly 6 KiB apart: 24 write streams on two set groups).
template <typename T>
constexpr std::ptrdiff_t APanelStride(int kc, int mr) {
  return static_cast<std::ptrdiff_t>(kc) * mr + static_cast<std::ptrdiff_t>(64 / sizeof(T));
}

// An A block of mc rows is cut into ceil(mc / MR) panels of near-equal height: 16 rows with MR = 14
// become 8 + 8, not 14 + 2 (a 2-row tile has too few accumulators to hide the FMA latency and costs
// almost as much as a full one; the recurrent products of a small batch are all such blocks).
// Panel q holds rows [PanelStart(q), PanelStart(q + 1)), at most MR of them.
int PanelCount(int mc, int MR) { return (mc + MR - 1) / MR; }
int PanelStart(int q, int mc, int panels) { return static_cast<int>(static_cast<long long>(q) * mc / panels); }

// Rows [r, r + rows) of an A stored [M, K] (row i contiguous in k), k in [p0, p0 + kc), into one
// panel (k-major, MR per k); panel rows past `rows` are zero-filled.
template <typename T, int MR>
void PackRowsIntoPanel(const T* A, int lda, int r, int rows, int p0, int kc, T* d) {
  int i = 0;
#if defined(__SSE__)
  if constexpr (std::is_same_v<T, float>) {
    // Four rows at a time, transposed in 4 × 4 blocks: two vector loads/stores per 4 elements
    // instead of one scalar store per element, 56 bytes apart (this pass was 11% of a small
    // LSTM step, where every time step packs its [16, 4H] gradient block).
    for (; i + 4 <= rows; i += 4) {
      const float* s0 = A + static_cast<std::ptrdiff_t>(r + i) * lda + p0;
      const float* s1 = s0 + lda;
      const float* s2 = s1 + lda;
      const float* s3 = s2 + lda;
      int k = 0;
      for (; k + 4 <= kc; k += 4) {
        __m128 a0 = _mm_loadu_ps(s0 + k), a1 = _mm_loadu_ps(s1 + k), a2 = _mm_loadu_ps(s2 + k), a3 = _mm_loadu_ps(s3 + k);
        _MM_TRANSPOSE4_PS(a0, a1, a2, a3);
        float* out = d + static_cast<std::ptrdiff_t>(k) * MR + i;
        _mm_storeu_ps(out, a0);
        _mm_storeu_ps(out + MR, a1);
        _mm_storeu_ps(out + 2 * MR, a2);
        _mm_storeu_ps(out + 3 * MR, a3);
      }
      for (; k < kc; ++k) {
        float* out = d + static_cast<std::ptrdiff_t>(k) * MR + i;
        out[0] = s0[k];
        out[1] = s1[k];
        out[2] = s2[k];
        out[3] = s3[k];
      }
    }
  }
#endif
  for (; i < rows; ++i) {
    const T* src = A + static_cast<std::ptrdiff_t>(r + i) * lda + p0;
    for (int k = 0; k < kc; ++k) d[static_cast<std::ptrdiff_t>(k) * MR + i] = src[k];
  }
  for (; i < MR; ++i)
    for (int k = 0; k < kc; ++k) d[static_cast<std::ptrdiff_t>(k) * MR + i] = T(0);
}

// A block: rows [i0, i0+mc), k in [p0, p0+kc) of op(A) → PanelCount(mc, MR) panels of kc × MR
// (k-major), APanelStride apart, split as PanelStart says, rows past each panel's height zero-filled.
template <typename T, int MR>
void PackA(bool transA, const T* A, int lda, int i0, int mc, int p0, int kc, T* dst) {
  const int panels = PanelCount(mc, MR);
  const std::ptrdiff_t panel = APanelStride<T>(kc, MR);
  if (transA) {
    // A stored [K, M]: walk each stored row once across the whole block (long contiguous reads
    // the prefetcher follows), scattering each panel's piece.
    for (int k = 0; k < kc; ++k) {
      const T* src = A + static_cast<std::ptrdiff_t>(p0 + k) * lda + i0;
      T* d = dst + static_cast<std::ptrdiff_t>(k) * MR;
      for (int q = 0; q < panels; ++q, d += panel) {
        const int r0 = PanelStart(q, mc, panels), rows = PanelStart(q + 1, mc, panels) - r0;
        std::memcpy(d, src + r0, sizeof(T) * rows);
        for (int i = rows; i < MR; ++i) d[i] = T(0);
      }
    }
    return;
  }
  for (int q = 0; q < panels; ++q, dst += panel) {
    const int r0 = PanelStart(q, mc, panels);
    PackRowsIntoPanel<T, MR>(A, lda, i0 + r0, PanelStart(q + 1, mc, panels) - r0, p0, kc, dst);
  }
}

// B block: k in [p0, p0+kc), columns [j0, j0+nc) of op(B) → ceil(nc/NR) panels of kc × NR
// (k-major), columns past nc zero-filled.
template <typename T, int NR>
void PackB(bool transB, const T* B, int ldb, int p0, int kc, int j0, int nc, T* dst) {
  for (int c0 = 0; c0 < nc; c0 += NR, dst += static_cast<std::ptrdiff_t>(kc) * NR) {
    const int cols = std::min(NR, nc - c0);
    if (!transB) {  // B stored [K, N]: NR consecutive elements per k
      const T* src = B + static_cast<std::ptrdiff_t>(p0) * ldb + j0 + c0;
      for (int k = 0; k < kc; ++k, src += ldb) {
        T* d = dst + static_cast<std::ptrdiff_t>(k) * NR;
        if (cols == NR) {
          std::memcpy(d, src, sizeof(T) * NR);
        } else {
          int j = 0;
          for (; j < cols; ++j) d[j] = src[j];
          for (; j < NR; ++j) d[j] = T(0);
        }
      }
    } else {  // B stored [N, K]: transpose in tiles of 8 k so reads and writes both stay local
      const T* src = B + static_cast<std::ptrdiff_t>(j0 + c0) * ldb + p0;
      int k0 = 0;
      for (; k0 + 8 <= kc; k0 += 8) {
        T* d = dst + static_cast<std::ptrdiff_t>(k0) * NR;
        for (int j = 0; j < cols; ++j) {
          const T* s = src + static_cast<std::ptrdiff_t>(j) * ldb + k0;
          for (int k = 0; k < 8; ++k) d[k * NR + j] = s[k];
        }
        for (int j = cols; j < NR; ++j)
          for (int k = 0; k < 8; ++k) d[k * NR + j] = T(0);
      }
      for (; k0 < kc; ++k0) {
        T* d = dst + static_cast<std::ptrdiff_t>(k0) * NR;
        int j = 0;
        for (; j < cols; ++j) d[j] = src[static_cast<std::ptrdiff_t>(j) * ldb + k0];
        for (; j < NR; ++j) d[j] = T(0);
      }
    }
  }
}

template <typename T>
using PackAFn = void (*)(bool, const T*, int, int, int, int, int, T*);
template <typename T>
using PackBFn = void (*)(bool, const T*, int, int, int, int, int, T*);

// A kernel set plus the packers instantiated for its tile (the packers stay in this file's
// baseline ISA; they are a small part of the time).
template <typename T>
struct Driver {
  const KernelSet<T>* ks;
  PackAFn<T> packA;
  PackBFn<T> packB;
};

template <typename T>
Driver<T> MakeDriver(const KernelSet<T>* ks) {
  Driver<T> d{ks, nullptr, nullptr};
  switch (ks->mr) {
    case 4: d.packA = &PackA<T, 4>; break;
    case 6: d.packA = &PackA<T, 6>; break;
    case 14: d.packA = &PackA<T, 14>; break;
    default: break;
  }
  switch (ks->nr) {
    case 4: d.packB = &PackB<T, 4>; break;
    case 8: d.packB = &PackB<T, 8>; break;
    case 16: d.packB = &PackB<T, 16>; break;
    case 32: d.packB = &PackB<T, 32>; break;
    default: break;
  }
  if (!d.packA || !d.packB) throw std::logic_error(std::string("gemm: no packer for kernel ") + ks->name);
  return d;
}

// ---- kernel selection -----------------------------------------------------------------------
struct FloatKernels {
  Driver<float> drivers[3];
  int count = 0;
};

const FloatKernels& AvailableFloat() {
  static const FloatKernels all = [] {
    FloatKernels k;
    const CpuFeatures f = DetectCpuFeatures();
    if (f.avx512f && f.avx2 && f.fma && gemm_detail::Avx512FloatKernels())
      k.drivers[k.count++] = MakeDriver(gemm_detail::Avx512FloatKernels());
    if (f.avx2 && f.fma && gemm_detail::Avx2FloatKernels())
      k.drivers[k.count++] = MakeDriver(gemm_detail::Avx2FloatKernels());
    k.drivers[k.count++] = MakeDriver(&kPortableFloat);
    return k;
  }();
  return all;
}

std::atomic<const Driver<float>*> g_floatDriver{nullptr};

const Driver<float>& CurrentDriver(float*) {
  const Driver<float>* d = g_floatDriver.load(std::memory_order_acquire);
  if (!d) {
    d = &AvailableFloat().drivers[0];
    g_floatDriver.store(d, std::memory_order_release);
  }
  return *d;
}

const Driver<double>& CurrentDriver(double*) {
  static const Driver<double> d = MakeDriver(&kPortableDouble);
  return d;
}

template <typename T>
const Driver<T>& CurrentDriver() {
  return CurrentDriver(static_cast<T*>(nullptr));
}

template <typename T>
const Driver<T>& DriverFor(const KernelSet<T>* ks) {
  if (ks == CurrentDriver<T>().ks) return CurrentDriver<T>();
  if constexpr (std::is_same_v<T, float>) {
    const FloatKernels& all = AvailableFloat();
    for (int i = 0; i < all.count; ++i)
      if (all.drivers[i].ks == ks) return all.drivers[i];
  }
  throw std::logic_error("gemm: PackedB was packed for an unknown kernel");
}

// ---- buffers --------------------------------------------------------------------------------
// Thread-local, 64-byte aligned, grow-only scratch: steady-state calls allocate nothing.
template <typename T>
class Scratch {
 public:
  ~Scratch() { Release(); }
  T* Get(std::size_t n) {
    if (n > size_) {
      Release();
      data_ = static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64)));
      size_ = n;
    }
    return data_;
  }

 private:
  void Release() {
    if (data_) ::operator delete(data_, std::align_val_t(64));
    data_ = nullptr;
    size_ = 0;
  }
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

template <typename T>
Scratch<T>& ScratchA() {
  thread_local Scratch<T> s;
  return s;
}
template <typename T>
Scratch<T>& ScratchB() {
  thread_local Scratch<T> s;
  return s;
}

std::size_t RoundUp(std::size_t x, std::size_t m) { return (x + m - 1) / m * m; }

// ---- driver ---------------------------------------------------------------------------------
template <typename T>
struct Problem {
  bool transA, transB;
  int M, N, K;
  T alpha;
  const T* A;
  int lda;
  const T* B;  // unpacked B, or null when packedB is set
  int ldb;
  const T* packedB;  // whole op(B) as panels of K × NR, or null
  T beta;
  T* C;
  int ldc;
};

// Blocks of at most this many rows of a row-major A skip packing (kernels with microRowA).
constexpr int kRowAMaxRows = 32;

// Computes rows [m0, m1) × columns [n0, n1) of C; n0 is a multiple of NR.
template <typename T>
void GemmBlock(const Driver<T>& d, const Problem<T>& p, int m0, int m1, int n0, int n1) {
  const KernelSet<T>& ks = *d.ks;
  const int MR = ks.mr, NR = ks.nr;
  const int kcMax = std::min(ks.kc, p.K);
  const int mcMax = std::min<int>(ks.mc, static_cast<int>(RoundUp(m1 - m0, MR)));
  const int ncMax = std::min<int>(ks.nc, static_cast<int>(RoundUp(n1 - n0, NR)));
  const bool directA = p.transA && ks.directA;
  // A block of few rows is read in place: its packed panels would each feed only nc / NR tiles.
  const bool rowA = !p.transA && ks.microRowA && m1 - m0 <= kRowAMaxRows;
  const bool packA = !directA && !rowA;
  const int aStride = packA ? MR : p.lda;
  const gemm_detail::MicroKernel<T> micro = rowA ? ks.microRowA : ks.micro;
  T* abuf = packA ? ScratchA<T>().Get(static_cast<std::size_t>(mcMax / MR) * APanelStride<T>(kcMax, MR)) : nullptr;
  T* bbuf = p.packedB ? nullptr : ScratchB<T>().Get(static_cast<std::size_t>(ncMax) * kcMax);
  for (int jc = n0; jc < n1; jc += ks.nc) {
    const int nc = std::min(ks.nc, n1 - jc);
    for (int pc = 0; pc < p.K; pc += ks.kc) {
      const int kc = std::min(ks.kc, p.K - pc);
      const T* bp;
      std::ptrdiff_t bPanelStride;
      if (p.packedB) {
        bPanelStride = static_cast<std::ptrdiff_t>(p.K) * NR;
        bp = p.packedB + (jc / NR) * bPanelStride + static_cast<std::ptrdiff_t>(pc) * NR;
      } else {
        d.packB(p.transB, p.B, p.ldb, pc, kc, jc, nc, bbuf);
        bp = bbuf;
        bPanelStride = static_cast<std::ptrdiff_t>(kc) * NR;
      }
      const T beta = pc == 0 ? p.beta : T(1);
      for (int ic = m0; ic < m1; ic += ks.mc) {
        const int mc = std::min(ks.mc, m1 - ic);
        if (packA) d.packA(p.transA, p.A, p.lda, ic, mc, pc, kc, abuf);
        const int panels = PanelCount(mc, MR);
        for (int q = 0; q < panels; ++q) {
          const int ir = PanelStart(q, mc, panels), mr = PanelStart(q + 1, mc, panels) - ir;
          const T* ap = packA    ? abuf + q * APanelStride<T>(kc, MR)
                        : rowA   ? p.A + static_cast<std::ptrdiff_t>(ic + ir) * p.lda + pc
                                 : p.A + static_cast<std::ptrdiff_t>(pc) * p.lda + ic + ir;
          T* crow = p.C + static_cast<std::ptrdiff_t>(ic + ir) * p.ldc + jc;
          for (int jr = 0; jr < nc; jr += NR) {
            micro(mr, std::min(NR, nc - jr), kc, ap, aStride, bp + (jr / NR) * bPanelStride, crow + jr, p.ldc,
                  p.alpha, beta);
          }
        }
      }
    }
  }
}

// N == 1 (a dense layer with one unit: y = h·w, dW = hᵀ·dy): the register tiles would waste
// NR - 1 of every NR lanes, so rows [m0, m1) are computed as dot products / axpys instead.
// x[k] = op(B)[k, 0], contiguous. The per-element order of operations does not depend on m0/m1.
template <typename T>
void GemvRows(const Problem<T>& p, const T* x, int m0, int m1) {
  const int K = p.K;
  auto store = [&p](int i, T acc) {
    T* c = p.C + static_cast<std::ptrdiff_t>(i) * p.ldc;
    *c = p.beta == T(0) ? p.alpha * acc : p.beta * *c + p.alpha * acc;
  };
  if (!p.transA) {
    for (int i = m0; i < m1; ++i) {
      const T* a = p.A + static_cast<std::ptrdiff_t>(i) * p.lda;
      T part[8] = {};  // eight fixed partial sums: vectorisable without reassociation
      int k = 0;
      for (; k + 8 <= K; k += 8)
        for (int j = 0; j < 8; ++j) part[j] += a[k + j] * x[k + j];
      T acc = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
      for (; k < K; ++k) acc += a[k] * x[k];
      store(i, acc);
    }
  } else {  // A stored [K, M]: accumulate scaled rows of A, k ascending
    T* acc = ScratchA<T>().Get(static_cast<std::size_t>(m1 - m0));
    std::fill(acc, acc + (m1 - m0), T(0));
    for (int k = 0; k < K; ++k) {
      const T* a = p.A + static_cast<std::ptrdiff_t>(k) * p.lda + m0;
      const T xk = x[k];
      for (int i = 0; i < m1 - m0; ++i) acc[i] += a[i] * xk;
    }
    for (int i = m0; i < m1; ++i) store(i, acc[i - m0]);
  }
}

// Below this many multiply-adds a second thread costs more (wake-up, duplicated packing) than it saves.
constexpr double kMinParallelMacs = 1 << 18;

template <typename T>
void RunGemv(const Driver<T>& d, const Problem<T>& p, ThreadPool* pool) {
  // Gather x = op(B)[:, 0] unless it is already contiguous.
  const T* x = p.B;
  if (p.packedB || (!p.transB && p.ldb != 1)) {
    T* buf = ScratchB<T>().Get(static_cast<std::size_t>(p.K));
    const int stride = p.packedB ? d.ks->nr : p.ldb;
    const T* src = p.packedB ? p.packedB : p.B;
    for (int k = 0; k < p.K; ++k) buf[k] = src[static_cast<std::ptrdiff_t>(k) * stride];
    x = buf;
  }
  const double macs = static_cast<double>(p.M) * p.K;
  if (!pool || pool->size() < 2 || p.M < 32 || macs < kMinParallelMacs) {
    GemvRows(p, x, 0, p.M);
    return;
  }
  struct Ctx {
    const Problem<T>* p;
    const T* x;
  } ctx{&p, x};
  const Ctx* c = &ctx;
  pool->ParallelFor(0, p.M, 16, [c](int m0, int m1) { GemvRows(*c->p, c->x, m0, m1); });
}

template <typename T>
void RunProblem(const Driver<T>& d, const Problem<T>& p, ThreadPool* pool) {
  if (p.M == 0 || p.N == 0) return;
  if (p.N == 1) {
    RunGemv(d, p, pool);
    return;
  }
  const int MR = d.ks->mr, NR = d.ks->nr;
  const int tilesM = (p.M + MR - 1) / MR, tilesN = (p.N + NR - 1) / NR;
  // Split the larger dimension: each thread packs the whole of the other operand itself.
  const bool splitN = p.N > p.M;
  const int tiles = splitN ? tilesN : tilesM;
  const double macs = static_cast<double>(p.M) * p.N * p.K;
  if (!pool || pool->size() < 2 || tiles < 2 || macs < kMinParallelMacs) {
    GemmBlock(d, p, 0, p.M, 0, p.N);
    return;
  }
  // One pointer captured: std::function stores it inline, no allocation.
  struct Ctx {
    const Driver<T>* d;
    const Problem<T>* p;
    bool splitN;
    int MR, NR;
  } ctx{&d, &p, splitN, MR, NR};
  const Ctx* c = &ctx;
  pool->ParallelFor(0, tiles, 1, [c](int t0, int t1) {
    if (c->splitN)
      GemmBlock(*c->d, *c->p, 0, c->p->M, t0 * c->NR, std::min(c->p->N, t1 * c->NR));
    else
      GemmBlock(*c->d, *c->p, t0 * c->MR, std::min(c->p->M, t1 * c->MR), 0, c->p->N);
  });
}

// C = beta * C (the whole product when K == 0 or alpha == 0); beta == 0 writes zeros.
template <typename T>
void ScaleC(int M, int N, T beta, T* C, int ldc) {
  for (int i = 0; i < M; ++i) {
    T* c = C + static_cast<std::ptrdiff_t>(i) * ldc;
    if (beta == T(0))
      std::fill(c, c + N, T(0));
    else if (beta != T(1))
      for (int j = 0; j < N; ++j) c[j] *= beta;
  }
}

void CheckArg(bool ok, const char* what, long long got, long long need) {
  if (!ok)
    throw std::invalid_argument(std::string("gemm: ") + what + " must be >= " + std::to_string(need) + ", got " +
                                std::to_string(got));
}

void CheckShape(bool transA, int M, int K, int lda, int ldc, int N) {
  CheckArg(M >= 0, "M", M, 0);
  CheckArg(N >= 0, "N", N, 0);
  CheckArg(K >= 0, "K", K, 0);
  const int needA = std::max(1, transA ? M : K);
  CheckArg(lda >= needA, "lda", lda, needA);
  CheckArg(ldc >= std::max(1, N), "ldc", ldc, std::max(1, N));
}

}  // namespace

template <typename T>
void Gemm(bool transA, bool transB, int M, int N, int K, T alpha, const T* A, int lda, const T* B, int ldb,
          T beta, T* C, int ldc, ThreadPool* pool) {
  CheckShape(transA, M, K, lda, ldc, N);
  const int needB = std::max(1, transB ? K : N);
  CheckArg(ldb >= needB, "ldb", ldb, needB);
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == T(0)) {
    ScaleC(M, N, beta, C, ldc);
    return;
  }
  const Problem<T> p{transA, transB, M, N, K, alpha, A, lda, B, ldb, nullptr, beta, C, ldc};
  RunProblem(CurrentDriver<T>(), p, pool);
}

template <typename T>
PackedB<T>::~PackedB() {
  if (data_) ::operator delete(data_, std::align_val_t(64));
}

template <typename T>
PackedB<T>::PackedB(PackedB&& o) noexcept
    : kernels_(o.kernels_), data_(o.data_), capacity_(o.capacity_), k_(o.k_), n_(o.n_) {
  o.data_ = nullptr;
  o.capacity_ = 0;
  o.k_ = o.n_ = 0;
}

template <typename T>
PackedB<T>& PackedB<T>::operator=(PackedB&& o) noexcept {
  if (this != &o) {
    if (data_) ::operator delete(data_, std::align_val_t(64));
    kernels_ = o.kernels_;
    data_ = o.data_;
    capacity_ = o.capacity_;
    k_ = o.k_;
    n_ = o.n_;
    o.data_ = nullptr;
    o.capacity_ = 0;
    o.k_ = o.n_ = 0;
  }
  return *this;
}

template <typename T>
void PackedB<T>::Pack(bool transB, int K, int N, const T* B, int ldb, ThreadPool* pool) {
  CheckArg(K >= 0, "K", K, 0);
  CheckArg(N >= 0, "N", N, 0);
  const int needB = std::max(1, transB ? K : N);
  CheckArg(ldb >= needB, "ldb", ldb, needB);
  const Driver<T>& d = CurrentDriver<T>();
  const int NR = d.ks->nr;
  const int panels = (N + NR - 1) / NR;
  const std::size_t need = std::max<std::size_t>(1, static_cast<std::size_t>(panels) * NR * K);
  if (need > capacity_) {
    if (data_) ::operator delete(data_, std::align_val_t(64));
    data_ = nullptr;
    capacity_ = 0;
    data_ = static_cast<T*>(::operator new(need * sizeof(T), std::align_val_t(64)));
    capacity_ = need;
  }
  kernels_ = d.ks;
  k_ = K;
  n_ = N;
  if (K == 0 || N == 0) return;
  struct Ctx {
    const Driver<T>* d;
    bool transB;
    int K, N, NR, ldb;
    const T* B;
    T* dst;
  } ctx{&d, transB, K, N, NR, ldb, B, data_};
  const Ctx* c = &ctx;
  auto packPanels = [c](int p0, int p1) {
    const int j0 = p0 * c->NR, j1 = std::min(c->N, p1 * c->NR);
    c->d->packB(c->transB, c->B, c->ldb, 0, c->K, j0, j1 - j0, c->dst + static_cast<std::ptrdiff_t>(p0) * c->K * c->NR);
  };
  if (pool && pool->size() > 1 && panels > 1 && static_cast<double>(K) * N >= (1 << 16))
    pool->ParallelFor(0, panels, 1, packPanels);
  else
    packPanels(0, panels);
}

template <typename T>
void GemmPacked(bool transA, int M, T alpha, const T* A, int lda, const PackedB<T>& B, T beta, T* C, int ldc,
                ThreadPool* pool) {
  const int N = B.n_, K = B.k_;
  CheckShape(transA, M, K, lda, ldc, N);
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == T(0)) {
    ScaleC(M, N, beta, C, ldc);
    return;
  }
  if (!B.data_) throw std::invalid_argument("gemm: PackedB used before Pack()");
  const Problem<T> p{transA, false, M, N, K, alpha, A, lda, nullptr, 0, B.data_, beta, C, ldc};
  RunProblem(DriverFor<T>(B.kernels_), p, pool);
}

const char* GemmKernelName() { return CurrentDriver<float>().ks->name; }

std::vector<const char*> GemmAvailableKernels() {
  std::vector<const char*> names;
  const FloatKernels& all = AvailableFloat();
  for (int i = 0; i < all.count; ++i) names.push_back(all.drivers[i].ks->name);
  return names;
}

bool GemmSelectKernel(const char* name) {
  if (!name) return false;
  const FloatKernels& all = AvailableFloat();
  for (int i = 0; i < all.count; ++i) {
    if (std::strcmp(all.drivers[i].ks->name, name) == 0) {
      g_floatDriver.store(&all.drivers[i], std::memory_order_release);
      return true;
    }
  }
  return false;
}

template void Gemm<float>(bool, bool, int, int, int, float, const float*, int, const float*, int, float, float*, int,
                          ThreadPool*);
template void Gemm<double>(bool, bool, int, int, int, double, const double*, int, const double*, int, double, double*,
                           int, ThreadPool*);
template class PackedB<float>;
template class PackedB<double>;
template void GemmPacked<float>(bool, int, float, const float*, int, const PackedB<float>&, float, float*, int,
                                ThreadPool*);
template void GemmPacked<double>(bool, int, double, const double*, int, const PackedB<double>&, double, double*, int,
                                 ThreadPool*);

}  // namespace rnnx
