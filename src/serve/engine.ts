// Where the batches run: in process (one InferenceModel, its runs on the event loop thread) or
// on a worker_threads pool (one InferenceModel per worker, so the event loop stays free).
// Provider choice, CPU fallback and the CUDA peephole routing live in src/runtime (one home);
// this file only passes the preference list on and reports what each session really uses.
//
// An rnnx file serves both APIs from one path: the graph variants the server needs (with
// `sequence_lens` for batching, stateful for streams) are re-exported in memory from the
// file's spec and weights when the file itself is not already that variant.

import { Worker } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { toOnnx } from '../graph/export.js';
import { modelDataFromProto, parseModelProto, readRnnxInfo } from '../graph/io.js';
import { directionCount, isRecurrent, outputIsSequence, outputSize, type ModelSpec } from '../layers/spec.js';
import { InferenceModel } from '../runtime/inference.js';
import type { ProviderName } from '../runtime/providers.js';
import type { ModelMetadata } from '../model/types.js';
import type { RunRequest, RunResult, Runner, ServeModelInfo } from './types.js';
import { ShuttingDownError } from './errors.js';
import { readBytes } from '../data/files.js';

export type { ProviderName };

export interface EngineOptions {
  /** Execution-provider preference, e.g. ['cuda', 'cpu']; src/runtime falls back and records why. */
  providers?: ProviderName[];
  /** ONNX Runtime intra-op threads per session. */
  intraOpNumThreads?: number;
  /**
   * n >= 1: a pool of n worker threads, one session each, so no run blocks the host's event loop
   * (default: DEFAULT_WORKERS). 0: run in process, on the event loop (a 128-caller LSTM-256 load
   * stalled it up to 74 ms that way); only for hosts that do nothing else. At most MAX_WORKERS.
   */
  workers?: number;
}

/** Default pool size: two workers (measured faster than in-process and than one), fewer on one core. */
export const DEFAULT_WORKERS = Math.min(2, availableParallelism());
/** Most workers a pool may have: each holds a session and its threads, so more only thrash. */
export const MAX_WORKERS = Math.max(4, availableParallelism() * 2);

/** Checks a worker count (0 = in process); throws naming the field. */
export function checkWorkers(v: unknown, field = 'workers'): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_WORKERS) {
    throw new Error(`${field} must be an integer in [0, ${MAX_WORKERS}] (0 = in process; the limit is twice this machine's ${availableParallelism()} CPUs), got ${JSON.stringify(v)}`);
  }
  return v;
}

export interface Fallback {
  provider: string;
  reason: string;
}

export interface ServeEngine {
  /** Provider the sessions really use (the first worker's, for a pool). */
  provider: string;
  fallbacks: Fallback[];
  requestedProviders: string[];
  /** 0 in process, else the pool size. */
  workers: number;
  /** Runs that can usefully be in flight at once: 1 in process, the worker count for a pool. */
  concurrency: number;
  spec: ModelSpec | null;
  /** The file's rnnx metadata (normalisation, forecast settings), null for foreign files. */
  metadata: ModelMetadata | null;
  /** SHA-256 (hex) of the model file's bytes: client-carried stream state is bound to it. */
  hash: string;
  predict: { runner: Runner; info: ServeModelInfo };
  stream: { runner: Runner; info: ServeModelInfo } | { unsupported: string };
  close(): Promise<void>;
}

/** The graph bytes the engine opens, with what the batcher must know about each. */
export interface PreparedGraphs {
  spec: ModelSpec | null;
  metadata: ModelMetadata | null;
  hash: string;
  predict: { bytes: Uint8Array; info: ServeModelInfo };
  stream: { bytes: Uint8Array; info: ServeModelInfo } | { unsupported: string };
}

