// Checks and derived facts of a ModelDesc (see model_desc.h). Plain C++, built with or
// without CUDA.
#include "model_desc.h"

#include <stdexcept>

namespace rnnx {
namespace cuda {

namespace {

[[noreturn]] void Fail(const std::string& field, const std::string& expected, long long got) {
  throw std::invalid_argument(field + " must be " + expected + ", got " + std::to_string(got));
}

}  // namespace

int ModelDesc::outputSize() const {
  if (!dense.empty()) return dense.back().units;
  const RecurrentDesc& r = recurrent.back();
  return r.directions * r.hidden;
}

void ModelDesc::Validate() const {
  if (inputSize <= 0) Fail("model.inputSize", "a positive integer", inputSize);
  if (recurrent.empty()) throw std::invalid_argument("model.layers must contain at least one recurrent layer");
  int width = inputSize;
  size_t expect = 0;  // the flat layout is dense and in layer order: check every offset
  for (size_t i = 0; i < recurrent.size(); ++i) {
    const RecurrentDesc& r = recurrent[i];
    const std::string f = "layers[" + std::to_string(i) + "]";
    if (r.hidden <= 0) Fail(f + ".units", "a positive integer", r.hidden);
    if (r.directions != 1 && r.directions != 2) Fail(f + ".directions", "1 or 2", r.directions);
    if (r.inputSize != width) Fail(f + ".inputSize", std::to_string(width), r.inputSize);
    if (i + 1 < recurrent.size() && !r.returnSequences) {
      throw std::invalid_argument(f + ".returnSequences must be true: the next recurrent layer reads every step");
    }
    const size_t D = r.directions, GH = static_cast<size_t>(r.gates()) * r.hidden, H = r.hidden;
    if (r.offW != expect) Fail(f + ".W.offset", std::to_string(expect), static_cast<long long>(r.offW));
    expect += D * GH * r.inputSize;
    if (r.offR != expect) Fail(f + ".R.offset", std::to_string(expect), static_cast<long long>(r.offR));
    expect += D * GH * H;
    if (r.offB != expect) Fail(f + ".B.offset", std::to_string(expect), static_cast<long long>(r.offB));
    expect += D * 2 * GH;
    if (r.peepholes) {
      if (r.kind != CellKind::kLstm) throw std::invalid_argument(f + ": peepholes exist for LSTM only");
      if (r.offP != expect) Fail(f + ".P.offset", std::to_string(expect), static_cast<long long>(r.offP));
      expect += D * 3 * H;
    }
    width = r.directions * r.hidden;
  }
  for (size_t i = 0; i < dense.size(); ++i) {
    const DenseDesc& d = dense[i];
    const std::string f = "layers[" + std::to_string(recurrent.size() + i) + "]";
    if (d.units <= 0) Fail(f + ".units", "a positive integer", d.units);
    if (d.inputSize != width) Fail(f + ".inputSize", std::to_string(width), d.inputSize);
    if (d.offW != expect) Fail(f + ".W.offset", std::to_string(expect), static_cast<long long>(d.offW));
    expect += static_cast<size_t>(d.inputSize) * d.units;
    if (d.offB != expect) Fail(f + ".b.offset", std::to_string(expect), static_cast<long long>(d.offB));
    expect += d.units;
    width = d.units;
  }
  if (paramCount != expect) Fail("params.length", std::to_string(expect), static_cast<long long>(paramCount));
}

std::vector<ParamRange> ParamRanges(const ModelDesc& m) {
  std::vector<ParamRange> out;
  auto add = [&](size_t b, size_t e, ParamGroup g) {
    if (e > b) out.push_back({b, e, g});
  };
  for (const RecurrentDesc& r : m.recurrent) {
    add(r.offW, r.offR, ParamGroup::kInput);
    add(r.offR, r.offB, ParamGroup::kRecurrent);
    const size_t bEnd = r.offB + static_cast<size_t>(r.directions) * 2 * r.gates() * r.hidden;
    add(r.offB, bEnd, ParamGroup::kBias);
    if (r.peepholes) add(r.offP, r.offP + static_cast<size_t>(r.directions) * 3 * r.hidden, ParamGroup::kRecurrent);
  }
  for (const DenseDesc& d : m.dense) {
    add(d.offW, d.offB, ParamGroup::kInput);
    add(d.offB, d.offB + d.units, ParamGroup::kBias);
  }
  return out;
}

}  // namespace cuda
}  // namespace rnnx
