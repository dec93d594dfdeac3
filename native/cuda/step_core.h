// The CUDA backend's training step, written once over an executor: CudaExec (GPU: cuBLAS for
// every product, one kernel launch per element-wise stage) or HostExec (CPU emulation used by
// the tests on machines without a GPU). Same semantics and parameter layout as the CPU step
// (native/cells/recurrent.h, native/cells/lstm.h): ONNX gate orders, zero initial state, sequence_lens
// masking, last-valid-step outputs (reverse: after step 0).
//
// Memory: parameters, gradients and optimizer state live on the device for the backend's whole
// life (one flat buffer each, in the host Float32Array's layout, so the optimizer is one
// element-wise pass and syncing back is one copy). Workspaces grow to the largest batch seen and
// are reused; nothing is allocated inside a step once its shape has been seen.
// Per step only the batch goes in and two scalars (loss, gradient sum of squares) come out.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels.h"
#include "model_desc.h"

namespace rnnx {
namespace cuda {

template <typename T, typename Exec>
class StepCore {
 public:
  StepCore(const ModelDesc& model, const LossDesc& loss, const OptimizerDesc& opt, Exec& ex)
      : m_(model), loss_(loss), opt_(opt), ex_(ex) {
    m_.Validate();
    ranges_ = ParamRanges(m_);
    const size_t P = m_.paramCount;
    params_ = ex_.template Alloc<T>(P);
    grads_ = ex_.template Alloc<T>(P);
    mom_ = ex_.template Alloc<T>(P);
    vel_ = ex_.template Alloc<T>(P);
    // [0] loss, [1] Σg², [2] correct, [3, 3 + ranges) L2 sums, [3 + ranges] the update's overflow flag.
    scalars_ = ex_.template Alloc<T>(4 + ranges_.size());
    if (LogitsTop() && !m_.dense.empty()) {
      const DenseAct a = m_.dense.back().act;
      const bool ce = loss_.kind == LossKind::kCrossEntropy;
      if (a != DenseAct::kNone && a != (ce ? DenseAct::kSoftmax : DenseAct::kSigmoid)) {
        throw std::invalid_argument(std::string(ce ? "cross-entropy" : "binary cross-entropy") +
                                    " needs the last layer's activation to be " + (ce ? "softmax" : "sigmoid") +
                                    " or none (logits)");
      }
    }
    if (!std::is_same<T, float>::value) staging_ = ex_.template Alloc<float>(P);
  }

  ~StepCore() {
    FreeWorkspace();
    ex_.Free(params_);
    ex_.Free(grads_);
    ex_.Free(mom_);
    ex_.Free(vel_);
    ex_.Free(scalars_);
    if (staging_) ex_.Free(staging_);
  }

  StepCore(const StepCore&) = delete;
  StepCore& operator=(const StepCore&) = delete;

  const ModelDesc& model() const { return m_; }
  T* params() { return params_; }
  T* grads() { return grads_; }
  long long stepCount() const { return steps_; }
  void SetOptimizer(const OptimizerDesc& o) { opt_ = o; }
  void SetLearningRate(double lr) { opt_.lr = lr; }

  // host [paramCount] → device. Optimizer state is kept (call ResetOptimizer to clear it).
  void SetParams(const float* host) {
    if (staging_) {
      ex_.Upload(staging_, host, m_.paramCount);
      ex_.ForEach(m_.paramCount, k::Convert<T>{staging_, params_});
    } else {
      ex_.Upload(reinterpret_cast<float*>(params_), host, m_.paramCount);
    }
  }
  // device → host [paramCount]; blocks until the device is done.
  void GetParams(float* host) {
    if (staging_) {
      ex_.ForEach(m_.paramCount, k::ConvertBack<T>{params_, staging_});
      ex_.Download(host, staging_, m_.paramCount);
    } else {
      ex_.Download(host, reinterpret_cast<const float*>(params_), m_.paramCount);
    }
  }
  void ResetOptimizer() {
    ex_.Zero(mom_, m_.paramCount);
    ex_.Zero(vel_, m_.paramCount);
    steps_ = 0;
  }