/** Serving facts of a spec's graph, for the given export variant. */
export function serveInfo(spec: ModelSpec, variant: { sequenceLens: boolean; stateful: boolean }): ServeModelInfo {
  const recurrent = spec.layers.filter(isRecurrent);
  const backwards = spec.layers.findIndex((l) => isRecurrent(l) && l.direction !== 'forward');
  const bw = spec.layers[backwards];
  return {
    inputSize: spec.inputSize,
    outputSize: outputSize(spec),
    returnsSequences: outputIsSequence(spec),
    hasSequenceLens: variant.sequenceLens,
    state: variant.stateful
      ? recurrent.map((l) => ({ directions: directionCount(l.direction), units: l.units, hasCell: l.kind === 'lstm' }))
      : [],
    needsFuture: backwards >= 0 && bw && isRecurrent(bw) ? `layers[${backwards}] (${bw.kind}) is ${bw.direction}` : null,
    stepFloats: stepFloats(spec),
  };
}

/** Per row and step: the input, each layer's output, and the gate projections ORT computes for all steps at once. */
function stepFloats(spec: ModelSpec): number {
  const gates = { rnn: 1, gru: 3, lstm: 4 } as const;
  let n = spec.inputSize;
  for (const l of spec.layers) n += isRecurrent(l) ? directionCount(l.direction) * l.units * (gates[l.kind] + 1) : l.units;
  return n;
}

/**
 * Reads a model and returns the batching graph (with sequence_lens) and the streaming graph
 * (stateful, with sequence_lens so that streams batch too). Foreign (non-rnnx) files are served
 * as they are for predict, batching only equal lengths when they lack sequence_lens, and cannot
 * stream.
 */
export function prepareGraphs(source: string | Uint8Array): PreparedGraphs {
  const name = typeof source === 'string' ? source : 'model bytes';
  const bytes = typeof source === 'string' ? readBytes(source) : source;
  const proto = parseModelProto(bytes, name);
  const info = readRnnxInfo(proto, name);
  const hash = createHash('sha256').update(bytes).digest('hex');
  if (!info) {
    const g = proto.graph!;
    const inputs = (g.input ?? []).map((i) => i.name ?? '');
    const initializers = new Set((g.initializer ?? []).map((t) => t.name ?? ''));
    const real = inputs.filter((n) => !initializers.has(n));
    const x = (g.input ?? []).find((i) => i.name === 'x');
    const ydef = (g.output ?? []).find((o) => o.name === 'y');
    const xDims = x?.type?.tensorType?.shape?.dim ?? [];
    const yDims = ydef?.type?.tensorType?.shape?.dim ?? [];
    const I = Number(xDims[2]?.dimValue ?? 0);
    const F = Number(yDims[yDims.length - 1]?.dimValue ?? 0);
    if (!x || !ydef || xDims.length !== 3 || !(I > 0) || !(F > 0) || (yDims.length !== 2 && yDims.length !== 3)) {
      throw new Error(`${name}: serving needs an rnnx file, or a graph with input x [batch, time, I] and output y [batch, F] or [batch, time, F] with fixed I and F; got inputs ${JSON.stringify(real)}`);
    }
    const extra = real.filter((n) => n !== 'x' && n !== 'sequence_lens');
    if (extra.length > 0) throw new Error(`${name}: a foreign graph must have only the inputs x and sequence_lens to be served, got also ${JSON.stringify(extra)}`);
    return {
      spec: null,
      metadata: null,
      hash,
      predict: {
        bytes,
        info: { inputSize: I, outputSize: F, returnsSequences: yDims.length === 3, hasSequenceLens: real.includes('sequence_lens'), state: [], needsFuture: null },
      },
      stream: { unsupported: 'the file was not written by rnnx, so its recurrent layers and state inputs are unknown' },
    };
  }
  const { spec, exportOptions } = info;
  let model: ReturnType<typeof modelDataFromProto> | null = null;
  const rebuilt = () => (model ??= modelDataFromProto(proto, name));
  const predictBytes = exportOptions.sequenceLens && !exportOptions.stateful ? bytes : toOnnx(rebuilt(), { sequenceLens: true, opset: exportOptions.opset });
  const predict = { bytes: predictBytes, info: serveInfo(spec, { sequenceLens: true, stateful: false }) };
  const streamInfo = serveInfo(spec, { sequenceLens: true, stateful: true });
  if (streamInfo.needsFuture) {
    return { spec, metadata: info.metadata, hash, predict, stream: { unsupported: `${streamInfo.needsFuture}: a reverse or bidirectional layer needs the future steps of the sequence, which a stream does not have yet` } };
  }
  const streamBytes = exportOptions.sequenceLens && exportOptions.stateful ? bytes : toOnnx(rebuilt(), { sequenceLens: true, stateful: true, opset: exportOptions.opset });
  return { spec, metadata: info.metadata, hash, predict, stream: { bytes: streamBytes, info: streamInfo } };
}

