// Stateful streams: a 1000-step sequence fed chunk by chunk gives what one 1000-step run gives
// (ONNX Runtime on the whole sequence, and the float64 reference), for sequence and last-step
// outputs and stacked layers; streams of several clients batch together; models that need the
// future are refused.

import { afterAll, describe, expect, it } from 'vitest';
import { dense, gru, lstm, rnn, type LayerSpec } from '../src/layers/spec.js';
import { InferenceModel } from '../src/runtime/inference.js';
import { ServeError } from '../src/serve/errors.js';
import { Batcher } from '../src/serve/batcher.js';
import { openService } from '../src/serve/service.js';
import { openStream, StreamUnsupportedError } from '../src/serve/stream.js';
import type { RunRequest, RunResult, ServeModelInfo } from '../src/serve/types.js';
import { referenceForward } from './reference/forward.js';
import { maxAbsDiff, spread } from './reference/util.js';
import { makeModel, randomSequences, tempDir } from './serve-helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const T = 1000;

const cases: { name: string; I: number; layers: LayerSpec[] }[] = [
  { name: 'lstm-seq', I: 3, layers: [lstm({ units: 8, returnSequences: true }), dense({ units: 2 })] },
  { name: 'stacked-last', I: 3, layers: [gru({ units: 6, returnSequences: true }), lstm({ units: 5, peepholes: true }), dense({ units: 2, activation: 'tanh' })] },
];

describe('a 1000-step sequence fed in chunks equals one long run', () => {
  for (const c of cases) {
    it(`${c.name}: chunks of 1, 7 and 100 steps`, async () => {
      const { model, path } = makeModel(tmp.dir, c.name, c.I, c.layers, 21);
      const svc = await openService(path, { maxBatch: 8, maxWaitMs: 0, intraOpNumThreads: 1 });
      const whole = await InferenceModel.open(path, { intraOpNumThreads: 1 });
      try {
        const [x] = randomSequences(4, 1, c.I, T, T);
        const long = await whole.run(x, { batch: 1 });
        const ref = referenceForward(model.spec, model.params, x, { batch: 1, time: T });
        expect(maxAbsDiff(long.y, ref.y)).toBeLessThan(1e-4);
        expect(spread(long.y)).toBeGreaterThan(1e-3);
        const F = long.dims[long.dims.length - 1];
        const seqOut = long.dims.length === 3;
        for (const chunk of [1, 7, 100]) {
          const s = svc.openStream();
          const outs: number[] = [];
          let last: Float32Array | null = null;
          for (let t0 = 0; t0 < T; t0 += chunk) {
            const t1 = Math.min(T, t0 + chunk);
            const r = await s.append(x.subarray(t0 * c.I, t1 * c.I));
            expect(r.dims).toEqual(seqOut ? [t1 - t0, F] : [F]);
            if (seqOut) outs.push(...r.y);
            last = r.y;
          }
          expect(s.steps).toBe(T);
          if (seqOut) {
            expect(outs.length).toBe(long.y.length);
            expect(maxAbsDiff(outs, long.y)).toBeLessThanOrEqual(1e-5);
          } else {
            expect(maxAbsDiff(last!, long.y)).toBeLessThanOrEqual(1e-5);
          }
          s.close();
        }
      } finally {
        await svc.close();
        await whole.release();
      }
    });
  }
});

