// Hook for the addon's binding: adds cudaInfo() and the CudaTrainer class to the exports
// (see cuda_js.cc). Present in every build; without CUDA, cudaInfo() says why and
// new CudaTrainer(...) throws unless options.emulate asks for the CPU emulation.
#pragma once

#include <napi.h>

namespace rnnx {
namespace cuda {

void RegisterCudaJs(Napi::Env env, Napi::Object exports);

}  // namespace cuda
}  // namespace rnnx
