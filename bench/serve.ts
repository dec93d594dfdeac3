// `npm run bench -- serve [--duration S] [--http-duration S] [--callers N] [--max-batch N] [--threads N] [--workers N] [--rounds N]`
//
// Serving throughput for LSTM T=100 I=64 H=256 + dense(1), exported with sequence_lens. In one run:
//   1. one ONNX Runtime run per request (no batching), 256 concurrent in-process callers;
//   2. one ONNX Runtime run at the batcher's maximum batch size, back to back (the ceiling);
//   3. the dynamic batcher, 256 concurrent in-process callers submitting single sequences;
//   4. the same on a worker_threads pool (event loop free; the threads split among workers);
//   5. over HTTP on 127.0.0.1: the server as a child process, autocannon as the load generator.
// Beside them: ORT's cost per sequence at batch 1, 8, 64, 256 (the most batching can gain on
// this CPU) and phases 1-3 for a small LSTM (H=32), where ORT's fixed cost per call dominates;
// and the host's event-loop delay p99 under the same load with the service's defaults (worker
// pool) against workers: 0 (ONNX Runtime on the event loop).
// Every phase is bounded in time. Prints a table and writes bench-results/serve.json records
// {name, value, unit, reference, referenceValue, ratio}.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { saveModel } from '../src/graph/io.js';
import { Rng } from '../src/layers/random.js';
import { dense, lstm } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';
import { InferenceModel } from '../src/runtime/inference.js';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { LATENCY_BUCKETS as LATENCY_BUCKETS_S, openService, type InferenceService } from '../src/serve/service.js';
import { newRegistry } from '../src/serve/metrics.js';
import { percentile, printTable, record, writeResults, type BenchRecord } from './report.js';

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  duration: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;

const T = 100;
const I = 64;
const H = 256;

/** `callers` concurrent loops each awaiting `call(i)` until `seconds` pass; latency per call. */
async function closedLoop(callers: number, seconds: number, call: (i: number) => Promise<unknown>): Promise<{ perSecond: number; p50: number; p99: number; count: number }> {
  const lat: number[] = [];
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(Array.from({ length: callers }, async (_, i) => {
    while (performance.now() < deadline) {
      const s = performance.now();
      await call(i);
      lat.push(performance.now() - s);
    }
  }));
  const elapsed = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { perSecond: lat.length / elapsed, p50: percentile(lat, 50), p99: percentile(lat, 99), count: lat.length };
}

async function timed(seconds: number, fn: () => Promise<unknown>): Promise<{ perSecond: number; msEach: number; count: number }> {
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  let count = 0;
  while (performance.now() < deadline) {
    await fn();
    count++;
  }
  const ms = performance.now() - t0;
  return { perSecond: (count * 1000) / ms, msEach: ms / count, count };
}

async function warm(svc: InferenceService, xs: Float32Array[], callers: number): Promise<void> {
  await closedLoop(callers, 0.5, (i) => svc.predict(xs[i % xs.length]));
}

/** Cumulative counts of rnnx_http_request_duration_seconds for /v1/predict, one per bucket (+Inf last). */
function serverLatency(metrics: string): number[] {
  const out: number[] = [];
  for (const m of metrics.matchAll(/rnnx_http_request_duration_seconds_bucket\{le="([^"]+)",route="\/v1\/predict"\} (\d+)/g)) out.push(Number(m[2]));
  return out;
}

async function httpPhase(modelPath: string, body: string, opts: { connections: number; seconds: number; maxBatch: number; threads: number; workers: number }): Promise<AutocannonResult & { exitCode: number | null; serverP50: number; serverP99: number }> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const child = spawn(process.execPath, [
    '--import', 'tsx', 'src/serve/main.ts', modelPath, '--port', '0', '--host', '127.0.0.1',
    '--max-batch', String(opts.maxBatch), '--max-wait-ms', '2', '--threads', String(opts.threads), '--workers', String(opts.workers),
  ], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (l) => {
        const m = JSON.parse(l) as { listening?: string };
        if (m.listening) resolve(m.listening);
      });
      void exited.then((code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
    });
    const name = 'autocannon'; // no type declarations ship with it: typed locally above
    const autocannon = ((await import(name)) as { default: Autocannon }).default;
    const common = { url: `${url}/v1/predict`, method: 'POST', body, headers: { 'content-type': 'application/json' }, connections: opts.connections, pipelining: 1 };
    await autocannon({ ...common, duration: 1 }); // warm-up
    const before = serverLatency(await (await fetch(`${url}/metrics`)).text());
    const result = await autocannon({ ...common, duration: opts.seconds });
    const after = serverLatency(await (await fetch(`${url}/metrics`)).text());
    // Server-side view of the same requests (body read to response end), from /metrics.
    const counts = after.map((c, i) => c - (before[i] ?? 0));
    const total = counts[counts.length - 1];
    const quantile = (q: number) => LATENCY_BUCKETS_S[counts.findIndex((c) => c >= q * total)] ?? Infinity;
    child.kill('SIGTERM');
    const exitCode = await exited;
    return { ...result, exitCode, serverP50: quantile(0.5) * 1000, serverP99: quantile(0.99) * 1000 };
  } finally {
    child.kill('SIGKILL');
  }
}

