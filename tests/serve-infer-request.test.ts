// Parsing Open Inference Protocol v2 inference requests and describing a model (src/serve/v2.ts),
// in process against a stand-in service: what each field of the protocol's JSON tensor format
// turns into (hand-listed sequences), the rnnx extensions in `parameters`, and one refusal per
// rule, each naming the field, the value received and what was expected.

import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../src/serve/errors.js';
import type { InferenceService, Units } from '../src/serve/service.js';
import type { ServeModelInfo } from '../src/serve/types.js';
import { modelMetadata, parseInferRequest } from '../src/serve/v2.js';

const info = (over: Partial<ServeModelInfo> = {}): ServeModelInfo => ({
  inputSize: 2, outputSize: 3, returnsSequences: true, hasSequenceLens: true, state: [], needsFuture: null, ...over,
});

function fakeService(units: Units = { mode: 'model' }, over: Partial<ServeModelInfo> = {}, maxQueue = 4): InferenceService {
  return {
    name: 'm', version: '7', hash: 'ab'.repeat(32), units, streamUnsupported: null,
    batcher: { info: info(over), maxQueue },
  } as unknown as InferenceService;
}

const forecast: Units = { mode: 'forecast', rows: 5, inputColumns: ['a', 'b'], targetColumns: ['a'], window: 4, horizon: 2, transform: 'difference' };
const x = (shape: number[], data: unknown, datatype = 'FP32') => ({ name: 'x', shape, datatype, data });
const lens = (data: unknown, shape = [Array.isArray(data) ? data.length : 1], datatype = 'INT32') => ({ name: 'sequence_lens', shape, datatype, data });

function refuse(body: Record<string, unknown>, message: string | RegExp, svc = fakeService()): void {
  let err: unknown;
  try {
    parseInferRequest(body, svc);
  } catch (e) {
    err = e;
  }
  expect(err, JSON.stringify(body)).toBeInstanceOf(BadRequestError);
  expect((err as Error).message).toMatch(message);
}

describe('what a request turns into', () => {
  it('x [2, 3, 2] flat: two sequences of three steps, row-major', () => {
    const r = parseInferRequest({ inputs: [x([2, 3, 2], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])] }, fakeService());
    expect(r.sequences.map((s) => Array.from(s))).toEqual([[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]]);
    expect(r.sequences[0]).toBeInstanceOf(Float32Array);
    expect(r).toMatchObject({ raw: false });
    expect(r.id).toBeUndefined();
    expect(r.streamState).toBeUndefined();
    expect(r.timeoutMs).toBeUndefined();
  });

  it('nested data equals flat data; sequence_lens cuts each row to its length', () => {
    const nested = [[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 10], [11, 12]]];
    const r = parseInferRequest({ inputs: [x([2, 3, 2], nested), lens([2, 3])] }, fakeService());
    expect(r.sequences.map((s) => Array.from(s))).toEqual([[1, 2, 3, 4], [7, 8, 9, 10, 11, 12]]);
    const one = parseInferRequest({ inputs: [lens([1, 1], [2], 'INT64'), x([2, 3, 2], nested)] }, fakeService());
    expect(one.sequences.map((s) => Array.from(s))).toEqual([[1, 2], [7, 8]]);
    // Nested only at some positions is flattened too.
    const mixed = parseInferRequest({ inputs: [x([1, 2, 2], [1, [2, 3], 4])] }, fakeService());
    expect(Array.from(mixed.sequences[0])).toEqual([1, 2, 3, 4]);
  });

  it('FP64 and INT32 x give the same float32 values', () => {
    const a = parseInferRequest({ inputs: [x([1, 1, 2], [0.1, -3], 'FP64')] }, fakeService());
    expect(Array.from(a.sequences[0])).toEqual([Math.fround(0.1), -3]);
    const b = parseInferRequest({ inputs: [x([1, 1, 2], [4, -5], 'INT32')] }, fakeService());
    expect(Array.from(b.sequences[0])).toEqual([4, -5]);
  });

  it('id, parameters.raw, parameters.timeout_ms and parameters.stream_state', () => {
    const base = { inputs: [x([1, 1, 2], [1, 2])] };
    const r = parseInferRequest({ ...base, id: 'req-1', parameters: { raw: true, timeout_ms: 250, stream_state: 'rs1.abc' } }, fakeService());
    expect(r).toMatchObject({ id: 'req-1', raw: true, timeoutMs: 250, streamState: 'rs1.abc' });
    expect(parseInferRequest({ ...base, parameters: { stream_state: true } }, fakeService()).streamState).toBeNull();
    expect(parseInferRequest({ ...base, parameters: { stream_state: '' } }, fakeService()).streamState).toBeNull();
    expect(parseInferRequest({ ...base, parameters: { raw: false } }, fakeService()).raw).toBe(false);
    expect(parseInferRequest({ ...base, parameters: {} }, fakeService())).toMatchObject({ raw: false });
    expect(parseInferRequest({ ...base, outputs: [{ name: 'y' }] }, fakeService()).sequences.length).toBe(1);
    expect(parseInferRequest({ ...base, outputs: [] }, fakeService()).sequences.length).toBe(1);
  });

  it('a forecaster takes x [N, rows, I]; with parameters.raw any length and sequence_lens', () => {
    const svc = fakeService(forecast);
    const r = parseInferRequest({ inputs: [x([1, 5, 2], Array.from({ length: 10 }, (_, i) => i))] }, svc);
    expect(r.sequences[0].length).toBe(10);
    const raw = parseInferRequest({ parameters: { raw: true }, inputs: [x([1, 3, 2], [1, 2, 3, 4, 5, 6]), lens([2])] }, svc);
    expect(Array.from(raw.sequences[0])).toEqual([1, 2, 3, 4]);
  });

  it('as many sequences as maxQueue are accepted, one more is refused', () => {
    const svc = fakeService({ mode: 'model' }, {}, 2);
    expect(parseInferRequest({ inputs: [x([2, 1, 2], [1, 2, 3, 4])] }, svc).sequences.length).toBe(2);
    refuse({ inputs: [x([3, 1, 2], [1, 2, 3, 4, 5, 6])] }, 'x holds 3 sequences, more than the queue may ever hold (maxQueue 2); split them over several requests', svc);
  });
});

