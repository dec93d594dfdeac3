// Scalar activation functions for the element-wise gate math. double uses the C library (the
// float64 path exists for exact gradient checks); float uses a rational tanh approximation
// (the minimax form Eigen uses, a few ulp over the clamped range) that the compiler can
// vectorise, since libm's tanhf/expf calls would dominate the step.
#pragma once

#include <algorithm>
#include <cmath>

// Forces inlining, so that these scalar functions are compiled with the instruction set of the
// SIMD-targeted row kernel that calls them (cell_kernels.cc).
#define RNNX_INLINE inline __attribute__((always_inline))

namespace rnnx {

RNNX_INLINE float FastTanh(float x) {
  // Beyond ±7.9053 tanh rounds to ±1 in float.
  const float c = 7.90531110763549805f;
  x = x < -c ? -c : (x > c ? c : x);
  const float x2 = x * x;
  float p = -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  p = p * x;
  float q = 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  return p / q;
}

template <typename T>
RNNX_INLINE T Tanh(T x) {
  return std::tanh(x);
}
template <>
RNNX_INLINE float Tanh<float>(float x) {
  return FastTanh(x);
}

template <typename T>
RNNX_INLINE T Sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}
template <>
RNNX_INLINE float Sigmoid<float>(float x) {
  // σ(x) = (1 + tanh(x/2)) / 2: one rational evaluation, no exp.
  return 0.5f + 0.5f * FastTanh(0.5f * x);
}

template <typename T>
RNNX_INLINE T Clamp(T x, T c) {
  return x < -c ? -c : (x > c ? c : x);
}

}  // namespace rnnx
