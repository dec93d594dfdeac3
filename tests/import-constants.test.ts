// Constant folding in the importer (src/graph/import.ts): weights and shapes that exporters
// compute with glue (Transpose, Reshape, Slice, Gather, Concat, arithmetic, Cast, Shape,
// ConstantOfShape, Expand, Constant nodes) from tensors of any encoding. The reference is the
// weights themselves: whatever path a graph takes to W, R and B, the imported layer must hold
// exactly the values listed here (all exact in float32).

import { describe, expect, it } from 'vitest';
import { at, DT, f32, H, i64, I, importedWeights, importError, lstmModel, nd, REF, tensor, type Attr, type Node, type Tensor } from './import-helpers.js';

const W3 = [1, 4 * H, I];
const R3 = [1, 4 * H, H];
const B2 = [1, 8 * H];
/** The reference weights as plain initializers named W, R, B. */
const plain = (): Tensor[] => [f32('W', W3, REF.W), f32('R', R3, REF.R), f32('B', B2, REF.B)];
const without = (name: string) => plain().filter((t) => t.name !== name);
const expectRef = (got: { W: number[]; R: number[]; B: number[] }) => expect(got).toEqual({ W: REF.W, R: REF.R, B: REF.B });

/** [rows, cols] row-major → its transpose. */
function transpose2(v: number[], rows: number[] | number, cols: number): number[] {
  const r = typeof rows === 'number' ? rows : rows[0];
  const out: number[] = [];
  for (let c = 0; c < cols; c++) for (let q = 0; q < r; q++) out.push(v[q * cols + c]);
  return out;
}

describe('tensor encodings', () => {
  it('float32 and float64, as raw_data and as float_data / double_data', () => {
    expectRef(importedWeights(lstmModel({ inits: plain() })));
    expectRef(importedWeights(lstmModel({ inits: [f32('W', W3, REF.W, false), tensor('R', DT.DOUBLE, R3, REF.R, false), tensor('B', DT.DOUBLE, B2, REF.B)] })));
    // A bias left out is zeros.
    expect(importedWeights(lstmModel({ inits: without('B'), B: '' })).B).toEqual(new Array(16).fill(0));
    // For every cell and hidden size: 2 * gates * hidden zeros, one direction. Hidden size 1 also
    // checks that Y_h's one feature, reshaped to [batch, -1], is still read as the features.
    for (const [op, G] of [['LSTM', 4], ['GRU', 3], ['RNN', 1]] as const) {
      for (const h of [1, 2, 3]) {
        const p = lstmModel({ inits: [f32('Wk', [1, G * h, I], new Array(G * h * I).fill(0.25)), f32('Rk', [1, G * h, h], new Array(G * h * h).fill(0.5))], W: 'Wk', R: 'Rk', B: '' });
        p.graph!.node![1] = { ...p.graph!.node![1], opType: op, attribute: [at.i('hidden_size', h)] };
        expect(importedWeights(p).B, `${op} ${h}`).toEqual(new Array(2 * G * h).fill(0));
      }
    }
  });

  it('integer indices of every width and signedness select the same columns', () => {
    // W = Wbig[:, :, [1, 0]] where Wbig has three columns: col 0 = W's col 1, col 1 = W's col 0.
    const Wbig: number[] = [];
    for (let r = 0; r < 4 * H; r++) Wbig.push(REF.W[r * 2 + 1], REF.W[r * 2], 99);
    const variants: [string, Tensor][] = [
      ['int64 int64_data', i64('idx', [1, 0])],
      ['int64 raw, negative', tensor('idx', DT.INT64, [2], [-2, -3])],
      ['int32 raw', tensor('idx', DT.INT32, [2], [1, -3])],
      ['int32 int32_data', tensor('idx', DT.INT32, [2], [1, 0], false)],
      ['int16 raw', tensor('idx', DT.INT16, [2], [-2, 0])],
      ['int8 raw', tensor('idx', DT.INT8, [2], [-2, -3])],
      ['uint8 raw', tensor('idx', DT.UINT8, [2], [1, 0])],
      ['bool raw', tensor('idx', DT.BOOL, [2], [1, 0])],
    ];
    for (const [what, idx] of variants) {
      const got = importedWeights(lstmModel({ nodes: [nd('Gather', ['Wbig', 'idx'], ['W'], [at.i('axis', 2)])], inits: [f32('Wbig', [1, 4 * H, 3], Wbig), idx, ...without('W')] }));
      expect(got.W, what).toEqual(REF.W);
    }
    // Gather with a scalar index drops the axis; Unsqueeze puts it back.
    const got = importedWeights(lstmModel({
      nodes: [nd('Gather', ['Wstack', 'one'], ['W2'], [at.i('axis', 0)]), nd('Unsqueeze', ['W2', 'ax0'], ['W'])],
      inits: [f32('Wstack', [2, 4 * H, I], [...REF.W.map((v) => v + 1), ...REF.W]), i64('one', [-1], []), i64('ax0', [0]), ...without('W')],
    }));
    expect(got.W).toEqual(REF.W);
  });

  it('a tensor with a data type the importer does not read, or too few values, fails where it is used', () => {
    const e = importError(lstmModel({ inits: [tensor('W', DT.FLOAT16, W3, REF.W.map(() => 0x3c00), false), ...without('W')] }));
    expect(e.node).toBe('lstm');
    expect(e.reason).toBe('initializer W has data_type 10; the importer reads float32, float64 and integer tensors');
    const short = importError(lstmModel({ inits: [f32('W', W3, REF.W.slice(0, 15), false), ...without('W')] }));
    expect(short.reason).toBe('initializer W: holds 15 values, dims [1,8,2] need 16');
    const rawShort = importError(lstmModel({ inits: [{ ...f32('W', W3, REF.W), rawData: f32('W', W3, REF.W).rawData!.subarray(0, 60) }, ...without('W')] }));
    expect(rawShort.reason).toBe('initializer W: raw_data has 60 bytes, dims [1,8,2] need 64');
    const widths: [number, number][] = [[DT.DOUBLE, 8], [DT.INT64, 8], [DT.INT32, 4], [DT.INT16, 2], [DT.INT8, 1]];
    for (const [dt, w] of widths) {
      const t = tensor('idx', dt, [3], [0, 1, 0]);
      const cut = importError(lstmModel({ nodes: [nd('Gather', ['Wbig', 'idx'], ['W'], [at.i('axis', 2)])], inits: [{ ...t, dims: [4] }, f32('Wbig', [1, 8, 2], REF.W), ...without('W')] }));
      expect(cut.reason, String(dt)).toBe(`initializer idx: raw_data has ${3 * w} bytes, dims [4] need ${4 * w}`);
    }
  });
});

