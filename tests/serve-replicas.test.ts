// Client-carried stream state across replicas: two server processes (src/serve/main.ts) on
// 127.0.0.1 share a state key (RNNX_STATE_KEY); the chunks of one 1,000-step sequence alternate
// between them, each carrying the token the previous chunk returned, and the outputs equal one
// ONNX Runtime run over the whole sequence. A tampered token, a token for another model and one
// signed with another key are refused with 400.

import type { ChildProcess } from 'node:child_process';
import { afterAll, expect, it } from 'vitest';
import { dense, gru, lstm } from '../src/layers/spec.js';
import { InferenceModel } from '../src/runtime/inference.js';
import { maxAbsDiff } from './reference/util.js';
import { makeModel, randomSequences, startServerChild, tempDir } from './serve-helpers.js';

const tmp = tempDir();
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  tmp.cleanup();
});

function startReplica(models: string[], key: string): Promise<string> {
  const { child, url } = startServerChild([...models, '--port', '0', '--workers', '1', '--threads', '1'], { env: { ...process.env, RNNX_STATE_KEY: key } });
  children.push(child);
  return url;
}

async function chunk(url: string, model: string, x: Float32Array, I: number, state: string | true): Promise<{ status: number; body: any }> {
  const r = await fetch(`${url}/v2/models/${model}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ parameters: { stream_state: state }, inputs: [{ name: 'x', shape: [1, x.length / I, I], datatype: 'FP32', data: Array.from(x) }] }),
  });
  return { status: r.status, body: await r.json() };
}

it('chunks of one 1,000-step sequence alternating between two replicas equal one run; bad tokens → 400', async () => {
  const I = 2;
  const key = 'k'.repeat(16) + '0123456789abcdef0123456789abcdef';
  const m1 = makeModel(tmp.dir, 'sensor', I, [lstm({ units: 8, returnSequences: true }), dense({ units: 2 })], 41).path;
  const m2 = makeModel(tmp.dir, 'other', I, [gru({ units: 8, returnSequences: true }), dense({ units: 2 })], 42).path;
  const [a, b, stranger] = await Promise.all([startReplica([m1, m2], key), startReplica([m1], key), startReplica([m1], 'z'.repeat(48))]);
  const [x] = randomSequences(77, 1, I, 1000, 1000);
  const ref = await InferenceModel.open(m1, { intraOpNumThreads: 1 });
  try {
    const whole = await ref.run(x, { batch: 1 });
    const out: number[] = [];
    let token: string | true = true;
    const tokens: string[] = [];
    for (let c = 0; c < 10; c++) {
      const r = await chunk(c % 2 === 0 ? a : b, 'sensor', x.subarray(c * 100 * I, (c + 1) * 100 * I), I, token);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.outputs[0].shape).toEqual([1, 100, 2]);
      expect(r.body.parameters.stream_steps).toBe((c + 1) * 100);
      out.push(...r.body.outputs[0].data);
      token = r.body.parameters.stream_state;
      tokens.push(token as string);
    }
    expect(out.length).toBe(whole.y.length);
    expect(maxAbsDiff(out, whole.y)).toBeLessThanOrEqual(1e-5);

    const next = x.subarray(0, 10 * I);
    // One changed character in the signed body or in the tag.
    const t = tokens[4];
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    for (const bad of [flip(t, 40), flip(t, t.length - 3)]) {
      const r = await chunk(b, 'sensor', next, I, bad);
      expect(r.status).toBe(400);
      expect(r.body.error).toMatch(/does not verify|not a valid state token/);
    }
    // A token of the sensor model sent to another model of the same server.
    const foreign = await chunk(a, 'other', next, I, t);
    expect(foreign.status).toBe(400);
    expect(foreign.body.error).toMatch(/made for another model file/);
    // A replica with another key does not accept it either.
    const otherKey = await chunk(stranger, 'sensor', next, I, t);
    expect(otherKey.status).toBe(400);
    expect(otherKey.body.error).toMatch(/does not verify: it was altered, or made by a server with another state key/);
    // Not a token at all.
    expect((await chunk(a, 'sensor', next, I, 'hello')).status).toBe(400);
  } finally {
    await ref.release();
  }
}, 120_000);
