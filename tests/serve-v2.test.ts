// The Open Inference Protocol (KServe V2 REST) routes of `rnnx serve`, on 127.0.0.1: one test per
// route and per error case, answers checked against ONNX Runtime on the file alone; several
// models in one process (files and a Triton-style repository folder); real units for the airline
// forecaster, checked against `rnnx predict` on the same window.

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dense, gru, lstm } from '../src/layers/spec.js';
import { InferenceModel } from '../src/runtime/inference.js';
import { startServer, type RunningServer } from '../src/serve/http.js';
import { newRegistry } from '../src/serve/metrics.js';
import { runCli } from '../src/cli/app.js';
import { maxAbsDiff } from './reference/util.js';
import { makeModel, randomSequences, rows, tempDir } from './serve-helpers.js';

const tmp = tempDir();
const I = 3;
let server: RunningServer;
let seqRef: InferenceModel;
let lastRef: InferenceModel;

interface Reply {
  status: number;
  body: any;
  headers: Headers;
}

async function call(method: string, url: string, body?: unknown): Promise<Reply> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

const opts = { port: 0, handleSignals: false, log: false as const, workers: 1, intraOpNumThreads: 1 };

beforeAll(async () => {
  const seq = makeModel(tmp.dir, 'oip', I, [lstm({ units: 8, returnSequences: true }), dense({ units: 2 })], 21).path;
  const last = makeModel(tmp.dir, 'last', I, [gru({ units: 5 }), dense({ units: 4 })], 22).path;
  server = await startServer({ ...opts, modelPath: [seq, last], maxWaitMs: 2, registry: newRegistry() });
  seqRef = await InferenceModel.open(seq, { intraOpNumThreads: 1 });
  lastRef = await InferenceModel.open(last, { intraOpNumThreads: 1 });
});

afterAll(async () => {
  await server?.close();
  await seqRef?.release();
  await lastRef?.release();
  tmp.cleanup();
});

describe('Open Inference Protocol v2: health and metadata', () => {
  it('GET /v2: server metadata', async () => {
    const r = await call('GET', `${server.url}/v2`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ name: 'rnnx', extensions: [] });
    expect(typeof r.body.version).toBe('string');
  });

  it('GET /v2/health/live and /v2/health/ready', async () => {
    expect(await call('GET', `${server.url}/v2/health/live`)).toMatchObject({ status: 200, body: { live: true } });
    expect(await call('GET', `${server.url}/v2/health/ready`)).toMatchObject({ status: 200, body: { ready: true } });
  });

  it('GET /v2/models/{name}: inputs and outputs with datatype and shape; the name is the file name', async () => {
    const r = await call('GET', `${server.url}/v2/models/oip`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      name: 'oip',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, -1, I] }, { name: 'sequence_lens', datatype: 'INT32', shape: [-1] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, -1, 2] }],
    });
    expect(r.body.parameters.units).toBe('model');
    const last = await call('GET', `${server.url}/v2/models/last/versions/1`);
    expect(last.body.outputs).toEqual([{ name: 'y', datatype: 'FP32', shape: [-1, 4] }]);
  });

  it('GET /v2/models/{name}/ready', async () => {
    expect(await call('GET', `${server.url}/v2/models/oip/ready`)).toMatchObject({ status: 200, body: { name: 'oip', ready: true } });
    expect(await call('GET', `${server.url}/v2/models/last/versions/1/ready`)).toMatchObject({ status: 200, body: { name: 'last', ready: true } });
  });

  it('unknown model or version → 404 with the protocol\'s {"error": string}', async () => {
    for (const path of ['/v2/models/nope', '/v2/models/nope/ready', '/v2/models/oip/versions/2', '/v2/models/oip/versions/2/ready']) {
      const r = await call('GET', `${server.url}${path}`);
      expect(r.status, path).toBe(404);
      expect(typeof r.body.error, path).toBe('string');
    }
    const r = await call('POST', `${server.url}/v2/models/nope/infer`, { inputs: [] });
    expect(r.status).toBe(404);
    expect(r.body.error).toMatch(/no model named "nope"; this server has "oip", "last"/);
  });

  it('wrong method → 405 with Allow', async () => {
    const r = await call('GET', `${server.url}/v2/models/oip/infer`);
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('POST');
    expect(typeof r.body.error).toBe('string');
  });
});

