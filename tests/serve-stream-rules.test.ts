// Stream rules with a stand-in counter model (no ONNX Runtime): h' = h + the chunk's inputs, so
// where every chunk's state came from shows in its answer. Chunks of one stream run in order
// and time out or are cancelled while waiting their turn without letting the next overtake;
// steps count for both output kinds; the manager's options, idle sweep and shutdown.

import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Batcher } from '../src/serve/batcher.js';
import { CancelledError, OverloadedError, ShuttingDownError, TimeoutError } from '../src/serve/errors.js';
import { checkStreamable, openStream, Stream, StreamManager, StreamNotFoundError, StreamUnsupportedError } from '../src/serve/stream.js';
import type { RunRequest, RunResult, ServeModelInfo } from '../src/serve/types.js';
import { watchTimers } from './serve-timers.js';

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/** inputSize 1; y (last step) or y per step = running sum from the carried state. */
function counter(returnsSequences: boolean, gate?: { wait: boolean; open: (() => void)[] }) {
  const info: ServeModelInfo = { inputSize: 1, outputSize: 1, returnsSequences, hasSequenceLens: true, state: [{ directions: 1, units: 1, hasCell: false }], needsFuture: null };
  const runs: RunRequest[] = [];
  const runner = {
    run: async (req: RunRequest): Promise<RunResult> => {
      runs.push(req);
      if (gate?.wait) await new Promise<void>((r) => gate.open.push(r));
      const h = new Float32Array(req.batch);
      const y = new Float32Array(returnsSequences ? req.batch * req.time : req.batch);
      for (let b = 0; b < req.batch; b++) {
        h[b] = req.state![0].h[b];
        for (let t = 0; t < req.sequenceLens![b]; t++) {
          h[b] += req.x[b * req.time + t];
          if (returnsSequences) y[b * req.time + t] = h[b];
        }
        if (!returnsSequences) y[b] = h[b];
      }
      return { y, dims: returnsSequences ? [req.batch, req.time, 1] : [req.batch, 1], state: [{ h }] };
    },
  };
  return { info, runner, runs };
}

