// The native training step's mechanics against independent TypeScript arithmetic: each
// optimizer's update from the gradients computeGradients returns, clipping by norm and value,
// L2, truncated BPTT (states carried, gradients cut at window borders), stateful batches with
// reset, determinism for a seed and thread count, and the async / sync / dispose behaviour.

import { describe, expect, it } from 'vitest';
import { dense, gru, lstm, type LayerSpec } from '../src/layers/spec.js';
import type { Model } from '../src/model/model.js';
import { native, type NativeBatch, type NativeStates } from '../src/native.js';
import { computeGradients, Trainer } from '../src/train/trainer.js';
import type { TrainerOptions } from '../src/train/options.js';
import { makeCase } from './train-helpers.js';

const layers = (): LayerSpec[] => [lstm({ units: 5, peepholes: true, returnSequences: true }), gru({ units: 4, returnSequences: true }), dense({ units: 2 })];

/** Max |a − b| / max(max|b|, 1e-30). */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / Math.max(m, 1e-30);
}

function gradsOf(model: Model, batch: NativeBatch & { y: Float32Array | Int32Array }, options: Record<string, unknown> = {}) {
  return computeGradients(model, batch, { loss: 'mse', ...options });
}

describe('optimizer updates equal the formulas applied to computeGradients', () => {
  type Update = (w: number, g: number, s: { m: number; v: number }, t: number) => number;
  const lr = 0.01;
  const cases: [string, TrainerOptions['optimizer'], Update][] = [
    ['sgd', { type: 'sgd', lr }, (w, g) => w - lr * g],
    ['sgd momentum', { type: 'sgd', lr, momentum: 0.9 }, (w, g, s) => { s.m = 0.9 * s.m - lr * g; return w + s.m; }],
    ['sgd nesterov', { type: 'sgd', lr, momentum: 0.9, nesterov: true }, (w, g, s) => { s.m = 0.9 * s.m - lr * g; return w + 0.9 * s.m - lr * g; }],
    ['rmsprop', { type: 'rmsprop', lr, rho: 0.8 }, (w, g, s) => { s.v = 0.8 * s.v + 0.2 * g * g; return w - (lr * g) / (Math.sqrt(s.v) + 1e-7); }],
    ['adam', { type: 'adam', lr, beta1: 0.8, beta2: 0.95 }, (w, g, s, t) => {
      s.m = 0.8 * s.m + 0.2 * g; s.v = 0.95 * s.v + 0.05 * g * g;
      return w - (lr * s.m / (1 - 0.8 ** t)) / (Math.sqrt(s.v / (1 - 0.95 ** t)) + 1e-7);
    }],
    ['adamw', { type: 'adamw', lr, weightDecay: 0.1 }, (w, g, s, t) => {
      s.m = 0.9 * s.m + 0.1 * g; s.v = 0.999 * s.v + 0.001 * g * g;
      return w * (1 - lr * 0.1) - (lr * s.m / (1 - 0.9 ** t)) / (Math.sqrt(s.v / (1 - 0.999 ** t)) + 1e-7);
    }],
  ];
  for (const [name, optimizer, update] of cases) {
    it(`${name}: three steps`, () => {
      const { model, batch } = makeCase(layers(), { loss: { type: 'mse' }, lengths: [4, 2, 3] });
      const expected = Float64Array.from(model.params);
      const state = Array.from({ length: expected.length }, () => ({ m: 0, v: 0 }));
      const trainer = new Trainer(model, { loss: 'mse', optimizer, threads: 1 });
      for (let t = 1; t <= 3; t++) {
        const g = gradsOf(model, batch).grads; // float32 path at the trainer's current weights
        for (let k = 0; k < expected.length; k++) expected[k] = update(model.params[k], g[k], state[k], t);
        trainer.stepSync(batch);
        expect(relDiff(model.params, expected)).toBeLessThan(2e-6);
      }
      trainer.dispose();
    });
  }
});

