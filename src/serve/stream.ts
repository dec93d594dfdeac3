// Stateful streams: one object per client carries each recurrent layer's h (and c) from one
// call to the next through the stateful graph variant (`h0_k`/`c0_k` in, `hT_k`/`cT_k` out), so
// a sensor stream fed chunk by chunk gets exactly what one long run over it gives.
//
// Appends go through a Batcher over the stateful graph, so chunks of different clients share
// runs (each row carries its own state); appends of one stream run one after the other.

import { randomUUID } from 'node:crypto';
import { Batcher, checkTimeoutMs, type PredictOptions, type PredictResult, type SequenceInput } from './batcher.js';
import { CancelledError, OverloadedError, ServeError, ShuttingDownError, TimeoutError } from './errors.js';
import type { LayerState } from './types.js';

export interface StreamManagerOptions {
  /** Most open streams; opening one more is refused with OverloadedError. Default 1024. */
  maxStreams?: number;
  /** A stream untouched this long (ms) is closed, so abandoned clients free their state. Default 600000. */
  idleTimeoutMs?: number;
}

/** Why a model cannot be streamed, as an error (HTTP 400). */
export class StreamUnsupportedError extends ServeError {
  constructor(message: string) {
    super('stream_unsupported', 400, message);
    this.name = 'StreamUnsupportedError';
  }
}

export class StreamNotFoundError extends ServeError {
  constructor(id: string) {
    super('not_found', 404, `no open stream with id ${JSON.stringify(id)} (never opened, closed, or expired after idling)`);
    this.name = 'StreamNotFoundError';
  }
}

/**
 * Throws StreamUnsupportedError unless the graph behind `batcher` can stream: it must be the
 * stateful variant and every recurrent layer must run forward in time.
 */
export function checkStreamable(batcher: Batcher): void {
  const info = batcher.info;
  if (info.needsFuture) {
    throw new StreamUnsupportedError(`this model cannot stream: ${info.needsFuture}. A reverse or bidirectional layer reads the sequence from its end, which a stream has not received yet; send whole sequences to predict instead`);
  }
  if (info.state.length === 0) {
    throw new StreamUnsupportedError('this model cannot stream: the graph has no state inputs (h0_k/c0_k); export it with { stateful: true }');
  }
}

export class Stream {
  readonly id: string;
  /** Steps consumed so far. */
  steps = 0;
  lastUsed = performance.now();
  private state: LayerState[] | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Bumped by reset(): a chunk that started before it must not write its state back after it. */
  private generation = 0;

