// Running .onnx files with onnxruntime-node. One InferenceModel holds one ONNX Runtime session,
// created once on the best provider that runs the graph correctly (see providers.ts); run()
// only validates its inputs, wraps them as tensors and calls the session, so that the serving
// layer can call it per request.

import * as ort from 'onnxruntime-node';
import { type ModelProto } from '../graph/builder.js';
import { int64ToNumber, parseModelProto, readRnnxInfo, type RnnxFileInfo } from '../graph/io.js';
import { assertFiniteInitializers } from '../graph/finite.js';
import { readBytesAsync } from '../data/files.js';
import type { ModelSpec } from '../layers/spec.js';
import type { ModelMetadata } from '../model/types.js';
import {
  chooseProvider, DEFAULT_PROVIDERS, probeBackends, ProviderUnavailableError, recurrentNodes,
  type ProviderFallback, type ProviderName,
} from './providers.js';

export interface OpenOptions {
  /**
   * Providers in order of preference (default ['cuda', 'cpu']): any that onnxruntime-node reports
   * (`ort.listSupportedBackends()`). CPU is always the last resort unless `strict`.
   */
  providers?: readonly ProviderName[];
  /**
   * Run on the first of `providers` or throw a ProviderUnavailableError with the reason (not
   * installed, not built in, would compute this graph wrongly, failed to start); default false:
   * fall back and record why in `fallbacks`.
   */
  strict?: boolean;
  /** ONNX Runtime intra-op threads (default: ONNX Runtime's, one per physical core). */
  intraOpNumThreads?: number;
  /** ONNX Runtime inter-op threads. */
  interOpNumThreads?: number;
  /**
   * ONNX Runtime's own log level for this session and its runs: 0 verbose, 1 info, 2 warning,
   * 3 error, 4 fatal (default: rnnx reports every failure itself as a thrown Error, so ONNX
   * Runtime's lines on stderr would only repeat it or break a one-line message).
   */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  /**
   * Accept initializers holding NaN or ±Infinity (default false: such a file is refused, naming
   * the tensor and the count). Some foreign graphs keep -Infinity masks as weights on purpose.
   */
  allowNonFiniteWeights?: boolean;
}

/** Default log severity for ONNX Runtime (4 = fatal only): see OpenOptions.logSeverityLevel. */
const QUIET = 4;

/** Recurrent state of one recurrent layer: h (and c for LSTM), each [D, N, H] row-major. */
export interface LayerState {
  h: Float32Array;
  c?: Float32Array;
}

/** Shape of the state a stateful graph carries for one recurrent layer (k counts recurrent layers). */
export interface StateSlot {
  /** Graph input / output names: h0_k, hT_k, and c0_k, cT_k for LSTM (null otherwise). */
  hIn: string;
  hOut: string;
  cIn: string | null;
  cOut: string | null;
  directions: number;
  hidden: number;
}

export interface RunOptions {
  /** Batch size N. Needed with a flat Float32Array unless `time` is given (then N is derived); default 1. */
  batch?: number;
  /** Time steps T. Derived from the array length when absent. */
  time?: number;
  /** Valid length of each sequence, 1..T (graphs exported with sequenceLens). Default: all T. */
  sequenceLens?: Int32Array | readonly number[];
  /** Initial state per recurrent layer (stateful graphs). Default: zeros. */
  state?: readonly LayerState[];
}

export interface RunResult {
  /** Output y, row-major. */
  y: Float32Array;
  /** [N, T, F] or [N, F]. */
  dims: number[];
  /** Final state per recurrent layer (stateful graphs only): feed it back as `state` to continue. */
  state?: LayerState[];
}

/** Nested input [N][T][I] or flat row-major [N*T*I]. */
export type RunInput = Float32Array | readonly (readonly (readonly number[])[])[];

export class InferenceModel {
  /** The provider the session really runs on. */
  readonly provider: ProviderName;
  /** Preferred providers that were passed over (not installed, unable to run this graph correctly, failed to start). */
  readonly fallbacks: readonly ProviderFallback[];
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** rnnx metadata of the file; null for files rnnx did not write. */
  readonly info: RnnxFileInfo | null;
  /** Feature count I of input x (from the graph), null when the graph has no x with a fixed last dim. */
  readonly inputSize: number | null;
  readonly hasSequenceLens: boolean;
  /** Per recurrent layer state inputs/outputs; empty for stateless graphs. */
  readonly stateSlots: readonly StateSlot[];
  private session: ort.InferenceSession | null;
  private readonly runOptions: ort.InferenceSession.RunOptions;

