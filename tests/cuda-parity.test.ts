// CUDA feature parity (issue 12 item 3), checked through the host emulation of the CUDA backend
// (device 'cuda-emulated'): dropout, recurrent dropout, zoneout (h and c), output dropout,
// truncated BPTT and stateful training draw the same counter-based masks (native/cells/random.h)
// as the CPU trainer, so the same seed gives the same training on both.
//   - per feature: the CUDA path's gradient (float64 emulation) equals the CPU's float64
//     computeGradients with the same masks (step 0) and initial states, to float64 rounding;
//   - all of them at once: two epochs of several batches on 'cpu' and 'cuda-emulated' (float)
//     end with weights within 1e-4 relative of each other.
import { describe, expect, it } from 'vitest';
import { Rng } from '../src/layers/random.js';
import { dense, gru, lstm, rnn, type LayerSpec } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';
import { native, type NativeTrainOptions } from '../src/native.js';
import type { TrainBatch } from '../src/train/batches.js';
import { randomArray, randomizeParams } from './reference/util.js';

const addon = native();

function batchFor(model: Model, N: number, T: number, seed: number, lengths: boolean): TrainBatch {
  const rng = new Rng(seed);
  const I = model.inputSize;
  const x = randomArray(rng, N * T * I);
  const lens = lengths ? Int32Array.from({ length: N }, (_, n) => 1 + ((n * 5 + 2) % T)) : undefined;
  if (lens) lens[0] = T;
  const rows = model.returnsSequences ? N * T : N;
  return { x, batch: N, time: T, lengths: lens, y: randomArray(rng, rows * model.outputSize) };
}

const relErr = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
};

const trainer = (model: Model, device: 'cpu' | 'cuda-emulated', opts: NativeTrainOptions) =>
  new addon.Trainer(model.spec, model.layout, Float32Array.from(model.params), { loss: { type: 'mse' }, threads: 1, ...opts, device });

interface Feature {
  name: string;
  layers: LayerSpec[];
  outputDropout?: number;
  lengths: boolean;
}

const FEATURES: Feature[] = [
  { name: 'input dropout (stacked: the mask reaches dX)', layers: [rnn({ units: 4, returnSequences: true }), lstm({ units: 4, dropout: 0.4, returnSequences: true }), dense({ units: 2 })], lengths: true },
  { name: 'recurrent dropout, LSTM with peepholes', layers: [lstm({ units: 5, recurrentDropout: 0.4, peepholes: true, returnSequences: true }), dense({ units: 2 })], lengths: true },
  { name: 'recurrent dropout, GRU lbr0 reverse', layers: [gru({ units: 5, recurrentDropout: 0.4, linearBeforeReset: 0, direction: 'reverse' }), dense({ units: 2 })], lengths: true },
  { name: 'recurrent dropout, GRU lbr1 bidirectional', layers: [gru({ units: 4, recurrentDropout: 0.3, direction: 'bidirectional', returnSequences: true }), dense({ units: 2 })], lengths: true },
  { name: 'recurrent dropout, RNN relu', layers: [rnn({ units: 5, activation: 'relu', recurrentDropout: 0.4, returnSequences: true })], lengths: false },
  { name: 'zoneout h, LSTM', layers: [lstm({ units: 5, zoneoutH: 0.4, returnSequences: true }), dense({ units: 2 })], lengths: true },
  { name: 'zoneout c, LSTM peepholes + clip (last step)', layers: [lstm({ units: 5, zoneoutC: 0.4, peepholes: true, clip: 2 }), dense({ units: 2 })], lengths: true },
  { name: 'zoneout h and c, BLSTM', layers: [lstm({ units: 4, zoneoutH: 0.3, zoneoutC: 0.3, direction: 'bidirectional', returnSequences: true }), dense({ units: 2 })], lengths: true },
  { name: 'zoneout h, GRU lbr0 + recurrent dropout', layers: [gru({ units: 5, zoneoutH: 0.3, recurrentDropout: 0.3, linearBeforeReset: 0, returnSequences: true }), dense({ units: 2 })], lengths: true },
  { name: 'zoneout h, RNN tanh reverse', layers: [rnn({ units: 5, zoneoutH: 0.4, direction: 'reverse', returnSequences: true }), dense({ units: 2 })], lengths: true },
  { name: 'output dropout (last step)', layers: [gru({ units: 5 }), dense({ units: 3, activation: 'tanh' }), dense({ units: 2 })], outputDropout: 0.4, lengths: true },
];

