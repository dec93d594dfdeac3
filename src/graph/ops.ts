// Typed ONNX operators over builder Values. Each mirrors its ONNX signature (opset 14): inputs
// positional, attributes as named options with the spec's defaults, and checks the shapes it
// can see so that a bad graph fails where it is built.

import { assertShape, fmtShape, type Attr, type Dim, type ElemType, type Value } from './builder.js';

function one(v: (Value | null)[]): Value {
  return v[0] as Value;
}

function sameGraph(op: string, ...vs: (Value | null | undefined)[]): Value {
  const first = vs.find((v): v is Value => !!v);
  if (!first) throw new Error(`${op}: needs at least one input`);
  for (const v of vs) if (v && v.graph !== first.graph) throw new Error(`${op}: inputs belong to different graphs`);
  return first;
}

function requireRank(op: string, field: string, v: Value, rank: number): void {
  if (v.rank !== null && v.rank !== rank) throw new Error(`${op}.${field} must have rank ${rank}, got shape ${fmtShape(v.shape)}`);
}

function requireType(op: string, field: string, v: Value, t: ElemType): void {
  if (v.elemType !== t) throw new Error(`${op}.${field} must be ${t}, got ${v.elemType}`);
}

/** Broadcast of two known shapes (numpy rules); unknown dims stay unknown. */
function broadcast(op: string, a: Dim[], b: Dim[]): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (typeof x === 'number' && typeof y === 'number' && x !== y && x !== 1 && y !== 1) {
      throw new Error(`${op}: shapes ${fmtShape(a)} and ${fmtShape(b)} do not broadcast`);
    }
    out.push(x === 1 ? y : y === 1 ? x : typeof x === 'number' ? x : y);
  }
  return out;
}

/** Transpose(data; perm). */
export function transpose(x: Value, perm: number[]): Value {
  if (x.rank !== null && perm.length !== x.rank) throw new Error(`Transpose.perm must have ${x.rank} entries for input ${fmtShape(x.shape)}, got ${JSON.stringify(perm)}`);
  if ([...perm].sort((p, q) => p - q).some((p, i) => p !== i)) throw new Error(`Transpose.perm must be a permutation of 0..${perm.length - 1}, got ${JSON.stringify(perm)}`);
  const shape = x.shape ? perm.map((p) => x.shape![p]) : null;
  return one(x.graph.node('Transpose', [x], [{ elemType: x.elemType, shape }], { perm: { ints: perm } }));
}

/** Reshape(data, shape) with a constant int64 shape: 0 copies the input dim, -1 is inferred. */
export function reshape(x: Value, target: number[]): Value {
  const g = x.graph;
  if (target.filter((d) => d === -1).length > 1) throw new Error(`Reshape.shape may hold at most one -1, got ${JSON.stringify(target)}`);
  const shapeInit = g.int64Initializer(g.freshName('shape'), target);
  let shape: Dim[] | null = null;
  if (x.shape) {
    const xs = x.shape;
    shape = target.map((d, i) => (d === 0 ? xs[i] ?? null : d === -1 ? null : d));
    const minus = target.indexOf(-1);
    const inSize = xs.every((d) => typeof d === 'number') ? (xs as number[]).reduce((a, b) => a * b, 1) : null;
    const others = shape.filter((_, i) => i !== minus);
    if (minus >= 0 && inSize !== null && others.every((d) => typeof d === 'number')) {
      shape[minus] = inSize / (others as number[]).reduce((a, b) => a * b, 1);
    }
  }
  return one(g.node('Reshape', [x, shapeInit], [{ elemType: x.elemType, shape }]));
}

/** MatMul(A, B): numpy matmul; here A [..., K] and B [K, M]. */
export function matmul(a: Value, b: Value): Value {
  sameGraph('MatMul', a, b);
  requireRank('MatMul', 'B', b, 2);
  const k = a.dim(-1);
  const kb = b.dim(0);
  if (typeof k === 'number' && typeof kb === 'number' && k !== kb) {
    throw new Error(`MatMul: inner dimensions differ, A ${fmtShape(a.shape)} and B ${fmtShape(b.shape)}`);
  }
  const shape = a.shape ? [...a.shape.slice(0, -1), b.dim(1)] : null;
  return one(a.graph.node('MatMul', [a, b], [{ elemType: a.elemType, shape }]));
}

/** Add(A, B) with numpy broadcasting. */
export function add(a: Value, b: Value): Value {
  sameGraph('Add', a, b);
  if (a.elemType !== b.elemType) throw new Error(`Add: element types differ (${a.elemType}, ${b.elemType})`);
  const shape = a.shape && b.shape ? broadcast('Add', a.shape, b.shape) : null;
  return one(a.graph.node('Add', [a, b], [{ elemType: a.elemType, shape }]));
}

function unary(op: string, x: Value, attrs: Record<string, Attr> = {}): Value {
  return one(x.graph.node(op, [x], [{ elemType: x.elemType, shape: x.shape }], attrs));
}

export const relu = (x: Value): Value => unary('Relu', x);
export const tanh = (x: Value): Value => unary('Tanh', x);
export const sigmoid = (x: Value): Value => unary('Sigmoid', x);
/** Softmax(input; axis), opset ≥ 13 semantics: normalises along `axis` only. Default axis -1. */
export const softmax = (x: Value, options: { axis?: number } = {}): Value => unary('Softmax', x, { axis: { int: options.axis ?? -1 } });

export type OnnxDirection = 'forward' | 'reverse' | 'bidirectional';
export type OnnxActivation = 'Sigmoid' | 'Tanh' | 'Relu';

