#include "binding/binding_args.h"

#include <cmath>
#include <new>
#include <sstream>
#include <stdexcept>

namespace rnnx {

namespace {

[[noreturn]] void Fail(Napi::Env env, const std::string& message) { throw MakeError(env, message, kCodeInvalid); }

std::string Describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsNumber()) {
    const double d = v.As<Napi::Number>().DoubleValue();
    if (std::isnan(d)) return "NaN";  // as JavaScript writes them
    if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
    std::ostringstream s;
    s << d;
    return s.str();
  }
  if (v.IsString()) return "\"" + v.As<Napi::String>().Utf8Value() + "\"";
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? "true" : "false";
  if (v.IsTypedArray()) {
    const char* names[] = {"Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array",
                           "Int32Array", "Uint32Array", "Float32Array", "Float64Array", "BigInt64Array",
                           "BigUint64Array"};
    const int t = static_cast<int>(v.As<Napi::TypedArray>().TypedArrayType());
    return std::string(t >= 0 && t < 11 ? names[t] : "a typed array") + " of length " +
           std::to_string(v.As<Napi::TypedArray>().ElementLength());
  }
  if (v.IsArray()) return "an array";
  if (v.IsFunction()) return "a function";
  if (v.IsObject()) return "an object";
  return "an unsupported value";
}

Napi::Object Obj(const Napi::Value& v, const std::string& field) {
  if (!v.IsObject() || v.IsArray()) Fail(v.Env(), field + " must be an object, got " + Describe(v));
  return v.As<Napi::Object>();
}

double Num(const Napi::Object& o, const char* key, const std::string& where, double def, bool required = false) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    if (required) Fail(o.Env(), where + "." + key + " must be a number, got " + Describe(v));
    return def;
  }
  if (!v.IsNumber()) Fail(o.Env(), where + "." + key + " must be a number, got " + Describe(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) Fail(o.Env(), where + "." + key + " must be a finite number, got " + Describe(v));
  return d;
}

double NonNeg(const Napi::Object& o, const char* key, const std::string& where, double def) {
  const double d = Num(o, key, where, def);
  if (d < 0) Fail(o.Env(), where + "." + key + " must be >= 0, got " + std::to_string(d));
  return d;
}

double Prob(const Napi::Object& o, const char* key, const std::string& where) {
  const double d = Num(o, key, where, 0);
  if (!(d >= 0 && d < 1)) Fail(o.Env(), where + "." + key + " must be a number in [0, 1), got " + std::to_string(d));
  return d;
}

int IntValue(const Napi::Value& v, const std::string& field, int min, int max) {
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!v.IsNumber() || d != std::floor(d) || d < min || d > max) {
    Fail(v.Env(), field + " must be an integer >= " + std::to_string(min) +
                      (max < 2147483647 ? " and <= " + std::to_string(max) : std::string()) + ", got " + Describe(v));
  }
  return static_cast<int>(d);
}

int Int(const Napi::Object& o, const char* key, const std::string& where, int def, bool required = false, int min = 0,
        int max = 2147483647) {
  Napi::Value v = o.Get(key);
  if ((v.IsUndefined() || v.IsNull()) && !required) return def;
  return IntValue(v, where + "." + key, min, max);
}

bool Bool(const Napi::Object& o, const char* key, const std::string& where, bool def) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return def;
  if (!v.IsBoolean()) Fail(o.Env(), where + "." + key + " must be a boolean, got " + Describe(v));
  return v.As<Napi::Boolean>().Value();
}

std::string Str(const Napi::Object& o, const char* key, const std::string& where, const std::string& def,
                bool required = false) {
  Napi::Value v = o.Get(key);
  if ((v.IsUndefined() || v.IsNull()) && !required) return def;
  if (!v.IsString()) Fail(o.Env(), where + "." + key + " must be a string, got " + Describe(v));
  return v.As<Napi::String>().Utf8Value();
}

