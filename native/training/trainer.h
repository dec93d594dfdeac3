// The training step behind one interface, implemented by the CPU trainer (trainer.cc) and the
// CUDA backend (cuda/step_core.h, on the GPU or in its host emulation), with the same semantics:
//
//   TrainStep(batch, lr): for each window of the batch (the whole sequence, or tbptt steps at a
//   time): forward over every step and layer from the carried state, loss over valid steps,
//   backpropagation through time (cut at the window border), L2 terms, clipping (by value, then
//   global norm), a finiteness check of loss, gradients and updated weights, and only then the
//   commit of the update to the caller's parameter buffer and the carry of the final states.
//
// Shared by both: argument checking, NetworkDesc, TrainConfig, masks from random.h
// (counter-based, so a device can generate the same bits) and the loss semantics.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "common.h"
#include "training/loss.h"
#include "training/network.h"
#include "training/optimizer.h"

namespace rnnx {

struct TrainConfig {
  LossConfig loss;
  OptimizerConfig optimizer;
  double clipNorm = 0;   // > 0: scale all gradients so that their global L2 norm is at most this
  double clipValue = 0;  // > 0: clamp every gradient element to [-clipValue, clipValue] (before clipNorm)
  // L2 penalty λ·Σw² added to the loss (gradient 2λw), per parameter group: input weights (W of
  // recurrent layers and the dense kernels), recurrent weights (R and peepholes P), biases (B, b).
  double l2Input = 0, l2Recurrent = 0, l2Bias = 0;
  uint64_t seed = 0;    // dropout / zoneout masks
  int tbptt = 0;        // > 0: truncated BPTT windows of this many steps (one update per window)
  bool stateful = false;  // carry final states to the next batch (row j continues row j)
};

// A batch in the caller's batch-first layout (float inputs even for the double path: data are
// float32 in rnnx).
struct BatchView {
  const float* x = nullptr;          // [N, T, I]
  int N = 0, T = 0;
  const int32_t* lengths = nullptr;  // [N] in 1..T, or null
  const float* values = nullptr;     // regression / BCE targets: [N, T, F] or [N, F]
  const int32_t* labels = nullptr;   // cross-entropy targets: [N, T] or [N]
};

struct StepResult {
  double loss = 0;         // mean loss (+ L2 terms) over the batch's valid elements
  double count = 0;        // elements the loss averaged over
  double correct = 0;      // classification only
  double predictions = 0;  // classification only
  double gradNorm = 0;     // global gradient norm before clipping (last window)
  int updates = 0;         // optimizer updates applied (windows with valid steps)
};

// Initial states per recurrent layer, [D, N, H] each (c: LSTM only), or empty for zeros.
template <typename T>
struct StateSet {
  std::vector<std::vector<T>> h, c;
};

// Host <-> device copies a backend made (zero for the CPU): what info() reports, so that tests can
// check that a step moves only the batch in and the loss out.
struct Transfers {
  double toDevice = 0, toHost = 0;            // copies
  double bytesToDevice = 0, bytesToHost = 0;  // their bytes
};

// A backend owns its copy of the parameters: the binding copies the model's Float32Array in
// (SetParams) and out (GetParams) on the JavaScript thread, so no kernel ever touches memory
// JavaScript can detach, transfer or collect while a step runs. A device backend (residentParams)
// keeps them on the device between steps: the binding then copies in only when JavaScript changed
// them and out only when they are read (trainer_wrap.cc).
class TrainerBackend {
 public:
  virtual ~TrainerBackend() = default;
  virtual const char* name() const = 0;            // the device: "cpu", "cuda", "cuda-emulated"
  virtual std::string description() const = 0;     // e.g. "cuda:0 (NVIDIA H200, sm_90)"
  virtual bool residentParams() const { return false; }
  virtual void SetParams(const float* params) = 0;  // [paramCount]
  virtual void GetParams(float* params) = 0;        // [paramCount]
  // All or nothing: on an exception the weights, optimizer state, carried states and step count
  // are those from before the call. Throws InvalidArgument (bad batch) and NonFiniteError (a
  // non-finite loss, gradient or updated weight in any window: the whole step is rolled back).
  virtual StepResult TrainStep(const BatchView& batch, double lr) = 0;
  // Loss and accuracy without an update, in inference mode, from zero states (forward only).
  virtual StepResult Evaluate(const BatchView& batch) = 0;
  // The gradient the next step's first update would start from, over the whole batch (no TBPTT
  // windows): training mode with the next step's masks, the carried states when stateful, the L2
  // terms; gradNorm before clipping. Changes nothing. grads: [paramCount].
  virtual StepResult Gradients(const BatchView& batch, float* grads) = 0;
  // The model output of the last forward pass (step window, evaluation, gradients or predict),
  // batch-first [N, T, F] or [N, F], after the output activation.
  virtual std::vector<float> LastOutput() = 0;
  // Inference forward pass from zero states: y [N, T, F] or [N, F] (batch-first).
  virtual void Predict(const float* x, int N, int T, const int32_t* lengths, float* y) = 0;
  virtual void ResetStates() = 0;
  virtual int stateBatch() const = 0;  // rows of the carried state (0: none)
  virtual size_t activationBytes() const = 0;
  virtual size_t backwardBytes() const = 0;
  virtual size_t persistentBytes() const = 0;  // gradients, optimizer state, carried states
  virtual int64_t steps() const = 0;
  virtual Transfers transfers() const { return Transfers(); }
};

// Stateful training continues row j of each batch in row j of the next: throws InvalidArgument
// when a batch of N rows follows carried states of stateN rows (0: none).
inline void CheckCarriedBatch(const TrainConfig& c, int stateN, int N) {
  if (!c.stateful || stateN == 0 || stateN == N) return;
  throw InvalidArgument("batch size " + std::to_string(N) + " differs from the previous batch's " +
                        std::to_string(stateN) +
                        ": stateful training continues row j of each batch in row j of the next, so every batch "
                        "must have the same size (call resetStates() to start over)");
}

// Throws InvalidArgument when the output layer's activation does not suit the loss (both backends).
void CheckLossActivation(const NetworkDesc& desc, const LossConfig& loss);

// The parameter groups the L2 penalties apply to, as ranges of the flat buffer.
struct L2Region {
  size_t offset, size;
  int group;  // 0 input, 1 recurrent, 2 bias
};
std::vector<L2Region> L2Regions(const NetworkDesc& d);

// params: the initial weights [paramCount], copied. threads: the shared pool's size (SharedPool).
std::unique_ptr<TrainerBackend> CreateCpuTrainer(const NetworkDesc& desc, const TrainConfig& config,
                                                 const float* params, int threads);

// The index of the first non-finite value of p[0, n), or n when all are finite.
template <typename T>
size_t FirstNonFinite(const T* p, size_t n) {
  size_t k = 0;
  if constexpr (std::is_same_v<T, float>) {
    // Blocks of 64 are screened on the exponent bits (all ones: ±Inf or NaN) with an integer OR
    // the compiler vectorises; only a block that fails is searched element by element.
    constexpr size_t kBlock = 64;
    for (; k + kBlock <= n; k += kBlock) {
      std::uint32_t bad = 0;
      for (size_t j = 0; j < kBlock; ++j) {
        std::uint32_t bits;
        std::memcpy(&bits, p + k + j, sizeof bits);
        bad |= static_cast<std::uint32_t>((bits & 0x7F800000u) == 0x7F800000u);
      }
      if (bad) break;
    }
  }
  for (; k < n; ++k) {
    if (!std::isfinite(p[k])) return k;
  }
  return n;
}

// Copies the network's last output (time-major rows) into y batch-first: [N, T, F] or [N, F].
template <typename T, typename Out>
void OutputBatchFirst(const Network<T>& net, int N, int Tn, Out* y) {
  const int F = net.desc().outputSize();
  const T* out = net.output();
  if (net.desc().sequenceOutput()) {
    for (int t = 0; t < Tn; ++t)
      for (int n = 0; n < N; ++n)
        for (int f = 0; f < F; ++f)
          y[(static_cast<size_t>(n) * Tn + t) * F + f] = static_cast<Out>(out[(static_cast<size_t>(t) * N + n) * F + f]);
  } else {
    for (size_t k = 0; k < static_cast<size_t>(N) * F; ++k) y[k] = static_cast<Out>(out[k]);
  }
}

// Inference forward pass from zero states (no dropout/zoneout): y batch-first [N, T, F] or [N, F].
template <typename T>
void ForwardBatch(const NetworkDesc& desc, const T* params, const float* x, int N, int Tn, const int32_t* lengths,
                  T* y, ThreadPool* pool);

// One forward + backward over a whole batch without an update: loss (with the L2 terms of
// config) and gradients [paramCount] (overwritten). training: apply dropout/zoneout with masks
// from config.seed (step 0). initial: optional initial states; finalOut: receives final states.
template <typename T>
StepResult ComputeGradients(const NetworkDesc& desc, const TrainConfig& config, const T* params,
                            const BatchView& batch, bool training, const StateSet<T>* initial, T* grads,
                            StateSet<T>* finalOut, ThreadPool* pool);

}  // namespace rnnx
