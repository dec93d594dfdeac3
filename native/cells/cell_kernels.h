// Element-wise gate math of one batch row at one time step, for the three cells: the fused,
// branch-free inner loops of the forward and backward passes (the matrix products are Gemm's).
// Written once as templates; float runs AVX-512, AVX2+FMA or baseline builds of them, picked
// once from CPUID feature bits (cell_kernels.cc); double (gradient checks) runs them directly.
// Regularisation that needs random bits (zoneout) and the sequence mask stay outside, in the
// callers, so these loops vectorise. All pointers are rows of H (or G*H) elements.
#pragma once

#include <cstdint>

namespace rnnx {

// LSTM forward: pre-activations → gates, new cell, new hidden.
template <typename T>
struct LstmRowForward {
  int H;
  const T* bias;      // [4H] Wb + Rb (i o f c)
  const T* P;         // [3H] peepholes (i o f) or null
  T clip;             // > 0: clamp pre-activations, record which were clipped
  bool inputForget;   // f = 1 - i
  const T* cprev;     // [H] C₋
  T* g;               // [4H] in: x·Wᵀ + H₋·Rᵀ; out: activated i, o, f, c̃
  T* c;               // [H] out: C = f⊙C₋ + i⊙c̃
  T* h;               // [H] out: o⊙tanh(C)
  uint8_t* clipped;   // [4H] out when clip > 0
};

// LSTM backward: gradients of the four pre-activations and of C₋ through the cell.
template <typename T>
struct LstmRowBackward {
  int H;
  const T* P;               // [3H] or null
  bool inputForget;
  const uint8_t* clipped;   // [4H] or null
  const T* cprev;           // [H] C₋
  const T* c;               // [H] the cell the gates produced (before zoneout)
  const T* dh;              // [H] gradient reaching o⊙tanh(C)
  T* dc;                    // [H] in: gradient reaching C; out: gradient of C₋ through the cell
  T* g;                     // [4H] in: activated gates; out: pre-activation gradients
};

// GRU forward. lbr = 1: one pass (e = H₋·Rhᵀ in, + Rbh out). lbr = 0: GruRowGates first
// (z, r and e = r⊙H₋), then the ĥ columns get (r⊙H₋)·Rhᵀ from Gemm, then this with lbr = false.
template <typename T>
struct GruRowForward {
  int H;
  bool lbr;
  const T* Wb;     // [3H]
  const T* Rb;     // [3H]
  const T* hprev;  // [H] state H₋
  const T* hin;    // [H] H₋ as the products read it (⊙ recurrent dropout mask); GruRowGates only
  T* g;            // [3H] in: pre-activation products; out: z, r, ĥ
  T* e;            // [H] see above
  T* h;            // [H] out: (1 − z)⊙ĥ + z⊙H₋
};

template <typename T>
struct GruRowBackward {
  int H;
  bool lbr;
  const T* hprev;  // [H]
  const T* dh;     // [H] gradient reaching the new state (after zoneout)
  T* dhDirect;     // [H] in: zoneout's direct part; out: + dh⊙z
  T* g;            // [3H] in: z, r, ĥ; out: dz, dr (lbr = 1 only; lbr = 0 leaves r for GruRowResetBackward), dĥ pre-activation
  T* e;            // [H] lbr = 1: in H₋·Rhᵀ + Rbh, out its gradient dĥ⊙r
};

// lbr = 0 second backward stage: drh = dĥ·Rh (from Gemm) gives dr and the r⊙H₋ path to H₋.
template <typename T>
struct GruRowResetBackward {
  int H;
  const T* drh;    // [H]
  const T* hin;    // [H] H₋ as the product read it
  const T* mask;   // [H] recurrent dropout mask or null
  T* g;            // [3H] in: r in the r columns; out: dr pre-activation there
  T* dhNext;       // [H] += drh⊙r⊙mask
};

template <typename T>
struct RnnRowForward {
  int H;
  bool relu;
  const T* bias;  // [H] Wb + Rb
  T* g;           // [H] in: products; out: h̃
};

template <typename T>
struct RnnRowBackward {
  int H;
  bool relu;
  const T* dh;  // [H]
  T* g;         // [H] in: h̃; out: pre-activation gradient
};

template <typename T>
struct CellKernels {
  void (*lstmForward)(const LstmRowForward<T>&);
  void (*lstmBackward)(const LstmRowBackward<T>&);
  void (*gruGates)(const GruRowForward<T>&);
  void (*gruForward)(const GruRowForward<T>&);
  void (*gruBackward)(const GruRowBackward<T>&);
  void (*gruResetBackward)(const GruRowResetBackward<T>&);
  void (*rnnForward)(const RnnRowForward<T>&);
  void (*rnnBackward)(const RnnRowBackward<T>&);
  const char* isa;
  static const CellKernels& Get();
};

}  // namespace rnnx