size_t SlotOffset(const Napi::Object& layer, const char* key, const std::string& where, size_t expectedSize) {
  Napi::Object slot = Obj(layer.Get(key), where + "." + key);
  const double off = Num(slot, "offset", where + "." + key, 0, true);
  const double size = Num(slot, "size", where + "." + key, 0, true);
  if (off < 0 || off != std::floor(off)) Fail(layer.Env(), where + "." + key + ".offset must be a non-negative integer, got " + std::to_string(off));
  if (size != static_cast<double>(expectedSize)) {
    Fail(layer.Env(), where + "." + key + ".size must be " + std::to_string(expectedSize) + " for this layer, got " +
                          std::to_string(size));
  }
  return static_cast<size_t>(off);
}

Activation ParseActivation(Napi::Env env, const std::string& s, const std::string& field) {
  if (s == "none") return Activation::kNone;
  if (s == "relu") return Activation::kRelu;
  if (s == "tanh") return Activation::kTanh;
  if (s == "sigmoid") return Activation::kSigmoid;
  if (s == "softmax") return Activation::kSoftmax;
  Fail(env, field + " must be one of \"none\", \"relu\", \"tanh\", \"sigmoid\", \"softmax\", got \"" + s + "\"");
}

template <typename Arr>
Arr TypedArrayOf(const Napi::Value& v, napi_typedarray_type type, const char* typeName, const std::string& field) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
    Fail(v.Env(), field + " must be a " + typeName + ", got " + Describe(v));
  }
  CheckAttached(v, field);
  return v.As<Arr>();
}

bool IsDetached(const Napi::Value& v) {
  Napi::Value buffer = v.As<Napi::TypedArray>().ArrayBuffer();
  return buffer.IsArrayBuffer() && buffer.As<Napi::ArrayBuffer>().IsDetached();
}

}  // namespace

Napi::Error MakeError(Napi::Env env, const std::string& message, const char* code) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

CoreError Classify(const std::exception_ptr& ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const NonFiniteError& e) {
    return {e.what(), kCodeNonFinite};
  } catch (const std::range_error& e) {  // the CUDA core's non-finite step
    return {e.what(), kCodeNonFinite};
  } catch (const InvalidArgument& e) {
    return {e.what(), kCodeInvalid};
  } catch (const std::invalid_argument& e) {  // the CUDA core's argument checks
    return {e.what(), kCodeInvalid};
  } catch (const ThreadStartError& e) {
    return {e.what(), kCodeResource};
  } catch (const std::bad_alloc&) {
    return {"out of memory while sizing the workspaces", kCodeResource};
  } catch (const std::exception& e) {
    return {std::string("internal error: ") + e.what(), kCodeInvalid};
  } catch (...) {
    return {"internal error: an unknown native exception", kCodeInvalid};
  }
}

void CheckAttached(const Napi::Value& v, const std::string& field) {
  if (IsDetached(v)) {
    throw MakeError(v.Env(),
                    field + " is detached: its ArrayBuffer was transferred (postMessage, structuredClone with a "
                            "transfer list) and can no longer be read or written",
                    kCodeDetached);
  }
}

void CheckTypedArrayLength(Napi::Env env, size_t n, const std::string& what) {
  constexpr size_t kMax = size_t{1} << 32;  // v8::TypedArray::kMaxLength on 64-bit builds
  if (n > kMax) {
    throw MakeError(env, what + " would have " + std::to_string(n) + " elements, more than a typed array can hold (" +
                             std::to_string(kMax) + ")",
                    kCodeResource);
  }
}

double ParseLearningRate(const Napi::Value& v, const std::string& field) {
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!v.IsNumber() || !(d >= 0) || !std::isfinite(d)) Fail(v.Env(), field + " must be a finite number >= 0, got " + Describe(v));
  return d;
}

float* Float32Data(const Napi::Value& v, size_t expected, const std::string& field) {
  auto a = TypedArrayOf<Napi::Float32Array>(v, napi_float32_array, "Float32Array", field);
  if (a.ElementLength() != expected) {
    Fail(v.Env(), field + " must have length " + std::to_string(expected) + ", got " + std::to_string(a.ElementLength()));
  }
  return a.Data();
}

