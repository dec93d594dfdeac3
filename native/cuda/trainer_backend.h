// The CUDA step behind the trainer's backend interface (native/training/trainer.h), and the one factory
// the binding calls to honour the `device` option:
//   'cpu'  → CreateCpuTrainer
//   'cuda' → the CUDA backend, or InvalidArgument "device 'cuda' is not available: <reason>" /
//            "device 'cuda' does not support <feature> ..." (never a silent fallback)
//   'auto' → the CUDA backend when a device is usable and supports the model and options, else
//            the CPU one (*why, when given, receives the reason for the choice)
#pragma once

#include <memory>
#include <string>

#include "training/trainer.h"
#include "model_desc.h"

namespace rnnx {
namespace cuda {

std::unique_ptr<TrainerBackend> CreateBackendForDevice(const std::string& device, const NetworkDesc& desc,
                                                       const TrainConfig& config, const float* params, int threads,
                                                       std::string* why = nullptr);

// The trainer's checked description and options in the CUDA core's terms (one parser, binding_args.cc,
// feeds both backends and the CudaTrainer export).
ModelDesc ToModelDesc(const NetworkDesc& desc);
OptimizerDesc ToOptimizer(const TrainConfig& config);
LossDesc ToLoss(const LossConfig& loss);
BatchView ToBatchView(const rnnx::BatchView& batch);
// What the CUDA step does not implement yet, as a message naming the field; empty when supported.
std::string Unsupported(const NetworkDesc& desc, const TrainConfig& config);

}  // namespace cuda
}  // namespace rnnx
