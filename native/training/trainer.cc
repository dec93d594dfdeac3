// CPU backend of the training step and the gradient-only entry point (see trainer.h).
#include "training/trainer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <string>

#include "gemm/thread_pool.h"
#include "math/elementwise.h"

namespace rnnx {

std::vector<L2Region> L2Regions(const NetworkDesc& d) {
  std::vector<L2Region> out;
  for (const RecurrentLayerDesc& L : d.recurrent) {
    const size_t D = L.directions, H = L.cell.hidden, GH = L.cell.gates() * H, I = L.cell.input;
    out.push_back({L.offW, D * GH * I, 0});
    out.push_back({L.offR, D * GH * H, 1});
    out.push_back({L.offB, D * 2 * GH, 2});
    if (L.cell.peepholes) out.push_back({L.offP, D * 3 * H, 1});
  }
  for (const DenseLayerDesc& L : d.dense) {
    out.push_back({L.offW, static_cast<size_t>(L.input) * L.units, 0});
    out.push_back({L.offb, static_cast<size_t>(L.units), 2});
  }
  return out;
}

void CheckLossActivation(const NetworkDesc& desc, const LossConfig& loss) {
  if (LossAcceptsActivation(loss.kind, desc.outputActivation())) return;
  throw InvalidArgument(std::string("loss: ") +
                        (loss.kind == LossKind::kCrossEntropy
                             ? "crossentropy needs an output layer with softmax or no activation (logits)"
                             : "binaryCrossentropy needs an output layer with sigmoid or no activation (logits)"));
}

namespace {

// 1e+39 rather than std::to_string's 43 digits.
std::string Short(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// Adds 2λw to the gradients and returns the penalty Σ λ·w² (summed in order: deterministic).
template <typename T>
double AddL2(const TrainConfig& c, const std::vector<L2Region>& regions, const T* w, T* g) {
  double penalty = 0;
  for (const L2Region& r : regions) {
    const double lambda = r.group == 0 ? c.l2Input : r.group == 1 ? c.l2Recurrent : c.l2Bias;
    if (lambda <= 0) continue;
    const T twoL = static_cast<T>(2 * lambda);
    double s = 0;
    for (size_t k = r.offset; k < r.offset + r.size; ++k) {
      s += static_cast<double>(w[k]) * static_cast<double>(w[k]);
      g[k] = math::L2Grad(g[k], w[k], twoL);
    }
    penalty += lambda * s;
  }
  return penalty;
}

// Clips by value, then returns the global norm (before norm clipping) and scales by clipNorm.
template <typename T>
double ClipGradients(const TrainConfig& c, T* g, size_t n) {
  if (c.clipValue > 0) {
    const T v = static_cast<T>(c.clipValue);
    for (size_t k = 0; k < n; ++k) g[k] = math::ClipByValue(g[k], v);
  }
  // Four partial sums in a fixed order (deterministic, and vectorised: a single running sum is
  // bound by the latency of one addition per element).
  double part[4] = {0, 0, 0, 0};
  size_t k = 0;
  for (; k + 4 <= n; k += 4)
    for (int j = 0; j < 4; ++j) part[j] += static_cast<double>(g[k + j]) * static_cast<double>(g[k + j]);
  for (; k < n; ++k) part[0] += static_cast<double>(g[k]) * static_cast<double>(g[k]);
  const double norm = std::sqrt((part[0] + part[1]) + (part[2] + part[3]));
  if (c.clipNorm > 0 && std::isfinite(norm) && norm > c.clipNorm) {
    const T scale = static_cast<T>(c.clipNorm / norm);
    for (size_t k = 0; k < n; ++k) g[k] *= scale;
  }
  return norm;
}

TargetView Targets(const NetworkDesc& d, const BatchView& b, int t0, int Tw, const int32_t* lengths) {
  TargetView y;
  y.values = b.values;
  y.labels = b.labels;
  y.perStep = d.sequenceOutput();
  y.N = b.N;
  y.T = Tw;
  y.timeStride = b.T;
  y.t0 = t0;
  y.lengths = lengths;
  return y;
}

// A whole batch-first batch as the network's input window.
InputView WholeBatch(const float* x, int N, int T, const int32_t* lengths) {
  InputView in;
  in.x = x;
  in.N = N;
  in.T = T;
  in.timeStride = T;
  in.lengths = lengths;
  return in;
}

void Accumulate(StepResult& total, const LossStats& s, double windowLoss) {
  total.loss += windowLoss * s.count;  // normalised at the end
  total.count += s.count;
  total.correct += s.correct;
  total.predictions += s.predictions;
}

class CpuTrainer final : public TrainerBackend {
 public:
  CpuTrainer(const NetworkDesc& desc, const TrainConfig& config, const float* params, int threads)
      : desc_(desc),
        cfg_(config),
        params_(params, params + desc.paramCount),
        pool_(SharedPool(threads)),
        net_(desc, pool_.get()),
        opt_(config.optimizer, desc.paramCount),
        grads_(desc.paramCount),
        regions_(L2Regions(desc)) {
    CheckLossActivation(desc_, cfg_.loss);
  }

  const char* name() const override { return "cpu"; }
  std::string description() const override { return "cpu"; }
  void SetParams(const float* p) override { std::copy(p, p + params_.size(), params_.begin()); }
  void GetParams(float* p) override { std::copy(params_.begin(), params_.end(), p); }

  StepResult TrainStep(const BatchView& b, double lr) override {
    // Everything a step changes, so that a failure anywhere leaves the trainer as it was.
    savedParams_ = params_;
    opt_.Save(&savedOpt_);
    savedState_ = state_;
    const int savedStateN = stateN_;
    const uint64_t savedMaskStep = maskStep_;
    try {
      return TrainWindows(b, lr);
    } catch (...) {
      params_.swap(savedParams_);
      opt_.Restore(savedOpt_);
      state_.h.swap(savedState_.h);
      state_.c.swap(savedState_.c);
      stateN_ = savedStateN;
      maskStep_ = savedMaskStep;
      throw;
    }
  }

 private:
  void CheckStateBatch(int N) const { CheckCarriedBatch(cfg_, stateN_, N); }

  StepResult TrainWindows(const BatchView& b, double lr) {
    CheckStateBatch(b.N);
    const int window = cfg_.tbptt > 0 ? std::min(cfg_.tbptt, b.T) : b.T;
    const bool carry = cfg_.stateful || cfg_.tbptt > 0;
    bool haveState = cfg_.stateful && stateN_ == b.N;
    StepResult total;
    for (int t0 = 0; t0 < b.T; t0 += window) {
      const int Tw = std::min(window, b.T - t0);
      const int32_t* lengths = WindowLengths(b, t0, Tw);
      InputView in;
      in.x = b.x;
      in.N = b.N;
      in.T = Tw;
      in.timeStride = b.T;
      in.t0 = t0;
      in.lengths = lengths;
      MaskSettings masks;
      masks.training = true;
      masks.seed = cfg_.seed;
      masks.step = maskStep_++;
      PointState(haveState, b.N);
      net_.Forward(params_.data(), in, haveState ? &h0_ : nullptr, haveState ? &c0_ : nullptr, masks);
      lastN_ = b.N;
      lastT_ = Tw;
      const LossStats st = ComputeLoss<float>(cfg_.loss, desc_.outputActivation(), desc_.outputSize(), net_.outputPre(),
                                              net_.output(), Targets(desc_, b, t0, Tw, lengths), net_.outputGrad());
      if (st.count > 0) {
        std::fill(grads_.begin(), grads_.end(), 0.0f);
        net_.Backward(params_.data(), grads_.data());
        const double penalty = AddL2<float>(cfg_, regions_, params_.data(), grads_.data());
        const double loss = st.sum / st.count + penalty;
        const double norm = ClipGradients<float>(cfg_, grads_.data(), grads_.size());
        if (!std::isfinite(loss) || !std::isfinite(norm)) {
          throw NonFiniteError(std::string("non-finite ") + (std::isfinite(loss) ? "gradient" : "loss") + " (loss " +
                               std::to_string(loss) + ", gradient norm " + std::to_string(norm) + ") at training step " +
                               std::to_string(opt_.steps() + 1) +
                               ": the step was rolled back, the update was not applied and the weights are the last good ones");
        }
        opt_.Apply(params_.data(), grads_.data(), lr, pool_.get());
        // An update can overflow float32 even from finite gradients (a huge learning rate).
        const size_t bad = FirstNonFinite(params_.data(), params_.size());
        if (bad < params_.size()) {
          throw NonFiniteError("non-finite weight (params[" + std::to_string(bad) + "] = " +
                               std::to_string(params_[bad]) + ") after the update at training step " +
                               std::to_string(opt_.steps()) + " with learning rate " + Short(lr) +
                               ": the update overflowed float32; the step was rolled back and the weights are the "
                               "last good ones");
        }
        total.gradNorm = norm;
        total.updates += 1;
        Accumulate(total, st, loss);
      }
      if (carry) {
        SaveFinalStates(b.N);
        haveState = true;
      }
    }
    if (total.count > 0) total.loss /= total.count;
    if (!cfg_.stateful) stateN_ = 0;
    return total;
  }

 public:
  StepResult Gradients(const BatchView& b, float* grads) override {
    CheckStateBatch(b.N);
    const bool haveState = cfg_.stateful && stateN_ == b.N;
    const InputView in = WholeBatch(b.x, b.N, b.T, b.lengths);
    MaskSettings masks;
    masks.training = true;
    masks.seed = cfg_.seed;
    masks.step = maskStep_;  // the next step's masks; not advanced
    PointState(haveState, b.N);
    net_.Forward(params_.data(), in, haveState ? &h0_ : nullptr, haveState ? &c0_ : nullptr, masks);
    lastN_ = b.N;
    lastT_ = b.T;
    const LossStats st = ComputeLoss<float>(cfg_.loss, desc_.outputActivation(), desc_.outputSize(), net_.outputPre(),
                                            net_.output(), Targets(desc_, b, 0, b.T, b.lengths), net_.outputGrad());
    std::fill(grads, grads + desc_.paramCount, 0.0f);
    if (st.count > 0) net_.Backward(params_.data(), grads);
    StepResult r;
    r.loss = (st.count > 0 ? st.sum / st.count : 0) + AddL2<float>(cfg_, regions_, params_.data(), grads);
    r.count = st.count;
    r.correct = st.correct;
    r.predictions = st.predictions;
    double s = 0;
    for (size_t k = 0; k < desc_.paramCount; ++k) s += static_cast<double>(grads[k]) * grads[k];
    r.gradNorm = std::sqrt(s);
    return r;
  }

  std::vector<float> LastOutput() override {
    const size_t rows = desc_.sequenceOutput() ? static_cast<size_t>(lastN_) * lastT_ : lastN_;
    std::vector<float> y(rows * desc_.outputSize());
    if (lastN_ > 0) OutputBatchFirst(net_, lastN_, lastT_, y.data());
    return y;
  }

  StepResult Evaluate(const BatchView& b) override {
    InferenceForward(b.x, b.N, b.T, b.lengths);
    const LossStats st = ComputeLoss<float>(cfg_.loss, desc_.outputActivation(), desc_.outputSize(), net_.outputPre(),
                                            net_.output(), Targets(desc_, b, 0, b.T, b.lengths), nullptr);
    StepResult r;
    r.count = st.count;
    r.loss = st.count > 0 ? st.sum / st.count : 0;
    r.correct = st.correct;
    r.predictions = st.predictions;
    return r;
  }

  void Predict(const float* x, int N, int T, const int32_t* lengths, float* y) override {
    InferenceForward(x, N, T, lengths);
    OutputBatchFirst(net_, N, T, y);
  }

  void ResetStates() override { stateN_ = 0; }
  int stateBatch() const override { return stateN_; }
  size_t activationBytes() const override { return net_.activationBytes(); }
  size_t backwardBytes() const override { return net_.backwardBytes() + grads_.size() * sizeof(float); }
  size_t persistentBytes() const override {
    size_t b = opt_.stateBytes();
    for (const auto& v : state_.h) b += v.size() * sizeof(float);
    for (const auto& v : state_.c) b += v.size() * sizeof(float);
    return b;
  }
  int64_t steps() const override { return opt_.steps(); }

 private:
  const int32_t* WindowLengths(const BatchView& b, int t0, int Tw) {
    if (b.lengths == nullptr) return nullptr;
    lengths_.resize(b.N);
    for (int n = 0; n < b.N; ++n) lengths_[n] = std::max(0, std::min(b.lengths[n] - t0, Tw));
    return lengths_.data();
  }

  void InferenceForward(const float* x, int N, int T, const int32_t* lengths) {
    const InputView in = WholeBatch(x, N, T, lengths);
    MaskSettings masks;  // training = false: no dropout, no zoneout
    net_.Forward(params_.data(), in, nullptr, nullptr, masks);
    lastN_ = N;
    lastT_ = T;
  }

  void PointState(bool have, int N) {
    const size_t L = desc_.recurrent.size();
    h0_.assign(L, nullptr);
    c0_.assign(L, nullptr);
    if (!have) return;
    for (size_t l = 0; l < L; ++l) {
      h0_[l] = state_.h[l].data();
      if (!state_.c[l].empty()) c0_[l] = state_.c[l].data();
    }
    (void)N;
  }

  void SaveFinalStates(int N) {
    const size_t L = desc_.recurrent.size();
    state_.h.resize(L);
    state_.c.resize(L);
    for (size_t l = 0; l < L; ++l) {
      const RecurrentLayerDesc& R = desc_.recurrent[l];
      const size_t NH = static_cast<size_t>(N) * R.cell.hidden;
      state_.h[l].resize(R.directions * NH);
      if (R.cell.kind == CellKind::kLstm) state_.c[l].resize(R.directions * NH);
      for (int d = 0; d < R.directions; ++d) {
        std::memcpy(state_.h[l].data() + d * NH, net_.finalH(static_cast<int>(l), d), NH * sizeof(float));
        if (R.cell.kind == CellKind::kLstm)
          std::memcpy(state_.c[l].data() + d * NH, net_.finalC(static_cast<int>(l), d), NH * sizeof(float));
      }
    }
    stateN_ = N;
  }

  NetworkDesc desc_;
  TrainConfig cfg_;
  std::vector<float> params_, savedParams_;
  std::shared_ptr<ThreadPool> pool_;
  Network<float> net_;
  Optimizer<float> opt_;
  Optimizer<float>::Snapshot savedOpt_;
  StateSet<float> savedState_;
  std::vector<float> grads_;
  std::vector<L2Region> regions_;
  StateSet<float> state_;
  std::vector<const float*> h0_, c0_;
  std::vector<int32_t> lengths_;
  int stateN_ = 0;
  uint64_t maskStep_ = 0;
  int lastN_ = 0, lastT_ = 0;  // shape of the last forward pass (LastOutput)
};

}  // namespace

std::unique_ptr<TrainerBackend> CreateCpuTrainer(const NetworkDesc& desc, const TrainConfig& config,
                                                 const float* params, int threads) {
  return std::unique_ptr<TrainerBackend>(new CpuTrainer(desc, config, params, threads));
}

template <typename T>
void ForwardBatch(const NetworkDesc& desc, const T* params, const float* x, int N, int Tn, const int32_t* lengths,
                  T* y, ThreadPool* pool) {
  Network<T> net(desc, pool);
  net.Forward(params, WholeBatch(x, N, Tn, lengths), nullptr, nullptr, MaskSettings());
  OutputBatchFirst(net, N, Tn, y);
}

template void ForwardBatch<float>(const NetworkDesc&, const float*, const float*, int, int, const int32_t*, float*,
                                  ThreadPool*);
template void ForwardBatch<double>(const NetworkDesc&, const double*, const float*, int, int, const int32_t*, double*,
                                   ThreadPool*);

template <typename T>
StepResult ComputeGradients(const NetworkDesc& desc, const TrainConfig& config, const T* params,
                            const BatchView& b, bool training, const StateSet<T>* initial, T* grads,
                            StateSet<T>* finalOut, ThreadPool* pool) {
  CheckLossActivation(desc, config.loss);
  Network<T> net(desc, pool);
  std::vector<const T*> h0(desc.recurrent.size(), nullptr), c0(desc.recurrent.size(), nullptr);
  if (initial) {
    for (size_t l = 0; l < desc.recurrent.size(); ++l) {
      if (l < initial->h.size() && !initial->h[l].empty()) h0[l] = initial->h[l].data();
      if (l < initial->c.size() && !initial->c[l].empty()) c0[l] = initial->c[l].data();
    }
  }
  const InputView in = WholeBatch(b.x, b.N, b.T, b.lengths);
  MaskSettings masks;
  masks.training = training;
  masks.seed = config.seed;
  net.Forward(params, in, &h0, &c0, masks);
  const LossStats st = ComputeLoss<T>(config.loss, desc.outputActivation(), desc.outputSize(), net.outputPre(),
                                      net.output(), Targets(desc, b, 0, b.T, b.lengths), net.outputGrad());
  std::fill(grads, grads + desc.paramCount, T(0));
  if (st.count > 0) net.Backward(params, grads);
  const double penalty = AddL2<T>(config, L2Regions(desc), params, grads);
  StepResult r;
  r.count = st.count;
  r.loss = (st.count > 0 ? st.sum / st.count : 0) + penalty;
  r.correct = st.correct;
  r.predictions = st.predictions;
  if (finalOut) {
    const size_t L = desc.recurrent.size();
    finalOut->h.assign(L, {});
    finalOut->c.assign(L, {});
    for (size_t l = 0; l < L; ++l) {
      const RecurrentLayerDesc& R = desc.recurrent[l];
      const size_t NH = static_cast<size_t>(b.N) * R.cell.hidden;
      finalOut->h[l].resize(R.directions * NH);
      if (R.cell.kind == CellKind::kLstm) finalOut->c[l].resize(R.directions * NH);
      for (int d = 0; d < R.directions; ++d) {
        std::memcpy(finalOut->h[l].data() + d * NH, net.finalH(static_cast<int>(l), d), NH * sizeof(T));
        if (R.cell.kind == CellKind::kLstm)
          std::memcpy(finalOut->c[l].data() + d * NH, net.finalC(static_cast<int>(l), d), NH * sizeof(T));
      }
    }
  }
  return r;
}

template StepResult ComputeGradients<float>(const NetworkDesc&, const TrainConfig&, const float*, const BatchView&,
                                            bool, const StateSet<float>*, float*, StateSet<float>*, ThreadPool*);
template StepResult ComputeGradients<double>(const NetworkDesc&, const TrainConfig&, const double*, const BatchView&,
                                             bool, const StateSet<double>*, double*, StateSet<double>*, ThreadPool*);

}  // namespace rnnx