double* Float64Data(const Napi::Value& v, size_t expected, const std::string& field) {
  auto a = TypedArrayOf<Napi::Float64Array>(v, napi_float64_array, "Float64Array", field);
  if (a.ElementLength() != expected) {
    Fail(v.Env(), field + " must have length " + std::to_string(expected) + ", got " + std::to_string(a.ElementLength()));
  }
  return a.Data();
}

NetworkDesc ParseNetwork(const Napi::Value& specV, const Napi::Value& layoutV) {
  Napi::Env env = specV.Env();
  Napi::Object spec = Obj(specV, "spec");
  Napi::Object layout = Obj(layoutV, "layout");
  NetworkDesc d;
  d.inputSize = Int(spec, "inputSize", "spec", 0, true, 1);
  Napi::Value layersV = spec.Get("layers");
  Napi::Value slotsV = layout.Get("layers");
  if (!layersV.IsArray() || layersV.As<Napi::Array>().Length() == 0) Fail(env, "spec.layers must be a non-empty array, got " + Describe(layersV));
  if (!slotsV.IsArray()) Fail(env, "layout.layers must be an array, got " + Describe(slotsV));
  Napi::Array layers = layersV.As<Napi::Array>(), slots = slotsV.As<Napi::Array>();
  if (slots.Length() != layers.Length()) {
    Fail(env, "layout.layers must have one entry per spec layer (" + std::to_string(layers.Length()) + "), got " +
                  std::to_string(slots.Length()));
  }
  const double total = Num(layout, "total", "layout", 0, true);
  if (total < 0 || total != std::floor(total)) Fail(env, "layout.total must be a non-negative integer, got " + std::to_string(total));
  d.paramCount = static_cast<size_t>(total);
  int width = d.inputSize;
  bool seenDense = false;
  for (uint32_t i = 0; i < layers.Length(); ++i) {
    const std::string where = "spec.layers[" + std::to_string(i) + "]";
    const std::string swhere = "layout.layers[" + std::to_string(i) + "]";
    Napi::Object L = Obj(layers.Get(i), where);
    Napi::Object S = Obj(slots.Get(i), swhere);
    const std::string kind = Str(L, "kind", where, "", true);
    const int units = Int(L, "units", where, 0, true, 1);
    if (Str(S, "kind", swhere, "", true) != kind) Fail(env, swhere + ".kind must be \"" + kind + "\" to match " + where);
    if (kind == "dense") {
      seenDense = true;
      DenseLayerDesc dl;
      dl.input = width;
      dl.units = units;
      dl.activation = ParseActivation(env, Str(L, "activation", where, "none"), where + ".activation");
      dl.offW = SlotOffset(S, "W", swhere, static_cast<size_t>(width) * units);
      dl.offb = SlotOffset(S, "b", swhere, units);
      d.dense.push_back(dl);
      width = units;
      continue;
    }
    if (seenDense) Fail(env, where + " (" + kind + ") must come before every dense layer");
    RecurrentLayerDesc r;
    CellConfig& c = r.cell;
    if (kind == "lstm") c.kind = CellKind::kLstm;
    else if (kind == "gru") c.kind = CellKind::kGru;
    else if (kind == "rnn") c.kind = CellKind::kRnn;
    else Fail(env, where + ".kind must be one of \"rnn\", \"lstm\", \"gru\", \"dense\", got \"" + kind + "\"");
    c.input = width;
    c.hidden = units;
    const std::string dir = Str(L, "direction", where, "forward");
    if (dir == "forward") r.directions = 1;
    else if (dir == "reverse") {
      r.directions = 1;
      r.reverse = true;
    } else if (dir == "bidirectional") r.directions = 2;
    else Fail(env, where + ".direction must be one of \"forward\", \"reverse\", \"bidirectional\", got \"" + dir + "\"");
    r.returnSequences = Bool(L, "returnSequences", where, false);
    r.dropout = Prob(L, "dropout", where);
    c.recurrentDropout = Prob(L, "recurrentDropout", where);
    c.zoneoutH = Prob(L, "zoneoutH", where);
    c.zoneoutC = Prob(L, "zoneoutC", where);
    if (c.kind == CellKind::kRnn) {
      const std::string act = Str(L, "activation", where, "tanh");
      if (act != "tanh" && act != "relu") Fail(env, where + ".activation must be \"tanh\" or \"relu\", got \"" + act + "\"");
      c.relu = act == "relu";
    }
    if (c.kind == CellKind::kLstm) {
      c.peepholes = Bool(L, "peepholes", where, false);
      c.inputForget = Bool(L, "inputForget", where, false);
      Napi::Value clip = L.Get("clip");
      if (!clip.IsUndefined() && !clip.IsNull()) {
        c.clip = Num(L, "clip", where, 0);
        if (!(c.clip > 0)) Fail(env, where + ".clip must be a positive number or null, got " + std::to_string(c.clip));
      }
    }
    if (c.kind == CellKind::kGru) {
      c.linearBeforeReset = Int(L, "linearBeforeReset", where, 1);
      if (c.linearBeforeReset > 1) Fail(env, where + ".linearBeforeReset must be 0 or 1, got " + std::to_string(c.linearBeforeReset));
    }
    if (c.kind != CellKind::kLstm && c.zoneoutC > 0) Fail(env, where + ".zoneoutC must be 0: only an LSTM has a cell state");
    const size_t D = r.directions, H = units, GH = c.gates() * H;
    r.offW = SlotOffset(S, "W", swhere, D * GH * width);
    r.offR = SlotOffset(S, "R", swhere, D * GH * H);
    r.offB = SlotOffset(S, "B", swhere, D * 2 * GH);
    Napi::Value P = S.Get("P");
    if (c.peepholes) {
      if (P.IsNull() || P.IsUndefined()) Fail(env, swhere + ".P must describe the peepholes of a peephole LSTM, got " + Describe(P));
      r.offP = SlotOffset(S, "P", swhere, D * 3 * H);
    }
    d.recurrent.push_back(r);
    width = static_cast<int>(D * H);
  }
  try {
    d.Validate();
  } catch (const InvalidArgument& e) {
    Fail(env, e.what());
  }
  return d;
}