describe('refusals', () => {
  const ok = [x([1, 1, 2], [1, 2])];

  it('id and parameters', () => {
    refuse({ id: 5, inputs: ok }, 'id must be a string, got 5');
    // The value received is quoted whole up to 60 characters of JSON, longer ones cut to 57 and "...".
    const sixty = ['a'.repeat(56)];
    expect(JSON.stringify(sixty).length).toBe(60);
    refuse({ id: sixty, inputs: ok }, `id must be a string, got ["${'a'.repeat(56)}"]`);
    refuse({ id: ['a'.repeat(57)], inputs: ok }, `id must be a string, got ["${'a'.repeat(55)}...`);
    refuse({ id: { v: 'b'.repeat(200) }, inputs: ok }, `id must be a string, got {"v":"${'b'.repeat(51)}...`);
    for (const p of [null, [1], 'raw']) refuse({ parameters: p, inputs: ok }, `parameters must be an object, got ${JSON.stringify(p)}`);
    refuse({ parameters: { raw: 1 }, inputs: ok }, 'parameters.raw must be true or false, got 1');
    for (const s of [false, 3, null, {}]) {
      refuse({ parameters: { stream_state: s }, inputs: ok }, `parameters.stream_state must be "" or true (start a stream) or the token of the previous chunk, got ${JSON.stringify(s)}`);
    }
    refuse({ parameters: { timeout_ms: 0 }, inputs: ok }, /^parameters\.timeout_ms must be a positive number of milliseconds.*got 0$/);
    refuse({ parameters: { stream_state: true }, inputs: [x([2, 1, 2], [1, 2, 3, 4])] }, 'parameters.stream_state continues one stream: x must have batch 1, got 2');
  });

  it('outputs', () => {
    refuse({ outputs: { name: 'y' }, inputs: ok }, 'outputs must be an array of {"name": ...}, got {"name":"y"}');
    refuse({ outputs: [{ name: 'y' }, { name: 'h' }], inputs: ok }, 'outputs[1].name must be "y" (the model\'s only output), got "h"');
    refuse({ outputs: [null], inputs: ok }, 'outputs[0].name must be "y" (the model\'s only output), got nothing');
    refuse({ outputs: ['y'], inputs: ok }, /outputs\[0\]\.name must be "y".*got nothing$/);
  });

  it('inputs and tensors', () => {
    refuse({}, 'inputs must be a non-empty array of tensors ({"name": "x", "shape": [...], "datatype": "FP32", "data": [...]}), got nothing');
    refuse({ inputs: [] }, /inputs must be a non-empty array of tensors .*got \[\]$/);
    refuse({ inputs: { name: 'x' } }, /inputs must be a non-empty array/);
    for (const t of [null, [1], 3]) refuse({ inputs: [t] }, `inputs[0] must be a tensor object, got ${JSON.stringify(t)}`);
    refuse({ inputs: [{ ...ok[0], name: 'h0' }] }, 'inputs[0].name must be "x" or "sequence_lens", got "h0"');
    refuse({ inputs: [ok[0], ok[0]] }, 'inputs[1]: input "x" is given twice');
    refuse({ inputs: [ok[0], lens([1]), lens([1])] }, 'inputs[2]: input "sequence_lens" is given twice');
    refuse({ inputs: [x([1, 1, -2], [])] }, 'inputs[0].shape must be an array of non-negative integers, got [1,1,-2]');
    refuse({ inputs: [x([1, 1.5, 2], [1, 2])] }, /shape must be an array of non-negative integers, got \[1,1\.5,2\]/);
    refuse({ inputs: [x('1,1,2' as unknown as number[], [1, 2])] }, /shape must be an array of non-negative integers, got "1,1,2"/);
    refuse({ inputs: [x([1, 1, 2], [1, 2], 'FP16')] }, 'inputs[0].datatype must be FP32 or FP64 or INT32 for x, got "FP16"');
    refuse({ inputs: [ok[0], lens([1], [1], 'FP32')] }, 'inputs[1].datatype must be INT32 or INT64 for sequence_lens, got "FP32"');
    refuse({ inputs: [x([1, 1, 2], [1, 2], 5 as unknown as string)] }, /datatype must be FP32 or FP64 or INT32 for x, got 5/);
    refuse({ inputs: [x([1, 1, 2], 'data')] }, 'inputs[0].data must be an array (flat or nested, row-major), got "data"');
    refuse({ inputs: [x([1, 1, 2], [1, 2, 3])] }, 'inputs[0].data must hold 2 values (shape [1, 1, 2]), got 3');
    refuse({ inputs: [x([1, 1, 2], [1, 2]), lens([1, 1], [1])] }, 'inputs[1].data must hold 1 values (shape [1]), got 2');
  });

  it('nesting deeper than any tensor', () => {
    let deep: unknown = [1, 2];
    for (let i = 0; i < 7; i++) deep = [deep];
    // Values eight arrays deep: accepted (shape [1,1,2] holds 2 values).
    expect(Array.from(parseInferRequest({ inputs: [x([1, 1, 2], deep)] }, fakeService()).sequences[0])).toEqual([1, 2]);
    refuse({ inputs: [x([1, 1, 2], [deep])] }, 'inputs[0].data is nested deeper than any tensor rnnx serves');
  });

  it('values', () => {
    refuse({ inputs: [x([1, 1, 2], [1, '2'])] }, 'inputs[0].data[1] must be a finite number (FP32), got "2"');
    refuse({ inputs: [x([1, 1, 2], [null, 2])] }, 'inputs[0].data[0] must be a finite number (FP32), got null');
    refuse({ inputs: [x([1, 1, 2], [1, 2.5], 'INT32')] }, 'inputs[0].data[1] must be a finite integer (INT32), got 2.5');
    refuse({ inputs: [ok[0], lens([1.5], [1], 'INT64')] }, 'inputs[1].data[0] must be a finite integer (INT64), got 1.5');
    refuse({ inputs: [x([1, 1, 2], [1, -1e39], 'FP64')] }, 'inputs[0].data[1] must be within float32 range, got -1e+39');
    // The largest float32 itself is in range.
    const big = parseInferRequest({ inputs: [x([1, 1, 2], [3.4028234663852886e38, -3.4028234663852886e38])] }, fakeService());
    expect(Array.from(big.sequences[0])).toEqual([3.4028234663852886e38, -3.4028234663852886e38]);
  });

  it('the shape of x and of sequence_lens', () => {
    refuse({ inputs: [x([2, 2], [1, 2, 3, 4])] }, 'inputs[0] (x) must have shape [batch, time, 2] with batch and time >= 1, got [2, 2]');
    refuse({ inputs: [x([1, 1, 2, 1], [1, 2])] }, /must have shape \[batch, time, 2\].*got \[1, 1, 2, 1\]/);
    refuse({ inputs: [x([1, 2, 1], [1, 2])] }, /got \[1, 2, 1\]$/);
    refuse({ inputs: [x([0, 1, 2], [])] }, /got \[0, 1, 2\]$/);
    refuse({ inputs: [x([1, 0, 2], [])] }, /got \[1, 0, 2\]$/);
    refuse({ inputs: [x([1, 4, 3], Array.from({ length: 12 }, () => 1))] }, 'inputs[0] (x) must have shape [batch, time, 2] with batch and time >= 1 (time = 5: the last 5 raw rows of the series), got [1, 4, 3]', fakeService(forecast));
    refuse({ inputs: [ok[0], lens([[1]], [1, 1])] }, 'inputs[1] (sequence_lens) must have shape [batch], got [1, 1]');
    refuse({ inputs: [x([1, 5, 2], Array.from({ length: 10 }, () => 1)), lens([5])] }, 'sequence_lens applies to model-space sequences; a forecaster takes whole windows (or set parameters.raw)', fakeService(forecast));
    refuse({ inputs: [x([2, 1, 2], [1, 2, 3, 4]), lens([1])] }, 'sequence_lens must hold one length per batch row (2), got 1');
    refuse({ inputs: [x([1, 3, 2], [1, 2, 3, 4, 5, 6]), lens([0])] }, 'sequence_lens[0] must be in [1, 3], got 0');
    refuse({ inputs: [x([2, 3, 2], Array.from({ length: 12 }, () => 1)), lens([3, 4])] }, 'sequence_lens[1] must be in [1, 3], got 4');
    refuse({ inputs: [lens([1])] }, 'inputs must include "x"');
  });
});

