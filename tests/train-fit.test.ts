// fit(): history, validation, accuracy, early stopping with best-weights restore, checkpoints
// (the atomic .onnx export), learning-rate schedules; and training agrees with inference: after
// fit, onnxruntime-node running the exported file gives the addon's forward outputs (1e-5).

import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SequenceDataset } from '../src/data/dataset.js';
import { toOnnx } from '../src/graph/export.js';
import { loadModel } from '../src/model/model.js';
import { Rng } from '../src/layers/random.js';
import { dense, gru, lstm, rnn, type LayerSpec } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';
import { InferenceModel } from '../src/runtime/inference.js';
import { fit } from '../src/train/fit.js';
import { learningRate } from '../src/train/schedule.js';
import { evaluate, predict } from '../src/train/trainer.js';
import { maxAbsDiff, spread } from './reference/util.js';

const dir = mkdtempSync(join(tmpdir(), 'rnnx-fit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Sequences of 3 features, variable lengths; class = sign of the sum of feature 0 (last step) and a per-step running target. */
function toyData(count: number, T: number, seed: number, flip = false): { cls: SequenceDataset; reg: SequenceDataset } {
  const rng = new Rng(seed);
  const x = new Float32Array(count * T * 3);
  const lengths = new Int32Array(count);
  const labels = new Int32Array(count);
  const run = new Float32Array(count * T);
  for (let n = 0; n < count; n++) {
    lengths[n] = 3 + rng.int(T - 2);
    let s = 0;
    for (let t = 0; t < lengths[n]; t++) {
      for (let f = 0; f < 3; f++) x[(n * T + t) * 3 + f] = rng.range(-1, 1);
      s += x[(n * T + t) * 3];
      run[n * T + t] = (flip ? -1 : 1) * Math.tanh(s);
    }
    labels[n] = (s > 0) !== flip ? 1 : 0;
  }
  return {
    cls: { x, count, time: T, features: 3, lengths, y: labels, yShape: [count] },
    reg: { x, count, time: T, features: 3, lengths, y: run, yShape: [count, T, 1] },
  };
}

describe('fit', () => {
  it('trains a classifier with validation split: history, accuracy, loss going down, evaluate()', async () => {
    const { cls } = toyData(240, 12, 1);
    const m = Model.create({ inputSize: 3, layers: [gru({ units: 16 }), dense({ units: 2, activation: 'softmax' })] }, { seed: 3 });
    const epochs: number[] = [];
    const h = await fit(m, cls, {
      epochs: 6, batchSize: 16, optimizer: { type: 'adam', lr: 0.02 }, validation: { split: 0.25 }, seed: 5,
      callbacks: { onEpochEnd: (l) => { epochs.push(l.epoch); } },
    });
    expect(epochs).toEqual([0, 1, 2, 3, 4, 5]);
    expect(h.loss).toHaveLength(6);
    expect(h.valLoss).toHaveLength(6);
    expect(h.accuracy).toHaveLength(6);
    expect(h.loss[5]).toBeLessThan(h.loss[0] * 0.7);
    expect(h.valAccuracy[5]).toBeGreaterThan(0.8);
    const ev = await evaluate(m, { ...cls, x: cls.x.subarray(180 * 12 * 3), count: 60, lengths: cls.lengths!.subarray(180), y: (cls.y as Int32Array).subarray(180), yShape: [60] });
    expect(ev.loss).toBeCloseTo(h.valLoss[5], 5);
    expect(ev.accuracy).toBeCloseTo(h.valAccuracy[5], 10);
  });

  it('early stopping restores the best weights; checkpoints are .onnx files written atomically', async () => {
    const { reg } = toyData(96, 8, 2);
    const { reg: opposite } = toyData(48, 8, 3, true); // validation targets of the opposite sign: learning makes it worse
    const m = Model.create({ inputSize: 3, layers: [lstm({ units: 8, returnSequences: true }), dense({ units: 1, activation: 'tanh' })] }, { seed: 4 });
    const snapshots: Float32Array[] = [];
    const path = join(dir, 'best.onnx');
    const h = await fit(m, reg, {
      epochs: 8, batchSize: 16, optimizer: { type: 'adam', lr: 0.03 }, validation: opposite,
      earlyStopping: { patience: 2, restoreBestWeights: true }, checkpoint: { path, saveBestOnly: true },
      callbacks: { onEpochEnd: () => { snapshots.push(m.params.slice()); } },
    });
    const best = h.valLoss.indexOf(Math.min(...h.valLoss));
    expect(h.bestEpoch).toBe(best);
    expect(h.stoppedEarly).toBe(true);
    expect(h.epochs).toHaveLength(best + 3);
    expect(h.restoredBestWeights).toBe(true);
    expect(Buffer.from(m.params.buffer).equals(Buffer.from(snapshots[best].buffer))).toBe(true);
    const saved = loadModel(path);
    expect(Buffer.from(saved.params.buffer).equals(Buffer.from(snapshots[best].buffer))).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('stateful fit over consecutive batches, tbptt, schedules', async () => {
    const { reg } = toyData(64, 10, 6);
    const data = { ...reg, lengths: undefined };
    const m = Model.create({ inputSize: 3, layers: [lstm({ units: 8, returnSequences: true }), dense({ units: 1 })] }, { seed: 1 });
    const lrs: number[] = [];
    const h = await fit(m, data, {
      epochs: 3, batchSize: 16, stateful: true, tbptt: 5,
      optimizer: { type: 'sgd', lr: 0.1, momentum: 0.9, schedule: { type: 'step', stepSize: 1, gamma: 0.5 } },
      callbacks: { onBatchEnd: (b) => { lrs.push(b.lr); } },
    });
    expect(h.epochs.map((e) => e.steps)).toEqual([8, 8, 8]); // 4 batches x 2 windows
    expect(lrs.slice(0, 4)).toEqual([0.1, 0.1, 0.1, 0.1]);
    expect(lrs.slice(4, 8)).toEqual([0.05, 0.05, 0.05, 0.05]);
    expect(h.loss[2]).toBeLessThan(h.loss[0]);
  });

  it('learning-rate schedules', () => {
    expect(learningRate({ type: 'constant' }, 0.1, 5, 0.5, 10)).toBe(0.1);
    expect(learningRate({ type: 'step', stepSize: 2, gamma: 0.1 }, 1, 5, 0.9, 10)).toBeCloseTo(0.01, 12);
    expect(learningRate({ type: 'exponential', gamma: 0.5 }, 1, 1, 0.5, 10)).toBeCloseTo(0.5 ** 1.5, 12);
    expect(learningRate({ type: 'cosine', minLr: 0.1 }, 1, 5, 0, 10)).toBeCloseTo(0.55, 12);
    expect(learningRate({ type: 'cosine' }, 1, 10, 0, 10)).toBeCloseTo(0, 12);
    expect(learningRate({ type: 'cosine', warmupEpochs: 2 }, 1, 1, 0, 10)).toBeCloseTo(0.5, 6);
  });
});

describe('training agrees with inference (onnxruntime-node on the exported file)', () => {
  const cases: [string, LayerSpec[], boolean][] = [
    ['bidirectional peephole LSTM + GRU, per-step softmax', [
      lstm({ units: 12, peepholes: true, direction: 'bidirectional', returnSequences: true, dropout: 0.1, zoneoutC: 0.1 }),
      gru({ units: 10, linearBeforeReset: 0, returnSequences: true, recurrentDropout: 0.2 }),
      dense({ units: 3, activation: 'softmax' }),
    ], true],
    ['reverse RNN relu + LSTM clip/inputForget, last step, tanh head', [
      rnn({ units: 8, activation: 'relu', direction: 'reverse', returnSequences: true }),
      lstm({ units: 8, clip: 2, inputForget: true }),
      dense({ units: 5, activation: 'relu' }),
      dense({ units: 2, activation: 'tanh' }),
    ], false],
  ];
  for (const [name, layers, perStep] of cases) {
    it(name, async () => {
      const N = 16;
      const T = 9;
      const rng = new Rng(3);
      const x = Float32Array.from({ length: N * T * 3 }, () => rng.range(-1, 1));
      const lengths = Int32Array.from({ length: N }, () => 1 + rng.int(T));
      for (let n = 0; n < N; n++) x.fill(0, (n * T + lengths[n]) * 3, (n + 1) * T * 3);
      const m = Model.create({ inputSize: 3, layers }, { seed: 9 });
      const F = m.outputSize;
      const data: SequenceDataset = perStep
        ? { x, count: N, time: T, features: 3, lengths, y: Int32Array.from({ length: N * T }, () => rng.int(F)), yShape: [N, T] }
        : { x, count: N, time: T, features: 3, lengths, y: Float32Array.from({ length: N * F }, () => rng.range(-0.9, 0.9)), yShape: [N, F] };
      const before = m.params.slice();
      await fit(m, data, { epochs: 3, batchSize: 4, optimizer: { type: 'adam', lr: 0.01 }, threads: 2 });
      expect(maxAbsDiff(before, m.params)).toBeGreaterThan(1e-3);
      const ours = predict(m, x, { batch: N, time: T, lengths });
      const session = await InferenceModel.open(toOnnx(m, { sequenceLens: true }), { providers: ['cpu'] });
      const theirs = await session.run(x, { batch: N, time: T, sequenceLens: lengths });
      await session.release();
      expect(theirs.y.length).toBe(ours.length);
      expect(spread(ours)).toBeGreaterThan(1e-3);
      expect(maxAbsDiff(ours, theirs.y)).toBeLessThan(1e-5);
    });
  }
});
