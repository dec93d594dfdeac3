// The Node side of scripts/device-check.sh, bundled into one .mjs by scripts/device-pack.sh so
// that it runs on the GPU machine (which has no Node.js, no npm and no internet).
//   node check.mjs --addon rnnx_native.node [--ort DIR] [--torch torch.json] [--out results.json] [--quick] [--dry-run]
// (a) the CUDA step against the CPU step of the same addon (native/training/trainer.h) and against the
//     float64 host emulation of the CUDA step (checked against the float64 reference forward pass,
//     finite differences and the CPU trainer by tests/cuda.test.ts), for every layer kind, loss,
//     clipping and optimizer: relative error <= 1e-4, outputs never all zero; and dropout,
//     recurrent dropout, zoneout, truncated BPTT and stateful training against the CPU step
//     (same seed, same masks): gradients, then the weights after two epochs;
// (b) step time for LSTM N=64 T=100 I=64 H=256 (+ per-step dense(1), MSE, Adam, clipNorm 1) and
//     N=16, beside PyTorch's cuDNN LSTM for the same shapes (torch.json from device-bench-torch.py);
// (c) ONNX Runtime (scripts/lib/ort-check.ts) on an exported peephole LSTM: its CPU provider
//     against rnnx's float64 forward pass, its WebGPU provider against the CPU provider. These
//     rows run without a CUDA device too.
// Prints ONE table. Without a usable CUDA device it says why ("no CUDA device: ..."), runs (c) and
// stops: with --dry-run (scripts/device-check.sh --dry-run, here without a GPU) that is expected
// and it exits 0 unless an ONNX Runtime row failed; on the device it is a failure.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { Rng } from '../src/layers/random.js';
import { dense, gru, lstm, rnn, type LayerSpec } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';
import { native, type NativeOptimizer, type NativeTrainOptions } from '../src/native.js';
import type { TrainBatch } from '../src/train/batches.js';
import { allZero, relErr } from './lib/compare.js';
import { ortChecks } from './lib/ort-check.js';
import { randomArray, randomizeParams } from './lib/random-model.js';

const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const addonPath = arg('--addon');
if (!addonPath) throw new Error('--addon PATH is required');
// src/native.ts loads the addon (bundled into check.mjs with the rest): point it at this one.
process.env.RNNX_NATIVE_PATH = addonPath;
const addon = native();

interface Row {
  check: string;
  result: string;
  detail: string;
}
const rows: Row[] = [];
const record = (check: string, ok: boolean | null, detail: string) =>
  rows.push({ check, result: ok === null ? 'info' : ok ? 'PASS' : 'FAIL', detail });

function printTable(): void {
  const w0 = Math.max(5, ...rows.map((r) => r.check.length));
  const w1 = 6;
  console.log('\n' + 'check'.padEnd(w0) + ' | ' + 'result'.padEnd(w1) + ' | detail');
  console.log('-'.repeat(w0) + '-+-' + '-'.repeat(w1) + '-+-' + '-'.repeat(40));
  for (const r of rows) console.log(r.check.padEnd(w0) + ' | ' + r.result.padEnd(w1) + ' | ' + r.detail);
}

const info = addon.cudaInfo();
record('addon built with CUDA', info.built, `runtime ${info.runtimeVersion}, driver ${info.driverVersion}`);
// ONNX Runtime's rows need no CUDA: without a device (the dry run) they still run, WebGPU as information.
const ortDir = arg('--ort');
const ortRows = async (gpuExpected: boolean) => {
  if (!ortDir) return record('ORT WebGPU EP', false, 'not run: no --ort DIR');
  for (const r of await ortChecks(ortDir, gpuExpected)) record(r.check, r.ok, r.detail);
};
if (!info.available) {
  // Expected in the dry run (information; the dry run looks for the line), a failure on the device.
  const dryRun = args.includes('--dry-run');
  const why = /no CUDA device/i.test(info.reason) ? info.reason : `no CUDA device: ${info.reason}`;
  record('CUDA device', dryRun ? null : false, why);
  await ortRows(!dryRun);
  printTable();
  console.log(`\n${why}`);
  process.exit(rows.some((r) => r.result === 'FAIL') ? 1 : 0);
}
record('CUDA device', true, `${info.device} (sm ${info.computeCapability}, ${info.memoryGiB.toFixed(0)} GiB), cuBLAS ${info.cublas}`);

