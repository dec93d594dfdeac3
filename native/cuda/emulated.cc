// The host emulation of the CUDA step (see exec_host.h), behind the same Trainer interface as
// the GPU backend. Plain C++: compiled into every build.
#include <vector>

#include "backend.h"
#include "core_trainer.h"
#include "exec_host.h"

namespace rnnx {
namespace cuda {

namespace {

template <typename T>
class EmulatedTrainer final : public CoreTrainer<T, HostExec<T>> {
 public:
  EmulatedTrainer(const ModelDesc& m, const LossDesc& l, const OptimizerDesc& o)
      : CoreTrainer<T, HostExec<T>>(m, l, o, sizeof(T) == 8 ? "host-emulation (double)" : "host-emulation (float)") {}

 protected:
  void CopyGradsToHost(float* grads) override {
    const T* g = this->core_.grads();
    for (size_t i = 0; i < this->core_.model().paramCount; ++i) grads[i] = static_cast<float>(g[i]);
  }
};

}  // namespace

std::unique_ptr<Trainer> CreateEmulatedTrainer(const ModelDesc& model, const LossDesc& loss, const OptimizerDesc& opt,
                                               bool doublePrecision) {
  if (doublePrecision) return std::make_unique<EmulatedTrainer<double>>(model, loss, opt);
  return std::make_unique<EmulatedTrainer<float>>(model, loss, opt);
}

}  // namespace cuda
}  // namespace rnnx
