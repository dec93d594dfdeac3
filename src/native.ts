// The ONLY module that loads the native addon (build/Release/rnnx_native.node), with the
// TypeScript type of everything it exports. The rest of rnnx (and tests/, bench/, scripts/)
// imports `native` from here and never touches the raw addon. Arguments are checked again inside
// the addon: a bad value throws an Error whose message names the field, never a crash. Every
// error the addon throws has a `code`: RNNX_INVALID_ARGUMENT (a bad value), RNNX_DETACHED (a
// typed array whose ArrayBuffer was transferred away), RNNX_INVALID_STATE (disposed, or a step
// still running), RNNX_NON_FINITE (a step rolled back), RNNX_RESOURCE (threads or memory).
//
// Which file: the package's build/Release, else a matching prebuild (prebuilds/<platform>-<arch>/,
// node-gyp-build picks it); when neither loads, native() throws a NoNativeError (code RNNX_NO_NATIVE)
// whose message gives the fix on one line. Only training calls native().
//
// RNNX_NATIVE_PATH: load this .node file instead of the package's build (a separately built
// addon: scripts/device-build.sh's CUDA build, a standalone build of native/binding/gemm_binding.cc).
// A relative path is taken from the current directory. Such an addon may carry only some of the
// exports; `nativeWith` checks for the ones a caller needs.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from './data/errors.js';
import type { ParamLayout } from './layers/params.js';
import type { ModelSpec } from './layers/spec.js';

/** Loss of a training step. Cross-entropy takes integer class targets and fuses with a softmax (or linear = logits) output; binary cross-entropy fuses with a sigmoid (or linear) output. */
export interface NativeLoss {
  type: 'mse' | 'mae' | 'huber' | 'crossentropy' | 'binaryCrossentropy';
  /** Huber threshold (default 1). */
  delta?: number;
}

export interface NativeOptimizer {
  type: 'sgd' | 'rmsprop' | 'adam' | 'adamw';
  /** SGD momentum μ in [0, 1) (default 0): v = μv − lr·g; w += v. */
  momentum?: number;
  /** SGD Nesterov momentum (default false). */
  nesterov?: boolean;
  /** RMSprop decay (default 0.9). */
  rho?: number;
  /** Adam/AdamW moment decays (defaults 0.9, 0.999). */
  beta1?: number;
  beta2?: number;
  /** Added to the denominator (default 1e-7, as Keras). */
  epsilon?: number;
  /** AdamW decoupled weight decay λ (default 0.01): w −= lr·λ·w. */
  weightDecay?: number;
}

/** L2 penalty λ·Σw² per parameter group (added to the loss; gradient 2λw). */
export interface NativeL2 {
  /** W of recurrent layers and dense kernels. */
  input?: number;
  /** R and LSTM peepholes P. */
  recurrent?: number;
  /** B of recurrent layers and dense b. */
  bias?: number;
}

export interface NativeTrainOptions {
  loss?: NativeLoss;
  optimizer?: NativeOptimizer;
  /** > 0: scale gradients so their global L2 norm is at most this. */
  clipNorm?: number;
  /** > 0: clamp each gradient element to ±clipValue (applied before clipNorm). */
  clipValue?: number;
  l2?: NativeL2;
  /** Dropout on the last recurrent layer's output, before the dense head (training only). */
  outputDropout?: number;
  /** Seed of the dropout / zoneout masks (counter-based: reproducible). */
  seed?: number;
  /** Truncated BPTT window (steps); one optimizer update per window; 0 = full BPTT. */
  tbptt?: number;
  /** Carry the final states into the next batch (row j continues row j). */
  stateful?: boolean;
  /** Threads used inside a step (default 1 here; the TypeScript API picks the core count). */
  threads?: number;
  /**
   * Backend (Trainer only): 'cpu' (default); 'cuda' (throws, saying why, when no device is usable:
   * never a silent fallback); 'cuda-emulated' (the CUDA backend's code run on the CPU, for tests);
   * 'auto' (CUDA when usable, else CPU; info().deviceReason says which and why).
   */
  device?: NativeDevice;
  /** Precision of device 'cuda-emulated' (default 'float'). */
  emulate?: 'float' | 'double';
}

export type NativeDevice = 'cpu' | 'cuda' | 'cuda-emulated' | 'auto';

/** A batch in batch-first layout. */
export interface NativeBatch {
  /** [batch, time, features]. Must be finite. */
  x: Float32Array;
  batch: number;
  time: number;
  /** Valid steps per row, 1..time. */
  lengths?: Int32Array;
  /** Targets: Float32Array [batch, time, F] | [batch, F]; cross-entropy: Int32Array [batch, time] | [batch]. */
  y?: Float32Array | Int32Array;
}