describe('model metadata', () => {
  it('a sequence model: x [-1, -1, I] (and sequence_lens), y [-1, -1, F]', () => {
    const m = modelMetadata(fakeService());
    expect(m).toMatchObject({ name: 'm', versions: ['7'], platform: 'onnxruntime_onnx' });
    expect(m.inputs).toEqual([{ name: 'x', datatype: 'FP32', shape: [-1, -1, 2] }, { name: 'sequence_lens', datatype: 'INT32', shape: [-1] }]);
    expect(m.outputs).toEqual([{ name: 'y', datatype: 'FP32', shape: [-1, -1, 3] }]);
    expect(m.parameters).toEqual({
      units: 'model',
      meaning: 'x and y are the network\'s own tensors (the file stores no normalisation)',
      raw_inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, -1, 2] }],
      raw_outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, -1, 3] }],
      streaming: 'stream_state',
      sha256: 'ab'.repeat(32),
    });
  });

  it('a last-step model without sequence_lens that cannot stream', () => {
    const svc = { ...fakeService({ mode: 'model' }, { returnsSequences: false, hasSequenceLens: false }), streamUnsupported: 'no state inputs' } as unknown as InferenceService;
    const m = modelMetadata(svc);
    expect(m.inputs).toEqual([{ name: 'x', datatype: 'FP32', shape: [-1, -1, 2] }]);
    expect(m.outputs).toEqual([{ name: 'y', datatype: 'FP32', shape: [-1, 3] }]);
    expect((m.parameters as Record<string, unknown>).streaming).toBe('unsupported: no state inputs');
  });

  it('normalised units say whether y is denormalised', () => {
    const both = modelMetadata(fakeService({ mode: 'normalized', input: true, output: true })).parameters as Record<string, unknown>;
    expect(both.units).toBe('normalized');
    expect(both.meaning).toBe('x and y in the data\'s units: the stored normalisation is applied to x and undone on y. parameters.raw = true takes model-space tensors');
    const inOnly = modelMetadata(fakeService({ mode: 'normalized', input: true, output: false })).parameters as Record<string, unknown>;
    expect(inOnly.meaning).toBe('x and y in the data\'s units: the stored normalisation is applied to x. parameters.raw = true takes model-space tensors');
  });

  it('a forecaster: x [-1, rows, I], y [-1, horizon, targets], the forecast settings', () => {
    const m = modelMetadata(fakeService(forecast, { returnsSequences: false }));
    expect(m.inputs).toEqual([{ name: 'x', datatype: 'FP32', shape: [-1, 5, 2] }]);
    expect(m.outputs).toEqual([{ name: 'y', datatype: 'FP32', shape: [-1, 2, 1] }]);
    expect(m.parameters).toMatchObject({
      units: 'forecast', window: 4, horizon: 2, transform: 'difference', input_columns: ['a', 'b'], target_columns: ['a'],
      meaning: 'x: the last 5 rows of the series in its own units (columns a, b); y: the next 2 rows of a in the same units, as `rnnx predict` forecasts them. parameters.raw = true takes model-space x [-1, -1, 2] instead',
      raw_outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 3] }],
    });
  });
});

