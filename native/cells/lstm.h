// LSTM forward and backward passes over a whole sequence (ONNX equations, gate order i o f c,
// optional peepholes P (i, o, f), clip and input_forget), templated on the element type so the
// same code runs in float (training) and double (gradient checks). Conventions: recurrent.h.
//
//   i = σ(x·Wiᵀ + H₋·Riᵀ + Pi⊙C₋ + Wbi + Rbi)      f = σ(... Pf⊙C₋ ...)   (input_forget: f = 1 - i)
//   c̃ = tanh(x·Wcᵀ + H₋·Rcᵀ + Wbc + Rbc)           C = f⊙C₋ + i⊙c̃
//   o = σ(x·Woᵀ + H₋·Roᵀ + Po⊙C + Wbo + Rbo)        H = o⊙tanh(C)
// Training extras: H₋ in the recurrent product is H₋⊙mask (recurrent dropout); zoneout mixes
// the new h and C with the previous ones per element (the cell itself always sees the un-zoned
// C for its output gate and tanh).
#pragma once

#include <vector>

#include "gemm/gemm.h"
#include "cells/recurrent.h"

namespace rnnx {

template <typename T>
class LstmForwardPass {
 public:
  LstmForwardPass(const CellConfig& config, ThreadPool* pool) : c_(config), pool_(pool) {}

  // x:      [T, N, ldx] layer input; columns [0, I) are read
  // h0, c0: [N, H] initial state, or null for zeros
  // y:      [T, N, ldy] layer output; columns [yCol, yCol + H) get h_t (zeros at padded steps); may be null
  // tape:   buffers sized by TapeSizes::For(config, T, N, training); filled for LstmBackwardPass
  void Run(const RunShape& s, const DirectionParams<T>& p, const T* x, int ldx, const T* h0, const T* c0, T* y,
           int ldy, int yCol, const DirectionTape<T>& tape, const CellRegularization<T>& reg);

 private:
  CellConfig c_;
  ThreadPool* pool_;
  std::vector<T> bias_;  // [4H] Wb + Rb
  PackedB<T> rT_;        // Rᵀ [H, 4H], packed once per run for the T per-step products
};

template <typename T>
class LstmBackwardPass {
 public:
  LstmBackwardPass(const CellConfig& config, ThreadPool* pool) : c_(config), pool_(pool) {}

  // x, ldx:   the forward pass's input
  // dy:       [T, N, lddy] gradient of the output, columns [dyCol, dyCol + H); null: none
  // dhT, dcT: [N, H] gradient of the final state (last-step outputs, carried states), or null
  // tape:     as left by LstmForwardPass (its gates are overwritten with pre-activation gradients)
  // scratch:  BackwardScratch::Elements(N, H) values
  // dx:       [T, N, lddx] gradient of the input, columns [0, I): overwritten, or added to when
  //           accumulateDx (the second direction of a bidirectional layer); null: not computed
  // grads:    parameter gradients, added to
  void Run(const RunShape& s, const DirectionParams<T>& p, const T* x, int ldx, const T* dy, int lddy, int dyCol,
           const T* dhT, const T* dcT, const DirectionTape<T>& tape, const CellRegularization<T>& reg,
           const BackwardScratch<T>& scratch, T* dx, int lddx, bool accumulateDx, const DirectionGrads<T>& grads);

 private:
  CellConfig c_;
  ThreadPool* pool_;
  std::vector<T> sums_;  // [4H]
  PackedB<T> r_;         // R [4H, H], packed once per run
};

}  // namespace rnnx