describe('CUDA backend parity with the CPU trainer (host emulation)', () => {
  for (const f of FEATURES) {
    it(`${f.name}: the gradient equals the CPU's float64 gradient with the same masks`, () => {
      const model = Model.create({ inputSize: 3, layers: f.layers }, { seed: 4 });
      randomizeParams(model, 5);
      const b = batchFor(model, 4, 6, 6, f.lengths);
      const opts: NativeTrainOptions = { seed: 11, outputDropout: f.outputDropout, l2: { input: 1e-3, recurrent: 1e-3, bias: 1e-3 } };
      const ref = addon.computeGradients(model.spec, model.layout, Float64Array.from(model.params), b, { ...opts, loss: { type: 'mse' }, training: true });
      const noMasks = addon.computeGradients(model.spec, model.layout, Float64Array.from(model.params), b, { ...opts, loss: { type: 'mse' }, training: false });
      const t = trainer(model, 'cuda-emulated', { ...opts, emulate: 'double' });
      const g = t.gradients(b);
      t.dispose();
      expect(relErr(ref.grads, noMasks.grads)).toBeGreaterThan(1e-3); // the feature changes the gradient
      expect(relErr(g.grads, ref.grads)).toBeLessThan(1e-6); // grads come back rounded to float32
      expect(Math.abs(g.loss - ref.loss)).toBeLessThan(1e-12 * Math.max(1, ref.loss));
      const norm = Math.sqrt(ref.grads.reduce((s, v) => s + v * v, 0));
      expect(Math.abs(g.gradNorm - norm) / norm).toBeLessThan(1e-12);
    });
  }

  it('stateful: after a step, the gradient starts from the carried states, as on the CPU trainer', () => {
    const model = Model.create({ inputSize: 3, layers: [lstm({ units: 4, zoneoutC: 0.3, returnSequences: true }), gru({ units: 4, recurrentDropout: 0.3, returnSequences: true }), dense({ units: 2 })] }, { seed: 2 });
    randomizeParams(model, 3);
    const b1 = batchFor(model, 3, 5, 1, true);
    const b2 = batchFor(model, 3, 5, 2, true);
    const t = trainer(model, 'cuda-emulated', { stateful: true, seed: 3, emulate: 'double', optimizer: { type: 'sgd' } });
    t.stepSync(b1, 0); // lr 0: carries the final states, leaves the weights
    expect(t.info().stateBatch).toBe(3);
    const g = t.gradients(b2); // from the carried states, with the masks of step 1
    const cpu = trainer(model, 'cpu', { stateful: true, seed: 3, optimizer: { type: 'sgd' } });
    cpu.stepSync(b1, 0);
    const gc = cpu.gradients(b2);
    cpu.dispose();
    t.dispose();
    const zero = addon.computeGradients(model.spec, model.layout, Float64Array.from(model.params), b2, { loss: { type: 'mse' }, seed: 3, training: true });
    expect(relErr(g.grads, gc.grads)).toBeLessThan(1e-5); // float64 emulation vs the CPU's float32 step
    expect(relErr(gc.grads, zero.grads)).toBeGreaterThan(1e-3); // the carried states matter
  });

  it('two epochs with dropout, recurrent dropout, zoneout h and c, output dropout, TBPTT and stateful training: the same weights on cpu and cuda-emulated (1e-4 relative)', () => {
    const layers = [
      lstm({ units: 6, dropout: 0.2, recurrentDropout: 0.2, zoneoutH: 0.2, zoneoutC: 0.3, peepholes: true, returnSequences: true }),
      gru({ units: 5, recurrentDropout: 0.25, zoneoutH: 0.2, linearBeforeReset: 0, dropout: 0.1, returnSequences: true }),
      rnn({ units: 4, zoneoutH: 0.15, recurrentDropout: 0.1, dropout: 0.1, returnSequences: true }),
      dense({ units: 4, activation: 'tanh' }),
      dense({ units: 2 }),
    ];
    const model = Model.create({ inputSize: 3, layers }, { seed: 9 });
    randomizeParams(model, 10);
    const batches = [0, 1, 2, 3].map((k) => batchFor(model, 4, 9, 30 + k, true));
    const opts: NativeTrainOptions = { seed: 17, tbptt: 4, stateful: true, outputDropout: 0.2, optimizer: { type: 'adam' }, clipNorm: 2 };
    const cpu = trainer(model, 'cpu', opts);
    const emu = trainer(model, 'cuda-emulated', opts);
    for (let epoch = 0; epoch < 2; epoch++) {
      cpu.resetStates();
      emu.resetStates();
      for (const b of batches) {
        const rc = cpu.stepSync(b, 0.01);
        const re = emu.stepSync(b, 0.01);
        expect(re.updates).toBe(3); // 9 steps in windows of 4: three updates
        expect(re.updates).toBe(rc.updates);
        expect(Math.abs(re.loss - rc.loss) / rc.loss).toBeLessThan(1e-4);
      }
    }
    expect(emu.info().steps).toBe(24);
    expect(emu.info().stateBatch).toBe(4);
    const pc = cpu.getParams();
    const pe = emu.getParams();
    expect(relErr(pc, model.params)).toBeGreaterThan(1e-3); // training moved the weights
    expect(relErr(pe, pc)).toBeLessThan(1e-4);
    // The same steps without the masks end elsewhere: the agreement is the masks', not luck.
    const plain = trainer(model, 'cuda-emulated', { ...opts, seed: 18 });
    for (const b of batches) plain.stepSync(b, 0.01);
    expect(relErr(plain.getParams(), pc)).toBeGreaterThan(1e-3);
    plain.dispose();
    cpu.dispose();
    emu.dispose();
  });

  it('a TBPTT step that fails in its second window rolls back the first window\'s update, the carried states and the step count', () => {
    const model = Model.create({ inputSize: 3, layers: [lstm({ units: 4, returnSequences: true }), dense({ units: 2 })] }, { seed: 1 });
    randomizeParams(model, 2);
    const b = batchFor(model, 2, 6, 3, false);
    const bad = { ...b, y: (b.y as Float32Array).slice() };
    for (let n = 0; n < 2; n++) for (let t = 3; t < 6; t++) bad.y.fill(3e38, (n * 6 + t) * 2, (n * 6 + t + 1) * 2); // window 2's loss overflows
    const t = trainer(model, 'cuda-emulated', { tbptt: 3, stateful: true, optimizer: { type: 'sgd' } });
    t.stepSync(b, 0.01);
    const before = t.getParams();
    expect(() => t.stepSync(bad, 0.01)).toThrow(/non-finite loss .* at training step 4/);
    expect(t.getParams()).toEqual(before);
    expect(t.info().steps).toBe(2);
    // The next good step gives what it gives on a trainer that never saw the failed one.
    const ref = trainer(model, 'cuda-emulated', { tbptt: 3, stateful: true, optimizer: { type: 'sgd' } });
    ref.stepSync(b, 0.01);
    expect(t.stepSync(b, 0.01).loss).toBe(ref.stepSync(b, 0.01).loss);
    expect(t.getParams()).toEqual(ref.getParams());
    t.dispose();
    ref.dispose();
  });
});
