// The Open Inference Protocol (KServe V2 / Triton) REST JSON format, version 2 as specified in
// kserve/open-inference-protocol `specification/protocol/inference_rest.md`: model metadata, and
// inference requests and responses with the JSON tensor format (flat or nested `data`, explicit
// `shape`, `datatype`). rnnx serves one input `x` [batch, time, I] (optional `sequence_lens`
// [batch], INT32) and one output `y`; the request-level `parameters` carry rnnx's extensions:
//   raw: true            model-space tensors, no unit conversion
//   stream_state: token  continue a client-carried stream ("" or true starts one); the response's
//                        parameters.stream_state is the token for the next chunk
//   timeout_ms: number   this request's timeout

import { checkTimeoutMs } from './batcher.js';
import { BadRequestError } from './errors.js';
import type { InferenceService } from './service.js';

/** The protocol version followed. */
export const OIP_VERSION = '2';

export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

/** The model metadata response (GET v2/models/{name}). Shapes use -1 for variable dimensions. */
export function modelMetadata(svc: InferenceService): Record<string, unknown> {
  const info = svc.batcher.info;
  const u = svc.units;
  const I = info.inputSize;
  const F = info.outputSize;
  const modelY = info.returnsSequences ? [-1, -1, F] : [-1, F];
  const inputs: TensorMetadata[] = u.mode === 'forecast'
    ? [{ name: 'x', datatype: 'FP32', shape: [-1, u.rows, I] }]
    : [{ name: 'x', datatype: 'FP32', shape: [-1, -1, I] }, ...(info.hasSequenceLens ? [{ name: 'sequence_lens', datatype: 'INT32', shape: [-1] }] : [])];
  const outputs: TensorMetadata[] = [{ name: 'y', datatype: 'FP32', shape: u.mode === 'forecast' ? [-1, u.horizon, u.targetColumns.length] : modelY }];
  const meaning = u.mode === 'forecast'
    ? `x: the last ${u.rows} rows of the series in its own units (columns ${u.inputColumns.join(', ')}); y: the next ${u.horizon} rows of ${u.targetColumns.join(', ')} in the same units, as \`rnnx predict\` forecasts them. parameters.raw = true takes model-space x [-1, -1, ${I}] instead`
    : u.mode === 'normalized'
      ? `x and y in the data's units: the stored normalisation is applied to x${u.output ? ' and undone on y' : ''}. parameters.raw = true takes model-space tensors`
      : 'x and y are the network\'s own tensors (the file stores no normalisation)';
  return {
    name: svc.name,
    versions: [svc.version],
    platform: 'onnxruntime_onnx',
    inputs,
    outputs,
    parameters: {
      units: u.mode,
      meaning,
      ...(u.mode === 'forecast' ? { window: u.window, horizon: u.horizon, transform: u.transform, input_columns: u.inputColumns, target_columns: u.targetColumns } : {}),
      raw_inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, -1, I] }],
      raw_outputs: [{ name: 'y', datatype: 'FP32', shape: modelY }],
      streaming: svc.streamUnsupported === null ? 'stream_state' : `unsupported: ${svc.streamUnsupported}`,
      sha256: svc.hash,
    },
  };
}

