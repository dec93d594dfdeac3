// GRU forward and backward passes (ONNX equations, gate order z r h, both linear_before_reset
// variants), templated on the element type. Conventions: recurrent.h.
//
//   z = σ(x·Wzᵀ + H₋·Rzᵀ + Wbz + Rbz)     r = σ(x·Wrᵀ + H₋·Rrᵀ + Wbr + Rbr)
//   lbr = 0: ĥ = tanh(x·Whᵀ + (r⊙H₋)·Rhᵀ + Rbh + Wbh)
//   lbr = 1: ĥ = tanh(x·Whᵀ + r⊙(H₋·Rhᵀ + Rbh) + Wbh)
//   H = (1 − z)⊙ĥ + z⊙H₋
// With recurrent dropout the products read H₋⊙mask; the z⊙H₋ term reads the state itself.
#pragma once

#include <vector>

#include "gemm/gemm.h"
#include "cells/recurrent.h"

namespace rnnx {

template <typename T>
class GruForwardPass {
 public:
  GruForwardPass(const CellConfig& config, ThreadPool* pool) : c_(config), pool_(pool) {}

  // x:    [T, N, ldx] layer input; columns [0, I) are read
  // h0:   [N, H] initial state, or null for zeros
  // y:    [T, N, ldy] layer output; columns [yCol, yCol + H) get h_t (zeros at padded steps); may be null
  // tape: sized by TapeSizes::For(config, T, N, training); tape.extra is required
  void Run(const RunShape& s, const DirectionParams<T>& p, const T* x, int ldx, const T* h0, T* y, int ldy,
           int yCol, const DirectionTape<T>& tape, const CellRegularization<T>& reg);

 private:
  CellConfig c_;
  ThreadPool* pool_;
  PackedB<T> rzrT_, rhT_;  // Rzrᵀ [H, 2H] and Rhᵀ [H, H], packed once per run
};

template <typename T>
class GruBackwardPass {
 public:
  GruBackwardPass(const CellConfig& config, ThreadPool* pool) : c_(config), pool_(pool) {}

  // Same parameters as LstmBackwardPass::Run without the cell gradient.
  // x, ldx: the forward input; dy: [T, N, lddy] output gradient at columns [dyCol, dyCol + H) or null;
  // dhT: [N, H] final-state gradient or null; dx: [T, N, lddx] (overwritten, or added to when
  // accumulateDx) or null; grads: added to.
  void Run(const RunShape& s, const DirectionParams<T>& p, const T* x, int ldx, const T* dy, int lddy, int dyCol,
           const T* dhT, const DirectionTape<T>& tape, const CellRegularization<T>& reg,
           const BackwardScratch<T>& scratch, T* dx, int lddx, bool accumulateDx, const DirectionGrads<T>& grads);

 private:
  CellConfig c_;
  ThreadPool* pool_;
  std::vector<T> sums_;
  PackedB<T> rzr_, rh_;  // Rzr [2H, H] and Rh [H, H], packed once per run
};

}  // namespace rnnx