describe('INT32 values', () => {
  it('x and sequence_lens as INT32 hold values of int32 only: 1e39 would have become Infinity in x', () => {
    const edge = parseInferRequest({ inputs: [x([1, 1, 2], [-2147483648, 2147483647], 'INT32')] }, fakeService());
    expect(Array.from(edge.sequences[0])).toEqual([Math.fround(-2147483648), Math.fround(2147483647)]);
    refuse({ inputs: [x([1, 1, 2], [1, 1e39], 'INT32')] }, 'inputs[0].data[1] must be within INT32 range [-2147483648, 2147483647], got 1e+39');
    refuse({ inputs: [x([1, 1, 2], [-2147483649, 0], 'INT32')] }, 'inputs[0].data[0] must be within INT32 range [-2147483648, 2147483647], got -2147483649');
    refuse({ inputs: [x([1, 1, 2], [2147483648, 0], 'INT32')] }, 'inputs[0].data[0] must be within INT32 range [-2147483648, 2147483647], got 2147483648');
    refuse({ inputs: [x([1, 1, 2], [1, 2]), lens([2 ** 32 + 1])] }, 'inputs[1].data[0] must be within INT32 range [-2147483648, 2147483647], got 4294967297');
    // INT64 lengths are checked as given against the time axis (they used to wrap to int32: 2^32 + 1 became 1 and passed).
    refuse({ inputs: [x([1, 1, 2], [1, 2]), lens([2 ** 32 + 1], [1], 'INT64')] }, 'sequence_lens[0] must be in [1, 1], got 4294967297');
    refuse({ inputs: [x([1, 1, 2], [1, 2]), lens([-(2 ** 32) + 1], [1], 'INT64')] }, 'sequence_lens[0] must be in [1, 1], got -4294967295');
  });
});