/**
 * Runs one batch on an open model. The batcher has already checked every request (shape, finite
 * values, state sizes), so this goes through runRaw rather than run(), whose per-call scan of
 * the whole batch would repeat that work on the hot path; the state input and output names come
 * from the model's own `stateSlots`.
 */
export async function runOn(model: InferenceModel, info: ServeModelInfo, req: RunRequest): Promise<RunResult> {
  const { batch, time } = req;
  const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', req.x, [batch, time, info.inputSize]) };
  if (model.hasSequenceLens) {
    feeds.sequence_lens = new ort.Tensor('int32', req.sequenceLens ?? new Int32Array(batch).fill(time), [batch]);
  }
  const slots = model.stateSlots;
  slots.forEach((slot, k) => {
    const dims = [slot.directions, batch, slot.hidden];
    const zeros = () => new Float32Array(slot.directions * batch * slot.hidden);
    feeds[slot.hIn] = new ort.Tensor('float32', req.state?.[k]?.h ?? zeros(), dims);
    if (slot.cIn) feeds[slot.cIn] = new ort.Tensor('float32', req.state?.[k]?.c ?? zeros(), dims);
  });
  const out = await model.runRaw(feeds);
  const y = out.y;
  if (!y) throw new Error(`the graph has no output y (outputs: ${model.outputNames.join(', ')})`);
  const result: RunResult = { y: y.data as Float32Array, dims: y.dims.map(Number) };
  if (slots.length > 0) {
    result.state = slots.map((slot) => (slot.cOut
      ? { h: out[slot.hOut].data as Float32Array, c: out[slot.cOut].data as Float32Array }
      : { h: out[slot.hOut].data as Float32Array }));
  }
  return result;
}

/** Opens the model in process or on a worker pool (see EngineOptions). */
export async function openEngine(source: string | Uint8Array, options: EngineOptions = {}): Promise<ServeEngine> {
  const workers = checkWorkers(options.workers ?? DEFAULT_WORKERS);
  const graphs = prepareGraphs(source);
  return workers === 0 ? openLocal(graphs, options) : openPool(graphs, options, workers);
}

function sessionOptions(options: EngineOptions): { providers?: ProviderName[]; intraOpNumThreads?: number } {
  const o: { providers?: ProviderName[]; intraOpNumThreads?: number } = {};
  if (options.providers) o.providers = options.providers;
  if (options.intraOpNumThreads !== undefined) o.intraOpNumThreads = options.intraOpNumThreads;
  return o;
}

async function openLocal(graphs: PreparedGraphs, options: EngineOptions): Promise<ServeEngine> {
  const predictModel = await InferenceModel.open(graphs.predict.bytes, sessionOptions(options));
  let streamModel: InferenceModel | null = null;
  try {
    if ('bytes' in graphs.stream) streamModel = await InferenceModel.open(graphs.stream.bytes, sessionOptions(options));
  } catch (e) {
    await predictModel.release();
    throw e;
  }
  const predictInfo = graphs.predict.info;
  return {
    provider: predictModel.provider,
    fallbacks: predictModel.fallbacks.map((f) => ({ provider: f.provider, reason: f.reason })),
    requestedProviders: options.providers ?? ['default'],
    workers: 0,
    concurrency: 1,
    spec: graphs.spec,
    metadata: graphs.metadata,
    hash: graphs.hash,
    predict: { runner: { run: (req) => runOn(predictModel, predictInfo, req) }, info: predictInfo },
    stream: streamModel && 'info' in graphs.stream
      ? { runner: { run: (req) => runOn(streamModel!, (graphs.stream as { info: ServeModelInfo }).info, req) }, info: graphs.stream.info }
      : { unsupported: (graphs.stream as { unsupported: string }).unsupported },
    close: async () => {
      await Promise.all([predictModel.release(), streamModel?.release()]);
    },
  };
}

// ---- worker pool -------------------------------------------------------------------------

