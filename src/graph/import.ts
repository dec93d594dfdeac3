// Foreign ONNX → rnnx model data. Reads graphs written by other tools (torch.onnx.export of
// nn.LSTM / nn.GRU / nn.RNN with an optional nn.Linear head, hand-built graphs) whose recurrent
// part is ONNX LSTM / GRU / RNN nodes, and maps them to an rnnx spec and flat parameters in ONNX
// layout, or says which node stops it and why.
//
// How: the graph is evaluated abstractly, node by node, on the nodes the first output needs.
// - constants (initializers, Constant nodes, and every glue op whose inputs are constant) are
//   folded to real tensors; integer tensors may hold the symbolic sizes of the input's batch and
//   time axes (what Shape(x) yields), which is how exporters build dynamic shapes;
// - zero tensors of symbolic shape (ConstantOfShape / Expand of zeros: PyTorch's initial states);
// - activations: tensors computed from the input. Each one records its axes (the input's batch
//   and time axes keep their identity through transposes and reshapes; feature axes carry sizes)
//   and, for every feature position, which feature of which pipeline stage it holds (the input,
//   a recurrent layer's sequence or final state, a dense layer). Glue that slices, gathers,
//   concatenates or permutes features only moves these positions around; a recurrent node or a
//   dense layer folds any permutation of its input features into its own weights.
// At the first output the chain of stages must be: input → recurrent layers → dense layers,
// which is exactly an rnnx model.

import type { onnx as OnnxTypes } from 'onnx-proto';
import { paramLayout, view } from '../layers/params.js';
import { normalizeModelSpec, type DenseActivation, type LayerSpec, type ModelSpec } from '../layers/spec.js';
import type { ModelData } from '../model/types.js';
import { onnx, type ModelProto } from './builder.js';
import { int64ToNumber } from './io.js';

/** Why a foreign graph cannot become a trainable rnnx model: the node that stops it, its op type and the reason. */
export class OnnxImportError extends Error {
  readonly node: string;
  readonly opType: string;
  readonly reason: string;
  constructor(source: string, node: string, opType: string, reason: string) {
    super(`${source}: cannot import node ${JSON.stringify(node)} (${opType}) for training: ${reason}`);
    this.name = 'OnnxImportError';
    this.node = node;
    this.opType = opType;
    this.reason = reason;
  }
}

/** What the importer learnt besides the spec and weights. */
export interface ImportInfo {
  /** producer_name and producer_version of the source file ("pytorch 1.13.0"). */
  producer: string;
  opset: number;
  /** The source's input layout: rnnx models always take x as [batch, time, features]. */
  inputLayout: 'batch-first' | 'time-major';
  /** The source's output layout when it has a time axis (rnnx writes [batch, time, features]). */
  outputLayout: 'batch-first' | 'time-major' | null;
  /** The recurrent nodes read a sequence_lens graph input: export with `{ sequenceLens: true }`. */
  sequenceLens: boolean;
  /** Graph outputs other than the first, which the rnnx model does not produce. */
  droppedOutputs: string[];
  /**
   * Initial states the source read from graph inputs, per recurrent layer k (counting recurrent
   * layers only): rows of the source input that become the rnnx stateful export's h0_k / c0_k.
   * Export with `{ stateful: true }` to feed them; empty when every layer starts from zeros.
   */
  stateInputs: StateInput[];
  /** Source node names of the rnnx layers, in layer order. */
  layerNodes: string[];
}

/** Where layer k's initial state comes from: rows [rows[0], ...] of graph input `input` ([rows, batch, hidden]). */
export interface StateInput {
  layer: number;
  h: { input: string; rows: number[] } | null;
  c: { input: string; rows: number[] } | null;
}

export interface ImportResult {
  data: ModelData;
  info: ImportInfo;
}

export type ImportCheck =
  | { importable: true; spec: ModelSpec; info: ImportInfo }
  | { importable: false; node: string; opType: string; reason: string; message: string };

// ---------------------------------------------------------------------------------------------
// Abstract values

/** The runtime size of the input's axis 'A' or 'B' (batch and time, in some order). */
type AxisId = 'A' | 'B';
/** An integer that is known, or the runtime size of an input axis. */
type SymInt = number | AxisId;

/** A constant tensor, folded. Floats in Float64Array; integers as SymInt arrays. */
interface ConstVal {
  kind: 'const';
  float: boolean;
  dims: number[];
  data: Float64Array | SymInt[];
}

/** Zeros of a shape known only at run time (e.g. PyTorch's initial states). */
interface ZerosVal {
  kind: 'zeros';
}

/** An axis of an activation: the input's batch/time axis ('A'/'B'), a feature axis, or a size-1 axis. */
type ActAxis = { id: AxisId } | { id: 'F'; size: number } | { id: 'one' };

/** A tensor computed from the input; see the file header. */
interface ActVal {
  kind: 'act';
  axes: ActAxis[];
  /** For each position of the feature axes (row-major, in axis order): the stage it comes from and its feature index there. */
  stage: Int32Array;
  index: Int32Array;
}

/** The sequence_lens graph input. */
interface LensVal {
  kind: 'lens';
}

/** Rows (along axis 0) of a float graph input shaped [rows, batch, hidden]: initial states fed at run time. */
interface StateVal {
  kind: 'state';
  input: string;
  rows: number[];
  hidden: number | null;
}

/** A value that rnnx cannot represent: using it is an error naming where it came from. */
interface OpaqueVal {
  kind: 'opaque';
  reason: string;
}

type Val = ConstVal | ZerosVal | ActVal | LensVal | StateVal | OpaqueVal;

interface RecurrentInfo {
  op: 'LSTM' | 'GRU' | 'RNN';
  node: string;
  direction: 'forward' | 'reverse' | 'bidirectional';
  hidden: number;
  /** Weights with the input's feature permutation already folded in. */
  W: Float32Array;
  R: Float32Array;
  B: Float32Array;
  P: Float32Array | null;
  inputSize: number;
  clip: number | null;
  inputForget: boolean;
  linearBeforeReset: 0 | 1;
  activation: 'tanh' | 'relu';
  sequenceLens: boolean;
  initialH: { input: string; rows: number[] } | null;
  initialC: { input: string; rows: number[] } | null;
}

interface DenseInfo {
  node: string;
  /** [K, M], MatMul layout, input permutation folded in. */
  W: Float64Array;
  b: Float64Array;
  inputs: number;
  units: number;
  activation: DenseActivation;
}

interface Stage {
  kind: 'input' | 'seq' | 'final' | 'dense';
  width: number;
  parent: number;
  hasTime: boolean;
  rec?: RecurrentInfo;
  dense?: DenseInfo;
}

class Fail extends Error {}
function fail(reason: string): never {
  throw new Fail(reason);
}

// Slice ends at or past this mean "to the end" (exporters write INT32_MAX or INT64_MAX).
const TO_END = 2 ** 31 - 1;

// ---------------------------------------------------------------------------------------------
// Tensor helpers (element-agnostic, row-major)

/** Constants the importer folds stay small (shapes, weights); a bigger one is a malformed or hostile file. */
const MAX_FOLDED_ELEMENTS = 1 << 26;

function checkElements(n: number, what: string): number {
  if (!(n >= 0 && n <= MAX_FOLDED_ELEMENTS)) fail(`${what} would make a constant of ${n} elements (the importer folds at most ${MAX_FOLDED_ELEMENTS})`);
  return n;
}

function size(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function strides(dims: number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i];
  }
  return s;
}

/** Picks, along `axis`, the indices `pick` (a new axis of that length, or removed when `drop`). */
function takeAlong<T>(data: ArrayLike<T>, dims: number[], axis: number, pick: number[], make: (n: number) => T[] | Float64Array | Int32Array): { data: ArrayLike<T>; dims: number[] } {
  const outer = size(dims.slice(0, axis));
  const inner = size(dims.slice(axis + 1));
  const out = make(outer * pick.length * inner) as unknown as T[];
  let o = 0;
  for (let a = 0; a < outer; a++) {
    for (const p of pick) {
      const base = (a * dims[axis] + p) * inner;
      for (let i = 0; i < inner; i++) out[o++] = data[base + i];
    }
  }
  const nd = dims.slice();
  nd[axis] = pick.length;
  return { data: out, dims: nd };
}

function transposeData<T>(data: ArrayLike<T>, dims: number[], perm: number[], make: (n: number) => T[] | Float64Array | Int32Array): ArrayLike<T> {
  const nd = perm.map((p) => dims[p]);
  const st = strides(dims);
  const out = make(data.length) as unknown as T[];
  const idx = new Array<number>(nd.length).fill(0);
  for (let o = 0; o < data.length; o++) {
    let src = 0;
    for (let k = 0; k < nd.length; k++) src += idx[k] * st[perm[k]];
    out[o] = data[src];
    for (let k = nd.length - 1; k >= 0; k--) {
      if (++idx[k] < nd[k]) break;
      idx[k] = 0;
    }
  }
  return out;
}

function concatData<T>(parts: { data: ArrayLike<T>; dims: number[] }[], axis: number, make: (n: number) => T[] | Float64Array | Int32Array): { data: ArrayLike<T>; dims: number[] } {
  const dims = parts[0].dims.slice();
  dims[axis] = parts.reduce((a, p) => a + p.dims[axis], 0);
  const outer = size(dims.slice(0, axis));
  const out = make(size(dims)) as unknown as T[];
  let o = 0;
  for (let a = 0; a < outer; a++) {
    for (const p of parts) {
      const chunk = size(p.dims.slice(axis));
      for (let i = 0; i < chunk; i++) out[o++] = p.data[a * chunk + i];
    }
  }
  return { data: out, dims };
}

