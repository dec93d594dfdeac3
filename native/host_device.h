// RNNX_HD marks a function that is compiled for the CPU and, under nvcc, for the GPU too: the
// one spelling every header shared by the CPU cells and the CUDA kernels uses.
#pragma once

#if defined(__CUDACC__)
#define RNNX_HD __host__ __device__ __forceinline__
#else
#define RNNX_HD inline
#endif
