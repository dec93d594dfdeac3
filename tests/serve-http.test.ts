// The HTTP server on 127.0.0.1: predict and stream routes give what ONNX Runtime gives on the
// file; overload is refused with 503 while accepted requests complete; bad bodies get 400/413
// with a message and the server stays up; health, readiness and Prometheus metrics.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { dense, gru, lstm } from '../src/layers/spec.js';
import { InferenceModel } from '../src/runtime/inference.js';
import { startServer, type RunningServer } from '../src/serve/http.js';
import { newRegistry } from '../src/serve/metrics.js';
import { maxAbsDiff } from './reference/util.js';
import { makeModel, randomSequences, rows, tempDir } from './serve-helpers.js';

const tmp = tempDir();
const I = 3;
let server: RunningServer;
let single: InferenceModel;
let path: string;

interface Reply {
  status: number;
  body: any;
  text: string;
}

async function call(method: string, url: string, body?: unknown, raw = false): Promise<Reply> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : raw ? (body as string) : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    // metrics are text
  }
  return { status: res.status, body: parsed, text };
}

beforeAll(async () => {
  path = makeModel(tmp.dir, 'http', I, [lstm({ units: 8, returnSequences: true }), dense({ units: 2 })], 13).path;
  server = await startServer({ modelPath: path, port: 0, maxBatch: 16, maxWaitMs: 5, maxBodyBytes: 64 * 1024, handleSignals: false, log: false, registry: newRegistry(), intraOpNumThreads: 1 });
  single = await InferenceModel.open(path, { intraOpNumThreads: 1 });
});

afterAll(async () => {
  await server?.close();
  await single?.release();
  tmp.cleanup();
});

