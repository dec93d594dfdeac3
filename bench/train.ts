// `npm run bench -- train [--reps N] [--threads N] [--cases lstm256,gru256,...]`
//
// One fused training step on the addon (forward, loss, BPTT, clipping, Adam update; async
// step() as fit uses it) next to ONNX Runtime's forward pass of the same exported model on the
// same batch (CPU provider, intraOpNumThreads 2), both measured in this run. Medians of --reps
// after warm-up. Cases: LSTM N=64 T=100 I=64 H=256 with a per-step dense(1), MSE, Adam,
// clipNorm 1 (the acceptance case: step ≤ 5× forward); GRU-256 and RNN-256 on the same shapes;
// two stacked bidirectional LSTM-256; a small LSTM N=16 T=50 I=32 H=64.
// Memory: the bytes the forward pass keeps for the backward pass (activations), the bytes only
// the backward pass adds (gradient buffers, backward scratch), and the process RSS growth over
// the first step (which sizes every workspace); the acceptance bar is peak added ≤ 2× activations.
// Writes bench-results/train.json records {name, value, unit, reference, referenceValue, ratio}.

import { parseArgs } from 'node:util';
import { toOnnx } from '../src/graph/export.js';
import { Rng } from '../src/layers/random.js';
import { dense, gru, lstm, rnn, type LayerSpec } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';
import { native } from '../src/native.js';
import { InferenceModel } from '../src/runtime/inference.js';
import { Trainer } from '../src/train/trainer.js';
import { median, printTable, record, writeResults, type BenchRecord } from './report.js';

interface Case {
  name: string;
  N: number;
  T: number;
  I: number;
  layers: LayerSpec[];
}

const CASES: Case[] = [
  { name: 'lstm256', N: 64, T: 100, I: 64, layers: [lstm({ units: 256, returnSequences: true }), dense({ units: 1 })] },
  { name: 'gru256', N: 64, T: 100, I: 64, layers: [gru({ units: 256, returnSequences: true }), dense({ units: 1 })] },
  { name: 'rnn256', N: 64, T: 100, I: 64, layers: [rnn({ units: 256, returnSequences: true }), dense({ units: 1 })] },
  {
    name: 'blstm256x2', N: 64, T: 100, I: 64,
    layers: [lstm({ units: 256, direction: 'bidirectional', returnSequences: true }), lstm({ units: 256, direction: 'bidirectional', returnSequences: true }), dense({ units: 1 })],
  },
  { name: 'lstm64-small', N: 16, T: 50, I: 32, layers: [lstm({ units: 64, returnSequences: true }), dense({ units: 1 })] },
];

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { reps: { type: 'string', default: '10' }, threads: { type: 'string', default: '2' }, cases: { type: 'string' } },
  });
  const reps = Number(values.reps);
  const threads = Number(values.threads);
  const wanted = values.cases ? values.cases.split(',') : CASES.map((c) => c.name);
  const records: BenchRecord[] = [];
  const rows: string[][] = [];
  console.log(`train step vs ONNX Runtime forward; addon gemm kernel ${native().gemmKernel()}, ${threads} threads, ORT intraOpNumThreads 2, median of ${reps}`);
  for (const c of CASES.filter((k) => wanted.includes(k.name))) {
    const model = Model.create({ inputSize: c.I, layers: c.layers }, { seed: 1 });
    const rng = new Rng(2);
    const x = Float32Array.from({ length: c.N * c.T * c.I }, () => rng.range(-1, 1));
    const y = Float32Array.from({ length: c.N * c.T }, () => rng.range(-1, 1));
    const batch = { x, batch: c.N, time: c.T, y };

    // ONNX Runtime forward of the same model (exported before training changes the weights; the
    // cost does not depend on the values).
    const session = await InferenceModel.open(toOnnx(model), { providers: ['cpu'], intraOpNumThreads: 2 });
    const ortTimes: number[] = [];
    for (let i = 0; i < reps + 3; i++) {
      const t0 = performance.now();
      await session.run(x, { batch: c.N, time: c.T });
      if (i >= 3) ortTimes.push(performance.now() - t0);
    }
    await session.release();

    const trainer = new Trainer(model, { loss: 'mse', optimizer: { type: 'adam', lr: 1e-3 }, clipNorm: 1, threads });
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    await trainer.step(batch);
    const rssAfter = process.memoryUsage().rss;
    await trainer.step(batch);
    const stepTimes: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      await trainer.step(batch);
      stepTimes.push(performance.now() - t0);
    }
    const info = trainer.info();
    trainer.dispose();

    const step = median(stepTimes);
    const fwd = median(ortTimes);
    const added = info.activationBytes + info.backwardBytes;
    records.push(
      record(`train step ${c.name} N=${c.N} T=${c.T} I=${c.I}`, step, 'ms', 'onnxruntime-node forward, same model and batch (cpu, intraOpNumThreads 2)', fwd),
      record(`step workspace ${c.name}`, added, 'bytes', 'activations kept for the backward pass', info.activationBytes),
      record(`step RSS growth ${c.name} (first step)`, rssAfter - rssBefore, 'bytes', 'activations kept for the backward pass', info.activationBytes),
    );
    rows.push([
      c.name, step.toFixed(1), fwd.toFixed(1), (step / fwd).toFixed(2),
      (info.activationBytes / 2 ** 20).toFixed(1), (info.backwardBytes / 2 ** 20).toFixed(1), ((rssAfter - rssBefore) / 2 ** 20).toFixed(1), (added / info.activationBytes).toFixed(2),
    ]);
  }
  printTable(['case', 'step ms', 'ORT fwd ms', 'ratio', 'activ MiB', 'bwd MiB', 'RSS+ MiB', 'added/activ'], rows, () => 'right');
  writeResults('train', records);
}
