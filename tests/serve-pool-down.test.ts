// A worker pool whose replacement workers cannot start: after MAX_RESPAWN_FAILURES failed starts
// in a row, the runs waiting for a worker and every later run fail with the reason instead of
// hanging. node:worker_threads' Worker is wrapped so that, once the test says so, new workers
// exit before they are ready (as a worker whose addon or model can no longer load would), throw
// while starting, crash after becoming ready, or run a planned stand-in script; it also records
// what each worker is told and when each exits.

import { availableParallelism } from 'node:os';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { gru } from '../src/layers/spec.js';
import { InferenceModel } from '../src/runtime/inference.js';
import { MAX_RESPAWN_FAILURES, openEngine, type WorkerInit } from '../src/serve/engine.js';
import { ShuttingDownError } from '../src/serve/errors.js';
import { maxAbsDiff } from './reference/util.js';
import { makeModel, tempDir } from './serve-helpers.js';

const control = vi.hoisted(() => ({ failing: false, throwing: false, crashAfterReady: false, plan: [] as string[], exited: [] as Promise<unknown>[], made: [] as { terminate(): Promise<number> }[], inits: [] as unknown[] }));

vi.mock('node:worker_threads', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:worker_threads')>();
  class Worker extends real.Worker {
    constructor(file: string | URL, options?: import('node:worker_threads').WorkerOptions) {
      const planned = control.plan.shift();
      if (planned !== undefined) super(planned, { eval: true });
      else if (control.failing) super('process.exit(3)', { eval: true });
      else if (control.throwing) super('throw new Error("cannot load the addon")', { eval: true });
      else if (control.crashAfterReady) {
        // Says it is ready, then dies of an uncaught exception: an 'error' event, then 'exit'.
        super(`require('node:worker_threads').parentPort.postMessage({ type: 'ready', provider: 'cpu', fallbacks: [] });
          setTimeout(() => { throw new Error('crashed'); }, 20);`, { eval: true });
      }
      else super(file, options);
      control.made.push(this);
      control.exited.push(new Promise((resolve) => this.once('exit', resolve)));
      control.inits.push(options?.workerData);
    }
  }
  return { ...real, Worker, default: { ...real, Worker } };
});

// Five CPUs, whatever this machine has: the pool's split of them is then known (floor(5 / workers)).
vi.mock('node:os', async (importOriginal) => ({ ...(await importOriginal<typeof import('node:os')>()), availableParallelism: () => 5 }));

const tmp = tempDir('rnnx-pool-down-');
/** The start of a stand-in worker script: it says it is ready, as a real worker does once its model is open. */
const ready = "const { parentPort } = require('node:worker_threads'); parentPort.postMessage({ type: 'ready', provider: 'cpu', fallbacks: [] });";
afterAll(() => tmp.cleanup());

/**
 * Records the delay the pool asks for before each replacement worker, and starts it at once
 * instead: the back-off is checked by its numbers without waiting it out (11.3 s in all).
 */
function fastRespawns(): { delays: number[]; restore(): void } {
  const realSet = globalThis.setTimeout;
  const delays: number[] = [];
  const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms: number) => {
    if (typeof fn === 'function' && fn.name === 'respawn') {
      delays.push(ms);
      return realSet(fn, 0);
    }
    return realSet(fn, ms);
  }) as typeof setTimeout);
  return { delays, restore: () => spy.mockRestore() };
}

/** The promise's outcome, or a failure if it is still pending after `ms` (a hang). */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms))]);
}

