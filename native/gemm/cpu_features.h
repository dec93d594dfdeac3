// CPU feature probe. Kernels are chosen at run time from CPUID feature bits,
// never from the model name (these virtual CPUs report an unknown model).
#pragma once

namespace rnnx {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;
};

CpuFeatures DetectCpuFeatures();

}  // namespace rnnx
