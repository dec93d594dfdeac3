// Argument unpacking and checking for the N-API binding, in one place: every JavaScript value
// the addon receives goes through these helpers, which throw Napi::Error naming the field, the
// value received and what was expected. Kernels never see an unchecked value.
#pragma once

#include <napi.h>

#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "training/network.h"
#include "training/trainer.h"

namespace rnnx {

// Stable `code`s of the errors the addon throws (src/native.ts lists them for JavaScript).
constexpr const char* kCodeInvalid = "RNNX_INVALID_ARGUMENT";
constexpr const char* kCodeNonFinite = "RNNX_NON_FINITE";
constexpr const char* kCodeState = "RNNX_INVALID_STATE";
constexpr const char* kCodeDetached = "RNNX_DETACHED";
constexpr const char* kCodeResource = "RNNX_RESOURCE";

Napi::Error MakeError(Napi::Env env, const std::string& message, const char* code);

// The message and code a native exception becomes in JavaScript (one table for every entry point):
// NonFiniteError / std::range_error → RNNX_NON_FINITE, InvalidArgument / std::invalid_argument →
// RNNX_INVALID_ARGUMENT, ThreadStartError / std::bad_alloc → RNNX_RESOURCE.
struct CoreError {
  std::string message;
  const char* code;
};
CoreError Classify(const std::exception_ptr& e);

// Runs f, turning native exceptions into JavaScript errors with a code.
template <typename F>
auto Guard(Napi::Env env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    const CoreError c = Classify(std::current_exception());
    throw MakeError(env, c.message, c.code);
  }
}

// Model description from the normalised ModelSpec and the ParamLayout of src/layers/params.ts.
NetworkDesc ParseNetwork(const Napi::Value& spec, const Napi::Value& layout);

// Training options (see src/native.ts NativeTrainOptions). outputDropout goes into desc.
TrainConfig ParseTrainConfig(const Napi::Value& options, NetworkDesc& desc, int* threads);

// A batch {x, batch, time, lengths?, y?} checked against the network: lengths, ranges, finite
// inputs and targets, labels in range. Every property is read before any pointer is taken, so a
// getter cannot detach a buffer already checked.
//   copy = false (synchronous calls): the view points into the JavaScript buffers, which no
//     JavaScript can touch until the call returns; Recheck() right before the kernels catches a
//     buffer detached by a getter or valueOf that ran during parsing.
//   copy = true (asynchronous steps): the view points into native copies owned here, so a buffer
//     transferred, detached or collected while the step runs on another thread is never touched.
//     The copy is made in the same pass as the finiteness check.
struct ParsedBatch {
  BatchView view;
  std::vector<float> xCopy, yCopy;
  std::vector<int32_t> lengthsCopy, labelsCopy;
  struct Borrowed {
    Napi::Reference<Napi::Value> ref;
    const void* data;
    size_t length;
    std::string field;
  };
  std::vector<Borrowed> borrowed;  // copy = false only
  // Throws RNNX_DETACHED naming the buffer when one changed since parsing.
  void Recheck(Napi::Env env) const;
};
ParsedBatch ParseBatch(const Napi::Value& batch, const NetworkDesc& desc, const TrainConfig& config, bool needTargets,
                       const char* where, bool copy);

// Throws RNNX_RESOURCE when a typed array of n elements could not exist (V8 aborts the process
// instead of throwing when asked for one).
void CheckTypedArrayLength(Napi::Env env, size_t n, const std::string& what);

// Throws RNNX_DETACHED when the typed array's buffer has been detached (transferred).
void CheckAttached(const Napi::Value& v, const std::string& field);

// Optimizer options (options.optimizer of src/native.ts), checked as the trainer checks them.
OptimizerConfig ParseOptimizerConfig(const Napi::Value& v, const std::string& where);

// A learning rate: a finite number >= 0.
double ParseLearningRate(const Napi::Value& v, const std::string& field);

// Float32Array / Float64Array views with a length check.
float* Float32Data(const Napi::Value& v, size_t expected, const std::string& field);
double* Float64Data(const Napi::Value& v, size_t expected, const std::string& field);

// Optional initial states [{h: Float32Array|Float64Array, c?}] per recurrent layer.
template <typename T>
StateSet<T> ParseStates(const Napi::Value& v, const NetworkDesc& desc, int N, const std::string& field);

}  // namespace rnnx
