// The serving layer's clocks on fake timers (setTimeout, setInterval and performance.now), so
// each deadline is checked to the millisecond instead of with margins: a batch leaves when its
// oldest request has waited maxWaitMs, requests time out at enqueue + timeout (the shared FIFO
// timer for the default timeout, their own timer otherwise), a stream chunk's run gets what is
// left of its timeout, and idle streams are closed by a sweep every min(idle, 60 s) / 2.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Batcher } from '../src/serve/batcher.js';
import { TimeoutError } from '../src/serve/errors.js';
import { openStream, StreamManager } from '../src/serve/stream.js';
import type { RunRequest, RunResult, Runner, ServeModelInfo } from '../src/serve/types.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

const info = (over: Partial<ServeModelInfo> = {}): ServeModelInfo => ({
  inputSize: 1, outputSize: 1, returnsSequences: false, hasSequenceLens: true, state: [], needsFuture: null, ...over,
});
const one = (v: number) => Float32Array.from([v]);
const at = async (ms: number) => {
  await vi.advanceTimersByTimeAsync(ms - performance.now());
};

/** Records when each run starts and with what; answers at once, or never when `hang`. */
function recorder(hang = false) {
  const runs: { t: number; batch: number; req: RunRequest }[] = [];
  const runner: Runner = {
    run: (req) => {
      runs.push({ t: performance.now(), batch: req.batch, req });
      if (hang) return new Promise<RunResult>(() => {});
      const h = new Float32Array(req.batch);
      return Promise.resolve({ y: new Float32Array(req.batch), dims: [req.batch, 1], state: req.state ? [{ h }] : undefined });
    },
  };
  return { runs, runner };
}

describe('batch timing', () => {
  it('a batch leaves when its oldest request has waited maxWaitMs, not a millisecond earlier', async () => {
    const { runs, runner } = recorder();
    const b = new Batcher(runner, info(), { maxBatch: 4, maxWaitMs: 10 });
    const t0 = performance.now();
    const a = b.predict(one(1));
    await at(t0 + 9);
    expect(runs.length).toBe(0);
    await at(t0 + 10);
    expect(runs.map((r) => [r.t - t0, r.batch])).toEqual([[10, 1]]);
    await a;
    // Two requests 5 ms apart: they leave together when the first has waited 10 ms.
    await at(t0 + 20);
    const p = [b.predict(one(2))];
    await at(t0 + 25);
    p.push(b.predict(one(3)));
    await at(t0 + 29);
    expect(runs.length).toBe(1);
    await at(t0 + 30);
    expect(runs.map((r) => [r.t - t0, r.batch])).toEqual([[10, 1], [30, 2]]);
    await Promise.all(p);
    // A full batch leaves at once.
    const full = [4, 5, 6, 7].map((v) => b.predict(one(v)));
    await vi.advanceTimersByTimeAsync(0);
    expect(runs.length).toBe(3);
    expect(runs[2].batch).toBe(4);
    await Promise.all(full);
  });

  it('requests waiting behind a run leave when it finishes if they have waited maxWaitMs already', async () => {
    let release: () => void = () => {};
    const starts: number[] = [];
    const runner: Runner = {
      run: async (req) => {
        starts.push(performance.now());
        await new Promise<void>((r) => (release = r));
        return { y: new Float32Array(req.batch), dims: [req.batch, 1] };
      },
    };
    const b = new Batcher(runner, info(), { maxBatch: 8, maxWaitMs: 10 });
    const t0 = performance.now();
    const first = b.predict(one(1));
    await at(t0 + 10);
    const second = b.predict(one(2));
    await at(t0 + 50);
    release();
    await first;
    await vi.advanceTimersByTimeAsync(0);
    // The second had waited 40 ms: it ran as soon as the first run ended.
    expect(starts.map((s) => s - t0)).toEqual([10, 50]);
    release();
    await second;
  });
});

