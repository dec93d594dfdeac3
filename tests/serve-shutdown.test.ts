// Signal handling of startServer, in process with process.exit stubbed (the child-process test,
// serve-signal.test.ts, shows the real exit): one process-wide handler for every server started
// with handleSignals, a signal drains them all and exits 0, a second signal exits 1 at once, and
// closing the last server removes the handlers. The exit deadline's timer is faked so that it
// can never fire in the test process.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { gru } from '../src/layers/spec.js';
import { startServer } from '../src/serve/http.js';
import { newRegistry } from '../src/serve/metrics.js';
import { makeModel, tempDir } from './serve-helpers.js';

const tmp = tempDir('rnnx-shutdown-');

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** Stubs process.exit and records (instead of arming) timers of 10 s and more. */
function stubs(): { exits: number[]; timers: { ms: number; fn: () => void }[] } {
  const exits: number[] = [];
  vi.spyOn(process, 'exit').mockImplementation(((code: number) => {
    exits.push(code);
  }) as never);
  const timers: { ms: number; fn: () => void }[] = [];
  const realSetTimeout = globalThis.setTimeout;
  vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms: number, ...rest: unknown[]) => {
    if (ms >= 10_000) {
      timers.push({ ms, fn });
      return { unref() { return this; } } as unknown as NodeJS.Timeout;
    }
    return realSetTimeout(fn, ms, ...rest);
  }) as typeof setTimeout);
  return { exits, timers };
}

