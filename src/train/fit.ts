// model.fit: epochs of shuffled mini-batches through the native step, validation, early
// stopping with best-weights restore, checkpoints (the atomic .onnx export) and callbacks.

import type { SequenceDataset } from '../data/dataset.js';
import type { ExportOptions } from '../graph/export.js';
import { saveModel } from '../graph/io.js';
import { Rng } from '../layers/random.js';
import type { Model } from '../model/model.js';
import { gatherBatch, prepareDataset, splitDataset } from './batches.js';
import { normalizeLoss, type TrainerOptions } from './options.js';
import { learningRate } from './schedule.js';
import { isClassification, Trainer } from './trainer.js';

export interface EpochLogs {
  /** 0-based. */
  epoch: number;
  /** Mean training loss of the epoch (training mode: dropout on; includes L2 terms). */
  loss: number;
  /** Classification losses only. */
  accuracy?: number;
  valLoss?: number;
  valAccuracy?: number;
  /** Learning rate at the epoch's last step. */
  lr: number;
  seconds: number;
  /** Optimizer updates in the epoch. */
  steps: number;
}

export interface BatchLogs {
  epoch: number;
  /** 0-based batch index within the epoch. */
  batch: number;
  batches: number;
  loss: number;
  accuracy?: number;
  lr: number;
}

export interface EarlyStoppingOptions {
  /** Stop after this many epochs in a row without improvement (as Keras; default 0, which like 1 stops at the first epoch that does not improve). */
  patience?: number;
  /** Improvement smaller than this does not count (default 0). */
  minDelta?: number;
  /** Put the best epoch's weights back into the model at the end (default false). */
  restoreBestWeights?: boolean;
  /** Default 'valLoss' when there is validation data, else 'loss'. */
  monitor?: 'loss' | 'valLoss';
}

export interface CheckpointOptions {
  /** `.onnx` path, written atomically (temp file + rename) after an epoch. */
  path: string;
  /** Only when the monitored loss improved (default false: every epoch). */
  saveBestOnly?: boolean;
  /** Export options of the written file (sequenceLens, stateful, opset). */
  exportOptions?: ExportOptions;
}

export interface FitCallbacks {
  onBatchEnd?: (logs: BatchLogs) => void | Promise<void>;
  /** Return (or resolve to) false to stop training after this epoch. */
  onEpochEnd?: (logs: EpochLogs) => void | boolean | Promise<void | boolean>;
}

export interface FitOptions extends TrainerOptions {
  /** Default 1. */
  epochs?: number;
  /** Default 32. Stateful training uses full batches only (row j continues row j). */
  batchSize?: number;
  /** Shuffle rows every epoch (default true; never with stateful training). */
  shuffle?: boolean;
  /** Held-out data, or the last `split` fraction of `data` (taken before shuffling). */
  validation?: SequenceDataset | { split: number };
  earlyStopping?: EarlyStoppingOptions;
  callbacks?: FitCallbacks;
  checkpoint?: CheckpointOptions;
}

export interface History {
  epochs: EpochLogs[];
  loss: number[];
  valLoss: number[];
  accuracy: number[];
  valAccuracy: number[];
  /** Epoch with the best monitored loss. */
  bestEpoch: number;
  /** true when early stopping ended the fit before `epochs`. */
  stoppedEarly: boolean;
  /** Whether the best epoch's weights were put back. */
  restoredBestWeights: boolean;
}

const FIT_KEYS = [
  'epochs', 'batchSize', 'shuffle', 'validation', 'earlyStopping', 'callbacks', 'checkpoint',
  'loss', 'optimizer', 'clipNorm', 'clipValue', 'l2', 'outputDropout', 'tbptt', 'stateful', 'seed', 'threads', 'device', 'emulate',
];

