// What `rnnx inspect` (commands/inspect.ts) prints: a description of any ONNX file, rnnx's own or
// foreign (PyTorch's nn.LSTM / nn.GRU exports, for example), read from the protobuf directly:
// recurrent nodes with their direction, hidden and input sizes, dense (Gemm / MatMul) layers,
// inputs and outputs with shapes, opsets, parameter count and metadata. Nothing here needs rnnx's
// metadata; it is shown when present.

import { onnx } from '../graph/builder.js';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { UserError } from '../data/errors.js';
import { checkOnnxImport, describeStateInputs } from '../graph/import.js';
import type { ModelSpec } from '../layers/spec.js';
import { describeNonFinite, nonFiniteInitializers, type NonFiniteTensor } from '../graph/finite.js';

export interface TensorInfo {
  name: string;
  type: string;
  /** Fixed sizes as numbers, symbolic ones by name, unknown as null. */
  shape: (number | string | null)[] | null;
}

export interface LayerInfo {
  index: number;
  /** ONNX operator: LSTM, GRU, RNN, Gemm, MatMul. */
  op: string;
  kind: 'lstm' | 'gru' | 'rnn' | 'dense';
  node: string;
  direction?: string;
  directions?: number;
  hiddenSize?: number;
  /** Dense: output features. */
  units?: number;
  inputSize?: number | null;
  parameters: number;
  activation?: string;
  activations?: string[];
  linearBeforeReset?: number;
  clip?: number;
  inputForget?: number;
  peepholes?: boolean;
  sequenceLens?: boolean;
  initialState?: boolean;
}

export interface OnnxDescription {
  file: string;
  bytes: number;
  irVersion: number;
  producer: { name: string; version: string };
  opsets: { domain: string; version: number }[];
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  layers: LayerInfo[];
  /** Elements of every floating-point initializer (and Constant node of floats feeding a layer). */
  parameters: number;
  parameterBytes: number;
  opCounts: Record<string, number>;
  /** Initializers holding NaN or ±Infinity (such a model gives wrong outputs; inspect exits 1). */
  nonFinite: NonFiniteTensor[];
  metadata: Record<string, string>;
  /** Parsed rnnx.* metadata when the file was written by rnnx. */
  rnnx?: { version?: string; spec?: unknown; metadata?: unknown; export?: unknown };
  /** Whether Model.load and `rnnx train` ("model": {"from": FILE}) can train this file; when not, the node that stops it. */
  training: TrainingInfo;
}

export type TrainingInfo =
  | { trainable: true; via: 'rnnx' }
  | { trainable: true; via: 'import'; layers: string; notes: string[] }
  | { trainable: false; via: 'import'; node: string; opType: string; reason: string };

/** "lstm 5 bidirectional sequences → dense 2 softmax". */
function specSummary(spec: ModelSpec): string {
  return spec.layers
    .map((l) => {
      const parts: string[] = [l.kind, String(l.units)];
      if (l.kind === 'dense') {
        if (l.activation !== 'none') parts.push(l.activation);
      } else {
        if (l.direction !== 'forward') parts.push(l.direction);
        if (l.returnSequences) parts.push('sequences');
        if (l.kind === 'lstm' && l.peepholes) parts.push('peepholes');
        if (l.kind === 'gru' && l.linearBeforeReset === 0) parts.push('linear_before_reset 0');
        if (l.kind === 'rnn' && l.activation === 'relu') parts.push('relu');
      }
      return parts.join(' ');
    })
    .join(' → ');
}

function trainingInfo(model: OnnxTypes.ModelProto, file: string, isRnnx: boolean): TrainingInfo {
  if (isRnnx) return { trainable: true, via: 'rnnx' };
  const c = checkOnnxImport(model, file);
  if (!c.importable) return { trainable: false, via: 'import', node: c.node, opType: c.opType, reason: c.reason };
  const notes: string[] = [];
  if (c.info.inputLayout === 'time-major') notes.push('the file reads x as [time, batch, features]; the imported model reads [batch, time, features]');
  if (c.info.outputLayout === 'time-major') notes.push('the file writes [time, batch, features]; the imported model writes [batch, time, features]');
  if (c.info.stateInputs.length) notes.push(`initial states from graph inputs: ${describeStateInputs(c.info.stateInputs)}`);
  if (c.info.sequenceLens) notes.push('its recurrent layers read sequence_lens: export with --sequence-lens to keep that input');
  if (c.info.droppedOutputs.length) notes.push(`outputs other than the first are not part of the imported model: ${c.info.droppedOutputs.join(', ')}`);
  return { trainable: true, via: 'import', layers: specSummary(c.spec), notes };
}

