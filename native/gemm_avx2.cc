// AVX2+FMA float GEMM micro-kernels (compiled with function target attributes; called only when CPUID reports avx2 and fma).