/** Attributes shared by ONNX LSTM, GRU and RNN. */
export interface RecurrentAttrs {
  hiddenSize: number;
  /** Default 'forward'. */
  direction?: OnnxDirection;
  /** Per direction, in the operator's order (LSTM f,g,h; GRU f,g; RNN f). Omitted = the defaults. */
  activations?: OnnxActivation[];
  /** Cell clip threshold; omitted = none. */
  clip?: number;
}

/** Which outputs to produce; an unrequested output is left out of the node (empty name or trailing omission). */
export interface RecurrentOutputs {
  Y?: boolean;
  Y_h?: boolean;
  Y_c?: boolean;
}

interface RecurrentInputs {
  X: Value;
  W: Value;
  R: Value;
  B?: Value | null;
  sequenceLens?: Value | null;
  initialH?: Value | null;
}

interface RecurrentResult {
  /** [T, D, N, H] */
  Y: Value | null;
  /** [D, N, H] */
  Y_h: Value | null;
}

function recurrentNode(
  op: 'LSTM' | 'GRU' | 'RNN',
  gates: number,
  inp: RecurrentInputs & { initialC?: Value | null; P?: Value | null },
  attrs: RecurrentAttrs,
  extraAttrs: Record<string, Attr>,
  want: RecurrentOutputs,
): (Value | null)[] {
  const { X, W, R } = inp;
  sameGraph(op, X, W, R, inp.B, inp.sequenceLens, inp.initialH, inp.initialC, inp.P);
  const H = attrs.hiddenSize;
  if (!Number.isInteger(H) || H <= 0) throw new Error(`${op}.hidden_size must be a positive integer, got ${H}`);
  const direction = attrs.direction ?? 'forward';
  const D = direction === 'bidirectional' ? 2 : 1;
  requireRank(op, 'X', X, 3);
  requireType(op, 'X', X, 'float');
  const [T, N, I] = X.shape ?? [null, null, null];
  // Only shapes that are known are checked (an input of unknown rank passes).
  const check = (field: string, v: Value | null | undefined, expected: Dim[]) => {
    if (v?.shape) assertShape(`${op}.${field}`, v.shape, expected);
  };
  check('W', W, [D, gates * H, I]);
  check('R', R, [D, gates * H, H]);
  check('B', inp.B, [D, 2 * gates * H]);
  if (inp.sequenceLens) requireType(op, 'sequence_lens', inp.sequenceLens, 'int32');
  check('sequence_lens', inp.sequenceLens, [N]);
  check('initial_h', inp.initialH, [D, N, H]);
  check('initial_c', inp.initialC, [D, N, H]);
  check('P', inp.P, [D, 3 * H]);
  const perDir = op === 'LSTM' ? 3 : op === 'GRU' ? 2 : 1;
  if (attrs.activations && attrs.activations.length !== perDir * D) {
    throw new Error(`${op}.activations must list ${perDir * D} functions (${perDir} per direction), got ${attrs.activations.length}`);
  }
  const a: Record<string, Attr> = { hidden_size: { int: H }, direction: { string: direction } };
  if (attrs.activations) a.activations = { strings: attrs.activations };
  if (attrs.clip !== undefined) {
    if (!(attrs.clip > 0)) throw new Error(`${op}.clip must be a positive number, got ${attrs.clip}`);
    a.clip = { float: attrs.clip };
  }
  Object.assign(a, extraAttrs);
  const inputs = [X, W, R, inp.B ?? null, inp.sequenceLens ?? null, inp.initialH ?? null];
  if (op === 'LSTM') inputs.push(inp.initialC ?? null, inp.P ?? null);
  const yShape: Dim[] = [T, D, N, H];
  const hShape: Dim[] = [D, N, H];
  const outputs = [want.Y ? { elemType: 'float' as const, shape: yShape } : null, want.Y_h ? { elemType: 'float' as const, shape: hShape } : null];
  if (op === 'LSTM') outputs.push(want.Y_c ? { elemType: 'float' as const, shape: hShape } : null);
  if (outputs.every((o) => o === null)) throw new Error(`${op}: request at least one output`);
  return X.graph.node(op, inputs, outputs, a);
}

/**
 * ONNX LSTM (opset 14, layout 0). X [T, N, I], W [D, 4H, I], R [D, 4H, H], B [D, 8H],
 * sequence_lens [N] int32, initial_h / initial_c [D, N, H], P [D, 3H]; gate order i, o, f, c.
 */
export function lstm(
  inp: RecurrentInputs & { initialC?: Value | null; P?: Value | null },
  attrs: RecurrentAttrs & { inputForget?: boolean },
  want: RecurrentOutputs = { Y: true },
): RecurrentResult & { Y_c: Value | null } {
  const extra: Record<string, Attr> = {};
  if (attrs.inputForget) extra.input_forget = { int: 1 };
  const [Y, Y_h, Y_c] = recurrentNode('LSTM', 4, inp, attrs, extra, want);
  return { Y, Y_h, Y_c };
}

/** ONNX GRU (opset 14, layout 0). W [D, 3H, I], R [D, 3H, H], B [D, 6H]; gate order z, r, h. */
export function gru(inp: RecurrentInputs, attrs: RecurrentAttrs & { linearBeforeReset?: 0 | 1 }, want: RecurrentOutputs = { Y: true }): RecurrentResult {
  const [Y, Y_h] = recurrentNode('GRU', 3, inp, attrs, { linear_before_reset: { int: attrs.linearBeforeReset ?? 0 } }, want);
  return { Y, Y_h };
}

/** ONNX RNN (opset 14, layout 0). W [D, H, I], R [D, H, H], B [D, 2H]. */
export function rnn(inp: RecurrentInputs, attrs: RecurrentAttrs, want: RecurrentOutputs = { Y: true }): RecurrentResult {
  const [Y, Y_h] = recurrentNode('RNN', 1, inp, attrs, {}, want);
  return { Y, Y_h };
}