describe('request timeouts', () => {
  it('the default timeout: each request at its own enqueue time + timeoutMs, in order, running or waiting', async () => {
    const { runner } = recorder(true);
    const b = new Batcher(runner, info(), { maxBatch: 1, maxWaitMs: 0, timeoutMs: 50 });
    const t0 = performance.now();
    const when: Record<string, number> = {};
    const track = (name: string, p: Promise<unknown>) => p.catch((e: unknown) => {
      expect(e).toBeInstanceOf(TimeoutError);
      expect((e as Error).message).toBe('the request timed out after 50 ms');
      when[name] = performance.now() - t0;
    });
    const a = track('a', b.predict(one(1))); // runs (and hangs)
    await at(t0 + 10);
    const c = track('c', b.predict(one(2))); // waits
    await at(t0 + 30);
    const d = track('d', b.predict(one(3)));
    await at(t0 + 49);
    expect(when).toEqual({});
    await at(t0 + 50);
    expect(when).toEqual({ a: 50 });
    await at(t0 + 59);
    expect(when).toEqual({ a: 50 });
    await at(t0 + 60);
    expect(when).toEqual({ a: 50, c: 60 });
    await at(t0 + 80);
    await Promise.all([a, c, d]);
    expect(when).toEqual({ a: 50, c: 60, d: 80 });
    expect(b.queueDepth).toBe(0);
  });

  it('a request settled before its deadline is skipped by the shared timer; later ones still expire on time', async () => {
    let release: () => void = () => {};
    const runner: Runner = {
      run: async (req) => {
        await new Promise<void>((r) => (release = r));
        return { y: new Float32Array(req.batch), dims: [req.batch, 1] };
      },
    };
    const b = new Batcher(runner, info(), { maxBatch: 1, maxWaitMs: 0, timeoutMs: 40 });
    const t0 = performance.now();
    const a = b.predict(one(1));
    await at(t0 + 5);
    let cAt = -1;
    const c = b.predict(one(2)).catch((e: unknown) => {
      expect(e).toBeInstanceOf(TimeoutError);
      cAt = performance.now() - t0;
    });
    await at(t0 + 20);
    release(); // a is answered at 20, before its deadline (40); c's run starts and hangs
    await a;
    await at(t0 + 44);
    expect(cAt).toBe(-1);
    await at(t0 + 45);
    await c;
    expect(cAt).toBe(45);
  });

  it('a timeout other than the default gets its own timer', async () => {
    const { runner } = recorder(true);
    const b = new Batcher(runner, info(), { maxBatch: 1, maxWaitMs: 0, timeoutMs: 1000 });
    const t0 = performance.now();
    const r = b.predict(one(1), { timeoutMs: 25 }).catch((e: unknown) => [e, performance.now() - t0]);
    await at(t0 + 24);
    await at(t0 + 25);
    const [err, t] = (await r) as [Error, number];
    expect(err.message).toBe('the request timed out after 25 ms');
    expect(t).toBe(25);
  });
});

