// Losses over the network's output rows, with padded steps never counted. Each returns the SUM
// of per-element losses and the element count (the step's loss is sum / count), and writes the
// gradient of the MEAN loss with respect to the output layer's PRE-activation z: softmax +
// cross-entropy and sigmoid + binary cross-entropy are fused (dz = p − target), other losses go
// through the activation's derivative.
#pragma once

#include <cstdint>

#include "common.h"

namespace rnnx {

enum class LossKind { kMse, kMae, kHuber, kCrossEntropy, kBinaryCrossEntropy };

struct LossConfig {
  LossKind kind = LossKind::kMse;
  double huberDelta = 1.0;
};

// The targets of the rows currently in the network, in the caller's batch-first layout.
struct TargetView {
  const float* values = nullptr;    // regression/BCE: per step [N, timeStride, F], last step [N, F]
  const int32_t* labels = nullptr;  // cross-entropy: per step [N, timeStride], last step [N]
  bool perStep = true;
  int N = 0;
  int T = 0;                         // steps in the window
  int timeStride = 0;                // steps per row in the buffers
  int t0 = 0;                        // first step of the window
  const int32_t* lengths = nullptr;  // [N] valid steps in the window, or null (all valid)
};

struct LossStats {
  double sum = 0;          // Σ per-element losses
  double count = 0;        // elements averaged over (valid rows, × F except for cross-entropy)
  double correct = 0;      // classification: correct predictions (CE: argmax; BCE: p > 0.5)
  double predictions = 0;  // classification: predictions compared
};

// true when `act` is a valid output activation for `kind` (CE: softmax or none = logits;
// BCE: sigmoid or none = logits; regression: any).
bool LossAcceptsActivation(LossKind kind, Activation act);

// z, out: [rows, F] output pre-activation and activation; rows = T*N time-major (t*N + n)
// when perStep, else N. dz: [rows, F] overwritten with d(sum/count)/dz, or null.
template <typename T>
LossStats ComputeLoss(const LossConfig& cfg, Activation act, int F, const T* z, const T* out, const TargetView& y,
                      T* dz);

}  // namespace rnnx