/** Messages to a worker. */
export type ToWorker =
  | { type: 'run'; id: number; graph: 'predict' | 'stream'; req: RunRequest }
  | { type: 'close' };

/** Messages from a worker. */
export type FromWorker =
  | { type: 'ready'; provider: string; fallbacks: Fallback[] }
  | { type: 'init-error'; message: string }
  | { type: 'result'; id: number; result: RunResult }
  | { type: 'error'; id: number; message: string };

export interface WorkerInit {
  predict: { bytes: Uint8Array; info: ServeModelInfo };
  stream: { bytes: Uint8Array; info: ServeModelInfo } | null;
  session: { providers?: ProviderName[]; intraOpNumThreads?: number };
}

interface Job {
  id: number;
  graph: 'predict' | 'stream';
  req: RunRequest;
  resolve(r: RunResult): void;
  reject(e: unknown): void;
}

/** Starts the worker script; from TypeScript sources (tsx, vitest) it registers tsx in the worker first. */
function spawnWorker(init: WorkerInit): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const tsxApi = createRequire(fileURLToPath(here)).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs');
    const target = new URL('./worker.ts', here).href;
    const code = `import(${JSON.stringify(pathToFileURL(tsxApi).href)}).then((m) => { m.register(); return import(${JSON.stringify(target)}); });`;
    return new Worker(code, { eval: true, workerData: init });
  }
  return new Worker(new URL('./worker.js', here), { workerData: init });
}

class WorkerSlot {
  readonly worker: Worker;
  job: Job | null = null;
  ready: Promise<{ provider: string; fallbacks: Fallback[] }>;
  dead = false;
  /** Became ready: its death is a crash during a run, not a failure to start. */
  started = false;
  /** Told to close: its exit is the pool shutting down, not a crash, for the run it still holds. */
  closing = false;

  constructor(init: WorkerInit, private readonly onIdle: (slot: WorkerSlot) => void, private readonly onDeath: (slot: WorkerSlot, err: Error) => void) {
    this.worker = spawnWorker(init);
    this.ready = new Promise((resolve, reject) => {
      const onMessage = (m: FromWorker) => {
        if (m.type === 'ready') {
          this.started = true;
          resolve({ provider: m.provider, fallbacks: m.fallbacks });
        }
        else if (m.type === 'init-error') reject(new Error(`worker failed to open the model: ${m.message}`));
        else this.settle(m);
      };
      this.worker.on('message', onMessage);
      this.worker.on('error', (e) => {
        reject(e);
        this.die(e);
      });
      this.worker.on('exit', (code) => {
        const e = new Error(`worker exited with code ${code}`);
        reject(e);
        this.die(e);
      });
    });
  }

  start(job: Job): void {
    this.job = job;
    const msg: ToWorker = { type: 'run', id: job.id, graph: job.graph, req: job.req };
    // x was built by the batcher for this run only: hand its memory over instead of copying.
    this.worker.postMessage(msg, [job.req.x.buffer as ArrayBuffer]);
  }

  private settle(m: FromWorker): void {
    const job = this.job;
    if (!job || !('id' in m) || m.id !== job.id) return;
    this.job = null;
    if (m.type === 'result') job.resolve(m.result);
    else if (m.type === 'error') job.reject(new Error(m.message));
    this.onIdle(this);
  }

  private die(e: Error): void {
    if (this.dead) return;
    this.dead = true;
    const job = this.job;
    this.job = null;
    job?.reject(this.closing ? new ShuttingDownError('the worker pool closed while this run was in flight') : e);
    this.onDeath(this, e);
  }
}

/**
 * Consecutive failed starts of replacement workers before the pool stops replacing them: with the
 * back-off below (100 ms, doubling) the last of the 7 waits reaches the 5 s cap, 11.3 s in all.
 */
export const MAX_RESPAWN_FAILURES = 8;
const RESPAWN_BASE_DELAY_MS = 100;
const RESPAWN_MAX_DELAY_MS = 5000;

