// Simple RNN kernels: see rnn.h and recurrent.h.
#include "cells/rnn.h"

#include <cstring>
#include <utility>

#include "cells/cell_kernels.h"
#include "gemm/gemm.h"
#include "cells/random.h"

namespace rnnx {

template <typename T>
void RnnForwardPass<T>::Run(const RunShape& s, const DirectionParams<T>& p, const T* x, int ldx, const T* h0, T* y,
                            int ldy, int yCol, const DirectionTape<T>& tape, const CellRegularization<T>& reg) {
  const int H = c_.hidden, N = s.N;
  const size_t NH = static_cast<size_t>(N) * H;
  InputProjection(c_, s, p, x, ldx, tape.gates, pool_);
  InitStates(c_, s, tape, h0, static_cast<const T*>(nullptr));
  rT_.Pack(true, H, H, p.R, H, pool_);
  bias_.resize(H);
  for (int k = 0; k < H; ++k) bias_[k] = p.Wb[k] + p.Rb[k];
  const CellKernels<T>& K = CellKernels<T>::Get();
  const bool zoneH = reg.zoneout && c_.zoneoutH > 0;
  ForRowBlocks(pool_, N, static_cast<double>(H) * H, [&](int n0, int n1) {
    RnnRowForward<T> a{};
    a.H = H;
    a.relu = c_.relu;
    a.bias = bias_.data();
    for (int step = 0; step < s.T; ++step) {
      const int t = s.reverse ? s.T - 1 - step : step;
      const size_t prevAt = (s.reverse ? t + 1 : t) * NH, outAt = (s.reverse ? t : t + 1) * NH;
      const T* hin = RecurrentInput(c_, s, tape, reg, t, n0, n1);
      T* gt = tape.gates + static_cast<size_t>(t) * NH;
      GemmPacked<T>(false, n1 - n0, T(1), hin + static_cast<size_t>(n0) * H, H, rT_, T(1),
                    gt + static_cast<size_t>(n0) * H, H, nullptr);
      for (int n = n0; n < n1; ++n) {
        const T* hprev = tape.hs + prevAt + n * H;
        T* hout = tape.hs + outAt + n * H;
        T* g = gt + static_cast<size_t>(n) * H;
        T* yrow = y ? y + (static_cast<size_t>(t) * N + n) * ldy + yCol : nullptr;
        if (!s.valid(t, n)) {
          std::memcpy(hout, hprev, H * sizeof(T));
          if (yrow) std::memset(yrow, 0, H * sizeof(T));
          std::memset(g, 0, H * sizeof(T));
          continue;
        }
        a.g = g;
        K.rnnForward(a);
        std::memcpy(hout, g, H * sizeof(T));
        if (zoneH) ZoneoutKeep(hout, hprev, H, reg.zoneoutKeyH, (static_cast<size_t>(t) * N + n) * H, c_.zoneoutH);
        if (yrow) std::memcpy(yrow, hout, H * sizeof(T));
      }
    }
  });
}

template <typename T>
void RnnBackwardPass<T>::Run(const RunShape& s, const DirectionParams<T>& p, const T* x, int ldx, const T* dy,
                             int lddy, int dyCol, const T* dhT, const DirectionTape<T>& tape,
                             const CellRegularization<T>& reg, const BackwardScratch<T>& scratch, T* dx, int lddx,
                             bool accumulateDx, const DirectionGrads<T>& grads) {
  const int H = c_.hidden, N = s.N, I = c_.input;
  const size_t NH = static_cast<size_t>(N) * H;
  if (dhT) std::memcpy(scratch.dh, dhT, NH * sizeof(T));
  else std::memset(scratch.dh, 0, NH * sizeof(T));
  r_.Pack(false, H, H, p.R, H, pool_);
  const CellKernels<T>& K = CellKernels<T>::Get();
  const bool zoneH = reg.zoneout && c_.zoneoutH > 0;
  ForRowBlocks(pool_, N, static_cast<double>(H) * H, [&](int n0, int n1) {
    RnnRowBackward<T> a{};
    a.H = H;
    a.relu = c_.relu;
    T* dh = scratch.dh;  // swapped every step, per block
    T* dhNext = scratch.dhNext;
    const size_t b0 = static_cast<size_t>(n0) * H;
    for (int step = s.T - 1; step >= 0; --step) {
      const int t = s.reverse ? s.T - 1 - step : step;
      T* gt = tape.gates + static_cast<size_t>(t) * NH;
      for (int n = n0; n < n1; ++n) {
        T* dhr = dh + n * H;
        T* dhn = dhNext + n * H;
        T* g = gt + static_cast<size_t>(n) * H;
        if (!s.valid(t, n)) {
          std::memcpy(dhn, dhr, H * sizeof(T));
          continue;  // g is already zero
        }
        const size_t rowAt = static_cast<size_t>(t) * N + n;
        if (dy) {
          const T* dyr = dy + rowAt * lddy + dyCol;
          for (int j = 0; j < H; ++j) dhr[j] += dyr[j];
        }
        if (zoneH) ZoneoutSplitGrad(dhr, dhn, H, reg.zoneoutKeyH, rowAt * H, c_.zoneoutH);
        else std::memset(dhn, 0, H * sizeof(T));
        a.dh = dhr;
        a.g = g;
        K.rnnBackward(a);
      }
      const T* gb = gt + b0;
      if (reg.recurrentMask) {
        GemmPacked<T>(false, n1 - n0, T(1), gb, H, r_, T(0), scratch.tmp + b0, H, nullptr);
        AddMasked(n1 - n0, H, scratch.tmp + b0, reg.recurrentMask + b0, dhNext + b0);
      } else {
        GemmPacked<T>(false, n1 - n0, T(1), gb, H, r_, T(1), dhNext + b0, H, nullptr);
      }
      std::swap(dh, dhNext);
    }
  });
  const int TN = s.T * N;
  const T* dG = tape.gates;
  Gemm<T>(true, false, H, I, TN, T(1), dG, H, x, ldx, T(1), grads.W, I, pool_);
  Gemm<T>(true, false, H, H, TN, T(1), dG, H, PrevStates(tape, s, H), H, T(1), grads.R, H, pool_);
  sums_.assign(H, T(0));
  AddColumnSums(TN, H, dG, H, sums_.data(), pool_);
  for (int k = 0; k < H; ++k) {
    grads.Wb[k] += sums_[k];
    grads.Rb[k] += sums_[k];
  }
  if (dx) Gemm<T>(false, false, TN, I, H, T(1), dG, H, p.W, I, accumulateDx ? T(1) : T(0), dx, lddx, pool_);
}

template class RnnForwardPass<float>;
template class RnnForwardPass<double>;
template class RnnBackwardPass<float>;
template class RnnBackwardPass<double>;

}  // namespace rnnx