describe('chunks of one stream', () => {
  it('carry the state; steps count the chunk\'s steps for both output kinds and for nested rows', async () => {
    const last = counter(false);
    const s = openStream(new Batcher(last.runner, last.info, { maxWaitMs: 0 }));
    expect(Array.from((await s.append(Float32Array.from([1, 2, 3]))).y)).toEqual([6]);
    expect(s.steps).toBe(3);
    const r = await s.append([[4], [5]]);
    expect(Array.from(r.y)).toEqual([15]);
    expect(r.dims).toEqual([1]);
    expect(s.steps).toBe(5);
    expect(r).not.toHaveProperty('state');

    const seqs = counter(true);
    const t = openStream(new Batcher(seqs.runner, seqs.info, { maxWaitMs: 0 }));
    await t.append(Float32Array.from([1, 1]));
    const r2 = await t.append([[2], [3], [4]]);
    expect(Array.from(r2.y)).toEqual([4, 7, 11]);
    expect(r2.dims).toEqual([3, 1]);
    expect(t.steps).toBe(5);
    expect(t.isClosed).toBe(false);
    t.close();
    t.close(); // twice is fine
    expect(t.isClosed).toBe(true);
    await expect(t.append(Float32Array.from([1]))).rejects.toBeInstanceOf(StreamNotFoundError);
  });

  it('run one after the other, in order, even when sent at once', async () => {
    const c = counter(false);
    const b = new Batcher(c.runner, c.info, { maxWaitMs: 0, maxBatch: 8 });
    const s = openStream(b);
    const rs = await Promise.all([1, 2, 3, 4].map((v) => s.append(Float32Array.from([v]))));
    expect(rs.map((r) => r.y[0])).toEqual([1, 3, 6, 10]);
    expect(c.runs.every((r) => r.batch === 1)).toBe(true);
    expect(c.runs.length).toBe(4);
  });

  it('a chunk that times out waiting for the one before fails alone; the state is as if it was never sent', async () => {
    const gate = { wait: true, open: [] as (() => void)[] };
    const c = counter(false, gate);
    const b = new Batcher(c.runner, c.info, { maxWaitMs: 0 });
    const s = openStream(b);
    const first = s.append(Float32Array.from([5]));
    const late = s.append(Float32Array.from([100]), { timeoutMs: 20 });
    const after = s.append(Float32Array.from([1]));
    const err = await late.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toBe('the request timed out after 20 ms waiting for the stream\'s previous chunk');
    // The one after it still waits for the first, not only for the one that gave up.
    await tick(5);
    expect(c.runs.length).toBe(1);
    gate.wait = false;
    gate.open.splice(0).forEach((o) => o());
    expect((await first).y[0]).toBe(5);
    expect((await after).y[0]).toBe(6);
    expect(s.steps).toBe(2);
    // The reserved place of the timed-out chunk was given back.
    expect(b.queueDepth).toBe(0);
  });

  it('a chunk cancelled while waiting its turn, or before, is refused with CancelledError', async () => {
    const gate = { wait: true, open: [] as (() => void)[] };
    const c = counter(false, gate);
    const b = new Batcher(c.runner, c.info, { maxWaitMs: 0 });
    const s = openStream(b);
    const first = s.append(Float32Array.from([5]));
    const ac = new AbortController();
    const waiting = s.append(Float32Array.from([7]), { signal: ac.signal });
    ac.abort('gone');
    const err = await waiting.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CancelledError);
    expect((err as Error).message).toBe('the request was cancelled');
    expect((err as Error & { cause?: unknown }).cause).toBe('gone');
    const pre = new AbortController();
    pre.abort('before');
    const err2 = await s.append(Float32Array.from([7]), { signal: pre.signal }).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(CancelledError);
    expect((err2 as Error).message).toBe('the request was cancelled before it was queued');
    expect(b.queueDepth).toBe(0);
    gate.wait = false;
    gate.open.splice(0).forEach((o) => o());
    expect((await first).y[0]).toBe(5);
    expect((await s.append(Float32Array.from([1]))).y[0]).toBe(6);
  });

  it('a chunk whose stream closes while it waits is refused; bad timeouts and full queues are refused at once', async () => {
    const gate = { wait: true, open: [] as (() => void)[] };
    const c = counter(false, gate);
    const b = new Batcher(c.runner, c.info, { maxWaitMs: 0, maxQueue: 1 });
    const s = openStream(b);
    const first = s.append(Float32Array.from([5]));
    await tick(); // the first is running, out of the queue
    const second = s.append(Float32Array.from([1]));
    // maxQueue 1: the waiting chunk holds the only place.
    await expect(s.append(Float32Array.from([1]))).rejects.toBeInstanceOf(OverloadedError);
    await expect(s.append(Float32Array.from([1]), { timeoutMs: 0 })).rejects.toThrow(/timeoutMs must be a positive number/);
    s.close();
    gate.wait = false;
    gate.open.splice(0).forEach((o) => o());
    await first;
    await expect(second).rejects.toBeInstanceOf(StreamNotFoundError);
    expect(b.queueDepth).toBe(0);
  });
});

describe('what can stream', () => {
  it('needs state inputs and forward layers only', () => {
    const base: ServeModelInfo = { inputSize: 1, outputSize: 1, returnsSequences: false, hasSequenceLens: true, state: [], needsFuture: null };
    const runner = { run: async (): Promise<RunResult> => ({ y: new Float32Array(1), dims: [1, 1] }) };
    expect(() => checkStreamable(new Batcher(runner, base))).toThrow('this model cannot stream: the graph has no state inputs (h0_k/c0_k); export it with { stateful: true }');
    const future = { ...base, state: [{ directions: 2, units: 1, hasCell: false }], needsFuture: 'layers[0] (gru) is bidirectional' };
    expect(() => new Stream(new Batcher(runner, future))).toThrow(StreamUnsupportedError);
    expect(() => checkStreamable(new Batcher(runner, future))).toThrow('this model cannot stream: layers[0] (gru) is bidirectional. A reverse or bidirectional layer reads the sequence from its end, which a stream has not received yet; send whole sequences to predict instead');
    const err = (() => { try { checkStreamable(new Batcher(runner, base)); } catch (e) { return e as StreamUnsupportedError; } })()!;
    expect([err.code, err.status, err.name]).toEqual(['stream_unsupported', 400, 'StreamUnsupportedError']);
  });
});

