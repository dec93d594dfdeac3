// The element-wise math of training (native/math/elementwise.h) is written once and runs in the
// CPU cells and in the CUDA kernels. These tests check it where the two used to disagree: LSTM
// pre-activations one float below, at and above `clip` (the CPU recorded `pi > clip`, the CUDA
// kernels re-derived the mask from the gate value and zeroed the gradient one float below),
// binary cross-entropy and softmax cross-entropy at extreme logits, the softmax itself, and the
// optimizer updates. Every value is checked against float64 (the reference forward pass of
// tests/reference/forward.ts, its central differences, or the loss written out here), and the
// CPU trainer against the CUDA step's code run on the CPU (native/cuda/exec_host.h).
//
// Bit-identical where the arithmetic around the shared functions is: the host code is built
// with -ffp-contract=off, and the networks of the bit-identity tests have one hidden unit, one
// row and power-of-two recurrent/dense weights and inputs, so that every matrix product is a
// sum of at most two exactly representable products and the two backends' GEMMs (blocked FMA
// kernels vs the emulation's plain loop) round it the same way. With general shapes the sums
// are ordered differently; there the bound is tested (last block).

import { describe, expect, it } from 'vitest';
import { Rng } from '../src/layers/random.js';
import { dense, gru, lstm, rnn, type LayerSpec } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';
import { missingExports, native, type NativeBatch, type NativeLoss, type NativeOptimizer } from '../src/native.js';
import { referenceForward } from './reference/forward.js';
import { randomArray, randomizeParams } from './reference/util.js';

type Dtype = 'float' | 'double';
type Device = 'cpu' | 'cuda-emulated';
interface Run {
  loss: number;
  /** float64 copies; the emulation returns gradients rounded to float32 in both precisions. */
  grads: Float64Array;
  /** The model output with its activation (regression losses only: cross-entropies fold it in). */
  output: Float64Array;
}
interface StepOptions {
  optimizer: NativeOptimizer;
  lr: number;
  clipValue?: number;
  l2?: { input?: number; recurrent?: number; bias?: number };
}

/**
 * The one adapter between these tests and the addon's two backends: the CPU side is
 * computeGradients / forward / Trainer on device 'cpu', the emulated side the one Trainer on
 * device 'cuda-emulated' (the CUDA step run on the host, native/cuda/exec_host.h).
 */
const backend = {
  available: (device: Device): boolean => missingExports(device === 'cpu' ? ['computeGradients', 'forward', 'Trainer'] : ['Trainer']).length === 0,
  run(device: Device, model: Model, batch: NativeBatch, loss: NativeLoss, dtype: Dtype): Run {
    const addon = native();
    if (device === 'cpu') {
      const params = dtype === 'double' ? Float64Array.from(model.params) : Float32Array.from(model.params);
      const g = addon.computeGradients(model.spec, model.layout, params, batch, { loss });
      const out = addon.forward(model.spec, model.layout, params, { x: batch.x, batch: batch.batch, time: batch.time, lengths: batch.lengths });
      return { loss: g.loss, grads: Float64Array.from(g.grads), output: Float64Array.from(out) };
    }
    const tr = new addon.Trainer(model.spec, model.layout, Float32Array.from(model.params), { loss, device: 'cuda-emulated', emulate: dtype });
    try {
      const g = tr.gradients(batch);
      return { loss: g.loss, grads: Float64Array.from(g.grads), output: Float64Array.from(tr.output()) };
    } finally {
      tr.dispose();
    }
  },
  /** One optimizer step in float from model.params; returns the new weights. */
  step(device: Device, model: Model, batch: NativeBatch, loss: NativeLoss, o: StepOptions): Float32Array {
    const addon = native();
    const opts = { loss, clipValue: o.clipValue, l2: o.l2 };
    if (device === 'cpu') {
      const params = Float32Array.from(model.params);
      const tr = new addon.Trainer(model.spec, model.layout, params, { ...opts, optimizer: o.optimizer, threads: 1 });
      tr.stepSync(batch, o.lr);
      tr.dispose();
      return params;
    }
    const tr = new addon.Trainer(model.spec, model.layout, Float32Array.from(model.params), { ...opts, optimizer: o.optimizer, device: 'cuda-emulated', emulate: 'float' });
    try {
      tr.stepSync(batch, o.lr);
      return tr.getParams();
    } finally {
      tr.dispose();
    }
  },
};