  // One training step: LossAndGradients, global norm, optimizer update. A non-finite loss,
  // gradient or updated weight leaves every weight, the optimizer state and the step count
  // unchanged and throws std::range_error (the binding's NonFinite).
  struct StepResult {
    double loss;
    double gradNorm;
    double correct;      // classification: correct predictions in the batch
    double predictions;  // classification: predictions compared (0 for regression)
    double count;        // elements the loss averaged over
  };
  // Forward, loss and backward: leaves the loss gradient in grads(); no L2 terms, no update.
  StepResult Gradients(const BatchView& b) {
    Prepare(b);
    Forward();
    LossForward();
    Backward();
    T s[3];
    ex_.Download(s, scalars_, 3);
    return {static_cast<double>(s[0]), 0.0, static_cast<double>(s[2]), predictions_, validCount_};
  }
  double LossAndGradients(const BatchView& b) { return Gradients(b).loss; }

  StepResult Step(const BatchView& b) { return Step(b, opt_.lr); }
  StepResult Step(const BatchView& b, double lr) {
    Prepare(b);
    Forward();
    LossForward();
    Backward();
    // L2 terms and clipping by value, then the global norm (native/training/trainer.cc's order).
    const double l2[3] = {opt_.l2[0], opt_.l2[1], opt_.l2[2]};
    const bool anyL2 = l2[0] > 0 || l2[1] > 0 || l2[2] > 0;
    if (anyL2 || opt_.clipValue > 0) {
      for (size_t i = 0; i < ranges_.size(); ++i) {
        const ParamRange& r = ranges_[i];
        const double lambda = l2[static_cast<int>(r.group)];
        if (lambda > 0) ex_.Sum(params_ + r.begin, r.end - r.begin, true, scalars_ + 3 + i);
        ex_.ForEach(static_cast<long long>(r.end - r.begin),
                    k::PrepareGrad<T>{params_ + r.begin, grads_ + r.begin, T(lambda), T(opt_.clipValue)});
      }
    }
    ex_.Sum(grads_, m_.paramCount, true, scalars_ + 1);
    const long long t = steps_ + 1;
    const T s1 = static_cast<T>(1.0 / (1.0 - std::pow(opt_.beta1, static_cast<double>(t))));
    const T s2 = static_cast<T>(1.0 / (1.0 - std::pow(opt_.beta2, static_cast<double>(t))));
    T* overflow = scalars_ + 3 + ranges_.size();
    ex_.Zero(overflow, 1);
    const T decay = static_cast<T>(opt_.kind == OptKind::kAdamW ? 1.0 - lr * opt_.weightDecay : 1.0);
    k::OptimizerStep<T> f{params_, grads_, mom_, vel_, scalars_, static_cast<int>(opt_.kind), T(lr),
                          T(opt_.momentum), T(opt_.rho), T(opt_.beta1), T(opt_.beta2), T(opt_.epsilon),
                          decay, T(opt_.clipNorm), s1, s2, opt_.nesterov, overflow};
    ex_.ForEach(static_cast<long long>(m_.paramCount), k::CheckUpdate<T>{f});
    ex_.ForEach(static_cast<long long>(m_.paramCount), f);
    std::vector<T> s(4 + ranges_.size());
    ex_.Download(s.data(), scalars_, s.size());
    double penalty = 0;
    if (anyL2) {
      for (size_t i = 0; i < ranges_.size(); ++i) penalty += l2[static_cast<int>(ranges_[i].group)] * static_cast<double>(s[3 + i]);
    }
    StepResult out{static_cast<double>(s[0]) + penalty, std::sqrt(static_cast<double>(s[1])),
                   static_cast<double>(s[2]), predictions_, validCount_};
    if (!std::isfinite(out.loss) || !std::isfinite(out.gradNorm)) {
      throw std::range_error("training step produced a non-finite " +
                             std::string(std::isfinite(out.loss) ? "gradient" : "loss") + " (loss " +
                             std::to_string(out.loss) + ", gradient norm " + std::to_string(out.gradNorm) +
                             "); the update was not applied");
    }
    if (s.back() != T(0)) {
      std::ostringstream msg;
      msg << "non-finite weight after the update at training step " << t << " with learning rate " << lr
          << ": the update overflowed float32; the step was rolled back and the weights are the last good ones";
      throw std::range_error(msg.str());
    }
    steps_ = t;
    return out;
  }

