// A small typed builder over onnx-proto's ModelProto, in the spirit of Spox: graph inputs and
// initializers are typed Values, operators (src/graph/ops.ts) are plain functions of Values that
// check shapes where they are known, and names are given to outputs at the end. Shape errors
// therefore surface at the line that built the bad node, not when ONNX Runtime loads the file.

import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

/** The onnx-proto root namespace (protobufjs 6 static module, CommonJS: reached via its default export). */
export const onnx: typeof OnnxTypes = onnxProto.onnx;
export type ModelProto = OnnxTypes.ModelProto;
export type IModelProto = OnnxTypes.IModelProto;
export type ITensorProto = OnnxTypes.ITensorProto;
export type INodeProto = OnnxTypes.INodeProto;

export type ElemType = 'float' | 'int32' | 'int64';
/** A dimension: a fixed size, a symbolic name (dim_param, e.g. "batch"), or null when unknown. */
export type Dim = number | string | null;

const ELEM: Record<ElemType, OnnxTypes.TensorProto.DataType> = {
  float: 1, // TensorProto.FLOAT
  int32: 6, // TensorProto.INT32
  int64: 7, // TensorProto.INT64
};

/** Default opset and IR version of every file rnnx writes (IR 8 covers opsets up to 18). */
export const DEFAULT_OPSET = 14;
export const IR_VERSION = 8;

/** An attribute with its ONNX type spelled out where a JS number is ambiguous. */
export type Attr = { int: number } | { float: number } | { ints: number[] } | { floats: number[] } | { string: string } | { strings: string[] };

/** A typed value in a graph under construction: a graph input, an initializer or a node output. */
export class Value {
  /** Final name in the graph; null until named (auto-named `${op}_${n}` at build). */
  name: string | null;
  readonly graph: GraphBuilder;
  readonly elemType: ElemType;
  /** Shape when known (null = unknown rank). */
  readonly shape: Dim[] | null;
  /** 'input' | 'initializer' | 'node': where the value comes from (renaming is only allowed for node outputs). */
  readonly source: 'input' | 'initializer' | 'node';

  constructor(graph: GraphBuilder, elemType: ElemType, shape: Dim[] | null, source: Value['source'], name: string | null) {
    this.graph = graph;
    this.elemType = elemType;
    this.shape = shape;
    this.source = source;
    this.name = name;
  }

  get rank(): number | null {
    return this.shape ? this.shape.length : null;
  }

  /** Dimension `i` (negative counts from the end), null when unknown. */
  dim(i: number): Dim {
    if (!this.shape) return null;
    return this.shape[i < 0 ? this.shape.length + i : i] ?? null;
  }
}

interface NodeEntry {
  opType: string;
  inputs: (Value | null)[];
  outputs: (Value | null)[];
  attrs: Record<string, Attr>;
}

interface GraphOutput {
  value: Value;
  shape: Dim[];
}

export interface BuildOptions {
  graphName?: string;
  opset?: number;
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  /** ModelProto.metadata_props, in the order given. */
  metadata?: [string, string][];
}

export class GraphBuilder {
  private readonly inputs: Value[] = [];
  private readonly initializers: { value: Value; tensor: OnnxTypes.ITensorProto }[] = [];
  private readonly nodes: NodeEntry[] = [];
  private readonly outputs: GraphOutput[] = [];
  private readonly opCounts = new Map<string, number>();

  private readonly fresh = new Map<string, number>();

  /** A name `${prefix}_${n}` not yet used by an input or initializer of this graph. */
  freshName(prefix: string): string {
    const used = new Set([...this.inputs.map((v) => v.name), ...this.initializers.map((i) => i.value.name)]);
    let name: string;
    do {
      const k = (this.fresh.get(prefix) ?? 0) + 1;
      this.fresh.set(prefix, k);
      name = `${prefix}_${k}`;
    } while (used.has(name));
    return name;
  }