interface Comparison {
  /** One ORT run at maxBatch, back to back. */
  ceiling: { msEach: number; seqPerSecond: number };
  perRequest: { perSecond: number; p50: number; p99: number };
  batched: { perSecond: number; p50: number; p99: number };
  /** The batcher on a worker pool (when asked for). */
  pooled: { perSecond: number; p50: number; p99: number } | null;
  meanBatch: number;
}

/**
 * Phases 1-3 for one model, in rounds, interleaved, so that load from other processes on this
 * shared machine hits all three alike; each figure is the median over the rounds.
 */
async function compare(label: string, modelPath: string, xs: Float32Array[], o: { callers: number; maxBatch: number; threads: number; seconds: number; rounds: number; workers: number }): Promise<Comparison> {
  const { callers, maxBatch, threads, seconds, rounds: roundCount, workers } = o;
  const ort = await InferenceModel.open(modelPath, { intraOpNumThreads: threads });
  const svc = await openService(modelPath, { maxBatch, maxWaitMs: 2, maxQueue: 4 * callers, intraOpNumThreads: threads, workers: 0, registry: newRegistry() });
  // The pool splits the same cores: each worker's session gets threads / workers.
  const pool = workers > 0
    ? await openService(modelPath, { maxBatch, maxWaitMs: 2, maxQueue: 4 * callers, intraOpNumThreads: Math.max(1, Math.floor(threads / workers)), workers, registry: newRegistry() })
    : null;
  try {
    const big = new Float32Array(maxBatch * T * I);
    for (let b = 0; b < maxBatch; b++) big.set(xs[b % xs.length], b * T * I);
    await timed(0.5, () => ort.run(big, { batch: maxBatch }));
    await timed(0.3, () => ort.run(xs[0], { batch: 1 }));
    await warm(svc, xs, callers);
    if (pool) await warm(pool, xs, callers);
    const sizes: number[] = [];
    const prev = svc.batcher.onBatch;
    svc.batcher.onBatch = (e) => {
      sizes.push(e.size);
      prev?.(e);
    };
    type Loop = Awaited<ReturnType<typeof closedLoop>>;
    const rounds: { ceiling: Awaited<ReturnType<typeof timed>>; perRequest: Loop; batched: Loop; pooled: Loop | null }[] = [];
    for (let r = 0; r < roundCount; r++) {
      const ceiling = await timed(seconds / roundCount, () => ort.run(big, { batch: maxBatch }));
      const perRequest = await closedLoop(callers, seconds / roundCount, (i) => ort.run(xs[i], { batch: 1 }));
      const batched = await closedLoop(callers, seconds / roundCount, (i) => svc.predict(xs[i]));
      const pooled = pool ? await closedLoop(callers, seconds / roundCount, (i) => pool.predict(xs[i])) : null;
      rounds.push({ ceiling, perRequest, batched, pooled });
      console.log(`${label} round ${r + 1}: batch-${maxBatch} run ${ceiling.msEach.toFixed(1)} ms (${(ceiling.perSecond * maxBatch).toFixed(0)} seq/s), one run per request ${perRequest.perSecond.toFixed(0)} seq/s, batched ${batched.perSecond.toFixed(0)} seq/s${pooled ? `, batched on ${workers} workers ${pooled.perSecond.toFixed(0)} seq/s` : ''}`);
    }
    const median = (pick: (r: (typeof rounds)[number]) => number): number => {
      const v = rounds.map(pick).sort((a, b) => a - b);
      return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    };
    return {
      ceiling: { msEach: median((r) => r.ceiling.msEach), seqPerSecond: median((r) => r.ceiling.perSecond) * maxBatch },
      perRequest: { perSecond: median((r) => r.perRequest.perSecond), p50: median((r) => r.perRequest.p50), p99: median((r) => r.perRequest.p99) },
      batched: { perSecond: median((r) => r.batched.perSecond), p50: median((r) => r.batched.p50), p99: median((r) => r.batched.p99) },
      pooled: pool ? { perSecond: median((r) => r.pooled!.perSecond), p50: median((r) => r.pooled!.p50), p99: median((r) => r.pooled!.p99) } : null,
      meanBatch: sizes.reduce((a, b) => a + b, 0) / sizes.length,
    };
  } finally {
    await svc.close();
    await pool?.close();
    await ort.release();
  }
}

