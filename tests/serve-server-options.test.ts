// What `rnnx serve` decides before it opens a model: which files a command line or a Triton-style
// repository folder names (highest numeric version of each, names distinct), which hosts count as
// loopback, and the checks of the listener's options, each refusal naming the value.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { maxHeaderSize, request } from 'node:http';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { connectionsCheckingIntervalMs, exposureWarning, isLoopbackHost, resolveModels, startServer } from '../src/serve/http.js';
import { gru } from '../src/layers/spec.js';
import { newRegistry } from '../src/serve/metrics.js';
import { InferenceModel } from '../src/runtime/inference.js';
import { maxAbsDiff } from './reference/util.js';
import { makeModel, tempDir } from './serve-helpers.js';

const tmp = tempDir('rnnx-resolve-');
afterAll(() => tmp.cleanup());

function touch(...parts: string[]): string {
  const f = join(tmp.dir, ...parts);
  mkdirSync(join(f, '..'), { recursive: true });
  writeFileSync(f, 'not read here');
  return f;
}

describe('resolveModels', () => {
  it('a file is served under its base name, without .onnx (any case), version 1', () => {
    const a = touch('files', 'sensor.onnx');
    const b = touch('files', 'Other.ONNX');
    const c = touch('files', 'plain.bin');
    expect(resolveModels(a)).toEqual([{ name: 'sensor', version: '1', path: a }]);
    expect(resolveModels([a, b, c])).toEqual([
      { name: 'sensor', version: '1', path: a },
      { name: 'Other', version: '1', path: b },
      { name: 'plain.bin', version: '1', path: c },
    ]);
  });

  it('a repository folder: each <name>/<version>/model.onnx at its highest numeric version, names sorted', () => {
    const repo = join(tmp.dir, 'repo');
    touch('repo', 'zeta', '2', 'model.onnx');
    touch('repo', 'alpha', '9', 'model.onnx');
    touch('repo', 'alpha', '10', 'model.onnx');
    touch('repo', 'alpha', '11', 'notes.txt'); // a version folder without model.onnx is no version
    touch('repo', 'alpha', 'v12', 'model.onnx'); // nor is a folder whose name is not a number
    touch('repo', 'alpha', 'config.pbtxt');
    touch('repo', 'README.md'); // files beside the model folders are skipped
    mkdirSync(join(repo, 'empty'), { recursive: true }); // a folder without versions is skipped
    expect(resolveModels(repo)).toEqual([
      { name: 'alpha', version: '10', path: join(repo, 'alpha', '10', 'model.onnx') },
      { name: 'zeta', version: '2', path: join(repo, 'zeta', '2', 'model.onnx') },
    ]);
  });

  it('refuses what names no model, and two models of one name', () => {
    for (const bad of ['', 5 as unknown as string]) {
      expect(() => resolveModels(bad)).toThrow(`modelPath must be a path to an .onnx file or a model repository folder, got ${JSON.stringify(bad)}`);
    }
    const missing = join(tmp.dir, 'missing.onnx');
    expect(() => resolveModels(missing)).toThrow(`${missing}: cannot read: no such file or directory`);
    const none = join(tmp.dir, 'none');
    touch('none', 'm', 'latest', 'model.onnx');
    expect(() => resolveModels(none)).toThrow(`${none}: a model repository folder must hold <name>/<version>/model.onnx, found none`);
    const twice = touch('dup', 'sensor.onnx');
    const other = touch('dup2', 'sensor.onnx');
    expect(() => resolveModels([twice, other])).toThrow(`two models are named "sensor" (${other}); model names must be distinct`);
  });
});

describe('loopback hosts', () => {
  it('localhost, ::1 and 127.0.0.0/8 are loopback; other addresses and names are not', () => {
    for (const h of ['localhost', '::1', '127.0.0.1', '127.255.3.4']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '128.0.0.1', '10.0.0.1', '127.example.com', 'example.com', '::2']) expect(isLoopbackHost(h), h).toBe(false);
    expect(exposureWarning('10.0.0.1', false)).toBe('listening on 10.0.0.1, beyond this machine, without authentication: anyone who can reach it can run the models. Set a token (--token-file, RNNX_SERVE_TOKEN) or put an authenticating proxy in front');
  });
});