describe('glue on constants', () => {
  it('Transpose, Unsqueeze (input axes from opset 13), Reshape to a Concat-ed shape, Concat of halves', () => {
    const nodes: Node[] = [
      nd('Transpose', ['Wt'], ['W2'], [at.ints('perm', [1, 0])]),
      nd('Unsqueeze', ['W2', 'ax0'], ['W']),
      nd('Concat', ['d0', 'd1', 'd2'], ['rshape'], [at.i('axis', 0)]),
      nd('Reshape', ['Rflat', 'rshape'], ['R']),
      nd('Concat', ['Ba', 'Bb'], ['B'], [at.i('axis', -1)]),
    ];
    const inits = [
      f32('Wt', [I, 4 * H], transpose2(REF.W, 4 * H, I)), i64('ax0', [0]),
      i64('d0', [1]), i64('d1', [-1]), i64('d2', [H]), f32('Rflat', [16], REF.R),
      f32('Ba', [1, 5], REF.B.slice(0, 5)), f32('Bb', [1, 11], REF.B.slice(5)),
    ];
    expectRef(importedWeights(lstmModel({ nodes, inits })));
  });

  it('Unsqueeze and Squeeze axes as attributes before opset 13; Transpose without perm reverses the axes', () => {
    const transposeB = nd('Transpose', ['Bt'], ['B4'], []);
    const nodes: Node[] = [
      nd('Unsqueeze', ['Wc'], ['W'], [at.ints('axes', [0])]),
      nd('Squeeze', ['R4'], ['R'], [at.ints('axes', [-2])]),
      transposeB,
      nd('Squeeze', ['B4'], ['B']),
    ];
    const inits = [f32('Wc', [4 * H, I], REF.W), f32('R4', [1, 4 * H, 1, H], REF.R), f32('Bt', [16, 1, 1, 1], REF.B)];
    // Bt [16,1,1,1] → reversed [1,1,1,16] → squeeze every size-1 axis → [16]: not B's [1, 16].
    const e = importError(lstmModel({ nodes, inits }, 11));
    expect(e.reason).toBe('LSTM.B must have dims [1, 16], got [16]');
    const ok = [...nodes.slice(0, 3), nd('Squeeze', ['B4'], ['B'], [at.ints('axes', [1, 2])])];
    expectRef(importedWeights(lstmModel({ nodes: ok, inits }, 11)));
  });

  it('Unsqueeze before opset 13 needs its axes attribute', () => {
    const un = (attrs: Attr[]) => lstmModel({ nodes: [nd('Unsqueeze', ['Wc'], ['W'], attrs, 'un')], inits: [f32('Wc', [4 * H, I], REF.W), ...without('W')] }, 12);
    const e = importError(un([]));
    expect({ node: e.node, opType: e.opType, reason: e.reason }).toEqual({ node: 'un', opType: 'Unsqueeze', reason: 'Unsqueeze needs axes' });
    expectRef(importedWeights(un([at.ints('axes', [0])])));
  });

  it('Flatten, Identity and Dropout', () => {
    const nodes: Node[] = [nd('Flatten', ['B3'], ['Bf'], [at.i('axis', 1)]), nd('Identity', ['Bf'], ['B']), nd('Dropout', ['W0'], ['W']), nd('Flatten', ['R4'], ['R2'], [at.i('axis', -1)]), nd('Unsqueeze', ['R2', 'ax0'], ['R'])];
    const inits = [f32('B3', [1, 2, 8], REF.B), f32('W0', W3, REF.W), f32('R4', [8, 1, 1, 2], REF.R), i64('ax0', [0])];
    expectRef(importedWeights(lstmModel({ nodes, inits })));
    // Flatten's default axis 1 turns [8, 1, 1, 2] into [8, 2] as well.
    const dflt = [nodes[0], nodes[1], nodes[2], nd('Flatten', ['R4'], ['R2']), nodes[4]];
    expectRef(importedWeights(lstmModel({ nodes: dflt, inits })));
  });

  it('Slice: inputs from opset 10 (negative, clamped, stepped, reversed), attributes before', () => {
    // Wbig rows: 2 junk rows, then W's rows in reverse order, then 1 junk row.
    const rows = Array.from({ length: 8 }, (_, r) => REF.W.slice(r * 2, r * 2 + 2));
    const Wbig = [[9, 9], [9, 9], ...rows.slice().reverse(), [9, 9]].flat();
    // Rbig: every other row is R's.
    const Rbig = Array.from({ length: 16 }, (_, r) => (r % 2 === 0 ? REF.R.slice(r, r + 2) : [7, 7])).flat();
    const nodes: Node[] = [
      nd('Slice', ['Wbig', 's', 'e', 'a', 'st'], ['W']),
      nd('Slice', ['Rbig', 'rs', 're', 'ra', 'rst'], ['R']),
      nd('Slice', ['Bbig', 'bs', 'be'], ['B']),
    ];
    const inits = [
      f32('Wbig', [1, 11, 2], Wbig), i64('s', [-2]), i64('e', [1]), i64('a', [1]), i64('st', [-1]),
      f32('Rbig', [1, 16, 2], Rbig), i64('rs', [0]), i64('re', [2 ** 40]), i64('ra', [-2]), i64('rst', [2]),
      f32('Bbig', [2, 17], [...new Array(17).fill(5), ...REF.B, 5]), i64('bs', [1, -100]), i64('be', [9, 16]),
    ];
    expectRef(importedWeights(lstmModel({ nodes, inits })));
    // A start past the end with a negative step starts at the last element (clamped to n - 1).
    const Wtail = [[9, 9], [9, 9], ...rows.slice().reverse()].flat();
    const fromEnd: Node[] = [nd('Slice', ['Wtail', 'fs', 'fe', 'a', 'st'], ['W']), nodes[1], nodes[2]];
    const tailInits = [...inits.filter((t) => !['Wbig', 's', 'e'].includes(t.name!)), f32('Wtail', [1, 10, 2], Wtail), i64('fs', [2 ** 40]), i64('fe', [1])];
    expectRef(importedWeights(lstmModel({ nodes: fromEnd, inits: tailInits })));
    // Opset 9: starts, ends and axes are attributes.
    const old: Node[] = [
      nd('Slice', ['Wbig2'], ['W'], [at.ints('starts', [2]), at.ints('ends', [2 ** 31 - 1]), at.ints('axes', [1])]),
      nd('Slice', ['Bbig'], ['B'], [at.ints('starts', [1, 0]), at.ints('ends', [2, 16])]),
    ];
    const inits9 = [f32('Wbig2', [1, 10, 2], [9, 9, 9, 9, ...REF.W]), f32('Bbig', [2, 17], [...new Array(17).fill(5), ...REF.B, 5]), f32('R', R3, REF.R)];
    expectRef(importedWeights(lstmModel({ nodes: old, inits: inits9 }, 9)));
    const zero = importError(lstmModel({ nodes, inits: inits.map((t) => (t.name === 'st' ? i64('st', [0]) : t)) }));
    expect(zero.reason).toBe('Slice step must not be 0');
  });

  it('Add, Sub, Mul and Div of float constants with broadcasting; Constant nodes of every kind', () => {
    const nodes: Node[] = [
      nd('Constant', [], ['quarter'], [at.f('value_float', 0.25)]),
      nd('Constant', [], ['two'], [at.floats('value_floats', [2])]),
      nd('Constant', [], ['Wlow'], [at.t('value', f32('', W3, REF.W.map((v) => v - 0.25)))]),
      nd('Add', ['Wlow', 'quarter'], ['W']),
      nd('Sub', ['Rhigh', 'Rone'], ['R']),
      nd('Mul', ['Bhalf', 'two'], ['B']),
    ];
    const inits = [f32('Rhigh', R3, REF.R.map((v) => v + 1)), f32('Rone', [1, 1, 1], [1]), f32('Bhalf', B2, REF.B.map((v) => v / 2))];
    expectRef(importedWeights(lstmModel({ nodes, inits })));
    const div = [...nodes.slice(0, 5), nd('Div', ['Bdouble', 'two'], ['B'])];
    expectRef(importedWeights(lstmModel({ nodes: div, inits: [...inits, f32('Bdouble', B2, REF.B.map((v) => v * 2))] })));
    // Shapes that do not broadcast are named, not read past their end.
    const bad = [...nodes.slice(0, 5), nd('Mul', ['Bhalf', 'pair'], ['B'], [], 'mul_pair')];
    const e = importError(lstmModel({ nodes: bad, inits: [...inits, f32('pair', [2], [2, 2])] }));
    expect({ node: e.node, reason: e.reason }).toEqual({ node: 'mul_pair', reason: 'Mul: shapes [1,16] and [2] do not broadcast' });
  });
});

