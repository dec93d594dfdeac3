// fast-check arbitraries that turn a valid file into a hostile one, for the reader fuzz tests:
// byte-level damage (flips, cuts, insertions) and structured edits of a decoded ONNX model
// (dims, data types, raw data, NaN/Inf weights, metadata, attributes, operator names, versions).
import fc from 'fast-check';
import { onnx, type ModelProto } from '../../src/graph/builder.js';

/** The fixed seed of every fuzz test; RNNX_FUZZ_SEED replays another. */
export const FUZZ_SEED = Number(process.env.RNNX_FUZZ_SEED ?? 20261201);

/** Byte-level damage to `base`. */
export function damagedBytes(source: Uint8Array): fc.Arbitrary<Uint8Array> {
  // A plain copy: a Buffer's slice() is a view, and the damage would reach the original.
  const base = Uint8Array.from(source);
  const pos = fc.nat({ max: base.length - 1 });
  return fc.oneof(
    fc.array(fc.tuple(pos, fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 24 }).map((edits) => {
      const b = base.slice();
      for (const [p, v] of edits) b[p] = v;
      return b;
    }),
    fc.nat({ max: base.length }).map((n) => base.slice(0, n)),
    fc.tuple(pos, fc.uint8Array({ minLength: 1, maxLength: 32 })).map(([p, ins]) => {
      const b = new Uint8Array(base.length + ins.length);
      b.set(base.subarray(0, p));
      b.set(ins, p);
      b.set(base.subarray(p), p + ins.length);
      return b;
    }),
    fc.uint8Array({ maxLength: 256 }),
  );
}

const hostileInt = fc.oneof(
  fc.integer({ min: -3, max: 70 }),
  fc.constantFrom(0, -1, 2 ** 31, 2 ** 32 + 1, -(2 ** 31), 2 ** 40, Number.MAX_SAFE_INTEGER),
);
const hostileFloat = fc.oneof(fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, 3.4e38, -0, 1e-45));
const hostileString = fc.oneof(fc.string({ maxLength: 40 }), fc.json({ maxDepth: 3 }), fc.constantFrom('', '[', '{"mean":"abc"}', 'null', '[]', '{}', '-3', '1e9', 'NaN'));

type Edit = (p: ModelProto) => void;

function pick<T>(list: T[] | null | undefined, i: number): T | undefined {
  return list && list.length ? list[i % list.length] : undefined;
}