/** Absolute gradient tolerance for values of magnitude <= 1: float, or float64 rounded to float32 by the emulation. */
const gradTol = (device: Device, dtype: Dtype): number => (dtype === 'float' || device === 'cuda-emulated' ? 1e-7 : 1e-15);

const hasCpu = backend.available('cpu');
const hasEmu = backend.available('cuda-emulated');
const DTYPES: Dtype[] = ['float', 'double'];

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** The float32 next to v (v > 0) toward +∞ (step 1) or 0 (step -1). */
function adjacentFloat(v: number, step: 1 | -1): number {
  f32[0] = v;
  u32[0] += step;
  return f32[0];
}

/** The emulation returns float32 gradients: in double it must equal the CPU's float64 rounded once. */
function expectSameBits(cpu: Float64Array, emu: Float64Array, dtype: Dtype, what: string): void {
  expect(emu.length, what).toBe(cpu.length);
  const want = dtype === 'double' ? cpu.map((v) => Math.fround(v)) : cpu;
  const diff: string[] = [];
  for (let i = 0; i < want.length; i++) if (!Object.is(want[i], emu[i])) diff.push(`[${i}] cpu ${want[i]} emulated ${emu[i]}`);
  expect(diff, what).toEqual([]);
}

function meanSquaredError(out: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += (out[i] - y[i]) ** 2;
  return s / y.length;
}

/** Offset in the flat parameters of a recurrent layer's biases B or a dense layer's b. */
function biasOffset(model: Model, layer: number): number {
  const l = model.layout.layers[layer];
  return l.kind === 'dense' ? l.b.offset : l.B.offset;
}

/** Central difference of the float64 reference MSE with respect to parameter k. */
function referenceGradient(spec: Model['spec'], params: ArrayLike<number>, batch: NativeBatch, k: number): number {
  const p = Float64Array.from(params);
  const h = 1e-6;
  const loss = () => meanSquaredError(referenceForward(spec, p, batch.x, { batch: batch.batch, time: batch.time }).y, batch.y!);
  p[k] += h;
  const lp = loss();
  p[k] -= 2 * h;
  const lm = loss();
  return (lp - lm) / (2 * h);
}

// ---------------------------------------------------------------- LSTM clip boundary

const CLIP = 3;
const GATES = ['i', 'o', 'f', 'c'] as const; // ONNX order of the bias blocks
const BASE = [0.3, 0.4, 0.5, 0.6]; // the other gates' pre-activations: far from the clip

// One unit, two steps, W = R = 0 and Rb = 0: every pre-activation of the gate is exactly Wb, in
// both backends and in float as in double, so it can sit one float from the clip.
function clipModel(gate: number, pre: number, inputForget: boolean): { model: Model; smooth: Model['spec']; batch: NativeBatch } {
  const layers = (clip: number | undefined): LayerSpec[] => [lstm({ units: 1, clip, inputForget })];
  const model = Model.create({ inputSize: 1, layers: layers(CLIP) });
  const p = model.layerParams(0);
  if (p.kind === 'dense') throw new Error('lstm expected');
  p.W.fill(0);
  p.R.fill(0);
  p.B.fill(0);
  for (let g = 0; g < 4; g++) p.B[g] = g === gate ? pre : BASE[g];
  // x = 1, 0.5: dW = Σ dpre·x stays a sum of exact products.
  const batch: NativeBatch = { x: Float32Array.of(1, 0.5), batch: 1, time: 2, y: Float32Array.of(0.7) };
  return { model, smooth: Model.create({ inputSize: 1, layers: layers(undefined) }).spec, batch };
}