describe('Open Inference Protocol v2: infer', () => {
  const xs = randomSequences(31, 2, I, 5, 5);

  it('flat data, batch 2 with sequence_lens: each row equals ONNX Runtime on it alone, padding zero', async () => {
    const data = [...xs[0], ...xs[1]];
    const r = await call('POST', `${server.url}/v2/models/oip/infer`, {
      id: 'req-1',
      inputs: [
        { name: 'x', shape: [2, 5, I], datatype: 'FP32', data },
        { name: 'sequence_lens', shape: [2], datatype: 'INT32', data: [5, 3] },
      ],
      outputs: [{ name: 'y' }],
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ model_name: 'oip', model_version: '1', id: 'req-1' });
    const [y] = r.body.outputs;
    expect(y).toMatchObject({ name: 'y', datatype: 'FP32', shape: [2, 5, 2] });
    const a = await seqRef.run(xs[0], { batch: 1 });
    const b = await seqRef.run(xs[1].subarray(0, 3 * I), { batch: 1 });
    expect(maxAbsDiff(y.data.slice(0, 10), a.y)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(y.data.slice(10, 16), b.y)).toBeLessThanOrEqual(1e-5);
    expect(y.data.slice(16)).toEqual([0, 0, 0, 0]);
  });

  it('nested data gives the same as flat; INT32 x gives the same as FP32 of the same integers', async () => {
    const flat = await call('POST', `${server.url}/v2/models/oip/infer`, { inputs: [{ name: 'x', shape: [1, 5, I], datatype: 'FP32', data: Array.from(xs[0]) }] });
    const nested = await call('POST', `${server.url}/v2/models/oip/infer`, { inputs: [{ name: 'x', shape: [1, 5, I], datatype: 'FP32', data: [rows(xs[0], I)] }] });
    expect(nested.status).toBe(200);
    expect(nested.body.outputs[0].data).toEqual(flat.body.outputs[0].data);
    const ints = [1, -2, 3, 0, 2, -1];
    const asInt = await call('POST', `${server.url}/v2/models/oip/infer`, { inputs: [{ name: 'x', shape: [1, 2, I], datatype: 'INT32', data: ints }] });
    const asFloat = await call('POST', `${server.url}/v2/models/oip/infer`, { inputs: [{ name: 'x', shape: [1, 2, I], datatype: 'FP32', data: ints }] });
    expect(asInt.status).toBe(200);
    expect(asInt.body.outputs[0].data).toEqual(asFloat.body.outputs[0].data);
  });

  it('a second model in the same process answers its own', async () => {
    const r = await call('POST', `${server.url}/v2/models/last/versions/1/infer`, { inputs: [{ name: 'x', shape: [1, 5, I], datatype: 'FP32', data: Array.from(xs[1]) }] });
    expect(r.status).toBe(200);
    expect(r.body.outputs[0].shape).toEqual([1, 4]);
    expect(maxAbsDiff(r.body.outputs[0].data, (await lastRef.run(xs[1], { batch: 1 })).y)).toBeLessThanOrEqual(1e-5);
  });

  const bad: [string, unknown, RegExp][] = [
    ['no inputs', { outputs: [] }, /inputs must be a non-empty array/],
    ['data count does not match the shape', { inputs: [{ name: 'x', shape: [1, 2, I], datatype: 'FP32', data: [1, 2, 3] }] }, /inputs\[0\]\.data must hold 6 values \(shape \[1, 2, 3\]\), got 3/],
    ['wrong feature size', { inputs: [{ name: 'x', shape: [1, 2, 2], datatype: 'FP32', data: [1, 2, 3, 4] }] }, /must have shape \[batch, time, 3\]/],
    ['unsupported datatype', { inputs: [{ name: 'x', shape: [1, 1, I], datatype: 'BYTES', data: [1, 2, 3] }] }, /datatype must be FP32 or FP64 or INT32 for x, got "BYTES"/],
    ['non-integer INT32 value', { inputs: [{ name: 'x', shape: [1, 1, I], datatype: 'INT32', data: [1, 2.5, 3] }] }, /data\[1\] must be a finite integer \(INT32\), got 2.5/],
    ['a string where a number belongs', { inputs: [{ name: 'x', shape: [1, 1, I], datatype: 'FP32', data: [1, 'a', 3] }] }, /data\[1\] must be a finite number/],
    ['unknown input', { inputs: [{ name: 'z', shape: [1], datatype: 'FP32', data: [1] }] }, /inputs\[0\]\.name must be "x" or "sequence_lens", got "z"/],
    ['x missing', { inputs: [{ name: 'sequence_lens', shape: [1], datatype: 'INT32', data: [1] }] }, /inputs must include "x"/],
    ['sequence_lens out of range', { inputs: [{ name: 'x', shape: [1, 2, I], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] }, { name: 'sequence_lens', shape: [1], datatype: 'INT32', data: [3] }] }, /sequence_lens\[0\] must be in \[1, 2\], got 3/],
    ['unknown requested output', { inputs: [{ name: 'x', shape: [1, 1, I], datatype: 'FP32', data: [1, 2, 3] }], outputs: [{ name: 'z' }] }, /outputs\[0\]\.name must be "y"/],
    ['bad parameters.raw', { parameters: { raw: 'yes' }, inputs: [{ name: 'x', shape: [1, 1, I], datatype: 'FP32', data: [1, 2, 3] }] }, /parameters\.raw must be true or false, got "yes"/],
    ['body not an object', [1, 2], /request body must be a JSON object, got an array/],
    ['invalid JSON', '{"inputs": [', /request body is not valid JSON/],
  ];
  for (const [name, body, message] of bad) {
    it(`400 for ${name}, as {"error": message}`, async () => {
      const r = await call('POST', `${server.url}/v2/models/oip/infer`, body);
      expect(r.status).toBe(400);
      expect(typeof r.body.error).toBe('string');
      expect(r.body.error).toMatch(message);
    });
  }
});

