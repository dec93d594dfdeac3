// GRU kernels: see gru.h for the equations and recurrent.h for buffer conventions.
#include "cells/gru.h"

#include <cstring>
#include <utility>

#include "cells/cell_kernels.h"
#include "gemm/gemm.h"
#include "cells/random.h"

namespace rnnx {

template <typename T>
void GruForwardPass<T>::Run(const RunShape& s, const DirectionParams<T>& p, const T* x, int ldx, const T* h0, T* y,
                            int ldy, int yCol, const DirectionTape<T>& tape, const CellRegularization<T>& reg) {
  const int H = c_.hidden, N = s.N, G3 = 3 * H;
  const size_t NH = static_cast<size_t>(N) * H;
  InputProjection(c_, s, p, x, ldx, tape.gates, pool_);
  InitStates(c_, s, tape, h0, static_cast<const T*>(nullptr));
  const bool zoneH = reg.zoneout && c_.zoneoutH > 0;
  const bool lbr = c_.linearBeforeReset != 0;
  const T* Rh = p.R + static_cast<size_t>(2) * H * H;
  rzrT_.Pack(true, H, 2 * H, p.R, H, pool_);
  rhT_.Pack(true, H, H, Rh, H, pool_);
  const CellKernels<T>& K = CellKernels<T>::Get();
  GruRowForward<T> row{};
  row.H = H;
  row.lbr = lbr;
  row.Wb = p.Wb;
  row.Rb = p.Rb;

  ForRowBlocks(pool_, N, static_cast<double>(G3) * H, [&](int n0, int n1) {
    GruRowForward<T> a = row;
    const int M = n1 - n0;
    for (int step = 0; step < s.T; ++step) {
      const int t = s.reverse ? s.T - 1 - step : step;
      const size_t prevAt = (s.reverse ? t + 1 : t) * NH, outAt = (s.reverse ? t : t + 1) * NH;
      const T* hin = RecurrentInput(c_, s, tape, reg, t, n0, n1);
      T* gt = tape.gates + static_cast<size_t>(t) * N * G3;
      T* et = tape.extra + static_cast<size_t>(t) * NH;
      T* gb = gt + static_cast<size_t>(n0) * G3;
      T* eb = et + static_cast<size_t>(n0) * H;
      const T* hb = hin + static_cast<size_t>(n0) * H;
      // z and r pre-activations: gates[t][:, 0:2H] += H₋·Rzrᵀ
      GemmPacked<T>(false, M, T(1), hb, H, rzrT_, T(1), gb, G3, nullptr);
      if (lbr) {
        GemmPacked<T>(false, M, T(1), hb, H, rhT_, T(0), eb, H, nullptr);  // extra[t] = H₋·Rhᵀ
      } else {
        // z, r, then extra[t] = r⊙H₋ and its product with Rh into the ĥ columns.
        for (int n = n0; n < n1; ++n) {
          T* e = et + static_cast<size_t>(n) * H;
          if (!s.valid(t, n)) {
            std::memset(e, 0, H * sizeof(T));
            continue;
          }
          a.g = gt + static_cast<size_t>(n) * G3;
          a.e = e;
          a.hin = hin + static_cast<size_t>(n) * H;
          K.gruGates(a);
        }
        GemmPacked<T>(false, M, T(1), eb, H, rhT_, T(1), gb + 2 * H, G3, nullptr);
      }
      for (int n = n0; n < n1; ++n) {
        const T* hprev = tape.hs + prevAt + n * H;
        T* hout = tape.hs + outAt + n * H;
        T* g = gt + static_cast<size_t>(n) * G3;
        T* e = et + static_cast<size_t>(n) * H;
        T* yrow = y ? y + (static_cast<size_t>(t) * N + n) * ldy + yCol : nullptr;
        if (!s.valid(t, n)) {
          std::memcpy(hout, hprev, H * sizeof(T));
          if (yrow) std::memset(yrow, 0, H * sizeof(T));
          std::memset(g, 0, G3 * sizeof(T));
          std::memset(e, 0, H * sizeof(T));
          continue;
        }
        a.hprev = hprev;
        a.g = g;
        a.e = e;
        a.h = hout;
        K.gruForward(a);
        if (zoneH) ZoneoutKeep(hout, hprev, H, reg.zoneoutKeyH, (static_cast<size_t>(t) * N + n) * H, c_.zoneoutH);
        if (yrow) std::memcpy(yrow, hout, H * sizeof(T));
      }
    }
  });
}

template <typename T>
void GruBackwardPass<T>::Run(const RunShape& s, const DirectionParams<T>& p, const T* x, int ldx, const T* dy,
                             int lddy, int dyCol, const T* dhT, const DirectionTape<T>& tape,
                             const CellRegularization<T>& reg, const BackwardScratch<T>& scratch, T* dx, int lddx,
                             bool accumulateDx, const DirectionGrads<T>& grads) {
  const int H = c_.hidden, N = s.N, G3 = 3 * H, I = c_.input;
  const size_t NH = static_cast<size_t>(N) * H;
  if (dhT) std::memcpy(scratch.dh, dhT, NH * sizeof(T));
  else std::memset(scratch.dh, 0, NH * sizeof(T));
  const bool zoneH = reg.zoneout && c_.zoneoutH > 0;
  const bool lbr = c_.linearBeforeReset != 0;
  const T* Rh = p.R + static_cast<size_t>(2) * H * H;
  const T* mask = reg.recurrentMask;
  rzr_.Pack(false, 2 * H, H, p.R, H, pool_);
  rh_.Pack(false, H, H, Rh, H, pool_);
  const CellKernels<T>& K = CellKernels<T>::Get();
  GruRowBackward<T> row{};
  row.H = H;
  row.lbr = lbr;
  const T* hinAll = tape.hMasked ? tape.hMasked : tape.hs + (s.reverse ? NH : 0);

  ForRowBlocks(pool_, N, static_cast<double>(G3) * H, [&](int n0, int n1) {
    GruRowBackward<T> a = row;
    GruRowResetBackward<T> ra{};
    ra.H = H;
    T* dh = scratch.dh;  // swapped every step, per block
    T* dhNext = scratch.dhNext;
    const int M = n1 - n0;
    const size_t b0 = static_cast<size_t>(n0) * H;
    for (int step = s.T - 1; step >= 0; --step) {
      const int t = s.reverse ? s.T - 1 - step : step;
      const size_t prevAt = (s.reverse ? t + 1 : t) * NH;
      T* gt = tape.gates + static_cast<size_t>(t) * N * G3;
      T* et = tape.extra + static_cast<size_t>(t) * NH;
      T* gb = gt + static_cast<size_t>(n0) * G3;
      // Pass 1: everything but (for lbr = 0) the reset gate, whose gradient needs dĥ·Rh first.
      for (int n = n0; n < n1; ++n) {
        T* dhr = dh + n * H;
        T* dhn = dhNext + n * H;
        T* g = gt + static_cast<size_t>(n) * G3;
        T* e = et + static_cast<size_t>(n) * H;
        if (!s.valid(t, n)) {
          std::memcpy(dhn, dhr, H * sizeof(T));
          std::memset(g, 0, G3 * sizeof(T));
          std::memset(e, 0, H * sizeof(T));
          continue;
        }
        const size_t rowAt = static_cast<size_t>(t) * N + n;
        if (dy) {
          const T* dyr = dy + rowAt * lddy + dyCol;
          for (int j = 0; j < H; ++j) dhr[j] += dyr[j];
        }
        if (zoneH) ZoneoutSplitGrad(dhr, dhn, H, reg.zoneoutKeyH, rowAt * H, c_.zoneoutH);
        else std::memset(dhn, 0, H * sizeof(T));
        a.hprev = tape.hs + prevAt + n * H;
        a.dh = dhr;
        a.dhDirect = dhn;
        a.g = g;
        a.e = e;
        K.gruBackward(a);
      }
      T* tmp = scratch.tmp + b0;
      T* target = mask ? tmp : dhNext + b0;
      if (lbr) {
        // dH₋ += ([dz, dr]·Rzr + (dĥ⊙r)·Rh) ⊙ mask
        GemmPacked<T>(false, M, T(1), gb, G3, rzr_, mask ? T(0) : T(1), target, H, nullptr);
        GemmPacked<T>(false, M, T(1), et + b0, H, rh_, T(1), target, H, nullptr);
        if (mask) AddMasked(M, H, tmp, mask + b0, dhNext + b0);
      } else {
        // d(r⊙H₋) = dĥ·Rh, then the reset gate and the r⊙H₋ path to H₋.
        GemmPacked<T>(false, M, T(1), gb + 2 * H, G3, rh_, T(0), tmp, H, nullptr);
        const T* hin = hinAll + static_cast<size_t>(t) * NH;
        for (int n = n0; n < n1; ++n) {
          if (!s.valid(t, n)) continue;
          ra.drh = scratch.tmp + static_cast<size_t>(n) * H;
          ra.hin = hin + static_cast<size_t>(n) * H;
          ra.mask = mask ? mask + static_cast<size_t>(n) * H : nullptr;
          ra.g = gt + static_cast<size_t>(n) * G3;
          ra.dhNext = dhNext + n * H;
          K.gruResetBackward(ra);
        }
        GemmPacked<T>(false, M, T(1), gb, G3, rzr_, mask ? T(0) : T(1), target, H, nullptr);
        if (mask) AddMasked(M, H, tmp, mask + b0, dhNext + b0);
      }
      std::swap(dh, dhNext);
    }
  });

  const int TN = s.T * N;
  const T* dG = tape.gates;
  const T* hprevAll = PrevStates(tape, s, H);
  Gemm<T>(true, false, G3, I, TN, T(1), dG, G3, x, ldx, T(1), grads.W, I, pool_);
  Gemm<T>(true, false, 2 * H, H, TN, T(1), dG, G3, hprevAll, H, T(1), grads.R, H, pool_);
  T* dRh = grads.R + static_cast<size_t>(2) * H * H;
  sums_.assign(G3, T(0));
  AddColumnSums(TN, G3, dG, G3, sums_.data(), pool_);
  for (int k = 0; k < G3; ++k) grads.Wb[k] += sums_[k];
  if (lbr) {
    Gemm<T>(true, false, H, H, TN, T(1), tape.extra, H, hprevAll, H, T(1), dRh, H, pool_);
    for (int k = 0; k < 2 * H; ++k) grads.Rb[k] += sums_[k];
    AddColumnSums(TN, H, tape.extra, H, grads.Rb + 2 * H, pool_);
  } else {
    Gemm<T>(true, false, H, H, TN, T(1), dG + 2 * H, G3, tape.extra, H, T(1), dRh, H, pool_);
    for (int k = 0; k < G3; ++k) grads.Rb[k] += sums_[k];
  }
  if (dx) Gemm<T>(false, false, TN, I, G3, T(1), dG, G3, p.W, I, accumulateDx ? T(1) : T(0), dx, lddx, pool_);
}

template class GruForwardPass<float>;
template class GruForwardPass<double>;
template class GruBackwardPass<float>;
template class GruBackwardPass<double>;

}  // namespace rnnx
