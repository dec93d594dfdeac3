// Test and benchmark exports of the GEMM (gemmKernelName, gemm, gemmTime, ...). Not part of the
// public rnnx API: tests/gemm.test.ts and bench/gemm.ts use them to check and time the kernels.
#pragma once

#include <napi.h>

namespace rnnx {

// Adds the GEMM exports to the addon's exports object; called from the module's Init.
void registerGemmExports(Napi::Env env, Napi::Object exports);

}  // namespace rnnx