describe('listener options are checked before any model is opened', () => {
  const model = touch('opts', 'm.onnx'); // never parsed: the checks come first
  const base = { modelPath: model, handleSignals: false, log: false as const };
  it('port, request and header timeouts', async () => {
    for (const port of [-1, 65536, 1.5]) await expect(startServer({ ...base, port })).rejects.toThrow(`port must be an integer in [0, 65535], got ${port}`);
    await expect(startServer({ ...base, port: 0, requestTimeoutMs: 0 })).rejects.toThrow('requestTimeoutMs must be a positive integer of milliseconds, got 0');
    await expect(startServer({ ...base, port: 0, requestTimeoutMs: 2.5 })).rejects.toThrow('requestTimeoutMs must be a positive integer of milliseconds, got 2.5');
    await expect(startServer({ ...base, port: 0, headersTimeoutMs: -5 })).rejects.toThrow('headersTimeoutMs must be a positive integer of milliseconds, got -5');
    // Past the checks, the (fake) model file itself is what fails.
    await expect(startServer({ ...base, port: 65535, requestTimeoutMs: 1, headersTimeoutMs: 1 })).rejects.toThrow(/m\.onnx/);
  });
});

describe('a running server', () => {
  it('on ::1: the URL brackets the address; the log says what listens, then the drain and the close', async () => {
    const { path } = makeModel(tmp.dir, 'logged', 2, [gru({ units: 2 })], 1);
    const events: Record<string, unknown>[] = [];
    const s = await startServer({ modelPath: path, host: '::1', port: 0, workers: 0, intraOpNumThreads: 1, handleSignals: false, log: (e) => events.push(e), registry: newRegistry(), maxBatch: 5, maxWaitMs: 1, maxQueue: 7 });
    try {
      expect(s.url).toBe(`http://[::1]:${s.port}`);
      expect(s.host).toBe('::1');
      expect(s.services.map((v) => v.name)).toEqual(['logged']);
      expect(s.service).toBe(s.services[0]);
      expect(s.registry).toBe(s.service.registry);
      expect(events).toEqual([{
        event: 'listening', url: s.url, models: [{ name: 'logged', version: '1', units: 'model' }], provider: s.service.provider, fallbacks: s.service.engine.fallbacks,
        workers: 0, maxBatch: 5, maxWaitMs: 1, maxQueue: 7, streaming: 'supported',
      }]);
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
      expect(s.handler.services.get('logged')).toBe(s.service);
    } finally {
      await s.close();
    }
    expect(events.slice(1)).toEqual([{ event: 'draining', inFlight: 0, queued: 0 }, { event: 'closed' }]);
    // Closing again is the same close.
    await s.close();
    expect(events.length).toBe(3);
  });
});

describe('stalled requests on a running server', () => {
  it('headers that stop coming get their 408 about headersTimeoutMs later (not node\'s 30 s check), and the socket closes', async () => {
    const { path } = makeModel(tmp.dir, 'stalled', 2, [gru({ units: 2 })], 2);
    const s = await startServer({ modelPath: path, port: 0, workers: 0, intraOpNumThreads: 1, handleSignals: false, log: false, registry: newRegistry(), requestTimeoutMs: 400, headersTimeoutMs: 200 });
    try {
      const socket = connect(s.port, '127.0.0.1');
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString()));
      const closed = new Promise<'closed'>((resolve) => socket.on('close', () => resolve('closed')));
      socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
      // Far under node's default 30 s between checks, far over the 200 ms asked for.
      const late = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), 5000).unref());
      expect(await Promise.race([closed, late])).toBe('closed');
      const [head, body] = text.split('\r\n\r\n');
      expect(head.split('\r\n')).toEqual(['HTTP/1.1 408 Request Timeout', 'connection: close', 'content-type: application/json; charset=utf-8', `content-length: ${Buffer.byteLength(body)}`]);
      expect(JSON.parse(body)).toEqual({ error: { code: 'request_timeout', message: 'the request did not arrive whole within 400 ms (requestTimeoutMs; headers within 200 ms)' } });
    } finally {
      await s.close();
    }
  });
});

