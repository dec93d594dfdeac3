// How the importer (src/graph/import.ts) reads the activations of a foreign graph: dense heads
// (Gemm / MatMul + Add + activation) with alpha, beta, transB and any feature order folded into
// the weights, feature glue on the input and between layers, the one time step rnnx can read
// from a recurrent output, and the output's layout. The reference is hand-computed: the
// imported weights are the source's, moved exactly where the glue says.

import { describe, expect, it } from 'vitest';
import { describeStateInputs, IMPORT_META, importedModelData, importOnnxModel } from '../src/graph/import.js';
import { view } from '../src/layers/params.js';
import { at, DT, f32, H, i64, I, importError, model, nd, REF, vi, type Attr, type ModelParts, type Node, type Tensor } from './import-helpers.js';

const perm = (p: number[]) => [at.ints('perm', p)];
const xt = (): Node => nd('Transpose', ['x'], ['xt'], perm([1, 0, 2]), 'xt');
const lstm = (inputs: string[], outputs: string[], attrs: Attr[] = [], name = 'lstm'): Node => nd('LSTM', inputs, outputs, [at.i('hidden_size', H), ...attrs], name);
const weights = (): Tensor[] => [f32('W', [1, 4 * H, I], REF.W), f32('R', [1, 4 * H, H], REF.R), f32('B', [1, 8 * H], REF.B), i64('flat', [0, -1])];
/** x → LSTM → final state h [N, H], then `head` nodes writing y. */
const withHead = (head: Node[], inits: Tensor[] = [], opset = 14): ModelParts => ({
  opset,
  nodes: [xt(), lstm(['xt', 'W', 'R', 'B'], ['', 'yh']), nd('Transpose', ['yh'], ['yht'], perm([1, 0, 2])), nd('Reshape', ['yht', 'flat'], ['h']), ...head],
  inits: [...weights(), ...inits],
});
/** x → LSTM → sequence s [T, N, H] (Y with its direction axis squeezed), then `tail`. */
const withSeq = (tail: Node[], inits: Tensor[] = [], lstmAttrs: Attr[] = [], opset = 14): ModelParts => ({
  opset,
  nodes: [xt(), lstm(['xt', 'W', 'R', 'B'], ['Y'], lstmAttrs), nd('Squeeze', ['Y', 'ax1'], ['s']), ...tail],
  inits: [...weights(), i64('ax1', [1]), ...inits],
});

function refusedAt(p: ModelParts, node: string, opType: string, reason: string) {
  const e = importError(model(p));
  expect({ node: e.node, opType: e.opType, reason: e.reason }).toEqual({ node, opType, reason });
}
function dense(p: ModelParts, layer = 1): { W: number[]; b: number[]; units: number; activation: string } {
  const { data } = importOnnxModel(model(p));
  const l = data.layout.layers[layer];
  const s = data.spec.layers[layer];
  if (l.kind !== 'dense' || s.kind !== 'dense') throw new Error(`layer ${layer} is not dense`);
  return { W: Array.from(view(data.params, l.W)), b: Array.from(view(data.params, l.b)), units: s.units, activation: s.activation };
}
const lstmW = (p: ModelParts) => {
  const { data } = importOnnxModel(model(p));
  const l = data.layout.layers[0];
  if (l.kind === 'dense') throw new Error('dense');
  return Array.from(view(data.params, l.W));
};

const G = [0.5, -0.25, 0.75, 1, -1.5, 0.125]; // Gemm B as [3, 2] (transB) or [2, 3]
const C = [0.25, -0.5, 2];

