// N-API adapter of the CUDA backend (the only file in native/cuda that knows N-API). The
// addon's binding calls RegisterCudaJs(env, exports) once; it adds:
//   cudaInfo(): { built, available, reason, device, deviceCount, computeCapability, memoryGiB,
//                 runtimeVersion, driverVersion, cublas }
//   new CudaTrainer(spec, layout, params, options)  (spec/layout: src/layers/spec.ts, params.ts)
//     (spec, layout, params, options and batches are checked by the CPU trainer's parsers,
//     binding_args.h, so both backends accept and refuse exactly the same values)
//     options: { loss: 'mse'|'mae'|'huber'|'crossentropy'|'binaryCrossentropy' (or the trainer's
//                       { type, delta }), huberDelta?,
//                optimizer: { type: 'sgd'|'rmsprop'|'adam'|'adamw', lr, momentum?, nesterov?, rho?,
//                             beta1?, beta2?, epsilon?, weightDecay? },
//                clipNorm?, clipValue?, l2?: { input?, recurrent?, bias? },
//                emulate?: false | 'float' | 'double' }   (emulate: the CPU emulation, for tests)
//     .step({ x, batch, time, lengths?, y }) → { loss, gradNorm, correct, predictions }
//     .gradients(batch) → { loss, grads: Float32Array }   (no update)
//     .output() → Float32Array                             (last forward pass; logits for CE)
//     .getParams(out?) → Float32Array   .setParams(p)   .setOptimizer({type, lr?, ...})   .resetOptimizer()
//     .dispose()   .device   .workspaceBytes
#include <napi.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "binding/binding_args.h"
#include "training/loss.h"
#include "backend.h"
#include "trainer_backend.h"

namespace rnnx {
namespace cuda {

namespace {

[[noreturn]] void Fail(Napi::Env env, const std::string& msg) { throw MakeError(env, msg, kCodeInvalid); }

// The learning rate inside options.optimizer (the CPU trainer takes it per step instead).
double OptimizerLr(const Napi::Value& optimizer, const OptimizerConfig& parsed) {
  const double def = parsed.kind == rnnx::OptimizerKind::kSgd ? 0.01 : 1e-3;
  if (!optimizer.IsObject()) return def;
  const Napi::Value lr = optimizer.As<Napi::Object>().Get("lr");
  if (lr.IsUndefined() || lr.IsNull()) return def;
  return ParseLearningRate(lr, "options.optimizer.lr");
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

  // Every argument goes through the CPU trainer's parsers (binding_args.h): one validation path.
  explicit CudaTrainerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CudaTrainerWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 4) Fail(env, "CudaTrainer(spec, layout, params, options) takes 4 arguments");
    desc_ = ParseNetwork(info[0], info[1]);
    if (!info[3].IsObject() || info[3].IsArray()) Fail(env, "options must be an object");
    const Napi::Object o = info[3].As<Napi::Object>();
    // This export also takes the loss as a plain name with options.huberDelta: rewrite it into the
    // trainer's { type, delta } and let ParseTrainConfig check everything.
    const Napi::Object norm = Napi::Object::New(env);
    for (const char* key : {"optimizer", "clipNorm", "clipValue", "l2", "outputDropout", "seed", "tbptt", "stateful"}) {
      norm.Set(key, o.Get(key));
    }
    const Napi::Value lossV = o.Get("loss");
    if (lossV.IsString()) {
      const Napi::Object l = Napi::Object::New(env);
      l.Set("type", lossV);
      l.Set("delta", o.Get("huberDelta"));
      norm.Set("loss", l);
    } else {
      norm.Set("loss", lossV);
    }
    const Napi::Value optimizerV = o.Get("optimizer");
    cfg_ = ParseTrainConfig(norm, desc_, nullptr);
    lr_ = OptimizerLr(optimizerV, cfg_.optimizer);
    const std::string missing = Unsupported(desc_, cfg_);
    if (!missing.empty()) Fail(env, "the CUDA backend does not support " + missing + " yet; train this model on the CPU (device 'cpu')");
    if (!LossAcceptsActivation(cfg_.loss.kind, desc_.outputActivation())) {
      Fail(env, "options.loss: the output layer's activation does not suit this loss (crossentropy: softmax or none; "
                "binaryCrossentropy: sigmoid or none)");
    }
    const Napi::Value em = o.Get("emulate");
    if (!em.IsUndefined() && !em.IsNull() && !(em.IsBoolean() && !em.As<Napi::Boolean>().Value())) {
      const std::string e = em.IsString() ? em.As<Napi::String>().Utf8Value() : "";
      if (e != "float" && e != "double") Fail(env, "options.emulate must be false, \"float\" or \"double\"");
      emulate_ = e;
    }
    const float* params = Float32Data(info[2], desc_.paramCount, "params");  // after every getter ran
    Guard(env, [&] {
      OptimizerDesc opt = ToOptimizer(cfg_);
      opt.lr = lr_;
      try {
        impl_ = emulate_.empty() ? CreateCudaTrainer(ToModelDesc(desc_), ToLoss(cfg_.loss), opt)
                                 : CreateEmulatedTrainer(ToModelDesc(desc_), ToLoss(cfg_.loss), opt, emulate_ == "double");
      } catch (const std::runtime_error& e) {
        throw InvalidArgument(e.what());  // "device 'cuda' is not available: <reason>" is the user's to fix
      }
      impl_->SetParams(params);
      return 0;
    });
  }