OptimizerConfig ParseOptimizerConfig(const Napi::Value& optV, const std::string& where) {
  Napi::Env env = optV.Env();
  Napi::Object op = Obj(optV, where);
  const std::string w = where;
  const std::string t = Str(op, "type", w, "adam", true);
  OptimizerConfig p;
  if (t == "sgd") p.kind = OptimizerKind::kSgd;
  else if (t == "rmsprop") p.kind = OptimizerKind::kRmsprop;
  else if (t == "adam") p.kind = OptimizerKind::kAdam;
  else if (t == "adamw") p.kind = OptimizerKind::kAdamW;
  else Fail(env, w + ".type must be one of \"sgd\", \"rmsprop\", \"adam\", \"adamw\", got \"" + t + "\"");
  p.momentum = NonNeg(op, "momentum", w, 0);
  if (p.momentum >= 1) Fail(env, w + ".momentum must be in [0, 1), got " + std::to_string(p.momentum));
  p.nesterov = Bool(op, "nesterov", w, false);
  p.rho = Prob(op, "rho", w);
  if (op.Get("rho").IsUndefined()) p.rho = 0.9;
  p.beta1 = op.Get("beta1").IsUndefined() ? 0.9 : Prob(op, "beta1", w);
  p.beta2 = op.Get("beta2").IsUndefined() ? 0.999 : Prob(op, "beta2", w);
  p.epsilon = NonNeg(op, "epsilon", w, 1e-7);
  p.weightDecay = NonNeg(op, "weightDecay", w, p.kind == OptimizerKind::kAdamW ? 0.01 : 0);
  return p;
}

