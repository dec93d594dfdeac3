#include "trainer_wrap.h"

#include <cmath>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "binding_args.h"
#include "cuda/trainer_backend.h"
#include "gemm.h"
#include "thread_pool.h"
#include "trainer.h"

namespace rnnx {

namespace {

const char* kCodeInvalid = "RNNX_INVALID_ARGUMENT";
const char* kCodeNonFinite = "RNNX_NON_FINITE";
const char* kCodeState = "RNNX_INVALID_STATE";

Napi::Error MakeError(Napi::Env env, const std::string& message, const char* code) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

Napi::Object ResultObject(Napi::Env env, const StepResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("loss", r.loss);
  o.Set("count", r.count);
  o.Set("correct", r.correct);
  o.Set("predictions", r.predictions);
  o.Set("gradNorm", r.gradNorm);
  o.Set("updates", r.updates);
  return o;
}

// Runs f, turning the core's exceptions into JavaScript errors with a code.
template <typename F>
auto Guard(Napi::Env env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const NonFiniteError& e) {
    throw MakeError(env, e.what(), kCodeNonFinite);
  } catch (const InvalidArgument& e) {
    throw MakeError(env, e.what(), kCodeInvalid);
  } catch (const std::bad_alloc&) {
    throw MakeError(env, "out of memory while sizing the training workspaces", kCodeInvalid);
  } catch (const std::exception& e) {
    throw MakeError(env, std::string("internal error: ") + e.what(), kCodeInvalid);
  }
}

class TrainerWrap : public Napi::ObjectWrap<TrainerWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Trainer",
                       {
                           InstanceMethod<&TrainerWrap::Step>("step"),
                           InstanceMethod<&TrainerWrap::StepSync>("stepSync"),
                           InstanceMethod<&TrainerWrap::Evaluate>("evaluate"),
                           InstanceMethod<&TrainerWrap::EvaluateSync>("evaluateSync"),
                           InstanceMethod<&TrainerWrap::Predict>("predict"),
                           InstanceMethod<&TrainerWrap::ResetStates>("resetStates"),
                           InstanceMethod<&TrainerWrap::Dispose>("dispose"),
                           InstanceMethod<&TrainerWrap::Info>("info"),
                       });
  }

  // new Trainer(spec, layout, params: Float32Array, options)
  explicit TrainerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TrainerWrap>(info) {
    Napi::Env env = info.Env();
    desc_ = ParseNetwork(info[0], info[1]);
    float* params = Float32Data(info[2], desc_.paramCount, "params");
    cfg_ = ParseTrainConfig(info[3], desc_, &threads_);
    // device: 'cpu' (default), 'cuda' (error when unusable, never a silent fallback) or 'auto'.
    std::string device = "cpu";
    if (info[3].IsObject()) {
      Napi::Value d = info[3].As<Napi::Object>().Get("device");
      if (!d.IsUndefined() && !d.IsNull()) {
        device = d.IsString() ? d.As<Napi::String>().Utf8Value() : "";
        if (device != "cpu" && device != "cuda" && device != "auto") {
          throw MakeError(env, "options.device must be one of \"cpu\", \"cuda\", \"auto\"", kCodeInvalid);
        }
      }
    }
    paramsRef_ = Napi::Persistent(info[2]);
    backend_ = Guard(env, [&] {
      return device == "cpu" ? CreateCpuTrainer(desc_, cfg_, params, threads_)
                             : cuda::CreateBackendForDevice(device, desc_, cfg_, params, threads_, &deviceReason_);
    });
  }

  TrainerBackend* backend() { return backend_.get(); }
  void Finish() {
    busy_ = false;
    if (disposed_) backend_.reset();
  }

 private:
  friend class StepWorker;

  void CheckUsable(Napi::Env env, const char* what) {
    if (disposed_) throw MakeError(env, std::string("Trainer.") + what + ": the trainer has been disposed", kCodeState);
    if (busy_) {
      throw MakeError(env, std::string("Trainer.") + what + ": a step is still running on this trainer; await it first",
                      kCodeState);
    }
  }

  double LearningRate(const Napi::Value& v) {
    if (!v.IsNumber() || !(v.As<Napi::Number>().DoubleValue() >= 0) || !std::isfinite(v.As<Napi::Number>().DoubleValue())) {
      std::string got = v.IsNumber() ? std::to_string(v.As<Napi::Number>().DoubleValue()) : "a non-number";
      throw MakeError(v.Env(), "lr must be a finite number >= 0, got " + got, kCodeInvalid);
    }
    return v.As<Napi::Number>().DoubleValue();
  }

  Napi::Value Step(const Napi::CallbackInfo& info);
  Napi::Value Evaluate(const Napi::CallbackInfo& info);

  Napi::Value StepSync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckUsable(env, "stepSync");
    ParsedBatch b = ParseBatch(info[0], desc_, cfg_, true, "batch");
    const double lr = LearningRate(info[1]);
    return ResultObject(env, Guard(env, [&] { return backend_->TrainStep(b.view, lr); }));
  }

  Napi::Value EvaluateSync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckUsable(env, "evaluateSync");
    ParsedBatch b = ParseBatch(info[0], desc_, cfg_, true, "batch");
    return ResultObject(env, Guard(env, [&] { return backend_->Evaluate(b.view); }));
  }

  // predict({x, batch, time, lengths?}) → Float32Array [N, T, F] or [N, F]
  Napi::Value Predict(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckUsable(env, "predict");
    ParsedBatch b = ParseBatch(info[0], desc_, cfg_, false, "input");
    const size_t rows = desc_.sequenceOutput() ? static_cast<size_t>(b.view.N) * b.view.T : b.view.N;
    Napi::Float32Array y = Napi::Float32Array::New(env, rows * desc_.outputSize());
    Guard(env, [&] {
      backend_->Predict(b.view.x, b.view.N, b.view.T, b.view.lengths, y.Data());
      return 0;
    });
    return y;
  }

  Napi::Value ResetStates(const Napi::CallbackInfo& info) {
    CheckUsable(info.Env(), "resetStates");
    backend_->ResetStates();
    return info.Env().Undefined();
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (!disposed_) {
      disposed_ = true;
      if (!busy_) backend_.reset();  // else released when the running step finishes
      paramsRef_.Reset();
    }
    return info.Env().Undefined();
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (disposed_) throw MakeError(env, "Trainer.info: the trainer has been disposed", kCodeState);
    Napi::Object o = Napi::Object::New(env);
    o.Set("backend", backend_->name());
    if (!deviceReason_.empty()) o.Set("deviceReason", deviceReason_);
    o.Set("gemm", GemmKernelName());
    o.Set("threads", threads_);
    o.Set("steps", static_cast<double>(backend_->steps()));
    o.Set("activationBytes", static_cast<double>(backend_->activationBytes()));
    o.Set("backwardBytes", static_cast<double>(backend_->backwardBytes()));
    o.Set("persistentBytes", static_cast<double>(backend_->persistentBytes()));
    o.Set("stateBatch", backend_->stateBatch());
    return o;
  }

  NetworkDesc desc_;
  TrainConfig cfg_;
  int threads_ = 1;
  std::string deviceReason_;  // why 'auto' chose the backend it did
  Napi::Reference<Napi::Value> paramsRef_;  // keeps the parameter buffer alive and in place
  std::unique_ptr<TrainerBackend> backend_;
  bool busy_ = false;
  bool disposed_ = false;
};

