// Model → ONNX. The graph follows the project's I/O convention:
//   input  x [batch, time, I] float32, batch-first, transposed once to ONNX layout 0
//   input  sequence_lens [batch] int32                      (option sequenceLens)
//   inputs h0_k / c0_k [D, batch, H], outputs hT_k / cT_k   (option stateful; k counts recurrent layers)
//   output y [batch, time, F] (last recurrent layer returns sequences) or [batch, F]
// One ONNX LSTM / GRU / RNN node per recurrent layer (never unrolled); dense layers are
// MatMul + Add (+ activation). Weights are copied from the model's ONNX-layout views unchanged.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { directionCount, isRecurrent, outputIsSequence, outputSize } from '../layers/spec.js';
import { view } from '../layers/params.js';
import type { ModelData } from '../model/types.js';
import { DEFAULT_OPSET, GraphBuilder, onnx, type Dim, type ModelProto, type Value } from './builder.js';
import * as op from './ops.js';

export interface ExportOptions {
  /** Add the int32 input `sequence_lens` [batch] for batches of different lengths. Default false. */
  sequenceLens?: boolean;
  /** Add initial-state inputs h0_k/c0_k and final-state outputs hT_k/cT_k per recurrent layer. Default false. */
  stateful?: boolean;
  /** ONNX opset, 14 (default) to 17 (IR version 8; every operator used is unchanged across them). */
  opset?: number;
}

/** The export options as stored in the file (`rnnx.export`), defaults filled in. */
export interface ResolvedExportOptions {
  sequenceLens: boolean;
  stateful: boolean;
  opset: number;
}

/** metadata_props keys every rnnx file carries. */
export const META = {
  version: 'rnnx.version',
  spec: 'rnnx.spec',
  metadata: 'rnnx.metadata',
  export: 'rnnx.export',
} as const;

export const MIN_OPSET = 14;
export const MAX_OPSET = 17;

/** Names of the parameter initializers of layer `i` (load reads them back by these names). */
export function initializerName(layerIndex: number, tensor: 'W' | 'R' | 'B' | 'P' | 'b'): string {
  return `layers.${layerIndex}.${tensor}`;
}

export function resolveExportOptions(options: ExportOptions = {}): ResolvedExportOptions {
  if (options === null || typeof options !== 'object') throw new Error(`export options must be an object, got ${String(options)}`);
  for (const key of Object.keys(options)) {
    if (!['sequenceLens', 'stateful', 'opset'].includes(key)) {
      throw new Error(`export options: unknown option ${JSON.stringify(key)}; known options: sequenceLens, stateful, opset`);
    }
  }
  const bool = (field: string, v: unknown): boolean => {
    if (v === undefined) return false;
    if (typeof v !== 'boolean') throw new Error(`export options.${field} must be a boolean, got ${JSON.stringify(v)}`);
    return v;
  };
  const opset = options.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new Error(`export options.opset must be an integer in [${MIN_OPSET}, ${MAX_OPSET}], got ${JSON.stringify(options.opset)}`);
  }
  return { sequenceLens: bool('sequenceLens', options.sequenceLens), stateful: bool('stateful', options.stateful), opset };
}

let cachedVersion: string | null = null;

/** rnnx's version from its package.json (found by walking up from this file, in src/ or dist/src/). */
export function rnnxVersion(): string {
  if (cachedVersion !== null) return cachedVersion;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'rnnx' && typeof pkg.version === 'string') return (cachedVersion = pkg.version);
    } catch {
      // not here: keep walking up
    }
    dir = dirname(dir);
  }
  return (cachedVersion = '0.0.0-unknown');
}