  /** Use StreamManager.open (or openStream) rather than this constructor. */
  constructor(private readonly batcher: Batcher, id: string = randomUUID(), private readonly onClose?: (s: Stream) => void) {
    checkStreamable(batcher);
    this.id = id;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Feeds the next chunk ([time, inputSize]) and resolves with the model's output for it:
   * [time, F] for sequence outputs (the rows a long run gives at these steps), else [F] (the
   * output after the chunk's last step). The state advances only when the chunk succeeds, so a
   * failed or timed-out chunk is as if it had never been sent.
   */
  append(input: SequenceInput, options: Omit<PredictOptions, 'state'> = {}): Promise<PredictResult> {
    if (this.closed) return Promise.reject(new StreamNotFoundError(this.id));
    this.lastUsed = performance.now();
    // A chunk waiting for the one before it holds a place in the batcher's queue and byte limits
    // from now, and its timeout runs from now: waiting appends cannot pile up outside the limits.
    let release: () => void;
    let timeoutMs: number;
    try {
      const bytes = input instanceof Float32Array ? input.byteLength : (input.length ?? 0) * this.batcher.info.inputSize * 4;
      timeoutMs = checkTimeoutMs(options.timeoutMs ?? this.batcher.timeoutMs);
      release = this.batcher.reserve(bytes);
    } catch (e) {
      return Promise.reject(e);
    }
    const deadline = performance.now() + timeoutMs;
    const turn = waitTurn(this.tail, timeoutMs, options.signal);
    const next = turn.then(async () => {
      release();
      if (this.closed) throw new StreamNotFoundError(this.id);
      const generation = this.generation;
      const left = Math.max(1, deadline - performance.now());
      const r = await this.batcher.predict(input, { ...options, timeoutMs: left, state: this.state });
      if (!this.closed && generation === this.generation) {
        this.state = r.state;
        this.steps += r.dims.length === 2 ? r.dims[0] : input instanceof Float32Array ? input.length / this.batcher.info.inputSize : input.length;
        this.lastUsed = performance.now();
      }
      return { y: r.y, dims: r.dims };
    }, (e: unknown) => {
      release();
      throw e;
    });
    // The next append waits for this one whether it succeeds or fails; one that gave up waiting
    // (timeout, cancel) must not let the next overtake the chunk it was waiting for.
    const prev = this.tail;
    this.tail = next.catch(() => prev);
    return next;
  }

  /**
   * Back to the zero state, as if freshly opened, at once: a chunk in flight still gets its
   * answer, but its final state is dropped, and chunks after this start from zeros.
   */
  reset(): void {
    this.generation++;
    this.state = undefined;
    this.steps = 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.state = undefined;
    this.onClose?.(this);
  }
}

/** Resolves when `tail` settles; rejects with TimeoutError after `ms`, or CancelledError on abort. */
function waitTurn(tail: Promise<unknown>, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(new CancelledError('the request was cancelled before it was queued', signal.reason));
  return new Promise<void>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      done();
      reject(new CancelledError('the request was cancelled', signal?.reason));
    };
    const timer = setTimeout(() => {
      done();
      reject(new TimeoutError(`the request timed out after ${ms} ms waiting for the stream's previous chunk`));
    }, ms);
    // A previous chunk that never finishes must not keep the process alive by this wait alone.
    timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
    void tail.then(() => {
      done();
      resolve();
    });
  });
}

/** A stream over `batcher` (which must run the stateful graph), outside any manager. */
export function openStream(batcher: Batcher): Stream {
  return new Stream(batcher);
}

/** The open streams of a server: bounded in number, closed after idling. */
export class StreamManager {
  readonly maxStreams: number;
  readonly idleTimeoutMs: number;
  private readonly streams = new Map<string, Stream>();
  private readonly sweeper: NodeJS.Timeout;
  private closing = false;

  constructor(private readonly batcher: Batcher, options: StreamManagerOptions = {}) {
    this.maxStreams = options.maxStreams ?? 1024;
    if (!Number.isInteger(this.maxStreams) || this.maxStreams <= 0) throw new Error(`maxStreams must be a positive integer, got ${options.maxStreams}`);
    this.idleTimeoutMs = options.idleTimeoutMs ?? 600_000;
    if (!(this.idleTimeoutMs > 0)) throw new Error(`idleTimeoutMs must be a positive number, got ${options.idleTimeoutMs}`);
    this.sweeper = setInterval(() => this.sweep(), Math.min(this.idleTimeoutMs, 60_000) / 2);
    this.sweeper.unref();
  }

  get size(): number {
    return this.streams.size;
  }

  open(): Stream {
    if (this.closing) throw new ShuttingDownError('the server is shutting down and opens no new streams');
    checkStreamable(this.batcher);
    if (this.streams.size >= this.maxStreams) {
      throw new OverloadedError(`overloaded: ${this.streams.size} streams are open (maxStreams ${this.maxStreams}); close one or retry later`);
    }
    const s = new Stream(this.batcher, randomUUID(), (st) => this.streams.delete(st.id));
    this.streams.set(s.id, s);
    return s;
  }

  get(id: string): Stream {
    const s = this.streams.get(id);
    if (!s) throw new StreamNotFoundError(id);
    return s;
  }

  close(id: string): void {
    this.get(id).close();
  }

  /** Closes every stream and stops the idle sweep. */
  closeAll(): void {
    this.closing = true;
    clearInterval(this.sweeper);
    for (const s of [...this.streams.values()]) s.close();
  }

  private sweep(): void {
    const now = performance.now();
    for (const s of [...this.streams.values()]) {
      if (now - s.lastUsed > this.idleTimeoutMs) s.close();
    }
  }
}
