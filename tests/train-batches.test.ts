// From a dataset to the batches the native step takes (src/train/batches.ts): targets checked
// against the model and loss, rows gathered and trimmed to the longest sequence of the batch,
// and the validation split. Expected batches are built with plain loops over the source rows.
import { describe, expect, it } from 'vitest';
import type { SequenceDataset } from '../src/data/dataset.js';
import { dense, lstm } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';
import { gatherBatch, prepareDataset, splitDataset, type PreparedData } from '../src/train/batches.js';
import { thrownMessage } from './thrown-message.js';

const message = thrownMessage;

/** count rows of `time` steps, 2 features, x[r][t][f] = 100r + 10t + f; per-step targets y[r][t] = 10r + t (F = 1). */
function data(count: number, time: number, lengths?: number[]): SequenceDataset {
  const x = Float32Array.from({ length: count * time * 2 }, (_, i) => 100 * Math.floor(i / (time * 2)) + 10 * (Math.floor(i / 2) % time) + (i % 2));
  const y = Float32Array.from({ length: count * time }, (_, i) => 10 * Math.floor(i / time) + (i % time));
  return { x, count, time, features: 2, lengths: lengths ? Int32Array.from(lengths) : undefined, y, yShape: [count, time, 1] };
}

const seqModel = (F = 1) => Model.create({ inputSize: 2, layers: [lstm({ units: 3, returnSequences: true }), dense({ units: F })] });
const lastModel = (F = 2) => Model.create({ inputSize: 2, layers: [lstm({ units: 3 }), dense({ units: F })] });

describe('prepareDataset', () => {
  it('keeps the buffers, and says how many target elements each step or row has', () => {
    const d = data(3, 4, [4, 2, 3]);
    const p = prepareDataset(seqModel(), d, { type: 'mse' });
    expect(p).toStrictEqual({ x: d.x, count: 3, time: 4, features: 2, lengths: d.lengths, y: d.y, perItem: 1, perStep: true });
    const labels: SequenceDataset = { ...d, y: new Int32Array(3), yShape: [3] };
    const ce = prepareDataset(lastModel(5), labels, { type: 'crossentropy' });
    expect([ce.perItem, ce.perStep]).toEqual([1, false]);
    expect(ce.y).toBe(labels.y);
    const reg = prepareDataset(lastModel(3), { ...d, y: new Float32Array(9), yShape: [3, 3] }, { type: 'mae' });
    expect([reg.perItem, reg.perStep]).toEqual([3, false]);
  });

  it('integer targets of a regression loss become float32 with the same values', () => {
    const d: SequenceDataset = { ...data(2, 3), y: Int32Array.of(1, -2, 3, 4, 5, 6), yShape: [2, 3, 1] };
    const p = prepareDataset(seqModel(), d, { type: 'mse' });
    expect(p.y).toBeInstanceOf(Float32Array);
    expect(Array.from(p.y)).toEqual([1, -2, 3, 4, 5, 6]);
  });

  it('names the dataset, the shape the model and loss need, and what it got', () => {
    const d = data(4, 3);
    expect(message(() => prepareDataset(seqModel(), { ...d, features: 3, x: new Float32Array(36) }, { type: 'mse' }, 'validation')))
      .toBe("validation.features must equal the model's inputSize 2, got 3");
    expect(message(() => prepareDataset(lastModel(2), { ...d, y: new Float32Array(12), yShape: [4, 3] }, { type: 'mse' })))
      .toBe('data.y must hold [count, 2] = 8 targets for this model (last-step output of 2) and the mse loss, got 12 (yShape [4,3])');
    expect(message(() => prepareDataset(seqModel(2), d, { type: 'huber' }, 'train')))
      .toBe('train.y must hold [count, time, 2] = 24 targets for this model (per-step output of 2) and the huber loss, got 12 (yShape [4,3,1])');
    expect(message(() => prepareDataset(seqModel(5), { ...d, y: new Int32Array(4), yShape: [4] }, { type: 'crossentropy' })))
      .toBe('data.y must hold [count, time] = 12 targets for this model (per-step output of 5) and the crossentropy loss, got 4 (yShape [4])');
    expect(message(() => prepareDataset(lastModel(5), { ...d, y: new Int32Array(12), yShape: [4, 3] }, { type: 'crossentropy' })))
      .toBe('data.y must hold [count] = 4 targets for this model (last-step output of 5) and the crossentropy loss, got 12 (yShape [4,3])');
    expect(message(() => prepareDataset(seqModel(5), d, { type: 'crossentropy' })))
      .toBe('data.y must be an Int32Array of class indices for the crossentropy loss, got a Float32Array');
    // The dataset itself is checked first, under the same name.
    expect(message(() => prepareDataset(seqModel(), { ...d, count: 0 }, { type: 'mse' }, 'validation'))).toBe('validation.count must be a positive integer, got 0');
  });
});

/** The batch built by hand: rows `idx`, the first T steps of each. */
function expectedBatch(d: PreparedData, idx: number[], T: number) {
  const x: number[] = [];
  const y: number[] = [];
  for (const r of idx) {
    for (let t = 0; t < T; t++) for (let f = 0; f < d.features; f++) x.push(d.x[(r * d.time + t) * d.features + f]);
    if (d.perStep) for (let t = 0; t < T; t++) for (let k = 0; k < d.perItem; k++) y.push(d.y[(r * d.time + t) * d.perItem + k]);
    else for (let k = 0; k < d.perItem; k++) y.push(d.y[r * d.perItem + k]);
  }
  return { x, y };
}

