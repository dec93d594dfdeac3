// The request handler's door rules, on 127.0.0.1 with an in-process model: option checks, which
// Host and Origin headers each allowedHosts setting lets in, bearer-token syntax, content types,
// a base path, methods, readiness while refusing or draining, the memory budget and the
// receive budget, and /v1/model's report of the limits. Answers of work routes are checked
// against ONNX Runtime on the file.

import { request, createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { dense, gru } from '../src/layers/spec.js';
import { InferenceModel } from '../src/runtime/inference.js';
import { BODY_MEMORY_FACTOR, createRequestHandler, type HandlerOptions, type RequestHandler } from '../src/serve/handler.js';
import { BadRequestError, OverloadedError, ServeError, ShuttingDownError, TimeoutError } from '../src/serve/errors.js';
import { newRegistry } from '../src/serve/metrics.js';
import { openService, type InferenceService } from '../src/serve/service.js';
import { maxAbsDiff } from './reference/util.js';
import { makeModel, tempDir } from './serve-helpers.js';

const tmp = tempDir('rnnx-handler-');
let svc: InferenceService;
let ref: InferenceModel;
const I = 2;
const x = [[0.5, -1], [0.25, 2]];
let expected: Float32Array;

beforeAll(async () => {
  const { path } = makeModel(tmp.dir, 'door', I, [gru({ units: 4 }), dense({ units: 2 })], 9);
  svc = await openService(path, { workers: 0, intraOpNumThreads: 1, maxWaitMs: 0, registry: newRegistry() });
  ref = await InferenceModel.open(path, { intraOpNumThreads: 1 });
  expected = (await ref.run(Float32Array.from(x.flat()), { batch: 1 })).y;
});
afterAll(async () => {
  await svc?.close();
  await ref?.release();
  tmp.cleanup();
});

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: any }

function send(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, method, path, headers: { ...(body === undefined || headers['transfer-encoding'] ? {} : { 'content-length': String(Buffer.byteLength(body)) }), ...headers } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode!, headers: res.headers, body: parsed });
      });
    });
    r.on('error', reject);
    if (body !== undefined) r.write(body);
    r.end();
  });
}

async function withHandler(options: HandlerOptions, fn: (port: number, h: RequestHandler) => Promise<void>): Promise<void> {
  await withFake(svc, options, fn);
}

const json = { 'content-type': 'application/json' };
const predictBody = JSON.stringify({ input: x });
/** A predict body of exactly `bytes` bytes (x padded with an ignored field). */
const sized = (bytes: number) => JSON.stringify({ input: x, pad: 'p'.repeat(bytes - JSON.stringify({ input: x, pad: '' }).length) });

describe('options', () => {
  it('limits must be positive integers, the token 16+ characters, the base path absolute; services distinct and present', async () => {
    for (const [o, message] of [
      [{ maxBodyBytes: 0 }, 'maxBodyBytes must be a positive integer, got 0'],
      [{ maxBufferedBodyBytes: 1.5 }, 'maxBufferedBodyBytes must be a positive integer, got 1.5'],
      [{ memoryBudgetBytes: -1 }, 'memoryBudgetBytes must be a positive integer, got -1'],
      [{ bodyTimeoutMs: 0 }, 'bodyTimeoutMs must be a positive number of milliseconds'],
      [{ token: 'x'.repeat(15) }, 'token must be a string of at least 16 characters, got 15 characters'],
      [{ token: 12 as unknown as string }, 'token must be a string of at least 16 characters, got number'],
      [{ basePath: 'rnnx' }, 'basePath must start with "/", got "rnnx"'],
    ] as [HandlerOptions, string][]) {
      expect(() => createRequestHandler(svc, o), JSON.stringify(o)).toThrow(message);
    }
    expect(() => createRequestHandler([])).toThrow('createRequestHandler needs at least one service');
    expect(() => createRequestHandler([svc, svc])).toThrow('two models are named "door"; give each a distinct name');
    const h = createRequestHandler(svc, { token: 'x'.repeat(16), basePath: '/' });
    expect(h.services.get('door')).toBe(svc);
    expect([h.inFlight, h.memoryInUse]).toEqual([0, 0]);
    h.dispose();
  });
});

describe('Host and Origin', () => {
  it('loopback: loopback names and addresses with or without a port, any case; others 403', async () => {
    await withHandler({ allowedHosts: 'loopback' }, async (port) => {
      for (const host of ['localhost', 'LOCALHOST:8080', 'localhost.', 'app.localhost', '127.0.0.1', '127.1.2.3:99', '[::1]', '[::1]:8080']) {
        expect((await send(port, 'GET', '/v1/model', { host })).status, host).toBe(200);
      }
      for (const host of ['example.com', '127.0.0.1.example.com', '128.0.0.1', '[::2]', 'localhost.example']) {
        const r = await send(port, 'GET', '/v1/model', { host });
        expect(r.status, host).toBe(403);
        expect(r.body.error.code).toBe('forbidden');
        expect(r.body.error.message).toBe(`Host ${JSON.stringify(host)} is not allowed: this server answers only loopback names (localhost, 127.0.0.1, [::1]) (protection against DNS rebinding)`);
      }
      // Origins: a loopback page may call; a foreign one, "null" and garbage may not.
      for (const origin of ['http://localhost:3000', 'http://127.0.0.1', 'http://[::1]:5173']) {
        expect((await send(port, 'GET', '/v1/model', { host: 'localhost', origin })).status, origin).toBe(200);
      }
      const foreign = await send(port, 'GET', '/v1/model', { host: 'localhost', origin: 'https://attacker.example' });
      expect([foreign.status, foreign.body.error.message]).toEqual([403, 'Origin "https://attacker.example" is not allowed: cross-site requests from web pages are refused']);
      const nul = await send(port, 'GET', '/v1/model', { host: 'localhost', origin: 'null' });
      expect([nul.status, nul.body.error.message]).toEqual([403, 'Origin "null" (a sandboxed or file: page) is not allowed']);
      const bad = await send(port, 'GET', '/v1/model', { host: 'localhost', origin: 'not a url' });
      expect([bad.status, bad.body.error.message]).toEqual([403, 'Origin "not a url" is not a valid origin']);
    });
  });

  it('a list of names: those only (any case), for Host and Origin', async () => {
    await withHandler({ allowedHosts: ['api.example', '[::1]'] }, async (port) => {
      expect((await send(port, 'GET', '/healthz', { host: 'API.example:443' })).status).toBe(200);
      expect((await send(port, 'GET', '/healthz', { host: '[::1]:80', origin: 'http://[::1]:8080' })).status).toBe(200);
      const r = await send(port, 'GET', '/healthz', { host: 'localhost' });
      expect(r.status).toBe(403);
      expect(r.body.error.message).toBe('Host "localhost" is not allowed: this server answers only api.example, [::1] (protection against DNS rebinding)');
      expect((await send(port, 'GET', '/healthz', { host: 'api.example', origin: 'https://other.example' })).status).toBe(403);
      expect((await send(port, 'GET', '/healthz', { host: 'api.example', origin: 'https://api.example' })).status).toBe(200);
    });
  });

  it('any (the default when mounted): every Host and Origin', async () => {
    await withHandler({}, async (port) => {
      expect((await send(port, 'GET', '/healthz', { host: 'whatever.example', origin: 'null' })).status).toBe(200);
    });
  });
});

describe('bearer token and content type', () => {
  it('Bearer in any case, with extra spaces; anything else 401 saying which', async () => {
    const token = 'tok-0123456789abcdef';
    await withHandler({ token }, async (port) => {
      for (const auth of [`Bearer ${token}`, `bearer ${token}`, `BEARER   ${token}  `]) {
        expect((await send(port, 'GET', '/v1/model', { authorization: auth })).status, auth).toBe(200);
      }
      const wrong = await send(port, 'GET', '/v1/model', { authorization: `Bearer ${token}x` });
      expect([wrong.status, wrong.body.error.code, wrong.body.error.message]).toEqual([401, 'unauthorized', 'the bearer token is not valid']);
      expect(wrong.headers['www-authenticate']).toBe('Bearer realm="rnnx"');
      const none = await send(port, 'GET', '/v1/model');
      expect(none.body.error.message).toBe('this server needs "Authorization: Bearer <token>"');
      for (const auth of [`Bearer ${token} extra`, `Bearer`, `Token ${token}`]) expect((await send(port, 'GET', '/v1/model', { authorization: auth })).status, auth).toBe(401);
      // Health probes need none.
      expect((await send(port, 'GET', '/v2/models/door/ready')).status).toBe(200);
    });
  });

  it('JSON, +json or no content type; anything else 415', async () => {
    await withHandler({}, async (port) => {
      for (const ct of ['application/json', 'Application/JSON; charset=utf-8', 'application/vnd.api+json']) {
        const r = await send(port, 'POST', '/v1/predict', { 'content-type': ct }, predictBody);
        expect(r.status, ct).toBe(200);
        expect(maxAbsDiff(r.body.output, expected)).toBeLessThanOrEqual(1e-6);
      }
      expect((await send(port, 'POST', '/v1/predict', {}, predictBody)).status).toBe(200);
      const form = await send(port, 'POST', '/v1/predict', { 'content-type': 'application/x-www-form-urlencoded' }, predictBody);
      expect([form.status, form.body.error.code, form.body.error.message]).toEqual([415, 'unsupported_media_type', 'content-type must be application/json, got "application/x-www-form-urlencoded"']);
    });
  });
});

