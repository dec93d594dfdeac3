// Issue 9, items 4, 5 and 14: thread creation failures become JavaScript errors and thread counts
// are capped; undisposed trainers share one pool instead of holding threads each; an update that
// makes a weight non-finite is rolled back with RNNX_NON_FINITE and never reaches a file; the
// CUDA trainer (its host emulation here) checks options and batches exactly as the CPU one.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dense, lstm } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';
import { native } from '../src/native.js';
import { Trainer, fit, computeGradients } from '../src/train/index.js';
import { makeCase } from './train-helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'rnnx-hardening-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const threadCount = () => readdirSync('/proc/self/task').length;
const isRoot = process.getuid?.() === 0;
const hasTools = ['prlimit', ...(isRoot ? ['setpriv'] : [])].every((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0)
  // As root the child runs as nobody, who must be able to read the script (not so in a 0700
  // temporary copy of the tree, such as StrykerJS's sandbox).
  && (!isRoot || spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'test', '-r', 'tests/scripts/thread-limit.ts']).status === 0);

describe('item 4: threads', () => {
  it.skipIf(process.platform !== 'linux' || !hasTools)('a thread that cannot be created is a JavaScript error (RNNX_RESOURCE), not an abort', () => {
    // RLIMIT_NPROC does not bind root: run the child as nobody then.
    const prefix = isRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
    const own = isRoot ? 0 : Number(spawnSync('sh', ['-c', 'ps -L -u "$(id -u)" --no-headers | wc -l'], { encoding: 'utf8' }).stdout.trim());
    const cmd = [...prefix, 'prlimit', `--nproc=${own + 30}`, process.execPath, '--import', 'tsx', 'tests/scripts/thread-limit.ts', '64'];
    const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8', timeout: 60_000 });
    const what = `status ${r.status}, signal ${r.signal}\n${r.stdout}\n${r.stderr}`;
    expect(r.signal, what).toBeNull();
    expect(r.status, what).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    for (const k of ['forward', 'computeGradients', 'Trainer']) {
      expect(out[k], k).toMatch(/^RNNX_RESOURCE: could not start 63 worker threads .*lower options\.threads or RNNX_NUM_THREADS/);
    }
    expect(out.after).toBe('ok');
  });

  it('threads is capped at 1024, as RNNX_NUM_THREADS is', () => {
    const c = makeCase([lstm({ units: 3 }), dense({ units: 1 })], { loss: { type: 'mse' } });
    for (const threads of [1025, 1e6, 2 ** 31]) {
      expect(() => native().forward(c.model.spec, c.model.layout, c.model.params, c.batch, { threads }), String(threads))
        .toThrow(expect.objectContaining({ code: 'RNNX_INVALID_ARGUMENT', message: expect.stringMatching(/^options\.threads must be an integer >= 1 and <= 1024, got/) }));
      expect(() => native().computeGradients(c.model.spec, c.model.layout, c.model.params, c.batch, { loss: { type: 'mse' }, threads })).toThrow(/<= 1024/);
      expect(() => new (native().Trainer)(c.model.spec, c.model.layout, c.model.params, { threads })).toThrow(/<= 1024/);
    }
    const env = spawnSync(process.execPath, ['--import', 'tsx', '-e', "import('./src/train/trainer.js').then((t) => console.log(t.defaultThreads()))"], { encoding: 'utf8', env: { ...process.env, RNNX_NUM_THREADS: '5000' } });
    expect(env.stderr).toMatch(/RNNX_NUM_THREADS must be an integer in \[1, 1024\], got "5000"/);
  });

  it.skipIf(process.platform !== 'linux')('trainers that are never disposed share one pool: 60 trainers × 4 threads start 3 threads, not 180', () => {
    const c = makeCase([lstm({ units: 3 }), dense({ units: 1 })], { loss: { type: 'mse' } });
    const before = threadCount();
    const kept: Trainer[] = [];
    for (let i = 0; i < 60; i++) kept.push(new Trainer(c.model, { threads: 4 }));
    kept[59].stepSync(c.batch, 0.01);
    const started = threadCount() - before;
    expect(started).toBeGreaterThanOrEqual(0);
    expect(started).toBeLessThanOrEqual(3);
    for (const t of kept) t.dispose();
  });

  it('concurrent steps of trainers sharing a pool give the results of running them one by one', async () => {
    const make = () => makeCase([lstm({ units: 16, returnSequences: true }), dense({ units: 2 })], { loss: { type: 'mse' }, N: 8, T: 12 });
    const cases = [make(), make(), make()];
    const refs = [make(), make(), make()];
    const trainers = cases.map((c) => new Trainer(c.model, { threads: 2 }));
    const results = await Promise.all(trainers.map((t, i) => t.step(cases[i].batch, 0.01)));
    for (let i = 0; i < 3; i++) {
      const t = new Trainer(refs[i].model, { threads: 2 });
      expect(results[i].loss).toBe(t.stepSync(refs[i].batch, 0.01).loss);
      expect(Buffer.from(cases[i].model.params.buffer).equals(Buffer.from(refs[i].model.params.buffer))).toBe(true);
      t.dispose();
      trainers[i].dispose();
    }
  });
});

