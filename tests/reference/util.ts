// Shared test helpers: seeded non-trivial weights and inputs, and comparisons.

import { Rng } from '../../src/layers/random.js';
import type { Model } from '../../src/model/model.js';

/**
 * Overwrites every parameter of `model` with seeded uniform values: weights in ±scale, biases in
 * ±0.5 and peepholes in ±1, so that no path of the equations (biases, peepholes, forget bias) is
 * left at its zero initial value and a wrong gate order or layout shows up in the outputs.
 */
export function randomizeParams(model: Model, seed: number, scale = 0.5): void {
  const rng = new Rng(seed);
  model.layout.layers.forEach((_, i) => {
    const p = model.layerParams(i);
    const fill = (a: Float32Array, s: number) => {
      for (let k = 0; k < a.length; k++) a[k] = rng.range(-s, s);
    };
    if (p.kind === 'dense') {
      fill(p.W, scale * 1.5);
      fill(p.b, 0.5);
    } else {
      fill(p.W, scale);
      fill(p.R, scale);
      fill(p.B, 0.5);
      if (p.P) fill(p.P, 1);
    }
  });
}

export function randomArray(rng: Rng, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.range(-scale, scale);
  return a;
}

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
