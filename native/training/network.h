// A whole rnnx model as the native core sees it: recurrent layers (each one or two directions)
// followed by dense layers, with every parameter a view into ONE flat buffer in the layout of
// src/layers/params.ts. Network<T> runs the forward pass over a batch (or a window of one, for
// truncated BPTT) and the backward pass into a flat gradient buffer of the same layout.
// It owns its workspaces, sized on the first call for a shape and reused afterwards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "common.h"
#include "cells/recurrent.h"

namespace rnnx {

struct RecurrentLayerDesc {
  CellConfig cell;
  int directions = 1;            // D: 2 for bidirectional (index 0 forward, 1 reverse)
  bool reverse = false;          // D = 1 running backwards ('reverse')
  bool returnSequences = false;  // output [T, N, D*H], else the final state [N, D*H]
  double dropout = 0;            // on this layer's input; one mask [N, I] per sequence (Keras)
  // Element offsets in the flat buffer: W [D, G*H, I], R [D, G*H, H], B [D, 2*G*H], P [D, 3H].
  size_t offW = 0, offR = 0, offB = 0, offP = 0;
};

struct DenseLayerDesc {
  int input = 0, units = 0;
  Activation activation = Activation::kNone;
  size_t offW = 0, offb = 0;  // W [input, units], b [units]
};

struct NetworkDesc {
  int inputSize = 0;
  std::vector<RecurrentLayerDesc> recurrent;
  std::vector<DenseLayerDesc> dense;
  size_t paramCount = 0;
  double outputDropout = 0;  // dropout on the last recurrent layer's output (before the head), per element

  int outputSize() const;
  bool sequenceOutput() const { return recurrent.back().returnSequences; }
  Activation outputActivation() const { return dense.empty() ? Activation::kNone : dense.back().activation; }
  // Checks sizes, chaining and that every tensor lies inside [0, paramCount); throws InvalidArgument.
  void Validate() const;
};

// A window of a batch-first float input.
struct InputView {
  const float* x = nullptr;  // [N, timeStride, features]
  int N = 0;
  int T = 0;           // steps in the window
  int timeStride = 0;  // steps per row in x
  int t0 = 0;          // first step of the window
  const int32_t* lengths = nullptr;  // [N] valid steps inside the window (0..T), or null
};

// Training-time randomness of one forward/backward pair.
struct MaskSettings {
  bool training = false;
  uint64_t seed = 0;
  uint64_t step = 0;  // step counter: fresh masks every step
};

template <typename T>
class Network {
 public:
  Network(const NetworkDesc& desc, ThreadPool* pool);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  const NetworkDesc& desc() const { return desc_; }

  // params: [paramCount]. h0/c0: per recurrent layer a [D, N, H] initial state, or null entries
  // (or null vectors) for zeros.
  void Forward(const T* params, const InputView& in, const std::vector<const T*>* h0,
               const std::vector<const T*>* c0, const MaskSettings& masks);

  // Output of the last Forward: [rows, F], rows = T*N time-major (sequence output) or N.
  int outputRows() const;
  const T* output() const;       // activation
  const T* outputPre() const;    // pre-activation (equals output() without a dense head)
  T* outputGrad();               // [rows, F] scratch where the loss writes dL/d(pre-activation)

  // Backpropagates outputGrad() through the last Forward (same params) and ADDS the parameter
  // gradients into grads [paramCount].
  void Backward(const T* params, T* grads);

  // Final state of recurrent layer l, direction d after the last Forward: [N, H] (ONNX Y_h / Y_c).
  const T* finalH(int l, int d) const;
  const T* finalC(int l, int d) const;  // LSTM only, else null

  // Bytes held by workspaces: what the forward pass keeps for the backward pass, and what only
  // the backward pass uses.
  size_t activationBytes() const;
  size_t backwardBytes() const;

 private:
  struct Impl;
  NetworkDesc desc_;
  ThreadPool* pool_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rnnx
