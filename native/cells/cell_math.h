// The loop bodies behind cell_kernels.h, as always-inline templates: cell_kernels.cc compiles
// them once per instruction set. Compile-time flags remove the branches of options a layer
// does not use, so every loop is straight-line code the compiler vectorises. The math of one
// unit is math/elementwise.h's, shared with the CUDA kernels; these loops only move the data.
#pragma once

#include "cells/cell_kernels.h"
#include "math/elementwise.h"

// Forces inlining, so that the loops are compiled with the instruction set of the SIMD-targeted
// row kernel that calls them (cell_kernels.cc).
#define RNNX_INLINE inline __attribute__((always_inline))

namespace rnnx {
namespace cellmath {

// Pointers as restrict parameters (not struct fields): GCC then proves independence and vectorises.
template <typename T, bool kPeep, bool kClip, bool kIF>
RNNX_INLINE void LstmForwardLoop(const int H, T* __restrict gi, T* __restrict go, T* __restrict gf, T* __restrict gc,
                                 const T* __restrict b, const T* __restrict Pi, const T* __restrict Po,
                                 const T* __restrict Pf, uint8_t* __restrict ki, uint8_t* __restrict ko,
                                 uint8_t* __restrict kf, uint8_t* __restrict kc, const T clip, const T* __restrict cp,
                                 T* __restrict c, T* __restrict h) {
  for (int j = 0; j < H; ++j) {
    const T zero = T(0);
    const math::LstmUnit<T> u = math::LstmUnitForward<T>(
        kPeep, kClip, kIF, gi[j] + b[j], go[j] + b[H + j], gf[j] + b[2 * H + j], gc[j] + b[3 * H + j],
        kPeep ? Pi[j] : zero, kPeep ? Po[j] : zero, kPeep ? Pf[j] : zero, clip, cp[j]);
    if (kClip) {
      ki[j] = u.ki;
      ko[j] = u.ko;
      kf[j] = u.kf;
      kc[j] = u.kc;
    }
    gi[j] = u.i;
    go[j] = u.o;
    gf[j] = u.f;
    gc[j] = u.c;
    c[j] = u.cn;
    h[j] = u.h;
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
  for (int j = 0; j < H; ++j) {
    const T zero = T(0);
    const uint8_t no = 0;
    const math::LstmUnitGrad<T> d = math::LstmUnitBackward<T>(
        kPeep, kClip, kIF, gi[j], go[j], gf[j], gc[j], cp[j], cn[j], kPeep ? Pi[j] : zero, kPeep ? Po[j] : zero,
        kPeep ? Pf[j] : zero, kClip ? ki[j] : no, kClip ? ko[j] : no, kClip ? kf[j] : no, kClip ? kc[j] : no, dh[j],
        dc[j]);
    dc[j] = d.dcp;
    gi[j] = d.dpi;
    go[j] = d.dpo;
    gf[j] = d.dpf;
    gc[j] = d.dpc;
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
    const T z = math::Sigmoid(g[j] + a.Wb[j] + a.Rb[j]);
    const T r = math::Sigmoid(g[H + j] + a.Wb[H + j] + a.Rb[H + j]);
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
  for (int j = 0; j < H; ++j) {
    T z, r, hh;
    if (kLbr) {
      z = math::Sigmoid(g[j] + a.Wb[j] + a.Rb[j]);
      r = math::Sigmoid(g[H + j] + a.Wb[H + j] + a.Rb[H + j]);
      const T lin = e[j] + a.Rb[2 * H + j];
      e[j] = lin;
      hh = math::GruCandidateLbr1(g[2 * H + j], a.Wb[2 * H + j], r, lin);
    } else {
      z = g[j];
      r = g[H + j];
      hh = math::GruCandidateLbr0(g[2 * H + j], a.Wb[2 * H + j], a.Rb[2 * H + j]);
    }
    g[j] = z;
    g[H + j] = r;
    g[2 * H + j] = hh;
    h[j] = math::GruState(z, hh, hp[j]);
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
  for (int j = 0; j < H; ++j) {
    const T z = g[j], r = g[H + j];
    const math::GruUnitGrad<T> d = math::GruUnitBackward(z, g[2 * H + j], hp[j], dh[j]);
    dd[j] += d.dhz;
    g[j] = d.dpz;
    g[2 * H + j] = d.dph;
    if (kLbr) {
      T dpr, dlin;
      math::GruResetGrad(d.dph, e[j], r, dpr, dlin);
      g[H + j] = dpr;
      e[j] = dlin;
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
    T dpr, dh;
    math::GruResetGrad(drh[j], hin[j], g[H + j], dpr, dh);
    g[H + j] = dpr;
    dn[j] += dh * (a.mask ? a.mask[j] : one);
  }
}

template <typename T>
RNNX_INLINE void RnnForward(const RnnRowForward<T>& a) {
  T* __restrict g = a.g;
  const T* __restrict b = a.bias;
  if (a.relu) {
    for (int j = 0; j < a.H; ++j) g[j] = math::RnnUnitForward(true, g[j] + b[j]);
  } else {
    for (int j = 0; j < a.H; ++j) g[j] = math::RnnUnitForward(false, g[j] + b[j]);
  }
}

template <typename T>
RNNX_INLINE void RnnBackward(const RnnRowBackward<T>& a) {
  T* __restrict g = a.g;
  const T* __restrict dh = a.dh;
  if (a.relu) {
    for (int j = 0; j < a.H; ++j) g[j] = math::RnnUnitBackward(true, g[j], dh[j]);
  } else {
    for (int j = 0; j < a.H; ++j) g[j] = math::RnnUnitBackward(false, g[j], dh[j]);
  }
}

}  // namespace cellmath
}  // namespace rnnx
