// Small shared pieces of the native training core: errors, growable workspaces, enums and a
// row-parallel loop helper. Nothing here knows N-API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "gemm/thread_pool.h"

namespace rnnx {

// Thrown for invalid arguments (shapes, options, labels...). The binding turns it into a JS Error
// carrying the message, so every message names the field, the value and what was expected.
class InvalidArgument : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown when a step produced a non-finite loss or gradient: the update was NOT applied.
class NonFiniteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A workspace that only grows: Reserve(n) reallocates only when n exceeds the capacity, so after
// the first step of a given shape nothing is allocated (never inside the time loop).
template <typename T>
class Workspace {
 public:
  T* Reserve(size_t n) {
    if (n > data_.size()) data_.resize(n);
    return data_.data();
  }
  T* data() { return data_.data(); }
  const T* data() const { return data_.data(); }
  size_t bytes() const { return data_.size() * sizeof(T); }
  void Release() { std::vector<T>().swap(data_); }

 private:
  std::vector<T> data_;
};

enum class CellKind { kRnn, kLstm, kGru };
enum class Activation { kNone, kRelu, kTanh, kSigmoid, kSoftmax };

// Runs fn(rowBegin, rowEnd) over [0, rows), split statically over the pool's threads (or inline
// when there is no pool or too little work). Element-wise work only: no reductions across rows,
// so the split never changes results.
inline void ForRows(ThreadPool* pool, int rows, size_t workPerRow, const std::function<void(int, int)>& fn) {
  if (rows <= 0) return;
  if (pool == nullptr || pool->size() <= 1 || static_cast<size_t>(rows) * workPerRow < 65536) {
    fn(0, rows);
    return;
  }
  pool->ParallelFor(0, rows, 1, fn);
}

}  // namespace rnnx
