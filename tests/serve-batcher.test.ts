// Dynamic batcher: merged runs give every request exactly what it gets alone (checked against
// ONNX Runtime on the file run one sequence at a time, and against the float64 reference), and
// the policy parts (max batch, overload, timeout, cancellation, equal-length grouping without
// sequence_lens) behave as documented.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dense, gru, lstm, rnn } from '../src/layers/spec.js';
import { InferenceModel } from '../src/runtime/inference.js';
import { Batcher, toSequence } from '../src/serve/batcher.js';
import { BadRequestError, CancelledError, OverloadedError, ShuttingDownError, TimeoutError } from '../src/serve/errors.js';
import { openService } from '../src/serve/service.js';
import { newRegistry } from '../src/serve/metrics.js';
import type { RunRequest, RunResult, ServeModelInfo } from '../src/serve/types.js';
import { referenceForward } from './reference/forward.js';
import { maxAbsDiff, spread } from './reference/util.js';
import { makeModel, randomSequences, tempDir } from './serve-helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('batched results equal unbatched ones', () => {
  const cases = [
    { name: 'lstm-seq', I: 5, layers: [lstm({ units: 12, returnSequences: true }), dense({ units: 3 })] },
    { name: 'gru-last', I: 4, layers: [gru({ units: 10 }), dense({ units: 2, activation: 'softmax' })] },
    { name: 'stacked-bidir', I: 3, layers: [lstm({ units: 6, direction: 'bidirectional', returnSequences: true }), rnn({ units: 5, direction: 'reverse' })] },
    { name: 'peephole-last', I: 4, layers: [lstm({ units: 7, peepholes: true, returnSequences: true }), gru({ units: 5, returnSequences: false }), dense({ units: 2 })] },
  ] as const;

  for (const c of cases) {
    it(`${c.name}: 40 concurrent requests of lengths 1..17`, async () => {
      // The file has no sequence_lens: the service re-exports the batching variant itself.
      const { model, path } = makeModel(tmp.dir, c.name, c.I, [...c.layers], 7);
      const svc = await openService(path, { maxBatch: 16, maxWaitMs: 20, intraOpNumThreads: 1 });
      const single = await InferenceModel.open(path, { intraOpNumThreads: 1 });
      try {
        const xs = randomSequences(11, 40, c.I, 1, 17);
        const sizes: number[] = [];
        const prev = svc.batcher.onBatch;
        svc.batcher.onBatch = (e) => {
          sizes.push(e.size);
          prev?.(e);
        };
        const got = await Promise.all(xs.map((x) => svc.predict(x)));
        await new Promise((r) => setImmediate(r)); // onBatch of the last run follows its answers
        // Really batched: fewer runs than requests, none above maxBatch.
        expect(sizes.length).toBeLessThan(xs.length / 2);
        expect(Math.max(...sizes)).toBeLessThanOrEqual(16);
        expect(sizes.reduce((a, b) => a + b, 0)).toBe(40);
        let worst = 0;
        let worstRef = 0;
        for (let i = 0; i < xs.length; i++) {
          const t = xs[i].length / c.I;
          const alone = await single.run(xs[i], { batch: 1 });
          const ref = referenceForward(model.spec, model.params, xs[i], { batch: 1, time: t });
          expect(got[i].dims).toEqual(alone.dims.slice(1));
          worst = Math.max(worst, maxAbsDiff(got[i].y, alone.y));
          worstRef = Math.max(worstRef, maxAbsDiff(got[i].y, ref.y));
        }
        expect(worst).toBeLessThanOrEqual(1e-6);
        expect(worstRef).toBeLessThanOrEqual(1e-5);
        expect(spread(got.flatMap((r) => Array.from(r.y)))).toBeGreaterThan(1e-3);
      } finally {
        await svc.close();
        await single.release();
      }
    });
  }

  it('a worker pool gives the same results as in process', async () => {
    const { path } = makeModel(tmp.dir, 'pool', 4, [lstm({ units: 8, returnSequences: true }), dense({ units: 2 })], 3);
    const svc = await openService(path, { workers: 2, maxBatch: 8, maxWaitMs: 10, intraOpNumThreads: 1 });
    const single = await InferenceModel.open(path, { intraOpNumThreads: 1 });
    try {
      expect(svc.engine.workers).toBe(2);
      expect(svc.batcher.maxInFlight).toBe(2);
      expect(svc.provider).toBe('cpu');
      const xs = randomSequences(5, 30, 4, 1, 9);
      const got = await Promise.all(xs.map((x) => svc.predict(x)));
      for (let i = 0; i < xs.length; i++) {
        const alone = await single.run(xs[i], { batch: 1 });
        expect(maxAbsDiff(got[i].y, alone.y)).toBeLessThanOrEqual(1e-6);
      }
      // Streams run on the pool too (state travels with each chunk).
      const s = svc.openStream();
      const a = await s.append(xs[0].subarray(0, 4));
      const b = await s.append(xs[0].subarray(4));
      const whole = await single.run(xs[0], { batch: 1 });
      expect(maxAbsDiff([...a.y, ...b.y], whole.y)).toBeLessThanOrEqual(1e-6);
    } finally {
      await svc.close();
      await single.release();
    }
  });
});