/**
 * The host's event-loop delay while `callers` in-process callers load a service: with the
 * defaults (no tuning at all: the worker pool) and, as the reference, with workers: 0 (ONNX
 * Runtime on the event loop). perf_hooks.monitorEventLoopDelay at 1 ms resolution; p99 in ms.
 */
async function eventLoopPhase(modelPath: string, xs: Float32Array[], callers: number, seconds: number): Promise<{ defaults: { p99: number; perSecond: number; workers: number }; inProcess: { p99: number; perSecond: number } }> {
  const measure = async (svc: InferenceService) => {
    await warm(svc, xs, callers);
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    const r = await closedLoop(callers, seconds, (i) => svc.predict(xs[i % xs.length]));
    h.disable();
    return { p99: h.percentile(99) / 1e6, perSecond: r.perSecond };
  };
  const defaults = await openService(modelPath, { maxQueue: 4 * callers, registry: newRegistry() });
  let d;
  try {
    d = { ...(await measure(defaults)), workers: defaults.engine.workers };
  } finally {
    await defaults.close();
  }
  const local = await openService(modelPath, { maxQueue: 4 * callers, workers: 0, registry: newRegistry() });
  try {
    return { defaults: d, inProcess: await measure(local) };
  } finally {
    await local.close();
  }
}

