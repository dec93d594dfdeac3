// The typed ONNX operators and the graph builder (src/graph/ops.ts, src/graph/builder.ts): shape
// inference against hand-worked shapes (numpy broadcasting, Reshape's 0 and -1), every check's
// message, and the ModelProto written (node inputs and outputs, attribute types, value infos,
// automatic names) read back field by field.

import { describe, expect, it, vi } from 'vitest';
import { assertShape, float32ToLeBytes, fmtShape, GraphBuilder, leBytesToFloat32, type Value } from '../src/graph/builder.js';
import * as op from '../src/graph/ops.js';
import { viewProto } from './reference/util.js';
import type { onnx as OnnxTypes } from 'onnx-proto';

const dec = new TextDecoder();
const f = (g: GraphBuilder, name: string, dims: number[]) => g.floatInitializer(name, new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
const unknown = (g: GraphBuilder, x: Value) => g.node('Foo', [x], [{ elemType: 'float', shape: null }])[0] as Value;

describe('shape inference', () => {
  it('Add broadcasts like numpy; unknown and symbolic dims stay open', () => {
    const g = new GraphBuilder();
    const v = (shape: (number | string | null)[]) => g.input(`i${g.freshName('i')}`, 'float', shape);
    const cases: [(number | string | null)[], (number | string | null)[], (number | string | null)[]][] = [
      [[2, 3], [3], [2, 3]],
      [[3], [2, 3], [2, 3]],
      [[2, 1], [1, 3], [2, 3]],
      [[1, 3], [2, 1], [2, 3]],
      [['n', 3], [3], ['n', 3]],
      [['n', 1], [4], ['n', 4]],
      [['n'], [5], [5]],
      [[5], ['n'], [5]],
      [['n'], ['m'], ['m']],
      [[null, 3], [5, 1], [5, 3]],
      [[], [2], [2]],
    ];
    for (const [a, b, want] of cases) expect(op.add(v(a), v(b)).shape, `${fmtShape(a)} + ${fmtShape(b)}`).toEqual(want);
    expect(() => op.add(v([2, 3]), v([2, 4]))).toThrow('Add: shapes [2, 3] and [2, 4] do not broadcast');
    expect(() => op.add(v([3, 2]), v([2, 2]))).toThrow('Add: shapes [3, 2] and [2, 2] do not broadcast');
    expect(op.add(unknown(g, v([2])), v([2])).shape).toBeNull();
    expect(op.add(v([2]), unknown(g, v([2]))).shape).toBeNull();
    const i = g.int64Initializer('k', [1, 2]);
    expect(() => op.add(v([2]), i)).toThrow('Add: element types differ (float, int64)');
  });

  it('Transpose, Reshape and MatMul shapes', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float', ['n', 3, 4]);
    expect(op.transpose(x, [2, 0, 1]).shape).toEqual([4, 'n', 3]);
    expect(op.transpose(unknown(g, x), [1, 0]).shape).toBeNull();
    expect(() => op.transpose(x, [0, 1, 3])).toThrow('Transpose.perm must be a permutation of 0..2, got [0,1,3]');
    expect(() => op.transpose(x, [1, 0])).toThrow('Transpose.perm must have 3 entries for input [n, 3, 4], got [1,0]');
    // Ranks past 10: the permutation check sorts numbers, not strings.
    const wide = g.input('wide', 'float', Array.from({ length: 11 }, (_, i) => i + 1));
    expect(op.transpose(wide, [10, ...Array.from({ length: 10 }, (_, i) => i)]).shape).toEqual([11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(op.reshape(x, [0, -1]).shape).toEqual(['n', null]);
    expect(op.reshape(x, [0, 0, 0, 0]).shape).toEqual(['n', 3, 4, null]);
    expect(op.reshape(f(g, 'k', [2, 3, 4]), [-1, 4]).shape).toEqual([6, 4]);
    expect(op.reshape(f(g, 'k2', [2, 3, 4]), [4, -1, 0]).shape).toEqual([4, 1.5, 4]);
    expect(op.reshape(f(g, 'k3', [2, 3, 4]), [24]).shape).toEqual([24]);
    expect(op.reshape(unknown(g, x), [2, -1]).shape).toBeNull();
    // The -1 is inferred only when every input dim is known: a symbolic or unknown one leaves it open.
    expect(op.reshape(g.input('sym', 'float', ['n', 6]), [2, -1]).shape).toEqual([2, null]);
    expect(op.reshape(g.input('unk', 'float', [null, 6]), [2, -1]).shape).toEqual([2, null]);
    // ... and only when every other target dim is known: a 0 past the input's rank copies nothing.
    expect(op.reshape(f(g, 'k5', [2, 3]), [-1, 0, 0]).shape).toEqual([null, 3, null]);
    const m = op.matmul(x, f(g, 'W', [4, 5]));
    expect(m.shape).toEqual(['n', 3, 5]);
    expect(op.matmul(unknown(g, x), f(g, 'W2', [4, 5])).shape).toBeNull();
    expect(op.matmul(g.input('s', 'float', ['n', 'k']), f(g, 'W3', [7, 2])).shape).toEqual(['n', 2]);
    // A symbolic inner dimension on either side is checked by the runtime, not refused here.
    expect(op.matmul(x, g.input('Bk', 'float', ['k', 6])).shape).toEqual(['n', 3, 6]);
    expect(() => op.matmul(x, f(g, 'W4', [1, 4, 5]))).toThrow('MatMul.B must have rank 2, got shape [1, 4, 5]');
    expect(() => op.matmul(x, f(new GraphBuilder(), 'W5', [4, 5]))).toThrow('MatMul: inputs belong to different graphs');
    // Called from JavaScript without values: named, not a TypeError.
    expect(() => op.matmul(null as never, null as never)).toThrow('MatMul: needs at least one input');
    expect(() => op.add(undefined as never, undefined as never)).toThrow('Add: needs at least one input');
    expect(op.relu(x).shape).toEqual(['n', 3, 4]);
  });

  it('Value.dim counts from either end; unknown is null', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float', ['n', 3, 4]);
    expect([x.dim(0), x.dim(2), x.dim(-1), x.dim(-3), x.dim(3), x.dim(-4)]).toEqual(['n', 4, 4, 'n', null, null]);
    expect(unknown(g, x).dim(0)).toBeNull();
    expect([x.rank, unknown(g, x).rank]).toEqual([3, null]);
  });

  it('assertShape and fmtShape', () => {
    expect(() => assertShape('w', [1, 'n', null], [1, 2, 3])).not.toThrow();
    expect(() => assertShape('w', [1, 2], [1, 2, 3])).toThrow('w: expected shape [1, 2, 3], got [1, 2]');
    expect(() => assertShape('w', [1, 2, 4], [1, 'h', 3])).toThrow('w: expected shape [1, h, 3], got [1, 2, 4]');
    expect(fmtShape(null)).toBe('[unknown rank]');
    expect(fmtShape([null, 'b', 0])).toBe('[?, b, 0]');
    expect(fmtShape([])).toBe('[]');
  });
});

describe('recurrent operators', () => {
  const setup = (I = 3, H = 2, D = 1, G = 4) => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float', ['t', 'n', I]);
    return { g, x, W: f(g, 'W', [D, G * H, I]), R: f(g, 'R', [D, G * H, H]) };
  };

  it('checks every input and attribute, naming it', () => {
    const { g, x, W, R } = setup();
    for (const h of [0, -1, 1.5, NaN]) expect(() => op.lstm({ X: x, W, R }, { hiddenSize: h })).toThrow(`LSTM.hidden_size must be a positive integer, got ${h}`);
    expect(() => op.lstm({ X: g.input('x2', 'float', ['n', 3]), W, R }, { hiddenSize: 2 })).toThrow('LSTM.X must have rank 3, got shape [n, 3]');
    expect(() => op.lstm({ X: g.input('x3', 'int32', ['t', 'n', 3]), W, R }, { hiddenSize: 2 })).toThrow('LSTM.X must be float, got int32');
    expect(() => op.lstm({ X: x, W, R, B: f(g, 'B8', [1, 8]) }, { hiddenSize: 2 })).toThrow('LSTM.B: expected shape [1, 16], got [1, 8]');
    expect(() => op.lstm({ X: x, W, R, sequenceLens: g.input('l64', 'int64', ['n']) }, { hiddenSize: 2 })).toThrow('LSTM.sequence_lens must be int32, got int64');
    const x4 = g.input('x4', 'float', ['t', 4, 3]);
    expect(() => op.lstm({ X: x4, W, R, sequenceLens: g.input('l3', 'int32', [3]) }, { hiddenSize: 2 })).toThrow('LSTM.sequence_lens: expected shape [4], got [3]');
    expect(() => op.lstm({ X: x4, W, R, initialH: f(g, 'h0', [1, 3, 2]) }, { hiddenSize: 2 })).toThrow('LSTM.initial_h: expected shape [1, 4, 2], got [1, 3, 2]');
    expect(() => op.lstm({ X: x4, W, R, initialC: f(g, 'c0', [1, 4, 3]) }, { hiddenSize: 2 })).toThrow('LSTM.initial_c: expected shape [1, 4, 2], got [1, 4, 3]');
    expect(() => op.lstm({ X: x, W, R, P: f(g, 'P', [1, 4]) }, { hiddenSize: 2 })).toThrow('LSTM.P: expected shape [1, 6], got [1, 4]');
    for (const clip of [0, -1, NaN]) expect(() => op.lstm({ X: x, W, R }, { hiddenSize: 2, clip })).toThrow(`LSTM.clip must be a positive number, got ${clip}`);
    expect(() => op.lstm({ X: x, W, R }, { hiddenSize: 2, direction: 'bidirectional' })).toThrow('LSTM.W: expected shape [2, 8, 3], got [1, 8, 3]');
    expect(() => op.lstm({ X: x, W, R: f(new GraphBuilder(), 'R', [1, 8, 2]) }, { hiddenSize: 2 })).toThrow('LSTM: inputs belong to different graphs');
    // Unknown shapes are not checked; the symbolic batch matches a fixed one.
    expect(op.lstm({ X: unknown(g, x), W: unknown(g, W), R: unknown(g, R), B: unknown(g, W), sequenceLens: g.input('l', 'int32', ['n']), initialH: unknown(g, W), initialC: unknown(g, W), P: unknown(g, W) }, { hiddenSize: 2 }).Y!.shape).toEqual([null, 1, null, 2]);
  });

  it('activations per direction: LSTM 3, GRU 2, RNN 1', () => {
    const l = setup(3, 2, 2);
    expect(() => op.lstm({ X: l.x, W: l.W, R: l.R }, { hiddenSize: 2, direction: 'bidirectional', activations: ['Sigmoid', 'Tanh', 'Tanh'] })).toThrow('LSTM.activations must list 6 functions (3 per direction), got 3');
    const gr = setup(3, 2, 2, 3);
    expect(() => op.gru({ X: gr.x, W: gr.W, R: gr.R }, { hiddenSize: 2, direction: 'bidirectional', activations: ['Sigmoid', 'Tanh'] })).toThrow('GRU.activations must list 4 functions (2 per direction), got 2');
    const r = setup(3, 2, 1, 1);
    expect(() => op.rnn({ X: r.x, W: r.W, R: r.R }, { hiddenSize: 2, activations: ['Tanh', 'Tanh'] })).toThrow('RNN.activations must list 1 functions (1 per direction), got 2');
    expect(op.rnn({ X: r.x, W: r.W, R: r.R }, { hiddenSize: 2, activations: ['Relu'] }).Y!.shape).toEqual(['t', 1, 'n', 2]);
  });

  it('writes the node: positional inputs, requested outputs, attributes with their ONNX types', () => {
    const { g, x, W, R } = setup();
    const B = f(g, 'B', [1, 16]);
    const h0 = f(g, 'h0', [1, 1, 2]);
    const P = f(g, 'P', [1, 6]);
    const r = op.lstm({ X: x, W, R, B, initialH: h0, P }, { hiddenSize: 2, direction: 'reverse', clip: 1.5, inputForget: true }, { Y_h: true, Y_c: true });
    expect(r.Y).toBeNull();
    expect(r.Y_h!.shape).toEqual([1, 'n', 2]);
    expect(r.Y_c!.shape).toEqual([1, 'n', 2]);
    g.output(r.Y_h!, 'h', [1, 'n', 2]);
    g.output(r.Y_c!, 'c', [1, 'n', 2]);
    const gr = setup(3, 2, 1, 3);
    const gy = op.gru({ X: gr.x, W: gr.W, R: gr.R }, { hiddenSize: 2, linearBeforeReset: 1 });
    gr.g.output(gy.Y!, 'y', ['t', 1, 'n', 2]);
    const noLbr = op.gru({ X: gr.x, W: gr.W, R: gr.R }, { hiddenSize: 2 }, { Y: true, Y_h: true });
    expect(noLbr.Y_h!.shape).toEqual([1, 'n', 2]);
    gr.g.output(noLbr.Y_h!, 'h', [1, 'n', 2]);
    const p = viewProto(g.build());
    const n = p.graph.node[0];
    expect([n.opType, n.name, n.input, n.output]).toEqual(['LSTM', 'lstm_1', ['x', 'W', 'R', 'B', '', 'h0', '', 'P'], ['', 'h', 'c']]);
    const attr = Object.fromEntries(n.attribute.map((a) => [a.name, a]));
    expect(Object.keys(attr)).toEqual(['hidden_size', 'direction', 'clip', 'input_forget']);
    expect([attr.hidden_size.type, Number(attr.hidden_size.i)]).toEqual([2, 2]);
    expect([attr.direction.type, dec.decode(attr.direction.s)]).toEqual([3, 'reverse']);
    expect([attr.clip.type, attr.clip.f]).toEqual([1, 1.5]);
    expect([attr.input_forget.type, Number(attr.input_forget.i)]).toEqual([2, 1]);
    const pg = viewProto(gr.g.build());
    const lbr = (k: number) => Number(pg.graph.node[k].attribute.find((a) => a.name === 'linear_before_reset')!.i);
    expect([lbr(0), lbr(1)]).toEqual([1, 0]);
    expect(pg.graph.node[0].attribute.map((a) => [a.name, a.name === 'direction' ? dec.decode(a.s) : null])).toEqual([['hidden_size', null], ['direction', 'forward'], ['linear_before_reset', null]]);
    expect(pg.graph.node.map((k) => k.output)).toEqual([['y'], ['GRU_1', 'h']]);
    // GRU and RNN have no initial_c or P input: an inputs object that carries them (not a literal,
    // so TypeScript lets it through) still writes X, W, R only.
    for (const kind of ['gru', 'rnn'] as const) {
      const s3 = setup(3, 2, 1, kind === 'gru' ? 3 : 1);
      const inputs = { X: s3.x, W: s3.W, R: s3.R, initialC: unknown(s3.g, s3.x), P: unknown(s3.g, s3.x) };
      s3.g.output(op[kind](inputs, { hiddenSize: 2 }).Y!, 'y', ['t', 1, 'n', 2]);
      expect(viewProto(s3.g.build()).graph.node.filter((k) => k.opType !== 'Foo').map((k) => [k.opType, k.input]), kind).toEqual([[kind.toUpperCase(), ['x', 'W', 'R']]]);
    }
    // RNN activations as a strings attribute; LSTM without input_forget has no such attribute.
    const rn = setup(3, 2, 1, 1);
    rn.g.output(op.rnn({ X: rn.x, W: rn.W, R: rn.R }, { hiddenSize: 2, activations: ['Relu'] }).Y!, 'y', ['t', 1, 'n', 2]);
    const ra = viewProto(rn.g.build()).graph.node[0].attribute.find((a) => a.name === 'activations')!;
    expect([ra.type, ra.strings!.map((s) => dec.decode(s))]).toEqual([8, ['Relu']]);
    const plain = setup();
    plain.g.output(op.lstm({ X: plain.x, W: plain.W, R: plain.R }, { hiddenSize: 2, inputForget: false }).Y!, 'y', ['t', 1, 'n', 2]);
    expect(viewProto(plain.g.build()).graph.node[0].attribute.map((a) => a.name)).toEqual(['hidden_size', 'direction']);
  });
});

