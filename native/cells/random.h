// Counter-based random numbers for dropout and zoneout masks. A mask bit is a pure function of
// (seed, step, layer, direction, purpose, element index), so masks do not depend on the thread
// split or the order elements are visited in, the backward pass regenerates exactly the bits
// the forward pass used, and training is bit-reproducible for a given seed. The bit functions
// are RNNX_HD: the CUDA kernels (native/cuda/regularize.h) draw the same masks from the same keys
// and element indices on the device.
#pragma once

#include <cstdint>

#include "../host_device.h"

namespace rnnx {

// splitmix64 finaliser: a bijective 64-bit mix with good avalanche.
RNNX_HD uint64_t Mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

enum class MaskPurpose : uint32_t { kInputDropout = 1, kRecurrentDropout = 2, kZoneoutH = 3, kZoneoutC = 4, kOutputDropout = 5 };

// The `layer` of the output-dropout stream (on the last recurrent layer's output).
constexpr uint32_t kOutputMaskLayer = 0xffff;

// Key of one mask stream. step counts training steps (so every step draws fresh masks).
RNNX_HD uint64_t MaskKey(uint64_t seed, uint64_t step, uint32_t layer, uint32_t direction, MaskPurpose purpose) {
  uint64_t k = Mix64(seed ^ 0x5f3759df00000000ULL);
  k = Mix64(k ^ step);
  k = Mix64(k ^ ((static_cast<uint64_t>(layer) << 32) | (static_cast<uint64_t>(direction) << 8) |
                 static_cast<uint64_t>(purpose)));
  return k;
}

// Uniform in [0, 1) with 24 bits, element `index` of stream `key`.
RNNX_HD double MaskUniform(uint64_t key, uint64_t index) {
  return static_cast<double>(Mix64(key ^ Mix64(index)) >> 40) * (1.0 / 16777216.0);
}

// true with probability p (the element is dropped / zoned out).
RNNX_HD bool MaskHit(uint64_t key, uint64_t index, double p) { return MaskUniform(key, index) < p; }

// Zoneout (Krueger et al. 2016), forward: where the mask hits, the unit keeps its previous value.
//   out, prev: [H]; mask elements maskBase .. maskBase+H-1 of stream `key`, probability p.
template <typename T>
inline void ZoneoutKeep(T* out, const T* prev, int H, uint64_t key, uint64_t maskBase, double p) {
  for (int j = 0; j < H; ++j)
    if (MaskHit(key, maskBase + j, p)) out[j] = prev[j];
}

// Zoneout, backward: the gradient of a kept unit flows straight to the previous state.
//   grad: [H] gradient w.r.t. the zoned-out output, in: what reaches the cell (hit units set 0);
//   direct: [H] out: the part that bypasses the cell (the grad where the mask hits, else 0).
template <typename T>
inline void ZoneoutSplitGrad(T* grad, T* direct, int H, uint64_t key, uint64_t maskBase, double p) {
  for (int j = 0; j < H; ++j) {
    const bool hit = MaskHit(key, maskBase + j, p);
    direct[j] = hit ? grad[j] : T(0);
    if (hit) grad[j] = 0;
  }
}

}  // namespace rnnx
