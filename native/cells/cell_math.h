// The loop bodies behind cell_kernels.h, as always-inline templates: cell_kernels.cc compiles
// them once per instruction set. Compile-time flags remove the branches of options a layer
// does not use, so every loop is straight-line code the compiler vectorises.
#pragma once

#include "cells/activations.h"
#include "cells/cell_kernels.h"

namespace rnnx {
namespace cellmath {

// Pointers as restrict parameters (not struct fields): GCC then proves independence and vectorises.
template <typename T, bool kPeep, bool kClip, bool kIF>
RNNX_INLINE void LstmForwardLoop(const int H, T* __restrict gi, T* __restrict go, T* __restrict gf, T* __restrict gc,
                                 const T* __restrict b, const T* __restrict Pi, const T* __restrict Po,
                                 const T* __restrict Pf, uint8_t* __restrict ki, uint8_t* __restrict ko,
                                 uint8_t* __restrict kf, uint8_t* __restrict kc, const T clip, const T* __restrict cp,
                                 T* __restrict c, T* __restrict h) {
  const T one = T(1);
  for (int j = 0; j < H; ++j) {
    T pi = gi[j] + b[j];
    T po = go[j] + b[H + j];
    T pf = gf[j] + b[2 * H + j];
    T pc = gc[j] + b[3 * H + j];
    if (kPeep) {
      pi += Pi[j] * cp[j];
      pf += Pf[j] * cp[j];
    }
    if (kClip) {
      ki[j] = (pi > clip) | (pi < -clip);
      kf[j] = (pf > clip) | (pf < -clip);
      kc[j] = (pc > clip) | (pc < -clip);
      pi = Clamp(pi, clip);
      pf = Clamp(pf, clip);
      pc = Clamp(pc, clip);
    }
    const T i = Sigmoid(pi);
    const T fs = Sigmoid(pf);
    const T f = kIF ? one - i : fs;
    const T cc = Tanh(pc);
    const T cn = f * cp[j] + i * cc;
    if (kPeep) po += Po[j] * cn;
    if (kClip) {
      ko[j] = (po > clip) | (po < -clip);
      po = Clamp(po, clip);
    }
    const T o = Sigmoid(po);
    gi[j] = i;
    go[j] = o;
    gf[j] = f;
    gc[j] = cc;
    c[j] = cn;
    h[j] = o * Tanh(cn);
  }
}

template <typename T, bool kPeep, bool kClip, bool kIF>
RNNX_INLINE void LstmForward(const LstmRowForward<T>& a) {
  const int H = a.H;
  const T* P = a.P;
  uint8_t* k = a.clipped;
  LstmForwardLoop<T, kPeep, kClip, kIF>(H, a.g, a.g + H, a.g + 2 * H, a.g + 3 * H, a.bias, P, P ? P + H : nullptr,
                                        P ? P + 2 * H : nullptr, k, k ? k + H : nullptr, k ? k + 2 * H : nullptr,
                                        k ? k + 3 * H : nullptr, a.clip, a.cprev, a.c, a.h);
}

template <typename T, bool kPeep, bool kClip>
RNNX_INLINE void LstmForwardIF(const LstmRowForward<T>& a) {
  if (a.inputForget) LstmForward<T, kPeep, kClip, true>(a);
  else LstmForward<T, kPeep, kClip, false>(a);
}

template <typename T>
RNNX_INLINE void LstmForwardAny(const LstmRowForward<T>& a) {
  if (a.P) {
    if (a.clip > 0) LstmForwardIF<T, true, true>(a);
    else LstmForwardIF<T, true, false>(a);
  } else {
    if (a.clip > 0) LstmForwardIF<T, false, true>(a);
    else LstmForwardIF<T, false, false>(a);
  }
}

template <typename T, bool kPeep, bool kClip, bool kIF>
RNNX_INLINE void LstmBackwardLoop(const int H, T* __restrict gi, T* __restrict go, T* __restrict gf, T* __restrict gc,
                                  const T* __restrict Pi, const T* __restrict Po, const T* __restrict Pf,
                                  const uint8_t* __restrict ki, const uint8_t* __restrict ko,
                                  const uint8_t* __restrict kf, const uint8_t* __restrict kc, const T* __restrict cp,
                                  const T* __restrict cn, const T* __restrict dh, T* __restrict dc) {
  const T one = T(1), zero = T(0);
  for (int j = 0; j < H; ++j) {
    const T i = gi[j], o = go[j], f = gf[j], cc = gc[j];
    const T tc = Tanh(cn[j]);
    T dpo = dh[j] * tc * o * (one - o);
    if (kClip) dpo = ko[j] ? zero : dpo;
    T dcn = dc[j] + dh[j] * o * (one - tc * tc);
    if (kPeep) dcn += dpo * Po[j];
    const T dfRaw = dcn * cp[j];
    const T di = kIF ? dcn * cc - dfRaw : dcn * cc;
    const T df = kIF ? zero : dfRaw;
    T dpi = di * i * (one - i);
    T dpf = df * f * (one - f);
    T dpc = dcn * i * (one - cc * cc);
    if (kClip) {
      dpi = ki[j] ? zero : dpi;
      dpf = kf[j] ? zero : dpf;
      dpc = kc[j] ? zero : dpc;
    }
    T dcp = dcn * f;
    if (kPeep) dcp += dpi * Pi[j] + dpf * Pf[j];
    dc[j] = dcp;
    gi[j] = dpi;
    go[j] = dpo;
    gf[j] = dpf;
    gc[j] = dpc;
  }
}

template <typename T, bool kPeep, bool kClip, bool kIF>
RNNX_INLINE void LstmBackward(const LstmRowBackward<T>& a) {
  const int H = a.H;
  const T* P = a.P;
  const uint8_t* k = a.clipped;
  LstmBackwardLoop<T, kPeep, kClip, kIF>(H, a.g, a.g + H, a.g + 2 * H, a.g + 3 * H, P, P ? P + H : nullptr,
                                         P ? P + 2 * H : nullptr, k, k ? k + H : nullptr, k ? k + 2 * H : nullptr,
                                         k ? k + 3 * H : nullptr, a.cprev, a.c, a.dh, a.dc);
}

template <typename T, bool kPeep, bool kClip>
RNNX_INLINE void LstmBackwardIF(const LstmRowBackward<T>& a) {
  if (a.inputForget) LstmBackward<T, kPeep, kClip, true>(a);
  else LstmBackward<T, kPeep, kClip, false>(a);
}

template <typename T>
RNNX_INLINE void LstmBackwardAny(const LstmRowBackward<T>& a) {
  if (a.P) {
    if (a.clipped) LstmBackwardIF<T, true, true>(a);
    else LstmBackwardIF<T, true, false>(a);
  } else {
    if (a.clipped) LstmBackwardIF<T, false, true>(a);
    else LstmBackwardIF<T, false, false>(a);
  }
}

template <typename T>
RNNX_INLINE void GruGates(const GruRowForward<T>& a) {
  const int H = a.H;
  T* __restrict g = a.g;
  T* __restrict e = a.e;
  const T* __restrict hin = a.hin;
  for (int j = 0; j < H; ++j) {
    const T z = Sigmoid(g[j] + a.Wb[j] + a.Rb[j]);
    const T r = Sigmoid(g[H + j] + a.Wb[H + j] + a.Rb[H + j]);
    g[j] = z;
    g[H + j] = r;
    e[j] = r * hin[j];
  }
}

template <typename T, bool kLbr>
RNNX_INLINE void GruForward(const GruRowForward<T>& a) {
  const int H = a.H;
  T* __restrict g = a.g;
  T* __restrict e = a.e;
  T* __restrict h = a.h;
  const T* __restrict hp = a.hprev;
  const T one = T(1);
  for (int j = 0; j < H; ++j) {
    T z, r, hh;
    if (kLbr) {
      z = Sigmoid(g[j] + a.Wb[j] + a.Rb[j]);
      r = Sigmoid(g[H + j] + a.Wb[H + j] + a.Rb[H + j]);
      const T ghh = e[j] + a.Rb[2 * H + j];
      e[j] = ghh;
      hh = Tanh(g[2 * H + j] + a.Wb[2 * H + j] + r * ghh);
    } else {
      z = g[j];
      r = g[H + j];
      hh = Tanh(g[2 * H + j] + a.Wb[2 * H + j] + a.Rb[2 * H + j]);
    }
    g[j] = z;
    g[H + j] = r;
    g[2 * H + j] = hh;
    h[j] = (one - z) * hh + z * hp[j];
  }
}

template <typename T>
RNNX_INLINE void GruForwardAny(const GruRowForward<T>& a) {
  if (a.lbr) GruForward<T, true>(a);
  else GruForward<T, false>(a);
}

template <typename T, bool kLbr>
RNNX_INLINE void GruBackward(const GruRowBackward<T>& a) {
  const int H = a.H;
  T* __restrict g = a.g;
  T* __restrict e = a.e;
  const T* __restrict hp = a.hprev;
  const T* __restrict dh = a.dh;
  T* __restrict dd = a.dhDirect;
  const T one = T(1);
  for (int j = 0; j < H; ++j) {
    const T z = g[j], r = g[H + j], hh = g[2 * H + j];
    const T dz = dh[j] * (hp[j] - hh);
    dd[j] += dh[j] * z;
    const T dph = dh[j] * (one - z) * (one - hh * hh);
    g[j] = dz * z * (one - z);
    g[2 * H + j] = dph;
    if (kLbr) {
      g[H + j] = dph * e[j] * r * (one - r);
      e[j] = dph * r;
    }
  }
}

template <typename T>
RNNX_INLINE void GruBackwardAny(const GruRowBackward<T>& a) {
  if (a.lbr) GruBackward<T, true>(a);
  else GruBackward<T, false>(a);
}

template <typename T>
RNNX_INLINE void GruResetBackward(const GruRowResetBackward<T>& a) {
  const int H = a.H;
  T* __restrict g = a.g;
  T* __restrict dn = a.dhNext;
  const T* __restrict drh = a.drh;
  const T* __restrict hin = a.hin;
  const T one = T(1);
  for (int j = 0; j < H; ++j) {
    const T r = g[H + j];
    g[H + j] = drh[j] * hin[j] * r * (one - r);
    dn[j] += drh[j] * r * (a.mask ? a.mask[j] : one);
  }
}

template <typename T>
RNNX_INLINE void RnnForward(const RnnRowForward<T>& a) {
  T* __restrict g = a.g;
  const T* __restrict b = a.bias;
  const T zero = T(0);
  if (a.relu) {
    for (int j = 0; j < a.H; ++j) {
      const T p = g[j] + b[j];
      g[j] = p > zero ? p : zero;
    }
  } else {
    for (int j = 0; j < a.H; ++j) g[j] = Tanh(g[j] + b[j]);
  }
}

template <typename T>
RNNX_INLINE void RnnBackward(const RnnRowBackward<T>& a) {
  T* __restrict g = a.g;
  const T* __restrict dh = a.dh;
  const T one = T(1), zero = T(0);
  if (a.relu) {
    for (int j = 0; j < a.H; ++j) g[j] = g[j] > zero ? dh[j] : zero;
  } else {
    for (int j = 0; j < a.H; ++j) g[j] = dh[j] * (one - g[j] * g[j]);
  }
}

}  // namespace cellmath
}  // namespace rnnx
