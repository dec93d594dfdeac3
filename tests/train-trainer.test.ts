// The step-level API (src/train/trainer.ts): default loss and threads, the checks of the Trainer,
// and evaluate() as the element-weighted mean loss over a dataset, against one computeGradients
// call over all rows (inference mode) and accuracy counted here from the addon's forward outputs.
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { SequenceDataset } from '../src/data/dataset.js';
import { Rng } from '../src/layers/random.js';
import { dense, gru, lstm } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';
import { computeGradients, defaultLossFor, defaultThreads, evaluate, MAX_THREADS, predict, Trainer } from '../src/train/trainer.js';
import { thrownMessage } from './thrown-message.js';

function withEnv<T>(value: string | undefined, f: () => T): T {
  const saved = process.env.RNNX_NUM_THREADS;
  if (value === undefined) delete process.env.RNNX_NUM_THREADS;
  else process.env.RNNX_NUM_THREADS = value;
  try {
    return f();
  } finally {
    if (saved === undefined) delete process.env.RNNX_NUM_THREADS;
    else process.env.RNNX_NUM_THREADS = saved;
  }
}

const message = thrownMessage;

/** count rows of T steps, 2 features, lengths 1..T, seeded. */
function inputs(count: number, T: number, seed: number) {
  const rng = new Rng(seed);
  const lengths = Int32Array.from({ length: count }, () => 1 + rng.int(T));
  const x = new Float32Array(count * T * 2);
  for (let n = 0; n < count; n++) for (let t = 0; t < lengths[n]; t++) for (let f = 0; f < 2; f++) x[(n * T + t) * 2 + f] = rng.range(-1, 1);
  return { x, lengths, rng };
}

describe('defaults', () => {
  it('loss: cross-entropy after a softmax layer, MSE otherwise', () => {
    const last = (layers: Parameters<typeof Model.create>[0]['layers']) => defaultLossFor(Model.create({ inputSize: 2, layers }));
    expect(last([lstm({ units: 2 }), dense({ units: 3, activation: 'softmax' })])).toStrictEqual({ type: 'crossentropy' });
    expect(last([lstm({ units: 2 }), dense({ units: 3 })])).toStrictEqual({ type: 'mse' });
    expect(last([lstm({ units: 2 }), dense({ units: 1, activation: 'sigmoid' })])).toStrictEqual({ type: 'mse' });
    expect(last([gru({ units: 2 })])).toStrictEqual({ type: 'mse' });
  });

  it('threads: RNNX_NUM_THREADS in [1, 1024], else every hardware thread up to 1024', () => {
    const hw = Math.min(MAX_THREADS, Math.max(1, availableParallelism()));
    expect(MAX_THREADS).toBe(1024);
    expect(withEnv(undefined, defaultThreads)).toBe(hw);
    expect(withEnv('', defaultThreads)).toBe(hw);
    expect(withEnv('3', defaultThreads)).toBe(3);
    expect(withEnv('1', defaultThreads)).toBe(1);
    expect(withEnv('1024', defaultThreads)).toBe(1024);
    for (const bad of ['0', '1025', '2.5', '-1', 'two']) {
      expect(withEnv(bad, () => message(defaultThreads))).toBe(`RNNX_NUM_THREADS must be an integer in [1, 1024], got "${bad}"`);
    }
  });
});

describe('Trainer', () => {
  const model = () => Model.create({ inputSize: 2, layers: [lstm({ units: 3 }), dense({ units: 2 })] }, { seed: 4 });

  it('refuses a thread count outside [1, 1024] with its code', () => {
    for (const [threads, got] of [[0, '0'], [1.5, '1.5'], [1025, '1025'], [Number.NaN, 'null']] as const) {
      let e: (Error & { code?: string }) | undefined;
      try {
        new Trainer(model(), { threads });
      } catch (x) {
        e = x as Error & { code?: string };
      }
      expect(e?.message).toBe(`threads must be an integer in [1, 1024], got ${got}`);
      expect(e?.code).toBe('RNNX_INVALID_ARGUMENT');
    }
  });

  it('keeps the loss, learning rate, schedule and threads it runs with', () => {
    const t = new Trainer(model(), { threads: 2, loss: { type: 'huber', delta: 0.5 }, optimizer: { type: 'sgd', lr: 0.3, schedule: { type: 'exponential', gamma: 0.9 } } });
    expect([t.loss, t.lr, t.schedule, t.threads]).toStrictEqual([{ type: 'huber', delta: 0.5 }, 0.3, { type: 'exponential', gamma: 0.9 }, 2]);
    expect(t.info().threads).toBe(2);
    t.dispose();
    const d = withEnv('1', () => new Trainer(Model.create({ inputSize: 2, layers: [gru({ units: 2 }), dense({ units: 2, activation: 'softmax' })] })));
    expect([d.loss, d.lr, d.schedule, d.threads]).toStrictEqual([{ type: 'crossentropy' }, 0.001, { type: 'constant' }, 1]);
    d.dispose();
  });

  it('after dispose every method refuses with RNNX_INVALID_STATE; async ones reject rather than throw', async () => {
    const t = new Trainer(model(), { threads: 1 });
    expect(t.disposed).toBe(false);
    t.dispose();
    expect(t.disposed).toBe(true);
    t.dispose(); // twice is harmless
    for (const f of [() => t.info(), () => t.resetStates()]) {
      expect(f).toThrow(expect.objectContaining({ message: 'Trainer: the trainer has been disposed', code: 'RNNX_INVALID_STATE' }));
    }
    const batch = { x: new Float32Array(4), batch: 1, time: 2, y: new Float32Array(2) };
    let p: Promise<unknown> | undefined;
    expect(() => { p = t.evaluateBatch(batch); }).not.toThrow();
    await expect(p).rejects.toMatchObject({ code: 'RNNX_INVALID_STATE' });
    expect(() => { p = t.step(batch); }).not.toThrow();
    await expect(p).rejects.toMatchObject({ code: 'RNNX_INVALID_STATE' });
  });
});