describe('dense heads', () => {
  it('Gemm folds alpha, beta and transB; without C the bias is zero', () => {
    const gemmT = withHead([nd('Gemm', ['h', 'Gb', 'Gc'], ['y'], [at.i('transB', 1), at.f('alpha', 0.5), at.f('beta', 2)], 'gemm')], [f32('Gb', [3, 2], G), f32('Gc', [3], C)]);
    // W [K=2, M=3]: W[k][m] = 0.5 * B[m][k]; b = 2 * C.
    expect(dense(gemmT)).toEqual({ W: [0.25, 0.375, -0.75, -0.125, 0.5, 0.0625], b: [0.5, -1, 4], units: 3, activation: 'none' });
    const gemm = withHead([nd('Gemm', ['h', 'Gb'], ['y'])], [f32('Gb', [2, 3], G)]);
    expect(dense(gemm)).toEqual({ W: G, b: [0, 0, 0], units: 3, activation: 'none' });
    const transB0 = withHead([nd('Gemm', ['h', 'Gb', 'Gc'], ['y'], [at.i('transB', 0)])], [f32('Gb', [2, 3], G), f32('Gc', [3], C)]);
    expect(dense(transB0)).toEqual({ W: G, b: C, units: 3, activation: 'none' });
  });

  it('MatMul + Add (either order; a scalar or [1, M] bias) + each activation', () => {
    for (const [act, name] of [['Relu', 'relu'], ['Tanh', 'tanh'], ['Sigmoid', 'sigmoid'], ['Softmax', 'softmax']] as const) {
      const p = withHead([nd('MatMul', ['h', 'Wd'], ['m']), nd('Add', ['bd', 'm'], ['a']), nd(act, ['a'], ['y'])], [f32('Wd', [2, 3], G), f32('bd', [1, 3], C)]);
      expect(dense(p), act).toEqual({ W: G, b: C, units: 3, activation: name });
    }
    const scalar = withHead([nd('MatMul', ['h', 'Wd'], ['m']), nd('Add', ['m', 'bd'], ['y'])], [f32('Wd', [2, 3], G), f32('bd', [], [0.5])]);
    expect(dense(scalar).b).toEqual([0.5, 0.5, 0.5]);
    // Two bias Adds sum.
    const twice = withHead([nd('MatMul', ['h', 'Wd'], ['m']), nd('Add', ['m', 'bd'], ['a']), nd('Add', ['a', 'bd'], ['y'])], [f32('Wd', [2, 3], G), f32('bd', [3], C)]);
    expect(dense(twice).b).toEqual(C.map((c) => 2 * c));
    // Softmax over the last axis: explicit, negative, or the opset 11 default (1) on a rank-2 output.
    const sm = (attrs: Attr[], opset: number) => withHead([nd('MatMul', ['h', 'Wd'], ['m']), nd('Softmax', ['m'], ['y'], attrs)], [f32('Wd', [2, 3], G)], opset);
    for (const [attrs, opset] of [[[], 11], [[at.i('axis', 1)], 14], [[at.i('axis', -1)], 14]] as const) expect(dense(sm([...attrs], opset)).activation).toBe('softmax');
  });

  it('the order and selection of features a head reads is folded into its weights', () => {
    // Features swapped: row k of the source weight reads feature 1 - k.
    const swapped = withHead([nd('Gather', ['h', 'sw'], ['hs'], [at.i('axis', 1)]), nd('MatMul', ['hs', 'Wd'], ['y'])], [i64('sw', [1, 0]), f32('Wd', [2, 3], G)]);
    expect(dense(swapped).W).toEqual([...G.slice(3), ...G.slice(0, 3)]);
    // Only feature 1 read: feature 0's row is zero.
    const picked = withHead([nd('Slice', ['h', 'one', 'two', 'one'], ['hs']), nd('MatMul', ['hs', 'Wd'], ['y'])], [i64('one', [1]), i64('two', [2]), f32('Wd', [1, 3], C)]);
    expect(dense(picked).W).toEqual([0, 0, 0, ...C]);
    // The same feature read twice: the rows add up.
    const twice = withHead([nd('Concat', ['h', 'h'], ['hh'], [at.i('axis', -1)]), nd('MatMul', ['hh', 'Wd'], ['y'])], [f32('Wd', [4, 1], [0.5, 0.25, 1, 2])]);
    expect(dense(twice).W).toEqual([1.5, 2.25]);
    // Two dense layers in a row.
    const two = withHead([nd('MatMul', ['h', 'Wd'], ['m']), nd('Relu', ['m'], ['r']), nd('MatMul', ['r', 'W2'], ['y'])], [f32('Wd', [2, 3], G), f32('W2', [3, 1], C)]);
    expect(dense(two, 2)).toEqual({ W: C, b: [0], units: 1, activation: 'none' });
    expect(importOnnxModel(model(two)).info.layerNodes).toEqual(['lstm', two.nodes[4].name, two.nodes[6].name]);
  });

  it('refuses what is not a dense layer, naming the node', () => {
    const mm = (inputs: string[], inits: Tensor[]) => withHead([nd('MatMul', inputs, ['y'], [], 'mm')], inits);
    refusedAt(mm(['W2', 'W2'], [f32('W2', [2, 2], [1, 0, 0, 1])]), 'mm', 'MatMul', 'MatMul of two constants is not folded by the importer');
    refusedAt(mm(['W2', 'h'], [f32('W2', [2, 2], [1, 0, 0, 1])]), 'mm', 'MatMul', 'MatMul must multiply the activations (first input) by a constant weight (second input)');
    refusedAt(mm(['h', 'Wi'], [i64('Wi', [1, 0, 0, 1], [2, 2])]), 'mm', 'MatMul', 'MatMul weight (second input) must be a float constant');
    refusedAt(mm(['h', 'h'], []), 'mm', 'MatMul', 'MatMul weight (second input) must be a float constant');
    refusedAt(mm(['h', 'W3'], [f32('W3', [1, 2, 3], G)]), 'mm', 'MatMul', 'MatMul weight must be a matrix [in, out], got dims [1,2,3]');
    refusedAt(mm(['h', 'W3'], [f32('W3', [3, 2], G)]), 'mm', 'MatMul', 'the weight has 3 rows for 2 input features');
    const gemm = (inputs: string[], attrs: Attr[], inits: Tensor[]) => withHead([nd('Gemm', inputs, ['y'], attrs, 'gemm')], inits);
    refusedAt(gemm(['h', 'Gb'], [at.i('transA', 1)], [f32('Gb', [2, 3], G)]), 'gemm', 'Gemm', 'Gemm with transA = 1 is not supported');
    refusedAt(gemm(['Gb', 'Gb'], [], [f32('Gb', [2, 2], G.slice(0, 4))]), 'gemm', 'Gemm', 'Gemm must read the activations as its first input A');
    refusedAt(gemm(['h', 'Gb'], [], [f32('Gb', [6], G)]), 'gemm', 'Gemm', 'Gemm.B must be a float matrix, got dims [6]');
    refusedAt(gemm(['h', 'Gb'], [], [i64('Gb', [1, 2, 3, 4, 5, 6], [2, 3])]), 'gemm', 'Gemm', 'Gemm.B must be a float matrix, got dims [2,3]');
    const seqGemm = withSeq([nd('Gemm', ['s', 'Gb'], ['y'], [], 'gemm')], [f32('Gb', [2, 3], G)]);
    refusedAt(seqGemm, 'gemm', 'Gemm', 'Gemm.A must have rank 2, got 3');
  });

  it('refuses biases and activations rnnx cannot place', () => {
    const head = (nodes: Node[], inits: Tensor[] = []) => withHead([nd('MatMul', ['h', 'Wd'], ['m'], [], 'mm'), ...nodes], [f32('Wd', [2, 3], G), f32('bd', [3], C), ...inits]);
    refusedAt(head([nd('Relu', ['m'], ['r']), nd('Add', ['r', 'bd'], ['y'], [], 'add')]), 'add', 'Add', 'it adds a bias after the dense layer\'s activation');
    refusedAt(withHead([nd('Add', ['h', 'b2'], ['y'], [], 'add')], [f32('b2', [2], [1, 2])]), 'add', 'Add', 'it adds a constant to a recurrent output or the input; rnnx adds biases only in dense layers');
    refusedAt(head([nd('Add', ['m', 'b2'], ['y'], [], 'add')], [f32('b2', [2], [1, 2])]), 'add', 'Add', 'the bias must have 3 values along the last axis, got dims [2]');
    refusedAt(head([nd('Add', ['m', 'b31'], ['y'], [], 'add')], [f32('b31', [3, 1], C)]), 'add', 'Add', 'the bias must have 3 values along the last axis, got dims [3,1]');
    refusedAt(head([nd('Add', ['m', 'b113'], ['y'], [], 'add')], [f32('b113', [1, 1, 3], C)]), 'add', 'Add', 'the bias has more axes than the activations');
    refusedAt(head([nd('Gather', ['m', 'i01'], ['g'], [at.i('axis', 1)]), nd('Add', ['g', 'bd'], ['y'], [], 'add')], [i64('i01', [0, 1])]), 'add', 'Add', 'the bias has 3 values for 2 features');
    refusedAt(head([nd('Add', ['m', 'bi'], ['y'], [], 'add')], [i64('bi', [1, 2, 3])]), 'add', 'Add', 'Add of two values computed from the input (a residual connection, say) is not supported; only Add of a constant bias after MatMul');
    for (const op of ['Sub', 'Mul', 'Div']) {
      refusedAt(head([nd(op, ['m', 'bd'], ['y'], [], 'arith')]), 'arith', op, `${op} of a value computed from the input is not supported (only Add of a constant bias after MatMul)`);
      refusedAt(head([nd(op, ['bd', 'm'], ['y'], [], 'arith')]), 'arith', op, `${op} of a value computed from the input is not supported (only Add of a constant bias after MatMul)`);
    }
    refusedAt(head([nd('Relu', ['m'], ['r']), nd('Tanh', ['r'], ['y'], [], 'act')]), 'act', 'Tanh', 'a second activation on one dense layer is not supported');
    refusedAt(withHead([nd('Relu', ['W'], ['y'], [], 'act')]), 'act', 'Relu', 'Relu of a constant is not folded by the importer');
    refusedAt(withHead([nd('Softmax', ['h'], ['y'], [], 'act')]), 'act', 'Softmax', 'it applies Softmax to a recurrent output or the input; rnnx applies activations only in dense layers');
    const seqSoftmax = (opset: number, attrs: Attr[] = []) => withSeq([nd('Transpose', ['s'], ['st'], perm([1, 0, 2])), nd('MatMul', ['st', 'Wd'], ['m']), nd('Softmax', ['m'], ['y'], attrs, 'sm')], [f32('Wd', [2, 3], G)], [], opset);
    refusedAt(seqSoftmax(11), 'sm', 'Softmax', 'Softmax over axis 1 of a rank-3 tensor; rnnx\'s softmax is over the features (last axis)');
    refusedAt(seqSoftmax(13, [at.i('axis', 3)]), 'sm', 'Softmax', 'Softmax.axis 3 is out of range for rank 3');
    expect(dense(seqSoftmax(13)).activation).toBe('softmax');
  });
});