  private constructor(session: ort.InferenceSession, provider: ProviderName, fallbacks: ProviderFallback[], proto: ModelProto, info: RnnxFileInfo | null, logSeverityLevel: 0 | 1 | 2 | 3 | 4) {
    this.session = session;
    this.runOptions = { logSeverityLevel };
    this.provider = provider;
    this.fallbacks = fallbacks;
    this.inputNames = session.inputNames.slice();
    this.outputNames = session.outputNames.slice();
    this.info = info;
    const inputs = new Map((proto.graph?.input ?? []).map((v) => [v.name ?? '', v]));
    const dimsOf = (name: string): (number | null)[] | null => {
      const t = inputs.get(name)?.type?.tensorType;
      if (!t?.shape?.dim) return null;
      return t.shape.dim.map((d) => (d.dimValue !== null && d.dimValue !== undefined && !d.dimParam ? int64ToNumber(d.dimValue) : null));
    };
    const xDims = dimsOf('x');
    this.inputSize = info ? info.spec.inputSize : xDims && xDims.length === 3 ? xDims[2] : null;
    this.hasSequenceLens = this.inputNames.includes('sequence_lens');
    const slots: StateSlot[] = [];
    for (let k = 0; this.inputNames.includes(`h0_${k}`); k++) {
      const d = dimsOf(`h0_${k}`);
      const hasC = this.inputNames.includes(`c0_${k}`);
      if (!d || d.length !== 3 || d[0] === null || d[2] === null) {
        throw new Error(`model input h0_${k} must be declared [directions, batch, hidden] with fixed directions and hidden`);
      }
      slots.push({ hIn: `h0_${k}`, hOut: `hT_${k}`, cIn: hasC ? `c0_${k}` : null, cOut: hasC ? `cT_${k}` : null, directions: d[0], hidden: d[2] });
    }
    this.stateSlots = slots;
  }

  /**
   * Opens an `.onnx` file (path) or bytes. Tries the preferred providers in order, skipping those
   * that are not installed or would compute the graph wrongly (CUDA with peephole LSTMs...), and
   * falls back to CPU; `provider` and `fallbacks` say what happened. Throws for files that are not
   * ONNX, and when not even the CPU session can be created.
   */
  static async open(source: string | Uint8Array, options: OpenOptions = {}): Promise<InferenceModel> {
    let bytes: Uint8Array;
    let name: string;
    if (typeof source === 'string') {
      name = source;
      bytes = await readBytesAsync(source);
    } else if (source instanceof Uint8Array) {
      name = 'model bytes';
      bytes = source;
    } else {
      throw new Error(`InferenceModel.open: source must be a path or a Uint8Array, got ${typeof source}`);
    }
    for (const field of ['intraOpNumThreads', 'interOpNumThreads'] as const) {
      const v = options[field];
      if (v !== undefined && (!Number.isInteger(v) || v < 0)) throw new Error(`InferenceModel.open: ${field} must be a non-negative integer, got ${v}`);
    }
    const level = options.logSeverityLevel;
    if (level !== undefined && !(Number.isInteger(level) && level >= 0 && level <= 4)) {
      throw new Error(`InferenceModel.open: logSeverityLevel must be an integer in [0, 4], got ${JSON.stringify(level)}`);
    }
    const proto = parseModelProto(bytes, name);
    const info = readRnnxInfo(proto, name);
    if (!options.allowNonFiniteWeights) assertFiniteInitializers(proto.graph, name);
    quietOrtEnvironment();
    const { candidates, skipped } = chooseProvider(recurrentNodes(proto), probeBackends(() => ort.listSupportedBackends()), options.providers ?? DEFAULT_PROVIDERS, options.strict === true);
    const fallbacks = skipped.slice();
    for (const provider of candidates) {
      let session: ort.InferenceSession;
      try {
        session = await ort.InferenceSession.create(bytes, sessionOptions(provider, options));
      } catch (e) {
        const reason = `session creation failed: ${(e as Error).message.trim()}`;
        if (options.strict === true) throw new ProviderUnavailableError(provider, reason);
        fallbacks.push({ provider, reason });
        continue;
      }
      try {
        return new InferenceModel(session, provider, fallbacks, proto, info, options.logSeverityLevel ?? QUIET);
      } catch (e) {
        await session.release();
        throw e;
      }
    }
    throw new Error(`InferenceModel.open: no provider could load ${name}: ${fallbacks.map((f) => `${f.provider}: ${f.reason}`).join('; ')}`);
  }

  /** The model spec stored in the file, null for foreign files. */
  get spec(): ModelSpec | null {
    return this.info?.spec ?? null;
  }