/** A runner whose output row b is (sum of row b's valid inputs, its length): splitting errors show. */
function fakeRunner(delayMs: number, calls: RunRequest[]) {
  return {
    run: async (req: RunRequest): Promise<RunResult> => {
      calls.push(req);
      await new Promise((r) => setTimeout(r, delayMs));
      const y = new Float32Array(req.batch * 2);
      for (let b = 0; b < req.batch; b++) {
        const len = req.sequenceLens ? req.sequenceLens[b] : req.time;
        let s = 0;
        for (let i = 0; i < len * 2; i++) s += req.x[b * req.time * 2 + i];
        y[b * 2] = s;
        y[b * 2 + 1] = len;
      }
      return { y, dims: [req.batch, 2] };
    },
  };
}

const fakeInfo = (hasSequenceLens: boolean): ServeModelInfo => ({
  inputSize: 2, outputSize: 2, returnsSequences: false, hasSequenceLens, state: [], needsFuture: null,
});

const seq = (t: number, v: number) => new Float32Array(t * 2).fill(v);

describe('batcher policy', () => {
  it('refuses the excess of a burst ten times the queue limit with OverloadedError; every accepted request completes', async () => {
    const calls: RunRequest[] = [];
    const b = new Batcher(fakeRunner(20, calls), fakeInfo(true), { maxBatch: 4, maxQueue: 8, maxWaitMs: 1 });
    const settled = await Promise.allSettled(Array.from({ length: 80 }, (_, i) => b.predict(seq(1 + (i % 3), i))));
    const ok = settled.filter((s) => s.status === 'fulfilled');
    const refused = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    // Synchronous burst: the first run takes 4 (maxBatch) at once, then 8 wait (maxQueue).
    expect(ok.length).toBe(12);
    expect(refused.length).toBe(68);
    for (const r of refused) {
      expect(r.reason).toBeInstanceOf(OverloadedError);
      expect(r.reason.status).toBe(503);
      expect(r.reason.message).toMatch(/overloaded.*maxQueue 8/);
    }
    settled.forEach((s, i) => {
      if (s.status !== 'fulfilled') return;
      const t = 1 + (i % 3);
      expect(Array.from(s.value.y)).toEqual([t * 2 * i, t]);
    });
    expect(b.highWater).toBeLessThanOrEqual(8);
    expect(b.queueDepth).toBe(0);
  });

  it('bounds the bytes held by waiting requests (maxQueueBytes)', async () => {
    const calls: RunRequest[] = [];
    const b = new Batcher(fakeRunner(5, calls), fakeInfo(true), { maxBatch: 64, maxWaitMs: 20, maxQueueBytes: 100 });
    // Each request holds 4 steps * 2 features * 4 bytes = 32 bytes: three fit, the fourth does not.
    const settled = await Promise.allSettled([1, 2, 3, 4].map((v) => b.predict(seq(4, v))));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    expect((settled[3] as PromiseRejectedResult).reason).toBeInstanceOf(OverloadedError);
    expect((settled[3] as PromiseRejectedResult).reason.message).toMatch(/already hold 96 bytes of input \(maxQueueBytes 100\)/);
    // Once they ran, the bytes are free again; a single input larger than the bound is a bad request.
    await expect(b.predict(seq(4, 5))).resolves.toBeDefined();
    await expect(b.predict(seq(13, 1))).rejects.toBeInstanceOf(BadRequestError);
  });

  it('without sequence_lens only equal lengths share a run', async () => {
    const calls: RunRequest[] = [];
    const b = new Batcher(fakeRunner(1, calls), fakeInfo(false), { maxBatch: 8, maxWaitMs: 5 });
    const lens = [3, 5, 3, 5, 5, 1, 3];
    const rs = await Promise.all(lens.map((t, i) => b.predict(seq(t, i + 1))));
    rs.forEach((r, i) => expect(Array.from(r.y)).toEqual([lens[i] * 2 * (i + 1), lens[i]]));
    for (const c of calls) {
      expect(c.sequenceLens).toBeUndefined();
      for (let r = 0; r < c.batch; r++) expect(c.x.subarray(r * c.time * 2, (r + 1) * c.time * 2).every((v) => v !== 0)).toBe(true);
    }
    expect(calls.map((c) => c.batch).sort()).toEqual([1, 3, 3]);
  });

  it('waits at most maxWaitMs for a batch to fill, and sends a full batch at once', async () => {
    const calls: RunRequest[] = [];
    const b = new Batcher(fakeRunner(0, calls), fakeInfo(true), { maxBatch: 3, maxWaitMs: 400 });
    const t0 = performance.now();
    await b.predict(seq(2, 1));
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(395);
    expect(waited).toBeLessThan(2000);
    const t1 = performance.now();
    await Promise.all([b.predict(seq(1, 1)), b.predict(seq(2, 1)), b.predict(seq(3, 1))]);
    expect(performance.now() - t1).toBeLessThan(200);
    expect(calls.map((c) => c.batch)).toEqual([1, 3]);
    expect(Array.from(calls[1].sequenceLens!)).toEqual([1, 2, 3]);
    expect(calls[1].time).toBe(3);
  });

  it('times out a request that waits too long, and drops it from its batch', async () => {
    const calls: RunRequest[] = [];
    const b = new Batcher(fakeRunner(100, calls), fakeInfo(true), { maxBatch: 1, maxWaitMs: 0 });
    const first = b.predict(seq(1, 1));
    const late = b.predict(seq(1, 2), { timeoutMs: 30 });
    await expect(late).rejects.toBeInstanceOf(TimeoutError);
    await expect(late).rejects.toThrow(/timed out after 30 ms/);
    await first;
    await b.close();
    // The timed-out request left the queue before its turn: only the first ran.
    expect(calls.length).toBe(1);
  });

  it('cancels a queued request through its AbortSignal', async () => {
    const calls: RunRequest[] = [];
    const b = new Batcher(fakeRunner(50, calls), fakeInfo(true), { maxBatch: 1, maxWaitMs: 0 });
    const ac = new AbortController();
    const first = b.predict(seq(1, 1));
    const second = b.predict(seq(1, 2), { signal: ac.signal });
    ac.abort();
    await expect(second).rejects.toBeInstanceOf(CancelledError);
    const pre = new AbortController();
    pre.abort();
    await expect(b.predict(seq(1, 1), { signal: pre.signal })).rejects.toBeInstanceOf(CancelledError);
    await first;
    await b.close();
    expect(calls.length).toBe(1);
    await expect(b.predict(seq(1, 1))).rejects.toBeInstanceOf(ShuttingDownError);
  });

  it('rejects bad sequences with BadRequestError naming the field, before queueing', async () => {
    const b = new Batcher(fakeRunner(0, []), fakeInfo(true), { maxTime: 50 });
    await expect(b.predict(new Float32Array([1, 2, 3]))).rejects.toThrow(/input must hold time\*2 values .* got 3 values/);
    await expect(b.predict(new Float32Array([1, NaN]))).rejects.toThrow(/input\[0\]\[1\] must be a finite number, got NaN/);
    // Every position of a longer sequence is checked (the check runs four lanes at a time, plus a tail).
    for (const [at, bad] of [[0, -Infinity], [5, Infinity], [10, NaN], [13, NaN], [29, Infinity]] as const) {
      const x = Float32Array.from({ length: 15 * 2 }, (_, j) => j * 0.5 - 3);
      x[at] = bad;
      await expect(b.predict(x)).rejects.toThrow(`input[${Math.floor(at / 2)}][${at % 2}] must be a finite number, got ${bad}`);
    }
    const finite = Float32Array.from({ length: 15 * 2 }, (_, j) => (j % 2 ? 3.4e38 : -3.4e38));
    expect(() => toSequence(finite, 2, 50)).not.toThrow();
    await expect(b.predict([[1, 2], [3]])).rejects.toThrow(/input\[1\] must be an array of 2 numbers/);
    await expect(b.predict([[1, Infinity]])).rejects.toThrow(/input\[0\]\[1\] must be a finite number, got Infinity/);
    // Finite in JSON (float64) but not in float32: say so instead of "got Infinity".
    await expect(b.predict([[1, 1e39]])).rejects.toThrow(/input\[0\]\[1\] must be within float32 range \(magnitude at most 3\.4028234663852886e\+38\), got 1e\+39/);
    await expect(b.predict([[-1e308, 1]])).rejects.toThrow(/input\[0\]\[0\] must be within float32 range .*got -1e\+308/);
    await expect(b.predict([])).rejects.toThrow(/at least one step/);
    await expect(b.predict(seq(51, 1))).rejects.toThrow(/at most 50 steps, got 51/);
    await expect(b.predict(seq(1, 1))).resolves.toBeDefined();
    await expect(b.predict([[1, 2]], { state: [{ h: new Float32Array(1) }] })).rejects.toBeInstanceOf(BadRequestError);
    expect(b.queueDepth).toBe(0);
  });
});

