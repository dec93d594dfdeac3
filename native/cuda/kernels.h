// Element-wise work of the CUDA training step, written once as functors that run on the GPU
// (nvcc, one thread per index) and on the host (HostExec loops over the index). The host
// build is what the CPU-only test suite checks against finite differences, so every line of
// gate math here is exercised without a GPU; only the launch and cuBLAS plumbing are not.
//
// Layouts (time-major inside the backend; the batch arrives batch-first and is transposed once):
//   X   [T, N, I]          layer input (layer 0: the batch; later: the previous layer's Y)
//   Y   [T, N, D*H]        layer output, directions side by side (forward first)
//   G   [T, N, G*H]        per direction: input projections, overwritten in place by the
//                          activated gates the backward pass needs (LSTM i,o,f,c; GRU z,r,h~)
//   HS  [T+1, N, H]        per direction: the state sequence, indexed as on the CPU (regularize.h);
//   CS  [T+1, N, H]        the LSTM cell sequence. The kernels read H₋ / C₋ there and write their
//                          raw state to the next slot (StepIO: ldY = H, y = the HS slot)
//   RH  [T, N, H]          GRU: lbr=1 R_h·h + Rb_h (before the reset gate); lbr=0 r ⊙ h_prev
// At padded steps (t >= len[n]) the kernels zero gates, outputs and gradients; StepFinish
// (regularize.h) then carries the previous state through and writes the layer output Y (zero
// there), as the CPU cells do.
// The math of each element is math/elementwise.h's, the same functions the CPU cells call;
// these functors only find the element's operands and store its results.
#pragma once

#include <cstdint>

#include "math/elementwise.h"