describe('StreamManager', () => {
  it('options: defaults and refusals', () => {
    const c = counter(false);
    const b = new Batcher(c.runner, c.info);
    const m = new StreamManager(b);
    expect([m.maxStreams, m.idleTimeoutMs, m.size]).toEqual([1024, 600_000, 0]);
    m.closeAll();
    for (const v of [0, 1.5, -1]) expect(() => new StreamManager(b, { maxStreams: v })).toThrow(`maxStreams must be a positive integer, got ${v}`);
    for (const v of [0, -5, NaN]) expect(() => new StreamManager(b, { idleTimeoutMs: v })).toThrow(`idleTimeoutMs must be a positive number, got ${v}`);
  });

  it('get and close by id; an unknown id is a 404 naming it', () => {
    const c = counter(false);
    const m = new StreamManager(new Batcher(c.runner, c.info), { maxStreams: 2 });
    const a = m.open();
    expect(m.get(a.id)).toBe(a);
    expect(m.size).toBe(1);
    m.close(a.id);
    expect(a.isClosed).toBe(true);
    expect(m.size).toBe(0);
    const err = (() => { try { m.get(a.id); } catch (e) { return e as StreamNotFoundError; } })()!;
    expect(err).toBeInstanceOf(StreamNotFoundError);
    expect([err.code, err.status]).toEqual(['not_found', 404]);
    expect(err.message).toBe(`no open stream with id ${JSON.stringify(a.id)} (never opened, closed, or expired after idling)`);
    expect(() => m.close('nope')).toThrow(StreamNotFoundError);
    m.open();
    m.open();
    expect(() => m.open()).toThrow('overloaded: 2 streams are open (maxStreams 2); close one or retry later');
    m.closeAll();
    expect(m.size).toBe(0);
    expect(() => m.open()).toThrow(ShuttingDownError);
    expect(() => m.open()).toThrow('the server is shutting down and opens no new streams');
  });
});

describe('what a chunk holds while it waits, and what it leaves behind', () => {
  it('a waiting chunk reserves its input bytes (4 per value, nested rows too) against maxQueueBytes', async () => {
    const gate = { wait: true, open: [] as (() => void)[] };
    const c = counter(false, gate);
    const b = new Batcher(c.runner, c.info, { maxWaitMs: 0, maxQueueBytes: 12 });
    const s = openStream(b);
    const first = s.append(Float32Array.from([1]));
    await tick(); // running, out of the queue
    // 4 rows of 1 value: 16 bytes, more than the whole queue may hold.
    await expect(s.append([[1], [2], [3], [4]])).rejects.toThrow('input holds 16 bytes, more than the whole queue may hold (maxQueueBytes 12)');
    await expect(s.append(Float32Array.from([1, 2, 3, 4]))).rejects.toThrow('input holds 16 bytes, more than the whole queue may hold (maxQueueBytes 12)');
    const second = s.append([[2], [3]]); // 8 bytes reserved while it waits
    await expect(s.append([[1], [1]])).rejects.toThrow('overloaded: waiting requests already hold 8 bytes of input (maxQueueBytes 12); retry later');
    const third = s.append([[4]]); // 8 + 4 = 12: fits exactly
    expect(b.full).toBe(true);
    gate.wait = false;
    gate.open.splice(0).forEach((o) => o());
    expect([(await first).y[0], (await second).y[0], (await third).y[0]]).toEqual([1, 6, 10]);
    expect(b.full).toBe(false);

    // Two values a row: a waiting chunk of 2 nested rows holds 16 bytes.
    const wide: ServeModelInfo = { ...c.info, inputSize: 2 };
    const opened: (() => void)[] = [];
    const held = {
      run: async (req: RunRequest): Promise<RunResult> => {
        await new Promise<void>((r) => opened.push(r));
        return { y: new Float32Array(req.batch), dims: [req.batch, 1], state: [{ h: new Float32Array(req.batch) }] };
      },
    };
    const w = openStream(new Batcher(held, wide, { maxWaitMs: 0, maxQueueBytes: 20 }));
    const running = w.append([[1, 2]]);
    await tick();
    const waiting = w.append([[1, 2], [3, 4]]);
    await expect(w.append([[5, 6]])).rejects.toThrow('overloaded: waiting requests already hold 16 bytes of input (maxQueueBytes 20); retry later');
    opened.splice(0).forEach((o) => o());
    await running;
    await tick();
    opened.splice(0).forEach((o) => o());
    expect((await waiting).dims).toEqual([1]);
  });

  it('a chunk waiting its turn times out after the batcher\'s default timeout unless given its own', async () => {
    const gate = { wait: true, open: [] as (() => void)[] };
    const c = counter(false, gate);
    const b = new Batcher(c.runner, c.info, { maxWaitMs: 0, timeoutMs: 15 });
    const s = openStream(b);
    const first = s.append(Float32Array.from([5]), { timeoutMs: 60_000 });
    const late = s.append(Float32Array.from([1]));
    await expect(late).rejects.toThrow('the request timed out after 15 ms waiting for the stream\'s previous chunk');
    gate.wait = false;
    gate.open.splice(0).forEach((o) => o());
    expect((await first).y[0]).toBe(5);
  });

  it('a stream closed while its chunk runs: the chunk is answered, the steps are not advanced', async () => {
    const gate = { wait: true, open: [] as (() => void)[] };
    const c = counter(false, gate);
    const b = new Batcher(c.runner, c.info, { maxWaitMs: 0 });
    const s = openStream(b);
    const first = s.append(Float32Array.from([1, 2]));
    await tick();
    expect(b.runsInFlight).toBe(1);
    s.close();
    gate.wait = false;
    gate.open.splice(0).forEach((o) => o());
    expect((await first).y[0]).toBe(3);
    expect(s.steps).toBe(0);
  });

  it('a chunk that has had its turn leaves no abort listener on its signal', async () => {
    const c = counter(false);
    const b = new Batcher(c.runner, c.info, { maxWaitMs: 0 });
    const s = openStream(b);
    const ac = new AbortController();
    await s.append(Float32Array.from([1]), { signal: ac.signal });
    await s.append(Float32Array.from([2]), { signal: ac.signal });
    expect(EventEmitter.getEventListeners(ac.signal, 'abort')).toEqual([]);
    ac.abort();
    expect(s.steps).toBe(2);
  });
});

