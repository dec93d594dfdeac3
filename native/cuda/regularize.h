// Element-wise work the CUDA step adds around the cell kernels of kernels.h for what the CPU
// cells do in native/cells/{lstm,gru,rnn}.cc and native/training/network.cc: dropout masks,
// recurrent dropout, zoneout (h and c) and the carry of states through padded steps (which
// stateful training and truncated BPTT read back). Masks come from native/cells/random.h with the
// CPU's keys and element indices, so the same seed draws the same bits on both backends.
//
// The state sequence of one direction lives in HS [T+1, N, H] (and CS for the LSTM cell), indexed
// as on the CPU (recurrent.h): forward hs[0] = h0, hs[t+1] = h_t; reverse hs[T] = h0, hs[t] = h_t.
// The cell kernels write their raw state there; StepFinish then applies zoneout, carries the
// previous state through padded steps and writes the layer output Y (zero at padded steps).
#pragma once

#include <cstdint>

#include "../cells/random.h"
#include "../host_device.h"
#include "math/elementwise.h"

namespace rnnx {
namespace cuda {
namespace k {

// mask[e] = 0 where the element is dropped, else keep = 1 / (1 - p) (network.cc's masks).
template <typename T>
struct MaskFill {
  T* mask;
  uint64_t key;
  double p;
  T keep;
  RNNX_HD void operator()(int e) const { mask[e] = MaskHit(key, static_cast<uint64_t>(e), p) ? T(0) : keep; }
};

// dst[e] = src[e] * mask[e % period]: a [N, X] mask over every step of a [T, N, X] sequence
// (period N*X), or element by element (period = count). In place when dst == src.
template <typename T>
struct MaskMul {
  const T* src;
  T* dst;
  const T* mask;
  long long period;
  RNNX_HD void operator()(int e) const { dst[e] = src[e] * mask[e % period]; }
};

// dst[t, n, j] = src[t, n, col + j]: one direction's columns of a [T, N, ld] sequence.
template <typename T>
struct SliceCols {
  const T* src;
  T* dst;
  int H, ld, col;
  RNNX_HD void operator()(int e) const {
    const long long r = e / H;
    dst[e] = src[r * ld + col + e % H];
  }
};

// After the cell kernel of step t (rows [N, H]): padded rows keep the previous state and output
// zero; valid rows keep the cell's raw c in cRaw (the backward pass needs it), then zone out
// (keep the previous value where the mask hits), then output the state.
template <typename T>
struct StepFinish {
  int H, ldY, t;
  const int32_t* len;
  const T* hPrev;
  T* h;
  const T* cPrev;  // LSTM, else null
  T* c;
  T* cRaw;         // LSTM with zoneoutC, else null
  T* y;            // Y row + d*H, stride ldY
  uint64_t keyH, keyC, maskBase;  // maskBase = t*N*H
  double pH, pC;   // zoneout probabilities, 0 = off
  RNNX_HD void operator()(int e) const {
    const int n = e / H, j = e % H;
    if (t >= len[n]) {
      h[e] = hPrev[e];
      if (c) c[e] = cPrev[e];
      if (cRaw) cRaw[e] = cPrev[e];
      y[n * ldY + j] = T(0);
      return;
    }
    const uint64_t m = maskBase + static_cast<uint64_t>(e);
    if (c) {
      if (cRaw) cRaw[e] = c[e];
      if (pC > 0 && MaskHit(keyC, m, pC)) c[e] = cPrev[e];
    }
    if (pH > 0 && MaskHit(keyH, m, pH)) h[e] = hPrev[e];
    y[n * ldY + j] = h[e];
  }
};

// Before the cell's backward kernel of step t, with zoneout: the gradient reaching h_t
// (dy + dhRec + dhDirect + what zoneout passed from the step after) goes to the previous state
// directly where the mask hit (dhPass), else to the cell (dCell); the same for the cell's dc. A
// padded step passes everything through. The kernel then runs on dCell with dhDirect = 0.
template <typename T>
struct ZoneoutGrad {
  int H, ldDy, t;
  const int32_t* len;
  const T* dy;     // stride ldDy
  const T* dhRec;  // [N, H]
  T* dhDirect;
  T* dhPass;
  T* dCell;
  T* dc;      // LSTM, else null
  T* dcPass;  // LSTM, else null
  uint64_t keyH, keyC, maskBase;
  double pH, pC;
  RNNX_HD void operator()(int e) const {
    const int n = e / H, j = e % H;
    const bool pad = t >= len[n];
    const uint64_t m = maskBase + static_cast<uint64_t>(e);
    const T tot = dy[n * ldDy + j] + dhRec[e] + dhDirect[e] + dhPass[e];
    const bool hitH = pad || (pH > 0 && MaskHit(keyH, m, pH));
    dhDirect[e] = T(0);
    dhPass[e] = hitH ? tot : T(0);
    dCell[e] = hitH ? T(0) : tot;
    if (dc) {
      const T in = dc[e] + dcPass[e];
      const bool hitC = pad || (pC > 0 && MaskHit(keyC, m, pC));
      dcPass[e] = hitC ? in : T(0);
      dc[e] = hitC ? T(0) : in;
    }
  }
};

// GRU, linear_before_reset = 0, with recurrent dropout: GruBackwardLbr0B of kernels.h where the
// reset path reads the masked H₋ (hin) and its gradient to H₋ carries the mask (GruResetBackward).
template <typename T>
struct GruResetGradMasked {
  int H, t;
  const int32_t* len;
  const T* g;     // activated gates row [N, 3H]
  T* dg;          // [N, 3H]
  const T* drh;   // [N, H] = dĥ·Rh
  const T* hin;   // [N, H] H₋ ⊙ mask
  const T* mask;  // [N, H]
  T* dhDirect;
  RNNX_HD void operator()(int e) const {
    const int n = e / H, j = e % H, GH = 3 * H;
    if (t >= len[n]) return;
    const T rg = g[n * GH + H + j];
    T dpr, dh;
    math::GruResetGrad(drh[e], hin[e], rg, dpr, dh);
    dg[n * GH + H + j] = dpr;
    dhDirect[e] += dh * mask[e];
  }
};

}  // namespace k
}  // namespace cuda
}  // namespace rnnx