export interface NativeStepResult {
  /** Mean loss over the valid elements (plus the L2 penalty). */
  loss: number;
  /** Elements averaged over. */
  count: number;
  /** Classification: correct predictions (argmax, or p > 0.5 for binary). */
  correct: number;
  predictions: number;
  /** Global gradient norm before clipping (last window). */
  gradNorm: number;
  /** Optimizer updates applied (tbptt: one per window with valid steps). */
  updates: number;
}

/** Host <-> device copies a trainer made since it was created (all zero on the CPU). */
export interface NativeTransfers {
  toDevice: number;
  toHost: number;
  bytesToDevice: number;
  bytesToHost: number;
}

export interface NativeTrainerInfo {
  /** The backend running the steps: 'cpu', 'cuda' or 'cuda-emulated'. */
  backend: 'cpu' | 'cuda' | 'cuda-emulated';
  /** In words, e.g. 'cuda:0 (NVIDIA H200, sm_90)' or 'cuda-emulated (host emulation, float)'. */
  device: string;
  /** With device 'auto': which backend was chosen and why. */
  deviceReason?: string;
  transfers: NativeTransfers;
  /** Device backends: the model's params are behind the trainer's weights until syncParams(). */
  paramsPending: boolean;
  gemm: string;
  threads: number;
  steps: number;
  /** Workspace bytes the forward pass keeps for the backward pass (the activations). */
  activationBytes: number;
  /** Workspace bytes only the backward pass uses (gradients included). */
  backwardBytes: number;
  /** Optimizer state and carried states. */
  persistentBytes: number;
  /** Rows of the carried (stateful) state, 0 when none. */
  stateBatch: number;
}

export interface NativeStates<A extends Float32Array | Float64Array = Float32Array | Float64Array> {
  /** [D, N, H] */
  h: A;
  /** [D, N, H], LSTM only. */
  c?: A;
}

export interface NativeGradientOptions extends NativeTrainOptions {
  /** Apply dropout / zoneout (masks from `seed`, step 0). Default false. */
  training?: boolean;
  /** Initial states per recurrent layer. */
  initialState?: NativeStates[];
}

export interface NativeGradients<A extends Float32Array | Float64Array> extends NativeStepResult {
  grads: A;
  finalStates: NativeStates<A>[];
}

/**
 * The native trainer, for every device. A step runs on native copies of the weights and of the
 * batch. CPU: every successful step writes the new weights into `params`. CUDA ('cuda',
 * 'cuda-emulated'): the weights stay on the device between steps and reach `params` when read:
 * syncParams(), dispose() (getParams() returns a copy); a write into `params` between steps is
 * sent to the device before the next call (a host-side comparison finds it).
 */
export interface NativeTrainer {
  step(batch: NativeBatch, lr: number): Promise<NativeStepResult>;
  stepSync(batch: NativeBatch, lr: number): NativeStepResult;
  evaluate(batch: NativeBatch): Promise<NativeStepResult>;
  evaluateSync(batch: NativeBatch): NativeStepResult;
  predict(input: NativeBatch): Float32Array;
  resetStates(): void;
  dispose(): void;
  info(): NativeTrainerInfo;
  /** Loss and gradients of the whole batch without an update (training masks of the next step, carried states, L2 terms; gradNorm before clipping). */
  gradients(batch: NativeBatch): NativeStepResult & { grads: Float32Array };
  /** The model output of the last forward pass (step window, evaluation, gradients or predict), batch-first, after the output activation. */
  output(): Float32Array;
  /** A copy of the trainer's current weights. */
  getParams(): Float32Array;
  /** Writes the trainer's weights into the model's `params` (a no-op on the CPU, where steps do it). */
  syncParams(): void;
}

/** The GEMM / thread-pool test and benchmark exports (native/binding/gemm_binding.cc documents each). */
export interface NativeGemmExports {
  gemmKernelName(): string;
  gemmAvailableKernels(): string[];
  gemmSelectKernel(name: string): void;
  gemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: Float32Array | Float64Array, lda: number, B: Float32Array | Float64Array, ldb: number,
    beta: number, C: Float32Array | Float64Array, ldc: number, threads?: number, packed?: boolean,
  ): void;
  gemmTime(
    transA: boolean, transB: boolean, M: number, N: number, K: number,
    A: Float32Array, lda: number, B: Float32Array, ldb: number, C: Float32Array, ldc: number,
    threads: number, reps: number, packed: boolean,
  ): Float64Array;
  threadPoolChunks(threads: number, begin: number, end: number, grain: number): { chunks: Int32Array; threadsUsed: number };
  threadPoolThrow(threads: number, chunk: number): void;
  threadPoolNested(threads: number, n: number): number;
  threadPoolDispatchTime(threads: number, reps: number): Float64Array;
}

