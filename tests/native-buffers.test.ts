// JavaScript buffers that change under a running step (issue 9, items 1-3): a step works on
// native copies of the weights and the batch, so disposing the trainer or transferring a buffer
// while it runs never reaches freed memory; a detached buffer gives RNNX_DETACHED naming it.
// The crash-capable cases run in child processes (tests/scripts/buffer-scenarios.ts), 3 times
// each with --expose-gc and forced collections, and must never die by a signal.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { dense, gru, lstm } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';
import { native } from '../src/native.js';
import { Trainer, computeGradients } from '../src/train/index.js';
import { makeCase } from './train-helpers.js';

// One child runs the scenario 3 times in a row (in 3 fresh processes would triple tsx's start-up).
function scenario(name: string): Record<string, unknown>[] {
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', 'tests/scripts/buffer-scenarios.ts', name, '3'], { encoding: 'utf8', timeout: 110_000 });
  const what = `${name}: status ${r.status}, signal ${r.signal}\n${r.stderr}`;
  expect(r.signal, what).toBeNull();
  expect(r.status, what).toBe(0);
  const runs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(runs).toHaveLength(3);
  return runs;
}

const detach = (a: ArrayBufferView) => structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });

describe('item 1: dispose() during an async step', () => {
  it('never crashes; the step is rejected with RNNX_INVALID_STATE and its update discarded', () => {
    for (const r of scenario('dispose')) {
      expect(r.settled).toBe('rejected');
      expect(r.code).toBe('RNNX_INVALID_STATE');
      expect(r.message).toMatch(/disposed while this call ran; its result was discarded/);
    }
  });

  it('the model keeps the weights it had before the discarded step', async () => {
    const c = makeCase([lstm({ units: 8 }), dense({ units: 2 })], { loss: { type: 'mse' }, N: 4, T: 6 });
    const before = c.model.params.slice();
    const t = new Trainer(c.model, { threads: 1 });
    const p = t.step(c.batch, 0.1);
    t.dispose();
    await expect(p).rejects.toMatchObject({ code: 'RNNX_INVALID_STATE' });
    expect(Buffer.from(c.model.params.buffer).equals(Buffer.from(before.buffer))).toBe(true);
  });
});

describe('item 2: the parameter buffer transferred away', () => {
  it('before a step: RNNX_DETACHED naming params, and the transferred memory is not written', async () => {
    const c = makeCase([gru({ units: 5 }), dense({ units: 1 })], { loss: { type: 'mse' } });
    const t = new Trainer(c.model, { threads: 1 });
    const before = c.model.params.slice();
    const moved = new Float32Array(detach(c.model.params));
    await expect(t.step(c.batch, 0.5)).rejects.toMatchObject({ code: 'RNNX_DETACHED', message: expect.stringMatching(/^params .*detached/) });
    expect(() => t.stepSync(c.batch, 0.5)).toThrow(expect.objectContaining({ code: 'RNNX_DETACHED' }));
    expect(() => t.predict({ x: c.batch.x, batch: c.batch.batch, time: c.batch.time })).toThrow(/params .*detached/);
    await expect(t.evaluateBatch(c.batch)).rejects.toMatchObject({ code: 'RNNX_DETACHED' });
    expect(Buffer.from(moved.buffer).equals(Buffer.from(before.buffer))).toBe(true);
    t.dispose();
  });

  it('during a step: never crashes, the step is rejected with RNNX_DETACHED naming params', () => {
    for (const r of scenario('params')) {
      expect(r.settled).toBe('rejected');
      expect(r.code).toBe('RNNX_DETACHED');
      expect(r.message).toMatch(/^params .*detached.*update was discarded/);
      expect(r.paramsLength).toBe(0);
      expect(r.movedLength).toBeGreaterThan(0);
    }
  });

  it('forward and computeGradients refuse a detached params with RNNX_DETACHED', () => {
    const c = makeCase([lstm({ units: 3 }), dense({ units: 1 })], { loss: { type: 'mse' } });
    const p = c.model.params.slice();
    detach(p);
    expect(() => native().forward(c.model.spec, c.model.layout, p, c.batch)).toThrow(expect.objectContaining({ code: 'RNNX_DETACHED', message: expect.stringMatching(/^params is detached/) }));
    expect(() => computeGradients(c.model, c.batch, { params: p })).toThrow(expect.objectContaining({ code: 'RNNX_DETACHED' }));
  });
});