 private:
  Trainer& Live(Napi::Env env) {
    if (!impl_) throw MakeError(env, "CudaTrainer was used after dispose()", kCodeState);
    return *impl_;
  }

  // The trainer's batch checks (finite inputs and targets, lengths and labels in range).
  static BatchView View(const ParsedBatch& b) { return ToBatchView(b.view); }

  Napi::Value StepJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Trainer& t = Live(env);
    const ParsedBatch b = ParseBatch(info[0], desc_, cfg_, true, "batch", false);
    b.Recheck(env);
    const StepStats s = Guard(env, [&] { return t.Step(View(b)); });
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
    const ParsedBatch b = ParseBatch(info[0], desc_, cfg_, true, "batch", false);
    Napi::Float32Array g = Napi::Float32Array::New(env, t.paramCount());
    b.Recheck(env);
    const double loss = Guard(env, [&] { return t.Gradients(View(b), g.Data()).loss; });
    Napi::Object out = Napi::Object::New(env);
    out.Set("loss", loss);
    out.Set("grads", g);
    return out;
  }

  Napi::Value OutputJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Trainer& t = Live(env);
    const std::vector<float> o = Guard(env, [&] { return t.LastOutput(); });
    Napi::Float32Array out = Napi::Float32Array::New(env, o.size());
    std::copy(o.begin(), o.end(), out.Data());
    return out;
  }

  Napi::Value GetParamsJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Trainer& t = Live(env);
    Napi::Float32Array out;
    if (info.Length() > 0 && !info[0].IsUndefined()) {
      Float32Data(info[0], t.paramCount(), "getParams(out): out");
      out = info[0].As<Napi::Float32Array>();
    } else {
      out = Napi::Float32Array::New(env, t.paramCount());
    }
    Guard(env, [&] {
      t.GetParams(out.Data());
      return 0;
    });
    return out;
  }

  Napi::Value SetParamsJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Trainer& t = Live(env);
    const float* p = Float32Data(info[0], t.paramCount(), "setParams(params): params");
    Guard(env, [&] {
      t.SetParams(p);
      return 0;
    });
    return env.Undefined();
  }

  // setOptimizer({type, lr?, ...}): the same checks as the constructor's options.optimizer.
  Napi::Value SetOptimizerJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Trainer& t = Live(env);
    const OptimizerConfig parsed = ParseOptimizerConfig(info[0], "optimizer");
    const double lr = OptimizerLr(info[0], parsed);
    TrainConfig c = cfg_;
    c.optimizer = parsed;
    OptimizerDesc d = ToOptimizer(c);
    d.lr = lr;
    Guard(env, [&] {
      t.SetOptimizer(d);
      return 0;
    });
    cfg_ = c;
    lr_ = lr;
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

  NetworkDesc desc_;
  TrainConfig cfg_;
  double lr_ = 1e-3;
  std::string emulate_;  // "", "float" or "double"
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
