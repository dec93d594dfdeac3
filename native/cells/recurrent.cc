// Helpers shared by the LSTM, GRU and RNN kernels (see recurrent.h).
#include "cells/recurrent.h"

#include <cstring>

#include "gemm/gemm.h"

namespace rnnx {

template <typename T>
const T* PrevStates(const DirectionTape<T>& tape, const RunShape& s, int H) {
  if (tape.hMasked != nullptr) return tape.hMasked;
  return tape.hs + (s.reverse ? static_cast<size_t>(s.N) * H : 0);
}

template <typename T>
void InputProjection(const CellConfig& c, const RunShape& s, const DirectionParams<T>& p, const T* x, int ldx,
                     T* gates, ThreadPool* pool) {
  const int GH = c.gates() * c.hidden;
  Gemm<T>(false, true, s.T * s.N, GH, c.input, T(1), x, ldx, p.W, c.input, T(0), gates, GH, pool);
}

template <typename T>
void InitStates(const CellConfig& c, const RunShape& s, const DirectionTape<T>& tape, const T* h0, const T* c0) {
  const size_t NH = static_cast<size_t>(s.N) * c.hidden;
  const size_t at = (s.reverse ? s.T : 0) * NH;
  if (h0 != nullptr) std::memcpy(tape.hs + at, h0, NH * sizeof(T));
  else std::memset(tape.hs + at, 0, NH * sizeof(T));
  if (tape.cs != nullptr) {
    if (c0 != nullptr) std::memcpy(tape.cs + at, c0, NH * sizeof(T));
    else std::memset(tape.cs + at, 0, NH * sizeof(T));
  }
}

template <typename T>
const T* RecurrentInput(const CellConfig& c, const RunShape& s, const DirectionTape<T>& tape,
                        const CellRegularization<T>& reg, int t, int n0, int n1) {
  const size_t NH = static_cast<size_t>(s.N) * c.hidden;
  const T* hprev = tape.hs + (s.reverse ? t + 1 : t) * NH;
  if (tape.hMasked == nullptr) return hprev;
  T* out = tape.hMasked + t * NH;
  const size_t b = static_cast<size_t>(n0) * c.hidden, e = static_cast<size_t>(n1) * c.hidden;
  if (reg.recurrentMask == nullptr) {
    std::memcpy(out + b, hprev + b, (e - b) * sizeof(T));
  } else {
    for (size_t k = b; k < e; ++k) out[k] = hprev[k] * reg.recurrentMask[k];
  }
  return out;
}

template <typename T>
void AddColumnSums(int rows, int cols, const T* a, int lda, T* out, ThreadPool* pool) {
  // Split over columns only; each column is summed over rows in order. Rows are visited in
  // blocks so each thread streams through memory instead of striding down one column.
  ForRows(pool, cols, static_cast<size_t>(rows), [&](int j0, int j1) {
    const int w = j1 - j0;
    std::vector<T> acc(static_cast<size_t>(w), T(0));
    for (int r = 0; r < rows; ++r) {
      const T* row = a + static_cast<size_t>(r) * lda + j0;
      for (int j = 0; j < w; ++j) acc[j] += row[j];
    }
    for (int j = 0; j < w; ++j) out[j0 + j] += acc[j];
  });
}

template <typename T>
void AddMasked(int N, int H, const T* src, const T* mask, T* dhNext) {
  const size_t NH = static_cast<size_t>(N) * H;
  if (mask == nullptr) {
    for (size_t k = 0; k < NH; ++k) dhNext[k] += src[k];
  } else {
    for (size_t k = 0; k < NH; ++k) dhNext[k] += src[k] * mask[k];
  }
}

#define RNNX_INSTANTIATE(T)                                                                                   \
  template const T* PrevStates<T>(const DirectionTape<T>&, const RunShape&, int);                            \
  template void InputProjection<T>(const CellConfig&, const RunShape&, const DirectionParams<T>&, const T*, int, \
                                   T*, ThreadPool*);                                                          \
  template void InitStates<T>(const CellConfig&, const RunShape&, const DirectionTape<T>&, const T*, const T*); \
  template const T* RecurrentInput<T>(const CellConfig&, const RunShape&, const DirectionTape<T>&,             \
                                      const CellRegularization<T>&, int, int, int);                           \
  template void AddColumnSums<T>(int, int, const T*, int, T*, ThreadPool*);                                   \
  template void AddMasked<T>(int, int, const T*, const T*, T*);
RNNX_INSTANTIATE(float)
RNNX_INSTANTIATE(double)
#undef RNNX_INSTANTIATE

}  // namespace rnnx