describe.skipIf(!hasCpu)('LSTM clip: pre-activations one float below, at and above the clip', () => {
  const below = adjacentFloat(CLIP, -1);
  const above = adjacentFloat(CLIP, 1);
  const points = [
    { name: 'one float below +clip', pre: below, clipped: false },
    { name: 'at +clip', pre: CLIP, clipped: false },
    { name: 'one float above +clip', pre: above, clipped: true },
    { name: 'one float above -clip', pre: -below, clipped: false },
    { name: 'at -clip', pre: -CLIP, clipped: false },
    { name: 'one float below -clip', pre: -above, clipped: true },
  ];
  for (const inputForget of [false, true]) {
    for (let gate = 0; gate < 4; gate++) {
      if (inputForget && GATES[gate] === 'f') continue; // f = 1 - i: its pre-activation is unused
      for (const pt of points) {
        it(`${inputForget ? 'inputForget, ' : ''}gate ${GATES[gate]} ${pt.name}: gradient ${pt.clipped ? 'zero' : 'flows'} (float64 reference), CPU and CUDA-emulated bit-identical`, () => {
          const { model, smooth, batch } = clipModel(gate, pt.pre, inputForget);
          const bOff = biasOffset(model, 0);
          // Clamp(x) is x for |x| <= clip, so below and at the clip the gradient is that of the
          // unclipped cell (PyTorch's clamp convention); above it the gate's bias has none.
          const ref = pt.clipped ? 0 : referenceGradient(smooth, model.params, batch, bOff + gate);
          if (!pt.clipped) expect(Math.abs(ref)).toBeGreaterThan(1e-4);
          for (const dtype of DTYPES) {
            const cpu = backend.run('cpu', model, batch, { type: 'mse' }, dtype);
            const tol = dtype === 'float' ? 1e-4 : 1e-7;
            for (const k of [bOff + gate, bOff + 4 + gate]) {
              if (pt.clipped) expect(cpu.grads[k], `${dtype} bias ${k}`).toBe(0);
              else expect(Math.abs(cpu.grads[k] - ref), `${dtype} bias ${k}: ${cpu.grads[k]} vs ${ref}`).toBeLessThanOrEqual(tol * Math.abs(ref));
            }
            if (hasEmu) {
              const emu = backend.run('cuda-emulated', model, batch, { type: 'mse' }, dtype);
              expectSameBits(cpu.grads, emu.grads, dtype, `${dtype} gradients`);
            }
          }
        });
      }
    }
  }
});

// ---------------------------------------------------------------- BCE and softmax at extreme logits

// A head whose logits are exactly its bias: the recurrent output is tanh(0) = 0 and the dense
// weights are 0, so the logits are any float we choose, in every row.
function logitModel(logits: number[], activation: 'sigmoid' | 'softmax'): Model {
  const model = Model.create({ inputSize: 1, layers: [rnn({ units: 1 }), dense({ units: logits.length, activation })] });
  model.params.fill(0);
  const b = model.layerParams(1);
  if (b.kind !== 'dense') throw new Error('dense expected');
  b.b.set(logits);
  return model;
}

const sigmoid = (v: number): number => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v)));

describe.skipIf(!hasCpu)('binary cross-entropy at extreme logits', () => {
  const logits = [80, -80, 1e4, -1e4, 20, -20];
  const cases = [
    { name: 'targets agree (loss ~1e-35 per element: log1p, not log(1 + e^-|v|))', y: [1, 0, 1, 0, 1, 0] },
    { name: 'targets disagree (loss |v|)', y: [0, 1, 0, 1, 0, 1] },
    { name: 'soft targets', y: [0.25, 0.75, 0.5, 0.5, 0.9, 0.1] },
  ];
  for (const c of cases) {
    it(`${c.name}: loss and gradient equal float64, CPU and CUDA-emulated agree`, () => {
      const model = logitModel(logits, 'sigmoid');
      const N = 2;
      const batch: NativeBatch = { x: new Float32Array(N), batch: N, time: 1, y: Float32Array.from([...c.y, ...c.y]) };
      const F = logits.length;
      const y = c.y.map(Math.fround); // the targets the backends read
      let refLoss = 0;
      for (let j = 0; j < F; j++) refLoss += Math.max(logits[j], 0) - logits[j] * y[j] + Math.log1p(Math.exp(-Math.abs(logits[j])));
      refLoss /= F;
      const refGrad = logits.map((v, j) => (N * (sigmoid(v) - y[j])) / (N * F)); // summed over the N rows
      const bOff = biasOffset(model, 1);
      for (const dtype of DTYPES) {
        for (const device of hasEmu ? (['cpu', 'cuda-emulated'] as Device[]) : (['cpu'] as Device[])) {
          const r = backend.run(device, model, batch, { type: 'binaryCrossentropy' }, dtype);
          const what = `${device} ${dtype}`;
          expect(Number.isFinite(r.loss), what).toBe(true);
          expect(Math.abs(r.loss - refLoss), `${what} loss ${r.loss} vs ${refLoss}`).toBeLessThanOrEqual((dtype === 'float' ? 1e-6 : 1e-12) * refLoss);
          for (let j = 0; j < F; j++) {
            expect(Math.abs(r.grads[bOff + j] - refGrad[j]), `${what} dlogit ${j}`).toBeLessThanOrEqual(gradTol(device, dtype));
          }
        }
        if (hasEmu) {
          const cpu = backend.run('cpu', model, batch, { type: 'binaryCrossentropy' }, dtype);
          const emu = backend.run('cuda-emulated', model, batch, { type: 'binaryCrossentropy' }, dtype);
          expectSameBits(cpu.grads, emu.grads, dtype, `${dtype} gradients`);
        }
      }
    });
  }
});

