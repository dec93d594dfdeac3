// Tensors on disk: NumPy .npy (float32, float64, int32; little-endian, C order) and JSON
// nested arrays. Read for `predict`, written for its output.

import { UserError } from './errors.js';
import { readBytes, readText } from './files.js';

export interface Tensor {
  data: Float32Array | Int32Array;
  dims: number[];
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export function parseNpy(bytes: Uint8Array, file: string): Tensor {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new UserError(`${file}: not a NumPy .npy file (bad magic bytes)`);
  const major = bytes[6];
  if (major < 1 || major > 3) throw new UserError(`${file}: .npy format version ${major}.${bytes[7]} is not supported; expected 1.0, 2.0 or 3.0`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerStart = major === 1 ? 10 : 12;
  if (bytes.length < headerStart) throw new UserError(`${file}: truncated: the file ends inside the .npy preamble (${bytes.length} bytes)`);
  const headerLen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  if (headerStart + headerLen > bytes.length) {
    throw new UserError(`${file}: truncated: the .npy header is ${headerLen} bytes, the file ends ${headerStart + headerLen - bytes.length} bytes before its end`);
  }
  const header = new TextDecoder('latin1').decode(bytes.subarray(headerStart, headerStart + headerLen));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new UserError(`${file}: malformed .npy header ${JSON.stringify(header.trim().slice(0, 200))}: expected the fields descr, fortran_order and shape`);
  if (fortran === 'True') throw new UserError(`${file}: fortran_order arrays are not supported; save with C order (np.ascontiguousarray)`);
  const dims = parseNpyShape(shapeText, file);
  const n = dims.reduce((a, b) => a * b, 1);
  const offset = headerStart + headerLen;
  const kinds: Record<string, number> = { '<f4': 4, '<f8': 8, '<i4': 4, '|i1': 1, '|u1': 1, '<i8': 8 };
  const size = kinds[descr];
  if (!size) throw new UserError(`${file}: dtype ${JSON.stringify(descr)} is not supported; expected little-endian float32 (<f4), float64 (<f8), int32 (<i4), int64 (<i8), int8 (|i1) or uint8 (|u1)`);
  if (bytes.length - offset < n * size) throw new UserError(`${file}: truncated: shape (${dims.join(', ')}) of ${descr} needs ${n * size} bytes of data, the file has ${bytes.length - offset}`);
  const ints = descr === '<i4' || descr === '<i8';
  const data = ints ? new Int32Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const p = offset + i * size;
    if (descr === '<i8') {
      // Int32Array would wrap 2^31 to -2^31 silently.
      const v = dv.getBigInt64(p, true);
      if (v < INT32_MIN || v > INT32_MAX) {
        throw new UserError(`${file}: element ${i} (<i8) is ${v}, outside the int32 range [-2147483648, 2147483647] rnnx reads`);
      }
      data[i] = Number(v);
      continue;
    }
    data[i] =
      descr === '<f4' ? dv.getFloat32(p, true)
      : descr === '<f8' ? dv.getFloat64(p, true)
      : descr === '<i4' ? dv.getInt32(p, true)
      : descr === '|i1' ? dv.getInt8(p)
      : dv.getUint8(p);
    // NaN, ±Infinity, or a float64 beyond float32's range (stored as ±Infinity): no model input or target is that.
    if (!Number.isFinite(data[i])) {
      const raw = descr === '<f8' ? dv.getFloat64(p, true) : data[i];
      throw new UserError(`${file}: element ${i} (${descr}) is ${raw}${Number.isFinite(raw) ? ', outside the float32 range rnnx computes in' : ''}; expected finite numbers`);
    }
  }
  return { data, dims };
}

const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;
/** Tensors rnnx reads have 1 to 3 dimensions; NumPy itself allows at most 64. */
const MAX_RANK = 64;

/** The `shape` tuple of an .npy header: non-negative integers, their product a safe array length. */
function parseNpyShape(text: string, file: string): number[] {
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length > MAX_RANK) throw new UserError(`${file}: .npy header field shape has ${parts.length} dimensions, expected at most ${MAX_RANK}`);
  const dims = parts.map((s) => {
    if (!/^\d+$/.test(s)) throw new UserError(`${file}: .npy header field shape must hold non-negative integers, got ${JSON.stringify(s)} in (${text.trim()})`);
    return Number(s);
  });
  let n = 1;
  for (const d of dims) n *= d;
  // The data must fit one typed array; anything larger cannot be in a file rnnx reads whole.
  if (!(n <= 2 ** 31 - 1)) throw new UserError(`${file}: .npy header field shape (${dims.join(', ')}) holds ${n} elements, more than rnnx reads (2^31 - 1)`);
  return dims;
}