namespace rnnx {
namespace cuda {
namespace k {

using namespace ::rnnx::math;

// dst[t, n, i] = src[n, t, i]: batch-first → time-major.
template <typename T>
struct ToTimeMajor {
  const float* src;
  T* dst;
  int N, Tn, I;
  RNNX_HD void operator()(int e) const {
    const int i = e % I, r = e / I, n = r % N, t = r / N;
    dst[e] = T(src[(static_cast<long long>(n) * Tn + t) * I + i]);
  }
};

template <typename T>
struct Convert {
  const float* s;
  T* d;
  RNNX_HD void operator()(int e) const { d[e] = T(s[e]); }
};

template <typename T>
struct ConvertBack {
  const T* s;
  float* d;
  RNNX_HD void operator()(int e) const { d[e] = float(s[e]); }
};

template <typename T>
struct Fill {
  T* p;
  T v;
  RNNX_HD void operator()(int e) const { p[e] = v; }
};

// ---------------------------------------------------------------- forward, one step

// Common per-step arguments. Pointers are to row t (or the previous processed row) already.
template <typename T>
struct StepIO {
  int N, H, ldY;        // ldY = D*H
  int t;                // real time index of this step
  const int32_t* len;   // [N]
  T* g;                 // G row [N, G*H]
  const T* rh;          // recurrent product for this step [N, G*H] (H·Rᵀ, no biases)
  const T* bW;          // [G*H] W-biases of this direction
  const T* bR;          // [G*H] R-biases
  const T* hPrev;       // previous h, row stride ldY, or null (zero)
  T* y;                 // Y row + d*H, row stride ldY
};

template <typename T>
struct LstmForward {
  StepIO<T> s;
  const T* cPrev;  // [N, H] or null
  T* c;            // [N, H]
  const T* P;      // [3H] i, o, f or null
  T clip;          // > 0: clamp the pre-activations
  uint8_t* k;      // clip > 0: K row [N, 4H], Clipped() of each pre-activation (read by LstmBackward)
  bool inputForget;
  RNNX_HD void operator()(int e) const {
    const int H = s.H, n = e / H, j = e % H, GH = 4 * H;
    T* g = s.g + n * GH;
    if (s.t >= s.len[n]) {
      g[j] = g[H + j] = g[2 * H + j] = g[3 * H + j] = T(0);
      c[e] = T(0);
      s.y[n * s.ldY + j] = T(0);
      return;
    }
    const T* r = s.rh + n * GH;
    const T cp = cPrev ? cPrev[e] : T(0);
    // (products) + (Wb + Rb): the CPU cells' order of the sums.
    const LstmUnit<T> u = LstmUnitForward<T>(
        P != nullptr, clip > T(0), inputForget, g[j] + r[j] + (s.bW[j] + s.bR[j]),
        g[H + j] + r[H + j] + (s.bW[H + j] + s.bR[H + j]), g[2 * H + j] + r[2 * H + j] + (s.bW[2 * H + j] + s.bR[2 * H + j]),
        g[3 * H + j] + r[3 * H + j] + (s.bW[3 * H + j] + s.bR[3 * H + j]), P ? P[j] : T(0), P ? P[H + j] : T(0),
        P ? P[2 * H + j] : T(0), clip, cp);
    if (clip > T(0)) {
      uint8_t* kr = k + n * GH;
      kr[j] = u.ki;
      kr[H + j] = u.ko;
      kr[2 * H + j] = u.kf;
      kr[3 * H + j] = u.kc;
    }
    g[j] = u.i;
    g[H + j] = u.o;
    g[2 * H + j] = u.f;
    g[3 * H + j] = u.c;
    c[e] = u.cn;
    s.y[n * s.ldY + j] = u.h;
  }
};

template <typename T>
struct RnnForward {
  StepIO<T> s;
  bool relu;
  RNNX_HD void operator()(int e) const {
    const int H = s.H, n = e / H, j = e % H;
    T* g = s.g + n * H;
    if (s.t >= s.len[n]) {
      g[j] = T(0);
      s.y[n * s.ldY + j] = T(0);
      return;
    }
    const T h = RnnUnitForward(relu, g[j] + s.rh[n * H + j] + (s.bW[j] + s.bR[j]));
    g[j] = h;
    s.y[n * s.ldY + j] = h;
  }
};

// GRU, linear_before_reset = 1: h~ = tanh(Xh + Wbh + r ⊙ (H·Rhᵀ + Rbh)).
template <typename T>
struct GruForwardLbr1 {
  StepIO<T> s;
  T* hn;  // RH row [N, H]: H·Rhᵀ + Rbh
  RNNX_HD void operator()(int e) const {
    const int H = s.H, n = e / H, j = e % H, GH = 3 * H;
    T* g = s.g + n * GH;
    if (s.t >= s.len[n]) {
      g[j] = g[H + j] = g[2 * H + j] = T(0);
      hn[e] = T(0);
      s.y[n * s.ldY + j] = T(0);
      return;
    }
    const T* r = s.rh + n * GH;
    const T hp = s.hPrev ? s.hPrev[n * s.ldY + j] : T(0);
    const T z = Sigmoid(g[j] + r[j] + s.bW[j] + s.bR[j]);
    const T rg = Sigmoid(g[H + j] + r[H + j] + s.bW[H + j] + s.bR[H + j]);
    const T lin = r[2 * H + j] + s.bR[2 * H + j];
    const T hc = GruCandidateLbr1(g[2 * H + j], s.bW[2 * H + j], rg, lin);
    g[j] = z;
    g[H + j] = rg;
    g[2 * H + j] = hc;
    hn[e] = lin;
    s.y[n * s.ldY + j] = GruState(z, hc, hp);
  }
};

// GRU, linear_before_reset = 0, first half: z, r and r ⊙ h_prev (the input of the second
// recurrent product). s.rh holds H·R[z,r]ᵀ with row stride 3H (only the first 2H used).
template <typename T>
struct GruForwardLbr0A {
  StepIO<T> s;
  T* rhp;  // RH row [N, H]: r ⊙ h_prev
  RNNX_HD void operator()(int e) const {
    const int H = s.H, n = e / H, j = e % H, GH = 3 * H;
    T* g = s.g + n * GH;
    if (s.t >= s.len[n]) {
      g[j] = g[H + j] = T(0);
      rhp[e] = T(0);
      return;
    }
    const T* r = s.rh + n * GH;
    const T hp = s.hPrev ? s.hPrev[n * s.ldY + j] : T(0);
    const T z = Sigmoid(g[j] + r[j] + s.bW[j] + s.bR[j]);
    const T rg = Sigmoid(g[H + j] + r[H + j] + s.bW[H + j] + s.bR[H + j]);
    g[j] = z;
    g[H + j] = rg;
    rhp[e] = rg * hp;
  }
};

// Second half: h~ = tanh(Xh + (r ⊙ h_prev)·Rhᵀ + Rbh + Wbh). s.rh holds (r ⊙ h_prev)·Rhᵀ [N, H].
template <typename T>
struct GruForwardLbr0B {
  StepIO<T> s;
  RNNX_HD void operator()(int e) const {
    const int H = s.H, n = e / H, j = e % H, GH = 3 * H;
    T* g = s.g + n * GH;
    if (s.t >= s.len[n]) {
      g[2 * H + j] = T(0);
      s.y[n * s.ldY + j] = T(0);
      return;
    }
    const T hp = s.hPrev ? s.hPrev[n * s.ldY + j] : T(0);
    const T z = g[j];
    const T hc = GruCandidateLbr0(g[2 * H + j] + s.rh[e], s.bW[2 * H + j], s.bR[2 * H + j]);
    g[2 * H + j] = hc;
    s.y[n * s.ldY + j] = GruState(z, hc, hp);
  }
};

// ---------------------------------------------------------------- backward, one step
// dh = dY[t] (this direction's slice) + dhRec (dG[t+1]·R from the step processed after) +
// dhDirect (the element-wise part of ∂h_prev, e.g. z ⊙ dh for GRU). Each thread owns one
// (n, j) and carries dc and dhDirect for it across steps, so updating in place is safe.

template <typename T>
struct StepGrad {
  int N, H, ldY, t;
  const int32_t* len;
  const T* g;        // activated gates row [N, G*H]
  const T* dy;       // dY row + d*H, stride ldY
  const T* dhRec;    // [N, H]
  T* dhDirect;       // [N, H] in: from the step after; out: for the step before
  const T* hPrev;    // stride ldY, or null
  T* dg;             // dG row [N, G*H]
};

template <typename T>
struct LstmBackward {
  StepGrad<T> s;
  const T* c;      // C row [N, H]
  const T* cPrev;  // or null
  T* dc;           // [N, H] carried
  const T* P;      // [3H] or null
  T* dP;           // [N, 3H] accumulated over steps, or null
  T clip;
  const uint8_t* k;  // clip > 0: the K row LstmForward stored
  bool inputForget;
  RNNX_HD void operator()(int e) const {
    const int H = s.H, n = e / H, j = e % H, GH = 4 * H;
    T* dg = s.dg + n * GH;
    if (s.t >= s.len[n]) {
      dg[j] = dg[H + j] = dg[2 * H + j] = dg[3 * H + j] = T(0);
      dc[e] = T(0);
      s.dhDirect[e] = T(0);
      return;
    }
    const T* g = s.g + n * GH;
    const T ig = g[j], og = g[H + j], fg = g[2 * H + j], cc = g[3 * H + j];
    const T cn = c[e], cp = cPrev ? cPrev[e] : T(0);
    const T dh = s.dy[n * s.ldY + j] + s.dhRec[e] + s.dhDirect[e];
    const bool clipped = clip > T(0);
    const uint8_t* kr = clipped ? k + n * GH : nullptr;
    const uint8_t no = 0;
    const LstmUnitGrad<T> d = LstmUnitBackward<T>(
        P != nullptr, clipped, inputForget, ig, og, fg, cc, cp, cn, P ? P[j] : T(0), P ? P[H + j] : T(0),
        P ? P[2 * H + j] : T(0), clipped ? kr[j] : no, clipped ? kr[H + j] : no, clipped ? kr[2 * H + j] : no,
        clipped ? kr[3 * H + j] : no, dh, dc[e]);
    const T dpi = d.dpi, dpo = d.dpo, dpf = d.dpf, dpc = d.dpc;
    if (P) {
      T* dp = dP + n * 3 * H;
      dp[j] += dpi * cp;
      dp[H + j] += dpo * cn;
      dp[2 * H + j] += dpf * cp;
    }
    dg[j] = dpi;
    dg[H + j] = dpo;
    dg[2 * H + j] = dpf;
    dg[3 * H + j] = dpc;
    dc[e] = d.dcp;
    s.dhDirect[e] = T(0);
  }
};

template <typename T>
struct RnnBackward {
  StepGrad<T> s;
  bool relu;
  RNNX_HD void operator()(int e) const {
    const int H = s.H, n = e / H, j = e % H;
    if (s.t >= s.len[n]) {
      s.dg[n * H + j] = T(0);
      s.dhDirect[e] = T(0);
      return;
    }
    const T h = s.g[n * H + j];
    const T dh = s.dy[n * s.ldY + j] + s.dhRec[e] + s.dhDirect[e];
    s.dg[n * H + j] = RnnUnitBackward(relu, h, dh);
    s.dhDirect[e] = T(0);
  }
};

// lbr = 1. dgr: the gradient w.r.t. the recurrent pre-activations (H·Rᵀ + Rb), which differs
// from dg (w.r.t. X·Wᵀ + Wb) in the h~ block by the factor r.
template <typename T>
struct GruBackwardLbr1 {
  StepGrad<T> s;
  const T* hn;  // RH row
  T* dgr;       // [N, 3H]
  RNNX_HD void operator()(int e) const {
    const int H = s.H, n = e / H, j = e % H, GH = 3 * H;
    T* dg = s.dg + n * GH;
    T* dr = dgr + n * GH;
    if (s.t >= s.len[n]) {
      dg[j] = dg[H + j] = dg[2 * H + j] = T(0);
      dr[j] = dr[H + j] = dr[2 * H + j] = T(0);
      s.dhDirect[e] = T(0);
      return;
    }
    const T* g = s.g + n * GH;
    const T z = g[j], rg = g[H + j], hc = g[2 * H + j];
    const T hp = s.hPrev ? s.hPrev[n * s.ldY + j] : T(0);
    const T dh = s.dy[n * s.ldY + j] + s.dhRec[e] + s.dhDirect[e];
    const GruUnitGrad<T> d = GruUnitBackward(z, hc, hp, dh);
    T dpr, dlin;
    GruResetGrad(d.dph, hn[e], rg, dpr, dlin);
    dg[j] = d.dpz;
    dg[H + j] = dpr;
    dg[2 * H + j] = d.dph;
    dr[j] = d.dpz;
    dr[H + j] = dpr;
    dr[2 * H + j] = dlin;
    s.dhDirect[e] = d.dhz;
  }
};

// lbr = 0, first half: gradients of z and h~; ∂h_prev's direct part dh ⊙ z.
template <typename T>
struct GruBackwardLbr0A {
  StepGrad<T> s;
  RNNX_HD void operator()(int e) const {
    const int H = s.H, n = e / H, j = e % H, GH = 3 * H;
    T* dg = s.dg + n * GH;
    if (s.t >= s.len[n]) {
      dg[j] = dg[H + j] = dg[2 * H + j] = T(0);
      s.dhDirect[e] = T(0);
      return;
    }
    const T* g = s.g + n * GH;
    const T z = g[j], hc = g[2 * H + j];
    const T hp = s.hPrev ? s.hPrev[n * s.ldY + j] : T(0);
    const T dh = s.dy[n * s.ldY + j] + s.dhRec[e] + s.dhDirect[e];
    const GruUnitGrad<T> d = GruUnitBackward(z, hc, hp, dh);
    dg[j] = d.dpz;
    dg[2 * H + j] = d.dph;
    s.dhDirect[e] = d.dhz;
  }
};

// Second half: drh = dph·Rh (computed by a product between the two halves) gives the reset
// gate's gradient and the part of ∂h_prev that flows through r ⊙ h_prev.
template <typename T>
struct GruBackwardLbr0B {
  StepGrad<T> s;
  const T* drh;  // [N, H]
  RNNX_HD void operator()(int e) const {
    const int H = s.H, n = e / H, j = e % H, GH = 3 * H;
    if (s.t >= s.len[n]) return;  // A already zeroed this row
    const T rg = s.g[n * GH + H + j];
    const T hp = s.hPrev ? s.hPrev[n * s.ldY + j] : T(0);
    T dpr, dhp;
    GruResetGrad(drh[e], hp, rg, dpr, dhp);
    s.dg[n * GH + H + j] = dpr;
    s.dhDirect[e] += dhp;
  }
};

// ---------------------------------------------------------------- last step, dense, loss

// out[n, d*H + j] = Y[t_last(n, d), n, d*H + j]: forward takes the last valid step, reverse
// the state after step 0 (ONNX Y_h).
template <typename T>
struct GatherLast {
  const T* Y;
  T* out;
  const int32_t* len;
  int N, H, D;
  bool reverseOnly;  // D == 1 and the single direction is reverse
  RNNX_HD void operator()(int e) const {
    const int DH = D * H, n = e / DH, c = e % DH, d = c / H;
    const bool rev = reverseOnly || d == 1;
    const int t = rev ? 0 : len[n] - 1;
    out[e] = Y[(static_cast<long long>(t) * N + n) * DH + c];
  }
};

// dY = 0 everywhere except the gathered positions (dY must be zeroed before).
template <typename T>
struct ScatterLast {
  const T* dout;
  T* dY;
  const int32_t* len;
  int N, H, D;
  bool reverseOnly;
  RNNX_HD void operator()(int e) const {
    const int DH = D * H, n = e / DH, c = e % DH, d = c / H;
    const bool rev = reverseOnly || d == 1;
    const int t = rev ? 0 : len[n] - 1;
    dY[(static_cast<long long>(t) * N + n) * DH + c] = dout[e];
  }
};

// z[r, u] += b[u], then the activation, in place. Softmax: one thread per row.
template <typename T>
struct BiasAct {
  T* z;
  const T* b;
  int units;
  int act;  // DenseAct as int
  RNNX_HD void operator()(int e) const {
    T v = z[e] + b[e % units];
    if (act == 1) v = Relu(v);
    else if (act == 2) v = Tanh(v);
    else if (act == 3) v = Sigmoid(v);
    z[e] = v;
  }
};

template <typename T>
struct SoftmaxRows {
  T* z;
  const T* b;
  int units;
  RNNX_HD void operator()(int r) const {
    T* row = z + static_cast<long long>(r) * units;
    for (int u = 0; u < units; u++) row[u] += b[u];
    SoftmaxRow(row, row, units);
  }
};

// dz = da ⊙ act'(a), from the activation's output a. In place on da.
template <typename T>
struct ActGrad {
  const T* a;
  T* da;
  int act;
  RNNX_HD void operator()(int e) const {
    const T y = a[e];
    if (act == 1) da[e] = ReluGrad(y, da[e]);
    else if (act == 2) da[e] = TanhGrad(y, da[e]);
    else if (act == 3) da[e] = SigmoidGrad(y, da[e]);
  }
};

template <typename T>
struct SoftmaxGradRows {
  const T* a;
  T* da;
  int units;
  RNNX_HD void operator()(int r) const {
    T* d = da + static_cast<long long>(r) * units;
    SoftmaxGradRow(a + static_cast<long long>(r) * units, d, d, units);
  }
};

// Loss of one output row (time-major row r = t*N + n for sequence outputs, r = n otherwise),
// as native/training/loss.cc: the row's loss (already divided by the valid count) goes to rowLoss[r],
// the count of correct predictions (CE: argmax; BCE: logit > 0) to rowCorrect[r], and the
// gradient w.r.t. the output layer's pre-activation to grad. Cross-entropy and binary
// cross-entropy read LOGITS (the forward pass leaves the top softmax/sigmoid out when one of
// them is the loss), so log-sum-exp keeps them finite; regression losses read the activation
// and the caller applies the activation's derivative afterwards.
template <typename T>
struct LossRows {
  const T* out;     // [rows, F]
  T* grad;          // [rows, F]
  T* rowLoss;       // [rows]
  T* rowCorrect;    // [rows]
  const float* targets;   // [N, T, F] / [N, F] batch-first, or null
  const int32_t* labels;  // [N, T] / [N], or null
  const int32_t* len;
  int N, Tn, F;
  bool sequence;
  int kind;         // LossKind as int
  T scale;          // 1 / (valid count)
  T delta;          // Huber
  RNNX_HD void operator()(int r) const {
    const int n = sequence ? r % N : r, t = sequence ? r / N : 0;
    const T* o = out + static_cast<long long>(r) * F;
    T* g = grad + static_cast<long long>(r) * F;
    rowCorrect[r] = T(0);
    if (sequence && t >= len[n]) {
      for (int f = 0; f < F; f++) g[f] = T(0);
      rowLoss[r] = T(0);
      return;
    }
    const long long tr = sequence ? static_cast<long long>(n) * Tn + t : n;
    T loss = T(0);
    if (kind == 3) {  // softmax cross-entropy on logits
      const int c = labels[tr];
      int arg = 0;
      loss = SoftmaxCrossEntropyRow(o, F, c, scale, g, arg);
      rowCorrect[r] = arg == c ? T(1) : T(0);
    } else {
      const float* y = targets + tr * F;
      T correct = T(0);
      for (int f = 0; f < F; f++) {
        const T yf = T(y[f]);
        T l, d;
        if (kind == 4) {  // binary cross-entropy on logits
          BceTerm(o[f], yf, l, d);
          correct += ((o[f] > T(0)) == (yf > T(0.5))) ? T(1) : T(0);
        } else if (kind == 0) {
          MseTerm(o[f] - yf, l, d);
        } else if (kind == 1) {
          MaeTerm(o[f] - yf, l, d);
        } else {
          HuberTerm(o[f] - yf, delta, l, d);
        }
        loss += l;
        g[f] = d * scale;
      }
      rowCorrect[r] = correct;
    }
    rowLoss[r] = loss * scale;
  }
};

// ---------------------------------------------------------------- optimizer

// Gradient preparation before the norm, as native/training/trainer.cc: the L2 term 2λw, then clipping
// by value. One pass over a parameter range.
template <typename T>
struct PrepareGrad {
  const T* p;
  T* grad;
  T l2;         // λ of this range's group (0: none)
  T clipValue;  // 0: off
  RNNX_HD void operator()(int e) const {
    T g = L2Grad(grad[e], p[e], T(2) * l2);
    if (clipValue > T(0)) g = ClipByValue(g, clipValue);
    grad[e] = g;
  }
};

// The update, as native/training/optimizer.h (Keras' SGD momentum form, bias-corrected Adam, AdamW's
// decoupled decay). It reads the step's loss and gradient sum of squares from device memory
// ([0] loss, [1] Σg²) and the flag CheckUpdate sets, so the step needs no device→host round trip
// before the update, and a non-finite loss, gradient or updated weight leaves every weight and
// moment as it was: the step is all-or-nothing, as on the CPU.
template <typename T>
struct OptimizerStep {
  T* p;
  const T* grad;
  T* m;
  T* v;
  const T* scalars;
  int kind;  // OptKind as int
  T lr, momentum, rho, beta1, beta2, eps;
  T decay;   // AdamW: 1 - lr·weightDecay rounded from float64; else 1
  T clipNorm;
  T s1, s2;  // Adam: 1 / (1 - beta^t)
  bool nesterov;
  // Device flag, 0 or 1: set by CheckUpdate when some updated weight would not be finite.
  T* overflow;

