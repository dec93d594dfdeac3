// The CUDA step behind the trainer's backend interface (native/trainer.h), and the one factory
// the binding calls to honour the `device` option:
//   'cpu'  → CreateCpuTrainer
//   'cuda' → the CUDA backend, or InvalidArgument "device 'cuda' is not available: <reason>" /
//            "device 'cuda' does not support <feature> ..." (never a silent fallback)
//   'auto' → the CUDA backend when a device is usable and supports the model and options, else
//            the CPU one (*why, when given, receives the reason for the choice)
#pragma once

#include <memory>
#include <string>

#include "../trainer.h"

namespace rnnx {
namespace cuda {

std::unique_ptr<TrainerBackend> CreateBackendForDevice(const std::string& device, const NetworkDesc& desc,
                                                       const TrainConfig& config, float* params, int threads,
                                                       std::string* why = nullptr);

}  // namespace cuda
}  // namespace rnnx
