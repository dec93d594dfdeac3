// The in-process serving API (src/serve/service.ts) on the in-process engine: the units a model's
// stored normalisation gives (inputs normalised and outputs denormalised by hand in the test,
// checked against ONNX Runtime on the file), client-carried stream state across step() calls
// equal to one long run, names and versions, limits handed to the batchers, and close().

import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { saveModel } from '../src/graph/io.js';
import { dense, gru, lstm, rnn, type LayerSpec } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';
import type { ModelMetadata } from '../src/model/types.js';
import { InferenceModel } from '../src/runtime/inference.js';
import { BadRequestError, ServeError } from '../src/serve/errors.js';
import { newRegistry } from '../src/serve/metrics.js';
import { openService } from '../src/serve/service.js';
import { StreamUnsupportedError } from '../src/serve/stream.js';
import { maxAbsDiff, randomizeParams } from './reference/util.js';
import { makeModel, randomSequences, tempDir } from './serve-helpers.js';

const tmp = tempDir('rnnx-service-');
afterAll(() => tmp.cleanup());

const local = { workers: 0, intraOpNumThreads: 1, maxWaitMs: 1 };

function withMetadata(name: string, inputSize: number, layers: LayerSpec[], metadata: ModelMetadata): string {
  const model = Model.create({ inputSize, layers }, { seed: 3, metadata });
  randomizeParams(model, 103);
  const path = join(tmp.dir, `${name}.onnx`);
  saveModel(model, path);
  return path;
}

const inNorm = { mean: [10, -2], std: [4, 0.5] };
const outNorm = { mean: [100, 5, -1], std: [20, 2, 0.25] };

describe('units from the stored normalisation', () => {
  const layers = [gru({ units: 5, returnSequences: true }), dense({ units: 3 })];

  it('input and output normalised: x normalised before the network, y denormalised after it', async () => {
    const path = withMetadata('norm-both', 2, layers, { inputNormalization: inNorm, targetNormalization: outNorm });
    const svc = await openService(path, { ...local, registry: newRegistry() });
    const ref = await InferenceModel.open(path, { intraOpNumThreads: 1 });
    try {
      expect(svc.units).toEqual({ mode: 'normalized', input: true, output: true });
      const x = Float32Array.from([12, -1.5, 6, -2.25, 14, -3]);
      const xn = Float32Array.from(x, (v, i) => (v - inNorm.mean[i % 2]) / inNorm.std[i % 2]);
      const net = await ref.run(xn, { batch: 1 });
      const expected = Float32Array.from(net.y, (v, i) => v * outNorm.std[i % 3] + outNorm.mean[i % 3]);
      const r = await svc.predict(x);
      expect(r.dims).toEqual([3, 3]);
      expect(maxAbsDiff(r.y, expected)).toBeLessThanOrEqual(1e-4);
      // Nested rows are converted the same way.
      const rows = await svc.predict([[12, -1.5], [6, -2.25], [14, -3]]);
      expect(maxAbsDiff(rows.y, expected)).toBeLessThanOrEqual(1e-4);
      // raw: the network's own tensors.
      const raw = await svc.predict(xn, { raw: true });
      expect(maxAbsDiff(raw.y, net.y)).toBeLessThanOrEqual(1e-6);
      // step() converts like predict; raw skips it.
      const s = await svc.step(x, null);
      expect(maxAbsDiff(s.y, expected)).toBeLessThanOrEqual(1e-4);
      const sRaw = await svc.step(xn, null, { raw: true });
      expect(maxAbsDiff(sRaw.y, net.y)).toBeLessThanOrEqual(1e-6);
    } finally {
      await svc.close();
      await ref.release();
    }
  });

  it('a target normalisation of another width than the output is not applied; input only', async () => {
    const path = withMetadata('norm-in', 2, layers, { inputNormalization: inNorm, targetNormalization: { mean: [1], std: [2] } });
    const svc = await openService(path, { ...local, registry: newRegistry() });
    const ref = await InferenceModel.open(path, { intraOpNumThreads: 1 });
    try {
      expect(svc.units).toEqual({ mode: 'normalized', input: true, output: false });
      const x = Float32Array.from([2, 0]);
      const net = await ref.run(Float32Array.from([(2 - 10) / 4, (0 + 2) / 0.5]), { batch: 1 });
      expect(maxAbsDiff((await svc.predict(x)).y, net.y)).toBeLessThanOrEqual(1e-6);
    } finally {
      await svc.close();
      await ref.release();
    }
  });

  it('output only; and without any normalisation the model\'s own tensors', async () => {
    const outOnly = withMetadata('norm-out', 2, layers, { targetNormalization: outNorm });
    const svc = await openService(outOnly, { ...local, registry: newRegistry() });
    const ref = await InferenceModel.open(outOnly, { intraOpNumThreads: 1 });
    try {
      expect(svc.units).toEqual({ mode: 'normalized', input: false, output: true });
      const x = Float32Array.from([0.5, -0.5]);
      const net = await ref.run(x, { batch: 1 });
      const expected = Float32Array.from(net.y, (v, i) => v * outNorm.std[i % 3] + outNorm.mean[i % 3]);
      expect(maxAbsDiff((await svc.predict(x)).y, expected)).toBeLessThanOrEqual(1e-4);
    } finally {
      await svc.close();
      await ref.release();
    }
    const plain = withMetadata('norm-none', 2, layers, { targetNormalization: { mean: [1, 2], std: [1, 1] } });
    const svc2 = await openService(plain, { ...local, registry: newRegistry() });
    try {
      expect(svc2.units).toEqual({ mode: 'model' });
    } finally {
      await svc2.close();
    }
  });

  it('a non-finite output is an error, never an answer', async () => {
    const model = Model.create({ inputSize: 2, layers: [rnn({ units: 2 }), dense({ units: 1 })] }, { seed: 1 });
    model.params.fill(3e38); // finite weights whose sums overflow float32
    const path = join(tmp.dir, 'overflow.onnx');
    saveModel(model, path);
    const svc = await openService(path, { ...local, registry: newRegistry() });
    try {
      const err = (await svc.predict(Float32Array.from([1, 1])).catch((e: unknown) => e)) as ServeError;
      expect(err).toBeInstanceOf(ServeError);
      expect([err.code, err.status]).toEqual(['run_failed', 500]);
      expect(err.message).toMatch(/^the model produced a non-finite output \((-?Infinity|NaN) at y\[0\]\); the answer is withheld$/);
      await expect(svc.step(Float32Array.from([1, 1]), null)).rejects.toThrow(/non-finite output/);
    } finally {
      await svc.close();
    }
  });
});

