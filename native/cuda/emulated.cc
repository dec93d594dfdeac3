// The host emulation of the CUDA step (see exec_host.h), behind the same Trainer interface as
// the GPU backend. Plain C++: compiled into every build.
#include <vector>

#include "backend.h"
#include "exec_host.h"
#include "step_core.h"

namespace rnnx {
namespace cuda {

namespace {

template <typename T>
class EmulatedTrainer final : public Trainer {
 public:
  EmulatedTrainer(const ModelDesc& m, const LossDesc& l, const OptimizerDesc& o) : core_(m, l, o, ex_) {}
  StepStats Step(const BatchView& b) override {
    const auto r = core_.Step(b);
    return {r.loss, r.gradNorm, r.correct, r.predictions, r.count};
  }
  StepStats Gradients(const BatchView& b, float* grads) override {
    const auto r = core_.Gradients(b);
    const T* g = core_.grads();
    for (size_t i = 0; i < core_.model().paramCount; ++i) grads[i] = static_cast<float>(g[i]);
    return {r.loss, r.gradNorm, r.correct, r.predictions, r.count};
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
  std::string device() const override { return sizeof(T) == 8 ? "host-emulation (double)" : "host-emulation (float)"; }

 private:
  HostExec<T> ex_;  // declared before core_: the core allocates through it
  StepCore<T, HostExec<T>> core_;
};

}  // namespace

std::unique_ptr<Trainer> CreateEmulatedTrainer(const ModelDesc& model, const LossDesc& loss, const OptimizerDesc& opt,
                                               bool doublePrecision) {
  if (doublePrecision) return std::make_unique<EmulatedTrainer<double>>(model, loss, opt);
  return std::make_unique<EmulatedTrainer<float>>(model, loss, opt);
}

}  // namespace cuda
}  // namespace rnnx
