// cuBLAS, loaded at run time with dlopen: no cuBLAS headers or import library are needed to
// build, and an addon built with CUDA still loads (and reports why) on a machine without it.
// Only the few entry points and enum values the step uses are declared here, with the values
// of cublas_api.h (stable since CUDA 4: CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, success = 0).
//
// Search order: $RNNX_CUBLAS_PATH (the library file itself, or a folder holding it, e.g. the
// lib/ folder of the Python package nvidia-cublas-cu12), then the sonames libcublas.so.13,
// libcublas.so.12 and libcublas.so through the dynamic loader's usual path (LD_LIBRARY_PATH,
// ld.so.cache). libcublasLt from the same folder is loaded first, since libcublas needs it.
#pragma once

#include <string>

namespace rnnx {
namespace cuda {

using cublasHandle_t = void*;
enum : int { kCublasOpN = 0, kCublasOpT = 1 };
enum : int { kCublasDefaultMath = 0, kCublasPedanticMath = 2 };

struct CublasApi {
  int (*create)(cublasHandle_t*) = nullptr;   // cublasCreate_v2
  int (*destroy)(cublasHandle_t) = nullptr;   // cublasDestroy_v2
  int (*sgemm)(cublasHandle_t, int transa, int transb, int m, int n, int k, const float* alpha, const float* A,
               int lda, const float* B, int ldb, const float* beta, float* C, int ldc) = nullptr;  // cublasSgemm_v2
  int (*setMathMode)(cublasHandle_t, int) = nullptr;  // cublasSetMathMode (optional)
  int (*getVersion)(cublasHandle_t, int*) = nullptr;  // cublasGetVersion_v2 (optional)
  std::string path;  // the file that was loaded
};

// The process-wide cuBLAS, loaded on first use; null with *why set when none could be loaded.
const CublasApi* LoadCublas(std::string* why);

}  // namespace cuda
}  // namespace rnnx
