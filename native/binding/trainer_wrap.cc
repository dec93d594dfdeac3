#include "binding/trainer_wrap.h"

#include <cmath>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "binding/binding_args.h"
#include "cuda/cuda_backend.h"
#include "gemm/gemm.h"
#include "gemm/thread_pool.h"
#include "training/trainer.h"

namespace rnnx {

namespace {

// The one place that picks the backend for options.device (never a silent fallback):
//   'cpu'           the CPU trainer (training/trainer.cc)
//   'cuda'          the CUDA backend on the GPU, or InvalidArgument "device 'cuda' is not available: <reason>"
//   'cuda-emulated' the CUDA backend's code run on the CPU (exec_host.h), float or double
//   'auto'          'cuda' when a device is usable, else 'cpu'; *why says which and why
std::unique_ptr<TrainerBackend> CreateTrainerBackend(const std::string& device, bool emulateDouble,
                                                     const NetworkDesc& desc, const TrainConfig& config,
                                                     const float* params, int threads, std::string* why) {
  if (device == "cpu") return CreateCpuTrainer(desc, config, params, threads);
  if (device == "cuda-emulated") return cuda::CreateEmulatedBackend(desc, config, params, emulateDouble);
  if (device == "cuda") return cuda::CreateCudaBackend(desc, config, params);
  const cuda::DeviceInfo info = cuda::Probe();  // 'auto'
  if (!info.available) {
    *why = "device 'auto' chose the CPU: no usable CUDA device (" + info.reason + ")";
    return CreateCpuTrainer(desc, config, params, threads);
  }
  auto b = cuda::CreateCudaBackend(desc, config, params);
  *why = "device 'auto' chose CUDA: " + b->description() + " is available";
  return b;
}

// Names of options.device and options.emulate, checked by table.
const char* const kDevices[] = {"cpu", "cuda", "cuda-emulated", "auto"};
const char* const kEmulations[] = {"float", "double"};

std::string ParseChoice(Napi::Env env, const Napi::Object& o, const char* key, const char* const* names, size_t count,
                        const char* def) {
  const Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return def;
  const std::string got = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  std::string list;
  for (size_t i = 0; i < count; ++i) {
    if (got == names[i]) return got;
    list += std::string(i ? ", " : "") + "\"" + names[i] + "\"";
  }
  const std::string shown = v.IsString() ? "\"" + got + "\"" : v.ToString().Utf8Value();
  throw MakeError(env, std::string("options.") + key + " must be one of " + list + ", got " + shown, kCodeInvalid);
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
                           InstanceMethod<&TrainerWrap::Gradients>("gradients"),
                           InstanceMethod<&TrainerWrap::Output>("output"),
                           InstanceMethod<&TrainerWrap::GetParams>("getParams"),
                           InstanceMethod<&TrainerWrap::SyncParams>("syncParams"),
                       });
  }

  // new Trainer(spec, layout, params: Float32Array, options)
  explicit TrainerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TrainerWrap>(info) {
    Napi::Env env = info.Env();
    desc_ = ParseNetwork(info[0], info[1]);
    cfg_ = ParseTrainConfig(info[3], desc_, &threads_);
    std::string device = "cpu", emulate = "float";
    if (info[3].IsObject()) {
      const Napi::Object o = info[3].As<Napi::Object>();
      device = ParseChoice(env, o, "device", kDevices, 4, "cpu");
      const Napi::Value e = o.Get("emulate");
      if (!e.IsUndefined() && !e.IsNull() && device != "cuda-emulated") {
        throw MakeError(env, "options.emulate applies to device \"cuda-emulated\" only, got device \"" + device + "\"",
                        kCodeInvalid);
      }
      emulate = ParseChoice(env, o, "emulate", kEmulations, 2, "float");
    }
    const float* params = Float32Data(info[2], desc_.paramCount, "params");  // after every getter ran
    backend_ = Guard(env, [&] {
      return CreateTrainerBackend(device, emulate == "double", desc_, cfg_, params, threads_, &deviceReason_);
    });
    if (backend_->residentParams()) mirror_.assign(params, params + desc_.paramCount);
    paramsRef_ = Napi::Persistent(info[2]);
    ReportMemory(env);
  }

  ~TrainerWrap() override {
    if (reported_ != 0) Napi::MemoryManagement::AdjustExternalMemory(Env(), -reported_);
  }

  TrainerBackend* backend() { return backend_.get(); }

  // Called on the JavaScript thread when a queued step settles. Returns the error that replaces
  // the step's result, if any: the trainer was disposed meanwhile (result discarded) or the
  // parameter buffer can no longer take the new weights (detached: nothing is written).
  std::string Finish(bool evaluate, bool ok, const char** code) {
    busy_ = false;
    std::string error;
    if (disposed_) {
      // A device backend's weights reach the model at dispose: the ones it holds now (after this
      // step if it succeeded, from before it if it was rolled back).
      SyncQuietly();
      backend_.reset();
      ReportMemory(Env());
      *code = kCodeState;
      return std::string("Trainer.") + (evaluate ? "evaluate" : "step") +
             ": the trainer was disposed while this call ran; its result was discarded";
    }
    if (ok && !evaluate) {
      try {
        AfterStep(Env());
      } catch (const Napi::Error& e) {
        *code = kCodeDetached;
        error = e.Message() + "; the step's update was discarded";
      }
    }
    ReportMemory(Env());
    return error;
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

  // The parameter buffer as it is now: still attached and of the model's length, or RNNX_DETACHED.
  float* LiveParams(Napi::Env env) {
    Napi::Value v = paramsRef_.Value();
    if (!v.IsTypedArray()) throw MakeError(env, "params: the parameter buffer is gone", kCodeDetached);
    CheckAttached(v, "params (the model's parameter Float32Array)");
    return Float32Data(v, desc_.paramCount, "params (the model's parameter Float32Array)");
  }

  // Copies the model's current weights into the backend (JavaScript may have changed them). A
  // device backend keeps its weights between steps: they are sent only when the model's buffer
  // differs from what was last exchanged with it (mirror_), a host-side comparison.
  void LoadParams(Napi::Env env) {
    const float* p = LiveParams(env);
    const bool resident = backend_->residentParams();
    if (resident && std::memcmp(p, mirror_.data(), mirror_.size() * sizeof(float)) == 0) return;
    Guard(env, [&] {
      backend_->SetParams(p);
      return 0;
    });
    if (resident) {
      std::memcpy(mirror_.data(), p, mirror_.size() * sizeof(float));
      jsStale_ = false;  // JavaScript wrote the weights: its buffer is the current one
    }
  }

  // After a successful step. CPU: the new weights go into the model's buffer now (a host copy).
  // Device: they stay on the device until read (syncParams, getParams, dispose); the buffer must
  // still be attached (RNNX_DETACHED otherwise, as on the CPU).
  void AfterStep(Napi::Env env) {
    float* p = LiveParams(env);
    if (backend_->residentParams()) {
      jsStale_ = true;
      return;
    }
    backend_->GetParams(p);
  }

  // Device backends: the weights into the model's buffer, when it is behind.
  void Sync(Napi::Env env) {
    if (!backend_->residentParams() || !jsStale_) return;
    float* p = LiveParams(env);
    Guard(env, [&] {
      backend_->GetParams(p);
      return 0;
    });
    std::memcpy(mirror_.data(), p, mirror_.size() * sizeof(float));
    jsStale_ = false;
  }

  // At dispose: a detached buffer cannot take the weights, and dispose never throws.
  void SyncQuietly() {
    if (!backend_) return;
    try {
      Sync(Env());
    } catch (const Napi::Error&) {
    }
  }

  // Tells V8 what the native side holds, so that undisposed trainers are collected in time.
  void ReportMemory(Napi::Env env) {
    int64_t now = 0;
    if (backend_) {
      now = static_cast<int64_t>(backend_->activationBytes() + backend_->backwardBytes() + backend_->persistentBytes() +
                                 2 * desc_.paramCount * sizeof(float) + mirror_.size() * sizeof(float));
    }
    if (now != reported_) Napi::MemoryManagement::AdjustExternalMemory(env, now - reported_);
    reported_ = now;
  }

  Napi::Value Step(const Napi::CallbackInfo& info);
  Napi::Value Evaluate(const Napi::CallbackInfo& info);

  Napi::Value StepSync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckUsable(env, "stepSync");
    ParsedBatch b = ParseBatch(info[0], desc_, cfg_, true, "batch", false);
    const double lr = ParseLearningRate(info[1], "lr");
    LoadParams(env);
    b.Recheck(env);
    const StepResult r = Guard(env, [&] { return backend_->TrainStep(b.view, lr); });
    AfterStep(env);  // no JavaScript ran since LoadParams
    ReportMemory(env);
    return ResultObject(env, r);
  }

  // gradients(batch) → {loss, count, correct, predictions, gradNorm, grads: Float32Array}: no update.
  Napi::Value Gradients(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckUsable(env, "gradients");
    ParsedBatch b = ParseBatch(info[0], desc_, cfg_, true, "batch", false);
    Napi::Float32Array g = Napi::Float32Array::New(env, desc_.paramCount);
    LoadParams(env);
    b.Recheck(env);
    const StepResult r = Guard(env, [&] { return backend_->Gradients(b.view, g.Data()); });
    Napi::Object out = ResultObject(env, r);
    out.Set("grads", g);
    ReportMemory(env);
    return out;
  }

  // output() → Float32Array: the model output of the last forward pass, batch-first.
  Napi::Value Output(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckUsable(env, "output");
    const std::vector<float> o = Guard(env, [&] { return backend_->LastOutput(); });
    Napi::Float32Array out = Napi::Float32Array::New(env, o.size());
    std::copy(o.begin(), o.end(), out.Data());
    return out;
  }

  // getParams() → a new Float32Array with the trainer's current weights (the model's buffer is untouched).
  Napi::Value GetParams(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckUsable(env, "getParams");
    Napi::Float32Array out = Napi::Float32Array::New(env, desc_.paramCount);
    Guard(env, [&] {
      backend_->GetParams(out.Data());
      return 0;
    });
    return out;
  }

  // syncParams(): writes the trainer's weights into the model's buffer (device backends keep
  // them on the device between steps; the CPU backend writes them after every step).
  Napi::Value SyncParams(const Napi::CallbackInfo& info) {
    CheckUsable(info.Env(), "syncParams");
    Sync(info.Env());
    return info.Env().Undefined();
  }

  Napi::Value EvaluateSync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckUsable(env, "evaluateSync");
    ParsedBatch b = ParseBatch(info[0], desc_, cfg_, true, "batch", false);
    LoadParams(env);
    b.Recheck(env);
    return ResultObject(env, Guard(env, [&] { return backend_->Evaluate(b.view); }));
  }

  // predict({x, batch, time, lengths?}) → Float32Array [N, T, F] or [N, F]
  Napi::Value Predict(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckUsable(env, "predict");
    ParsedBatch b = ParseBatch(info[0], desc_, cfg_, false, "input", false);
    const size_t rows = desc_.sequenceOutput() ? static_cast<size_t>(b.view.N) * b.view.T : b.view.N;
    CheckTypedArrayLength(env, rows * desc_.outputSize(), "the output");
    Napi::Float32Array y = Napi::Float32Array::New(env, rows * desc_.outputSize());
    LoadParams(env);
    b.Recheck(env);
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
      // A running step works on native copies only; it finishes, and Finish discards its result.
      if (!busy_) {
        SyncQuietly();
        backend_.reset();
        ReportMemory(info.Env());
      }
      if (!busy_) paramsRef_.Reset();  // else Finish still syncs into it
    }
    return info.Env().Undefined();
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (disposed_) throw MakeError(env, "Trainer.info: the trainer has been disposed", kCodeState);
    Napi::Object o = Napi::Object::New(env);
    o.Set("backend", backend_->name());
    o.Set("device", backend_->description());
    if (!deviceReason_.empty()) o.Set("deviceReason", deviceReason_);
    // Host <-> device copies since the trainer was made (zeros on the CPU).
    const Transfers t = backend_->transfers();
    Napi::Object tr = Napi::Object::New(env);
    tr.Set("toDevice", t.toDevice);
    tr.Set("toHost", t.toHost);
    tr.Set("bytesToDevice", t.bytesToDevice);
    tr.Set("bytesToHost", t.bytesToHost);
    o.Set("transfers", tr);
    // Device backends: whether the model's buffer is behind the trainer's weights (syncParams).
    o.Set("paramsPending", backend_->residentParams() && jsStale_);
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
  std::vector<float> mirror_;  // device backends: the weights last exchanged with the model's buffer
  bool jsStale_ = false;       // device backends: the model's buffer is behind the trainer
  Napi::Reference<Napi::Value> paramsRef_;  // the model's parameter buffer (borrowed: re-checked at each use)
  std::unique_ptr<TrainerBackend> backend_;
  int64_t reported_ = 0;  // bytes reported to V8 as external memory
  bool busy_ = false;
  bool disposed_ = false;
};

