// Graceful shutdown: the server runs as a child process (src/serve/main.ts, the entry the CLI
// reuses); requests are in flight when SIGTERM arrives; they finish with correct answers, new
// requests are refused (503 or connection refused), and the process exits with code 0.

import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { dense, lstm } from '../src/layers/spec.js';
import { InferenceModel } from '../src/runtime/inference.js';
import { maxAbsDiff } from './reference/util.js';
import { makeModel, randomSequences, rows, tempDir } from './serve-helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * Starts src/serve/main.ts on a free port with a long batching wait (so requests are certainly
 * still queued when a signal lands). `url` resolves once the server prints {"listening": url}.
 */
function startChild(modelPath: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/serve/main.ts', modelPath, '--port', '0', '--max-wait-ms', '60000', '--threads', '1'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = { stderr: '' };
  child.stderr.on('data', (c: Buffer) => (log.stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (l) => {
      const m = JSON.parse(l) as { listening?: string };
      if (m.listening) resolve(m.listening);
    });
    void exited.then((code) => reject(new Error(`server exited early with code ${code}: ${log.stderr}`)));
  });
  return {
    child,
    exited,
    url,
    get stderr() {
      return log.stderr;
    },
  };
}

it('SIGTERM under load: in-flight requests finish, new ones are refused, exit code 0', async () => {
  const I = 4;
  const { path } = makeModel(tmp.dir, 'sigterm', I, [lstm({ units: 16 }), dense({ units: 2 })], 6);
  const server = startChild(path);
  const { child, exited } = server;
  const ref = await InferenceModel.open(path, { intraOpNumThreads: 1 });
  try {
    const url = await server.url;

    const xs = randomSequences(12, 6, I, 200, 400);
    const inflight = xs.map((x) =>
      fetch(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: rows(x, I) }) }).then(async (r) => ({ status: r.status, body: (await r.json()) as { output: number[] } })),
    );
    // Wait until all six wait in the batcher's queue.
    for (let i = 0; ; i++) {
      const m = await (await fetch(`${url}/metrics`)).text();
      if (/rnnx_queue_depth\{model="[^"]+",kind="predict"\} 6/.test(m)) break;
      if (i > 500) throw new Error(`requests never queued:\n${m}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 20));
    // A request after the signal is refused: 503 on a live connection, or no connection at all.
    const late = await fetch(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: rows(xs[0], I) }) })
      .then(async (r) => ({ status: r.status, body: await r.text() }))
      .catch((e: Error) => ({ status: 0, body: String((e.cause as Error | undefined)?.message ?? e.message) }));
    if (late.status !== 0) {
      expect(late.status).toBe(503);
      expect(late.body).toMatch(/shutting down/);
    } else {
      expect(late.body).toMatch(/ECONNREFUSED|ECONNRESET|other side closed|socket/i);
    }

    const done = await Promise.all(inflight);
    for (let i = 0; i < xs.length; i++) {
      expect(done[i].status).toBe(200);
      const alone = await ref.run(xs[i], { batch: 1 });
      expect(maxAbsDiff(done[i].body.output, alone.y)).toBeLessThanOrEqual(1e-6);
    }
    expect(await exited).toBe(0);
    expect(server.stderr).toMatch(/"event":"signal","signal":"SIGTERM"/);
    expect(server.stderr).toMatch(/"event":"exit","code":0/);
  } finally {
    child.kill('SIGKILL');
    await ref.release();
  }
});

it('SIGTERM while request bodies are still being read: those requests and a stream chunk still get 200', async () => {
  const I = 4;
  const { path } = makeModel(tmp.dir, 'sigterm-body', I, [lstm({ units: 8, returnSequences: true }), dense({ units: 2 })], 9);
  const server = startChild(path);
  const { child, exited } = server;
  const ref = await InferenceModel.open(path, { intraOpNumThreads: 1 });
  try {
    const url = await server.url;
    const stream = (await (await fetch(`${url}/v1/streams`, { method: 'POST' })).json()) as { id: string };
    const xs = randomSequences(3, 4, I, 20, 40);
    // Each body is sent in two halves; the signal lands between them, while the server is reading.
    const halfSent: (() => void)[] = [];
    const started: Promise<void>[] = [];
    const posts = xs.map((x, i) => {
      const text = JSON.stringify({ input: rows(x, I) });
      const target = i === 3 ? `${url}/v1/streams/${stream.id}` : `${url}/v1/predict`;
      return new Promise<{ status: number; body: { output: number[][] } }>((resolve, reject) => {
        const req = request(target, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } }, (res) => {
          let b = '';
          res.on('data', (c: Buffer) => (b += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(b) }));
        });
        req.on('error', reject);
        const cut = Math.floor(text.length / 2);
        started.push(new Promise<void>((r) => req.write(text.slice(0, cut), () => r())));
        halfSent.push(() => req.end(text.slice(cut)));
      });
    });
    await Promise.all(started);
    // Every handler has started (the metrics request itself is one more in flight).
    for (let i = 0; ; i++) {
      const m = await (await fetch(`${url}/metrics`)).text();
      if (/rnnx_http_requests_in_flight 5/.test(m)) break;
      if (i > 500) throw new Error(`requests never started:\n${m}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    for (const f of halfSent) f();
    const done = await Promise.all(posts);
    for (let i = 0; i < xs.length; i++) {
      expect(done[i].status).toBe(200);
      const alone = await ref.run(xs[i], { batch: 1 });
      expect(maxAbsDiff(done[i].body.output.flat(), alone.y)).toBeLessThanOrEqual(1e-6);
    }
    expect(await exited).toBe(0);
    expect(server.stderr).toMatch(/"event":"exit","code":0/);
  } finally {
    child.kill('SIGKILL');
    await ref.release();
  }
});