describe('signals', () => {
  it('SIGTERM drains every server and exits 0; a second signal exits 1; close removes the handlers', async () => {
    const { path } = makeModel(tmp.dir, 'sig', 2, [gru({ units: 2 })], 1);
    const before = [process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')];
    const events: Record<string, unknown>[] = [];
    const opts = { modelPath: path, port: 0, workers: 0, intraOpNumThreads: 1, handleSignals: true, log: (e: Record<string, unknown>) => events.push(e), drainTimeoutMs: 200 };
    const a = await startServer({ ...opts, registry: newRegistry() });
    const b = await startServer({ ...opts, registry: newRegistry(), drainTimeoutMs: 300 });
    expect([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')]).toEqual([before[0] + 1, before[1] + 1]);
    const { exits, timers } = stubs();
    try {
      process.emit('SIGTERM', 'SIGTERM');
      await vi.waitFor(() => expect(exits).toEqual([0]), { timeout: 30_000 });
      // The deadline: the longest drain plus 10 s.
      expect(timers.map((t) => t.ms)).toEqual([10_300]);
      expect(events).toContainEqual({ event: 'signal', signal: 'SIGTERM', action: 'draining' });
      expect(events).toContainEqual({ event: 'exit', code: 0 });
      expect(events.filter((e) => e.event === 'closed').length).toBe(2);
      // Both closed: the handlers are gone.
      expect([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')]).toEqual(before);
      await expect(fetch(`${a.url}/healthz`)).rejects.toThrow();
      await expect(fetch(`${b.url}/healthz`)).rejects.toThrow();
    } finally {
      await a.close();
      await b.close();
    }

    // A second signal during a drain: exit 1 at once.
    const c = await startServer({ ...opts, registry: newRegistry() });
    exits.length = 0;
    try {
      process.emit('SIGINT', 'SIGINT');
      process.emit('SIGINT', 'SIGINT');
      expect(exits[0]).toBe(1);
      expect(events).toContainEqual({ event: 'signal', signal: 'SIGINT', action: 'exit without finishing the drain' });
      // (A real exit ends the process here; with the stub the drains run on and exit 0.)
      await vi.waitFor(() => expect(exits.slice(0, 2)).toEqual([1, 0]), { timeout: 30_000 });
    } finally {
      await c.close();
    }
    expect([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')]).toEqual(before);
  });

  it('handleSignals false installs nothing; left out, SIGTERM and SIGINT are handled (until close)', async () => {
    const { path } = makeModel(tmp.dir, 'nosig', 2, [gru({ units: 2 })], 1);
    const before = [process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')];
    const s = await startServer({ modelPath: path, port: 0, workers: 0, handleSignals: false, log: false, registry: newRegistry() });
    try {
      expect([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')]).toEqual(before);
    } finally {
      await s.close();
    }
    const d = await startServer({ modelPath: path, port: 0, workers: 0, log: false, registry: newRegistry() });
    try {
      expect([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')]).toEqual([before[0] + 1, before[1] + 1]);
    } finally {
      await d.close();
    }
    expect([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')]).toEqual(before);
    tmp.cleanup();
  });
});

describe('drain deadlines near setTimeout\'s limit', () => {
  it('the exit deadline is capped at 2^31 - 1 ms (past it the timer fired at once and exited 1 mid-drain)', async () => {
    const dir = tempDir('rnnx-deadline-');
    const { path } = makeModel(dir.dir, 'long', 2, [gru({ units: 2 })], 2);
    const s = await startServer({ modelPath: path, port: 0, workers: 0, intraOpNumThreads: 1, handleSignals: true, log: false, registry: newRegistry(), drainTimeoutMs: 2_147_483_647 });
    const { exits, timers } = stubs();
    try {
      process.emit('SIGTERM', 'SIGTERM');
      await vi.waitFor(() => expect(exits).toEqual([0]), { timeout: 30_000 });
      expect(timers.map((t) => t.ms)).toEqual([2_147_483_647]);
    } finally {
      await s.close();
      dir.cleanup();
    }
  });

  it('a drainTimeoutMs that is no usable delay is refused before anything starts', async () => {
    for (const bad of [Infinity, 0, -1, 2_147_483_648, Number.NaN]) {
      await expect(startServer({ modelPath: 'package.json', handleSignals: false, log: false, drainTimeoutMs: bad }), String(bad))
        .rejects.toThrow(`drainTimeoutMs must be a positive number of milliseconds, at most 2147483647 (setTimeout's limit), got ${String(bad)}`);
    }
  });
});

describe('signals: the deadline, a failed drain, and handlers kept while a server remains', () => {
  it('closing one of two servers keeps the handlers; past the deadline the process exits 1 saying so', async () => {
    const dir = tempDir('rnnx-deadline2-');
    const { path } = makeModel(dir.dir, 'two', 2, [gru({ units: 2 })], 3);
    const events: Record<string, unknown>[] = [];
    const before = [process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')];
    const opts = { modelPath: path, port: 0, workers: 0, intraOpNumThreads: 1, handleSignals: true, log: (e: Record<string, unknown>) => events.push(e) };
    const a = await startServer({ ...opts, registry: newRegistry(), drainTimeoutMs: 200 });
    const b = await startServer({ ...opts, registry: newRegistry(), drainTimeoutMs: 400 });
    try {
      await a.close();
      expect([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')]).toEqual([before[0] + 1, before[1] + 1]);
      const { exits, timers } = stubs();
      process.emit('SIGTERM', 'SIGTERM');
      await vi.waitFor(() => expect(exits).toEqual([0]), { timeout: 30_000 });
      // Only b is left: its drain plus 10 s.
      expect(timers.map((t) => t.ms)).toEqual([10_400]);
      timers[0].fn();
      expect(exits).toEqual([0, 1]);
      expect(events.at(-1)).toEqual({ event: 'exit', code: 1, reason: 'drain did not finish within 10400 ms' });
    } finally {
      await a.close();
      await b.close();
      dir.cleanup();
    }
    expect([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')]).toEqual(before);
  });

  it('a drain that fails exits 1 with its error logged', async () => {
    const dir = tempDir('rnnx-drainfail-');
    const { path } = makeModel(dir.dir, 'fails', 2, [gru({ units: 2 })], 4);
    const events: Record<string, unknown>[] = [];
    const log = (e: Record<string, unknown>) => {
      events.push(e);
      if (e.event === 'closed') throw new Error('the log sink is gone');
    };
    const s = await startServer({ modelPath: path, port: 0, workers: 0, intraOpNumThreads: 1, handleSignals: true, log, registry: newRegistry() });
    const { exits } = stubs();
    try {
      process.emit('SIGTERM', 'SIGTERM');
      await vi.waitFor(() => expect(exits).toEqual([1]), { timeout: 30_000 });
      expect(events.at(-1)).toEqual({ event: 'exit', code: 1, error: 'the log sink is gone' });
      expect(events.some((e) => e.event === 'exit' && e.code === 0)).toBe(false);
    } finally {
      await s.close().catch(() => {});
      dir.cleanup();
    }
  });
});