describe('a worker pool that cannot replace its workers', () => {
  it('fails the waiting run and every later one with the reason, instead of hanging', async () => {
    const { path } = makeModel(tmp.dir, 'down', 2, [gru({ units: 3 })], 4);
    const pool = await openEngine(path, { workers: 1, intraOpNumThreads: 1 });
    const ref = await InferenceModel.open(path, { intraOpNumThreads: 1 });
    try {
      const x = Float32Array.from([0.5, -1, 0.25, 2]);
      const ok = await pool.predict.runner.run({ x: x.slice(), batch: 1, time: 2 });
      expect(maxAbsDiff(ok.y, (await ref.run(x, { batch: 1 })).y)).toBeLessThanOrEqual(1e-6);
      expect(control.made.length).toBe(1);

      control.failing = true;
      const respawns = fastRespawns();
      await control.made[0].terminate(); // the worker dies; its replacements exit before ready
      const waiting = pool.predict.runner.run({ x: x.slice(), batch: 1, time: 2 });
      const reason = `the worker pool has no workers left: ${MAX_RESPAWN_FAILURES} replacement workers in a row failed to start (last: worker exited with code 3)`;
      await expect(within(waiting, 10_000)).rejects.toThrow(reason);
      respawns.restore();
      expect(control.made.length).toBe(1 + MAX_RESPAWN_FAILURES);
      // The crashed worker is replaced at once; each failed start doubles the wait from 100 ms,
      // up to the 5 s cap (6400 ms capped), which the last try reaches: 11.3 s before giving up.
      expect(respawns.delays).toEqual([0, 100, 200, 400, 800, 1600, 3200, 5000]);
      await expect(within(pool.predict.runner.run({ x: x.slice(), batch: 1, time: 2 }), 2000)).rejects.toThrow(reason);
    } finally {
      await pool.close();
      await ref.release();
    }
  });
});

describe('what each worker of a pool is told', () => {
  it('the workers split the CPUs unless intraOpNumThreads is given; providers only when given', async () => {
    control.failing = false;
    const { path } = makeModel(tmp.dir, 'inits', 2, [gru({ units: 3 })], 4);
    expect(availableParallelism()).toBe(5);
    control.inits.length = 0;
    const pool = await openEngine(path, { workers: 2 });
    try {
      expect(control.inits.length).toBe(2);
      expect(pool.requestedProviders).toEqual(['default']);
      // 5 CPUs over 2 workers: 2 threads each.
      for (const init of control.inits) expect((init as WorkerInit).session).toStrictEqual({ intraOpNumThreads: 2 });
    } finally {
      await pool.close();
    }
    control.inits.length = 0;
    const told = await openEngine(path, { workers: 1, intraOpNumThreads: 3, providers: ['cpu'] });
    let closed = false;
    try {
      expect(control.inits.length).toBe(1);
      expect(told.requestedProviders).toEqual(['cpu']);
      const init = control.inits[0] as WorkerInit;
      expect(init.session).toStrictEqual({ intraOpNumThreads: 3, providers: ['cpu'] });
      expect(init.predict.info.inputSize).toBe(2);
      expect(init.stream?.info.state).toEqual([{ directions: 1, units: 3, hasCell: false }]);
      // One worker: the first run starts, the other two wait; closing refuses the waiting ones.
      const runs = [1, 2, 3].map(() => told.predict.runner.run({ x: new Float32Array(4), batch: 1, time: 2 }).then(() => 'ran', (e: Error) => `${e instanceof ShuttingDownError ? 'shutting_down: ' : ''}${e.message}`));
      await told.close();
      closed = true;
      expect((await Promise.all(runs)).slice(1)).toEqual(['shutting_down: the worker pool closed before this run started', 'shutting_down: the worker pool closed before this run started']);
    } finally {
      if (!closed) await told.close();
    }
  });
});

describe('a worker that crashes with an uncaught exception', () => {
  it('is replaced once: its error and the exit that follows are one death', async () => {
    control.failing = false;
    control.throwing = false;
    const { path } = makeModel(tmp.dir, 'crashing', 2, [gru({ units: 3 })], 4);
    const ref = await InferenceModel.open(path, { intraOpNumThreads: 1 });
    control.crashAfterReady = true;
    const pool = await openEngine(path, { workers: 1, intraOpNumThreads: 1 });
    control.crashAfterReady = false;
    const before = control.made.length;
    try {
      // Its exit, listened for since it was made: it may crash before openEngine has returned.
      await control.exited[before - 1];
      const x = Float32Array.from([0.5, -1, 0.25, 2]);
      const r = await within(pool.predict.runner.run({ x: x.slice(), batch: 1, time: 2 }), 10_000);
      expect(maxAbsDiff(r.y, (await ref.run(x, { batch: 1 })).y)).toBeLessThanOrEqual(1e-6);
      expect(control.made.length - before).toBe(1);
    } finally {
      await pool.close();
      await ref.release();
    }
  });
});

