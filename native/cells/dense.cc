#include "cells/dense.h"

#include <algorithm>
#include <cmath>

#include "cells/recurrent.h"
#include "gemm/gemm.h"
#include "math/elementwise.h"

namespace rnnx {

template <typename T>
void ApplyActivation(Activation act, int rows, int cols, const T* z, T* out, ThreadPool* pool) {
  ForRows(pool, rows, static_cast<size_t>(cols) * 4, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const T* zr = z + static_cast<size_t>(r) * cols;
      T* o = out + static_cast<size_t>(r) * cols;
      switch (act) {
        case Activation::kNone:
          for (int j = 0; j < cols; ++j) o[j] = zr[j];
          break;
        case Activation::kRelu:
          for (int j = 0; j < cols; ++j) o[j] = math::Relu(zr[j]);
          break;
        case Activation::kTanh:
          for (int j = 0; j < cols; ++j) o[j] = math::Tanh(zr[j]);
          break;
        case Activation::kSigmoid:
          for (int j = 0; j < cols; ++j) o[j] = math::Sigmoid(zr[j]);
          break;
        case Activation::kSoftmax:
          math::SoftmaxRow(zr, o, cols);
          break;
      }
    }
  });
}

template <typename T>
void ActivationBackward(Activation act, int rows, int cols, const T* out, const T* dOut, T* dz, ThreadPool* pool) {
  ForRows(pool, rows, static_cast<size_t>(cols) * 2, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const T* o = out + static_cast<size_t>(r) * cols;
      const T* d = dOut + static_cast<size_t>(r) * cols;
      T* g = dz + static_cast<size_t>(r) * cols;
      switch (act) {
        case Activation::kNone:
          for (int j = 0; j < cols; ++j) g[j] = d[j];
          break;
        case Activation::kRelu:
          for (int j = 0; j < cols; ++j) g[j] = math::ReluGrad(o[j], d[j]);
          break;
        case Activation::kTanh:
          for (int j = 0; j < cols; ++j) g[j] = math::TanhGrad(o[j], d[j]);
          break;
        case Activation::kSigmoid:
          for (int j = 0; j < cols; ++j) g[j] = math::SigmoidGrad(o[j], d[j]);
          break;
        case Activation::kSoftmax:
          math::SoftmaxGradRow(o, d, g, cols);
          break;
      }
    }
  });
}

template <typename T>
void DenseForward(int rows, int in, int units, Activation act, const T* a, int lda, const T* W, const T* b, T* z,
                  T* out, ThreadPool* pool) {
  Gemm<T>(false, false, rows, units, in, T(1), a, lda, W, units, T(0), z, units, pool);
  for (int r = 0; r < rows; ++r) {
    T* zr = z + static_cast<size_t>(r) * units;
    for (int j = 0; j < units; ++j) zr[j] += b[j];
  }
  ApplyActivation(act, rows, units, z, out, pool);
}

template <typename T>
void DenseBackward(int rows, int in, int units, const T* a, int lda, const T* W, const T* dz, T* gW, T* gb, T* da,
                   int ldda, ThreadPool* pool) {
  Gemm<T>(true, false, in, units, rows, T(1), a, lda, dz, units, T(1), gW, units, pool);
  AddColumnSums(rows, units, dz, units, gb, pool);
  if (da) Gemm<T>(false, true, rows, in, units, T(1), dz, units, W, units, T(0), da, ldda, pool);
}

#define RNNX_INSTANTIATE(T)                                                                                   \
  template void ApplyActivation<T>(Activation, int, int, const T*, T*, ThreadPool*);                         \
  template void ActivationBackward<T>(Activation, int, int, const T*, const T*, T*, ThreadPool*);            \
  template void DenseForward<T>(int, int, int, Activation, const T*, int, const T*, const T*, T*, T*,        \
                                ThreadPool*);                                                                 \
  template void DenseBackward<T>(int, int, int, const T*, int, const T*, const T*, T*, T*, T*, int, ThreadPool*);
RNNX_INSTANTIATE(float)
RNNX_INSTANTIATE(double)
#undef RNNX_INSTANTIATE

}  // namespace rnnx
