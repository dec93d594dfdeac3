// AVX-512 float GEMM micro-kernels (compiled with function target attributes; called only when CPUID reports avx512f).
