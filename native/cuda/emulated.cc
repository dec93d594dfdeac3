// The host emulation of the CUDA backend (device 'cuda-emulated'): StepCore over HostExec, in
// float or double. Plain C++, compiled into every build.
#include "cuda_backend.h"
#include "exec_host.h"
#include "step_core.h"

namespace rnnx {
namespace cuda {

std::unique_ptr<TrainerBackend> CreateEmulatedBackend(const NetworkDesc& desc, const TrainConfig& config,
                                                      const float* params, bool doublePrecision) {
  if (doublePrecision) {
    return std::make_unique<StepCore<double, HostExec<double>>>(desc, config, params, "cuda-emulated",
                                                                "cuda-emulated (host emulation, double)");
  }
  return std::make_unique<StepCore<float, HostExec<float>>>(desc, config, params, "cuda-emulated",
                                                            "cuda-emulated (host emulation, float)");
}

}  // namespace cuda
}  // namespace rnnx