describe('gatherBatch', () => {
  it('gathers rows in the given order and trims the time axis to their longest sequence', () => {
    const d = prepareDataset(seqModel(), data(5, 6, [2, 6, 3, 1, 4]), { type: 'mse' });
    const idx = [4, 2, 0];
    const b = gatherBatch(d, idx, true);
    expect([b.batch, b.time]).toEqual([3, 4]);
    expect(Array.from(b.lengths!)).toEqual([4, 3, 2]);
    const want = expectedBatch(d, idx, 4);
    expect(Array.from(b.x)).toEqual(want.x);
    expect(b.y).toBeInstanceOf(Float32Array);
    expect(Array.from(b.y)).toEqual(want.y);
    // A single short row: one step.
    const one = gatherBatch(d, [3], true);
    expect([one.batch, one.time, Array.from(one.x), Array.from(one.y)]).toEqual([1, 1, [300, 301], [30]]);
  });

  it('without trim (truncated BPTT, stateful) or without lengths, keeps the full time axis', () => {
    const withLengths = prepareDataset(seqModel(), data(4, 5, [1, 2, 2, 1]), { type: 'mse' });
    const full = gatherBatch(withLengths, [1, 3], false);
    expect(full.time).toBe(5);
    expect(Array.from(full.lengths!)).toEqual([2, 1]);
    expect(Array.from(full.x)).toEqual(expectedBatch(withLengths, [1, 3], 5).x);
    expect(Array.from(full.y)).toEqual(expectedBatch(withLengths, [1, 3], 5).y);
    const noLengths = prepareDataset(seqModel(), data(4, 5), { type: 'mse' });
    const b = gatherBatch(noLengths, [2, 0], true);
    expect(b.time).toBe(5);
    expect(b.lengths).toBeUndefined();
    expect(Array.from(b.x)).toEqual(expectedBatch(noLengths, [2, 0], 5).x);
  });

  it('last-step targets: one block of perItem per row; class labels stay Int32Array', () => {
    const d0 = data(4, 3, [3, 1, 2, 2]);
    const reg = prepareDataset(lastModel(2), { ...d0, y: Float32Array.from({ length: 8 }, (_, i) => i + 0.5), yShape: [4, 2] }, { type: 'mse' });
    const b = gatherBatch(reg, [3, 1], true);
    expect(b.time).toBe(2);
    expect(Array.from(b.y)).toEqual([6.5, 7.5, 2.5, 3.5]);
    const ce = prepareDataset(seqModel(4), { ...d0, y: Int32Array.from({ length: 12 }, (_, i) => i % 4), yShape: [4, 3] }, { type: 'crossentropy' });
    const c = gatherBatch(ce, [2, 0], true);
    expect(c.y).toBeInstanceOf(Int32Array);
    expect(c.time).toBe(3);
    expect(Array.from(c.y)).toEqual(expectedBatch(ce, [2, 0], 3).y);
  });
});

describe('splitDataset (validation.split)', () => {
  it('holds out the last round(count · fraction) rows, before any shuffling', () => {
    const d = data(10, 3, [1, 2, 3, 1, 2, 3, 1, 2, 3, 3]);
    const { train, validation } = splitDataset(d, 0.25); // round(2.5) = 3
    expect([train.count, validation.count]).toEqual([7, 3]);
    expect(train.yShape).toEqual([7, 3, 1]);
    expect(validation.yShape).toEqual([3, 3, 1]);
    expect(Array.from(train.x)).toEqual(Array.from(d.x.subarray(0, 7 * 3 * 2)));
    expect(Array.from(validation.x)).toEqual(Array.from(d.x.subarray(7 * 3 * 2)));
    expect(Array.from(train.y)).toEqual(Array.from(d.y.subarray(0, 21)));
    expect(Array.from(validation.y)).toEqual(Array.from(d.y.subarray(21)));
    expect(Array.from(train.lengths!)).toEqual([1, 2, 3, 1, 2, 3, 1]);
    expect(Array.from(validation.lengths!)).toEqual([2, 3, 3]);
    expect([validation.time, validation.features]).toEqual([3, 2]);
    // Last-step class labels, no lengths.
    const labels: SequenceDataset = { ...data(4, 3), y: Int32Array.of(0, 1, 2, 3), yShape: [4] };
    const s = splitDataset(labels, 0.5);
    expect(Array.from(s.train.y)).toEqual([0, 1]);
    expect(Array.from(s.validation.y)).toEqual([2, 3]);
    expect(s.validation.yShape).toEqual([2]);
    expect(s.validation.lengths).toBeUndefined();
    // At the edges: round(0.5) = 1 validation row, round(9.4) = 9 of 10.
    expect(splitDataset(d, 0.05).validation.count).toBe(1);
    expect(splitDataset(d, 0.94).train.count).toBe(1);
  });

  it('names a fraction outside (0, 1), and one that leaves a side empty', () => {
    const d = data(10, 2);
    for (const [f, got] of [[0, '0'], [1, '1'], [-0.5, '-0.5'], [Number.NaN, 'null']] as const) {
      expect(message(() => splitDataset(d, f as number))).toBe(`validation.split must be a number in (0, 1), got ${got}`);
    }
    expect(message(() => splitDataset(d, 0.04))).toBe('validation.split 0.04 leaves 10 training and 0 validation rows of 10: both need at least one');
    expect(message(() => splitDataset(d, 0.95))).toBe('validation.split 0.95 leaves 0 training and 10 validation rows of 10: both need at least one');
  });
});
