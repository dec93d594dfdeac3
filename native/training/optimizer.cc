#include "training/optimizer.h"

#include <algorithm>
#include <cmath>

#include "math/elementwise.h"

namespace rnnx {

template <typename T>
Optimizer<T>::Optimizer(const OptimizerConfig& config, size_t size) : c_(config), n_(size) {
  switch (c_.kind) {
    case OptimizerKind::kSgd:
      if (c_.momentum > 0) m_.assign(n_, T(0));
      break;
    case OptimizerKind::kRmsprop:
      v_.assign(n_, T(0));
      break;
    case OptimizerKind::kAdam:
    case OptimizerKind::kAdamW:
      m_.assign(n_, T(0));
      v_.assign(n_, T(0));
      break;
  }
}

template <typename T>
void Optimizer<T>::Reset() {
  std::fill(m_.begin(), m_.end(), T(0));
  std::fill(v_.begin(), v_.end(), T(0));
  t_ = 0;
}

template <typename T>
void Optimizer<T>::Apply(T* w, const T* g, double lrD, ThreadPool* pool) {
  ++t_;
  const T lrAll = static_cast<T>(lrD);
  const T epsAll = static_cast<T>(c_.epsilon);
  // Ranges of 4096 elements, assigned statically: the same split every step.
  const int chunk = 4096;
  const int chunks = static_cast<int>((n_ + chunk - 1) / chunk);
  T* wAll = w;
  const T* gAll = g;
  T* mAll = m_.data();
  T* vAll = v_.data();
  const OptimizerConfig c = c_;
  const double bc1 = 1.0 - std::pow(c.beta1, static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(c.beta2, static_cast<double>(t_));
  ForRows(pool, chunks, chunk, [&](int c0, int c1) {
    const size_t b = static_cast<size_t>(c0) * chunk, e = std::min(n_, static_cast<size_t>(c1) * chunk);
    // The four arrays never overlap; saying so lets the compiler vectorise the updates (SIMD sqrt
    // and division round exactly like scalar ones, so the results are the same bit for bit).
    T* __restrict w = wAll;
    T* __restrict m = mAll;
    T* __restrict v = vAll;
    const T* __restrict g = gAll;
    const T lr = lrAll, eps = epsAll;  // copies: loads through the lambda's references kept it scalar
    switch (c.kind) {
      case OptimizerKind::kSgd: {
        if (c.momentum > 0) {
          const T mu = static_cast<T>(c.momentum);
          for (size_t k = b; k < e; ++k) math::MomentumUpdate(w[k], m[k], g[k], lr, mu, c.nesterov);
        } else {
          for (size_t k = b; k < e; ++k) math::SgdUpdate(w[k], g[k], lr);
        }
        break;
      }
      case OptimizerKind::kRmsprop: {
        const T rho = static_cast<T>(c.rho);
        for (size_t k = b; k < e; ++k) math::RmspropUpdate(w[k], v[k], g[k], lr, rho, eps);
        break;
      }
      case OptimizerKind::kAdam:
      case OptimizerKind::kAdamW: {
        const T b1 = static_cast<T>(c.beta1), b2 = static_cast<T>(c.beta2);
        const T s1 = static_cast<T>(1.0 / bc1), s2 = static_cast<T>(1.0 / bc2);
        const T decay = c.kind == OptimizerKind::kAdamW ? static_cast<T>(1.0 - lrD * c.weightDecay) : T(1);
        for (size_t k = b; k < e; ++k) math::AdamUpdate(w[k], m[k], v[k], g[k], lr, b1, b2, s1, s2, eps, decay);
        break;
      }
    }
  });
}

template class Optimizer<float>;
template class Optimizer<double>;

}  // namespace rnnx
