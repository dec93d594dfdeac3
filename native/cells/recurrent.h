// Shared vocabulary of the recurrent kernels (lstm.h, gru.h, rnn.h): the static configuration
// of a cell, the parameter/gradient pointers of one direction, the geometry of a run and the
// tape the forward pass leaves for the backward pass.
//
// Conventions used by every kernel (shapes in elements, row-major):
//   T steps, N batch rows, I input features, H hidden units, G gates (RNN 1, GRU 3, LSTM 4).
//   Sequences are time-major inside the kernels: x is [T, N, ldx], y is [T, N, ldy].
//   Weights are in ONNX layout and gate order (LSTM i o f c, GRU z r h), exactly the views of
//   the model's flat parameter buffer: nothing is repacked.
//   A direction runs t = 0..T-1 (forward) or T-1..0 (reverse) but every per-step buffer is
//   indexed by the REAL time t, so the weight gradients are single large products over all
//   steps in the same row order as x.
//   State sequence hs [T+1, N, H]: forward: hs[0] = h0, hs[t+1] = h_t; reverse: hs[T] = h0,
//   hs[t] = h_t. So "H₋ of step t" for all t is the contiguous matrix hs + (reverse ? N*H : 0),
//   and the final state (ONNX Y_h: last valid step; reverse: after step 0) is hs[reverse ? 0 : T].
//   sequence_lens: at steps t >= lengths[n] row n keeps its state (h_t = h_{t-1}), outputs
//   zero, and receives no gate gradient; the state gradient passes straight through.
#pragma once

#include <cstdint>

#include "common.h"

namespace rnnx {

struct CellConfig {
  CellKind kind = CellKind::kLstm;
  int input = 0;   // I
  int hidden = 0;  // H
  bool relu = false;             // RNN: Relu instead of Tanh
  bool peepholes = false;        // LSTM: P [3H] present (i, o, f)
  double clip = 0;               // LSTM: clamp gate pre-activations to [-clip, clip]; 0 = off
  bool inputForget = false;      // LSTM: f = 1 - i
  int linearBeforeReset = 1;     // GRU
  double recurrentDropout = 0;   // one mask [N, H] per sequence on H₋ in the recurrent product
  double zoneoutH = 0;           // h_t = m⊙h_{t-1} + (1-m)⊙h̃_t, m ~ Bernoulli(zoneoutH) per element and step
  double zoneoutC = 0;           // same on the LSTM cell

