// Dense (fully connected) layers of the head: z = a·W + b, out = act(z), with W [in, units] in
// the MatMul layout of the exported graph. Applied to [rows, in] where rows = T*N (per step,
// time-major) or N (last step).
#pragma once

#include "common.h"

namespace rnnx {

// out[r, :] = act(z[r, :]); softmax over the row.
template <typename T>
void ApplyActivation(Activation act, int rows, int cols, const T* z, T* out, ThreadPool* pool);

// dz = dOut ⊙ act'(z) given out = act(z) (softmax: its Jacobian-vector product). dz may alias dOut.
template <typename T>
void ActivationBackward(Activation act, int rows, int cols, const T* out, const T* dOut, T* dz, ThreadPool* pool);

// a: [rows, in] (row stride lda); W: [in, units]; b: [units]; z, out: [rows, units]
template <typename T>
void DenseForward(int rows, int in, int units, Activation act, const T* a, int lda, const T* W, const T* b, T* z,
                  T* out, ThreadPool* pool);

// dz: [rows, units] gradient of the pre-activation; gW [in, units], gb [units] added to;
// da: [rows, in] (row stride ldda) overwritten with the gradient of the input, or null.
template <typename T>
void DenseBackward(int rows, int in, int units, const T* a, int lda, const T* W, const T* dz, T* gW, T* gb, T* da,
                   int ldda, ThreadPool* pool);

}  // namespace rnnx