describe('a replacement worker that throws while starting', () => {
  it('is one failed start: its error and the exit that follows are one death', async () => {
    control.failing = false;
    const { path } = makeModel(tmp.dir, 'throwing', 2, [gru({ units: 3 })], 4);
    const pool = await openEngine(path, { workers: 1, intraOpNumThreads: 1 });
    const before = control.made.length;
    try {
      control.throwing = true;
      const respawns = fastRespawns();
      await control.made[before - 1].terminate();
      const waiting = pool.predict.runner.run({ x: new Float32Array(4), batch: 1, time: 2 });
      await expect(within(waiting, 10_000).finally(() => respawns.restore())).rejects.toThrow(`the worker pool has no workers left: ${MAX_RESPAWN_FAILURES} replacement workers in a row failed to start (last: cannot load the addon)`);
      expect(control.made.length - before).toBe(MAX_RESPAWN_FAILURES);
    } finally {
      control.throwing = false;
      await pool.close();
    }
  });
});

describe('a pool whose first workers cannot start', () => {
  it('open fails, and no replacement worker is started afterwards for the workers that died during it', async () => {
    const { path } = makeModel(tmp.dir, 'never-ready', 2, [gru({ units: 3 })], 5);
    const before = control.made.length;
    const respawns = fastRespawns();
    control.failing = true;
    try {
      await expect(openEngine(path, { workers: 2, intraOpNumThreads: 1 })).rejects.toThrow();
      // A death during the open may already have asked for a replacement (run at once here):
      // it must find the pool closed and start nothing.
      await new Promise((r) => setTimeout(r, 300));
      expect(control.made.length - before).toBe(2);
    } finally {
      control.failing = false;
      respawns.restore();
    }
  });
});

describe('a pool that stops replacing one worker while another lives', () => {
  it('keeps the runs waiting for the living worker instead of failing them', async () => {
    control.failing = false;
    const { path } = makeModel(tmp.dir, 'one-left', 2, [gru({ units: 3 })], 4);
    // Worker 0 takes runs and never answers (it leaves when told to close); worker 1 crashes with
    // the first run it gets (not on a timer, which could fire before worker 0 is ready and have
    // worker 1 replaced by a real one).
    control.plan.push(
      `${ready} parentPort.on('message', (m) => { if (m.type === 'close') process.exit(0); });`,
      `${ready} parentPort.on('message', (m) => { if (m.type === 'run') throw new Error('crashed'); });`,
    );
    const pool = await openEngine(path, { workers: 2, intraOpNumThreads: 1 });
    const before = control.made.length;
    const respawns = fastRespawns();
    control.failing = true; // every replacement exits before it is ready
    const run = () => pool.predict.runner.run({ x: new Float32Array(4), batch: 1, time: 2 }).then(() => 'ran', (e: Error) => (e instanceof ShuttingDownError ? `shutting_down: ${e.message}` : e.message));
    const first = run(); // to worker 1, which crashes with it
    const second = run(); // to worker 0, which never answers
    expect(await first).toBe('crashed');
    const third = run(); // waits for worker 0
    let thirdSettled = false;
    void third.then(() => (thirdSettled = true));
    // Wait for the last replacement to die: the pool has given up replacing worker 1.
    while (control.made.length < before + MAX_RESPAWN_FAILURES) await new Promise((r) => setTimeout(r, 20));
    await control.exited[before + MAX_RESPAWN_FAILURES - 1];
    await new Promise((r) => setTimeout(r, 50));
    expect(control.made.length).toBe(before + MAX_RESPAWN_FAILURES);
    expect(thirdSettled).toBe(false);
    respawns.restore();
    control.failing = false;
    await pool.close();
    // Closed with runs in the pool: the waiting one and the one in flight (whose worker leaves
    // when told to close) both fail as shut down, not with the worker's exit code.
    expect(await third).toBe('shutting_down: the worker pool closed before this run started');
    expect(await second).toBe('shutting_down: the worker pool closed while this run was in flight');
  });
});

