// The serve engine (src/serve/engine.ts) in process: the serving facts of a spec (hand-computed),
// which graph variant each API gets from which file (re-exported only when the file is not
// already that variant), foreign graphs served as they are or refused with the reason, and runs
// on the in-process engine equal to ONNX Runtime on the exported graph (sequence_lens and state
// defaults included).

import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { onnx } from '../src/graph/builder.js';
import { parseModelProto } from '../src/graph/io.js';
import { dense, gru, lstm, rnn, type ModelSpec } from '../src/layers/spec.js';
import { InferenceModel } from '../src/runtime/inference.js';
import { checkWorkers, MAX_WORKERS, openEngine, prepareGraphs, serveInfo } from '../src/serve/engine.js';
import { ShuttingDownError } from '../src/serve/errors.js';
import { maxAbsDiff, spread } from './reference/util.js';
import { makeModel, randomSequences, tempDir } from './serve-helpers.js';

const tmp = tempDir('rnnx-engine-');
afterAll(() => tmp.cleanup());

const inputsOf = (bytes: Uint8Array) => (parseModelProto(bytes).graph!.input ?? []).map((i) => i.name);
const opsetOf = (bytes: Uint8Array) => Number(parseModelProto(bytes).opsetImport!.find((o) => !o.domain)!.version);

describe('serveInfo', () => {
  const spec: ModelSpec = { inputSize: 3, layers: [lstm({ units: 4, returnSequences: true }), gru({ units: 5, direction: 'bidirectional' }), dense({ units: 2 })] };

  it('sizes, state shapes, the layer that needs the future and the per-step width', () => {
    const stateful = serveInfo(spec, { sequenceLens: true, stateful: true });
    expect(stateful).toEqual({
      inputSize: 3,
      outputSize: 2,
      returnsSequences: false,
      hasSequenceLens: true,
      state: [{ directions: 1, units: 4, hasCell: true }, { directions: 2, units: 5, hasCell: false }],
      needsFuture: 'layers[1] (gru) is bidirectional',
      // x 3 + LSTM 1*4*(4 gates + output) + GRU 2*5*(3 + 1) + dense 2.
      stepFloats: 3 + 20 + 40 + 2,
    });
    expect(serveInfo(spec, { sequenceLens: false, stateful: false })).toMatchObject({ hasSequenceLens: false, state: [] });
  });

  it('forward-only models need no future; reverse is named; an RNN has one gate', () => {
    const fwd: ModelSpec = { inputSize: 2, layers: [rnn({ units: 6, returnSequences: true }), dense({ units: 1 })] };
    expect(serveInfo(fwd, { sequenceLens: true, stateful: true })).toMatchObject({ needsFuture: null, returnsSequences: true, outputSize: 1, stepFloats: 2 + 6 * 2 + 1, state: [{ directions: 1, units: 6, hasCell: false }] });
    const rev: ModelSpec = { inputSize: 2, layers: [gru({ units: 3, returnSequences: true }), rnn({ units: 2, direction: 'reverse' })] };
    expect(serveInfo(rev, { sequenceLens: true, stateful: false }).needsFuture).toBe('layers[1] (rnn) is reverse');
  });
});

