// The CUDA backend of the one trainer (native/cuda/step_core.h behind native().Trainer). On
// machines without a GPU (CI, this one) the GPU comparisons are skipped with the reason the addon
// gives, and what can run does: the addon says whether it was built with CUDA and why no device
// is usable, device 'cuda' throws a clear Error, and the CUDA step's own code path (the same
// kernels and the same orchestration, run on the CPU by native/cuda/exec_host.h: device
// 'cuda-emulated') is checked against the independent float64 reference forward pass
// (tests/reference/forward.ts) and float64 finite differences of it, for every layer kind, and
// against the CPU trainer with dropout, zoneout, TBPTT and stateful training (tests/cuda-parity.test.ts).

import { describe, expect, it } from 'vitest';
import { Rng } from '../src/layers/random.js';
import { dense, gru, lstm, rnn, type LayerSpec } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';
import { missingExports, native, nativePath, type CudaInfo, type NativeAddon, type NativeOptimizer, type NativeTrainer, type NativeTrainOptions } from '../src/native.js';
import type { TrainBatch } from '../src/train/batches.js';
import { referenceForward } from './reference/forward.js';
import { randomArray, randomizeParams } from './reference/util.js';

// The addon under test: RNNX_NATIVE_PATH (e.g. one built by scripts/device-build.sh) or the
// repository's build (src/native.ts). An addon without the exports skips with the reason.
// computeGradients (the CPU reference of the same addon) may be missing from a separately built
// addon: the comparison with it skips then.
let addonPath = '(unresolved)';
let loadError = '';
try {
  addonPath = nativePath();
  native();
} catch (e) {
  loadError = (e as Error).message;
}
const hooked = loadError === '' && missingExports(['cudaInfo', 'Trainer']).length === 0;
const skipReason = hooked ? '' : loadError || `${addonPath} has no cudaInfo/Trainer exports (native/binding/trainer_wrap.cc registers them)`;
const addon: Partial<NativeAddon> & Pick<NativeAddon, 'cudaInfo' | 'Trainer'> = hooked ? native() : ({} as NativeAddon);
const info: CudaInfo | null = hooked ? addon.cudaInfo() : null;
const cudaAvailable = info?.available === true;
if (!hooked) console.warn(`[cuda.test] skipped: ${skipReason}`);
else if (!cudaAvailable) console.warn(`[cuda.test] GPU comparisons skipped: ${info!.reason}`);

type LossName = 'mse' | 'crossentropy';
interface Case {
  name: string;
  inputSize: number;
  layers: LayerSpec[];
  loss: LossName;
  lengths: boolean;
}

const CASES: Case[] = [
  { name: 'LSTM, per-step dense', inputSize: 3, layers: [lstm({ units: 4, returnSequences: true }), dense({ units: 2 })], loss: 'mse', lengths: false },
  { name: 'LSTM peepholes, last step, lengths', inputSize: 3, layers: [lstm({ units: 4, peepholes: true }), dense({ units: 2, activation: 'tanh' })], loss: 'mse', lengths: true },
  { name: 'LSTM clip + inputForget', inputSize: 2, layers: [lstm({ units: 3, clip: 0.6, inputForget: true, returnSequences: true })], loss: 'mse', lengths: true },
  { name: 'GRU lbr1 bidirectional, softmax CE', inputSize: 3, layers: [gru({ units: 4, direction: 'bidirectional', returnSequences: true }), dense({ units: 3, activation: 'softmax' })], loss: 'crossentropy', lengths: true },
  { name: 'GRU lbr0 reverse, last step', inputSize: 3, layers: [gru({ units: 4, linearBeforeReset: 0, direction: 'reverse' }), dense({ units: 2, activation: 'sigmoid' })], loss: 'mse', lengths: true },
  { name: 'RNN tanh bidirectional stacked on RNN relu', inputSize: 2, layers: [rnn({ units: 3, activation: 'relu', returnSequences: true }), rnn({ units: 3, direction: 'bidirectional' }), dense({ units: 4, activation: 'relu' }), dense({ units: 3, activation: 'softmax' })], loss: 'crossentropy', lengths: true },
  { name: 'BLSTM stacked on BGRU lbr0', inputSize: 2, layers: [gru({ units: 3, direction: 'bidirectional', linearBeforeReset: 0, returnSequences: true }), lstm({ units: 3, direction: 'bidirectional', returnSequences: true }), dense({ units: 2 })], loss: 'mse', lengths: true },
];

