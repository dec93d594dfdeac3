// Entry point of the addon: registers the exports of each binding file (binding_args.cc holds
// the argument checking, trainer_wrap.cc the training classes). Kernels know nothing of N-API.
#include <napi.h>

#include "gemm/cpu_features.h"
#include "binding/gemm_binding.h"
#include "binding/trainer_wrap.h"

namespace {

Napi::Value CpuFeaturesJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const rnnx::CpuFeatures f = rnnx::DetectCpuFeatures();
  Napi::Object out = Napi::Object::New(env);
  out.Set("avx2", f.avx2);
  out.Set("fma", f.fma);
  out.Set("avx512f", f.avx512f);
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("cpuFeatures", Napi::Function::New(env, CpuFeaturesJs));
  rnnx::registerGemmExports(env, exports);
  rnnx::RegisterTrainingExports(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(rnnx_native, Init)