export interface NativeAddon extends NativeGemmExports {
  cpuFeatures(): { avx2: boolean; fma: boolean; avx512f: boolean };
  Trainer: new (spec: ModelSpec, layout: ParamLayout, params: Float32Array, options: NativeTrainOptions) => NativeTrainer;
  computeGradients<A extends Float32Array | Float64Array>(
    spec: ModelSpec, layout: ParamLayout, params: A, batch: NativeBatch, options?: NativeGradientOptions,
  ): NativeGradients<A>;
  forward<A extends Float32Array | Float64Array>(
    spec: ModelSpec, layout: ParamLayout, params: A, input: NativeBatch, options?: { threads?: number },
  ): A;
  gemmKernel(): string;
  hardwareThreads: number;
  /** Whether the addon was built with CUDA and whether a device is usable (native/binding/trainer_wrap.cc). */
  cudaInfo(): CudaInfo;
}

/** cudaInfo(): every field is always present ('' or 0 where there is no device). */
export interface CudaInfo {
  built: boolean;
  available: boolean;
  /** Why no device is usable, in words ('' when one is). */
  reason: string;
  /** Device name. */
  device: string;
  deviceCount: number;
  /** 'major.minor' of the device in use. */
  computeCapability: string;
  memoryGiB: number;
  /** CUDA runtime version the addon was built with (e.g. 13000), 0 when built without CUDA. */
  runtimeVersion: number;
  driverVersion: number;
  /** Path of the cuBLAS library loaded at run time. */
  cublas: string;
}

/** The .node file `native()` loads: RNNX_NATIVE_PATH when set, else the package's own build or prebuild. */
export function nativePath(): string {
  const override = process.env.RNNX_NATIVE_PATH;
  if (override) {
    const p = resolve(override);
    if (!existsSync(p)) throw new Error(`RNNX_NATIVE_PATH must name an existing .node file, got ${JSON.stringify(override)} (${p} does not exist)`);
    return p;
  }
  const root = packageRoot();
  try {
    // node-gyp-build looks in build/Release, build/Debug, then prebuilds/<platform>-<arch>/ for a
    // binary whose tags (napi, libc) match this process.
    return (createRequire(import.meta.url)('node-gyp-build') as { path(dir: string): string }).path(root);
  } catch (e) {
    throw noNative(`no compiled or prebuilt addon for ${process.platform}-${process.arch} in ${root} (${(e as Error).message.split('\n')[0]})`);
  }
}

/** The addon is missing or failed to load. Only training needs it; the message gives the fix on one line (a UserError: the CLI exits 1). */
export class NoNativeError extends UserError {
  readonly code = 'RNNX_NO_NATIVE';
}

function noNative(why: string): NoNativeError {
  return new NoNativeError(
    `RNNX_NO_NATIVE: rnnx's native training addon is not available: ${why}. ` +
    'Fix: install a C++17 compiler, make and Python 3, then run `npm rebuild rnnx` (inference and serving do not need it)',
  );
}

/** The folder holding rnnx's package.json and binding.gyp: src/native.ts (tsx, tests) and dist/src/native.js sit at different depths. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'binding.gyp')) && existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw noNative(`the rnnx package folder (binding.gyp) was not found above ${fileURLToPath(import.meta.url)}`);
}

let cached: NativeAddon | null = null;

/** The loaded addon (loaded on first use, so importing rnnx without a build still works for inference). */
export function native(): NativeAddon {
  if (!cached) {
    const path = nativePath();
    try {
      cached = createRequire(import.meta.url)(path) as NativeAddon;
    } catch (e) {
      throw noNative(`${path} failed to load (${(e as Error).message.split('\n')[0]})`);
    }
  }
  return cached;
}

/** Names of `exports` the loaded addon lacks (an RNNX_NATIVE_PATH build may carry only some). */
export function missingExports(exports: readonly (keyof NativeAddon)[]): string[] {
  const addon = native() as Partial<NativeAddon>;
  return exports.filter((k) => addon[k] === undefined);
}

/** `native()`, after checking that it has `exports`; `hint` says how to get an addon that does. */
export function nativeWith(exports: readonly (keyof NativeAddon)[], hint: string): NativeAddon {
  const missing = missingExports(exports);
  if (missing.length > 0) throw new Error(`${nativePath()} has no ${missing.join('/')} export${missing.length > 1 ? 's' : ''}: ${hint}`);
  return native();
}

const GEMM_EXPORTS: readonly (keyof NativeGemmExports)[] = [
  'gemmKernelName', 'gemmAvailableKernels', 'gemmSelectKernel', 'gemm', 'gemmTime',
  'threadPoolChunks', 'threadPoolThrow', 'threadPoolNested', 'threadPoolDispatchTime',
];

/** The GEMM / thread-pool exports (tests/gemm.test.ts, bench/gemm.ts), checked to be there. */
export function nativeGemm(): NativeGemmExports {
  return nativeWith(GEMM_EXPORTS, 'native/binding/binding.cc must call rnnx::registerGemmExports (native/binding/gemm_binding.h)');
}