// Runs one step (or an evaluation) off the JavaScript thread and settles a Promise. It touches
// only native memory: the batch was copied by ParseBatch (copy = true), the weights by
// LoadParams; the new weights are written back in OnOK/OnError, on the JavaScript thread.
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
    } catch (...) {
      const CoreError c = Classify(std::current_exception());
      code_ = c.code;
      SetError(c.message);
    }
  }

  void OnOK() override {
    const char* code = kCodeInvalid;
    const std::string error = owner_->Finish(evaluate_, true, &code);
    if (!error.empty()) {
      deferred_.Reject(MakeError(Env(), error, code).Value());
      return;
    }
    deferred_.Resolve(ResultObject(Env(), result_));
  }

  void OnError(const Napi::Error& e) override {
    const char* code = code_;
    const std::string error = owner_->Finish(evaluate_, false, &code);
    deferred_.Reject(MakeError(Env(), error.empty() ? e.Message() : error, code).Value());
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
  ParsedBatch b = ParseBatch(info[0], desc_, cfg_, true, "batch", true);
  const double lr = ParseLearningRate(info[1], "lr");
  LoadParams(env);
  auto* w = new StepWorker(env, this, info.This().As<Napi::Object>(), std::move(b), lr, false);
  busy_ = true;
  w->Queue();
  return w->Promise();
}

