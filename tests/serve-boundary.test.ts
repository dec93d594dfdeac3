// The HTTP boundary: createRequestHandler mounted in real Express and Fastify apps and in plain
// node:http, its metrics in the app's registry; and the audit's cases, each on 127.0.0.1:
// stalled uploads, stream appends under the queue limits, bearer tokens, Host/Origin refusal,
// a non-finite output, readiness under overload.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { dense, gru, lstm, rnn } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';
import { saveModel } from '../src/graph/io.js';
import { InferenceModel } from '../src/runtime/inference.js';
import { createRequestHandler } from '../src/serve/handler.js';
import { startServer } from '../src/serve/http.js';
import { newRegistry } from '../src/serve/metrics.js';
import { openService, type InferenceService } from '../src/serve/service.js';
import { OverloadedError, TimeoutError } from '../src/serve/errors.js';
import { maxAbsDiff } from './reference/util.js';
import { makeModel, randomSequences, tempDir } from './serve-helpers.js';
import { join } from 'node:path';

const tmp = tempDir();
const I = 2;
let path: string;
let ref: InferenceModel;
afterAll(async () => {
  await ref?.release();
  tmp.cleanup();
});
beforeAll(async () => {
  path = makeModel(tmp.dir, 'mount', I, [gru({ units: 6 }), dense({ units: 3 })], 3).path;
  ref = await InferenceModel.open(path, { intraOpNumThreads: 1 });
});

const x = Float32Array.from([0.5, -1, 0.25, 2, -0.75, 0.1]);
const inferBody = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3, I], datatype: 'FP32', data: Array.from(x) }] });

async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await r.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // text
  }
  return { status: r.status, body: parsed, headers: r.headers };
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

