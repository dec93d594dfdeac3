// The in-process serving API: one model, its dynamic batcher, its streams and their metrics.
// The HTTP server is a thin layer over this; a Node service can use it directly:
//
//   const svc = await openService('model.onnx', { maxBatch: 64, maxWaitMs: 2 });
//   const { y, dims } = await svc.predict(sequence);          // merged with concurrent calls
//   const s = svc.openStream(); await s.append(chunk1); await s.append(chunk2);
//   await svc.close();

import { basename } from 'node:path';
import { Batcher, toSequence, type BatcherOptions, type PredictOptions, type PredictResult, type SequenceInput } from './batcher.js';
import { openEngine, type EngineOptions, type ServeEngine } from './engine.js';
import { BadRequestError, ServeError } from './errors.js';
import { serveMetrics, type MetricsSource, type Registry, type ServeMetrics } from './metrics.js';
import { checkStateKey, decodeStateToken, encodeStateToken, randomStateKey } from './state-token.js';
import { Stream, StreamManager, StreamUnsupportedError, type StreamManagerOptions } from './stream.js';
import { denormalizeTargets, forecastInfo, levelsFromOutput, rowsNeeded, windowBefore, type ForecastInfo } from '../runtime/forecast.js';
import { denormalizeValue, normalizeValue } from '../data/timeseries.js';
import type { Normalization } from '../model/types.js';

export { LATENCY_BUCKETS } from './metrics.js';

/** The batcher's options (BatcherOptions, which documents each), the engine's and the streams'. */
export interface ServiceOptions extends Omit<BatcherOptions, 'maxInFlight'>, EngineOptions, StreamManagerOptions {
  /** Runs in flight at once; default: the engine's concurrency (1 in-process, the worker count for a pool). */
  maxInFlight?: number;
  /** Most stream chunks merged into one run; 1 turns cross-client stream batching off. Default maxBatch. */
  streamMaxBatch?: number;
  /** prom-client registry the metrics go to. Default: prom-client's global registry. */
  registry?: Registry;
  /** Model name in routes and metrics. Default: the file's base name without `.onnx`. */
  name?: string;
  /** Model version (Triton-style repository folder). Default '1'. */
  version?: string;
  /**
   * Key (>= 32 bytes) of the HMAC protecting client-carried stream state; replicas that share it
   * accept each other's tokens. Default: a random key per process (tokens verify only here).
   */
  stateKey?: string | Uint8Array;
}

/**
 * What a request's values mean. 'forecast': a forecaster trained by `rnnx train` on a CSV; the
 * input is the last `rows` raw rows of the series (its units, columns `inputColumns`) and the
 * answer is the next `horizon` rows of `targetColumns` in the same units, as `rnnx predict` gives.
 * 'normalized': inputs and outputs in the data's units, the stored normalisation applied around
 * the network. 'model': the network's own tensors (nothing stored to undo).
 */
export type Units =
  | { mode: 'forecast'; rows: number; inputColumns: string[]; targetColumns: string[]; window: number; horizon: number; transform: string }
  | { mode: 'normalized'; input: boolean; output: boolean }
  | { mode: 'model' };

/** One request's options: `raw` skips the unit conversion (model-space tensors in and out). */
export interface ServicePredictOptions extends Omit<PredictOptions, 'state'> {
  raw?: boolean;
}

export interface StateStepResult extends PredictResult {
  /** The token to send with the next chunk. */
  token: string;
  /** Steps consumed by the stream so far, this chunk included. */
  steps: number;
}

export class InferenceService {
  readonly name: string;
  readonly version: string;
  readonly batcher: Batcher;
  /** Null when the model cannot stream; `streamUnsupported` says why. */
  readonly streamBatcher: Batcher | null;
  readonly streams: StreamManager | null;
  readonly streamUnsupported: string | null;
  readonly registry: Registry;
  readonly metrics: ServeMetrics;
  readonly units: Units;
  private readonly forecast: ForecastInfo | null;
  private readonly norms: { input?: Normalization; target?: Normalization };
  private readonly stateKey: Buffer;
  private readonly source: MetricsSource;
  private closing: Promise<void> | null = null;

