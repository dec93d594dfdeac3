// Non-finite weights in ONNX files. A NaN or ±Infinity initializer makes a model answer with
// finite but wrong numbers (or nulls), so every reader of model files (Model.load,
// InferenceModel.open, inspect, predict) refuses one, naming the tensor and the count.

import type { onnx as OnnxTypes } from 'onnx-proto';

export interface NonFiniteTensor {
  name: string;
  /** Values that are NaN, +Infinity or -Infinity. */
  count: number;
  /** Values in the tensor. */
  total: number;
}

const FLOAT = 1;
const FLOAT16 = 10;
const DOUBLE = 11;
const BFLOAT16 = 16;

/** Counts non-finite values of one floating-point tensor (raw_data or the typed repeated fields); null for other types. */
export function countNonFinite(t: OnnxTypes.ITensorProto): { count: number; total: number } | null {
  const type = t.dataType ?? 0;
  if (type !== FLOAT && type !== FLOAT16 && type !== DOUBLE && type !== BFLOAT16) return null;
  let count = 0;
  let total = 0;
  const raw = t.rawData;
  if (raw && raw.length > 0) {
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    if (type === FLOAT || type === DOUBLE) {
      const w = type === FLOAT ? 4 : 8;
      total = Math.floor(raw.length / w);
      for (let i = 0; i < total; i++) {
        const v = w === 4 ? dv.getFloat32(i * w, true) : dv.getFloat64(i * w, true);
        if (!Number.isFinite(v)) count++;
      }
    } else {
      // float16: exponent bits 0x7c00 all set; bfloat16: 0x7f80 all set (the float32 top half).
      const mask = type === FLOAT16 ? 0x7c00 : 0x7f80;
      total = Math.floor(raw.length / 2);
      for (let i = 0; i < total; i++) if ((dv.getUint16(i * 2, true) & mask) === mask) count++;
    }
    return { count, total };
  }
  if (type === FLOAT || type === DOUBLE) {
    const values = (type === FLOAT ? t.floatData : t.doubleData) ?? [];
    total = values.length;
    for (let i = 0; i < total; i++) if (!Number.isFinite(values[i])) count++;
  } else {
    // float16 / bfloat16 outside raw_data sit in int32_data, one 16-bit pattern per entry.
    const mask = type === FLOAT16 ? 0x7c00 : 0x7f80;
    const values = t.int32Data ?? [];
    total = values.length;
    for (let i = 0; i < total; i++) if ((values[i] & mask) === mask) count++;
  }
  return { count, total };
}

/** Every floating-point initializer of the graph holding a NaN or an infinity. */
export function nonFiniteInitializers(graph: OnnxTypes.IGraphProto | null | undefined): NonFiniteTensor[] {
  const out: NonFiniteTensor[] = [];
  for (const t of graph?.initializer ?? []) {
    const c = countNonFinite(t);
    if (c && c.count > 0) out.push({ name: t.name ?? '', ...c });
  }
  return out;
}

/** One line naming each bad tensor and its count, e.g. `initializer layers.0.W has 3 non-finite values (NaN or ±Infinity) of 512`. */
export function describeNonFinite(bad: readonly NonFiniteTensor[]): string {
  const parts = bad.slice(0, 5).map((b) => `initializer ${b.name} has ${b.count} non-finite value${b.count === 1 ? '' : 's'} (NaN or ±Infinity) of ${b.total}`);
  const more = bad.length > 5 ? `; and ${bad.length - 5} more tensors` : '';
  return `${parts.join('; ')}${more}`;
}

/** Throws an Error starting with `source` when any initializer holds a NaN or an infinity. */
export function assertFiniteInitializers(graph: OnnxTypes.IGraphProto | null | undefined, source: string): void {
  const bad = nonFiniteInitializers(graph);
  if (bad.length > 0) throw new Error(`${source}: ${describeNonFinite(bad)}; refusing a model with non-finite weights`);
}
