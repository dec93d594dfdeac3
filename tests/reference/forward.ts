// Reference forward pass: plain float64 loops written from the equations of the ONNX LSTM /
// GRU / RNN operator definitions (the ONNX operator specification). It is the
// oracle for ONNX export and for the native kernels, so it shares nothing with them but the
// parameter layout (src/layers/params.ts), which is the convention being tested against.
//
// Layouts (row-major):
//   x      [N, T, I] batch-first; steps past lengths[n] are ignored
//   params the flat buffer of paramLayout(spec): recurrent W [D, G*H, I], R [D, G*H, H],
//          B [D, 2*G*H] (W-biases then R-biases), P [D, 3H]; dense W [in, units], b [units]
//   gates  LSTM i, o, f, c (P: i, o, f); GRU z, r, h; RNN one block

import { paramLayout, type RecurrentParamLayout } from '../../src/layers/params.js';
import { directionCount, normalizeModelSpec, type ModelSpec, type RecurrentLayerSpec } from '../../src/layers/spec.js';

export interface ReferenceState {
  /** [D, N, H] */
  h: ArrayLike<number>;
  /** [D, N, H], LSTM only */
  c?: ArrayLike<number>;
}

export interface ReferenceOptions {
  batch: number;
  time: number;
  /** Valid length of each sequence (1..time); absent: all `time`. */
  lengths?: ArrayLike<number>;
  /** Initial state per recurrent layer (index k counts recurrent layers); absent or undefined entries: zeros. */
  initialState?: (ReferenceState | undefined)[];
}

