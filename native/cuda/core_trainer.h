// The Trainer interface (backend.h) over a StepCore: one adapter serves the GPU executor
// (cuda_backend.cu) and the host emulation (emulated.cc), so both forward the same calls.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "backend.h"
#include "step_core.h"

namespace rnnx {
namespace cuda {

template <typename T, typename Exec>
class CoreTrainer : public Trainer {
 public:
  CoreTrainer(const ModelDesc& m, const LossDesc& l, const OptimizerDesc& o, std::string device)
      : core_(m, l, o, ex_), device_(std::move(device)) {}

  StepStats Step(const BatchView& b) override { return Stats(core_.Step(b)); }
  StepStats Gradients(const BatchView& b, float* grads) override {
    const auto r = core_.Gradients(b);
    CopyGradsToHost(grads);
    return Stats(r);
  }
  void Predict(const float* x, int N, int steps, const int32_t* lengths, float* y) override {
    core_.Predict(x, N, steps, lengths, y);
  }
  std::vector<float> LastOutput() override { return core_.LastOutput(); }
  void SetParams(const float* host) override { core_.SetParams(host); }
  void GetParams(float* host) override { core_.GetParams(host); }
  void SetOptimizer(const OptimizerDesc& o) override { core_.SetOptimizer(o); }
  void ResetOptimizer() override { core_.ResetOptimizer(); }
  size_t paramCount() const override { return core_.model().paramCount; }
  size_t workspaceBytes() const override { return core_.workspaceBytes(); }
  std::string device() const override { return device_; }

 protected:
  // grads: [paramCount] on the host, float whatever T is.
  virtual void CopyGradsToHost(float* grads) = 0;

  Exec ex_;  // declared before core_: the core allocates through it
  StepCore<T, Exec> core_;

 private:
  template <typename R>
  static StepStats Stats(const R& r) {
    return {r.loss, r.gradNorm, r.correct, r.predictions, r.count};
  }
  std::string device_;
};

}  // namespace cuda
}  // namespace rnnx
