// Optimizers updating the flat parameter buffer in place. State (moments) lives here, in native
// memory beside the trainer, with the layout of the parameter buffer.
//   SGD:     v = μ·v − lr·g;  w += v   (Nesterov: w += μ·v − lr·g)     (Keras' formulation)
//   RMSprop: s = ρ·s + (1−ρ)·g²;  w −= lr·g / (√s + ε)
//   Adam:    m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;  w −= lr·m̂ / (√v̂ + ε), bias-corrected
//   AdamW:   Adam plus decoupled decay w −= lr·λ·w before the step (Loshchilov & Hutter)
// The update is element-wise and split over fixed ranges, so it is deterministic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common.h"

namespace rnnx {

enum class OptimizerKind { kSgd, kRmsprop, kAdam, kAdamW };

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::kAdam;
  double momentum = 0;  // SGD
  bool nesterov = false;
  double rho = 0.9;  // RMSprop
  double beta1 = 0.9, beta2 = 0.999;
  double epsilon = 1e-7;
  double weightDecay = 0;  // AdamW
};

template <typename T>
class Optimizer {
 public:
  Optimizer(const OptimizerConfig& config, size_t size);
  // params, grads: [size]. lr: this step's learning rate (schedules are computed by the caller).
  void Apply(T* params, const T* grads, double lr, ThreadPool* pool);
  void Reset();
  // Copies of the moments and step count, so that a failed training step can be undone.
  struct Snapshot {
    std::vector<T> m, v;
    int64_t t = 0;
  };
  void Save(Snapshot* s) const {
    s->m = m_;
    s->v = v_;
    s->t = t_;
  }
  void Restore(const Snapshot& s) {
    m_ = s.m;
    v_ = s.v;
    t_ = s.t;
  }
  int64_t steps() const { return t_; }
  size_t stateBytes() const { return (m_.size() + v_.size()) * sizeof(T); }

 private:
  OptimizerConfig c_;
  size_t n_;
  std::vector<T> m_, v_;
  int64_t t_ = 0;
};

}  // namespace rnnx