  int gates() const { return kind == CellKind::kLstm ? 4 : kind == CellKind::kGru ? 3 : 1; }
};

// One direction's parameters: views into the flat parameter buffer.
template <typename T>
struct DirectionParams {
  const T* W = nullptr;   // [G*H, I]
  const T* R = nullptr;   // [G*H, H]
  const T* Wb = nullptr;  // [G*H]
  const T* Rb = nullptr;  // [G*H]
  const T* P = nullptr;   // [3H] LSTM peepholes (i, o, f), or null
};

// One direction's gradients, same shapes as DirectionParams; the backward pass ADDS into them.
template <typename T>
struct DirectionGrads {
  T* W = nullptr;
  T* R = nullptr;
  T* Wb = nullptr;
  T* Rb = nullptr;
  T* P = nullptr;
};

// Geometry of one run.
struct RunShape {
  int T = 0;
  int N = 0;
  bool reverse = false;
  const int32_t* lengths = nullptr;  // [N] valid steps per row (0..T), or null: all T valid
  bool valid(int t, int n) const { return lengths == nullptr || t < lengths[n]; }
};

// Training-time regularisation of one direction. All off (the defaults) at inference.
template <typename T>
struct CellRegularization {
  const T* recurrentMask = nullptr;  // [N, H] keep/(1-p) values, or null
  uint64_t zoneoutKeyH = 0;          // mask streams (random.h), used when the config's zoneout > 0
  uint64_t zoneoutKeyC = 0;
  bool zoneout = false;              // false at inference even if the config has zoneout
};

// What ForwardPass leaves for BackwardPass. Sizes from TapeSizes(); the caller owns the memory
// and must hand the same tape, untouched, to BackwardPass.
template <typename T>
struct DirectionTape {
  T* gates = nullptr;       // [T, N, G*H] forward: activated gates (LSTM i o f c̃; GRU z r ĥ; RNN h̃);
                            //   BackwardPass overwrites it with the gradients of the pre-activations
  T* hs = nullptr;          // [T+1, N, H] state sequence (see the header comment)
  T* cs = nullptr;          // [T+1, N, H] LSTM cell sequence, same indexing
  T* cRaw = nullptr;        // [T, N, H] LSTM cell before zoneout (only when zoneoutC > 0)
  T* extra = nullptr;       // [T, N, H] GRU: lbr=1 H₋·Rhᵀ + Rbh, overwritten by its gradient; lbr=0 r⊙H₋
  T* hMasked = nullptr;     // [T, N, H] H₋⊙mask (only with recurrent dropout)
  uint8_t* clipped = nullptr;  // [T, N, G*H] 1 where a pre-activation was clipped (LSTM clip only)
};

struct TapeSizes {
  size_t gates = 0, hs = 0, cs = 0, cRaw = 0, extra = 0, hMasked = 0, clipped = 0;
  static TapeSizes For(const CellConfig& c, int T, int N, bool training) {
    TapeSizes s;
    const size_t H = c.hidden, G = c.gates(), TN = static_cast<size_t>(T) * N;
    s.gates = TN * G * H;
    s.hs = (T + 1) * static_cast<size_t>(N) * H;
    if (c.kind == CellKind::kLstm) s.cs = s.hs;
    if (c.kind == CellKind::kLstm && c.zoneoutC > 0 && training) s.cRaw = TN * H;
    if (c.kind == CellKind::kGru) s.extra = TN * H;
    if (c.recurrentDropout > 0 && training) s.hMasked = TN * H;
    if (c.kind == CellKind::kLstm && c.clip > 0) s.clipped = TN * G * H;
    return s;
  }
};

// Per-call scratch of BackwardPass: 4 buffers of [N, H] (sized once, reused).
template <typename T>
struct BackwardScratch {
  T* dh = nullptr;      // [N, H]
  T* dhNext = nullptr;  // [N, H]
  T* dc = nullptr;      // [N, H]
  T* tmp = nullptr;     // [N, H]
  static size_t Elements(int N, int H) { return 4 * static_cast<size_t>(N) * H; }
};

// ---- helpers shared by the three cells (recurrent.cc) ----

// The pool for a product of M x N x K multiply-adds, or null when it is too small for a thread
// hop to pay off (a few microseconds of dispatch against the product's own time).
inline ThreadPool* PoolFor(ThreadPool* pool, int M, int N, int K) {
  return static_cast<double>(M) * N * K >= 4194304.0 ? pool : nullptr;
}

// The H₋ matrix [T, N, H] in real-time order (hMasked when recurrent dropout was used).
template <typename T>
const T* PrevStates(const DirectionTape<T>& tape, const RunShape& s, int H);

// gates[t] = x[t]·Wᵀ for every step at once: [T*N, I] x [I, G*H] (biases are added per step).
template <typename T>
void InputProjection(const CellConfig& c, const RunShape& s, const DirectionParams<T>& p, const T* x, int ldx,
                     T* gates, ThreadPool* pool);

// Copies h0 (or zeros) into the tape's initial slots.
template <typename T>
void InitStates(const CellConfig& c, const RunShape& s, const DirectionTape<T>& tape, const T* h0, const T* c0);

// Before the recurrent product of step t: writes H₋⊙mask into rows [n0, n1) of hMasked[t] and
// returns the [N, H] matrix the product must read (row n at + n*H).
template <typename T>
const T* RecurrentInput(const CellConfig& c, const RunShape& s, const DirectionTape<T>& tape,
                        const CellRegularization<T>& reg, int t, int n0, int n1);

// Runs a direction's whole time loop on blocks of batch rows, one block per thread: rows are
// independent in a recurrence, so this costs one dispatch per pass instead of several per time
// step (which on 2 shared cores cost more than the small per-step products they would split).
// macsPerStep: multiply-adds of one step's recurrent product, to keep small layers on one thread
// (N=16 H=64 measured slower split in two on the shared 2-core machine: the second thread rarely
// got a core in time, and waiting for it cost more than it saved). Blocks are claimed at run
// time (ThreadPool), so a worker that gets no core leaves its block to the caller.
inline void ForRowBlocks(ThreadPool* pool, int N, double macsPerStep, const std::function<void(int, int)>& fn) {
  if (pool == nullptr || pool->size() <= 1 || N < 2 || static_cast<double>(N) * macsPerStep < 2e6) {
    fn(0, N);
    return;
  }
  pool->ParallelFor(0, N, 1, fn);
}

// Columns sums: out[j] += Σ_rows a[r*lda + j], j < cols, in a fixed order (deterministic).
template <typename T>
void AddColumnSums(int rows, int cols, const T* a, int lda, T* out, ThreadPool* pool);

// dhNext[n,:] += (src[n,:]) ⊙ mask[n,:] (mask null: plain add).
template <typename T>
void AddMasked(int N, int H, const T* src, const T* mask, T* dhNext);

}  // namespace rnnx