TrainConfig ParseTrainConfig(const Napi::Value& v, NetworkDesc& desc, int* threads) {
  Napi::Env env = v.Env();
  TrainConfig c;
  Napi::Object o = v.IsUndefined() ? Napi::Object::New(env) : Obj(v, "options");
  Napi::Value lossV = o.Get("loss");
  if (!lossV.IsUndefined()) {
    Napi::Object lo = Obj(lossV, "options.loss");
    const std::string t = Str(lo, "type", "options.loss", "mse", true);
    if (t == "mse") c.loss.kind = LossKind::kMse;
    else if (t == "mae") c.loss.kind = LossKind::kMae;
    else if (t == "huber") c.loss.kind = LossKind::kHuber;
    else if (t == "crossentropy") c.loss.kind = LossKind::kCrossEntropy;
    else if (t == "binaryCrossentropy") c.loss.kind = LossKind::kBinaryCrossEntropy;
    else Fail(env, "options.loss.type must be one of \"mse\", \"mae\", \"huber\", \"crossentropy\", \"binaryCrossentropy\", got \"" + t + "\"");
    c.loss.huberDelta = Num(lo, "delta", "options.loss", 1.0);
    if (!(c.loss.huberDelta > 0)) Fail(env, "options.loss.delta must be > 0, got " + std::to_string(c.loss.huberDelta));
  }
  Napi::Value optV = o.Get("optimizer");
  if (!optV.IsUndefined()) c.optimizer = ParseOptimizerConfig(optV, "options.optimizer");
  c.clipNorm = NonNeg(o, "clipNorm", "options", 0);
  c.clipValue = NonNeg(o, "clipValue", "options", 0);
  Napi::Value l2V = o.Get("l2");
  if (!l2V.IsUndefined() && !l2V.IsNull()) {
    Napi::Object l2 = Obj(l2V, "options.l2");
    c.l2Input = NonNeg(l2, "input", "options.l2", 0);
    c.l2Recurrent = NonNeg(l2, "recurrent", "options.l2", 0);
    c.l2Bias = NonNeg(l2, "bias", "options.l2", 0);
  }
  desc.outputDropout = Prob(o, "outputDropout", "options");
  const double seed = Num(o, "seed", "options", 0);
  if (seed < 0 || seed != std::floor(seed) || seed > 9007199254740991.0) Fail(env, "options.seed must be a non-negative integer, got " + std::to_string(seed));
  c.seed = static_cast<uint64_t>(seed);
  c.tbptt = Int(o, "tbptt", "options", 0);
  c.stateful = Bool(o, "stateful", "options", false);
  if (threads) *threads = Int(o, "threads", "options", 1, false, 1, kMaxThreads);
  if (c.tbptt > 0 || c.stateful) {
    for (size_t l = 0; l < desc.recurrent.size(); ++l) {
      const RecurrentLayerDesc& r = desc.recurrent[l];
      if (r.directions == 2 || r.reverse) {
        Fail(env, std::string(c.stateful ? "options.stateful" : "options.tbptt") + " needs forward-direction layers: layers[" +
                      std::to_string(l) + "] runs backwards in time, so its state cannot be carried forward");
      }
    }
  }
  if (c.tbptt > 0 && !desc.sequenceOutput()) {
    Fail(env, "options.tbptt needs per-step outputs: the last recurrent layer must have returnSequences: true");
  }
  return c;
}

void ParsedBatch::Recheck(Napi::Env env) const {
  for (const Borrowed& b : borrowed) {
    Napi::Value v = b.ref.Value();
    // napi_get_typedarray_info's data pointer (offset applied) works for SharedArrayBuffer views too.
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    const bool same = !IsDetached(v) &&
                      napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) == napi_ok &&
                      length == b.length && data == b.data;
    if (!same) {
      throw MakeError(env, b.field + " was detached or replaced while the call read its arguments (a getter or valueOf "
                               "transferred its ArrayBuffer); nothing was computed",
                      kCodeDetached);
    }
  }
}

namespace {

// A typed array of the given type that is not detached, or a named error.
Napi::TypedArray TypedOf(const Napi::Value& v, napi_typedarray_type type, const std::string& field, const std::string& expected) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) Fail(v.Env(), field + " must be " + expected + ", got " + Describe(v));
  CheckAttached(v, field);
  return v.As<Napi::TypedArray>();
}

template <typename T>
const T* Borrow(ParsedBatch& pb, const Napi::Value& v, const T* data, size_t n, const std::string& field, bool copy,
                std::vector<T>& store) {
  if (copy) {
    store.assign(data, data + n);
    return store.data();
  }
  pb.borrowed.push_back({Napi::Persistent(v), data, n, field});
  return data;
}

}  // namespace