  // Inference forward pass (zero states) into y, batch-first [N, T, F] or [N, F], with the
  // top activation applied.
  void Predict(const float* x, int N, int Tn, const int32_t* lengths, float* y) {
    BatchView b;
    b.batch = N;
    b.time = Tn;
    b.x = x;
    b.lengths = lengths;
    predictOnly_ = true;
    try {
      Prepare(b);
      Forward();
    } catch (...) {
      predictOnly_ = false;
      throw;
    }
    predictOnly_ = false;
    const std::vector<float> out = LastOutput();
    std::copy(out.begin(), out.end(), y);
  }

  // Model output of the last forward pass, batch-first host [N, T, F] or [N, F].
  std::vector<float> LastOutput();

  size_t workspaceBytes() const { return wsBytes_; }

 private:
  struct LayerBuf {
    T* Y = nullptr;   // [T, N, D*H]
    T* dY = nullptr;  // [T, N, D*H]
    T* G[2] = {nullptr, nullptr};
    T* C[2] = {nullptr, nullptr};
    T* RH[2] = {nullptr, nullptr};
    uint8_t* K[2] = {nullptr, nullptr};  // LSTM clip: [T, N, 4H] which pre-activations were clipped
  };

  template <typename U>
  U* WsAlloc(size_t n) {
    wsBytes_ += n * sizeof(U);
    return ex_.template Alloc<U>(n);
  }

  void FreeWorkspace() {
    for (LayerBuf& l : layers_) {
      ex_.Free(l.Y);
      ex_.Free(l.dY);
      for (int d = 0; d < 2; ++d) {
        if (l.G[d]) ex_.Free(l.G[d]);
        if (l.C[d]) ex_.Free(l.C[d]);
        if (l.RH[d]) ex_.Free(l.RH[d]);
        if (l.K[d]) ex_.Free(l.K[d]);
      }
    }
    layers_.clear();
    for (T* p : dense_) ex_.Free(p);
    for (T* p : dDense_) ex_.Free(p);
    dense_.clear();
    dDense_.clear();
    T* bufs[] = {x0_, tmp_, tmp2_, dG_, dGr_, dhRec_, dhDirect_, dc_, drh_, dP_, ones_, hLast_, dhLast_, rowLoss_,
                 rowCorrect_};
    for (T* p : bufs)
      if (p) ex_.Free(p);
    x0_ = tmp_ = tmp2_ = dG_ = dGr_ = dhRec_ = dhDirect_ = dc_ = drh_ = dP_ = ones_ = hLast_ = dhLast_ = rowLoss_ =
        rowCorrect_ = nullptr;
    if (xf_) ex_.Free(xf_);
    if (targets_) ex_.Free(targets_);
    if (len_) ex_.Free(len_);
    if (labels_) ex_.Free(labels_);
    xf_ = targets_ = nullptr;
    len_ = labels_ = nullptr;
    capN_ = capT_ = 0;
    wsBytes_ = 0;
  }

