// RNNX_HD marks a function that is compiled for the CPU and, under nvcc, for the GPU too: the
// one spelling every header shared by the CPU cells and the CUDA kernels uses. On the host it
// forces inlining, so a shared function called from an instruction-set-targeted CPU loop
// (cells/cell_kernels.cc) is compiled with that loop's instruction set and vectorised with it.
#pragma once

#if defined(__CUDACC__)
#define RNNX_HD __host__ __device__ __forceinline__
#elif defined(__GNUC__)
#define RNNX_HD inline __attribute__((always_inline))
#else
#define RNNX_HD inline
#endif
