// From a SequenceDataset to the batches the native step takes: checks the targets against the
// model and loss once, gathers rows (shuffled or in order), and trims each batch to its longest
// sequence so padding past every row's length costs nothing.

import { validateDataset, type SequenceDataset } from '../data/dataset.js';
import type { Model } from '../model/model.js';
import type { NativeBatch, NativeLoss } from '../native.js';

export interface TrainBatch extends NativeBatch {
  y: Float32Array | Int32Array;
}

/** A dataset checked against a model and loss, with targets in the type the loss needs (yShape dropped). */
export interface PreparedData extends Omit<SequenceDataset, 'yShape'> {
  /** Target elements per step (sequence output) or per row (last-step output). */
  perItem: number;
  /** true: targets per step [count, time, ...]; false: per sequence. */
  perStep: boolean;
}

export function prepareDataset(model: Model, d: SequenceDataset, loss: NativeLoss, name = 'data'): PreparedData {
  validateDataset(d, name);
  if (d.features !== model.inputSize) {
    throw new Error(`${name}.features must equal the model's inputSize ${model.inputSize}, got ${d.features}`);
  }
  const perStep = model.returnsSequences;
  const F = model.outputSize;
  const ce = loss.type === 'crossentropy';
  const perItem = ce ? 1 : F;
  const expectedLen = d.count * (perStep ? d.time : 1) * perItem;
  const shape = `[${perStep ? 'count, time' : 'count'}${ce ? '' : `, ${F}`}]`;
  if (d.y.length !== expectedLen) {
    throw new Error(`${name}.y must hold ${shape} = ${expectedLen} targets for this model (${perStep ? 'per-step' : 'last-step'} output of ${F}) and the ${loss.type} loss, got ${d.y.length} (yShape ${JSON.stringify(d.yShape)})`);
  }
  let y = d.y;
  if (ce && !(y instanceof Int32Array)) {
    throw new Error(`${name}.y must be an Int32Array of class indices for the crossentropy loss, got a ${y.constructor.name}`);
  }
  if (!ce && y instanceof Int32Array) y = Float32Array.from(y);
  return { x: d.x, count: d.count, time: d.time, features: d.features, lengths: d.lengths, y, perItem, perStep };
}

/**
 * Rows `indices` of `d` as one batch. trim: cut the time axis to the longest sequence in the batch
 * (not with truncated BPTT or stateful training, whose windows follow the data's own time axis).
 */
export function gatherBatch(d: PreparedData, indices: ArrayLike<number>, trim: boolean): TrainBatch {
  const N = indices.length;
  let T = d.time;
  if (trim && d.lengths) {
    T = 1;
    for (let i = 0; i < N; i++) T = Math.max(T, d.lengths[indices[i]]);
  }
  const I = d.features;
  const x = new Float32Array(N * T * I);
  const lengths = d.lengths ? new Int32Array(N) : undefined;
  const yPer = d.perStep ? T * d.perItem : d.perItem;
  const y = d.y instanceof Int32Array ? new Int32Array(N * yPer) : new Float32Array(N * yPer);
  for (let i = 0; i < N; i++) {
    const r = indices[i];
    x.set(d.x.subarray(r * d.time * I, r * d.time * I + T * I), i * T * I);
    if (lengths && d.lengths) lengths[i] = d.lengths[r];
    const srcPer = d.perStep ? d.time * d.perItem : d.perItem;
    y.set(d.y.subarray(r * srcPer, r * srcPer + yPer), i * yPer);
  }
  return { x, batch: N, time: T, lengths, y };
}

/** Splits off the last `fraction` of the rows (before any shuffling, as Keras' validation_split). */
export function splitDataset(d: SequenceDataset, fraction: number): { train: SequenceDataset; validation: SequenceDataset } {
  if (!(fraction > 0 && fraction < 1)) throw new Error(`validation.split must be a number in (0, 1), got ${JSON.stringify(fraction)}`);
  const nVal = Math.round(d.count * fraction);
  if (nVal < 1 || nVal >= d.count) {
    throw new Error(`validation.split ${fraction} leaves ${d.count - nVal} training and ${nVal} validation rows of ${d.count}: both need at least one`);
  }
  const nTrain = d.count - nVal;
  const rows = (from: number, to: number): SequenceDataset => {
    const per = d.y.length / d.count;
    return {
      x: d.x.subarray(from * d.time * d.features, to * d.time * d.features),
      count: to - from,
      time: d.time,
      features: d.features,
      lengths: d.lengths?.subarray(from, to),
      y: d.y.subarray(from * per, to * per),
      yShape: [to - from, ...d.yShape.slice(1)],
    };
  };
  return { train: rows(0, nTrain), validation: rows(nTrain, d.count) };
}