function makeBatch(model: Model, c: Case, N: number, T: number, seed: number): TrainBatch {
  const rng = new Rng(seed);
  const x = randomArray(rng, N * T * c.inputSize);
  const lengths = c.lengths ? Int32Array.from({ length: N }, (_, n) => 1 + ((n * 5 + 2) % T)) : undefined;
  if (lengths) lengths[0] = T;
  const F = model.outputSize;
  const rows = model.returnsSequences ? N * T : N;
  for (let n = 0; n < N && lengths; n++) for (let t = lengths[n]; t < T; t++) x.fill(0, (n * T + t) * c.inputSize, (n * T + t + 1) * c.inputSize);
  const y = c.loss === 'crossentropy' ? Int32Array.from({ length: rows }, () => Math.floor(rng.range(0, F - 1e-9))) : randomArray(rng, rows * F);
  return { x, batch: N, time: T, lengths, y };
}

/** The loss of native/training/loss.cc, in float64 from the reference forward pass. */
function referenceLoss(model: Model, c: Case, params: Float64Array | Float32Array, b: TrainBatch): number {
  const ref = referenceForward(model.spec, params, b.x, { batch: b.batch, time: b.time, lengths: b.lengths });
  const F = model.outputSize;
  const seq = model.returnsSequences;
  let sum = 0;
  let count = 0;
  for (let n = 0; n < b.batch; n++) {
    const steps = seq ? (b.lengths ? b.lengths[n] : b.time) : 1;
    for (let t = 0; t < steps; t++) {
      const at = seq ? n * b.time + t : n;
      const o = ref.y.subarray(at * F, at * F + F);
      if (c.loss === 'crossentropy') {
        // The softmax is part of the model: the loss is -log p[label].
        sum += -Math.log(o[(b.y as Int32Array)[at]]);
        count += 1;
      } else {
        for (let f = 0; f < F; f++) sum += (o[f] - (b.y as Float32Array)[at * F + f]) ** 2;
        count += F;
      }
    }
  }
  return sum / count;
}

/** A trainer on a copy of the model's weights (its params buffer is `.params`); default device 'cuda-emulated'. */
function trainerFor(model: Model, c: Case, options: NativeTrainOptions): NativeTrainer & { params: Float32Array } {
  const params = Float32Array.from(model.params);
  const t = new addon.Trainer(model.spec, model.layout, params, { loss: { type: c.loss }, device: 'cuda-emulated', ...options });
  return Object.assign(t, { params });
}

describe.skipIf(!hooked)(`CUDA backend availability${hooked ? '' : ` (skipped: ${skipReason})`}`, () => {
  it('reports whether it was built with CUDA and why no device is usable', () => {
    expect(typeof info!.built).toBe('boolean');
    expect(typeof info!.available).toBe('boolean');
    if (!info!.built) expect(info!.reason).toMatch(/built without CUDA/);
    if (info!.built) expect(info!.runtimeVersion).toBeGreaterThanOrEqual(12000);
    if (!info!.available) expect(info!.reason).toMatch(/built without CUDA|no CUDA device|cuBLAS/);
    else expect(info!.reason).toBe('');
  });

  it.skipIf(cudaAvailable)('asking for the CUDA device without one throws a clear Error, no crash', () => {
    const model = Model.create({ inputSize: 2, layers: [lstm({ units: 3 })] });
    expect(() => new addon.Trainer(model.spec, model.layout, model.params, { device: 'cuda' })).toThrow(/device 'cuda' is not available: .+/);
    const auto = new addon.Trainer(model.spec, model.layout, model.params.slice(), { device: 'auto' });
    expect(auto.info().backend).toBe('cpu');
    expect(auto.info().deviceReason).toMatch(/device 'auto' chose the CPU: no usable CUDA device \(.+\)/);
    auto.dispose();
  });

  it('refuses bad devices, options and batches with a message naming the field', () => {
    const ok = Model.create({ inputSize: 2, layers: [lstm({ units: 3 })] });
    const p = ok.params.slice();
    expect(() => new addon.Trainer(ok.spec, ok.layout, p, { device: 'gpu' as never })).toThrow(/options\.device must be one of "cpu", "cuda", "cuda-emulated", "auto", got "gpu"/);
    expect(() => new addon.Trainer(ok.spec, ok.layout, p, { device: 'cuda-emulated', emulate: 'half' as never })).toThrow(/options\.emulate must be one of "float", "double", got "half"/);
    expect(() => new addon.Trainer(ok.spec, ok.layout, p, { emulate: 'double' })).toThrow(/options\.emulate applies to device "cuda-emulated" only, got device "cpu"/);
    expect(() => new addon.Trainer(ok.spec, ok.layout, new Float32Array(3), { device: 'cuda-emulated' })).toThrow(/params must have length/);
    const t = new addon.Trainer(ok.spec, ok.layout, p, { device: 'cuda-emulated' });
    expect(t.info()).toMatchObject({ backend: 'cuda-emulated', device: 'cuda-emulated (host emulation, float)' });
    expect(() => t.stepSync({ x: new Float32Array(5), batch: 2, time: 2, y: new Float32Array(6) }, 0.01)).toThrow(/batch\.x must have length/);
    t.dispose();
    expect(() => t.getParams()).toThrow(/disposed/);
  });
});