export interface ParsedInfer {
  id?: string;
  /** One sequence per batch row, [time, I] flat, trimmed to its sequence_lens. */
  sequences: Float32Array[];
  raw: boolean;
  /** undefined: no stream; null: start one; string: continue from this token. */
  streamState?: string | null;
  timeoutMs?: number;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Flattens nested `data` row-major; the count is checked against the shape by the caller. */
function flatten(data: unknown, field: string): unknown[] {
  if (!Array.isArray(data)) throw new BadRequestError(`${field} must be an array (flat or nested, row-major), got ${describe(data)}`);
  if (!data.some(Array.isArray)) return data;
  const out: unknown[] = [];
  const walk = (v: unknown, depth: number) => {
    if (depth > 8) throw new BadRequestError(`${field} is nested deeper than any tensor rnnx serves`);
    if (Array.isArray(v)) for (const e of v) walk(e, depth + 1);
    else out.push(v);
  };
  walk(data, 0);
  return out;
}

const FLOAT32_MAX = 3.4028234663852886e38;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** Parses an inference request body for `svc`; throws BadRequestError naming the field. */
export function parseInferRequest(body: Record<string, unknown>, svc: InferenceService): ParsedInfer {
  const out: ParsedInfer = { sequences: [], raw: false };
  if (body.id !== undefined) {
    if (typeof body.id !== 'string') throw new BadRequestError(`id must be a string, got ${describe(body.id)}`);
    out.id = body.id;
  }
  const params = body.parameters;
  if (params !== undefined) {
    if (params === null || typeof params !== 'object' || Array.isArray(params)) throw new BadRequestError(`parameters must be an object, got ${describe(params)}`);
    const p = params as Record<string, unknown>;
    if (p.raw !== undefined) {
      if (typeof p.raw !== 'boolean') throw new BadRequestError(`parameters.raw must be true or false, got ${describe(p.raw)}`);
      out.raw = p.raw;
    }
    if (p.stream_state !== undefined) {
      if (p.stream_state === true || p.stream_state === '') out.streamState = null;
      else if (typeof p.stream_state === 'string') out.streamState = p.stream_state;
      else throw new BadRequestError(`parameters.stream_state must be "" or true (start a stream) or the token of the previous chunk, got ${describe(p.stream_state)}`);
    }
    if (p.timeout_ms !== undefined) out.timeoutMs = checkTimeoutMs(p.timeout_ms, 'parameters.timeout_ms');
  }
  if (body.outputs !== undefined) {
    if (!Array.isArray(body.outputs)) throw new BadRequestError(`outputs must be an array of {"name": ...}, got ${describe(body.outputs)}`);
    body.outputs.forEach((o: unknown, i) => {
      const name = o !== null && typeof o === 'object' ? (o as { name?: unknown }).name : undefined;
      if (name !== 'y') throw new BadRequestError(`outputs[${i}].name must be "y" (the model's only output), got ${describe(name)}`);
    });
  }
  if (!Array.isArray(body.inputs) || body.inputs.length === 0) {
    throw new BadRequestError(`inputs must be a non-empty array of tensors ({"name": "x", "shape": [...], "datatype": "FP32", "data": [...]}), got ${describe(body.inputs)}`);
  }
  const info = svc.batcher.info;
  // The forecaster's units, unless raw model-space tensors are given.
  const forecast = !out.raw && svc.units.mode === 'forecast' ? svc.units : null;
  let x: { shape: number[]; data: Float32Array } | null = null;
  // The lengths as given: an Int32Array would wrap an INT64 2^32 + 1 to 1, which then passes.
  let lens: number[] | null = null;
  body.inputs.forEach((t: unknown, k) => {
    const f = `inputs[${k}]`;
    if (t === null || typeof t !== 'object' || Array.isArray(t)) throw new BadRequestError(`${f} must be a tensor object, got ${describe(t)}`);
    const { name, shape, datatype, data } = t as Record<string, unknown>;
    if (name !== 'x' && name !== 'sequence_lens') throw new BadRequestError(`${f}.name must be "x" or "sequence_lens", got ${describe(name)}`);
    if ((name === 'x' && x) || (name === 'sequence_lens' && lens)) throw new BadRequestError(`${f}: input ${JSON.stringify(name)} is given twice`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw new BadRequestError(`${f}.shape must be an array of non-negative integers, got ${describe(shape)}`);
    const count = shape.reduce((a: number, b: number) => a * b, 1);
    const allowed = name === 'x' ? ['FP32', 'FP64', 'INT32'] : ['INT32', 'INT64'];
    if (typeof datatype !== 'string' || !allowed.includes(datatype)) throw new BadRequestError(`${f}.datatype must be ${allowed.join(' or ')} for ${name}, got ${describe(datatype)}`);
    const values = flatten(data, `${f}.data`);
    if (values.length !== count) throw new BadRequestError(`${f}.data must hold ${count} values (shape [${shape.join(', ')}]), got ${values.length}`);
    const integer = datatype.startsWith('INT');
    values.forEach((v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
        throw new BadRequestError(`${f}.data[${i}] must be a finite ${integer ? 'integer' : 'number'} (${datatype}), got ${describe(v)}`);
      }
      if (!integer && Math.abs(v) > FLOAT32_MAX) throw new BadRequestError(`${f}.data[${i}] must be within float32 range, got ${v}`);
      // An INT32 value beyond int32 is no INT32 (and 1e39 would become Infinity in the float32 x).
      if (datatype === 'INT32' && (v < INT32_MIN || v > INT32_MAX)) throw new BadRequestError(`${f}.data[${i}] must be within INT32 range [${INT32_MIN}, ${INT32_MAX}], got ${v}`);
    });
    if (name === 'x') {
      const I = info.inputSize;
      if (shape.length !== 3 || shape[2] !== I || shape[0] < 1 || shape[1] < 1) {
        throw new BadRequestError(`${f} (x) must have shape [batch, time, ${I}] with batch and time >= 1${forecast ? ` (time = ${forecast.rows}: the last ${forecast.rows} raw rows of the series)` : ''}, got [${shape.join(', ')}]`);
      }
      x = { shape, data: Float32Array.from(values as number[]) };
    } else {
      if (shape.length !== 1) throw new BadRequestError(`${f} (sequence_lens) must have shape [batch], got [${shape.join(', ')}]`);
      lens = values as number[];
    }
  });
  if (!x) throw new BadRequestError('inputs must include "x"');
  const { shape, data } = x as { shape: number[]; data: Float32Array };
  const [N, T, I] = shape;
  if (lens) {
    const l = lens as number[];
    if (forecast) throw new BadRequestError('sequence_lens applies to model-space sequences; a forecaster takes whole windows (or set parameters.raw)');
    if (l.length !== N) throw new BadRequestError(`sequence_lens must hold one length per batch row (${N}), got ${l.length}`);
    l.forEach((v, b) => {
      if (v < 1 || v > T) throw new BadRequestError(`sequence_lens[${b}] must be in [1, ${T}], got ${v}`);
    });
  }
  if (N > svc.batcher.maxQueue) throw new BadRequestError(`x holds ${N} sequences, more than the queue may ever hold (maxQueue ${svc.batcher.maxQueue}); split them over several requests`);
  if (out.streamState !== undefined && N !== 1) throw new BadRequestError(`parameters.stream_state continues one stream: x must have batch 1, got ${N}`);
  for (let b = 0; b < N; b++) {
    const len = lens ? (lens as number[])[b] : T;
    out.sequences.push(data.subarray(b * T * I, (b * T + len) * I));
  }
  return out;
}