describe('a closed stream', () => {
  it('refuses an append at once as not found, before any other check; its close callback runs once', async () => {
    const c = counter(false);
    const b = new Batcher(c.runner, c.info, { maxWaitMs: 0, maxQueue: 1 });
    const closes: string[] = [];
    const s = new Stream(b, 'fixed-id', (st) => closes.push(st.id));
    expect(s.id).toBe('fixed-id');
    s.close();
    s.close();
    expect(closes).toEqual(['fixed-id']);
    const release = b.reserve(4); // the queue is full
    const full = (await s.append(Float32Array.from([1])).catch((e: unknown) => e)) as StreamNotFoundError;
    expect(full).toBeInstanceOf(StreamNotFoundError);
    expect(full.message).toBe('no open stream with id "fixed-id" (never opened, closed, or expired after idling)');
    await expect(s.append(Float32Array.from([1]), { timeoutMs: -1 })).rejects.toBeInstanceOf(StreamNotFoundError);
    release();
    expect(b.queueDepth).toBe(0);
    expect(c.runs).toEqual([]);
  });
});

describe('the timers of a chunk waiting for the one before it', () => {
  it('do not keep the process alive (unref\'d), and are cleared once the chunk is answered', async () => {
    await watchTimers(async (made, cleared) => {
      const gate = { wait: true, open: [] as (() => void)[] };
      const c = counter(false, gate);
      const s = openStream(new Batcher(c.runner, c.info, { maxWaitMs: 0, timeoutMs: 30_000 }));
      const first = s.append(Float32Array.from([2]));
      await tick();
      expect(c.runs.length).toBe(1); // its run hangs until the gate opens
      const second = s.append(Float32Array.from([3]), { timeoutMs: 45_000 });
      // The wait for its turn: 45 s from now.
      const turn = made.filter((m) => m.ms === 45_000);
      expect(turn.length).toBe(1);
      expect(turn[0].timer.hasRef()).toBe(false);
      gate.wait = false;
      gate.open.splice(0).forEach((r) => r());
      expect(Array.from((await first).y)).toEqual([2]);
      expect(Array.from((await second).y)).toEqual([5]);
      expect(cleared).toContain(turn[0].timer);
      // Its run then got what was left of the 45 s, as a timeout of its own: unref'd and cleared too.
      const run = made.filter((m) => m.ms > 44_000 && m.ms < 45_000);
      expect(run.length).toBe(1);
      expect(run[0].timer.hasRef()).toBe(false);
      expect(cleared).toContain(run[0].timer);
    });
  });
});