describe('stream timing', () => {
  const stateful = info({ state: [{ directions: 1, units: 1, hasCell: false }] });

  it('a chunk\'s run gets what is left of its timeout after waiting its turn', async () => {
    let release: () => void = () => {};
    const timeouts: number[] = [];
    const runner: Runner = {
      run: async (req) => {
        await new Promise<void>((r) => (release = r));
        return { y: new Float32Array(req.batch), dims: [req.batch, 1], state: [{ h: new Float32Array(req.batch) }] };
      },
    };
    const b = new Batcher(runner, stateful, { maxWaitMs: 0, timeoutMs: 100 });
    const predict = b.predict.bind(b);
    b.predict = (input, options) => {
      timeouts.push(options?.timeoutMs ?? NaN);
      return predict(input, options);
    };
    const s = openStream(b);
    const t0 = performance.now();
    const first = s.append(one(1));
    const second = s.append(one(2), { timeoutMs: 70 });
    await at(t0 + 30);
    release();
    await first;
    await vi.advanceTimersByTimeAsync(0);
    // The first had 100 ms and waited none; the second had 70 and waited 30.
    expect(timeouts).toEqual([100, 40]);
    release();
    await second;
  });

  it('idle streams are closed by a sweep every min(idleTimeoutMs, 60 s) / 2, once idle longer than idleTimeoutMs', async () => {
    const { runner } = recorder();
    const b = new Batcher(runner, stateful, { maxWaitMs: 0 });
    const m = new StreamManager(b, { idleTimeoutMs: 100 });
    const t0 = performance.now();
    const s = m.open();
    await at(t0 + 100);
    expect(s.isClosed).toBe(false); // idle exactly 100 ms at the sweep of 100: not longer
    await at(t0 + 149);
    expect(s.isClosed).toBe(false);
    await at(t0 + 150);
    expect(s.isClosed).toBe(true);
    // Two streams opened at 160, one used at 240: at the sweep of 300 the unused one is idle
    // 140 ms (closed), the used one 60 ms (kept, until the sweep of 350).
    await at(t0 + 160);
    const unused = m.open();
    const used = m.open();
    await at(t0 + 240);
    await used.append(one(1));
    await at(t0 + 299);
    expect([unused.isClosed, used.isClosed]).toEqual([false, false]);
    await at(t0 + 300);
    expect([unused.isClosed, used.isClosed]).toEqual([true, false]);
    await at(t0 + 350);
    expect(used.isClosed).toBe(true);
    expect(m.size).toBe(0);
    m.closeAll();

    const long = new StreamManager(b, { idleTimeoutMs: 600_000 });
    const t1 = performance.now();
    const u = long.open();
    await at(t1 + 629_999);
    expect(u.isClosed).toBe(false);
    await at(t1 + 630_000);
    expect(u.isClosed).toBe(true);
    long.closeAll();
  });
});

describe('the shared timer of the default timeout', () => {
  it('one timer, armed for the earliest deadline; re-armed for the next one only when it fires', async () => {
    const { runner } = recorder(true);
    const b = new Batcher(runner, info(), { maxBatch: 1, maxWaitMs: 0, timeoutMs: 100 });
    const timers = vi.spyOn(globalThis, 'setTimeout');
    try {
      const t0 = performance.now();
      const a = b.predict(one(1)).catch((e: unknown) => e); // runs (and hangs)
      await at(t0 + 10);
      const c = b.predict(one(2)).catch((e: unknown) => e); // waits
      await at(t0 + 30);
      // c did not get a timer of its own: the one armed for a (100 ms) covers it.
      expect(timers.mock.calls.map(([, ms]) => ms)).toEqual([100]);
      await at(t0 + 100);
      expect(await a).toBeInstanceOf(TimeoutError);
      // a expired; the timer is armed again for c's deadline, 10 ms later.
      expect(timers.mock.calls.map(([, ms]) => ms)).toEqual([100, 10]);
      await at(t0 + 110);
      expect(await c).toBeInstanceOf(TimeoutError);
      expect(timers.mock.calls.map(([, ms]) => ms)).toEqual([100, 10]);
      expect(b.queueDepth).toBe(0);
    } finally {
      timers.mockRestore();
    }
  });
});

describe('the batch timer', () => {
  it('is armed once, for what is left of maxWaitMs, however many requests join before it fires', async () => {
    const { runs, runner } = recorder();
    const b = new Batcher(runner, info(), { maxBatch: 64, maxWaitMs: 20, timeoutMs: 1000 });
    const timers = vi.spyOn(globalThis, 'setTimeout');
    try {
      const t0 = performance.now();
      const a = b.predict(one(1));
      await at(t0 + 5);
      const c = b.predict(one(2));
      await at(t0 + 19);
      expect(runs).toEqual([]);
      // The shared timeout timer (1000 ms), then the batch timer (20 ms); c arms neither.
      expect(timers.mock.calls.map(([, ms]) => ms)).toEqual([1000, 20]);
      await at(t0 + 20);
      await Promise.all([a, c]);
      expect(runs.map((r) => [r.t - t0, r.batch])).toEqual([[20, 2]]);
      expect(timers.mock.calls.map(([, ms]) => ms)).toEqual([1000, 20]);
    } finally {
      timers.mockRestore();
    }
  });
});
