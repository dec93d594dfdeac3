// fit() against the loop a user would write by hand with the step API: the same batches, in the
// same order, at the learning rates of the schedule, give bit-identical weights; the logs are the
// element-weighted means of the step results; early stopping, checkpoints and callbacks stop and
// save exactly when documented; and every option is checked with a message naming it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { SequenceDataset } from '../src/data/dataset.js';
import { toOnnx } from '../src/graph/export.js';
import { Rng } from '../src/layers/random.js';
import { dense, gru, lstm } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';
import { gatherBatch, prepareDataset } from '../src/train/batches.js';
import { fit, type BatchLogs, type EpochLogs } from '../src/train/fit.js';
import type { OptimizerOptions } from '../src/train/options.js';
import { learningRate } from '../src/train/schedule.js';
import { evaluate, Trainer } from '../src/train/trainer.js';

const dir = mkdtempSync(join(tmpdir(), 'rnnx-fit-loop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** count sequences of up to T steps, 2 features; last-step regression target and class label. */
function toy(count: number, T: number, seed: number, withLengths = true): { reg: SequenceDataset; cls: SequenceDataset } {
  const rng = new Rng(seed);
  const x = new Float32Array(count * T * 2);
  const lengths = new Int32Array(count);
  const y = new Float32Array(count);
  const labels = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    lengths[n] = withLengths ? 1 + rng.int(T) : T;
    let s = 0;
    for (let t = 0; t < lengths[n]; t++) {
      for (let f = 0; f < 2; f++) x[(n * T + t) * 2 + f] = rng.range(-1, 1);
      s += x[(n * T + t) * 2];
    }
    y[n] = Math.tanh(s);
    labels[n] = s > 0 ? 1 : 0;
  }
  const l = withLengths ? lengths : undefined;
  return {
    reg: { x, count, time: T, features: 2, lengths: l, y, yShape: [count, 1] },
    cls: { x, count, time: T, features: 2, lengths: l, y: labels, yShape: [count] },
  };
}

const regModel = () => Model.create({ inputSize: 2, layers: [lstm({ units: 3 }), dense({ units: 1 })] }, { seed: 2 });
const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** What fit documents, written out with the step API: rows in order, batch b of B at the schedule's lr for epoch + b/B. */
async function handLoop(model: Model, data: SequenceDataset, o: { epochs: number; batchSize: number; optimizer: OptimizerOptions; stateful?: boolean }) {
  const t = new Trainer(model, { loss: 'mse', optimizer: o.optimizer, threads: 1, stateful: o.stateful });
  const d = prepareDataset(model, data, t.loss);
  const B = o.stateful ? Math.floor(d.count / o.batchSize) : Math.ceil(d.count / o.batchSize);
  const batches: { lr: number; loss: number; count: number }[] = [];
  for (let e = 0; e < o.epochs; e++) {
    if (o.stateful) t.resetStates();
    for (let b = 0; b < B; b++) {
      const idx = Array.from({ length: Math.min(d.count, (b + 1) * o.batchSize) - b * o.batchSize }, (_, i) => b * o.batchSize + i);
      const lr = learningRate(t.schedule, t.lr, e, b / B, o.epochs);
      const r = await t.step(gatherBatch(d, idx, !o.stateful), lr);
      batches.push({ lr, loss: r.loss, count: r.count });
    }
  }
  t.dispose();
  return { B, batches };
}

describe('fit is the documented loop of steps', () => {
  it('in-order batches (the last one short), schedule per batch: the same weights, and logs that are the weighted means', async () => {
    const { reg } = toy(10, 5, 1);
    const optimizer: OptimizerOptions = { type: 'sgd', lr: 0.2, momentum: 0.5, schedule: { type: 'exponential', gamma: 0.5 } };
    const byHand = regModel();
    const ref = await handLoop(byHand, reg, { epochs: 2, batchSize: 4, optimizer });
    expect(ref.B).toBe(3); // 4 + 4 + 2 rows
    const m = regModel();
    const seen: BatchLogs[] = [];
    const h = await fit(m, reg, { epochs: 2, batchSize: 4, optimizer, shuffle: false, threads: 1, callbacks: { onBatchEnd: (l) => { seen.push(l); } } });
    expect(same(m.params, byHand.params)).toBe(true);
    expect(seen.map((l) => [l.epoch, l.batch, l.batches])).toEqual([[0, 0, 3], [0, 1, 3], [0, 2, 3], [1, 0, 3], [1, 1, 3], [1, 2, 3]]);
    expect(seen.map((l) => l.lr)).toEqual(ref.batches.map((b) => b.lr));
    [0, 1, 2, 3, 4, 5].forEach((k) => expect(seen[k].lr).toBeCloseTo(0.2 * 0.5 ** (k / 3), 15));
    expect(seen.map((l) => l.loss)).toEqual(ref.batches.map((b) => b.loss));
    expect(seen.every((l) => l.accuracy === undefined)).toBe(true);
    for (let e = 0; e < 2; e++) {
      const part = ref.batches.slice(e * 3, e * 3 + 3);
      const mean = part.reduce((s, b) => s + b.loss * b.count, 0) / part.reduce((s, b) => s + b.count, 0);
      expect(h.epochs[e].loss).toBeCloseTo(mean, 12);
      expect(h.epochs[e].lr).toBe(part[2].lr); // the lr of the epoch's last step
      expect(h.epochs[e].steps).toBe(3);
      expect(h.epochs[e].epoch).toBe(e);
      expect(h.epochs[e].seconds).toBeGreaterThanOrEqual(0);
      expect(h.epochs[e].seconds).toBeLessThan(60);
    }
    // The short last batch weighs less than the full ones: a plain mean of batch losses differs.
    expect(ref.batches[2].count).toBe(2);
    expect(h.loss).toEqual(h.epochs.map((e) => e.loss));
    expect([h.accuracy, h.valLoss, h.valAccuracy]).toEqual([[], [], []]);
    expect(h.epochs[0].accuracy).toBeUndefined();
    expect(h.epochs[0].valLoss).toBeUndefined();
    // A regression fit's logs carry no accuracy field at all (not one set to undefined).
    for (const e of h.epochs) expect(Object.keys(e).sort()).toEqual(['epoch', 'loss', 'lr', 'seconds', 'steps']);
    expect([h.stoppedEarly, h.restoredBestWeights, h.bestEpoch]).toEqual([false, false, 1]);
  });

  it('stateful: full batches only, never shuffled, states reset each epoch', async () => {
    const { reg } = toy(10, 4, 2, false);
    const optimizer: OptimizerOptions = { type: 'adam', lr: 0.05 };
    const byHand = regModel();
    const ref = await handLoop(byHand, reg, { epochs: 2, batchSize: 4, optimizer, stateful: true });
    expect(ref.B).toBe(2); // floor(10 / 4): rows 8, 9 are left out
    const m = regModel();
    const h = await fit(m, reg, { epochs: 2, batchSize: 4, optimizer, stateful: true, shuffle: true, threads: 1 });
    expect(same(m.params, byHand.params)).toBe(true);
    expect(h.epochs.map((e) => e.steps)).toEqual([2, 2]);
    await expect(fit(regModel(), reg, { batchSize: 11, stateful: true })).rejects.toThrow('stateful training needs at least one full batch: 10 rows < batchSize 11');
  });

  it('shuffling is seeded: the same seed repeats a fit, another seed or no shuffling changes it', async () => {
    const { reg } = toy(12, 4, 3);
    const run = async (o: { seed?: number; shuffle?: boolean }) => {
      const m = regModel();
      await fit(m, reg, { epochs: 2, batchSize: 3, optimizer: { type: 'sgd', lr: 0.3 }, threads: 1, ...o });
      return m.params;
    };
    const a = await run({});
    expect(same(a, await run({ seed: 1 }))).toBe(true);
    expect(same(a, await run({ seed: 2 }))).toBe(false);
    expect(same(a, await run({ shuffle: false }))).toBe(false);
  });

  it('classification: accuracy is correct / predictions over the epoch; validation figures equal evaluate() on the final weights', async () => {
    const { cls } = toy(20, 4, 4);
    const { cls: val } = toy(9, 4, 5);
    const m = Model.create({ inputSize: 2, layers: [gru({ units: 4 }), dense({ units: 2, activation: 'softmax' })] }, { seed: 6 });
    const seen: BatchLogs[] = [];
    const h = await fit(m, cls, {
      epochs: 2, batchSize: 8, optimizer: { type: 'adam', lr: 0.05 }, validation: val, threads: 1, shuffle: false,
      callbacks: { onBatchEnd: (l) => { seen.push(l); } },
    });
    const rows = [8, 8, 4];
    for (let e = 0; e < 2; e++) {
      const part = seen.slice(e * 3, e * 3 + 3);
      // Last-step cross-entropy: one prediction per row.
      const correct = part.reduce((s, l, i) => s + l.accuracy! * rows[i], 0);
      expect(h.epochs[e].accuracy).toBeCloseTo(correct / 20, 12);
    }
    expect(h.accuracy).toEqual(h.epochs.map((e) => e.accuracy));
    const ev = await evaluate(m, val, { threads: 1 });
    expect(h.valLoss[1]).toBeCloseTo(ev.loss, 6);
    expect(h.valAccuracy[1]).toBe(ev.accuracy);
    expect(h.valLoss).toEqual(h.epochs.map((e) => e.valLoss));
    expect(h.valAccuracy).toEqual(h.epochs.map((e) => e.valAccuracy));
  });
});

describe('early stopping, checkpoints and callbacks', () => {
  // minDelta larger than any loss: only the first epoch improves (on Infinity), so the monitored
  // value "stalls" from epoch 1 on, whatever training does.
  const stall = { minDelta: 1e9 };

  it('patience p stops after max(1, p) epochs without improvement and puts the best weights back', async () => {
    const { reg } = toy(8, 3, 7);
    for (const [patience, ran] of [[0, 2], [1, 2], [3, 4]] as const) {
      const m = regModel();
      const snaps: Float32Array[] = [];
      const h = await fit(m, reg, {
        epochs: 6, batchSize: 4, optimizer: { type: 'adam', lr: 0.05 }, threads: 1, earlyStopping: { ...stall, patience, restoreBestWeights: true },
        callbacks: { onEpochEnd: () => { snaps.push(m.params.slice()); } },
      });
      expect(h.epochs.length, `patience ${patience}`).toBe(ran);
      expect([h.bestEpoch, h.stoppedEarly, h.restoredBestWeights]).toEqual([0, true, true]);
      expect(same(m.params, snaps[0])).toBe(true);
      expect(same(snaps[0], snaps[1])).toBe(false);
    }
    // Without restoreBestWeights the last weights stay; stopping on the very last epoch is not "early".
    const m = regModel();
    const snaps: Float32Array[] = [];
    const h = await fit(m, reg, { epochs: 2, batchSize: 4, threads: 1, optimizer: { type: 'adam', lr: 0.05 }, earlyStopping: stall, callbacks: { onEpochEnd: () => { snaps.push(m.params.slice()); } } });
    expect([h.epochs.length, h.stoppedEarly, h.restoredBestWeights]).toEqual([2, false, false]);
    expect(same(m.params, snaps[1])).toBe(true);
    // Improving every epoch (minDelta 0, loss going down): no stop, best = last, nothing to restore.
    const g = regModel();
    const run = await fit(g, reg, { epochs: 3, batchSize: 8, threads: 1, optimizer: { type: 'sgd', lr: 0.01 }, shuffle: false, earlyStopping: { restoreBestWeights: true, monitor: 'loss' } });
    expect(run.loss[2]).toBeLessThan(run.loss[1]);
    expect(run.loss[1]).toBeLessThan(run.loss[0]);
    expect([run.epochs.length, run.bestEpoch, run.stoppedEarly, run.restoredBestWeights]).toEqual([3, 2, false, false]);
  });

  it('a monitored value that never improves (an infinite validation loss): bestEpoch -1, stop after patience epochs', async () => {
    const { reg } = toy(8, 3, 12);
    // Targets near the float32 maximum: the squared error overflows, so the validation loss is Infinity,
    // which is not below the starting best (Infinity).
    const huge: SequenceDataset = { ...reg, y: new Float32Array(reg.count).fill(3e38) };
    const m = regModel();
    const before = m.params.slice();
    const h = await fit(m, reg, { epochs: 5, batchSize: 4, threads: 1, validation: huge, earlyStopping: { patience: 2, restoreBestWeights: true } });
    expect(h.valLoss).toEqual([Infinity, Infinity]);
    expect([h.epochs.length, h.bestEpoch, h.stoppedEarly, h.restoredBestWeights]).toEqual([2, -1, true, false]);
    expect(same(m.params, before)).toBe(false); // no best weights to put back: the trained ones stay
  });

  it('checkpoints: every epoch by default, only on improvement with saveBestOnly; export options apply', async () => {
    const { reg } = toy(8, 3, 8);
    for (const saveBestOnly of [false, true]) {
      const path = join(dir, `ckpt-${saveBestOnly}.onnx`);
      const m = regModel();
      const files: Buffer[] = [];
      const exports: Uint8Array[] = [];
      await fit(m, reg, {
        epochs: 3, batchSize: 4, threads: 1, optimizer: { type: 'adam', lr: 0.05 }, earlyStopping: { ...stall, patience: 5 },
        checkpoint: { path, saveBestOnly, exportOptions: { sequenceLens: true } },
        callbacks: { onEpochEnd: () => { files.push(readFileSync(path)); exports.push(toOnnx(m, { sequenceLens: true })); } },
      });
      for (let e = 0; e < 3; e++) expect(files[e].equals(Buffer.from(exports[saveBestOnly ? 0 : e])), `saveBestOnly ${saveBestOnly}, epoch ${e}`).toBe(true);
    }
  });

  it('onEpochEnd returning false stops after that epoch; early only if epochs were left', async () => {
    const { reg } = toy(8, 3, 9);
    for (const [stopAt, early] of [[1, true], [2, false]] as const) {
      const logs: EpochLogs[] = [];
      const h = await fit(regModel(), reg, { epochs: 3, batchSize: 8, threads: 1, callbacks: { onEpochEnd: async (l) => { logs.push(l); return l.epoch === stopAt ? false : undefined; } } });
      expect(h.epochs.length).toBe(stopAt + 1);
      expect(h.stoppedEarly).toBe(early);
      expect(logs).toEqual(h.epochs);
    }
  });

  it('validation: null, like undefined, means no validation', async () => {
    const { reg } = toy(8, 3, 13);
    const a = regModel();
    const b = regModel();
    const ha = await fit(a, reg, { epochs: 2, batchSize: 4, threads: 1, shuffle: false, validation: null as never });
    const hb = await fit(b, reg, { epochs: 2, batchSize: 4, threads: 1, shuffle: false });
    expect(ha.valLoss).toEqual([]);
    expect(ha.loss).toEqual(hb.loss);
    expect(same(a.params, b.params)).toBe(true);
  });

  it('validation as a split of the data: the last rows, before shuffling', async () => {
    const { reg } = toy(10, 3, 10);
    const m = regModel();
    const h = await fit(m, reg, { epochs: 1, batchSize: 4, threads: 1, validation: { split: 0.3 } });
    const tail: SequenceDataset = { ...reg, x: reg.x.subarray(7 * 3 * 2), count: 3, lengths: reg.lengths!.subarray(7), y: reg.y.subarray(7), yShape: [3, 1] };
    expect(h.valLoss[0]).toBeCloseTo((await evaluate(m, tail, { threads: 1 })).loss, 6);
    expect(h.epochs[0].steps).toBe(2); // 7 training rows in batches of 4
  });

  it('a validation dataset that carries a split tag of its own is used as given, not as a split', async () => {
    // Loaders often tag their parts ({ split: 'validation' }); a dataset (it has x) is the validation set.
    const { reg } = toy(8, 3, 14);
    const { reg: val } = toy(5, 3, 15);
    const a = regModel();
    const b = regModel();
    const tagged = await fit(a, reg, { epochs: 1, batchSize: 4, threads: 1, shuffle: false, validation: { ...val, split: 'validation' } as never });
    const plain = await fit(b, reg, { epochs: 1, batchSize: 4, threads: 1, shuffle: false, validation: val });
    expect(tagged.epochs[0].steps).toBe(2); // all 8 rows trained on
    expect(tagged.valLoss[0]).toBeCloseTo((await evaluate(a, val, { threads: 1 })).loss, 6);
    expect(tagged.valLoss).toEqual(plain.valLoss);
    expect(same(a.params, b.params)).toBe(true);
  });
});

describe('fit options are checked, naming the field', () => {
  const { reg } = toy(4, 3, 11);
  const err = (o: unknown) => fit(regModel(), reg, o as never).then(() => '(no error)', (e: Error) => e.message);

  it('unknown options list the known ones; each documented option is known', async () => {
    expect(await err({ epoch: 2 })).toBe('fit: unknown option "epoch"; known options: epochs, batchSize, shuffle, validation, earlyStopping, callbacks, checkpoint, loss, optimizer, clipNorm, clipValue, l2, outputDropout, tbptt, stateful, seed, threads, device, emulate');
    expect(await err(null)).toBe('fit options must be an object, got null');
    expect(await err(5)).toBe('fit options must be an object, got 5');
    const all = {
      epochs: 1, batchSize: 4, shuffle: false, validation: reg, earlyStopping: {}, callbacks: {}, checkpoint: { path: join(dir, 'all.onnx') },
      loss: 'mse', optimizer: { type: 'sgd' }, clipNorm: 1, clipValue: 1, l2: { input: 0 }, outputDropout: 0, tbptt: 0, stateful: false, seed: 3, threads: 1, device: 'cpu',
    };
    expect(await err(all)).toBe('(no error)');
  });

  it('numbers, early stopping and checkpoint', async () => {
    expect(await err({ epochs: 0 })).toBe('epochs must be a positive integer, got 0');
    expect(await err({ epochs: 1.5 })).toBe('epochs must be a positive integer, got 1.5');
    expect(await err({ epochs: '2' })).toBe('epochs must be a positive integer, got "2"');
    expect(await err({ batchSize: 0 })).toBe('batchSize must be a positive integer, got 0');
    expect(await err({ earlyStopping: { monitor: 'valLoss' } })).toBe('earlyStopping.monitor is "valLoss" but no validation data was given');
    expect(await err({ earlyStopping: { patience: -1 } })).toBe('earlyStopping.patience must be a non-negative integer, got -1');
    expect(await err({ earlyStopping: { patience: 0.5 } })).toBe('earlyStopping.patience must be a non-negative integer, got 0.5');
    expect(await err({ earlyStopping: { minDelta: -0.1 } })).toBe('earlyStopping.minDelta must be >= 0, got -0.1');
    expect(await err({ earlyStopping: { minDelta: Number.NaN } })).toBe('earlyStopping.minDelta must be >= 0, got null');
    expect(await err({ checkpoint: { path: '' } })).toBe('checkpoint.path must be a non-empty string, got ""');
    expect(await err({ checkpoint: { path: 3 } })).toBe('checkpoint.path must be a non-empty string, got 3');
    expect(await err({ earlyStopping: { patience: 0, minDelta: 0 }, epochs: 1 })).toBe('(no error)');
    // The validation set is checked against the model under its own name.
    expect(await err({ validation: { ...reg, features: 3, x: new Float32Array(36) } })).toBe("validation.features must equal the model's inputSize 2, got 3");
  });

  it('a failing step names the epoch and batch, keeping the code', async () => {
    const bad = { ...reg, y: Float32Array.of(0, 0, Number.NaN, 0) };
    const e = await fit(regModel(), bad, { batchSize: 2, shuffle: false, threads: 1 }).catch((x: Error & { code?: string }) => x);
    expect((e as Error).message).toMatch(/^fit: epoch 1, batch 2: /);
    expect((e as { code?: string }).code).toBe('RNNX_INVALID_ARGUMENT');
  });

  it('the trainer fit creates is disposed when fit returns, and when a step fails', async () => {
    // Its native workspaces and optimizer state are freed at once, not whenever the GC gets to them.
    const steps = vi.spyOn(Trainer.prototype, 'step');
    try {
      await fit(regModel(), reg, { epochs: 1, batchSize: 4, threads: 1 });
      const bad = { ...reg, y: Float32Array.of(0, 0, Number.NaN, 0) };
      await expect(fit(regModel(), bad, { batchSize: 2, shuffle: false, threads: 1 })).rejects.toThrow(/^fit: epoch 1, batch 2: /);
      const trainers = [...new Set(steps.mock.contexts)] as Trainer[];
      expect(trainers).toHaveLength(2);
      for (const t of trainers) expect(t.disposed).toBe(true);
    } finally {
      steps.mockRestore();
    }
  });
});
