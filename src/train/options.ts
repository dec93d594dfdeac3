// Training options: the shapes users pass, their defaults, and their translation into what the
// native trainer takes (src/native.ts). Checked here once, with messages naming the field.

import type { NativeDevice, NativeL2, NativeLoss, NativeOptimizer, NativeTrainOptions } from '../native.js';
import type { LrSchedule } from './schedule.js';
import { checkSchedule } from './schedule.js';

export type LossName = 'mse' | 'mae' | 'huber' | 'crossentropy' | 'binaryCrossentropy';

/** A loss by name, or Huber with its threshold. Cross-entropy takes integer class targets. */
export type LossOption = LossName | { type: LossName; delta?: number };

export type OptimizerOptions =
  | { type: 'sgd'; lr?: number; momentum?: number; nesterov?: boolean; schedule?: LrSchedule }
  | { type: 'rmsprop'; lr?: number; rho?: number; epsilon?: number; schedule?: LrSchedule }
  | { type: 'adam' | 'adamw'; lr?: number; beta1?: number; beta2?: number; epsilon?: number; weightDecay?: number; schedule?: LrSchedule };

/** Default learning rates, as Keras: SGD 0.01, the adaptive ones 0.001. */
export function defaultLr(type: OptimizerOptions['type']): number {
  return type === 'sgd' ? 0.01 : 0.001;
}

export interface TrainerOptions {
  /** Default: 'crossentropy' for Int32Array targets, else 'mse'. */
  loss?: LossOption;
  /** Default {type: 'adam', lr: 0.001}. */
  optimizer?: OptimizerOptions;
  /** Clip the global gradient norm to this (0 / absent: off). */
  clipNorm?: number;
  /** Clip every gradient element to ±clipValue, before clipNorm (0 / absent: off). */
  clipValue?: number;
  /** L2 penalties λ·Σw² for input weights, recurrent weights (R, P) and biases. */
  l2?: NativeL2;
  /** Dropout on the last recurrent layer's output, before the dense head. */
  outputDropout?: number;
  /** Truncated BPTT window in steps (0 / absent: full BPTT). Needs a per-step output. */
  tbptt?: number;
  /** Carry final states to the next batch: row j of each batch continues row j of the one before. */
  stateful?: boolean;
  /** Seed of dropout/zoneout masks (and of shuffling in fit). Default 1. */
  seed?: number;
  /** Threads inside a step. Default: os.availableParallelism(). */
  threads?: number;
  /**
   * Where the step runs: 'cpu' (default), 'cuda' (an error saying why without a usable GPU),
   * 'cuda-emulated' (the CUDA backend's code on the CPU: slow, for tests), 'auto' (CUDA when
   * usable, else CPU; Trainer.info().deviceReason says which and why). With CUDA the weights stay
   * on the device and reach model.params at Trainer.syncParams(), dispose() and fit's epoch ends.
   */
  device?: NativeDevice;
  /** Precision of device 'cuda-emulated': 'float' (default) or 'double'. */
  emulate?: 'float' | 'double';
}

const DEVICES: NativeDevice[] = ['cpu', 'cuda', 'cuda-emulated', 'auto'];

function num(field: string, v: unknown, check: (x: number) => boolean, expected: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !check(v)) throw new Error(`${field} must be ${expected}, got ${JSON.stringify(v)}`);
  return v;
}

export function normalizeLoss(loss: LossOption | undefined, targets: 'labels' | 'values'): NativeLoss {
  const raw = loss ?? (targets === 'labels' ? 'crossentropy' : 'mse');
  const o = typeof raw === 'string' ? { type: raw } : raw;
  if (o === null || typeof o !== 'object') throw new Error(`loss must be a loss name or {type, delta?}, got ${JSON.stringify(raw)}`);
  const names: LossName[] = ['mse', 'mae', 'huber', 'crossentropy', 'binaryCrossentropy'];
  if (!names.includes(o.type)) throw new Error(`loss must be one of ${names.map((n) => JSON.stringify(n)).join(', ')}, got ${JSON.stringify(o.type)}`);
  const out: NativeLoss = { type: o.type };
  if (o.delta !== undefined) out.delta = num('loss.delta', o.delta, (x) => x > 0, 'a positive number');
  return out;
}

