// The element-wise math of training, written once: activations, the gate math of the three
// cells, the loss of an output element or row, the optimizer updates, L2 and clipping. The CPU
// cells (cells/cell_math.h loops, cells/dense.cc), the CPU loss and optimizer
// (training/loss.cc, optimizer.cc, trainer.cc) and the CUDA kernels (cuda/kernels.h, on the GPU
// and in the host emulation) all call these functions, so the two backends cannot drift apart.
//
// Built with floating-point contraction off on the host (binding.gyp, cuda.gyp), a function
// gives bit-identical results wherever it runs on the CPU: the CPU cells and the CUDA host
// emulation agree to the bit on the same inputs. nvcc contracts on the GPU (fused multiply-add)
// and its expf/logf/tanh differ from glibc's in the last ulps, so the GPU agrees within
// rounding, not to the bit.
//
// The flags of the cells (peepholes, clip, input_forget, relu) are plain bools: the CPU loops
// pass compile-time constants, which fold away after inlining and leave straight-line code the
// compiler vectorises; the CUDA kernels pass the layer's values.
#pragma once

#include <math.h>
#include <stdint.h>

#include "host_device.h"

namespace rnnx {
namespace math {

// ---------------------------------------------------------------- scalar functions

RNNX_HD float Exp(float x) { return expf(x); }
RNNX_HD double Exp(double x) { return exp(x); }
RNNX_HD float Log(float x) { return logf(x); }
RNNX_HD double Log(double x) { return log(x); }
RNNX_HD float Log1p(float x) { return log1pf(x); }
RNNX_HD double Log1p(double x) { return log1p(x); }
RNNX_HD float Sqrt(float x) { return sqrtf(x); }
RNNX_HD double Sqrt(double x) { return sqrt(x); }
RNNX_HD float Abs(float x) { return fabsf(x); }
RNNX_HD double Abs(double x) { return fabs(x); }

// float tanh as a rational function (the minimax form Eigen uses, a few ulp over the clamped
// range): only multiplications, additions and one division, so the CPU loops vectorise it (a
// libm call per element would dominate the step) and the GPU computes the same value.
RNNX_HD float FastTanh(float x) {
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

// double (the float64 path of the exact gradient checks) uses the C library.
RNNX_HD float Tanh(float x) { return FastTanh(x); }
RNNX_HD double Tanh(double x) { return tanh(x); }
// σ(x) = (1 + tanh(x/2)) / 2: one rational evaluation, no exp.
RNNX_HD float Sigmoid(float x) { return 0.5f + 0.5f * FastTanh(0.5f * x); }
RNNX_HD double Sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

template <typename T>
RNNX_HD T Relu(T x) {
  return x > T(0) ? x : T(0);
}

// Clamps x to [-c, c] (c > 0).
template <typename T>
RNNX_HD T Clamp(T x, T c) {
  return x < -c ? -c : (x > c ? c : x);
}
// 1 where Clamp(x, c) changed x: the clipped pre-activation's gradient is zero there. Both
// backends store this byte in the forward pass and read it in the backward pass (re-deriving it
// from the activated gate is wrong one float below the clip: σ rounds to σ(clip) there).
template <typename T>
RNNX_HD uint8_t Clipped(T x, T c) {
  return static_cast<uint8_t>((x > c) | (x < -c));
}

// Activation derivatives from the activation's output y, times the incoming gradient d.
template <typename T>
RNNX_HD T ReluGrad(T y, T d) {
  return y > T(0) ? d : T(0);
}
template <typename T>
RNNX_HD T TanhGrad(T y, T d) {
  return d * (T(1) - y * y);
}
template <typename T>
RNNX_HD T SigmoidGrad(T y, T d) {
  return d * y * (T(1) - y);
}

// Softmax of one row: o = exp(z - max) / Σ (a division, not a multiplication by the inverse:
// each probability is the correctly rounded quotient). o may alias z.
template <typename T>
RNNX_HD void SoftmaxRow(const T* z, T* o, int n) {
  T m = z[0];
  for (int j = 1; j < n; ++j) m = z[j] > m ? z[j] : m;
  T s = T(0);
  for (int j = 0; j < n; ++j) {
    o[j] = Exp(z[j] - m);
    s += o[j];
  }
  for (int j = 0; j < n; ++j) o[j] /= s;
}

// g = y ⊙ (d - d·y): the softmax Jacobian-vector product. g may alias d.
template <typename T>
RNNX_HD void SoftmaxGradRow(const T* y, const T* d, T* g, int n) {
  T dot = T(0);
  for (int j = 0; j < n; ++j) dot += d[j] * y[j];
  for (int j = 0; j < n; ++j) g[j] = y[j] * (d[j] - dot);
}

// ---------------------------------------------------------------- LSTM (ONNX gate order i, o, f, c)

template <typename T>
struct LstmUnit {
  T i, o, f, c;              // activated gates (c: the candidate c̃)
  T cn, h;                   // new cell C = f⊙C₋ + i⊙c̃ and new hidden o⊙tanh(C)
  uint8_t ki, ko, kf, kc;    // Clipped() of each pre-activation (clip only)
};

// One unit's forward step. pi, po, pf, pc: the pre-activations x·Wᵀ + H₋·Rᵀ + Wb + Rb without
// peepholes; Pi, Po, Pf: the peephole weights (peep only); cp: C₋.
template <typename T>
RNNX_HD LstmUnit<T> LstmUnitForward(bool peep, bool clip, bool inputForget, T pi, T po, T pf, T pc, T Pi, T Po,
                                    T Pf, T clipValue, T cp) {
  LstmUnit<T> u;
  u.ki = u.ko = u.kf = u.kc = 0;
  if (peep) {
    pi += Pi * cp;
    pf += Pf * cp;
  }
  if (clip) {
    u.ki = Clipped(pi, clipValue);
    u.kf = Clipped(pf, clipValue);
    u.kc = Clipped(pc, clipValue);
    pi = Clamp(pi, clipValue);
    pf = Clamp(pf, clipValue);
    pc = Clamp(pc, clipValue);
  }
  u.i = Sigmoid(pi);
  u.f = inputForget ? T(1) - u.i : Sigmoid(pf);
  u.c = Tanh(pc);
  u.cn = u.f * cp + u.i * u.c;
  if (peep) po += Po * u.cn;  // the output peephole sees the new cell
  if (clip) {
    u.ko = Clipped(po, clipValue);
    po = Clamp(po, clipValue);
  }
  u.o = Sigmoid(po);
  u.h = u.o * Tanh(u.cn);
  return u;
}

template <typename T>
struct LstmUnitGrad {
  T dpi, dpo, dpf, dpc;  // gradients of the four pre-activations
  T dcp;                 // gradient of C₋ through the cell
};

// One unit's backward step from the forward's gates (i, o, f, c̃), C₋, C and masks. dh: the
// gradient reaching o⊙tanh(C); dc: the gradient reaching C from later steps.
template <typename T>
RNNX_HD LstmUnitGrad<T> LstmUnitBackward(bool peep, bool clip, bool inputForget, T i, T o, T f, T cc, T cp, T cn,
                                         T Pi, T Po, T Pf, uint8_t ki, uint8_t ko, uint8_t kf, uint8_t kc, T dh,
                                         T dc) {
  LstmUnitGrad<T> d;
  const T one = T(1), zero = T(0);
  const T tc = Tanh(cn);
  d.dpo = dh * tc * o * (one - o);
  if (clip) d.dpo = ko ? zero : d.dpo;
  T dcn = dc + dh * o * (one - tc * tc);
  if (peep) dcn += d.dpo * Po;
  const T dfRaw = dcn * cp;
  const T di = inputForget ? dcn * cc - dfRaw : dcn * cc;  // f = 1 - i sends -∂f to i
  const T df = inputForget ? zero : dfRaw;
  d.dpi = di * i * (one - i);
  d.dpf = df * f * (one - f);
  d.dpc = dcn * i * (one - cc * cc);
  if (clip) {
    d.dpi = ki ? zero : d.dpi;
    d.dpf = kf ? zero : d.dpf;
    d.dpc = kc ? zero : d.dpc;
  }
  d.dcp = dcn * f;
  if (peep) d.dcp += d.dpi * Pi + d.dpf * Pf;
  return d;
}

// ---------------------------------------------------------------- GRU (ONNX gate order z, r, h)

// ĥ with linear_before_reset = 1: tanh(x·Whᵀ + Wbh + r ⊙ lin), lin = H₋·Rhᵀ + Rbh.
template <typename T>
RNNX_HD T GruCandidateLbr1(T xh, T Wbh, T r, T lin) {
  return Tanh(xh + Wbh + r * lin);
}
// ĥ with linear_before_reset = 0: ph = x·Whᵀ + (r ⊙ H₋)·Rhᵀ.
template <typename T>
RNNX_HD T GruCandidateLbr0(T ph, T Wbh, T Rbh) {
  return Tanh(ph + Wbh + Rbh);
}
// The new state (1 − z) ⊙ ĥ + z ⊙ H₋.
template <typename T>
RNNX_HD T GruState(T z, T hh, T hp) {
  return (T(1) - z) * hh + z * hp;
}

template <typename T>
struct GruUnitGrad {
  T dpz;  // update gate pre-activation
  T dph;  // ĥ pre-activation
  T dhz;  // the direct part of ∂H₋: dh ⊙ z
};

// From the gradient dh reaching the new state.
template <typename T>
RNNX_HD GruUnitGrad<T> GruUnitBackward(T z, T hh, T hp, T dh) {
  GruUnitGrad<T> d;
  const T one = T(1);
  d.dpz = dh * (hp - hh) * z * (one - z);
  d.dhz = dh * z;
  d.dph = dh * (one - z) * (one - hh * hh);
  return d;
}

// The reset gate r multiplies x (lbr = 1: lin, with d = dph; lbr = 0: H₋ as the product read
// it, with d = dĥ·Rh): dpr is r's pre-activation gradient, dx = d ⊙ r the gradient reaching x.
template <typename T>
RNNX_HD void GruResetGrad(T d, T x, T r, T& dpr, T& dx) {
  dpr = d * x * r * (T(1) - r);
  dx = d * r;
}

// ---------------------------------------------------------------- RNN

template <typename T>
RNNX_HD T RnnUnitForward(bool relu, T p) {
  return relu ? Relu(p) : Tanh(p);
}
template <typename T>
RNNX_HD T RnnUnitBackward(bool relu, T h, T dh) {
  return relu ? ReluGrad(h, dh) : TanhGrad(h, dh);
}

// ---------------------------------------------------------------- losses
// Each gives the element's (or row's) loss l and the gradient d of l with respect to the
// output (regression) or the logit (cross-entropies), before the division by the count.

template <typename T>
RNNX_HD void MseTerm(T e, T& l, T& d) {  // e = output − target
  l = e * e;
  d = T(2) * e;
}
template <typename T>
RNNX_HD void MaeTerm(T e, T& l, T& d) {
  l = Abs(e);
  d = e > T(0) ? T(1) : e < T(0) ? T(-1) : T(0);
}
template <typename T>
RNNX_HD void HuberTerm(T e, T delta, T& l, T& d) {
  const T a = Abs(e);
  l = a <= delta ? T(0.5) * e * e : delta * (a - T(0.5) * delta);
  d = a <= delta ? e : (e > T(0) ? delta : -delta);
}

// Binary cross-entropy of logit v against target y: max(v, 0) − v·y + log(1 + e^−|v|), finite
// for every finite v and accurate where e^−|v| is below float's epsilon (log1p).
template <typename T>
RNNX_HD void BceTerm(T v, T y, T& l, T& d) {
  l = (v > T(0) ? v : T(0)) - v * y + Log1p(Exp(-Abs(v)));
  d = Sigmoid(v) - y;
}

// Softmax cross-entropy of one row of logits z[F] against label: returns lse(z) − z[label] and
// sets arg to the first argmax. g, when not null, gets (softmax(z) − onehot) · scale, with the
// softmax computed exactly as SoftmaxRow computes it.
template <typename T>
RNNX_HD T SoftmaxCrossEntropyRow(const T* z, int F, int label, T scale, T* g, int& arg) {
  T m = z[0];
  arg = 0;
  for (int j = 1; j < F; ++j)
    if (z[j] > m) {
      m = z[j];
      arg = j;
    }
  T s = T(0);
  for (int j = 0; j < F; ++j) {
    const T e = Exp(z[j] - m);
    if (g) g[j] = e;
    s += e;
  }
  if (g) {
    for (int j = 0; j < F; ++j) g[j] = (g[j] / s - (j == label ? T(1) : T(0))) * scale;
  }
  return m + Log(s) - z[label];
}

// ---------------------------------------------------------------- gradient preparation, updates

// The L2 term of λ·w² in the gradient; twoL = 2λ.
template <typename T>
RNNX_HD T L2Grad(T g, T w, T twoL) {
  return g + twoL * w;
}
// Clipping by value to [-v, v] (v > 0); NaN passes through (the step then refuses it).
template <typename T>
RNNX_HD T ClipByValue(T g, T v) {
  return g > v ? v : (g < -v ? -v : g);
}

template <typename T>
RNNX_HD void SgdUpdate(T& w, T g, T lr) {
  w -= lr * g;
}
// Keras' momentum form: m ← μm − lr·g; w ← w + m (Nesterov: w + μm − lr·g).
template <typename T>
RNNX_HD void MomentumUpdate(T& w, T& m, T g, T lr, T mu, bool nesterov) {
  m = mu * m - lr * g;
  w += nesterov ? mu * m - lr * g : m;
}
template <typename T>
RNNX_HD void RmspropUpdate(T& w, T& v, T g, T lr, T rho, T eps) {
  v = rho * v + (T(1) - rho) * g * g;
  w -= lr * g / (Sqrt(v) + eps);
}
// Bias-corrected Adam: s1 = 1/(1 − β₁ᵗ), s2 = 1/(1 − β₂ᵗ), both rounded from float64. decay:
// AdamW's decoupled 1 − lr·λ (rounded from float64), 1 for Adam.
template <typename T>
RNNX_HD void AdamUpdate(T& w, T& m, T& v, T g, T lr, T b1, T b2, T s1, T s2, T eps, T decay) {
  m = b1 * m + (T(1) - b1) * g;
  v = b2 * v + (T(1) - b2) * g * g;
  w = w * decay - lr * (m * s1) / (Sqrt(v * s2) + eps);
}

}  // namespace math
}  // namespace rnnx
