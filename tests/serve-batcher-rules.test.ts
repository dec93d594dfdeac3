// The batcher's rules with stand-in runners (no ONNX Runtime): option checks, state stacked into
// [D, N, H] and split back per request (against a layout written out by hand), queue limits with
// places reserved for later chunks, run failures and what each waiting request gets, draining,
// and the messages of every refusal.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { Batcher, checkTimeoutMs, MAX_TIMEOUT_MS, toSequence } from '../src/serve/batcher.js';
import { BadRequestError, CancelledError, OverloadedError, ServeError, ShuttingDownError, TimeoutError } from '../src/serve/errors.js';
import type { LayerState, RunRequest, RunResult, Runner, ServeModelInfo } from '../src/serve/types.js';
import { watchTimers } from './serve-timers.js';

const info = (over: Partial<ServeModelInfo> = {}): ServeModelInfo => ({
  inputSize: 2, outputSize: 2, returnsSequences: false, hasSequenceLens: true, state: [], needsFuture: null, ...over,
});
const seq = (t: number, v: number) => new Float32Array(t * 2).fill(v);
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/** Output row b = (first input value of row b, row b's length); records each request. */
function echo(calls: RunRequest[] = [], delayMs = 0): Runner {
  return {
    run: async (req) => {
      calls.push(req);
      if (delayMs > 0) await tick(delayMs);
      const y = new Float32Array(req.batch * 2);
      for (let b = 0; b < req.batch; b++) {
        y[2 * b] = req.x[b * req.time * 2];
        y[2 * b + 1] = req.sequenceLens ? req.sequenceLens[b] : req.time;
      }
      return { y, dims: [req.batch, 2] };
    },
  };
}

/** A runner whose runs finish only when the test says so. */
function gated(calls: RunRequest[] = []) {
  const waiting: (() => void)[] = [];
  const inner = echo(calls);
  return {
    runner: { run: async (req: RunRequest) => { await new Promise<void>((r) => waiting.push(r)); return inner.run(req); } } as Runner,
    release: () => waiting.splice(0).forEach((r) => r()),
    pending: () => waiting.length,
  };
}

