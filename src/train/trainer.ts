// Step-level training API over the native trainer: a Trainer holds one native trainer bound to
// a model's parameter buffer, its optimizer state and carried states, on the device the options
// name. The step runs on a native copy of the weights. On the CPU it is written back into the
// model's Float32Array on the JavaScript thread after every step; on CUDA the weights stay on the
// device and reach model.params when read (syncParams(), getParams() returns a copy, dispose(),
// and fit's epoch ends and callbacks). `fit` (fit.ts) drives it; users who want their own loop
// call step() themselves.

import { availableParallelism } from 'node:os';
import type { SequenceDataset } from '../data/dataset.js';
import type { Model } from '../model/model.js';
import {
  native, type NativeBatch, type NativeGradientOptions, type NativeGradients, type NativeLoss,
  type NativeStepResult, type NativeTrainer, type NativeTrainerInfo,
} from '../native.js';
import { gatherBatch, prepareDataset, type TrainBatch } from './batches.js';
import { nativeOptions, normalizeLoss, normalizeOptimizer, type TrainerOptions } from './options.js';
import type { LrSchedule } from './schedule.js';

export type StepResult = NativeStepResult;

/** The loss a model's output suggests when none is given: softmax → cross-entropy, else MSE. */
export function defaultLossFor(model: Model): NativeLoss {
  const last = model.spec.layers[model.spec.layers.length - 1];
  return { type: last.kind === 'dense' && last.activation === 'softmax' ? 'crossentropy' : 'mse' };
}

/** The most threads a step may use (native/gemm/thread_pool.h kMaxThreads). */
export const MAX_THREADS = 1024;

/** Threads a Trainer uses when none are given: RNNX_NUM_THREADS, else every hardware thread (at most MAX_THREADS). */
export function defaultThreads(): number {
  const env = process.env.RNNX_NUM_THREADS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS) throw new Error(`RNNX_NUM_THREADS must be an integer in [1, ${MAX_THREADS}], got ${JSON.stringify(env)}`);
    return n;
  }
  return Math.min(MAX_THREADS, Math.max(1, availableParallelism()));
}

/** Mean loss (and accuracy for classification losses) over a dataset. */
export interface Evaluation {
  loss: number;
  /** Correct / predictions, for crossentropy and binaryCrossentropy; undefined otherwise. */
  accuracy?: number;
  /** Elements the loss averaged over. */
  count: number;
}

export function isClassification(loss: NativeLoss): boolean {
  return loss.type === 'crossentropy' || loss.type === 'binaryCrossentropy';
}

export class Trainer {
  readonly model: Model;
  readonly loss: NativeLoss;
  /** Base learning rate of the optimizer and its schedule (fit applies the schedule). */
  readonly lr: number;
  readonly schedule: LrSchedule;
  readonly threads: number;
  private handle: NativeTrainer | null;

  constructor(model: Model, options: TrainerOptions = {}) {
    this.model = model;
    this.threads = options.threads ?? defaultThreads();
    if (!Number.isInteger(this.threads) || this.threads < 1 || this.threads > MAX_THREADS) {
      throw Object.assign(new Error(`threads must be an integer in [1, ${MAX_THREADS}], got ${JSON.stringify(options.threads)}`), { code: 'RNNX_INVALID_ARGUMENT' });
    }
    this.loss = options.loss === undefined ? defaultLossFor(model) : normalizeLoss(options.loss, 'values');
    const opt = normalizeOptimizer(options.optimizer);
    this.lr = opt.lr;
    this.schedule = opt.schedule;
    const o = nativeOptions({ ...options, loss: this.loss }, 'values', this.threads);
    this.handle = new (native().Trainer)(model.spec, model.layout, model.params, o);
  }

  private get trainer(): NativeTrainer {
    if (!this.handle) throw Object.assign(new Error('Trainer: the trainer has been disposed'), { code: 'RNNX_INVALID_STATE' });
    return this.handle;
  }

