// InferenceModel: stateful graphs, provider routing, input validation, ONNX Runtime warnings.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder, onnx } from '../src/graph/builder.js';
import { toModelProto, toOnnx } from '../src/graph/export.js';
import { Rng } from '../src/layers/random.js';
import { dense, gru, lstm, rnn } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';
import { InferenceModel } from '../src/runtime/inference.js';
import { chooseProvider, providerIssue, ProviderUnavailableError, recurrentNodes, type BackendAvailability } from '../src/runtime/providers.js';
import { referenceForward } from './reference/forward.js';
import { maxAbsDiff, randomArray, randomizeParams } from './reference/util.js';

const dir = mkdtempSync(join(tmpdir(), 'rnnx-runtime-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function stackedModel(): Model {
  const m = Model.create({
    inputSize: 3,
    layers: [
      lstm({ units: 4, direction: 'bidirectional', peepholes: true, returnSequences: true }),
      gru({ units: 5, returnSequences: true }),
      rnn({ units: 3, activation: 'relu', direction: 'reverse', returnSequences: true }),
      dense({ units: 2 }),
    ],
  });
  randomizeParams(m, 11);
  return m;
}

describe('stateful graph', () => {
  it('running a sequence in two chunks, carrying hT → h0, equals one run (and the reference)', async () => {
    // Reverse layers read the future, so chunking only composes for forward layers: use those here.
    const m = Model.create({
      inputSize: 3,
      layers: [lstm({ units: 4, peepholes: true, returnSequences: true }), gru({ units: 5, returnSequences: true }), rnn({ units: 3, returnSequences: true }), dense({ units: 2, activation: 'tanh' })],
    });
    randomizeParams(m, 21);
    const im = await InferenceModel.open(toOnnx(m, { stateful: true }), { providers: ['cpu'] });
    try {
      expect(im.isStateful).toBe(true);
      expect(im.inputNames).toEqual(['x', 'h0_0', 'c0_0', 'h0_1', 'h0_2']);
      expect(im.outputNames).toEqual(['y', 'hT_0', 'cT_0', 'hT_1', 'hT_2']);
      const N = 2, T = 7, cut = 3, I = 3, F = 2;
      const x = randomArray(new Rng(3), N * T * I);
      const full = await im.run(x, { batch: N, time: T });
      const part = (t0: number, t1: number) => {
        const out = new Float32Array(N * (t1 - t0) * I);
        for (let n = 0; n < N; n++) out.set(x.subarray((n * T + t0) * I, (n * T + t1) * I), n * (t1 - t0) * I);
        return out;
      };
      const a = await im.run(part(0, cut), { batch: N });
      const b = await im.run(part(cut, T), { batch: N, state: a.state });
      const joined = new Float32Array(N * T * F);
      for (let n = 0; n < N; n++) {
        joined.set(a.y.subarray(n * cut * F, (n + 1) * cut * F), n * T * F);
        joined.set(b.y.subarray(n * (T - cut) * F, (n + 1) * (T - cut) * F), n * T * F + cut * F);
      }
      expect(maxAbsDiff(joined, full.y)).toBeLessThan(1e-6);
      full.state!.forEach((s, k) => {
        expect(maxAbsDiff(b.state![k].h, s.h)).toBeLessThan(1e-6);
        if (s.c) expect(maxAbsDiff(b.state![k].c!, s.c)).toBeLessThan(1e-6);
      });
      // And the final states are the reference's.
      const ref = referenceForward(m.spec, m.params, x, { batch: N, time: T });
      ref.finalStates.forEach((s, k) => {
        expect(maxAbsDiff(full.state![k].h, s.h)).toBeLessThan(1e-5);
        if (s.c) expect(maxAbsDiff(full.state![k].c!, s.c)).toBeLessThan(1e-5);
      });
      // A non-zero carried state changes the second chunk (the state inputs are wired).
      const cold = await im.run(part(cut, T), { batch: N });
      expect(maxAbsDiff(cold.y, b.y)).toBeGreaterThan(1e-4);
    } finally {
      await im.release();
    }
  });

  it('bidirectional stateful graph with sequence_lens matches the reference given initial states', async () => {
    const m = stackedModel();
    const im = await InferenceModel.open(toOnnx(m, { stateful: true, sequenceLens: true }), { providers: ['cpu'] });
    try {
      const N = 3, T = 5;
      const rng = new Rng(9);
      const x = randomArray(rng, N * T * 3);
      const state = im.stateSlots.map((s) => ({
        h: randomArray(rng, s.directions * N * s.hidden, 0.8),
        ...(s.cIn ? { c: randomArray(rng, s.directions * N * s.hidden, 0.8) } : {}),
      }));
      const lengths = [5, 2, 4];
      const got = await im.run(x, { batch: N, sequenceLens: lengths, state });
      const ref = referenceForward(m.spec, m.params, x, { batch: N, time: T, lengths, initialState: state });
      expect(maxAbsDiff(got.y, ref.y)).toBeLessThan(1e-5);
      ref.finalStates.forEach((s, k) => {
        expect(maxAbsDiff(got.state![k].h, s.h)).toBeLessThan(1e-5);
        if (s.c) expect(maxAbsDiff(got.state![k].c!, s.c)).toBeLessThan(1e-5);
      });
    } finally {
      await im.release();
    }
  });
});

describe('the input and output name lists', () => {
  it("are the model's own copies: a caller trimming or reordering them cannot change what a run returns", async () => {
    const m = Model.create({ inputSize: 2, layers: [lstm({ units: 3, returnSequences: true }), gru({ units: 2 })] });
    randomizeParams(m, 31);
    const im = await InferenceModel.open(toOnnx(m, { stateful: true }), { providers: ['cpu'] });
    try {
      // A JavaScript caller keeps only the output it shows, and sorts the inputs for display.
      (im.outputNames as string[]).splice(1);
      (im.inputNames as string[]).sort().reverse();
      const N = 2, T = 4;
      const x = randomArray(new Rng(8), N * T * 2);
      const got = await im.run(x, { batch: N });
      const ref = referenceForward(m.spec, m.params, x, { batch: N, time: T });
      expect(maxAbsDiff(got.y, ref.y)).toBeLessThan(1e-5);
      expect(got.state).toHaveLength(2);
      ref.finalStates.forEach((s, k) => {
        expect(maxAbsDiff(got.state![k].h, s.h)).toBeLessThan(1e-5);
        if (s.c) expect(maxAbsDiff(got.state![k].c!, s.c)).toBeLessThan(1e-5);
      });
      const raw = await im.runRaw({
        x: new ort.Tensor('float32', x, [N, T, 2]),
        h0_0: new ort.Tensor('float32', new Float32Array(N * 3), [1, N, 3]),
        c0_0: new ort.Tensor('float32', new Float32Array(N * 3), [1, N, 3]),
        h0_1: new ort.Tensor('float32', new Float32Array(N * 2), [1, N, 2]),
      });
      expect(Object.keys(raw).sort()).toEqual(['cT_0', 'hT_0', 'hT_1', 'y']);
    } finally {
      await im.release();
    }
  });
});

describe('stateful graph, last-step output', () => {
  it('y is the final state of the last layer, directions concatenated, and matches the reference', async () => {
    const m = Model.create({ inputSize: 3, layers: [gru({ units: 4, returnSequences: true }), lstm({ units: 3, direction: 'bidirectional' })] });
    randomizeParams(m, 31);
    const im = await InferenceModel.open(toOnnx(m, { stateful: true, sequenceLens: true }), { providers: ['cpu'] });
    try {
      const N = 2, T = 4;
      const x = randomArray(new Rng(4), N * T * 3);
      const got = await im.run(x, { batch: N, sequenceLens: [4, 2] });
      expect(got.dims).toEqual([N, 6]);
      const hT = got.state![1].h; // [2, N, 3]
      for (let n = 0; n < N; n++) for (let d = 0; d < 2; d++) for (let j = 0; j < 3; j++) expect(got.y[n * 6 + d * 3 + j]).toBe(hT[(d * N + n) * 3 + j]);
      const ref = referenceForward(m.spec, m.params, x, { batch: N, time: T, lengths: [4, 2] });
      expect(maxAbsDiff(got.y, ref.y)).toBeLessThan(1e-5);
    } finally {
      await im.release();
    }
  });
});

describe('execution provider choice', () => {
  const withCuda: BackendAvailability[] = [{ name: 'cpu', bundled: true }, { name: 'webgpu', bundled: true }, { name: 'cuda', bundled: false }];
  const nodesOf = (layers: Parameters<typeof Model.create>[0]['layers']) => recurrentNodes(toModelProto(Model.create({ inputSize: 2, layers })));

  it('reads the routing-relevant attributes from the graph', () => {
    const n = nodesOf([
      lstm({ units: 2, peepholes: true, clip: 1.5, inputForget: true, returnSequences: true }),
      gru({ units: 2, linearBeforeReset: 0, returnSequences: true }),
      rnn({ units: 2, activation: 'relu', direction: 'bidirectional' }),
    ]);
    expect(n.map((x) => x.op)).toEqual(['LSTM', 'GRU', 'RNN']);
    expect(n[0]).toMatchObject({ peepholes: true, clip: 1.5, inputForget: true });
    expect(n[1]).toMatchObject({ peepholes: false, linearBeforeReset: 0 });
    expect(n[2].activations).toEqual(['Relu', 'Relu']);
  });

  it('never routes a peephole LSTM to CUDA, and says why', () => {
    const r = chooseProvider(nodesOf([lstm({ units: 2, peepholes: true })]), withCuda, ['cuda', 'cpu']);
    expect(r.candidates).toEqual(['cpu']);
    expect(r.skipped).toHaveLength(1);
    expect(r.skipped[0].provider).toBe('cuda');
    expect(r.skipped[0].reason).toMatch(/peephole/);
    // WebGPU implements peepholes: it stays a candidate.
    expect(chooseProvider(nodesOf([lstm({ units: 2, peepholes: true })]), withCuda, ['cuda', 'webgpu', 'cpu']).candidates).toEqual(['webgpu', 'cpu']);
  });

  it('keeps CUDA for what cuDNN computes, and routes the rest away', () => {
    expect(chooseProvider(nodesOf([lstm({ units: 2 })]), withCuda, ['cuda', 'cpu']).candidates).toEqual(['cuda', 'cpu']);
    expect(chooseProvider(nodesOf([gru({ units: 2, linearBeforeReset: 1 })]), withCuda, ['cuda']).candidates).toEqual(['cuda', 'cpu']);
    expect(chooseProvider(nodesOf([rnn({ units: 2, activation: 'relu' })]), withCuda, ['cuda']).candidates).toEqual(['cuda', 'cpu']);
    for (const layers of [[gru({ units: 2, linearBeforeReset: 0 })], [lstm({ units: 2, clip: 3 })], [lstm({ units: 2, inputForget: true })]]) {
      const r = chooseProvider(nodesOf(layers), withCuda, ['cuda', 'cpu']);
      expect(r.candidates).toEqual(['cpu']);
      expect(r.skipped[0].reason).toMatch(/linear_before_reset|clip|input_forget/);
    }
    expect(providerIssue('cpu', nodesOf([lstm({ units: 2, peepholes: true })])[0])).toBeNull();
  });

  it('skips providers that are not installed or not built in, with the reason, and always ends at CPU', () => {
    const cudaMissing: BackendAvailability[] = [{ name: 'cpu', bundled: true }, { name: 'cuda', bundled: false, unavailableReason: 'library not installed' }];
    const r = chooseProvider([], cudaMissing, ['cuda', 'webgpu']);
    expect(r.candidates).toEqual(['cpu']);
    expect(r.skipped).toEqual([
      { provider: 'cuda', reason: 'library not installed' },
      { provider: 'webgpu', reason: expect.stringMatching(/no webgpu backend/) },
    ]);
    expect(() => chooseProvider([], cudaMissing, ['tpu'])).toThrow(/providers entries must be one of "cpu", "cuda", "tensorrt", .*, got "tpu"/);
    expect(() => chooseProvider([], cudaMissing, [])).toThrow(/providers must be a non-empty array/);
  });

  it('passes through every provider onnxruntime-node reports, routing TensorRT like CUDA', () => {
    const reported: BackendAvailability[] = [
      { name: 'cpu', bundled: true }, { name: 'dml', bundled: true }, { name: 'coreml', bundled: true },
      { name: 'tensorrt', bundled: false }, { name: 'newep', bundled: true },
    ];
    expect(chooseProvider([], reported, ['dml', 'coreml', 'newep']).candidates).toEqual(['dml', 'coreml', 'newep', 'cpu']);
    const peep = nodesOf([lstm({ units: 2, peepholes: true })]);
    const r = chooseProvider(peep, reported, ['tensorrt', 'dml', 'cpu']);
    expect(r.candidates).toEqual(['dml', 'cpu']);
    expect(r.skipped).toEqual([{ provider: 'tensorrt', reason: expect.stringMatching(/peepholes .* tensorrt provider's kernel/) }]);
    expect(providerIssue('coreml', peep[0])).toBeNull();
    expect(providerIssue('rocm', peep[0])).toMatch(/peepholes/);
  });

  it('strict: the first provider or a ProviderUnavailableError with the reason, never a silent fallback', () => {
    const cudaMissing: BackendAvailability[] = [{ name: 'cpu', bundled: true }, { name: 'cuda', bundled: false, unavailableReason: 'library not installed' }];
    const withCuda: BackendAvailability[] = [{ name: 'cpu', bundled: true }, { name: 'cuda', bundled: false }];
    expect(() => chooseProvider([], cudaMissing, ['cuda', 'cpu'], true)).toThrow(ProviderUnavailableError);
    expect(() => chooseProvider([], cudaMissing, ['cuda', 'cpu'], true)).toThrow('provider "cuda" is required (strict) but cannot be used: library not installed');
    expect(() => chooseProvider(nodesOf([gru({ units: 2, linearBeforeReset: 0 })]), withCuda, ['cuda'], true)).toThrow(/linear_before_reset = 0/);
    expect(() => chooseProvider([], [{ name: 'cpu', bundled: true }], ['webgpu'], true)).toThrow(/no webgpu backend/);
    expect(chooseProvider([], withCuda, ['cuda', 'cpu'], true)).toEqual({ candidates: ['cuda'], skipped: [] });
    expect(chooseProvider([], cudaMissing, ['cpu'], true)).toEqual({ candidates: ['cpu'], skipped: [] });
  });

  it('InferenceModel reports the provider it runs on and the fallbacks, never CUDA for peepholes', async () => {
    const m = Model.create({ inputSize: 2, layers: [lstm({ units: 3, peepholes: true })] });
    const im = await InferenceModel.open(toOnnx(m), { providers: ['cuda', 'cpu'] });
    try {
      expect(im.provider).toBe('cpu');
      expect(im.fallbacks.map((f) => f.provider)).toEqual(['cuda']);
      expect(im.fallbacks[0].reason.length).toBeGreaterThan(10);
    } finally {
      await im.release();
    }
    const plain = await InferenceModel.open(toOnnx(Model.create({ inputSize: 2, layers: [gru({ units: 3 })] })), { providers: ['cuda', 'webgpu', 'cpu'] });
    try {
      // Whatever this machine has, the answer is consistent: every provider before the one used is explained.
      const order = ['cuda', 'webgpu', 'cpu'];
      expect(plain.fallbacks.map((f) => f.provider)).toEqual(order.slice(0, order.indexOf(plain.provider)));
    } finally {
      await plain.release();
    }
  });

  it('InferenceModel.open with strict throws with the reason instead of running CUDA work on the CPU', async () => {
    const bytes = toOnnx(Model.create({ inputSize: 2, layers: [lstm({ units: 3, peepholes: true })] }));
    // Whether or not this machine has the CUDA provider, a peephole LSTM must not run there.
    const err = await InferenceModel.open(bytes, { providers: ['cuda', 'cpu'], strict: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderUnavailableError);
    expect((err as ProviderUnavailableError).provider).toBe('cuda');
    expect((err as Error).message).toMatch(/provider "cuda" is required \(strict\) but cannot be used: (the cuda provider library|.*peepholes)/);
    const cpu = await InferenceModel.open(bytes, { providers: ['cpu'], strict: true });
    try {
      expect(cpu.provider).toBe('cpu');
      expect(cpu.fallbacks).toEqual([]);
    } finally {
      await cpu.release();
    }
  });
});

describe('input validation', () => {
  const m = Model.create({ inputSize: 3, layers: [gru({ units: 4, returnSequences: true }), dense({ units: 2 })] });
  let im: InferenceModel;
  let imLens: InferenceModel;
  const open = async () => {
    im ??= await InferenceModel.open(toOnnx(m), { providers: ['cpu'] });
    imLens ??= await InferenceModel.open(toOnnx(m, { sequenceLens: true }), { providers: ['cpu'] });
  };
  afterAll(async () => {
    await im?.release();
    await imLens?.release();
  });

  it('accepts nested arrays and flat arrays alike', async () => {
    await open();
    const nested = [[[1, 2, 3], [0.5, -1, 2]], [[0, 0, 1], [3, 2, 1]]];
    const a = await im.run(nested);
    const b = await im.run(Float32Array.from(nested.flat(2)), { batch: 2 });
    const c = await im.run(Float32Array.from(nested.flat(2)), { time: 2 });
    expect(a.dims).toEqual([2, 2, 2]);
    expect(Array.from(a.y)).toEqual(Array.from(b.y));
    expect(Array.from(c.y)).toEqual(Array.from(b.y));
    const ref = referenceForward(m.spec, m.params, nested.flat(2), { batch: 2, time: 2 });
    expect(maxAbsDiff(a.y, ref.y)).toBeLessThan(1e-5);
    expect(im.spec).toEqual(m.spec);
    expect(im.inputSize).toBe(3);
  });

  it('throws an Error naming the field and the expected shape', async () => {
    await open();
    await expect(im.run([[[1, 2]]])).rejects.toThrow('x[0][0] must be an array of 3 features, got 2 features');
    await expect(im.run([[[1, 2, 3], [1, 2, 3]], [[1, 2, 3]]])).rejects.toThrow('x[1] must be an array of 2 time steps');
    await expect(im.run(new Float32Array(7), { batch: 1 })).rejects.toThrow('x has length 7, expected a multiple of batch*features = 3');
    await expect(im.run(new Float32Array(12), { batch: 2, time: 3 })).rejects.toThrow('x has length 12, expected batch*time*features = 18 ([2, 3, 3])');
    await expect(im.run([[[1, NaN, 3]]])).rejects.toThrow('x[0][0][1] must be a finite number, got NaN');
    await expect(im.run(Float32Array.of(1, 2, Infinity))).rejects.toThrow('x[0][0][2] must be a finite number, got Infinity');
    await expect(im.run(new Float32Array(6), { batch: 0 })).rejects.toThrow('options.batch must be a positive integer, got 0');
    await expect(im.run('abc' as never)).rejects.toThrow('x must be a Float32Array or nested arrays [batch][time][features], got string');
    await expect(im.run(new Float32Array(6), { batch: 1, sequenceLens: [2] })).rejects.toThrow('the model has no sequence_lens input');
    await expect(im.run(new Float32Array(6), { batch: 1, state: [] })).rejects.toThrow('the model is not stateful');
    await expect(imLens.run(new Float32Array(12), { batch: 2, sequenceLens: [2] })).rejects.toThrow('options.sequenceLens must have one length per sequence (2), got 1');
    await expect(imLens.run(new Float32Array(12), { batch: 2, sequenceLens: [2, 3] })).rejects.toThrow('options.sequenceLens[1] must be an integer in [1, 2], got 3');
  });

  it('checks state shapes of stateful graphs', async () => {
    const s = await InferenceModel.open(toOnnx(Model.create({ inputSize: 2, layers: [lstm({ units: 3, direction: 'bidirectional' })] }), { stateful: true }), { providers: ['cpu'] });
    try {
      await expect(s.run(new Float32Array(4), { batch: 1, state: [{ h: new Float32Array(5) }] })).rejects.toThrow('options.state[0].h must be a Float32Array of length 6 ([2, 1, 3] = [directions, batch, hidden]), got length 5');
      await expect(s.run(new Float32Array(4), { batch: 1, state: [{ h: new Float32Array(6) }, { h: new Float32Array(6) }] })).rejects.toThrow('options.state must be an array of 1 layer states, got 2');
      const ok = await s.run(new Float32Array(4), { batch: 1 });
      expect(ok.state![0].h.length).toBe(6);
      expect(ok.state![0].c!.length).toBe(6);
    } finally {
      await s.release();
    }
  });

  it('rejects files that are not ONNX, and released sessions', async () => {
    const junk = join(dir, 'junk.onnx');
    writeFileSync(junk, 'this is not a model\n');
    await expect(InferenceModel.open(junk)).rejects.toThrow(/junk\.onnx is not an ONNX model/);
    await expect(InferenceModel.open(join(dir, 'missing.onnx'))).rejects.toThrow(/missing\.onnx: cannot read: no such file or directory/);
    const bytes = toOnnx(m);
    await expect(InferenceModel.open(bytes.subarray(0, Math.floor(bytes.length / 2)))).rejects.toThrow(/not an ONNX model, or it is truncated/);
    const tmp = await InferenceModel.open(bytes, { providers: ['cpu'] });
    await tmp.release();
    await expect(tmp.run([[[1, 2, 3]]])).rejects.toThrow('the session was released');
  });

  it('run refuses a graph without x and y, listing every input and output it has', async () => {
    const g = new GraphBuilder();
    g.output(g.input('a', 'float', ['n', 2]), 'b', ['n', 2]);
    g.output(g.input('c', 'float', ['n', 3]), 'd', ['n', 3]);
    const f = await InferenceModel.open(onnx.ModelProto.encode(g.build()).finish(), { providers: ['cpu'] });
    try {
      await expect(f.run([[[1, 2]]])).rejects.toThrow('run: the graph must have input "x" and output "y" (it has inputs a, c; outputs b, d); use runRaw');
    } finally {
      await f.release();
    }
  });

  it('runs foreign ONNX files through runRaw, with spec and metadata null', async () => {
    const g = new GraphBuilder();
    const a = g.input('a', 'float', ['n', 2]);
    g.output(a, 'b', ['n', 2]);
    const bytes = onnx.ModelProto.encode(g.build()).finish();
    const f = await InferenceModel.open(bytes, { providers: ['cpu'] });
    try {
      expect(f.spec).toBeNull();
      expect(f.metadata).toBeNull();
      const { Tensor } = await import('onnxruntime-node');
      const out = await f.runRaw({ a: new Tensor('float32', Float32Array.of(1, 2, 3, 4), [2, 2]) });
      expect(Array.from(out.b.data as Float32Array)).toEqual([1, 2, 3, 4]);
      await expect(f.run([[[1, 2]]])).rejects.toThrow('run: the graph must have input "x" and output "y" (it has inputs a; outputs b); use runRaw');
    } finally {
      await f.release();
    }
  });
});

describe('ONNX Runtime prints no warnings for exported files', () => {
  // ONNX Runtime logs from C++ straight to stderr, so a child process is the only way to see it.
  // Its default log level is warning: anything it prints is a warning or an error.
  const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
  const script = join(dir, 'load.cjs');
  writeFileSync(script, `
const ort = require(${JSON.stringify(ortPath)});
(async () => {
  for (const f of process.argv.slice(2)) {
    const s = await ort.InferenceSession.create(f, { executionProviders: ['cpu'] });
    const feeds = {};
    for (const name of s.inputNames) {
      if (name === 'sequence_lens') feeds[name] = new ort.Tensor('int32', Int32Array.of(2, 1), [2]);
      else if (name === 'x') feeds[name] = new ort.Tensor('float32', new Float32Array(2 * 2 * 3).fill(0.5), [2, 2, 3]);
      else throw new Error('this check feeds stateless graphs only, got input ' + name);
    }
    await s.run(feeds);
    await s.release();
  }
})().catch((e) => { console.error('FAILED', e.message); process.exit(1); });
`);
  const loadInChild = (files: string[]) => spawnSync(process.execPath, [script, ...files], { encoding: 'utf8' });

  it('every layer kind, bidirectional, stacked, with sequence_lens: stderr stays empty', () => {
    const models: [string, Model, { sequenceLens?: boolean }][] = [
      ['stack.onnx', stackedModel(), { sequenceLens: true }],
      ['lstm.onnx', Model.create({ inputSize: 3, layers: [lstm({ units: 4, clip: 2, inputForget: true }), dense({ units: 3, activation: 'softmax' })] }), {}],
      ['gru0.onnx', Model.create({ inputSize: 3, layers: [gru({ units: 4, linearBeforeReset: 0, direction: 'bidirectional' })] }), { sequenceLens: true }],
      ['rnn.onnx', Model.create({ inputSize: 3, layers: [rnn({ units: 4, direction: 'reverse', returnSequences: true })] }), {}],
    ];
    const files = models.map(([name, model, opts]) => {
      const f = join(dir, name);
      model.save(f, opts);
      return f;
    });
    const r = loadInChild(files);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('the check can fail: a graph with an unused initializer makes ONNX Runtime warn', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float', ['n', 't', 3]);
    g.floatInitializer('unused_weight', new Float32Array(2), [2]);
    g.output(x, 'y', ['n', 't', 3]);
    const f = join(dir, 'unused.onnx');
    writeFileSync(f, onnx.ModelProto.encode(g.build()).finish());
    const r = loadInChild([f]);
    expect(r.stderr).toMatch(/unused_weight/);
  });
});