describe.skipIf(!hooked)('CUDA step code path, run on the CPU by the host emulation', () => {
  for (const c of CASES) {
    it(`${c.name}: forward equals the float64 reference, gradients equal finite differences`, () => {
      const model = Model.create({ inputSize: c.inputSize, layers: c.layers }, { seed: 7 });
      randomizeParams(model, 11);
      const N = 3;
      const T = 4;
      const b = makeBatch(model, c, N, T, 5);
      const tr = trainerFor(model, c, { emulate: 'double' });
      const { loss, grads } = tr.gradients(b);
      // Forward: regression outputs compare directly; CE models give logits, so compare the loss.
      const refLoss = referenceLoss(model, c, model.params, b);
      expect(Math.abs(loss - refLoss)).toBeLessThan(1e-9 * Math.max(1, Math.abs(refLoss)));
      if (c.loss === 'mse') {
        const ref = referenceForward(model.spec, model.params, b.x, { batch: N, time: T, lengths: b.lengths });
        const out = tr.output();
        let maxErr = 0;
        for (let i = 0; i < out.length; i++) maxErr = Math.max(maxErr, Math.abs(out[i] - ref.y[i]));
        expect(maxErr).toBeLessThan(1e-6);
      }
      // Gradients against central differences of the reference loss in float64.
      const p = Float64Array.from(model.params);
      const h = 1e-6;
      let maxErr = 0;
      let maxG = 0;
      for (let i = 0; i < p.length; i++) {
        const old = p[i];
        p[i] = old + h;
        const lp = referenceLoss(model, c, p, b);
        p[i] = old - h;
        const lm = referenceLoss(model, c, p, b);
        p[i] = old;
        const fd = (lp - lm) / (2 * h);
        maxErr = Math.max(maxErr, Math.abs(fd - grads[i]));
        maxG = Math.max(maxG, Math.abs(grads[i]));
      }
      expect(maxG).toBeGreaterThan(1e-3); // a gradient that is all zeros would pass trivially
      expect(maxErr / maxG).toBeLessThan(1e-6);
      tr.dispose();
    });
  }

  it('optimizers and global-norm clipping update the weights as written (one step, float64 emulation)', () => {
    const c = CASES[0];
    const model = Model.create({ inputSize: c.inputSize, layers: c.layers }, { seed: 3 });
    randomizeParams(model, 4);
    const b = makeBatch(model, c, 2, 3, 6);
    const p0 = Float64Array.from(model.params);
    const probe = trainerFor(model, c, { emulate: 'double' });
    const g = Float64Array.from(probe.gradients(b).grads);
    probe.dispose();
    const norm = Math.sqrt(g.reduce((s, v) => s + v * v, 0));
    const clipNorm = norm / 2; // active: the gradient is halved
    const gc = g.map((v) => (v * clipNorm) / norm);
    const lr = 0.01;
    const expected: Record<string, (w: number, gi: number) => number> = {
      sgd: (w, gi) => w - lr * gi,
      rmsprop: (w, gi) => w - (lr * gi) / (Math.sqrt(0.1 * gi * gi) + 1e-7),
      adam: (w, gi) => w - (lr * ((0.1 * gi) / 0.1)) / (Math.sqrt((0.001 * gi * gi) / 0.001) + 1e-7),
    };
    for (const [type, f] of Object.entries(expected)) {
      const tr = trainerFor(model, c, { emulate: 'double', optimizer: { type } as NativeOptimizer, clipNorm });
      const s = tr.stepSync(b, lr);
      expect(Math.abs(s.gradNorm - norm) / norm).toBeLessThan(1e-6); // g came back rounded to float32
      const p1 = tr.getParams();
      let maxErr = 0;
      for (let i = 0; i < p0.length; i++) maxErr = Math.max(maxErr, Math.abs(p1[i] - Math.fround(f(p0[i], gc[i]))));
      expect(maxErr, type).toBeLessThan(1e-6);
      expect(p1.some((v, i) => v !== model.params[i])).toBe(true);
      expect(tr.params).toEqual(model.params); // the weights stay on the device until read
      tr.syncParams();
      expect(tr.params).toEqual(p1);
      tr.dispose();
    }
  });

  it.skipIf(typeof addon.computeGradients !== 'function')('gives the CPU trainer\'s loss and gradients (float64, every case)', () => {
    for (const c of CASES) {
      const model = Model.create({ inputSize: c.inputSize, layers: c.layers }, { seed: 8 });
      randomizeParams(model, 12);
      const b = makeBatch(model, c, 4, 5, 13);
      const cpu = addon.computeGradients!(model.spec, model.layout, Float64Array.from(model.params), b, { loss: { type: c.loss } });
      const tr = trainerFor(model, c, { emulate: 'double' });
      const g = tr.gradients(b);
      tr.dispose();
      const maxG = cpu.grads.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      let maxErr = 0;
      for (let i = 0; i < cpu.grads.length; i++) maxErr = Math.max(maxErr, Math.abs(cpu.grads[i] - g.grads[i]));
      expect(Math.abs(g.loss - cpu.loss), c.name).toBeLessThan(1e-9 * Math.max(1, cpu.loss));
      expect(maxG, c.name).toBeGreaterThan(1e-3);
      expect(maxErr / maxG, c.name).toBeLessThan(1e-6); // CUDA path's grads come back rounded to float32
    }
  });

  it('takes the same optimizer steps as the CPU trainer (L2, clipValue, clipNorm; float)', () => {
    const c = CASES[1];
    const optimizers: NativeOptimizer[] = [{ type: 'sgd', momentum: 0.9, nesterov: true }, { type: 'rmsprop' }, { type: 'adam' }, { type: 'adamw', weightDecay: 0.01 }];
    for (const optimizer of optimizers) {
      const model = Model.create({ inputSize: c.inputSize, layers: c.layers }, { seed: 5 });
      randomizeParams(model, 6);
      const b = makeBatch(model, c, 4, 5, 7);
      const opts = { loss: { type: c.loss }, optimizer, clipNorm: 0.3, clipValue: 0.2, l2: { input: 1e-3, recurrent: 2e-3, bias: 1e-4 } };
      const p0 = Float32Array.from(model.params);
      const cpuParams = Float32Array.from(model.params);
      const cpu = new addon.Trainer!(model.spec, model.layout, cpuParams, { ...opts, threads: 1 });
      const emu = trainerFor(model, c, { ...opts, emulate: 'float' });
      for (let s = 0; s < 3; s++) {
        const r1 = cpu.stepSync(b, 0.01);
        const r2 = emu.stepSync(b, 0.01);
        expect(Math.abs(r1.loss - r2.loss) / r1.loss, optimizer.type).toBeLessThan(1e-5);
        expect(Math.abs(r1.gradNorm - r2.gradNorm) / r1.gradNorm, optimizer.type).toBeLessThan(1e-5);
      }
      const pe = emu.getParams();
      let num = 0;
      let den = 0;
      for (let i = 0; i < p0.length; i++) {
        num += (pe[i] - cpuParams[i]) ** 2;
        den += (cpuParams[i] - p0[i]) ** 2;
      }
      expect(den, optimizer.type).toBeGreaterThan(0);
      expect(Math.sqrt(num / den), optimizer.type).toBeLessThan(1e-4);
      cpu.dispose();
      emu.dispose();
    }
  });

  it('a NaN target is refused, as the CPU trainer refuses it', () => {
    const c = CASES[0];
    const model = Model.create({ inputSize: c.inputSize, layers: c.layers }, { seed: 3 });
    const b = makeBatch(model, c, 2, 3, 6);
    (b.y as Float32Array)[0] = Number.NaN;
    const tr = trainerFor(model, c, { emulate: 'float' });
    expect(() => tr.stepSync(b, 0.01)).toThrow(/batch\.y\[0\] is nan: targets must be finite/);
    expect(tr.getParams()).toEqual(model.params);
    tr.dispose();
  });

  it('a non-finite loss applies nothing and throws', () => {
    const c = CASES[0];
    const model = Model.create({ inputSize: c.inputSize, layers: c.layers }, { seed: 3 });
    const b = makeBatch(model, c, 2, 3, 6);
    const huge = model.params.map(() => 1e30);  // outputs near 1e31: the squared error overflows float32
    const tr = trainerFor(model, c, { emulate: 'float' });
    tr.params.set(huge); // a write into the model's buffer reaches the device before the next step
    expect(() => tr.stepSync(b, 0.01)).toThrow(/non-finite loss/);
    expect(tr.getParams()).toEqual(huge);
    tr.dispose();
  });

  it('an update that overflows float32 rolls back weights, moments and step count (all-or-nothing, as on the CPU)', () => {
    const c = CASES[0];
    const model = Model.create({ inputSize: c.inputSize, layers: c.layers }, { seed: 3 });
    const b = makeBatch(model, c, 2, 3, 6);
    const adam = { type: 'adam' as const };
    // Reference: one Adam step from the initial weights, moments and step count.
    const fresh = trainerFor(model, c, { emulate: 'float', optimizer: adam });
    fresh.stepSync(b, 0.01);
    const expected = fresh.getParams();
    fresh.dispose();
    // The same trainer first tries a step whose update overflows (finite loss and gradients).
    const tr = trainerFor(model, c, { emulate: 'float', optimizer: adam });
    expect(() => tr.stepSync(b, 1e39)).toThrow(/non-finite weight after the update at training step 1 .* rolled back/);
    expect(tr.getParams()).toEqual(model.params);
    expect(tr.info().steps).toBe(0);
    tr.stepSync(b, 0.01);
    // Bit-identical only if the failed step left the moments and the bias-correction step count untouched.
    expect(Array.from(tr.getParams())).toEqual(Array.from(expected));
    expect(Array.from(expected)).not.toEqual(Array.from(model.params));
    tr.dispose();
  });
});

