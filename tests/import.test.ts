// Importing foreign ONNX RNN graphs as trainable models (src/graph/import.ts via Model.load).
// PyTorch exports (tests/fixtures/import, made by scripts/make-import-fixtures.py with PyTorch's
// own outputs as the reference): import → export → ONNX Runtime equals PyTorch within 1e-5 →
// fine-tune (loss goes down) → save → reload → ONNX Runtime equals the fine-tuned model.
// Hand-built graphs cover what PyTorch does not emit; there the reference is ONNX Runtime
// running the original graph. Every unsupported pattern has a test that the error names the node.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import type { SequenceDataset } from '../src/data/dataset.js';
import { GraphBuilder, onnx, type Value } from '../src/graph/builder.js';
import { parseModelProto } from '../src/graph/io.js';
import { checkOnnxImport, IMPORT_META, OnnxImportError } from '../src/graph/import.js';
import * as op from '../src/graph/ops.js';
import { Rng } from '../src/layers/random.js';
import { outputIsSequence } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';
import { evaluate, predict } from '../src/train/trainer.js';
import { maxAbsDiff, randomArray, spread } from './reference/util.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, 'fixtures', 'import');
const dir = mkdtempSync(join(tmpdir(), 'rnnx-import-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Case {
  module: { cell: string; inp: number; hidden: number; layers?: number; bidir?: boolean; batch_first?: boolean; read?: string; head?: number; act?: string };
  export: { opset: number };
  file: string;
  xShape: number[];
  x: number[];
  yShape: number[];
  y: number[];
  /** Initial states fed to PyTorch as inputs h0 (and c0): [layers * directions, batch, hidden]. */
  h0?: number[];
  c0?: number[];
}
const reference = JSON.parse(readFileSync(join(fixtures, 'reference.json'), 'utf8')) as { torch: string; cases: Record<string, Case>; unsupported: Record<string, Case> };

/** [A, B, F] → [B, A, F]: time-major ↔ batch-first. */
function swap01(x: ArrayLike<number>, [a, b, f]: number[]): Float32Array {
  const out = new Float32Array(a * b * f);
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) for (let k = 0; k < f; k++) out[(j * a + i) * f + k] = x[(i * b + j) * f + k];
  return out;
}