describe('prepareGraphs: the variant each API gets', () => {
  const layers = [lstm({ units: 4, returnSequences: true }), dense({ units: 2 })];

  it('a plain file: both variants re-exported, at the file\'s opset; the hash is the file\'s SHA-256', () => {
    const { path } = makeModel(tmp.dir, 'plain', 2, layers, 3, { opset: 16 });
    const file = readFileSync(path);
    const g = prepareGraphs(path);
    expect(g.hash).toBe(createHash('sha256').update(file).digest('hex'));
    expect(g.spec?.inputSize).toBe(2);
    expect(inputsOf(g.predict.bytes)).toEqual(['x', 'sequence_lens']);
    expect(opsetOf(g.predict.bytes)).toBe(16);
    expect('bytes' in g.stream).toBe(true);
    if (!('bytes' in g.stream)) return;
    expect(inputsOf(g.stream.bytes)).toEqual(['x', 'sequence_lens', 'h0_0', 'c0_0']);
    expect(opsetOf(g.stream.bytes)).toBe(16);
    expect(g.stream.info.state).toEqual([{ directions: 1, units: 4, hasCell: true }]);
    expect(g.predict.info.state).toEqual([]);
    // From bytes: the same graphs and hash.
    const fromBytes = prepareGraphs(new Uint8Array(file));
    expect(fromBytes.hash).toBe(g.hash);
    expect(Buffer.from(fromBytes.predict.bytes).equals(Buffer.from(g.predict.bytes))).toBe(true);
  });

  it('a file that already is a variant is served as it is', () => {
    const seq = makeModel(tmp.dir, 'seqlens', 2, layers, 3, { sequenceLens: true }).path;
    const g1 = prepareGraphs(seq);
    expect(Buffer.from(g1.predict.bytes).equals(readFileSync(seq))).toBe(true);
    expect('bytes' in g1.stream && inputsOf(g1.stream.bytes)).toEqual(['x', 'sequence_lens', 'h0_0', 'c0_0']);

    const both = makeModel(tmp.dir, 'both', 2, layers, 3, { sequenceLens: true, stateful: true }).path;
    const g2 = prepareGraphs(both);
    expect('bytes' in g2.stream && Buffer.from(g2.stream.bytes).equals(readFileSync(both))).toBe(true);
    // The predict graph must not carry state inputs: re-exported.
    expect(inputsOf(g2.predict.bytes)).toEqual(['x', 'sequence_lens']);

    const stateOnly = makeModel(tmp.dir, 'stateonly', 2, layers, 3, { stateful: true }).path;
    const g3 = prepareGraphs(stateOnly);
    expect(inputsOf(g3.predict.bytes)).toEqual(['x', 'sequence_lens']);
    expect('bytes' in g3.stream && inputsOf(g3.stream.bytes)).toEqual(['x', 'sequence_lens', 'h0_0', 'c0_0']);
  });

  it('a bidirectional model predicts but cannot stream, saying which layer', () => {
    const { path } = makeModel(tmp.dir, 'bidir', 2, [lstm({ units: 3, direction: 'bidirectional' })], 3);
    const g = prepareGraphs(path);
    expect(inputsOf(g.predict.bytes)).toEqual(['x', 'sequence_lens']);
    expect(g.stream).toEqual({ unsupported: 'layers[0] (lstm) is bidirectional: a reverse or bidirectional layer needs the future steps of the sequence, which a stream does not have yet' });
  });

  it('foreign graphs: served as they are, with the sizes their x and y declare, never streamed', () => {
    const lstmFile = readFileSync('tests/fixtures/pytorch_lstm.onnx');
    const g = prepareGraphs('tests/fixtures/pytorch_lstm.onnx');
    expect(g.spec).toBeNull();
    expect(g.metadata).toBeNull();
    expect(Buffer.from(g.predict.bytes).equals(lstmFile)).toBe(true);
    expect(g.predict.info).toEqual({ inputSize: 5, outputSize: 3, returnsSequences: false, hasSequenceLens: false, state: [], needsFuture: null });
    expect(g.stream).toEqual({ unsupported: 'the file was not written by rnnx, so its recurrent layers and state inputs are unknown' });
    expect(prepareGraphs('tests/fixtures/pytorch_gru.onnx').predict.info).toMatchObject({ inputSize: 4, outputSize: 12, returnsSequences: true });
  });

  it('foreign graphs that cannot be served are refused with the reason', () => {
    const edited = (name: string, edit: (g: NonNullable<ReturnType<typeof parseModelProto>['graph']>) => void): string => {
      const proto = onnx.ModelProto.decode(readFileSync('tests/fixtures/pytorch_lstm.onnx'));
      edit(proto.graph!);
      const f = join(tmp.dir, name);
      writeFileSync(f, onnx.ModelProto.encode(proto).finish());
      return f;
    };
    const extra = edited('extra.onnx', (g) => {
      g.input!.push(onnx.ValueInfoProto.create({ name: 'h0', type: g.input![0].type }));
    });
    expect(() => prepareGraphs(extra)).toThrow(`${extra}: a foreign graph must have only the inputs x and sequence_lens to be served, got also ["h0"]`);
    const lens = edited('lens.onnx', (g) => {
      g.input!.push(onnx.ValueInfoProto.create({ name: 'sequence_lens', type: g.input![0].type }));
    });
    expect(prepareGraphs(lens).predict.info.hasSequenceLens).toBe(true);
    const noY = edited('noy.onnx', (g) => {
      g.output![0].name = 'out';
    });
    expect(() => prepareGraphs(noY)).toThrow(`${noY}: serving needs an rnnx file, or a graph with input x [batch, time, I] and output y [batch, F] or [batch, time, F] with fixed I and F; got inputs ["x"]`);
    const noX = edited('nox.onnx', (g) => {
      g.input![0].name = 'input';
    });
    expect(() => prepareGraphs(noX)).toThrow(/serving needs an rnnx file.*got inputs \["input"\]/);
    const x2 = edited('x2.onnx', (g) => {
      g.input![0].type!.tensorType!.shape!.dim!.splice(1, 1);
    });
    expect(() => prepareGraphs(x2)).toThrow(/serving needs an rnnx file/);
    // x of rank 4 whose third size is fixed: still not [batch, time, I].
    const x4 = edited('x4.onnx', (g) => {
      const d = g.input![0].type!.tensorType!.shape!.dim!;
      d.push(d[2]);
    });
    expect(() => prepareGraphs(x4)).toThrow(/serving needs an rnnx file.*got inputs \["x"\]/);
    const y4 = edited('y4.onnx', (g) => {
      const d = g.output![0].type!.tensorType!.shape!.dim!;
      d.push(d[d.length - 1], d[d.length - 1]);
    });
    expect(() => prepareGraphs(y4)).toThrow(/serving needs an rnnx file/);
    const freeI = edited('freei.onnx', (g) => {
      g.input![0].type!.tensorType!.shape!.dim![2] = onnx.TensorShapeProto.Dimension.create({ dimParam: 'features' });
    });
    expect(() => prepareGraphs(freeI)).toThrow(/with fixed I and F/);
    const freeF = edited('freef.onnx', (g) => {
      const d = g.output![0].type!.tensorType!.shape!.dim!;
      d[d.length - 1] = onnx.TensorShapeProto.Dimension.create({ dimParam: 'f' });
    });
    expect(() => prepareGraphs(freeF)).toThrow(/with fixed I and F/);
    expect(() => prepareGraphs(new Uint8Array(readFileSync(noY)))).toThrow(/^model bytes: serving needs an rnnx file/);
  });
});