describe.skipIf(!hooked)('host <-> device traffic of the CUDA backend (counted by the host emulation\'s executor)', () => {
  const c = CASES[1]; // LSTM with peepholes, last step, dense head, lengths
  const N = 3;
  const T = 5;
  const snapshot = (t: NativeTrainer) => ({ ...t.info().transfers });
  const delta = (a: ReturnType<typeof snapshot>, b: ReturnType<typeof snapshot>) => ({
    toDevice: b.toDevice - a.toDevice, toHost: b.toHost - a.toHost, bytesToDevice: b.bytesToDevice - a.bytesToDevice, bytesToHost: b.bytesToHost - a.bytesToHost,
  });

  it('a step sends the batch and brings back only its scalars; the weights cross when read or written', async () => {
    const model = Model.create({ inputSize: c.inputSize, layers: c.layers }, { seed: 3 });
    const b = makeBatch(model, c, N, T, 6);
    const P = model.params.length;
    // loss, Σg², correct, one L2 sum per parameter group (W R B P of the LSTM, W b of the dense), the overflow flag
    const scalarBytes = (4 + 4 + 2) * 4;
    const batchBytes = (N * T * c.inputSize + N + N * model.outputSize) * 4; // x, lengths, targets
    const tr = trainerFor(model, c, { emulate: 'float', optimizer: { type: 'adam' } });
    expect(snapshot(tr)).toEqual({ toDevice: 1, toHost: 0, bytesToDevice: P * 4, bytesToHost: 0 }); // the initial weights
    let before = snapshot(tr);
    const lrs = [0.01, 0.003, 0.001]; // a new learning rate each step: nothing rebuilt, nothing sent
    for (const lr of lrs) tr.stepSync(b, lr);
    await tr.step(b, 0.002);
    expect(delta(before, snapshot(tr))).toEqual({ toDevice: 3 * 4, toHost: 4, bytesToDevice: 4 * batchBytes, bytesToHost: 4 * scalarBytes });
    expect(tr.info().steps).toBe(4);
    // The model's buffer is behind until read.
    expect(tr.params).toEqual(model.params);
    expect(tr.info().paramsPending).toBe(true);
    before = snapshot(tr);
    tr.syncParams();
    expect(delta(before, snapshot(tr))).toEqual({ toDevice: 0, toHost: 1, bytesToDevice: 0, bytesToHost: P * 4 });
    expect(tr.params).not.toEqual(model.params);
    expect(tr.getParams()).toEqual(tr.params);
    expect(tr.info().paramsPending).toBe(false);
    // evaluate: forward only, the loss and the correct count come back (3 scalars), no gradients.
    before = snapshot(tr);
    const ev = tr.evaluateSync(b);
    await tr.evaluate(b);
    expect(delta(before, snapshot(tr))).toEqual({ toDevice: 2 * 3, toHost: 2, bytesToDevice: 2 * batchBytes, bytesToHost: 2 * 3 * 4 });
    expect(ev.loss).toBeGreaterThan(0);
    // A write into the model's buffer goes to the device once, before the next call.
    tr.params[0] += 0.25;
    before = snapshot(tr);
    tr.stepSync(b, 0.01);
    expect(delta(before, snapshot(tr))).toEqual({ toDevice: 4, toHost: 1, bytesToDevice: P * 4 + batchBytes, bytesToHost: scalarBytes });
    // gradients(): what the caller asks for (the gradient) comes back, and the scalars.
    before = snapshot(tr);
    tr.gradients(b);
    expect(delta(before, snapshot(tr))).toEqual({ toDevice: 3, toHost: 2, bytesToDevice: batchBytes, bytesToHost: scalarBytes + P * 4 });
    // dispose writes the weights into the model's buffer.
    const last = tr.getParams();
    tr.dispose();
    expect(tr.params).toEqual(last);
  });

  it('truncated BPTT: one scalar download per window, the window lengths sent per window; the CPU backend moves nothing', () => {
    const cs: Case = { name: 'tbptt', inputSize: 2, layers: [lstm({ units: 3, returnSequences: true }), dense({ units: 1 })], loss: 'mse', lengths: true };
    const model = Model.create({ inputSize: cs.inputSize, layers: cs.layers }, { seed: 3 });
    const b = makeBatch(model, cs, N, 6, 2);
    const tr = trainerFor(model, cs, { emulate: 'float', tbptt: 3 });
    const before = snapshot(tr);
    const r = tr.stepSync(b, 0.01);
    expect(r.updates).toBe(2);
    const d = delta(before, snapshot(tr));
    expect(d.toDevice).toBe(3 + 2);
    expect(d.toHost).toBe(2);
    tr.dispose();
    const cpu = trainerFor(model, cs, { device: 'cpu', tbptt: 3 });
    cpu.stepSync(b, 0.01);
    expect(cpu.info().transfers).toEqual({ toDevice: 0, toHost: 0, bytesToDevice: 0, bytesToHost: 0 });
    expect(cpu.params).not.toEqual(model.params); // the CPU writes the weights back after every step
    cpu.dispose();
  });
});