  /** Declares a graph input. Symbolic dims (strings) become dim_param. */
  input(name: string, elemType: ElemType, shape: Dim[]): Value {
    const v = new Value(this, elemType, shape, 'input', name);
    this.inputs.push(v);
    return v;
  }

  /** A float32 initializer holding a copy of `data` (little-endian raw_data). */
  floatInitializer(name: string, data: Float32Array, dims: number[]): Value {
    checkSize(name, data.length, dims);
    const tensor: OnnxTypes.ITensorProto = { name, dataType: ELEM.float, dims, rawData: float32ToLeBytes(data) };
    const v = new Value(this, 'float', dims.slice(), 'initializer', name);
    this.initializers.push({ value: v, tensor });
    return v;
  }

  /** An int64 initializer (shapes for Reshape and the like). */
  int64Initializer(name: string, data: number[], dims: number[] = [data.length]): Value {
    checkSize(name, data.length, dims);
    const tensor: OnnxTypes.ITensorProto = { name, dataType: ELEM.int64, dims, int64Data: data.slice() };
    const v = new Value(this, 'int64', dims.slice(), 'initializer', name);
    this.initializers.push({ value: v, tensor });
    return v;
  }

  /**
   * Adds a node. `inputs` are positional; null stands for an omitted optional input (written as
   * the empty name, and dropped when trailing). `outputs` gives each output's type and shape, or
   * null for an output the graph does not use (same treatment as inputs).
   */
  node(opType: string, inputs: (Value | null)[], outputs: ({ elemType: ElemType; shape: Dim[] | null } | null)[], attrs: Record<string, Attr> = {}): (Value | null)[] {
    for (const v of inputs) {
      if (v && v.graph !== this) throw new Error(`${opType}: an input value belongs to another graph`);
    }
    const outs = outputs.map((o) => (o ? new Value(this, o.elemType, o.shape, 'node', null) : null));
    this.nodes.push({ opType, inputs, outputs: outs, attrs });
    return outs;
  }

  /**
   * Marks `value` as a graph output named `name`, declared with `shape`. A node output is renamed
   * in place; an input or initializer gets an Identity in between (ONNX names are single-assignment).
   */
  output(value: Value, name: string, shape: Dim[]): Value {
    if (value.graph !== this) throw new Error(`output ${name}: the value belongs to another graph`);
    if (value.shape) assertShape(`output ${name}`, value.shape, shape);
    let v = value;
    if (v.source !== 'node' || (v.name !== null && v.name !== name)) {
      [v] = this.node('Identity', [value], [{ elemType: value.elemType, shape: value.shape }]) as Value[];
    }
    v.name = name;
    this.outputs.push({ value: v, shape });
    return v;
  }