describe('metadata and messages, exactly', () => {
  it('a forecaster of two targets names both; other models carry no forecast keys at all', () => {
    const two: Units = { ...forecast, targetColumns: ['a', 'b'] } as Units;
    const m = modelMetadata(fakeService(two, { returnsSequences: false }));
    expect((m.parameters as Record<string, unknown>).meaning).toBe('x: the last 5 rows of the series in its own units (columns a, b); y: the next 2 rows of a, b in the same units, as `rnnx predict` forecasts them. parameters.raw = true takes model-space x [-1, -1, 2] instead');
    expect(m.outputs).toEqual([{ name: 'y', datatype: 'FP32', shape: [-1, 2, 2] }]);
    expect(Object.keys(modelMetadata(fakeService()).parameters as object)).toEqual(['units', 'meaning', 'raw_inputs', 'raw_outputs', 'streaming', 'sha256']);
    expect(Object.keys(m.parameters as object)).toEqual(['units', 'meaning', 'window', 'horizon', 'transform', 'input_columns', 'target_columns', 'raw_inputs', 'raw_outputs', 'streaming', 'sha256']);
  });

  it('called from code: values JSON cannot hold are still refused by name (a function, an undefined output)', () => {
    refuse({ id: () => 1, inputs: [x([1, 1, 2], [1, 2])] }, 'id must be a string, got () => 1');
    refuse({ outputs: [undefined], inputs: [x([1, 1, 2], [1, 2])] }, 'outputs[0].name must be "y" (the model\'s only output), got nothing');
    refuse({ outputs: ['y'], inputs: [x([1, 1, 2], [1, 2])] }, 'outputs[0].name must be "y" (the model\'s only output), got nothing');
  });
});