// Runs one step (or an evaluation) off the JavaScript thread and settles a Promise.
class StepWorker : public Napi::AsyncWorker {
 public:
  StepWorker(Napi::Env env, TrainerWrap* owner, Napi::Object ownerObj, ParsedBatch&& batch, double lr, bool evaluate)
      : Napi::AsyncWorker(env, "rnnx.step"),
        deferred_(Napi::Promise::Deferred::New(env)),
        owner_(owner),
        ownerRef_(Napi::Persistent(ownerObj)),
        batch_(std::move(batch)),
        lr_(lr),
        evaluate_(evaluate) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      result_ = evaluate_ ? owner_->backend()->Evaluate(batch_.view) : owner_->backend()->TrainStep(batch_.view, lr_);
    } catch (const NonFiniteError& e) {
      code_ = kCodeNonFinite;
      SetError(e.what());
    } catch (const InvalidArgument& e) {
      SetError(e.what());
    } catch (const std::bad_alloc&) {
      SetError("out of memory while sizing the training workspaces");
    } catch (const std::exception& e) {
      SetError(std::string("internal error: ") + e.what());
    }
  }

  void OnOK() override {
    owner_->Finish();
    deferred_.Resolve(ResultObject(Env(), result_));
  }

  void OnError(const Napi::Error& e) override {
    owner_->Finish();
    deferred_.Reject(MakeError(Env(), e.Message(), code_).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  TrainerWrap* owner_;
  Napi::ObjectReference ownerRef_;  // the wrap (and so the backend) stays alive while we run
  ParsedBatch batch_;
  double lr_;
  bool evaluate_;
  StepResult result_;
  const char* code_ = kCodeInvalid;
};

Napi::Value TrainerWrap::Step(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckUsable(env, "step");
  ParsedBatch b = ParseBatch(info[0], desc_, cfg_, true, "batch");
  const double lr = LearningRate(info[1]);
  auto* w = new StepWorker(env, this, info.This().As<Napi::Object>(), std::move(b), lr, false);
  busy_ = true;
  w->Queue();
  return w->Promise();
}

Napi::Value TrainerWrap::Evaluate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckUsable(env, "evaluate");
  ParsedBatch b = ParseBatch(info[0], desc_, cfg_, true, "batch");
  auto* w = new StepWorker(env, this, info.This().As<Napi::Object>(), std::move(b), 0, true);
  busy_ = true;
  w->Queue();
  return w->Promise();
}