describe('mounting createRequestHandler', () => {
  let svc: InferenceService;
  const registry = newRegistry();
  beforeAll(async () => {
    svc = await openService(path, { workers: 1, intraOpNumThreads: 1, registry });
  });
  afterAll(async () => {
    await svc?.close();
  });

  const checkInfer = async (url: string) => {
    const r = await post(url, inferBody);
    expect(r.status).toBe(200);
    expect(maxAbsDiff(r.body.outputs[0].data, (await ref.run(x, { batch: 1 })).y)).toBeLessThanOrEqual(1e-5);
  };

  it('node:http', async () => {
    const handler = createRequestHandler(svc);
    const server = createServer(handler);
    const url = await listen(server);
    try {
      await checkInfer(`${url}/v2/models/mount/infer`);
      expect((await fetch(`${url}/v2/health/ready`)).status).toBe(200);
    } finally {
      server.close();
      handler.dispose();
    }
  });

  it('Express: app.use(prefix, handler) beside the app\'s own routes, with and without express.json() before it; the app\'s /metrics has rnnx\'s', async () => {
    const handler = createRequestHandler(svc);
    const app = express();
    app.get('/hello', (_req, res) => {
      res.json({ hello: 'world' });
    });
    app.use('/rnnx', handler);
    app.use('/parsed', express.json(), handler);
    app.get('/metrics', async (_req, res) => {
      res.set('content-type', registry.contentType).send(await registry.metrics());
    });
    const server = createServer(app);
    const url = await listen(server);
    try {
      await checkInfer(`${url}/rnnx/v2/models/mount/infer`);
      await checkInfer(`${url}/parsed/v2/models/mount/infer`);
      expect(await (await fetch(`${url}/hello`)).json()).toEqual({ hello: 'world' });
      // A path the handler does not know goes on to the app (next()), which answers its 404.
      expect((await fetch(`${url}/rnnx/nothing-here`)).status).toBe(404);
      const m = await (await fetch(`${url}/metrics`)).text();
      expect(m).toMatch(/rnnx_http_requests_total\{route="\/v2\/models\/:name\/infer",method="POST",status="200"\} [1-9]/);
      expect(m).toMatch(/rnnx_batch_size_count\{model="mount",kind="predict"\} [1-9]/);
    } finally {
      server.close();
      handler.dispose();
    }
  });

  it('Fastify: a plugin hands the raw request and response to the handler', async () => {
    const handler = createRequestHandler(svc, { basePath: '/rnnx' });
    const app = Fastify();
    app.get('/hello', async () => ({ hello: 'fastify' }));
    await app.register(async (f) => {
      // The handler reads the body itself: no Fastify parser may consume it first.
      f.removeAllContentTypeParsers();
      f.addContentTypeParser('*', (_req, _payload, done) => done(null));
      f.all('/rnnx/*', (req, reply) => {
        reply.hijack();
        handler(req.raw, reply.raw);
      });
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      await checkInfer(`${url}/rnnx/v2/models/mount/infer`);
      expect((await fetch(`${url}/rnnx/v2/models/mount`)).status).toBe(200);
      expect(await (await fetch(`${url}/hello`)).json()).toEqual({ hello: 'fastify' });
    } finally {
      await app.close();
      handler.dispose();
    }
  });
});

describe('limits and security', () => {
  it('stalled uploads: they fill the receive budget (503, not ready), then are cut after bodyTimeoutMs and work resumes', async () => {
    const s = await startServer({
      modelPath: path, port: 0, handleSignals: false, log: false, workers: 1, intraOpNumThreads: 1, registry: newRegistry(),
      maxBufferedBodyBytes: 256 * 1024, bodyTimeoutMs: 800,
    });
    const sockets: Socket[] = [];
    try {
      const { port } = new URL(s.url);
      // 4 uploads, each 64 KiB sent of a declared 1 MiB, then a pause.
      for (let i = 0; i < 4; i++) {
        const sock = connect(Number(port), '127.0.0.1');
        sock.on('error', () => {});
        sockets.push(sock);
        sock.write(`POST /v2/models/mount/infer HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\ncontent-length: ${1024 * 1024}\r\n\r\n`);
        sock.write(Buffer.alloc(64 * 1024, 0x20));
      }
      await new Promise((r) => setTimeout(r, 150));
      const blocked = await post(`${s.url}/v2/models/mount/infer`, inferBody);
      expect(blocked.status).toBe(503);
      expect(blocked.body.error).toMatch(/overloaded.*maxBufferedBodyBytes/);
      expect((await fetch(`${s.url}/v2/health/ready`)).status).toBe(400);
      expect((await fetch(`${s.url}/v2/health/live`)).status).toBe(200);
      // Past bodyTimeoutMs the stalled uploads get 408 and are closed: work goes through again.
      const closed = sockets.map((sock) => new Promise<string>((resolve) => {
        let text = '';
        sock.on('data', (c) => (text += c.toString()));
        sock.on('close', () => resolve(text));
      }));
      const answers = await Promise.all(closed);
      for (const a of answers) expect(a).toMatch(/^HTTP\/1\.1 408/);
      const ok = await post(`${s.url}/v2/models/mount/infer`, inferBody);
      expect(ok.status).toBe(200);
      // Readiness returns once nothing has been refused for a second.
      await new Promise((r) => setTimeout(r, 1100));
      expect((await fetch(`${s.url}/v2/health/ready`)).status).toBe(200);
    } finally {
      for (const sock of sockets) sock.destroy();
      await s.close();
    }
  });

  it('stream appends pass through the queue, byte and time limits: 1500 concurrent appends to one stream', async () => {
    const p = makeModel(tmp.dir, 'appends', 2, [lstm({ units: 4 })], 9).path;
    // Each chunk of one stream waits for the one before it, and each waits maxWaitMs for a batch
    // to fill: 64 accepted chunks would take 64 x 50 ms, far past the 300 ms timeout.
    const svc = await openService(p, { workers: 0, intraOpNumThreads: 1, maxQueue: 64, maxWaitMs: 50, timeoutMs: 300, registry: newRegistry() });
    try {
      const stream = svc.openStream();
      const t0 = performance.now();
      const settled = await Promise.allSettled(Array.from({ length: 1500 }, () => stream.append([[0.1, 0.2]])));
      const elapsed = performance.now() - t0;
      const ok = settled.filter((r) => r.status === 'fulfilled').length;
      const overloaded = settled.filter((r) => r.status === 'rejected' && r.reason instanceof OverloadedError).length;
      const timedOut = settled.filter((r) => r.status === 'rejected' && r.reason instanceof TimeoutError).length;
      expect(ok + overloaded + timedOut).toBe(1500);
      expect(overloaded).toBeGreaterThanOrEqual(1500 - 64);
      expect(ok).toBeLessThanOrEqual(64);
      expect(timedOut).toBeGreaterThan(0);
      // Every one settled within its timeout (plus scheduling slack), not after the whole chain.
      expect(elapsed).toBeLessThan(2000);
      expect(svc.batcher.queueDepth + svc.streamBatcher!.queueDepth).toBe(0);
      // The stream still works and counted only the chunks that ran.
      expect(stream.steps).toBe(ok);
      await stream.append([[0.3, 0.4]], { timeoutMs: 5000 });
      expect(stream.steps).toBe(ok + 1);
    } finally {
      await svc.close();
    }
  });

  it('bearer token: missing or wrong → 401 with WWW-Authenticate; right → 200; health probes need none', async () => {
    const token = 'a-test-token-0123456789abcdef';
    const s = await startServer({ modelPath: path, port: 0, handleSignals: false, log: false, workers: 1, intraOpNumThreads: 1, registry: newRegistry(), token });
    try {
      const url = `${s.url}/v2/models/mount/infer`;
      const none = await post(url, inferBody);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(none.body.error).toMatch(/Authorization: Bearer/);
      expect((await post(url, inferBody, { authorization: 'Bearer wrong-token-0123456789abcdef' })).status).toBe(401);
      expect((await post(url, inferBody, { authorization: `Basic ${token}` })).status).toBe(401);
      expect((await post(url, inferBody, { authorization: `Bearer ${token}` })).status).toBe(200);
      expect((await fetch(`${s.url}/metrics`)).status).toBe(401);
      expect((await fetch(`${s.url}/v2/models/mount`)).status).toBe(401);
      for (const probe of ['/v2/health/live', '/v2/health/ready', '/healthz', '/readyz']) expect((await fetch(`${s.url}${probe}`)).status, probe).toBe(200);
    } finally {
      await s.close();
    }
    expect(() => createRequestHandler([] as never)).toThrow();
  });

  it('loopback bind: a foreign Host (DNS rebinding), a foreign Origin, or a text/plain POST is refused', async () => {
    const s = await startServer({ modelPath: path, port: 0, handleSignals: false, log: false, workers: 1, intraOpNumThreads: 1, registry: newRegistry() });
    try {
      const { port } = new URL(s.url);
      const raw = (head: string, body = ''): Promise<string> => new Promise((resolve) => {
        const sock = connect(Number(port), '127.0.0.1');
        let text = '';
        sock.on('data', (c) => (text += c.toString()));
        sock.on('close', () => resolve(text));
        sock.write(`${head}\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      });
      // The audit's case: a page on attacker.example resolving to 127.0.0.1 POSTs text/plain.
      const rebinding = await raw('POST /v2/models/mount/infer HTTP/1.1\r\nhost: attacker.example\r\ncontent-type: text/plain', inferBody);
      expect(rebinding).toMatch(/^HTTP\/1\.1 403/);
      expect(rebinding).toMatch(/Host \\"attacker.example\\" is not allowed/);
      const streamOpen = await raw('POST /v1/streams HTTP/1.1\r\nhost: attacker.example');
      expect(streamOpen).toMatch(/^HTTP\/1\.1 403/);
      const crossSite = await raw(`POST /v2/models/mount/infer HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\norigin: http://attacker.example\r\ncontent-type: application/json`, inferBody);
      expect(crossSite).toMatch(/^HTTP\/1\.1 403/);
      expect(crossSite).toMatch(/cross-site requests from web pages are refused/);
      const textPlain = await raw(`POST /v2/models/mount/infer HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: text/plain`, inferBody);
      expect(textPlain).toMatch(/^HTTP\/1\.1 415/);
      // Loopback names and same-machine origins are fine.
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
        expect(await raw(`POST /v2/models/mount/infer HTTP/1.1\r\nhost: ${host}\r\norigin: http://localhost:3000\r\ncontent-type: application/json`, inferBody), host).toMatch(/^HTTP\/1\.1 200/);
      }
    } finally {
      await s.close();
    }
  });

  it('a non-finite output → 500 with a message, never 200 {"output": [null]}', async () => {
    const model = Model.create({ inputSize: 2, layers: [rnn({ units: 2 }), dense({ units: 1 })] }, { seed: 1 });
    // Finite weights whose sums overflow float32: the dense layer's output is +Infinity.
    model.params.fill(3e38);
    const p = join(tmp.dir, 'overflow.onnx');
    saveModel(model, p);
    const s = await startServer({ modelPath: p, port: 0, handleSignals: false, log: false, workers: 1, intraOpNumThreads: 1, registry: newRegistry() });
    try {
      const v2 = await post(`${s.url}/v2/models/overflow/infer`, JSON.stringify({ inputs: [{ name: 'x', shape: [1, 1, 2], datatype: 'FP32', data: [1, 1] }] }));
      expect(v2.status).toBe(500);
      expect(v2.body.error).toMatch(/non-finite output \(Infinity at y\[0\]\)/);
      const v1 = await post(`${s.url}/v1/predict`, JSON.stringify({ input: [[1, 1]] }));
      expect(v1.status).toBe(500);
      expect(v1.body.error.message).toMatch(/non-finite output/);
    } finally {
      await s.close();
    }
  });
});