describe('feature glue on the input and between layers', () => {
  const Wrows = (f: (row: number[]) => number[]) => Array.from({ length: 8 }, (_, r) => f(REF.W.slice(r * 2, r * 2 + 2))).flat();

  it('a permutation, selection or repetition of the input features is folded into W', () => {
    const gathered = (idx: number[], Wsrc: number[], cols: number): ModelParts => ({
      nodes: [nd('Gather', ['x', 'ix'], ['xg'], [at.i('axis', 2)], 'g'), nd('Transpose', ['xg'], ['xt'], perm([1, 0, 2])), lstm(['xt', 'Wg', 'R', 'B'], ['', 'yh']), nd('Transpose', ['yh'], ['yht'], perm([1, 0, 2])), nd('Reshape', ['yht', 'flat'], ['y'])],
      inits: [...weights(), i64('ix', idx), f32('Wg', [1, 8, cols], Wsrc)],
    });
    expect(lstmW(gathered([1, 0], REF.W, 2))).toEqual(Wrows(([a, b]) => [b, a]));
    expect(lstmW(gathered([-1], Wrows(([a]) => [a]), 1))).toEqual(Wrows(([a]) => [0, a]));
    expect(lstmW(gathered([0, 1, 0], Wrows(([a, b]) => [a, b, 1]), 3))).toEqual(Wrows(([a, b]) => [a + 1, b]));
    refusedAt(gathered([2], Wrows(([a]) => [a]), 1), 'g', 'Gather', 'Gather index out of range for an axis of size 2');
    refusedAt(gathered([-3], Wrows(([a]) => [a]), 1), 'g', 'Gather', 'Gather index out of range for an axis of size 2');
  });

  it('bidirectional directions concatenated in either order feed the next layer', () => {
    // Layer 1 bidirectional (H = 2 per direction): Y [T, 2, N, 2] → [T, N, 2, 2] → [T, N, 4], or backward-first.
    const bi = (order: number[]): ModelParts => ({
      nodes: [
        xt(), lstm(['xt', 'W2', 'R2'], ['Y'], [at.s('direction', 'bidirectional')], 'bi'),
        nd('Transpose', ['Y'], ['Yp'], perm([0, 2, 1, 3])), nd('Gather', ['Yp', 'dirs'], ['Yo'], [at.i('axis', 2)]), nd('Reshape', ['Yo', 'seq'], ['s']),
        lstm(['s', 'W4', 'R'], ['', 'yh'], [], 'top'), nd('Transpose', ['yh'], ['yht'], perm([1, 0, 2])), nd('Reshape', ['yht', 'flat'], ['y']),
      ],
      inits: [...weights(), f32('W2', [2, 8, 2], [...REF.W, ...REF.W]), f32('R2', [2, 8, 2], [...REF.R, ...REF.R]), i64('dirs', order), i64('seq', [0, 0, -1]), f32('W4', [1, 8, 4], Array.from({ length: 32 }, (_, k) => k / 32))],
    });
    const w4 = (p: ModelParts) => {
      const { data } = importOnnxModel(model(p));
      const l = data.layout.layers[1];
      if (l.kind === 'dense') throw new Error('dense');
      return Array.from(view(data.params, l.W));
    };
    const src = Array.from({ length: 32 }, (_, k) => k / 32);
    expect(w4(bi([0, 1]))).toEqual(src);
    // Backward first: columns [b0, b1, f0, f1] land at [2, 3, 0, 1].
    expect(w4(bi([1, 0]))).toEqual(Array.from({ length: 8 }, (_, r) => { const c = src.slice(r * 4, r * 4 + 4); return [c[2], c[3], c[0], c[1]]; }).flat());
    // The final layer's own Y_h: [D, N, H] needs its direction axis moved next to the features.
    const fin = importOnnxModel(model({ ...bi([0, 1]), nodes: [...bi([0, 1]).nodes.slice(0, 5), lstm(['s', 'W4', 'R'], ['', 'yh'], [], 'top'), nd('Transpose', ['yh'], ['yht'], perm([1, 0, 2])), nd('Reshape', ['yht', 'flat'], ['y'])] }));
    expect(fin.data.spec.layers.map((l) => l.kind)).toEqual(['lstm', 'lstm']);
  });
});