describe.skipIf(!hasCpu)('softmax cross-entropy at extreme logits', () => {
  const cases = [
    { logits: [80, -80, 0], labels: [1, 0] },
    { logits: [1e4, -1e4, 0], labels: [1, 0] },
    { logits: [-1e4, 1e4, 1e4], labels: [0, 2] }, // a tie at the top: p = 0.5, 0.5
    { logits: [-80, -1e4, 80], labels: [2, 1] },
  ];
  for (const c of cases) {
    it(`logits [${c.logits}] labels [${c.labels}]: loss and gradient equal float64, CPU and CUDA-emulated agree`, () => {
      const model = logitModel(c.logits, 'softmax');
      const N = c.labels.length;
      const batch: NativeBatch = { x: new Float32Array(N), batch: N, time: 1, y: Int32Array.from(c.labels) };
      const m = Math.max(...c.logits);
      const s = c.logits.reduce((a, v) => a + Math.exp(v - m), 0);
      const lse = m + Math.log(s);
      const p = c.logits.map((v) => Math.exp(v - m) / s);
      const refLoss = c.labels.reduce((a, l) => a + lse - c.logits[l], 0) / N;
      const refGrad = p.map((pj, j) => c.labels.reduce((a, l) => a + pj - (j === l ? 1 : 0), 0) / N);
      const bOff = biasOffset(model, 1);
      for (const dtype of DTYPES) {
        for (const device of hasEmu ? (['cpu', 'cuda-emulated'] as Device[]) : (['cpu'] as Device[])) {
          const r = backend.run(device, model, batch, { type: 'crossentropy' }, dtype);
          const what = `${device} ${dtype}`;
          expect(Math.abs(r.loss - refLoss), `${what} loss ${r.loss} vs ${refLoss}`).toBeLessThanOrEqual((dtype === 'float' ? 1e-6 : 1e-12) * Math.max(refLoss, 1));
          for (let j = 0; j < c.logits.length; j++) {
            expect(Math.abs(r.grads[bOff + j] - refGrad[j]), `${what} dlogit ${j}`).toBeLessThanOrEqual(gradTol(device, dtype));
          }
        }
        if (hasEmu) {
          const cpu = backend.run('cpu', model, batch, { type: 'crossentropy' }, dtype);
          const emu = backend.run('cuda-emulated', model, batch, { type: 'crossentropy' }, dtype);
          expectSameBits(cpu.grads, emu.grads, dtype, `${dtype} gradients`);
        }
      }
    });
  }
});

// ---------------------------------------------------------------- bit-identity on exact-product networks

const POW2 = [-1, -0.5, -0.25, 0.25, 0.5, 1];