describe('padded memory of a run (maxBatchBytes)', () => {
  it('one long sequence does not pull 63 short ones into a run padded to its length', async () => {
    const calls: RunRequest[] = [];
    // stepFloats 2 (the fake info's inputSize + outputSize): a row of t steps costs 16 t bytes.
    const b = new Batcher(fakeRunner(1, calls), fakeInfo(true), { maxBatch: 64, maxWaitMs: 20, maxTime: 100_000, maxBatchBytes: 16 * 100_000 + 16 * 1000 });
    const rs = await Promise.all([b.predict(seq(100_000, 1)), ...Array.from({ length: 63 }, (_, i) => b.predict(seq(1, i + 2)))]);
    // Every request still gets its own answer.
    expect(Array.from(rs[0].y)).toEqual([200_000, 100_000]);
    rs.slice(1).forEach((r, i) => expect(Array.from(r.y)).toEqual([2 * (i + 2), 1]));
    // The long one ran with what fit beside it padded (none: a second row would be 3.2 MB); the
    // short ones shared a run of their own instead of 63 rows padded to 100000 steps (102 MB).
    for (const c of calls) expect(c.batch * c.time * 2 * 4).toBeLessThanOrEqual(16 * 100_000 + 16 * 1000);
    expect(calls.map((c) => [c.batch, c.time])).toEqual([[1, 100_000], [63, 1]]);
    expect(b.paddedBytes(1, 100_000)).toBe(1_600_000);
  });

  it('the budget uses the model\'s per-step width (stepFloats), and a request alone always runs', async () => {
    const calls: RunRequest[] = [];
    const info = { ...fakeInfo(true), stepFloats: 100 };
    const b = new Batcher(fakeRunner(1, calls), info, { maxBatch: 8, maxWaitMs: 20, maxBatchBytes: 4000 });
    // 10 rows of 5 steps: two per run fit 4000 bytes; one of 50 steps runs alone though it is larger.
    const rs = await Promise.all([...Array.from({ length: 10 }, () => b.predict(seq(5, 1))), b.predict(seq(50, 1))]);
    expect(rs.length).toBe(11);
    expect(calls.map((c) => c.batch)).toEqual([2, 2, 2, 2, 2, 1]);
    expect(calls[5].time).toBe(50);
    expect(b.paddedBytes(2, 5)).toBe(4000);
  });

  it('defaults: maxTime 20000, maxBatchBytes 256 MiB', () => {
    const b = new Batcher(fakeRunner(0, []), fakeInfo(true));
    expect(b.maxTime).toBe(20_000);
    expect(b.maxBatchBytes).toBe(256 * 1024 * 1024);
  });
});

