// `npm run bench -- infer [--batch 1,16,64] [--threads 1,2] [--time 100] [--iterations 20]`:
// ONNX Runtime inference of the default LSTM (I=64, H=256) through rnnx's InferenceModel, with
// the same graph run through a bare onnxruntime-node session in the same process as the
// reference, so the ratio shows what rnnx's wrapper costs. Writes bench-results/infer.json.

import * as ort from 'onnxruntime-node';
// The nearest-rank percentile of `rnnx bench` (which times the rnnx side), so both sides agree.
import { benchInference, benchModelBytes, inferenceTable, percentile } from '../src/bench/inference.js';
import { record, writeResults, type BenchRecord } from './report.js';

function flag(args: string[], name: string, dflt: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
}
const ints = (s: string) => s.split(',').map(Number);

async function bareOrt(bytes: Uint8Array, batch: number, time: number, threads: number, iterations: number, warmup: number): Promise<number> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: threads, graphOptimizationLevel: 'all' });
  const x = new ort.Tensor('float32', Float32Array.from({ length: batch * time * 64 }, (_, i) => Math.sin(i)), [batch, time, 64]);
  for (let i = 0; i < warmup; i++) await session.run({ x });
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    await session.run({ x });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  await session.release();
  return percentile(times.sort((a, b) => a - b), 50);
}

export async function run(args: string[]): Promise<void> {
  const batches = ints(flag(args, 'batch', '1,16,64'));
  const threads = ints(flag(args, 'threads', '1,2'));
  const time = Number(flag(args, 'time', '100'));
  const iterations = Number(flag(args, 'iterations', '20'));
  const warmup = 3;
  const bytes = benchModelBytes();
  const rows = await benchInference({ model: bytes, batches, threads, providers: ['cpu'], time, iterations, warmup });
  console.log(inferenceTable(rows));
  const records: (BenchRecord & { throughputSeqPerSec: number; p90Ms: number; p99Ms: number })[] = [];
  for (const r of rows) {
    const ref = await bareOrt(bytes, r.batch, time, r.threads, iterations, warmup);
    records.push({
      ...record(`infer.lstm_i64_h256.p50_ms.batch${r.batch}.t${time}.threads${r.threads}`, r.p50Ms, 'ms', 'bare onnxruntime-node InferenceSession.run, same graph and process', ref),
      throughputSeqPerSec: r.sequencesPerSec,
      p90Ms: r.p90Ms,
      p99Ms: r.p99Ms,
    });
    console.log(`batch ${r.batch} threads ${r.threads}: rnnx p50 ${r.p50Ms.toFixed(3)} ms, bare ORT p50 ${ref.toFixed(3)} ms, ratio ${(r.p50Ms / ref).toFixed(3)}`);
  }
  writeResults('infer', records);
}
