// Instruction-set builds of the row kernels (cell_math.h) and their selection from CPUID feature
// bits (never the CPU model name). Function target attributes keep -m flags out of the build.
// no-trapping-math lets GCC if-convert the clamps of the activation functions (selects, no
// change to any computed value), without which the AVX2 and baseline loops stay scalar.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include "cells/cell_kernels.h"

#include "cells/cell_math.h"
#include "gemm/cpu_features.h"

namespace rnnx {

#define RNNX_ROW_KERNELS(PREFIX, ATTR, T)                                                                         \
  ATTR void PREFIX##LstmF(const LstmRowForward<T>& a) { cellmath::LstmForwardAny<T>(a); }                        \
  ATTR void PREFIX##LstmB(const LstmRowBackward<T>& a) { cellmath::LstmBackwardAny<T>(a); }                      \
  ATTR void PREFIX##GruG(const GruRowForward<T>& a) { cellmath::GruGates<T>(a); }                                 \
  ATTR void PREFIX##GruF(const GruRowForward<T>& a) { cellmath::GruForwardAny<T>(a); }                            \
  ATTR void PREFIX##GruB(const GruRowBackward<T>& a) { cellmath::GruBackwardAny<T>(a); }                          \
  ATTR void PREFIX##GruRB(const GruRowResetBackward<T>& a) { cellmath::GruResetBackward<T>(a); }                  \
  ATTR void PREFIX##RnnF(const RnnRowForward<T>& a) { cellmath::RnnForward<T>(a); }                               \
  ATTR void PREFIX##RnnB(const RnnRowBackward<T>& a) { cellmath::RnnBackward<T>(a); }                             \
  const CellKernels<T> PREFIX##Set = {&PREFIX##LstmF, &PREFIX##LstmB, &PREFIX##GruG,  &PREFIX##GruF,            \
                                      &PREFIX##GruB,  &PREFIX##GruRB, &PREFIX##RnnF,  &PREFIX##RnnB, #PREFIX};

namespace {
RNNX_ROW_KERNELS(baseline, , float)
RNNX_ROW_KERNELS(double_, , double)
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
RNNX_ROW_KERNELS(avx2, __attribute__((target("avx2,fma"))), float)
RNNX_ROW_KERNELS(avx512, __attribute__((target("avx512f,avx2,fma"))), float)
#define RNNX_HAVE_X86_KERNELS 1
#endif
}  // namespace

template <>
const CellKernels<float>& CellKernels<float>::Get() {
  static const CellKernels<float>* chosen = [] {
#ifdef RNNX_HAVE_X86_KERNELS
    const CpuFeatures f = DetectCpuFeatures();
    if (f.avx512f && f.avx2 && f.fma) return &avx512Set;
    if (f.avx2 && f.fma) return &avx2Set;
#endif
    return &baselineSet;
  }();
  return *chosen;
}

template <>
const CellKernels<double>& CellKernels<double>::Get() {
  return double_Set;
}

}  // namespace rnnx