// One hidden unit (per direction), one row, power-of-two inputs and recurrent/dense weights, and
// at most two nonzero recurrent weights per direction: every product the GEMMs sum is exact or
// alone, and a sum of two is the same in any order, so the backends' GEMMs agree and only the
// shared element-wise math is left. GRU runs one step: over more, gru.cc and the CUDA step add
// the three parts of ∂H₋ (direct, recurrent product, next output) in different orders, which the
// bound below covers.
function exactModel(layers: LayerSpec[], inputSize: number, seed: number): Model {
  const model = Model.create({ inputSize, layers });
  randomizeParams(model, seed);
  const rng = new Rng(seed + 100);
  model.layout.layers.forEach((_, i) => {
    const p = model.layerParams(i);
    const pow2 = (a: Float32Array) => a.forEach((_, k) => (a[k] = POW2[rng.int(POW2.length)]));
    if (p.kind === 'dense') pow2(p.W);
    else {
      pow2(p.R);
      const G = p.kind === 'lstm' ? 4 : p.kind === 'gru' ? 3 : 1; // R is [D, G·H, H] with H = 1
      for (let d = 0; d < p.R.length / G; d++) {
        const keep = [rng.int(G), rng.int(G)];
        for (let g = 0; g < G; g++) if (!keep.includes(g)) p.R[d * G + g] = 0;
      }
    }
  });
  return model;
}

function exactBatch(model: Model, T: number, seed: number, loss: 'mse' | 'crossentropy'): NativeBatch {
  const rng = new Rng(seed);
  const x = Float32Array.from({ length: T * model.spec.inputSize }, () => POW2[rng.int(POW2.length)] * 2);
  const F = model.outputSize;
  const y = loss === 'crossentropy' ? Int32Array.of(rng.int(F)) : randomArray(rng, F);
  return { x, batch: 1, time: T, y };
}

const EXACT: { name: string; inputSize: number; layers: LayerSpec[]; loss: 'mse' | 'crossentropy'; steps?: number }[] = [
  { name: 'LSTM peepholes + clip (some gates clipped)', inputSize: 2, layers: [lstm({ units: 1, peepholes: true, clip: 0.6 }), dense({ units: 2, activation: 'tanh' })], loss: 'mse' },
  { name: 'LSTM clip + inputForget, bidirectional', inputSize: 2, layers: [lstm({ units: 1, clip: 0.5, inputForget: true, direction: 'bidirectional' }), dense({ units: 1 })], loss: 'mse' },
  { name: 'GRU linear_before_reset = 1', inputSize: 2, layers: [gru({ units: 1 }), dense({ units: 2, activation: 'sigmoid' })], loss: 'mse', steps: 1 },
  { name: 'GRU linear_before_reset = 0, reverse', inputSize: 2, layers: [gru({ units: 1, linearBeforeReset: 0, direction: 'reverse' }), dense({ units: 2 })], loss: 'mse', steps: 1 },
  { name: 'RNN tanh, softmax head (MSE through the softmax)', inputSize: 2, layers: [rnn({ units: 1 }), dense({ units: 2, activation: 'softmax' })], loss: 'mse' },
  { name: 'RNN relu, softmax cross-entropy', inputSize: 2, layers: [rnn({ units: 1, activation: 'relu' }), dense({ units: 2, activation: 'softmax' })], loss: 'crossentropy' },
];

