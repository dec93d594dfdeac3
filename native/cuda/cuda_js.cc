// N-API adapter of the CUDA backend (the only file in native/cuda that knows N-API). The
// addon's binding calls RegisterCudaJs(env, exports) once; it adds:
//   cudaInfo(): { built, available, reason, device, deviceCount, computeCapability, memoryGiB,
//                 runtimeVersion, driverVersion, cublas }
//   new CudaTrainer(spec, layout, params, options)  (spec/layout: src/layers/spec.ts, params.ts)
//     options: { loss: 'mse'|'mae'|'huber'|'crossentropy'|'binaryCrossentropy' (or the trainer's
//                       { type, delta }), huberDelta?,
//                optimizer: { type: 'sgd'|'rmsprop'|'adam'|'adamw', lr, momentum?, nesterov?, rho?,
//                             beta1?, beta2?, epsilon?, weightDecay? },
//                clipNorm?, clipValue?, l2?: { input?, recurrent?, bias? },
//                emulate?: false | 'float' | 'double' }   (emulate: the CPU emulation, for tests)
//     .step({ x, batch, time, lengths?, y }) → { loss, gradNorm, correct, predictions }
//     .gradients(batch) → { loss, grads: Float32Array }   (no update)
//     .output() → Float32Array                             (last forward pass; logits for CE)
//     .getParams(out?) → Float32Array   .setParams(p)   .setOptimizer(o)   .resetOptimizer()
//     .dispose()   .device   .workspaceBytes
#include <napi.h>

#include <memory>
#include <string>

#include "backend.h"

