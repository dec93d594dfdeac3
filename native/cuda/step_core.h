// The CUDA backend of the trainer (TrainerBackend, native/training/trainer.h), written once over an
// executor: CudaExec (GPU: cuBLAS for every product, one kernel launch per element-wise stage) or
// HostExec (exec_host.h: the CPU emulation the tests run without a GPU). It takes the trainer's
// own NetworkDesc, TrainConfig and BatchView and has the CPU step's semantics (trainer.cc,
// network.cc, native/cells): ONNX gate orders, sequence_lens masking, last-valid-step outputs,
// dropout / recurrent dropout / zoneout with the CPU's counter-based masks (random.h), truncated
// BPTT windows (one update each), stateful carry, L2, clipping, all-or-nothing steps.
//
// Memory: parameters, gradients, optimizer state and carried states live on the device for the
// backend's whole life (one flat buffer each, in the host Float32Array's layout). Workspaces grow
// to the largest batch seen and are reused. Host traffic per step: the batch in (x, lengths,
// targets; window lengths per TBPTT window) and the scalars (loss, Σg², correct, L2 sums,
// overflow flag) out, once per window. The weights cross only in SetParams / GetParams, which
// the binding calls when JavaScript changed or reads them; the learning rate is a kernel argument.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels.h"
#include "regularize.h"
#include "training/trainer.h"

namespace rnnx {
namespace cuda {

// kernels.h takes the enums as ints, in the trainer's order.
static_assert(static_cast<int>(Activation::kRelu) == 1 && static_cast<int>(Activation::kTanh) == 2 &&
                  static_cast<int>(Activation::kSigmoid) == 3,
              "BiasAct / ActGrad codes");
static_assert(static_cast<int>(LossKind::kMae) == 1 && static_cast<int>(LossKind::kCrossEntropy) == 3 &&
                  static_cast<int>(LossKind::kBinaryCrossEntropy) == 4,
              "LossRows codes");
static_assert(static_cast<int>(OptimizerKind::kRmsprop) == 1 && static_cast<int>(OptimizerKind::kAdamW) == 3,
              "OptimizerStep codes");

template <typename T, typename Exec>
class StepCore final : public TrainerBackend {
 public:
  StepCore(const NetworkDesc& desc, const TrainConfig& config, const float* params, const char* name,
           std::string description)
      : d_(desc), c_(config), name_(name), description_(std::move(description)) {
    d_.Validate();
    CheckLossActivation(d_, c_.loss);
    ranges_ = L2Regions(d_);
    const size_t P = d_.paramCount;
    params_ = ex_.template Alloc<T>(P);
    grads_ = ex_.template Alloc<T>(P);
    mom_ = ex_.template Alloc<T>(P);
    vel_ = ex_.template Alloc<T>(P);
    // [0] loss, [1] Σg², [2] correct, [3, 3 + ranges) L2 sums, [3 + ranges] the update's overflow flag.
    scalars_ = ex_.template Alloc<T>(4 + ranges_.size());
    if (!std::is_same<T, float>::value) staging_ = ex_.template Alloc<float>(P);
    SetParams(params);
  }

  ~StepCore() override {
    FreeWorkspace();
    FreeStates();
    Release<T>({params_, grads_, mom_, vel_, scalars_, saved_[0], saved_[1], saved_[2]});
    if (staging_) ex_.Free(staging_);
  }

  StepCore(const StepCore&) = delete;
  StepCore& operator=(const StepCore&) = delete;

  const char* name() const override { return name_; }
  std::string description() const override { return description_; }
  bool residentParams() const override { return true; }

  // host [paramCount] → device. The optimizer state is kept.
  void SetParams(const float* host) override {
    if (staging_) {
      ex_.Upload(staging_, host, d_.paramCount);
      ex_.ForEach(d_.paramCount, k::Convert<T>{staging_, params_});
    } else {
      ex_.Upload(reinterpret_cast<float*>(params_), host, d_.paramCount);
    }
  }
  // device → host [paramCount]; blocks until the device is done.
  void GetParams(float* host) override { ToHost(host, params_); }

  StepResult TrainStep(const BatchView& b, double lr) override {
    CheckCarriedBatch(c_, stateN_, b.N);
    const int window = c_.tbptt > 0 ? std::min(c_.tbptt, b.T) : b.T;
    const bool carry = c_.stateful || c_.tbptt > 0;
    // More than one update per call: keep the state from before it on the device, to roll back.
    const bool snapshot = window < b.T;
    const int64_t savedSteps = steps_;
    const uint64_t savedMaskStep = maskStep_;
    const int savedStateN = stateN_;
    Upload(b);
    if (snapshot) Snapshot(true);
    try {
      StepResult total;
      bool haveState = c_.stateful && stateN_ == b.N;
      for (int t0 = 0; t0 < b.T; t0 += window) {
        const int Tw = std::min(window, b.T - t0);
        Window(b, t0, Tw);
        Forward(true, haveState, maskStep_++);
        LossForward();
        if (validCount_ > 0) {
          Backward();
          Update(total, lr);
        }
        if (carry) {
          SaveStates();
          haveState = true;
        }
      }
      if (total.count > 0) total.loss /= total.count;
      if (!c_.stateful) stateN_ = 0;
      else stateN_ = b.N;
      return total;
    } catch (...) {
      if (snapshot) Snapshot(false);
      steps_ = savedSteps;
      maskStep_ = savedMaskStep;
      stateN_ = savedStateN;
      throw;
    }
  }

  // Forward only: no backward pass, no gradient copy.
  StepResult Evaluate(const BatchView& b) override {
    Upload(b);
    Window(b, 0, b.T);
    Forward(false, false, 0);
    LossForward();
    T s[3];
    ex_.Download(s, scalars_, 3);
    StepResult r;
    r.count = validCount_;
    r.loss = validCount_ > 0 ? static_cast<double>(s[0]) : 0;
    r.correct = static_cast<double>(s[2]);
    r.predictions = predictions_;
    return r;
  }

