// Compiled instead of the CUDA sources when the addon is built without nvcc (or RNNX_CUDA=0):
// the backend reports why it is missing and refuses to start. No CUDA dependency.
#include "cuda_backend.h"

namespace rnnx {
namespace cuda {

DeviceInfo Probe() {
  DeviceInfo info;
  info.built = false;
  info.available = false;
  info.reason =
      "rnnx was built without CUDA (nvcc was not found when the addon was built, or RNNX_CUDA=0); "
      "rebuild with the CUDA toolkit installed (RNNX_CUDA=1 npm rebuild rnnx)";
  return info;
}

std::unique_ptr<TrainerBackend> CreateCudaBackend(const NetworkDesc&, const TrainConfig&, const float*) {
  throw InvalidArgument("device 'cuda' is not available: " + Probe().reason);
}

}  // namespace cuda
}  // namespace rnnx