describe('checkWorkers', () => {
  it('integers in [0, MAX_WORKERS], naming the field', () => {
    expect(MAX_WORKERS).toBeGreaterThanOrEqual(4);
    expect([checkWorkers(0), checkWorkers(MAX_WORKERS)]).toEqual([0, MAX_WORKERS]);
    for (const bad of [-1, MAX_WORKERS + 1, 1.5, '2', null]) {
      expect(() => checkWorkers(bad)).toThrow(`workers must be an integer in [0, ${MAX_WORKERS}] (0 = in process; the limit is twice this machine's`);
    }
    expect(() => checkWorkers(-1, 'options.workers')).toThrow(/^options\.workers must be .*got -1$/);
    expect(() => checkWorkers('2')).toThrow(/got "2"$/);
  });
});

describe('runs on the in-process engine equal ONNX Runtime on the exported graph', () => {
  it('predict: sequence_lens given or defaulted to the full length', async () => {
    const { path } = makeModel(tmp.dir, 'run', 3, [gru({ units: 6, returnSequences: true }), dense({ units: 2 })], 5);
    const engine = await openEngine(path, { workers: 0, intraOpNumThreads: 1 });
    const ref = await InferenceModel.open(path, { intraOpNumThreads: 1 });
    try {
      expect(engine).toMatchObject({ workers: 0, concurrency: 1, requestedProviders: ['default'] });
      const [a, b] = randomSequences(9, 2, 3, 4, 4);
      const x = new Float32Array([...a, ...b]);
      // Row 1 is 2 steps long: its steps 2 and 3 are padding.
      const r = await engine.predict.runner.run({ x: x.slice(), batch: 2, time: 4, sequenceLens: Int32Array.from([4, 2]) });
      expect(r.dims).toEqual([2, 4, 2]);
      const ra = await ref.run(a, { batch: 1 });
      const rb = await ref.run(b.subarray(0, 6), { batch: 1 });
      expect(maxAbsDiff(r.y.subarray(0, 8), ra.y)).toBeLessThanOrEqual(1e-6);
      expect(maxAbsDiff(r.y.subarray(8, 12), rb.y)).toBeLessThanOrEqual(1e-6);
      expect(spread(r.y)).toBeGreaterThan(1e-3);
      const full = await engine.predict.runner.run({ x: x.slice(), batch: 2, time: 4 });
      const rb4 = await ref.run(b, { batch: 1 });
      expect(maxAbsDiff(full.y.subarray(8), rb4.y)).toBeLessThanOrEqual(1e-6);
      expect(full.state).toBeUndefined();
    } finally {
      await engine.close();
      await ref.release();
    }
  });

  it('stream: state in (zeros when absent) and the final state out, per layer, h and c', async () => {
    const { path } = makeModel(tmp.dir, 'state', 2, [lstm({ units: 3, returnSequences: true }), gru({ units: 4 })], 6, { stateful: true });
    const engine = await openEngine(path, { workers: 0, intraOpNumThreads: 1, providers: ['cpu'] });
    const ref = await InferenceModel.open(path, { intraOpNumThreads: 1 });
    try {
      expect(engine).toMatchObject({ requestedProviders: ['cpu'], provider: 'cpu', fallbacks: [] });
      if (!('runner' in engine.stream)) throw new Error('expected a stream graph');
      const [x] = randomSequences(4, 1, 2, 5, 5);
      const fromZeros = await engine.stream.runner.run({ x: x.slice(), batch: 1, time: 5 });
      const refZeros = await ref.run(x, { batch: 1 });
      expect(maxAbsDiff(fromZeros.y, refZeros.y)).toBeLessThanOrEqual(1e-6);
      expect(fromZeros.state!.length).toBe(2);
      expect(maxAbsDiff(fromZeros.state![0].h, refZeros.state![0].h)).toBeLessThanOrEqual(1e-6);
      expect(maxAbsDiff(fromZeros.state![0].c!, refZeros.state![0].c!)).toBeLessThanOrEqual(1e-6);
      expect(maxAbsDiff(fromZeros.state![1].h, refZeros.state![1].h)).toBeLessThanOrEqual(1e-6);
      expect(fromZeros.state![1].c).toBeUndefined();
      // Continue from that state: equals ONNX Runtime given the same state.
      const [x2] = randomSequences(5, 1, 2, 3, 3);
      const next = await engine.stream.runner.run({ x: x2.slice(), batch: 1, time: 3, state: fromZeros.state });
      const refNext = await ref.run(x2, { batch: 1, state: refZeros.state });
      expect(maxAbsDiff(next.y, refNext.y)).toBeLessThanOrEqual(1e-6);
      expect(maxAbsDiff(next.y, (await ref.run(x2, { batch: 1 })).y)).toBeGreaterThan(1e-4);
    } finally {
      await engine.close();
      await ref.release();
    }
    // close() releases both sessions: later runs are refused, not served.
    const x = new Float32Array(2 * 3);
    await expect(engine.predict.runner.run({ x, batch: 1, time: 3 })).rejects.toThrow('the session was released');
    if ('runner' in engine.stream) await expect(engine.stream.runner.run({ x, batch: 1, time: 3 })).rejects.toThrow('the session was released');
  });
});