const ELEM_NAMES: Record<number, string> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string',
  9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 16: 'bfloat16',
};
const ELEM_BYTES: Record<number, number> = { 1: 4, 10: 2, 11: 8, 16: 2 };
const FLOAT_TYPES = new Set([1, 10, 11, 16]);

function num(v: number | Long | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : Number(v.toString());
}
type Long = { toString(): string };

function valueInfo(v: OnnxTypes.IValueInfoProto): TensorInfo {
  const tt = v.type?.tensorType;
  const shape = tt?.shape
    ? (tt.shape.dim ?? []).map((d) => (d.dimParam ? d.dimParam : d.dimValue !== null && d.dimValue !== undefined && num(d.dimValue) > 0 ? num(d.dimValue) : null))
    : null;
  return { name: v.name ?? '', type: ELEM_NAMES[tt?.elemType ?? 0] ?? `type ${tt?.elemType ?? '?'}`, shape };
}

function attrs(node: OnnxTypes.INodeProto): Map<string, OnnxTypes.IAttributeProto> {
  return new Map((node.attribute ?? []).map((a) => [a.name ?? '', a]));
}

const text = (b: Uint8Array | null | undefined) => (b ? new TextDecoder().decode(b) : '');

export function describeOnnx(bytes: Uint8Array, file: string): OnnxDescription {
  let model: OnnxTypes.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new UserError(`${file}: not an ONNX model (${(e as Error).message})`, { cause: e });
  }
  const graph = model.graph;
  if (!graph || !model.irVersion) throw new UserError(`${file}: not an ONNX model (no graph or IR version)`);

  // Every constant tensor by name: initializers and Constant node outputs.
  const tensors = new Map<string, OnnxTypes.ITensorProto>();
  for (const t of graph.initializer ?? []) tensors.set(t.name ?? '', t);
  for (const n of graph.node ?? []) {
    if (n.opType === 'Constant') {
      const t = attrs(n).get('value')?.t;
      if (t && n.output?.[0]) tensors.set(n.output[0], t);
    }
  }
  const dims = (name: string | undefined | null): number[] | null => {
    const t = name ? tensors.get(name) : undefined;
    return t ? (t.dims ?? []).map(num) : null;
  };
  const size = (name: string | undefined | null) => (dims(name) ?? []).reduce((a, b) => a * b, dims(name) ? 1 : 0);

  // Consumers, to find the activation following a dense layer.
  const consumers = new Map<string, OnnxTypes.INodeProto[]>();
  for (const n of graph.node ?? []) for (const i of n.input ?? []) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const activationAfter = (out: string): string | undefined => {
    let cur = out;
    for (let hop = 0; hop < 3; hop++) {
      const next = consumers.get(cur);
      if (!next || next.length !== 1) return undefined;
      const op = next[0].opType ?? '';
      if (['Relu', 'Tanh', 'Sigmoid', 'Softmax', 'LogSoftmax'].includes(op)) return op.toLowerCase();
      if (op !== 'Add') return undefined;
      cur = next[0].output?.[0] ?? '';
    }
    return undefined;
  };

  const layers: LayerInfo[] = [];
  const opCounts: Record<string, number> = {};
  const counted = new Set<string>();
  for (const n of graph.node ?? []) {
    const op = n.opType ?? '?';
    opCounts[op] = (opCounts[op] ?? 0) + 1;
    const a = attrs(n);
    const ins = n.input ?? [];
    if (op === 'LSTM' || op === 'GRU' || op === 'RNN') {
      const direction = text(a.get('direction')?.s) || 'forward';
      const W = dims(ins[1]);
      const R = dims(ins[2]);
      const G = op === 'LSTM' ? 4 : op === 'GRU' ? 3 : 1;
      const hidden = a.get('hidden_size') ? num(a.get('hidden_size')!.i) : R ? R[2] : W ? W[1] / G : 0;
      const info: LayerInfo = {
        index: layers.length,
        op,
        kind: op.toLowerCase() as 'lstm' | 'gru' | 'rnn',
        node: n.name ?? '',
        direction,
        directions: direction === 'bidirectional' ? 2 : 1,
        hiddenSize: hidden,
        inputSize: W ? W[2] : null,
        parameters: [1, 2, 3, 7].filter((k) => ins[k]).reduce((s, k) => s + size(ins[k]), 0),
        sequenceLens: !!ins[4],
        initialState: !!ins[5],
      };
      const acts = a.get('activations')?.strings;
      if (acts && acts.length) info.activations = acts.map((s) => text(s));
      if (op === 'GRU') info.linearBeforeReset = num(a.get('linear_before_reset')?.i);
      if (op === 'LSTM') {
        info.peepholes = !!ins[7];
        if (a.get('input_forget')) info.inputForget = num(a.get('input_forget')!.i);
      }
      if (a.get('clip')) info.clip = a.get('clip')!.f ?? undefined;
      layers.push(info);
      [1, 2, 3, 7].forEach((k) => ins[k] && counted.add(ins[k]));
    } else if (op === 'Gemm' || op === 'MatMul') {
      const Bd = dims(ins[1]);
      if (!Bd || Bd.length !== 2) continue; // a product of two activations, not a layer
      const transB = op === 'Gemm' && num(a.get('transB')?.i) === 1;
      const units = transB ? Bd[0] : Bd[1];
      const inputSize = transB ? Bd[1] : Bd[0];
      let params = size(ins[1]) + (op === 'Gemm' && ins[2] ? size(ins[2]) : 0);
      // MatMul + Add(bias): count the bias too.
      const next = consumers.get(n.output?.[0] ?? '');
      if (op === 'MatMul' && next?.length === 1 && next[0].opType === 'Add') {
        const bias = (next[0].input ?? []).find((i) => i !== n.output?.[0] && tensors.has(i));
        if (bias) {
          params += size(bias);
          counted.add(bias);
        }
      }
      layers.push({ index: layers.length, op, kind: 'dense', node: n.name ?? '', units, inputSize, parameters: params, activation: activationAfter(n.output?.[0] ?? '') ?? 'none' });
      counted.add(ins[1]);
      if (op === 'Gemm' && ins[2]) counted.add(ins[2]);
    }
  }

  // Parameters: every floating-point initializer, plus float Constants that feed a layer.
  let parameters = 0;
  let parameterBytes = 0;
  const seen = new Set<string>();
  const addTensor = (name: string, t: OnnxTypes.ITensorProto) => {
    if (seen.has(name) || !FLOAT_TYPES.has(t.dataType ?? 0)) return;
    seen.add(name);
    const n = (t.dims ?? []).map(num).reduce((x, y) => x * y, 1);
    parameters += n;
    parameterBytes += n * (ELEM_BYTES[t.dataType ?? 1] ?? 4);
  };
  for (const t of graph.initializer ?? []) addTensor(t.name ?? '', t);
  for (const name of counted) {
    const t = tensors.get(name);
    if (t) addTensor(name, t);
  }

  const initNames = new Set((graph.initializer ?? []).map((t) => t.name));
  const metadata: Record<string, string> = {};
  for (const p of model.metadataProps ?? []) metadata[p.key ?? ''] = p.value ?? '';
  const desc: OnnxDescription = {
    file,
    bytes: bytes.length,
    irVersion: num(model.irVersion),
    producer: { name: model.producerName ?? '', version: model.producerVersion ?? '' },
    opsets: (model.opsetImport ?? []).map((o) => ({ domain: o.domain || 'ai.onnx', version: num(o.version) })),
    // Initializers listed as inputs (IR < 4 style) are weights, not inputs.
    inputs: (graph.input ?? []).filter((v) => !initNames.has(v.name)).map(valueInfo),
    outputs: (graph.output ?? []).map(valueInfo),
    layers,
    parameters,
    parameterBytes,
    opCounts,
    nonFinite: nonFiniteInitializers(graph),
    metadata,
    training: trainingInfo(model, file, Object.keys(metadata).some((k) => k.startsWith('rnnx.'))),
  };
  if (Object.keys(metadata).some((k) => k.startsWith('rnnx.'))) {
    const parse = (k: string) => {
      if (metadata[k] === undefined) return undefined;
      try {
        return JSON.parse(metadata[k]);
      } catch {
        return metadata[k];
      }
    };
    desc.rnnx = { version: metadata['rnnx.version'], spec: parse('rnnx.spec'), metadata: parse('rnnx.metadata'), export: parse('rnnx.export') };
  }
  return desc;
}