ParsedBatch ParseBatch(const Napi::Value& v, const NetworkDesc& desc, const TrainConfig& config, bool needTargets,
                       const char* whereC, bool copy) {
  Napi::Env env = v.Env();
  const std::string where = whereC;
  Napi::Object o = Obj(v, where);
  // Every property first: a getter may run JavaScript; after this block none runs.
  Napi::Value nV = o.Get("batch"), tV = o.Get("time"), xV = o.Get("x"), lV = o.Get("lengths");
  Napi::Value yV = needTargets ? o.Get("y") : env.Undefined();
  ParsedBatch pb;
  BatchView& b = pb.view;
  b.N = IntValue(nV, where + ".batch", 1, 2147483647);
  b.T = IntValue(tV, where + ".time", 1, 2147483647);
  const int I = desc.inputSize, F = desc.outputSize();
  const size_t NT = static_cast<size_t>(b.N) * b.T;
  Napi::TypedArray xa = TypedOf(xV, napi_float32_array, where + ".x", "a Float32Array");
  // Sizes beyond any typed array are refused before a product could wrap around.
  constexpr double kMaxElements = 9007199254740991.0;
  if (static_cast<double>(NT) * I > kMaxElements || static_cast<double>(NT) * F > kMaxElements) {
    Fail(env, where + ".batch*time = " + std::to_string(b.N) + "*" + std::to_string(b.T) + " is too large for this network");
  }
  const size_t xLen = NT * I;
  if (xa.ElementLength() != xLen) {
    Fail(env, where + ".x must have length batch*time*features = " + std::to_string(b.N) + "*" + std::to_string(b.T) + "*" +
                  std::to_string(I) + " = " + std::to_string(xLen) + ", got " + std::to_string(xa.ElementLength()));
  }
  const float* x = xV.As<Napi::Float32Array>().Data();
  for (size_t k = 0; k < xLen; ++k) {
    if (!std::isfinite(x[k])) {
      Fail(env, where + ".x[" + std::to_string(k) + "] is " + std::to_string(x[k]) + ": inputs must be finite (row " +
                    std::to_string(k / (static_cast<size_t>(b.T) * I)) + ", step " + std::to_string((k / I) % b.T) +
                    ", feature " + std::to_string(k % I) + ")");
    }
  }
  b.x = Borrow<float>(pb, xV, x, xLen, where + ".x", copy, pb.xCopy);
  if (!lV.IsUndefined() && !lV.IsNull()) {
    Napi::TypedArray la = TypedOf(lV, napi_int32_array, where + ".lengths", "an Int32Array");
    if (la.ElementLength() != static_cast<size_t>(b.N)) {
      Fail(env, where + ".lengths must have length batch = " + std::to_string(b.N) + ", got " + std::to_string(la.ElementLength()));
    }
    const int32_t* lengths = lV.As<Napi::Int32Array>().Data();
    for (int n = 0; n < b.N; ++n) {
      if (lengths[n] < 1 || lengths[n] > b.T) {
        Fail(env, where + ".lengths[" + std::to_string(n) + "] must be in [1, " + std::to_string(b.T) + "], got " +
                      std::to_string(lengths[n]));
      }
    }
    b.lengths = Borrow<int32_t>(pb, lV, lengths, b.N, where + ".lengths", copy, pb.lengthsCopy);
  }
  if (!needTargets) return pb;
  const bool seq = desc.sequenceOutput();
  auto validAt = [&](size_t row) -> bool {  // row = n*T + t for per-step targets
    if (!seq || b.lengths == nullptr) return true;
    return static_cast<int>(row % b.T) < b.lengths[row / b.T];
  };
  const std::string shape = seq ? "batch*time" : "batch";
  const size_t rows = seq ? NT : static_cast<size_t>(b.N);
  if (config.loss.kind == LossKind::kCrossEntropy) {
    Napi::TypedArray ya = TypedOf(yV, napi_int32_array, where + ".y", "an Int32Array of class indices for the crossentropy loss");
    if (ya.ElementLength() != rows) {
      Fail(env, where + ".y must have length " + shape + " = " + std::to_string(rows) + " (one class index per " +
                    (seq ? "step" : "sequence") + "), got " + std::to_string(ya.ElementLength()));
    }
    const int32_t* labels = yV.As<Napi::Int32Array>().Data();
    for (size_t r = 0; r < rows; ++r) {
      if (!validAt(r)) continue;
      if (labels[r] < 0 || labels[r] >= F) {
        Fail(env, where + ".y[" + std::to_string(r) + "] = " + std::to_string(labels[r]) +
                      " is out of range: class indices must be in [0, " + std::to_string(F) + ") for an output of " +
                      std::to_string(F) + " classes");
      }
    }
    b.labels = Borrow<int32_t>(pb, yV, labels, rows, where + ".y", copy, pb.labelsCopy);
  } else {
    Napi::TypedArray ya = TypedOf(yV, napi_float32_array, where + ".y", "a Float32Array of targets");
    const size_t yLen = rows * F;
    if (ya.ElementLength() != yLen) {
      Fail(env, where + ".y must have length " + shape + "*outputs = " + std::to_string(yLen) + ", got " +
                    std::to_string(ya.ElementLength()));
    }
    const float* values = yV.As<Napi::Float32Array>().Data();
    const bool bce = config.loss.kind == LossKind::kBinaryCrossEntropy;
    for (size_t k = 0; k < yLen; ++k) {
      if (!validAt(k / F)) continue;
      const float t = values[k];
      if (!std::isfinite(t)) Fail(env, where + ".y[" + std::to_string(k) + "] is " + std::to_string(t) + ": targets must be finite");
      if (bce && (t < 0 || t > 1)) {
        Fail(env, where + ".y[" + std::to_string(k) + "] = " + std::to_string(t) + " is out of range: binaryCrossentropy targets must be in [0, 1]");
      }
    }
    b.values = Borrow<float>(pb, yV, values, yLen, where + ".y", copy, pb.yCopy);
  }
  return pb;
}