describe('the worker pool', () => {
  it('runs equal the in-process ones; a failed run rejects with the worker\'s message; after close runs are refused', async () => {
    const { path } = makeModel(tmp.dir, 'pool', 2, [gru({ units: 4, returnSequences: true }), dense({ units: 2 })], 7);
    const pool = await openEngine(path, { workers: 2, intraOpNumThreads: 1, providers: ['cpu'] });
    const local = await openEngine(path, { workers: 0, intraOpNumThreads: 1 });
    try {
      expect(pool).toMatchObject({ workers: 2, concurrency: 2, provider: 'cpu', fallbacks: [], requestedProviders: ['cpu'] });
      const [x] = randomSequences(8, 1, 2, 6, 6);
      const rs = await Promise.all([1, 2, 3].map(() => pool.predict.runner.run({ x: x.slice(), batch: 1, time: 6, sequenceLens: Int32Array.from([6]) })));
      const want = await local.predict.runner.run({ x: x.slice(), batch: 1, time: 6, sequenceLens: Int32Array.from([6]) });
      for (const r of rs) {
        expect(r.dims).toEqual([1, 6, 2]);
        expect(maxAbsDiff(r.y, want.y)).toBe(0);
      }
      if (!('runner' in pool.stream)) throw new Error('expected a stream graph');
      const s = await pool.stream.runner.run({ x: x.slice(), batch: 1, time: 6 });
      expect(s.state?.length).toBe(1);
      // x holds 3 values where [1, 2, 2] needs 4: ONNX Runtime refuses, the job rejects, the worker lives on.
      await expect(pool.predict.runner.run({ x: new Float32Array(3), batch: 1, time: 2 })).rejects.toThrow(/./);
      expect(maxAbsDiff((await pool.predict.runner.run({ x: x.slice(), batch: 1, time: 6 })).y, want.y)).toBe(0);
    } finally {
      await pool.close();
      await local.close();
    }
    const late = pool.predict.runner.run({ x: new Float32Array(2), batch: 1, time: 1 });
    await expect(late).rejects.toThrow('the worker pool is closed');
    await expect(late).rejects.toBeInstanceOf(ShuttingDownError);
  });

  it('a model the workers cannot open fails the open with their reason, in process or not', async () => {
    const { path } = makeModel(tmp.dir, 'badprov', 2, [gru({ units: 2 })], 7);
    const reason = 'providers entries must be one of "cpu"';
    await expect(openEngine(path, { workers: 0, providers: ['bogus' as never] })).rejects.toThrow(reason);
    await expect(openEngine(path, { workers: 1, providers: ['bogus' as never] })).rejects.toThrow(`worker failed to open the model: ${reason}`);
    await expect(openEngine(path, { workers: MAX_WORKERS + 1 })).rejects.toThrow(`workers must be an integer in [0, ${MAX_WORKERS}]`);
  });
});