describe('stream behaviour', () => {
  it('streams of several clients share runs and stay independent', async () => {
    const { path } = makeModel(tmp.dir, 'multi', 2, [lstm({ units: 6, returnSequences: true })], 5);
    const svc = await openService(path, { maxBatch: 8, maxWaitMs: 5, intraOpNumThreads: 1 });
    const whole = await InferenceModel.open(path, { intraOpNumThreads: 1 });
    try {
      const xs = randomSequences(9, 5, 2, 30, 60);
      const sizes: number[] = [];
      svc.streamBatcher!.onBatch = (e) => sizes.push(e.size);
      const chunkOf = [3, 5, 7, 11, 13];
      const outs = await Promise.all(xs.map(async (x, i) => {
        const s = svc.openStream();
        const out: number[] = [];
        for (let t0 = 0; t0 < x.length / 2; t0 += chunkOf[i]) {
          const r = await s.append(x.subarray(t0 * 2, Math.min(x.length, (t0 + chunkOf[i]) * 2)));
          out.push(...r.y);
        }
        return out;
      }));
      expect(Math.max(...sizes)).toBeGreaterThan(1);
      for (let i = 0; i < xs.length; i++) {
        const long = await whole.run(xs[i], { batch: 1 });
        expect(maxAbsDiff(outs[i], long.y)).toBeLessThanOrEqual(1e-5);
      }
    } finally {
      await svc.close();
      await whole.release();
    }
  });

  it('a rejected chunk leaves the state as it was; reset and close work', async () => {
    const { path } = makeModel(tmp.dir, 'reject', 2, [gru({ units: 4, returnSequences: true })], 8);
    const svc = await openService(path, { maxWaitMs: 0, intraOpNumThreads: 1 });
    const whole = await InferenceModel.open(path, { intraOpNumThreads: 1 });
    try {
      const [x] = randomSequences(1, 1, 2, 10, 10);
      const long = await whole.run(x, { batch: 1 });
      const s = svc.openStream();
      const a = await s.append(x.subarray(0, 8));
      await expect(s.append(new Float32Array([1, NaN]))).rejects.toThrow(/must be a finite number, got NaN/);
      const b = await s.append(x.subarray(8));
      expect(maxAbsDiff([...a.y, ...b.y], long.y)).toBeLessThanOrEqual(1e-6);
      s.reset();
      const again = await s.append(x);
      expect(maxAbsDiff(again.y, long.y)).toBeLessThanOrEqual(1e-6);
      const id = s.id;
      expect(svc.streams!.get(id)).toBe(s);
      s.close();
      expect(() => svc.streams!.get(id)).toThrow(/no open stream/);
      await expect(s.append(x)).rejects.toBeInstanceOf(ServeError);
    } finally {
      await svc.close();
      await whole.release();
    }
  });

  it('refuses to stream bidirectional and reverse models, and still predicts with them', async () => {
    for (const [name, layers, pattern] of [
      ['bidir', [lstm({ units: 4, direction: 'bidirectional' })], /layers\[0\] \(lstm\) is bidirectional/],
      ['reverse', [gru({ units: 4, returnSequences: true }), rnn({ units: 3, direction: 'reverse' })], /layers\[1\] \(rnn\) is reverse/],
    ] as const) {
      const { path } = makeModel(tmp.dir, name, 2, [...layers], 2);
      const svc = await openService(path, { intraOpNumThreads: 1 });
      try {
        expect(() => svc.openStream()).toThrow(StreamUnsupportedError);
        expect(() => svc.openStream()).toThrow(pattern);
        expect(() => svc.openStream()).toThrow(/needs the future steps/);
        const r = await svc.predict(new Float32Array(6).fill(0.5));
        expect(r.y.length).toBeGreaterThan(0);
      } finally {
        await svc.close();
      }
    }
  });

  it('bounds the number of open streams', async () => {
    const { path } = makeModel(tmp.dir, 'bounded', 2, [gru({ units: 3 })], 2);
    const svc = await openService(path, { maxStreams: 3, intraOpNumThreads: 1 });
    try {
      const open = [svc.openStream(), svc.openStream(), svc.openStream()];
      expect(() => svc.openStream()).toThrow(/overloaded: 3 streams are open \(maxStreams 3\)/);
      open[0].close();
      expect(svc.openStream().id).not.toBe(open[0].id);
    } finally {
      await svc.close();
    }
  });

  it('a reset while a chunk is in flight wins: the chunk is answered, but its state is not written back', async () => {
    // A counter model: h' = h + sum of the chunk's inputs, y = h'. Runs wait for `release`.
    const info: ServeModelInfo = { inputSize: 1, outputSize: 1, returnsSequences: false, hasSequenceLens: true, state: [{ directions: 1, units: 1, hasCell: false }], needsFuture: null };
    let release: () => void = () => {};
    const runner = {
      run: async (req: RunRequest): Promise<RunResult> => {
        await new Promise<void>((r) => (release = r));
        const h = new Float32Array(req.batch);
        for (let b = 0; b < req.batch; b++) {
          h[b] = req.state![0].h[b];
          for (let t = 0; t < req.sequenceLens![b]; t++) h[b] += req.x[b * req.time + t];
        }
        return { y: h.slice(), dims: [req.batch, 1], state: [{ h }] };
      },
    };
    const b = new Batcher(runner, info, { maxWaitMs: 0 });
    const s = openStream(b);
    const first = s.append(new Float32Array([1, 2, 3]));
    for (let i = 0; i < 100 && b.runsInFlight === 0; i++) await new Promise((r) => setTimeout(r, 1));
    expect(b.runsInFlight).toBe(1);
    s.reset(); // lands while the chunk runs
    release();
    expect(Array.from((await first).y)).toEqual([6]);
    expect(s.steps).toBe(0);
    const next = s.append(new Float32Array([10]));
    for (let i = 0; i < 100 && b.runsInFlight === 0; i++) await new Promise((r) => setTimeout(r, 1));
    release();
    // From zeros, not from the 6 of the chunk the reset overtook.
    expect(Array.from((await next).y)).toEqual([10]);
    expect(s.steps).toBe(1);
    await b.close();
  });
});
