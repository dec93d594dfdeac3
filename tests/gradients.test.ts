// Every layer kind and training option: the native float64 backward pass against central
// finite differences of the native float64 loss, within 1e-6 relative error per parameter tensor
// (max-norm relative: max|a−n| / max(max|a|, max|n|, 1e-8) over each tensor) and per parameter
// (|a−n| ≤ 1e-6·max(|a|,|n|) + 1e-9, the last term being the differences' own rounding). The forward
// pass the differences are taken of is checked against the independent reference forward pass
// in tests/native-forward.test.ts.

import { describe, expect, it } from 'vitest';
import { dense, gru, lstm, rnn, type LayerSpec } from '../src/layers/spec.js';
import type { NativeGradientOptions } from '../src/native.js';
import { gradientCheck, makeCase, type CaseOptions } from './train-helpers.js';

type Kind = { name: string; make: (o: Record<string, unknown>) => LayerSpec; cellState: boolean; seed?: number };
const H = 3;
const SEED_RELU = 5;
const KINDS: Kind[] = [
  { name: 'rnn tanh', make: (o) => rnn({ units: H, ...o }), cellState: false },
  // Relu units die easily with H = 3; this seed keeps every tensor's gradient alive.
  { name: 'rnn relu', make: (o) => rnn({ units: H, activation: 'relu', ...o }), cellState: false, seed: SEED_RELU },
  { name: 'lstm', make: (o) => lstm({ units: H, ...o }), cellState: true },
  { name: 'lstm peepholes', make: (o) => lstm({ units: H, peepholes: true, ...o }), cellState: true },
  { name: 'lstm peepholes clip inputForget', make: (o) => lstm({ units: H, peepholes: true, clip: 0.6, inputForget: true, ...o }), cellState: true },
  { name: 'lstm clip', make: (o) => lstm({ units: H, clip: 0.5, ...o }), cellState: true },
  { name: 'gru lbr=0', make: (o) => gru({ units: H, linearBeforeReset: 0, ...o }), cellState: false },
  { name: 'gru lbr=1', make: (o) => gru({ units: H, linearBeforeReset: 1, ...o }), cellState: false },
];

function expectClose(layers: LayerSpec[], c: CaseOptions, options: NativeGradientOptions = {}): void {
  const testCase = makeCase(layers, c);
  const { loss, errors } = gradientCheck(testCase, { loss: c.loss, ...options });
  expect(Number.isFinite(loss)).toBe(true);
  for (const e of errors) {
    expect(e.rel, `${e.name} relative error`).toBeLessThan(1e-6);
    // And parameter by parameter: within 1e-6 relative, up to the differences' rounding (1e-9).
    expect(e.elementExcess, `${e.name} worst element ${JSON.stringify(e.worst)}`).toBeLessThan(1e-9);
  }
  // The check is meaningful only if gradients flow: every recurrent W and R tensor is non-zero.
  for (const e of errors.filter((x) => /\.(W|R)$/.test(x.name))) expect(e.scale, `${e.name} gradient scale`).toBeGreaterThan(1e-6);
}

describe('analytic gradients equal float64 central differences', () => {
  for (const k of KINDS) {
    describe(k.name, () => {
      it('bidirectional, per-step dense tanh head, MSE, mixed sequence lengths', () => {
        expectClose([k.make({ direction: 'bidirectional', returnSequences: true }), dense({ units: 2, activation: 'tanh' })], {
          loss: { type: 'mse' }, lengths: [4, 2, 1], seed: k.seed,
        });
      });
      it('stacked forward + reverse (last step = state after step 0), softmax cross-entropy, lengths', () => {
        expectClose([k.make({ returnSequences: true }), k.make({ direction: 'reverse' }), dense({ units: 3, activation: 'softmax' })], {
          loss: { type: 'crossentropy' }, lengths: [3, 4, 2], seed: k.seed,
        });
      });
      it('forward last step without a dense head, binary cross-entropy on logits', () => {
        expectClose([k.make({})], { loss: { type: 'binaryCrossentropy' }, lengths: [2, 4, 3], seed: k.seed });
      });
      it('dropout, recurrent dropout, zoneout, output dropout and L2 (fixed mask seed)', () => {
        expectClose(
          [
            k.make({ direction: 'bidirectional', returnSequences: true, dropout: 0.3, recurrentDropout: 0.3, zoneoutH: 0.3, ...(k.cellState ? { zoneoutC: 0.4 } : {}) }),
            k.make({ returnSequences: true, dropout: 0.2, recurrentDropout: 0.25, zoneoutH: 0.2 }),
            dense({ units: 2 }),
          ],
          { loss: { type: 'mse' }, lengths: [4, 3, 2], T: 5, seed: k.seed },
          { training: true, seed: 1234, outputDropout: 0.3, l2: { input: 0.01, recurrent: 0.02, bias: 0.005 } },
        );
      });
    });
  }

  describe('losses and heads', () => {
    const base = (o: Record<string, unknown> = {}) => lstm({ units: H, returnSequences: true, ...o });
    it('MAE through a relu dense head', () => {
      expectClose([base(), dense({ units: 4, activation: 'relu' }), dense({ units: 2 })], { loss: { type: 'mae' }, lengths: [4, 3, 1] });
    });
    it('Huber (delta 0.3) through a sigmoid head', () => {
      expectClose([base(), dense({ units: 2, activation: 'sigmoid' })], { loss: { type: 'huber', delta: 0.3 } });
    });
    it('MSE through a softmax head (the full softmax Jacobian)', () => {
      expectClose([base(), dense({ units: 3, activation: 'softmax' })], { loss: { type: 'mse' }, lengths: [2, 4, 3] });
    });
    it('per-step softmax cross-entropy with padded steps', () => {
      expectClose([gru({ units: H, returnSequences: true, direction: 'bidirectional' }), dense({ units: 3, activation: 'softmax' })], {
        loss: { type: 'crossentropy' }, lengths: [4, 1, 3],
      });
    });
    it('last-step binary cross-entropy fused with a sigmoid head', () => {
      expectClose([base({ returnSequences: false }), dense({ units: 2, activation: 'sigmoid' })], { loss: { type: 'binaryCrossentropy' } });
    });
    it('cross-entropy on logits (linear head)', () => {
      expectClose([base({ returnSequences: false }), dense({ units: 3 })], { loss: { type: 'crossentropy' } });
    });
  });

  it('carried initial states (stateful / truncated BPTT windows) are treated as constants', () => {
    const c = makeCase([lstm({ units: H, returnSequences: true, peepholes: true }), gru({ units: H, returnSequences: true }), dense({ units: 1 })], {
      loss: { type: 'mse' }, N: 2,
    });
    const init = [
      { h: Float64Array.from({ length: 2 * H }, (_, i) => Math.sin(i + 1) * 0.5), c: Float64Array.from({ length: 2 * H }, (_, i) => Math.cos(i) * 0.7) },
      { h: Float64Array.from({ length: 2 * H }, (_, i) => Math.sin(3 * i) * 0.4) },
    ];
    const { errors } = gradientCheck(c, { loss: { type: 'mse' }, initialState: init });
    for (const e of errors) expect(e.rel, e.name).toBeLessThan(1e-6);
  });
});
