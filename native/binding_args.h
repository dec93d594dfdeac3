// Argument unpacking and checking for the N-API binding, in one place: every JavaScript value
// the addon receives goes through these helpers, which throw Napi::Error naming the field, the
// value received and what was expected. Kernels never see an unchecked value.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "network.h"
#include "trainer.h"

namespace rnnx {

// Model description from the normalised ModelSpec and the ParamLayout of src/layers/params.ts.
NetworkDesc ParseNetwork(const Napi::Value& spec, const Napi::Value& layout);

// Training options (see src/native.ts NativeTrainOptions). outputDropout goes into desc.
TrainConfig ParseTrainConfig(const Napi::Value& options, NetworkDesc& desc, int* threads);

// A batch {x, batch, time, lengths?, y?} checked against the network: lengths, ranges, finite
// inputs and targets, labels in range. The typed arrays stay owned by JavaScript; `keep` receives
// references to them so an async step can hold them alive.
struct ParsedBatch {
  BatchView view;
  std::vector<Napi::Reference<Napi::Value>> keep;
};
ParsedBatch ParseBatch(const Napi::Value& batch, const NetworkDesc& desc, const TrainConfig& config, bool needTargets,
                       const char* where);

// Float32Array / Float64Array views with a length check.
float* Float32Data(const Napi::Value& v, size_t expected, const std::string& field);
double* Float64Data(const Napi::Value& v, size_t expected, const std::string& field);

// Optional initial states [{h: Float32Array|Float64Array, c?}] per recurrent layer.
template <typename T>
StateSet<T> ParseStates(const Napi::Value& v, const NetworkDesc& desc, int N, const std::string& field);

}  // namespace rnnx