/** The ModelProto of `model` (see the file header for the graph's shape). @internal */
export function toModelProto(model: ModelData, options: ExportOptions = {}): ModelProto {
  const opts = resolveExportOptions(options);
  const spec = model.spec;
  const g = new GraphBuilder();
  const BATCH = 'batch';
  const TIME = 'time';
  const x = g.input('x', 'float', [BATCH, TIME, spec.inputSize]);
  const seqLens = opts.sequenceLens ? g.input('sequence_lens', 'int32', [BATCH]) : null;

  const recurrent = spec.layers.filter(isRecurrent);
  // Stateful inputs first, in layer order, so that the graph inputs read x, sequence_lens, h0_0, c0_0, h0_1...
  const stateIn = recurrent.map((layer, k) => {
    if (!opts.stateful) return { h: null, c: null };
    const shape: Dim[] = [directionCount(layer.direction), BATCH, layer.units];
    return { h: g.input(`h0_${k}`, 'float', shape), c: layer.kind === 'lstm' ? g.input(`c0_${k}`, 'float', shape) : null };
  });

  let seq: Value = op.transpose(x, [1, 0, 2]); // [T, N, I]
  let features: Value | null = null; // set once the last recurrent layer has run
  let k = 0;
  const stateOut: { value: Value; name: string; shape: Dim[] }[] = [];
  spec.layers.forEach((layer, i) => {
    if (!isRecurrent(layer)) return;
    const lp = model.layout.layers[i];
    if (lp.kind === 'dense') throw new Error(`internal: layer ${i} layout is dense, spec says ${layer.kind}`);
    const W = g.floatInitializer(initializerName(i, 'W'), view(model.params, lp.W), lp.W.dims);
    const R = g.floatInitializer(initializerName(i, 'R'), view(model.params, lp.R), lp.R.dims);
    const B = g.floatInitializer(initializerName(i, 'B'), view(model.params, lp.B), lp.B.dims);
    const P = lp.P ? g.floatInitializer(initializerName(i, 'P'), view(model.params, lp.P), lp.P.dims) : null;
    const last = k === recurrent.length - 1;
    const want = { Y: layer.returnSequences, Y_h: !layer.returnSequences || opts.stateful, Y_c: opts.stateful };
    const inputs = { X: seq, W, R, B, sequenceLens: seqLens, initialH: stateIn[k].h };
    const attrs: op.RecurrentAttrs = { hiddenSize: layer.units, direction: layer.direction };
    let Y: Value | null;
    let Y_h: Value | null;
    let Y_c: Value | null = null;
    if (layer.kind === 'lstm') {
      ({ Y, Y_h, Y_c } = op.lstm({ ...inputs, initialC: stateIn[k].c, P }, { ...attrs, clip: layer.clip ?? undefined, inputForget: layer.inputForget }, want));
    } else if (layer.kind === 'gru') {
      ({ Y, Y_h } = op.gru(inputs, { ...attrs, linearBeforeReset: layer.linearBeforeReset }, want));
    } else {
      // activations always written: the CUDA provider's RNN kernel requires the attribute.
      ({ Y, Y_h } = op.rnn(inputs, { ...attrs, activations: Array<op.OnnxActivation>(directionCount(layer.direction)).fill(layer.activation === 'relu' ? 'Relu' : 'Tanh') }, want));
    }
    const D = directionCount(layer.direction);
    if (opts.stateful) {
      stateOut.push({ value: Y_h!, name: `hT_${k}`, shape: [D, BATCH, layer.units] });
      if (Y_c) stateOut.push({ value: Y_c, name: `cT_${k}`, shape: [D, BATCH, layer.units] });
    }
    if (!last) {
      // Y [T, D, N, H] → [T, N, D, H] → [T, N, D*H]: directions concatenated, forward first.
      seq = op.reshape(op.transpose(Y!, [0, 2, 1, 3]), [0, 0, -1]);
    } else if (layer.returnSequences) {
      features = op.reshape(op.transpose(Y!, [2, 0, 1, 3]), [0, 0, -1]); // [N, T, D*H]
    } else {
      features = op.reshape(op.transpose(Y_h!, [1, 0, 2]), [0, -1]); // [N, D*H]
    }
    k++;
  });

  let out = features as Value | null;
  if (!out) throw new Error('internal: model has no recurrent layer');
  spec.layers.forEach((layer, i) => {
    if (isRecurrent(layer)) return;
    const lp = model.layout.layers[i];
    if (lp.kind !== 'dense') throw new Error('internal: layout does not match spec');
    const W = g.floatInitializer(initializerName(i, 'W'), view(model.params, lp.W), lp.W.dims);
    const b = g.floatInitializer(initializerName(i, 'b'), view(model.params, lp.b), lp.b.dims);
    let h = op.add(op.matmul(out!, W), b);
    if (layer.activation === 'relu') h = op.relu(h);
    else if (layer.activation === 'tanh') h = op.tanh(h);
    else if (layer.activation === 'sigmoid') h = op.sigmoid(h);
    else if (layer.activation === 'softmax') h = op.softmax(h, { axis: -1 });
    out = h;
  });
  g.output(out, 'y', outputIsSequence(spec) ? [BATCH, TIME, outputSize(spec)] : [BATCH, outputSize(spec)]);
  // After y, so that y is the first graph output.
  for (const s of stateOut) g.output(s.value, s.name, s.shape);

  const version = rnnxVersion();
  return g.build({
    graphName: 'rnnx',
    opset: opts.opset,
    producerName: 'rnnx',
    producerVersion: version,
    metadata: [
      [META.version, version],
      [META.spec, JSON.stringify(spec)],
      [META.metadata, JSON.stringify(model.metadata ?? {})],
      [META.export, JSON.stringify(opts)],
    ],
  });
}

/** The serialised `.onnx` bytes of `model`. */
export function toOnnx(model: ModelData, options: ExportOptions = {}): Uint8Array {
  // The one place every export and checkpoint passes: a file with NaN/Inf weights is never written.
  let bad = 0;
  let first = -1;
  for (let i = 0; i < model.params.length; i++) {
    if (!Number.isFinite(model.params[i])) {
      bad++;
      if (first < 0) first = i;
    }
  }
  if (bad > 0) {
    throw Object.assign(new Error(`export: the model has ${bad} non-finite weight${bad > 1 ? 's' : ''} (first: params[${first}] = ${model.params[first]}); refusing to write it`), { code: 'RNNX_NON_FINITE' });
  }
  return onnx.ModelProto.encode(toModelProto(model, options)).finish();
}