/** Slice indices of one axis (ONNX semantics: negative from the end, clamped, any step ≠ 0). */
function sliceIndices(n: number, start: number, end: number, step: number): number[] {
  if (step === 0) fail('Slice step must not be 0');
  const norm = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + n : v, lo), hi);
  const out: number[] = [];
  if (step > 0) {
    for (let i = norm(start, 0, n); i < norm(end, 0, n); i += step) out.push(i);
  } else {
    for (let i = norm(start, -1, n - 1); i > norm(end, -1, n - 1); i += step) out.push(i);
  }
  return out;
}

const normAxis = (axis: number, rank: number, what: string): number => {
  const a = axis < 0 ? axis + rank : axis;
  if (!(a >= 0 && a < rank)) fail(`${what} ${axis} is out of range for rank ${rank}`);
  return a;
};

// ---------------------------------------------------------------------------------------------
// Reading protobuf tensors and attributes

function tensorToConst(t: OnnxTypes.ITensorProto, what: string): ConstVal {
  const dims = (t.dims ?? []).map(int64ToNumber);
  const n = size(dims);
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : null;
  const dv = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : null;
  const T = onnx.TensorProto.DataType;
  const check = (len: number, bytes: number) => {
    if (raw && raw.length !== n * bytes) fail(`${what}: raw_data has ${raw.length} bytes, dims ${JSON.stringify(dims)} need ${n * bytes}`);
    if (!raw && len !== n) fail(`${what}: holds ${len} values, dims ${JSON.stringify(dims)} need ${n}`);
  };
  switch (t.dataType) {
    case T.FLOAT: {
      check(t.floatData?.length ?? 0, 4);
      const d = new Float64Array(n);
      for (let i = 0; i < n; i++) d[i] = dv ? dv.getFloat32(i * 4, true) : t.floatData![i];
      return { kind: 'const', float: true, dims, data: d };
    }
    case T.DOUBLE: {
      check(t.doubleData?.length ?? 0, 8);
      const d = new Float64Array(n);
      for (let i = 0; i < n; i++) d[i] = dv ? dv.getFloat64(i * 8, true) : t.doubleData![i];
      return { kind: 'const', float: true, dims, data: d };
    }
    case T.INT64: {
      check(t.int64Data?.length ?? 0, 8);
      const d: number[] = [];
      for (let i = 0; i < n; i++) d.push(dv ? Number(dv.getBigInt64(i * 8, true)) : int64ToNumber(t.int64Data![i] as number));
      return { kind: 'const', float: false, dims, data: d };
    }
    case T.INT32:
    case T.INT8:
    case T.UINT8:
    case T.INT16:
    case T.BOOL: {
      const bytes = t.dataType === T.INT32 ? 4 : t.dataType === T.INT16 ? 2 : 1;
      check(t.int32Data?.length ?? 0, bytes);
      const d: number[] = [];
      for (let i = 0; i < n; i++) {
        if (!dv) d.push(t.int32Data![i]);
        else d.push(bytes === 4 ? dv.getInt32(i * 4, true) : bytes === 2 ? dv.getInt16(i * 2, true) : t.dataType === T.INT8 ? dv.getInt8(i) : dv.getUint8(i));
      }
      return { kind: 'const', float: false, dims, data: d };
    }
    default:
      return fail(`${what} has data_type ${t.dataType}; the importer reads float32, float64 and integer tensors`);
  }
}

type Attrs = Map<string, OnnxTypes.IAttributeProto>;

function attrInt(a: Attrs, name: string, dflt: number): number {
  const v = a.get(name);
  return v ? int64ToNumber(v.i as number) : dflt;
}
function attrFloat(a: Attrs, name: string, dflt: number): number {
  const v = a.get(name);
  return v ? v.f ?? 0 : dflt;
}
function attrInts(a: Attrs, name: string): number[] | null {
  const v = a.get(name);
  return v ? (v.ints ?? []).map((x) => int64ToNumber(x as number)) : null;
}
function attrString(a: Attrs, name: string, dflt: string): string {
  const v = a.get(name);
  return v && v.s ? new TextDecoder().decode(v.s) : dflt;
}
function attrStrings(a: Attrs, name: string): string[] | null {
  const v = a.get(name);
  return v ? (v.strings ?? []).map((s) => new TextDecoder().decode(s)) : null;
}

// ---------------------------------------------------------------------------------------------
// The importer

export interface ImportOptions {
  /** Name used in error messages (the file path). */
  source?: string;
}

/** Imports a foreign ModelProto as rnnx model data, or throws an OnnxImportError naming the node that stops it. @internal */
export function importOnnxModel(proto: ModelProto, options: ImportOptions = {}): ImportResult {
  return new Importer(proto, options.source ?? 'model').run();
}

/** Whether `proto` can be imported for training; when not, the node, op type and reason. Never throws for a decodable model. @internal */
export function checkOnnxImport(proto: ModelProto, source = 'model'): ImportCheck {
  try {
    const { data, info } = importOnnxModel(proto, { source });
    return { importable: true, spec: data.spec, info };
  } catch (e) {
    if (e instanceof OnnxImportError) return { importable: false, node: e.node, opType: e.opType, reason: e.reason, message: e.message };
    const message = (e as Error).message;
    return { importable: false, node: '', opType: '', reason: message, message };
  }
}

class Importer {
  private readonly values = new Map<string, Val>();
  private readonly stages: Stage[] = [];
  /** Which input axis is time, fixed by the first recurrent node. */
  private timeAxis: AxisId | null = null;
  private readonly axisSize: Record<AxisId, number | null> = { A: null, B: null };
  private readonly opset: number;
  private inputName = '';