describe('a worker that dies in a run while another is idle', () => {
  it('leaves the idle one in service: the next run goes to it', async () => {
    control.failing = false;
    const { path } = makeModel(tmp.dir, 'idle-survives', 2, [gru({ units: 3 })], 4);
    // Worker 0 answers y = [sum of x]; worker 1 (the first to get a run) crashes with it.
    control.plan.push(
      `${ready} parentPort.on('message', (m) => { if (m.type === 'close') process.exit(0);
        parentPort.postMessage({ type: 'result', id: m.id, result: { y: new Float32Array([m.req.x.reduce((a, b) => a + b, 0)]), dims: [1, 1] } }); });`,
      `${ready} parentPort.on('message', (m) => { if (m.type === 'run') throw new Error('crashed'); });`,
    );
    const pool = await openEngine(path, { workers: 2, intraOpNumThreads: 1 });
    const respawns = fastRespawns();
    control.failing = true; // no replacement comes: only worker 0 can answer
    try {
      const run = (x: number[]) => pool.predict.runner.run({ x: Float32Array.from(x), batch: 1, time: 2 }).then((r) => Array.from(r.y), (e: Error) => e.message);
      expect(await run([1, 1, 1, 1])).toBe('crashed');
      expect(await within(run([1, 2, 3, 4]), 5000)).toEqual([10]);
    } finally {
      respawns.restore();
      control.failing = false;
      await pool.close();
    }
  });
});

describe('answers a worker sends that are not for the run it holds', () => {
  it('are dropped: a stale id, and a second answer once the run is settled, whether or not another run has started', async () => {
    const { path } = makeModel(tmp.dir, 'stale', 2, [gru({ units: 3 })], 4);
    // A stand-in worker that answers each run with y = [sum of x], wrapped in noise: first a
    // result and an error under an id no run has, then the answer, then a second answer
    // (y = [-2]) under the same id.
    control.plan.push(`const { parentPort } = require('node:worker_threads');
      parentPort.postMessage({ type: 'ready', provider: 'cpu', fallbacks: [] });
      parentPort.on('message', (m) => {
        if (m.type === 'close') process.exit(0);
        const sum = m.req.x.reduce((a, b) => a + b, 0);
        parentPort.postMessage({ type: 'result', id: m.id + 1000, result: { y: new Float32Array([-1]), dims: [1, 1] } });
        parentPort.postMessage({ type: 'error', id: m.id + 1000, message: 'not this run' });
        parentPort.postMessage({ type: 'result', id: m.id, result: { y: new Float32Array([sum]), dims: [1, 1] } });
        parentPort.postMessage({ type: 'result', id: m.id, result: { y: new Float32Array([-2]), dims: [1, 1] } });
      });`);
    const pool = await openEngine(path, { workers: 1, intraOpNumThreads: 1 });
    // An answer handled as if it were for a run would throw in the pool's message listener.
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      const run = (x: number[]) => pool.predict.runner.run({ x: Float32Array.from(x), batch: 1, time: 2 }).then((r) => Array.from(r.y));
      // Alone: the second answer arrives while the worker holds no run.
      expect(await run([1, 2, 3, 4])).toEqual([10]);
      await new Promise((r) => setTimeout(r, 50));
      // Three at once on one worker: each answer after the first arrives while the next run is held.
      expect(await Promise.all([run([0.5, 0.5, 0, 0]), run([2, 2, 2, 2]), run([-1, 0, 0, 3])])).toEqual([[1], [8], [2]]);
      await new Promise((r) => setTimeout(r, 50));
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      await pool.close();
    }
  });
});
