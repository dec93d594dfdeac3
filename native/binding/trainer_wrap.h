// JavaScript classes and functions of the training core: the Trainer wrap (one native trainer
// per JS object on the device its options name, holding a persistent reference to the model's
// parameter Float32Array: updated in place after every CPU step, when read for a CUDA one), the
// stateless computeGradients / forward functions and cudaInfo().
#pragma once

#include <napi.h>

namespace rnnx {

void RegisterTrainingExports(Napi::Env env, Napi::Object exports);

}  // namespace rnnx