describe('clipping, L2 and the reported loss', () => {
  it('clipNorm scales the whole gradient to the given global norm and reports the norm before clipping', () => {
    const { model, batch } = makeCase(layers(), { loss: { type: 'mse' } });
    const g = gradsOf(model, batch).grads;
    const norm = Math.sqrt(g.reduce((s, v) => s + v * v, 0));
    const clip = norm / 4;
    const before = Float64Array.from(model.params);
    const trainer = new Trainer(model, { loss: 'mse', optimizer: { type: 'sgd', lr: 1 }, clipNorm: clip, threads: 1 });
    const r = trainer.stepSync(batch);
    expect(r.gradNorm).toBeCloseTo(norm, 4);
    const expected = before.map((w, k) => w - g[k] * (clip / norm));
    expect(relDiff(model.params, expected)).toBeLessThan(1e-6);
    trainer.dispose();
  });

  it('clipValue clamps each element; L2 adds 2λw per group; loss includes λΣw²', () => {
    const { model, batch } = makeCase(layers(), { loss: { type: 'mse' } });
    const l2 = { input: 0.01, recurrent: 0.03, bias: 0.002 };
    const ref = gradsOf(model, batch, { l2 });
    const plain = gradsOf(model, batch);
    expect(ref.loss).toBeGreaterThan(plain.loss);
    const cv = 0.01;
    const before = Float64Array.from(model.params);
    const trainer = new Trainer(model, { loss: 'mse', optimizer: { type: 'sgd', lr: 0.5 }, clipValue: cv, l2, threads: 1 });
    const r = trainer.stepSync(batch);
    expect(r.loss).toBeCloseTo(ref.loss, 5);
    const expected = before.map((w, k) => w - 0.5 * Math.min(cv, Math.max(-cv, ref.grads[k])));
    expect(relDiff(model.params, expected)).toBeLessThan(1e-6);
    expect(ref.grads.some((v) => Math.abs(v) > cv)).toBe(true); // clipping did something
    trainer.dispose();
  });
});

/** Rows of a batch-first [N, T, F] buffer restricted to steps [t0, t0 + w). */
function window(a: Float32Array, N: number, T: number, F: number, t0: number, w: number): Float32Array {
  const out = new Float32Array(N * w * F);
  for (let n = 0; n < N; n++) out.set(a.subarray((n * T + t0) * F, (n * T + t0 + w) * F), n * w * F);
  return out;
}

describe('truncated BPTT and stateful training', () => {
  it('tbptt: one update per window, state carried forward, gradients cut at borders (vs computeGradients per window)', () => {
    const T = 8;
    const k = 3; // windows [0,3) [3,6) [6,8)
    const lengths = [8, 7, 7];
    const { model, batch } = makeCase([lstm({ units: 4, returnSequences: true }), gru({ units: 3, returnSequences: true }), dense({ units: 1 })], {
      loss: { type: 'mse' }, T, lengths,
    });
    const ref = model.clone();
    const lr = 0.1;
    let states: NativeStates[] | undefined;
    let sum = 0;
    let count = 0;
    for (let t0 = 0; t0 < T; t0 += k) {
      const w = Math.min(k, T - t0);
      const wb = {
        x: window(batch.x, 3, T, 2, t0, w), batch: 3, time: w,
        lengths: Int32Array.from(lengths, (l) => Math.max(0, Math.min(l - t0, w))),
        y: window(batch.y as Float32Array, 3, T, 1, t0, w),
      };
      const g = computeGradients(ref, wb, { loss: 'mse', initialState: states });
      for (let i = 0; i < ref.params.length; i++) ref.params[i] -= lr * g.grads[i];
      states = g.finalStates;
      sum += g.loss * g.count;
      count += g.count;
    }
    const trainer = new Trainer(model, { loss: 'mse', optimizer: { type: 'sgd', lr }, tbptt: k, threads: 1 });
    const r = trainer.stepSync(batch);
    expect(r.updates).toBe(3);
    expect(r.loss).toBeCloseTo(sum / count, 5);
    expect(relDiff(model.params, ref.params)).toBeLessThan(1e-5);
    trainer.dispose();
  });

  it('stateful: batch i+1 starts from the final states of batch i (row j continues row j); resetStates starts from zeros', () => {
    const mk = (seed: number) => makeCase([lstm({ units: 4, returnSequences: true }), dense({ units: 1 })], { loss: { type: 'mse' }, seed, N: 2, T: 5 });
    const { model, batch: b1 } = mk(1);
    const b2 = mk(2).batch;
    const ref = model.clone();
    const lr = 0.05;
    const g1 = computeGradients(ref, b1, { loss: 'mse' });
    for (let i = 0; i < ref.params.length; i++) ref.params[i] -= lr * g1.grads[i];
    const g2 = computeGradients(ref, b2, { loss: 'mse', initialState: g1.finalStates });
    for (let i = 0; i < ref.params.length; i++) ref.params[i] -= lr * g2.grads[i];
    const fresh = computeGradients(ref, b1, { loss: 'mse' });

    const trainer = new Trainer(model, { loss: 'mse', optimizer: { type: 'sgd', lr }, stateful: true, threads: 1 });
    trainer.stepSync(b1);
    expect(trainer.info().stateBatch).toBe(2);
    const r2 = trainer.stepSync(b2);
    expect(r2.loss).toBeCloseTo(g2.loss, 5);
    expect(relDiff(model.params, ref.params)).toBeLessThan(1e-5);
    trainer.resetStates();
    expect(trainer.info().stateBatch).toBe(0);
    const r3 = trainer.stepSync(b1);
    expect(r3.loss).toBeCloseTo(fresh.loss, 5);
    trainer.dispose();
  });
});