template <typename T>
Napi::Value StatesToJs(Napi::Env env, const StateSet<T>& s) {
  Napi::Array out = Napi::Array::New(env, s.h.size());
  for (size_t l = 0; l < s.h.size(); ++l) {
    Napi::Object o = Napi::Object::New(env);
    auto make = [&](const std::vector<T>& v) -> Napi::Value {
      if constexpr (sizeof(T) == 8) {
        Napi::Float64Array a = Napi::Float64Array::New(env, v.size());
        std::copy(v.begin(), v.end(), a.Data());
        return a;
      } else {
        Napi::Float32Array a = Napi::Float32Array::New(env, v.size());
        std::copy(v.begin(), v.end(), a.Data());
        return a;
      }
    };
    o.Set("h", make(s.h[l]));
    if (!s.c[l].empty()) o.Set("c", make(s.c[l]));
    out.Set(static_cast<uint32_t>(l), o);
  }
  return out;
}

template <typename T>
Napi::Value GradientsT(const Napi::CallbackInfo& info, NetworkDesc& desc, const T* params, const Napi::Object& opts) {
  Napi::Env env = info.Env();
  int threads = 1;
  TrainConfig cfg = ParseTrainConfig(opts, desc, &threads);
  ParsedBatch b = ParseBatch(info[3], desc, cfg, true, "batch");
  Napi::Value trainingV = opts.Get("training");
  const bool training = trainingV.IsBoolean() ? trainingV.As<Napi::Boolean>().Value() : false;
  StateSet<T> initial = ParseStates<T>(opts.Get("initialState"), desc, b.view.N, "options.initialState");
  Napi::TypedArray grads;
  T* g;
  if constexpr (sizeof(T) == 8) {
    auto a = Napi::Float64Array::New(env, desc.paramCount);
    grads = a;
    g = a.Data();
  } else {
    auto a = Napi::Float32Array::New(env, desc.paramCount);
    grads = a;
    g = a.Data();
  }
  StateSet<T> finals;
  std::unique_ptr<ThreadPool> pool(threads > 1 ? new ThreadPool(threads) : nullptr);
  const StepResult r = Guard(env, [&] {
    return ComputeGradients<T>(desc, cfg, params, b.view, training, initial.h.empty() ? nullptr : &initial, g, &finals,
                               pool.get());
  });
  Napi::Object out = ResultObject(env, r);
  out.Set("grads", grads);
  out.Set("finalStates", StatesToJs(env, finals));
  return out;
}