describe('graph builder', () => {
  it('names: fresh initializer names skip taken ones, node outputs are numbered per op type, nodes per op type', () => {
    const g = new GraphBuilder();
    const x = g.input('shape_1', 'float', [2, 3]);
    g.floatInitializer('Relu_1', new Float32Array(1), [1]);
    const r = op.reshape(x, [3, 2]);
    const a = op.relu(r);
    const b = op.relu(a);
    g.output(op.tanh(b), 'y', [3, 2]);
    const p = viewProto(g.build({ graphName: 'gname', opset: 15, producerName: 'me', producerVersion: '9', docString: 'doc', metadata: [['b', '2'], ['a', '1']] }));
    expect(p.graph.initializer.map((t) => t.name)).toEqual(['Relu_1', 'shape_2']);
    expect(p.graph.node.map((n) => [n.name, n.opType, n.input, n.output])).toEqual([
      ['reshape_1', 'Reshape', ['shape_1', 'shape_2'], ['Reshape_1']],
      ['relu_1', 'Relu', ['Reshape_1'], ['Relu_2']],
      ['relu_2', 'Relu', ['Relu_2'], ['Relu_3']],
      ['tanh_1', 'Tanh', ['Relu_3'], ['y']],
    ]);
    const t = p.graph.initializer[1] as unknown as { dataType: number; dims: number[]; int64Data: number[] };
    expect([t.dataType, t.dims.map(Number), t.int64Data.map(Number)]).toEqual([7, [2], [3, 2]]);
    expect([(p as unknown as { graph: { name: string } }).graph.name, Number(p.opsetImport[0].version), p.producerName]).toEqual(['gname', 15, 'me']);
    const full = p as unknown as { producerVersion: string; docString: string };
    expect([full.producerVersion, full.docString]).toEqual(['9', 'doc']);
    expect(p.metadataProps.map((m) => [m.key, m.value])).toEqual([['b', '2'], ['a', '1']]);
    const d = viewProto(new GraphBuilder().build()) as unknown as { graph: { name: string }; producerName: string; producerVersion: string; docString: string; opsetImport: { version: number }[]; metadataProps: unknown[] };
    expect([d.graph.name, d.producerName, d.producerVersion, d.docString, Number(d.opsetImport[0].version), d.metadataProps]).toEqual(['graph', '', '', '', 14, []]);
  });

  it('fresh names skip the names of initializers (and inputs) already in the graph', () => {
    const g = new GraphBuilder();
    g.int64Initializer('shape_1', [2, 3]);
    g.floatInitializer('shape_3', new Float32Array(1), [1]);
    g.input('shape_4', 'float', [1]);
    // shape_1 and shape_3 are initializers, shape_4 an input: the free ones are 2, then 5.
    expect([g.freshName('shape'), g.freshName('shape')]).toEqual(['shape_2', 'shape_5']);
    const r = new GraphBuilder();
    const x = r.input('x', 'float', [2, 3]);
    r.int64Initializer('shape_1', [6]);
    r.output(op.reshape(x, [3, 2]), 'y', [3, 2]);
    expect(viewProto(r.build()).graph.initializer.map((t) => t.name)).toEqual(['shape_1', 'shape_2']);
  });

  it('a node output that already carries the output name is used as it is, with no Identity', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float', [2]);
    const r = op.relu(x);
    r.name = 'y';
    expect(g.output(r, 'y', [2])).toBe(r);
    const p = viewProto(g.build());
    expect(p.graph.node.map((n) => [n.opType, n.input, n.output])).toEqual([['Relu', ['x'], ['y']]]);
    expect(p.graph.output.map((o) => o.name)).toEqual(['y']);
    // An input (or initializer) always gets an Identity, even under its own name (a graph that
    // build() then refuses, as the name is assigned twice): output returns the Identity's output.
    const h = new GraphBuilder();
    const hx = h.input('x', 'float', [2]);
    const hy = h.output(hx, 'x', [2]);
    expect([hy === hx, hy.source, hy.name]).toEqual([false, 'node', 'x']);
    expect(() => h.build()).toThrow('graph: name "x" is assigned twice (graph output)');
  });

  it('value infos: fixed dims, symbolic dims, unknown dims', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float', [2, 'n', null]);
    g.input('l', 'int32', ['n']);
    g.output(op.relu(x), 'y', [2, 'n', null]);
    const p = viewProto(g.build());
    const info = (v: (typeof p.graph.input)[number]) => (v as unknown as { type: { tensorType: { elemType: number } } }).type.tensorType.elemType;
    expect(p.graph.input.map(info)).toEqual([1, 6]);
    expect(p.graph.input[0].type.tensorType.shape.dim.map((dm) => [dm.dimValue === undefined || dm.dimValue === null ? null : Number(dm.dimValue), dm.dimParam || null])).toEqual([[2, null], [null, 'n'], [null, null]]);
    expect(p.graph.output.map((o) => o.name)).toEqual(['y']);
    // In the ModelProto object itself an unknown dim is an empty Dimension: no dim_param set,
    // not even to null, for code that reads the proto before it is encoded.
    const built = g.build();
    const dims = (v: OnnxTypes.IValueInfoProto) => v.type!.tensorType!.shape!.dim!;
    expect(dims(built.graph!.input![0])).toStrictEqual([{ dimValue: 2 }, { dimParam: 'n' }, {}]);
    expect(dims(built.graph!.output![0])).toStrictEqual([{ dimValue: 2 }, { dimParam: 'n' }, {}]);
  });

  it('activations: one node each, same shape; Softmax over the last axis unless told', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float', ['n', 3]);
    const outs = [op.relu(x), op.tanh(x), op.sigmoid(x), op.softmax(x), op.softmax(x, { axis: 0 })];
    expect(outs.map((v) => v.shape)).toEqual(Array(5).fill(['n', 3]));
    outs.forEach((v, i) => g.output(v, `y${i}`, ['n', 3]));
    const nodes = viewProto(g.build()).graph.node;
    expect(nodes.map((n) => [n.opType, n.input, n.attribute.map((a) => [a.name, a.type, Number(a.i)])])).toEqual([
      ['Relu', ['x'], []],
      ['Tanh', ['x'], []],
      ['Sigmoid', ['x'], []],
      ['Softmax', ['x'], [['axis', 2, -1]]],
      ['Softmax', ['x'], [['axis', 2, 0]]],
    ]);
  });

  it('every attribute type', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float', [1]);
    const [y] = g.node('Custom', [x], [{ elemType: 'float', shape: [1] }], { i: { int: 3 }, f: { float: 0.5 }, is: { ints: [1, 2] }, fs: { floats: [0.25, 4] }, s: { string: 'hé' }, ss: { strings: ['a', 'b'] } });
    g.output(y!, 'y', [1]);
    const at = viewProto(g.build()).graph.node[0].attribute as unknown as { name: string; type: number; i?: number; f?: number; ints?: number[]; floats?: number[]; s?: Uint8Array; strings?: Uint8Array[] }[];
    expect(at.map((a) => [a.name, a.type])).toEqual([['i', 2], ['f', 1], ['is', 7], ['fs', 6], ['s', 3], ['ss', 8]]);
    expect([Number(at[0].i), at[1].f, at[2].ints!.map(Number), at[3].floats, dec.decode(at[4].s), at[5].strings!.map((s) => dec.decode(s))]).toEqual([3, 0.5, [1, 2], [0.25, 4], 'hé', ['a', 'b']]);
  });

  it('outputs: a node output is renamed in place, anything else goes through Identity; shapes and names are checked', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float', [2]);
    const k = g.floatInitializer('k', new Float32Array(2), [2]);
    const r = op.relu(x);
    g.output(r, 'a', [2]);
    g.output(r, 'b', [2]); // already named a: an Identity gives it a second name
    g.output(k, 'c', ['n']);
    expect(() => g.output(op.relu(x), 'd', [3])).toThrow('output d: expected shape [3], got [2]');
    g.output(unknown(g, x), 'e', [7]);
    expect(() => g.node('Relu', [new GraphBuilder().input('z', 'float', [1])], [null])).toThrow('Relu: an input value belongs to another graph');
    expect(() => g.output(new GraphBuilder().input('z', 'float', [2]), 'f', [2])).toThrow('output f: the value belongs to another graph');
    const p = viewProto(g.build());
    expect(p.graph.node.map((n) => [n.opType, n.input, n.output])).toEqual([
      ['Relu', ['x'], ['a']],
      ['Identity', ['a'], ['b']],
      ['Identity', ['k'], ['c']],
      ['Relu', ['x'], ['Relu_1']],
      ['Foo', ['x'], ['e']],
    ]);
    expect(p.graph.output.map((o) => o.name)).toEqual(['a', 'b', 'c', 'e']);
    const twice = new GraphBuilder();
    const t = twice.input('x', 'float', [1]);
    twice.output(op.relu(t), 'x', [1]);
    expect(() => twice.build()).toThrow('graph: name "x" is assigned twice (graph output)');
    const inits = new GraphBuilder();
    inits.floatInitializer('w', new Float32Array(1), [1]);
    inits.floatInitializer('w', new Float32Array(1), [1]);
    expect(() => inits.build()).toThrow('graph: name "w" is assigned twice (initializer)');
    const ins = new GraphBuilder();
    ins.input('v', 'float', [1]);
    ins.input('v', 'float', [1]);
    expect(() => ins.build()).toThrow('graph: name "v" is assigned twice (graph input)');
  });

  it('initializers keep their own copies of dims and data: later edits of the caller\'s arrays change nothing', () => {
    const g = new GraphBuilder();
    const fd = [2];
    const k = g.floatInitializer('k', Float32Array.of(1, 2), fd);
    const idata = [3, 4];
    const idims = [2];
    const s = g.int64Initializer('s', idata, idims);
    fd[0] = 9;
    idims[0] = 9;
    idata[0] = 7;
    expect([k.shape, s.shape]).toEqual([[2], [2]]);
    const t = viewProto(g.build()).graph.initializer[1] as unknown as { int64Data: number[] };
    expect(t.int64Data.map(Number)).toEqual([3, 4]);
  });

  it('initializer sizes, raw_data bytes and back', () => {
    const g = new GraphBuilder();
    expect(() => g.int64Initializer('s', [1, 2, 3], [2])).toThrow('initializer s: dims [2] need 2 elements, got 3');
    expect(() => g.floatInitializer('f', new Float32Array(6), [2, 2])).toThrow('initializer f: dims [2,2] need 4 elements, got 6');
    expect(g.floatInitializer('scalar', Float32Array.of(5), []).shape).toEqual([]);
    const all = Float32Array.of(1, -2.5, 3e38, 7);
    const bytes = float32ToLeBytes(all.subarray(1, 3));
    expect(bytes.length).toBe(8);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect([dv.getFloat32(0, true), dv.getFloat32(4, true)]).toEqual([-2.5, all[2]]);
    expect(Array.from(leBytesToFloat32(bytes))).toEqual([-2.5, all[2]]);
    const into = new Float32Array(4);
    leBytesToFloat32(bytes, into.subarray(1, 3));
    expect(Array.from(into)).toEqual([0, -2.5, all[2], 0]);
    // A byte view that starts inside a bigger buffer.
    const padded = new Uint8Array(12);
    padded.set(bytes, 3);
    expect(Array.from(leBytesToFloat32(padded.subarray(3, 11)))).toEqual([-2.5, all[2]]);
    expect(() => leBytesToFloat32(new Uint8Array(5))).toThrow('raw_data length must be a multiple of 4 for float32, got 5');
    expect(() => leBytesToFloat32(new Uint8Array(8), new Float32Array(3))).toThrow('raw_data holds 2 float32 values, expected 3');
  });

  // A little-endian host copies the bytes as they are, so raw_data round-trips bit for bit, even
  // a signalling NaN (0x7f800001), which any float32 → number → float32 conversion (the portable
  // DataView path a big-endian host takes) would quieten to 0x7fc00001.
  // The module is loaded afresh here so that its byte-order probe runs inside this test (per-test
  // coverage, as Stryker measures it, then counts the probe as this test's).
  it.runIf(new Uint8Array(Uint16Array.of(1).buffer)[0] === 1)('on a little-endian host the raw_data copy is bit for bit, both ways', async () => {
    vi.resetModules();
    const le = await import('../src/graph/builder.js');
    const bits = Uint32Array.of(0x7f800001, 0x3f800000, 0xc0200000);
    const bytes = le.float32ToLeBytes(new Float32Array(bits.buffer));
    expect(Array.from(bytes)).toEqual([0x01, 0x00, 0x80, 0x7f, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0]);
    const back = le.leBytesToFloat32(bytes);
    expect(Array.from(new Uint32Array(back.buffer)).map((b) => b.toString(16))).toEqual(['7f800001', '3f800000', 'c0200000']);
  });

  it('on a big-endian host (simulated) raw_data is still little-endian, byte for byte', async () => {
    // builder.ts probes the host's byte order once, at load: load it afresh under a Uint16Array
    // that stores its elements big-endian, so that the portable per-element path is the one taken.
    const RealU16 = Uint16Array;
    function BigEndianU16(this: unknown, ...args: unknown[]) {
      if (!Array.isArray(args[0])) return new RealU16(...(args as [number]));
      const b = new Uint8Array(args[0].length * 2);
      args[0].forEach((v: number, i: number) => { b[2 * i] = v >> 8; b[2 * i + 1] = v & 0xff; });
      return new RealU16(b.buffer);
    }
    vi.resetModules();
    vi.stubGlobal('Uint16Array', BigEndianU16);
    let be: typeof import('../src/graph/builder.js');
    try {
      be = await import('../src/graph/builder.js');
    } finally {
      vi.unstubAllGlobals();
    }
    // 1 = 00 00 80 3f, -2.5 = 00 00 20 c0 (IEEE 754, least significant byte first).
    const bytes = be.float32ToLeBytes(Float32Array.of(1, -2.5));
    expect(Array.from(bytes)).toEqual([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0]);
    expect(Array.from(be.leBytesToFloat32(Uint8Array.of(0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0)))).toEqual([1, -2.5]);
    const into = new Float32Array(3);
    be.leBytesToFloat32(bytes, into.subarray(1));
    expect(Array.from(into)).toEqual([0, 1, -2.5]);
  });
});
