// Shared test helpers: seeded non-trivial weights and inputs, and comparisons.

// Weights and inputs come from scripts/lib (scripts/device-check.ts uses them too; scripts never
// import tests/).
export { randomArray, randomizeParams } from '../../scripts/lib/random-model.js';

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Standard deviation of the values: a near-zero spread means a constant (e.g. all-zero) output. */
export function spread(a: ArrayLike<number>): number {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < a.length; i++) {
    s += a[i];
    s2 += a[i] * a[i];
  }
  const m = s / a.length;
  return Math.sqrt(Math.max(0, s2 / a.length - m * m));
}

type Int64 = number | { toNumber(): number };
/** The parts of a decoded ModelProto the tests read, with protobufjs' optional fields made definite. */
export interface ProtoView {
  irVersion: Int64;
  producerName: string;
  opsetImport: { domain: string; version: Int64 }[];
  metadataProps: { key: string; value: string }[];
  graph: {
    node: { name: string; opType: string; input: string[]; output: string[]; attribute: { name: string; type: number; i?: Int64; f?: number; s?: Uint8Array; strings?: Uint8Array[] }[] }[];
    initializer: { name: string; dataType: number; dims: Int64[]; rawData: Uint8Array }[];
    input: { name: string; type: { tensorType: { shape: { dim: { dimValue?: Int64; dimParam?: string }[] } } } }[];
    output: { name: string; type: { tensorType: { shape: { dim: { dimValue?: Int64; dimParam?: string }[] } } } }[];
  };
}

/** A typed view of a ModelProto built or decoded by rnnx (same object). */
export function viewProto<T extends object>(p: T): ProtoView & T {
  return p as ProtoView & T;
}
