// Bad input never crashes the process: every case throws (or rejects with) an Error naming the
// field, the value and what was expected; a non-finite loss applies nothing and fit stops with
// the weights of the last good step.

import { describe, expect, it } from 'vitest';
import { dense, gru, lstm } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';
import { native } from '../src/native.js';
import { fit } from '../src/train/fit.js';
import { Trainer } from '../src/train/trainer.js';
import { makeCase } from './train-helpers.js';

const model = () => Model.create({ inputSize: 3, layers: [gru({ units: 4, returnSequences: true }), dense({ units: 3, activation: 'softmax' })] }, { seed: 1 });
const goodBatch = () => ({ x: new Float32Array(2 * 5 * 3).fill(0.1), batch: 2, time: 5, lengths: Int32Array.from([5, 3]), y: new Int32Array(10) });

describe('bad input gives an Error that names the problem', () => {
  it('buffers of the wrong length: x, y, lengths, params', () => {
    const t = new Trainer(model(), { loss: 'crossentropy', threads: 1 });
    expect(() => t.stepSync({ ...goodBatch(), x: new Float32Array(29) })).toThrow('batch.x must have length batch*time*features = 2*5*3 = 30, got 29');
    expect(() => t.stepSync({ ...goodBatch(), y: new Int32Array(9) })).toThrow(/batch\.y must have length batch\*time = 10 .*got 9/);
    expect(() => t.stepSync({ ...goodBatch(), lengths: Int32Array.from([5]) })).toThrow('batch.lengths must have length batch = 2, got 1');
    expect(() => t.stepSync({ ...goodBatch(), lengths: Int32Array.from([6, 1]) })).toThrow('batch.lengths[0] must be in [1, 5], got 6');
    expect(() => t.stepSync({ ...goodBatch(), x: new Float64Array(30) as unknown as Float32Array })).toThrow('batch.x must be a Float32Array, got Float64Array of length 30');
    const m = model();
    expect(() => new (native().Trainer)(m.spec, m.layout, new Float32Array(m.params.length - 1), {})).toThrow(`params must have length ${m.params.length}, got ${m.params.length - 1}`);
    t.dispose();
  });

  it('non-finite inputs and targets', () => {
    const t = new Trainer(model(), { loss: 'crossentropy', threads: 1 });
    const b = goodBatch();
    b.x[17] = NaN;
    expect(() => t.stepSync(b)).toThrow(/batch\.x\[17\] is nan: inputs must be finite \(row 1, step 0, feature 2\)/);
    const r = Model.create({ inputSize: 3, layers: [lstm({ units: 2 }), dense({ units: 1 })] });
    const tr = new Trainer(r, { loss: 'mse', threads: 1 });
    expect(() => tr.stepSync({ x: new Float32Array(6), batch: 2, time: 1, y: Float32Array.from([1, Infinity]) })).toThrow(/batch\.y\[1\] is inf: targets must be finite/);
    t.dispose();
    tr.dispose();
  });

  it('labels out of range (padded steps are not checked)', () => {
    const t = new Trainer(model(), { loss: 'crossentropy', threads: 1 });
    const b = goodBatch();
    b.y[9] = 7; // row 1, step 4: padded (length 3), ignored
    expect(() => t.stepSync(b)).not.toThrow();
    b.y[6] = 3; // row 1, step 1: valid
    expect(() => t.stepSync(b)).toThrow('batch.y[6] = 3 is out of range: class indices must be in [0, 3) for an output of 3 classes');
    b.y[6] = -1;
    expect(() => t.stepSync(b)).toThrow(/batch\.y\[6\] = -1 is out of range/);
    t.dispose();
  });

  it('batch-size mismatch in stateful training', () => {
    const m = Model.create({ inputSize: 3, layers: [lstm({ units: 3, returnSequences: true }), dense({ units: 1 })] });
    const t = new Trainer(m, { loss: 'mse', stateful: true, threads: 1 });
    const b = (N: number) => ({ x: new Float32Array(N * 4 * 3).fill(0.2), batch: N, time: 4, y: new Float32Array(N * 4) });
    t.stepSync(b(4));
    expect(() => t.stepSync(b(3))).toThrow('batch size 3 differs from the previous batch\'s 4: stateful training continues row j of each batch in row j of the next, so every batch must have the same size (call resetStates() to start over)');
    t.resetStates();
    expect(() => t.stepSync(b(3))).not.toThrow();
    t.dispose();
  });

  it('trainer used after dispose', async () => {
    const t = new Trainer(model(), { loss: 'crossentropy', threads: 1 });
    t.dispose();
    expect(() => t.stepSync(goodBatch())).toThrow('Trainer: the trainer has been disposed');
    await expect(t.step(goodBatch())).rejects.toThrow('Trainer: the trainer has been disposed');
    expect(() => t.predict(goodBatch())).toThrow('disposed');
    // The raw native object refuses too (no dangling pointers).
    const m = model();
    const raw = new (native().Trainer)(m.spec, m.layout, m.params, { loss: { type: 'crossentropy' } });
    raw.dispose();
    expect(() => raw.stepSync(goodBatch(), 0.1)).toThrow('Trainer.stepSync: the trainer has been disposed');
    expect(() => raw.info()).toThrow('disposed');
  });

  it('options and data that do not fit the model', async () => {
    const m = model();
    expect(() => new Trainer(m, { loss: 'binaryCrossentropy' })).toThrow(/binaryCrossentropy needs an output layer with sigmoid or no activation/);
    expect(() => new Trainer(m, { optimizer: { type: 'adagrad' } as never })).toThrow('optimizer.type must be one of "sgd", "rmsprop", "adam", "adamw", got "adagrad"');
    expect(() => new Trainer(m, { tbptt: 2, loss: 'crossentropy', ...{} } as never)).not.toThrow();
    const last = Model.create({ inputSize: 3, layers: [lstm({ units: 3 }), dense({ units: 1 })] });
    expect(() => new Trainer(last, { tbptt: 2 })).toThrow('options.tbptt needs per-step outputs: the last recurrent layer must have returnSequences: true');
    const bi = Model.create({ inputSize: 3, layers: [lstm({ units: 3, direction: 'bidirectional', returnSequences: true }), dense({ units: 1 })] });
    expect(() => new Trainer(bi, { stateful: true })).toThrow(/options\.stateful needs forward-direction layers: layers\[0\] runs backwards in time/);
    const data = { x: new Float32Array(2 * 5 * 4), count: 2, time: 5, features: 4, y: new Int32Array(10), yShape: [2, 5] };
    await expect(fit(m, data)).rejects.toThrow("data.features must equal the model's inputSize 3, got 4");
    await expect(fit(m, { ...data, features: 3, x: new Float32Array(30), y: new Float32Array(10) }, { loss: 'crossentropy' })).rejects.toThrow(/data\.y must be an Int32Array of class indices/);
    await expect(fit(m, { ...data, features: 3, x: new Float32Array(30) }, { epochs: 0 })).rejects.toThrow('epochs must be a positive integer, got 0');
  });
});