  RNNX_HD bool GradientsFinite() const {
    const T loss = scalars[0], ss = scalars[1];
    return loss - loss == T(0) && ss - ss == T(0);
  }
  // The updated weight and moments of element e, written to w, mo, ve (nothing stored).
  RNNX_HD void Update(int e, T& w, T& mo, T& ve) const {
    T gr = grad[e];
    if (clipNorm > T(0)) {
      const T norm = Sqrt(scalars[1]);
      if (norm > clipNorm) gr *= clipNorm / norm;
    }
    w = p[e];
    mo = m[e];
    ve = v[e];
    if (kind == 0) {  // SGD
      if (momentum > T(0)) MomentumUpdate(w, mo, gr, lr, momentum, nesterov);
      else SgdUpdate(w, gr, lr);
    } else if (kind == 1) {  // RMSprop
      RmspropUpdate(w, ve, gr, lr, rho, eps);
    } else {  // Adam, AdamW
      AdamUpdate(w, mo, ve, gr, lr, beta1, beta2, s1, s2, eps, decay);
    }
  }
  RNNX_HD void operator()(int e) const {
    if (!GradientsFinite() || *overflow != T(0)) return;
    T w, mo, ve;
    Update(e, w, mo, ve);
    p[e] = w;
    m[e] = mo;
    v[e] = ve;
  }
};

// First pass of the update: computes each updated weight without storing it and sets the
// overflow flag when one is not finite (an update can overflow float32 from finite gradients).
// Every writer stores the same value, so the race between threads is benign.
template <typename T>
struct CheckUpdate {
  OptimizerStep<T> step;
  RNNX_HD void operator()(int e) const {
    if (!step.GradientsFinite()) return;
    T w, mo, ve;
    step.Update(e, w, mo, ve);
    if (!(w - w == T(0))) *step.overflow = T(1);
  }
};

}  // namespace k
}  // namespace cuda
}  // namespace rnnx