  // Sizes the workspace for (N, T), growing only.
  void Reserve(int N, int Tn) {
    if (N <= capN_ && Tn <= capT_) return;
    const int nN = N > capN_ ? N : capN_, nT = Tn > capT_ ? Tn : capT_;
    FreeWorkspace();
    capN_ = nN;
    capT_ = nT;
    const size_t TN = static_cast<size_t>(nT) * nN;
    int maxGH = 1, maxH = 1;
    for (const RecurrentDesc& r : m_.recurrent) {
      LayerBuf l;
      const size_t DH = static_cast<size_t>(r.directions) * r.hidden, GH = static_cast<size_t>(r.gates()) * r.hidden;
      l.Y = WsAlloc<T>(TN * DH);
      l.dY = WsAlloc<T>(TN * DH);
      for (int d = 0; d < r.directions; ++d) {
        l.G[d] = WsAlloc<T>(TN * GH);
        if (r.kind == CellKind::kLstm) l.C[d] = WsAlloc<T>(TN * r.hidden);
        if (r.kind == CellKind::kGru) l.RH[d] = WsAlloc<T>(TN * r.hidden);
        if (r.kind == CellKind::kLstm && r.cellClip > 0) l.K[d] = WsAlloc<uint8_t>(TN * GH);
      }
      layers_.push_back(l);
      if (static_cast<int>(GH) > maxGH) maxGH = static_cast<int>(GH);
      if (r.hidden > maxH) maxH = r.hidden;
    }
    const RecurrentDesc& last = m_.recurrent.back();
    const size_t rows = last.returnSequences ? TN : static_cast<size_t>(nN);
    for (const DenseDesc& d : m_.dense) {
      dense_.push_back(WsAlloc<T>(rows * d.units));
      dDense_.push_back(WsAlloc<T>(rows * d.units));
    }
    if (!last.returnSequences) {
      hLast_ = WsAlloc<T>(static_cast<size_t>(nN) * last.directions * last.hidden);
      dhLast_ = WsAlloc<T>(static_cast<size_t>(nN) * last.directions * last.hidden);
    }
    xf_ = WsAlloc<float>(TN * m_.inputSize);
    x0_ = WsAlloc<T>(TN * m_.inputSize);
    const int F = m_.outputSize();
    targets_ = WsAlloc<float>(rows * F);
    labels_ = WsAlloc<int32_t>(rows);
    len_ = WsAlloc<int32_t>(nN);
    tmp_ = WsAlloc<T>(static_cast<size_t>(nN) * maxGH);
    tmp2_ = WsAlloc<T>(static_cast<size_t>(nN) * maxH);
    dG_ = WsAlloc<T>(TN * maxGH);
    dGr_ = WsAlloc<T>(TN * maxGH);
    dhRec_ = WsAlloc<T>(static_cast<size_t>(nN) * maxH);
    dhDirect_ = WsAlloc<T>(static_cast<size_t>(nN) * maxH);
    dc_ = WsAlloc<T>(static_cast<size_t>(nN) * maxH);
    drh_ = WsAlloc<T>(static_cast<size_t>(nN) * maxH);
    dP_ = WsAlloc<T>(static_cast<size_t>(nN) * 3 * maxH);
    ones_ = WsAlloc<T>(TN);
    ex_.ForEach(static_cast<long long>(TN), k::Fill<T>{ones_, T(1)});
    rowLoss_ = WsAlloc<T>(rows);
    rowCorrect_ = WsAlloc<T>(rows);
  }

  // Row-major C[M,N] = alpha op(A) op(B) + beta C, mapped onto the column-major GEMM: a row-major
  // matrix is its transpose in column-major, so C^T = op(B)^T op(A)^T with the operands swapped.
  void Gemm(bool ta, bool tb, int M, int N, int K, T alpha, const T* A, int lda, const T* B, int ldb, T beta, T* C,
            int ldc) {
    if (M == 0 || N == 0) return;
    ex_.GemmCM(tb, ta, N, M, K, alpha, B, ldb, A, lda, beta, C, ldc);
  }

  void Prepare(const BatchView& b) {
    const int N = b.batch, Tn = b.time;
    if (N <= 0 || Tn <= 0) throw std::invalid_argument("batch must have N > 0 and T > 0");
    Reserve(N, Tn);
    N_ = N;
    T_ = Tn;
    const size_t TN = static_cast<size_t>(N) * Tn;
    ex_.Upload(xf_, b.x, TN * m_.inputSize);
    ex_.ForEach(static_cast<long long>(TN * m_.inputSize), k::ToTimeMajor<T>{xf_, x0_, N, Tn, m_.inputSize});
    // The host knows the lengths: the valid count (loss normaliser) needs no device reduction.
    hostLen_.assign(N, Tn);
    if (b.lengths) {
      for (int n = 0; n < N; ++n) {
        if (b.lengths[n] < 1 || b.lengths[n] > Tn) {
          throw std::invalid_argument("lengths[" + std::to_string(n) + "] must be in [1, " + std::to_string(Tn) +
                                      "], got " + std::to_string(b.lengths[n]));
        }
        hostLen_[n] = b.lengths[n];
      }
    }
    ex_.Upload(len_, hostLen_.data(), N);
    const bool seq = m_.outputIsSequence();
    const int F = m_.outputSize();
    const size_t rows = seq ? TN : static_cast<size_t>(N);
    if (predictOnly_) {
    } else if (loss_.kind == LossKind::kCrossEntropy) {
      if (!b.labels) throw std::invalid_argument("cross-entropy needs integer labels");
      for (size_t i = 0; i < rows; ++i) {
        if (seq && (static_cast<int>(i % Tn) >= hostLen_[i / Tn])) continue;  // padded steps are not read
        if (b.labels[i] < 0 || b.labels[i] >= F) {
          throw std::invalid_argument("labels[" + std::to_string(i) + "] must be in [0, " + std::to_string(F) +
                                      "), got " + std::to_string(b.labels[i]));
        }
      }
      // Padded labels may hold anything: clamp them so the kernel never indexes out of range.
      labelsHost_.assign(b.labels, b.labels + rows);
      for (int32_t& l : labelsHost_) l = l < 0 || l >= F ? 0 : l;
      ex_.Upload(labels_, labelsHost_.data(), rows);
    } else {
      if (!b.targets) throw std::invalid_argument("this loss needs float targets");
      ex_.Upload(targets_, b.targets, rows * F);
    }
    long long valid = 0;
    for (int n = 0; n < N; ++n) valid += seq ? hostLen_[n] : 1;
    const bool perElement = loss_.kind != LossKind::kCrossEntropy;
    validCount_ = static_cast<double>(valid) * (perElement ? F : 1);
    predictions_ = LogitsTop() ? validCount_ : 0;
  }

