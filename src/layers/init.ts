// Weight initialisation as Keras and PyTorch users expect it: Glorot-uniform input weights,
// orthogonal recurrent weights (one orthogonal H×H block per gate), zero biases, LSTM
// forget-gate bias 1.0 (Jozefowicz et al. 2015; Keras' unit_forget_bias), zero peepholes.

import { paramLayout, view, type ParamLayout } from './params.js';
import { Rng } from './random.js';
import { isRecurrent, type ModelSpec } from './spec.js';

/** Fills `flat` (laid out by `paramLayout(spec)`) with seeded initial weights. */
export function initializeParams(spec: ModelSpec, flat: Float32Array, seed: number, layout: ParamLayout = paramLayout(spec)): void {
  if (flat.length !== layout.total) throw new Error(`params must have length ${layout.total}, got ${flat.length}`);
  const rng = new Rng(seed);
  flat.fill(0);
  spec.layers.forEach((layer, li) => {
    const l = layout.layers[li];
    if (!isRecurrent(layer) || l.kind === 'dense') {
      if (l.kind !== 'dense') throw new Error('internal: layout does not match spec');
      const [fanIn, fanOut] = l.W.dims;
      glorotUniform(view(flat, l.W), fanIn, fanOut, rng);
      return;
    }
    const [D, GH, I] = l.W.dims;
    const H = layer.units;
    const G = GH / H;
    const W = view(flat, l.W);
    const R = view(flat, l.R);
    const B = view(flat, l.B);
    for (let d = 0; d < D; d++) {
      // Keras draws the whole [I, G*H] kernel with fan_in = I, fan_out = G*H.
      glorotUniform(W.subarray(d * GH * I, (d + 1) * GH * I), I, GH, rng);
      for (let g = 0; g < G; g++) {
        const block = R.subarray((d * GH + g * H) * H, (d * GH + (g + 1) * H) * H);
        orthogonal(block, H, rng);
      }
      if (layer.kind === 'lstm') {
        // ONNX LSTM gate order is i, o, f, c: the forget block is the third one of Wb.
        B.subarray(d * 2 * GH + 2 * H, d * 2 * GH + 3 * H).fill(1);
      }
    }
  });
}

function glorotUniform(out: Float32Array, fanIn: number, fanOut: number, rng: Rng): void {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  for (let i = 0; i < out.length; i++) out[i] = rng.range(-limit, limit);
}

/** A random n×n orthogonal matrix (QR of a Gaussian matrix, sign-corrected), row-major. */
function orthogonal(out: Float32Array, n: number, rng: Rng): void {
  const a = new Float64Array(n * n);
  for (let i = 0; i < a.length; i++) a[i] = rng.normal();
  // Modified Gram-Schmidt on the columns; the sign of each column follows R's diagonal as in
  // the usual (Saxe et al.) construction, so the distribution is uniform over orthogonal matrices.
  for (let j = 0; j < n; j++) {
    for (let k = 0; k < j; k++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += a[i * n + j] * a[i * n + k];
      for (let i = 0; i < n; i++) a[i * n + j] -= dot * a[i * n + k];
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += a[i * n + j] * a[i * n + j];
    norm = Math.sqrt(norm);
    for (let i = 0; i < n; i++) a[i * n + j] /= norm;
  }
  for (let i = 0; i < n * n; i++) out[i] = a[i];
}
