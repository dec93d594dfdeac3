// The CUDA backend of the training step, as the rest of the addon sees it. No CUDA header is
// needed to include this: the binding compiles it with the plain C++ compiler, with or without
// a CUDA build (RNNX_WITH_CUDA is defined only when nvcc was found; without it CreateCudaTrainer
// throws with the reason and Probe() says why).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model_desc.h"

namespace rnnx {
namespace cuda {

struct DeviceInfo {
  bool built = false;      // the addon contains the CUDA backend
  bool available = false;  // a device and cuBLAS were found: CreateCudaTrainer will work
  std::string reason;      // why not available (empty when available)
  std::string name;        // device 0's name
  int deviceCount = 0;
  int computeMajor = 0, computeMinor = 0;
  double memoryGiB = 0;
  int runtimeVersion = 0;  // the statically linked CUDA runtime, e.g. 13000
  int driverVersion = 0;   // what the installed driver supports (0 when there is none)
  std::string cublasPath;  // the cuBLAS library loaded, or what was tried
};

// Never throws; cheap after the first call (the answer is cached).
DeviceInfo Probe();

struct StepStats {
  double loss = 0;
  double gradNorm = 0;     // global L2 norm of the loss gradient, before clipping
  double correct = 0;      // classification only
  double predictions = 0;  // classification only; 0 for regression
  double count = 0;        // elements the loss averaged over
};

// One training backend: the model's parameters and optimizer state live with it between steps.
class Trainer {
 public:
  virtual ~Trainer() = default;
  // Forward, loss, backward, clipping, optimizer update. A non-finite loss or gradient applies
  // nothing and throws std::range_error.
  virtual StepStats Step(const BatchView& batch) = 0;
  // Forward, loss and backward only (no L2 terms, no update); writes the loss gradient
  // [paramCount] to grads.
  virtual StepStats Gradients(const BatchView& batch, float* grads) = 0;
  // Inference forward pass from zero states: y batch-first [N, T, F] or [N, F].
  virtual void Predict(const float* x, int N, int T, const int32_t* lengths, float* y) = 0;
  // Output of the last forward pass, batch-first [N, T, F] or [N, F]. Cross-entropy models
  // give logits (the loss folds the top softmax/sigmoid in).
  virtual std::vector<float> LastOutput() = 0;
  virtual void SetParams(const float* host) = 0;  // [paramCount]
  virtual void GetParams(float* host) = 0;        // [paramCount]; waits for the device
  virtual void SetOptimizer(const OptimizerDesc& opt) = 0;
  virtual void ResetOptimizer() = 0;
  virtual size_t paramCount() const = 0;
  virtual size_t workspaceBytes() const = 0;
  virtual std::string device() const = 0;  // "cuda:0 (NVIDIA H100 ...)", "host-emulation (float)"
};

// Throws std::runtime_error with Probe().reason when there is no usable device, and
// std::invalid_argument for a model the backend cannot train.
std::unique_ptr<Trainer> CreateCudaTrainer(const ModelDesc& model, const LossDesc& loss, const OptimizerDesc& opt);

// The same step run on the CPU by the host emulation of the kernels (exec_host.h), in float or
// double. Built into every addon: it is how the CUDA code path is checked without a GPU.
std::unique_ptr<Trainer> CreateEmulatedTrainer(const ModelDesc& model, const LossDesc& loss, const OptimizerDesc& opt,
                                               bool doublePrecision);

}  // namespace cuda
}  // namespace rnnx