const fmtShape = (s: TensorInfo['shape']) => (s ? `[${s.map((d) => (d === null ? '?' : d)).join(', ')}]` : '(unknown shape)');

function table(rows: string[][]): string[] {
  if (rows.length === 0) return ['  (none)'];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd());
}

function humanBytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

/** The human-readable form printed by `rnnx inspect`. */
export function formatDescription(d: OnnxDescription): string {
  const out: string[] = [];
  out.push(`${d.file}: ONNX model, ${humanBytes(d.bytes)}`);
  out.push(`producer: ${d.producer.name || '(none)'}${d.producer.version ? ' ' + d.producer.version : ''}; IR version ${d.irVersion}; opset ${d.opsets.map((o) => `${o.domain} ${o.version}`).join(', ')}`);
  out.push('inputs:');
  out.push(...table(d.inputs.map((i) => ['  ' + i.name, i.type, fmtShape(i.shape)])));
  out.push('outputs:');
  out.push(...table(d.outputs.map((i) => ['  ' + i.name, i.type, fmtShape(i.shape)])));
  out.push('layers:');
  if (d.layers.length === 0) out.push('  (no recurrent or dense layer found)');
  else {
    const rows = [['  #', 'op', 'direction', 'hidden/units', 'input', 'parameters', 'details']];
    for (const l of d.layers) {
      const details: string[] = [];
      if (l.kind === 'dense') details.push(`activation ${l.activation}`);
      if (l.linearBeforeReset !== undefined) details.push(`linear_before_reset ${l.linearBeforeReset}`);
      if (l.peepholes) details.push('peepholes');
      if (l.clip !== undefined) details.push(`clip ${l.clip}`);
      if (l.inputForget) details.push('input_forget');
      if (l.activations) details.push(`activations ${l.activations.join(',')}`);
      if (l.sequenceLens) details.push('sequence_lens');
      if (l.initialState) details.push('initial state input');
      rows.push([
        `  ${l.index}`,
        l.op,
        l.direction ?? '',
        String(l.kind === 'dense' ? l.units : l.hiddenSize),
        l.inputSize === null || l.inputSize === undefined ? '?' : String(l.inputSize),
        String(l.parameters),
        details.join(', '),
      ]);
    }
    out.push(...table(rows));
  }
  out.push(`parameters: ${d.parameters} (${humanBytes(d.parameterBytes)})`);
  if (d.nonFinite.length) out.push(`NON-FINITE WEIGHTS: ${describeNonFinite(d.nonFinite)}; the model gives wrong outputs`);
  out.push(`operators: ${Object.entries(d.opCounts).map(([k, v]) => `${k}×${v}`).join(' ')}`);
  const t = d.training;
  if (t.via === 'rnnx') out.push('training: trainable (an rnnx file: Model.load, rnnx train with "model": {"from": FILE})');
  else if (t.trainable) {
    out.push(`training: importable for fine-tuning as ${t.layers} (Model.load, rnnx train with "model": {"from": FILE})`);
    for (const n of t.notes) out.push(`  ${n}`);
  } else out.push(`training: not importable: node ${JSON.stringify(t.node)} (${t.opType}) stops it: ${t.reason}`);
  const meta = Object.entries(d.metadata);
  if (d.rnnx) {
    const m = (d.rnnx.metadata !== null && typeof d.rnnx.metadata === 'object' ? d.rnnx.metadata : {}) as Record<string, unknown>;
    out.push(`rnnx: version ${d.rnnx.version ?? '?'}; export ${JSON.stringify(d.rnnx.export ?? {})}`);
    // The metadata is whatever the file holds: print what is there without trusting its types.
    const list = (v: unknown) => (Array.isArray(v) ? v.map((x) => (typeof x === 'number' ? String(+x.toPrecision(6)) : JSON.stringify(x))).join(', ') : '');
    const norm = (label: string, n: unknown) => {
      const v = n as { mean?: unknown; std?: unknown } | null | undefined;
      if (v && typeof v === 'object' && v.mean !== undefined) out.push(`  ${label}: mean [${list(v.mean)}], std [${list(v.std)}]`);
    };
    norm('input normalisation', m.inputNormalization);
    norm('target normalisation', m.targetNormalization);
    if (Array.isArray(m.vocabulary)) out.push(`  vocabulary: ${m.vocabulary.length} characters ${JSON.stringify(m.vocabulary.map(String).join('').slice(0, 60))}`);
    if (m.extra && typeof m.extra === 'object') for (const [k, v] of Object.entries(m.extra as Record<string, unknown>)) out.push(`  ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  } else if (meta.length) {
    out.push('metadata:');
    for (const [k, v] of meta) out.push(`  ${k} = ${v.length > 200 ? v.slice(0, 200) + '…' : v}`);
  } else if (d.producer.name === 'rnnx') {
    out.push('metadata: (none) — WARNING: written by rnnx, but its rnnx.* metadata is missing: the file is truncated or was edited');
  } else out.push('metadata: (none)');
  return out.join('\n');
}