export function encodeNpy(t: Tensor): Uint8Array {
  const descr = t.data instanceof Int32Array ? '<i4' : '<f4';
  const shape = t.dims.length === 1 ? `(${t.dims[0]},)` : `(${t.dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  // Pad so that the data starts on a multiple of 64 bytes, header ending in '\n' (format 1.0).
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const out = new Uint8Array(total + t.data.length * 4);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), total);
  return out;
}

/** Nested JSON arrays of numbers (rectangular) → tensor. */
export function parseJsonTensor(text: string, file: string): Tensor {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (value && typeof value === 'object' && !Array.isArray(value) && 'data' in value) value = (value as { data: unknown }).data;
  const dims: number[] = [];
  let probe: unknown = value;
  while (Array.isArray(probe)) {
    if (dims.length === MAX_RANK) throw new UserError(`${file}: arrays nested deeper than ${MAX_RANK} levels; a tensor has at most ${MAX_RANK} dimensions`);
    if (probe.length === 0) throw new UserError(`${file}: empty array at depth ${dims.length}`);
    dims.push(probe.length);
    probe = probe[0];
  }
  if (dims.length === 0) throw new UserError(`${file}: expected nested arrays of numbers, got ${typeof value}`);
  const out: number[] = [];
  const walk = (v: unknown, depth: number, path: number[]) => {
    const where = () => `${file}: element [${path.join('][')}]`;
    if (depth === dims.length) {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new UserError(`${where()}: ${preview(v)} is not a number`);
      // Stored as float32: a larger magnitude would become ±Infinity silently.
      if (!Number.isFinite(Math.fround(v))) throw new UserError(`${where()}: ${v} is outside the float32 range (±3.4028234663852886e38)`);
      out.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== dims[depth]) {
      throw new UserError(`${where()}: expected an array of ${dims[depth]} elements (the array is ragged), got ${Array.isArray(v) ? `${v.length} elements` : preview(v)}`);
    }
    v.forEach((e, i) => walk(e, depth + 1, [...path, i]));
  };
  walk(value, 0, []);
  return { data: Float32Array.from(out), dims };
}

/** A short description of a JSON value for an error message (never the whole value: it may be huge or deeply nested). */
function preview(v: unknown): string {
  if (Array.isArray(v)) return `an array of ${v.length} elements`;
  if (v !== null && typeof v === 'object') return 'an object';
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** Nested arrays for JSON output. */
export function tensorToNested(t: Tensor): unknown {
  const build = (depth: number, offset: number): unknown => {
    if (depth === t.dims.length) return t.data[offset];
    const stride = t.dims.slice(depth + 1).reduce((a, b) => a * b, 1);
    return Array.from({ length: t.dims[depth] }, (_, i) => build(depth + 1, offset + i * stride));
  };
  return build(0, 0);
}

/** Reads .npy or .json by extension. */
export function loadTensor(path: string): Tensor {
  if (path.toLowerCase().endsWith('.npy')) return parseNpy(readBytes(path), path);
  if (path.toLowerCase().endsWith('.json')) return parseJsonTensor(readText(path), path);
  throw new UserError(`${path}: unknown tensor format; expected a .npy or .json file`);
}