template <typename T>
StateSet<T> ParseStates(const Napi::Value& v, const NetworkDesc& desc, int N, const std::string& field) {
  StateSet<T> s;
  if (v.IsUndefined() || v.IsNull()) return s;
  if (!v.IsArray() || v.As<Napi::Array>().Length() != desc.recurrent.size()) {
    Fail(v.Env(), field + " must be an array with one {h, c?} per recurrent layer (" + std::to_string(desc.recurrent.size()) +
                      "), got " + Describe(v));
  }
  Napi::Array a = v.As<Napi::Array>();
  const size_t L = desc.recurrent.size();
  s.h.resize(L);
  s.c.resize(L);
  for (uint32_t l = 0; l < L; ++l) {
    const std::string w = field + "[" + std::to_string(l) + "]";
    Napi::Object o = Obj(a.Get(l), w);
    const RecurrentLayerDesc& R = desc.recurrent[l];
    const size_t n = static_cast<size_t>(R.directions) * N * R.cell.hidden;
    auto read = [&](const char* key, std::vector<T>& out) {
      Napi::Value x = o.Get(key);
      if (x.IsUndefined() || x.IsNull()) return;
      if (x.IsTypedArray() && x.As<Napi::TypedArray>().TypedArrayType() == napi_float64_array) {
        const double* p = Float64Data(x, n, w + "." + key);
        out.assign(p, p + n);
      } else {
        const float* p = Float32Data(x, n, w + "." + key);
        out.assign(p, p + n);
      }
      for (size_t k = 0; k < n; ++k) {
        if (!std::isfinite(static_cast<double>(out[k]))) {
          Fail(x.Env(), w + "." + key + "[" + std::to_string(k) + "] is " + std::to_string(static_cast<double>(out[k])) +
                            ": initial states must be finite");
        }
      }
    };
    read("h", s.h[l]);
    if (R.cell.kind == CellKind::kLstm) read("c", s.c[l]);
  }
  return s;
}

template StateSet<float> ParseStates<float>(const Napi::Value&, const NetworkDesc&, int, const std::string&);
template StateSet<double> ParseStates<double>(const Napi::Value&, const NetworkDesc&, int, const std::string&);

}  // namespace rnnx
