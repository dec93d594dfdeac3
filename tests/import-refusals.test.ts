// What the importer (src/graph/import.ts) refuses, and where: each foreign pattern rnnx cannot
// train is named by the node that stops it, its op type and the reason, exactly; the graph-level
// checks (outputs, inputs, opset) name the graph. Patterns it accepts beside each refusal are
// imported with the expected spec, so a test fails both when a refusal is lost and when a
// legitimate graph is refused.

import { describe, expect, it } from 'vitest';
import { checkOnnxImport, importOnnxModel } from '../src/graph/import.js';
import { at, DT, f32, H, i64, I, importError, model, nd, REF, vi, type Attr, type ModelParts, type Node, type Tensor } from './import-helpers.js';

const xt = (): Node => nd('Transpose', ['x'], ['xt'], [at.ints('perm', [1, 0, 2])], 'xt');
const lstm = (inputs: string[], attrs: Attr[] = [], outputs = ['', 'yh'], name = 'lstm'): Node => nd('LSTM', inputs, outputs, [at.i('hidden_size', H), ...attrs], name);
/** [D, N, H] final state → [N, D*H] named `to`. */
const lastOf = (from: string, to = 'y'): Node[] => [nd('Transpose', [from], [`${from}_t`], [at.ints('perm', [1, 0, 2])], `${from}_t`), nd('Reshape', [`${from}_t`, 'flat'], [to], [], `${to}_reshape`)];
const weights = (): Tensor[] => [f32('W', [1, 4 * H, I], REF.W), f32('R', [1, 4 * H, H], REF.R), f32('B', [1, 8 * H], REF.B), i64('flat', [0, -1])];
const base = (extra: Partial<ModelParts> = {}, lstmAttrs: Attr[] = [], lstmInputs = ['xt', 'W', 'R', 'B']): ModelParts => ({
  nodes: [xt(), lstm(lstmInputs, lstmAttrs), ...lastOf('yh')],
  inits: weights(),
  ...extra,
});

function refused(p: ModelParts, node: string, opType: string, reason: string) {
  const proto = model(p);
  const e = importError(proto);
  expect({ node: e.node, opType: e.opType, reason: e.reason }).toEqual({ node, opType, reason });
  expect(e.message).toBe(`bad.onnx: cannot import node ${JSON.stringify(node)} (${opType}) for training: ${reason}`);
  expect(checkOnnxImport(proto, 'bad.onnx')).toEqual({ importable: false, node, opType, reason, message: e.message.replace('bad.onnx', 'bad.onnx') });
}
const specOf = (p: ModelParts) => importOnnxModel(model(p)).data.spec;