  private constructor(readonly engine: ServeEngine, options: ServiceOptions, defaultName: string) {
    this.name = options.name ?? defaultName;
    if (!/^[A-Za-z0-9_.-]{1,128}$/.test(this.name)) throw new Error(`name must be 1-128 characters of letters, digits, '_', '.' or '-', got ${JSON.stringify(this.name)}`);
    this.version = options.version ?? '1';
    const batcherOptions: BatcherOptions = {
      maxBatch: options.maxBatch,
      maxWaitMs: options.maxWaitMs,
      maxQueue: options.maxQueue,
      maxInFlight: options.maxInFlight ?? engine.concurrency,
      timeoutMs: options.timeoutMs,
      maxTime: options.maxTime,
      maxQueueBytes: options.maxQueueBytes,
      maxBatchBytes: options.maxBatchBytes,
    };
    this.batcher = new Batcher(engine.predict.runner, engine.predict.info, batcherOptions);
    if ('unsupported' in engine.stream) {
      this.streamBatcher = null;
      this.streams = null;
      this.streamUnsupported = engine.stream.unsupported;
    } else {
      this.streamBatcher = new Batcher(engine.stream.runner, engine.stream.info, {
        ...batcherOptions,
        maxBatch: options.streamMaxBatch ?? options.maxBatch,
      });
      this.streams = new StreamManager(this.streamBatcher, options);
      this.streamUnsupported = null;
    }
    this.stateKey = options.stateKey === undefined ? randomStateKey() : checkStateKey(options.stateKey);

    const meta = engine.metadata;
    this.forecast = forecastInfo(meta?.extra);
    this.norms = { input: meta?.inputNormalization, target: meta?.targetNormalization };
    const F = engine.predict.info.outputSize;
    if (this.forecast) {
      const f = this.forecast;
      this.units = { mode: 'forecast', rows: rowsNeeded(f), inputColumns: f.inputColumns, targetColumns: f.targetColumns, window: f.window, horizon: f.horizon, transform: f.transform };
    } else if (this.norms.input || (this.norms.target && this.norms.target.mean.length === F)) {
      this.units = { mode: 'normalized', input: Boolean(this.norms.input), output: Boolean(this.norms.target && this.norms.target.mean.length === F) };
    } else {
      this.units = { mode: 'model' };
    }

    const m = (this.metrics = serveMetrics(options.registry));
    this.registry = m.registry;
    const batchers = (): [string, Batcher][] => [['predict', this.batcher], ...(this.streamBatcher ? [['stream', this.streamBatcher] as [string, Batcher]] : [])];
    this.source = {
      name: this.name,
      batchers: () => batchers().map(([kind, b]) => [kind, b.queueDepth, b.runsInFlight]),
      streamsOpen: () => this.streams?.size ?? 0,
      provider: { provider: engine.provider, requested: engine.requestedProviders.join(','), workers: String(engine.workers), fallbacks: engine.fallbacks },
    };
    m.sources.add(this.source);
    for (const [kind, b] of batchers()) {
      b.onBatch = (e) => {
        m.batchSize.observe({ model: this.name, kind }, e.size);
        m.runSeconds.observe({ model: this.name, kind }, e.runMs / 1000);
        if (e.error !== undefined) m.runErrors.inc({ model: this.name, kind });
      };
    }
  }

  /** Opens the model (see EngineOptions for providers and the worker pool) and starts batching. */
  static async open(source: string | Uint8Array, options: ServiceOptions = {}): Promise<InferenceService> {
    const engine = await openEngine(source, options);
    try {
      return new InferenceService(engine, options, typeof source === 'string' ? basename(source).replace(/\.onnx$/i, '') : 'model');
    } catch (e) {
      await engine.close();
      throw e;
    }
  }

  get provider(): string {
    return this.engine.provider;
  }

  /** SHA-256 (hex) of the model file. */
  get hash(): string {
    return this.engine.hash;
  }

  /** True while new predictions would be refused for a full queue. */
  get overloaded(): boolean {
    return this.batcher.full || (this.streamBatcher?.full ?? false);
  }

  /**
   * One request in, its answer out, merged with concurrent calls. In the data's units (see
   * `units`): for a forecaster the last `units.rows` raw rows of the series in, the next
   * `horizon` rows [horizon, targets] out, as `rnnx predict` gives; with `raw`, or for a model
   * without stored normalisation, one model-space sequence [time, inputSize] in, [time, F] or
   * [F] out. A non-finite output is an error (500), never an answer.
   */
  async predict(input: SequenceInput, options: ServicePredictOptions = {}): Promise<PredictResult> {
    const { raw, ...rest } = options;
    const u = this.units;
    if (raw || u.mode === 'model') return finite(await this.batcher.predict(input, rest));
    if (u.mode === 'normalized') {
      const x = this.toModelInput(input);
      return finite(this.fromModelOutput(await this.batcher.predict(x, rest)));
    }
    const f = this.forecast!;
    const I = this.batcher.info.inputSize;
    const seq = toSequence(input, I, this.batcher.maxTime);
    if (seq.time !== u.rows) {
      throw new BadRequestError(`input must be the last ${u.rows} rows of the series (${u.window}-step window${u.rows > u.window ? ' plus the row before it, for the difference' : ''}), ${I} value${I === 1 ? '' : 's'} a row (${f.inputColumns.join(', ')}), in the series' units; got ${seq.time} rows. Set "raw" for model-space tensors`);
    }
    if (f.transform === 'log' || f.transform === 'log-difference') {
      const bad = seq.data.findIndex((v) => !(v > 0));
      if (bad >= 0) throw new BadRequestError(`input[${Math.floor(bad / I)}][${bad % I}] must be positive (the model works on logarithms), got ${seq.data[bad]}`);
    }
    const levels = Float64Array.from(seq.data);
    const x = new Float32Array(f.window * I);
    windowBefore(levels, I, u.rows, f, this.norms.input, x, 0);
    const r = finite(await this.batcher.predict(x, rest));
    const lv = levelsFromOutput(denormalizeTargets(r.y, f, this.norms.target), f, f.inputColumns, levels.subarray((u.rows - 1) * I));
    return finite({ y: Float32Array.from(lv), dims: [f.horizon, f.targetColumns.length] });
  }