describe('pool sizes from the machine\'s CPU count', () => {
  const withCpus = async (cpus: number) => {
    vi.resetModules();
    vi.doMock('node:os', async (importOriginal) => ({ ...(await importOriginal<typeof import('node:os')>()), availableParallelism: () => cpus }));
    try {
      return await import('../src/serve/engine.js');
    } finally {
      vi.doUnmock('node:os');
      vi.resetModules();
    }
  };

  it('two workers by default (one on a single CPU); at most twice the CPUs, and never fewer than 4', async () => {
    const one = await withCpus(1);
    expect([one.DEFAULT_WORKERS, one.MAX_WORKERS]).toEqual([1, 4]);
    expect(() => one.checkWorkers(5)).toThrow('workers must be an integer in [0, 4] (0 = in process; the limit is twice this machine\'s 1 CPUs), got 5');
    const eight = await withCpus(8);
    expect([eight.DEFAULT_WORKERS, eight.MAX_WORKERS]).toEqual([2, 16]);
    expect(eight.checkWorkers(16)).toBe(16);
    expect(() => eight.checkWorkers(17)).toThrow('workers must be an integer in [0, 16] (0 = in process; the limit is twice this machine\'s 8 CPUs), got 17');
  });
});

describe('a foreign graph on the in-process engine', () => {
  it('runs without sequence_lens (it has no such input) and equals ONNX Runtime on the file', async () => {
    const file = 'tests/fixtures/pytorch_lstm.onnx';
    const engine = await openEngine(file, { workers: 0, intraOpNumThreads: 1 });
    const ref = await InferenceModel.open(file, { intraOpNumThreads: 1 });
    try {
      expect(engine.stream).toEqual({ unsupported: 'the file was not written by rnnx, so its recurrent layers and state inputs are unknown' });
      const [x] = randomSequences(4, 1, 5, 3, 3);
      const r = await engine.predict.runner.run({ x: x.slice(), batch: 1, time: 3 });
      expect(r.dims).toEqual([1, 3]);
      expect(maxAbsDiff(r.y, (await ref.run(x, { batch: 1 })).y)).toBeLessThanOrEqual(1e-6);
      expect(r.state).toBeUndefined();
    } finally {
      await engine.close();
      await ref.release();
    }
  });
});

describe('an in-process engine whose stream session fails to open', () => {
  it('releases the predict session it already opened, and throws the failure', async () => {
    const { path } = makeModel(tmp.dir, 'stream-fails', 2, [gru({ units: 3 })], 4);
    const realOpen = InferenceModel.open.bind(InferenceModel);
    let opened = 0;
    const open = vi.spyOn(InferenceModel, 'open').mockImplementation(async (...args) => {
      if (++opened === 2) throw new Error('no memory for the stream session');
      return realOpen(...args);
    });
    const release = vi.spyOn(InferenceModel.prototype, 'release');
    try {
      await expect(openEngine(path, { workers: 0, intraOpNumThreads: 1 })).rejects.toThrow('no memory for the stream session');
      expect(opened).toBe(2);
      expect(release).toHaveBeenCalledTimes(1);
    } finally {
      open.mockRestore();
      release.mockRestore();
    }
  });
});