  void Forward() {
    const int N = N_, Tn = T_;
    const size_t TN = static_cast<size_t>(N) * Tn;
    for (size_t l = 0; l < m_.recurrent.size(); ++l) {
      const RecurrentDesc& r = m_.recurrent[l];
      LayerBuf& L = layers_[l];
      const T* X = l == 0 ? x0_ : layers_[l - 1].Y;
      const int In = r.inputSize, H = r.hidden, GH = r.gates() * H, DH = r.directions * H;
      for (int d = 0; d < r.directions; ++d) {
        const bool rev = r.directions == 2 ? d == 1 : r.reverse;
        const T* W = params_ + r.offW + static_cast<size_t>(d) * GH * In;
        const T* R = params_ + r.offR + static_cast<size_t>(d) * GH * H;
        const T* bW = params_ + r.offB + static_cast<size_t>(d) * 2 * GH;
        const T* bR = bW + GH;
        const T* P = r.peepholes ? params_ + r.offP + static_cast<size_t>(d) * 3 * H : nullptr;
        T* G = L.G[d];
        // Input projections of every step at once: G[T*N, GH] = X[T*N, In] · Wᵀ.
        Gemm(false, true, static_cast<int>(TN), GH, In, T(1), X, In, W, In, T(0), G, GH);
        for (int s = 0; s < Tn; ++s) {
          const int t = rev ? Tn - 1 - s : s, tp = rev ? t + 1 : t - 1;
          const size_t row = static_cast<size_t>(t) * N;
          k::StepIO<T> io{N, H, DH, t, len_, G + row * GH, tmp_, bW, bR,
                          s == 0 ? nullptr : L.Y + static_cast<size_t>(tp) * N * DH + d * H,
                          L.Y + row * DH + d * H};
          const int recRows = (r.kind == CellKind::kGru && !r.linearBeforeReset) ? 2 * H : GH;
          if (io.hPrev) Gemm(false, true, N, recRows, H, T(1), io.hPrev, DH, R, H, T(0), tmp_, GH);
          else ex_.Zero(tmp_, static_cast<size_t>(N) * GH);
          const long long NH = static_cast<long long>(N) * H;
          if (r.kind == CellKind::kLstm) {
            ex_.ForEach(NH, k::LstmForward<T>{io, s == 0 ? nullptr : L.C[d] + static_cast<size_t>(tp) * N * H,
                                              L.C[d] + row * H, P, T(r.cellClip),
                                              L.K[d] ? L.K[d] + row * GH : nullptr, r.inputForget});
          } else if (r.kind == CellKind::kRnn) {
            ex_.ForEach(NH, k::RnnForward<T>{io, r.relu});
          } else if (r.linearBeforeReset) {
            ex_.ForEach(NH, k::GruForwardLbr1<T>{io, L.RH[d] + row * H});
          } else {
            T* rhp = L.RH[d] + row * H;
            ex_.ForEach(NH, k::GruForwardLbr0A<T>{io, rhp});
            Gemm(false, true, N, H, H, T(1), rhp, H, R + static_cast<size_t>(2) * H * H, H, T(0), tmp2_, H);
            k::StepIO<T> io2 = io;
            io2.rh = tmp2_;
            ex_.ForEach(NH, k::GruForwardLbr0B<T>{io2});
          }
        }
      }
    }
    // Dense head.
    const RecurrentDesc& last = m_.recurrent.back();
    const int DH = last.directions * last.hidden;
    const T* cur = layers_.back().Y;
    int rows = static_cast<int>(TN);
    if (!last.returnSequences) {
      ex_.ForEach(static_cast<long long>(N) * DH,
                  k::GatherLast<T>{layers_.back().Y, hLast_, len_, N, last.hidden, last.directions,
                                   last.directions == 1 && last.reverse});
      cur = hLast_;
      rows = N;
    }
    rows_ = rows;
    int width = DH;
    for (size_t i = 0; i < m_.dense.size(); ++i) {
      const DenseDesc& dd = m_.dense[i];
      T* Z = dense_[i];
      Gemm(false, false, rows, dd.units, width, T(1), cur, width, params_ + dd.offW, dd.units, T(0), Z, dd.units);
      const bool top = i + 1 == m_.dense.size();
      if (top && LogitsTop() && !predictOnly_) {  // the loss reads logits
        ex_.ForEach(static_cast<long long>(rows) * dd.units, k::BiasAct<T>{Z, params_ + dd.offB, dd.units, 0});
      } else if (dd.act == DenseAct::kSoftmax) {
        ex_.ForEach(rows, k::SoftmaxRows<T>{Z, params_ + dd.offB, dd.units});
      } else {
        ex_.ForEach(static_cast<long long>(rows) * dd.units,
                    k::BiasAct<T>{Z, params_ + dd.offB, dd.units, static_cast<int>(dd.act)});
      }
      cur = Z;
      width = dd.units;
    }
    out_ = cur;
  }