function posInt(field: string, v: unknown, def: number): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`${field} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Trains `model` in place on `data`. Resolves with the per-epoch history; rejects (keeping the
 * weights of the last good step in the model) when a step's loss or gradient is not finite,
 * or when the data do not fit the model.
 */
export async function fit(model: Model, data: SequenceDataset, options: FitOptions = {}): Promise<History> {
  if (options === null || typeof options !== 'object') throw new Error(`fit options must be an object, got ${JSON.stringify(options)}`);
  for (const key of Object.keys(options)) {
    if (!FIT_KEYS.includes(key)) throw new Error(`fit: unknown option ${JSON.stringify(key)}; known options: ${FIT_KEYS.join(', ')}`);
  }
  const epochs = posInt('epochs', options.epochs, 1);
  const batchSize = posInt('batchSize', options.batchSize, 32);
  const stateful = options.stateful ?? false;
  const shuffle = stateful ? false : options.shuffle ?? true;
  const loss = normalizeLoss(options.loss, data.y instanceof Int32Array ? 'labels' : 'values');
  const classification = isClassification(loss);

  let trainData = data;
  let valData: SequenceDataset | undefined;
  const v = options.validation;
  if (v !== undefined) {
    if (v !== null && typeof v === 'object' && 'split' in v && !('x' in v)) {
      const s = splitDataset(data, v.split);
      trainData = s.train;
      valData = s.validation;
    } else {
      valData = v as SequenceDataset;
    }
  }
  const train = prepareDataset(model, trainData, loss, 'data');
  if (valData) prepareDataset(model, valData, loss, 'validation');
  const es = options.earlyStopping;
  const monitor = es?.monitor ?? (valData ? 'valLoss' : 'loss');
  if (monitor === 'valLoss' && !valData) throw new Error('earlyStopping.monitor is "valLoss" but no validation data was given');
  const patience = es?.patience ?? 0;
  const minDelta = es?.minDelta ?? 0;
  if (!Number.isInteger(patience) || patience < 0) throw new Error(`earlyStopping.patience must be a non-negative integer, got ${JSON.stringify(es?.patience)}`);
  if (!(minDelta >= 0)) throw new Error(`earlyStopping.minDelta must be >= 0, got ${JSON.stringify(es?.minDelta)}`);
  if (options.checkpoint && (typeof options.checkpoint.path !== 'string' || options.checkpoint.path === '')) {
    throw new Error(`checkpoint.path must be a non-empty string, got ${JSON.stringify(options.checkpoint.path)}`);
  }

  const batchesPerEpoch = stateful ? Math.floor(train.count / batchSize) : Math.ceil(train.count / batchSize);
  if (batchesPerEpoch < 1) {
    throw new Error(`stateful training needs at least one full batch: ${train.count} rows < batchSize ${batchSize}`);
  }
  const trim = !stateful && !options.tbptt;
  const { validation: _v, callbacks, checkpoint, earlyStopping: _e, epochs: _n, batchSize: _b, shuffle: _s, ...trainerOptions } = options;
  void _v; void _e; void _n; void _b; void _s;
  const trainer = new Trainer(model, { ...trainerOptions, loss });
  const rng = new Rng((options.seed ?? 1) + 0x51f15e);
  const order = Int32Array.from({ length: train.count }, (_, i) => i);
  const history: History = { epochs: [], loss: [], valLoss: [], accuracy: [], valAccuracy: [], bestEpoch: -1, stoppedEarly: false, restoredBestWeights: false };
  let best = Infinity;
  let bestParams: Float32Array | null = null;
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      const started = performance.now();
      if (stateful) trainer.resetStates();
      if (shuffle) rng.shuffle(order);
      let sum = 0;
      let count = 0;
      let correct = 0;
      let predictions = 0;
      let steps = 0;
      let lr = trainer.lr;
      for (let b = 0; b < batchesPerEpoch; b++) {
        const idx = order.subarray(b * batchSize, Math.min(train.count, (b + 1) * batchSize));
        lr = learningRate(trainer.schedule, trainer.lr, epoch, b / batchesPerEpoch, epochs);
        let r;
        try {
          r = await trainer.step(gatherBatch(train, idx, trim), lr);
        } catch (e) {
          const err = e as Error & { code?: string };
          throw Object.assign(new Error(`fit: epoch ${epoch + 1}, batch ${b + 1}: ${err.message}`, { cause: e }), { code: err.code });
        }
        sum += r.loss * r.count;
        count += r.count;
        correct += r.correct;
        predictions += r.predictions;
        steps += r.updates;
        if (callbacks?.onBatchEnd) {
          trainer.syncParams(); // a callback may read model.params (CUDA keeps them on the device)
          await callbacks.onBatchEnd({ epoch, batch: b, batches: batchesPerEpoch, loss: r.loss, accuracy: classification && r.predictions > 0 ? r.correct / r.predictions : undefined, lr });
        }
      }
      trainer.syncParams(); // checkpoints, callbacks and early stopping read model.params
      const logs: EpochLogs = { epoch, loss: count > 0 ? sum / count : NaN, lr, seconds: 0, steps };
      if (classification) logs.accuracy = predictions > 0 ? correct / predictions : undefined;
      if (valData) {
        const ev = await trainer.evaluate(valData, { batchSize: Math.max(batchSize, 64) });
        logs.valLoss = ev.loss;
        if (classification) logs.valAccuracy = ev.accuracy;
      }
      logs.seconds = (performance.now() - started) / 1000;
      history.epochs.push(logs);
      history.loss.push(logs.loss);
      if (logs.valLoss !== undefined) history.valLoss.push(logs.valLoss);
      if (logs.accuracy !== undefined) history.accuracy.push(logs.accuracy);
      if (logs.valAccuracy !== undefined) history.valAccuracy.push(logs.valAccuracy);

      const value = monitor === 'valLoss' ? logs.valLoss! : logs.loss;
      const improved = value < best - minDelta;
      if (improved) {
        best = value;
        history.bestEpoch = epoch;
        if (es?.restoreBestWeights) bestParams = model.params.slice();
      }
      if (checkpoint && (!checkpoint.saveBestOnly || improved)) saveModel(model, checkpoint.path, checkpoint.exportOptions);
      if (callbacks?.onEpochEnd && (await callbacks.onEpochEnd(logs)) === false) {
        history.stoppedEarly = epoch + 1 < epochs;
        break;
      }
      if (es && !improved && epoch - history.bestEpoch >= Math.max(1, patience)) {
        history.stoppedEarly = epoch + 1 < epochs;
        break;
      }
    }
    if (bestParams && history.bestEpoch !== history.epochs.length - 1) {
      model.params.set(bestParams);
      history.restoredBestWeights = true;
    }
    return history;
  } finally {
    trainer.dispose();
  }
}