type Loss = 'mse' | 'crossentropy';

function makeBatch(model: Model, loss: Loss, N: number, T: number, seed: number, lengths: boolean): TrainBatch {
  const rng = new Rng(seed);
  const I = model.inputSize;
  const x = randomArray(rng, N * T * I);
  const lens = lengths ? Int32Array.from({ length: N }, (_, n) => 1 + ((n * 7 + 3) % T)) : undefined;
  if (lens) lens[0] = T;
  for (let n = 0; n < N && lens; n++) for (let t = lens[n]; t < T; t++) x.fill(0, (n * T + t) * I, (n * T + t + 1) * I);
  const F = model.outputSize;
  const count = model.returnsSequences ? N * T : N;
  const y = loss === 'crossentropy' ? Int32Array.from({ length: count }, () => Math.floor(rng.range(0, F - 1e-9))) : randomArray(rng, count * F);
  return { x, batch: N, time: T, lengths: lens, y };
}

// ---------------------------------------------------------------- (a) correctness
interface Case {
  name: string;
  inputSize: number;
  layers: LayerSpec[];
  loss: Loss;
  lengths: boolean;
}
const H = 32;
const cases: Case[] = [
  { name: 'LSTM', inputSize: 8, layers: [lstm({ units: H, returnSequences: true }), dense({ units: 3 })], loss: 'mse', lengths: false },
  { name: 'LSTM+peepholes', inputSize: 8, layers: [lstm({ units: H, peepholes: true, returnSequences: true }), dense({ units: 3 })], loss: 'mse', lengths: true },
  { name: 'LSTM clip+inputForget, last step', inputSize: 8, layers: [lstm({ units: H, clip: 1.5, inputForget: true }), dense({ units: 2 })], loss: 'mse', lengths: true },
  { name: 'GRU lbr0', inputSize: 8, layers: [gru({ units: H, linearBeforeReset: 0, returnSequences: true }), dense({ units: 3 })], loss: 'mse', lengths: true },
  { name: 'GRU lbr1, softmax CE', inputSize: 8, layers: [gru({ units: H, returnSequences: true }), dense({ units: 5, activation: 'softmax' })], loss: 'crossentropy', lengths: true },
  { name: 'RNN tanh', inputSize: 8, layers: [rnn({ units: H, returnSequences: true }), dense({ units: 3 })], loss: 'mse', lengths: true },
  { name: 'RNN relu, reverse, last step', inputSize: 8, layers: [rnn({ units: H, activation: 'relu', direction: 'reverse' }), dense({ units: 2 })], loss: 'mse', lengths: true },
  { name: 'BLSTM, last step, CE', inputSize: 8, layers: [lstm({ units: H, direction: 'bidirectional' }), dense({ units: 4, activation: 'softmax' })], loss: 'crossentropy', lengths: true },
  { name: 'stacked BGRU+LSTM, dense heads', inputSize: 8, layers: [gru({ units: H, direction: 'bidirectional', returnSequences: true }), lstm({ units: H, returnSequences: true }), dense({ units: 16, activation: 'tanh' }), dense({ units: 3, activation: 'sigmoid' })], loss: 'mse', lengths: true },
];

/** A trainer of the one API on a copy of the model's weights ('cuda-emulated' in float64). */
const trainer = (model: Model, device: 'cpu' | 'cuda' | 'cuda-emulated', opts: NativeTrainOptions) =>
  new addon.Trainer(model.spec, model.layout, Float32Array.from(model.params), { threads: 1, ...opts, device, ...(device === 'cuda-emulated' ? { emulate: 'double' as const } : {}) });

