// Adapts the CUDA Trainer (backend.h) to the trainer's TrainerBackend interface. Plain C++:
// built with or without CUDA (without it, 'cuda' reports why and 'auto' picks the CPU).
#include "trainer_backend.h"

#include <algorithm>
#include <stdexcept>

#include "backend.h"

namespace rnnx {
namespace cuda {

std::string Unsupported(const NetworkDesc& d, const TrainConfig& c) {
  if (c.tbptt > 0) return "tbptt (truncated BPTT) = " + std::to_string(c.tbptt);
  if (c.stateful) return "stateful training";
  if (d.outputDropout > 0) return "dropout on the recurrent output = " + std::to_string(d.outputDropout);
  for (size_t i = 0; i < d.recurrent.size(); ++i) {
    const RecurrentLayerDesc& r = d.recurrent[i];
    const std::string f = "layers[" + std::to_string(i) + "].";
    if (r.dropout > 0) return f + "dropout = " + std::to_string(r.dropout);
    if (r.cell.recurrentDropout > 0) return f + "recurrentDropout = " + std::to_string(r.cell.recurrentDropout);
    if (r.cell.zoneoutH > 0) return f + "zoneoutH = " + std::to_string(r.cell.zoneoutH);
    if (r.cell.zoneoutC > 0) return f + "zoneoutC = " + std::to_string(r.cell.zoneoutC);
  }
  return "";
}

ModelDesc ToModelDesc(const NetworkDesc& d) {
  ModelDesc m;
  m.inputSize = d.inputSize;
  m.paramCount = d.paramCount;
  for (const RecurrentLayerDesc& r : d.recurrent) {
    RecurrentDesc o;
    o.kind = r.cell.kind == rnnx::CellKind::kLstm  ? CellKind::kLstm
             : r.cell.kind == rnnx::CellKind::kGru ? CellKind::kGru
                                                   : CellKind::kRnn;
    o.inputSize = r.cell.input;
    o.hidden = r.cell.hidden;
    o.directions = r.directions;
    o.reverse = r.reverse;
    o.returnSequences = r.returnSequences;
    o.relu = r.cell.relu;
    o.peepholes = r.cell.peepholes;
    o.inputForget = r.cell.inputForget;
    o.cellClip = r.cell.clip;
    o.linearBeforeReset = r.cell.linearBeforeReset != 0;
    o.offW = r.offW;
    o.offR = r.offR;
    o.offB = r.offB;
    o.offP = r.offP;
    m.recurrent.push_back(o);
  }
  for (const DenseLayerDesc& l : d.dense) {
    DenseDesc o;
    o.inputSize = l.input;
    o.units = l.units;
    o.act = static_cast<DenseAct>(static_cast<int>(l.activation));  // same order: none relu tanh sigmoid softmax
    o.offW = l.offW;
    o.offB = l.offb;
    m.dense.push_back(o);
  }
  return m;
}

OptimizerDesc ToOptimizer(const TrainConfig& c) {
  OptimizerDesc o;
  o.kind = static_cast<OptKind>(static_cast<int>(c.optimizer.kind));  // same order: sgd rmsprop adam adamw
  o.momentum = c.optimizer.momentum;
  o.nesterov = c.optimizer.nesterov;
  o.rho = c.optimizer.rho;
  o.beta1 = c.optimizer.beta1;
  o.beta2 = c.optimizer.beta2;
  o.epsilon = c.optimizer.epsilon;
  o.weightDecay = c.optimizer.weightDecay;
  o.l2[0] = c.l2Input;
  o.l2[1] = c.l2Recurrent;
  o.l2[2] = c.l2Bias;
  o.clipNorm = c.clipNorm;
  o.clipValue = c.clipValue;
  return o;
}

BatchView ToBatchView(const rnnx::BatchView& b) {
  BatchView v;
  v.batch = b.N;
  v.time = b.T;
  v.x = b.x;
  v.lengths = b.lengths;
  v.targets = b.values;
  v.labels = b.labels;
  return v;
}

LossDesc ToLoss(const LossConfig& c) {
  LossDesc loss;
  loss.kind = static_cast<LossKind>(static_cast<int>(c.kind));  // same order
  loss.huberDelta = c.huberDelta;
  return loss;
}

namespace {

class CudaTrainerBackend final : public TrainerBackend {
 public:
  CudaTrainerBackend(std::unique_ptr<Trainer> impl, const NetworkDesc& d, const TrainConfig& c, const float* params)
      : impl_(std::move(impl)), desc_(d), config_(c), params_(params, params + d.paramCount) {}