describe('reading one time step of a recurrent output', () => {
  const pick = (node: Node, inits: Tensor[] = [], attrs: Attr[] = [], inputs?: ReturnType<typeof vi>[]): ModelParts => ({
    ...withSeq([node, nd('Reshape', ['p', 'flat'], ['y'])], inits, attrs),
    ...(inputs ? { inputs } : {}),
  });
  const gatherT = (i: number[], dims: number[] = []) => [nd('Gather', ['s', 'ti'], ['p'], [at.i('axis', 0)], 'pick'), [i64('ti', i, dims)]] as const;
  const spec = (p: ModelParts) => importOnnxModel(model(p)).data.spec.layers[0];

  it('the last step of a forward layer, the first of a reverse one (by Gather or Slice)', () => {
    const [g, gi] = gatherT([-1]);
    expect(spec(pick(g, [...gi]))).toMatchObject({ returnSequences: false, direction: 'forward' });
    const [g0, gi0] = gatherT([0]);
    expect(spec(pick(g0, [...gi0], [at.s('direction', 'reverse')]))).toMatchObject({ returnSequences: false, direction: 'reverse' });
    refusedAt(pick(g0, [...gi0]), 'pick', 'Gather', 'it picks time step 0 of lstm\'s forward direction, which is not that direction\'s final state (rnnx\'s last-step output of a recurrent layer is each direction\'s final state: step T-1 forward, step 0 reverse)');
    refusedAt(pick(g, [...gi], [at.s('direction', 'reverse')]), 'pick', 'Gather', 'it picks time step -1 of lstm\'s reverse direction, which is not that direction\'s final state (rnnx\'s last-step output of a recurrent layer is each direction\'s final state: step T-1 forward, step 0 reverse)');
    // Slice [-1, end) and [0, 1) keep the axis (size 1), which Reshape then drops.
    const slice = (st: number, en: number) => nd('Slice', ['s', 'st', 'en', 'a0'], ['p'], [], 'pick');
    const sl = (st: number, en: number, extra: Tensor[] = []) => [i64('st', [st]), i64('en', [en]), i64('a0', [0]), ...extra];
    const rs = (node: Node, inits: Tensor[], attrs: Attr[] = []) => ({ ...withSeq([node, nd('Squeeze', ['p', 'a0'], ['p2']), nd('Reshape', ['p2', 'flat'], ['y'])], inits, attrs) });
    expect(spec(rs(slice(-1, 2 ** 40), sl(-1, 2 ** 40)))).toMatchObject({ returnSequences: false });
    expect(spec(rs(slice(0, 1), sl(0, 1), [at.s('direction', 'reverse')]))).toMatchObject({ returnSequences: false, direction: 'reverse' });
    refusedAt(rs(slice(0, 1), sl(0, 1)), 'pick', 'Slice', 'it picks time step 0 of lstm\'s forward direction, which is not that direction\'s final state (rnnx\'s last-step output of a recurrent layer is each direction\'s final state: step T-1 forward, step 0 reverse)');
    refusedAt(rs(slice(-2, -1), sl(-2, -1)), 'pick', 'Slice', 'it slices time steps [-2, -1) step 1; only the whole sequence or one final step can be read');
    // The last two steps, and [-1, end) walked backwards (empty in ONNX): neither is the final step.
    refusedAt(rs(slice(-2, 2 ** 40), sl(-2, 2 ** 40)), 'pick', 'Slice', 'it slices time steps [-2, 2147483647) step 1; only the whole sequence or one final step can be read');
    const stepped = nd('Slice', ['s', 'st', 'en', 'a0', 'sp'], ['p'], [], 'pick');
    refusedAt(rs(stepped, sl(-1, 2 ** 40, [i64('sp', [-1])])), 'pick', 'Slice', 'it slices time steps [-1, 2147483647) step -1; only the whole sequence or one final step can be read');
    // [-2, 1) ends where step 0 does, but starts at T-2: steps 0 and 1 when T >= 2, so not the reverse final state.
    refusedAt(rs(slice(-2, 1), sl(-2, 1), [at.s('direction', 'reverse')]), 'pick', 'Slice', 'it slices time steps [-2, 1) step 1; only the whole sequence or one final step can be read');
    // The whole time axis is no selection at all.
    const whole = withSeq([nd('Slice', ['s', 'st', 'en', 'a0'], ['s2'], [], 'all'), nd('Transpose', ['s2'], ['y'], perm([1, 0, 2]))], sl(0, 2 ** 40));
    expect(spec(whole)).toMatchObject({ returnSequences: true });
    const wholeNeg = withSeq([nd('Slice', ['s', 'st', 'en', 'a0'], ['s2'], [], 'all'), nd('Transpose', ['s2'], ['y'], perm([1, 0, 2]))], sl(-(2 ** 40), 2 ** 40));
    expect(spec(wholeNeg)).toMatchObject({ returnSequences: true });
  });

  it('a size-1 axis made by Unsqueeze is kept by a 1-D Gather index and dropped by a scalar one', () => {
    // [T, N, H] → Unsqueeze → [T, 1, N, H]; Gather [0] on axis 1 keeps it (then Squeeze), Gather 0 drops it.
    const seqOut = (indexDims: number[], squeeze: boolean): ModelParts => ({
      nodes: [
        xt(), lstm(['xt', 'W1', 'R1'], ['Y'], [], 'uni'), nd('Squeeze', ['Y', 'a1'], ['S']), nd('Unsqueeze', ['S', 'a1'], ['U']),
        nd('Gather', ['U', 'd'], ['G'], [at.i('axis', 1)], 'one'),
        ...(squeeze ? [nd('Squeeze', ['G', 'a1'], ['Gs'])] : []),
        nd('Transpose', [squeeze ? 'Gs' : 'G'], ['y'], perm([1, 0, 2])),
      ],
      inits: [f32('W1', [1, 8, 2], REF.W), f32('R1', [1, 8, 2], REF.R), i64('d', [0], indexDims), i64('a1', [1])],
    });
    expect(spec(seqOut([1], true))).toMatchObject({ kind: 'lstm', direction: 'forward', returnSequences: true });
    expect(spec(seqOut([], false))).toMatchObject({ kind: 'lstm', direction: 'forward', returnSequences: true });
    // Kept, the axis is still there: without the Squeeze, the Transpose gets a 4-D value.
    expect(() => importOnnxModel(model(seqOut([1], false)))).toThrow('Transpose.perm must be a permutation of 0..3, got [1,0,2]');
  });

  it('a bidirectional layer\'s final states: the forward half at step -1, the reverse half at step 0', () => {
    // Y [T, 2, N, H] → direction d → [T, N, H] → one step → [N, H]; Concat of both halves is the layer's last-step output.
    const halves = (fwdStep: number, bwdStep: number): ModelParts => ({
      nodes: [
        xt(), lstm(['xt', 'W2', 'R2'], ['Y'], [at.s('direction', 'bidirectional')], 'bi'),
        nd('Gather', ['Y', 'd0'], ['Yf'], [at.i('axis', 1)]), nd('Gather', ['Yf', 'tf'], ['hf'], [at.i('axis', 0)], 'pick_f'),
        nd('Gather', ['Y', 'd1'], ['Yb'], [at.i('axis', 1)]), nd('Gather', ['Yb', 'tb'], ['hb'], [at.i('axis', 0)], 'pick_b'),
        nd('Concat', ['hf', 'hb'], ['y'], [at.i('axis', 1)]),
      ],
      inits: [f32('W2', [2, 8, 2], [...REF.W, ...REF.W]), f32('R2', [2, 8, 2], [...REF.R, ...REF.R]), i64('d0', [0], []), i64('d1', [1], []), i64('tf', [fwdStep], []), i64('tb', [bwdStep], [])],
    });
    expect(spec(halves(-1, 0))).toMatchObject({ kind: 'lstm', direction: 'bidirectional', returnSequences: false });
    const notFinal = (step: number, dir: string) => `it picks time step ${step} of bi's ${dir} direction, which is not that direction's final state (rnnx's last-step output of a recurrent layer is each direction's final state: step T-1 forward, step 0 reverse)`;
    refusedAt(halves(0, 0), 'pick_f', 'Gather', notFinal(0, 'forward'));
    refusedAt(halves(-1, -1), 'pick_b', 'Gather', notFinal(-1, 'reverse'));
  });

  it('with a fixed sequence length, step T-1 (or -T for reverse) names the same step', () => {
    const inputs = [vi('x', DT.FLOAT, ['batch', 5, 2])];
    const [g4, gi4] = gatherT([4]);
    expect(spec(pick(g4, [...gi4], [], inputs))).toMatchObject({ returnSequences: false });
    const [gm5, gim5] = gatherT([-5]);
    expect(spec(pick(gm5, [...gim5], [at.s('direction', 'reverse')], inputs))).toMatchObject({ returnSequences: false, direction: 'reverse' });
    refusedAt(pick(g4, [...gi4], [at.s('direction', 'reverse')], inputs), 'pick', 'Gather', expect.stringContaining('it picks time step 4 of lstm\'s reverse direction') as unknown as string);
    const [g3, gi3] = gatherT([3]);
    refusedAt(pick(g3, [...gi3], [], inputs), 'pick', 'Gather', expect.stringContaining('it picks time step 3 of lstm\'s forward direction') as unknown as string);
    const sl = (st: number, en: number) => ({ ...withSeq([nd('Slice', ['s', 'st', 'en', 'a0'], ['p'], [], 'pick'), nd('Squeeze', ['p', 'a0'], ['p2']), nd('Reshape', ['p2', 'flat'], ['y'])], [i64('st', [st]), i64('en', [en]), i64('a0', [0])]), inputs });
    expect(spec(sl(4, 5))).toMatchObject({ returnSequences: false });
    expect(spec({ ...sl(-5, -4), nodes: sl(-5, -4).nodes.map((n) => (n.opType === 'LSTM' ? { ...n, attribute: [...n.attribute!, at.s('direction', 'reverse')] } : n)) })).toMatchObject({ direction: 'reverse', returnSequences: false });
    refusedAt(sl(3, 5), 'pick', 'Slice', 'it slices time steps [3, 5) step 1; only the whole sequence or one final step can be read');
  });

  it('refuses several steps, the batch axis, steps after a dense layer, and steps of a layer reading sequence_lens', () => {
    const [g2, gi2] = gatherT([0, 1], [2]);
    refusedAt(pick(g2, [...gi2]), 'pick', 'Gather', 'it gathers several time steps');
    const batch = withSeq([nd('Gather', ['s', 'i0'], ['p'], [at.i('axis', 1)], 'pick'), nd('Reshape', ['p', 'flat'], ['y'])], [i64('i0', [0])]);
    refusedAt(batch, 'pick', 'Gather', 'it gathers along the batch axis');
    const raw: ModelParts = { nodes: [nd('Gather', ['x', 'i0'], ['p'], [at.i('axis', 1)], 'pick'), nd('Reshape', ['p', 'flat'], ['y'])], inits: [i64('i0', [0]), i64('flat', [0, -1])] };
    refusedAt(raw, 'pick', 'Gather', 'it gathers along an axis of the raw input');
    const sliceBatch = withSeq([nd('Slice', ['s', 'z', 'o', 'one'], ['p'], [], 'pick'), nd('Reshape', ['p', 'flat'], ['y'])], [i64('z', [0]), i64('o', [1]), i64('one', [1])]);
    refusedAt(sliceBatch, 'pick', 'Slice', 'it slices the batch axis');
    const afterDense = withSeq([nd('MatMul', ['s', 'Wd'], ['m']), nd('Gather', ['m', 'last'], ['y'], [at.i('axis', 0)], 'pick')], [f32('Wd', [2, 3], G), i64('last', [-1], [])]);
    refusedAt(afterDense, 'pick', 'Gather', 'it picks one time step after a dense layer; rnnx picks the last step before its dense layers (apply the Linear after selecting the step)');
    const lens = { ...withSeq([nd('Gather', ['s', 'last'], ['p'], [at.i('axis', 0)], 'pick'), nd('Reshape', ['p', 'flat'], ['y'])], [i64('last', [-1])]), inputs: [vi('x', DT.FLOAT, ['batch', 'time', 2]), vi('lens', DT.INT32, ['batch'])] };
    lens.nodes = lens.nodes.map((n) => (n.opType === 'LSTM' ? { ...n, input: [...n.input!, 'lens'] } : n));
    refusedAt(lens, 'pick', 'Gather', 'it picks time step -1 of lstm, which reads sequence_lens: shorter sequences end before that step; use the node\'s Y_h output instead');
    // Once a recurrent node has fixed which input axis is time, a step of x itself is refused.
    const stepOfX = withHead([nd('Gather', ['x', 'last'], ['p'], [at.i('axis', 1)], 'pick'), nd('Concat', ['h', 'p'], ['y'], [at.i('axis', 1)])], [i64('last', [-1], [])]);
    refusedAt(stepOfX, 'pick', 'Gather', 'it picks one time step of the model input');
  });
});

