// Plain ONNX protos for importer tests (src/graph/import.ts): nodes, attributes and tensors of
// any type written field by field, so that a test can feed encodings and patterns the typed
// builder (src/graph/builder.ts) never writes.

import { onnx, type ModelProto } from '../src/graph/builder.js';
import { importOnnxModel, OnnxImportError } from '../src/graph/import.js';
import { view } from '../src/layers/params.js';
import type { onnx as OnnxTypes } from 'onnx-proto';

export type Tensor = OnnxTypes.ITensorProto;
export type Node = OnnxTypes.INodeProto;
export type Attr = OnnxTypes.IAttributeProto;
export const DT = onnx.TensorProto.DataType;

const enc = new TextEncoder();
export const at = {
  i: (name: string, i: number): Attr => ({ name, type: 2, i }),
  f: (name: string, f: number): Attr => ({ name, type: 1, f }),
  s: (name: string, s: string): Attr => ({ name, type: 3, s: enc.encode(s) }),
  t: (name: string, t: Tensor): Attr => ({ name, type: 4, t }),
  floats: (name: string, floats: number[]): Attr => ({ name, type: 6, floats }),
  ints: (name: string, ints: number[]): Attr => ({ name, type: 7, ints }),
  strings: (name: string, strings: string[]): Attr => ({ name, type: 8, strings: strings.map((s) => enc.encode(s)) }),
};

const WIDTH: Partial<Record<number, number>> = { [DT.FLOAT]: 4, [DT.DOUBLE]: 8, [DT.INT64]: 8, [DT.INT32]: 4, [DT.INT16]: 2, [DT.INT8]: 1, [DT.UINT8]: 1, [DT.BOOL]: 1 };

/** A tensor of `dataType` holding `values`, as little-endian raw_data or in its typed field. */
export function tensor(name: string, dataType: number, dims: number[], values: ArrayLike<number>, raw = true): Tensor {
  const vals = Array.from(values);
  if (!raw) {
    if (dataType === DT.FLOAT) return { name, dataType, dims, floatData: vals };
    if (dataType === DT.DOUBLE) return { name, dataType, dims, doubleData: vals };
    if (dataType === DT.INT64) return { name, dataType, dims, int64Data: vals };
    return { name, dataType, dims, int32Data: vals };
  }
  const w = WIDTH[dataType]!;
  const bytes = new Uint8Array(vals.length * w);
  const dv = new DataView(bytes.buffer);
  vals.forEach((v, i) => {
    if (dataType === DT.FLOAT) dv.setFloat32(i * 4, v, true);
    else if (dataType === DT.DOUBLE) dv.setFloat64(i * 8, v, true);
    else if (dataType === DT.INT64) dv.setBigInt64(i * 8, BigInt(v), true);
    else if (dataType === DT.INT32) dv.setInt32(i * 4, v, true);
    else if (dataType === DT.INT16) dv.setInt16(i * 2, v, true);
    else if (dataType === DT.INT8) dv.setInt8(i, v);
    else dv.setUint8(i, v);
  });
  return { name, dataType, dims, rawData: bytes };
}

export const f32 = (name: string, dims: number[], values: ArrayLike<number>, raw = true) => tensor(name, DT.FLOAT, dims, values, raw);
export const i64 = (name: string, values: number[], dims: number[] = [values.length]) => tensor(name, DT.INT64, dims, values, false);

let counter = 0;
export function nd(opType: string, input: string[], output: string[], attribute: Attr[] = [], name?: string): Node {
  return { opType, input, output, attribute, name: name ?? `${opType.toLowerCase()}_${++counter}` };
}

export function vi(name: string, elemType: number, dims: (number | string)[] | null): OnnxTypes.IValueInfoProto {
  return { name, type: { tensorType: { elemType, shape: dims ? { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } : undefined } } };
}

export interface ModelParts {
  nodes: Node[];
  inits?: Tensor[];
  inputs?: OnnxTypes.IValueInfoProto[];
  outputs?: string[];
  opset?: number;
}

/** An encoded-then-decoded ModelProto, as a file would give it. */
export function model(p: ModelParts): ModelProto {
  const proto = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: p.opset ?? 14 }],
    producerName: 'test',
    producerVersion: '1',
    graph: { name: 'g', node: p.nodes, initializer: p.inits ?? [], input: p.inputs ?? [vi('x', DT.FLOAT, ['batch', 'time', 2])], output: (p.outputs ?? ['y']).map((name) => ({ name })) },
  });
  return onnx.ModelProto.decode(onnx.ModelProto.encode(proto).finish());
}

export const I = 2;
export const H = 2;
/** Reference weights of a one-layer forward LSTM (I = H = 2), exact in float32. */
export const REF = {
  W: Array.from({ length: 16 }, (_, k) => ((k * 5) % 13 - 6) / 16),
  R: Array.from({ length: 16 }, (_, k) => ((k * 7) % 11 - 5) / 32),
  B: Array.from({ length: 16 }, (_, k) => ((k * 3) % 17 - 8) / 64),
};

/**
 * x [batch, time, 2] → Transpose → LSTM(X, W, R, B) → Y_h → Transpose → Reshape [0, -1] → y,
 * with `prep` computing the inputs named W, R and B (empty B name: no bias).
 */
export function lstmModel(prep: { nodes?: Node[]; inits?: Tensor[]; W?: string; R?: string; B?: string; attrs?: Attr[]; extraInputs?: string[] }, opset = 14): ModelProto {
  return model({
    opset,
    nodes: [
      ...(prep.nodes ?? []),
      nd('Transpose', ['x'], ['xt'], [at.ints('perm', [1, 0, 2])]),
      nd('LSTM', ['xt', prep.W ?? 'W', prep.R ?? 'R', prep.B ?? 'B', ...(prep.extraInputs ?? [])], ['', 'yh'], [at.i('hidden_size', H), ...(prep.attrs ?? [])], 'lstm'),
      nd('Transpose', ['yh'], ['yt'], [at.ints('perm', [1, 0, 2])]),
      nd('Reshape', ['yt', 'flat'], ['y']),
    ],
    inits: [...(prep.inits ?? []), i64('flat', [0, -1])],
  });
}

/** W, R and B of layer 0 of the imported model, as plain numbers. */
export function importedWeights(proto: ModelProto): { W: number[]; R: number[]; B: number[] } {
  const { data } = importOnnxModel(proto, { source: 't.onnx' });
  const l = data.layout.layers[0];
  if (l.kind === 'dense') throw new Error('layer 0 is dense');
  return { W: Array.from(view(data.params, l.W)), R: Array.from(view(data.params, l.R)), B: Array.from(view(data.params, l.B)) };
}

/** The OnnxImportError importing `proto` throws (fails the test when it imports). */
export function importError(proto: ModelProto): OnnxImportError {
  try {
    importOnnxModel(proto, { source: 'bad.onnx' });
  } catch (e) {
    if (e instanceof OnnxImportError) return e;
    throw e;
  }
  throw new Error('the import was expected to fail');
}
