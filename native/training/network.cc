// Network<T>: layer orchestration of the forward and backward passes (see network.h).
#include "training/network.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "cells/dense.h"
#include "gemm/gemm.h"
#include "cells/gru.h"
#include "cells/lstm.h"
#include "cells/random.h"
#include "cells/rnn.h"

namespace rnnx {

int NetworkDesc::outputSize() const {
  if (!dense.empty()) return dense.back().units;
  const RecurrentLayerDesc& l = recurrent.back();
  return l.directions * l.cell.hidden;
}

void NetworkDesc::Validate() const {
  auto fail = [](const std::string& m) { throw InvalidArgument(m); };
  auto inside = [&](const std::string& what, size_t off, size_t size) {
    if (off > paramCount || size > paramCount - off) {
      fail(what + " [" + std::to_string(off) + ", " + std::to_string(off + size) + ") lies outside params of length " +
           std::to_string(paramCount));
    }
  };
  if (inputSize <= 0) fail("spec.inputSize must be a positive integer, got " + std::to_string(inputSize));
  if (recurrent.empty()) fail("spec.layers must contain at least one recurrent layer");
  int width = inputSize;
  for (size_t l = 0; l < recurrent.size(); ++l) {
    const RecurrentLayerDesc& r = recurrent[l];
    const std::string where = "layers[" + std::to_string(l) + "]";
    const int H = r.cell.hidden, G = r.cell.gates(), D = r.directions;
    if (H <= 0) fail(where + ".units must be a positive integer, got " + std::to_string(H));
    if (D != 1 && D != 2) fail(where + ": directions must be 1 or 2, got " + std::to_string(D));
    if (r.cell.input != width) {
      fail(where + ": input size " + std::to_string(r.cell.input) + " does not match the previous width " +
           std::to_string(width));
    }
    if (l + 1 < recurrent.size() && !r.returnSequences) fail(where + ".returnSequences must be true: a recurrent layer follows");
    const size_t GH = static_cast<size_t>(G) * H;
    inside(where + ".W", r.offW, D * GH * r.cell.input);
    inside(where + ".R", r.offR, D * GH * H);
    inside(where + ".B", r.offB, D * 2 * GH);
    if (r.cell.peepholes) inside(where + ".P", r.offP, static_cast<size_t>(D) * 3 * H);
    auto prob = [&](const char* name, double p) {
      if (!(p >= 0 && p < 1)) fail(where + "." + name + " must be a number in [0, 1), got " + std::to_string(p));
    };
    prob("dropout", r.dropout);
    prob("recurrentDropout", r.cell.recurrentDropout);
    prob("zoneoutH", r.cell.zoneoutH);
    prob("zoneoutC", r.cell.zoneoutC);
    width = D * H;
  }
  for (size_t k = 0; k < dense.size(); ++k) {
    const DenseLayerDesc& d = dense[k];
    const std::string where = "layers[" + std::to_string(recurrent.size() + k) + "]";
    if (d.units <= 0) fail(where + ".units must be a positive integer, got " + std::to_string(d.units));
    if (d.input != width) {
      fail(where + ": input size " + std::to_string(d.input) + " does not match the previous width " +
           std::to_string(width));
    }
    inside(where + ".W", d.offW, static_cast<size_t>(d.input) * d.units);
    inside(where + ".b", d.offb, d.units);
    width = d.units;
  }
  if (!(outputDropout >= 0 && outputDropout < 1)) fail("outputDropout must be a number in [0, 1), got " + std::to_string(outputDropout));
}

namespace {

template <typename T>
struct DirectionState {
  // The passes keep their packed recurrent weights and small buffers between steps.
  std::unique_ptr<LstmForwardPass<T>> lstmF;
  std::unique_ptr<LstmBackwardPass<T>> lstmB;
  std::unique_ptr<GruForwardPass<T>> gruF;
  std::unique_ptr<GruBackwardPass<T>> gruB;
  std::unique_ptr<RnnForwardPass<T>> rnnF;
  std::unique_ptr<RnnBackwardPass<T>> rnnB;
  Workspace<T> gates, hs, cs, cRaw, extra, hMasked, recMask;
  Workspace<uint8_t> clipped;
  DirectionTape<T> tape;
  CellRegularization<T> reg;
  bool reverse = false;
};

template <typename T>
struct LayerState {
  std::vector<DirectionState<T>> dirs;
  Workspace<T> y;       // [T, N, D*H] when returnSequences
  Workspace<T> xDrop;   // [T, N, I] input after dropout
  Workspace<T> inMask;  // [N, I]
  const T* x = nullptr;  // what the cells read: [T, N, I]
  T* yPtr = nullptr;
  bool dropped = false;
};

template <typename T>
DirectionParams<T> ParamsOf(const RecurrentLayerDesc& L, const T* base, int d) {
  const size_t H = L.cell.hidden, GH = L.cell.gates() * H, I = L.cell.input;
  DirectionParams<T> p;
  p.W = base + L.offW + d * GH * I;
  p.R = base + L.offR + d * GH * H;
  p.Wb = base + L.offB + d * 2 * GH;
  p.Rb = p.Wb + GH;
  p.P = L.cell.peepholes ? base + L.offP + d * 3 * H : nullptr;
  return p;
}

template <typename T>
DirectionGrads<T> GradsOf(const RecurrentLayerDesc& L, T* base, int d) {
  const size_t H = L.cell.hidden, GH = L.cell.gates() * H, I = L.cell.input;
  DirectionGrads<T> g;
  g.W = base + L.offW + d * GH * I;
  g.R = base + L.offR + d * GH * H;
  g.Wb = base + L.offB + d * 2 * GH;
  g.Rb = g.Wb + GH;
  g.P = L.cell.peepholes ? base + L.offP + d * 3 * H : nullptr;
  return g;
}

template <typename T, typename U>
U* Take(Workspace<U>& w, size_t n) {
  return n == 0 ? nullptr : w.Reserve(n);
}

}  // namespace

template <typename T>
struct Network<T>::Impl {
  Workspace<T> x0;  // [T, N, I] time-major input
  std::vector<LayerState<T>> layers;
  Workspace<T> recOut;   // [N, D*H] last-step recurrent output
  Workspace<T> outDrop;  // [rows, width] after output dropout
  Workspace<T> outMask;  // [rows, width]
  std::vector<Workspace<T>> z, a;
  Workspace<T> dOut, dHead, dA, dY1, dY2, scratch, dhFinal;
  std::vector<int32_t> lengths;
  bool hasLengths = false;
  int steps = 0, N = 0, rows = 0, width = 0;
  const T* recOutPtr = nullptr;
  const T* headIn = nullptr;
  MaskSettings masks;
};

template <typename T>
Network<T>::Network(const NetworkDesc& desc, ThreadPool* pool) : desc_(desc), pool_(pool), impl_(new Impl) {
  desc_.Validate();
  impl_->layers.resize(desc_.recurrent.size());
  for (size_t l = 0; l < desc_.recurrent.size(); ++l) {
    const CellConfig& c = desc_.recurrent[l].cell;
    impl_->layers[l].dirs.resize(desc_.recurrent[l].directions);
    for (DirectionState<T>& d : impl_->layers[l].dirs) {
      switch (c.kind) {
        case CellKind::kLstm:
          d.lstmF.reset(new LstmForwardPass<T>(c, pool_));
          d.lstmB.reset(new LstmBackwardPass<T>(c, pool_));
          break;
        case CellKind::kGru:
          d.gruF.reset(new GruForwardPass<T>(c, pool_));
          d.gruB.reset(new GruBackwardPass<T>(c, pool_));
          break;
        case CellKind::kRnn:
          d.rnnF.reset(new RnnForwardPass<T>(c, pool_));
          d.rnnB.reset(new RnnBackwardPass<T>(c, pool_));
          break;
      }
    }
  }
  impl_->z.resize(desc_.dense.size());
  impl_->a.resize(desc_.dense.size());
}

template <typename T>
Network<T>::~Network() = default;

template <typename T>
int Network<T>::outputRows() const {
  return impl_->rows;
}

template <typename T>
const T* Network<T>::output() const {
  return desc_.dense.empty() ? impl_->headIn : impl_->a.back().data();
}

template <typename T>
const T* Network<T>::outputPre() const {
  return desc_.dense.empty() ? impl_->headIn : impl_->z.back().data();
}

template <typename T>
T* Network<T>::outputGrad() {
  return impl_->dOut.Reserve(static_cast<size_t>(impl_->rows) * desc_.outputSize());
}

template <typename T>
const T* Network<T>::finalH(int l, int d) const {
  const LayerState<T>& L = impl_->layers[l];
  const DirectionState<T>& S = L.dirs[d];
  const size_t NH = static_cast<size_t>(impl_->N) * desc_.recurrent[l].cell.hidden;
  return S.tape.hs + (S.reverse ? 0 : impl_->steps * NH);
}

template <typename T>
const T* Network<T>::finalC(int l, int d) const {
  const LayerState<T>& L = impl_->layers[l];
  const DirectionState<T>& S = L.dirs[d];
  if (S.tape.cs == nullptr) return nullptr;
  const size_t NH = static_cast<size_t>(impl_->N) * desc_.recurrent[l].cell.hidden;
  return S.tape.cs + (S.reverse ? 0 : impl_->steps * NH);
}

template <typename T>
void Network<T>::Forward(const T* params, const InputView& in, const std::vector<const T*>* h0,
                         const std::vector<const T*>* c0, const MaskSettings& masks) {
  Impl& m = *impl_;
  const int Tn = in.T, N = in.N, I0 = desc_.inputSize;
  const bool training = masks.training;
  m.steps = Tn;
  m.N = N;
  m.masks = masks;
  m.hasLengths = in.lengths != nullptr;
  if (m.hasLengths) m.lengths.assign(in.lengths, in.lengths + N);
  const int32_t* lengths = m.hasLengths ? m.lengths.data() : nullptr;

  // Batch-first window → time-major [T, N, I].
  T* x0 = m.x0.Reserve(static_cast<size_t>(Tn) * N * I0);
  for (int t = 0; t < Tn; ++t) {
    for (int n = 0; n < N; ++n) {
      const float* src = in.x + (static_cast<size_t>(n) * in.timeStride + in.t0 + t) * I0;
      T* dst = x0 + (static_cast<size_t>(t) * N + n) * I0;
      for (int k = 0; k < I0; ++k) dst[k] = static_cast<T>(src[k]);
    }
  }

  const T* cur = x0;
  for (size_t l = 0; l < desc_.recurrent.size(); ++l) {
    const RecurrentLayerDesc& L = desc_.recurrent[l];
    LayerState<T>& S = m.layers[l];
    const int I = L.cell.input, H = L.cell.hidden, D = L.directions;
    const size_t TNI = static_cast<size_t>(Tn) * N * I;
    S.dropped = training && L.dropout > 0;
    if (S.dropped) {
      T* mask = S.inMask.Reserve(static_cast<size_t>(N) * I);
      const uint64_t key = MaskKey(masks.seed, masks.step, static_cast<uint32_t>(l), 0, MaskPurpose::kInputDropout);
      const T keep = static_cast<T>(1.0 / (1.0 - L.dropout));
      for (size_t k = 0; k < static_cast<size_t>(N) * I; ++k) mask[k] = MaskHit(key, k, L.dropout) ? T(0) : keep;
      T* xd = S.xDrop.Reserve(TNI);
      for (int t = 0; t < Tn; ++t)
        for (size_t k = 0; k < static_cast<size_t>(N) * I; ++k) {
          const size_t at = static_cast<size_t>(t) * N * I + k;
          xd[at] = cur[at] * mask[k];
        }
      S.x = xd;
    } else {
      S.x = cur;
    }
    S.yPtr = L.returnSequences ? S.y.Reserve(static_cast<size_t>(Tn) * N * D * H) : nullptr;
    for (int d = 0; d < D; ++d) {
      DirectionState<T>& ds = S.dirs[d];
      ds.reverse = D == 2 ? d == 1 : L.reverse;
      const TapeSizes sz = TapeSizes::For(L.cell, Tn, N, training);
      ds.tape.gates = Take<T>(ds.gates, sz.gates);
      ds.tape.hs = Take<T>(ds.hs, sz.hs);
      ds.tape.cs = Take<T>(ds.cs, sz.cs);
      ds.tape.cRaw = Take<T>(ds.cRaw, sz.cRaw);
      ds.tape.extra = Take<T>(ds.extra, sz.extra);
      ds.tape.hMasked = Take<T>(ds.hMasked, sz.hMasked);
      ds.tape.clipped = Take<uint8_t>(ds.clipped, sz.clipped);
      ds.reg = CellRegularization<T>();
      if (training) {
        ds.reg.zoneout = true;
        ds.reg.zoneoutKeyH = MaskKey(masks.seed, masks.step, l, d, MaskPurpose::kZoneoutH);
        ds.reg.zoneoutKeyC = MaskKey(masks.seed, masks.step, l, d, MaskPurpose::kZoneoutC);
        if (L.cell.recurrentDropout > 0) {
          const size_t NH = static_cast<size_t>(N) * H;
          T* rm = ds.recMask.Reserve(NH);
          const uint64_t key = MaskKey(masks.seed, masks.step, l, d, MaskPurpose::kRecurrentDropout);
          const T keep = static_cast<T>(1.0 / (1.0 - L.cell.recurrentDropout));
          for (size_t k = 0; k < NH; ++k) rm[k] = MaskHit(key, k, L.cell.recurrentDropout) ? T(0) : keep;
          ds.reg.recurrentMask = rm;
        }
      }
      RunShape rs;
      rs.T = Tn;
      rs.N = N;
      rs.reverse = ds.reverse;
      rs.lengths = lengths;
      const DirectionParams<T> p = ParamsOf(L, params, d);
      const size_t NH = static_cast<size_t>(N) * H;
      const T* h0p = h0 && (*h0)[l] ? (*h0)[l] + d * NH : nullptr;
      const T* c0p = c0 && (*c0)[l] ? (*c0)[l] + d * NH : nullptr;
      switch (L.cell.kind) {
        case CellKind::kLstm:
          ds.lstmF->Run(rs, p, S.x, I, h0p, c0p, S.yPtr, D * H, d * H, ds.tape, ds.reg);
          break;
        case CellKind::kGru:
          ds.gruF->Run(rs, p, S.x, I, h0p, S.yPtr, D * H, d * H, ds.tape, ds.reg);
          break;
        case CellKind::kRnn:
          ds.rnnF->Run(rs, p, S.x, I, h0p, S.yPtr, D * H, d * H, ds.tape, ds.reg);
          break;
      }
    }
    cur = S.yPtr;
  }

  // Recurrent output: the whole last sequence, or the final states side by side ([N, D*H]).
  const RecurrentLayerDesc& last = desc_.recurrent.back();
  const int lastIdx = static_cast<int>(desc_.recurrent.size()) - 1;
  m.width = last.directions * last.cell.hidden;
  if (last.returnSequences) {
    m.rows = Tn * N;
    m.recOutPtr = m.layers.back().yPtr;
  } else {
    m.rows = N;
    const int H = last.cell.hidden;
    T* ro = m.recOut.Reserve(static_cast<size_t>(N) * m.width);
    for (int d = 0; d < last.directions; ++d) {
      const T* fh = finalH(lastIdx, d);
      for (int n = 0; n < N; ++n) std::memcpy(ro + static_cast<size_t>(n) * m.width + d * H, fh + static_cast<size_t>(n) * H, H * sizeof(T));
    }
    m.recOutPtr = ro;
  }
  m.headIn = m.recOutPtr;
  if (training && desc_.outputDropout > 0 && !desc_.dense.empty()) {
    const size_t count = static_cast<size_t>(m.rows) * m.width;
    T* mask = m.outMask.Reserve(count);
    T* od = m.outDrop.Reserve(count);
    const uint64_t key = MaskKey(masks.seed, masks.step, kOutputMaskLayer, 0, MaskPurpose::kOutputDropout);
    const T keep = static_cast<T>(1.0 / (1.0 - desc_.outputDropout));
    for (size_t k = 0; k < count; ++k) {
      mask[k] = MaskHit(key, k, desc_.outputDropout) ? T(0) : keep;
      od[k] = m.recOutPtr[k] * mask[k];
    }
    m.headIn = od;
  }
  const T* a = m.headIn;
  int width = m.width;
  for (size_t k = 0; k < desc_.dense.size(); ++k) {
    const DenseLayerDesc& L = desc_.dense[k];
    T* z = m.z[k].Reserve(static_cast<size_t>(m.rows) * L.units);
    T* out = m.a[k].Reserve(static_cast<size_t>(m.rows) * L.units);
    DenseForward<T>(m.rows, L.input, L.units, L.activation, a, width, params + L.offW, params + L.offb, z, out, pool_);
    a = out;
    width = L.units;
  }
}

template <typename T>
void Network<T>::Backward(const T* params, T* grads) {
  Impl& m = *impl_;
  const int Tn = m.steps, N = m.N;
  const bool training = m.masks.training;
  const int32_t* lengths = m.hasLengths ? m.lengths.data() : nullptr;
  const T* dz = m.dOut.data();

  // Dense head, last layer first. dRec: gradient of the recurrent output [rows, width].
  const T* dRec = dz;
  if (!desc_.dense.empty()) {
    for (int k = static_cast<int>(desc_.dense.size()) - 1; k >= 0; --k) {
      const DenseLayerDesc& L = desc_.dense[k];
      const T* aIn = k == 0 ? m.headIn : m.a[k - 1].data();
      T* da = k == 0 ? m.dHead.Reserve(static_cast<size_t>(m.rows) * m.width)
                     : (k % 2 ? m.dA : m.dY1).Reserve(static_cast<size_t>(m.rows) * L.input);
      DenseBackward<T>(m.rows, L.input, L.units, aIn, L.input, params + L.offW, dz, grads + L.offW, grads + L.offb,
                       da, L.input, pool_);
      if (k > 0) ActivationBackward<T>(desc_.dense[k - 1].activation, m.rows, L.input, m.a[k - 1].data(), da, da, pool_);
      dz = da;
    }
    T* dh = m.dHead.data();
    if (training && desc_.outputDropout > 0) {
      const size_t count = static_cast<size_t>(m.rows) * m.width;
      const T* mask = m.outMask.data();
      for (size_t k = 0; k < count; ++k) dh[k] *= mask[k];
    }
    dRec = dh;
  }

  size_t maxTNI = 0;
  for (const RecurrentLayerDesc& L : desc_.recurrent) {
    maxTNI = std::max(maxTNI, static_cast<size_t>(Tn) * N * L.cell.input);
  }
  int maxH = 0;
  for (const RecurrentLayerDesc& L : desc_.recurrent) maxH = std::max(maxH, L.cell.hidden);
  T* scr = m.scratch.Reserve(BackwardScratch<T>::Elements(N, maxH));
  BackwardScratch<T> bs;
  const size_t NHmax = static_cast<size_t>(N) * maxH;
  bs.dh = scr;
  bs.dhNext = scr + NHmax;
  bs.dc = scr + 2 * NHmax;
  bs.tmp = scr + 3 * NHmax;
  // Ping-pong buffers for the gradient flowing down the stack (dense layers above are done).
  T* bufs[2] = {m.dY1.Reserve(maxTNI), m.dY2.Reserve(maxTNI)};
  int nextBuf = 0;

  const T* dy = nullptr;
  int lddy = 0;
  for (int l = static_cast<int>(desc_.recurrent.size()) - 1; l >= 0; --l) {
    const RecurrentLayerDesc& L = desc_.recurrent[l];
    LayerState<T>& S = m.layers[l];
    const int I = L.cell.input, H = L.cell.hidden, D = L.directions;
    const bool top = l == static_cast<int>(desc_.recurrent.size()) - 1;
    if (top) {
      dy = L.returnSequences ? dRec : nullptr;
      lddy = D * H;
    }
    T* dx = l > 0 ? bufs[nextBuf] : nullptr;
    nextBuf ^= 1;
    for (int d = 0; d < D; ++d) {
      DirectionState<T>& ds = S.dirs[d];
      RunShape rs;
      rs.T = Tn;
      rs.N = N;
      rs.reverse = ds.reverse;
      rs.lengths = lengths;
      const T* dhT = nullptr;
      if (top && !L.returnSequences) {
        T* f = m.dhFinal.Reserve(static_cast<size_t>(N) * H);
        for (int n = 0; n < N; ++n) std::memcpy(f + static_cast<size_t>(n) * H, dRec + static_cast<size_t>(n) * D * H + d * H, H * sizeof(T));
        dhT = f;
      }
      const DirectionParams<T> p = ParamsOf(L, params, d);
      const DirectionGrads<T> g = GradsOf(L, grads, d);
      switch (L.cell.kind) {
        case CellKind::kLstm:
          ds.lstmB->Run(rs, p, S.x, I, dy, lddy, d * H, dhT, nullptr, ds.tape, ds.reg, bs, dx, I,
                                                 d > 0, g);
          break;
        case CellKind::kGru:
          ds.gruB->Run(rs, p, S.x, I, dy, lddy, d * H, dhT, ds.tape, ds.reg, bs, dx, I, d > 0, g);
          break;
        case CellKind::kRnn:
          ds.rnnB->Run(rs, p, S.x, I, dy, lddy, d * H, dhT, ds.tape, ds.reg, bs, dx, I, d > 0, g);
          break;
      }
    }
    if (dx && S.dropped) {
      const T* mask = S.inMask.data();
      const size_t NI = static_cast<size_t>(N) * I;
      for (int t = 0; t < Tn; ++t)
        for (size_t k = 0; k < NI; ++k) dx[static_cast<size_t>(t) * NI + k] *= mask[k];
    }
    dy = dx;
    lddy = I;
  }
}

template <typename T>
size_t Network<T>::activationBytes() const {
  const Impl& m = *impl_;
  size_t b = m.x0.bytes() + m.recOut.bytes() + m.outDrop.bytes() + m.outMask.bytes();
  for (const auto& L : m.layers) {
    b += L.y.bytes() + L.xDrop.bytes() + L.inMask.bytes();
    for (const auto& d : L.dirs) {
      b += d.gates.bytes() + d.hs.bytes() + d.cs.bytes() + d.cRaw.bytes() + d.extra.bytes() + d.hMasked.bytes() +
           d.recMask.bytes() + d.clipped.bytes();
    }
  }
  for (const auto& w : m.z) b += w.bytes();
  for (const auto& w : m.a) b += w.bytes();
  return b;
}

template <typename T>
size_t Network<T>::backwardBytes() const {
  const Impl& m = *impl_;
  return m.dOut.bytes() + m.dHead.bytes() + m.dA.bytes() + m.dY1.bytes() + m.dY2.bytes() + m.scratch.bytes() +
         m.dhFinal.bytes();
}

template class Network<float>;
template class Network<double>;

}  // namespace rnnx