describe('the output', () => {
  it('sequence outputs batch-first or time-major; the input read time-major', () => {
    const seqOut = (tail: Node[]) => importOnnxModel(model(withSeq(tail)));
    const bf = seqOut([nd('Transpose', ['s'], ['y'], perm([1, 0, 2]))]);
    expect(bf.info).toMatchObject({ inputLayout: 'batch-first', outputLayout: 'batch-first' });
    expect(bf.data.spec.layers[0]).toMatchObject({ returnSequences: true });
    expect(seqOut([nd('Identity', ['s'], ['y'])]).info.outputLayout).toBe('time-major');
    // x read as [time, batch, features] directly.
    const tm = importOnnxModel(model({ nodes: [lstm(['x', 'W', 'R', 'B'], ['', 'yh']), nd('Transpose', ['yh'], ['yht'], perm([1, 0, 2])), nd('Reshape', ['yht', 'flat'], ['y'])], inits: weights() }));
    expect(tm.info).toMatchObject({ inputLayout: 'time-major', outputLayout: null });
  });

  it('refuses outputs that are not [batch, (time,) features] holding every feature in order', () => {
    const p = (tail: Node[], inits: Tensor[] = []) => withSeq(tail, inits);
    refusedAt(p([nd('Unsqueeze', ['s', 'a0'], ['y'], [], 'out')], [i64('a0', [0])]), 'out', 'Unsqueeze', 'output "y": the output must be [batch, time, features] or [time, batch, features]');
    refusedAt(withHead([nd('Unsqueeze', ['h', 'a0'], ['y'], [], 'out')], [i64('a0', [0])]), 'out', 'Unsqueeze', 'output "y": the output must be [batch, features], got rank 3');
    refusedAt(withHead([nd('Gather', ['h', 'sw'], ['y'], [at.i('axis', 1)], 'out')], [i64('sw', [1, 0])]), 'out', 'Gather', 'output "y": the output holds a selection or permutation of the recurrent layer\'s features; rnnx outputs them all, in order');
    refusedAt(withHead([nd('MatMul', ['h', 'Wd'], ['m'], [], 'mm'), nd('Slice', ['m', 'z', 'two', 'one'], ['y'], [], 'out')], [f32('Wd', [2, 3], G), i64('z', [0]), i64('two', [2]), i64('one', [1])]), 'out', 'Slice',
      'output "y": the output holds a selection or permutation of dense layer mm\'s features; rnnx outputs them all, in order');
    const Y = withSeq([nd('Identity', ['Y'], ['y'], [], 'out')]);
    refusedAt(Y, 'out', 'Identity', 'output "y": the output must read a tensor whose only feature axis is the last one, got axes [time, 1, batch, 2]');
  });
});

describe('the import record', () => {
  it('importedModelData writes what differs from rnnx into metadata.extra', () => {
    const tm = model({ nodes: [lstm(['x', 'W', 'R', 'B', 'lens', 'h0'], ['Y', 'yh']), nd('Squeeze', ['Y', 'ax1'], ['y'])], inits: [...weights(), i64('ax1', [1])], outputs: ['y', 'yh'],
      inputs: [vi('x', DT.FLOAT, ['time', 'batch', 2]), vi('lens', DT.INT32, ['batch']), vi('h0', DT.FLOAT, [1, 'batch', 2])] });
    const extra = importedModelData(tm, '/some/dir/m.onnx').metadata.extra!;
    expect(extra).toEqual({
      [IMPORT_META.producer]: 'test 1',
      [IMPORT_META.source]: 'm.onnx',
      [IMPORT_META.opset]: '14',
      [IMPORT_META.inputLayout]: 'time-major (the source read [time, batch, features]; this model reads [batch, time, features])',
      [IMPORT_META.outputLayout]: 'time-major (the source wrote [time, batch, features]; this model writes [batch, time, features])',
      [IMPORT_META.sequenceLens]: 'true (export with { sequenceLens: true } to keep the sequence_lens input)',
      [IMPORT_META.droppedOutputs]: 'yh',
      [IMPORT_META.stateInputs]: 'h0[0:1] → h0_0 (export with { stateful: true } or rnnx export --stateful to feed them; layers without one start from zeros)',
    });
    expect(importedModelData(tm, 'C:\\models\\w.onnx').metadata.extra![IMPORT_META.source]).toBe('w.onnx');
    const plain = model(withHead([nd('Identity', ['h'], ['y'])]));
    plain.producerName = '';
    plain.producerVersion = '';
    expect(importedModelData(plain).metadata.extra).toEqual({ [IMPORT_META.producer]: 'unknown', [IMPORT_META.source]: 'model', [IMPORT_META.opset]: '14' });
  });

  it('describeStateInputs names row ranges, or lists rows that are not contiguous', () => {
    expect(describeStateInputs([
      { layer: 0, h: { input: 'h0', rows: [0, 1] }, c: { input: 'c0', rows: [0, 1] } },
      { layer: 2, h: { input: 'h0', rows: [2, 4] }, c: null },
      { layer: 3, h: null, c: { input: 'c0', rows: [3] } },
    ])).toBe('h0[0:2] → h0_0, c0[0:2] → c0_0, h0[2,4] → h0_2, c0[3:4] → c0_3 (export with { stateful: true } or rnnx export --stateful to feed them; layers without one start from zeros)');
  });
});