describe('the graph', () => {
  it('imports the plain graph these tests vary', () => {
    const { data, info } = importOnnxModel(model(base()));
    expect(data.spec).toMatchObject({ inputSize: I, layers: [{ kind: 'lstm', units: H, direction: 'forward', returnSequences: false, peepholes: false, clip: null, inputForget: false }] });
    expect(data.spec.layers).toHaveLength(1);
    expect(info).toEqual({ producer: 'test 1', opset: 14, inputLayout: 'batch-first', outputLayout: null, sequenceLens: false, droppedOutputs: [], stateInputs: [], layerNodes: ['lstm'] });
    expect(checkOnnxImport(model(base()))).toMatchObject({ importable: true, spec: data.spec, info });
  });

  it('outputs, opset and inputs', () => {
    refused(base({ outputs: [] }), '(graph)', 'Graph', 'the graph has no outputs');
    for (const opset of [6, 22]) refused(base({ opset }), '(graph)', 'Model', `opset ${opset} is outside the range the importer reads (7 to 21)`);
    for (const opset of [7, 21]) expect(specOf(base({ opset })).layers).toHaveLength(1);
    refused(base({ inputs: [vi('x', DT.INT64, ['batch', 'time', 2])] }), '(graph)', 'Graph', 'the graph has no float32 input');
    refused(base({ inputs: [vi('x', DT.FLOAT, ['batch', 2])] }), '(graph)', 'Graph', 'input "x" must have rank 3 ([batch, time, features] or [time, batch, features]), got rank 2');
    refused(base({ inputs: [vi('x', DT.FLOAT, null)] }), '(graph)', 'Graph', 'input "x" must have rank 3 ([batch, time, features] or [time, batch, features]), got rank 0');
    refused(base({ inputs: [vi('x', DT.FLOAT, ['batch', 'time', 'f'])] }), '(graph)', 'Graph', 'input "x" must have a fixed feature size (its last dimension), got f');
    refused(base({ inputs: [vi('x', DT.FLOAT, ['batch', 'time', 0])] }), '(graph)', 'Graph', 'input "x" must have a fixed feature size (its last dimension), got unknown');
    // The first float input is x; integer inputs are sequence_lens; an initializer listed as an input is not one.
    const listed = base({ inputs: [vi('W', DT.FLOAT, [1, 8, 2]), vi('lens', DT.INT32, ['batch']), vi('x', DT.FLOAT, ['batch', 'time', 2])] });
    expect(specOf(listed).inputSize).toBe(2);
  });

  it('the opset is the default domain\'s, spelt "" or "ai.onnx"; without one it is 1', () => {
    const p = model(base());
    p.opsetImport = [{ domain: 'com.example', version: 14 }, { domain: 'ai.onnx', version: 12 }];
    expect(importOnnxModel(p).info.opset).toBe(12);
    p.opsetImport = [{ domain: 'com.example', version: 14 }];
    const e = (() => { try { importOnnxModel(p); } catch (err) { return err as Error; } return null; })();
    expect(e?.message).toBe('model: cannot import node "(graph)" (Model) for training: opset 1 is outside the range the importer reads (7 to 21)');
  });

  it('unknown operators (with their domain), unknown inputs, outputs that do not depend on x', () => {
    refused(base({ nodes: [xt(), lstm(['xt', 'W', 'R', 'B']), ...lastOf('yh', 'z'), { ...nd('Foo', ['z'], ['y'], [], 'foo'), domain: 'com.example' }] }), 'foo', 'com.example.Foo',
      'operator com.example.Foo is not one the importer maps (recurrent: LSTM, GRU, RNN; dense: Gemm, MatMul + Add; activations: Relu, Tanh, Sigmoid, Softmax; glue: Transpose, Squeeze, Unsqueeze, Reshape, Flatten, Slice, Concat, Gather, Shape, Constant, ConstantOfShape, Expand, Cast, Identity, Dropout)');
    // A node in the "ai.onnx" domain is a standard one.
    const std = base();
    std.nodes[0] = { ...std.nodes[0], domain: 'ai.onnx' };
    expect(specOf(std).layers).toHaveLength(1);
    refused(base({}, [], ['xt', 'Wmissing', 'R', 'B']), 'lstm', 'LSTM', 'input "Wmissing" is not produced by any node, initializer or graph input');
    refused(base({ nodes: [nd('Identity', ['W'], ['y'], [], 'const_out')] }), 'const_out', 'Identity', 'output "y": the first graph output does not depend on the input');
    // The first output is x itself: no node writes it.
    refused(base({ outputs: ['x'] }), 'x', 'Output', 'output "x": no LSTM, GRU or RNN node lies between the input and the first output');
    refused(base({ nodes: [nd('MatMul', ['x', 'Wd'], ['y'], [], 'mm')], inits: [f32('Wd', [2, 2], [1, 0, 0, 1])] }), 'mm', 'MatMul', 'output "y": no LSTM, GRU or RNN node lies between the input and the first output');
    // Only what the first output needs is read: a broken second branch is dropped and reported.
    const extra = base({ nodes: [...base().nodes, nd('Foo', ['x'], ['z'], [], 'foo')], outputs: ['y', 'z'] });
    expect(importOnnxModel(model(extra)).info.droppedOutputs).toEqual(['z']);
  });

  it('an unnamed node is named by its first output, else by its position', () => {
    const unnamed = (outputs: string[]) => base({ nodes: [xt(), { ...lstm(['xt', 'W', 'R', 'B'], [at.s('direction', 'up')]), name: '', output: outputs }, ...lastOf('yh')] });
    refused(unnamed(['Y', 'yh']), 'Y', 'LSTM', 'direction must be forward, reverse or bidirectional, got "up"');
    refused(unnamed(['', 'yh']), '#1', 'LSTM', 'direction must be forward, reverse or bidirectional, got "up"');
    // The node writing the output is named the same way in output errors.
    const out = base({ nodes: [{ ...nd('Identity', ['W'], ['y']), name: '' }] });
    refused(out, 'y', 'Identity', 'output "y": the first graph output does not depend on the input');
    const out2 = base({ nodes: [xt(), { ...nd('Identity', ['W'], ['y']), name: '' }] });
    refused(out2, 'y', 'Identity', 'output "y": the first graph output does not depend on the input');
  });
});