describe('shapes computed from constants', () => {
  it('integer Add, Sub, Mul and Div (truncating), Cast both ways, Constant value_int and value_ints', () => {
    const nodes: Node[] = [
      nd('Constant', [], ['seventeen'], [at.i('value_int', 17)]),
      nd('Constant', [], ['two'], [at.ints('value_ints', [2])]),
      nd('Div', ['seventeen', 'two'], ['eight']), // 8.5 → 8
      nd('Sub', ['five', 'three'], ['h']), // 2
      nd('Mul', ['one', 'one'], ['d0']),
      nd('Add', ['zero', 'd0'], ['d0b']),
      nd('Unsqueeze', ['eight', 'ax0'], ['d1']),
      nd('Concat', ['d0b', 'd1', 'h'], ['rshape'], [at.i('axis', 0)]),
      nd('Reshape', ['Rflat', 'rshape'], ['R']),
      // Cast float → int64 truncates; int64 → float gives the number back.
      nd('Cast', ['wdims_f'], ['wdims'], [at.i('to', DT.INT64)]),
      nd('Reshape', ['Wflat', 'wdims'], ['W']),
      nd('Cast', ['four_i'], ['four_f'], [at.i('to', DT.FLOAT)]),
      nd('Div', ['Bx4', 'four_f'], ['B']),
    ];
    const inits = [
      i64('five', [5]), i64('three', [3]), i64('one', [1]), i64('zero', [0]), i64('ax0', [0]), f32('Rflat', [16], REF.R),
      f32('wdims_f', [3], [1.9, 8.7, -1.2]), f32('Wflat', [16], REF.W), i64('four_i', [4]), f32('Bx4', B2, REF.B.map((v) => v * 4)),
    ];
    // wdims [1, 8, -1]: the -1 is inferred as 2.
    expectRef(importedWeights(lstmModel({ nodes, inits })));
    // A Cast to the type a value already has is the value itself; Cast to float16 counts as float.
    const same = [...nodes.slice(0, 11), nd('Cast', ['Bx4'], ['Bf'], [at.i('to', 10)]), nd('Cast', ['Bf'], ['Bq'], [at.i('to', 1)]), nd('Div', ['Bq', 'four_f'], ['B'])];
    expectRef(importedWeights(lstmModel({ nodes: [...same.slice(0, 11), nodes[11], ...same.slice(11)], inits })));
  });

  it('Shape of a constant, with opset 15 start and end (negative, clamped); Gather of a shape', () => {
    const nodes: Node[] = [
      nd('Shape', ['Wref'], ['wshape']),
      nd('Reshape', ['Wflat', 'wshape'], ['W']),
      nd('Shape', ['Rref'], ['rtail'], [at.i('start', -2)]), // [8, 2]
      nd('Shape', ['Rref'], ['rhead'], [at.i('start', -100), at.i('end', 1)]), // [1]
      nd('Concat', ['rhead', 'rtail'], ['rshape'], [at.i('axis', 0)]),
      nd('Reshape', ['Rflat', 'rshape'], ['R']),
      nd('Shape', ['Bref'], ['bshape'], [at.i('end', 100)]),
      nd('Gather', ['bshape', 'last'], ['blen']), // [16]
      nd('Concat', ['one', 'blen'], ['bdims'], [at.i('axis', 0)]),
      nd('Reshape', ['Bflat', 'bdims'], ['B']),
    ];
    const inits = [
      f32('Wref', W3, new Array(16).fill(0)), f32('Wflat', [16], REF.W),
      f32('Rref', [1, 8, 2], new Array(16).fill(0)), f32('Rflat', [16], REF.R),
      f32('Bref', [1, 16], new Array(16).fill(0)), i64('last', [-1]), i64('one', [1]), f32('Bflat', [16], REF.B),
    ];
    expectRef(importedWeights(lstmModel({ nodes, inits }, 15)));
  });

  it('Reshape of a constant: 0 copies a dimension, -1 takes the rest; a changed element count is refused', () => {
    const nodes: Node[] = [nd('Reshape', ['W2', 'wshape'], ['W'])];
    expectRef(importedWeights(lstmModel({ nodes, inits: [f32('W2', [1, 16], REF.W), i64('wshape', [0, 8, -1]), ...without('W')] })));
    const e = importError(lstmModel({ nodes, inits: [f32('W2', [1, 16], REF.W), i64('wshape', [0, 3, 5]), ...without('W')] }));
    expect(e.reason).toBe('Reshape of [1,16] to [1,3,5] changes the element count');
  });

  it('ConstantOfShape (float value, int64 value, no value) and Expand of a constant', () => {
    const nodes: Node[] = [
      nd('ConstantOfShape', ['bdims'], ['B'], [at.t('value', f32('', [1], [0.375]))]),
      nd('ConstantOfShape', ['three'], ['ones'], [at.t('value', i64('', [1]))]),
      nd('Add', ['rdims0', 'ones'], ['rdims']), // [0, 7, 1] + 1 = [1, 8, 2]
      nd('Reshape', ['Rflat', 'rdims'], ['R']),
      nd('Expand', ['Wcol', 'wdims'], ['W']),
    ];
    // W = Wcol [1, 8, 1] expanded along the last axis: each row holds its value twice.
    const col = Array.from({ length: 8 }, (_, r) => (r - 3) / 8);
    const inits = [i64('bdims', [1, 16]), i64('three', [3]), i64('rdims0', [0, 7, 1]), f32('Rflat', [16], REF.R), f32('Wcol', [1, 8, 1], col), i64('wdims', [1, 2])];
    expect(importedWeights(lstmModel({ nodes, inits }))).toEqual({ W: col.flatMap((v) => [v, v]), R: REF.R, B: new Array(16).fill(0.375) });
    // Without a value, zeros.
    const zero = [nd('ConstantOfShape', ['bdims'], ['B']), ...nodes.slice(1)];
    expect(importedWeights(lstmModel({ nodes: zero, inits })).B).toEqual(new Array(16).fill(0));
    // Expand of zeros keeps zeros; of a constant to a larger rank, broadcast from the right.
    const exp = [nd('Expand', ['zrow', 'bdims'], ['B']), ...nodes.slice(1, 4), nd('Expand', ['Wrow', 'wdims3'], ['W'])];
    const got = importedWeights(lstmModel({ nodes: exp, inits: [...inits, f32('zrow', [1], [0]), f32('Wrow', [2], [0.5, -0.25]), i64('wdims3', [1, 8, 1])] }));
    expect(got).toEqual({ W: new Array(8).fill([0.5, -0.25]).flat(), R: REF.R, B: new Array(16).fill(0) });
  });

  it('ConstantOfShape of an empty shape list is an empty constant; a negative size is refused', () => {
    const nodes: Node[] = [
      nd('ConstantOfShape', ['zero'], ['empty'], [at.t('value', i64('', [5]))]),
      nd('Concat', ['d0', 'empty', 'd1'], ['wshape'], [at.i('axis', 0)]),
      nd('Reshape', ['W2', 'wshape'], ['W0']),
      nd('Unsqueeze', ['W0', 'd0'], ['W']),
    ];
    const inits = [i64('zero', [0]), i64('d0', [0]), i64('d1', [-1]), f32('W2', [8, 2], REF.W), ...without('W')];
    expectRef(importedWeights(lstmModel({ nodes, inits })));
    const neg = importError(lstmModel({ nodes: [nd('ConstantOfShape', ['bad'], ['W'], [], 'cos')], inits: [i64('bad', [-2, 3]), ...without('W')] }));
    expect(neg.reason).toBe(`ConstantOfShape would make a constant of -6 elements (the importer folds at most ${2 ** 26})`);
    const big = importError(lstmModel({ nodes: [nd('ConstantOfShape', ['bad'], ['W'], [], 'cos')], inits: [i64('bad', [2 ** 26 + 1]), ...without('W')] }));
    expect(big.reason).toBe(`ConstantOfShape would make a constant of ${2 ** 26 + 1} elements (the importer folds at most ${2 ** 26})`);
  });

  it('a Constant without a value the importer reads, a huge fold, a Gather out of range', () => {
    const noValue = importError(lstmModel({ nodes: [nd('Constant', [], ['W'], [at.s('value_string', 'x')], 'const_w')], inits: without('W') }));
    expect({ node: noValue.node, reason: noValue.reason }).toEqual({ node: 'const_w', reason: 'Constant has no value attribute the importer reads (value, value_float(s), value_int(s))' });
    const huge = importError(lstmModel({ nodes: [nd('Expand', ['Wcol', 'big'], ['W'], [], 'expand_big')], inits: [f32('Wcol', [1, 8, 1], new Array(8).fill(0)), i64('big', [1 << 14, 8, 1 << 14]), ...without('W')] }));
    expect(huge.reason).toBe(`Expand would make a constant of ${2 ** 31} elements (the importer folds at most ${2 ** 26})`);
    for (const idx of [2, -3]) {
      const out = importError(lstmModel({ nodes: [nd('Gather', ['W2', 'i'], ['W'], [at.i('axis', -1)], 'g')], inits: [f32('W2', [1, 8, 2], REF.W), i64('i', [0, idx]), ...without('W')] }));
      expect(out.reason).toBe('Gather index out of range for axis 2 of size 2');
    }
    const rank2 = importError(lstmModel({ nodes: [nd('Gather', ['W2', 'i'], ['W'], [at.i('axis', 2)], 'g')], inits: [f32('W2', [1, 8, 2], REF.W), i64('i', [0, 1], [1, 2]), ...without('W')] }));
    expect(rank2.reason).toBe('Gather with indices of rank > 1 is not supported');
    const axis = importError(lstmModel({ nodes: [nd('Gather', ['W2', 'i'], ['W'], [at.i('axis', 3)], 'g')], inits: [f32('W2', [1, 8, 2], REF.W), i64('i', [0, 1]), ...without('W')] }));
    expect(axis.reason).toBe('Gather.axis 3 is out of range for rank 3');
    const neg = importError(lstmModel({ nodes: [nd('Gather', ['W2', 'i'], ['W'], [at.i('axis', -4)], 'g')], inits: [f32('W2', [1, 8, 2], REF.W), i64('i', [0, 1]), ...without('W')] }));
    expect(neg.reason).toBe('Gather.axis -4 is out of range for rank 3');
  });
});

