// The inference benchmark shared by `rnnx bench` (src/cli/commands/bench.ts) and
// `npm run bench -- infer` (bench/infer.ts): latency percentiles and throughput of ONNX Runtime
// sessions over batch sizes, intra-op thread counts and providers. Training steps per second:
// training.ts beside it.

import { toOnnx } from '../graph/export.js';
import { Model } from '../model/model.js';
import type { ModelSpec } from '../layers/spec.js';
import { InferenceModel } from '../runtime/inference.js';
import type { ProviderName } from '../runtime/providers.js';
import { Rng } from '../layers/random.js';
import { formatTable } from '../cli/output.js';

export interface InferBenchOptions {
  /** .onnx path or bytes. */
  model: string | Uint8Array;
  batches: number[];
  threads: number[];
  providers: ProviderName[];
  time: number;
  iterations: number;
  warmup: number;
  /** Called after each configuration (progress). */
  onResult?: (r: InferBenchResult) => void;
}

export interface InferBenchResult {
  /** Provider asked for, and the one the session really ran on. */
  requested: ProviderName;
  provider: ProviderName;
  threads: number;
  batch: number;
  time: number;
  iterations: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  /** Sequences per second at this batch size. */
  sequencesPerSec: number;
  /** Sequence steps (batch × time) per second. */
  stepsPerSec: number;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const k = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[k];
}

/** The default benchmark model: LSTM I=64 H=256 (the reference shape of the README's Speed table). */
export const DEFAULT_BENCH_SPEC: ModelSpec = {
  inputSize: 64,
  layers: [{ kind: 'lstm', units: 256, direction: 'forward', returnSequences: false, dropout: 0, recurrentDropout: 0, zoneoutH: 0, zoneoutC: 0, peepholes: false, clip: null, inputForget: false }],
};

export function defaultBenchModel(): Model {
  return Model.create(DEFAULT_BENCH_SPEC, { seed: 1 });
}

export async function benchInference(o: InferBenchOptions): Promise<InferBenchResult[]> {
  const results: InferBenchResult[] = [];
  const bytes = o.model;
  for (const requested of o.providers) {
    for (const threads of o.threads) {
      const session = await InferenceModel.open(bytes, { providers: [requested], intraOpNumThreads: threads });
      try {
        const I = session.inputSize;
        if (I === null) throw new Error('bench: the model input x has no fixed feature dimension');
        const rng = new Rng(7);
        for (const batch of o.batches) {
          const x = Float32Array.from({ length: batch * o.time * I }, () => rng.range(-1, 1));
          const lens = session.hasSequenceLens ? { sequenceLens: new Int32Array(batch).fill(o.time) } : {};
          for (let i = 0; i < o.warmup; i++) await session.run(x, { batch, time: o.time, ...lens });
          const times: number[] = [];
          for (let i = 0; i < o.iterations; i++) {
            const t0 = process.hrtime.bigint();
            await session.run(x, { batch, time: o.time, ...lens });
            times.push(Number(process.hrtime.bigint() - t0) / 1e6);
          }
          const sorted = times.slice().sort((a, b) => a - b);
          const mean = times.reduce((a, b) => a + b, 0) / times.length;
          const r: InferBenchResult = {
            requested,
            provider: session.provider,
            threads,
            batch,
            time: o.time,
            iterations: o.iterations,
            meanMs: mean,
            p50Ms: percentile(sorted, 50),
            p90Ms: percentile(sorted, 90),
            p99Ms: percentile(sorted, 99),
            sequencesPerSec: (batch * 1000) / mean,
            stepsPerSec: (batch * o.time * 1000) / mean,
          };
          results.push(r);
          o.onResult?.(r);
        }
      } finally {
        await session.release();
      }
    }
  }
  return results;
}

export function inferenceTable(rows: InferBenchResult[]): string {
  const head = ['provider', 'threads', 'batch', 'time', 'mean ms', 'p50 ms', 'p90 ms', 'p99 ms', 'seq/s', 'steps/s'];
  const body = rows.map((r) => [
    r.provider === r.requested ? r.provider : `${r.provider} (asked ${r.requested})`,
    String(r.threads), String(r.batch), String(r.time),
    r.meanMs.toFixed(3), r.p50Ms.toFixed(3), r.p90Ms.toFixed(3), r.p99Ms.toFixed(3),
    r.sequencesPerSec.toFixed(1), r.stepsPerSec.toFixed(0),
  ]);
  return formatTable([head, ...body], (c) => (c === 0 ? 'left' : 'right'));
}

/** Bytes of the default model, or of the given model file. */
export function benchModelBytes(model?: Model): Uint8Array {
  return toOnnx(model ?? defaultBenchModel());
}