  // The gradient buffer for the model output.
  T* OutputGrad() {
    if (!m_.dense.empty()) return dDense_.back();
    return m_.recurrent.back().returnSequences ? layers_.back().dY : dhLast_;
  }

  // Cross-entropy losses take logits: the top activation is folded into the loss.
  bool LogitsTop() const {
    return loss_.kind == LossKind::kCrossEntropy || loss_.kind == LossKind::kBinaryCrossEntropy;
  }

  void LossForward() {
    const bool seq = m_.outputIsSequence();
    k::LossRows<T> f{out_,
                     OutputGrad(),
                     rowLoss_,
                     rowCorrect_,
                     loss_.kind == LossKind::kCrossEntropy ? nullptr : targets_,
                     loss_.kind == LossKind::kCrossEntropy ? labels_ : nullptr,
                     len_,
                     N_,
                     T_,
                     m_.outputSize(),
                     seq,
                     static_cast<int>(loss_.kind),
                     T(1.0 / validCount_),
                     T(loss_.huberDelta)};
    ex_.ForEach(rows_, f);
    ex_.Sum(rowLoss_, rows_, false, scalars_);
    ex_.Sum(rowCorrect_, rows_, false, scalars_ + 2);
  }

  void Backward() {
    const int N = N_, Tn = T_;
    const int TN = N * Tn;
    const RecurrentDesc& last = m_.recurrent.back();
    const int lastDH = last.directions * last.hidden;
    const int rows = rows_;
    // Dense layers, top down.
    for (int i = static_cast<int>(m_.dense.size()) - 1; i >= 0; --i) {
      const DenseDesc& dd = m_.dense[i];
      T* dZ = dDense_[i];
      const T* A = dense_[i];
      const bool top = i == static_cast<int>(m_.dense.size()) - 1;
      if (!(top && LogitsTop())) {
        if (dd.act == DenseAct::kSoftmax) ex_.ForEach(rows, k::SoftmaxGradRows<T>{A, dZ, dd.units});
        else if (dd.act != DenseAct::kNone)
          ex_.ForEach(static_cast<long long>(rows) * dd.units, k::ActGrad<T>{A, dZ, static_cast<int>(dd.act)});
      }
      const T* in = i == 0 ? (last.returnSequences ? layers_.back().Y : hLast_) : dense_[i - 1];
      T* dIn = i == 0 ? (last.returnSequences ? layers_.back().dY : dhLast_) : dDense_[i - 1];
      const int inW = dd.inputSize;
      Gemm(true, false, inW, dd.units, rows, T(1), in, inW, dZ, dd.units, T(0), grads_ + dd.offW, dd.units);
      Gemm(false, false, 1, dd.units, rows, T(1), ones_, rows, dZ, dd.units, T(0), grads_ + dd.offB, dd.units);
      Gemm(false, true, rows, inW, dd.units, T(1), dZ, dd.units, params_ + dd.offW, dd.units, T(0), dIn, inW);
    }
    if (!last.returnSequences) {
      ex_.Zero(layers_.back().dY, static_cast<size_t>(TN) * lastDH);
      ex_.ForEach(static_cast<long long>(N) * lastDH,
                  k::ScatterLast<T>{dhLast_, layers_.back().dY, len_, N, last.hidden, last.directions,
                                    last.directions == 1 && last.reverse});
    }
    // Recurrent layers, top down.
    for (int l = static_cast<int>(m_.recurrent.size()) - 1; l >= 0; --l) {
      const RecurrentDesc& r = m_.recurrent[l];
      LayerBuf& L = layers_[l];
      const T* X = l == 0 ? x0_ : layers_[l - 1].Y;
      T* dX = l == 0 ? nullptr : layers_[l - 1].dY;
      const int In = r.inputSize, H = r.hidden, GH = r.gates() * H, DH = r.directions * H;
      const bool lbr1 = r.kind == CellKind::kGru && r.linearBeforeReset;
      const bool lbr0 = r.kind == CellKind::kGru && !r.linearBeforeReset;
      const size_t NH = static_cast<size_t>(N) * H;
      for (int d = 0; d < r.directions; ++d) {
        const bool rev = r.directions == 2 ? d == 1 : r.reverse;
        const T* W = params_ + r.offW + static_cast<size_t>(d) * GH * In;
        const T* R = params_ + r.offR + static_cast<size_t>(d) * GH * H;
        const T* P = r.peepholes ? params_ + r.offP + static_cast<size_t>(d) * 3 * H : nullptr;
        T* gW = grads_ + r.offW + static_cast<size_t>(d) * GH * In;
        T* gR = grads_ + r.offR + static_cast<size_t>(d) * GH * H;
        T* gB = grads_ + r.offB + static_cast<size_t>(d) * 2 * GH;
        T* gP = r.peepholes ? grads_ + r.offP + static_cast<size_t>(d) * 3 * H : nullptr;
        T* dGr = lbr1 ? dGr_ : dG_;
        ex_.Zero(dhRec_, NH);
        ex_.Zero(dhDirect_, NH);
        ex_.Zero(dc_, NH);
        if (P) ex_.Zero(dP_, NH * 3);
        for (int s = Tn - 1; s >= 0; --s) {
          const int t = rev ? Tn - 1 - s : s, tp = rev ? t + 1 : t - 1;
          const size_t row = static_cast<size_t>(t) * N;
          k::StepGrad<T> sg{N, H, DH, t, len_, L.G[d] + row * GH, L.dY + row * DH + d * H, dhRec_, dhDirect_,
                            s == 0 ? nullptr : L.Y + static_cast<size_t>(tp) * N * DH + d * H, dG_ + row * GH};
          if (r.kind == CellKind::kLstm) {
            ex_.ForEach(static_cast<long long>(NH),
                        k::LstmBackward<T>{sg, L.C[d] + row * H,
                                           s == 0 ? nullptr : L.C[d] + static_cast<size_t>(tp) * N * H, dc_, P,
                                           P ? dP_ : nullptr, T(r.cellClip),
                                           L.K[d] ? L.K[d] + row * GH : nullptr, r.inputForget});
          } else if (r.kind == CellKind::kRnn) {
            ex_.ForEach(static_cast<long long>(NH), k::RnnBackward<T>{sg, r.relu});
          } else if (lbr1) {
            ex_.ForEach(static_cast<long long>(NH), k::GruBackwardLbr1<T>{sg, L.RH[d] + row * H, dGr_ + row * GH});
          } else {
            ex_.ForEach(static_cast<long long>(NH), k::GruBackwardLbr0A<T>{sg});
            Gemm(false, false, N, H, H, T(1), dG_ + row * GH + 2 * H, GH, R + static_cast<size_t>(2) * H * H, H,
                 T(0), drh_, H);
            ex_.ForEach(static_cast<long long>(NH), k::GruBackwardLbr0B<T>{sg, drh_});
          }
          if (s == 0) break;  // nothing before the first processed step
          // dH₋ from the recurrent product, for the step processed next.
          if (lbr0) Gemm(false, false, N, H, 2 * H, T(1), dG_ + row * GH, GH, R, H, T(0), dhRec_, H);
          else Gemm(false, false, N, H, GH, T(1), dGr + row * GH, GH, R, H, T(0), dhRec_, H);
        }
        // Weight gradients: one product over all steps each.
        Gemm(true, false, GH, In, TN, T(1), dG_, GH, X, In, T(0), gW, In);
        // dR = Σ_t dGr[t]ᵀ · H₋[t]; H₋ of the first processed step is zero, so that step drops out
        // and the rest pair dGr rows with Y rows shifted by one step.
        const int shifted = (Tn - 1) * N;
        const T* dGs = dGr + (rev ? 0 : static_cast<size_t>(N) * GH);
        const T* Ys = L.Y + (rev ? static_cast<size_t>(N) * DH : 0) + d * H;
        const int dRrows = lbr0 ? 2 * H : GH;
        if (shifted > 0) Gemm(true, false, dRrows, H, shifted, T(1), dGs, GH, Ys, DH, T(0), gR, H);
        else ex_.Zero(gR, static_cast<size_t>(dRrows) * H);
        if (lbr0) {  // the h~ block reads r ⊙ H₋, kept in RH for every step
          Gemm(true, false, H, H, TN, T(1), dG_ + 2 * H, GH, L.RH[d], H, T(0), gR + static_cast<size_t>(2) * H * H, H);
        }
        Gemm(false, false, 1, GH, TN, T(1), ones_, TN, dG_, GH, T(0), gB, GH);
        Gemm(false, false, 1, GH, TN, T(1), ones_, TN, dGr, GH, T(0), gB + GH, GH);
        if (P) Gemm(false, false, 1, 3 * H, N, T(1), ones_, N, dP_, 3 * H, T(0), gP, 3 * H);
        if (dX) Gemm(false, false, TN, In, GH, T(1), dG_, GH, W, In, d == 0 ? T(0) : T(1), dX, In);
      }
    }
  }