describe('routes', () => {
  it('a base path: routes live under it only', async () => {
    await withHandler({ basePath: '/rnnx/' }, async (port) => {
      expect((await send(port, 'GET', '/rnnx/healthz')).status).toBe(200);
      expect((await send(port, 'GET', '/rnnx/v2/health/live?x=1')).body).toEqual({ live: true });
      expect((await send(port, 'GET', '/healthz')).status).toBe(404);
      expect((await send(port, 'GET', '/rnnxhealthz')).status).toBe(404);
      const root = await send(port, 'GET', '/rnnx');
      expect([root.status, root.body.error.message]).toEqual([404, 'no route GET /']);
    });
  });

  it('405 lists the allowed methods (GET routes allow HEAD); v2 errors are strings, v1 errors objects', async () => {
    await withHandler({}, async (port) => {
      const r = await send(port, 'PUT', '/v1/model');
      expect([r.status, r.headers.allow, r.body.error]).toEqual([405, 'GET, HEAD', { code: 'method_not_allowed', message: 'PUT is not allowed on /v1/model; use GET or HEAD' }]);
      const s = await send(port, 'GET', '/v1/streams/abc');
      expect([s.status, s.headers.allow]).toEqual([405, 'POST, DELETE']);
      const v2 = await send(port, 'DELETE', '/v2/models/door/infer');
      expect([v2.status, v2.body.error]).toEqual([405, 'DELETE is not allowed on /v2/models/door/infer; use POST']);
      const none = await send(port, 'GET', '/v3');
      expect(none.body.error).toEqual({ code: 'not_found', message: 'no route GET /v3' });
      const noneV2 = await send(port, 'GET', '/v2/nothing');
      expect(noneV2.body.error).toBe('no route GET /v2/nothing');
      const head = await send(port, 'HEAD', '/healthz');
      expect([head.status, head.body]).toEqual([200, '']);
    });
  });

  it('without next every unknown path is answered; with next it is passed on', async () => {
    const h = createRequestHandler(svc, {});
    let passed = 0;
    const server = createServer((req, res) => h(req, res, () => {
      passed++;
      res.end('app');
    }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (server.address() as AddressInfo).port;
      expect((await send(port, 'GET', '/elsewhere')).body).toBe('app');
      expect((await send(port, 'GET', '/healthz')).body).toEqual({ status: 'ok' });
      expect(passed).toBe(1);
    } finally {
      h.dispose();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('/v1/model reports the model and every limit; /v2 the server', async () => {
    await withHandler({ maxBodyBytes: 5000, bodyTimeoutMs: 700, memoryBudgetBytes: 90_000 }, async (port) => {
      const m = (await send(port, 'GET', '/v1/model')).body;
      expect(m).toMatchObject({
        name: 'door', inputSize: 2, outputSize: 2, returnsSequences: false, workers: 0, streaming: true, units: { mode: 'model' },
        limits: { maxBatch: 64, maxWaitMs: 0, maxQueue: 1024, timeoutMs: 30_000, maxTime: 20_000, maxBodyBytes: 5000, maxBatchBytes: 256 * 1024 * 1024, bodyTimeoutMs: 700, memoryBudgetBytes: 90_000 },
      });
      expect(m.spec.inputSize).toBe(2);
      expect((await send(port, 'GET', '/v2')).body).toEqual({ name: 'rnnx', version: expect.any(String), extensions: [] });
      expect((await send(port, 'GET', '/v2/')).status).toBe(200);
    });
  });
});

describe('readiness and budgets', () => {
  it('draining: work 503 with connection close, health and metadata still answer, readiness says no', async () => {
    await withHandler({}, async (port, h) => {
      expect(h.ready()).toBe(true);
      expect((await send(port, 'GET', '/readyz')).body).toEqual({ status: 'ready', provider: svc.provider });
      h.drain();
      expect(h.ready()).toBe(false);
      const w = await send(port, 'POST', '/v1/predict', json, predictBody);
      expect([w.status, w.body.error.code, w.headers.connection]).toEqual([503, 'shutting_down', 'close']);
      expect((await send(port, 'GET', '/readyz')).body).toEqual({ status: 'draining' });
      expect((await send(port, 'GET', '/readyz')).status).toBe(503);
      expect((await send(port, 'GET', '/v2/health/ready')).body).toEqual({ ready: false });
      expect((await send(port, 'GET', '/v2/health/ready')).status).toBe(400);
      expect((await send(port, 'GET', '/v2/models/door/ready')).body).toEqual({ name: 'door', ready: false });
      expect((await send(port, 'GET', '/v1/model')).status).toBe(200);
      expect((await send(port, 'GET', '/v2/health/live')).status).toBe(200);
      await h.idle();
    });
  });

  it('readiness after a refusal: no until a full second has passed, to the millisecond (performance.now faked)', async () => {
    const body = JSON.stringify({ input: x, pad: 'p'.repeat(200) });
    vi.useFakeTimers({ toFake: ['performance'] });
    try {
      await withHandler({ memoryBudgetBytes: 10 }, async (port, h) => {
        expect(h.ready()).toBe(true);
        expect((await send(port, 'POST', '/v1/predict', json, body)).status).toBe(503);
        vi.advanceTimersByTime(999);
        expect(h.ready()).toBe(false);
        vi.advanceTimersByTime(1);
        expect(h.ready()).toBe(false); // exactly 1000 ms: not yet
        vi.advanceTimersByTime(1);
        expect(h.ready()).toBe(true);
      });
    } finally {
      vi.useRealTimers();
    }
  });

  it('the memory budget: a body charged 6x past it is refused 503, readiness says no for a second, then yes', async () => {
    const body = JSON.stringify({ input: x, pad: 'p'.repeat(200) });
    const charge = Buffer.byteLength(body) * BODY_MEMORY_FACTOR;
    expect(BODY_MEMORY_FACTOR).toBe(6);
    await withHandler({ memoryBudgetBytes: charge }, async (port, h) => {
      // Exactly the budget: accepted.
      expect((await send(port, 'POST', '/v1/predict', json, body)).status).toBe(200);
      expect(h.memoryInUse).toBe(0);
      expect(h.ready()).toBe(true);
    });
    await withHandler({ memoryBudgetBytes: charge - 1 }, async (port, h) => {
      const r = await send(port, 'POST', '/v1/predict', json, body);
      expect([r.status, r.body.error.code]).toEqual([503, 'overloaded']);
      expect(r.body.error.message).toBe(`overloaded: requests in progress hold about 0 bytes (memoryBudgetBytes ${charge - 1}); retry later`);
      expect(h.memoryInUse).toBe(0);
      expect(h.ready()).toBe(false);
      expect((await send(port, 'GET', '/readyz')).body).toEqual({ status: 'overloaded' });
      await new Promise((r) => setTimeout(r, 1100));
      expect(h.ready()).toBe(true);
      // A small request still fits.
      expect((await send(port, 'POST', '/v1/predict', json, predictBody)).status).toBe(200);
    });
  });

  it('bodies over maxBodyBytes: 413 from the declared length or while reading; over the receive budget: 503', async () => {
    const body = JSON.stringify({ input: x });
    const n = Buffer.byteLength(body);
    await withHandler({ maxBodyBytes: n }, async (port) => {
      expect((await send(port, 'POST', '/v1/predict', json, body)).status).toBe(200);
    });
    await withHandler({ maxBodyBytes: n - 1 }, async (port) => {
      const r = await send(port, 'POST', '/v1/predict', json, body);
      expect([r.status, r.body.error.code, r.body.error.message]).toEqual([413, 'payload_too_large', `request body is ${n} bytes, over the limit of ${n - 1} bytes (maxBodyBytes)`]);
      expect(r.headers.connection).toBe('close');
      const chunked = await send(port, 'POST', '/v1/predict', { ...json, 'transfer-encoding': 'chunked' }, body);
      expect([chunked.status, chunked.body.error.message]).toEqual([413, `request body exceeds the limit of ${n - 1} bytes (maxBodyBytes)`]);
    });
    await withHandler({ maxBufferedBodyBytes: n - 1 }, async (port, h) => {
      const r = await send(port, 'POST', '/v1/predict', json, body);
      expect([r.status, r.body.error.message]).toEqual([503, `overloaded: request bodies being received already hold 0 bytes (maxBufferedBodyBytes ${n - 1}); retry later`]);
      expect(h.ready()).toBe(false);
    });
    await withHandler({ maxBufferedBodyBytes: n }, async (port) => {
      expect((await send(port, 'POST', '/v1/predict', json, body)).status).toBe(200);
    });
  });
});

describe('v1 predict bodies', () => {
  it('input or inputs, not both; raw must be a boolean; inputs a non-empty list within the queue\'s bytes', async () => {
    await withHandler({}, async (port) => {
      const post = (b: unknown) => send(port, 'POST', '/v1/predict', json, JSON.stringify(b));
      const list = await post({ inputs: [x, x.slice(0, 1)] });
      expect(list.status).toBe(200);
      expect(maxAbsDiff(list.body.outputs[0].output, expected)).toBeLessThanOrEqual(1e-6);
      expect(list.body.outputs[1].dims).toEqual([2]);
      expect((await post({ input: x, inputs: [x] })).body.error.message).toBe('give either "input" (one sequence) or "inputs" (a list of sequences), not both');
      expect((await post({ input: x, raw: 'yes' })).body.error.message).toBe('raw must be true or false, got "yes"');
      expect((await post({ input: x, raw: false })).status).toBe(200);
      expect((await post({ inputs: [] })).body.error.message).toBe('inputs must be a non-empty array of sequences ([batch][time][2]), got an empty array');
      expect((await post({ inputs: 'abc' })).body.error.message).toBe('inputs must be a non-empty array of sequences ([batch][time][2]), got "abc"');
      expect((await post({})).body.error.message).toBe('request body must have "input" (one sequence, [time][2]) or "inputs" (a list of them)');
      expect((await post(null)).body.error.message).toBe('request body must be a JSON object, got null');
      expect((await post({ input: x, timeoutMs: 5000 })).status).toBe(200);
    });
  });
});

describe('work routes against ONNX Runtime', () => {
  it('v2 infer: rows of different lengths padded with zeros to the longest; id and version echoed', async () => {
    const { path } = makeModel(tmp.dir, 'seqout', I, [gru({ units: 3, returnSequences: true }), dense({ units: 2 })], 4);
    const s2 = await openService(path, { workers: 0, intraOpNumThreads: 1, maxWaitMs: 0, registry: newRegistry(), version: '3' });
    const r2 = await InferenceModel.open(path, { intraOpNumThreads: 1 });
    const h = createRequestHandler([s2, svc], {});
    const server = createServer(h);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (server.address() as AddressInfo).port;
      const data = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
      const body = { id: 'q7', inputs: [{ name: 'x', shape: [2, 3, 2], datatype: 'FP32', data }, { name: 'sequence_lens', shape: [2], datatype: 'INT32', data: [3, 1] }] };
      const r = await send(port, 'POST', '/v2/models/seqout/versions/3/infer', json, JSON.stringify(body));
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ model_name: 'seqout', model_version: '3', id: 'q7' });
      expect(r.body.outputs[0]).toMatchObject({ name: 'y', datatype: 'FP32', shape: [2, 3, 2] });
      const a = (await r2.run(Float32Array.from(data.slice(0, 6)), { batch: 1 })).y;
      const b = (await r2.run(Float32Array.from(data.slice(6, 8)), { batch: 1 })).y;
      const got: number[] = r.body.outputs[0].data;
      expect(maxAbsDiff(got.slice(0, 6), a)).toBeLessThanOrEqual(1e-6);
      expect(maxAbsDiff(got.slice(6, 8), b)).toBeLessThanOrEqual(1e-6);
      expect(got.slice(8)).toEqual([0, 0, 0, 0]);
      // Without an id, none is answered; a last-step model's y is [N, F].
      const last = await send(port, 'POST', '/v2/models/door/infer', json, JSON.stringify({ inputs: [{ name: 'x', shape: [1, 2, 2], datatype: 'FP32', data: x.flat() }] }));
      expect(last.body).not.toHaveProperty('id');
      expect(last.body.outputs[0].shape).toEqual([1, 2]);
      expect(maxAbsDiff(last.body.outputs[0].data, expected)).toBeLessThanOrEqual(1e-6);
      // Client-carried state: two chunks equal one run.
      const c1 = await send(port, 'POST', '/v2/models/seqout/infer', json, JSON.stringify({ parameters: { stream_state: true }, inputs: [{ name: 'x', shape: [1, 2, 2], datatype: 'FP32', data: data.slice(0, 4) }] }));
      expect(c1.body.parameters.stream_steps).toBe(2);
      expect(c1.body.outputs[0].shape).toEqual([1, 2, 2]);
      const c2 = await send(port, 'POST', '/v2/models/seqout/infer', json, JSON.stringify({ parameters: { stream_state: c1.body.parameters.stream_state }, inputs: [{ name: 'x', shape: [1, 1, 2], datatype: 'FP32', data: data.slice(4, 6) }] }));
      expect(c2.body.parameters.stream_steps).toBe(3);
      expect(maxAbsDiff([...c1.body.outputs[0].data, ...c2.body.outputs[0].data], a)).toBeLessThanOrEqual(1e-5);
      // Versions and names.
      const wrongV = await send(port, 'GET', '/v2/models/seqout/versions/2');
      expect([wrongV.status, wrongV.body.error]).toEqual([404, 'model "seqout" has no version "2"; it has "3"']);
      const unknown = await send(port, 'GET', '/v2/models/nope/ready');
      expect([unknown.status, unknown.body.error]).toEqual([404, 'no model named "nope"; this server has "seqout", "door"']);
      const badEnc = await send(port, 'GET', '/v2/models/%E0%A4%A/ready');
      expect([badEnc.status, badEnc.body.error]).toEqual([404, 'model name "%E0%A4%A" is not valid percent-encoding']);
      expect((await send(port, 'GET', '/v2/models/seq%6Fut/versions/3/ready')).body).toEqual({ name: 'seqout', ready: true });
      // /v1 routes use the first model.
      expect((await send(port, 'GET', '/v1/model')).body.name).toBe('seqout');
    } finally {
      h.dispose();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await s2.close();
      await r2.release();
    }
  });

  it('v1 streams: open 201, append, reset, delete; unknown ids 404; bad ids 400', async () => {
    await withHandler({}, async (port) => {
      const open = await send(port, 'POST', '/v1/streams');
      expect(open.status).toBe(201);
      const id: string = open.body.id;
      const append = (input: unknown) => send(port, 'POST', `/v1/streams/${id}`, json, JSON.stringify({ input }));
      const a = await append(x.slice(0, 1));
      expect([a.status, a.body.steps, a.body.dims]).toEqual([200, 1, [2]]);
      const b = await append(x.slice(1));
      expect(b.body.steps).toBe(2);
      expect(maxAbsDiff(b.body.output, expected)).toBeLessThanOrEqual(1e-6);
      expect((await send(port, 'POST', `/v1/streams/${id}`, json, JSON.stringify({ chunk: x }))).body.error.message).toBe('request body must have "input": the next chunk, [time][2]');
      expect((await send(port, 'POST', `/v1/streams/${id}/reset`)).body).toEqual({ id, steps: 0 });
      const again = await append(x);
      expect(again.body.steps).toBe(2);
      expect(maxAbsDiff(again.body.output, expected)).toBeLessThanOrEqual(1e-6);
      expect((await send(port, 'DELETE', `/v1/streams/${id}`)).body).toEqual({ id, closed: true });
      const gone = await append(x);
      expect([gone.status, gone.body.error.code]).toEqual([404, 'not_found']);
      const bad = await send(port, 'DELETE', '/v1/streams/%ZZ');
      expect([bad.status, bad.body.error.message]).toEqual([400, 'stream id "%ZZ" is not valid percent-encoding (expected an id returned by POST /v1/streams)']);
    });
  });
});

/** A POST whose body arrives in two parts: the first now, the rest on finish(), or never (leave()). */
function partialPost(port: number, path: string, body: string, firstBytes: number): { finish(): void; leave(): void; reply: Promise<Reply>; socket: Promise<Socket> } {
  let req!: ReturnType<typeof request>;
  const reply = new Promise<Reply>((resolve, reject) => {
    req = request({ host: '127.0.0.1', port, method: 'POST', path, headers: { ...json, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) }));
    });
    req.on('error', reject);
  });
  const socket = new Promise<Socket>((resolve) => req.on('socket', resolve));
  req.write(body.slice(0, firstBytes));
  return { finish: () => req.end(body.slice(firstBytes)), leave: () => req.destroy(), reply, socket };
}