describe('run-time shapes (the glue PyTorch writes for dynamic batch and time)', () => {
  /** h0 = ConstantOfShape([1, batch, H]) with the batch size read from Shape(x). */
  const zerosH0 = (fill: Tensor | null, extra: Node[] = [], h0 = 'h0'): Node[] => [
    nd('Shape', ['x'], ['xs']),
    nd('Gather', ['xs', 'i0'], ['nb']),
    nd('Unsqueeze', ['nb', 'a0'], ['nb1']),
    nd('Concat', ['one', 'nb1', 'hsz'], ['h0shape'], [at.i('axis', 0)]),
    nd('ConstantOfShape', ['h0shape'], ['h0'], fill ? [at.t('value', fill)] : [], 'cos'),
    ...extra,
    xt(), lstm(['xt', 'W', 'R', 'B', '', h0, h0], ['', 'yh']), nd('Transpose', ['yh'], ['yht'], perm([1, 0, 2])), nd('Reshape', ['yht', 'flat'], ['y']),
  ];
  const inits = () => [...weights(), i64('i0', [0], []), i64('a0', [0]), i64('one', [1]), i64('hsz', [H])];

  it('zero initial states of a run-time shape are the default state', () => {
    for (const fill of [null, f32('', [1], [0])]) {
      const r = importOnnxModel(model({ nodes: zerosH0(fill), inits: inits() }));
      expect(r.info.stateInputs).toEqual([]);
      expect(r.data.spec.layers).toHaveLength(1);
    }
    // Expand of a zero constant to the run-time shape, and glue on zeros, stay zeros.
    const expand = zerosH0(null, [nd('Expand', ['z1', 'h0shape'], ['h0e']), nd('Transpose', ['h0e'], ['h0t'], perm([0, 1, 2])), nd('Slice', ['h0t', 'z0', 'one', 'a0'], ['h0s']), nd('Reshape', ['h0s', 'h0shape'], ['h0r']), nd('Concat', ['h0r'], ['h0c'], [at.i('axis', 0)]), nd('Squeeze', ['h0c'], ['h0q']), nd('Unsqueeze', ['h0q', 'a0'], ['h0u']), nd('Gather', ['h0u', 'z0'], ['h0g'])], 'h0g');
    expect(importOnnxModel(model({ nodes: expand, inits: [...inits(), f32('z1', [1, 1, 1], [0]), i64('z0', [0])] })).info.stateInputs).toEqual([]);
  });

  it('refuses nonzero states of a run-time shape and arithmetic on run-time sizes', () => {
    refusedAt({ nodes: zerosH0(f32('', [1], [0.5])), inits: inits() }, 'lstm', 'LSTM', 'ConstantOfShape cos fills a run-time shape with 0.5; only zero initial states are supported');
    const expand = zerosH0(null, [nd('Expand', ['half', 'h0shape'], ['h0e'], [], 'ex')], 'h0e');
    refusedAt({ nodes: expand, inits: [...inits(), f32('half', [1], [0.5])] }, 'ex', 'Expand', 'Expand of a nonzero value to a run-time shape is not supported');
    refusedAt({ nodes: zerosH0(null, [nd('Cast', ['nb', 'x'], ['nbf'], [at.i('to', 1)], 'cast'), nd('Unsqueeze', ['nbf', 'a0'], ['bad'])], 'bad'), inits: inits() }, 'cast', 'Cast', 'Cast of a run-time size to float');
    refusedAt({ nodes: zerosH0(null, [nd('Add', ['nb', 'one'], ['nb2'], [], 'add'), nd('Unsqueeze', ['nb2', 'a0'], ['bad'])], 'bad'), inits: inits() }, 'add', 'Add', 'Add on a run-time size is not supported');
    for (const inputs of [['nb', 'two'], ['two', 'nb']]) {
      refusedAt({ nodes: zerosH0(null, [nd('Mul', inputs, ['nb2'], [], 'mul'), nd('Unsqueeze', ['nb2', 'a0'], ['bad'])], 'bad'), inits: [...inits(), i64('two', [2], [])] }, 'mul', 'Mul', 'Mul on a run-time size is not supported');
    }
    // Multiplying a run-time size by 1 (either side) keeps it.
    const mul = zerosH0(null, [nd('Mul', ['one', 'nb1'], ['nbm']), nd('Mul', ['nbm', 'one'], ['nbm2']), nd('Concat', ['one', 'nbm2', 'hsz'], ['shape2'], [at.i('axis', 0)]), nd('ConstantOfShape', ['shape2'], ['h0m'])], 'h0m');
    expect(importOnnxModel(model({ nodes: mul, inits: inits() })).info.stateInputs).toEqual([]);
    const reshapeConst = zerosH0(null, [nd('Reshape', ['hsz', 'h0shape'], ['bad'], [], 'rs')], 'bad');
    refusedAt({ nodes: reshapeConst, inits: inits() }, 'rs', 'Reshape', 'Reshape of a constant to a run-time shape is not supported');
    const sliceEnd = zerosH0(null, [nd('Slice', ['hsz', 'z0', 'nb1'], ['bad'], [], 'sl')], 'bad');
    refusedAt({ nodes: sliceEnd, inits: [...inits(), i64('z0', [0])] }, 'sl', 'Slice', 'Slice.ends depends on the input\'s size at run time');
    const floatIdx = zerosH0(null, [nd('Gather', ['xs', 'fi'], ['bad'], [], 'ga')], 'bad');
    refusedAt({ nodes: floatIdx, inits: [...inits(), f32('fi', [1], [0])] }, 'ga', 'Gather', 'Gather.indices must be integers');
    // Zeros of a run-time shape next to a nonzero constant are not zeros.
    const mixed = zerosH0(null, [nd('Concat', ['h0', 'nz'], ['bad'], [at.i('axis', 0)], 'cat')], 'bad');
    refusedAt({ nodes: mixed, inits: [...inits(), f32('nz', [1, 1, H], new Array(H).fill(1))] }, 'cat', 'Concat', 'Concat mixes a value computed from the input with a constant or state; rnnx layers read only the previous layer');
    const inputIdx = zerosH0(null, [nd('Gather', ['xs', 'x'], ['bad'], [], 'ga')], 'bad');
    refusedAt({ nodes: inputIdx, inits: inits() }, 'ga', 'Gather', 'Gather.indices must be a constant (initializer, Constant node or folded glue), got a value computed from the input');
    const shapeOfState = { nodes: [nd('Shape', ['h0'], ['bad'], [], 'sh'), xt(), lstm(['xt', 'W', 'R', 'B', '', 'bad'], ['', 'yh']), nd('Transpose', ['yh'], ['yht'], perm([1, 0, 2])), nd('Reshape', ['yht', 'flat'], ['y'])], inits: inits(), inputs: [vi('x', DT.FLOAT, ['batch', 'time', 2]), vi('h0', DT.FLOAT, [1, 'batch', 2])] };
    refusedAt(shapeOfState, 'sh', 'Shape', 'the shape of this value is not known to the importer');
    const rankOfLens = { ...shapeOfState, nodes: [nd('Unsqueeze', ['lens', 'a0'], ['bad'], [], 'un'), ...shapeOfState.nodes.slice(1)], inputs: [vi('x', DT.FLOAT, ['batch', 'time', 2]), vi('lens', DT.INT32, ['batch'])] };
    refusedAt(rankOfLens, 'un', 'Unsqueeze', 'the rank of this value is not known to the importer');
    const squeezeState = { ...shapeOfState, nodes: [nd('Squeeze', ['h0'], ['bad'], [], 'sq'), ...shapeOfState.nodes.slice(1)] };
    refusedAt(squeezeState, 'sq', 'Squeeze', 'Squeeze of this value is not supported');
    const reshapeState = { ...shapeOfState, nodes: [nd('Reshape', ['h0', 'hshape'], ['bad'], [], 'rs'), ...shapeOfState.nodes.slice(1)], inits: [...inits(), i64('hshape', [1, -1, 2])] };
    refusedAt(reshapeState, 'rs', 'Reshape', 'Reshape of this value is not supported');
  });

  it('refuses arithmetic and Transpose on initial states fed as graph inputs, and a constant sequence_lens', () => {
    const inputs = [vi('x', DT.FLOAT, ['batch', 'time', 2]), vi('h0', DT.FLOAT, [1, 'batch', 2])];
    const viaState = (glue: Node): ModelParts => ({
      nodes: [glue, xt(), lstm(['xt', 'W', 'R', 'B', '', 'bad'], ['', 'yh']), nd('Transpose', ['yh'], ['yht'], perm([1, 0, 2])), nd('Reshape', ['yht', 'flat'], ['y'])],
      inits: [...weights(), f32('half', [1], [0.5])],
      inputs,
    });
    // Add / Mul of a state (either side) and a constant: neither an activation nor a constant.
    refusedAt(viaState(nd('Add', ['h0', 'half'], ['bad'], [], 'add')), 'add', 'Add', 'Add of a run-time shaped value is not supported');
    refusedAt(viaState(nd('Mul', ['half', 'h0'], ['bad'], [], 'mul')), 'mul', 'Mul', 'Mul of a run-time shaped value is not supported');
    refusedAt(viaState(nd('Transpose', ['h0'], ['bad'], perm([0, 1, 2]), 'tr')), 'tr', 'Transpose', 'Transpose of this value is not supported');
    // The identity permutation of a constant state is folded (and then a zero state is the default).
    const zeroT = viaState(nd('Transpose', ['z'], ['bad'], perm([0, 1, 2]), 'tr'));
    zeroT.inits = [...zeroT.inits!, f32('z', [1, 1, 2], [0, 0])];
    expect(importOnnxModel(model(zeroT)).info.stateInputs).toEqual([]);
    // sequence_lens is read from the integer graph input only; a constant one is named as such.
    const lensConst = withHead([nd('Identity', ['h'], ['y'])], [i64('L', [3])]);
    lensConst.nodes[1] = lstm(['xt', 'W', 'R', 'B', 'L'], ['', 'yh']);
    refusedAt(lensConst, 'lstm', 'LSTM', 'LSTM.sequence_lens is a constant; rnnx reads sequence_lens from the graph input');
  });

  it('a fixed batch size in the input counts as a number', () => {
    // x [3, time, 2]: Shape(x)[0] is 3, so the zeros have a known shape (a constant).
    const r = importOnnxModel(model({ nodes: zerosH0(null), inits: inits(), inputs: [vi('x', DT.FLOAT, [3, 'time', 2])] }));
    expect(r.info.stateInputs).toEqual([]);
    refusedAt({ nodes: zerosH0(f32('', [1], [0.5])), inits: inits(), inputs: [vi('x', DT.FLOAT, [3, 'time', 2])] }, 'lstm', 'LSTM',
      'LSTM.initial_h is not zero: rnnx layers start from a zero state or from states fed as graph inputs (a learned or constant initial state cannot be imported)');
  });
});