describe('a non-finite loss', () => {
  it('applies nothing and throws RNNX_NON_FINITE', () => {
    const { model: m, batch } = makeCase([lstm({ units: 3, returnSequences: true }), dense({ units: 1 })], { loss: { type: 'mse' } });
    const t = new Trainer(m, { loss: 'mse', threads: 1 });
    const y = batch.y as Float32Array;
    y[0] = 3e38; // (o − y)² overflows float
    const before = m.params.slice();
    let err: (Error & { code?: string }) | undefined;
    try {
      t.stepSync(batch);
    } catch (e) {
      err = e as Error & { code?: string };
    }
    expect(err?.message).toMatch(/non-finite (loss|gradient) .* the update was not applied and the weights are the last good ones/);
    expect(err?.code).toBe('RNNX_NON_FINITE');
    expect(Buffer.from(m.params.buffer).equals(Buffer.from(before.buffer))).toBe(true);
    t.dispose();
  });

  it('stops fit with a clear error and leaves the weights of the last good step', async () => {
    const N = 24;
    const T = 6;
    const m = Model.create({ inputSize: 2, layers: [gru({ units: 4, returnSequences: true }), dense({ units: 1 })] }, { seed: 2 });
    const x = Float32Array.from({ length: N * T * 2 }, (_, i) => Math.sin(i));
    const y = Float32Array.from({ length: N * T }, (_, i) => Math.cos(i));
    y.fill(3e38, 16 * T, 17 * T); // row 16 sits in the third batch of 8 (no shuffling)
    let snapshot: Float32Array | null = null;
    const p = fit(m, { x, count: N, time: T, features: 2, y, yShape: [N, T, 1] }, {
      epochs: 2, batchSize: 8, shuffle: false, threads: 1,
      callbacks: { onBatchEnd: () => { snapshot = m.params.slice(); } },
    });
    await expect(p).rejects.toThrow(/^fit: epoch 1, batch 3: non-finite (loss|gradient)/);
    await p.catch((e: Error & { code?: string }) => expect(e.code).toBe('RNNX_NON_FINITE'));
    expect(snapshot).not.toBeNull();
    expect(Buffer.from(m.params.buffer).equals(Buffer.from(snapshot!.buffer))).toBe(true);
  });
});