describe('requests node:http cannot parse', () => {
  it('garbage gets 400 Bad Request, an oversized head 431, each a closing JSON answer naming node\'s code', async () => {
    const { path } = makeModel(tmp.dir, 'unparsed', 2, [gru({ units: 2 })], 5);
    const s = await startServer({ modelPath: path, port: 0, workers: 0, intraOpNumThreads: 1, handleSignals: false, log: false, registry: newRegistry() });
    const raw = (text: string) => new Promise<{ head: string[]; body: { error: { code: string; message: string } } }>((resolve, reject) => {
      const socket = connect(s.port, '127.0.0.1');
      let got = '';
      socket.on('data', (c: Buffer) => (got += c.toString()));
      socket.on('close', () => {
        const [head, body] = got.split('\r\n\r\n');
        resolve({ head: head.split('\r\n'), body: JSON.parse(body) });
      });
      socket.on('error', reject);
      socket.write(text);
    });
    const headOf = (status: string, body: unknown) => [`HTTP/1.1 ${status}`, 'connection: close', 'content-type: application/json; charset=utf-8', `content-length: ${Buffer.byteLength(JSON.stringify(body))}`];
    try {
      const garbage = await raw('GARBAGE\r\n\r\n');
      expect(garbage.head).toEqual(headOf('400 Bad Request', garbage.body));
      expect(garbage.body.error.code).toBe('bad_request');
      expect(garbage.body.error.message).toMatch(/^the request is not valid HTTP\/1\.1 \(HPE_[A-Z_]+\): \S/);
      const long = await raw(`GET /healthz?${'a'.repeat(60_000)} HTTP/1.1\r\nhost: x\r\n\r\n`);
      expect(long.head).toEqual(headOf('431 Request Header Fields Too Large', long.body));
      expect(long.body.error).toEqual({ code: 'header_too_large', message: `the request line and headers exceed the server's limit of ${maxHeaderSize} bytes (HPE_HEADER_OVERFLOW)` });
    } finally {
      await s.close();
    }
  });
});

describe('starting a server: what is logged, and a port already taken', () => {
  it('without a log option each event is one JSON line on stderr with its time; a bind beyond loopback without a token warns first', async () => {
    const { path } = makeModel(tmp.dir, 'stderr', 2, [gru({ units: 2 })], 3);
    const lines: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
      lines.push(String(c));
      return true;
    });
    let s: Awaited<ReturnType<typeof startServer>> | undefined;
    try {
      s = await startServer({ modelPath: path, host: '0.0.0.0', port: 0, workers: 0, intraOpNumThreads: 1, handleSignals: false, registry: newRegistry() });
    } finally {
      spy.mockRestore();
    }
    try {
      expect(lines.every((l) => l.endsWith('}\n'))).toBe(true);
      const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(events.map((e) => e.event)).toEqual(['warning', 'listening']);
      for (const e of events) expect(Date.parse(String(e.time)), String(e.time)).toBeGreaterThan(Date.parse('2020-01-01'));
      expect(events[0]).toEqual({ time: events[0].time, event: 'warning', message: exposureWarning('0.0.0.0', false) });
      expect(events[1]).toMatchObject({ event: 'listening', url: `http://0.0.0.0:${s.port}` });
    } finally {
      await s.close();
    }
  });

  it('a port already in use: the start fails with the bind error and the models are closed again', async () => {
    const { path } = makeModel(tmp.dir, 'taken', 2, [gru({ units: 2 })], 4);
    const first = await startServer({ modelPath: path, port: 0, workers: 0, intraOpNumThreads: 1, handleSignals: false, log: false, registry: newRegistry() });
    const registry = newRegistry();
    try {
      await expect(startServer({ modelPath: path, port: first.port, workers: 0, intraOpNumThreads: 1, handleSignals: false, log: false, registry })).rejects.toThrow(/EADDRINUSE/);
      // The service opened for it is closed: its gauges no longer report it.
      expect(await registry.metrics()).not.toMatch(/rnnx_provider_info\{model="taken"/);
    } finally {
      await first.close();
    }
    expect(await first.registry.metrics()).not.toMatch(/rnnx_provider_info\{model="taken"/);
  });
});