  StepResult Gradients(const BatchView& b, float* grads) override {
    CheckCarriedBatch(c_, stateN_, b.N);
    Upload(b);
    Window(b, 0, b.T);
    Forward(true, c_.stateful && stateN_ == b.N, maskStep_);
    LossForward();
    if (validCount_ > 0) Backward();
    else ex_.Zero(grads_, d_.paramCount);
    const double penalty = PrepareGradients(0);
    std::vector<T> s(4 + ranges_.size());
    ex_.Download(s.data(), scalars_, s.size());
    ToHost(grads, grads_);
    StepResult r;
    r.count = validCount_;
    r.loss = (validCount_ > 0 ? static_cast<double>(s[0]) : 0) + Penalty(s, penalty);
    r.correct = static_cast<double>(s[2]);
    r.predictions = predictions_;
    r.gradNorm = std::sqrt(static_cast<double>(s[1]));
    return r;
  }

  std::vector<float> LastOutput() override;

  void Predict(const float* x, int N, int Tn, const int32_t* lengths, float* y) override {
    BatchView b;
    b.N = N;
    b.T = Tn;
    b.x = x;
    b.lengths = lengths;
    predictOnly_ = true;
    try {
      Upload(b);
      Window(b, 0, Tn);
      Forward(false, false, 0);
    } catch (...) {
      predictOnly_ = false;
      throw;
    }
    const std::vector<float> out = LastOutput();
    predictOnly_ = false;
    std::copy(out.begin(), out.end(), y);
  }

  void ResetStates() override { stateN_ = 0; }
  int stateBatch() const override { return stateN_; }
  size_t activationBytes() const override { return wsBytes_; }
  size_t backwardBytes() const override { return 0; }  // counted in activationBytes (one device workspace)
  size_t persistentBytes() const override { return 3 * d_.paramCount * sizeof(T) + stateBytes_; }
  int64_t steps() const override { return steps_; }
  Transfers transfers() const override { return ex_.transfers(); }

 private:
  struct DirBuf {
    T* G = nullptr;     // [T, N, G*H] input projections, then activated gates, then their gradients
    T* HS = nullptr;    // [T+1, N, H] state sequence (regularize.h)
    T* CS = nullptr;    // [T+1, N, H] LSTM cell sequence
    T* CRAW = nullptr;  // [T, N, H] LSTM cell before zoneout (zoneoutC only)
    T* RH = nullptr;    // [T, N, H] GRU: lbr=1 H₋·Rhᵀ + Rbh; lbr=0 r ⊙ H₋
    T* HIN = nullptr;   // [T, N, H] H₋ ⊙ recurrent mask (recurrentDropout only)
    T* recMask = nullptr;  // [N, H]
    uint8_t* K = nullptr;  // [T, N, 4H] LSTM clip: which pre-activations were clipped
    T* h0 = nullptr;    // [N, H] carried state (stateful / tbptt)
    T* c0 = nullptr;
    T* h0Saved = nullptr;  // the carried state before the step (rollback)
    T* c0Saved = nullptr;
  };
  struct LayerBuf {
    T* Y = nullptr;   // [T, N, D*H]
    T* dY = nullptr;  // [T, N, D*H]
    T* XD = nullptr;  // [T, N, I] input after dropout
    T* inMask = nullptr;  // [N, I]
    const T* X = nullptr;  // what the cells read this pass (X or XD)
    DirBuf dir[2];
  };

  template <typename U>
  void Release(std::initializer_list<U*> ps) {
    for (U* p : ps)
      if (p) ex_.Free(p);
  }

  template <typename U>
  U* WsAlloc(size_t n) {
    wsBytes_ += n * sizeof(U);
    return ex_.template Alloc<U>(n);
  }

  // device [paramCount] → host float.
  void ToHost(float* host, T* src) {
    if (staging_) {
      ex_.ForEach(d_.paramCount, k::ConvertBack<T>{src, staging_});
      ex_.Download(host, staging_, d_.paramCount);
    } else {
      ex_.Download(host, reinterpret_cast<const float*>(src), d_.paramCount);
    }
  }

  void FreeWorkspace() {
    for (LayerBuf& l : layers_) {
      Release<T>({l.Y, l.dY, l.XD, l.inMask});
      for (DirBuf& d : l.dir) {
        Release<T>({d.G, d.HS, d.CS, d.CRAW, d.RH, d.HIN, d.recMask});
        Release<uint8_t>({d.K});
      }
    }
    for (T* p : dense_) ex_.Free(p);
    for (T* p : dDense_) ex_.Free(p);
    dense_.clear();
    dDense_.clear();
    Release<T>({x0_, tmp_, tmp2_, dG_, dGr_, dhRec_, dhDirect_, dc_, drh_, dP_, ones_, hLast_, dhLast_, rowLoss_,
                 rowCorrect_, dYd_, dCell_, dhPass_, dcPass_, zeroNH_, outMask_, outDrop_});
    x0_ = tmp_ = tmp2_ = dG_ = dGr_ = dhRec_ = dhDirect_ = dc_ = drh_ = dP_ = ones_ = hLast_ = dhLast_ = rowLoss_ =
        rowCorrect_ = dYd_ = dCell_ = dhPass_ = dcPass_ = zeroNH_ = outMask_ = outDrop_ = nullptr;
    Release<float>({xf_, targets_});
    Release<int32_t>({len_, labels_, winLen_});
    xf_ = targets_ = nullptr;
    len_ = labels_ = winLen_ = nullptr;
    capN_ = capT_ = 0;
    wsBytes_ = 0;
    // Keep the layer list: carried states (DirBuf h0/c0) outlive the workspace.
    for (LayerBuf& l : layers_) {
      for (DirBuf& d : l.dir) {
        d.G = d.HS = d.CS = d.CRAW = d.RH = d.HIN = d.recMask = nullptr;
        d.K = nullptr;
      }
      l.Y = l.dY = l.XD = l.inMask = nullptr;
    }
  }

  void FreeStates() {
    for (LayerBuf& l : layers_)
      for (DirBuf& d : l.dir) {
        Release<T>({d.h0, d.c0, d.h0Saved, d.c0Saved});
        d.h0 = d.c0 = d.h0Saved = d.c0Saved = nullptr;
      }
    stateBytes_ = 0;
    stateRows_ = 0;
  }