describe('item 3: batch buffers transferred or collected during a step', () => {
  it('during an async step: never crashes, and the loss equals that of an untouched copy of the batch', () => {
    for (const r of scenario('batch')) {
      expect(r.settled).toBe('resolved');
      expect(r.loss).toBe(r.referenceLoss);
      expect(r.sameParams).toBe(true);
    }
  });

  it('before a step: RNNX_DETACHED naming the buffer (x, y, lengths)', async () => {
    for (const field of ['x', 'y', 'lengths'] as const) {
      const c = makeCase([lstm({ units: 3 }), dense({ units: 1 })], { loss: { type: 'mse' }, N: 3, T: 4, lengths: [4, 2, 3] });
      const t = new Trainer(c.model, { threads: 1 });
      detach(c.batch[field]!);
      await expect(t.step(c.batch, 0.1), field).rejects.toMatchObject({ code: 'RNNX_DETACHED', message: expect.stringContaining(`batch.${field} is detached`) });
      expect(() => t.stepSync(c.batch, 0.1), field).toThrow(expect.objectContaining({ code: 'RNNX_DETACHED' }));
      t.dispose();
    }
  });

  it('a getter that detaches x while the call reads its other arguments: RNNX_DETACHED, nothing computed', () => {
    const c = makeCase([lstm({ units: 3 }), dense({ units: 1 })], { loss: { type: 'mse' }, N: 3, T: 4 });
    const x = c.batch.x.slice();
    const input = { x, batch: 3, time: 4, get lengths() { detach(x); return undefined; } };
    expect(() => native().forward(c.model.spec, c.model.layout, c.model.params, input)).toThrow(expect.objectContaining({ code: 'RNNX_DETACHED' }));
    const x2 = c.batch.x.slice();
    const options = { loss: { type: 'mse' as const }, get training() { detach(x2); return false; } };
    // `training` is read after the batch was checked: the re-check before the kernels catches it.
    expect(() => native().computeGradients(c.model.spec, c.model.layout, c.model.params, { ...c.batch, x: x2 }, options))
      .toThrow(expect.objectContaining({ code: 'RNNX_DETACHED', message: expect.stringMatching(/^batch\.x was detached/) }));
    const t = new Trainer(c.model, { threads: 1 });
    const x3 = c.batch.x.slice();
    const batch = { x: x3, batch: 3, time: 4, get y() { detach(x3); return c.batch.y; } };
    expect(() => t.stepSync(batch, 0.1)).toThrow(expect.objectContaining({ code: 'RNNX_DETACHED', message: expect.stringMatching(/^batch\.x (is|was) detached/) }));
    t.dispose();
  });

  it('a step does not see changes made to the batch after it was queued', async () => {
    const c = makeCase([lstm({ units: 4 }), dense({ units: 1 })], { loss: { type: 'mse' }, N: 4, T: 5 });
    const ref = makeCase([lstm({ units: 4 }), dense({ units: 1 })], { loss: { type: 'mse' }, N: 4, T: 5 });
    const t = new Trainer(c.model, { threads: 1 });
    const r = new Trainer(ref.model, { threads: 1 });
    const p = t.step(c.batch, 0.05);
    c.batch.x.fill(1e30);
    (c.batch.y as Float32Array).fill(Number.NaN);
    const [a, b] = [await p, await r.step(ref.batch, 0.05)];
    expect(a.loss).toBe(b.loss);
    expect(Buffer.from(c.model.params.buffer).equals(Buffer.from(ref.model.params.buffer))).toBe(true);
    t.dispose();
    r.dispose();
  });
});

describe('the model keeps its own parameter buffer', () => {
  it('weights set from JavaScript between steps are the ones the next step starts from', async () => {
    const a = makeCase([lstm({ units: 4 }), dense({ units: 1 })], { loss: { type: 'mse' } });
    const b = makeCase([lstm({ units: 4 }), dense({ units: 1 })], { loss: { type: 'mse' } });
    const ta = new Trainer(a.model, { threads: 1, optimizer: { type: 'sgd' } });
    await ta.step(a.batch, 0.1);
    a.model.params.set(b.model.params);  // back to the initial weights
    const tb = new Trainer(b.model, { threads: 1, optimizer: { type: 'sgd' } });
    const [ra, rb] = [await ta.step(a.batch, 0.1), await tb.step(b.batch, 0.1)];
    expect(ra.loss).toBe(rb.loss);
    expect(Buffer.from(a.model.params.buffer).equals(Buffer.from(b.model.params.buffer))).toBe(true);
    ta.dispose();
    tb.dispose();
  });
});

void Model;