  const char* name() const override { return "cuda"; }
  void SetParams(const float* p) override {
    std::copy(p, p + params_.size(), params_.begin());
    impl_->SetParams(params_.data());
  }
  void GetParams(float* p) const override { std::copy(params_.begin(), params_.end(), p); }

  StepResult TrainStep(const rnnx::BatchView& b, double lr) override {
    OptimizerDesc o = ToOptimizer(config_);
    o.lr = lr;
    impl_->SetOptimizer(o);
    // All-or-nothing in the core: a non-finite loss, gradient or updated weight throws here
    // with the weights, moments and step count as they were.
    const StepStats s = Run([&] { return impl_->Step(View(b)); });
    next_.resize(params_.size());
    impl_->GetParams(next_.data());
    params_.swap(next_);
    ++steps_;
    return Result(s, 1);
  }

  StepResult Evaluate(const rnnx::BatchView& b) override {
    grads_.resize(desc_.paramCount);
    return Result(Run([&] { return impl_->Gradients(View(b), grads_.data()); }), 0);
  }

  void Predict(const float* x, int N, int T, const int32_t* lengths, float* y) override {
    Run([&] {
      impl_->Predict(x, N, T, lengths, y);
      return StepStats{};
    });
  }

  void ResetStates() override {}
  int stateBatch() const override { return 0; }
  size_t activationBytes() const override { return impl_->workspaceBytes(); }
  size_t backwardBytes() const override { return 0; }  // counted in activationBytes (one device workspace)
  size_t persistentBytes() const override { return 4 * desc_.paramCount * sizeof(float); }
  int64_t steps() const override { return steps_; }

 private:
  static BatchView View(const rnnx::BatchView& b) { return ToBatchView(b); }

  StepResult Result(const StepStats& s, int updates) const {
    StepResult r;
    r.loss = s.loss;
    r.count = s.count;
    r.correct = s.correct;
    r.predictions = s.predictions;
    r.gradNorm = s.gradNorm;
    r.updates = updates;
    return r;
  }

  // The core reports bad input as std::invalid_argument and a non-finite step as
  // std::range_error; the binding knows the trainer's own exception types.
  template <typename F>
  StepStats Run(F&& f) {
    try {
      return f();
    } catch (const std::range_error& e) {
      throw NonFiniteError(e.what());
    } catch (const std::invalid_argument& e) {
      throw InvalidArgument(e.what());
    }
  }

  std::unique_ptr<Trainer> impl_;
  NetworkDesc desc_;
  TrainConfig config_;
  std::vector<float> params_, next_;  // the weights on the device, and the step's result
  std::vector<float> grads_;
  int64_t steps_ = 0;
};

}  // namespace

std::unique_ptr<TrainerBackend> CreateBackendForDevice(const std::string& device, const NetworkDesc& desc,
                                                       const TrainConfig& config, const float* params, int threads,
                                                       std::string* why) {
  if (device == "cpu") return CreateCpuTrainer(desc, config, params, threads);
  if (device != "cuda" && device != "auto") {
    throw InvalidArgument("device must be one of \"cpu\", \"cuda\", \"auto\", got \"" + device + "\"");
  }
  const DeviceInfo info = Probe();
  const std::string missing = Unsupported(desc, config);
  if (device == "auto" && (!info.available || !missing.empty())) {
    if (why) *why = !info.available ? info.reason : "the CUDA backend does not support " + missing;
    return CreateCpuTrainer(desc, config, params, threads);
  }
  if (!info.available) throw InvalidArgument("device 'cuda' is not available: " + info.reason);
  if (!missing.empty()) {
    throw InvalidArgument("device 'cuda' does not support " + missing + " yet; use device 'cpu' (or 'auto')");
  }
  try {
    OptimizerDesc opt = ToOptimizer(config);
    auto impl = CreateCudaTrainer(ToModelDesc(desc), ToLoss(config.loss), opt);
    impl->SetParams(params);
    if (why) *why = impl->device();
    return std::make_unique<CudaTrainerBackend>(std::move(impl), desc, config, params);
  } catch (const std::invalid_argument& e) {
    throw InvalidArgument(std::string("device 'cuda': ") + e.what());
  }
}

}  // namespace cuda
}  // namespace rnnx