  /** The model metadata stored in the file (normalisation, vocabulary...), null for foreign files. */
  get metadata(): ModelMetadata | null {
    return this.info?.metadata ?? null;
  }

  get isStateful(): boolean {
    return this.stateSlots.length > 0;
  }

  /**
   * Runs a batch through the graph. `x` is [N][T][I] nested arrays or a flat row-major
   * Float32Array (give `batch` or `time`). Inputs are checked first: an Error names the field and
   * the expected shape. Stateful graphs start from `state` (zeros when absent) and return the final
   * state. The graph must follow rnnx's I/O naming (x, sequence_lens, h0_k...); use runRaw otherwise.
   */
  async run(x: RunInput, options: RunOptions = {}): Promise<RunResult> {
    const session = this.live();
    if (!this.inputNames.includes('x') || !this.outputNames.includes('y')) {
      throw new Error(`run: the graph must have input "x" and output "y" (it has inputs ${this.inputNames.join(', ')}; outputs ${this.outputNames.join(', ')}); use runRaw`);
    }
    const I = this.inputSize;
    if (I === null) throw new Error('run: the graph input x has no fixed feature dimension; use runRaw');
    const { data, N, T } = flattenInput(x, I, options);
    const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', data, [N, T, I]) };
    if (options.sequenceLens !== undefined) {
      if (!this.hasSequenceLens) throw new Error('run: options.sequenceLens given, but the model has no sequence_lens input (export it with { sequenceLens: true })');
      feeds.sequence_lens = new ort.Tensor('int32', checkLengths(options.sequenceLens, N, T), [N]);
    } else if (this.hasSequenceLens) {
      feeds.sequence_lens = new ort.Tensor('int32', new Int32Array(N).fill(T), [N]);
    }
    if (options.state !== undefined && !this.isStateful) {
      throw new Error('run: options.state given, but the model is not stateful (export it with { stateful: true })');
    }
    if (this.isStateful) {
      const state = options.state;
      if (state !== undefined && (!Array.isArray(state) || state.length !== this.stateSlots.length)) {
        throw new Error(`run: options.state must be an array of ${this.stateSlots.length} layer states, got ${Array.isArray(state) ? `${state.length}` : typeof state}`);
      }
      this.stateSlots.forEach((s, k) => {
        const size = s.directions * N * s.hidden;
        const dims = [s.directions, N, s.hidden];
        const pick = (field: 'h' | 'c'): Float32Array => {
          const v = state?.[k]?.[field];
          if (v === undefined) return new Float32Array(size);
          if (!(v instanceof Float32Array) || v.length !== size) {
            throw new Error(`run: options.state[${k}].${field} must be a Float32Array of length ${size} ([${dims.join(', ')}] = [directions, batch, hidden]), got ${v instanceof Float32Array ? `length ${v.length}` : typeof v}`);
          }
          return v;
        };
        feeds[s.hIn] = new ort.Tensor('float32', pick('h'), dims);
        if (s.cIn) feeds[s.cIn] = new ort.Tensor('float32', pick('c'), dims);
      });
    }
    const out = await session.run(feeds, this.runOptions);
    const y = out.y;
    const result: RunResult = { y: y.data as Float32Array, dims: y.dims.slice() };
    if (this.isStateful) {
      result.state = this.stateSlots.map((s) => {
        const st: LayerState = { h: out[s.hOut].data as Float32Array };
        if (s.cOut) st.c = out[s.cOut].data as Float32Array;
        return st;
      });
    }
    return result;
  }

  /** Runs with ONNX Runtime tensors as they are (any graph); returns every output. */
  async runRaw(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
    const session = this.live();
    return (await session.run(feeds, this.runOptions)) as Record<string, ort.Tensor>;
  }

  /** Frees the session. Further calls throw. */
  async release(): Promise<void> {
    const s = this.session;
    this.session = null;
    if (s) await s.release();
  }

  private live(): ort.InferenceSession {
    if (!this.session) throw new Error('InferenceModel: the session was released');
    return this.session;
  }
}

/**
 * ONNX Runtime's process-wide logger is created with the first session, at env.logLevel
 * ('warning' unless the application chose): lower it to 'fatal' unless the application set
 * another level itself, so that only rnnx speaks on stderr.
 */
function quietOrtEnvironment(): void {
  if (ort.env.logLevel === undefined || ort.env.logLevel === 'warning') ort.env.logLevel = 'fatal';
}

