// Plain description of a model, its loss and its optimizer as the CUDA backend sees them.
// No CUDA and no N-API here: the binding fills these from the JavaScript spec and layout
// (src/layers/spec.ts, src/layers/params.ts), the backends read them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rnnx {
namespace cuda {

enum class CellKind { kRnn, kLstm, kGru };
enum class DenseAct { kNone, kRelu, kTanh, kSigmoid, kSoftmax };
enum class LossKind { kMse, kMae, kHuber, kCrossEntropy, kBinaryCrossEntropy };
enum class OptKind { kSgd, kRmsprop, kAdam, kAdamW };

// One recurrent layer. Offsets are element offsets into the flat parameter buffer, whose
// per-layer tensors are in ONNX layout (G = gate count, D = directions):
//   W [D, G*H, I], R [D, G*H, H], B [D, 2*G*H] (W-biases then R-biases), P [D, 3H] (i, o, f).
// Gate order inside G*H: LSTM i, o, f, c; GRU z, r, h; RNN one gate.
struct RecurrentDesc {
  CellKind kind = CellKind::kLstm;
  int inputSize = 0;  // I
  int hidden = 0;     // H
  int directions = 1; // D: 1 (forward or reverse) or 2 (bidirectional: 0 forward, 1 reverse)
  bool reverse = false;  // D == 1 and the single direction runs t = T-1 .. 0
  bool returnSequences = false;
  bool relu = false;           // RNN activation relu instead of tanh
  bool peepholes = false;      // LSTM
  bool inputForget = false;    // LSTM: f = 1 - i
  double cellClip = 0;         // LSTM: clamp gate pre-activations to [-clip, clip]; 0 = off
  bool linearBeforeReset = true;  // GRU
  std::size_t offW = 0, offR = 0, offB = 0, offP = 0;

  int gates() const { return kind == CellKind::kLstm ? 4 : kind == CellKind::kGru ? 3 : 1; }
};

// One dense layer: W [in, units] (y = x·W + b), b [units].
struct DenseDesc {
  int inputSize = 0;
  int units = 0;
  DenseAct act = DenseAct::kNone;
  std::size_t offW = 0, offB = 0;
};

struct ModelDesc {
  int inputSize = 0;
  std::vector<RecurrentDesc> recurrent;  // in order, then
  std::vector<DenseDesc> dense;          // in order
  std::size_t paramCount = 0;

  // Feature count of the model output.
  int outputSize() const;
  // true: the output has a time axis ([N, T, F]).
  bool outputIsSequence() const { return recurrent.back().returnSequences; }
  // Throws std::invalid_argument naming the field when the description is inconsistent.
  void Validate() const;
};

struct LossDesc {
  LossKind kind = LossKind::kMse;
  double huberDelta = 1.0;
};

// Parameter groups for L2: input weights (W of recurrent and dense layers), recurrent
// weights (R, P), biases (B, b).
enum class ParamGroup { kInput = 0, kRecurrent = 1, kBias = 2 };

struct ParamRange {
  std::size_t begin = 0, end = 0;
  ParamGroup group = ParamGroup::kInput;
};
// The flat buffer's ranges by group, in order, covering [0, paramCount).
std::vector<ParamRange> ParamRanges(const ModelDesc& m);

struct OptimizerDesc {
  OptKind kind = OptKind::kAdam;
  double lr = 1e-3;
  double momentum = 0;     // SGD, Keras form: v = μv − lr·g; w += v (Nesterov: w += μv − lr·g)
  bool nesterov = false;   // SGD
  double rho = 0.9;        // RMSprop decay
  double beta1 = 0.9, beta2 = 0.999;
  double epsilon = 1e-7;
  double weightDecay = 0;  // AdamW decoupled decay
  double l2[3] = {0, 0, 0};  // by ParamGroup: penalty λ·Σw² added to the loss, gradient 2λw
  double clipNorm = 0;     // global-norm clipping; 0 = off
  double clipValue = 0;    // element clipping (before the global norm); 0 = off
};

// One batch, batch-first host buffers (the layout of SequenceDataset):
//   x [N, T, I] float; lengths [N] int32 in 1..T or null (all T);
//   targets: regression / BCE float [N, T, F] (sequence output) or [N, F];
//            cross-entropy int32 class indices [N, T] or [N].
struct BatchView {
  int batch = 0;  // N
  int time = 0;   // T
  const float* x = nullptr;
  const int32_t* lengths = nullptr;
  const float* targets = nullptr;
  const int32_t* labels = nullptr;
};

}  // namespace cuda
}  // namespace rnnx