  // Sizes the workspace for (N, T), growing only (the carried states are sized in SaveStates).
  void Reserve(int N, int Tn) {
    if (N <= capN_ && Tn <= capT_) return;
    const int nN = std::max(N, capN_), nT = std::max(Tn, capT_);
    FreeWorkspace();
    layers_.resize(d_.recurrent.size());
    capN_ = nN;
    capT_ = nT;
    const size_t TN = static_cast<size_t>(nT) * nN, NN = nN;
    int maxGH = 1, maxH = 1;
    bool needDYd = false, zone = false;
    for (size_t li = 0; li < d_.recurrent.size(); ++li) {
      const RecurrentLayerDesc& r = d_.recurrent[li];
      LayerBuf& l = layers_[li];
      const size_t H = r.cell.hidden, DH = r.directions * H, GH = r.cell.gates() * H, I = r.cell.input;
      const bool lstm = r.cell.kind == CellKind::kLstm;
      l.Y = WsAlloc<T>(TN * DH);
      l.dY = WsAlloc<T>(TN * DH);
      if (r.dropout > 0) {
        l.XD = WsAlloc<T>(TN * I);
        l.inMask = WsAlloc<T>(NN * I);
      }
      for (int d = 0; d < r.directions; ++d) {
        DirBuf& b = l.dir[d];
        b.G = WsAlloc<T>(TN * GH);
        b.HS = WsAlloc<T>(TN * H + NN * H);
        if (lstm) b.CS = WsAlloc<T>(TN * H + NN * H);
        if (lstm && r.cell.zoneoutC > 0) b.CRAW = WsAlloc<T>(TN * H);
        if (r.cell.kind == CellKind::kGru) b.RH = WsAlloc<T>(TN * H);
        if (lstm && r.cell.clip > 0) b.K = WsAlloc<uint8_t>(TN * GH);
        if (r.cell.recurrentDropout > 0) {
          b.HIN = WsAlloc<T>(TN * H);
          b.recMask = WsAlloc<T>(NN * H);
        }
      }
      needDYd = needDYd || r.directions == 2;
      zone = zone || r.cell.zoneoutH > 0 || r.cell.zoneoutC > 0;
      maxGH = std::max(maxGH, static_cast<int>(GH));
      maxH = std::max(maxH, static_cast<int>(H));
    }
    const RecurrentLayerDesc& last = d_.recurrent.back();
    const size_t lastDH = static_cast<size_t>(last.directions) * last.cell.hidden;
    const size_t rows = last.returnSequences ? TN : NN;
    for (const DenseLayerDesc& dl : d_.dense) {
      dense_.push_back(WsAlloc<T>(rows * dl.units));
      dDense_.push_back(WsAlloc<T>(rows * dl.units));
    }
    if (!last.returnSequences) {
      hLast_ = WsAlloc<T>(NN * lastDH);
      dhLast_ = WsAlloc<T>(NN * lastDH);
    }
    if (d_.outputDropout > 0 && !d_.dense.empty()) {
      outMask_ = WsAlloc<T>(rows * lastDH);
      outDrop_ = WsAlloc<T>(rows * lastDH);
    }
    xf_ = WsAlloc<float>(TN * d_.inputSize);
    x0_ = WsAlloc<T>(TN * d_.inputSize);
    const int F = d_.outputSize();
    targets_ = WsAlloc<float>(rows * F);
    labels_ = WsAlloc<int32_t>(rows);
    len_ = WsAlloc<int32_t>(NN);
    winLen_ = WsAlloc<int32_t>(NN);
    tmp_ = WsAlloc<T>(NN * maxGH);
    tmp2_ = WsAlloc<T>(NN * maxH);
    dG_ = WsAlloc<T>(TN * maxGH);
    dGr_ = WsAlloc<T>(TN * maxGH);
    dhRec_ = WsAlloc<T>(NN * maxH);
    dhDirect_ = WsAlloc<T>(NN * maxH);
    dc_ = WsAlloc<T>(NN * maxH);
    drh_ = WsAlloc<T>(NN * maxH);
    dP_ = WsAlloc<T>(NN * 3 * maxH);
    if (needDYd) dYd_ = WsAlloc<T>(TN * maxH);
    if (zone) {
      dCell_ = WsAlloc<T>(NN * maxH);
      dhPass_ = WsAlloc<T>(NN * maxH);
      dcPass_ = WsAlloc<T>(NN * maxH);
      zeroNH_ = WsAlloc<T>(NN * maxH);  // stays zero
    }
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

  // The batch to the device: x, lengths and the targets, once per call (the binding checked
  // every value: lengths in 1..T, labels in range at valid steps, finite inputs and targets).
  void Upload(const BatchView& b) {
    const int N = b.N, Tn = b.T;
    if (N <= 0 || Tn <= 0) throw InvalidArgument("batch must have N > 0 and T > 0");
    Reserve(N, Tn);
    N_ = N;
    batchT_ = Tn;
    const size_t TN = static_cast<size_t>(N) * Tn;
    ex_.Upload(xf_, b.x, TN * d_.inputSize);
    hostLen_.assign(N, Tn);
    if (b.lengths) std::copy(b.lengths, b.lengths + N, hostLen_.begin());
    ex_.Upload(len_, hostLen_.data(), N);
    if (predictOnly_) return;
    const bool seq = d_.sequenceOutput();
    const int F = d_.outputSize();
    const size_t rows = seq ? TN : static_cast<size_t>(N);
    if (c_.loss.kind == LossKind::kCrossEntropy) {
      if (!b.labels) throw InvalidArgument("cross-entropy needs integer labels");
      // Padded labels may hold anything: clamp them so the kernel never indexes out of range.
      labelsHost_.assign(b.labels, b.labels + rows);
      for (int32_t& l : labelsHost_) l = l < 0 || l >= F ? 0 : l;
      ex_.Upload(labels_, labelsHost_.data(), rows);
    } else {
      if (!b.values) throw InvalidArgument("this loss needs float targets");
      ex_.Upload(targets_, b.values, rows * F);
    }
  }

  // Selects steps [t0, t0 + Tw) of the uploaded batch: time-major input, window lengths, the
  // loss normaliser. Only the window lengths cross (and only for a window of a longer batch).
  void Window(const BatchView& b, int t0, int Tw) {
    const int N = N_;
    T_ = Tw;
    t0_ = t0;
    const size_t TN = static_cast<size_t>(N) * Tw;
    ex_.ForEach(static_cast<long long>(TN * d_.inputSize),
                k::ToTimeMajor<T>{xf_ + static_cast<size_t>(t0) * d_.inputSize, x0_, N, b.T, d_.inputSize});
    winHost_.resize(N);
    for (int n = 0; n < N; ++n) winHost_[n] = std::max(0, std::min(hostLen_[n] - t0, Tw));
    if (Tw == b.T) {
      wlen_ = len_;
    } else {
      ex_.Upload(winLen_, winHost_.data(), N);
      wlen_ = winLen_;
    }
    const bool seq = d_.sequenceOutput();
    long long valid = 0;
    for (int n = 0; n < N; ++n) valid += seq ? winHost_[n] : 1;
    const bool perElement = c_.loss.kind != LossKind::kCrossEntropy;
    validCount_ = static_cast<double>(valid) * (perElement ? d_.outputSize() : 1);
    predictions_ = LogitsTop() ? validCount_ : 0;
  }

  // training: dropout / zoneout with the masks of mask step `step` (network.cc's keys).
  void Forward(bool training, bool haveState, uint64_t step) {
    const int N = N_, Tn = T_;
    const size_t TN = static_cast<size_t>(N) * Tn;
    training_ = training;
    maskStep_now_ = step;
    const T* cur = x0_;
    for (size_t l = 0; l < d_.recurrent.size(); ++l) {
      const RecurrentLayerDesc& r = d_.recurrent[l];
      LayerBuf& L = layers_[l];
      const int In = r.cell.input, H = r.cell.hidden, GH = r.cell.gates() * H, DH = r.directions * H;
      const size_t NH = static_cast<size_t>(N) * H;
      const uint32_t li = static_cast<uint32_t>(l);
      L.X = cur;
      if (training && r.dropout > 0) {
        const uint64_t key = MaskKey(c_.seed, step, li, 0, MaskPurpose::kInputDropout);
        ex_.ForEach(static_cast<long long>(N) * In, k::MaskFill<T>{L.inMask, key, r.dropout, T(1.0 / (1.0 - r.dropout))});
        ex_.ForEach(static_cast<long long>(TN) * In, k::MaskMul<T>{cur, L.XD, L.inMask, static_cast<long long>(N) * In});
        L.X = L.XD;
      }
      const bool lstm = r.cell.kind == CellKind::kLstm;
      const double pH = training ? r.cell.zoneoutH : 0, pC = training && lstm ? r.cell.zoneoutC : 0;
      for (int d = 0; d < r.directions; ++d) {
        DirBuf& B = L.dir[d];
        const bool rev = r.directions == 2 ? d == 1 : r.reverse;
        const T* W = params_ + r.offW + static_cast<size_t>(d) * GH * In;
        const T* R = params_ + r.offR + static_cast<size_t>(d) * GH * H;
        const T* bW = params_ + r.offB + static_cast<size_t>(d) * 2 * GH;
        const T* bR = bW + GH;
        const T* P = r.cell.peepholes ? params_ + r.offP + static_cast<size_t>(d) * 3 * H : nullptr;
        const bool masked = training && r.cell.recurrentDropout > 0;
        if (masked) {
          const uint64_t key = MaskKey(c_.seed, step, li, d, MaskPurpose::kRecurrentDropout);
          ex_.ForEach(static_cast<long long>(NH), k::MaskFill<T>{B.recMask, key, r.cell.recurrentDropout,
                                                                  T(1.0 / (1.0 - r.cell.recurrentDropout))});
        }
        const uint64_t keyH = MaskKey(c_.seed, step, li, d, MaskPurpose::kZoneoutH);
        const uint64_t keyC = MaskKey(c_.seed, step, li, d, MaskPurpose::kZoneoutC);
        // Initial states: the carried ones, or zeros.
        T* init = B.HS + (rev ? static_cast<size_t>(Tn) * NH : 0);
        if (haveState) ex_.Copy(init, B.h0, NH);
        else ex_.Zero(init, NH);
        if (lstm) {
          T* cinit = B.CS + (rev ? static_cast<size_t>(Tn) * NH : 0);
          if (haveState) ex_.Copy(cinit, B.c0, NH);
          else ex_.Zero(cinit, NH);
        }
        T* G = B.G;
        // Input projections of every step at once: G[T*N, GH] = X[T*N, In] · Wᵀ.
        Gemm(false, true, static_cast<int>(TN), GH, In, T(1), L.X, In, W, In, T(0), G, GH);
        for (int s = 0; s < Tn; ++s) {
          const int t = rev ? Tn - 1 - s : s;
          const size_t row = static_cast<size_t>(t) * N;
          T* hPrev = B.HS + (rev ? t + 1 : t) * NH;
          T* hOut = B.HS + (rev ? t : t + 1) * NH;
          const T* hin = hPrev;
          if (masked) {
            T* hm = B.HIN + row * H;
            ex_.ForEach(static_cast<long long>(NH), k::MaskMul<T>{hPrev, hm, B.recMask, static_cast<long long>(NH)});
            hin = hm;
          }
          k::StepIO<T> io{N, H, H, t, wlen_, G + row * GH, tmp_, bW, bR, hPrev, hOut};
          const int recRows = (r.cell.kind == CellKind::kGru && !r.cell.linearBeforeReset) ? 2 * H : GH;
          if (s == 0 && !haveState) ex_.Zero(tmp_, static_cast<size_t>(N) * GH);
          else Gemm(false, true, N, recRows, H, T(1), hin, H, R, H, T(0), tmp_, GH);
          const long long nh = static_cast<long long>(NH);
          T* cPrev = lstm ? B.CS + (rev ? t + 1 : t) * NH : nullptr;
          T* cOut = lstm ? B.CS + (rev ? t : t + 1) * NH : nullptr;
          if (lstm) {
            ex_.ForEach(nh, k::LstmForward<T>{io, cPrev, cOut, P, T(r.cell.clip), B.K ? B.K + row * GH : nullptr,
                                              r.cell.inputForget});
          } else if (r.cell.kind == CellKind::kRnn) {
            ex_.ForEach(nh, k::RnnForward<T>{io, r.cell.relu});
          } else if (r.cell.linearBeforeReset) {
            ex_.ForEach(nh, k::GruForwardLbr1<T>{io, B.RH + row * H});
          } else {
            T* rhp = B.RH + row * H;
            k::StepIO<T> ioA = io;
            ioA.hPrev = hin;  // r ⊙ H₋ reads the masked state (GruRowForward's hin)
            ex_.ForEach(nh, k::GruForwardLbr0A<T>{ioA, rhp});
            Gemm(false, true, N, H, H, T(1), rhp, H, R + static_cast<size_t>(2) * H * H, H, T(0), tmp2_, H);
            k::StepIO<T> io2 = io;
            io2.rh = tmp2_;
            ex_.ForEach(nh, k::GruForwardLbr0B<T>{io2});
          }
          ex_.ForEach(nh, k::StepFinish<T>{H, DH, t, wlen_, hPrev, hOut, cPrev, cOut,
                                            B.CRAW ? B.CRAW + row * H : nullptr, L.Y + row * DH + d * H, keyH, keyC,
                                            static_cast<uint64_t>(row) * H, pH, pC});
        }
      }
      cur = L.Y;
    }
    // Recurrent output: the whole last sequence, or the last valid step per row.
    const RecurrentLayerDesc& last = d_.recurrent.back();
    const int DH = last.directions * last.cell.hidden;
    const T* rec = layers_.back().Y;
    int rows = static_cast<int>(TN);
    if (!last.returnSequences) {
      ex_.ForEach(static_cast<long long>(N) * DH,
                  k::GatherLast<T>{layers_.back().Y, hLast_, wlen_, N, last.cell.hidden, last.directions,
                                   last.directions == 1 && last.reverse});
      rec = hLast_;
      rows = N;
    }
    rows_ = rows;
    headIn_ = rec;
    if (training && outMask_) {
      const long long count = static_cast<long long>(rows) * DH;
      const uint64_t key = MaskKey(c_.seed, step, kOutputMaskLayer, 0, MaskPurpose::kOutputDropout);
      ex_.ForEach(count, k::MaskFill<T>{outMask_, key, d_.outputDropout, T(1.0 / (1.0 - d_.outputDropout))});
      ex_.ForEach(count, k::MaskMul<T>{rec, outDrop_, outMask_, count});
      headIn_ = outDrop_;
    }
    const T* cur2 = headIn_;
    int width = DH;
    for (size_t i = 0; i < d_.dense.size(); ++i) {
      const DenseLayerDesc& dd = d_.dense[i];
      T* Z = dense_[i];
      Gemm(false, false, rows, dd.units, width, T(1), cur2, width, params_ + dd.offW, dd.units, T(0), Z, dd.units);
      const bool top = i + 1 == d_.dense.size();
      if (top && LogitsTop() && !predictOnly_) {  // the loss reads logits
        ex_.ForEach(static_cast<long long>(rows) * dd.units, k::BiasAct<T>{Z, params_ + dd.offb, dd.units, 0});
      } else if (dd.activation == Activation::kSoftmax) {
        ex_.ForEach(rows, k::SoftmaxRows<T>{Z, params_ + dd.offb, dd.units});
      } else {
        ex_.ForEach(static_cast<long long>(rows) * dd.units,
                    k::BiasAct<T>{Z, params_ + dd.offb, dd.units, static_cast<int>(dd.activation)});
      }
      cur2 = Z;
      width = dd.units;
    }
    out_ = cur2;
    logitsOut_ = LogitsTop() && !predictOnly_;
  }

  // The gradient buffer for the model output.
  T* OutputGrad() {
    if (!d_.dense.empty()) return dDense_.back();
    return d_.recurrent.back().returnSequences ? layers_.back().dY : dhLast_;
  }

  // Cross-entropy losses take logits: the top activation is folded into the loss.
  bool LogitsTop() const {
    return c_.loss.kind == LossKind::kCrossEntropy || c_.loss.kind == LossKind::kBinaryCrossEntropy;
  }

  void LossForward() {
    const bool seq = d_.sequenceOutput();
    const bool ce = c_.loss.kind == LossKind::kCrossEntropy;
    const size_t off = seq ? static_cast<size_t>(t0_) : 0;  // the window's first step in [N, T, ·] targets
    k::LossRows<T> f{out_,
                     OutputGrad(),
                     rowLoss_,
                     rowCorrect_,
                     ce ? nullptr : targets_ + off * d_.outputSize(),
                     ce ? labels_ + off : nullptr,
                     wlen_,
                     N_,
                     batchT_,
                     d_.outputSize(),
                     seq,
                     static_cast<int>(c_.loss.kind),
                     T(validCount_ > 0 ? 1.0 / validCount_ : 0.0),
                     T(c_.loss.huberDelta)};
    ex_.ForEach(rows_, f);
    ex_.Sum(rowLoss_, rows_, false, scalars_);
    ex_.Sum(rowCorrect_, rows_, false, scalars_ + 2);
  }

  void Backward() {
    const int N = N_, Tn = T_;
    const int TN = N * Tn;
    const RecurrentLayerDesc& last = d_.recurrent.back();
    const int lastDH = last.directions * last.cell.hidden;
    const int rows = rows_;
    const bool training = training_;
    T* dRec = last.returnSequences ? layers_.back().dY : dhLast_;
    // Dense layers, top down.
    for (int i = static_cast<int>(d_.dense.size()) - 1; i >= 0; --i) {
      const DenseLayerDesc& dd = d_.dense[i];
      T* dZ = dDense_[i];
      const T* A = dense_[i];
      const bool top = i == static_cast<int>(d_.dense.size()) - 1;
      if (!(top && LogitsTop())) {
        if (dd.activation == Activation::kSoftmax) ex_.ForEach(rows, k::SoftmaxGradRows<T>{A, dZ, dd.units});
        else if (dd.activation != Activation::kNone)
          ex_.ForEach(static_cast<long long>(rows) * dd.units, k::ActGrad<T>{A, dZ, static_cast<int>(dd.activation)});
      }
      const T* in = i == 0 ? headIn_ : dense_[i - 1];
      T* dIn = i == 0 ? dRec : dDense_[i - 1];
      const int inW = dd.input;
      Gemm(true, false, inW, dd.units, rows, T(1), in, inW, dZ, dd.units, T(0), grads_ + dd.offW, dd.units);
      Gemm(false, false, 1, dd.units, rows, T(1), ones_, rows, dZ, dd.units, T(0), grads_ + dd.offb, dd.units);
      Gemm(false, true, rows, inW, dd.units, T(1), dZ, dd.units, params_ + dd.offW, dd.units, T(0), dIn, inW);
    }
    if (training && outMask_ && !d_.dense.empty()) {
      const long long count = static_cast<long long>(rows) * lastDH;
      ex_.ForEach(count, k::MaskMul<T>{dRec, dRec, outMask_, count});
    }
    if (!last.returnSequences) {
      ex_.Zero(layers_.back().dY, static_cast<size_t>(TN) * lastDH);
      ex_.ForEach(static_cast<long long>(N) * lastDH,
                  k::ScatterLast<T>{dhLast_, layers_.back().dY, wlen_, N, last.cell.hidden, last.directions,
                                    last.directions == 1 && last.reverse});
    }
    // Recurrent layers, top down.
    for (int l = static_cast<int>(d_.recurrent.size()) - 1; l >= 0; --l) {
      const RecurrentLayerDesc& r = d_.recurrent[l];
      LayerBuf& L = layers_[l];
      T* dX = l == 0 ? nullptr : layers_[l - 1].dY;
      const int In = r.cell.input, H = r.cell.hidden, GH = r.cell.gates() * H, DH = r.directions * H;
      const bool lstm = r.cell.kind == CellKind::kLstm;
      const bool lbr1 = r.cell.kind == CellKind::kGru && r.cell.linearBeforeReset;
      const bool lbr0 = r.cell.kind == CellKind::kGru && !r.cell.linearBeforeReset;
      const size_t NH = static_cast<size_t>(N) * H;
      const bool masked = training && r.cell.recurrentDropout > 0;
      const double pH = training ? r.cell.zoneoutH : 0, pC = training && lstm ? r.cell.zoneoutC : 0;
      const bool zone = pH > 0 || pC > 0;
      for (int d = 0; d < r.directions; ++d) {
        DirBuf& B = L.dir[d];
        const bool rev = r.directions == 2 ? d == 1 : r.reverse;
        const T* W = params_ + r.offW + static_cast<size_t>(d) * GH * In;
        const T* R = params_ + r.offR + static_cast<size_t>(d) * GH * H;
        const T* P = r.cell.peepholes ? params_ + r.offP + static_cast<size_t>(d) * 3 * H : nullptr;
        T* gW = grads_ + r.offW + static_cast<size_t>(d) * GH * In;
        T* gR = grads_ + r.offR + static_cast<size_t>(d) * GH * H;
        T* gB = grads_ + r.offB + static_cast<size_t>(d) * 2 * GH;
        T* gP = r.cell.peepholes ? grads_ + r.offP + static_cast<size_t>(d) * 3 * H : nullptr;
        T* dGr = lbr1 ? dGr_ : dG_;
        const uint64_t keyH = MaskKey(c_.seed, maskStep_now_, static_cast<uint32_t>(l), d, MaskPurpose::kZoneoutH);
        const uint64_t keyC = MaskKey(c_.seed, maskStep_now_, static_cast<uint32_t>(l), d, MaskPurpose::kZoneoutC);
        // This direction's output gradient, [T, N, H] contiguous (the cell kernels read it with
        // the state's row stride H).
        const T* dYd = L.dY;
        if (r.directions == 2) {
          ex_.ForEach(static_cast<long long>(TN) * H, k::SliceCols<T>{L.dY, dYd_, H, DH, d * H});
          dYd = dYd_;
        }
        ex_.Zero(dhRec_, NH);
        ex_.Zero(dhDirect_, NH);
        ex_.Zero(dc_, NH);
        if (zone) {
          ex_.Zero(dhPass_, NH);
          ex_.Zero(dcPass_, NH);
        }
        if (P) ex_.Zero(dP_, NH * 3);
        for (int s = Tn - 1; s >= 0; --s) {
          const int t = rev ? Tn - 1 - s : s;
          const size_t row = static_cast<size_t>(t) * N;
          const T* hPrev = B.HS + (rev ? t + 1 : t) * NH;
          const T* hin = masked ? B.HIN + row * H : hPrev;
          k::StepGrad<T> sg{N, H, H, t, wlen_, B.G + row * GH, dYd + row * H, dhRec_, dhDirect_, hPrev,
                            dG_ + row * GH};
          if (zone) {
            ex_.ForEach(static_cast<long long>(NH),
                        k::ZoneoutGrad<T>{H, H, t, wlen_, dYd + row * H, dhRec_, dhDirect_, dhPass_, dCell_,
                                          lstm ? dc_ : nullptr, lstm ? dcPass_ : nullptr, keyH, keyC,
                                          static_cast<uint64_t>(row) * H, pH, pC});
            sg.dy = dCell_;
            sg.dhRec = zeroNH_;
          }
          if (lstm) {
            const T* cNew = B.CRAW ? B.CRAW + row * H : B.CS + (rev ? t : t + 1) * NH;
            ex_.ForEach(static_cast<long long>(NH),
                        k::LstmBackward<T>{sg, cNew, B.CS + (rev ? t + 1 : t) * NH, dc_, P, P ? dP_ : nullptr,
                                           T(r.cell.clip), B.K ? B.K + row * GH : nullptr, r.cell.inputForget});
          } else if (r.cell.kind == CellKind::kRnn) {
            ex_.ForEach(static_cast<long long>(NH), k::RnnBackward<T>{sg, r.cell.relu});
          } else if (lbr1) {
            ex_.ForEach(static_cast<long long>(NH), k::GruBackwardLbr1<T>{sg, B.RH + row * H, dGr_ + row * GH});
          } else {
            ex_.ForEach(static_cast<long long>(NH), k::GruBackwardLbr0A<T>{sg});
            Gemm(false, false, N, H, H, T(1), dG_ + row * GH + 2 * H, GH, R + static_cast<size_t>(2) * H * H, H,
                 T(0), drh_, H);
            if (masked) {
              ex_.ForEach(static_cast<long long>(NH), k::GruResetGradMasked<T>{H, t, wlen_, B.G + row * GH,
                                                                                dG_ + row * GH, drh_, hin,
                                                                                B.recMask, dhDirect_});
            } else {
              ex_.ForEach(static_cast<long long>(NH), k::GruBackwardLbr0B<T>{sg, drh_});
            }
          }
          if (s == 0) break;  // nothing before the first processed step (the initial state is a constant)
          // dH₋ from the recurrent product, for the step processed next; dropout scales that path only.
          if (lbr0) Gemm(false, false, N, H, 2 * H, T(1), dG_ + row * GH, GH, R, H, T(0), dhRec_, H);
          else Gemm(false, false, N, H, GH, T(1), dGr + row * GH, GH, R, H, T(0), dhRec_, H);
          if (masked) ex_.ForEach(static_cast<long long>(NH), k::MaskMul<T>{dhRec_, dhRec_, B.recMask, static_cast<long long>(NH)});
        }
        // Weight gradients: one product over all steps each. H₋ of every step in real-time order
        // is contiguous in HS (or HIN with recurrent dropout).
        Gemm(true, false, GH, In, TN, T(1), dG_, GH, L.X, In, T(0), gW, In);
        const T* hPrevAll = masked ? B.HIN : B.HS + (rev ? NH : 0);
        Gemm(true, false, lbr0 ? 2 * H : GH, H, TN, T(1), dGr, GH, hPrevAll, H, T(0), gR, H);
        if (lbr0) {  // the h~ block reads r ⊙ H₋, kept in RH for every step
          Gemm(true, false, H, H, TN, T(1), dG_ + 2 * H, GH, B.RH, H, T(0), gR + static_cast<size_t>(2) * H * H, H);
        }
        Gemm(false, false, 1, GH, TN, T(1), ones_, TN, dG_, GH, T(0), gB, GH);
        Gemm(false, false, 1, GH, TN, T(1), ones_, TN, dGr, GH, T(0), gB + GH, GH);
        if (P) Gemm(false, false, 1, 3 * H, N, T(1), ones_, N, dP_, 3 * H, T(0), gP, 3 * H);
        if (dX) Gemm(false, false, TN, In, GH, T(1), dG_, GH, W, In, d == 0 ? T(0) : T(1), dX, In);
      }
      if (dX && training && r.dropout > 0) {
        const long long NI = static_cast<long long>(N) * In;
        ex_.ForEach(static_cast<long long>(TN) * In, k::MaskMul<T>{dX, dX, L.inMask, NI});
      }
    }
  }

  // L2 terms and clipping by value (trainer.cc's order), then Σg² into scalars_[1]. Returns 0; the
  // L2 sums land in scalars_[3 + i] (Penalty adds them up after the download).
  double PrepareGradients(double clipValue) {
    const bool anyL2 = c_.l2Input > 0 || c_.l2Recurrent > 0 || c_.l2Bias > 0;
    if (anyL2 || clipValue > 0) {
      for (size_t i = 0; i < ranges_.size(); ++i) {
        const L2Region& r = ranges_[i];
        const double lambda = Lambda(r.group);
        if (lambda > 0) ex_.Sum(params_ + r.offset, r.size, true, scalars_ + 3 + i);
        ex_.ForEach(static_cast<long long>(r.size),
                    k::PrepareGrad<T>{params_ + r.offset, grads_ + r.offset, T(lambda), T(clipValue)});
      }
    }
    ex_.Sum(grads_, d_.paramCount, true, scalars_ + 1);
    return 0;
  }

  double Lambda(int group) const { return group == 0 ? c_.l2Input : group == 1 ? c_.l2Recurrent : c_.l2Bias; }

  double Penalty(const std::vector<T>& s, double base) const {
    double penalty = base;
    for (size_t i = 0; i < ranges_.size(); ++i) {
      const double lambda = Lambda(ranges_[i].group);
      if (lambda > 0) penalty += lambda * static_cast<double>(s[3 + i]);
    }
    return penalty;
  }

  // One window's update: L2, clipping, the optimizer (all on the device), then the one download
  // of the window's scalars. A non-finite loss, gradient or updated weight applies nothing.
  void Update(StepResult& total, double lr) {
    PrepareGradients(c_.clipValue);
    const OptimizerConfig& o = c_.optimizer;
    const long long t = steps_ + 1;
    const T s1 = static_cast<T>(1.0 / (1.0 - std::pow(o.beta1, static_cast<double>(t))));
    const T s2 = static_cast<T>(1.0 / (1.0 - std::pow(o.beta2, static_cast<double>(t))));
    T* overflow = scalars_ + 3 + ranges_.size();
    ex_.Zero(overflow, 1);
    // AdamW's decay 1 − lr·λ rounded from float64, as the CPU optimizer rounds it.
    const T decay = static_cast<T>(o.kind == OptimizerKind::kAdamW ? 1.0 - lr * o.weightDecay : 1.0);
    k::OptimizerStep<T> f{params_, grads_, mom_, vel_, scalars_, static_cast<int>(o.kind), T(lr), T(o.momentum),
                          T(o.rho), T(o.beta1), T(o.beta2), T(o.epsilon), decay, T(c_.clipNorm), s1, s2,
                          o.nesterov, overflow};
    ex_.ForEach(static_cast<long long>(d_.paramCount), k::CheckUpdate<T>{f});
    ex_.ForEach(static_cast<long long>(d_.paramCount), f);
    std::vector<T> s(4 + ranges_.size());
    ex_.Download(s.data(), scalars_, s.size());
    const double loss = static_cast<double>(s[0]) + Penalty(s, 0);
    const double norm = std::sqrt(static_cast<double>(s[1]));
    if (!std::isfinite(loss) || !std::isfinite(norm)) {
      throw NonFiniteError(std::string("non-finite ") + (std::isfinite(loss) ? "gradient" : "loss") + " (loss " +
                           std::to_string(loss) + ", gradient norm " + std::to_string(norm) + ") at training step " +
                           std::to_string(t) +
                           ": the step was rolled back, the update was not applied and the weights are the last good ones");
    }
    if (s.back() != T(0)) {
      std::ostringstream msg;
      msg << "non-finite weight after the update at training step " << t << " with learning rate " << lr
          << ": the update overflowed float32; the step was rolled back and the weights are the last good ones";
      throw NonFiniteError(msg.str());
    }
    steps_ = t;
    total.gradNorm = norm;
    total.updates += 1;
    total.loss += loss * validCount_;  // normalised by the caller
    total.count += validCount_;
    total.correct += static_cast<double>(s[2]);
    total.predictions += predictions_;
  }

  // Final states of the window (HS / CS at the last slot; forward layers only) → the carried
  // state, [N, H] per layer and direction (N is fixed while a state is carried: CheckCarriedBatch).
  void SaveStates() {
    if (stateRows_ < N_) {
      FreeStates();
      for (size_t l = 0; l < d_.recurrent.size(); ++l) {
        const RecurrentLayerDesc& r = d_.recurrent[l];
        const size_t NH = static_cast<size_t>(N_) * r.cell.hidden;
        const bool lstm = r.cell.kind == CellKind::kLstm;
        for (int d = 0; d < r.directions; ++d) {
          DirBuf& B = layers_[l].dir[d];
          B.h0 = ex_.template Alloc<T>(NH);
          B.h0Saved = ex_.template Alloc<T>(NH);
          if (lstm) {
            B.c0 = ex_.template Alloc<T>(NH);
            B.c0Saved = ex_.template Alloc<T>(NH);
          }
          stateBytes_ += (lstm ? 4 : 2) * NH * sizeof(T);
        }
      }
      stateRows_ = N_;
    }
    for (size_t l = 0; l < d_.recurrent.size(); ++l) {
      const RecurrentLayerDesc& r = d_.recurrent[l];
      const size_t NH = static_cast<size_t>(N_) * r.cell.hidden;
      for (int d = 0; d < r.directions; ++d) {
        DirBuf& B = layers_[l].dir[d];
        ex_.Copy(B.h0, B.HS + static_cast<size_t>(T_) * NH, NH);
        if (B.c0) ex_.Copy(B.c0, B.CS + static_cast<size_t>(T_) * NH, NH);
      }
    }
  }

  // save: copy weights, moments and carried states aside (device to device); !save: put them back.
  void Snapshot(bool save) {
    const size_t P = d_.paramCount;
    T* live[3] = {params_, mom_, vel_};
    for (int i = 0; i < 3; ++i) {
      if (!saved_[i]) saved_[i] = ex_.template Alloc<T>(P);
      if (save) ex_.Copy(saved_[i], live[i], P);
      else ex_.Copy(live[i], saved_[i], P);
    }
    for (size_t l = 0; l < layers_.size() && stateRows_ > 0; ++l) {
      const size_t NH = static_cast<size_t>(stateRows_) * d_.recurrent[l].cell.hidden;
      for (DirBuf& B : layers_[l].dir) {
        if (!B.h0) continue;
        if (save) ex_.Copy(B.h0Saved, B.h0, NH);
        else ex_.Copy(B.h0, B.h0Saved, NH);
        if (B.c0) {
          if (save) ex_.Copy(B.c0Saved, B.c0, NH);
          else ex_.Copy(B.c0, B.c0Saved, NH);
        }
      }
    }
  }

  Exec ex_;  // first: everything below is allocated through it
  NetworkDesc d_;
  TrainConfig c_;
  const char* name_;
  std::string description_;
  std::vector<L2Region> ranges_;
  T* params_ = nullptr;
  T* grads_ = nullptr;
  T* mom_ = nullptr;
  T* vel_ = nullptr;
  T* scalars_ = nullptr;
  T* saved_[3] = {nullptr, nullptr, nullptr};
  float* staging_ = nullptr;
  int64_t steps_ = 0;
  uint64_t maskStep_ = 0;
  int stateN_ = 0;
  int stateRows_ = 0;  // rows the carried-state buffers hold
  size_t stateBytes_ = 0;

  int capN_ = 0, capT_ = 0;
  size_t wsBytes_ = 0;
  std::vector<LayerBuf> layers_;
  std::vector<T*> dense_, dDense_;
  float* xf_ = nullptr;
  float* targets_ = nullptr;
  int32_t* len_ = nullptr;
  int32_t* winLen_ = nullptr;
  const int32_t* wlen_ = nullptr;  // lengths of the current window (len_ or winLen_)
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
  T* dYd_ = nullptr;
  T* dCell_ = nullptr;
  T* dhPass_ = nullptr;
  T* dcPass_ = nullptr;
  T* zeroNH_ = nullptr;
  T* outMask_ = nullptr;
  T* outDrop_ = nullptr;

  int N_ = 0, T_ = 0, batchT_ = 0, t0_ = 0, rows_ = 0;
  double validCount_ = 1;
  double predictions_ = 0;
  bool predictOnly_ = false;
  bool training_ = false;
  bool logitsOut_ = false;
  uint64_t maskStep_now_ = 0;
  const T* headIn_ = nullptr;
  const T* out_ = nullptr;
  std::vector<int32_t> hostLen_, winHost_, labelsHost_;
};

template <typename T, typename Exec>
std::vector<float> StepCore<T, Exec>::LastOutput() {
  const int F = d_.outputSize();
  std::vector<T> dev(static_cast<size_t>(rows_) * F);
  if (!out_) return std::vector<float>();
  ex_.Download(dev.data(), out_, dev.size());
  // The loss read logits: apply the output activation the forward pass left out, on the host.
  const Activation act = d_.outputActivation();
  if (logitsOut_ && act == Activation::kSoftmax) {
    for (int r = 0; r < rows_; ++r) math::SoftmaxRow(dev.data() + static_cast<size_t>(r) * F, dev.data() + static_cast<size_t>(r) * F, F);
  } else if (logitsOut_ && act == Activation::kSigmoid) {
    for (T& v : dev) v = math::Sigmoid(v);
  }
  std::vector<float> out(dev.size());
  if (!d_.sequenceOutput()) {
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