describe('closing a server with requests in progress', () => {
  /** A POST whose body stops after `first` bytes until finish(). */
  function partialPost(port: number, body: string, first: number) {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    socket.on('data', (c: Buffer) => (got += c.toString()));
    socket.on('error', () => {});
    const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(got)));
    socket.write(`POST /v1/predict HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, first)}`);
    return { finish: () => socket.write(body.slice(first)), closed, got: () => got };
  }
  const until = async (cond: () => boolean) => {
    for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
    expect(cond()).toBe(true);
  };
  const body = JSON.stringify({ input: [[0.5, -1]] });

  it('a request whose body is still arriving is answered before the models close; the log counts it', async () => {
    const { path } = makeModel(tmp.dir, 'drained', 2, [gru({ units: 2 })], 6);
    const events: Record<string, unknown>[] = [];
    const s = await startServer({ modelPath: path, port: 0, workers: 0, intraOpNumThreads: 1, handleSignals: false, log: (e) => events.push(e), registry: newRegistry(), drainTimeoutMs: 20_000 });
    const a = partialPost(s.port, body, 4);
    await until(() => s.handler.inFlight === 1);
    const closing = s.close();
    await until(() => events.some((e) => e.event === 'draining'));
    expect(events.find((e) => e.event === 'draining')).toEqual({ event: 'draining', inFlight: 1, queued: 0 });
    a.finish();
    await closing;
    const text = await a.closed;
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(JSON.parse(text.split('\r\n\r\n')[1])).toMatchObject({ dims: [2] });
    expect(events.at(-1)).toEqual({ event: 'closed' });
  });

  it('a request waiting for its batch to fill runs at once when the close begins, not after maxWaitMs', async () => {
    const { path } = makeModel(tmp.dir, 'hurried', 2, [gru({ units: 2 })], 10);
    const s = await startServer({ modelPath: path, port: 0, workers: 0, intraOpNumThreads: 1, handleSignals: false, log: false, registry: newRegistry(), maxWaitMs: 600_000, drainTimeoutMs: 600_000 });
    const reply = fetch(`${s.url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    await until(() => s.service.batcher.queueDepth === 1);
    const closing = s.close();
    const late = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), 5000).unref());
    const r = await Promise.race([reply, late]);
    expect(r).not.toBe('late');
    expect((r as Response).status).toBe(200);
    expect(((await (r as Response).json()) as { dims: number[] }).dims).toEqual([2]);
    await closing;
  });

  it('past drainTimeoutMs the models still run what is queued before they close (a drain, not a refusal)', async () => {
    const { path } = makeModel(tmp.dir, 'queued-late', 2, [gru({ units: 2 })], 11);
    const s = await startServer({ modelPath: path, port: 0, workers: 0, intraOpNumThreads: 1, handleSignals: false, log: false, registry: newRegistry(), drainTimeoutMs: 1, maxBatch: 1 });
    const ref = await InferenceModel.open(path, { intraOpNumThreads: 1 });
    // The first run waits for the test; the second request queues behind it (one run at a time).
    const runner = s.service.engine.predict.runner;
    const realRun = runner.run;
    let openGate!: () => void;
    const gate = new Promise<void>((r) => (openGate = r));
    const ran: { x: number[]; y: number[] }[] = [];
    runner.run = async (req) => {
      const x = Array.from(req.x);
      if (ran.length === 0 && x[0] === 0.5) await gate;
      const r = await realRun(req);
      ran.push({ x, y: Array.from(r.y) });
      return r;
    };
    try {
      const post = (input: number[][]) => fetch(`${s.url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input }) }).catch(() => null);
      const a = post([[0.5, -1]]);
      await until(() => s.service.batcher.runsInFlight === 1);
      const b = post([[2, 0.25], [-1, 1]]);
      await until(() => s.service.batcher.queueDepth === 1);
      const closing = s.close();
      // Let the 1 ms drain deadline pass: the services are closing when the first run finishes.
      await new Promise((r) => setTimeout(r, 50));
      openGate();
      await closing;
      await Promise.all([a, b]);
      const want = await ref.run(Float32Array.from([2, 0.25, -1, 1]), { batch: 1 });
      expect(ran.map((r) => r.x)).toEqual([[0.5, -1], [2, 0.25, -1, 1]]);
      expect(maxAbsDiff(Float32Array.from(ran[1].y), want.y)).toBeLessThanOrEqual(1e-6);
    } finally {
      openGate();
      await ref.release();
    }
  });

  it('a request stuck past drainTimeoutMs is cut, and the close completes', async () => {
    const { path } = makeModel(tmp.dir, 'stuck', 2, [gru({ units: 2 })], 7);
    const s = await startServer({ modelPath: path, port: 0, workers: 0, intraOpNumThreads: 1, handleSignals: false, log: false, registry: newRegistry(), drainTimeoutMs: 150, bodyTimeoutMs: 60_000 });
    const a = partialPost(s.port, body, 4);
    await until(() => s.handler.inFlight === 1);
    await s.close();
    // Cut without an answer: the body never came.
    expect(await a.closed).toBe('');
  });
});