const N = 16;
const T = 12;
for (const c of cases) {
  try {
    const model = Model.create({ inputSize: c.inputSize, layers: c.layers }, { seed: 1 });
    randomizeParams(model, 2, 0.3);
    const b = makeBatch(model, c.loss, N, T, 3, c.lengths);
    const gpu = trainer(model, 'cuda', { loss: { type: c.loss } });
    const emu = trainer(model, 'cuda-emulated', { loss: { type: c.loss } });
    const g = gpu.gradients(b);
    const out = gpu.output();
    const r = emu.gradients(b);
    const eg = relErr(g.grads, r.grads);
    const eo = relErr(out, emu.output());
    const el = Math.abs(g.loss - r.loss) / Math.abs(r.loss);
    // The CPU trainer's own float32 gradients (native/training/trainer.h), when the addon has them.
    let ecpu = 0;
    if (typeof addon.computeGradients === 'function') {
      const cpu = addon.computeGradients(model.spec, model.layout, Float32Array.from(model.params), b, { loss: { type: c.loss } });
      ecpu = relErr(g.grads, cpu.grads);
    }
    const ok = eg <= 1e-4 && eo <= 1e-4 && el <= 1e-4 && ecpu <= 1e-4 && !allZero(out) && !allZero(g.grads);
    record(`grad ${c.name}`, ok, `rel err grads ${eg.toExponential(2)} (vs CPU step ${ecpu.toExponential(2)}), outputs ${eo.toExponential(2)}, loss ${el.toExponential(2)}`);
    gpu.dispose();
    emu.dispose();
  } catch (e) {
    record(`grad ${c.name}`, false, (e as Error).message);
  }
}

// Optimizers with global-norm clipping: 3 steps, weights compared with the emulation.
{
  const c = cases[1];
  const model = Model.create({ inputSize: c.inputSize, layers: c.layers }, { seed: 4 });
  randomizeParams(model, 5, 0.3);
  const b = makeBatch(model, c.loss, N, T, 6, true);
  for (const type of ['sgd', 'rmsprop', 'adam', 'adamw'] satisfies NativeOptimizer['type'][]) {
    try {
      const opts = { loss: { type: c.loss }, optimizer: { type, momentum: type === 'sgd' ? 0.9 : 0 } as NativeOptimizer, clipNorm: 0.5 };
      const gpu = trainer(model, 'cuda', opts);
      const emu = trainer(model, 'cuda-emulated', opts);
      let clipped = false;
      for (let s = 0; s < 3; s++) {
        const st = gpu.stepSync(b, 0.01);
        emu.stepSync(b, 0.01);
        clipped ||= st.gradNorm > 0.5;
      }
      const pg = gpu.getParams();
      // Reference: the CPU trainer's step when the addon has it, else the float64 emulation.
      let pe: Float32Array = emu.getParams();
      let refName = 'emulation';
      if (typeof addon.Trainer === 'function') {
        pe = Float32Array.from(model.params);
        const cpu = new addon.Trainer(model.spec, model.layout, pe, { loss: { type: c.loss }, optimizer: opts.optimizer, clipNorm: 0.5 });
        for (let s = 0; s < 3; s++) cpu.stepSync(b, 0.01);
        cpu.dispose();
        refName = 'CPU step';
      }
      const delta = pe.map((v: number, i: number) => v - model.params[i]);
      const diff = pg.map((v: number, i: number) => v - pe[i]);
      const norm = (a: Float32Array) => Math.sqrt(a.reduce((s: number, v: number) => s + v * v, 0));
      const e = norm(diff) / norm(delta);
      const moved = !allZero(delta);
      record(`step ${type} + clipNorm`, e <= 1e-4 && moved && clipped, `rel err of the update vs ${refName} ${e.toExponential(2)}${clipped ? ', clipping active' : ', clipping NOT active'}`);
      gpu.dispose();
      emu.dispose();
    } catch (e) {
      record(`step ${type} + clipNorm`, false, (e as Error).message);
    }
  }
}

