// The in-process serving API: one model, its dynamic batcher, its streams and their metrics.
// The HTTP server is a thin layer over this; a Node service can use it directly:
//
//   const svc = await openService('model.onnx', { maxBatch: 64, maxWaitMs: 2 });
//   const { y, dims } = await svc.predict(sequence);          // merged with concurrent calls
//   const s = svc.openStream(); await s.append(chunk1); await s.append(chunk2);
//   await svc.close();

import { Batcher, type BatcherOptions, type PredictOptions, type PredictResult, type SequenceInput } from './batcher.js';
import { openEngine, type EngineOptions, type ServeEngine } from './engine.js';
import { Counter, Gauge, Histogram, Registry } from './metrics.js';
import { Stream, StreamManager, StreamUnsupportedError, type StreamManagerOptions } from './stream.js';

/** The batcher's options (BatcherOptions, which documents each), the engine's and the streams'. */
export interface ServiceOptions extends Omit<BatcherOptions, 'maxInFlight'>, EngineOptions, StreamManagerOptions {
  /** Runs in flight at once; default: the engine's concurrency (1 in-process, the worker count for a pool). */
  maxInFlight?: number;
  /** Most stream chunks merged into one run; 1 turns cross-client stream batching off. Default maxBatch. */
  streamMaxBatch?: number;
  /** Registry to add the metrics to (the HTTP server passes its own). */
  registry?: Registry;
}

/** Batch-size buckets: powers of two up to 1024. */
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
/** Seconds, 0.5 ms to 30 s. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class InferenceService {
  readonly batcher: Batcher;
  /** Null when the model cannot stream; `streamUnsupported` says why. */
  readonly streamBatcher: Batcher | null;
  readonly streams: StreamManager | null;
  readonly streamUnsupported: string | null;
  readonly registry: Registry;
  readonly metrics: {
    batchSize: Histogram;
    runSeconds: Histogram;
    runErrors: Counter;
    queueDepth: Gauge;
    inFlight: Gauge;
    streamsOpen: Gauge;
    provider: Gauge;
  };
  private closing: Promise<void> | null = null;

  private constructor(readonly engine: ServeEngine, options: ServiceOptions) {
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

    const reg = (this.registry = options.registry ?? new Registry());
    const batchers = (): [string, Batcher][] => [['predict', this.batcher], ...(this.streamBatcher ? [['stream', this.streamBatcher] as [string, Batcher]] : [])];
    this.metrics = {
      batchSize: reg.add(new Histogram('rnnx_batch_size', 'Requests merged into one ONNX Runtime run.', BATCH_BUCKETS)),
      runSeconds: reg.add(new Histogram('rnnx_run_duration_seconds', 'Wall time of one batched ONNX Runtime run, padding and splitting included.', LATENCY_BUCKETS)),
      runErrors: reg.add(new Counter('rnnx_run_errors_total', 'ONNX Runtime runs that failed.')),
      queueDepth: reg.add(new Gauge('rnnx_queue_depth', 'Requests waiting for a run.', (g) => {
        for (const [kind, b] of batchers()) g.set(b.queueDepth, { kind });
      })),
      inFlight: reg.add(new Gauge('rnnx_runs_in_flight', 'ONNX Runtime runs in flight.', (g) => {
        for (const [kind, b] of batchers()) g.set(b.runsInFlight, { kind });
      })),
      streamsOpen: reg.add(new Gauge('rnnx_streams_open', 'Open stateful streams.', (g) => g.set(this.streams?.size ?? 0))),
      provider: reg.add(new Gauge('rnnx_provider_info', 'Execution provider each session really uses (value 1); fallbacks carry the reason.', (g) => {
        g.set(1, { provider: engine.provider, requested: engine.requestedProviders.join(','), workers: String(engine.workers) });
        for (const f of engine.fallbacks) g.set(0, { provider: f.provider, reason: f.reason });
      })),
    };
    for (const [kind, b] of batchers()) {
      b.onBatch = (e) => {
        this.metrics.batchSize.observe(e.size, { kind });
        this.metrics.runSeconds.observe(e.runMs / 1000, { kind });
        if (e.error !== undefined) this.metrics.runErrors.inc({ kind });
      };
    }
  }

  /** Opens the model (see EngineOptions for providers and the worker pool) and starts batching. */
  static async open(source: string | Uint8Array, options: ServiceOptions = {}): Promise<InferenceService> {
    const engine = await openEngine(source, options);
    try {
      return new InferenceService(engine, options);
    } catch (e) {
      await engine.close();
      throw e;
    }
  }

  get provider(): string {
    return this.engine.provider;
  }

  /** One sequence [time, inputSize] in, its output out ([time, F] or [F]); merged with concurrent calls. */
  predict(input: SequenceInput, options: Omit<PredictOptions, 'state'> = {}): Promise<PredictResult> {
    return this.batcher.predict(input, options);
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
      await this.engine.close();
    })();
    return this.closing;
  }
}

/** Shorthand for InferenceService.open. */
export function openService(source: string | Uint8Array, options: ServiceOptions = {}): Promise<InferenceService> {
  return InferenceService.open(source, options);
}
