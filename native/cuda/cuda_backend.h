// The CUDA backend of the one trainer (native/training/trainer.h), as the binding sees it. No
// CUDA header is needed to include this: with nvcc the GPU backend is cuda_backend.cu, without it
// cuda_stub.cc says why it is missing. The host emulation (emulated.cc) is in every build.
#pragma once

#include <memory>
#include <string>

#include "training/trainer.h"

namespace rnnx {
namespace cuda {

struct DeviceInfo {
  bool built = false;      // the addon contains the CUDA backend
  bool available = false;  // a device and cuBLAS were found: CreateCudaBackend will work
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

// The step on the GPU. Throws InvalidArgument "device 'cuda' is not available: <reason>" when
// there is no usable device. params: [paramCount], copied to the device.
std::unique_ptr<TrainerBackend> CreateCudaBackend(const NetworkDesc& desc, const TrainConfig& config,
                                                  const float* params);

// The same step run on the CPU by the host emulation of the kernels (exec_host.h), in float or
// double: how the CUDA code path is checked without a GPU (device 'cuda-emulated').
std::unique_ptr<TrainerBackend> CreateEmulatedBackend(const NetworkDesc& desc, const TrainConfig& config,
                                                      const float* params, bool doublePrecision);

}  // namespace cuda
}  // namespace rnnx