async function openPool(graphs: PreparedGraphs, options: EngineOptions, size: number): Promise<ServeEngine> {
  const init: WorkerInit = {
    predict: graphs.predict,
    stream: 'bytes' in graphs.stream ? graphs.stream : null,
    // Unless told, the workers split the CPUs: each session taking them all would oversubscribe.
    session: { intraOpNumThreads: Math.max(1, Math.floor(availableParallelism() / size)), ...sessionOptions(options) },
  };
  let closing = false;
  let nextId = 1;
  const waiting: Job[] = [];
  const slots: WorkerSlot[] = [];
  const idle: WorkerSlot[] = [];

  const pump = () => {
    while (idle.length > 0 && waiting.length > 0) idle.pop()!.start(waiting.shift()!);
  };
  const onIdle = (slot: WorkerSlot) => {
    idle.push(slot);
    pump();
  };
  // Replacements that died before becoming ready, in a row; past MAX_RESPAWN_FAILURES the pool
  // stops replacing (a worker that can never start would otherwise respawn in a tight loop).
  let startFailures = 0;
  let lastError: Error | null = null;
  let respawns = 0;
  const respawn = () => {
    respawns--;
    if (closing) return;
    const fresh = new WorkerSlot(init, onIdle, onDeath);
    slots.push(fresh);
    fresh.ready.then(() => {
      startFailures = 0;
      onIdle(fresh);
    }, () => {});
  };
  const onDeath = (slot: WorkerSlot, err: Error) => {
    const i = slots.indexOf(slot);
    if (i >= 0) slots.splice(i, 1);
    const j = idle.indexOf(slot);
    if (j >= 0) idle.splice(j, 1);
    if (closing) return;
    lastError = err;
    if (!slot.started) startFailures++;
    if (startFailures >= MAX_RESPAWN_FAILURES) {
      // No replacement is coming: with no worker left, queued and future runs fail instead of hanging.
      if (slots.length === 0 && respawns === 0) {
        for (const job of waiting.splice(0)) job.reject(poolDown());
      }
      return;
    }
    // A crashed worker is replaced, so one bad run does not shrink the pool for good; replacements
    // that fail to start are retried with exponential backoff.
    respawns++;
    const delay = startFailures === 0 ? 0 : Math.min(RESPAWN_MAX_DELAY_MS, RESPAWN_BASE_DELAY_MS * 2 ** (startFailures - 1));
    setTimeout(respawn, delay).unref();
  };
  const poolDown = () =>
    new Error(`the worker pool has no workers left: ${MAX_RESPAWN_FAILURES} replacement workers in a row failed to start (last: ${lastError?.message ?? 'unknown'})`);
  for (let i = 0; i < size; i++) slots.push(new WorkerSlot(init, onIdle, onDeath));
  let first: { provider: string; fallbacks: Fallback[] };
  try {
    const all = await Promise.all(slots.map((s) => s.ready));
    first = all[0];
  } catch (e) {
    closing = true;
    await Promise.all(slots.map((s) => s.worker.terminate()));
    throw e;
  }
  for (const s of slots) idle.push(s);

  const submit = (graph: 'predict' | 'stream') => (req: RunRequest) =>
    new Promise<RunResult>((resolve, reject) => {
      if (closing) {
        reject(new ShuttingDownError('the worker pool is closed'));
        return;
      }
      if (slots.length === 0 && respawns === 0) {
        reject(poolDown());
        return;
      }
      waiting.push({ id: nextId++, graph, req, resolve, reject });
      pump();
    });

  return {
    provider: first.provider,
    fallbacks: first.fallbacks,
    requestedProviders: options.providers ?? ['default'],
    workers: size,
    concurrency: size,
    spec: graphs.spec,
    metadata: graphs.metadata,
    hash: graphs.hash,
    predict: { runner: { run: submit('predict') }, info: graphs.predict.info },
    stream: 'info' in graphs.stream ? { runner: { run: submit('stream') }, info: graphs.stream.info } : { unsupported: graphs.stream.unsupported },
    close: async () => {
      closing = true;
      for (const j of waiting.splice(0)) j.reject(new ShuttingDownError('the worker pool closed before this run started'));
      await Promise.all(slots.map(async (s) => {
        s.closing = true;
        s.worker.postMessage({ type: 'close' } satisfies ToWorker);
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => void s.worker.terminate().then(() => resolve()), 5000);
          s.worker.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
        });
      }));
    },
  };
}
