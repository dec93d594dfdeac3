// The only file that knows N-API: it unpacks JavaScript values and calls the kernels.
#include <napi.h>

#include "cpu_features.h"

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
  return exports;
}

}  // namespace

NODE_API_MODULE(rnnx_native, Init)