// Dropout, recurrent dropout, zoneout, truncated BPTT, stateful: the CUDA step against the CPU
// step with the same seed (the same counter-based masks): the gradients of the first batch, then
// the weights after two epochs of four batches each.
{
  const reg: { name: string; layers: LayerSpec[]; opts: NativeTrainOptions }[] = [
    { name: 'dropout + recurrentDropout (LSTM)', layers: [lstm({ units: H, dropout: 0.2, recurrentDropout: 0.3, returnSequences: true }), dense({ units: 3 })], opts: { outputDropout: 0.1 } },
    { name: 'zoneout h+c (LSTM), zoneout (GRU)', layers: [lstm({ units: H, zoneoutH: 0.2, zoneoutC: 0.3, returnSequences: true }), gru({ units: H, zoneoutH: 0.15, recurrentDropout: 0.2, returnSequences: true }), dense({ units: 3 })], opts: {} },
    { name: 'TBPTT 4 (LSTM + RNN, dropout)', layers: [lstm({ units: H, dropout: 0.1, returnSequences: true }), rnn({ units: H, zoneoutH: 0.1, returnSequences: true }), dense({ units: 3 })], opts: { tbptt: 4 } },
    { name: 'stateful (GRU lbr0, zoneout)', layers: [gru({ units: H, linearBeforeReset: 0, zoneoutH: 0.2, returnSequences: true }), dense({ units: 3 })], opts: { stateful: true } },
  ];
  for (const r of reg) {
    try {
      const model = Model.create({ inputSize: 8, layers: r.layers }, { seed: 7 });
      randomizeParams(model, 8, 0.3);
      const batches = [0, 1, 2, 3].map((k) => makeBatch(model, 'mse', N, T, 20 + k, !r.opts.stateful && !r.opts.tbptt));
      const opts: NativeTrainOptions = { loss: { type: 'mse' }, optimizer: { type: 'adam' }, seed: 5, clipNorm: 5, ...r.opts };
      const gpu = trainer(model, 'cuda', opts);
      const cpu = trainer(model, 'cpu', opts);
      const eg = relErr(gpu.gradients(batches[0]).grads, cpu.gradients(batches[0]).grads);
      for (let epoch = 0; epoch < 2; epoch++) {
        gpu.resetStates();
        cpu.resetStates();
        for (const b of batches) {
          gpu.stepSync(b, 0.01);
          cpu.stepSync(b, 0.01);
        }
      }
      const pc = cpu.getParams();
      const ew = relErr(gpu.getParams(), pc);
      const moved = relErr(pc, model.params) > 1e-3;
      record(`parity ${r.name}`, eg <= 1e-4 && ew <= 1e-4 && moved, `rel err vs CPU step: gradients ${eg.toExponential(2)}, weights after 2 epochs ${ew.toExponential(2)}`);
      gpu.dispose();
      cpu.dispose();
    } catch (e) {
      record(`parity ${r.name}`, false, (e as Error).message);
    }
  }
}

// ---------------------------------------------------------------- (b) timing
const torch = arg('--torch') && existsSync(arg('--torch')!) ? JSON.parse(readFileSync(arg('--torch')!, 'utf8')) : null;
const timings: Record<string, number> = {};
for (const [label, n, t, i, h] of [
  ['LSTM N=64 T=100 I=64 H=256', 64, 100, 64, 256],
  ['LSTM N=16 T=100 I=64 H=256', 16, 100, 64, 256],
] as const) {
  try {
    const model = Model.create({ inputSize: i, layers: [lstm({ units: h, returnSequences: true }), dense({ units: 1 })] }, { seed: 1 });
    const b = makeBatch(model, 'mse', n, t, 9, false);
    const tr = trainer(model, 'cuda', { loss: { type: 'mse' }, optimizer: { type: 'adam' }, clipNorm: 1 });
    for (let w = 0; w < 5; w++) tr.stepSync(b, 1e-3);
    const times: number[] = [];
    for (let r = 0; r < (args.includes('--quick') ? 10 : 50); r++) {
      const t0 = process.hrtime.bigint();
      tr.stepSync(b, 1e-3); // returns after the loss is on the host: the step is complete
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    times.sort((a, z) => a - z);
    const med = times[Math.floor(times.length / 2)];
    timings[label] = med;
    const ref = torch?.[label];
    const detail = `rnnx cuda ${med.toFixed(2)} ms/step (median of ${times.length})` +
      (ref ? `; PyTorch cuDNN ${ref.median_ms.toFixed(2)} ms/step; ratio ${(med / ref.median_ms).toFixed(2)}x` : '; PyTorch: no figure');
    record(`time ${label}`, null, detail);
    tr.dispose();
  } catch (e) {
    record(`time ${label}`, false, (e as Error).message);
  }
}

// ---------------------------------------------------------------- (c) ONNX Runtime: CPU and WebGPU
await ortRows(true);

printTable();
const outPath = arg('--out');
if (outPath) writeFileSync(outPath, JSON.stringify({ info, rows, timings, torch }, null, 2));
process.exit(rows.some((r) => r.result === 'FAIL') ? 1 : 0);