describe('timeouts beyond setTimeout\'s range', () => {
  it('refuses timeoutMs above 2147483647 instead of letting it fire after 1 ms', async () => {
    const b = new Batcher(fakeRunner(20, []), fakeInfo(true), { maxWaitMs: 0 });
    await expect(b.predict(seq(1, 1), { timeoutMs: 1e12 })).rejects.toThrow(/timeoutMs must be a positive number of milliseconds, at most 2147483647 .*got 1000000000000/);
    await expect(b.predict(seq(1, 1), { timeoutMs: 1e12 })).rejects.toBeInstanceOf(BadRequestError);
    // The largest valid one does not fire early.
    await expect(b.predict(seq(1, 1), { timeoutMs: 2_147_483_647 })).resolves.toBeDefined();
    expect(() => new Batcher(fakeRunner(0, []), fakeInfo(true), { timeoutMs: 2 ** 31 })).toThrow(/timeoutMs must be .*at most 2147483647.*got 2147483648/);
  });
});

describe('service over a real model', () => {
  let svcPath: string;
  beforeAll(() => {
    svcPath = makeModel(tmp.dir, 'timeouts', 3, [gru({ units: 4 })], 1).path;
  });

  it('reports the provider each session really uses and why preferred ones were passed over', async () => {
    // A peephole LSTM asked to run on CUDA first: src/runtime decides; the service surfaces it.
    const p = makeModel(tmp.dir, 'peep', 3, [lstm({ units: 4, peepholes: true })], 1).path;
    const svc = await openService(p, { providers: ['cuda', 'cpu'], intraOpNumThreads: 1, workers: 0, registry: newRegistry() });
    try {
      expect(svc.provider).toBe('cpu');
      expect(svc.engine.fallbacks.length).toBeGreaterThan(0);
      expect(svc.engine.fallbacks[0].provider).toBe('cuda');
      const text = await svc.registry.metrics();
      expect(text).toMatch(/rnnx_provider_info\{model="peep",provider="cpu",requested="cuda,cpu",workers="0",reason=""\} 1/);
      expect(text).toMatch(/rnnx_provider_info\{model="peep",provider="cuda",requested="",workers="",reason="[^"]+"\} 0/);
    } finally {
      await svc.close();
    }
  });

  it('close() drains what is queued and refuses new requests', async () => {
    const svc = await openService(svcPath, { maxBatch: 64, maxWaitMs: 10_000, intraOpNumThreads: 1 });
    const xs = randomSequences(2, 5, 3, 2, 6);
    const pending = xs.map((x) => svc.predict(x));
    const t0 = performance.now();
    await svc.close();
    // Drained at once, not after maxWaitMs.
    expect(performance.now() - t0).toBeLessThan(5000);
    const rs = await Promise.all(pending);
    expect(rs.every((r) => r.dims[0] === 4)).toBe(true);
    await expect(svc.predict(xs[0])).rejects.toBeInstanceOf(ShuttingDownError);
  });
});
