// JavaScript classes and functions of the training core: the Trainer wrap (one native trainer
// per JS object, holding a persistent reference to the model's parameter Float32Array, which it
// updates in place) and the stateless computeGradients / forward functions.
#pragma once

#include <napi.h>

namespace rnnx {

void RegisterTrainingExports(Napi::Env env, Napi::Object exports);

}  // namespace rnnx