describe('reshapes and concatenations of activations', () => {
  const head = (nodes: Node[], inits: Tensor[] = []) => withHead([nd('MatMul', ['h', 'Wd'], ['m'], [], 'mm'), ...nodes], [f32('Wd', [2, 4], [1, 2, 3, 4, 5, 6, 7, 8]), ...inits]);

  it('splitting and merging feature axes moves features exactly as the data would move', () => {
    // m [N, 4] → [N, 2, 2] → transpose the two feature axes → [N, 4]: features in order 0, 2, 1, 3.
    const p = head([nd('Reshape', ['m', 's22'], ['m22']), nd('Transpose', ['m22'], ['m22t'], perm([0, 2, 1])), nd('Reshape', ['m22t', 's4'], ['mt']), nd('MatMul', ['mt', 'W2'], ['y'])], [i64('s22', [0, 2, 2]), i64('s4', [0, -1]), f32('W2', [4, 1], [1, 2, 3, 4])]);
    expect(dense(p, 2).W).toEqual([1, 3, 2, 4]);
    // Size-1 axes come and go: [N, 4] → [N, 1, 4, 1] → [N, 4].
    const ones = head([nd('Reshape', ['m', 's141'], ['m1']), nd('Reshape', ['m1', 's4'], ['y'])], [i64('s141', [0, 1, 4, 1]), i64('s4', [0, 4])]);
    expect(importOnnxModel(model(ones)).data.spec.layers).toHaveLength(2);
    // Flatten of [N, 2, 2] from axis 1 is [N, 4].
    const flat = head([nd('Reshape', ['m', 's22'], ['m22']), nd('Flatten', ['m22'], ['y'])], [i64('s22', [0, 2, 2])]);
    expect(importOnnxModel(model(flat)).data.spec.layers).toHaveLength(2);
    // A size-1 axis concatenated joins the features: [N, 1, 2] twice along axis 1 → [N, 2, 2] → [N, 4].
    const cat = withHead([nd('Unsqueeze', ['h', 'a1'], ['hu']), nd('Concat', ['hu', 'hu'], ['hc'], [at.i('axis', 1)]), nd('Reshape', ['hc', 'flat'], ['hf']), nd('MatMul', ['hf', 'W4'], ['y'])], [i64('a1', [1]), f32('W4', [4, 1], [1, 2, 4, 8])]);
    expect(dense(cat).W).toEqual([5, 10]);
    // Squeeze of a size-1 feature axis; Unsqueeze then Squeeze with no axes.
    const sq = withHead([nd('Unsqueeze', ['h', 'a1'], ['hu']), nd('Squeeze', ['hu'], ['y'])], [i64('a1', [2])]);
    expect(importOnnxModel(model(sq)).data.spec.layers).toHaveLength(1);
  });

  it('refuses reshapes that merge, split or move the batch and time axes, and bad targets', () => {
    const rs = (target: number[], nodes: Node[] = [], inits: Tensor[] = []) => head([...nodes, nd('Reshape', [nodes.length ? 'mm2' : 'm', 'tg'], ['y'], [], 'rs')], [i64('tg', target), ...inits]);
    refusedAt(rs([-1]), 'rs', 'Reshape', 'this reshape merges the batch or time axis with another axis');
    refusedAt(rs([0, 3, -1]), 'rs', 'Reshape', 'Reshape target [0,3,-1] does not divide the input\'s size');
    refusedAt(rs([0, -1, 0]), 'rs', 'Reshape', 'Reshape copies (0) a dimension the input does not have');
    refusedAt(rs([0, 2]), 'rs', 'Reshape', 'this reshape merges a feature axis with the batch or time axis');
    refusedAt(rs([0, 4, 3]), 'rs', 'Reshape', 'Reshape target [0,4,3] adds an axis the input does not have');
    refusedAt(rs([0, 8]), 'rs', 'Reshape', 'this reshape merges a feature axis with the batch or time axis');
    refusedAt(head([nd('Reshape', ['m', 'tg'], ['y'], [at.i('allowzero', 1)], 'rs')], [i64('tg', [0, 4])]), 'rs', 'Reshape', 'Reshape with allowzero = 1 and a 0 in the shape is not supported');
    expect(importOnnxModel(model(head([nd('Reshape', ['m', 'tg'], ['y'], [at.i('allowzero', 1)], 'rs')], [i64('tg', [-1, 4])]))).data.spec.layers).toHaveLength(2);
    // With a fixed batch of 3, [3, 4] → [12] merges it, [3, 4] → [6, 2] splits it.
    const fixed = (target: number[]) => ({ ...rs(target), inputs: [vi('x', DT.FLOAT, [3, 'time', 2])] });
    refusedAt(fixed([12]), 'rs', 'Reshape', 'this reshape merges or splits the batch or time axis');
    refusedAt(fixed([6, 2]), 'rs', 'Reshape', 'this reshape merges or splits the batch or time axis');
    expect(importOnnxModel(model(fixed([3, 4]))).data.spec.layers).toHaveLength(2);
    expect(importOnnxModel(model(fixed([-1, 4]))).data.spec.layers).toHaveLength(2);
    // A run-time batch left for the -1; a batch fixed at 1 is still the batch axis, not a size-1 axis.
    expect(importOnnxModel(model(rs([-1, 4]))).data.spec.layers).toHaveLength(2);
    expect(importOnnxModel(model({ ...rs([1, 4]), inputs: [vi('x', DT.FLOAT, [1, 'time', 2])] })).info.outputLayout).toBeNull();
    expect(importOnnxModel(model({ ...rs([1, -1]), inputs: [vi('x', DT.FLOAT, [1, 'time', 2])] })).data.spec.layers).toHaveLength(2);
    // The time axis (x's second axis) left for the -1 of [-1, 0, H] on s [time, batch, H]: run-time, or fixed at 5 (5 * H / H).
    for (const inputs of [undefined, [vi('x', DT.FLOAT, ['batch', 5, 2])]]) {
      const r = importOnnxModel(model({ ...withSeq([nd('Reshape', ['s', 'tg'], ['y'], [], 'rs')], [i64('tg', [-1, 0, H])]), ...(inputs ? { inputs } : {}) }));
      expect(r.info.outputLayout).toBe('time-major');
      expect(r.data.spec.layers[0]).toMatchObject({ kind: 'lstm', returnSequences: true });
    }
    // A run-time target read from Shape that swaps batch and time.
    const swapped = withSeq([
      nd('Shape', ['s'], ['ss']), nd('Gather', ['ss', 'i1'], ['d1']), nd('Gather', ['ss', 'i0'], ['d0']), nd('Concat', ['d1', 'd0', 'h2'], ['tg'], [at.i('axis', 0)]),
      nd('Reshape', ['s', 'tg'], ['y'], [], 'rs'),
    ], [i64('i0', [0]), i64('i1', [1]), i64('h2', [H])]);
    refusedAt(swapped, 'rs', 'Reshape', 'this reshape moves the batch or time axis');
    const kept = withSeq([
      nd('Shape', ['s'], ['ss']), nd('Gather', ['ss', 'i1'], ['d1']), nd('Gather', ['ss', 'i0'], ['d0']), nd('Concat', ['d0', 'd1', 'h2'], ['tg'], [at.i('axis', 0)]),
      nd('Reshape', ['s', 'tg'], ['y'], [], 'rs'),
    ], [i64('i0', [0]), i64('i1', [1]), i64('h2', [H])]);
    expect(importOnnxModel(model(kept)).info.outputLayout).toBe('time-major');
    // 0 copies any axis, the feature axis included: [0, 0, 0] is the identity (and the copy keeps
    // its size: the -1 after it divides by it).
    const copyAll = importOnnxModel(model(withSeq([nd('Reshape', ['s', 'tg'], ['s0'], [], 'rs'), nd('Reshape', ['s0', 'tg1'], ['y'])], [i64('tg', [0, 0, 0]), i64('tg1', [0, 0, -1])])));
    const identity = importOnnxModel(model(withSeq([nd('Identity', ['s'], ['y'])])));
    expect(copyAll.info.outputLayout).toBe('time-major');
    expect(copyAll.data.spec).toEqual(identity.data.spec);
    expect(Array.from(copyAll.data.params)).toEqual(Array.from(identity.data.params));
    // A target of only the batch: drops the feature axis.
    refusedAt({ ...rs([3]), inputs: [vi('x', DT.FLOAT, [3, 'time', 2])] }, 'rs', 'Reshape', 'Reshape target [3] drops an axis of the input');
  });

  it('refuses concatenations rnnx cannot represent', () => {
    refusedAt(withHead([nd('Concat', ['h', 'W'], ['y'], [at.i('axis', 1)], 'cat')]), 'cat', 'Concat', 'Concat mixes a value computed from the input with a constant or state; rnnx layers read only the previous layer');
    refusedAt(withHead([nd('Concat', ['h', 'h'], ['y'], [at.i('axis', 0)], 'cat')]), 'cat', 'Concat', 'it concatenates along the batch or time axis');
    refusedAt(withHead([nd('Unsqueeze', ['h', 'a1'], ['hu1']), nd('Unsqueeze', ['h', 'a2'], ['hu2']), nd('Concat', ['hu1', 'hu2'], ['y'], [at.i('axis', 1)], 'cat')], [i64('a1', [1]), i64('a2', [2])]), 'cat', 'Concat', 'Concat inputs have different axes');
    refusedAt(withHead([nd('Concat', ['', ''], ['y'], [], 'cat')]), 'cat', 'Concat', 'Concat has no inputs');
    refusedAt(withHead([nd('Concat', ['h', 'h'], ['y'], [at.i('axis', 2)], 'cat')]), 'cat', 'Concat', 'Concat.axis 2 is out of range for rank 2');
    refusedAt(withSeq([nd('Squeeze', ['s', 'a0'], ['y'], [], 'sq')], [i64('a0', [0])]), 'sq', 'Squeeze', 'Squeeze axis 0 does not have size 1');
    // A constant Concat (of integers) along a negative axis.
    const c = withHead([nd('Concat', ['k1', 'k2'], ['tg'], [at.i('axis', -1)]), nd('Reshape', ['h', 'tg'], ['y'])], [i64('k1', [0]), i64('k2', [-1])]);
    expect(importOnnxModel(model(c)).data.spec.layers).toHaveLength(1);
  });
});

