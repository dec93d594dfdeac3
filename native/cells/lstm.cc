// LSTM kernels: see lstm.h for the equations and recurrent.h for buffer conventions.
#include "cells/lstm.h"

#include <cstring>
#include <utility>

#include "cells/cell_kernels.h"
#include "gemm/gemm.h"
#include "cells/random.h"

namespace rnnx {

template <typename T>
void LstmForwardPass<T>::Run(const RunShape& s, const DirectionParams<T>& p, const T* x, int ldx, const T* h0,
                             const T* c0, T* y, int ldy, int yCol, const DirectionTape<T>& tape,
                             const CellRegularization<T>& reg) {
  const int H = c_.hidden, N = s.N, G4 = 4 * H;
  const size_t NH = static_cast<size_t>(N) * H;
  bias_.resize(G4);
  for (int k = 0; k < G4; ++k) bias_[k] = p.Wb[k] + p.Rb[k];
  InputProjection(c_, s, p, x, ldx, tape.gates, pool_);
  InitStates(c_, s, tape, h0, c0);
  rT_.Pack(true, H, G4, p.R, H, pool_);
  const CellKernels<T>& K = CellKernels<T>::Get();
  const bool zoneH = reg.zoneout && c_.zoneoutH > 0, zoneC = reg.zoneout && c_.zoneoutC > 0;
  LstmRowForward<T> row{};
  row.H = H;
  row.bias = bias_.data();
  row.P = p.P;
  row.clip = static_cast<T>(c_.clip);
  row.inputForget = c_.inputForget;

  ForRowBlocks(pool_, N, static_cast<double>(G4) * H, [&](int n0, int n1) {
    LstmRowForward<T> a = row;
    for (int step = 0; step < s.T; ++step) {
      const int t = s.reverse ? s.T - 1 - step : step;
      const size_t prevAt = (s.reverse ? t + 1 : t) * NH, outAt = (s.reverse ? t : t + 1) * NH;
      const T* hin = RecurrentInput(c_, s, tape, reg, t, n0, n1);
      T* gt = tape.gates + static_cast<size_t>(t) * N * G4;
      // gates[t] += H₋·Rᵀ on this block of rows: [M, H] x [H, 4H]
      GemmPacked<T>(false, n1 - n0, T(1), hin + static_cast<size_t>(n0) * H, H, rT_, T(1),
                    gt + static_cast<size_t>(n0) * G4, G4, nullptr);
      for (int n = n0; n < n1; ++n) {
        const T* hprev = tape.hs + prevAt + n * H;
        const T* cprev = tape.cs + prevAt + n * H;
        T* hout = tape.hs + outAt + n * H;
        T* cout = tape.cs + outAt + n * H;
        T* g = gt + static_cast<size_t>(n) * G4;
        T* yrow = y ? y + (static_cast<size_t>(t) * N + n) * ldy + yCol : nullptr;
        T* craw = tape.cRaw ? tape.cRaw + (static_cast<size_t>(t) * N + n) * H : nullptr;
        if (!s.valid(t, n)) {
          std::memcpy(hout, hprev, H * sizeof(T));
          std::memcpy(cout, cprev, H * sizeof(T));
          if (craw) std::memcpy(craw, cprev, H * sizeof(T));
          if (yrow) std::memset(yrow, 0, H * sizeof(T));
          std::memset(g, 0, G4 * sizeof(T));
          continue;
        }
        a.cprev = cprev;
        a.g = g;
        a.c = cout;
        a.h = hout;
        a.clipped = tape.clipped ? tape.clipped + (static_cast<size_t>(t) * N + n) * G4 : nullptr;
        K.lstmForward(a);
        // Zoneout keeps the previous value per element; the cell's own C (before zoneout) is
        // what its output gate and tanh saw, so the backward pass needs it (cRaw).
        if (craw) std::memcpy(craw, cout, H * sizeof(T));
        const size_t maskBase = (static_cast<size_t>(t) * N + n) * H;
        if (zoneC) ZoneoutKeep(cout, cprev, H, reg.zoneoutKeyC, maskBase, c_.zoneoutC);
        if (zoneH) ZoneoutKeep(hout, hprev, H, reg.zoneoutKeyH, maskBase, c_.zoneoutH);
        if (yrow) std::memcpy(yrow, hout, H * sizeof(T));
      }
    }
  });
}

template <typename T>
void LstmBackwardPass<T>::Run(const RunShape& s, const DirectionParams<T>& p, const T* x, int ldx, const T* dy,
                              int lddy, int dyCol, const T* dhT, const T* dcT, const DirectionTape<T>& tape,
                              const CellRegularization<T>& reg, const BackwardScratch<T>& scratch, T* dx, int lddx,
                              bool accumulateDx, const DirectionGrads<T>& grads) {
  const int H = c_.hidden, N = s.N, G4 = 4 * H, I = c_.input;
  const size_t NH = static_cast<size_t>(N) * H;
  T* dc = scratch.dc;
  T* dcDirect = scratch.tmp;  // per row, free until the recurrent product of the step
  if (dhT) std::memcpy(scratch.dh, dhT, NH * sizeof(T));
  else std::memset(scratch.dh, 0, NH * sizeof(T));
  if (dcT) std::memcpy(dc, dcT, NH * sizeof(T));
  else std::memset(dc, 0, NH * sizeof(T));
  r_.Pack(false, G4, H, p.R, H, pool_);
  const CellKernels<T>& K = CellKernels<T>::Get();
  const bool zoneH = reg.zoneout && c_.zoneoutH > 0, zoneC = reg.zoneout && c_.zoneoutC > 0;
  LstmRowBackward<T> row{};
  row.H = H;
  row.P = p.P;
  row.inputForget = c_.inputForget;

  ForRowBlocks(pool_, N, static_cast<double>(G4) * H, [&](int n0, int n1) {
    LstmRowBackward<T> a = row;
    T* dh = scratch.dh;  // swapped every step, per block
    T* dhNext = scratch.dhNext;
    const size_t b0 = static_cast<size_t>(n0) * H;
    for (int step = s.T - 1; step >= 0; --step) {
      const int t = s.reverse ? s.T - 1 - step : step;
      const size_t prevAt = (s.reverse ? t + 1 : t) * NH, outAt = (s.reverse ? t : t + 1) * NH;
      T* gt = tape.gates + static_cast<size_t>(t) * N * G4;
      for (int n = n0; n < n1; ++n) {
        T* dhr = dh + n * H;  // becomes the gradient reaching the cell's output
        T* dhn = dhNext + n * H;
        T* dcr = dc + n * H;
        T* g = gt + static_cast<size_t>(n) * G4;
        if (!s.valid(t, n)) {
          std::memcpy(dhn, dhr, H * sizeof(T));
          std::memset(g, 0, G4 * sizeof(T));
          continue;
        }
        const size_t rowAt = static_cast<size_t>(t) * N + n;
        if (dy) {
          const T* dyr = dy + rowAt * lddy + dyCol;
          for (int j = 0; j < H; ++j) dhr[j] += dyr[j];
        }
        const size_t maskBase = rowAt * H;
        if (zoneH) ZoneoutSplitGrad(dhr, dhn, H, reg.zoneoutKeyH, maskBase, c_.zoneoutH);
        else std::memset(dhn, 0, H * sizeof(T));
        T* dcd = dcDirect + n * H;
        if (zoneC) ZoneoutSplitGrad(dcr, dcd, H, reg.zoneoutKeyC, maskBase, c_.zoneoutC);
        a.clipped = tape.clipped ? tape.clipped + rowAt * G4 : nullptr;
        a.cprev = tape.cs + prevAt + n * H;
        a.c = tape.cRaw ? tape.cRaw + rowAt * H : tape.cs + outAt + n * H;
        a.dh = dhr;
        a.dc = dcr;
        a.g = g;
        K.lstmBackward(a);
        if (zoneC) {
          for (int j = 0; j < H; ++j) dcr[j] += dcd[j];
        }
      }
      // dH₋ += dGates·R: [M, 4H] x [4H, H]; the dropout mask scales the recurrent path only.
      const T* gb = gt + static_cast<size_t>(n0) * G4;
      if (reg.recurrentMask) {
        GemmPacked<T>(false, n1 - n0, T(1), gb, G4, r_, T(0), scratch.tmp + b0, H, nullptr);
        AddMasked(n1 - n0, H, scratch.tmp + b0, reg.recurrentMask + b0, dhNext + b0);
      } else {
        GemmPacked<T>(false, n1 - n0, T(1), gb, G4, r_, T(1), dhNext + b0, H, nullptr);
      }
      std::swap(dh, dhNext);
    }
  });

  // Weight gradients: one product over all steps each.
  const int TN = s.T * N;
  const T* dG = tape.gates;
  Gemm<T>(true, false, G4, I, TN, T(1), dG, G4, x, ldx, T(1), grads.W, I, pool_);
  Gemm<T>(true, false, G4, H, TN, T(1), dG, G4, PrevStates(tape, s, H), H, T(1), grads.R, H, pool_);
  sums_.assign(G4, T(0));
  AddColumnSums(TN, G4, dG, G4, sums_.data(), pool_);
  for (int k = 0; k < G4; ++k) {
    grads.Wb[k] += sums_[k];
    grads.Rb[k] += sums_[k];
  }
  if (grads.P) {
    const T* cprevAll = tape.cs + (s.reverse ? NH : 0);
    const T* cnewAll = tape.cRaw ? tape.cRaw : tape.cs + (s.reverse ? 0 : NH);
    ForRows(pool_, H, static_cast<size_t>(TN) * 3, [&](int j0, int j1) {
      for (int j = j0; j < j1; ++j) {
        T si = 0, so = 0, sf = 0;
        for (int r = 0; r < TN; ++r) {
          const T* gr = dG + static_cast<size_t>(r) * G4;
          si += gr[j] * cprevAll[static_cast<size_t>(r) * H + j];
          so += gr[H + j] * cnewAll[static_cast<size_t>(r) * H + j];
          sf += gr[2 * H + j] * cprevAll[static_cast<size_t>(r) * H + j];
        }
        grads.P[j] += si;
        grads.P[H + j] += so;
        grads.P[2 * H + j] += sf;
      }
    });
  }
  if (dx) Gemm<T>(false, false, TN, I, G4, T(1), dG, G4, p.W, I, accumulateDx ? T(1) : T(0), dx, lddx, pool_);
}

template class LstmForwardPass<float>;
template class LstmForwardPass<double>;
template class LstmBackwardPass<float>;
template class LstmBackwardPass<double>;

}  // namespace rnnx
