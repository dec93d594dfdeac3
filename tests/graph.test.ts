// Graph builder and exported graph structure: one recurrent node per layer (never unrolled),
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// the I/O naming convention, attributes, initializers equal to the parameter views, and shape
// errors raised where the bad node is built.

import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { GraphBuilder, IR_VERSION, onnx } from '../src/graph/builder.js';
import { META, initializerName, rnnxVersion, toModelProto, toOnnx } from '../src/graph/export.js';
import { int64ToNumber } from '../src/graph/io.js';
import * as op from '../src/graph/ops.js';
import { dense, gru, lstm, rnn } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';
import { randomizeParams, viewProto, type ProtoView } from './reference/util.js';

type Node = ProtoView['graph']['node'][number];
const dec = new TextDecoder();
const attrs = (n: Node) => Object.fromEntries(n.attribute.map((a) => [a.name, a.type === 2 ? int64ToNumber(a.i) : a.type === 1 ? a.f : a.type === 3 ? dec.decode(a.s) : a.strings!.map((s) => dec.decode(s))]));
const dims = (v: ProtoView['graph']['input'][number]) => v.type.tensorType.shape.dim.map((d) => d.dimParam || int64ToNumber(d.dimValue));
const proto = (...args: Parameters<typeof toModelProto>) => viewProto(toModelProto(...args));