describe('routes', () => {
  it('listens on loopback and answers health and readiness', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await call('GET', `${server.url}/healthz`)).status).toBe(200);
    const ready = await call('GET', `${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready', provider: 'cpu' });
    const info = await call('GET', `${server.url}/v1/model`);
    expect(info.body.inputSize).toBe(I);
    expect(info.body.provider).toBe('cpu');
    expect(info.body.streaming).toBe(true);
  });

  it('predict: single sequences and a list give what ONNX Runtime gives on each alone', async () => {
    const xs = randomSequences(3, 12, I, 1, 20);
    const one = await Promise.all(xs.map((x) => call('POST', `${server.url}/v1/predict`, { input: rows(x, I) })));
    const many = await call('POST', `${server.url}/v1/predict`, { inputs: xs.map((x) => rows(x, I)) });
    expect(many.status).toBe(200);
    for (let i = 0; i < xs.length; i++) {
      const alone = await single.run(xs[i], { batch: 1 });
      expect(one[i].status).toBe(200);
      expect(one[i].body.dims).toEqual(alone.dims.slice(1));
      expect(maxAbsDiff(one[i].body.output.flat(), alone.y)).toBeLessThanOrEqual(1e-6);
      expect(maxAbsDiff(many.body.outputs[i].output.flat(), alone.y)).toBeLessThanOrEqual(1e-6);
    }
  });

  it('streams: open, append chunks, reset, close', async () => {
    const [x] = randomSequences(8, 1, I, 40, 40);
    const long = await single.run(x, { batch: 1 });
    const open = await call('POST', `${server.url}/v1/streams`);
    expect(open.status).toBe(201);
    const id = open.body.id as string;
    const out: number[] = [];
    for (let t0 = 0; t0 < 40; t0 += 9) {
      const r = await call('POST', `${server.url}/v1/streams/${id}`, { input: rows(x.subarray(t0 * I, Math.min(40, t0 + 9) * I), I) });
      expect(r.status).toBe(200);
      out.push(...r.body.output.flat());
      expect(r.body.steps).toBe(Math.min(40, t0 + 9));
    }
    expect(maxAbsDiff(out, long.y)).toBeLessThanOrEqual(1e-5);
    expect((await call('POST', `${server.url}/v1/streams/${id}/reset`)).body.steps).toBe(0);
    expect((await call('DELETE', `${server.url}/v1/streams/${id}`)).status).toBe(200);
    const gone = await call('POST', `${server.url}/v1/streams/${id}`, { input: [[1, 2, 3]] });
    expect(gone.status).toBe(404);
    expect(gone.body.error.message).toMatch(/no open stream/);
  });

  it('metrics: Prometheus text with requests, batch sizes, queue depth, latency and the provider', async () => {
    const r = await call('GET', `${server.url}/metrics`);
    expect(r.status).toBe(200);
    const t = r.text;
    expect(t).toMatch(/# TYPE rnnx_http_requests_total counter/);
    const okPredicts = Number(/rnnx_http_requests_total\{route="\/v1\/predict",method="POST",status="200"\} (\d+)/.exec(t)?.[1]);
    expect(okPredicts).toBeGreaterThanOrEqual(13);
    expect(t).toMatch(/# TYPE rnnx_batch_size histogram/);
    expect(t).toMatch(/rnnx_batch_size_bucket\{le="\+Inf",model="http",kind="predict"\} \d+/);
    // 12 + 12 predicted sequences went through the batcher.
    expect(Number(/rnnx_batch_size_sum\{model="http",kind="predict"\} (\d+)/.exec(t)?.[1])).toBe(24);
    // One run-time observation per batch, under the same model and kind.
    const batches = Number(/rnnx_batch_size_count\{model="http",kind="predict"\} (\d+)/.exec(t)?.[1]);
    expect(batches).toBeGreaterThan(0);
    expect(Number(/rnnx_run_duration_seconds_count\{model="http",kind="predict"\} (\d+)/.exec(t)?.[1])).toBe(batches);
    expect(t).toMatch(/rnnx_queue_depth\{model="[^"]+",kind="predict"\} 0/);
    expect(t).toMatch(/rnnx_http_request_duration_seconds_bucket\{le="0.005",route="\/v1\/predict"\} \d+/);
    expect(t).toMatch(/rnnx_provider_info\{model="http",provider="cpu",requested="default",workers="\d+",reason=""\} 1/);
    expect(t).toMatch(/rnnx_streams_open\{model="http"\} 0/);
  });
});

describe('bad requests get 400/413 with a message and the server stays up', () => {
  const cases: [string, string | unknown, boolean, number, RegExp][] = [
    ['malformed JSON', '{"input": [[1, 2, 3]', true, 400, /not valid JSON/],
    ['NaN literal', '{"input": [[1, NaN, 3]]}', true, 400, /not valid JSON/],
    ['empty body', '', true, 400, /empty body/],
    ['a JSON array', [[1, 2, 3]], false, 400, /must be a JSON object, got an array/],
    ['no input', { data: [[1, 2, 3]] }, false, 400, /must have "input"/],
    ['wrong feature count', { input: [[1, 2, 3], [1, 2]] }, false, 400, /input\[1\] must be an array of 3 numbers .*got an array of length 2/],
    ['flat instead of rows', { input: [1, 2, 3] }, false, 400, /input\[0\] must be an array of 3 numbers/],
    ['a string value', { input: [[1, 'NaN', 3]] }, false, 400, /input\[0\]\[1\] must be a finite number, got "NaN"/],
    ['a null value', { input: [[1, null, 3]] }, false, 400, /input\[0\]\[1\] must be a finite number, got null/],
    ['an infinite value', '{"input": [[1, 1e999, 3]]}', true, 400, /input\[0\]\[1\] must be a finite number, got Infinity/],
    ['empty sequence', { input: [] }, false, 400, /at least one step/],
    ['bad sequence in a list', { inputs: [[[1, 2, 3]], [[1, 2]]] }, false, 400, /inputs\[1\]\[0\] must be an array of 3 numbers/],
    ['bad timeout', { input: [[1, 2, 3]], timeoutMs: -1 }, false, 400, /timeoutMs must be a positive number/],
  ];
  for (const [name, body, raw, status, message] of cases) {
    it(name, async () => {
      const r = await call('POST', `${server.url}/v1/predict`, body, raw);
      expect(r.status).toBe(status);
      expect(r.body.error.code).toBe('bad_request');
      expect(r.body.error.message).toMatch(message);
    });
  }

  it('oversized body → 413', async () => {
    const big = { input: Array.from({ length: 5000 }, () => [0.123456, 0.123456, 0.123456]) };
    const r = await call('POST', `${server.url}/v1/predict`, big);
    expect(r.status).toBe(413);
    expect(r.body.error.message).toMatch(/limit of 65536 bytes/);
  });

  it('oversized chunked body (no content-length) → 413', async () => {
    const status = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${server.url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      const piece = '[0.5, 0.5, 0.5],'.repeat(1000);
      req.write('{"input": [');
      for (let i = 0; i < 10; i++) req.write(piece);
      req.end('[0.5, 0.5, 0.5]]}');
    });
    expect(status.status).toBe(413);
    expect(JSON.parse(status.body).error.message).toMatch(/exceeds the limit of 65536 bytes/);
  });

  it('unknown route → 404, wrong method → 405 method_not_allowed with an Allow header', async () => {
    expect((await call('GET', `${server.url}/nope`)).status).toBe(404);
    const r = await call('GET', `${server.url}/v1/predict`);
    expect(r.status).toBe(405);
    expect(r.body.error.message).toMatch(/use POST/);
    expect(r.body.error.code).toBe('method_not_allowed');
    const res = await fetch(`${server.url}/healthz`, { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    expect((await call('PUT', `${server.url}/v1/predict`)).status).toBe(405);
    expect((await fetch(`${server.url}/v1/predict`, { method: 'PUT' })).headers.get('allow')).toBe('POST');
  });

  it('HEAD is answered on GET routes, without a body', async () => {
    for (const route of ['/healthz', '/readyz', '/v1/model', '/metrics']) {
      const res = await fetch(`${server.url}${route}`, { method: 'HEAD' });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('');
    }
  });

  it('timeoutMs beyond setTimeout\'s range → 400, not an immediate 504', async () => {
    for (const t of [1e12, 2 ** 31]) {
      const r = await call('POST', `${server.url}/v1/predict`, { input: [[1, 2, 3]], timeoutMs: t });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('bad_request');
      expect(r.body.error.message).toMatch(new RegExp(`timeoutMs must be .*at most 2147483647.*got ${t}`));
    }
    const open = await call('POST', `${server.url}/v1/streams`);
    const r = await call('POST', `${server.url}/v1/streams/${open.body.id}`, { input: [[1, 2, 3]], timeoutMs: 1e12 });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/timeoutMs must be/);
    expect((await call('DELETE', `${server.url}/v1/streams/${open.body.id}`)).status).toBe(200);
  });

  it('malformed percent-encoding in a stream id → 400 naming the id, not 500', async () => {
    for (const [method, route] of [['POST', '/v1/streams/%E0%A4%A'], ['DELETE', '/v1/streams/%ZZ'], ['POST', '/v1/streams/%ZZ/reset']]) {
      const r = await call(method, `${server.url}${route}`, method === 'POST' ? { input: [[1, 2, 3]] } : undefined);
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('bad_request');
      expect(r.body.error.message).toMatch(/stream id "%(E0%A4%A|ZZ)" is not valid percent-encoding/);
    }
    // Well-formed but unknown ids are still 404.
    expect((await call('DELETE', `${server.url}/v1/streams/%41`)).status).toBe(404);
  });

  it('requests node:http cannot parse get a JSON error; an oversized request line gets 431', async () => {
    const raw = (text: string) =>
      new Promise<string>((resolve, reject) => {
        const sock = connect(server.port, '127.0.0.1');
        let got = '';
        sock.on('data', (c: Buffer) => (got += c.toString()));
        sock.on('end', () => resolve(got));
        sock.on('close', () => resolve(got));
        sock.on('error', reject);
        sock.write(text);
      });
    const parse = (text: string) => {
      const [head, body] = text.split('\r\n\r\n');
      return { status: Number(head.split(' ')[1]), head, body: JSON.parse(body) as { error: { code: string; message: string } } };
    };
    const garbage = parse(await raw('GARBAGE\r\n\r\n'));
    expect(garbage.status).toBe(400);
    expect(garbage.head).toMatch(/content-type: application\/json/i);
    expect(garbage.body.error.code).toBe('bad_request');
    expect(garbage.body.error.message).toMatch(/not valid HTTP\/1\.1 \(HPE_/);
    const long = parse(await raw(`GET /healthz?${'a'.repeat(60_000)} HTTP/1.1\r\nhost: x\r\n\r\n`));
    expect(long.status).toBe(431);
    expect(long.body.error.code).toBe('header_too_large');
    expect(long.body.error.message).toMatch(/exceed the server's limit of \d+ bytes \(HPE_HEADER_OVERFLOW\)/);
  });


  it('is still up and correct after all of them', async () => {
    expect((await call('GET', `${server.url}/healthz`)).status).toBe(200);
    const [x] = randomSequences(99, 1, I, 5, 5);
    const r = await call('POST', `${server.url}/v1/predict`, { input: rows(x, I) });
    expect(r.status).toBe(200);
    expect(maxAbsDiff(r.body.output.flat(), (await single.run(x, { batch: 1 })).y)).toBeLessThanOrEqual(1e-6);
  });
});

describe('batch larger than the queue', () => {
  it('a batch of more sequences than maxQueue → 400 before any is queued (503 "retry later" could never succeed)', async () => {
    const p = makeModel(tmp.dir, 'bigbatch', 2, [gru({ units: 3 })], 4).path;
    // A long maxWaitMs keeps accepted sequences queued: before the fix 4 were queued, the 5th refused.
    const s = await startServer({ modelPath: p, port: 0, maxQueue: 4, maxWaitMs: 600_000, handleSignals: false, log: false, registry: newRegistry(), intraOpNumThreads: 1 });
    try {
      const r = await call('POST', `${s.url}/v1/predict`, { inputs: Array.from({ length: 5 }, () => [[1, 2]]) });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('bad_request');
      expect(r.body.error.message).toMatch(/inputs must hold at most 4 sequences \(maxQueue.*got 5; split them/);
      expect(s.service.batcher.highWater).toBe(0);
      // Exactly maxQueue is fine.
      s.service.batcher.hurry();
      const ok = await call('POST', `${s.url}/v1/predict`, { inputs: Array.from({ length: 4 }, () => [[1, 2]]) });
      expect(ok.status).toBe(200);
      expect(ok.body.outputs.length).toBe(4);
    } finally {
      await s.close();
    }
  });

});

describe('aborted requests in metrics', () => {
  it('a client that goes away while its request is queued is counted as 499, not 200', async () => {
    const p = makeModel(tmp.dir, 'abort', 2, [gru({ units: 3 })], 4).path;
    const s = await startServer({ modelPath: p, port: 0, maxWaitMs: 600_000, handleSignals: false, log: false, registry: newRegistry(), intraOpNumThreads: 1 });
    try {
      const metrics = async () => (await call('GET', `${s.url}/metrics`)).text;
      const ac = new AbortController();
      const pending = fetch(`${s.url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: [[1, 2]] }), signal: ac.signal }).catch((e: Error) => e.name);
      for (let i = 0; !/rnnx_queue_depth\{model="[^"]+",kind="predict"\} 1/.test(await metrics()); i++) {
        if (i > 500) throw new Error('the request never queued');
        await new Promise((r) => setTimeout(r, 10));
      }
      ac.abort();
      expect(await pending).toBe('AbortError');
      let m = '';
      for (let i = 0; !/rnnx_http_requests_in_flight 1\n/.test((m = await metrics())); i++) {
        if (i > 500) throw new Error(`the aborted request never finished:\n${m}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(m).toMatch(/rnnx_http_requests_total\{route="\/v1\/predict",method="POST",status="499"\} 1/);
      expect(m).not.toMatch(/route="\/v1\/predict",status="200"/);
      expect(m).toMatch(/rnnx_queue_depth\{model="[^"]+",kind="predict"\} 0/);
    } finally {
      await s.close();
    }
  });
});

describe('overload', () => {
  it('ten times the queue limit at once: the excess gets 503 overloaded, accepted ones complete, memory stays bounded', async () => {
    const p = makeModel(tmp.dir, 'overload', 2, [gru({ units: 6 })], 4).path;
    // maxWaitMs far longer than the test holds the queue full while the burst arrives, so the
    // bound alone decides; once the 72 refusals are in, flush() runs the 8 accepted ones.
    const s = await startServer({ modelPath: p, port: 0, maxBatch: 64, maxWaitMs: 600_000, maxQueue: 8, handleSignals: false, log: false, registry: newRegistry(), intraOpNumThreads: 1 });
    const ref = await InferenceModel.open(p, { intraOpNumThreads: 1 });
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    try {
      const xs = randomSequences(17, 80, 2, 3, 12);
      const heaps: number[] = [];
      for (let round = 0; round < 4; round++) {
        let refusedSoFar = 0;
        const pending = xs.map((x) => call('POST', `${s.url}/v1/predict`, { input: rows(x, 2) }).then((r) => {
          if (r.status === 503 && ++refusedSoFar === 72) s.service.batcher.flush();
          return r;
        }));
        const rs = await Promise.all(pending);
        const ok = rs.map((r, i) => [r, i] as const).filter(([r]) => r.status === 200);
        const refused = rs.filter((r) => r.status === 503);
        expect(ok.length + refused.length).toBe(80);
        expect(ok.length).toBe(8);
        for (const r of refused) {
          expect(r.body.error.code).toBe('overloaded');
          expect(r.body.error.message).toMatch(/overloaded: 8 requests are already waiting \(maxQueue 8\); retry later/);
        }
        for (const [r, i] of ok) expect(maxAbsDiff(r.body.output, (await ref.run(xs[i], { batch: 1 })).y)).toBeLessThanOrEqual(1e-6);
        gc();
        heaps.push(process.memoryUsage().heapUsed);
      }
      expect(s.service.batcher.highWater).toBeLessThanOrEqual(8);
      expect(s.service.batcher.queueDepth).toBe(0);
      // Rounds 2-4 add nothing that stays: the refused requests held no memory.
      expect(heaps[3] - heaps[1]).toBeLessThan(8 * 1024 * 1024);
      expect((await call('GET', `${s.url}/healthz`)).status).toBe(200);
      const m = (await call('GET', `${s.url}/metrics`)).text;
      expect(m).toMatch(/rnnx_http_requests_total\{route="\/v1\/predict",method="POST",status="503"\} 288/);
    } finally {
      await s.close();
      await ref.release();
    }
  });
});