/** One structured edit of a decoded model. */
const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.tuple(fc.nat(), fc.array(hostileInt, { maxLength: 4 })).map(([i, dims]): Edit => (p) => {
    const t = pick(p.graph?.initializer, i);
    if (t) t.dims = dims;
  }),
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 20 })).map(([i, type]): Edit => (p) => {
    const t = pick(p.graph?.initializer, i);
    if (t) t.dataType = type;
  }),
  fc.tuple(fc.nat(), fc.nat({ max: 4096 })).map(([i, n]): Edit => (p) => {
    const t = pick(p.graph?.initializer, i);
    if (t?.rawData) t.rawData = Uint8Array.from({ length: n }, (_, k) => t.rawData![k % Math.max(1, t.rawData!.length)] ?? 0);
  }),
  fc.tuple(fc.nat(), fc.nat(), hostileFloat).map(([i, k, v]): Edit => (p) => {
    const t = pick(p.graph?.initializer, i);
    if (t?.rawData && t.rawData.length >= 4) {
      const raw = Uint8Array.from(t.rawData);
      new DataView(raw.buffer).setFloat32(4 * (k % (raw.length >> 2)), v, true);
      t.rawData = raw;
    }
  }),
  fc.tuple(fc.nat(), fc.array(hostileFloat, { maxLength: 40 })).map(([i, values]): Edit => (p) => {
    const t = pick(p.graph?.initializer, i);
    if (t) {
      t.rawData = new Uint8Array(0);
      t.floatData = values;
    }
  }),
  fc.tuple(fc.nat(), hostileString).map(([i, v]): Edit => (p) => {
    const m = pick(p.metadataProps, i);
    if (m) m.value = v;
  }),
  // A field of rnnx.metadata (normalisation, forecast settings) replaced by anything.
  fc.tuple(fc.constantFrom('inputNormalization', 'targetNormalization', 'vocabulary', 'extra'), fc.jsonValue({ maxDepth: 3 })).map(([k, v]): Edit => (p) => {
    const m = p.metadataProps.find((q) => q.key === 'rnnx.metadata');
    if (!m) return;
    try {
      const meta = JSON.parse(m.value!);
      meta[k] = v;
      m.value = JSON.stringify(meta);
    } catch {
      // already damaged by another edit
    }
  }),
  fc.tuple(fc.constantFrom('inputColumns', 'targetColumns', 'window', 'horizon', 'transform', 'task'), hostileString).map(([k, v]): Edit => (p) => {
    const m = p.metadataProps.find((q) => q.key === 'rnnx.metadata');
    if (!m) return;
    try {
      const meta = JSON.parse(m.value!);
      meta.extra = { ...(meta.extra ?? {}), [k]: v };
      m.value = JSON.stringify(meta);
    } catch {
      // already damaged by another edit
    }
  }),
  fc.tuple(fc.nat(), fc.nat(), hostileInt, hostileFloat, fc.uint8Array({ maxLength: 12 })).map(([n, a, i, f, s]): Edit => (p) => {
    const attr = pick(pick(p.graph?.node, n)?.attribute, a);
    if (attr) {
      attr.i = i;
      attr.f = f;
      attr.s = s;
    }
  }),
  fc.tuple(fc.nat(), fc.constantFrom('LSTM', 'GRU', 'RNN', 'Gemm', 'MatMul', 'Add', 'Constant', 'Bogus', '')).map(([n, op]): Edit => (p) => {
    const node = pick(p.graph?.node, n);
    if (node) node.opType = op;
  }),
  fc.tuple(fc.nat(), fc.nat(), fc.constantFrom('', 'x', 'y', 'layers.0.W', 'missing')).map(([n, k, name]): Edit => (p) => {
    const node = pick(p.graph?.node, n);
    if (node?.input?.length) node.input[k % node.input.length] = name;
  }),
  fc.tuple(fc.nat(), fc.nat(), hostileInt).map(([i, d, v]): Edit => (p) => {
    const dim = pick(pick(p.graph?.input, i)?.type?.tensorType?.shape?.dim, d);
    if (dim) {
      dim.dimParam = '';
      dim.dimValue = v;
    }
  }),
  fc.tuple(hostileInt, hostileInt).map(([ir, opset]): Edit => (p) => {
    p.irVersion = ir;
    if (p.opsetImport?.[0]) p.opsetImport[0].version = opset;
  }),
  fc.tuple(fc.constantFrom('initializer', 'node', 'output', 'input'), fc.nat()).map(([field, i]): Edit => (p) => {
    const list = p.graph?.[field] as unknown[] | undefined;
    if (list?.length) list.splice(i % list.length, 1);
  }),
);

/** A decoded copy of `base` with 1 to 3 structured edits, encoded again. */
export function editedModel(source: Uint8Array): fc.Arbitrary<Uint8Array> {
  const base = Uint8Array.from(source);
  return fc.array(edit, { minLength: 1, maxLength: 3 }).map((edits) => {
    const p = onnx.ModelProto.decode(base);
    for (const e of edits) e(p);
    return onnx.ModelProto.encode(p).finish();
  });
}

/** Hostile variants of a valid ONNX file: structured edits twice as often as byte damage. */
export function hostileOnnx(base: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.oneof({ arbitrary: editedModel(base), weight: 2 }, { arbitrary: damagedBytes(base), weight: 1 });
}

/** An error that signals unguarded code rather than a checked input. */
export function isBugError(e: unknown): boolean {
  return !(e instanceof Error) || e instanceof TypeError || e instanceof RangeError || e instanceof SyntaxError || e instanceof ReferenceError;
}