  constructor(private readonly proto: ModelProto, private readonly source: string) {
    const op = (proto.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
    this.opset = op ? int64ToNumber(op.version as number) : 1;
  }

  private error(node: string, opType: string, reason: string): OnnxImportError {
    return new OnnxImportError(this.source, node, opType, reason);
  }

  run(): ImportResult {
    const graph = this.proto.graph!;
    const nodes = graph.node ?? [];
    const outputs = graph.output ?? [];
    if (outputs.length === 0) throw this.error('(graph)', 'Graph', 'the graph has no outputs');
    for (const t of graph.initializer ?? []) {
      try {
        this.values.set(t.name ?? '', tensorToConst(t, `initializer ${t.name}`));
      } catch (e) {
        if (!(e instanceof Fail)) throw e;
        this.values.set(t.name ?? '', { kind: 'opaque', reason: e.message });
      }
    }
    this.bindInputs(graph);
    if (this.opset < 7 || this.opset > 21) throw this.error('(graph)', 'Model', `opset ${this.opset} is outside the range the importer reads (7 to 21)`);

    // Only the nodes the first output depends on are evaluated: an unused branch (PyTorch's h_n
    // and c_n outputs, say) may hold things rnnx cannot represent without stopping the import.
    const producer = new Map<string, number>();
    nodes.forEach((n, i) => (n.output ?? []).forEach((o) => o && producer.set(o, i)));
    const needed = new Set<number>();
    const stack = [outputs[0].name ?? ''];
    while (stack.length) {
      const name = stack.pop()!;
      const i = producer.get(name);
      if (i === undefined || needed.has(i)) continue;
      needed.add(i);
      for (const inp of nodes[i].input ?? []) if (inp) stack.push(inp);
    }
    nodes.forEach((n, i) => {
      if (!needed.has(i)) return;
      const name = n.name || (n.output ?? [])[0] || `#${i}`;
      const opType = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType ?? '?';
      let outs: Val[];
      try {
        outs = this.evalNode(n, name);
      } catch (e) {
        // Any failure while reading a node (a malformed attribute, say) names that node.
        throw this.error(name, opType, (e as Error).message);
      }
      (n.output ?? []).forEach((o, k) => {
        if (o) this.values.set(o, outs[k] ?? { kind: 'opaque', reason: `output ${k} of ${name} is not supported` });
      });
    });
    const last = producer.get(outputs[0].name ?? '');
    const outNode = last === undefined ? null : nodes[last];
    return this.finish(outputs, outNode ? outNode.name || (outNode.output ?? [])[0] || `#${last}` : outputs[0].name ?? '', outNode?.opType ?? 'Output');
  }

  private bindInputs(graph: OnnxTypes.IGraphProto): void {
    const inits = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
    const inputs = (graph.input ?? []).filter((v) => !inits.has(v.name ?? ''));
    const T = onnx.TensorProto.DataType;
    let x: OnnxTypes.IValueInfoProto | null = null;
    for (const v of inputs) {
      const tt = v.type?.tensorType;
      const elem = tt?.elemType ?? 0;
      if (elem === T.FLOAT && !x) {
        x = v;
        continue;
      }
      if (elem === T.INT32 || elem === T.INT64) {
        this.values.set(v.name ?? '', { kind: 'lens' });
        continue;
      }
      // Another rank-3 float input can hold initial states [rows, batch, hidden] (PyTorch's h0, c0).
      const d = tt?.shape?.dim ?? [];
      const fixedRows = d.length === 3 && d[0].dimValue !== null && d[0].dimValue !== undefined ? int64ToNumber(d[0].dimValue as number) : 0;
      if (elem === T.FLOAT && fixedRows > 0) {
        const h = d[2].dimValue !== null && d[2].dimValue !== undefined ? int64ToNumber(d[2].dimValue as number) : 0;
        this.values.set(v.name ?? '', { kind: 'state', input: v.name ?? '', rows: Array.from({ length: fixedRows }, (_, i) => i), hidden: h > 0 ? h : null });
        continue;
      }
      this.values.set(v.name ?? '', {
        kind: 'opaque',
        reason: `it reads graph input ${JSON.stringify(v.name)}; an rnnx model has one float input x [batch, time, features], optionally sequence_lens, and initial states [rows, batch, hidden] with a fixed row count`,
      });
    }
    if (!x) throw this.error('(graph)', 'Graph', 'the graph has no float32 input');
    this.inputName = x.name ?? '';
    const dims = x.type?.tensorType?.shape?.dim ?? [];
    if (dims.length !== 3) {
      throw this.error('(graph)', 'Graph', `input ${JSON.stringify(x.name)} must have rank 3 ([batch, time, features] or [time, batch, features]), got rank ${dims.length}`);
    }
    const fixed = (d: OnnxTypes.TensorShapeProto.IDimension) => (d.dimValue !== null && d.dimValue !== undefined && int64ToNumber(d.dimValue as number) > 0 ? int64ToNumber(d.dimValue as number) : null);
    this.axisSize.A = fixed(dims[0]);
    this.axisSize.B = fixed(dims[1]);
    const features = fixed(dims[2]);
    if (features === null) throw this.error('(graph)', 'Graph', `input ${JSON.stringify(x.name)} must have a fixed feature size (its last dimension), got ${dims[2].dimParam || 'unknown'}`);
    this.stages.push({ kind: 'input', width: features, parent: -1, hasTime: true });
    this.values.set(this.inputName, {
      kind: 'act',
      axes: [{ id: 'A' }, { id: 'B' }, { id: 'F', size: features }],
      stage: new Int32Array(features),
      index: Int32Array.from({ length: features }, (_, i) => i),
    });
  }

  // -------------------------------------------------------------------------------------------

  private get(name: string | undefined | null): Val | null {
    if (!name) return null;
    const v = this.values.get(name);
    if (!v) return fail(`input ${JSON.stringify(name)} is not produced by any node, initializer or graph input`);
    if (v.kind === 'opaque') return fail(v.reason);
    return v;
  }

  private constInput(n: OnnxTypes.INodeProto, k: number, what: string): ConstVal | null {
    const v = this.get((n.input ?? [])[k]);
    if (v === null) return null;
    if (v.kind !== 'const') return fail(`${what} must be a constant (initializer, Constant node or folded glue), got a value computed from the input`);
    return v;
  }

  private intList(v: ConstVal | null, what: string): number[] | null {
    if (!v) return null;
    if (v.float) return fail(`${what} must be integers`);
    const out = (v.data as SymInt[]).map((d) => (typeof d === 'number' ? d : fail(`${what} depends on the input's size at run time`)));
    return out;
  }

  private evalNode(n: OnnxTypes.INodeProto, name: string): Val[] {
    const op = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType ?? '';
    const a: Attrs = new Map((n.attribute ?? []).map((x) => [x.name ?? '', x]));
    const ins = n.input ?? [];
    switch (op) {
      case 'Constant':
        return [this.constantNode(a)];
      case 'Identity':
      case 'Dropout':
        return [this.get(ins[0])!];
      case 'Cast': {
        const v = this.get(ins[0])!;
        if (v.kind !== 'const') return [v];
        const to = attrInt(a, 'to', 1);
        const toFloat = to === 1 || to === 10 || to === 11;
        if (toFloat === v.float) return [v];
        if (toFloat) return [{ ...v, float: true, data: Float64Array.from(v.data as SymInt[], (d) => (typeof d === 'number' ? d : fail('Cast of a run-time size to float'))) }];
        return [{ ...v, float: false, data: Array.from(v.data as Float64Array, (d) => Math.trunc(d)) }];
      }
      case 'Shape':
        return [this.shapeOf(this.get(ins[0])!, a)];
      case 'ConstantOfShape': {
        const shape = this.constInput(n, 0, 'ConstantOfShape.input')!;
        const valueT = a.get('value')?.t;
        const value = valueT ? tensorToConst(valueT, 'ConstantOfShape.value') : null;
        const fill = value ? Number((value.data as ArrayLike<number>)[0]) : 0;
        const dims = shape.data as SymInt[];
        if (dims.every((d): d is number => typeof d === 'number')) {
          checkElements(size(dims), 'ConstantOfShape');
          return [{ kind: 'const', float: value ? value.float : true, dims, data: value?.float === false ? new Array<number>(size(dims)).fill(fill) : new Float64Array(size(dims)).fill(fill) }];
        }
        return [fill === 0 ? { kind: 'zeros' } : { kind: 'opaque', reason: `ConstantOfShape ${name} fills a run-time shape with ${fill}; only zero initial states are supported` }];
      }
      case 'Expand': {
        const v = this.get(ins[0])!;
        const shape = this.constInput(n, 1, 'Expand.shape')!;
        if (v.kind === 'zeros' || (v.kind === 'const' && v.float && (v.data as Float64Array).every((d) => d === 0))) {
          const dims = shape.data as SymInt[];
          if (v.kind === 'const' && dims.every((d): d is number => typeof d === 'number')) return [this.expandConst(v, dims)];
          return [{ kind: 'zeros' }];
        }
        if (v.kind === 'const' && (shape.data as SymInt[]).every((d) => typeof d === 'number')) return [this.expandConst(v, shape.data as number[])];
        return fail('Expand of a nonzero value to a run-time shape is not supported');
      }
      case 'Gather':
        return [this.gather(n, a)];
      case 'Slice':
        return [this.slice(n, a)];
      case 'Squeeze':
      case 'Unsqueeze': {
        const v = this.get(ins[0])!;
        const axes = this.opset >= 13 ? this.intList(this.constInput(n, 1, `${op}.axes`), `${op}.axes`) : attrInts(a, 'axes');
        return [op === 'Squeeze' ? this.squeeze(v, axes) : this.unsqueeze(v, axes ?? fail('Unsqueeze needs axes'))];
      }
      case 'Concat':
        return [this.concat(ins.map((i) => this.get(i)).filter((v): v is Val => v !== null), attrInt(a, 'axis', 0))];
      case 'Transpose': {
        const v = this.get(ins[0])!;
        if (v.kind === 'zeros') return [v]; // zeros of a run-time shape have no known rank, and stay zeros
        const rank = this.rank(v);
        const perm = attrInts(a, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
        return [this.transpose(v, perm)];
      }
      case 'Reshape': {
        const v = this.get(ins[0])!;
        const shape = this.constInput(n, 1, 'Reshape.shape')!; // an input since opset 5 (the importer reads 7 and later)
        if (attrInt(a, 'allowzero', 0) === 1 && (shape.data as SymInt[]).includes(0)) fail('Reshape with allowzero = 1 and a 0 in the shape is not supported');
        return [this.reshape(v, shape.data as SymInt[])];
      }
      case 'Flatten': {
        const v = this.get(ins[0])!;
        const rank = this.rank(v);
        // axis lies in [-r, r]: a negative one counts from the back (-1 is r - 1), r flattens everything.
        const raw = attrInt(a, 'axis', 1);
        const axis = raw < 0 ? raw + rank : raw;
        if (!(axis >= 0 && axis <= rank)) fail(`Flatten.axis ${raw} is out of range [-${rank}, ${rank}] for rank ${rank}`);
        const dims = this.symDims(v);
        return [this.reshape(v, [this.symProduct(dims.slice(0, axis)), this.symProduct(dims.slice(axis))])];
      }
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
        return [this.arith(op, this.get(ins[0])!, this.get(ins[1])!)];
      case 'MatMul':
        return [this.matmul(this.get(ins[0])!, this.get(ins[1])!, name)];
      case 'Gemm':
        return [this.gemm(n, a, name)];
      case 'Relu':
      case 'Tanh':
      case 'Sigmoid':
      case 'Softmax':
        return [this.activation(op, this.get(ins[0])!, a)];
      case 'LSTM':
      case 'GRU':
      case 'RNN':
        return this.recurrent(op, n, a, name);
      default:
        return fail(`operator ${op} is not one the importer maps (recurrent: LSTM, GRU, RNN; dense: Gemm, MatMul + Add; activations: Relu, Tanh, Sigmoid, Softmax; glue: Transpose, Squeeze, Unsqueeze, Reshape, Flatten, Slice, Concat, Gather, Shape, Constant, ConstantOfShape, Expand, Cast, Identity, Dropout)`);
    }
  }

  private constantNode(a: Attrs): Val {
    const t = a.get('value')?.t;
    if (t) return tensorToConst(t, 'Constant.value');
    if (a.has('value_float')) return { kind: 'const', float: true, dims: [], data: Float64Array.of(attrFloat(a, 'value_float', 0)) };
    if (a.has('value_floats')) {
      const f = a.get('value_floats')!.floats ?? [];
      return { kind: 'const', float: true, dims: [f.length], data: Float64Array.from(f) };
    }
    if (a.has('value_int')) return { kind: 'const', float: false, dims: [], data: [attrInt(a, 'value_int', 0)] };
    const ints = attrInts(a, 'value_ints');
    if (ints) return { kind: 'const', float: false, dims: [ints.length], data: ints };
    return fail('Constant has no value attribute the importer reads (value, value_float(s), value_int(s))');
  }

  private expandConst(v: ConstVal, shape: number[]): ConstVal {
    const rank = Math.max(v.dims.length, shape.length);
    const vd = [...Array<number>(rank - v.dims.length).fill(1), ...v.dims];
    const sd = [...Array<number>(rank - shape.length).fill(1), ...shape];
    const od = vd.map((d, i) => (d === 1 ? sd[i] : d));
    const vs = strides(vd);
    const n = checkElements(size(od), 'Expand');
    const src = v.data as ArrayLike<SymInt>;
    const out: SymInt[] = [];
    const idx = new Array<number>(rank).fill(0);
    for (let o = 0; o < n; o++) {
      let s = 0;
      for (let k = 0; k < rank; k++) s += (vd[k] === 1 ? 0 : idx[k]) * vs[k];
      out.push(src[s]);
      for (let k = rank - 1; k >= 0; k--) {
        if (++idx[k] < od[k]) break;
        idx[k] = 0;
      }
    }
    return { kind: 'const', float: v.float, dims: od, data: v.float ? Float64Array.from(out as number[]) : out };
  }

  private rank(v: Val): number {
    if (v.kind === 'const') return v.dims.length;
    if (v.kind === 'state') return 3;
    if (v.kind === 'act') return v.axes.length;
    return fail('the rank of this value is not known to the importer');
  }

  /** Sizes of an activation's axes: numbers, or the symbolic batch/time sizes. */
  private symDims(v: Val): SymInt[] {
    if (v.kind === 'const') return v.dims;
    if (v.kind !== 'act') return fail('the shape of this value is not known to the importer');
    return v.axes.map((ax) => (ax.id === 'F' ? ax.size : ax.id === 'one' ? 1 : this.axisSize[ax.id] ?? ax.id));
  }

  private symProduct(d: SymInt[]): SymInt {
    const syms = d.filter((x) => typeof x !== 'number');
    const num = (d.filter((x) => typeof x === 'number') as number[]).reduce((p, q) => p * q, 1);
    if (syms.length === 0) return num;
    if (syms.length === 1 && num === 1) return syms[0];
    return fail('this reshape merges the batch or time axis with another axis');
  }

  /** Shape (opset 15 start/end: negative from the end, clamped). */
  private shapeOf(v: Val, a: Attrs): ConstVal {
    const dims = this.symDims(v);
    const r = dims.length;
    const clamp = (x: number) => Math.min(Math.max(x < 0 ? x + r : x, 0), r);
    const d = dims.slice(clamp(attrInt(a, 'start', 0)), clamp(attrInt(a, 'end', r)));
    return { kind: 'const', float: false, dims: [d.length], data: d };
  }

  private arith(op: string, x: Val, y: Val): Val {
    if (x.kind === 'act' || y.kind === 'act') {
      if (op === 'Add') return this.addBias(x.kind === 'act' ? x : (y as ActVal), x.kind === 'act' ? y : x);
      return fail(`${op} of a value computed from the input is not supported (only Add of a constant bias after MatMul)`);
    }
    if (x.kind !== 'const' || y.kind !== 'const') return fail(`${op} of a run-time shaped value is not supported`);
    const rank = Math.max(x.dims.length, y.dims.length);
    const pad = (d: number[]) => [...Array<number>(rank - d.length).fill(1), ...d];
    const [px, py] = [pad(x.dims), pad(y.dims)];
    if (px.some((d, i) => d !== py[i] && d !== 1 && py[i] !== 1)) fail(`${op}: shapes ${JSON.stringify(x.dims)} and ${JSON.stringify(y.dims)} do not broadcast`);
    const dims = px.map((d, i) => Math.max(d, py[i]));
    const xe = this.expandConst(x, dims).data as ArrayLike<SymInt>;
    const ye = this.expandConst(y, dims).data as ArrayLike<SymInt>;
    const float = x.float || y.float;
    const out: number[] = [];
    for (let i = 0; i < xe.length; i++) {
      const p = xe[i];
      const q = ye[i];
      if (typeof p !== 'number' || typeof q !== 'number') {
        if (op === 'Mul' && (p === 1 || q === 1)) {
          out.push((p === 1 ? q : p) as unknown as number);
          continue;
        }
        return fail(`${op} on a run-time size is not supported`);
      }
      out.push(op === 'Add' ? p + q : op === 'Sub' ? p - q : op === 'Mul' ? p * q : float ? p / q : Math.trunc(p / q));
    }
    return { kind: 'const', float, dims, data: float ? Float64Array.from(out) : out };
  }

  // ----- feature map helpers -----------------------------------------------------------------

  private fAxes(v: ActVal): number[] {
    return v.axes.flatMap((ax, i) => (ax.id === 'F' ? [i] : []));
  }

  private fDims(v: ActVal): number[] {
    return v.axes.flatMap((ax) => (ax.id === 'F' ? [ax.size] : []));
  }

  private mapTake(v: ActVal, fAxis: number, pick: number[], drop: boolean): ActVal {
    const fd = this.fDims(v);
    const s = takeAlong(v.stage, fd, fAxis, pick, (k) => new Int32Array(k));
    const x = takeAlong(v.index, fd, fAxis, pick, (k) => new Int32Array(k));
    const pos = this.fAxes(v)[fAxis];
    const axes = v.axes.slice();
    if (drop) axes.splice(pos, 1);
    else axes[pos] = { id: 'F', size: pick.length };
    return { kind: 'act', axes, stage: s.data as Int32Array, index: x.data as Int32Array };
  }

  /** Picks one time step of a recurrent output: only a direction's final state is an rnnx output. */
  private selectTime(v: ActVal, axis: number, index: number, drop: boolean): ActVal {
    const T = this.axisSize[this.timeAxis!];
    const last = index === -1 || (T !== null && index === T - 1);
    const first = index === 0 || (T !== null && index === -T);
    const stage = new Int32Array(v.stage.length);
    for (let p = 0; p < v.stage.length; p++) {
      const st = this.stages[v.stage[p]];
      if (st.kind !== 'seq') {
        return fail(
          st.kind === 'input' ? 'it picks one time step of the model input' : st.kind === 'dense'
            ? 'it picks one time step after a dense layer; rnnx picks the last step before its dense layers (apply the Linear after selecting the step)'
            : 'it picks a time step of a value without a time axis',
        );
      }
      const rec = st.rec!;
      if (rec.sequenceLens) return fail(`it picks time step ${index} of ${rec.node}, which reads sequence_lens: shorter sequences end before that step; use the node's Y_h output instead`);
      const reverse = rec.direction === 'reverse' || (rec.direction === 'bidirectional' && v.index[p] >= rec.hidden);
      if (reverse ? !first : !last) {
        return fail(
          `it picks time step ${index} of ${rec.node}'s ${reverse ? 'reverse' : 'forward'} direction, which is not that direction's final state ` +
            `(rnnx's last-step output of a recurrent layer is each direction's final state: step T-1 forward, step 0 reverse)`,
        );
      }
      stage[p] = v.stage[p] + 1; // the final stage follows its sequence stage
    }
    const axes = v.axes.slice();
    if (drop) axes.splice(axis, 1);
    else axes[axis] = { id: 'one' };
    return { kind: 'act', axes, stage, index: v.index.slice() };
  }

  private gather(n: OnnxTypes.INodeProto, a: Attrs): Val {
    const v = this.get((n.input ?? [])[0])!;
    const idx = this.constInput(n, 1, 'Gather.indices')!;
    const indices = this.intList(idx, 'Gather.indices')!;
    if (v.kind === 'zeros') return v;
    const rank = this.rank(v);
    const axis = normAxis(attrInt(a, 'axis', 0), rank, 'Gather.axis');
    if (idx.dims.length > 1) fail('Gather with indices of rank > 1 is not supported');
    const drop = idx.dims.length === 0;
    if (v.kind === 'const') {
      const n0 = v.dims[axis];
      const pick = indices.map((i) => (i < 0 ? i + n0 : i));
      if (pick.some((i) => i < 0 || i >= n0)) fail(`Gather index out of range for axis ${axis} of size ${n0}`);
      const r = takeAlong(v.data as ArrayLike<SymInt>, v.dims, axis, pick, (k) => (v.float ? new Float64Array(k) : new Array<SymInt>(k)));
      const dims = r.dims.slice();
      if (drop) dims.splice(axis, 1);
      return { kind: 'const', float: v.float, dims, data: r.data as Float64Array | SymInt[] };
    }
    if (v.kind === 'state') {
      if (axis !== 0 || drop) fail('initial states may only be selected by rows (Gather along axis 0 with a list of indices)');
      return { ...v, rows: indices.map((i) => v.rows[i < 0 ? i + v.rows.length : i] ?? fail(`Gather index ${i} out of range for ${v.rows.length} state rows`)) };
    }
    if (v.kind !== 'act') return fail('Gather of this value is not supported');
    const ax = v.axes[axis];
    if (ax.id === 'F') {
      const pick = indices.map((i) => (i < 0 ? i + ax.size : i));
      if (pick.some((i) => i < 0 || i >= ax.size)) fail(`Gather index out of range for an axis of size ${ax.size}`);
      return this.mapTake(v, this.fAxes(v).indexOf(axis), pick, drop);
    }
    if (ax.id === 'one') {
      if (indices.some((i) => i !== 0 && i !== -1)) fail('Gather index out of range for an axis of size 1');
      if (!drop) return v;
      return { ...v, axes: v.axes.filter((_, i) => i !== axis) };
    }
    if (ax.id === this.timeAxis && indices.length === 1) return this.selectTime(v, axis, indices[0], drop);
    return fail(ax.id === this.timeAxis ? 'it gathers several time steps' : this.timeAxis ? 'it gathers along the batch axis' : 'it gathers along an axis of the raw input');
  }

  private slice(n: OnnxTypes.INodeProto, a: Attrs): Val {
    const ins = n.input ?? [];
    const v = this.get(ins[0])!;
    let starts: number[];
    let ends: number[];
    let axes: number[] | null;
    let steps: number[] | null = null;
    if (this.opset >= 10) {
      starts = this.intList(this.constInput(n, 1, 'Slice.starts'), 'Slice.starts')!;
      ends = this.intList(this.constInput(n, 2, 'Slice.ends'), 'Slice.ends')!;
      axes = this.intList(this.constInput(n, 3, 'Slice.axes'), 'Slice.axes');
      steps = this.intList(this.constInput(n, 4, 'Slice.steps'), 'Slice.steps');
    } else {
      starts = attrInts(a, 'starts') ?? [];
      ends = attrInts(a, 'ends') ?? [];
      axes = attrInts(a, 'axes');
    }
    if (v.kind === 'zeros') return v;
    if (v.kind === 'state') {
      const axs0 = (axes ?? starts.map((_, i) => i)).map((x) => normAxis(x, 3, 'Slice.axes'));
      if (axs0.some((x) => x !== 0)) fail('initial states may only be sliced by rows (axis 0)');
      const k = axs0.indexOf(0);
      return { ...v, rows: sliceIndices(v.rows.length, starts[k], Math.min(ends[k], TO_END), steps ? steps[k] : 1).map((i) => v.rows[i]) };
    }
    const rank = this.rank(v);
    const axs = (axes ?? starts.map((_, i) => i)).map((x) => normAxis(x, rank, 'Slice.axes'));
    let cur: Val = v;
    axs.forEach((axis, k) => {
      const step = steps ? steps[k] : 1;
      const st = Math.max(Math.min(starts[k], TO_END), -TO_END);
      const en = Math.max(Math.min(ends[k], TO_END), -TO_END);
      if (cur.kind === 'const') {
        const c: ConstVal = cur;
        const pick = sliceIndices(c.dims[axis], st, en, step);
        const r = takeAlong(c.data as ArrayLike<SymInt>, c.dims, axis, pick, (m) => (c.float ? new Float64Array(m) : new Array<SymInt>(m)));
        cur = { kind: 'const', float: c.float, dims: r.dims, data: r.data as Float64Array | SymInt[] };
        return;
      }
      const act = cur as ActVal;
      const ax = act.axes[axis];
      if (ax.id === 'F') {
        cur = this.mapTake(act, this.fAxes(act).indexOf(axis), sliceIndices(ax.size, st, en, step), false);
      } else if (ax.id === 'one') {
        if (sliceIndices(1, st, en, step).length !== 1) fail('Slice leaves an empty axis');
      } else {
        const whole = step === 1 && (st === 0 || st <= -TO_END) && en >= TO_END;
        if (whole) return;
        const T = this.axisSize[ax.id];
        if (ax.id === this.timeAxis && step === 1 && ((st === -1 && en >= TO_END) || (T !== null && st === T - 1 && en >= T))) {
          cur = this.selectTime(act, axis, -1, false);
        } else if (ax.id === this.timeAxis && step === 1 && (st === 0 || (T !== null && st === -T)) && (en === 1 || (T !== null && en === -T + 1))) {
          cur = this.selectTime(act, axis, 0, false);
        } else {
          fail(ax.id === this.timeAxis ? `it slices time steps [${st}, ${en}) step ${step}; only the whole sequence or one final step can be read` : 'it slices the batch axis');
        }
      }
    });
    return cur;
  }

  private squeeze(v: Val, axes: number[] | null): Val {
    if (v.kind === 'zeros') return v;
    if (v.kind === 'const') {
      const ax = (axes ?? v.dims.flatMap((d, i) => (d === 1 ? [i] : []))).map((x) => normAxis(x, v.dims.length, 'Squeeze.axes'));
      return { ...v, dims: v.dims.filter((_, i) => !ax.includes(i)) };
    }
    if (v.kind !== 'act') return fail('Squeeze of this value is not supported');
    const isOne = (ax: ActAxis) => ax.id === 'one' || (ax.id === 'F' && ax.size === 1);
    const ax = (axes ?? v.axes.flatMap((x, i) => (isOne(x) ? [i] : []))).map((x) => normAxis(x, v.axes.length, 'Squeeze.axes'));
    for (const i of ax) if (!isOne(v.axes[i])) fail(`Squeeze axis ${i} does not have size 1`);
    return { ...v, axes: v.axes.filter((_, i) => !ax.includes(i)) };
  }

  private unsqueeze(v: Val, axes: number[]): Val {
    if (v.kind === 'zeros') return v;
    const rank = this.rank(v) + axes.length;
    const ax = axes.map((x) => normAxis(x, rank, 'Unsqueeze.axes')).sort((p, q) => p - q);
    if (v.kind === 'const') {
      const dims = v.dims.slice();
      for (const i of ax) dims.splice(i, 0, 1);
      return { ...v, dims };
    }
    const act = v as ActVal;
    const out = act.axes.slice();
    for (const i of ax) out.splice(i, 0, { id: 'one' });
    return { ...act, axes: out };
  }

  private transpose(v: Val, perm: number[]): Val {
    const rank = this.rank(v);
    if (perm.length !== rank || [...perm].sort((p, q) => p - q).some((p, i) => p !== i)) fail(`Transpose.perm must be a permutation of 0..${rank - 1}, got ${JSON.stringify(perm)}`);
    if (v.kind === 'const') {
      return { ...v, dims: perm.map((p) => v.dims[p]), data: transposeData(v.data as ArrayLike<SymInt>, v.dims, perm, (k) => (v.float ? new Float64Array(k) : new Array<SymInt>(k))) as Float64Array | SymInt[] };
    }
    if (v.kind !== 'act') return fail('Transpose of this value is not supported');
    const axes = perm.map((p) => v.axes[p]);
    // The feature map follows the feature axes' new order.
    const fOld = this.fAxes(v);
    const fPerm = perm.filter((p) => v.axes[p].id === 'F').map((p) => fOld.indexOf(p));
    const fd = this.fDims(v);
    return {
      kind: 'act',
      axes,
      stage: transposeData(v.stage, fd, fPerm, (k) => new Int32Array(k)) as Int32Array,
      index: transposeData(v.index, fd, fPerm, (k) => new Int32Array(k)) as Int32Array,
    };
  }

  private reshape(v: Val, targetRaw: SymInt[]): Val {
    if (v.kind === 'zeros') return v;
    if (v.kind === 'const') {
      const tgt = targetRaw.map((d, i) => (d === 0 ? v.dims[i] : d));
      if (tgt.some((d) => typeof d !== 'number')) fail('Reshape of a constant to a run-time shape is not supported');
      const known = (tgt as number[]).filter((d) => d !== -1).reduce((p, q) => p * q, 1);
      const dims = (tgt as number[]).map((d) => (d === -1 ? size(v.dims) / known : d));
      if (size(dims) !== size(v.dims)) fail(`Reshape of ${JSON.stringify(v.dims)} to ${JSON.stringify(dims)} changes the element count`);
      return { ...v, dims };
    }
    if (v.kind !== 'act') return fail('Reshape of this value is not supported');
    const inDims = this.symDims(v);
    // Resolve 0 (copy) and -1 (the rest) into sizes; symbolic sizes stand for the batch/time axes (a fixed one is its size, which the walk maps back to the axis).
    const target: SymInt[] = targetRaw.map((d, i) => (d === 0 ? (v.axes[i] ? inDims[i] : fail('Reshape copies (0) a dimension the input does not have')) : d));
    const minus = target.indexOf(-1);
    if (minus >= 0) {
      // Input axes that the other target entries do not name count by their fixed size when
      // known (fixed-shape exports); at most one unnamed run-time axis may be left for the -1.
      const others = target.filter((_, k) => k !== minus);
      let numIn = 1;
      const leftover: AxisId[] = [];
      for (const ax of v.axes) {
        if (ax.id === 'F') numIn *= ax.size;
        else if (ax.id === 'A' || ax.id === 'B') {
          if (others.includes(ax.id)) continue;
          const known = this.axisSize[ax.id];
          if (known !== null) numIn *= known;
          else leftover.push(ax.id);
        }
      }
      const numOut = (others.filter((d) => typeof d === 'number') as number[]).reduce((p, q) => p * q, 1);
      if (numOut === 0 || numIn % numOut !== 0) fail(`Reshape target ${JSON.stringify(targetRaw)} does not divide the input's size`);
      const n = numIn / numOut;
      if (leftover.length === 0) target[minus] = n;
      else if (leftover.length === 1 && n === 1) target[minus] = leftover[0];
      else fail('this reshape merges the batch or time axis with another axis');
    }
    // Walk input axes and target entries together, grouping runs of equal element count.
    const out: ActAxis[] = [];
    let i = 0;
    let j = 0;
    const inAxes = v.axes;
    const sizeOf = (ax: ActAxis): number | null => (ax.id === 'F' ? ax.size : ax.id === 'one' ? 1 : this.axisSize[ax.id]);
    while (i < inAxes.length || j < target.length) {
      const t = target[j];
      const ax = inAxes[i];
      if (ax && (ax.id === 'one' || (ax.id === 'F' && ax.size === 1)) && t !== 1) {
        i++;
        continue;
      }
      if (j >= target.length) fail(`Reshape target ${JSON.stringify(targetRaw)} drops an axis of the input`);
      if (t === 1 && ax && ax.id === 'F' && ax.size === 1) {
        // A feature axis of size 1 kept in place stays a feature axis: a layer of one unit
        // (hidden_size 1, Dense(1)) reshaped to [batch, -1] still ends in its features.
        out.push(ax);
        i++;
        j++;
        continue;
      }
      if (t === 1 && !(ax && ax.id !== 'F' && ax.id !== 'one' && this.axisSize[ax.id] === 1)) {
        out.push({ id: 'one' });
        j++;
        if (ax && (ax.id === 'one' || (ax.id === 'F' && ax.size === 1))) i++;
        continue;
      }
      if (!ax) fail(`Reshape target ${JSON.stringify(targetRaw)} adds an axis the input does not have`);
      if (typeof t !== 'number') {
        if (ax.id !== t) fail('this reshape moves the batch or time axis');
        out.push({ id: t });
        i++;
        j++;
        continue;
      }
      if (ax.id === 'A' || ax.id === 'B') {
        if (this.axisSize[ax.id] === t) {
          out.push({ id: ax.id });
          i++;
          j++;
          continue;
        }
        fail('this reshape merges or splits the batch or time axis');
      }
      // Feature axes: merge several input axes into one target entry, or split one into several.
      let prodIn = sizeOf(ax)!;
      let i2 = i + 1;
      let prodOut = t;
      let j2 = j + 1;
      while (prodIn !== prodOut) {
        if (prodIn < prodOut) {
          const nx = inAxes[i2];
          if (!nx || (nx.id !== 'F' && nx.id !== 'one')) fail('this reshape merges a feature axis with the batch or time axis');
          prodIn *= sizeOf(nx)!;
          i2++;
        } else {
          const nt = target[j2];
          if (typeof nt !== 'number') fail('this reshape merges a feature axis with the batch or time axis');
          prodOut *= nt;
          j2++;
        }
      }
      for (let k = j; k < j2; k++) out.push({ id: 'F', size: target[k] as number });
      i = i2;
      j = j2;
    }
    return { kind: 'act', axes: out, stage: v.stage, index: v.index };
  }

  private concat(vals: Val[], axisRaw: number): Val {
    if (vals.length === 0) fail('Concat has no inputs');
    if (vals.every((v) => v.kind === 'const')) {
      const cs = vals as ConstVal[];
      const axis = normAxis(axisRaw, cs[0].dims.length, 'Concat.axis');
      const float = cs[0].float;
      const r = concatData(cs.map((c) => ({ data: c.data as ArrayLike<SymInt>, dims: c.dims })), axis, (k) => (float ? new Float64Array(k) : new Array<SymInt>(k)));
      return { kind: 'const', float, dims: r.dims, data: r.data as Float64Array | SymInt[] };
    }
    if (vals.every((v) => v.kind === 'zeros' || (v.kind === 'const' && v.float && (v.data as Float64Array).every((d) => d === 0)))) return { kind: 'zeros' };
    if (!vals.every((v) => v.kind === 'act')) return fail('Concat mixes a value computed from the input with a constant or state; rnnx layers read only the previous layer');
    const acts = vals as ActVal[];
    const axis = normAxis(axisRaw, acts[0].axes.length, 'Concat.axis');
    const norm = acts.map((v) => {
      const ax = v.axes[axis];
      if (ax.id === 'A' || ax.id === 'B') fail('it concatenates along the batch or time axis');
      // A size-1 axis joins the feature axes so that the pieces line up.
      return ax.id === 'one' ? { ...v, axes: v.axes.map((x, i) => (i === axis ? { id: 'F' as const, size: 1 } : x)) } : v;
    });
    const sig = (v: ActVal) => v.axes.map((x, i) => (i === axis ? 'F' : x.id === 'F' ? `F${x.size}` : x.id)).join(',');
    if (norm.some((v) => sig(v) !== sig(norm[0]))) fail('Concat inputs have different axes');
    const fi = this.fAxes(norm[0]).indexOf(axis);
    const st = concatData(norm.map((v) => ({ data: v.stage, dims: this.fDims(v) })), fi, (k) => new Int32Array(k));
    const ix = concatData(norm.map((v) => ({ data: v.index, dims: this.fDims(v) })), fi, (k) => new Int32Array(k));
    const axes = norm[0].axes.slice();
    axes[axis] = { id: 'F', size: st.dims[fi] };
    return { kind: 'act', axes, stage: st.data as Int32Array, index: ix.data as Int32Array };
  }

  // ----- layers ------------------------------------------------------------------------------

  /** The one stage that every feature position of `v` (its last axis only) reads. */
  private singleStage(v: ActVal, what: string): number {
    if (this.fAxes(v).length !== 1 || v.axes[v.axes.length - 1].id !== 'F') {
      fail(`${what} must read a tensor whose only feature axis is the last one, got axes [${v.axes.map((x) => (x.id === 'F' ? x.size : x.id === 'one' ? 1 : x.id === this.timeAxis ? 'time' : 'batch')).join(', ')}]`);
    }
    const s = v.stage[0];
    if (!v.stage.every((x) => x === s)) fail(`${what} reads features of several layers at once`);
    return s;
  }

  /**
   * A bias or activation makes a new stage rather than changing the dense one in place: any other
   * reader of the value before it keeps what it read (and mixing both is refused at the output).
   */
  private derive(v: ActVal, s: number, change: (d: DenseInfo) => Partial<DenseInfo>): ActVal {
    const st = this.stages[s];
    const id = this.stages.length;
    this.stages.push({ ...st, dense: { ...st.dense!, ...change(st.dense!) } });
    return { ...v, stage: new Int32Array(v.stage.length).fill(id) };
  }

  private dense(v: ActVal, W: Float64Array, K: number, M: number, node: string): ActVal {
    const s = this.singleStage(v, 'the dense layer');
    const parent = this.stages[s];
    if (v.stage.length !== K) fail(`the weight has ${K} rows for ${v.stage.length} input features`);
    // Fold the input's feature permutation (or selection) into the weights: row p reads feature index[p].
    const Wf = new Float64Array(parent.width * M);
    for (let p = 0; p < K; p++) for (let m = 0; m < M; m++) Wf[v.index[p] * M + m] += W[p * M + m];
    const id = this.stages.length;
    this.stages.push({ kind: 'dense', width: M, parent: s, hasTime: parent.hasTime, dense: { node, W: Wf, b: new Float64Array(M), inputs: parent.width, units: M, activation: 'none' } });
    const axes = v.axes.slice();
    axes[axes.length - 1] = { id: 'F', size: M };
    return { kind: 'act', axes, stage: new Int32Array(M).fill(id), index: Int32Array.from({ length: M }, (_, i) => i) };
  }

  private matmul(x: Val, w: Val, node: string): Val {
    if (x.kind === 'const' && w.kind === 'const') return fail('MatMul of two constants is not folded by the importer');
    if (x.kind !== 'act') return fail('MatMul must multiply the activations (first input) by a constant weight (second input)');
    if (w.kind !== 'const' || !w.float) return fail('MatMul weight (second input) must be a float constant');
    if (w.dims.length !== 2) fail(`MatMul weight must be a matrix [in, out], got dims ${JSON.stringify(w.dims)}`);
    return this.dense(x, w.data as Float64Array, w.dims[0], w.dims[1], node);
  }

  private gemm(n: OnnxTypes.INodeProto, a: Attrs, node: string): Val {
    const ins = n.input ?? [];
    const x = this.get(ins[0])!;
    const b = this.constInput(n, 1, 'Gemm.B')!;
    const c = this.constInput(n, 2, 'Gemm.C');
    if (x.kind !== 'act') return fail('Gemm must read the activations as its first input A');
    if (attrInt(a, 'transA', 0) !== 0) fail('Gemm with transA = 1 is not supported');
    if (x.axes.length !== 2) fail(`Gemm.A must have rank 2, got ${x.axes.length}`);
    if (!b.float || b.dims.length !== 2) fail(`Gemm.B must be a float matrix, got dims ${JSON.stringify(b.dims)}`);
    const alpha = attrFloat(a, 'alpha', 1);
    const beta = attrFloat(a, 'beta', 1);
    const transB = attrInt(a, 'transB', 0) === 1;
    const [K, M] = transB ? [b.dims[1], b.dims[0]] : b.dims;
    const src = b.data as Float64Array;
    const W = new Float64Array(K * M);
    for (let k = 0; k < K; k++) for (let m = 0; m < M; m++) W[k * M + m] = alpha * (transB ? src[m * K + k] : src[k * M + m]);
    const y = this.dense(x, W, K, M, node);
    return c ? this.addBias(y, { ...c, data: Float64Array.from(c.data as Float64Array, (d) => beta * d) }) : y;
  }

  private addBias(v: ActVal, c: Val): Val {
    if (c.kind !== 'const' || !c.float) return fail('Add of two values computed from the input (a residual connection, say) is not supported; only Add of a constant bias after MatMul');
    const s = this.singleStage(v, 'the bias Add');
    const st = this.stages[s];
    if (st.kind !== 'dense' || st.dense!.activation !== 'none') {
      fail(st.kind === 'dense' ? 'it adds a bias after the dense layer\'s activation' : 'it adds a constant to a recurrent output or the input; rnnx adds biases only in dense layers');
    }
    const M = st.width;
    const len = size(c.dims);
    if (!(len === M && c.dims[c.dims.length - 1] === M) && len !== 1) fail(`the bias must have ${M} values along the last axis, got dims ${JSON.stringify(c.dims)}`);
    if (c.dims.length > v.axes.length) fail('the bias has more axes than the activations');
    if (v.stage.length !== M && len !== 1) fail(`the bias has ${M} values for ${v.stage.length} features`);
    const b = Float64Array.from(st.dense!.b);
    for (let p = 0; p < v.stage.length; p++) b[v.index[p]] += (c.data as Float64Array)[len === 1 ? 0 : p];
    return this.derive(v, s, () => ({ b }));
  }

  private activation(op: string, v: Val, a: Attrs): Val {
    if (v.kind !== 'act') return fail(`${op} of a constant is not folded by the importer`);
    const s = this.singleStage(v, op);
    const st = this.stages[s];
    if (st.kind !== 'dense' || st.dense!.activation !== 'none') {
      fail(st.kind === 'dense' ? 'a second activation on one dense layer is not supported' : `it applies ${op} to a recurrent output or the input; rnnx applies activations only in dense layers`);
    }
    if (op === 'Softmax') {
      const rank = v.axes.length;
      const dflt = this.opset >= 13 ? -1 : 1;
      const axis = normAxis(attrInt(a, 'axis', dflt), rank, 'Softmax.axis');
      if (axis !== rank - 1) fail(`Softmax over axis ${axis} of a rank-${rank} tensor; rnnx's softmax is over the features (last axis)`);
    }
    return this.derive(v, s, () => ({ activation: op.toLowerCase() as DenseActivation }));
  }

  private recurrent(op: 'LSTM' | 'GRU' | 'RNN', n: OnnxTypes.INodeProto, a: Attrs, node: string): Val[] {
    const ins = n.input ?? [];
    const x = this.get(ins[0]);
    if (!x || x.kind !== 'act') return fail(`${op}.X must be computed from the model input`);
    const G = op === 'LSTM' ? 4 : op === 'GRU' ? 3 : 1;
    const H = attrInt(a, 'hidden_size', 0);
    const direction = attrString(a, 'direction', 'forward');
    if (direction !== 'forward' && direction !== 'reverse' && direction !== 'bidirectional') fail(`direction must be forward, reverse or bidirectional, got ${JSON.stringify(direction)}`);
    const D = direction === 'bidirectional' ? 2 : 1;
    const layout = this.opset >= 14 ? attrInt(a, 'layout', 0) : 0;
    if (layout !== 0 && layout !== 1) fail(`layout must be 0 or 1, got ${layout}`);
    const w = this.constInput(n, 1, `${op}.W`);
    const r = this.constInput(n, 2, `${op}.R`);
    if (!w || !r || !w.float || !r.float) return fail(`${op}.W and ${op}.R must be float constants`);
    if (w.dims.length !== 3 || w.dims[0] !== D || (H && w.dims[1] !== G * H)) fail(`${op}.W must have dims [${D}, ${G}*hidden_size, input_size], got ${JSON.stringify(w.dims)}`);
    const hidden = H || w.dims[1] / G;
    if (!Number.isInteger(hidden) || hidden <= 0) fail(`${op}.W has ${w.dims[1]} rows, expected a positive multiple of ${G}`);
    const I = w.dims[2];
    if (r.dims.join() !== [D, G * hidden, hidden].join()) fail(`${op}.R must have dims [${D}, ${G * hidden}, ${hidden}], got ${JSON.stringify(r.dims)}`);
    const b = this.constInput(n, 3, `${op}.B`);
    if (b && b.dims.join() !== [D, 2 * G * hidden].join()) fail(`${op}.B must have dims [${D}, ${2 * G * hidden}], got ${JSON.stringify(b.dims)}`);

    const lensVal = this.get(ins[4]);
    if (lensVal && lensVal.kind !== 'lens') {
      if (lensVal.kind === 'const') fail(`${op}.sequence_lens is a constant; rnnx reads sequence_lens from the graph input`);
      fail(`${op}.sequence_lens must be the graph's integer input`);
    }
    // Zeros (PyTorch's default), or rows of a graph input (the rnnx stateful export's h0_k / c0_k).
    const initialState = (k: number, what: string): { input: string; rows: number[] } | null => {
      const v = this.get(ins[k]);
      if (!v || v.kind === 'zeros') return null;
      if (v.kind === 'const' && v.float && (v.data as Float64Array).every((d) => d === 0)) return null;
      if (v.kind === 'state') {
        if (v.rows.length !== D) fail(`${what} takes ${v.rows.length} rows of graph input ${JSON.stringify(v.input)}, the node has ${D} direction(s)`);
        if (v.hidden !== null && v.hidden !== hidden) fail(`${what}: graph input ${JSON.stringify(v.input)} has hidden size ${v.hidden}, the node ${hidden}`);
        return { input: v.input, rows: v.rows };
      }
      return fail(`${what} is not zero: rnnx layers start from a zero state or from states fed as graph inputs (${v.kind === 'const' ? 'a learned or constant initial state' : 'a state computed in the graph'} cannot be imported)`);
    };
    const initialH = initialState(5, `${op}.initial_h`);
    let initialC: { input: string; rows: number[] } | null = null;
    let P: Float32Array | null = null;
    if (op === 'LSTM') {
      initialC = initialState(6, 'LSTM.initial_c');
      const p = this.constInput(n, 7, 'LSTM.P');
      if (p) {
        if (p.dims.join() !== [D, 3 * hidden].join()) fail(`LSTM.P must have dims [${D}, ${3 * hidden}], got ${JSON.stringify(p.dims)}`);
        if ((p.data as Float64Array).some((d) => d !== 0)) P = Float32Array.from(p.data as Float64Array);
      }
    }
    // Attributes rnnx has no equivalent for.
    const perDir = op === 'LSTM' ? ['Sigmoid', 'Tanh', 'Tanh'] : op === 'GRU' ? ['Sigmoid', 'Tanh'] : ['Tanh'];
    const acts = attrStrings(a, 'activations');
    let activation: 'tanh' | 'relu' = 'tanh';
    if (acts && acts.length > 0) {
      // One set for both directions is read as applying to each (some exporters write it so).
      const all = acts.length === perDir.length && D === 2 ? [...acts, ...acts] : acts;
      if (all.length !== perDir.length * D) fail(`activations must list ${perDir.length * D} functions, got ${acts.length}`);
      const lower = all.map((s) => s.toLowerCase());
      for (let d = 0; d < D; d++) {
        const mine = lower.slice(d * perDir.length, (d + 1) * perDir.length);
        if (op === 'RNN') {
          if (mine[0] !== 'tanh' && mine[0] !== 'relu') fail(`RNN activation ${acts[d]} is not supported (Tanh or Relu)`);
          if (d > 0 && mine[0] !== activation) fail('RNN directions with different activations are not supported');
          activation = mine[0] as 'tanh' | 'relu';
        } else if (mine.join() !== perDir.join().toLowerCase()) {
          fail(`activations ${JSON.stringify(acts)} are not supported: rnnx's ${op} uses the defaults ${JSON.stringify(perDir)}`);
        }
      }
    }
    if (a.has('activation_alpha') || a.has('activation_beta')) fail('activation_alpha / activation_beta are not supported');
    const clip = a.has('clip') ? attrFloat(a, 'clip', 0) : null;
    if (clip !== null && op !== 'LSTM') fail(`clip on ${op} is not supported (rnnx clips LSTM gates only)`);
    const inputForget = op === 'LSTM' && attrInt(a, 'input_forget', 0) === 1;
    const lbr = op === 'GRU' ? attrInt(a, 'linear_before_reset', 0) : 0;
    if (lbr !== 0 && lbr !== 1) fail(`linear_before_reset must be 0 or 1, got ${lbr}`);

    // X: [T, N, I] (layout 0) or [N, T, I] (layout 1); its first use fixes which input axis is time.
    if (x.axes.length !== 3 || x.axes[2].id !== 'F' || x.axes[0].id === 'F' || x.axes[0].id === 'one' || x.axes[1].id === 'F' || x.axes[1].id === 'one') {
      fail(`${op}.X must be [time, batch, features] built from the model input, got axes [${x.axes.map((q) => (q.id === 'F' ? q.size : q.id === 'one' ? 1 : '?')).join(', ')}]`);
    }
    const tId = x.axes[layout === 0 ? 0 : 1].id as AxisId;
    if (this.timeAxis === null) this.timeAxis = tId;
    else if (this.timeAxis !== tId) fail(`${op}.X has the batch axis where the time axis belongs`);
    const s = this.singleStage(x, `${op}.X`);
    const parent = this.stages[s];
    if (!parent.hasTime) fail(`${op}.X reads a value without a time axis`);
    if (parent.kind === 'dense') fail(`${op}.X reads the output of dense layer ${parent.dense!.node}; rnnx models put every recurrent layer before the dense layers`);
    if (x.stage.length !== I) fail(`${op}.W expects ${I} input features, X has ${x.stage.length}`);
    // Fold X's feature permutation into W's columns.
    const Wsrc = w.data as Float64Array;
    const rows = D * G * hidden;
    const W = new Float32Array(rows * parent.width);
    for (let row = 0; row < rows; row++) for (let p = 0; p < I; p++) W[row * parent.width + x.index[p]] += Wsrc[row * I + p];
    const rec: RecurrentInfo = {
      op, node, direction, hidden, W, R: Float32Array.from(r.data as Float64Array),
      B: b ? Float32Array.from(b.data as Float64Array) : new Float32Array(D * 2 * G * hidden), P,
      inputSize: parent.width, clip, inputForget, linearBeforeReset: lbr as 0 | 1, activation, sequenceLens: lensVal !== null,
      initialH, initialC,
    };
    const seqId = this.stages.length;
    this.stages.push({ kind: 'seq', width: D * hidden, parent: s, hasTime: true, rec });
    this.stages.push({ kind: 'final', width: D * hidden, parent: s, hasTime: false, rec });
    const nId = x.axes[layout === 0 ? 1 : 0].id as AxisId;
    const map = (stage: number) => ({ stage: new Int32Array(D * hidden).fill(stage), index: Int32Array.from({ length: D * hidden }, (_, i) => i) });
    const Fd: ActAxis = { id: 'F', size: D };
    const Fh: ActAxis = { id: 'F', size: hidden };
    const Y: ActVal = { kind: 'act', axes: layout === 0 ? [{ id: tId }, Fd, { id: nId }, Fh] : [{ id: nId }, { id: tId }, Fd, Fh], ...map(seqId) };
    const Yh: ActVal = { kind: 'act', axes: layout === 0 ? [Fd, { id: nId }, Fh] : [{ id: nId }, Fd, Fh], ...map(seqId + 1) };
    const Yc: OpaqueVal = { kind: 'opaque', reason: `it reads Y_c, the cell state of ${node}; rnnx models output hidden states only` };
    return op === 'LSTM' ? [Y, Yh, Yc] : [Y, Yh];
  }

  // ----- the result ----------------------------------------------------------------------------

  /** Checks the first output and assembles the spec; errors name the node that writes the output. */
  private finish(outputs: OnnxTypes.IValueInfoProto[], outNode: string, outOp: string): ImportResult {
    const outName = outputs[0].name ?? '';
    let v: Val | null;
    try {
      v = this.get(outName);
    } catch (e) {
      if (e instanceof Fail) throw this.error(outNode, outOp, e.message);
      throw e;
    }
    const bad = (reason: string) => this.error(outNode, outOp, `output ${JSON.stringify(outName)}: ${reason}`);
    if (!v || v.kind !== 'act') throw bad('the first graph output does not depend on the input');
    if (this.timeAxis === null) throw bad('no LSTM, GRU or RNN node lies between the input and the first output');
    const s = (() => {
      try {
        return this.singleStage(v, 'the output');
      } catch (e) {
        if (e instanceof Fail) throw bad(e.message);
        throw e;
      }
    })();
    const out = this.stages[s];
    const identity = v.index.every((x, i) => x === i) && v.index.length === out.width;
    if (!identity) throw bad(`the output holds a selection or permutation of ${out.kind === 'dense' ? `dense layer ${out.dense!.node}'s` : 'the recurrent layer\'s'} features; rnnx outputs them all, in order`);
    const ids = v.axes.filter((x) => x.id !== 'one' && x.id !== 'F').map((x) => x.id);
    const nId = this.timeAxis === 'A' ? 'B' : 'A';
    let outputLayout: ImportInfo['outputLayout'] = null;
    if (out.hasTime) {
      if (v.axes.some((x) => x.id === 'one') || ids.length !== 2) throw bad('the output must be [batch, time, features] or [time, batch, features]');
      outputLayout = ids[0] === nId ? 'batch-first' : 'time-major';
    } else if (v.axes.some((x) => x.id === 'one') || ids.length !== 1 || ids[0] !== nId) {
      throw bad(`the output must be [batch, features], got rank ${v.axes.length}`);
    }

    // Walk the chain back to the input.
    const chain: number[] = [];
    for (let k = s; k > 0; k = this.stages[k].parent) chain.unshift(k);
    const layers: LayerSpec[] = [];
    const weights: { W: ArrayLike<number>; R?: ArrayLike<number>; B: ArrayLike<number>; P?: ArrayLike<number> | null }[] = [];
    const layerNodes: string[] = [];
    let lens: boolean | null = null;
    const stateInputs: StateInput[] = [];
    chain.forEach((k) => {
      const st = this.stages[k];
      if (st.kind === 'dense') {
        const d = st.dense!;
        layers.push({ kind: 'dense', units: d.units, activation: d.activation });
        weights.push({ W: d.W, B: d.b });
        layerNodes.push(d.node);
        return;
      }
      const rec = st.rec!;
      // A recurrent layer never reads a final state: its X needs a time axis (refused where it is read).
      if (lens !== null && lens !== rec.sequenceLens) throw this.error(rec.node, rec.op, 'some recurrent layers read sequence_lens and others do not; rnnx applies it to every layer');
      lens = rec.sequenceLens;
      if (rec.initialH || rec.initialC) stateInputs.push({ layer: layerNodes.length, h: rec.initialH, c: rec.initialC });
      const common = { units: rec.hidden, direction: rec.direction, returnSequences: st.kind === 'seq' };
      if (rec.op === 'LSTM') layers.push({ kind: 'lstm', ...common, peepholes: rec.P !== null, clip: rec.clip, inputForget: rec.inputForget } as LayerSpec);
      else if (rec.op === 'GRU') layers.push({ kind: 'gru', ...common, linearBeforeReset: rec.linearBeforeReset } as LayerSpec);
      else layers.push({ kind: 'rnn', ...common, activation: rec.activation } as LayerSpec);
      weights.push({ W: rec.W, R: rec.R, B: rec.B, P: rec.P });
      layerNodes.push(rec.node);
    });
    let spec: ModelSpec;
    try {
      spec = normalizeModelSpec({ inputSize: this.stages[0].width, layers });
    } catch (e) {
      throw bad(`the layers found do not form an rnnx model: ${(e as Error).message}`);
    }
    const layout = paramLayout(spec);
    const params = new Float32Array(layout.total);
    layout.layers.forEach((l, i) => {
      const w = weights[i];
      if (l.kind === 'dense') {
        view(params, l.W).set(w.W);
        view(params, l.b).set(w.B);
      } else {
        view(params, l.W).set(w.W);
        view(params, l.R).set(w.R!);
        view(params, l.B).set(w.B);
        if (l.P && w.P) view(params, l.P).set(w.P);
      }
    });
    layout.layers.forEach((l, i) => {
      const end = i + 1 < layout.layers.length ? layout.layers[i + 1].W.offset : layout.total;
      for (let k = l.W.offset; k < end; k++) {
        if (!Number.isFinite(params[k])) throw this.error(layerNodes[i], spec.layers[i].kind === 'dense' ? 'Dense' : spec.layers[i].kind.toUpperCase(), `a weight is ${params[k]}; non-finite weights are never imported`);
      }
    });
    const producer = [this.proto.producerName, this.proto.producerVersion].filter(Boolean).join(' ') || 'unknown';
    const info: ImportInfo = {
      producer,
      opset: this.opset,
      inputLayout: this.timeAxis === 'A' ? 'time-major' : 'batch-first',
      outputLayout,
      sequenceLens: lens === true,
      droppedOutputs: outputs.slice(1).map((o) => o.name ?? ''),
      layerNodes,
      stateInputs,
    };
    return { data: { spec, layout, params, metadata: {} }, info };
  }
}

/** metadata.extra keys an imported model carries (saved with it, shown by `rnnx inspect`). */
export const IMPORT_META = {
  producer: 'import.producer',
  source: 'import.source',
  opset: 'import.opset',
  inputLayout: 'import.inputLayout',
  outputLayout: 'import.outputLayout',
  sequenceLens: 'import.sequenceLens',
  droppedOutputs: 'import.droppedOutputs',
  stateInputs: 'import.stateInputs',
} as const;

/**
 * `importOnnxModel`'s model data with what the source was recorded in metadata.extra: its
 * producer, file name, opset and, where they differ from rnnx's, its input/output layouts.
 * @internal
 */
export function importedModelData(proto: ModelProto, source = 'model'): ModelData {
  const { data, info } = importOnnxModel(proto, { source });
  const extra: Record<string, string> = {
    [IMPORT_META.producer]: info.producer,
    [IMPORT_META.source]: source.split(/[\\/]/).pop() ?? source,
    [IMPORT_META.opset]: String(info.opset),
  };
  // rnnx models read x as [batch, time, features]; say so when the source did otherwise.
  if (info.inputLayout !== 'batch-first') extra[IMPORT_META.inputLayout] = `${info.inputLayout} (the source read [time, batch, features]; this model reads [batch, time, features])`;
  if (info.outputLayout === 'time-major') extra[IMPORT_META.outputLayout] = 'time-major (the source wrote [time, batch, features]; this model writes [batch, time, features])';
  if (info.sequenceLens) extra[IMPORT_META.sequenceLens] = 'true (export with { sequenceLens: true } to keep the sequence_lens input)';
  if (info.droppedOutputs.length) extra[IMPORT_META.droppedOutputs] = info.droppedOutputs.join(', ');
  if (info.stateInputs.length) extra[IMPORT_META.stateInputs] = describeStateInputs(info.stateInputs);
  return { ...data, metadata: { extra } };
}

/** "h0[0:1] → h0_0, c0[0:1] → c0_0, ... (export with { stateful: true })". */
export function describeStateInputs(states: StateInput[]): string {
  const rows = (r: number[]) => (r.every((v, i) => i === 0 || v === r[i - 1] + 1) ? `${r[0]}:${r[r.length - 1] + 1}` : r.join(','));
  const parts = states.flatMap((s) => [
    ...(s.h ? [`${s.h.input}[${rows(s.h.rows)}] → h0_${s.layer}`] : []),
    ...(s.c ? [`${s.c.input}[${rows(s.c.rows)}] → c0_${s.layer}`] : []),
  ]);
  return `${parts.join(', ')} (export with { stateful: true } or rnnx export --stateful to feed them; layers without one start from zeros)`;
}