Napi::Value TrainerWrap::Evaluate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckUsable(env, "evaluate");
  ParsedBatch b = ParseBatch(info[0], desc_, cfg_, true, "batch", true);
  LoadParams(env);
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
const T* ParamsData(const Napi::Value& v, size_t n) {
  if constexpr (sizeof(T) == 8) {
    return Float64Data(v, n, "params");
  } else {
    return Float32Data(v, n, "params");
  }
}

template <typename T>
Napi::Value GradientsT(const Napi::CallbackInfo& info, NetworkDesc& desc, const Napi::Object& opts) {
  Napi::Env env = info.Env();
  int threads = 1;
  TrainConfig cfg = ParseTrainConfig(opts, desc, &threads);
  ParsedBatch b = ParseBatch(info[3], desc, cfg, true, "batch", false);
  Napi::Value trainingV = opts.Get("training");
  const bool training = trainingV.IsBoolean() ? trainingV.As<Napi::Boolean>().Value() : false;
  StateSet<T> initial = ParseStates<T>(opts.Get("initialState"), desc, b.view.N, "options.initialState");
  ParamsData<T>(info[2], desc.paramCount);  // type and length before sizing anything by them
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
  // Pointers into JavaScript memory are taken last and re-checked: no getter runs after this.
  const T* params = ParamsData<T>(info[2], desc.paramCount);
  b.Recheck(env);
  StateSet<T> finals;
  const StepResult r = Guard(env, [&] {
    std::shared_ptr<ThreadPool> pool = threads > 1 ? SharedPool(threads) : nullptr;
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
  if (!info[4].IsUndefined() && (!info[4].IsObject() || info[4].IsArray())) {
    throw MakeError(env, "options must be an object", kCodeInvalid);
  }
  Napi::Object opts = info[4].IsUndefined() ? Napi::Object::New(env) : info[4].As<Napi::Object>();
  if (info[2].IsTypedArray() && info[2].As<Napi::TypedArray>().TypedArrayType() == napi_float64_array) {
    return GradientsT<double>(info, desc, opts);
  }
  return GradientsT<float>(info, desc, opts);
}

template <typename T>
Napi::Value ForwardT(const Napi::CallbackInfo& info, const NetworkDesc& desc, const ParsedBatch& b, int threads) {
  Napi::Env env = info.Env();
  const size_t rows = desc.sequenceOutput() ? static_cast<size_t>(b.view.N) * b.view.T : b.view.N;
  const size_t n = rows * desc.outputSize();
  ParamsData<T>(info[2], desc.paramCount);  // type and length before sizing anything by them
  CheckTypedArrayLength(env, n, "the output");
  Napi::TypedArray out;
  T* y;
  if constexpr (sizeof(T) == 8) {
    auto a = Napi::Float64Array::New(env, n);
    out = a;
    y = a.Data();
  } else {
    auto a = Napi::Float32Array::New(env, n);
    out = a;
    y = a.Data();
  }
  const T* p = ParamsData<T>(info[2], desc.paramCount);
  b.Recheck(env);
  Guard(env, [&] {
    std::shared_ptr<ThreadPool> pool = threads > 1 ? SharedPool(threads) : nullptr;
    ForwardBatch<T>(desc, p, b.view.x, b.view.N, b.view.T, b.view.lengths, y, pool.get());
    return 0;
  });
  return out;
}

// forward(spec, layout, params: Float32Array | Float64Array, {x, batch, time, lengths?}, {threads?})
//   → Float32Array | Float64Array: y [N, T, F] or [N, F]
Napi::Value ForwardJs(const Napi::CallbackInfo& info) {
  NetworkDesc desc = ParseNetwork(info[0], info[1]);
  int threads = 1;
  TrainConfig cfg = ParseTrainConfig(info[4], desc, &threads);
  ParsedBatch b = ParseBatch(info[3], desc, cfg, false, "input", false);
  if (info[2].IsTypedArray() && info[2].As<Napi::TypedArray>().TypedArrayType() == napi_float64_array) {
    return ForwardT<double>(info, desc, b, threads);
  }
  return ForwardT<float>(info, desc, b, threads);
}

// cudaInfo(): { built, available, reason, device, deviceCount, computeCapability, memoryGiB,
//               runtimeVersion, driverVersion, cublas }
Napi::Value CudaInfoJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const cuda::DeviceInfo d = cuda::Probe();
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

void RegisterTrainingExports(Napi::Env env, Napi::Object exports) {
  exports.Set("Trainer", TrainerWrap::Define(env));
  exports.Set("cudaInfo", Napi::Function::New(env, CudaInfoJs, "cudaInfo"));
  exports.Set("computeGradients", Napi::Function::New(env, ComputeGradientsJs));
  exports.Set("forward", Napi::Function::New(env, ForwardJs));
  exports.Set("gemmKernel", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
                return Napi::String::New(info.Env(), GemmKernelName());
              }));
  exports.Set("hardwareThreads", Napi::Number::New(env, std::thread::hardware_concurrency()));
}

}  // namespace rnnx
