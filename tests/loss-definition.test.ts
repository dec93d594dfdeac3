// The loss itself, not its gradient: central differences differentiate whatever loss the trainer
// computes, so a wrong definition (padded steps counted, L2 on the wrong group) passes them. Here
// the loss is recomputed in TypeScript float64 from the reference forward pass
// (tests/reference/forward.ts) over valid steps only, and the L2 terms are checked group by
// group against 2λw (gradient) and λΣw² (loss).

import { describe, expect, it } from 'vitest';
import { dense, gru, lstm, type LayerSpec } from '../src/layers/spec.js';
import type { NativeLoss } from '../src/native.js';
import { computeGradients } from '../src/train/trainer.js';
import { referenceForward } from './reference/forward.js';
import { makeCase } from './train-helpers.js';

const H = 3;

/** Mean loss over the valid rows of a forward pass, written from the definitions in the README. */
function referenceLoss(
  loss: NativeLoss, out: Float64Array, logits: Float64Array | undefined, F: number,
  y: Float32Array | Int32Array, valid: (row: number) => boolean, rows: number,
): number {
  let sum = 0;
  let count = 0;
  for (let r = 0; r < rows; r++) {
    if (!valid(r)) continue;
    const o = out.subarray(r * F, (r + 1) * F);
    if (loss.type === 'crossentropy') {
      const label = y[r];
      // From logits when the head is linear (log-softmax), else from the softmax probabilities.
      if (logits) {
        const z = logits.subarray(r * F, (r + 1) * F);
        const m = Math.max(...z);
        let s = 0;
        for (const v of z) s += Math.exp(v - m);
        sum += m + Math.log(s) - z[label];
      } else {
        sum -= Math.log(o[label]);
      }
      count += 1;
      continue;
    }
    for (let j = 0; j < F; j++) {
      const t = y[r * F + j];
      const e = o[j] - t;
      if (loss.type === 'mse') sum += e * e;
      else if (loss.type === 'mae') sum += Math.abs(e);
      else if (loss.type === 'huber') {
        const d = loss.delta ?? 1;
        sum += Math.abs(e) <= d ? 0.5 * e * e : d * (Math.abs(e) - 0.5 * d);
      } else if (loss.type === 'binaryCrossentropy') {
        // `out` is the sigmoid output here.
        sum -= t * Math.log(o[j]) + (1 - t) * Math.log(1 - o[j]);
      }
      count += 1;
    }
  }
  return sum / count;
}

interface LossCase {
  name: string;
  layers: LayerSpec[];
  loss: NativeLoss;
  lengths?: number[];
  /** The same network without its output activation, for losses computed from logits. */
  logitsOf?: (layers: LayerSpec[]) => LayerSpec[];
}

const perStep = (o: Record<string, unknown> = {}) => lstm({ units: H, returnSequences: true, peepholes: true, ...o });

const CASES: LossCase[] = [
  { name: 'per-step cross-entropy (softmax head), padded steps', layers: [perStep(), dense({ units: 3, activation: 'softmax' })], loss: { type: 'crossentropy' }, lengths: [4, 1, 3] },
  {
    name: 'per-step cross-entropy on logits (linear head), bidirectional GRU, padded steps',
    layers: [gru({ units: H, returnSequences: true, direction: 'bidirectional' }), dense({ units: 4 })],
    loss: { type: 'crossentropy' }, lengths: [2, 4, 1],
    logitsOf: (l) => l,
  },
  { name: 'last-step cross-entropy with lengths', layers: [lstm({ units: H }), dense({ units: 3, activation: 'softmax' })], loss: { type: 'crossentropy' }, lengths: [3, 4, 2] },
  { name: 'per-step MSE, padded steps', layers: [perStep(), dense({ units: 2 })], loss: { type: 'mse' }, lengths: [1, 4, 2] },
  { name: 'per-step MAE, padded steps', layers: [perStep(), dense({ units: 2, activation: 'tanh' })], loss: { type: 'mae' }, lengths: [3, 2, 4] },
  { name: 'per-step Huber (delta 0.4), padded steps', layers: [perStep(), dense({ units: 2 })], loss: { type: 'huber', delta: 0.4 }, lengths: [4, 3, 1] },
  { name: 'per-step binary cross-entropy (sigmoid head), padded steps', layers: [perStep(), dense({ units: 2, activation: 'sigmoid' })], loss: { type: 'binaryCrossentropy' }, lengths: [2, 1, 4] },
];