describe('recurrent nodes', () => {
  it('direction, layout and weights', () => {
    refused(base({}, [at.i('layout', 2)]), 'lstm', 'LSTM', 'layout must be 0 or 1, got 2');
    // Before opset 14 there is no layout attribute: it is not read.
    expect(specOf(base({ opset: 13 }, [at.i('layout', 2)])).layers).toHaveLength(1);
    refused(base({}, [], ['xt', 'xt', 'R', 'B']), 'lstm', 'LSTM', 'LSTM.W must be a constant (initializer, Constant node or folded glue), got a value computed from the input');
    refused(base({}, [], ['xt', 'W', 'xt', 'B']), 'lstm', 'LSTM', 'LSTM.R must be a constant (initializer, Constant node or folded glue), got a value computed from the input');
    refused(base({}, [], ['xt', 'W', 'R', 'xt']), 'lstm', 'LSTM', 'LSTM.B must be a constant (initializer, Constant node or folded glue), got a value computed from the input');
    // layout 1 reads x [batch, time, features] as it is; its Y_h is [batch, directions, hidden].
    const batchFirst: ModelParts = { nodes: [lstm(['x', 'W', 'R', 'B'], [at.i('layout', 1)]), nd('Reshape', ['yh', 'flat'], ['y'])], inits: weights() };
    const bf = importOnnxModel(model(batchFirst));
    expect(bf.data.spec.layers).toMatchObject([{ kind: 'lstm', units: H, returnSequences: false }]);
    expect(bf.info).toMatchObject({ inputLayout: 'batch-first', outputLayout: null });
    refused(base({ inits: [...weights(), i64('Ri', new Array(16).fill(0), [1, 8, 2])] }, [], ['xt', 'W', 'Ri', 'B']), 'lstm', 'LSTM', 'LSTM.W and LSTM.R must be float constants');
    refused(base({}, [], ['xt', '', 'R', 'B']), 'lstm', 'LSTM', 'LSTM.W and LSTM.R must be float constants');
    refused(base({}, [at.s('direction', 'bidirectional')]), 'lstm', 'LSTM', 'LSTM.W must have dims [2, 4*hidden_size, input_size], got [1,8,2]');
    refused(base({ inits: [...weights(), f32('W2', [1, 8], REF.W.slice(0, 8))] }, [], ['xt', 'W2', 'R', 'B']), 'lstm', 'LSTM', 'LSTM.W must have dims [1, 4*hidden_size, input_size], got [1,8]');
    refused(base({}, [at.i('hidden_size', 3)]), 'lstm', 'LSTM', 'LSTM.W must have dims [1, 4*hidden_size, input_size], got [1,8,2]');
    const rows6 = base({ inits: [...weights(), f32('W6', [1, 6, 2], REF.W.slice(0, 12))] });
    rows6.nodes[1] = nd('LSTM', ['xt', 'W6', 'R', 'B'], ['', 'yh'], [], 'lstm');
    refused(rows6, 'lstm', 'LSTM', 'LSTM.W has 6 rows, expected a positive multiple of 4');
    // No rows at all: 0 is a multiple of every gate count, but no hidden size follows from it.
    for (const [op, G] of [['LSTM', 4], ['GRU', 3], ['RNN', 1]] as const) {
      const rows0 = base({ inits: [...weights(), f32('W0', [1, 0, 2], []), f32('R0', [1, G * H, H], new Array(G * H * H).fill(0)), f32('B0', [1, 2 * G * H], new Array(2 * G * H).fill(0))] });
      rows0.nodes[1] = nd(op, ['xt', 'W0', 'R0', 'B0'], ['', 'yh'], [], 'rec');
      refused(rows0, 'rec', op, `${op}.W has 0 rows, expected a positive multiple of ${G}`);
    }
    // Without hidden_size, W's rows give it.
    const noH = base();
    noH.nodes[1] = nd('LSTM', ['xt', 'W', 'R', 'B'], ['', 'yh'], [], 'lstm');
    expect(specOf(noH).layers[0]).toMatchObject({ units: H });
    refused(base({ inits: [...weights(), f32('R3', [1, 8, 3], new Array(24).fill(0))] }, [], ['xt', 'W', 'R3', 'B']), 'lstm', 'LSTM', 'LSTM.R must have dims [1, 8, 2], got [1,8,3]');
    refused(base({ inits: [...weights(), f32('B8', [1, 8], REF.B.slice(0, 8))] }, [], ['xt', 'W', 'R', 'B8']), 'lstm', 'LSTM', 'LSTM.B must have dims [1, 16], got [1,8]');
    refused(base({ inits: [...weights(), f32('W3', [1, 8, 3], new Array(24).fill(0))] }, [], ['xt', 'W3', 'R', 'B']), 'lstm', 'LSTM', 'LSTM.W expects 3 input features, X has 2');
  });

  it('sequence_lens, initial states and peepholes', () => {
    refused(base({}, [], ['xt', 'W', 'R', 'B', 'xt']), 'lstm', 'LSTM', 'LSTM.sequence_lens must be the graph\'s integer input');
    const inputs = [vi('x', DT.FLOAT, ['batch', 'time', 2]), vi('h0', DT.FLOAT, [1, 'batch', 2]), vi('h2', DT.FLOAT, [2, 'batch', 2]), vi('h3', DT.FLOAT, [1, 'batch', 3]), vi('hq', DT.FLOAT, [1, 'batch', 'h'])];
    const withState = (h: string, c = '') => base({ inputs }, [], ['xt', 'W', 'R', 'B', '', h, c]);
    expect(importOnnxModel(model(withState('h0'))).info.stateInputs).toEqual([{ layer: 0, h: { input: 'h0', rows: [0] }, c: null }]);
    // An unknown hidden size is taken on trust; a fixed one must match.
    expect(importOnnxModel(model(withState('', 'hq'))).info.stateInputs).toEqual([{ layer: 0, h: null, c: { input: 'hq', rows: [0] } }]);
    refused(withState('h2'), 'lstm', 'LSTM', 'LSTM.initial_h takes 2 rows of graph input "h2", the node has 1 direction(s)');
    refused(withState('h3'), 'lstm', 'LSTM', 'LSTM.initial_h: graph input "h3" has hidden size 3, the node 2');
    refused(withState('', 'h3'), 'lstm', 'LSTM', 'LSTM.initial_c: graph input "h3" has hidden size 3, the node 2');
    refused(base({}, [], ['xt', 'W', 'R', 'B', '', 'xt']), 'lstm', 'LSTM',
      'LSTM.initial_h is not zero: rnnx layers start from a zero state or from states fed as graph inputs (a state computed in the graph cannot be imported)');
    refused(base({ inits: [...weights(), f32('c0', [1, 1, 2], [0, 1])] }, [], ['xt', 'W', 'R', 'B', '', '', 'c0']), 'lstm', 'LSTM',
      'LSTM.initial_c is not zero: rnnx layers start from a zero state or from states fed as graph inputs (a learned or constant initial state cannot be imported)');
    // Zero constants are the default state.
    const zeros = base({ inits: [...weights(), f32('z', [1, 1, 2], [0, 0])] }, [], ['xt', 'W', 'R', 'B', '', 'z', 'z']);
    expect(importOnnxModel(model(zeros)).info.stateInputs).toEqual([]);
    // Gather / Slice pick rows of a state input; other selections are refused.
    const rows = (n: Node, p: ModelParts = base({ inputs })) => ({ ...p, nodes: [n, ...p.nodes.slice(0, 1), lstm(['xt', 'W', 'R', 'B', '', 'hs']), ...p.nodes.slice(2)], inits: [...(p.inits ?? []), i64('i1', [1]), i64('e2', [2]), i64('a0', [0]), i64('a1', [1])] });
    expect(importOnnxModel(model(rows(nd('Gather', ['h2', 'i1'], ['hs'])))).info.stateInputs[0].h).toEqual({ input: 'h2', rows: [1] });
    expect(importOnnxModel(model(rows(nd('Slice', ['h2', 'i1', 'e2'], ['hs'])))).info.stateInputs[0].h).toEqual({ input: 'h2', rows: [1] });
    expect(importOnnxModel(model(rows(nd('Slice', ['h2', 'i1', 'e2', 'a0'], ['hs'])))).info.stateInputs[0].h).toEqual({ input: 'h2', rows: [1] });
    refused(rows(nd('Slice', ['h2', 'i1', 'e2', 'a1'], ['hs'], [], 'sl')), 'sl', 'Slice', 'initial states may only be sliced by rows (axis 0)');
    refused(rows(nd('Gather', ['h2', 'i1'], ['hs'], [at.i('axis', 1)], 'ga')), 'ga', 'Gather', 'initial states may only be selected by rows (Gather along axis 0 with a list of indices)');
    refused(rows(nd('Gather', ['h2', 'e2'], ['hs'], [], 'ga')), 'ga', 'Gather', 'Gather index 2 out of range for 2 state rows');
    const scalar = rows(nd('Gather', ['h2', 'one'], ['hs'], [], 'ga'));
    refused({ ...scalar, inits: [...scalar.inits!, i64('one', [1], [])] }, 'ga', 'Gather', 'initial states may only be selected by rows (Gather along axis 0 with a list of indices)');
    // Peepholes: all zero means none; wrong dims are refused.
    expect(specOf(base({ inits: [...weights(), f32('P', [1, 6], new Array(6).fill(0))] }, [], ['xt', 'W', 'R', 'B', '', '', '', 'P'])).layers[0]).toMatchObject({ peepholes: false });
    expect(specOf(base({ inits: [...weights(), f32('P', [1, 6], [0, 0, 0, 0, 0, 0.5])] }, [], ['xt', 'W', 'R', 'B', '', '', '', 'P'])).layers[0]).toMatchObject({ peepholes: true });
    refused(base({ inits: [...weights(), f32('P', [1, 5], new Array(5).fill(1))] }, [], ['xt', 'W', 'R', 'B', '', '', '', 'P']), 'lstm', 'LSTM', 'LSTM.P must have dims [1, 6], got [1,5]');
    refused(base({}, [], ['xt', 'W', 'R', 'B', '', '', '', 'xt']), 'lstm', 'LSTM', 'LSTM.P must be a constant (initializer, Constant node or folded glue), got a value computed from the input');
  });

  it('activations and attributes', () => {
    refused(base({}, [at.strings('activations', ['Sigmoid', 'Tanh'])]), 'lstm', 'LSTM', 'activations must list 3 functions, got 2');
    expect(specOf(base({}, [at.strings('activations', ['sigmoid', 'TANH', 'Tanh'])])).layers).toHaveLength(1);
    expect(specOf(base({}, [at.strings('activations', [])])).layers).toHaveLength(1);
    refused(base({}, [at.f('activation_alpha', 1)]), 'lstm', 'LSTM', 'activation_alpha / activation_beta are not supported');
    refused(base({}, [at.f('activation_beta', 1)]), 'lstm', 'LSTM', 'activation_alpha / activation_beta are not supported');
    expect(specOf(base({}, [at.f('clip', 3)])).layers[0]).toMatchObject({ clip: 3 });
    expect(specOf(base({}, [at.i('input_forget', 1)])).layers[0]).toMatchObject({ inputForget: true });
    expect(specOf(base({}, [at.i('input_forget', 2)])).layers[0]).toMatchObject({ inputForget: false });
  });

  const rnnBase = (kind: 'RNN' | 'GRU', attrs: Attr[], D = 1): ModelParts => {
    const G = kind === 'RNN' ? 1 : 3;
    const dir = D === 2 ? [at.s('direction', 'bidirectional')] : [];
    return {
      nodes: [xt(), nd(kind, ['xt', 'Wk', 'Rk'], ['', 'yh'], [at.i('hidden_size', H), ...dir, ...attrs], 'cell'), ...lastOf('yh')],
      inits: [f32('Wk', [D, G * H, I], new Array(D * G * H * I).fill(0.1)), f32('Rk', [D, G * H, H], new Array(D * G * H * H).fill(0.1)), i64('flat', [0, -1])],
    };
  };

  it('RNN activations, GRU linear_before_reset', () => {
    refused(rnnBase('RNN', [at.strings('activations', ['Sigmoid'])]), 'cell', 'RNN', 'RNN activation Sigmoid is not supported (Tanh or Relu)');
    refused(rnnBase('RNN', [at.strings('activations', ['Relu', 'Tanh'])], 2), 'cell', 'RNN', 'RNN directions with different activations are not supported');
    refused(rnnBase('RNN', [at.strings('activations', ['Relu', 'Sigmoid'])], 2), 'cell', 'RNN', 'RNN activation Sigmoid is not supported (Tanh or Relu)');
    expect(specOf(rnnBase('RNN', [at.strings('activations', ['Relu', 'Relu'])], 2)).layers[0]).toMatchObject({ kind: 'rnn', activation: 'relu', direction: 'bidirectional' });
    // One set of activations for two directions applies to both.
    expect(specOf(rnnBase('RNN', [at.strings('activations', ['RELU'])], 2)).layers[0]).toMatchObject({ activation: 'relu' });
    expect(specOf(rnnBase('RNN', [at.strings('activations', ['Tanh'])])).layers[0]).toMatchObject({ activation: 'tanh' });
    refused(rnnBase('RNN', [at.strings('activations', ['Relu', 'Relu', 'Relu'])], 2), 'cell', 'RNN', 'activations must list 2 functions, got 3');
    refused(rnnBase('RNN', [at.f('clip', 1)]), 'cell', 'RNN', 'clip on RNN is not supported (rnnx clips LSTM gates only)');
    refused(rnnBase('GRU', [at.i('linear_before_reset', 2)]), 'cell', 'GRU', 'linear_before_reset must be 0 or 1, got 2');
    expect(specOf(rnnBase('GRU', [at.i('linear_before_reset', 1)])).layers[0]).toMatchObject({ kind: 'gru', linearBeforeReset: 1 });
    expect(specOf(rnnBase('GRU', [])).layers[0]).toMatchObject({ kind: 'gru', linearBeforeReset: 0 });
    refused(rnnBase('GRU', [at.strings('activations', ['Sigmoid', 'Relu'])]), 'cell', 'GRU', 'activations ["Sigmoid","Relu"] are not supported: rnnx\'s GRU uses the defaults ["Sigmoid","Tanh"]');
    expect(specOf(rnnBase('GRU', [at.strings('activations', ['Sigmoid', 'Tanh'])], 2)).layers[0]).toMatchObject({ direction: 'bidirectional' });
    // input_forget is an LSTM attribute only.
    expect(specOf(rnnBase('GRU', [at.i('input_forget', 1)])).layers[0]).not.toHaveProperty('inputForget');
    // Without the activations attribute (or with an empty list) an RNN is Tanh.
    expect(specOf(rnnBase('RNN', [])).layers[0]).toMatchObject({ kind: 'rnn', activation: 'tanh' });
    expect(specOf(rnnBase('RNN', [at.strings('activations', [])], 2)).layers[0]).toMatchObject({ kind: 'rnn', activation: 'tanh', direction: 'bidirectional' });
    // linear_before_reset is read on GRU only: on an LSTM or RNN it is not checked.
    expect(specOf(base({}, [at.i('linear_before_reset', 2)])).layers[0]).toMatchObject({ kind: 'lstm' });
    expect(specOf(rnnBase('RNN', [at.i('linear_before_reset', 2)])).layers[0]).toMatchObject({ kind: 'rnn' });
    // GRU and RNN have six inputs: a seventh or eighth (LSTM's initial_c and P) is not read.
    const extraInputs = (kind: 'RNN' | 'GRU') => {
      const p = rnnBase(kind, []);
      p.nodes[1] = { ...p.nodes[1], input: ['xt', 'Wk', 'Rk', '', '', '', 'xt', 'xt'] };
      return p;
    };
    for (const kind of ['RNN', 'GRU'] as const) expect(importOnnxModel(model(extraInputs(kind))).info.stateInputs).toEqual([]);
    // GRU and RNN have two outputs (Y, Y_h): a third one read is no output of theirs (LSTM's third is Y_c).
    for (const kind of ['RNN', 'GRU'] as const) {
      const p = rnnBase(kind, []);
      p.nodes = [p.nodes[0], { ...p.nodes[1], output: ['', 'yh', 'y3'] }, ...lastOf('y3')];
      refused(p, 'y3_t', 'Transpose', 'output 2 of cell is not supported');
    }
  });

  it('X must be [time, batch, features] of the model input, time on the same axis for every layer', () => {
    refused(base({ nodes: [nd('Transpose', ['x'], ['xt'], [at.ints('perm', [2, 0, 1])], 'xt'), lstm(['xt', 'W', 'R', 'B']), ...lastOf('yh')] }), 'lstm', 'LSTM',
      'LSTM.X must be [time, batch, features] built from the model input, got axes [2, ?, ?]');
    refused(base({ nodes: [xt(), nd('Unsqueeze', ['xt', 'ax'], ['xu'], [], 'u'), lstm(['xu', 'W', 'R', 'B']), ...lastOf('yh')], inits: [...weights(), i64('ax', [2])] }), 'lstm', 'LSTM',
      'LSTM.X must be [time, batch, features] built from the model input, got axes [?, ?, 1, 2]');
    // Rank 4 with time, batch and features where rank 3 has them: the extra trailing axis is refused too.
    refused(base({ nodes: [xt(), nd('Unsqueeze', ['xt', 'ax'], ['xu'], [], 'u'), lstm(['xu', 'W', 'R', 'B']), ...lastOf('yh')], inits: [...weights(), i64('ax', [3])] }), 'lstm', 'LSTM',
      'LSTM.X must be [time, batch, features] built from the model input, got axes [?, ?, 2, 1]');
    // Rank 3 whose last axis has size 1 in place of the features (one feature picked, then unsqueezed).
    refused(base({ nodes: [xt(), nd('Gather', ['xt', 'f0'], ['xg'], [at.i('axis', 2)]), nd('Unsqueeze', ['xg', 'ax'], ['xu'], [], 'u'), lstm(['xu', 'W', 'R', 'B']), ...lastOf('yh')], inits: [...weights(), i64('f0', [0], []), i64('ax', [2])] }), 'lstm', 'LSTM',
      'LSTM.X must be [time, batch, features] built from the model input, got axes [?, ?, 1]');
    refused(base({}, [], ['W', 'W', 'R', 'B']), 'lstm', 'LSTM', 'LSTM.X must be computed from the model input');
    // Layer 2 reads layer 1's sequence with batch and time swapped.
    const two: ModelParts = {
      nodes: [xt(), lstm(['xt', 'W', 'R', 'B'], [], ['y1']), nd('Squeeze', ['y1', 'ax1'], ['s1']), nd('Transpose', ['s1'], ['s1t'], [at.ints('perm', [1, 0, 2])]), lstm(['s1t', 'W', 'R', 'B'], [], ['', 'yh'], 'lstm2'), ...lastOf('yh')],
      inits: [...weights(), i64('ax1', [1])],
    };
    refused(two, 'lstm2', 'LSTM', 'LSTM.X has the batch axis where the time axis belongs');
    // Layer 2 reading layer 1's final state Y_h [D, N, H] with a size-1 or feature axis where
    // time or batch belongs: refused as a bad X, before the time-axis check (which would blame
    // the batch axis instead).
    const fromYh = (shape: Node[], inits: Tensor[] = []): ModelParts => ({
      nodes: [xt(), lstm(['xt', 'W', 'R', 'B'], [], ['', 'h1']), ...shape, lstm(['x2', 'W', 'R', 'B'], [], ['', 'yh'], 'lstm2'), ...lastOf('yh')],
      inits: [...weights(), i64('ax0', [0]), i64('ax1', [1]), ...inits],
    });
    // [1, N, H]: Y_h with its direction axis squeezed away, a size-1 axis added in front.
    refused(fromYh([nd('Squeeze', ['h1', 'ax0'], ['h1s']), nd('Unsqueeze', ['h1s', 'ax0'], ['x2'])]), 'lstm2', 'LSTM',
      'LSTM.X must be [time, batch, features] built from the model input, got axes [1, ?, 2]');
    // [N, 1, H]: the size-1 axis second.
    refused(fromYh([nd('Squeeze', ['h1', 'ax0'], ['h1s']), nd('Unsqueeze', ['h1s', 'ax1'], ['x2'])]), 'lstm2', 'LSTM',
      'LSTM.X must be [time, batch, features] built from the model input, got axes [?, 1, 2]');
    // [D, N, H]: Y_h itself (through an identity Transpose), the direction (feature) axis first.
    refused(fromYh([nd('Transpose', ['h1'], ['x2'], [at.ints('perm', [0, 1, 2])])]), 'lstm2', 'LSTM',
      'LSTM.X must be [time, batch, features] built from the model input, got axes [1, ?, 2]');
    // [N, D, H]: Y_h transposed, the direction (feature) axis second.
    refused(fromYh([nd('Transpose', ['h1'], ['x2'], [at.ints('perm', [1, 0, 2])])]), 'lstm2', 'LSTM',
      'LSTM.X must be [time, batch, features] built from the model input, got axes [?, 1, 2]');
    // Layer 2 reading layer 1's sequence next to the input's features (a skip connection).
    const skip: ModelParts = {
      nodes: [...two.nodes.slice(0, 3), nd('Concat', ['xt', 's1'], ['xs'], [at.i('axis', 2)]), lstm(['xs', 'W4', 'R', 'B'], [], ['', 'yh'], 'lstm2'), ...lastOf('yh')],
      inits: [...two.inits!, f32('W4', [1, 8, 4], new Array(32).fill(0.125))],
    };
    refused(skip, 'lstm2', 'LSTM', 'LSTM.X reads features of several layers at once');
    // An LSTM node without inputs (a proto built in code) has no X.
    const bare = model(base());
    const { input: _inputs, ...lstmNode } = bare.graph!.node![1];
    bare.graph!.node![1] = lstmNode;
    expect(importError(bare).reason).toBe('LSTM.X must be computed from the model input');
    // Read the right way round, it is a two-layer model.
    const ok = { ...two, nodes: [...two.nodes.slice(0, 3), lstm(['s1', 'W', 'R', 'B'], [], ['', 'yh'], 'lstm2'), ...lastOf('yh')] };
    expect(specOf(ok).layers.map((l) => [l.kind, 'returnSequences' in l && l.returnSequences])).toEqual([['lstm', true], ['lstm', false]]);
    // Mixed sequence_lens is refused at the layer that differs.
    const lensIn = [vi('x', DT.FLOAT, ['batch', 'time', 2]), vi('lens', DT.INT32, ['batch'])];
    const mixed = { ...ok, inputs: lensIn, nodes: [xt(), lstm(['xt', 'W', 'R', 'B', 'lens'], [], ['y1']), ...ok.nodes.slice(2)] };
    refused(mixed, 'lstm2', 'LSTM', 'some recurrent layers read sequence_lens and others do not; rnnx applies it to every layer');
    const both = { ...mixed, nodes: [...mixed.nodes.slice(0, 3), lstm(['s1', 'W', 'R', 'B', 'lens'], [], ['', 'yh'], 'lstm2'), ...lastOf('yh')] };
    expect(importOnnxModel(model(both)).info.sequenceLens).toBe(true);
  });

  it('a spec rnnx would refuse, an output the importer does not model, a model without a graph', () => {
    const bad = importError(model(base({}, [at.f('clip', -1)])));
    expect(bad.node).toBe('y_reshape');
    expect(bad.reason).toMatch(/^output "y": the layers found do not form an rnnx model: .*clip/);
    refused(base({ nodes: [xt(), lstm(['xt', 'W', 'R', 'B']), nd('Dropout', ['yh'], ['d', 'mask'], [], 'drop'), ...lastOf('mask')] }), 'mask_t', 'Transpose', 'output 1 of drop is not supported');
    // A node without an op type (a proto built in code, never encoded) is named with op type '?'.
    const untyped = model(base());
    const { opType: _dropped, ...xtNode } = untyped.graph!.node![0];
    untyped.graph!.node![0] = xtNode;
    const e = importError(untyped);
    expect({ node: e.node, opType: e.opType }).toEqual({ node: 'xt', opType: '?' });
    expect(e.reason).toContain('is not one the importer maps');
    const p = model(base());
    p.graph = null;
    const check = checkOnnxImport(p, 'g.onnx');
    expect(check).toMatchObject({ importable: false, node: '', opType: '' });
    if (check.importable) throw new Error('unreachable');
    expect(check.reason).toBe(check.message);
    expect(check.reason.length).toBeGreaterThan(0);
  });

  it('non-finite weights are never imported', () => {
    const nan = [...REF.W];
    nan[5] = NaN;
    refused(base({ inits: [f32('Wn', [1, 8, 2], nan), ...weights()] }, [], ['xt', 'Wn', 'R', 'B']), 'lstm', 'LSTM', 'a weight is NaN; non-finite weights are never imported');
    const inf = [...REF.B];
    inf[15] = -Infinity;
    refused(base({ inits: [f32('Bn', [1, 16], inf), ...weights()] }, [], ['xt', 'W', 'R', 'Bn']), 'lstm', 'LSTM', 'a weight is -Infinity; non-finite weights are never imported');
    const dense = base({ nodes: [...base().nodes.slice(0, 3), nd('Reshape', ['yh_t', 'flat'], ['h']), nd('MatMul', ['h', 'Wd'], ['y'], [], 'head')], inits: [...weights(), f32('Wd', [2, 1], [1, Infinity])] });
    refused(dense, 'head', 'Dense', 'a weight is Infinity; non-finite weights are never imported');
  });
});