describe('more glue', () => {
  const head = (nodes: Node[], inits: Tensor[] = []) => withHead([nd('MatMul', ['h', 'Wd'], ['m'], [], 'mm'), ...nodes], [f32('Wd', [2, 4], [1, 2, 3, 4, 5, 6, 7, 8]), ...inits]);

  it('stepped and reversed feature slices fold into the next layer', () => {
    const sl = (st: number, en: number, step: number) => head([nd('Slice', ['m', 'st', 'en', 'ax', 'sp'], ['ms']), nd('MatMul', ['ms', 'W2'], ['y'])], [i64('st', [st]), i64('en', [en]), i64('ax', [-1]), i64('sp', [step]), f32('W2', [2, 1], [10, 20])]);
    expect(dense(sl(0, 4, 2), 2).W).toEqual([10, 0, 20, 0]);
    expect(dense(sl(-1, -100, -3), 2).W).toEqual([20, 0, 0, 10]);
    expect(dense(sl(3, 0, -2), 2).W).toEqual([0, 20, 0, 10]);
  });

  it('a size-1 axis can be gathered or sliced at 0 or -1 only', () => {
    const one = (node: Node, inits: Tensor[]) => withHead([nd('Unsqueeze', ['h', 'a1'], ['hu']), node, nd('Reshape', ['hp', 'flat2'], ['y'])], [i64('a1', [1]), i64('flat2', [0, -1]), ...inits]);
    for (const i of [0, -1]) expect(importOnnxModel(model(one(nd('Gather', ['hu', 'i'], ['hp'], [at.i('axis', 1)]), [i64('i', [i], [])]))).data.spec.layers).toHaveLength(1);
    expect(importOnnxModel(model(one(nd('Gather', ['hu', 'i'], ['hp'], [at.i('axis', 1)]), [i64('i', [0])]))).data.spec.layers).toHaveLength(1);
    refusedAt(one(nd('Gather', ['hu', 'i'], ['hp'], [at.i('axis', 1)], 'ga'), [i64('i', [1])]), 'ga', 'Gather', 'Gather index out of range for an axis of size 1');
    const slice = (st: number, en: number) => one(nd('Slice', ['hu', 'st', 'en', 'ax'], ['hp'], [], 'sl'), [i64('st', [st]), i64('en', [en]), i64('ax', [1])]);
    expect(importOnnxModel(model(slice(0, 1))).data.spec.layers).toHaveLength(1);
    expect(importOnnxModel(model(slice(-1, 2 ** 40))).data.spec.layers).toHaveLength(1);
    refusedAt(slice(1, 2), 'sl', 'Slice', 'Slice leaves an empty axis');
  });

  it('Flatten of activations keeps the batch axis apart', () => {
    const fl = (axis: number) => head([nd('Reshape', ['m', 's22'], ['m22']), nd('Flatten', ['m22'], ['y'], [at.i('axis', axis)], 'fl')], [i64('s22', [0, 2, 2])]);
    expect(importOnnxModel(model(fl(1))).data.spec.layers).toHaveLength(2);
    expect(importOnnxModel(model(fl(-2))).data.spec.layers).toHaveLength(2);
    refusedAt(fl(0), 'fl', 'Flatten', 'this reshape merges the batch or time axis with another axis');
    refusedAt(fl(2), 'fl', 'Flatten', 'this reshape merges the batch or time axis with another axis');
    refusedAt(fl(4), 'fl', 'Flatten', 'Flatten.axis 4 is out of range [-3, 3] for rank 3');
    for (const axis of [-3, 3]) refusedAt(fl(axis), 'fl', 'Flatten', 'this reshape merges the batch or time axis with another axis');
    refusedAt(fl(-4), 'fl', 'Flatten', 'Flatten.axis -4 is out of range [-3, 3] for rank 3');
  });

  it('Cast, Identity and Dropout pass activations through; Cast between integer types keeps the values', () => {
    const p = withHead([nd('Cast', ['h', ''], ['hc'], [at.i('to', 1)]), nd('Dropout', ['hc'], ['hd']), nd('Identity', ['hd'], ['y'])]);
    expect(importOnnxModel(model(p)).data.spec.layers).toHaveLength(1);
    const ints = withHead([nd('Cast', ['k', ''], ['k32'], [at.i('to', 6)]), nd('Reshape', ['h', 'k32'], ['y'])], [i64('k', [0, -1])]);
    expect(importOnnxModel(model(ints)).data.spec.layers).toHaveLength(1);
  });

  it('Unsqueeze inserts several axes in increasing order', () => {
    // R [8, 2] → axes [2, 0] → [1, 8, 1, 2] → Squeeze axis 2 → [1, 8, 2].
    const p = { ...withHead([nd('Identity', ['h'], ['y'])]), inits: [...weights().filter((t) => t.name !== 'R'), f32('R82', [8, 2], REF.R), i64('ax', [2, 0]), i64('sq', [2])] };
    p.nodes = [nd('Unsqueeze', ['R82', 'ax'], ['R4']), nd('Squeeze', ['R4', 'sq'], ['R']), ...p.nodes];
    const { data } = importOnnxModel(model(p));
    const l = data.layout.layers[0];
    if (l.kind === 'dense') throw new Error('dense');
    expect(Array.from(view(data.params, l.R))).toEqual(REF.R);
  });
});