describe('options', () => {
  it('defaults, and each bad value refused naming the option', () => {
    const b = new Batcher(echo(), info());
    expect([b.maxBatch, b.maxWaitMs, b.maxQueue, b.maxInFlight, b.timeoutMs, b.maxTime, b.maxQueueBytes, b.maxBatchBytes])
      .toEqual([64, 2, 1024, 1, 30_000, 20_000, 256 * 1024 * 1024, 256 * 1024 * 1024]);
    expect(new Batcher(echo(), info(), { maxWaitMs: 0 }).maxWaitMs).toBe(0);
    const bad: [Record<string, number>, string][] = [
      [{ maxBatch: 0 }, 'maxBatch must be a positive integer, got 0'],
      [{ maxBatch: 1.5 }, 'maxBatch must be a positive integer, got 1.5'],
      [{ maxQueue: -1 }, 'maxQueue must be a positive integer, got -1'],
      [{ maxInFlight: 0 }, 'maxInFlight must be a positive integer, got 0'],
      [{ maxTime: 0 }, 'maxTime must be a positive integer, got 0'],
      [{ maxQueueBytes: 0 }, 'maxQueueBytes must be a positive integer, got 0'],
      [{ maxBatchBytes: 0 }, 'maxBatchBytes must be a positive integer, got 0'],
      [{ maxWaitMs: -1 }, 'maxWaitMs must be a finite number >= 0, got -1'],
      [{ maxWaitMs: Infinity }, 'maxWaitMs must be a finite number >= 0, got Infinity'],
      [{ maxWaitMs: NaN }, 'maxWaitMs must be a finite number >= 0, got NaN'],
      [{ timeoutMs: 0 }, `timeoutMs must be a positive number of milliseconds, at most ${MAX_TIMEOUT_MS} (setTimeout's limit), got 0`],
      [{ timeoutMs: NaN }, 'got NaN'],
    ];
    for (const [o, message] of bad) expect(() => new Batcher(echo(), info(), o), JSON.stringify(o)).toThrow(message);
    expect(new Batcher(echo(), info(), { timeoutMs: MAX_TIMEOUT_MS }).timeoutMs).toBe(MAX_TIMEOUT_MS);
  });

  it('checkTimeoutMs: 0 < v <= 2^31 - 1, a number, naming the field and describing the value', () => {
    expect(checkTimeoutMs(0.5)).toBe(0.5);
    expect(checkTimeoutMs(MAX_TIMEOUT_MS)).toBe(MAX_TIMEOUT_MS);
    expect(() => checkTimeoutMs(MAX_TIMEOUT_MS + 1)).toThrow(BadRequestError);
    expect(() => checkTimeoutMs(0, 'body.timeoutMs')).toThrow(/^body\.timeoutMs must be a positive number of milliseconds, at most 2147483647 \(setTimeout's limit\), got 0$/);
    expect(() => checkTimeoutMs('100')).toThrow(/got "100"$/);
    expect(() => checkTimeoutMs(undefined)).toThrow(/got undefined$/);
    expect(() => checkTimeoutMs([1, 2])).toThrow(/got an array of length 2$/);
    expect(() => checkTimeoutMs({ ms: 'x'.repeat(80) })).toThrow(new RegExp(`got \\{"ms":"${'x'.repeat(50)}\\.\\.\\.$`));
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => checkTimeoutMs(circular)).toThrow(/got \[object Object\]$/);
    expect(() => checkTimeoutMs(() => 1)).toThrow(/got \(\) => 1$/);
  });
});

describe('toSequence', () => {
  it('a Float32Array is taken as it is; rows are copied into a new one', () => {
    const x = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const a = toSequence(x, 2, 3);
    expect(a.data).toBe(x);
    expect(a.time).toBe(3);
    const b = toSequence([[1, 2], [3, 4]], 2, 2);
    expect(Array.from(b.data)).toEqual([1, 2, 3, 4]);
    expect(b.time).toBe(2);
    // The largest float32 is accepted in rows too.
    expect(Array.from(toSequence([[3.4028234663852886e38, -3.4028234663852886e38]], 2, 1).data)).toEqual([3.4028234663852886e38, -3.4028234663852886e38]);
  });

  it('refusals name the field and the value', () => {
    expect(() => toSequence(new Float32Array(0), 2, 5, 'chunk')).toThrow('chunk must hold time*2 values (a whole number of steps of 2 features), got 0 values');
    expect(() => toSequence(new Float32Array(8), 2, 3)).toThrow('input must have at most 3 steps, got 4');
    expect(() => toSequence([[1, 2], [3, 4], [5, 6], [7, 8]], 2, 3)).toThrow('input must have at most 3 steps, got 4');
    expect(() => toSequence('rows', 2, 3)).toThrow('input must be an array of steps, each an array of 2 numbers ([time][2]), got "rows"');
    expect(() => toSequence(undefined, 2, 3)).toThrow(/got undefined$/);
    expect(() => toSequence([[1, 2], 7], 2, 3)).toThrow('input[1] must be an array of 2 numbers (the model\'s input size), got 7');
    expect(() => toSequence([[1, 2, 3]], 2, 3)).toThrow('input[0] must be an array of 2 numbers (the model\'s input size), got an array of length 3');
    expect(() => toSequence([[1, '2']], 2, 3)).toThrow('input[0][1] must be a finite number, got "2"');
    expect(() => toSequence([[NaN, 2]], 2, 3)).toThrow('input[0][0] must be a finite number, got NaN');
    const x = new Float32Array(6);
    x[5] = NaN;
    expect(() => toSequence(x, 3, 3, 'inputs[2]')).toThrow('inputs[2][1][2] must be a finite number, got NaN');
  });
});

describe('state for stateful graphs', () => {
  // One bidirectional LSTM-like layer (h and c, D 2, H 2) and one GRU-like layer (h, D 1, H 3).
  const stateInfo = info({ state: [{ directions: 2, units: 2, hasCell: true }, { directions: 1, units: 3, hasCell: false }] });
  const stateOf = (r: number): LayerState[] => [
    { h: Float32Array.from([r + 0.1, r + 0.2, r + 0.3, r + 0.4]), c: Float32Array.from([-r - 0.1, -r - 0.2, -r - 0.3, -r - 0.4]) },
    { h: Float32Array.from([r + 0.5, r + 0.6, r + 0.7]) },
  ];

  it('stacked into [D, N, H] per layer (a request without state gives zeros), and each request gets its own rows back', async () => {
    const calls: RunRequest[] = [];
    const runner: Runner = {
      run: async (req) => {
        calls.push(req);
        // Final state = initial state + 10: each request must get its own back.
        const plus = (a: Float32Array) => a.map((v) => v + 10);
        return { y: new Float32Array(req.batch * 2), dims: [req.batch, 2], state: req.state!.map((s) => (s.c ? { h: plus(s.h), c: plus(s.c) } : { h: plus(s.h) })) };
      },
    };
    const b = new Batcher(runner, stateInfo, { maxBatch: 3, maxWaitMs: 50 });
    const rs = await Promise.all([b.predict(seq(1, 1), { state: stateOf(1) }), b.predict(seq(1, 2)), b.predict(seq(1, 3), { state: stateOf(3) })]);
    expect(calls.length).toBe(1);
    const [l0, l1] = calls[0].state!;
    // [D=2, N=3, H=2]: direction 0 rows 0..2, then direction 1 rows 0..2.
    const f = (v: number) => Math.fround(v);
    expect(Array.from(l0.h)).toEqual([1.1, 1.2, 0, 0, 3.1, 3.2, 1.3, 1.4, 0, 0, 3.3, 3.4].map(f));
    expect(Array.from(l0.c!)).toEqual([-1.1, -1.2, 0, 0, -3.1, -3.2, -1.3, -1.4, 0, 0, -3.3, -3.4].map(f));
    expect(Array.from(l1.h)).toEqual([1.5, 1.6, 1.7, 0, 0, 0, 3.5, 3.6, 3.7].map(f));
    expect(l1.c).toBeUndefined();
    // Split back: request r gets its own [D, 1, H] rows, + 10.
    const back = (r: number) => stateOf(r).map((s) => ({ h: Array.from(s.h.map((v) => v + 10)), c: s.c && Array.from(s.c.map((v) => v + 10)) }));
    const got = (i: number) => rs[i].state!.map((s) => ({ h: Array.from(s.h), c: s.c && Array.from(s.c) }));
    expect(got(0)).toEqual(back(1));
    expect(got(2)).toEqual(back(3));
    expect(got(1)).toEqual([{ h: [10, 10, 10, 10], c: [10, 10, 10, 10] }, { h: [10, 10, 10], c: undefined }]);
  });

  it('refuses state of the wrong form, naming the layer and field', async () => {
    const b = new Batcher(echo(), stateInfo);
    const good = stateOf(1);
    const cases: [unknown, string][] = [
      [good.slice(0, 1), 'state must hold 2 layer states (one per recurrent layer), got 1'],
      ['s', 'state must hold 2 layer states (one per recurrent layer), got "s"'],
      [[{ h: good[0].h }, good[1]], 'state[0].c must be a Float32Array of 4 values ([2, 1, 2]), got undefined'],
      [[good[0], { h: new Float32Array(2) }], 'state[1].h must be a Float32Array of 3 values ([1, 1, 3]), got 2 values'],
      [[good[0], { h: [1, 2, 3] }], 'state[1].h must be a Float32Array of 3 values ([1, 1, 3]), got an array of length 3'],
      [[null, good[1]], 'state[0].h must be a Float32Array of 4 values ([2, 1, 2]), got undefined'],
    ];
    for (const [state, message] of cases) {
      await expect(b.predict(seq(1, 1), { state: state as LayerState[] })).rejects.toThrow(message);
      await expect(b.predict(seq(1, 1), { state: state as LayerState[] })).rejects.toBeInstanceOf(BadRequestError);
    }
    const plain = new Batcher(echo(), info());
    await expect(plain.predict(seq(1, 1), { state: good })).rejects.toThrow('state was given but the graph is not stateful (it has no h0_k inputs)');
    expect(b.queueDepth).toBe(0);
  });
});

describe('sequence outputs', () => {
  it('each request gets its own steps of a [N, T, F] output, padding cut off', async () => {
    const runner: Runner = {
      run: async (req) => {
        // y[b][t] = (b, t): where each row's values came from shows.
        const y = new Float32Array(req.batch * req.time * 2);
        for (let b = 0; b < req.batch; b++) for (let t = 0; t < req.time; t++) y.set([b, t], (b * req.time + t) * 2);
        return { y, dims: [req.batch, req.time, 2] };
      },
    };
    const b = new Batcher(runner, info({ returnsSequences: true }), { maxBatch: 2, maxWaitMs: 50 });
    const [r0, r1] = await Promise.all([b.predict(seq(3, 1)), b.predict(seq(1, 1))]);
    expect(r0.dims).toEqual([3, 2]);
    expect(Array.from(r0.y)).toEqual([0, 0, 0, 1, 0, 2]);
    expect(r1.dims).toEqual([1, 2]);
    expect(Array.from(r1.y)).toEqual([1, 0]);
  });

  it('an output of unexpected dims fails the run with a message saying both', async () => {
    const runner: Runner = { run: async (req) => ({ y: new Float32Array(req.batch * 3), dims: [req.batch, 3] }) };
    const b = new Batcher(runner, info(), { maxWaitMs: 0 });
    const err = (await b.predict(seq(1, 1)).catch((e: unknown) => e)) as ServeError;
    expect(err).toBeInstanceOf(ServeError);
    expect(err.code).toBe('run_failed');
    expect(err.status).toBe(500);
    expect(err.message).toBe('the ONNX Runtime run failed: the model returned y with dims [1, 3], expected [1, 2]');
    const seqB = new Batcher(runner, info({ returnsSequences: true }), { maxWaitMs: 0 });
    await expect(seqB.predict(seq(2, 1))).rejects.toThrow('the model returned y with dims [1, 3], expected [1, 2, 2]');
  });
});

describe('failed runs', () => {
  it('every request of the run gets the failure; a ServeError passes as it is; the next run still happens', async () => {
    let fail: unknown = new Error('boom');
    const events: { size: number; error?: unknown }[] = [];
    const runner: Runner = {
      run: async (req) => {
        if (fail !== null) throw fail;
        return echo().run(req);
      },
    };
    const b = new Batcher(runner, info(), { maxBatch: 2, maxWaitMs: 20 });
    b.onBatch = (e) => {
      events.push({ size: e.size, error: e.error });
      throw new Error('metrics fail: must not break serving');
    };
    const settled = await Promise.allSettled([b.predict(seq(1, 1)), b.predict(seq(1, 2))]);
    for (const s of settled) {
      expect(s.status).toBe('rejected');
      const e = (s as PromiseRejectedResult).reason as ServeError;
      expect(e).toBeInstanceOf(ServeError);
      expect([e.code, e.status, e.message]).toEqual(['run_failed', 500, 'the ONNX Runtime run failed: boom']);
      expect((e as Error & { cause?: unknown }).cause).toBe(fail);
    }
    fail = 'a string';
    await expect(b.predict(seq(1, 1))).rejects.toThrow('the ONNX Runtime run failed: a string');
    fail = new OverloadedError('the pool is busy');
    await expect(b.predict(seq(1, 1))).rejects.toBe(fail);
    fail = null;
    expect(Array.from((await b.predict(seq(1, 7))).y)).toEqual([7, 1]);
    await tick();
    expect(events.map((e) => e.size)).toEqual([2, 1, 1, 1]);
    expect(events.slice(0, 3).every((e) => e.error !== undefined)).toBe(true);
    expect(events[3].error).toBeUndefined();
    expect(b.runsInFlight).toBe(0);
  });
});

describe('queue limits and reserved places', () => {
  it('reserve() holds a place and bytes until released (once); full says when the next request would be refused', async () => {
    const g = gated();
    const b = new Batcher(g.runner, info(), { maxBatch: 1, maxWaitMs: 0, maxQueue: 2, maxQueueBytes: 64 });
    expect(b.full).toBe(false);
    const release = b.reserve(16);
    expect(b.queueDepth).toBe(1);
    const running = b.predict(seq(1, 1)); // taken into a run at once: not waiting
    const waiting = b.predict(seq(1, 2));
    expect(b.queueDepth).toBe(2);
    expect(b.full).toBe(true);
    await expect(b.predict(seq(1, 3))).rejects.toThrow('overloaded: 2 requests are already waiting (maxQueue 2); retry later');
    expect(() => b.reserve(8)).toThrow(OverloadedError);
    release();
    release(); // idempotent: frees one place, not two
    expect(b.queueDepth).toBe(1);
    expect(b.full).toBe(false);
    g.release();
    await running;
    await tick();
    g.release();
    await waiting;
    expect(b.queueDepth).toBe(0);

    // Bytes: one request runs, one waits (8 bytes); 48 reserved makes 56, and 16 more would pass 64.
    const g2 = gated();
    const b2 = new Batcher(g2.runner, info(), { maxBatch: 1, maxWaitMs: 0, maxQueue: 10, maxQueueBytes: 64 });
    const run2 = b2.predict(seq(1, 1));
    const wait2 = b2.predict(seq(1, 2));
    const r2 = b2.reserve(48);
    expect(b2.full).toBe(false);
    expect(() => b2.reserve(16)).toThrow('overloaded: waiting requests already hold 56 bytes of input (maxQueueBytes 64); retry later');
    await expect(b2.predict(seq(2, 1))).rejects.toThrow(OverloadedError);
    expect(() => b2.reserve(65)).toThrow('input holds 65 bytes, more than the whole queue may hold (maxQueueBytes 64)');
    expect(() => b2.reserve(65)).toThrow(BadRequestError);
    const r3 = b2.reserve(8); // exactly 64: fits, and now the bytes are full
    expect(b2.full).toBe(true);
    r2();
    r3();
    expect(b2.full).toBe(false);
    g2.release();
    await run2;
    await tick();
    g2.release();
    await wait2;
    await b.close();
    expect(() => b.reserve(1)).toThrow(ShuttingDownError);
    expect(() => b.reserve(1)).toThrow('the batcher is shutting down and accepts no new requests');
  });

  it('the bytes of a request that has run leave the count once: the byte limit holds after many runs', async () => {
    const g = gated();
    // seq(1, v) holds 8 bytes: two may wait.
    const b = new Batcher(g.runner, info(), { maxBatch: 1, maxWaitMs: 0, maxQueueBytes: 16 });
    for (let v = 1; v <= 3; v++) {
      const p = b.predict(seq(1, v));
      await tick();
      g.release();
      expect((await p).y[0]).toBe(v);
      await tick(); // the run's end (after its answer)
    }
    const running = b.predict(seq(1, 4)); // taken into a run at once: not waiting
    const waiting = [b.predict(seq(1, 5)), b.predict(seq(1, 6))];
    expect(b.full).toBe(true);
    await expect(b.predict(seq(1, 7))).rejects.toThrow('overloaded: waiting requests already hold 16 bytes of input (maxQueueBytes 16); retry later');
    for (let i = 0; i < 3; i++) {
      await tick();
      g.release();
    }
    expect((await Promise.all([running, ...waiting])).map((r) => r.y[0])).toEqual([4, 5, 6]);
    expect(b.full).toBe(false);
  });

  it('a request that has been answered is not held until its timeout: its input can be collected', async () => {
    // gc() on demand, without starting node with --expose-gc.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const b = new Batcher(echo(), info(), { maxBatch: 1, maxWaitMs: 0, maxTime: 250_000 });
    const input = await (async () => {
      const big = new Float32Array(2 * 250_000).fill(0.5); // 2 MB
      expect((await b.predict(big)).y[0]).toBe(0.5);
      return new WeakRef(big);
    })();
    // Answered requests are let go of in bulk (past 1024) as later ones arrive; none times out here.
    for (let i = 0; i < 1100; i++) expect((await b.predict(seq(1, i))).y[0]).toBe(i);
    await tick();
    gc();
    expect(input.deref() === undefined, 'the answered input is still held').toBe(true);
    await b.close();
  });

  it('runs in flight at once are bounded by maxInFlight', async () => {
    const g = gated();
    const b = new Batcher(g.runner, info(), { maxBatch: 1, maxWaitMs: 0, maxInFlight: 2 });
    const ps = [1, 2, 3].map((v) => b.predict(seq(1, v)));
    await tick();
    expect(b.runsInFlight).toBe(2);
    expect(b.queueDepth).toBe(1);
    g.release();
    await tick();
    expect(b.runsInFlight).toBe(1);
    g.release();
    expect((await Promise.all(ps)).map((r) => r.y[0])).toEqual([1, 2, 3]);
  });
});

describe('closing', () => {
  it('close({ drain: false }) refuses what waits, lets the running run finish, then resolves', async () => {
    const g = gated();
    const b = new Batcher(g.runner, info(), { maxBatch: 1, maxWaitMs: 0 });
    const running = b.predict(seq(1, 1));
    const queued = b.predict(seq(1, 2));
    const closed = b.close({ drain: false });
    await expect(queued).rejects.toThrow('the batcher shut down before this request ran');
    await expect(queued).rejects.toBeInstanceOf(ShuttingDownError);
    let done = false;
    void closed.then(() => (done = true));
    await tick(5);
    expect(done).toBe(false);
    g.release();
    expect((await running).y[0]).toBe(1);
    await closed;
    expect(b.queueDepth).toBe(0);
  });

  it('a drain resolves once the last queued request has left, also by timing out', async () => {
    const g = gated();
    const b = new Batcher(g.runner, info(), { maxBatch: 1, maxWaitMs: 0 });
    const running = b.predict(seq(1, 1), { timeoutMs: 20 });
    const queued = b.predict(seq(1, 2), { timeoutMs: 20 });
    const closed = b.close();
    await expect(running).rejects.toBeInstanceOf(TimeoutError);
    await expect(queued).rejects.toBeInstanceOf(TimeoutError);
    g.release();
    await tick();
    g.release();
    await closed;
    expect(b.runsInFlight).toBe(0);
  });

  it('a drain waits for every run in flight, not the first to finish', async () => {
    const gates: (() => void)[] = [];
    const inner = echo();
    const runner: Runner = { run: async (req) => { await new Promise<void>((r) => gates.push(r)); return inner.run(req); } };
    const b = new Batcher(runner, info(), { maxBatch: 1, maxWaitMs: 0, maxInFlight: 2 });
    const first = b.predict(seq(1, 1));
    const second = b.predict(seq(1, 2));
    await tick();
    expect([b.runsInFlight, gates.length]).toEqual([2, 2]);
    let closed = false;
    const closing = b.close().then(() => (closed = true));
    gates.shift()!();
    expect((await first).y[0]).toBe(1);
    await tick(5);
    expect([closed, b.runsInFlight]).toEqual([false, 1]);
    gates.shift()!();
    expect((await second).y[0]).toBe(2);
    await closing;
    expect(b.runsInFlight).toBe(0);
  });

  it('an idle batcher closes at once', async () => {
    await new Batcher(echo(), info()).close();
  });
});

describe('waiting for a batch', () => {
  it('hurry(): from then on requests do not wait out maxWaitMs', async () => {
    const calls: RunRequest[] = [];
    const b = new Batcher(echo(calls), info(), { maxBatch: 64, maxWaitMs: 60_000 });
    b.hurry();
    const t0 = performance.now();
    await b.predict(seq(1, 1));
    await b.predict(seq(2, 1));
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(calls.length).toBe(2);
  });

  it('flush() sends what waits now; later requests wait again', async () => {
    const calls: RunRequest[] = [];
    const b = new Batcher(echo(calls), info(), { maxBatch: 64, maxWaitMs: 300 });
    const a = b.predict(seq(1, 1));
    const c = b.predict(seq(1, 2));
    b.flush();
    await Promise.all([a, c]);
    expect(calls.map((r) => r.batch)).toEqual([2]);
    await tick();
    const t0 = performance.now();
    await b.predict(seq(1, 3));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
  });

  it('a request cancelled or timed out while its run is in flight gets its error, not the answer', async () => {
    const g = gated();
    const b = new Batcher(g.runner, info(), { maxBatch: 2, maxWaitMs: 0 });
    const ac = new AbortController();
    const cancelled = b.predict(seq(1, 1), { signal: ac.signal });
    const late = b.predict(seq(1, 2), { timeoutMs: 10 });
    await tick();
    expect(b.runsInFlight).toBe(1);
    ac.abort('user left');
    const err = (await cancelled.catch((e: unknown) => e)) as CancelledError;
    expect(err).toBeInstanceOf(CancelledError);
    expect(err.message).toBe('the request was cancelled');
    expect((err as Error & { cause?: unknown }).cause).toBe('user left');
    await expect(late).rejects.toThrow('the request timed out after 10 ms');
    g.release();
    await tick();
    expect(b.runsInFlight).toBe(0);
  });
});

describe('highWater: the largest queue depth seen', () => {
  it('rises with the queue, and a later, shorter queue does not lower it', async () => {
    const calls: RunRequest[] = [];
    const b = new Batcher(echo(calls), info(), { maxBatch: 64, maxWaitMs: 60_000 });
    expect(b.highWater).toBe(0);
    const first = [b.predict(seq(1, 1)), b.predict(seq(1, 2)), b.predict(seq(1, 3))];
    expect(b.queueDepth).toBe(3);
    expect(b.highWater).toBe(3);
    b.flush();
    await Promise.all(first);
    expect(b.queueDepth).toBe(0);
    const next = b.predict(seq(1, 4));
    expect(b.queueDepth).toBe(1);
    expect(b.highWater).toBe(3);
    b.flush();
    await next;
    expect(b.highWater).toBe(3);
    expect(calls.map((r) => r.batch)).toEqual([3, 1]);
  });
});

describe('one request as large as the whole byte limit', () => {
  it('is accepted when nothing else waits (only more than maxQueueBytes is refused outright)', async () => {
    const calls: RunRequest[] = [];
    const b = new Batcher(echo(calls), info(), { maxWaitMs: 0, maxQueueBytes: 16 });
    const r = await b.predict(seq(2, 7)); // 2 steps of 2 values: 16 bytes
    expect(Array.from(r.y)).toEqual([7, 2]);
    await expect(b.predict(seq(3, 7))).rejects.toThrow('input holds 24 bytes, more than the whole queue may hold (maxQueueBytes 16)');
    const release = b.reserve(16);
    release();
    expect(calls.map((c) => c.batch)).toEqual([1]);
  });
});

describe('padded bytes of a foreign graph (no per-step width known)', () => {
  it('count the input and output values of each padded step: rows * time * (I + F) * 4', async () => {
    const calls: RunRequest[] = [];
    const foreign = info({ outputSize: 3 });
    const wide: Runner = {
      run: async (req) => {
        calls.push(req);
        return { y: new Float32Array(req.batch * 3), dims: [req.batch, 3] };
      },
    };
    // (2 + 3) * 4 = 20 bytes per row and step: two 1-step rows fit 40, three do not.
    const b = new Batcher(wide, foreign, { maxWaitMs: 60_000, maxBatchBytes: 40 });
    expect(b.paddedBytes(3, 4)).toBe(240);
    const g = [b.predict(seq(1, 1)), b.predict(seq(1, 2)), b.predict(seq(1, 3))];
    b.flush();
    await Promise.all(g);
    expect(calls.map((c) => c.batch)).toEqual([2, 1]);
  });
});

describe('batch size and output rank', () => {
  it('a run takes at most maxBatch requests', async () => {
    const calls: RunRequest[] = [];
    const b = new Batcher(echo(calls), info(), { maxBatch: 2, maxWaitMs: 60_000 });
    const ps = [1, 2, 3, 4, 5].map((v) => b.predict(seq(1, v)));
    b.flush();
    expect((await Promise.all(ps)).map((r) => r.y[0])).toEqual([1, 2, 3, 4, 5]);
    expect(calls.map((c) => c.batch)).toEqual([2, 2, 1]);
  });

  it('an output of lower rank than expected fails the run, even when the dims it has agree', async () => {
    const flat: Runner = { run: async (req) => ({ y: new Float32Array(req.batch * 2), dims: [req.batch] }) };
    const b = new Batcher(flat, info(), { maxWaitMs: 0 });
    await expect(b.predict(seq(1, 1))).rejects.toThrow('the ONNX Runtime run failed: the model returned y with dims [1], expected [1, 2]');
  });
});

describe('a request whose signal has already fired', () => {
  it('is refused before it is queued, with the signal\'s reason; nothing runs', async () => {
    const calls: RunRequest[] = [];
    const b = new Batcher(echo(calls), info(), { maxWaitMs: 0 });
    const ac = new AbortController();
    ac.abort('client gone');
    const err = (await b.predict(seq(1, 1), { signal: ac.signal }).catch((e: unknown) => e)) as CancelledError;
    expect(err).toBeInstanceOf(CancelledError);
    expect(err.message).toBe('the request was cancelled before it was queued');
    expect((err as Error & { cause?: unknown }).cause).toBe('client gone');
    expect([b.queueDepth, b.highWater, calls.length]).toEqual([0, 0, 0]);
  });
});

describe('the timer of a request with a timeout of its own', () => {
  it('does not keep the process alive (unref\'d), and is cleared when the request is answered or cancelled', async () => {
    await watchTimers(async (made, cleared) => {
      // Answered: the timer armed for 45 s is let go at once.
      const b = new Batcher(echo(), info(), { maxWaitMs: 0, timeoutMs: 30_000 });
      const answered = b.predict(seq(1, 7), { timeoutMs: 45_000 });
      const own = made.filter((m) => m.ms === 45_000);
      expect(own.length).toBe(1);
      expect(own[0].timer.hasRef()).toBe(false);
      expect((await answered).y[0]).toBe(7);
      expect(cleared).toContain(own[0].timer);

      // Cancelled while its run hangs: the same.
      const g = gated();
      const hung = new Batcher(g.runner, info(), { maxWaitMs: 0, timeoutMs: 30_000 });
      const ctl = new AbortController();
      const cancelled = hung.predict(seq(1, 1), { timeoutMs: 45_001, signal: ctl.signal });
      const own2 = made.filter((m) => m.ms === 45_001);
      expect(own2.length).toBe(1);
      expect(own2[0].timer.hasRef()).toBe(false);
      ctl.abort();
      await expect(cancelled).rejects.toBeInstanceOf(CancelledError);
      expect(cleared).toContain(own2[0].timer);
      g.release();
    });
  });
});