/** ORT's own cost per sequence by batch size: the most batching can gain on this machine. */
async function sweep(modelPath: string, xs: Float32Array[], threads: number): Promise<{ n: number; ms: number }[]> {
  const ort = await InferenceModel.open(modelPath, { intraOpNumThreads: threads });
  const out: { n: number; ms: number }[] = [];
  for (const n of [1, 8, 64, 256]) {
    const xn = new Float32Array(n * T * I);
    for (let b = 0; b < n; b++) xn.set(xs[b % xs.length], b * T * I);
    await ort.run(xn, { batch: n });
    out.push({ n, ms: (await timed(0.6, () => ort.run(xn, { batch: n }))).msEach });
  }
  await ort.release();
  return out;
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      duration: { type: 'string', default: '8' },
      'http-duration': { type: 'string', default: '8' },
      callers: { type: 'string', default: '256' },
      'max-batch': { type: 'string', default: '64' },
      threads: { type: 'string', default: '2' },
      workers: { type: 'string', default: '2' },
      rounds: { type: 'string', default: '8' },
    },
  });
  const seconds = Number(values.duration);
  const httpSeconds = Number(values['http-duration']);
  const callers = Number(values.callers);
  const maxBatch = Number(values['max-batch']);
  const threads = Number(values.threads);
  const workers = Number(values.workers);
  const rounds = Number(values.rounds);
  for (const [k, v] of Object.entries({ seconds, httpSeconds, callers, maxBatch, threads, workers, rounds })) {
    if (!Number.isFinite(v) || v < 0 || (k !== 'workers' && v <= 0) || v > 3600) throw new Error(`serve bench: ${k} must be a positive number, got ${v}`);
  }

  const dir = mkdtempSync(join(tmpdir(), 'rnnx-bench-serve-'));
  const records: BenchRecord[] = [];
  try {
    const model = Model.create({ inputSize: I, layers: [lstm({ units: H }), dense({ units: 1 })] }, { seed: 1 });
    const modelPath = join(dir, 'lstm256.onnx');
    saveModel(model, modelPath, { sequenceLens: true });
    // A small model beside it: where ORT's fixed cost per call dominates, batching gains most.
    const small = Model.create({ inputSize: I, layers: [lstm({ units: 32 }), dense({ units: 1 })] }, { seed: 1 });
    const smallPath = join(dir, 'lstm32.onnx');
    saveModel(small, smallPath, { sequenceLens: true });
    const rng = new Rng(7);
    const xs = Array.from({ length: callers }, () => Float32Array.from({ length: T * I }, () => rng.range(-1, 1)));
    console.log(`serve bench: LSTM T=${T} I=${I} H=${H} + dense(1), ${callers} callers, maxBatch ${maxBatch}, ${threads} ORT threads, ${seconds} s a phase in ${rounds} rounds`);

    const main = await compare(`H=${H}`, modelPath, xs, { callers, maxBatch, threads, seconds, rounds, workers });
    const costs = await sweep(modelPath, xs, threads);
    const smallCmp = await compare('H=32', smallPath, xs, { callers, maxBatch, threads, seconds: Math.max(1, seconds / 2), rounds: Math.max(1, Math.round(rounds / 2)), workers });
    const loop = await eventLoopPhase(modelPath, xs, callers, Math.max(1, seconds / 2));
    console.log(`event-loop delay p99 under ${callers} callers: defaults (${loop.defaults.workers} workers) ${loop.defaults.p99.toFixed(1)} ms, in process ${loop.inProcess.p99.toFixed(1)} ms`);
    const pooled = main.pooled;

    // 5: HTTP on loopback with autocannon.
    const rows: number[][] = [];
    for (let t = 0; t < T; t++) rows.push(Array.from(xs[0].subarray(t * I, (t + 1) * I), (v) => Math.round(v * 1e4) / 1e4));
    const body = JSON.stringify({ input: rows });
    const http = await httpPhase(modelPath, body, { connections: callers, seconds: httpSeconds, maxBatch, threads, workers: 0 });
    const httpPool = workers > 0
      ? await httpPhase(modelPath, body, { connections: callers, seconds: httpSeconds, maxBatch, threads: Math.max(1, Math.floor(threads / workers)), workers })
      : null;

    const { ceiling, perRequest, batched } = main;
    records.push(
      record('ORT one run per request: throughput', perRequest.perSecond, 'seq/s'),
      record(`ORT one run at batch ${maxBatch}: throughput`, ceiling.seqPerSecond, 'seq/s'),
      record(`ORT one run at batch ${maxBatch}: time`, ceiling.msEach, 'ms'),
      record('batched throughput vs one run per request', batched.perSecond, 'seq/s', 'ORT one run per request', perRequest.perSecond),
      record(`batched throughput vs one ORT run at batch ${maxBatch}`, batched.perSecond, 'seq/s', `ORT one run at batch ${maxBatch}`, ceiling.seqPerSecond),
      record('batched mean batch size', main.meanBatch, 'requests', 'maxBatch', maxBatch),
      record('batched p50 latency', batched.p50, 'ms', `ORT one run at batch ${maxBatch}`, ceiling.msEach),
      record('batched p99 latency', batched.p99, 'ms', `ORT one run at batch ${maxBatch}`, ceiling.msEach),
      record('one run per request p50 latency', perRequest.p50, 'ms'),
      record('one run per request p99 latency', perRequest.p99, 'ms'),
      ...costs.map(({ n, ms }) => record(`ORT time per sequence at batch ${n}`, ms / n, 'ms/seq', 'ORT time per sequence at batch 1', costs[0].ms)),
      record('H=32: batched throughput vs one run per request', smallCmp.batched.perSecond, 'seq/s', 'H=32: ORT one run per request', smallCmp.perRequest.perSecond),
      record(`H=32: batched throughput vs one ORT run at batch ${maxBatch}`, smallCmp.batched.perSecond, 'seq/s', `H=32: ORT one run at batch ${maxBatch}`, smallCmp.ceiling.seqPerSecond),
      record('H=32: batched p50 latency', smallCmp.batched.p50, 'ms', `H=32: ORT one run at batch ${maxBatch}`, smallCmp.ceiling.msEach),
      record('H=32: batched p99 latency', smallCmp.batched.p99, 'ms', `H=32: ORT one run at batch ${maxBatch}`, smallCmp.ceiling.msEach),
      record(`event-loop delay p99, defaults (${loop.defaults.workers} workers), ${callers} callers`, loop.defaults.p99, 'ms', 'event-loop delay p99, workers 0 (ORT on the event loop)', loop.inProcess.p99),
      record(`batched throughput, defaults (${loop.defaults.workers} workers)`, loop.defaults.perSecond, 'seq/s', 'batched throughput, workers 0', loop.inProcess.perSecond),
    );
    if (smallCmp.pooled) {
      records.push(record(`H=32: batched throughput, ${workers} workers vs one ORT run at batch ${maxBatch}`, smallCmp.pooled.perSecond, 'seq/s', `H=32: ORT one run at batch ${maxBatch}`, smallCmp.ceiling.seqPerSecond));
    }
    if (pooled) {
      records.push(
        record(`batched throughput, ${workers} workers x ${Math.max(1, Math.floor(threads / workers))} thread(s)`, pooled.perSecond, 'seq/s', 'batched throughput in process', batched.perSecond),
        record(`batched throughput, ${workers} workers vs one ORT run at batch ${maxBatch}`, pooled.perSecond, 'seq/s', `ORT one run at batch ${maxBatch}`, ceiling.seqPerSecond),
        record(`batched p99 latency, ${workers} workers`, pooled.p99, 'ms', 'batched p99 latency in process', batched.p99),
      );
    }
    const httpRecords = (label: string, r: typeof http) => [
      record(`HTTP requests/s (${label})`, r.requests.average, 'req/s', 'batched throughput in process', batched.perSecond),
      record(`HTTP p50 latency (${label})`, r.latency.p50, 'ms', 'batched p50 latency in process', batched.p50),
      record(`HTTP p99 latency (${label})`, r.latency.p99, 'ms', 'batched p99 latency in process', batched.p99),
      record(`HTTP server-side p50 latency, bucket bound (${label})`, r.serverP50, 'ms', 'batched p50 latency in process', batched.p50),
      record(`HTTP server-side p99 latency, bucket bound (${label})`, r.serverP99, 'ms', 'batched p99 latency in process', batched.p99),
      record(`HTTP non-2xx + errors (${label})`, r.non2xx + r.errors + r.timeouts, 'responses', 'requests', r.requests.total),
      record(`HTTP server exit code after SIGTERM (${label})`, r.exitCode ?? -1, 'code'),
    ];
    records.push(...httpRecords('in-process ORT', http));
    if (httpPool) records.push(...httpRecords(`${workers} worker(s)`, httpPool));

    const num = (v: number | null) => (v === null ? '' : v >= 100 ? v.toFixed(0) : v.toFixed(2));
    console.log('');
    printTable(['name', 'value', 'unit', 'reference', 'ref', 'ratio'], records.map((r) => [r.name, num(r.value), r.unit, r.reference ?? '', num(r.referenceValue), r.ratio === null ? '' : r.ratio.toFixed(3)]));
    const vsBaseline = batched.perSecond / perRequest.perSecond;
    const vsCeiling = batched.perSecond / ceiling.seqPerSecond;
    console.log(`\nHTTP: autocannon, ${callers} connections, ${httpSeconds} s, one T=${T} sequence per request as JSON (${body.length} bytes)`);
    const smallVsCeiling = smallCmp.batched.perSecond / smallCmp.ceiling.seqPerSecond;
    // The efficiency targets are judged on what a user gets by default: the worker pool (workers > 0);
    // the in-process figure (ORT on the event loop) is printed beside it.
    const ratio = (c: Comparison) => (c.pooled ?? c.batched).perSecond / c.ceiling.seqPerSecond;
    const where = main.pooled ? `defaults (${workers} workers)` : 'in process';
    const pct = (v: number) => `${(v * 100).toFixed(0)}%`;
    const pass = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
    console.log(
      `targets: batched >= 10x one-run-per-request: ${vsBaseline.toFixed(1)}x ${pass(vsBaseline >= 10)}; ` +
      `H=${H} >= 90% of one ORT run at batch ${maxBatch}: ${where} ${pct(ratio(main))} ${pass(ratio(main) >= 0.9)} (in process ${pct(vsCeiling)}); ` +
      `H=32 >= 90%: ${where} ${pct(ratio(smallCmp))} ${pass(ratio(smallCmp) >= 0.9)} (in process ${pct(smallVsCeiling)}); ` +
      `event-loop delay p99 <= 10 ms with defaults: ${loop.defaults.p99.toFixed(1)} ms ${pass(loop.defaults.p99 <= 10)}`,
    );
    console.log(`ORT alone: batch ${maxBatch} costs ${(costs.find((c) => c.n === 64)?.ms ?? NaN).toFixed(1)} ms = ${((costs.find((c) => c.n === 64)?.ms ?? NaN) / costs[0].ms).toFixed(1)}x one batch-1 run, so batching can gain at most ${(64 * costs[0].ms / (costs.find((c) => c.n === 64)?.ms ?? NaN)).toFixed(1)}x here`);

    writeResults('serve', records);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