  /** One training step off the JavaScript thread: forward, loss, BPTT, clipping, update of model.params. */
  step(batch: TrainBatch, lr: number = this.lr): Promise<StepResult> {
    try {
      return this.trainer.step(batch, lr);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The same step on the calling thread (for tiny models, where a thread hop costs more than the step). */
  stepSync(batch: TrainBatch, lr: number = this.lr): StepResult {
    return this.trainer.stepSync(batch, lr);
  }

  /** Loss (and accuracy) of one batch in inference mode, without an update. */
  evaluateBatch(batch: TrainBatch): Promise<StepResult> {
    try {
      return this.trainer.evaluate(batch);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Mean loss and accuracy over a dataset, in inference mode (no dropout), from zero states. */
  async evaluate(data: SequenceDataset, options: { batchSize?: number } = {}): Promise<Evaluation> {
    const d = prepareDataset(this.model, data, this.loss, 'data');
    const bs = options.batchSize ?? 256;
    if (!Number.isInteger(bs) || bs < 1) throw new Error(`batchSize must be a positive integer, got ${JSON.stringify(options.batchSize)}`);
    let sum = 0;
    let count = 0;
    let correct = 0;
    let predictions = 0;
    for (let start = 0; start < d.count; start += bs) {
      const idx = Array.from({ length: Math.min(bs, d.count - start) }, (_, i) => start + i);
      const r = await this.evaluateBatch(gatherBatch(d, idx, true));
      sum += r.loss * r.count;
      count += r.count;
      correct += r.correct;
      predictions += r.predictions;
    }
    return {
      loss: count > 0 ? sum / count : NaN,
      accuracy: isClassification(this.loss) && predictions > 0 ? correct / predictions : undefined,
      count,
    };
  }

  /** Inference forward pass on the addon (float32, no dropout, zero initial states). */
  predict(input: NativeBatch): Float32Array {
    return this.trainer.predict(input);
  }

  /** Loss and gradients of one batch without an update (training masks of the next step, carried states, L2 terms; gradNorm before clipping). */
  gradients(batch: TrainBatch): StepResult & { grads: Float32Array } {
    return this.trainer.gradients(batch);
  }

  /** The model output of the last forward pass (a step's last window, evaluation, gradients or predict), batch-first. */
  output(): Float32Array {
    return this.trainer.output();
  }

  /** A copy of the trainer's current weights (on CUDA: read from the device). */
  getParams(): Float32Array {
    return this.trainer.getParams();
  }

  /** Writes the trainer's weights into model.params (CUDA keeps them on the device between steps; on the CPU they are already there). */
  syncParams(): void {
    this.trainer.syncParams();
  }

  /** Forget the carried states (stateful training starts over from zeros). */
  resetStates(): void {
    this.trainer.resetStates();
  }

  /** Backend, thread count, step count and workspace sizes in bytes. */
  info(): NativeTrainerInfo {
    return this.trainer.info();
  }

  get disposed(): boolean {
    return this.handle === null;
  }

  /** Frees the native workspaces and optimizer state. The model keeps its (trained) weights: on CUDA they are written into model.params first. */
  dispose(): void {
    this.handle?.dispose();
    this.handle = null;
  }
}

/** Mean loss (and accuracy) of `model` over `data` on the addon, in inference mode. */
export async function evaluate(model: Model, data: SequenceDataset, options: { loss?: TrainerOptions['loss']; batchSize?: number; threads?: number } = {}): Promise<Evaluation> {
  const loss = options.loss ?? (data.y instanceof Int32Array ? 'crossentropy' : defaultLossFor(model));
  const t = new Trainer(model, { loss, optimizer: { type: 'sgd' }, threads: options.threads });
  try {
    return await t.evaluate(data, { batchSize: options.batchSize });
  } finally {
    t.dispose();
  }
}

/**
 * Inference forward pass on the addon (float32, batch-first): y [N, T, F] (sequence output) or
 * [N, F]. For comparisons with ONNX Runtime; serving should use src/runtime.
 */
export function predict(model: Model, x: Float32Array, options: { batch: number; time: number; lengths?: Int32Array; threads?: number }): Float32Array {
  return native().forward(model.spec, model.layout, model.params, { x, batch: options.batch, time: options.time, lengths: options.lengths }, { threads: options.threads ?? 1 });
}

/**
 * Loss and gradients without an update. params: Float64Array for the float64 path (gradient
 * checks), default the model's own float32 params. options.training applies dropout/zoneout
 * with masks from options.seed.
 */
export function computeGradients<A extends Float32Array | Float64Array = Float32Array>(
  model: Model, batch: TrainBatch, options: Omit<NativeGradientOptions, 'loss'> & { loss?: TrainerOptions['loss']; params?: A } = {},
): NativeGradients<A> {
  const { params, loss, ...rest } = options;
  const nl = loss === undefined ? defaultLossFor(model) : normalizeLoss(loss, 'values');
  return native().computeGradients(model.spec, model.layout, (params ?? model.params) as A, batch, { ...rest, loss: nl });
}