describe('a model repository folder', () => {
  it('serves <name>/<version>/model.onnx, the highest version of each', async () => {
    const repo = join(tmp.dir, 'repo');
    const a = makeModel(tmp.dir, 'a-src', 2, [gru({ units: 3 })], 5).path;
    const b = makeModel(tmp.dir, 'b-src', 2, [gru({ units: 4 })], 6).path;
    for (const [name, version, src] of [['alpha', '1', b], ['alpha', '3', a], ['beta', '2', b]] as const) {
      mkdirSync(join(repo, name, version), { recursive: true });
      copyFileSync(src, join(repo, name, version, 'model.onnx'));
    }
    writeFileSync(join(repo, 'alpha', 'config.pbtxt'), 'name: "alpha"\n');
    const s = await startServer({ ...opts, modelPath: repo, registry: newRegistry() });
    try {
      expect((await call('GET', `${s.url}/v2/models/alpha`)).body).toMatchObject({ name: 'alpha', versions: ['3'] });
      expect((await call('GET', `${s.url}/v2/models/beta`)).body).toMatchObject({ name: 'beta', versions: ['2'] });
      const r = await call('POST', `${s.url}/v2/models/alpha/versions/3/infer`, { inputs: [{ name: 'x', shape: [1, 1, 2], datatype: 'FP32', data: [0.5, -0.5] }] });
      expect(r.status).toBe(200);
      expect(r.body.outputs[0].shape).toEqual([1, 3]);
    } finally {
      await s.close();
    }
  });
});

