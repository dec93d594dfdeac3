// `npm run bench -- train [--reps N] [--min-ms MS] [--threads N] [--cases lstm256,gru256,...]`
//
// One fused training step on the addon (forward, loss, BPTT, clipping, Adam update; async
// step() as fit uses it) next to ONNX Runtime's forward pass of the same exported model on the
// same batch (CPU provider, intraOpNumThreads 2), both measured in this run, interleaved (one
// forward, one step, --reps times after warm-up) so that both see the same machine load.
// --reps is a minimum: a cheap case repeats until about --min-ms (default 3000) of interleaved
// pairs have been timed, so that the small LSTM's sub-millisecond median rests on hundreds of
// pairs, not ten. Reported: the median wall time of each (the figure), the ratio of the best (least disturbed)
// repetitions, and the ratio of process CPU time (all threads, spinning included), which a
// machine shared with other work inflates much less than wall time. Cases: LSTM N=64 T=100 I=64 H=256 with a per-step dense(1), MSE, Adam,
// clipNorm 1 (the acceptance case: step ≤ 5× forward); GRU-256 and RNN-256 on the same shapes;
// two stacked bidirectional LSTM-256; a small LSTM N=16 T=50 I=32 H=64; a big LSTM N=256 T=100
// I=128 H=512.
// Memory: the bytes the forward pass keeps for the backward pass (activations), the bytes only
// the backward pass adds (gradient buffers, backward scratch), and the process RSS growth over
// the first step (which sizes every workspace); the acceptance bar is peak added ≤ 2× activations.
// Writes bench-results/train.json records {name, value, unit, reference, referenceValue, ratio}.

import { loadavg } from 'node:os';
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
  { name: 'lstm512-big', N: 256, T: 100, I: 128, layers: [lstm({ units: 512, returnSequences: true }), dense({ units: 1 })] },
];

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      reps: { type: 'string', default: '10' }, 'min-ms': { type: 'string', default: '3000' },
      threads: { type: 'string', default: '2' }, cases: { type: 'string' },
    },
  });
  const minReps = Number(values.reps);
  const minMs = Number(values['min-ms']);
  const threads = Number(values.threads);
  const wanted = values.cases ? values.cases.split(',') : CASES.map((c) => c.name);
  const records: BenchRecord[] = [];
  const rows: string[][] = [];
  console.log(`train step vs ONNX Runtime forward; addon gemm kernel ${native().gemmKernel()}, ${threads} threads, ORT intraOpNumThreads 2, median of at least ${minReps} interleaved pairs (and ${minMs} ms); load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  for (const c of CASES.filter((k) => wanted.includes(k.name))) {
    const model = Model.create({ inputSize: c.I, layers: c.layers }, { seed: 1 });
    const rng = new Rng(2);
    const x = Float32Array.from({ length: c.N * c.T * c.I }, () => rng.range(-1, 1));
    const y = Float32Array.from({ length: c.N * c.T }, () => rng.range(-1, 1));
    const batch = { x, batch: c.N, time: c.T, y };

    // ONNX Runtime forward of the same model (exported before training changes the weights; the
    // cost does not depend on the values).
    const session = await InferenceModel.open(toOnnx(model), { providers: ['cpu'], intraOpNumThreads: 2 });
    const trainer = new Trainer(model, { loss: 'mse', optimizer: { type: 'adam', lr: 1e-3 }, clipNorm: 1, threads });
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    await trainer.step(batch);
    const rssAfter = process.memoryUsage().rss;
    let pairMs = 0;
    for (let i = 0; i < 2; i++) {
      const t0 = performance.now();
      await session.run(x, { batch: c.N, time: c.T });
      await trainer.step(batch);
      pairMs = performance.now() - t0;
    }
    const reps = Math.max(minReps, Math.min(5000, Math.ceil(minMs / pairMs)));
    const ortTimes: number[] = [];
    const ortCpu: number[] = [];
    const stepTimes: number[] = [];
    const stepCpu: number[] = [];
    const timed = async (f: () => Promise<unknown>, wall: number[], cpu: number[]) => {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await f();
      wall.push(performance.now() - t0);
      const used = process.cpuUsage(c0);
      cpu.push((used.user + used.system) / 1000);
    };
    for (let i = 0; i < reps; i++) {
      await timed(() => session.run(x, { batch: c.N, time: c.T }), ortTimes, ortCpu);
      await timed(() => trainer.step(batch), stepTimes, stepCpu);
    }
    await session.release();
    const info = trainer.info();
    trainer.dispose();

    const step = median(stepTimes);
    const fwd = median(ortTimes);
    const bestRatio = Math.min(...stepTimes) / Math.min(...ortTimes);
    const cpuRatio = median(stepCpu) / median(ortCpu);
    const added = info.activationBytes + info.backwardBytes;
    const shape = `${c.name} N=${c.N} T=${c.T} I=${c.I}`;
    records.push(
      record(`train step ${shape}`, step, 'ms', 'onnxruntime-node forward, same model and batch (cpu, intraOpNumThreads 2)', fwd),
      record(`train step ${shape} (best of ${reps})`, Math.min(...stepTimes), 'ms', 'onnxruntime-node forward (best of the same reps)', Math.min(...ortTimes)),
      record(`train step ${shape} (process CPU time)`, median(stepCpu), 'ms', 'onnxruntime-node forward (process CPU time)', median(ortCpu)),
      record(`step workspace ${c.name}`, added, 'bytes', 'activations kept for the backward pass', info.activationBytes),
      record(`step RSS growth ${c.name} (first step)`, rssAfter - rssBefore, 'bytes', 'activations kept for the backward pass', info.activationBytes),
    );
    rows.push([
      c.name, step.toFixed(1), fwd.toFixed(1), (step / fwd).toFixed(2), bestRatio.toFixed(2), cpuRatio.toFixed(2),
      (info.activationBytes / 2 ** 20).toFixed(1), (info.backwardBytes / 2 ** 20).toFixed(1), ((rssAfter - rssBefore) / 2 ** 20).toFixed(1), (added / info.activationBytes).toFixed(2),
    ]);
  }
  printTable(['case', 'step ms', 'ORT fwd ms', 'ratio', 'best ratio', 'CPU ratio', 'activ MiB', 'bwd MiB', 'RSS+ MiB', 'added/activ'], rows, () => 'right');
  writeResults('train', records);
}
