// Acceptance matrix: every recurrent kind × direction × depth × returnSequences, with and without
// sequence_lens, with rotating dense heads: ONNX Runtime's output of the exported graph equals the
// float64 reference forward pass within 1e-5 (max abs) on seeded random weights and inputs.

import { afterAll, describe, expect, it } from 'vitest';
import { dense, gru, lstm, rnn, type DenseLayerSpec, type Direction, type RecurrentLayerSpec } from '../src/layers/spec.js';
import { Rng } from '../src/layers/random.js';
import { Model } from '../src/model/model.js';
import { toOnnx } from '../src/graph/export.js';
import { InferenceModel } from '../src/runtime/inference.js';
import { referenceForward } from './reference/forward.js';
import { maxAbsDiff, randomArray, randomizeParams, spread } from './reference/util.js';

type KindName = 'rnn-tanh' | 'rnn-relu' | 'lstm' | 'lstm-peep' | 'lstm-peep-clip-if' | 'gru-lbr0' | 'gru-lbr1';
const KINDS: KindName[] = ['rnn-tanh', 'rnn-relu', 'lstm', 'lstm-peep', 'lstm-peep-clip-if', 'gru-lbr0', 'gru-lbr1'];
const DIRECTIONS: Direction[] = ['forward', 'reverse', 'bidirectional'];
const HIDDEN = [4, 5, 2]; // distinct sizes per stacked layer, none equal to the input size, so layout slips change shapes
const INPUT = 3;
const TOL = 1e-5;

function recurrent(kind: KindName, units: number, direction: Direction, returnSequences: boolean): RecurrentLayerSpec {
  const common = { units, direction, returnSequences };
  switch (kind) {
    case 'rnn-tanh': return rnn({ ...common, activation: 'tanh' });
    case 'rnn-relu': return rnn({ ...common, activation: 'relu' });
    case 'lstm': return lstm(common);
    case 'lstm-peep': return lstm({ ...common, peepholes: true });
    // clip 0.5 is small enough to bind on these weights (checked below: it changes the output).
    case 'lstm-peep-clip-if': return lstm({ ...common, peepholes: true, clip: 0.5, inputForget: true });
    case 'gru-lbr0': return gru({ ...common, linearBeforeReset: 0 });
    case 'gru-lbr1': return gru({ ...common, linearBeforeReset: 1 });
  }
}

const HEADS: DenseLayerSpec[][] = [
  [],
  [dense({ units: 3 })],
  [dense({ units: 4, activation: 'softmax' })],
  [dense({ units: 5, activation: 'tanh' }), dense({ units: 3, activation: 'softmax' })],
  [dense({ units: 2, activation: 'sigmoid' })],
  [dense({ units: 3, activation: 'relu' }), dense({ units: 2 })],
];

// [batch, time, lengths used with sequence_lens]
const SHAPES: [number, number, number[]][] = [
  [1, 1, [1]],
  [1, 6, [4]],
  [4, 5, [5, 1, 3, 4]],
];

interface Case {
  name: string;
  model: Model;
}

function buildCases(): Case[] {
  const cases: Case[] = [];
  let idx = 0;
  for (const kind of KINDS) {
    for (const direction of DIRECTIONS) {
      for (const depth of [1, 3]) {
        for (const returnSequences of [true, false]) {
          const layers = [];
          for (let d = 0; d < depth; d++) layers.push(recurrent(kind, HIDDEN[d], direction, d < depth - 1 || returnSequences));
          const head = HEADS[idx % HEADS.length];
          const model = Model.create({ inputSize: INPUT, layers: [...layers, ...head] }, { seed: idx + 1 });
          randomizeParams(model, 1000 + idx);
          const headName = head.map((h) => `dense${h.units}${h.activation === 'none' ? '' : '-' + h.activation}`).join('+') || 'no head';
          cases.push({ name: `${kind} ${direction} ×${depth} ${returnSequences ? 'seq' : 'last'} ${headName}`, model });
          idx++;
        }
      }
    }
  }
  return cases;
}

const cases = buildCases();
const worst = { diff: 0, name: '' };