describe('client-carried stream state (step)', () => {
  it('chunks with the token of the one before equal one run; steps count; tokens of other models or edited are refused', async () => {
    const { path } = makeModel(tmp.dir, 'steps', 2, [lstm({ units: 6, returnSequences: true }), dense({ units: 2 })], 4);
    const other = makeModel(tmp.dir, 'steps-other', 2, [lstm({ units: 6, returnSequences: true }), dense({ units: 2 })], 5).path;
    const svc = await openService(path, { ...local, registry: newRegistry(), stateKey: 'k'.repeat(32) });
    const svc2 = await openService(other, { ...local, registry: newRegistry(), stateKey: 'k'.repeat(32) });
    const ref = await InferenceModel.open(path, { intraOpNumThreads: 1 });
    try {
      const [x] = randomSequences(3, 1, 2, 9, 9);
      const whole = await ref.run(x, { batch: 1 });
      const a = await svc.step(x.subarray(0, 8), null);
      expect(a.steps).toBe(4);
      expect(a.dims).toEqual([4, 2]);
      // Nested rows count their steps too.
      const rowsB = [[x[8], x[9]], [x[10], x[11]]];
      const b = await svc.step(rowsB, a.token);
      expect(b.steps).toBe(6);
      const c = await svc.step(x.subarray(12), b.token);
      expect(c.steps).toBe(9);
      expect(maxAbsDiff([...a.y, ...b.y, ...c.y], whole.y)).toBeLessThanOrEqual(1e-5);
      // Same key, another model file: refused.
      await expect(svc2.step(x.subarray(0, 2), a.token)).rejects.toThrow(/made for another model file/);
      await expect(svc.step(x.subarray(0, 2), `${a.token.slice(0, -2)}AA`)).rejects.toBeInstanceOf(BadRequestError);
      // A service with another key does not accept it.
      const svc3 = await openService(path, { ...local, registry: newRegistry(), stateKey: 'z'.repeat(32) });
      try {
        await expect(svc3.step(x.subarray(0, 2), a.token)).rejects.toThrow(/does not verify/);
      } finally {
        await svc3.close();
      }
      expect(svc.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(svc.hash).not.toBe(svc2.hash);
    } finally {
      await svc.close();
      await svc2.close();
      await ref.release();
    }
  });

  it('a model that cannot stream refuses step() and openStream() with the reason', async () => {
    const { path } = makeModel(tmp.dir, 'nostream', 2, [gru({ units: 3, direction: 'reverse' })], 4);
    const svc = await openService(path, { ...local, registry: newRegistry() });
    try {
      expect(svc.streamBatcher).toBeNull();
      expect(svc.streams).toBeNull();
      await expect(svc.step(Float32Array.from([1, 2]), null)).rejects.toThrow(StreamUnsupportedError);
      await expect(svc.step(Float32Array.from([1, 2]), null)).rejects.toThrow(/^layers\[0\] \(gru\) is reverse: a reverse or bidirectional layer needs the future steps/);
      expect(() => svc.openStream()).toThrow(/^layers\[0\] \(gru\) is reverse/);
    } finally {
      await svc.close();
    }
  });

  it('a short state key is refused when the service opens, and the engine is released', async () => {
    const { path } = makeModel(tmp.dir, 'shortkey', 2, [gru({ units: 3 })], 4);
    await expect(openService(path, { ...local, stateKey: 'short' })).rejects.toThrow('stateKey must be at least 32 bytes');
  });
});

describe('names, versions and limits', () => {
  it('the name defaults to the file name without .onnx, or "model" for bytes; bad names are refused', async () => {
    const { path } = makeModel(tmp.dir, 'Named.Model', 2, [gru({ units: 3 })], 4);
    const a = await openService(path, { ...local, registry: newRegistry() });
    const b = await openService(new Uint8Array(readFileSync(path)), { ...local, registry: newRegistry() });
    const c = await openService(path, { ...local, registry: newRegistry(), name: 'x'.repeat(128), version: '12' });
    try {
      expect([a.name, a.version]).toEqual(['Named.Model', '1']);
      expect(b.name).toBe('model');
      expect([c.name, c.version]).toEqual(['x'.repeat(128), '12']);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
    for (const bad of ['', 'a b', 'a/b', 'x'.repeat(129)]) {
      await expect(openService(path, { ...local, name: bad })).rejects.toThrow(`name must be 1-128 characters of letters, digits, '_', '.' or '-', got ${JSON.stringify(bad)}`);
    }
  });

  it('limits reach both batchers; streamMaxBatch only the stream one; maxInFlight defaults to the engine\'s concurrency', async () => {
    const { path } = makeModel(tmp.dir, 'limits', 2, [gru({ units: 3 })], 4);
    const o = { maxBatch: 7, maxWaitMs: 3, maxQueue: 9, timeoutMs: 1234, maxTime: 55, maxQueueBytes: 4096, maxBatchBytes: 8192 };
    const svc = await openService(path, { ...local, ...o, streamMaxBatch: 2, registry: newRegistry() });
    const two = await openService(path, { ...local, maxInFlight: 2, registry: newRegistry() });
    try {
      const pick = (b: typeof svc.batcher) => ({ maxBatch: b.maxBatch, maxWaitMs: b.maxWaitMs, maxQueue: b.maxQueue, timeoutMs: b.timeoutMs, maxTime: b.maxTime, maxQueueBytes: b.maxQueueBytes, maxBatchBytes: b.maxBatchBytes });
      expect(pick(svc.batcher)).toEqual(o);
      expect(pick(svc.streamBatcher!)).toEqual({ ...o, maxBatch: 2 });
      expect(svc.batcher.maxInFlight).toBe(1);
      expect(two.batcher.maxInFlight).toBe(2);
      expect(two.streamBatcher!.maxBatch).toBe(64);
      expect(svc.overloaded).toBe(false);
    } finally {
      await Promise.all([svc.close(), two.close()]);
    }
  });

  it('overloaded while either batcher would refuse; close() is idempotent and removes the metrics source', async () => {
    const { path } = makeModel(tmp.dir, 'over', 2, [gru({ units: 3 })], 4);
    const registry = newRegistry();
    const svc = await openService(path, { ...local, maxQueue: 1, maxWaitMs: 10_000, registry });
    const release = svc.streamBatcher!.reserve(8);
    expect(svc.overloaded).toBe(true);
    release();
    expect(svc.overloaded).toBe(false);
    const pending = svc.predict(Float32Array.from([1, 2]));
    expect(svc.overloaded).toBe(true);
    expect(svc.metrics.sources.size).toBe(1);
    const c1 = svc.close();
    expect(svc.close()).toBe(c1);
    await c1;
    expect((await pending).dims).toEqual([3]);
    expect(svc.metrics.sources.size).toBe(0);
    const text = await registry.metrics();
    expect(text).toMatch(/rnnx_batch_size_count\{model="over",kind="predict"\} 1/);
  });
});

describe('forecasters: requests in the series\' units', () => {
  const forecaster = (name: string, inputSize: number, transform: string, columns: string[]) =>
    withMetadata(name, inputSize, [gru({ units: 4 }), dense({ units: 1 })], {
      extra: { task: 'forecast', inputColumns: JSON.stringify(columns), targetColumns: JSON.stringify(columns.slice(0, 1)), window: '3', horizon: '1', transform },
    });

  it('no transform: the last `window` rows go to the network as they are; another count is refused saying what is expected', async () => {
    const path = forecaster('fc-none', 2, 'none', ['a', 'b']);
    const svc = await openService(path, { ...local, registry: newRegistry() });
    const ref = await InferenceModel.open(path, { intraOpNumThreads: 1 });
    try {
      expect(svc.units).toEqual({ mode: 'forecast', rows: 3, inputColumns: ['a', 'b'], targetColumns: ['a'], window: 3, horizon: 1, transform: 'none' });
      const x = Float32Array.from([0.5, -1, 0.25, 2, -0.75, 1.5]);
      const net = await ref.run(x, { batch: 1 });
      const r = await svc.predict([[0.5, -1], [0.25, 2], [-0.75, 1.5]]);
      expect(r.dims).toEqual([1, 1]);
      expect(maxAbsDiff(r.y, net.y)).toBeLessThanOrEqual(1e-6);
      const err = (await svc.predict([[0.5, -1], [0.25, 2]]).catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(BadRequestError);
      expect(err.message).toBe('input must be the last 3 rows of the series (3-step window), 2 values a row (a, b), in the series\' units; got 2 rows. Set "raw" for model-space tensors');
      // raw: a model-space sequence of any length.
      const raw = await svc.predict(x.subarray(0, 4), { raw: true });
      expect(maxAbsDiff(raw.y, (await ref.run(x.subarray(0, 4), { batch: 1 })).y)).toBeLessThanOrEqual(1e-6);
    } finally {
      await svc.close();
      await ref.release();
    }
  });

  it('difference: one row more than the window, differenced in and summed back out', async () => {
    const path = forecaster('fc-diff', 1, 'difference', ['a']);
    const svc = await openService(path, { ...local, registry: newRegistry() });
    const ref = await InferenceModel.open(path, { intraOpNumThreads: 1 });
    try {
      expect(svc.units).toMatchObject({ mode: 'forecast', rows: 4, window: 3 });
      const levels = [10, 12, 11.5, 13];
      const net = await ref.run(Float32Array.from([2, -0.5, 1.5]), { batch: 1 });
      const r = await svc.predict(levels.map((v) => [v]));
      expect(r.dims).toEqual([1, 1]);
      expect(Math.abs(r.y[0] - (13 + net.y[0]))).toBeLessThanOrEqual(1e-4);
      await expect(svc.predict([[10], [12], [11.5]])).rejects.toThrow(
        'input must be the last 4 rows of the series (3-step window plus the row before it, for the difference), 1 value a row (a), in the series\' units; got 3 rows. Set "raw" for model-space tensors',
      );
    } finally {
      await svc.close();
      await ref.release();
    }
  });

  it('log transforms: a value that is not positive is refused, naming its row and column', async () => {
    const path = forecaster('fc-log', 2, 'log', ['a', 'b']);
    const svc = await openService(path, { ...local, registry: newRegistry() });
    try {
      await expect(svc.predict([[1, 2], [3, 0], [5, 6]])).rejects.toThrow(/^input\[1\]\[1\] must be positive \(the model works on logarithms\), got 0$/);
      await expect(svc.predict([[1, 2], [3, 4], [-5, 6]])).rejects.toThrow(/^input\[2\]\[0\] must be positive \(the model works on logarithms\), got -5$/);
    } finally {
      await svc.close();
    }
    const diff = await openService(forecaster('fc-logdiff', 1, 'log-difference', ['a']), { ...local, registry: newRegistry() });
    try {
      await expect(diff.predict([[1], [2], [0], [3]])).rejects.toThrow(/^input\[2\]\[0\] must be positive \(the model works on logarithms\), got 0$/);
    } finally {
      await diff.close();
    }
  });
});

describe('run metrics and hurry()', () => {
  it('each run observes its size and duration per batcher; only a failed run counts as an error', async () => {
    const { path } = makeModel(tmp.dir, 'runmetrics', 2, [gru({ units: 3 })], 4);
    const svc = await openService(path, { ...local, name: 'rm', registry: newRegistry() });
    const values = async (metric: { get(): Promise<{ values: { value: number; labels: Record<string, unknown>; metricName?: string }[] }> }) =>
      (await metric.get()).values.map((v) => [v.metricName ?? '', v.labels.kind, v.value]);
    try {
      svc.batcher.onBatch!({ size: 3, time: 5, runMs: 250 });
      svc.streamBatcher!.onBatch!({ size: 2, time: 1, runMs: 40 });
      expect(await values(svc.metrics.runErrors)).toEqual([]);
      svc.batcher.onBatch!({ size: 1, time: 1, runMs: 10, error: new Error('boom') });
      expect(await values(svc.metrics.runErrors)).toEqual([['', 'predict', 1]]);
      svc.streamBatcher!.onBatch!({ size: 1, time: 1, runMs: 10, error: new Error('boom') });
      expect((await values(svc.metrics.runErrors)).sort()).toEqual([['', 'predict', 1], ['', 'stream', 1]]);
      const sums = (await values(svc.metrics.runSeconds)).filter(([n]) => n === 'rnnx_run_duration_seconds_sum');
      expect(sums).toEqual([['rnnx_run_duration_seconds_sum', 'predict', 0.26], ['rnnx_run_duration_seconds_sum', 'stream', 0.05]]);
      const sizes = (await values(svc.metrics.batchSize)).filter(([n]) => n === 'rnnx_batch_size_sum');
      expect(sizes).toEqual([['rnnx_batch_size_sum', 'predict', 4], ['rnnx_batch_size_sum', 'stream', 3]]);
    } finally {
      await svc.close();
    }
  });

  it('hurry() sends what waits now and every later request at once, on both batchers', async () => {
    const { path } = makeModel(tmp.dir, 'hurry', 2, [gru({ units: 3 })], 4);
    const svc = await openService(path, { ...local, maxWaitMs: 60_000, registry: newRegistry() });
    try {
      const waiting = svc.predict(Float32Array.from([1, 2]));
      const chunk = svc.step(Float32Array.from([1, 2]), null);
      expect([svc.batcher.queueDepth, svc.streamBatcher!.queueDepth]).toEqual([1, 1]);
      svc.hurry();
      expect([svc.batcher.queueDepth, svc.batcher.runsInFlight]).toEqual([0, 1]);
      expect([svc.streamBatcher!.queueDepth, svc.streamBatcher!.runsInFlight]).toEqual([0, 1]);
      await Promise.all([waiting, chunk]);
      const later = svc.predict(Float32Array.from([3, 4]));
      const laterChunk = svc.step(Float32Array.from([3, 4]), null);
      expect([svc.batcher.queueDepth, svc.streamBatcher!.queueDepth]).toEqual([0, 0]);
      expect((await later).dims).toEqual([3]);
      expect((await laterChunk).dims).toEqual([3]);
    } finally {
      await svc.close();
    }
  });

  it('hurry() on a model that cannot stream hurries the predict batcher alone', async () => {
    const { path } = makeModel(tmp.dir, 'hurry-nostream', 2, [gru({ units: 3, direction: 'reverse' })], 4);
    const svc = await openService(path, { ...local, maxWaitMs: 60_000, registry: newRegistry() });
    try {
      const waiting = svc.predict(Float32Array.from([1, 2]));
      svc.hurry();
      expect([svc.batcher.queueDepth, svc.batcher.runsInFlight]).toEqual([0, 1]);
      expect((await waiting).dims).toEqual([3]);
    } finally {
      await svc.close();
    }
  });
});

describe('what the service reports and releases', () => {
  it('its metrics source: queue depth and runs in flight per batcher, open streams; gone after close, with the streams', async () => {
    const { path } = makeModel(tmp.dir, 'src', 2, [gru({ units: 3 })], 4);
    const registry = newRegistry();
    const svc = await openService(path, { ...local, maxWaitMs: 60_000, registry });
    const a = svc.openStream();
    const b = svc.openStream();
    const waiting = svc.predict(Float32Array.from([1, 2]));
    const text = await registry.metrics();
    expect(text).toMatch(/^rnnx_streams_open\{model="src"\} 2$/m);
    expect(text).toMatch(/^rnnx_queue_depth\{model="src",kind="predict"\} 1$/m);
    expect(text).toMatch(/^rnnx_queue_depth\{model="src",kind="stream"\} 0$/m);
    expect(text).toMatch(/^rnnx_runs_in_flight\{model="src",kind="predict"\} 0$/m);
    await svc.close();
    expect((await waiting).dims).toEqual([3]);
    expect([a.isClosed, b.isClosed]).toEqual([true, true]);
    expect(svc.streams!.size).toBe(0);
    const after = await registry.metrics();
    expect(after).not.toMatch(/rnnx_(queue_depth|runs_in_flight|streams_open)\{model="src"/);
    expect(after).toMatch(/^rnnx_batch_size_count\{model="src",kind="predict"\} 1$/m);
    await expect(svc.predict(Float32Array.from([1, 2]))).rejects.toThrow('the batcher is shutting down and accepts no new requests');
  });

  it('a model that cannot stream reports its predict batcher alone and no open streams', async () => {
    const { path } = makeModel(tmp.dir, 'src-nostream', 2, [gru({ units: 3, direction: 'bidirectional' })], 4);
    const registry = newRegistry();
    const svc = await openService(path, { ...local, registry });
    try {
      const text = await registry.metrics();
      expect(text).toMatch(/^rnnx_streams_open\{model="src-nostream"\} 0$/m);
      expect(text).toMatch(/^rnnx_queue_depth\{model="src-nostream",kind="predict"\} 0$/m);
      expect(text).not.toMatch(/kind="stream"/);
    } finally {
      await svc.close();
    }
  });

  it('the default name drops a final .onnx in any case, and nothing else', async () => {
    const { path } = makeModel(tmp.dir, 'base', 2, [gru({ units: 3 })], 4);
    const names: string[] = [];
    for (const file of ['Upper.ONNX', 'two.onnx.onnx', 'plain.onnxb', 'onnx.model']) {
      const p = join(tmp.dir, file);
      writeFileSync(p, readFileSync(path));
      const svc = await openService(p, { ...local, registry: newRegistry() });
      names.push(svc.name);
      await svc.close();
    }
    expect(names).toEqual(['Upper', 'two.onnx', 'plain.onnxb', 'onnx.model']);
  });
});

describe('a service that fails to open', () => {
  it('releases the sessions its engine opened (predict and stream) before throwing; close() releases them too', async () => {
    const { path } = makeModel(tmp.dir, 'release-on-fail', 2, [gru({ units: 3 })], 4);
    const release = vi.spyOn(InferenceModel.prototype, 'release');
    try {
      await expect(openService(path, { ...local, name: 'bad name' })).rejects.toThrow('name must be 1-128 characters');
      expect(release).toHaveBeenCalledTimes(2);
      // And closing an open service releases both too.
      const svc = await openService(path, { ...local, registry: newRegistry() });
      await svc.close();
      expect(release).toHaveBeenCalledTimes(4);
    } finally {
      release.mockRestore();
    }
  });
});