namespace rnnx {
namespace cuda {

namespace {

std::string Str(const Napi::Value& v) {
  if (v.IsString()) return "\"" + v.As<Napi::String>().Utf8Value() + "\"";
  if (v.IsNumber()) return std::to_string(v.As<Napi::Number>().DoubleValue());
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? "true" : "false";
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  return "an object";
}

[[noreturn]] void Fail(Napi::Env env, const std::string& msg) { throw Napi::Error::New(env, msg); }

Napi::Object Obj(Napi::Env env, const Napi::Value& v, const std::string& field) {
  if (!v.IsObject()) Fail(env, field + " must be an object, got " + Str(v));
  return v.As<Napi::Object>();
}

double Num(Napi::Env env, const Napi::Object& o, const char* key, const std::string& where, double def, bool required) {
  const Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    if (required) Fail(env, where + "." + key + " must be a number, got " + Str(v));
    return def;
  }
  if (!v.IsNumber()) Fail(env, where + "." + key + " must be a number, got " + Str(v));
  return v.As<Napi::Number>().DoubleValue();
}

int Int(Napi::Env env, const Napi::Object& o, const char* key, const std::string& where) {
  const double d = Num(env, o, key, where, 0, true);
  if (d != static_cast<int>(d) || d <= 0) {
    Fail(env, where + "." + key + " must be a positive integer, got " + std::to_string(d));
  }
  return static_cast<int>(d);
}

std::string Text(Napi::Env env, const Napi::Object& o, const char* key, const std::string& where,
                 const std::string& def) {
  const Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return def;
  if (!v.IsString()) Fail(env, where + "." + key + " must be a string, got " + Str(v));
  return v.As<Napi::String>().Utf8Value();
}

bool Bool(const Napi::Object& o, const char* key, bool def) {
  const Napi::Value v = o.Get(key);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : def;
}

size_t Offset(Napi::Env env, const Napi::Object& layer, const char* slot, const std::string& where) {
  const Napi::Value s = layer.Get(slot);
  const Napi::Object o = Obj(env, s, where + "." + slot);
  const double off = Num(env, o, "offset", where + "." + slot, 0, true);
  return static_cast<size_t>(off);
}

// ModelSpec + ParamLayout (already validated by src/layers) → ModelDesc.
ModelDesc ParseModel(Napi::Env env, const Napi::Value& specV, const Napi::Value& layoutV) {
  const Napi::Object spec = Obj(env, specV, "spec");
  const Napi::Object layout = Obj(env, layoutV, "layout");
  ModelDesc m;
  m.inputSize = Int(env, spec, "inputSize", "spec");
  const Napi::Value layersV = spec.Get("layers");
  const Napi::Value playersV = layout.Get("layers");
  if (!layersV.IsArray() || !playersV.IsArray()) Fail(env, "spec.layers and layout.layers must be arrays");
  const Napi::Array layers = layersV.As<Napi::Array>(), players = playersV.As<Napi::Array>();
  if (layers.Length() != players.Length()) Fail(env, "spec.layers and layout.layers must have the same length");
  int width = m.inputSize;
  for (uint32_t i = 0; i < layers.Length(); ++i) {
    const std::string where = "layers[" + std::to_string(i) + "]";
    const Napi::Object l = Obj(env, layers.Get(i), where);
    const Napi::Object pl = Obj(env, players.Get(i), "layout." + where);
    const std::string kind = Text(env, l, "kind", where, "");
    const int units = Int(env, l, "units", where);
    if (kind == "dense") {
      DenseDesc d;
      d.inputSize = width;
      d.units = units;
      const std::string act = Text(env, l, "activation", where, "none");
      if (act == "none") d.act = DenseAct::kNone;
      else if (act == "relu") d.act = DenseAct::kRelu;
      else if (act == "tanh") d.act = DenseAct::kTanh;
      else if (act == "sigmoid") d.act = DenseAct::kSigmoid;
      else if (act == "softmax") d.act = DenseAct::kSoftmax;
      else Fail(env, where + ".activation must be one of none, relu, tanh, sigmoid, softmax, got \"" + act + "\"");
      d.offW = Offset(env, pl, "W", "layout." + where);
      d.offB = Offset(env, pl, "b", "layout." + where);
      m.dense.push_back(d);
      width = units;
      continue;
    }
    if (!m.dense.empty()) Fail(env, where + " (" + kind + ") must come before every dense layer");
    RecurrentDesc r;
    if (kind == "lstm") r.kind = CellKind::kLstm;
    else if (kind == "gru") r.kind = CellKind::kGru;
    else if (kind == "rnn") r.kind = CellKind::kRnn;
    else Fail(env, where + ".kind must be one of rnn, lstm, gru, dense, got \"" + kind + "\"");
    for (const char* reg : {"dropout", "recurrentDropout", "zoneoutH", "zoneoutC"}) {
      const double v = Num(env, l, reg, where, 0, false);
      if (v != 0) {
        Fail(env, where + "." + reg + " is " + std::to_string(v) +
                      ": the CUDA backend does not implement dropout or zoneout yet; train this model on the CPU "
                      "(device 'cpu') or set it to 0");
      }
    }
    r.inputSize = width;
    r.hidden = units;
    const std::string dir = Text(env, l, "direction", where, "forward");
    if (dir != "forward" && dir != "reverse" && dir != "bidirectional") {
      Fail(env, where + ".direction must be one of forward, reverse, bidirectional, got \"" + dir + "\"");
    }
    r.directions = dir == "bidirectional" ? 2 : 1;
    r.reverse = dir == "reverse";
    r.returnSequences = Bool(l, "returnSequences", false);
    r.relu = Text(env, l, "activation", where, "tanh") == "relu";
    r.peepholes = Bool(l, "peepholes", false);
    r.inputForget = Bool(l, "inputForget", false);
    r.cellClip = Num(env, l, "clip", where, 0, false);
    r.linearBeforeReset = Num(env, l, "linearBeforeReset", where, 1, false) != 0;
    r.offW = Offset(env, pl, "W", "layout." + where);
    r.offR = Offset(env, pl, "R", "layout." + where);
    r.offB = Offset(env, pl, "B", "layout." + where);
    if (r.peepholes) r.offP = Offset(env, pl, "P", "layout." + where);
    m.recurrent.push_back(r);
    width = r.directions * units;
  }
  m.paramCount = static_cast<size_t>(Num(env, layout, "total", "layout", 0, true));
  return m;
}

LossDesc ParseLoss(Napi::Env env, const Napi::Object& o) {
  LossDesc l;
  // The trainer's shape { type, delta } (src/native.ts NativeLoss) or a plain name.
  const Napi::Value lv = o.Get("loss");
  const bool obj = lv.IsObject() && !lv.IsString();
  const Napi::Object lo = obj ? lv.As<Napi::Object>() : o;
  const std::string k = Text(env, lo, obj ? "type" : "loss", obj ? "options.loss" : "options", "mse");
  if (k == "mse") l.kind = LossKind::kMse;
  else if (k == "mae") l.kind = LossKind::kMae;
  else if (k == "huber") l.kind = LossKind::kHuber;
  else if (k == "crossentropy") l.kind = LossKind::kCrossEntropy;
  else if (k == "binaryCrossentropy") l.kind = LossKind::kBinaryCrossEntropy;
  else Fail(env, "options.loss must be one of mse, mae, huber, crossentropy, binaryCrossentropy, got \"" + k + "\"");
  l.huberDelta = obj ? Num(env, lo, "delta", "options.loss", 1.0, false) : Num(env, o, "huberDelta", "options", 1.0, false);
  return l;
}

OptimizerDesc ParseOptimizer(Napi::Env env, const Napi::Object& o) {
  OptimizerDesc d;
  const Napi::Value ov = o.Get("optimizer");
  const Napi::Object opt = ov.IsUndefined() ? Napi::Object::New(env) : Obj(env, ov, "options.optimizer");
  const std::string t = Text(env, opt, "type", "options.optimizer", "adam");
  if (t == "sgd") d.kind = OptKind::kSgd;
  else if (t == "rmsprop") d.kind = OptKind::kRmsprop;
  else if (t == "adam") d.kind = OptKind::kAdam;
  else if (t == "adamw") d.kind = OptKind::kAdamW;
  else Fail(env, "options.optimizer.type must be one of sgd, rmsprop, adam, adamw, got \"" + t + "\"");
  const std::string w = "options.optimizer";
  d.lr = Num(env, opt, "lr", w, d.kind == OptKind::kSgd ? 0.01 : 1e-3, false);
  d.momentum = Num(env, opt, "momentum", w, 0, false);
  d.nesterov = Bool(opt, "nesterov", false);
  d.rho = Num(env, opt, "rho", w, 0.9, false);
  d.beta1 = Num(env, opt, "beta1", w, 0.9, false);
  d.beta2 = Num(env, opt, "beta2", w, 0.999, false);
  d.epsilon = Num(env, opt, "epsilon", w, 1e-7, false);
  d.weightDecay = Num(env, opt, "weightDecay", w, d.kind == OptKind::kAdamW ? 0.01 : 0, false);
  d.clipNorm = Num(env, o, "clipNorm", "options", 0, false);
  d.clipValue = Num(env, o, "clipValue", "options", 0, false);
  const Napi::Value l2v = o.Get("l2");
  if (l2v.IsObject()) {
    const Napi::Object l2 = l2v.As<Napi::Object>();
    d.l2[0] = Num(env, l2, "input", "options.l2", 0, false);
    d.l2[1] = Num(env, l2, "recurrent", "options.l2", 0, false);
    d.l2[2] = Num(env, l2, "bias", "options.l2", 0, false);
  }
  if (!(d.lr > 0)) Fail(env, "options.optimizer.lr must be a positive number, got " + std::to_string(d.lr));
  return d;
}

class CudaTrainerWrap : public Napi::ObjectWrap<CudaTrainerWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "CudaTrainer",
                       {InstanceMethod("step", &CudaTrainerWrap::StepJs),
                        InstanceMethod("gradients", &CudaTrainerWrap::GradientsJs),
                        InstanceMethod("output", &CudaTrainerWrap::OutputJs),
                        InstanceMethod("getParams", &CudaTrainerWrap::GetParamsJs),
                        InstanceMethod("setParams", &CudaTrainerWrap::SetParamsJs),
                        InstanceMethod("setOptimizer", &CudaTrainerWrap::SetOptimizerJs),
                        InstanceMethod("resetOptimizer", &CudaTrainerWrap::ResetOptimizerJs),
                        InstanceMethod("dispose", &CudaTrainerWrap::DisposeJs),
                        InstanceAccessor("device", &CudaTrainerWrap::DeviceJs, nullptr),
                        InstanceAccessor("workspaceBytes", &CudaTrainerWrap::WorkspaceJs, nullptr)});
  }

  explicit CudaTrainerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CudaTrainerWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 4) Fail(env, "CudaTrainer(spec, layout, params, options) takes 4 arguments");
    const ModelDesc m = ParseModel(env, info[0], info[1]);
    if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      Fail(env, "params must be a Float32Array, got " + Str(info[2]));
    }
    const Napi::Float32Array params = info[2].As<Napi::Float32Array>();
    if (params.ElementLength() != m.paramCount) {
      Fail(env, "params must have length " + std::to_string(m.paramCount) + " (layout.total), got " +
                    std::to_string(params.ElementLength()));
    }
    const Napi::Object o = Obj(env, info[3], "options");
    loss_ = ParseLoss(env, o);
    const OptimizerDesc opt = ParseOptimizer(env, o);
    const Napi::Value em = o.Get("emulate");
    try {
      if (em.IsString()) {
        const std::string e = em.As<Napi::String>().Utf8Value();
        if (e != "float" && e != "double") Fail(env, "options.emulate must be false, \"float\" or \"double\", got " + Str(em));
        impl_ = CreateEmulatedTrainer(m, loss_, opt, e == "double");
      } else {
        impl_ = CreateCudaTrainer(m, loss_, opt);
      }
      impl_->SetParams(params.Data());
    } catch (const Napi::Error&) {
      throw;
    } catch (const std::exception& e) {
      Fail(env, e.what());
    }
    model_ = m;
  }

 private:
  Trainer& Live(Napi::Env env) {
    if (!impl_) Fail(env, "CudaTrainer was used after dispose()");
    return *impl_;
  }

  // { x: Float32Array [N, T, I], batch, time, lengths?: Int32Array [N], y } → BatchView over JS memory.
  BatchView Batch(Napi::Env env, const Napi::Value& v) {
    const Napi::Object b = Obj(env, v, "batch");
    BatchView view;
    view.batch = Int(env, b, "batch", "batch");
    view.time = Int(env, b, "time", "batch");
    const size_t N = view.batch, T = view.time;
    const Napi::Value x = b.Get("x");
    if (!x.IsTypedArray() || x.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      Fail(env, "batch.x must be a Float32Array, got " + Str(x));
    }
    const Napi::Float32Array xa = x.As<Napi::Float32Array>();
    if (xa.ElementLength() != N * T * model_.inputSize) {
      Fail(env, "batch.x must have length batch*time*inputSize = " + std::to_string(N * T * model_.inputSize) +
                    ", got " + std::to_string(xa.ElementLength()));
    }
    view.x = xa.Data();
    const Napi::Value lv = b.Get("lengths");
    if (!lv.IsUndefined() && !lv.IsNull()) {
      if (!lv.IsTypedArray() || lv.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
          lv.As<Napi::Int32Array>().ElementLength() != N) {
        Fail(env, "batch.lengths must be an Int32Array of length " + std::to_string(N));
      }
      view.lengths = lv.As<Napi::Int32Array>().Data();
    }
    const bool seq = model_.outputIsSequence();
    const size_t rows = seq ? N * T : N;
    const Napi::Value y = b.Get("y");
    if (loss_.kind == LossKind::kCrossEntropy) {
      if (!y.IsTypedArray() || y.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
          y.As<Napi::Int32Array>().ElementLength() != rows) {
        Fail(env, "batch.y must be an Int32Array of class indices of length " + std::to_string(rows) +
                      (seq ? " (batch*time)" : " (batch)"));
      }
      view.labels = y.As<Napi::Int32Array>().Data();
    } else {
      const size_t want = rows * model_.outputSize();
      if (!y.IsTypedArray() || y.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
          y.As<Napi::Float32Array>().ElementLength() != want) {
        Fail(env, "batch.y must be a Float32Array of length " + std::to_string(want));
      }
      view.targets = y.As<Napi::Float32Array>().Data();
    }
    return view;
  }

  Napi::Value StepJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Trainer& t = Live(env);
    const BatchView b = Batch(env, info[0]);
    StepStats s;
    try {
      s = t.Step(b);
    } catch (const std::exception& e) {
      Fail(env, e.what());
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("loss", s.loss);
    out.Set("gradNorm", s.gradNorm);
    out.Set("correct", s.correct);
    out.Set("predictions", s.predictions);
    return out;
  }

  Napi::Value GradientsJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Trainer& t = Live(env);
    const BatchView b = Batch(env, info[0]);
    Napi::Float32Array g = Napi::Float32Array::New(env, t.paramCount());
    double loss = 0;
    try {
      loss = t.Gradients(b, g.Data()).loss;
    } catch (const std::exception& e) {
      Fail(env, e.what());
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("loss", loss);
    out.Set("grads", g);
    return out;
  }

  Napi::Value OutputJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<float> o;
    try {
      o = Live(env).LastOutput();
    } catch (const std::exception& e) {
      Fail(env, e.what());
    }
    Napi::Float32Array out = Napi::Float32Array::New(env, o.size());
    std::copy(o.begin(), o.end(), out.Data());
    return out;
  }

  Napi::Value GetParamsJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Trainer& t = Live(env);
    Napi::Float32Array out;
    if (info.Length() > 0 && !info[0].IsUndefined()) {
      if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
          info[0].As<Napi::Float32Array>().ElementLength() != t.paramCount()) {
        Fail(env, "getParams(out): out must be a Float32Array of length " + std::to_string(t.paramCount()));
      }
      out = info[0].As<Napi::Float32Array>();
    } else {
      out = Napi::Float32Array::New(env, t.paramCount());
    }
    try {
      t.GetParams(out.Data());
    } catch (const std::exception& e) {
      Fail(env, e.what());
    }
    return out;
  }

  Napi::Value SetParamsJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Trainer& t = Live(env);
    if (info.Length() < 1 || !info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
        info[0].As<Napi::Float32Array>().ElementLength() != t.paramCount()) {
      Fail(env, "setParams(params): params must be a Float32Array of length " + std::to_string(t.paramCount()));
    }
    try {
      t.SetParams(info[0].As<Napi::Float32Array>().Data());
    } catch (const std::exception& e) {
      Fail(env, e.what());
    }
    return env.Undefined();
  }

  Napi::Value SetOptimizerJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Trainer& t = Live(env);
    t.SetOptimizer(ParseOptimizer(env, Obj(env, info[0], "options")));
    return env.Undefined();
  }

  Napi::Value ResetOptimizerJs(const Napi::CallbackInfo& info) {
    Live(info.Env()).ResetOptimizer();
    return info.Env().Undefined();
  }

  Napi::Value DisposeJs(const Napi::CallbackInfo& info) {
    impl_.reset();
    return info.Env().Undefined();
  }

  Napi::Value DeviceJs(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), Live(info.Env()).device());
  }

  Napi::Value WorkspaceJs(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(Live(info.Env()).workspaceBytes()));
  }

  ModelDesc model_;
  LossDesc loss_;
  std::unique_ptr<Trainer> impl_;
};

Napi::Value CudaInfoJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DeviceInfo d = Probe();
  Napi::Object out = Napi::Object::New(env);
  out.Set("built", d.built);
  out.Set("available", d.available);
  out.Set("reason", d.reason);
  out.Set("device", d.name);
  out.Set("deviceCount", d.deviceCount);
  out.Set("computeCapability", d.available ? std::to_string(d.computeMajor) + "." + std::to_string(d.computeMinor)
                                           : std::string());
  out.Set("memoryGiB", d.memoryGiB);
  out.Set("runtimeVersion", d.runtimeVersion);
  out.Set("driverVersion", d.driverVersion);
  out.Set("cublas", d.cublasPath);
  return out;
}

}  // namespace

void RegisterCudaJs(Napi::Env env, Napi::Object exports) {
  exports.Set("cudaInfo", Napi::Function::New(env, CudaInfoJs, "cudaInfo"));
  exports.Set("CudaTrainer", CudaTrainerWrap::Define(env));
}

}  // namespace cuda
}  // namespace rnnx