async function runOrt(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<ort.Tensor> {
  const s = await ort.InferenceSession.create(bytes);
  try {
    const out = await s.run(feeds);
    return out[s.outputNames[0]];
  } finally {
    await s.release();
  }
}

const xTensor = (x: Float32Array, dims: number[]) => new ort.Tensor('float32', x, dims);

/** A small regression (mse) or classification (softmax) task shaped for `model`'s output. */
function task(model: Model, count: number, T: number, seed: number): SequenceDataset {
  const rng = new Rng(seed);
  const I = model.inputSize;
  const F = model.outputSize;
  const x = randomArray(rng, count * T * I);
  const last = model.spec.layers[model.spec.layers.length - 1];
  const seq = outputIsSequence(model.spec);
  const sum = (n: number, t: number) => {
    let s = 0;
    for (let u = 0; u <= t; u++) s += x[(n * T + u) * I];
    return s;
  };
  if (last.kind === 'dense' && last.activation === 'softmax') {
    const labels = new Int32Array(count);
    for (let n = 0; n < count; n++) labels[n] = sum(n, T - 1) > 0 ? 1 : 0;
    return { x, count, time: T, features: I, y: labels, yShape: [count] };
  }
  // Targets in (0, 1) so that sigmoid, relu and tanh outputs can all approach them.
  const target = (n: number, t: number, f: number) => 0.5 + 0.4 * Math.tanh(sum(n, t)) * (f % 2 === 0 ? 1 : -1);
  const y = new Float32Array(count * (seq ? T : 1) * F);
  for (let n = 0; n < count; n++) {
    if (seq) for (let t = 0; t < T; t++) for (let f = 0; f < F; f++) y[(n * T + t) * F + f] = target(n, t, f);
    else for (let f = 0; f < F; f++) y[n * F + f] = target(n, T - 1, f);
  }
  return { x, count, time: T, features: I, y, yShape: seq ? [count, T, F] : [count, F] };
}

describe('PyTorch exports', () => {
  it('cover the variants the issue asks for', () => {
    const cases = Object.values(reference.cases);
    expect(new Set(cases.map((c) => c.module.cell))).toEqual(new Set(['lstm', 'gru', 'rnn']));
    expect(new Set(cases.map((c) => c.module.layers ?? 1))).toEqual(new Set([1, 2, 3]));
    expect(new Set(cases.map((c) => c.export.opset))).toEqual(new Set([9, 11, 14, 17]));
    expect(cases.some((c) => c.module.bidir)).toBe(true);
    expect(new Set(cases.map((c) => c.module.batch_first ?? true))).toEqual(new Set([true, false]));
    expect(new Set(cases.map((c) => !!c.module.head))).toEqual(new Set([true, false]));
  });

  for (const [name, c] of Object.entries(reference.cases)) {
    it(`${name}: imports, matches PyTorch within 1e-5, fine-tunes, saves and runs again`, async () => {
      const model = Model.load(join(fixtures, c.file));
      const m = c.module;
      const D = m.bidir ? 2 : 1;
      // The spec is the module's: one recurrent layer per PyTorch layer, then the head.
      const rec = model.spec.layers.filter((l) => l.kind !== 'dense');
      expect(rec).toHaveLength(m.layers ?? 1);
      for (const l of rec) {
        expect(l.kind).toBe(m.cell);
        expect(l.units).toBe(m.hidden);
        expect(l.direction).toBe(m.bidir ? 'bidirectional' : 'forward');
      }
      expect(model.spec.layers.length - rec.length).toBe(m.head ? 1 : 0);
      expect(model.inputSize).toBe(m.inp);
      expect(model.outputSize).toBe(m.head ?? (m.read === 'hn_last' ? m.hidden : m.hidden * D));
      const extra = model.metadata.extra ?? {};
      const proto = parseModelProto(readFileSync(join(fixtures, c.file)), c.file);
      expect(proto.producerName).toBe('pytorch');
      expect(extra[IMPORT_META.producer]).toBe(`pytorch ${proto.producerVersion}`);
      expect(extra[IMPORT_META.source]).toBe(c.file);
      const timeMajor = m.batch_first === false;
      expect(extra[IMPORT_META.inputLayout] !== undefined).toBe(timeMajor);

      // The same input as PyTorch saw, batch-first for rnnx.
      const x = timeMajor ? swap01(c.x, c.xShape) : Float32Array.from(c.x);
      const [N, T] = timeMajor ? [c.xShape[1], c.xShape[0]] : [c.xShape[0], c.xShape[1]];
      const feeds = { x: xTensor(x, [N, T, m.inp]) };
      // Initial states: PyTorch's rows [k*D, (k+1)*D) of h0 / c0 belong to layer k, which the
      // rnnx stateful export reads as h0_k / c0_k.
      const stateFeeds: Record<string, ort.Tensor> = {};
      for (const name of ['h0', 'c0'] as const) {
        const s = c[name];
        if (!s) continue;
        const per = D * N * m.hidden;
        for (let k = 0; k < (m.layers ?? 1); k++) stateFeeds[`${name}_${k}`] = xTensor(Float32Array.from(s.slice(k * per, (k + 1) * per)), [D, N, m.hidden]);
      }
      const stateful = c.h0 !== undefined;
      expect(extra[IMPORT_META.stateInputs] !== undefined).toBe(stateful);
      const y = await runOrt(model.toOnnx({ stateful }), { ...feeds, ...stateFeeds });
      const seqOut = c.yShape.length === 3;
      const yTorch = seqOut && timeMajor ? swap01(c.y, c.yShape) : Float32Array.from(c.y);
      expect(y.dims).toEqual(seqOut && timeMajor ? [c.yShape[1], c.yShape[0], c.yShape[2]] : c.yShape);
      expect(spread(yTorch)).toBeGreaterThan(1e-3);
      expect(maxAbsDiff(y.data as Float32Array, yTorch)).toBeLessThan(1e-5);
      // The addon's forward (training kernels, which start from zero states) agrees too.
      if (!stateful) expect(maxAbsDiff(predict(model, x, { batch: N, time: T }), yTorch)).toBeLessThan(1e-5);

      // Fine-tune on a small task: the loss goes down.
      const data = task(model, 64, 6, 7);
      const before = (await evaluate(model, data)).loss;
      const h = await model.fit(data, { epochs: 12, batchSize: 16, optimizer: { type: 'adam', lr: 0.02 }, seed: 3 });
      const after = (await evaluate(model, data)).loss;
      expect(after).toBeLessThan(before * 0.8);
      expect(h.loss[h.loss.length - 1]).toBeLessThan(h.loss[0]);

      // Save → reload → run again: the rnnx file keeps the weights and the import record.
      const path = join(dir, `${name}.onnx`);
      model.save(path);
      const back = Model.load(path);
      expect(Buffer.from(back.params.buffer).equals(Buffer.from(model.params.buffer))).toBe(true);
      expect(back.metadata.extra?.[IMPORT_META.producer]).toBe(extra[IMPORT_META.producer]);
      const y2 = await runOrt(readFileSync(path), feeds);
      expect(maxAbsDiff(y2.data as Float32Array, predict(model, x, { batch: N, time: T }))).toBeLessThan(1e-5);
      const y1 = await runOrt(model.toOnnx(), feeds);
      expect(maxAbsDiff(y2.data as Float32Array, y1.data as Float32Array)).toBeLessThan(1e-5);
      expect(maxAbsDiff(y2.data as Float32Array, yTorch)).toBeGreaterThan(1e-3); // fine-tuning changed it
    });
  }

  it('y[:, -1] of a bidirectional layer is refused, naming the Gather node', () => {
    const c = reference.unsupported.unsupported_bidir_last_step;
    let err: unknown;
    try {
      Model.load(join(fixtures, c.file));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OnnxImportError);
    const e = err as OnnxImportError;
    expect(e.node).toBe('/Gather');
    expect(e.opType).toBe('Gather');
    expect(e.message).toContain('"/Gather" (Gather)');
    expect(e.message).toMatch(/reverse direction, which is not that direction's final state/);
  });
});

// ---------------------------------------------------------------------------------------------
// Hand-built graphs

const N = 3;
const T = 6;

interface Built {
  bytes: Uint8Array;
  /** Extra feeds besides x (sequence_lens). */
  lengths?: Int32Array;
}

function build(g: GraphBuilder, out: Value, shape: (number | string)[], opset = 14): Uint8Array {
  g.output(out, 'y', shape);
  return onnx.ModelProto.encode(g.build({ opset, producerName: 'handmade', producerVersion: '1' })).finish();
}

/** Random constant of `dims` (seeded), as an initializer. */
function rand(g: GraphBuilder, rng: Rng, name: string, dims: number[], scale = 0.5): Value {
  return g.floatInitializer(name, randomArray(rng, dims.reduce((a, b) => a * b, 1), scale), dims);
}

function int64(g: GraphBuilder, name: string, v: number[], dims?: number[]): Value {
  return g.int64Initializer(name, v, dims ?? [v.length]);
}

function node(g: GraphBuilder, opType: string, inputs: (Value | null)[], shape: (number | string | null)[] | null, attrs: Parameters<GraphBuilder['node']>[3] = {}): Value {
  return g.node(opType, inputs, [{ elemType: 'float', shape }], attrs)[0] as Value;
}

async function expectSameAsSource(built: Built, opts: { I: number; exportLens?: boolean }) {
  const model = Model.fromOnnx(built.bytes, 'handmade.onnx');
  const rng = new Rng(99);
  const x = randomArray(rng, N * T * opts.I);
  const feeds: Record<string, ort.Tensor> = { x: xTensor(x, [N, T, opts.I]) };
  if (built.lengths) feeds.sequence_lens = new ort.Tensor('int32', built.lengths, [N]);
  const want = await runOrt(built.bytes, feeds);
  expect(spread(want.data as Float32Array)).toBeGreaterThan(1e-3);
  const got = await runOrt(model.toOnnx({ sequenceLens: opts.exportLens ?? false }), feeds);
  expect(got.dims).toEqual(want.dims);
  expect(maxAbsDiff(got.data as Float32Array, want.data as Float32Array)).toBeLessThan(1e-5);
  expect(maxAbsDiff(predict(model, x, { batch: N, time: T, lengths: built.lengths }), want.data as Float32Array)).toBeLessThan(1e-5);
  return model;
}

describe('hand-built graphs (variants PyTorch does not emit)', () => {
  it('reverse peephole LSTM with clip and input_forget, weights from Constant nodes, MatMul + Add(bias first) + Tanh head', async () => {
    const g = new GraphBuilder();
    const rng = new Rng(1);
    const I = 3;
    const H = 4;
    const x = g.input('x', 'float', ['batch', 'time', I]);
    const W = node(g, 'Constant', [], [1, 4 * H, I], { value_floats: { floats: Array.from(randomArray(rng, 4 * H * I, 0.6)) } });
    const R = node(g, 'Constant', [], [1, 4 * H, H], { value_floats: { floats: Array.from(randomArray(rng, 4 * H * H, 0.6)) } });
    const Wr = op.reshape(W, [1, 4 * H, I]);
    const Rr = op.reshape(R, [1, 4 * H, H]);
    const B = rand(g, rng, 'B', [1, 8 * H]);
    const P = rand(g, rng, 'P', [1, 3 * H], 1);
    const { Y_h } = op.lstm({ X: op.transpose(x, [1, 0, 2]), W: Wr, R: Rr, B, P }, { hiddenSize: H, direction: 'reverse', clip: 1.5, inputForget: true }, { Y_h: true });
    const h = op.reshape(op.transpose(Y_h!, [1, 0, 2]), [0, -1]);
    const Wd = rand(g, rng, 'Wd', [H, 2]);
    const bd = rand(g, rng, 'bd', [2]);
    const yv = op.tanh(op.add(bd, op.matmul(h, Wd)));
    const model = await expectSameAsSource({ bytes: build(g, yv, ['batch', 2]) }, { I });
    expect(model.spec.layers[0]).toMatchObject({ kind: 'lstm', direction: 'reverse', peepholes: true, clip: 1.5, inputForget: true, returnSequences: false });
    expect(model.spec.layers[1]).toMatchObject({ kind: 'dense', units: 2, activation: 'tanh' });
  });

  it('GRU with linear_before_reset = 0, bidirectional, directions concatenated backward-first before Gemm (the importer folds the order into the weights)', async () => {
    const g = new GraphBuilder();
    const rng = new Rng(2);
    const I = 2;
    const H = 3;
    const x = g.input('x', 'float', ['batch', 'time', I]);
    const { Y_h } = op.gru(
      { X: op.transpose(x, [1, 0, 2]), W: rand(g, rng, 'W', [2, 3 * H, I], 0.8), R: rand(g, rng, 'R', [2, 3 * H, H], 0.8), B: rand(g, rng, 'B', [2, 6 * H]) },
      { hiddenSize: H, direction: 'bidirectional', linearBeforeReset: 0 },
      { Y_h: true },
    );
    const gather = (i: number) => g.node('Gather', [Y_h!, int64(g, `i${i}`, [i], [])], [{ elemType: 'float', shape: ['batch', H] }], { axis: { int: 0 } })[0] as Value;
    const cat = node(g, 'Concat', [gather(1), gather(0)], ['batch', 2 * H], { axis: { int: 1 } });
    const gemm = node(g, 'Gemm', [cat, rand(g, rng, 'Wg', [2, 2 * H]), rand(g, rng, 'bg', [2])], ['batch', 2], { transB: { int: 1 }, alpha: { float: 0.7 }, beta: { float: 1.3 } });
    const model = await expectSameAsSource({ bytes: build(g, gemm, ['batch', 2]) }, { I });
    expect(model.spec.layers[0]).toMatchObject({ kind: 'gru', linearBeforeReset: 0, direction: 'bidirectional' });
  });

  it('sequence_lens: stacked RNN (relu) and LSTM reading the graph input, sequence output', async () => {
    const g = new GraphBuilder();
    const rng = new Rng(3);
    const I = 3;
    const H = 4;
    const x = g.input('x', 'float', ['batch', 'time', I]);
    const lens = g.input('sequence_lens', 'int32', ['batch']);
    const { Y } = op.rnn(
      { X: op.transpose(x, [1, 0, 2]), W: rand(g, rng, 'W0', [2, H, I], 0.7), R: rand(g, rng, 'R0', [2, H, H], 0.4), B: rand(g, rng, 'B0', [2, 2 * H]), sequenceLens: lens },
      { hiddenSize: H, direction: 'bidirectional', activations: ['Relu', 'Relu'] },
    );
    const seq = op.reshape(op.transpose(Y!, [0, 2, 1, 3]), [0, 0, -1]);
    const { Y: Y2 } = op.lstm({ X: seq, W: rand(g, rng, 'W1', [1, 4 * H, 2 * H]), R: rand(g, rng, 'R1', [1, 4 * H, H]), sequenceLens: lens }, { hiddenSize: H });
    const squeezed = g.node('Squeeze', [Y2!, int64(g, 'axes', [1])], [{ elemType: 'float', shape: ['time', 'batch', H] }])[0] as Value;
    const out = op.transpose(squeezed, [1, 0, 2]);
    const model = await expectSameAsSource({ bytes: build(g, out, ['batch', 'time', H]), lengths: Int32Array.from([6, 2, 4]) }, { I, exportLens: true });
    expect(model.metadata.extra?.[IMPORT_META.sequenceLens]).toMatch(/^true/);
    expect(model.spec.layers.map((l) => l.kind)).toEqual(['rnn', 'lstm']);
    expect(model.spec.layers[0]).toMatchObject({ activation: 'relu', returnSequences: true });
  });

  it('layout = 1 (batch-first LSTM node) with a forward-only last step read by Slice + Squeeze', async () => {
    const g = new GraphBuilder();
    const rng = new Rng(4);
    const I = 2;
    const H = 3;
    const x = g.input('x', 'float', ['batch', 'time', I]);
    const Y = g.node('LSTM', [x, rand(g, rng, 'W', [1, 4 * H, I]), rand(g, rng, 'R', [1, 4 * H, H]), rand(g, rng, 'B', [1, 8 * H])], [{ elemType: 'float', shape: ['batch', 'time', 1, H] }], {
      hidden_size: { int: H },
      layout: { int: 1 },
    })[0] as Value;
    const last = node(g, 'Slice', [Y, int64(g, 's', [-1]), int64(g, 'e', [2 ** 53 - 1]), int64(g, 'a', [1])], ['batch', 1, 1, H]);
    const sq = node(g, 'Squeeze', [last, int64(g, 'sa', [1, 2])], ['batch', H]);
    const bytes = build(g, sq, ['batch', H]);
    // ONNX Runtime rejects layout 1 (its CPU kernels accept only layout 0), so the reference is the same graph with layout 0.
    const model = Model.fromOnnx(bytes, 'layout1.onnx');
    expect(model.spec.layers).toHaveLength(1);
    expect(model.spec.layers[0]).toMatchObject({ kind: 'lstm', units: H, returnSequences: false });
    const g0 = new GraphBuilder();
    const x0 = g0.input('x', 'float', ['batch', 'time', I]);
    const lp = model.layerParams(0);
    if (lp.kind === 'dense') throw new Error('unexpected');
    const { Y_h } = op.lstm({ X: op.transpose(x0, [1, 0, 2]), W: g0.floatInitializer('W', lp.W, [1, 4 * H, I]), R: g0.floatInitializer('R', lp.R, [1, 4 * H, H]), B: g0.floatInitializer('B', lp.B, [1, 8 * H]) }, { hiddenSize: H }, { Y_h: true });
    const ref = build(g0, op.reshape(op.transpose(Y_h!, [1, 0, 2]), [0, -1]), ['batch', H]);
    const xs = randomArray(new Rng(5), N * T * I);
    const want = await runOrt(ref, { x: xTensor(xs, [N, T, I]) });
    expect(maxAbsDiff(predict(model, xs, { batch: N, time: T }), want.data as Float32Array)).toBeLessThan(1e-5);
    // The weights are the file's, unchanged.
    const proto = onnx.ModelProto.decode(bytes);
    const W = proto.graph!.initializer!.find((t) => t.name === 'W')!;
    expect(Buffer.from(lp.W.buffer, lp.W.byteOffset, lp.W.byteLength).equals(Buffer.from(W.rawData!))).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Unsupported patterns: one test each, the error names the node and its op type.

function lstmGraph(rng: Rng, opts: { attrs?: Parameters<GraphBuilder['node']>[3]; initialH?: (g: GraphBuilder) => Value; H?: number } = {}) {
  const g = new GraphBuilder();
  const I = 2;
  const H = opts.H ?? 3;
  const x = g.input('x', 'float', ['batch', 'time', I]);
  const X = op.transpose(x, [1, 0, 2]);
  const inputs = [X, rand(g, rng, 'W', [1, 4 * H, I]), rand(g, rng, 'R', [1, 4 * H, H]), null, null, opts.initialH ? opts.initialH(g) : null];
  const [Y, Y_h, Y_c] = g.node('LSTM', inputs, [
    { elemType: 'float', shape: ['time', 1, 'batch', H] },
    { elemType: 'float', shape: [1, 'batch', H] },
    { elemType: 'float', shape: [1, 'batch', H] },
  ], { hidden_size: { int: H }, ...(opts.attrs ?? {}) }) as Value[];
  return { g, x, Y, Y_h, Y_c, H, I };
}

/** [1, N, H] state → [N, H]. */
const lastState = (g: GraphBuilder, s: Value, H: number) => op.reshape(op.transpose(s, [1, 0, 2]), [0, H]);

function expectRefused(bytes: Uint8Array, nodeName: string, opType: string, reason: RegExp) {
  let err: unknown;
  try {
    Model.fromOnnx(bytes, 'bad.onnx');
  } catch (e) {
    err = e;
  }
  expect(err, 'import must fail').toBeInstanceOf(OnnxImportError);
  const e = err as OnnxImportError;
  expect({ node: e.node, opType: e.opType }).toEqual({ node: nodeName, opType });
  expect(e.message).toContain(`bad.onnx: cannot import node ${JSON.stringify(nodeName)} (${opType})`);
  expect(e.reason).toMatch(reason);
  // inspect's check reports the same node without throwing.
  const check = checkOnnxImport(parseModelProto(bytes, 'bad.onnx'), 'bad.onnx');
  expect(check).toMatchObject({ importable: false, node: nodeName, opType });
}

describe('unsupported patterns are refused with the node named', () => {
  it('LSTM with non-default activations', () => {
    const { g, Y_h, H } = lstmGraph(new Rng(10), { attrs: { activations: { strings: ['Sigmoid', 'Relu', 'Tanh'] } } });
    expectRefused(build(g, lastState(g, Y_h, H), ['batch', H]), 'lstm_1', 'LSTM', /activations .* are not supported/);
  });

  it('a nonzero constant initial state', () => {
    const { g, Y_h, H } = lstmGraph(new Rng(11), { initialH: (gb) => gb.floatInitializer('h0', new Float32Array(3 * 1).fill(0.5), [1, 1, 3]) });
    expectRefused(build(g, lastState(g, Y_h, H), ['batch', H]), 'lstm_1', 'LSTM', /initial_h is not zero/);
  });

  it('an initial state fed as a graph input without a fixed row count', () => {
    const { g, Y_h, H } = lstmGraph(new Rng(12), { initialH: (gb) => gb.input('h0', 'float', ['rows', 'batch', 3]) });
    expectRefused(build(g, lastState(g, Y_h, H), ['batch', H]), 'lstm_1', 'LSTM', /graph input "h0"/);
  });

  it('reading the LSTM cell state Y_c', () => {
    const { g, Y_c, H } = lstmGraph(new Rng(13));
    const gemm = node(g, 'Gemm', [lastState(g, Y_c, H), rand(g, new Rng(1), 'Wg', [H, 2])], ['batch', 2]);
    // The Reshape/Transpose glue passes the reason on; the first node that needs the value names it.
    expectRefused(build(g, gemm, ['batch', 2]), 'transpose_2', 'Transpose', /Y_c, the cell state of lstm_1/);
  });

  it('a residual Add of two activations', () => {
    const { g, Y_h, H } = lstmGraph(new Rng(14));
    const h = lastState(g, Y_h, H);
    const d = op.matmul(h, rand(g, new Rng(2), 'Wd', [H, H]));
    expectRefused(build(g, op.add(d, h), ['batch', H]), 'add_1', 'Add', /two values computed from the input/);
  });

  it('an operator the importer does not map (LayerNormalization)', () => {
    const { g, Y_h, H } = lstmGraph(new Rng(15));
    const ln = node(g, 'LayerNormalization', [lastState(g, Y_h, H), rand(g, new Rng(3), 'scale', [H])], ['batch', H], { axis: { int: -1 } });
    expectRefused(build(g, ln, ['batch', H], 17), 'layernormalization_1', 'LayerNormalization', /operator LayerNormalization is not one the importer maps/);
  });

  it('a dense layer between two recurrent layers', () => {
    const { g, Y, H } = lstmGraph(new Rng(16));
    const seq = g.node('Squeeze', [Y, int64(g, 'ax', [1])], [{ elemType: 'float', shape: ['time', 'batch', H] }])[0] as Value;
    const d = op.matmul(seq, rand(g, new Rng(4), 'Wd', [H, H]));
    const { Y_h } = op.gru({ X: d, W: rand(g, new Rng(5), 'W2', [1, 3 * H, H]), R: rand(g, new Rng(6), 'R2', [1, 3 * H, H]) }, { hiddenSize: H }, { Y_h: true });
    expectRefused(build(g, lastState(g, Y_h!, H), ['batch', H]), 'gru_1', 'GRU', /reads the output of dense layer matmul_1/);
  });

  it('a recurrent layer reading the previous one\'s final state instead of its sequence', () => {
    const { g, Y_h, H } = lstmGraph(new Rng(17));
    // Y_h is [directions, batch, hidden]: one run-time axis, where X needs time and batch.
    const { Y_h: h2 } = op.gru({ X: Y_h!, W: rand(g, new Rng(5), 'W2', [1, 3 * H, H]), R: rand(g, new Rng(6), 'R2', [1, 3 * H, H]) }, { hiddenSize: H }, { Y_h: true });
    expectRefused(build(g, lastState(g, h2!, H), ['batch', H]), 'gru_1', 'GRU', new RegExp(`GRU\\.X must be \\[time, batch, features\\] built from the model input, got axes \\[1, \\?, ${H}\\]`));
  });

  it('a dense value read both before and after its bias', () => {
    const { g, Y_h, H } = lstmGraph(new Rng(22));
    const d = op.matmul(lastState(g, Y_h, H), rand(g, new Rng(10), 'Wd', [H, 2]));
    const withBias = op.add(d, rand(g, new Rng(11), 'bd', [2]));
    const cat = node(g, 'Concat', [d, withBias], ['batch', 4], { axis: { int: 1 } });
    expectRefused(build(g, cat, ['batch', 4]), 'concat_1', 'Concat', /reads features of several layers at once/);
  });

  it('an activation applied straight to a recurrent output', () => {
    const { g, Y_h, H } = lstmGraph(new Rng(17));
    expectRefused(build(g, op.sigmoid(lastState(g, Y_h, H)), ['batch', H]), 'sigmoid_1', 'Sigmoid', /rnnx applies activations only in dense layers/);
  });

  it('a range of time steps (y[:, 1:3])', () => {
    const { g, Y, H } = lstmGraph(new Rng(18));
    const sl = node(g, 'Slice', [Y, int64(g, 's', [1]), int64(g, 'e', [3]), int64(g, 'a', [0])], [2, 1, 'batch', H]);
    const out = op.reshape(op.transpose(sl, [2, 0, 1, 3]), [0, 0, -1]);
    expectRefused(build(g, out, ['batch', 2, H]), 'slice_1', 'Slice', /slices time steps \[1, 3\)/);
  });

  it('clip on a GRU', () => {
    const g = new GraphBuilder();
    const rng = new Rng(19);
    const x = g.input('x', 'float', ['batch', 'time', 2]);
    const { Y_h } = op.gru({ X: op.transpose(x, [1, 0, 2]), W: rand(g, rng, 'W', [1, 9, 2]), R: rand(g, rng, 'R', [1, 9, 3]) }, { hiddenSize: 3, clip: 2 }, { Y_h: true });
    expectRefused(build(g, lastState(g, Y_h!, 3), ['batch', 3]), 'gru_1', 'GRU', /clip on GRU is not supported/);
  });

  it('a constant sequence_lens', () => {
    const g = new GraphBuilder();
    const rng = new Rng(20);
    const x = g.input('x', 'float', [2, 'time', 2]);
    const lens = g.node('Constant', [], [{ elemType: 'int32', shape: [2] }], { value_ints: { ints: [3, 3] } })[0] as Value;
    const cast = g.node('Cast', [lens], [{ elemType: 'int32', shape: [2] }], { to: { int: 6 } })[0] as Value;
    const { Y_h } = op.rnn({ X: op.transpose(x, [1, 0, 2]), W: rand(g, rng, 'W', [1, 3, 2]), R: rand(g, rng, 'R', [1, 3, 3]), sequenceLens: cast }, { hiddenSize: 3 }, { Y_h: true });
    expectRefused(build(g, lastState(g, Y_h!, 3), [2, 3]), 'rnn_1', 'RNN', /sequence_lens is a constant/);
  });

  it('softmax over the time axis', () => {
    const { g, Y, H } = lstmGraph(new Rng(21));
    const seq = op.reshape(op.transpose(Y, [2, 0, 1, 3]), [0, 0, -1]);
    const d = op.add(op.matmul(seq, rand(g, new Rng(7), 'Wd', [H, 2])), rand(g, new Rng(8), 'bd', [2]));
    expectRefused(build(g, op.softmax(d, { axis: 1 }), ['batch', 'time', 2]), 'softmax_1', 'Softmax', /Softmax over axis 1/);
  });

  it('a graph with no recurrent node', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float', ['batch', 'time', 2]);
    const out = op.matmul(x, rand(g, new Rng(9), 'W', [2, 2]));
    expectRefused(build(g, out, ['batch', 'time', 2]), 'matmul_1', 'MatMul', /must read a tensor|reads the output|dense|input/);
  });
});

describe('malformed graphs fail as import errors naming the node', () => {
  it('a Transpose whose perm is not a permutation', () => {
    const { g, Y_h, H } = lstmGraph(new Rng(23));
    const bad = node(g, 'Transpose', [Y_h], null, { perm: { ints: [0, 0, 2] } });
    expectRefused(build(g, op.reshape(bad, [0, H]), ['batch', H]), 'transpose_2', 'Transpose', /perm must be a permutation of 0\.\.2, got \[0,0,2\]/);
  });

  it('a ConstantOfShape that would fold to a huge constant', () => {
    const { g, Y_h, H } = lstmGraph(new Rng(24), {
      initialH: (gb) => gb.node('ConstantOfShape', [int64(gb, 'huge', [1 << 20, 1 << 20, 3])], [{ elemType: 'float', shape: null }])[0] as Value,
    });
    expectRefused(build(g, lastState(g, Y_h, H), ['batch', H]), 'constantofshape_1', 'ConstantOfShape', /would make a constant of \d+ elements/);
  });
});