export function normalizeOptimizer(opt: OptimizerOptions | undefined): { native: NativeOptimizer; lr: number; schedule: LrSchedule } {
  const o = opt ?? { type: 'adam' };
  if (o === null || typeof o !== 'object') throw new Error(`optimizer must be an object such as {type: 'adam', lr: 0.001}, got ${JSON.stringify(opt)}`);
  const types = ['sgd', 'rmsprop', 'adam', 'adamw'];
  if (!types.includes(o.type)) throw new Error(`optimizer.type must be one of ${types.map((n) => JSON.stringify(n)).join(', ')}, got ${JSON.stringify(o.type)}`);
  const lr = o.lr === undefined ? defaultLr(o.type) : num('optimizer.lr', o.lr, (x) => x > 0, 'a positive number');
  const { lr: _lr, schedule, ...rest } = o as Record<string, unknown>;
  void _lr;
  const known: Record<string, string[]> = {
    sgd: ['type', 'momentum', 'nesterov'], rmsprop: ['type', 'rho', 'epsilon'],
    adam: ['type', 'beta1', 'beta2', 'epsilon'], adamw: ['type', 'beta1', 'beta2', 'epsilon', 'weightDecay'],
  };
  for (const key of Object.keys(rest)) {
    if (!known[o.type].includes(key)) throw new Error(`optimizer: unknown option ${JSON.stringify(key)} for ${o.type}; known options: lr, schedule, ${known[o.type].filter((k) => k !== 'type').join(', ')}`);
  }
  const s = (schedule as LrSchedule | undefined) ?? { type: 'constant' };
  checkSchedule(s);
  return { native: rest as unknown as NativeOptimizer, lr, schedule: s };
}

/** The options object of the native trainer. */
export function nativeOptions(o: TrainerOptions, targets: 'labels' | 'values', threads: number): NativeTrainOptions {
  const opt = normalizeOptimizer(o.optimizer);
  const out: NativeTrainOptions = { loss: normalizeLoss(o.loss, targets), optimizer: opt.native, threads, seed: o.seed ?? 1 };
  if (o.clipNorm !== undefined) out.clipNorm = num('clipNorm', o.clipNorm, (x) => x >= 0, 'a number >= 0');
  if (o.clipValue !== undefined) out.clipValue = num('clipValue', o.clipValue, (x) => x >= 0, 'a number >= 0');
  if (o.l2 !== undefined) out.l2 = o.l2;
  if (o.outputDropout !== undefined) out.outputDropout = num('outputDropout', o.outputDropout, (x) => x >= 0 && x < 1, 'a number in [0, 1)');
  if (o.tbptt !== undefined) out.tbptt = num('tbptt', o.tbptt, (x) => Number.isInteger(x) && x >= 0, 'a non-negative integer');
  if (o.stateful !== undefined) {
    if (typeof o.stateful !== 'boolean') throw new Error(`stateful must be a boolean, got ${JSON.stringify(o.stateful)}`);
    out.stateful = o.stateful;
  }
  if (o.device !== undefined) {
    if (!DEVICES.includes(o.device)) throw new Error(`device must be one of ${DEVICES.map((d) => JSON.stringify(d)).join(', ')}, got ${JSON.stringify(o.device)}`);
    out.device = o.device;
  }
  if (o.emulate !== undefined) {
    if (o.device !== 'cuda-emulated') throw new Error(`emulate applies to device "cuda-emulated" only, got device ${JSON.stringify(o.device ?? 'cpu')}`);
    if (o.emulate !== 'float' && o.emulate !== 'double') throw new Error(`emulate must be "float" or "double", got ${JSON.stringify(o.emulate)}`);
    out.emulate = o.emulate;
  }
  if (o.seed !== undefined) out.seed = num('seed', o.seed, (x) => Number.isInteger(x) && x >= 0, 'a non-negative integer');
  return out;
}