describe('item 5: non-finite weights after an update', () => {
  const layers = [lstm({ units: 6 }), dense({ units: 1 })];

  it('a learning rate that overflows float32 is rolled back with RNNX_NON_FINITE; the trainer goes on as if it never ran', async () => {
    for (const optimizer of [{ type: 'sgd' as const }, { type: 'adam' as const }, { type: 'rmsprop' as const }]) {
      const a = makeCase(layers, { loss: { type: 'mse' } });
      const b = makeCase(layers, { loss: { type: 'mse' } });
      const before = a.model.params.slice();
      const t = new Trainer(a.model, { threads: 1, optimizer });
      await expect(t.step(a.batch, 1e39), optimizer.type).rejects.toMatchObject({
        code: 'RNNX_NON_FINITE', message: expect.stringMatching(/^non-finite weight .* with learning rate 1e\+39.*rolled back/),
      });
      expect(() => t.stepSync(a.batch, 1e39)).toThrow(expect.objectContaining({ code: 'RNNX_NON_FINITE' }));
      expect(Buffer.from(a.model.params.buffer).equals(Buffer.from(before.buffer)), optimizer.type).toBe(true);
      expect(t.info().steps).toBe(0);
      // The optimizer state was rolled back too: the next good step equals a fresh trainer's first.
      const fresh = new Trainer(b.model, { threads: 1, optimizer });
      expect((await t.step(a.batch, 0.01)).loss).toBe((await fresh.step(b.batch, 0.01)).loss);
      expect(Buffer.from(a.model.params.buffer).equals(Buffer.from(b.model.params.buffer)), optimizer.type).toBe(true);
      t.dispose();
      fresh.dispose();
    }
  });

  it('names the first weight that overflowed, found past the first 64 (the check screens blocks of 64)', async () => {
    // Zero inputs give the 96 input weights of the LSTM (W, [24, 4]) a zero gradient: they stay
    // finite, so the first overflow comes later. The expected index is recomputed here from the
    // gradients: SGD's w − lr·g in float32 with lr = 3e38 overflows where |g| is large (huge targets).
    const I = 4, N = 3, T = 5;
    const model = Model.create({ inputSize: I, layers: [lstm({ units: 6 }), dense({ units: 40 })] }, { seed: 3 });
    const batch = { x: new Float32Array(N * T * I), batch: N, time: T, y: Float32Array.from({ length: N * 40 }, (_, i) => 1e6 * (1 + (i % 7))) };
    const lr = 3e38;
    const g = computeGradients(model, batch, { loss: 'mse' }).grads;
    const w = model.params;
    let first = -1;
    for (let k = 0; k < w.length && first < 0; k++) {
      if (!Number.isFinite(Math.fround(w[k] - Math.fround(Math.fround(lr) * g[k])))) first = k;
    }
    expect(first).toBeGreaterThanOrEqual(96);
    expect(first).toBeLessThan(Math.floor(w.length / 64) * 64);  // inside a full block: the screen must stop there
    const t = new Trainer(model, { threads: 1, loss: 'mse', optimizer: { type: 'sgd' } });
    await expect(t.step(batch, lr)).rejects.toMatchObject({ code: 'RNNX_NON_FINITE', message: expect.stringContaining(`non-finite weight (params[${first}] = `) });
    t.dispose();
  });

  it('with tbptt, a failure in a later window rolls back the earlier windows of the step too', async () => {
    const T = 6;
    const a = makeCase([lstm({ units: 4, returnSequences: true }), dense({ units: 1 })], { loss: { type: 'mse' }, N: 3, T });
    const y = a.batch.y as Float32Array;
    for (let n = 0; n < 3; n++) y.fill(3e38, n * T + 4, n * T + 6);  // the third window's error overflows float32
    const before = a.model.params.slice();
    const t = new Trainer(a.model, { threads: 1, tbptt: 2, stateful: true, optimizer: { type: 'sgd' } });
    await expect(t.step(a.batch, 0.1)).rejects.toMatchObject({ code: 'RNNX_NON_FINITE', message: expect.stringMatching(/^non-finite (loss|gradient) .* at training step 3:/) });
    expect(Buffer.from(a.model.params.buffer).equals(Buffer.from(before.buffer))).toBe(true);
    expect(t.info().steps).toBe(0);
    expect(t.info().stateBatch).toBe(0);
    t.dispose();
  });

  it('fit stops with RNNX_NON_FINITE and writes no checkpoint; export refuses non-finite weights', async () => {
    const a = makeCase(layers, { loss: { type: 'mse' }, N: 4 });
    const path = join(tmp, 'ckpt.onnx');
    const data = { x: a.batch.x, y: a.batch.y as Float32Array, yShape: [4, 1], count: 4, time: a.batch.time, features: 2 };
    await expect(fit(a.model, data, { epochs: 1, batchSize: 4, threads: 1, optimizer: { type: 'sgd', lr: 1e39 }, checkpoint: { path } }))
      .rejects.toMatchObject({ code: 'RNNX_NON_FINITE' });
    expect(existsSync(path)).toBe(false);
    expect(a.model.params.every(Number.isFinite)).toBe(true);
    const bad = Model.create({ inputSize: 2, layers }, { seed: 1 });
    bad.params[3] = Number.NaN;
    bad.params[7] = Number.POSITIVE_INFINITY;
    expect(() => bad.toOnnx()).toThrow(expect.objectContaining({ code: 'RNNX_NON_FINITE', message: expect.stringMatching(/2 non-finite weights \(first: params\[3\] = NaN\)/) }));
  });

  it('rnnx train --lr 1e39 exits 1 and leaves an existing output file as it was', () => {
    const out = join(tmp, 'diverged.onnx');
    writeFileSync(out, 'previous model');
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'train', 'models/airline/config.json', '--lr', '1e39', '--epochs', '1', '-o', out],
      { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/training diverged: .*non-finite weight/);
    expect(readFileSync(out, 'utf8')).toBe('previous model');
    expect(existsSync(join(tmp, 'diverged.log.json'))).toBe(false);
    expect(readdirSync(tmp).filter((f) => f.startsWith('diverged'))).toEqual(['diverged.onnx']);
  });
});