export interface ReferenceResult {
  /** [N, T, F] when the last recurrent layer returns sequences, else [N, F]. */
  y: Float64Array;
  dims: number[];
  /** Final state (at each sequence's last valid step) per recurrent layer: h [D, N, H], c [D, N, H] for LSTM. */
  finalStates: { h: Float64Array; c?: Float64Array }[];
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

export function referenceForward(specIn: ModelSpec, params: Float32Array | Float64Array, x: ArrayLike<number>, options: ReferenceOptions): ReferenceResult {
  const spec = normalizeModelSpec(specIn);
  const layout = paramLayout(spec);
  if (params.length !== layout.total) throw new Error(`referenceForward: params must have length ${layout.total}, got ${params.length}`);
  const N = options.batch;
  const T = options.time;
  if (x.length !== N * T * spec.inputSize) throw new Error(`referenceForward: x must have length ${N * T * spec.inputSize}, got ${x.length}`);
  const lengths = Array.from({ length: N }, (_, n) => (options.lengths ? options.lengths[n] : T));
  for (const l of lengths) if (!(Number.isInteger(l) && l >= 1 && l <= T)) throw new Error(`referenceForward: lengths must be integers in [1, ${T}], got ${l}`);

  let seq: Float64Array = Float64Array.from(x); // [N, T, F]
  let width = spec.inputSize;
  let isSeq = true; // does `seq` have a time axis?
  const finalStates: ReferenceResult['finalStates'] = [];
  let k = 0;
  spec.layers.forEach((layer, li) => {
    const l = layout.layers[li];
    if (layer.kind === 'dense') {
      if (l.kind !== 'dense') throw new Error('layout mismatch');
      const rows = isSeq ? N * T : N;
      const U = layer.units;
      const out = new Float64Array(rows * U);
      for (let r = 0; r < rows; r++) {
        for (let u = 0; u < U; u++) {
          let s = params[l.b.offset + u];
          for (let f = 0; f < width; f++) s += seq[r * width + f] * params[l.W.offset + f * U + u];
          out[r * U + u] = s;
        }
        const row = out.subarray(r * U, (r + 1) * U);
        if (layer.activation === 'relu') row.forEach((v, i) => (row[i] = Math.max(0, v)));
        else if (layer.activation === 'tanh') row.forEach((v, i) => (row[i] = Math.tanh(v)));
        else if (layer.activation === 'sigmoid') row.forEach((v, i) => (row[i] = sigmoid(v)));
        else if (layer.activation === 'softmax') {
          const m = Math.max(...row);
          let z = 0;
          row.forEach((v, i) => (z += row[i] = Math.exp(v - m)));
          row.forEach((v, i) => (row[i] = v / z));
        }
      }
      seq = out;
      width = U;
      return;
    }
    if (l.kind === 'dense') throw new Error('layout mismatch');
    const r = recurrentLayer(layer, l, params, seq, N, T, lengths, options.initialState?.[k]);
    finalStates.push(r.final);
    const D = directionCount(layer.direction);
    const H = layer.units;
    if (layer.returnSequences) {
      seq = r.y;
    } else {
      // Last valid step: the final state of each direction, concatenated (forward first).
      const out = new Float64Array(N * D * H);
      for (let n = 0; n < N; n++) for (let d = 0; d < D; d++) for (let j = 0; j < H; j++) out[n * D * H + d * H + j] = r.final.h[(d * N + n) * H + j];
      seq = out;
      isSeq = false;
    }
    width = D * H;
    k++;
  });
  return { y: seq, dims: isSeq ? [N, T, width] : [N, width], finalStates };
}

/** One ONNX recurrent operator over batch-first input [N, T, I]; returns Y as [N, T, D*H] (zeros past lengths). */
function recurrentLayer(
  layer: RecurrentLayerSpec,
  l: RecurrentParamLayout,
  p: Float32Array | Float64Array,
  x: Float64Array,
  N: number,
  T: number,
  lengths: number[],
  init: ReferenceState | undefined,
): { y: Float64Array; final: { h: Float64Array; c?: Float64Array } } {
  const D = directionCount(layer.direction);
  const H = layer.units;
  const I = l.inputSize;
  const G = layer.kind === 'lstm' ? 4 : layer.kind === 'gru' ? 3 : 1;
  const y = new Float64Array(N * T * D * H);
  const hFinal = new Float64Array(D * N * H);
  const cFinal = layer.kind === 'lstm' ? new Float64Array(D * N * H) : undefined;
  const clip = layer.kind === 'lstm' && layer.clip !== null ? layer.clip : Infinity;
  const cl = (v: number) => Math.min(clip, Math.max(-clip, v));

  for (let d = 0; d < D; d++) {
    const reverse = layer.direction === 'reverse' || d === 1;
    // Row g*H+j of W (length I), of R (length H); biases Wb then Rb.
    const W = (g: number, j: number, i: number) => p[l.W.offset + ((d * G + g) * H + j) * I + i];
    const R = (g: number, j: number, i: number) => p[l.R.offset + ((d * G + g) * H + j) * H + i];
    const Wb = (g: number, j: number) => p[l.B.offset + d * 2 * G * H + g * H + j];
    const Rb = (g: number, j: number) => p[l.B.offset + d * 2 * G * H + G * H + g * H + j];
    const P = (g: number, j: number) => (l.P ? p[l.P.offset + d * 3 * H + g * H + j] : 0);
    for (let n = 0; n < N; n++) {
      const h = new Float64Array(H);
      const c = new Float64Array(H);
      if (init) {
        for (let j = 0; j < H; j++) h[j] = init.h[(d * N + n) * H + j];
        if (init.c) for (let j = 0; j < H; j++) c[j] = init.c[(d * N + n) * H + j];
      }
      const len = lengths[n];
      for (let s = 0; s < len; s++) {
        const t = reverse ? len - 1 - s : s;
        const xt = x.subarray((n * T + t) * I, (n * T + t + 1) * I);
        // a(g, j) = x·W_g[j] + Wb_g[j]; b(g, j) = h·R_g[j] (previous h) + Rb_g[j]
        const xw = (g: number, j: number) => {
          let v = Wb(g, j);
          for (let i = 0; i < I; i++) v += xt[i] * W(g, j, i);
          return v;
        };
        const hr = (g: number, j: number, hv: ArrayLike<number> = h) => {
          let v = Rb(g, j);
          for (let i = 0; i < H; i++) v += hv[i] * R(g, j, i);
          return v;
        };
        const hNew = new Float64Array(H);
        if (layer.kind === 'rnn') {
          for (let j = 0; j < H; j++) {
            const a = xw(0, j) + hr(0, j);
            hNew[j] = layer.activation === 'relu' ? Math.max(0, a) : Math.tanh(a);
          }
        } else if (layer.kind === 'gru') {
          // z = 0, r = 1, h = 2
          const z = new Float64Array(H);
          const rg = new Float64Array(H);
          for (let j = 0; j < H; j++) {
            z[j] = sigmoid(xw(0, j) + hr(0, j));
            rg[j] = sigmoid(xw(1, j) + hr(1, j));
          }
          const rh = h.map((v, j) => rg[j] * v);
          for (let j = 0; j < H; j++) {
            const cand = layer.linearBeforeReset === 1
              ? Math.tanh(xw(2, j) + rg[j] * hr(2, j))
              : Math.tanh(xw(2, j) + hr(2, j, rh));
            hNew[j] = (1 - z[j]) * cand + z[j] * h[j];
          }
        } else {
          // LSTM gates i = 0, o = 1, f = 2, c = 3; peepholes i = 0, o = 1, f = 2.
          const cNew = new Float64Array(H);
          for (let j = 0; j < H; j++) {
            const ig = sigmoid(cl(xw(0, j) + hr(0, j) + P(0, j) * c[j]));
            const fg = layer.inputForget ? 1 - ig : sigmoid(cl(xw(2, j) + hr(2, j) + P(2, j) * c[j]));
            const cand = Math.tanh(cl(xw(3, j) + hr(3, j)));
            cNew[j] = fg * c[j] + ig * cand;
            const og = sigmoid(cl(xw(1, j) + hr(1, j) + P(1, j) * cNew[j]));
            hNew[j] = og * Math.tanh(cNew[j]);
          }
          c.set(cNew);
        }
        h.set(hNew);
        for (let j = 0; j < H; j++) y[((n * T + t) * D + d) * H + j] = h[j];
      }
      for (let j = 0; j < H; j++) {
        hFinal[(d * N + n) * H + j] = h[j];
        if (cFinal) cFinal[(d * N + n) * H + j] = c[j];
      }
    }
  }
  return { y, final: cFinal ? { h: hFinal, c: cFinal } : { h: hFinal } };
}