describe('real units: the airline forecaster', () => {
  const AIRLINE = 'models/airline/airline.onnx';
  const passengers = [112, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118, 115, 126, 141];

  /** `rnnx predict` on a CSV holding exactly `values`: the forecast of the next row, in passengers. */
  async function predictCli(values: number[]): Promise<number> {
    const csv = join(tmp.dir, `window-${values.length}-${values[0]}.csv`);
    writeFileSync(csv, `"Month","Passengers"\n${values.map((v, i) => `"m${i}",${v}`).join('\n')}\n`);
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
      out.push(String(c));
      return true;
    });
    try {
      expect(await runCli(['predict', AIRLINE, '-i', csv])).toBe(0);
    } finally {
      spy.mockRestore();
    }
    const lines = out.join('').trim().split('\n');
    expect(lines[0]).toBe('row,Passengers');
    return Number(lines[1].split(',')[1]);
  }

  let s: RunningServer;
  beforeAll(async () => {
    s = await startServer({ ...opts, modelPath: AIRLINE, registry: newRegistry() });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('metadata says the model takes 13 raw rows and answers in passengers', async () => {
    const r = await call('GET', `${s.url}/v2/models/airline`);
    expect(r.body.inputs).toEqual([{ name: 'x', datatype: 'FP32', shape: [-1, 13, 1] }]);
    expect(r.body.outputs).toEqual([{ name: 'y', datatype: 'FP32', shape: [-1, 1, 1] }]);
    expect(r.body.parameters).toMatchObject({ units: 'forecast', window: 12, horizon: 1, transform: 'log-difference', input_columns: ['Passengers'] });
    expect(r.body.parameters.meaning).toMatch(/last 13 rows of the series in its own units/);
  });

  it('13 raw passenger counts in → the forecast `rnnx predict` gives for that window, in passengers', async () => {
    const windows = [passengers.slice(0, 13), passengers.slice(2, 15)];
    const r = await call('POST', `${s.url}/v2/models/airline/infer`, {
      inputs: [{ name: 'x', shape: [2, 13, 1], datatype: 'FP32', data: windows.flat() }],
    });
    expect(r.status).toBe(200);
    expect(r.body.outputs[0].shape).toEqual([2, 1, 1]);
    for (let b = 0; b < 2; b++) {
      const expected = await predictCli(windows[b]);
      const got = r.body.outputs[0].data[b];
      // In passengers (≈ 100-150 here), not a normalised log-difference.
      expect(got).toBeGreaterThan(50);
      expect(Math.abs(got - expected) / Math.abs(expected)).toBeLessThanOrEqual(1e-4);
    }
    // /v1/predict answers in the same units.
    const v1 = await call('POST', `${s.url}/v1/predict`, { input: windows[0].map((v) => [v]) });
    expect(v1.status).toBe(200);
    expect(Math.abs(v1.body.output[0][0] - r.body.outputs[0].data[0])).toBeLessThanOrEqual(1e-3);
  });

  it('parameters.raw: model-space tensors, what ONNX Runtime gives on the file', async () => {
    const x = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i) * 0.5);
    const r = await call('POST', `${s.url}/v2/models/airline/infer`, { parameters: { raw: true }, inputs: [{ name: 'x', shape: [1, 12, 1], datatype: 'FP32', data: Array.from(x) }] });
    expect(r.status).toBe(200);
    const ref = await InferenceModel.open(AIRLINE, { intraOpNumThreads: 1 });
    try {
      expect(maxAbsDiff(r.body.outputs[0].data, (await ref.run(x, { batch: 1 })).y)).toBeLessThanOrEqual(1e-5);
    } finally {
      await ref.release();
    }
  });

  it('a window of the wrong length, or a non-positive count for a log transform → 400 saying what is expected', async () => {
    const short = await call('POST', `${s.url}/v2/models/airline/infer`, { inputs: [{ name: 'x', shape: [1, 12, 1], datatype: 'FP32', data: passengers.slice(0, 12) }] });
    expect(short.status).toBe(400);
    expect(short.body.error).toMatch(/time = 13: the last 13 raw rows|the last 13 rows of the series/);
    const bad = passengers.slice(0, 13);
    bad[4] = 0;
    const zero = await call('POST', `${s.url}/v2/models/airline/infer`, { inputs: [{ name: 'x', shape: [1, 13, 1], datatype: 'FP32', data: bad }] });
    expect(zero.status).toBe(400);
    expect(zero.body.error).toMatch(/input\[4\]\[0\] must be positive \(the model works on logarithms\), got 0/);
  });
});