describe('listener defaults', () => {
  // fetch() drops a Host header: node:http sends it.
  const statusWithHost = (port: number, host: string) => new Promise<number>((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/healthz', headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    }).on('error', reject).end();
  });
  it('by default: 127.0.0.1, loopback Host names only; headers may take no longer than the whole request', async () => {
    const { path } = makeModel(tmp.dir, 'defaults', 2, [gru({ units: 2 })], 8);
    const s = await startServer({ modelPath: path, port: 0, workers: 0, intraOpNumThreads: 1, handleSignals: false, log: false, registry: newRegistry(), requestTimeoutMs: 250 });
    try {
      expect([s.url, s.host]).toEqual([`http://127.0.0.1:${s.port}`, '127.0.0.1']);
      expect(await statusWithHost(s.port, 'evil.example')).toBe(403);
      expect(await statusWithHost(s.port, `localhost:${s.port}`)).toBe(200);
      // headersTimeoutMs (default 10 s) is cut to requestTimeoutMs.
      const socket = connect(s.port, '127.0.0.1');
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString()));
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      await closed;
      expect(JSON.parse(text.split('\r\n\r\n')[1]).error.message).toBe('the request did not arrive whole within 250 ms (requestTimeoutMs; headers within 250 ms)');
    } finally {
      await s.close();
    }
  });

  it('bound beyond loopback: every Host name is let in (the operator\'s proxy or token decides)', async () => {
    const { path } = makeModel(tmp.dir, 'anyhost', 2, [gru({ units: 2 })], 9);
    const s = await startServer({ modelPath: path, host: '0.0.0.0', port: 0, workers: 0, intraOpNumThreads: 1, handleSignals: false, log: false, registry: newRegistry() });
    try {
      expect(await statusWithHost(s.port, 'evil.example')).toBe(200);
    } finally {
      await s.close();
    }
  });
});

describe('how often node checks the timeouts', () => {
  it('every second, or as often as a shorter header timeout', () => {
    expect([1, 200, 999, 1000, 1001, 10_000, 2_147_483_647].map(connectionsCheckingIntervalMs)).toEqual([1, 200, 999, 1000, 1000, 1000, 1000]);
  });
});

describe('model repositories, more exactly', () => {
  it('only names ending in .onnx lose it; every version folder is compared as a number; folders not all digits are no version', () => {
    const f = touch('exact', 'model.onnx.bak');
    expect(resolveModels(f)).toEqual([{ name: 'model.onnx.bak', version: '1', path: f }]);
    const repo = join(tmp.dir, 'exact-repo');
    for (const v of ['2', '10', '3', '1', '9']) touch('exact-repo', 'm', v, 'model.onnx');
    touch('exact-repo', 'only-v9', 'v9', 'model.onnx');
    touch('exact-repo', 'only-9v', '9v', 'model.onnx');
    for (const name of ['k', 'c', 'x', 'a', 'q']) touch('exact-repo', name, '1', 'model.onnx');
    expect(resolveModels(repo)).toEqual([
      ...['a', 'c', 'k'].map((name) => ({ name, version: '1', path: join(repo, name, '1', 'model.onnx') })),
      { name: 'm', version: '10', path: join(repo, 'm', '10', 'model.onnx') },
      ...['q', 'x'].map((name) => ({ name, version: '1', path: join(repo, name, '1', 'model.onnx') })),
    ]);
  });

  it('names come in JavaScript string order, not in the order the folder lists them', () => {
    // libuv lists a folder in UTF-8 byte order (strcmp): U+FF5A (EF BD 9A) before U+1F600
    // (F0 9F 98 80). As JavaScript strings the emoji's first UTF-16 unit, 0xD83D, is below 0xFF5A:
    // the first model (the default one) is the emoji's.
    const repo = join(tmp.dir, 'order-repo');
    for (const name of ['\uFF5A', '\u{1F600}']) touch('order-repo', name, '1', 'model.onnx');
    expect(resolveModels(repo).map((m) => m.name)).toEqual(['\u{1F600}', '\uFF5A']);
  });
});

describe('starting: a token silences the warning; a model that fails to open closes those opened before it', () => {
  it('bound beyond loopback with a token: no warning', async () => {
    const { path } = makeModel(tmp.dir, 'tokened', 2, [gru({ units: 2 })], 11);
    const events: Record<string, unknown>[] = [];
    const s = await startServer({ modelPath: path, host: '0.0.0.0', port: 0, workers: 0, intraOpNumThreads: 1, handleSignals: false, log: (e) => events.push(e), registry: newRegistry(), token: 'a-token-of-24-characters' });
    try {
      expect(events.map((e) => e.event)).toEqual(['listening']);
    } finally {
      await s.close();
    }
  });

  it('the second model is no ONNX file: the start fails and the first model is closed again', async () => {
    const { path } = makeModel(tmp.dir, 'opened-first', 2, [gru({ units: 2 })], 12);
    const bad = touch('bad-second', 'broken.onnx');
    const registry = newRegistry();
    await expect(startServer({ modelPath: [path, bad], port: 0, workers: 0, intraOpNumThreads: 1, handleSignals: false, log: false, registry })).rejects.toThrow(/broken\.onnx/);
    expect(await registry.metrics()).not.toMatch(/rnnx_provider_info\{model="opened-first"/);
  });
});