  /** Input in the data's units → model space (input normalisation), for 'normalized' models. */
  private toModelInput(input: SequenceInput): Float32Array {
    const I = this.batcher.info.inputSize;
    const seq = toSequence(input, I, this.batcher.maxTime);
    const x = new Float32Array(seq.data.length);
    for (let i = 0; i < x.length; i++) x[i] = normalizeValue(seq.data[i], this.norms.input, i % I);
    return x;
  }

  private fromModelOutput(r: PredictResult): PredictResult {
    const tn = this.norms.target;
    const F = r.dims[r.dims.length - 1];
    if (!tn || tn.mean.length !== F) return r;
    const y = new Float32Array(r.y.length);
    for (let i = 0; i < y.length; i++) y[i] = denormalizeValue(r.y[i], tn, i % F);
    return { ...r, y };
  }

  /**
   * One chunk of a stream whose state the client carries: `token` null starts from zeros, else it
   * is the token the previous chunk returned (from this process or any replica with the same
   * stateKey and model file). Chunks are model-space, or normalised like predict for 'normalized'
   * models; a forecaster's chunks are model-space. Tampered or foreign tokens → BadRequestError.
   */
  async step(input: SequenceInput, token: string | null, options: ServicePredictOptions = {}): Promise<StateStepResult> {
    if (!this.streamBatcher) throw new StreamUnsupportedError(this.streamUnsupported ?? 'this model cannot stream');
    const shapes = this.streamBatcher.info.state;
    const prior = token === null ? null : decodeStateToken(this.stateKey, this.hash, shapes, token);
    const { raw, ...rest } = options;
    const convert = !raw && this.units.mode === 'normalized';
    const x = convert ? this.toModelInput(input) : input;
    let r = finite(await this.streamBatcher.predict(x, { ...rest, state: prior?.state }));
    if (convert) r = finite(this.fromModelOutput(r));
    const steps = (prior?.steps ?? 0) + (x instanceof Float32Array ? x.length / this.streamBatcher.info.inputSize : x.length);
    return { y: r.y, dims: r.dims, steps, token: encodeStateToken(this.stateKey, this.hash, shapes, r.state!, steps) };
  }

  /** A new stream carrying state across appends. Throws StreamUnsupportedError for reverse/bidirectional models. */
  openStream(): Stream {
    if (!this.streams) throw new StreamUnsupportedError(this.streamUnsupported ?? 'this model cannot stream');
    return this.streams.open();
  }

  /**
   * From now on no request waits out maxWaitMs, while requests are still taken: the first step of
   * a graceful shutdown, before close() (the HTTP server still has requests it is reading).
   */
  hurry(): void {
    this.batcher.hurry();
    this.streamBatcher?.hurry();
  }

  /**
   * Stops taking work. With `drain` (default) queued requests still run, at once rather than
   * after maxWaitMs; then streams close and the sessions (or workers) are released.
   */
  close(options: { drain?: boolean } = {}): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([this.batcher.close(options), this.streamBatcher?.close(options)]);
      this.streams?.closeAll();
      this.metrics.sources.delete(this.source);
      await this.engine.close();
    })();
    return this.closing;
  }
}

/** Shorthand for InferenceService.open. */
export function openService(source: string | Uint8Array, options: ServiceOptions = {}): Promise<InferenceService> {
  return InferenceService.open(source, options);
}

/** Refuses an answer with a NaN or infinite value: a broken model, never a client's error. */
function finite<R extends PredictResult>(r: R): R {
  const i = r.y.findIndex((v) => !Number.isFinite(v));
  if (i >= 0) throw new ServeError('run_failed', 500, `the model produced a non-finite output (${r.y[i]} at y[${i}]); the answer is withheld`);
  return r;
}
