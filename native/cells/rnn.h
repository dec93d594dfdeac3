// Simple RNN forward and backward passes: H = f(x·Wᵀ + H₋·Rᵀ + Wb + Rb), f = Tanh or Relu
// (ONNX RNN), templated on the element type. Conventions: recurrent.h.
#pragma once

#include <vector>

#include "gemm/gemm.h"
#include "cells/recurrent.h"

namespace rnnx {

template <typename T>
class RnnForwardPass {
 public:
  RnnForwardPass(const CellConfig& config, ThreadPool* pool) : c_(config), pool_(pool) {}

  // x: [T, N, ldx] input (columns [0, I)); h0: [N, H] or null; y: [T, N, ldy] output columns
  // [yCol, yCol + H) or null; tape: sized by TapeSizes::For(config, T, N, training)
  void Run(const RunShape& s, const DirectionParams<T>& p, const T* x, int ldx, const T* h0, T* y, int ldy,
           int yCol, const DirectionTape<T>& tape, const CellRegularization<T>& reg);

 private:
  CellConfig c_;
  ThreadPool* pool_;
  std::vector<T> bias_;  // [H] Wb + Rb
  PackedB<T> rT_;        // Rᵀ, packed once per run
};

template <typename T>
class RnnBackwardPass {
 public:
  RnnBackwardPass(const CellConfig& config, ThreadPool* pool) : c_(config), pool_(pool) {}

  // As GruBackwardPass::Run.
  void Run(const RunShape& s, const DirectionParams<T>& p, const T* x, int ldx, const T* dy, int lddy, int dyCol,
           const T* dhT, const DirectionTape<T>& tape, const CellRegularization<T>& reg,
           const BackwardScratch<T>& scratch, T* dx, int lddx, bool accumulateDx, const DirectionGrads<T>& grads);

 private:
  CellConfig c_;
  ThreadPool* pool_;
  std::vector<T> sums_;
  PackedB<T> r_;  // R, packed once per run
};

}  // namespace rnnx