  ModelDesc m_;
  LossDesc loss_;
  OptimizerDesc opt_;
  Exec& ex_;
  std::vector<ParamRange> ranges_;
  T* params_ = nullptr;
  T* grads_ = nullptr;
  T* mom_ = nullptr;
  T* vel_ = nullptr;
  T* scalars_ = nullptr;
  float* staging_ = nullptr;
  long long steps_ = 0;

  int capN_ = 0, capT_ = 0;
  size_t wsBytes_ = 0;
  std::vector<LayerBuf> layers_;
  std::vector<T*> dense_, dDense_;
  float* xf_ = nullptr;
  float* targets_ = nullptr;
  int32_t* len_ = nullptr;
  int32_t* labels_ = nullptr;
  T* x0_ = nullptr;
  T* tmp_ = nullptr;
  T* tmp2_ = nullptr;
  T* dG_ = nullptr;
  T* dGr_ = nullptr;
  T* dhRec_ = nullptr;
  T* dhDirect_ = nullptr;
  T* dc_ = nullptr;
  T* drh_ = nullptr;
  T* dP_ = nullptr;
  T* ones_ = nullptr;
  T* hLast_ = nullptr;
  T* dhLast_ = nullptr;
  T* rowLoss_ = nullptr;
  T* rowCorrect_ = nullptr;

  int N_ = 0, T_ = 0, rows_ = 0;
  double validCount_ = 1;
  double predictions_ = 0;
  bool predictOnly_ = false;
  const T* out_ = nullptr;
  std::vector<int32_t> hostLen_, labelsHost_;
};

template <typename T, typename Exec>
std::vector<float> StepCore<T, Exec>::LastOutput() {
  const int F = m_.outputSize();
  std::vector<T> dev(static_cast<size_t>(rows_) * F);
  ex_.Download(dev.data(), out_, dev.size());
  std::vector<float> out(dev.size());
  if (!m_.outputIsSequence()) {
    for (size_t i = 0; i < dev.size(); ++i) out[i] = static_cast<float>(dev[i]);
    return out;
  }
  for (int t = 0; t < T_; ++t)
    for (int n = 0; n < N_; ++n)
      for (int f = 0; f < F; ++f)
        out[(static_cast<size_t>(n) * T_ + t) * F + f] = static_cast<float>(dev[(static_cast<size_t>(t) * N_ + n) * F + f]);
  return out;
}

}  // namespace cuda
}  // namespace rnnx