/** ONNX Runtime rejects keys set to undefined, so only the given options are passed on. */
function sessionOptions(provider: ProviderName, o: OpenOptions): ort.InferenceSession.SessionOptions {
  const so: ort.InferenceSession.SessionOptions = { executionProviders: [provider], graphOptimizationLevel: 'all', logSeverityLevel: o.logSeverityLevel ?? QUIET };
  if (o.intraOpNumThreads !== undefined) so.intraOpNumThreads = o.intraOpNumThreads;
  if (o.interOpNumThreads !== undefined) so.interOpNumThreads = o.interOpNumThreads;
  return so;
}

function positiveInt(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new Error(`run: ${field} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

/** Checks x against [N, T, I] and returns it as one Float32Array (the typed array itself when given one). */
export function flattenInput(x: RunInput, I: number, options: Pick<RunOptions, 'batch' | 'time'>): { data: Float32Array; N: number; T: number } {
  if (options.batch !== undefined) positiveInt('options.batch', options.batch);
  if (options.time !== undefined) positiveInt('options.time', options.time);
  if (x instanceof Float32Array) {
    let N = options.batch;
    let T = options.time;
    if (N === undefined && T === undefined) N = 1;
    if (T === undefined) {
      T = x.length / (N! * I);
      if (!Number.isInteger(T) || T < 1) {
        throw new Error(`run: x has length ${x.length}, expected a multiple of batch*features = ${N! * I} ([batch=${N}, time, features=${I}])`);
      }
    } else if (N === undefined) {
      N = x.length / (T * I);
      if (!Number.isInteger(N) || N < 1) {
        throw new Error(`run: x has length ${x.length}, expected a multiple of time*features = ${T * I} ([batch, time=${T}, features=${I}])`);
      }
    }
    if (x.length !== N! * T * I) {
      throw new Error(`run: x has length ${x.length}, expected batch*time*features = ${N! * T * I} ([${N}, ${T}, ${I}])`);
    }
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(x[i])) {
        const n = Math.floor(i / (T * I));
        throw new Error(`run: x[${n}][${Math.floor(i / I) % T}][${i % I}] must be a finite number, got ${x[i]}`);
      }
    }
    return { data: x, N: N!, T };
  }
  if (!Array.isArray(x)) throw new Error(`run: x must be a Float32Array or nested arrays [batch][time][features], got ${x === null ? 'null' : typeof x}`);
  const N = x.length;
  if (N === 0) throw new Error('run: x must hold at least one sequence, got an empty array');
  const first = x[0];
  if (!Array.isArray(first) || first.length === 0) throw new Error(`run: x[0] must be a non-empty array of time steps, got ${JSON.stringify(first)}`);
  const T = first.length;
  if (options.batch !== undefined && options.batch !== N) throw new Error(`run: options.batch is ${options.batch} but x holds ${N} sequences`);
  if (options.time !== undefined && options.time !== T) throw new Error(`run: options.time is ${options.time} but x[0] holds ${T} steps`);
  const data = new Float32Array(N * T * I);
  let o = 0;
  for (let n = 0; n < N; n++) {
    const seq = x[n];
    if (!Array.isArray(seq) || seq.length !== T) {
      throw new Error(`run: x[${n}] must be an array of ${T} time steps (all sequences as long as x[0]; pad and pass sequenceLens), got ${Array.isArray(seq) ? `${seq.length} steps` : typeof seq}`);
    }
    for (let t = 0; t < T; t++) {
      const step = seq[t];
      if (!Array.isArray(step) || step.length !== I) {
        throw new Error(`run: x[${n}][${t}] must be an array of ${I} features, got ${Array.isArray(step) ? `${step.length} features` : JSON.stringify(step)}`);
      }
      for (let i = 0; i < I; i++) {
        const v = step[i];
        if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`run: x[${n}][${t}][${i}] must be a finite number, got ${typeof v === 'number' ? String(v) : JSON.stringify(v) ?? String(v)}`);
        data[o++] = v;
      }
    }
  }
  return { data, N, T };
}

function checkLengths(lengths: Int32Array | readonly number[], N: number, T: number): Int32Array {
  if (!(lengths instanceof Int32Array) && !Array.isArray(lengths)) throw new Error(`run: options.sequenceLens must be an Int32Array or number[] of length ${N}, got ${typeof lengths}`);
  if (lengths.length !== N) throw new Error(`run: options.sequenceLens must have one length per sequence (${N}), got ${lengths.length}`);
  const out = new Int32Array(N);
  for (let n = 0; n < N; n++) {
    const l = lengths[n];
    if (!Number.isInteger(l) || l < 1 || l > T) throw new Error(`run: options.sequenceLens[${n}] must be an integer in [1, ${T}], got ${l}`);
    out[n] = l;
  }
  return out;
}
