#include "training/loss.h"

#include <cmath>
#include <cstring>
#include <string>

#include "cells/dense.h"
#include "math/elementwise.h"

namespace rnnx {

bool LossAcceptsActivation(LossKind kind, Activation act) {
  if (kind == LossKind::kCrossEntropy) return act == Activation::kSoftmax || act == Activation::kNone;
  if (kind == LossKind::kBinaryCrossEntropy) return act == Activation::kSigmoid || act == Activation::kNone;
  return true;
}

template <typename T>
LossStats ComputeLoss(const LossConfig& cfg, Activation act, int F, const T* z, const T* out, const TargetView& y,
                      T* dz) {
  const int rows = y.perStep ? y.T * y.N : y.N;
  const bool ce = cfg.kind == LossKind::kCrossEntropy;
  auto valid = [&](int t, int n) { return !y.perStep || y.lengths == nullptr || t < y.lengths[n]; };
  double validRows = 0;
  for (int r = 0; r < rows; ++r) {
    const int t = y.perStep ? r / y.N : 0, n = y.perStep ? r % y.N : r;
    if (valid(t, n)) validRows += 1;
  }
  LossStats st;
  st.count = ce ? validRows : validRows * F;
  if (dz) std::memset(dz, 0, static_cast<size_t>(rows) * F * sizeof(T));
  if (st.count == 0) return st;
  const T scale = static_cast<T>(1.0 / st.count);
  const T delta = static_cast<T>(cfg.huberDelta);

  for (int r = 0; r < rows; ++r) {
    const int t = y.perStep ? r / y.N : 0, n = y.perStep ? r % y.N : r;
    if (!valid(t, n)) continue;
    const size_t at = y.perStep ? static_cast<size_t>(n) * y.timeStride + y.t0 + t : static_cast<size_t>(n);
    const T* zr = z + static_cast<size_t>(r) * F;
    const T* o = out + static_cast<size_t>(r) * F;
    T* g = dz ? dz + static_cast<size_t>(r) * F : nullptr;
    if (ce) {
      const int label = y.labels[at];
      if (label < 0 || label >= F) {
        throw InvalidArgument("targets: label " + std::to_string(label) + " is out of range for " +
                              std::to_string(F) + " classes");
      }
      // From the logits z, softmax or not: the probabilities are the softmax output's to the bit.
      int arg = 0;
      st.sum += static_cast<double>(math::SoftmaxCrossEntropyRow(zr, F, label, scale, g, arg));
      st.correct += arg == label ? 1 : 0;
      st.predictions += 1;
      continue;
    }
    const float* target = y.values + at * F;
    if (cfg.kind == LossKind::kBinaryCrossEntropy) {
      for (int j = 0; j < F; ++j) {
        const T v = zr[j], tv = static_cast<T>(target[j]);
        T l, d;
        math::BceTerm(v, tv, l, d);  // σ(v): the sigmoid output's to the bit
        st.sum += static_cast<double>(l);
        st.correct += ((v > 0) == (tv > T(0.5))) ? 1 : 0;
        st.predictions += 1;
        if (g) g[j] = d * scale;
      }
      continue;
    }
    for (int j = 0; j < F; ++j) {
      const T e = o[j] - static_cast<T>(target[j]);
      T l, d;
      switch (cfg.kind) {
        case LossKind::kMse:
          math::MseTerm(e, l, d);
          break;
        case LossKind::kMae:
          math::MaeTerm(e, l, d);
          break;
        default:
          math::HuberTerm(e, delta, l, d);
      }
      st.sum += static_cast<double>(l);
      if (g) g[j] = d * scale;
    }
  }
  // Regression losses: g holds d/d(out); bring it through the output activation.
  if (dz && !ce && cfg.kind != LossKind::kBinaryCrossEntropy && act != Activation::kNone) {
    ActivationBackward(act, rows, F, out, dz, dz, static_cast<ThreadPool*>(nullptr));
  }
  return st;
}

template LossStats ComputeLoss<float>(const LossConfig&, Activation, int, const float*, const float*,
                                      const TargetView&, float*);
template LossStats ComputeLoss<double>(const LossConfig&, Activation, int, const double*, const double*,
                                       const TargetView&, double*);

}  // namespace rnnx