describe('exported graph structure', () => {
  const model = Model.create({
    inputSize: 3,
    layers: [
      lstm({ units: 4, direction: 'bidirectional', peepholes: true, clip: 2.5, inputForget: true, returnSequences: true }),
      gru({ units: 5, linearBeforeReset: 0, returnSequences: true }),
      rnn({ units: 2, activation: 'relu', direction: 'bidirectional' }),
      dense({ units: 3, activation: 'softmax' }),
    ],
  });
  randomizeParams(model, 3);

  it('one ONNX recurrent node per layer with its attributes; opset 14, IR 8; batch-first I/O', () => {
    const p = proto(model);
    expect(int64ToNumber(p.irVersion)).toBe(IR_VERSION);
    expect(p.opsetImport.map((o) => [o.domain, int64ToNumber(o.version)])).toEqual([['', 14]]);
    const ops = p.graph.node.map((n) => n.opType);
    expect(ops.filter((o) => ['LSTM', 'GRU', 'RNN'].includes(o))).toEqual(['LSTM', 'GRU', 'RNN']);
    expect(ops.some((o) => ['Loop', 'Scan', 'If'].includes(o))).toBe(false);
    expect(ops[0]).toBe('Transpose');
    expect(p.graph.node[0].input).toEqual(['x']);
    expect(ops.slice(-3)).toEqual(['MatMul', 'Add', 'Softmax']);
    expect(attrs(p.graph.node.at(-1)!)).toEqual({ axis: -1 });

    const [L, G, R] = p.graph.node.filter((n) => ['LSTM', 'GRU', 'RNN'].includes(n.opType));
    expect(attrs(L)).toEqual({ hidden_size: 4, direction: 'bidirectional', clip: 2.5, input_forget: 1 });
    expect(attrs(G)).toEqual({ hidden_size: 5, direction: 'forward', linear_before_reset: 0 });
    expect(attrs(R)).toEqual({ hidden_size: 2, direction: 'bidirectional', activations: ['Relu', 'Relu'] });
    // Positional inputs: an omitted optional input in the middle is '', trailing ones are dropped.
    expect(L.input).toEqual([expect.any(String), 'layers.0.W', 'layers.0.R', 'layers.0.B', '', '', '', 'layers.0.P']);
    expect(G.input).toEqual([expect.any(String), 'layers.1.W', 'layers.1.R', 'layers.1.B']);
    // Unused outputs: Y only for sequence layers; Y_h only ('' for Y) for the last-step layer.
    expect(L.output).toHaveLength(1);
    expect(G.output).toHaveLength(1);
    expect(R.output).toEqual(['', expect.any(String)]);

    expect(p.graph.input.map((v) => [v.name, dims(v)])).toEqual([['x', ['batch', 'time', 3]]]);
    expect(p.graph.output.map((v) => [v.name, dims(v)])).toEqual([['y', ['batch', 3]]]);
  });

  it('initializers are the parameter views, bit for bit, under layers.<i>.<name>', () => {
    const p = proto(model);
    const byName = new Map(p.graph.initializer.map((t) => [t.name, t]));
    model.layout.layers.forEach((l, i) => {
      const slots = l.kind === 'dense' ? { W: l.W, b: l.b } : { W: l.W, R: l.R, B: l.B, ...(l.P ? { P: l.P } : {}) };
      for (const [name, slot] of Object.entries(slots)) {
        const t = byName.get(initializerName(i, name as 'W'))!;
        expect(t.dims.map(int64ToNumber)).toEqual(slot.dims);
        const expected = new Uint8Array(model.params.buffer, slot.offset * 4, slot.size * 4);
        expect(Buffer.compare(Buffer.from(t.rawData), Buffer.from(expected))).toBe(0);
      }
    });
    // Nothing else but the int64 shapes of the Reshape nodes.
    const others = p.graph.initializer.filter((t) => !t.name.startsWith('layers.'));
    expect(others.every((t) => t.dataType === onnx.TensorProto.DataType.INT64)).toBe(true);
  });

  it("the version is rnnx's own package.json, not a nearer one of another package", async () => {
    // A package.json beside the module (a bundler's or a monorepo's) with its own name and version
    // must be walked past: only the file named "rnnx" gives the version.
    const real = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    vi.resetModules();
    vi.doMock('node:fs', async (importOriginal) => {
      const fs = await importOriginal<typeof import('node:fs')>();
      const readFileSync = ((path: unknown, ...rest: unknown[]) =>
        /[\\/]src[\\/]graph[\\/]package\.json$/.test(String(path)) ? '{"name":"not-rnnx","version":"9.9.9"}' : (fs.readFileSync as (...a: unknown[]) => unknown)(path, ...rest)) as typeof fs.readFileSync;
      return { ...fs, default: { ...fs, readFileSync }, readFileSync };
    });
    try {
      const fresh = await import('../src/graph/export.js');
      expect(fresh.rnnxVersion()).toBe(real);
    } finally {
      vi.doUnmock('node:fs');
      vi.resetModules();
    }
  });

  it('without any rnnx package.json the walk stops six directories up and the version is 0.0.0-unknown', async () => {
    const tried: string[] = [];
    vi.resetModules();
    vi.doMock('node:fs', async (importOriginal) => {
      const fs = await importOriginal<typeof import('node:fs')>();
      const readFileSync = ((path: unknown, ...rest: unknown[]) => {
        if (!String(path).endsWith('package.json')) return (fs.readFileSync as (...a: unknown[]) => unknown)(path, ...rest);
        tried.push(String(path));
        throw Object.assign(new Error(`ENOENT: ${String(path)}`), { code: 'ENOENT' });
      }) as typeof fs.readFileSync;
      return { ...fs, default: { ...fs, readFileSync }, readFileSync };
    });
    try {
      const fresh = await import('../src/graph/export.js');
      expect(fresh.rnnxVersion()).toBe('0.0.0-unknown');
      // src/graph, src, the package root and three directories above it.
      let dir = fileURLToPath(new URL('../src/graph', import.meta.url));
      const expected: string[] = [];
      for (let i = 0; i < 6; i++, dir = dirname(dir)) expected.push(join(dir, 'package.json'));
      expect(tried).toEqual(expected);
      // Cached: asked again, nothing more is read.
      expect(fresh.rnnxVersion()).toBe('0.0.0-unknown');
      expect(tried).toHaveLength(6);
    } finally {
      vi.doUnmock('node:fs');
      vi.resetModules();
    }
  });

  it('metadata_props carry version, spec, metadata and export options', () => {
    const m = model.clone();
    m.metadata = { vocabulary: ['x', 'y'], inputNormalization: { mean: [0, 0, 0], std: [1, 2, 3] } };
    const p = proto(m, { sequenceLens: true });
    expect(p.metadataProps.map((q) => q.key)).toEqual([META.version, META.spec, META.metadata, META.export]);
    const get = (k: string) => p.metadataProps.find((q) => q.key === k)!.value;
    expect(get(META.version)).toBe(rnnxVersion());
    expect(rnnxVersion()).toBe((JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version);
    expect(JSON.parse(get(META.spec))).toEqual(m.spec);
    expect(JSON.parse(get(META.metadata))).toEqual(m.metadata);
    expect(JSON.parse(get(META.export))).toEqual({ sequenceLens: true, stateful: false, opset: 14 });
    expect(p.producerName).toBe('rnnx');
  });

  it('stateful graphs: inputs h0_k/c0_k, outputs hT_k/cT_k, y first', () => {
    const p = proto(model, { stateful: true, sequenceLens: true });
    expect(p.graph.input.map((v) => [v.name, dims(v)])).toEqual([
      ['x', ['batch', 'time', 3]],
      ['sequence_lens', ['batch']],
      ['h0_0', [2, 'batch', 4]],
      ['c0_0', [2, 'batch', 4]],
      ['h0_1', [1, 'batch', 5]],
      ['h0_2', [2, 'batch', 2]],
    ]);
    expect(p.graph.output.map((v) => [v.name, dims(v)])).toEqual([
      ['y', ['batch', 3]],
      ['hT_0', [2, 'batch', 4]],
      ['cT_0', [2, 'batch', 4]],
      ['hT_1', [1, 'batch', 5]],
      ['hT_2', [2, 'batch', 2]],
    ]);
    const L = p.graph.node.find((n) => n.opType === 'LSTM')!;
    expect(L.input.slice(4)).toEqual(['sequence_lens', 'h0_0', 'c0_0', 'layers.0.P']);
    expect(L.output.slice(1)).toEqual(['hT_0', 'cT_0']);
  });

  it('the attributes of the other layer options; each dense activation is one node after MatMul + Add', () => {
    const m = Model.create({
      inputSize: 2,
      layers: [
        lstm({ units: 2, returnSequences: true }),
        gru({ units: 3, direction: 'reverse', returnSequences: true }),
        rnn({ units: 2, returnSequences: true }),
        rnn({ units: 2, direction: 'reverse' }),
        dense({ units: 3, activation: 'relu' }),
        dense({ units: 3, activation: 'tanh' }),
        dense({ units: 3, activation: 'sigmoid' }),
        dense({ units: 2 }),
      ],
    });
    const p = proto(m);
    const rec = p.graph.node.filter((n) => ['LSTM', 'GRU', 'RNN'].includes(n.opType));
    // No clip and no input_forget when the LSTM has none; GRU's default linear_before_reset is 1;
    // RNN writes its activation per direction even when it is the default Tanh.
    expect(rec.map(attrs)).toEqual([
      { hidden_size: 2, direction: 'forward' },
      { hidden_size: 3, direction: 'reverse', linear_before_reset: 1 },
      { hidden_size: 2, direction: 'forward', activations: ['Tanh'] },
      { hidden_size: 2, direction: 'reverse', activations: ['Tanh'] },
    ]);
    const ops = p.graph.node.map((n) => n.opType);
    expect(ops.slice(ops.lastIndexOf('RNN') + 1)).toEqual(['Transpose', 'Reshape', 'MatMul', 'Add', 'Relu', 'MatMul', 'Add', 'Tanh', 'MatMul', 'Add', 'Sigmoid', 'MatMul', 'Add']);
    // Between recurrent layers: Y [T, D, N, H] → Transpose [0, 2, 1, 3] → Reshape [0, 0, -1].
    const perms = p.graph.node.filter((n) => n.opType === 'Transpose').map((n) => (n.attribute[0] as unknown as { ints: Parameters<typeof int64ToNumber>[0][] }).ints.map(int64ToNumber));
    expect(perms).toEqual([[1, 0, 2], [0, 2, 1, 3], [0, 2, 1, 3], [0, 2, 1, 3], [1, 0, 2]]);
    expect(p.graph.output.map((v) => [v.name, dims(v)])).toEqual([['y', ['batch', 2]]]);
    // Model data without metadata (from JavaScript) is written with an empty object.
    const bare = Model.create({ inputSize: 2, layers: [gru({ units: 1 })] });
    expect(proto({ spec: bare.spec, layout: bare.layout, params: bare.params, metadata: undefined as never }).metadataProps.find((q) => q.key === META.metadata)!.value).toBe('{}');
  });

  it('sequence outputs are batch-first [batch, time, F]', () => {
    const m = Model.create({ inputSize: 2, layers: [gru({ units: 3, direction: 'bidirectional', returnSequences: true })] });
    const p = proto(m);
    expect(p.graph.output.map((v) => [v.name, dims(v)])).toEqual([['y', ['batch', 'time', 6]]]);
  });

  it('is deterministic: the same model gives the same bytes', () => {
    expect(Buffer.compare(Buffer.from(toOnnx(model)), Buffer.from(toOnnx(model.clone())))).toBe(0);
  });

  it('rejects bad export options, naming the field', () => {
    expect(() => toOnnx(model, { opset: 13 })).toThrow('export options.opset must be an integer in [14, 17], got 13');
    expect(() => toOnnx(model, { stateful: 'yes' as never })).toThrow('export options.stateful must be a boolean, got "yes"');
    expect(() => toOnnx(model, { layout: 1 } as never)).toThrow('export options: unknown option "layout"; known options: sequenceLens, stateful, opset');
  });
});

describe('graph builder', () => {
  it('raises shape errors at the line that builds the bad node', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float', ['t', 'n', 3]);
    const W = g.floatInitializer('W', new Float32Array(1 * 8 * 3), [1, 8, 3]);
    const R = g.floatInitializer('R', new Float32Array(1 * 8 * 2), [1, 8, 2]);
    const Rbad = g.floatInitializer('Rbad', new Float32Array(1 * 8 * 3), [1, 8, 3]);
    expect(op.lstm({ X: x, W, R }, { hiddenSize: 2 }).Y!.shape).toEqual(['t', 1, 'n', 2]);
    expect(() => op.lstm({ X: x, W, R: Rbad }, { hiddenSize: 2 })).toThrow('LSTM.R: expected shape [1, 8, 2], got [1, 8, 3]');
    expect(() => op.gru({ X: x, W, R }, { hiddenSize: 2 })).toThrow('GRU.W: expected shape [1, 6, 3], got [1, 8, 3]');
    expect(() => op.lstm({ X: x, W, R }, { hiddenSize: 2, activations: ['Tanh'] })).toThrow('LSTM.activations must list 3 functions');
    expect(() => op.lstm({ X: x, W, R }, { hiddenSize: 2 }, {})).toThrow('LSTM: request at least one output');
    const m = g.floatInitializer('M', new Float32Array(4 * 5), [4, 5]);
    expect(() => op.matmul(x, m)).toThrow('MatMul: inner dimensions differ, A [t, n, 3] and B [4, 5]');
    expect(() => op.transpose(x, [0, 1])).toThrow('Transpose.perm must have 3 entries');
    expect(() => op.transpose(x, [0, 1, 1])).toThrow('Transpose.perm must be a permutation of 0..2');
    expect(() => op.reshape(x, [-1, -1])).toThrow('Reshape.shape may hold at most one -1');
    expect(() => op.add(g.floatInitializer('a', new Float32Array(3), [3]), g.floatInitializer('b', new Float32Array(4), [4]))).toThrow('Add: shapes [3] and [4] do not broadcast');
    expect(() => g.floatInitializer('c', new Float32Array(5), [2, 3])).toThrow('initializer c: dims [2,3] need 6 elements, got 5');
  });

  it('infers shapes through transpose, reshape and matmul', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float', ['n', 't', 6]);
    const t = op.transpose(x, [1, 0, 2]);
    expect(t.shape).toEqual(['t', 'n', 6]);
    expect(op.reshape(g.floatInitializer('k', new Float32Array(24), [2, 3, 4]), [0, -1]).shape).toEqual([2, 12]);
    expect(op.matmul(x, g.floatInitializer('w', new Float32Array(12), [6, 2])).shape).toEqual(['n', 't', 2]);
  });

  it('refuses a name assigned twice', () => {
    const g = new GraphBuilder();
    g.input('x', 'float', [2]);
    g.floatInitializer('x', new Float32Array(2), [2]);
    expect(() => g.build()).toThrow('graph: name "x" is assigned twice (initializer)');
  });

  it('an output that is a graph input goes through Identity', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float', ['n']);
    g.output(x, 'y', ['n']);
    const p = viewProto(g.build());
    expect(p.graph.node.map((n) => [n.opType, n.input, n.output])).toEqual([['Identity', ['x'], ['y']]]);
    expect(() => new GraphBuilder().output(x, 'z', ['n'])).toThrow('output z: the value belongs to another graph');
  });
});
