// Shared helpers of the native training tests: seeded models and batches, and a float64
// central-finite-difference gradient check.

import { Rng } from '../src/layers/random.js';
import type { LayerSpec } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';
import { native, type NativeBatch, type NativeGradientOptions, type NativeLoss } from '../src/native.js';
import { randomArray, randomizeParams } from './reference/util.js';

export interface Case {
  model: Model;
  batch: NativeBatch & { y: Float32Array | Int32Array };
}

export interface CaseOptions {
  N?: number;
  T?: number;
  I?: number;
  lengths?: number[];
  loss: NativeLoss;
  seed?: number;
}

/** A model with seeded non-trivial weights (see randomizeParams) and a batch with matching targets. */
export function makeCase(layers: LayerSpec[] | Record<string, unknown>[], o: CaseOptions): Case {
  const N = o.N ?? 3;
  const T = o.T ?? 4;
  const I = o.I ?? 2;
  const seed = o.seed ?? 11;
  const model = Model.create({ inputSize: I, layers: layers as LayerSpec[] }, { seed });
  randomizeParams(model, seed + 1, 0.6);
  const rng = new Rng(seed + 2);
  const x = randomArray(rng, N * T * I, 1);
  const lengths = o.lengths ? Int32Array.from(o.lengths) : undefined;
  if (lengths) {
    // Padded steps are zeros, as the dataset loaders produce them.
    for (let n = 0; n < N; n++) for (let t = lengths[n]; t < T; t++) x.fill(0, (n * T + t) * I, (n * T + t + 1) * I);
  }
  const F = model.outputSize;
  const rows = model.returnsSequences ? N * T : N;
  let y: Float32Array | Int32Array;
  if (o.loss.type === 'crossentropy') {
    y = new Int32Array(rows);
    for (let i = 0; i < rows; i++) y[i] = rng.int(F);
  } else if (o.loss.type === 'binaryCrossentropy') {
    y = new Float32Array(rows * F);
    for (let i = 0; i < y.length; i++) y[i] = rng.int(2);
  } else {
    y = randomArray(rng, rows * F, 1);
  }
  return { model, batch: { x, batch: N, time: T, lengths, y } };
}

export interface TensorError {
  name: string;
  /** max |analytic − numeric| / max(max |analytic|, max |numeric|, 1e-8) over the tensor */
  rel: number;
  /** max |numeric| over the tensor (shows the tensor's gradient is not trivially zero) */
  scale: number;
  /**
   * Element by element: max over the tensor of |a − n| − 1e-6·max(|a|, |n|), i.e. how far the
   * worst single parameter is outside a 1e-6 relative tolerance. Only the finite differences'
   * own rounding (about 1e-16·|loss|/eps ≈ 1e-11) may remain, so callers bound it by 1e-9.
   */
  elementExcess: number;
  /** The parameter (flat index) where elementExcess is reached, with both values. */
  worst: { index: number; analytic: number; numeric: number };
}

/**
 * Analytic float64 gradients against central finite differences of the float64 loss, tensor by
 * tensor (W, R, B, P of each recurrent layer; W, b of each dense layer). eps = 1e-5 keeps the
 * rounding error of the differences (~1e-16/eps) and the truncation error (~eps²) both near 1e-8
 * of the gradient's scale.
 */
export function gradientCheck(c: Case, options: NativeGradientOptions, eps = 1e-5): { loss: number; errors: TensorError[] } {
  const addon = native();
  const { model, batch } = c;
  const p = Float64Array.from(model.params);
  const g = addon.computeGradients(model.spec, model.layout, p, batch, options);
  const lossAt = () => addon.computeGradients(model.spec, model.layout, p, batch, options).loss;
  const errors: TensorError[] = [];
  model.layout.layers.forEach((l, li) => {
    const slots = l.kind === 'dense' ? { W: l.W, b: l.b } : { W: l.W, R: l.R, B: l.B, ...(l.P ? { P: l.P } : {}) };
    for (const [name, s] of Object.entries(slots)) {
      let maxDiff = 0;
      let maxA = 0;
      let maxN = 0;
      let excess = -Infinity;
      let worst = { index: s.offset, analytic: 0, numeric: 0 };
      for (let k = s.offset; k < s.offset + s.size; k++) {
        const old = p[k];
        p[k] = old + eps;
        const lp = lossAt();
        p[k] = old - eps;
        const lm = lossAt();
        p[k] = old;
        const num = (lp - lm) / (2 * eps);
        maxDiff = Math.max(maxDiff, Math.abs(num - g.grads[k]));
        maxA = Math.max(maxA, Math.abs(g.grads[k]));
        maxN = Math.max(maxN, Math.abs(num));
        const e = Math.abs(num - g.grads[k]) - 1e-6 * Math.max(Math.abs(num), Math.abs(g.grads[k]));
        if (e > excess) {
          excess = e;
          worst = { index: k, analytic: g.grads[k], numeric: num };
        }
      }
      errors.push({ name: `layers[${li}].${name}`, rel: maxDiff / Math.max(maxA, maxN, 1e-8), scale: maxN, elementExcess: excess, worst });
    }
  });
  return { loss: g.loss, errors };
}