describe('determinism and the step API', () => {
  const regularised = (): LayerSpec[] => [
    lstm({ units: 16, returnSequences: true, dropout: 0.2, recurrentDropout: 0.2, zoneoutH: 0.1, zoneoutC: 0.1 }),
    gru({ units: 16, returnSequences: true, recurrentDropout: 0.1 }),
    dense({ units: 2 }),
  ];
  const run = (seed: number, threads: number) => {
    const { model, batch } = makeCase(regularised(), { loss: { type: 'mse' }, N: 8, T: 12, lengths: [12, 3, 7, 12, 1, 9, 10, 12] });
    const t = new Trainer(model, { loss: 'mse', optimizer: { type: 'adam', lr: 0.01 }, seed, threads, clipNorm: 1 });
    for (let i = 0; i < 4; i++) t.stepSync(batch);
    t.dispose();
    return model.params;
  };

  it('same seed and thread count: bit-identical weights; another seed: different masks', () => {
    const a = run(7, 2);
    const b = run(7, 2);
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    const c = run(8, 2);
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).toBe(false);
  });

  it('step() runs off the JavaScript thread and resolves; a second call while busy is refused', async () => {
    const { model, batch } = makeCase(layers(), { loss: { type: 'mse' } });
    const ref = model.clone();
    const refTrainer = new Trainer(ref, { loss: 'mse', threads: 1 });
    const sync = refTrainer.stepSync(batch);
    const trainer = new Trainer(model, { loss: 'mse', threads: 1 });
    const p = trainer.step(batch);
    await expect(trainer.step(batch)).rejects.toThrow(/still running/);
    const r = await p;
    expect(r.loss).toBe(sync.loss);
    expect(Buffer.from(model.params.buffer).equals(Buffer.from(ref.params.buffer))).toBe(true);
    trainer.dispose();
    refTrainer.dispose();
  });

  it('predict on the addon equals the float32 forward, and the trainer reports its workspace sizes', () => {
    const { model, batch } = makeCase(layers(), { loss: { type: 'mse' }, lengths: [4, 1, 2] });
    const t = new Trainer(model, { loss: 'mse', threads: 1 });
    const y = t.predict(batch);
    const f = native().forward(model.spec, model.layout, model.params, batch);
    expect(Array.from(y)).toEqual(Array.from(f));
    t.stepSync(batch);
    const info = t.info();
    expect(info.activationBytes).toBeGreaterThan(0);
    expect(info.backwardBytes).toBeGreaterThan(0);
    expect(info.steps).toBe(1);
    t.dispose();
  });
});