describe.skipIf(!cudaAvailable)(`CUDA step on the GPU${cudaAvailable ? '' : ` (skipped: ${info?.reason ?? skipReason})`}`, () => {
  it('matches the float64 emulation of the same step for every layer kind (relative error <= 1e-4)', () => {
    for (const c of CASES) {
      const model = Model.create({ inputSize: c.inputSize, layers: c.layers }, { seed: 9 });
      randomizeParams(model, 2);
      const b = makeBatch(model, c, 8, 6, 3);
      const gpu = trainerFor(model, c, { device: 'cuda' });
      const cpu = trainerFor(model, c, { emulate: 'double' });
      const gg = gpu.gradients(b);
      const gr = cpu.gradients(b);
      let num = 0;
      let den = 0;
      for (let i = 0; i < gg.grads.length; i++) {
        num += (gg.grads[i] - gr.grads[i]) ** 2;
        den += gr.grads[i] ** 2;
      }
      expect(den, c.name).toBeGreaterThan(0);
      expect(Math.sqrt(num / den), c.name).toBeLessThan(1e-4);
      expect(Math.abs(gg.loss - gr.loss) / Math.abs(gr.loss), c.name).toBeLessThan(1e-4);
      gpu.dispose();
      cpu.dispose();
    }
  });
});