describe.skipIf(!hasCpu || !hasEmu)('CPU and CUDA-emulated: bit-identical where the products are exact', () => {
  for (const c of EXACT) {
    it(`${c.name}: outputs and gradients, float and float64`, () => {
      for (let seed = 1; seed <= 6; seed++) {
        const model = exactModel(c.layers, c.inputSize, seed);
        const batch = exactBatch(model, c.steps ?? 2, seed, c.loss);
        const loss: NativeLoss = { type: c.loss };
        for (const dtype of DTYPES) {
          const cpu = backend.run('cpu', model, batch, loss, dtype);
          const emu = backend.run('cuda-emulated', model, batch, loss, dtype);
          expect(cpu.grads.some((g) => Math.abs(g) > 1e-3), `seed ${seed}: a zero gradient would pass trivially`).toBe(true);
          expectSameBits(cpu.grads, emu.grads, dtype, `seed ${seed} ${dtype} gradients`);
          if (c.loss === 'mse') expectSameBits(cpu.output, emu.output, dtype, `seed ${seed} ${dtype} output`);
        }
      }
    });
  }

  it('softmax outputs of many rows: bit-identical, and equal to float64', () => {
    const model = Model.create({ inputSize: 1, layers: [rnn({ units: 1 }), dense({ units: 5, activation: 'softmax' })] });
    randomizeParams(model, 3, 2);
    const N = 16;
    const rng = new Rng(4);
    const batch: NativeBatch = { x: randomArray(rng, N, 2), batch: N, time: 1, y: randomArray(rng, N * 5) };
    const cpu = backend.run('cpu', model, batch, { type: 'mse' }, 'float');
    const emu = backend.run('cuda-emulated', model, batch, { type: 'mse' }, 'float');
    expectSameBits(cpu.output, emu.output, 'float', 'softmax rows');
    const ref = referenceForward(model.spec, model.params, batch.x, { batch: N, time: 1 }).y;
    for (let i = 0; i < ref.length; i++) expect(Math.abs(cpu.output[i] - ref[i])).toBeLessThanOrEqual(1e-6);
  });

  const optimizers: NativeOptimizer[] = [
    { type: 'sgd' },
    { type: 'sgd', momentum: 0.9 },
    { type: 'sgd', momentum: 0.9, nesterov: true },
    { type: 'rmsprop' },
    { type: 'adam' },
    { type: 'adamw', weightDecay: 0.05 },
  ];
  for (const optimizer of optimizers) {
    it(`${optimizer.type}${optimizer.nesterov ? ' nesterov' : optimizer.momentum ? ' momentum' : ''} with L2 and clipValue: the same updated weights to the bit`, () => {
      const c = EXACT[0];
      const model = exactModel(c.layers, c.inputSize, 9);
      const batch = exactBatch(model, 2, 9, 'mse');
      // lr = 0.3 (not a power of two) so the AdamW decay 1 − lr·λ is rounded from float64 on both.
      const o: StepOptions = { optimizer, lr: 0.3, clipValue: 0.05, l2: { input: 1e-3, recurrent: 2e-3, bias: 1e-4 } };
      const cpu = backend.step('cpu', model, batch, { type: 'mse' }, o);
      const emu = backend.step('cuda-emulated', model, batch, { type: 'mse' }, o);
      expect(cpu.some((w, i) => w !== model.params[i])).toBe(true);
      expectSameBits(Float64Array.from(cpu), Float64Array.from(emu), 'float', 'updated weights');
    });
  }
});

// ---------------------------------------------------------------- general shapes: the bound

describe.skipIf(!hasCpu || !hasEmu)('CPU and CUDA-emulated with general shapes (sums ordered differently): the bound', () => {
  const cases: { name: string; inputSize: number; layers: LayerSpec[] }[] = [
    { name: 'LSTM peepholes + clip', inputSize: 5, layers: [lstm({ units: 16, peepholes: true, clip: 1, returnSequences: true }), dense({ units: 3, activation: 'tanh' })] },
    { name: 'GRU lbr0 bidirectional', inputSize: 5, layers: [gru({ units: 16, linearBeforeReset: 0, direction: 'bidirectional' }), dense({ units: 3 })] },
    { name: 'RNN relu on GRU lbr1', inputSize: 5, layers: [gru({ units: 12, returnSequences: true }), rnn({ units: 12, activation: 'relu' }), dense({ units: 3, activation: 'sigmoid' })] },
  ];
  for (const c of cases) {
    it(`${c.name}: float gradients within 1e-5 of the largest (float64: float32 rounding)`, () => {
      const model = Model.create({ inputSize: c.inputSize, layers: c.layers });
      randomizeParams(model, 21);
      const rng = new Rng(22);
      const N = 6;
      const T = 7;
      const F = model.outputSize;
      const batch: NativeBatch = { x: randomArray(rng, N * T * c.inputSize), batch: N, time: T, y: randomArray(rng, (model.returnsSequences ? N * T : N) * F) };
      for (const dtype of DTYPES) {
        const cpu = backend.run('cpu', model, batch, { type: 'mse' }, dtype);
        const emu = backend.run('cuda-emulated', model, batch, { type: 'mse' }, dtype);
        const maxG = cpu.grads.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
        let maxErr = 0;
        for (let i = 0; i < cpu.grads.length; i++) maxErr = Math.max(maxErr, Math.abs(cpu.grads[i] - emu.grads[i]));
        expect(maxG).toBeGreaterThan(1e-3);
        expect(maxErr / maxG, dtype).toBeLessThanOrEqual(dtype === 'float' ? 1e-5 : 1e-7);
      }
    });
  }
});
