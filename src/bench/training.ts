// Training steps per second of the native trainer (src/train) for the benchmark model, timed
// step by step on random data of the benchmark's shape.

import type { SequenceDataset } from '../data/dataset.js';
import { Rng } from '../layers/random.js';
import { outputIsSequence } from '../layers/spec.js';
import type { Model } from '../model/model.js';
import { defaultBenchModel, percentile } from './inference.js';
import { formatTable } from '../cli/output.js';

export interface TrainBenchOptions {
  model?: Model;
  batches: number[];
  time: number;
  steps: number;
  threads?: number;
}

export interface TrainBenchResult {
  batch: number;
  time: number;
  threads: number;
  steps: number;
  meanMs: number;
  p50Ms: number;
  stepsPerSec: number;
  sequencesPerSec: number;
}

function randomData(model: Model, batch: number, time: number, rng: Rng): SequenceDataset {
  const I = model.inputSize;
  const O = model.outputSize;
  const seq = outputIsSequence(model.spec);
  const x = Float32Array.from({ length: batch * time * I }, () => rng.range(-1, 1));
  const last = model.spec.layers[model.spec.layers.length - 1];
  if (last.kind === 'dense' && last.activation === 'softmax') {
    const n = seq ? batch * time : batch;
    return { x, count: batch, time, features: I, y: Int32Array.from({ length: n }, () => rng.int(O)), yShape: seq ? [batch, time] : [batch] };
  }
  const n = (seq ? batch * time : batch) * O;
  return { x, count: batch, time, features: I, y: Float32Array.from({ length: n }, () => rng.range(-1, 1)), yShape: seq ? [batch, time, O] : [batch, O] };
}

export async function benchTraining(o: TrainBenchOptions): Promise<TrainBenchResult[]> {
  const { Trainer, prepareDataset, gatherBatch } = await import('../train/index.js');
  const model = (o.model ?? defaultBenchModel()).clone();
  const rng = new Rng(11);
  const out: TrainBenchResult[] = [];
  for (const batch of o.batches) {
    const data = randomData(model, batch, o.time, rng);
    const trainer = new Trainer(model, { optimizer: { type: 'adam', lr: 1e-4 }, threads: o.threads });
    try {
      const prepared = prepareDataset(model, data, trainer.loss, 'bench data');
      const b = gatherBatch(prepared, Int32Array.from({ length: batch }, (_, i) => i), true);
      await trainer.step(b); // warm-up: workspaces are sized on the first step
      const times: number[] = [];
      for (let s = 0; s < o.steps; s++) {
        const t0 = process.hrtime.bigint();
        await trainer.step(b);
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      const mean = times.reduce((a, c) => a + c, 0) / times.length;
      out.push({
        batch,
        time: o.time,
        threads: trainer.threads,
        steps: o.steps,
        meanMs: mean,
        p50Ms: percentile(times.slice().sort((a, c) => a - c), 50),
        stepsPerSec: 1000 / mean,
        sequencesPerSec: (batch * 1000) / mean,
      });
    } finally {
      trainer.dispose();
    }
  }
  return out;
}

export function trainingTable(rows: TrainBenchResult[]): string {
  const head = ['batch', 'time', 'threads', 'steps', 'mean ms', 'p50 ms', 'steps/s', 'seq/s'];
  const body = rows.map((r) => [r.batch, r.time, r.threads, r.steps, r.meanMs.toFixed(2), r.p50Ms.toFixed(2), r.stepsPerSec.toFixed(2), r.sequencesPerSec.toFixed(1)].map(String));
  return formatTable([head, ...body], () => 'right');
}