describe('evaluate', () => {
  it('regression: the element-weighted mean over uneven batches equals one pass over all rows', async () => {
    const m = Model.create({ inputSize: 2, layers: [lstm({ units: 3, returnSequences: true }), dense({ units: 2 })] }, { seed: 5 });
    const N = 7;
    const T = 4;
    const { x, lengths, rng } = inputs(N, T, 1);
    const y = Float32Array.from({ length: N * T * 2 }, () => rng.range(-1, 1));
    const data: SequenceDataset = { x, count: N, time: T, features: 2, lengths, y, yShape: [N, T, 2] };
    const whole = computeGradients(m, { x, batch: N, time: T, lengths, y }, { loss: 'mae', threads: 1 });
    const t = new Trainer(m, { loss: 'mae', threads: 1 });
    const ev = await t.evaluate(data, { batchSize: 3 });
    expect(ev.loss).toBeCloseTo(whole.loss, 6);
    expect(ev.count).toBe(lengths.reduce((a, b) => a + b, 0) * 2); // valid steps × outputs
    expect(ev.accuracy).toBeUndefined();
    const one = await t.evaluate(data);
    expect(one.loss).toBeCloseTo(whole.loss, 6);
    await expect(t.evaluate(data, { batchSize: 0 })).rejects.toThrow('batchSize must be a positive integer, got 0');
    await expect(t.evaluate(data, { batchSize: 2.5 })).rejects.toThrow('batchSize must be a positive integer, got 2.5');
    // A dataset that does not fit the model is refused under the argument's name, "data".
    await expect(t.evaluate({ ...data, features: 3, x: new Float32Array(N * T * 3) })).rejects.toThrow("data.features must equal the model's inputSize 2, got 3");
    // Targets for a one-output model: consistent with their own shape, not with this model.
    await expect(t.evaluate({ ...data, y: y.subarray(0, N * T), yShape: [N, T, 1] })).rejects.toThrow(`data.y must hold [count, time, 2] = ${N * T * 2} targets for this model (per-step output of 2)`);
    t.dispose();
    // The free function: MSE by default for a regression model, the model left usable.
    const free = await evaluate(m, data, { batchSize: 2, threads: 1 });
    expect(free.loss).toBeCloseTo(computeGradients(m, { x, batch: N, time: T, lengths, y }, { threads: 1 }).loss, 6);
  });

  it('classification: accuracy is the share of rows whose argmax is the label (labels default to cross-entropy)', async () => {
    const m = Model.create({ inputSize: 2, layers: [gru({ units: 4 }), dense({ units: 3 })] }, { seed: 6 });
    const N = 9;
    const T = 3;
    const { x, lengths } = inputs(N, T, 2);
    const out = predict(m, x, { batch: N, time: T, lengths });
    const argmax = Array.from({ length: N }, (_, n) => [0, 1, 2].reduce((b, k) => (out[n * 3 + k] > out[n * 3 + b] ? k : b), 0));
    // Labels: the argmax for the first 5 rows, another class for the rest: accuracy 5/9.
    const y = Int32Array.from(argmax, (a, n) => (n < 5 ? a : (a + 1) % 3));
    const data: SequenceDataset = { x, count: N, time: T, features: 2, lengths, y, yShape: [N] };
    const ev = await evaluate(m, data, { batchSize: 4, threads: 1 });
    expect(ev.accuracy).toBeCloseTo(5 / 9, 12);
    expect(ev.count).toBe(N);
    expect(ev.loss).toBeCloseTo(computeGradients(m, { x, batch: N, time: T, lengths, y }, { loss: 'crossentropy', threads: 1 }).loss, 6);
  });

  it('predict on the addon uses one thread unless told otherwise, and gives the same numbers with more', () => {
    const m = Model.create({ inputSize: 2, layers: [lstm({ units: 3 }), dense({ units: 2 })] }, { seed: 7 });
    const { x, lengths } = inputs(4, 3, 3);
    const a = predict(m, x, { batch: 4, time: 3, lengths });
    const b = predict(m, x, { batch: 4, time: 3, lengths, threads: 2 });
    expect(Array.from(a)).toEqual(Array.from(b));
    const t = new Trainer(m, { threads: 1 });
    expect(Array.from(t.predict({ x, batch: 4, time: 3, lengths }))).toEqual(Array.from(a));
    t.dispose();
  });
});