describe('ONNX export matches the reference forward pass', () => {
  afterAll(() => {
    // Printed so that the report can quote the figure.
    console.log(`graph matrix: ${cases.length} models × 2 exports × ${SHAPES.length} shapes; worst max-abs diff ${worst.diff.toExponential(2)} (${worst.name})`);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, { model, name }) => {
    const plain = await InferenceModel.open(toOnnx(model), { providers: ['cpu'], intraOpNumThreads: 1 });
    const withLens = await InferenceModel.open(toOnnx(model, { sequenceLens: true }), { providers: ['cpu'], intraOpNumThreads: 1 });
    try {
      expect(plain.provider).toBe('cpu');
      expect(withLens.hasSequenceLens).toBe(true);
      const rng = new Rng(name.length * 7919 + 13);
      for (const [N, T, lengths] of SHAPES) {
        const x = randomArray(rng, N * T * INPUT);
        const ref = referenceForward(model.spec, model.params, x, { batch: N, time: T });
        const got = await plain.run(x, { batch: N, time: T });
        expect(got.dims).toEqual(ref.dims);
        const diff = maxAbsDiff(got.y, ref.y);
        if (diff > worst.diff) Object.assign(worst, { diff, name: `${name} [${N},${T}]` });
        expect(diff, `${name} N=${N} T=${T}`).toBeLessThan(TOL);
        if (N * T > 1) expect(spread(ref.y), 'reference output is not constant').toBeGreaterThan(1e-3);

        const refL = referenceForward(model.spec, model.params, x, { batch: N, time: T, lengths });
        const gotL = await withLens.run(x, { batch: N, time: T, sequenceLens: lengths });
        expect(gotL.dims).toEqual(refL.dims);
        const diffL = maxAbsDiff(gotL.y, refL.y);
        if (diffL > worst.diff) Object.assign(worst, { diff: diffL, name: `${name} [${N},${T}] lengths ${lengths}` });
        expect(diffL, `${name} N=${N} T=${T} lengths=${lengths}`).toBeLessThan(TOL);
        // Mixed lengths must change the answer, or the lengths path is not being exercised.
        if (lengths.some((l) => l < T)) expect(maxAbsDiff(refL.y, ref.y)).toBeGreaterThan(1e-6);
        // Without lengths, the sequence_lens graph equals the plain one (all lengths = T).
        const gotFull = await withLens.run(x, { batch: N, time: T });
        expect(maxAbsDiff(gotFull.y, got.y)).toBeLessThan(1e-6);
      }
    } finally {
      await plain.release();
      await withLens.release();
    }
  });

  it('clip actually binds in the clip cases (the reference without clip differs)', () => {
    const c = cases.find((k) => k.name.startsWith('lstm-peep-clip-if bidirectional ×3'))!;
    const spec = structuredClone(c.model.spec);
    for (const l of spec.layers) if (l.kind === 'lstm') l.clip = null;
    const rng = new Rng(5);
    const x = randomArray(rng, 2 * 5 * INPUT);
    const a = referenceForward(c.model.spec, c.model.params, x, { batch: 2, time: 5 });
    const b = referenceForward(spec, c.model.params, x, { batch: 2, time: 5 });
    expect(maxAbsDiff(a.y, b.y)).toBeGreaterThan(1e-3);
  });

  it('a mixed stack (bidirectional peephole LSTM → GRU lbr 0 → relu RNN → dense softmax) matches', async () => {
    const model = Model.create({
      inputSize: INPUT,
      layers: [
        lstm({ units: 4, direction: 'bidirectional', peepholes: true, returnSequences: true }),
        gru({ units: 3, linearBeforeReset: 0, direction: 'reverse', returnSequences: true }),
        rnn({ units: 5, activation: 'relu', returnSequences: true }),
        dense({ units: 4, activation: 'softmax' }),
      ],
    });
    randomizeParams(model, 77);
    const im = await InferenceModel.open(toOnnx(model, { sequenceLens: true }), { providers: ['cpu'] });
    try {
      const x = randomArray(new Rng(78), 3 * 6 * INPUT);
      const lengths = [6, 2, 5];
      const ref = referenceForward(model.spec, model.params, x, { batch: 3, time: 6, lengths });
      const got = await im.run(x, { batch: 3, sequenceLens: lengths });
      expect(got.dims).toEqual([3, 6, 4]);
      expect(maxAbsDiff(got.y, ref.y)).toBeLessThan(TOL);
    } finally {
      await im.release();
    }
  });
});