  /** Serialisable ModelProto. Checks that every name is assigned once. */
  build(options: BuildOptions = {}): OnnxTypes.ModelProto {
    // Auto-name unnamed node outputs deterministically (same graph → same bytes).
    const taken = new Set<string>();
    const claim = (name: string, what: string) => {
      if (taken.has(name)) throw new Error(`graph: name ${JSON.stringify(name)} is assigned twice (${what})`);
      taken.add(name);
    };
    for (const v of this.inputs) claim(v.name!, 'graph input');
    for (const { value } of this.initializers) claim(value.name!, 'initializer');
    for (const { value } of this.outputs) if (value.name) claim(value.name, 'graph output');
    for (const n of this.nodes) {
      for (const o of n.outputs) {
        if (!o || o.name !== null) continue;
        let name: string;
        do {
          const k = (this.opCounts.get(n.opType) ?? 0) + 1;
          this.opCounts.set(n.opType, k);
          name = `${n.opType}_${k}`;
        } while (taken.has(name));
        o.name = name;
        claim(name, `output of ${n.opType}`);
      }
    }
    const nodeCounts = new Map<string, number>();
    const nodes: OnnxTypes.INodeProto[] = this.nodes.map((n) => {
      const k = (nodeCounts.get(n.opType) ?? 0) + 1;
      nodeCounts.set(n.opType, k);
      return {
        name: `${n.opType.toLowerCase()}_${k}`,
        opType: n.opType,
        input: trimTrailing(n.inputs.map((v) => v?.name ?? '')),
        output: trimTrailing(n.outputs.map((v) => v?.name ?? '')),
        attribute: Object.entries(n.attrs).map(([name, a]) => attributeProto(name, a)),
      };
    });
    const graph: OnnxTypes.IGraphProto = {
      name: options.graphName ?? 'graph',
      node: nodes,
      initializer: this.initializers.map((i) => i.tensor),
      // input() takes a Dim[]: an input's shape is never null.
      input: this.inputs.map((v) => valueInfo(v.name!, v.elemType, v.shape!)),
      output: this.outputs.map((o) => valueInfo(o.value.name!, o.value.elemType, o.shape)),
    };
    return onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: options.opset ?? DEFAULT_OPSET }],
      producerName: options.producerName ?? '',
      producerVersion: options.producerVersion ?? '',
      docString: options.docString ?? '',
      graph,
      metadataProps: (options.metadata ?? []).map(([key, value]) => ({ key, value })),
    });
  }
}

function trimTrailing(names: string[]): string[] {
  let end = names.length;
  while (end > 0 && names[end - 1] === '') end--;
  return names.slice(0, end);
}

function checkSize(name: string, length: number, dims: number[]): void {
  const size = dims.reduce((a, b) => a * b, 1);
  if (size !== length) throw new Error(`initializer ${name}: dims ${JSON.stringify(dims)} need ${size} elements, got ${length}`);
}

function valueInfo(name: string, elemType: ElemType, shape: Dim[]): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[elemType],
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {})) },
      },
    },
  };
}

const AT = {
  FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7, STRINGS: 8,
} as const;

function attributeProto(name: string, a: Attr): OnnxTypes.IAttributeProto {
  const enc = (s: string) => new TextEncoder().encode(s);
  if ('int' in a) return { name, type: AT.INT, i: a.int };
  if ('float' in a) return { name, type: AT.FLOAT, f: a.float };
  if ('ints' in a) return { name, type: AT.INTS, ints: a.ints };
  if ('floats' in a) return { name, type: AT.FLOATS, floats: a.floats };
  if ('string' in a) return { name, type: AT.STRING, s: enc(a.string) };
  return { name, type: AT.STRINGS, strings: a.strings.map(enc) };
}

/** Checks a known shape against an expected one; null / symbolic dims match anything. */
export function assertShape(where: string, got: Dim[], expected: Dim[]): void {
  const ok = got.length === expected.length && got.every((d, i) => {
    const e = expected[i];
    return typeof d !== 'number' || typeof e !== 'number' || d === e;
  });
  if (!ok) throw new Error(`${where}: expected shape ${fmtShape(expected)}, got ${fmtShape(got)}`);
}

export function fmtShape(s: Dim[] | null): string {
  return s ? `[${s.map((d) => (d === null ? '?' : String(d))).join(', ')}]` : '[unknown rank]';
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** float32 values as ONNX raw_data (always little-endian). */
export function float32ToLeBytes(data: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  const out = new Uint8Array(data.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) dv.setFloat32(i * 4, data[i], true);
  return out;
}

/** ONNX raw_data (little-endian) back to float32 values; `into` receives them when given. */
export function leBytesToFloat32(bytes: Uint8Array, into?: Float32Array): Float32Array {
  if (bytes.length % 4 !== 0) throw new Error(`raw_data length must be a multiple of 4 for float32, got ${bytes.length}`);
  const out = into ?? new Float32Array(bytes.length / 4);
  if (out.length !== bytes.length / 4) throw new Error(`raw_data holds ${bytes.length / 4} float32 values, expected ${out.length}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes);
  } else {
    for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
  }
  return out;
}
