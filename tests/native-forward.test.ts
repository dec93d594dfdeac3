// The native forward pass (float64 and float32) against the independent float64 reference
// forward pass (tests/reference/forward.ts, written from the ONNX equations) for every layer
// kind, direction, stacking, output mode, dense head and sequence_lens; final states too.

import { describe, expect, it } from 'vitest';
import { Rng } from '../src/layers/random.js';
import { dense, gru, lstm, rnn, type LayerSpec } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';
import { native } from '../src/native.js';
import { referenceForward } from './reference/forward.js';
import { maxAbsDiff, randomArray, randomizeParams, spread } from './reference/util.js';

const H = 4;
const KINDS: Record<string, (o: Record<string, unknown>) => LayerSpec> = {
  'rnn tanh': (o) => rnn({ units: H, ...o }),
  'rnn relu': (o) => rnn({ units: H, activation: 'relu', ...o }),
  lstm: (o) => lstm({ units: H, ...o }),
  'lstm peepholes clip inputForget': (o) => lstm({ units: H, peepholes: true, clip: 0.7, inputForget: true, ...o }),
  'lstm peepholes': (o) => lstm({ units: H, peepholes: true, ...o }),
  'gru lbr=0': (o) => gru({ units: H, linearBeforeReset: 0, ...o }),
  'gru lbr=1': (o) => gru({ units: H, linearBeforeReset: 1, ...o }),
};

function compare(layers: LayerSpec[], N: number, T: number, lengths?: number[]) {
  const I = 3;
  const model = Model.create({ inputSize: I, layers }, { seed: 4 });
  randomizeParams(model, 9);
  const x = randomArray(new Rng(21), N * T * I);
  const ref = referenceForward(model.spec, model.params, x, { batch: N, time: T, lengths });
  const input = { x, batch: N, time: T, lengths: lengths ? Int32Array.from(lengths) : undefined };
  const y64 = native().forward(model.spec, model.layout, Float64Array.from(model.params), input);
  const y32 = native().forward(model.spec, model.layout, model.params, input);
  expect(y64.length).toBe(ref.y.length);
  expect(spread(ref.y)).toBeGreaterThan(1e-3);
  expect(maxAbsDiff(y64, ref.y)).toBeLessThan(1e-12);
  expect(maxAbsDiff(y32, ref.y)).toBeLessThan(2e-6);
  return { model, input, ref };
}

describe('native forward pass equals the reference forward pass', () => {
  for (const [name, make] of Object.entries(KINDS)) {
    describe(name, () => {
      for (const direction of ['forward', 'reverse', 'bidirectional'] as const) {
        it(`${direction}: sequence and last-step outputs, with and without lengths`, () => {
          compare([make({ direction, returnSequences: true }), dense({ units: 2, activation: 'tanh' })], 3, 5, [5, 2, 3]);
          compare([make({ direction })], 3, 5, [1, 5, 3]);
          compare([make({ direction, returnSequences: true })], 2, 4);
        });
      }
      it('three stacked layers with a softmax head, batch 1 and time 1', () => {
        const stack = [make({ returnSequences: true, direction: 'bidirectional' }), make({ returnSequences: true, direction: 'reverse' }), make({}), dense({ units: 3, activation: 'softmax' })];
        compare(stack, 4, 6, [6, 1, 4, 2]);
        compare(stack, 1, 1);
      });
    });
  }

  it('final states match ONNX Y_h / Y_c (reverse: after step 0), also from given initial states', () => {
    const layers = [lstm({ units: H, peepholes: true, returnSequences: true }), gru({ units: H, direction: 'reverse', returnSequences: true }), dense({ units: 1 })];
    const model = Model.create({ inputSize: 3, layers }, { seed: 2 });
    randomizeParams(model, 3);
    const N = 3;
    const T = 5;
    const x = randomArray(new Rng(8), N * T * 3);
    const lengths = [5, 2, 4];
    const rng = new Rng(10);
    const init = [
      { h: Float64Array.from(randomArray(rng, N * H)), c: Float64Array.from(randomArray(rng, N * H)) },
      { h: Float64Array.from(randomArray(rng, N * H)) },
    ];
    const ref = referenceForward(model.spec, model.params, x, { batch: N, time: T, lengths, initialState: init });
    const y = new Float32Array(N * T);
    const g = native().computeGradients(model.spec, model.layout, Float64Array.from(model.params),
      { x, batch: N, time: T, lengths: Int32Array.from(lengths), y }, { loss: { type: 'mse' }, initialState: init });
    expect(maxAbsDiff(g.finalStates[0].h, ref.finalStates[0].h)).toBeLessThan(1e-12);
    expect(maxAbsDiff(g.finalStates[0].c!, ref.finalStates[0].c!)).toBeLessThan(1e-12);
    expect(maxAbsDiff(g.finalStates[1].h, ref.finalStates[1].h)).toBeLessThan(1e-12);
    // loss = mean over valid steps of y_ref², since the targets are zero
    let s = 0;
    let n = 0;
    for (let r = 0; r < N; r++) for (let t = 0; t < lengths[r]; t++) { s += ref.y[r * T + t] ** 2; n++; }
    expect(g.loss).toBeCloseTo(s / n, 12);
  });
});