describe('the loss equals its definition over valid steps (float64, reference forward pass)', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const { model, batch } = makeCase(c.layers, { loss: c.loss, lengths: c.lengths, T: 4 });
      const params = Float64Array.from(model.params);
      const g = computeGradients(model, batch, { loss: c.loss, params });
      const N = batch.batch;
      const T = batch.time;
      const ref = referenceForward(model.spec, params, batch.x, { batch: N, time: T, lengths: batch.lengths });
      const F = ref.dims[ref.dims.length - 1];
      const seq = ref.dims.length === 3;
      // Rows are [n, t] (per step) or [n]; a per-step row is valid when t < lengths[n].
      const rows = seq ? N * T : N;
      const valid = (r: number) => !seq || !batch.lengths || r % T < batch.lengths[Math.floor(r / T)];
      const logits = c.logitsOf ? ref.y : undefined;
      const expected = referenceLoss(c.loss, ref.y, logits, F, batch.y, valid, rows);
      expect(Number.isFinite(expected)).toBe(true);
      expect(Math.abs(g.loss - expected)).toBeLessThan(1e-12 * Math.max(1, Math.abs(expected)));
      if (c.lengths && seq) {
        // The padded rows must matter to a wrong definition: counting them changes the value.
        const all = referenceLoss(c.loss, ref.y, logits, F, batch.y, () => true, rows);
        expect(Math.abs(all - expected)).toBeGreaterThan(1e-6);
      }
    });
  }
});

describe('the default loss follows the output layer', () => {
  it('a softmax head with no loss given is trained on cross-entropy (its definition, float64)', () => {
    const loss: NativeLoss = { type: 'crossentropy' };
    const { model, batch } = makeCase([lstm({ units: H }), dense({ units: 3, activation: 'softmax' })], { loss, lengths: [3, 4, 2], T: 4 });
    const params = Float64Array.from(model.params);
    const g = computeGradients(model, batch, { params });
    const ref = referenceForward(model.spec, params, batch.x, { batch: batch.batch, time: batch.time, lengths: batch.lengths });
    const expected = referenceLoss(loss, ref.y, undefined, 3, batch.y, () => true, batch.batch);
    expect(Number.isFinite(expected)).toBe(true);
    expect(Math.abs(g.loss - expected)).toBeLessThan(1e-12 * Math.max(1, Math.abs(expected)));
  });
});

describe('L2 by group: gradient + 2λw on that group only, loss + λΣw²', () => {
  // Every group present: recurrent W / R / B / P (peepholes count as recurrent), dense W / b.
  const layers = [lstm({ units: H, returnSequences: true, peepholes: true }), gru({ units: H, returnSequences: true }), dense({ units: 2 })];
  const groups = ['input', 'recurrent', 'bias'] as const;
  const lambda = { input: 0.03, recurrent: 0.05, bias: 0.07 };

  /** Group of each parameter, from the layout (W input, R/P recurrent, B/b bias). */
  function groupOf(model: ReturnType<typeof makeCase>['model']): (typeof groups)[number][] {
    const g = new Array<(typeof groups)[number]>(model.layout.total);
    const mark = (s: { offset: number; size: number }, v: (typeof groups)[number]) => g.fill(v, s.offset, s.offset + s.size);
    for (const l of model.layout.layers) {
      if (l.kind === 'dense') {
        mark(l.W, 'input');
        mark(l.b, 'bias');
      } else {
        mark(l.W, 'input');
        mark(l.R, 'recurrent');
        mark(l.B, 'bias');
        if (l.P) mark(l.P, 'recurrent');
      }
    }
    return g;
  }

  for (const group of groups) {
    it(`only l2.${group} set`, () => {
      const { model, batch } = makeCase(layers, { loss: { type: 'mse' }, lengths: [4, 2, 3] });
      const params = Float64Array.from(model.params);
      const plain = computeGradients(model, batch, { loss: 'mse', params });
      const l = lambda[group];
      const withL2 = computeGradients(model, batch, { loss: 'mse', params, l2: { [group]: l } });
      const of = groupOf(model);
      expect(of.every((x) => x !== undefined)).toBe(true);
      let penalty = 0;
      let inGroup = 0;
      for (let k = 0; k < params.length; k++) {
        const d = withL2.grads[k] - plain.grads[k];
        if (of[k] === group) {
          penalty += l * params[k] * params[k];
          inGroup++;
          expect(Math.abs(d - 2 * l * params[k]), `param ${k}`).toBeLessThan(1e-14 * Math.max(1, Math.abs(plain.grads[k])));
        } else {
          expect(d, `param ${k} (${of[k]})`).toBe(0);
        }
      }
      expect(inGroup).toBeGreaterThan(0);
      expect(penalty).toBeGreaterThan(1e-3);
      expect(Math.abs(withL2.loss - plain.loss - penalty)).toBeLessThan(1e-12);
    });
  }
});