async function until(what: string, cond: () => boolean, ms = 2000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function inFlightGauge(): Promise<number> {
  const m = (await svc.registry.getSingleMetric('rnnx_http_requests_in_flight')!.get()) as { values: { value: number }[] };
  return m.values[0].value;
}

describe('requests in progress', () => {
  it('idle() waits for every request in progress, not the first to end; the in-flight gauge counts them until dispose', async () => {
    await withHandler({}, async (port, h) => {
      await h.idle(); // none in progress: at once
      const a = partialPost(port, '/v1/predict', predictBody, 5);
      await until('the first request to start', () => h.inFlight === 1);
      let idle = false;
      const idled = h.idle().then(() => (idle = true));
      const b = await send(port, 'POST', '/v1/predict', json, predictBody);
      expect(b.status).toBe(200);
      expect(maxAbsDiff(b.body.output, expected)).toBeLessThanOrEqual(1e-6);
      await new Promise((r) => setTimeout(r, 30));
      expect([idle, h.inFlight, await inFlightGauge()]).toEqual([false, 1, 1]);
      a.finish();
      const ra = await a.reply;
      expect(ra.status).toBe(200);
      expect(maxAbsDiff(ra.body.output, expected)).toBeLessThanOrEqual(1e-6);
      await Promise.race([idled, new Promise((_, rej) => setTimeout(() => rej(new Error('idle() did not resolve')), 2000))]);
      expect([idle, h.inFlight]).toEqual([true, 0]);
      // A disposed handler no longer reports: its request in progress leaves the gauge.
      const c = partialPost(port, '/v1/predict', predictBody, 5);
      await until('the third request to start', () => h.inFlight === 1);
      expect(await inFlightGauge()).toBe(1);
      h.dispose();
      expect(await inFlightGauge()).toBe(0);
      c.finish();
      expect((await c.reply).status).toBe(200);
    });
  });

  it('a client that leaves mid-body gives its received bytes back at once (not at the body timeout)', async () => {
    const pad = JSON.stringify({ input: x, pad: 'p'.repeat(300) });
    const n = Buffer.byteLength(pad);
    const events: Record<string, unknown>[] = [];
    await withHandler({ maxBufferedBodyBytes: n + 100, bodyTimeoutMs: 60_000, log: (e) => events.push(e) }, async (port, h) => {
      const a = partialPost(port, '/v1/predict', pad, n - 10);
      a.reply.catch(() => {}); // its socket is destroyed: no answer
      await until('the body to be charged', () => h.memoryInUse === (n - 10) * BODY_MEMORY_FACTOR);
      a.leave();
      await until('the request to end', () => h.inFlight === 0 && h.memoryInUse === 0);
      // A client leaving is the 499 "cancelled", not a server error logged as a 500.
      expect(events).toEqual([]);
      // The receive budget holds only one such body: this one fits again.
      const r = await send(port, 'POST', '/v1/predict', json, pad);
      expect(r.status).toBe(200);
      expect(maxAbsDiff(r.body.output, expected)).toBeLessThanOrEqual(1e-6);
    });
  });

  it('a body refused part-way gives its received bytes back once: the rest of it and its end change nothing', async () => {
    await withHandler({ maxBufferedBodyBytes: 1000, bodyTimeoutMs: 60_000 }, async (port, h) => {
      const a = partialPost(port, '/v1/predict', sized(700), 600);
      await until('600 bytes of A', () => h.memoryInUse === 600 * BODY_MEMORY_FACTOR);
      const b = partialPost(port, '/v1/predict', sized(500), 200);
      await until('200 bytes of B', () => h.memoryInUse === 800 * BODY_MEMORY_FACTOR);
      // B's other 300 bytes would hold 1100 > 1000: B is refused, having held 200.
      b.finish();
      expect((await b.reply).status).toBe(503);
      a.finish();
      expect((await a.reply).status).toBe(200);
      await until('both to end', () => h.inFlight === 0);
      // Nothing is held now: a body of 1000 bytes fits exactly, one of 1001 does not.
      expect((await send(port, 'POST', '/v1/predict', json, sized(1000))).status).toBe(200);
      const over = await send(port, 'POST', '/v1/predict', json, sized(1001));
      expect([over.status, over.body.error.message]).toEqual([503, 'overloaded: request bodies being received already hold 0 bytes (maxBufferedBodyBytes 1000); retry later']);
    });
  });

  it("a request 'error' after its body was refused does not give the bytes back a second time", async () => {
    // node:http can still emit 'error' on a request (the client resets the connection) after the
    // handler has refused its body and while the answer is being written; the test emits it
    // itself on the request object, once the refusal is out, to reach that order every time.
    const h = createRequestHandler(svc, { maxBufferedBodyBytes: 1000, bodyTimeoutMs: 60_000 });
    const seen: IncomingMessage[] = [];
    const listener: RequestListener = (req, res) => {
      seen.push(req);
      h(req, res);
    };
    await onPort(listener, h, async (port) => {
      // 600 bytes held, then the other 500 of an 1100-byte body: over the receive budget, 503,
      // the 600 given back.
      const a = partialPost(port, '/v1/predict', sized(1100), 600);
      await until('600 bytes of A', () => h.memoryInUse === 600 * BODY_MEMORY_FACTOR);
      a.finish();
      expect((await a.reply).status).toBe(503);
      seen[0].emit('error', Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
      // Still nothing held: 1001 bytes do not fit in 1000 (counted twice, the budget would read
      // -600 and let them in).
      const over = await send(port, 'POST', '/v1/predict', json, sized(1001));
      expect([over.status, over.body.error.message]).toEqual([503, 'overloaded: request bodies being received already hold 0 bytes (maxBufferedBodyBytes 1000); retry later']);
      const fits = await send(port, 'POST', '/v1/predict', json, sized(1000));
      expect(fits.status).toBe(200);
      expect(maxAbsDiff(fits.body.output, expected)).toBeLessThanOrEqual(1e-6);
    });
  });

  it('a body cut by its timeout gives its bytes back once, and its connection is closed', async () => {
    await withHandler({ maxBufferedBodyBytes: 1000, bodyTimeoutMs: 100 }, async (port, h) => {
      // 408 after 100 ms, then its socket is destroyed.
      const e = partialPost(port, '/v1/predict', sized(500), 300);
      expect((await e.reply).status).toBe(408);
      await until('it to end', () => h.inFlight === 0);
      await new Promise((r) => setTimeout(r, 50));
      expect((await send(port, 'POST', '/v1/predict', json, sized(1000))).status).toBe(200);
      expect((await send(port, 'POST', '/v1/predict', json, sized(1001))).status).toBe(503);
    });
  });

  it('chunks that arrive after a body is refused are not counted: a large body refused at its second chunk', async () => {
    const M = 256 * 1024;
    await withHandler({ maxBufferedBodyBytes: M, bodyTimeoutMs: 60_000 }, async (port, h) => {
      // A holds 150 KiB; B's 300 KiB come in chunks of at most 64 KiB: one or two fit, the next
      // overflows, and every later one would fit again beside A's.
      const a = partialPost(port, '/v1/predict', sized(150 * 1024 + 10), 150 * 1024);
      await until('A\'s bytes', () => h.memoryInUse === 150 * 1024 * BODY_MEMORY_FACTOR, 5000);
      const b = await send(port, 'POST', '/v1/predict', json, sized(300 * 1024)).catch(() => null);
      if (b) expect(b.status).toBe(503);
      a.finish();
      expect((await a.reply).status).toBe(200);
      await until('both to end', () => h.inFlight === 0);
      // Nothing is held: a body of exactly M bytes fits.
      expect((await send(port, 'POST', '/v1/predict', json, sized(M))).status).toBe(200);
    });
  });

  it('an error after the whole body was read keeps the connection; a body left unread closes it', async () => {
    await withHandler({ maxBodyBytes: 64 }, async (port) => {
      const bad = await send(port, 'POST', '/v1/predict', json, '{"input": [[1, 2]');
      expect([bad.status, bad.body.error.code, bad.headers.connection]).toEqual([400, 'bad_request', 'keep-alive']);
      const big = await send(port, 'POST', '/v1/predict', json, JSON.stringify({ input: x, pad: 'p'.repeat(100) }));
      expect([big.status, big.headers.connection]).toEqual([413, 'close']);
    });
  });

  it('an error answer to a request without a body keeps the connection (404, 405, 401)', async () => {
    await withHandler({}, async (port) => {
      const missing = await send(port, 'GET', '/v1/nothing', {});
      expect([missing.status, missing.body.error.code, missing.headers.connection]).toEqual([404, 'not_found', 'keep-alive']);
      const wrongMethod = await send(port, 'DELETE', '/v1/predict', {});
      expect([wrongMethod.status, wrongMethod.headers.connection]).toEqual([405, 'keep-alive']);
    });
    await withHandler({ token: 'a-token-of-24-characters' }, async (port) => {
      const unauthorised = await send(port, 'GET', '/v1/model', {});
      expect([unauthorised.status, unauthorised.headers.connection]).toEqual([401, 'keep-alive']);
    });
  });

  it('a content type is only checked on POST: a GET with any content type is answered', async () => {
    await withHandler({}, async (port) => {
      const r = await send(port, 'GET', '/v1/model', { 'content-type': 'text/plain' });
      expect([r.status, r.body.name]).toEqual([200, 'door']);
      const h = await send(port, 'GET', '/healthz', { 'content-type': 'application/x-www-form-urlencoded' });
      expect(h.status).toBe(200);
    });
  });
});

describe('bodies that do not arrive', () => {
  it('a body still missing at bodyTimeoutMs: 408 naming the limit, and the connection ends', async () => {
    await withHandler({ bodyTimeoutMs: 100 }, async (port, h) => {
      let closed = false;
      const a = partialPost(port, '/v1/predict', predictBody, 5);
      a.socket.then((s) => s.on('close', () => (closed = true)));
      const r = await a.reply;
      expect([r.status, r.body.error.code, r.headers.connection]).toEqual([408, 'request_timeout', 'close']);
      expect(r.body.error.message).toBe('the request body did not arrive within 100 ms (bodyTimeoutMs); send it whole, without pauses');
      await until('the server to close the connection', () => closed);
      expect(h.inFlight).toBe(0);
    });
  });
});

describe('the server version and the error form of unknown paths', () => {
  it('GET /v2 reports the version in package.json, whatever npm put in the environment', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    vi.stubEnv('npm_package_version', '99.0.0-not-rnnx');
    try {
      await withHandler({}, async (port) => {
        const r = await send(port, 'GET', '/v2');
        expect([r.status, r.body]).toEqual([200, { name: 'rnnx', version: pkg.version, extensions: [] }]);
      });
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('a path under /v2/ (or /v2 itself) errs in the protocol\'s form; any other path, /v2x or /v20 too, in rnnx\'s', async () => {
    await withHandler({ allowedHosts: ['api.example'] }, async (port) => {
      for (const path of ['/v2/nothing', '/v2/models', '/v2/health', '/v2/models/door/x']) {
        const r = await send(port, 'GET', path, { host: 'api.example' });
        expect([r.status, r.body], path).toEqual([404, { error: `no route GET ${path}` }]);
      }
      for (const path of ['/v2x', '/v20/models/door', '/v1/nothing', '/', '/metricsx']) {
        const r = await send(port, 'GET', path, { host: 'api.example' });
        expect([r.status, r.body], path).toEqual([404, { error: { code: 'not_found', message: `no route GET ${path}` } }]);
      }
      // Refused at the door: the same split, unknown route or not.
      const host = 'other.example';
      const message = `Host "${host}" is not allowed: this server answers only api.example (protection against DNS rebinding)`;
      for (const path of ['/v2', '/v2/nothing', '/v2/health/live']) {
        expect((await send(port, 'GET', path, { host })).body, path).toEqual({ error: message });
      }
      for (const path of ['/v2x', '/healthz', '/nothing']) {
        expect((await send(port, 'GET', path, { host })).body, path).toEqual({ error: { code: 'forbidden', message } });
      }
      // 405 on /v2 itself: the protocol's form.
      const put = await send(port, 'PUT', '/v2', { host: 'api.example' });
      expect([put.status, put.headers.allow, put.body]).toEqual([405, 'GET, HEAD', { error: 'PUT is not allowed on /v2; use GET or HEAD' }]);
    });
  });
});

describe('loopback names as the Host header carries them', () => {
  it('an IPv6 address counts only in brackets: a bare ::1 (not a valid Host) is refused, [::1] in any case is not', async () => {
    await withHandler({ allowedHosts: 'loopback' }, async (port) => {
      for (const host of ['::1', '::1:8080']) {
        const r = await send(port, 'GET', '/healthz', { host });
        expect([r.status, r.body.error.code], host).toEqual([403, 'forbidden']);
      }
      for (const host of ['[::1]', '[::1]:80', 'LocalHost', '127.0.0.1:0', 'a.b.localhost.']) {
        expect((await send(port, 'GET', '/healthz', { host })).status, host).toBe(200);
      }
      // A Host without a closing bracket names nothing.
      expect((await send(port, 'GET', '/healthz', { host: '[::1' })).status).toBe(403);
    });
  });
});

// ---- a stand-in service: what the handler does with each answer and failure of the work ----------

interface FakeCall { x: number[]; opts: { signal?: AbortSignal; timeoutMs?: number; raw?: boolean } }

function fakeService(name: string, answer: (x: Float32Array, call: number) => Promise<{ y: Float32Array; dims: number[] }>, over: Record<string, unknown> = {}): InferenceService & { calls: FakeCall[] } {
  const calls: FakeCall[] = [];
  return {
    name, version: '4', hash: 'cd'.repeat(32), registry: newRegistry(), overloaded: false, provider: 'cpu', units: { mode: 'model' },
    streams: null, streamUnsupported: 'the graph carries no state',
    engine: { spec: { inputSize: 2, layers: [] }, provider: 'cpu', fallbacks: [{ provider: 'cuda', reason: 'no GPU here' }], workers: 3 },
    batcher: { info: { inputSize: 2, outputSize: 3, returnsSequences: false, hasSequenceLens: false }, maxBatch: 6, maxWaitMs: 1.5, maxQueue: 3, timeoutMs: 900, maxTime: 50, maxBatchBytes: 7777, maxQueueBytes: 40 },
    calls,
    predict(x: Float32Array, opts: FakeCall['opts']) {
      calls.push({ x: Array.from(x), opts });
      return answer(x, calls.length - 1);
    },
    ...over,
  } as unknown as InferenceService & { calls: FakeCall[] };
}

const threeOut = async () => ({ y: Float32Array.from([1, 2, 3]), dims: [3] });

/** Serves `listener` on a loopback port for `fn`, then disposes `h` and closes every connection. */
async function onPort(listener: RequestListener, h: RequestHandler, fn: (port: number) => Promise<void>): Promise<void> {
  const server: Server = createServer(listener);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    await fn((server.address() as AddressInfo).port);
  } finally {
    h.dispose();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

async function withFake(services: InferenceService | InferenceService[], options: HandlerOptions, fn: (port: number, h: RequestHandler) => Promise<void>): Promise<void> {
  const h = createRequestHandler(services, options);
  await onPort(h, h, (port) => fn(port, h));
}

describe('failures of the work, as the client and the log see them', () => {
  it('a plain error is a logged 500 "internal error"; 504 is logged too; 503 and 4xx are not', async () => {
    const failures: unknown[] = [new Error('boom'), 'plain', new TimeoutError('too slow'), new OverloadedError('queue full'), new ShuttingDownError('closing'), new BadRequestError('bad x')];
    const svc = fakeService('f', async (_x, i) => {
      throw failures[i];
    });
    const events: Record<string, unknown>[] = [];
    await withFake(svc, { log: (e) => events.push(e) }, async (port) => {
      const replies = [];
      for (let i = 0; i < failures.length; i++) replies.push(await send(port, 'POST', '/v1/predict', json, JSON.stringify({ input: [[1, 2]] })));
      expect(replies.map((r) => [r.status, r.body.error])).toEqual([
        [500, { code: 'run_failed', message: 'internal error: boom' }],
        [500, { code: 'run_failed', message: 'internal error: plain' }],
        [504, { code: 'timeout', message: 'too slow' }],
        [503, { code: 'overloaded', message: 'queue full' }],
        [503, { code: 'shutting_down', message: 'closing' }],
        [400, { code: 'bad_request', message: 'bad x' }],
      ]);
      expect(events).toEqual([
        { event: 'error', route: '/v1/predict', status: 500, message: 'internal error: boom' },
        { event: 'error', route: '/v1/predict', status: 500, message: 'internal error: plain' },
        { event: 'error', route: '/v1/predict', status: 504, message: 'too slow' },
      ]);
    });
  });

  it('an overloaded refusal from the work makes the handler not ready; a shutting-down one does not', async () => {
    let failure: Error = new ShuttingDownError('closing');
    const svc = fakeService('f', async () => {
      throw failure;
    });
    await withFake(svc, {}, async (port, h) => {
      expect((await send(port, 'POST', '/v1/predict', json, JSON.stringify({ input: [[1, 2]] }))).status).toBe(503);
      expect(h.ready()).toBe(true);
      failure = new OverloadedError('queue full');
      expect((await send(port, 'POST', '/v1/predict', json, JSON.stringify({ input: [[1, 2]] }))).status).toBe(503);
      expect(h.ready()).toBe(false);
      expect((await send(port, 'GET', '/readyz')).body).toEqual({ status: 'overloaded' });
    });
  });

  it('the v2 route answers the same failures in the protocol\'s form', async () => {
    const svc = fakeService('f', async () => {
      throw new Error('boom');
    });
    await withFake(svc, {}, async (port) => {
      const r = await send(port, 'POST', '/v2/models/f/infer', json, JSON.stringify({ inputs: [{ name: 'x', shape: [1, 1, 2], datatype: 'FP32', data: [1, 2] }] }));
      expect([r.status, r.body]).toEqual([500, { error: 'internal error: boom' }]);
    });
  });

  it('inputs: the first failure cancels the sequences still running', async () => {
    const signals: AbortSignal[] = [];
    const svc = fakeService('f', (_x, i) => {
      if (i === 0) return Promise.reject(new TimeoutError('first too slow'));
      return new Promise((_resolve, reject) => {
        const s = svc.calls[i].opts.signal!;
        signals.push(s);
        s.addEventListener('abort', () => reject(s.reason));
      });
    });
    await withFake(svc, {}, async (port) => {
      const r = await send(port, 'POST', '/v1/predict', json, JSON.stringify({ inputs: [[[1, 2]], [[3, 4]], [[5, 6]]] }));
      expect([r.status, r.body.error]).toEqual([504, { code: 'timeout', message: 'first too slow' }]);
      expect(signals.map((s) => s.aborted)).toEqual([true, true]);
      expect((signals[0].reason as Error).message).toBe('first too slow');
      // The same for the rows of a v2 batch.
      signals.length = 0;
      svc.calls.length = 0;
      const v2 = await send(port, 'POST', '/v2/models/f/infer', json, JSON.stringify({ inputs: [{ name: 'x', shape: [3, 1, 2], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] }] }));
      expect([v2.status, v2.body]).toEqual([504, { error: 'first too slow' }]);
      expect(signals.map((s) => s.aborted)).toEqual([true, true]);
    });
  });
});

describe('what /v1/predict passes to the work and answers', () => {
  it('timeoutMs and raw reach predict (raw false unless true); [t, F] answers nest by row, [F] ones stay flat', async () => {
    const svc = fakeService('f', async (_x, i) => (i === 1 ? { y: Float32Array.from([1, 2, 3, 4, 5, 6]), dims: [2, 3] } : threeOut()));
    await withFake(svc, {}, async (port) => {
      const a = await send(port, 'POST', '/v1/predict', json, JSON.stringify({ input: [[1, 2], [3, 4]] }));
      expect([a.status, a.body]).toEqual([200, { output: [1, 2, 3], dims: [3] }]);
      const b = await send(port, 'POST', '/v1/predict', json, JSON.stringify({ input: [[5, 6]], raw: true, timeoutMs: 250 }));
      expect([b.status, b.body]).toEqual([200, { output: [[1, 2, 3], [4, 5, 6]], dims: [2, 3] }]);
      const c = await send(port, 'POST', '/v1/predict', json, JSON.stringify({ inputs: [[[7, 8]], [[9, 10]]], timeoutMs: 40 }));
      expect([c.status, c.body]).toEqual([200, { outputs: [{ output: [1, 2, 3], dims: [3] }, { output: [1, 2, 3], dims: [3] }] }]);
      expect(svc.calls.map((k) => [k.x, k.opts.timeoutMs, k.opts.raw, k.opts.signal instanceof AbortSignal])).toEqual([
        [[1, 2, 3, 4], undefined, false, true],
        [[5, 6], 250, true, true],
        [[7, 8], 40, false, true],
        [[9, 10], 40, false, true],
      ]);
      // A timeout that is no positive number of ms is refused before any work.
      const bad = await send(port, 'POST', '/v1/predict', json, JSON.stringify({ input: [[1, 2]], timeoutMs: 0 }));
      expect([bad.status, bad.body.error.code]).toEqual([400, 'bad_request']);
      expect(bad.body.error.message).toMatch(/^timeoutMs must be a positive number of milliseconds/);
      expect(svc.calls.length).toBe(4);
    });
  });

  it('inputs: exactly maxQueue sequences and maxQueueBytes bytes pass; one more of either is refused up front', async () => {
    const svc = fakeService('f', threeOut);
    await withFake(svc, {}, async (port) => {
      const post = (b: unknown) => send(port, 'POST', '/v1/predict', json, JSON.stringify(b));
      // maxQueue 3, maxQueueBytes 40: three sequences of one step (8 bytes each), then 5 steps (40 bytes).
      expect((await post({ inputs: [[[1, 2]], [[1, 2]], [[1, 2]]] })).status).toBe(200);
      const four = await post({ inputs: [[[1, 2]], [[1, 2]], [[1, 2]], [[1, 2]]] });
      expect([four.status, four.body.error.message]).toEqual([400, 'inputs must hold at most 3 sequences (maxQueue, the most requests that can wait), got 4; split them over several requests']);
      const five = [[1, 2], [1, 2], [1, 2], [1, 2], [1, 2]];
      expect((await post({ inputs: [five] })).status).toBe(200);
      const six = await post({ inputs: [five, [[1, 2]]] });
      expect([six.status, six.body.error.message]).toEqual([400, 'inputs hold 48 bytes of float32 values, more than the queue may ever hold (maxQueueBytes 40); split them over several requests']);
      // A bad sequence is named by its index, and nothing runs.
      const before = svc.calls.length;
      const bad = await post({ inputs: [[[1, 2]], [[1]]] });
      expect([bad.status, bad.body.error.message]).toEqual([400, expect.stringMatching(/^inputs\[1\]/)]);
      expect(svc.calls.length).toBe(before);
      // What is not a list is quoted, cut at 60 characters.
      const long = await post({ inputs: 'y'.repeat(100) });
      expect(long.body.error.message).toBe(`inputs must be a non-empty array of sequences ([batch][time][2]), got "${'y'.repeat(59)}`);
    });
  });
});

function streamingFake(name: string, registry = newRegistry()): InferenceService & { calls: FakeCall[] } {
  const stream = {
    steps: 0,
    async append(x: Float32Array) {
      stream.steps += x.length / 2;
      return { y: Float32Array.from([7, 8, 9]), dims: [3] };
    },
    reset() {
      stream.steps = 0;
    },
    close() {},
  };
  return fakeService(name, threeOut, {
    registry,
    streamUnsupported: null,
    openStream: () => ({ id: 'abc' }),
    streams: {
      get(id: string) {
        if (id !== 'abc') throw new ServeError('not_found', 404, `no stream ${JSON.stringify(id)}`);
        return stream;
      },
    },
  });
}

/** One request to every route: [method, path, body]. */
const everyRoute: [string, string, unknown?][] = [
  ['GET', '/v2'], ['GET', '/v2/health/live'], ['GET', '/v2/health/ready'], ['GET', '/v2/models/f/ready'], ['GET', '/v2/models/f'],
  ['POST', '/v2/models/f/infer', { inputs: [{ name: 'x', shape: [1, 1, 2], datatype: 'FP32', data: [1, 2] }] }],
  ['POST', '/v1/predict', { input: [[1, 2]] }], ['POST', '/v1/streams'], ['POST', '/v1/streams/abc', { input: [[1, 2]] }],
  ['POST', '/v1/streams/abc/reset'], ['DELETE', '/v1/streams/abc'], ['GET', '/v1/model'], ['GET', '/healthz'], ['GET', '/readyz'], ['GET', '/metrics'],
];

describe('the route table', () => {
  it('each route answers its own path; metrics count it under its pattern, unknown paths as "unmatched"', async () => {
    const registry = newRegistry();
    await withFake(streamingFake('f', registry), { registry }, async (port) => {
      for (const [method, path, body] of everyRoute) {
        const r = await send(port, method, path, body === undefined ? {} : json, body === undefined ? undefined : JSON.stringify(body));
        expect(r.status, `${method} ${path}`).toBe(method === 'POST' && path === '/v1/streams' ? 201 : 200);
      }
      expect((await send(port, 'GET', '/nothing')).status).toBe(404);
      expect((await send(port, 'PUT', '/v2/models/f/versions/4/ready')).status).toBe(405);
      expect((await send(port, 'HEAD', '/healthz')).status).toBe(200);
      const text = await registry.metrics();
      const counted = text.split('\n').filter((l) => l.startsWith('rnnx_http_requests_total{')).sort();
      expect(counted).toEqual([
        'rnnx_http_requests_total{route="/healthz",method="GET",status="200"} 1',
        'rnnx_http_requests_total{route="/healthz",method="HEAD",status="200"} 1',
        'rnnx_http_requests_total{route="/metrics",method="GET",status="200"} 1',
        'rnnx_http_requests_total{route="/readyz",method="GET",status="200"} 1',
        'rnnx_http_requests_total{route="/v1/model",method="GET",status="200"} 1',
        'rnnx_http_requests_total{route="/v1/predict",method="POST",status="200"} 1',
        'rnnx_http_requests_total{route="/v1/streams",method="POST",status="201"} 1',
        'rnnx_http_requests_total{route="/v1/streams/:id",method="DELETE",status="200"} 1',
        'rnnx_http_requests_total{route="/v1/streams/:id",method="POST",status="200"} 1',
        'rnnx_http_requests_total{route="/v1/streams/:id/reset",method="POST",status="200"} 1',
        'rnnx_http_requests_total{route="/v2",method="GET",status="200"} 1',
        'rnnx_http_requests_total{route="/v2/health/live",method="GET",status="200"} 1',
        'rnnx_http_requests_total{route="/v2/health/ready",method="GET",status="200"} 1',
        'rnnx_http_requests_total{route="/v2/models/:name",method="GET",status="200"} 1',
        'rnnx_http_requests_total{route="/v2/models/:name/infer",method="POST",status="200"} 1',
        'rnnx_http_requests_total{route="/v2/models/:name/ready",method="GET",status="200"} 1',
        'rnnx_http_requests_total{route="/v2/models/:name/ready",method="PUT",status="405"} 1',
        'rnnx_http_requests_total{route="unmatched",method="GET",status="404"} 1',
      ].sort());
      expect(text).toMatch(/^rnnx_http_request_duration_seconds_count\{route="\/healthz"\} 2$/m);
      expect(text).toMatch(/^rnnx_http_request_duration_seconds_count\{route="unmatched"\} 1$/m);
    });
  });

  it('a path with anything before or after a route\'s is no route', async () => {
    await withFake(streamingFake('f'), {}, async (port) => {
      for (const [, path] of everyRoute) {
        // (Not where a path ends in an id or a name: "/v1/streams/x" is the stream "x".)
        const endsInId = /\/(f|abc)$/.test(path);
        for (const p of [`/x${path}`, ...(path === '/v1/streams' ? [] : [`${path}/x`]), ...(endsInId ? [] : [`${path}x`])]) {
          const r = await send(port, 'GET', p);
          const message = `no route GET ${p}`;
          expect([r.status, r.headers.allow, r.body.error], p).toEqual([404, undefined, p.startsWith('/v2/') ? message : { code: 'not_found', message }]);
        }
      }
    });
  });

  it('with a token: only the health probes answer without it, in their path\'s error form', async () => {
    await withFake(streamingFake('f'), { token: 'a-token-of-24-characters' }, async (port) => {
      for (const path of ['/healthz', '/readyz', '/v2/health/live', '/v2/health/ready', '/v2/models/f/ready']) {
        expect((await send(port, 'GET', path)).status, path).toBe(200);
      }
      const need = 'this server needs "Authorization: Bearer <token>"';
      for (const [method, path, body] of everyRoute) {
        if (['/healthz', '/readyz', '/v2/health/live', '/v2/health/ready', '/v2/models/f/ready'].includes(path)) continue;
        const r = await send(port, method, path, json, body === undefined ? undefined : JSON.stringify(body));
        expect([r.status, r.body.error], `${method} ${path}`).toEqual([401, path.startsWith('/v2') ? need : { code: 'unauthorized', message: need }]);
      }
    });
  });

  it('draining: every work route answers 503 shutting_down; metadata and health still answer', async () => {
    await withFake(streamingFake('f'), {}, async (port, h) => {
      h.drain();
      const message = 'the server is shutting down and accepts no new requests';
      for (const [method, path, body] of everyRoute) {
        const r = await send(port, method, path, json, body === undefined ? undefined : JSON.stringify(body));
        const work = method !== 'GET';
        if (!work) {
          const notReady = path === '/readyz' ? 503 : path.endsWith('/ready') ? 400 : 200;
          expect(r.status, path).toBe(notReady);
          continue;
        }
        expect([r.status, r.body.error, r.headers.connection], `${method} ${path}`).toEqual([503, path.startsWith('/v2') ? message : { code: 'shutting_down', message }, 'close']);
      }
    });
  });

  it('JSON answers carry their type and exact byte length; /metrics the registry\'s type', async () => {
    const svc = streamingFake('modèle');
    await withFake(svc, {}, async (port) => {
      for (const path of ['/healthz', '/v2/models/mod%C3%A8le', '/nothing']) {
        const r = await send(port, 'GET', path);
        expect(r.headers['content-type'], path).toBe('application/json; charset=utf-8');
        expect(Number(r.headers['content-length']), path).toBe(Buffer.byteLength(JSON.stringify(r.body)));
      }
      const m = await send(port, 'GET', '/metrics');
      expect(m.headers['content-type']).toBe(svc.registry.contentType);
      expect(Number(m.headers['content-length'])).toBe(Buffer.byteLength(m.body));
      expect(m.body).toMatch(/^# HELP rnnx_/m);
    });
  });
});

describe('stand-in models: metadata, readiness and streams as the handler reports them', () => {
  it('/v1/model reports the first model\'s engine, units, streaming and every limit', async () => {
    await withFake([fakeService('f', threeOut), streamingFake('g')], { maxBodyBytes: 1000, bodyTimeoutMs: 300, memoryBudgetBytes: 5000 }, async (port) => {
      const r = await send(port, 'GET', '/v1/model');
      expect(r.body).toEqual({
        name: 'f', spec: { inputSize: 2, layers: [] }, provider: 'cpu', fallbacks: [{ provider: 'cuda', reason: 'no GPU here' }], workers: 3,
        inputSize: 2, outputSize: 3, returnsSequences: false, units: { mode: 'model' },
        streaming: { supported: false, reason: 'the graph carries no state' },
        limits: { maxBatch: 6, maxWaitMs: 1.5, maxQueue: 3, timeoutMs: 900, maxTime: 50, maxBodyBytes: 1000, maxBatchBytes: 7777, bodyTimeoutMs: 300, memoryBudgetBytes: 5000 },
      });
    });
    await withFake(streamingFake('g'), {}, async (port) => {
      expect((await send(port, 'GET', '/v1/model')).body.streaming).toBe(true);
    });
  });

  it('a model that cannot stream: the stream routes say why (or that it cannot), 400 stream_unsupported', async () => {
    await withFake(fakeService('f', threeOut), {}, async (port) => {
      for (const [method, path] of [['POST', '/v1/streams/abc'], ['POST', '/v1/streams/abc/reset'], ['DELETE', '/v1/streams/abc']]) {
        const r = await send(port, method, path, json, method === 'POST' && !path.endsWith('reset') ? JSON.stringify({ input: [[1, 2]] }) : undefined);
        expect([r.status, r.body.error], path).toEqual([400, { code: 'stream_unsupported', message: 'the graph carries no state' }]);
      }
    });
    await withFake(fakeService('f', threeOut, { streamUnsupported: null }), {}, async (port) => {
      const r = await send(port, 'POST', '/v1/streams/abc/reset');
      expect([r.status, r.body.error]).toEqual([400, { code: 'stream_unsupported', message: 'this model cannot stream' }]);
    });
  });

  it('streams: ids are percent-decoded; an append answers its output and the steps so far', async () => {
    await withFake(streamingFake('f'), {}, async (port) => {
      const a = await send(port, 'POST', '/v1/streams/%61bc', json, JSON.stringify({ input: [[1, 2], [3, 4]] }));
      expect([a.status, a.body]).toEqual([200, { output: [7, 8, 9], dims: [3], steps: 2 }]);
      expect((await send(port, 'POST', '/v1/streams/abc/reset')).body).toEqual({ id: 'abc', steps: 0 });
      const none = await send(port, 'DELETE', '/v1/streams/abd');
      expect([none.status, none.body.error]).toEqual([404, { code: 'not_found', message: 'no stream "abd"' }]);
    });
  });

  it('readiness: any overloaded model makes the server not ready; each model reports its own', async () => {
    const a = fakeService('a', threeOut);
    const b = fakeService('b', threeOut, { overloaded: true });
    await withFake([a, b], {}, async (port, h) => {
      expect(h.ready()).toBe(false);
      expect([(await send(port, 'GET', '/readyz')).status, (await send(port, 'GET', '/readyz')).body]).toEqual([503, { status: 'overloaded' }]);
      const ready = await send(port, 'GET', '/v2/health/ready');
      expect([ready.status, ready.body]).toEqual([400, { ready: false }]);
      const ra = await send(port, 'GET', '/v2/models/a/ready');
      expect([ra.status, ra.body]).toEqual([200, { name: 'a', ready: true }]);
      const rb = await send(port, 'GET', '/v2/models/b/versions/4/ready');
      expect([rb.status, rb.body]).toEqual([400, { name: 'b', ready: false }]);
    });
    await withFake([a, fakeService('c', threeOut)], {}, async (port, h) => {
      expect(h.ready()).toBe(true);
      const ready = await send(port, 'GET', '/v2/health/ready');
      expect([ready.status, ready.body]).toEqual([200, { ready: true }]);
      expect((await send(port, 'GET', '/readyz')).body).toEqual({ status: 'ready', provider: 'cpu' });
    });
  });
});

describe('bodies a framework already read', () => {
  /** A server whose "body parser" reads the whole body, then hands req.body = parse(text) to the handler. */
  async function withParser(parse: ((text: string) => unknown) | null, fn: (port: number, svc: InferenceService & { calls: FakeCall[] }) => Promise<void>): Promise<void> {
    const svc = fakeService('f', threeOut);
    const h = createRequestHandler(svc, {});
    const listener = (req: IncomingMessage, res: ServerResponse) => {
      if (parse === null) {
        // A framework that sets a body without reading the stream: the handler must read it itself.
        (req as typeof req & { body?: unknown }).body = { input: [[9, 9]] };
        h(req, res);
        return;
      }
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        (req as typeof req & { body?: unknown }).body = parse(text);
        h(req, res);
      });
    };
    await onPort(listener, h, (port) => fn(port, svc));
  }
  const body = JSON.stringify({ input: [[1, 2]] });

  it('a parsed object, a string or a Buffer are used as the body', async () => {
    for (const parse of [(t: string) => JSON.parse(t) as unknown, (t: string) => t, (t: string) => Buffer.from(t)]) {
      await withParser(parse, async (port, svc) => {
        const r = await send(port, 'POST', '/v1/predict', json, body);
        expect([r.status, r.body]).toEqual([200, { output: [1, 2, 3], dims: [3] }]);
        expect(svc.calls.map((c) => c.x)).toEqual([[1, 2]]);
      });
    }
  });

  it('text that is no JSON, or nothing, is a 400 naming why', async () => {
    await withParser((t) => t, async (port) => {
      const bad = await send(port, 'POST', '/v1/predict', json, '{"input": [[1, 2]');
      expect([bad.status, bad.body.error.code]).toEqual([400, 'bad_request']);
      expect(bad.body.error.message).toMatch(/^request body is not valid JSON: /);
      const empty = await send(port, 'POST', '/v1/predict', json, '  \n');
      expect([empty.status, empty.body.error.message]).toEqual([400, 'request body must be a JSON object, got an empty body']);
    });
    await withParser(() => Buffer.from('[1, 2]'), async (port) => {
      const arr = await send(port, 'POST', '/v1/predict', json, body);
      expect([arr.status, arr.body.error.message]).toEqual([400, 'request body must be a JSON object, got an array']);
    });
  });

  it('a body set while the stream is still unread is ignored: the stream is read', async () => {
    await withParser(null, async (port, svc) => {
      const r = await send(port, 'POST', '/v1/predict', json, body);
      expect(r.status).toBe(200);
      expect(svc.calls.map((c) => c.x)).toEqual([[1, 2]]);
    });
  });
});

describe('refusals in the metrics', () => {
  it('the memory budget and the receive budget count their refusals by reason', async () => {
    const registry = newRegistry();
    const refusals = async () => (await registry.metrics()).split('\n').filter((l) => l.startsWith('rnnx_overload_refusals_total{')).sort();
    const body = JSON.stringify({ input: [[1, 2]] });
    const n = Buffer.byteLength(body);
    await withFake(fakeService('f', threeOut), { registry, memoryBudgetBytes: n * BODY_MEMORY_FACTOR - 1 }, async (port) => {
      expect((await send(port, 'POST', '/v1/predict', json, body)).status).toBe(503);
    });
    expect(await refusals()).toEqual(['rnnx_overload_refusals_total{reason="memory_budget"} 1']);
    await withFake(fakeService('f', threeOut), { registry, maxBufferedBodyBytes: n - 1 }, async (port) => {
      expect((await send(port, 'POST', '/v1/predict', json, body)).status).toBe(503);
      expect((await send(port, 'POST', '/v1/predict', json, body)).status).toBe(503);
    });
    expect(await refusals()).toEqual(['rnnx_overload_refusals_total{reason="buffered_bodies"} 2', 'rnnx_overload_refusals_total{reason="memory_budget"} 1']);
  });
});

describe('defaults and the edges of readiness', () => {
  it('the default limits, as /v1/model reports them', async () => {
    await withFake(fakeService('f', threeOut), {}, async (port) => {
      const { limits } = (await send(port, 'GET', '/v1/model')).body;
      expect([limits.maxBodyBytes, limits.bodyTimeoutMs, limits.memoryBudgetBytes]).toEqual([8 * 2 ** 20, 10_000, 512 * 2 ** 20]);
    });
  });

  it('a body that fills the receive budget or the memory budget exactly makes the handler not ready while it arrives', async () => {
    const body = JSON.stringify({ input: x, pad: 'p'.repeat(50) });
    await withHandler({ maxBufferedBodyBytes: 10, maxBodyBytes: 1000, bodyTimeoutMs: 60_000 }, async (port, h) => {
      const a = partialPost(port, '/v1/predict', body, 10);
      a.reply.catch(() => {});
      await until('the ten bytes to be held', () => h.memoryInUse === 10 * BODY_MEMORY_FACTOR);
      expect(h.ready()).toBe(false);
      a.leave();
      await until('the request to end', () => h.inFlight === 0);
      expect(h.ready()).toBe(true);
    });
    await withHandler({ memoryBudgetBytes: 10 * BODY_MEMORY_FACTOR, bodyTimeoutMs: 60_000 }, async (port, h) => {
      const a = partialPost(port, '/v1/predict', body, 10);
      a.reply.catch(() => {});
      await until('the ten bytes to be charged', () => h.memoryInUse === 10 * BODY_MEMORY_FACTOR);
      expect(h.ready()).toBe(false);
      a.leave();
      await until('the request to end', () => h.inFlight === 0 && h.memoryInUse === 0);
      expect(h.ready()).toBe(true);
    });
  });

  it('an error answer to a request declaring an empty body (content-length: 0) keeps the connection', async () => {
    await withHandler({}, async (port) => {
      const r = await send(port, 'POST', '/nothing', { 'content-length': '0' });
      expect([r.status, r.headers.connection]).toEqual([404, 'keep-alive']);
      const withBody = await send(port, 'POST', '/nothing', json, predictBody);
      expect([withBody.status, withBody.headers.connection]).toEqual([404, 'close']);
    });
  });
});

describe('the receive budget gives each body\'s bytes back exactly once', () => {
  it('after a body times out (408) its bytes are free again', async () => {
    const body = JSON.stringify({ input: x, pad: 'p'.repeat(50) });
    await withHandler({ maxBufferedBodyBytes: 20, bodyTimeoutMs: 100 }, async (port, h) => {
      const a = partialPost(port, '/v1/predict', body, 20);
      await until('the twenty bytes to be held', () => h.memoryInUse === 20 * BODY_MEMORY_FACTOR);
      expect(h.ready()).toBe(false);
      expect((await a.reply).status).toBe(408);
      await until('the request to end', () => h.inFlight === 0);
      expect([h.ready(), h.memoryInUse]).toEqual([true, 0]);
    });
  });

  it('a body that arrived whole is not given back a second time when its body timeout would have passed', async () => {
    const n = Buffer.byteLength(predictBody);
    // 2n bytes: `,"pad":""` is 9 of them.
    const twice = JSON.stringify({ input: x, pad: 'p'.repeat(n - 9) });
    expect(Buffer.byteLength(twice)).toBe(2 * n);
    await withHandler({ maxBufferedBodyBytes: n, bodyTimeoutMs: 50 }, async (port) => {
      expect((await send(port, 'POST', '/v1/predict', json, predictBody)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 120));
      // Still n bytes of budget (not 2n, as a second give-back would leave): a body of 2n is refused.
      const r = await send(port, 'POST', '/v1/predict', json, twice);
      expect([r.status, r.body.error.code]).toEqual([503, 'overloaded']);
    });
  });
});

describe('model versions in the path', () => {
  it('a version is percent-decoded; a malformed one is a 404 naming it (it was a 500 "URI malformed"), nothing logged', async () => {
    const events: Record<string, unknown>[] = [];
    await withFake(fakeService('f', threeOut), { log: (e) => events.push(e) }, async (port) => {
      expect((await send(port, 'GET', '/v2/models/f/versions/%34/ready')).body).toEqual({ name: 'f', ready: true });
      for (const path of ['/v2/models/f/versions/%E0%A4%A', '/v2/models/f/versions/%E0%A4%A/ready']) {
        const r = await send(port, 'GET', path);
        expect([r.status, r.body], path).toEqual([404, { error: 'model version "%E0%A4%A" is not valid percent-encoding' }]);
      }
      const infer = await send(port, 'POST', '/v2/models/f/versions/%ZZ/infer', json, JSON.stringify({ inputs: [] }));
      expect([infer.status, infer.body]).toEqual([404, { error: 'model version "%ZZ" is not valid percent-encoding' }]);
      const other = await send(port, 'GET', '/v2/models/f/versions/5');
      expect([other.status, other.body]).toEqual([404, { error: 'model "f" has no version "5"; it has "4"' }]);
    });
    expect(events).toEqual([]);
  });
});

describe('many sequences in one request', () => {
  it('12 sequences (v1 inputs, v2 batch) run without a MaxListenersExceededWarning on their shared signal', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      await withHandler({}, async (port) => {
        const v1 = await send(port, 'POST', '/v1/predict', json, JSON.stringify({ inputs: Array.from({ length: 12 }, () => x) }));
        expect(v1.status).toBe(200);
        expect(v1.body.outputs.length).toBe(12);
        for (const o of v1.body.outputs) expect(maxAbsDiff(o.output, expected)).toBeLessThanOrEqual(1e-6);
        const data = Array.from({ length: 12 }, () => x.flat()).flat();
        const v2 = await send(port, 'POST', '/v2/models/door/infer', json, JSON.stringify({ inputs: [{ name: 'x', shape: [12, 2, 2], datatype: 'FP32', data }] }));
        expect([v2.status, v2.body.outputs[0].shape]).toEqual([200, [12, 2]]);
        await new Promise((r) => setImmediate(r));
      });
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning'))).toEqual([]);
  });
});

describe('a stream chunk with a non-finite output', () => {
  it('is a logged 500 naming the first bad value and its index; the answer is withheld', async () => {
    const svc = streamingFake('f');
    const stream = svc.streams!.get('abc') as unknown as { append: (x: Float32Array) => Promise<{ y: Float32Array; dims: number[] }> };
    stream.append = async () => ({ y: Float32Array.from([1, Number.NaN, Number.POSITIVE_INFINITY]), dims: [3] });
    const events: Record<string, unknown>[] = [];
    await withFake(svc, { log: (e) => events.push(e) }, async (port) => {
      const r = await send(port, 'POST', '/v1/streams/abc', json, JSON.stringify({ input: [[1, 2]] }));
      const message = 'the model produced a non-finite output (NaN at y[1]); the answer is withheld';
      expect([r.status, r.body.error]).toEqual([500, { code: 'run_failed', message }]);
      expect(events).toEqual([{ event: 'error', route: '/v1/streams/:id', status: 500, message }]);
      stream.append = async () => ({ y: Float32Array.from([1, 2, Number.NEGATIVE_INFINITY]), dims: [3] });
      const last = await send(port, 'POST', '/v1/streams/abc', json, JSON.stringify({ input: [[1, 2]] }));
      expect(last.body.error.message).toBe('the model produced a non-finite output (-Infinity at y[2]); the answer is withheld');
      stream.append = async () => ({ y: Float32Array.from([Number.NaN, 2, 3]), dims: [3] });
      const first = await send(port, 'POST', '/v1/streams/abc', json, JSON.stringify({ input: [[1, 2]] }));
      expect(first.body.error.message).toBe('the model produced a non-finite output (NaN at y[0]); the answer is withheld');
      stream.append = async () => ({ y: Float32Array.from([-0, 0, 3]), dims: [3] });
      expect((await send(port, 'POST', '/v1/streams/abc', json, JSON.stringify({ input: [[1, 2]] }))).status).toBe(200);
    });
  });
});

describe('allowedHosts and basePath as given', () => {
  it('a list matches in any case on both sides; a bare string or a list of non-strings is refused', async () => {
    await withFake(fakeService('f', threeOut), { allowedHosts: ['API.Example'] }, async (port) => {
      for (const host of ['api.example', 'API.EXAMPLE:8080']) expect((await send(port, 'GET', '/healthz', { host })).status, host).toBe(200);
      expect((await send(port, 'GET', '/healthz', { host: 'api.example', origin: 'https://Api.Example' })).status).toBe(200);
      const r = await send(port, 'GET', '/healthz', { host: 'api' });
      expect([r.status, r.body.error.message]).toEqual([403, 'Host "api" is not allowed: this server answers only API.Example (protection against DNS rebinding)']);
    });
    for (const bad of ['::1', 'api.example:8080', '[::1]:80']) {
      expect(() => createRequestHandler(svc, { allowedHosts: ['ok.example', bad] }), bad).toThrow(`allowedHosts entries are host names without a port (an IPv6 address in brackets, "[::1]"), got ${JSON.stringify(bad)}`);
    }
    const h = createRequestHandler(svc, { allowedHosts: ['[::1]', '[FE80::1]', 'a.example'] });
    h.dispose();
    for (const bad of ['api.example', 'Loopback', ['a', 5], 7]) {
      expect(() => createRequestHandler(svc, { allowedHosts: bad as HandlerOptions['allowedHosts'] }), JSON.stringify(bad)).toThrow(`allowedHosts must be 'loopback', 'any' or a list of host names, got ${JSON.stringify(bad)}`);
    }
  });

  it('trailing slashes of basePath are dropped; a path outside it is a 404 naming the whole path and the base', async () => {
    await withFake(fakeService('f', threeOut), { basePath: '/rnnx//' }, async (port) => {
      expect((await send(port, 'GET', '/rnnx/healthz')).body).toEqual({ status: 'ok' });
      for (const path of ['/healthz', '/rnnxhealthz', '/v2/health/live']) {
        const r = await send(port, 'GET', `${path}?q=1`);
        expect([r.status, r.body.error], path).toEqual([404, { code: 'not_found', message: `no route GET ${path}: the routes live under /rnnx` }]);
      }
      const inside = await send(port, 'GET', '/rnnx/v2/nothing');
      expect([inside.status, inside.body.error]).toEqual([404, 'no route GET /v2/nothing']);
    });
  });
});

describe('bodies that are JSON but no object', () => {
  it('a number, a string, true, null or an array is refused naming what it is', async () => {
    await withFake(fakeService('f', threeOut), {}, async (port) => {
      for (const [text, got] of [['5', '5'], ['"s"', '"s"'], ['true', 'true'], ['null', 'null'], ['[1]', 'an array']]) {
        const r = await send(port, 'POST', '/v1/predict', json, text);
        expect([r.status, r.body.error], text).toEqual([400, { code: 'bad_request', message: `request body must be a JSON object, got ${got}` }]);
      }
    });
  });
});

describe('content types with spaces', () => {
  it('a space before the parameters is no different type', async () => {
    await withFake(fakeService('f', threeOut), {}, async (port) => {
      for (const ct of ['application/json ; charset=utf-8', 'application/problem+json ;x=1']) {
        expect((await send(port, 'POST', '/v1/predict', { 'content-type': ct }, JSON.stringify({ input: [[1, 2]] }))).status, ct).toBe(200);
      }
      const r = await send(port, 'POST', '/v1/predict', { 'content-type': 'text/plain ; charset=utf-8' }, JSON.stringify({ input: [[1, 2]] }));
      expect([r.status, r.body.error.message]).toEqual([415, 'content-type must be application/json, got "text/plain"']);
    });
  });
});

describe('more edges of the door and the receive budget', () => {
  it('a chunked body left unread by an error closes the connection; loopback addresses with 1-3 digit parts only', async () => {
    await withHandler({ allowedHosts: 'loopback' }, async (port) => {
      const r = await send(port, 'POST', '/nothing', { ...json, host: 'localhost', 'transfer-encoding': 'chunked' }, predictBody);
      expect([r.status, r.headers.connection]).toEqual([404, 'close']);
      for (const host of ['127.10.200.255', '127.255.0.1', '127.0.10.1', '127.0.0.100']) expect((await send(port, 'GET', '/healthz', { host })).status, host).toBe(200);
      for (const host of ['127.1234.0.1', '127.0.1234.1', '127.0.0.1234', 'x127.0.0.1']) expect((await send(port, 'GET', '/healthz', { host })).status, host).toBe(403);
    });
    expect(() => createRequestHandler(svc, { allowedHosts: ['a[::1]'] })).toThrow('allowedHosts entries are host names without a port (an IPv6 address in brackets, "[::1]"), got "a[::1]"');
  });

  it('whole bodies give their bytes back: three in a row fit a budget of two', async () => {
    const n = Buffer.byteLength(predictBody);
    await withHandler({ maxBufferedBodyBytes: 2 * n }, async (port, h) => {
      for (let i = 0; i < 3; i++) expect((await send(port, 'POST', '/v1/predict', json, predictBody)).status, String(i)).toBe(200);
      expect(h.ready()).toBe(true);
    });
  });

  it('a framework that read the stream but set no body: the handler waits for a body that never comes (408), it does not invent one', async () => {
    const h = createRequestHandler(fakeService('f', threeOut), { bodyTimeoutMs: 100 });
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => h(req, res));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const r = await send((server.address() as AddressInfo).port, 'POST', '/v1/predict', json, JSON.stringify({ input: [[1, 2]] }));
      expect([r.status, r.body.error.code]).toEqual([408, 'request_timeout']);
    } finally {
      h.dispose();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