describe('item 14: the CUDA backend (host emulation) validates exactly as the CPU trainer', () => {
  const model = Model.create({ inputSize: 2, layers: [lstm({ units: 3 }), dense({ units: 1 })] }, { seed: 2 });
  const cpu = (o: Record<string, unknown>) => new (native().Trainer)(model.spec, model.layout, model.params.slice(), o as never);
  const cuda = (o: Record<string, unknown>) => new (native().Trainer)(model.spec, model.layout, model.params.slice(), { ...o, device: 'cuda-emulated' } as never);
  const message = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      return (e as Error).message;
    }
    return 'accepted';
  };

  it('the same options are refused with the same messages', () => {
    const bad: [string, Record<string, unknown>, RegExp][] = [
      ['beta1 5', { optimizer: { type: 'adam', beta1: 5 } }, /options\.optimizer\.beta1 must be a number in \[0, 1\)/],
      ['NaN beta2', { optimizer: { type: 'adam', beta2: Number.NaN } }, /options\.optimizer\.beta2 must be a finite number/],
      ['NaN clipNorm', { clipNorm: Number.NaN }, /options\.clipNorm must be a finite number, got NaN/],
      ['negative clipValue', { clipValue: -1 }, /options\.clipValue must be >= 0/],
      ['negative Huber delta', { loss: { type: 'huber', delta: -1 } }, /options\.loss\.delta must be > 0/],
      ['Infinity momentum', { optimizer: { type: 'sgd', momentum: Number.POSITIVE_INFINITY } }, /momentum must be a finite number/],
      ['negative l2', { l2: { input: -0.5 } }, /options\.l2\.input must be >= 0/],
      ['unknown loss', { loss: { type: 'hinge' } }, /options\.loss\.type must be one of/],
    ];
    for (const [name, o, re] of bad) {
      const a = message(() => cpu(o));
      expect(a, name).toMatch(re);
      expect(message(() => cuda(o)), name).toBe(a);
    }
  });

  it('a NaN learning rate and a bad batch are refused, and leave the weights as they were', () => {
    const t = cuda({ loss: { type: 'mse' } });
    const x = new Float32Array(2 * 3 * 2);
    const y = new Float32Array(2);
    expect(() => t.stepSync({ x, batch: 2, time: 3, y }, Number.NaN)).toThrow(/lr must be a finite number >= 0, got NaN/);
    expect(() => t.stepSync({ x, batch: 2, time: 3, y }, -1)).toThrow(/lr must be a finite number >= 0/);
    x[4] = Number.NaN;
    expect(() => t.stepSync({ x, batch: 2, time: 3, y }, 0.01)).toThrow(/batch\.x\[4\] is nan: inputs must be finite/);
    expect(() => t.stepSync({ x: new Float32Array(12), batch: 2, time: 3, lengths: Int32Array.from([0, 3]), y }, 0.01)).toThrow(/batch\.lengths\[0\] must be in \[1, 3\]/);
    expect(t.getParams()).toEqual(model.params);
    expect(t.info().steps).toBe(0);
    t.dispose();
  });

  it('computeGradients refuses a NaN initialState', () => {
    const c = makeCase([lstm({ units: 3 }), dense({ units: 1 })], { loss: { type: 'mse' }, N: 2 });
    const h = new Float32Array(2 * 3);
    h[1] = Number.NaN;
    expect(() => computeGradients(c.model, c.batch, { initialState: [{ h, c: new Float32Array(6) }] }))
      .toThrow(/options\.initialState\[0\]\.h\[1\] is nan: initial states must be finite/);
  });
});