// computeGradients(spec, layout, params: Float64Array | Float32Array, batch, options)
//   → {loss, count, correct, predictions, grads (same type as params), finalStates}
Napi::Value ComputeGradientsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  NetworkDesc desc = ParseNetwork(info[0], info[1]);
  Napi::Object opts = info[4].IsUndefined() ? Napi::Object::New(env) : info[4].As<Napi::Object>();
  if (!info[4].IsUndefined() && (!info[4].IsObject() || info[4].IsArray())) {
    throw MakeError(env, "options must be an object", kCodeInvalid);
  }
  if (info[2].IsTypedArray() && info[2].As<Napi::TypedArray>().TypedArrayType() == napi_float64_array) {
    return GradientsT<double>(info, desc, Float64Data(info[2], desc.paramCount, "params"), opts);
  }
  return GradientsT<float>(info, desc, Float32Data(info[2], desc.paramCount, "params"), opts);
}

// forward(spec, layout, params: Float32Array | Float64Array, {x, batch, time, lengths?}, {threads?})
//   → Float32Array | Float64Array: y [N, T, F] or [N, F]
Napi::Value ForwardJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  NetworkDesc desc = ParseNetwork(info[0], info[1]);
  int threads = 1;
  TrainConfig cfg = ParseTrainConfig(info[4], desc, &threads);
  ParsedBatch b = ParseBatch(info[3], desc, cfg, false, "input");
  const size_t rows = desc.sequenceOutput() ? static_cast<size_t>(b.view.N) * b.view.T : b.view.N;
  const size_t n = rows * desc.outputSize();
  std::unique_ptr<ThreadPool> pool(threads > 1 ? new ThreadPool(threads) : nullptr);
  if (info[2].IsTypedArray() && info[2].As<Napi::TypedArray>().TypedArrayType() == napi_float64_array) {
    const double* p = Float64Data(info[2], desc.paramCount, "params");
    Napi::Float64Array y = Napi::Float64Array::New(env, n);
    Guard(env, [&] {
      ForwardBatch<double>(desc, p, b.view.x, b.view.N, b.view.T, b.view.lengths, y.Data(), pool.get());
      return 0;
    });
    return y;
  }
  const float* p = Float32Data(info[2], desc.paramCount, "params");
  Napi::Float32Array y = Napi::Float32Array::New(env, n);
  Guard(env, [&] {
    ForwardBatch<float>(desc, p, b.view.x, b.view.N, b.view.T, b.view.lengths, y.Data(), pool.get());
    return 0;
  });
  return y;
}

}  // namespace

void RegisterTrainingExports(Napi::Env env, Napi::Object exports) {
  exports.Set("Trainer", TrainerWrap::Define(env));
  exports.Set("computeGradients", Napi::Function::New(env, ComputeGradientsJs));
  exports.Set("forward", Napi::Function::New(env, ForwardJs));
  exports.Set("gemmKernel", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
                return Napi::String::New(info.Env(), GemmKernelName());
              }));
  exports.Set("hardwareThreads", Napi::Number::New(env, std::thread::hardware_concurrency()));
}

}  // namespace rnnx
