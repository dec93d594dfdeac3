// End-to-end: `rnnx train` (flags and config files, on the shipped data), `rnnx quickstart`,
// `rnnx bench` and `rnnx serve`, checking the files and numbers they produce.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InferenceModel } from '../src/runtime/inference.js';

const tmp = mkdtempSync(join(tmpdir(), 'rnnx-cli-train-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function rnnx(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', timeout: 170_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const passengers = readFileSync('models/data/airline-passengers.csv', 'utf8').trim().split('\n').slice(1).map((l) => Number(l.split(',')[1]));
const rmse = (a: number[], b: number[]) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0) / a.length);

describe('rnnx train', () => {
  it('from flags on the airline CSV: plain epoch lines (not a TTY), .onnx + log + SVG, loss going down', () => {
    const out = join(tmp, 'air', 'model.onnx');
    const r = rnnx(['train', '--data', 'models/data/airline-passengers.csv', '--columns', 'Passengers', '--window', '12',
      '--layers', 'lstm:8,dense:1', '--epochs', '20', '--batch-size', '16', '--lr', '0.01', '--test-rows', '0', '--validation-rows', '0', '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    const epochLines = r.stderr.split('\n').filter((l) => /^epoch \d+\/20 {2}loss /.test(l));
    expect(epochLines).toHaveLength(20);
    expect(r.stderr).not.toContain('\r');
    const log = JSON.parse(readFileSync(join(tmp, 'air', 'model.log.json'), 'utf8'));
    expect(log.epochs).toHaveLength(20);
    expect(log.epochs[19].loss).toBeLessThan(log.epochs[0].loss);
    expect(log.parameters).toBe(4 * 8 * (1 + 8) + 8 * 8 + 8 + 1); // W + R + B (8H) + dense
    // Inputs normalised with statistics of the training rows only: the whole series here (no held-out rows).
    const mean = passengers.reduce((a, b) => a + b, 0) / passengers.length;
    const m = JSON.parse(rnnx(['inspect', out, '--json']).stdout).rnnx.metadata;
    expect(m.inputNormalization.mean[0]).toBeCloseTo(mean, 6);
    const svg = readFileSync(join(tmp, 'air', 'model.loss.svg'), 'utf8');
    expect(svg).toContain('<svg');
    expect(svg).toContain('training loss');
  });

  it('from a config file with a held-out split: evaluation numbers in the log match an independent check', async () => {
    const cfg = JSON.parse(readFileSync('models/airline/config.json', 'utf8'));
    cfg.data.path = resolve('models/data/airline-passengers.csv');
    cfg.training.epochs = 40;
    cfg.output.model = 'air2/m.onnx'; // relative to the config file
    writeFileSync(join(tmp, 'cfg.json'), JSON.stringify(cfg));
    const r = rnnx(['train', join(tmp, 'cfg.json'), '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const log = JSON.parse(readFileSync(join(tmp, 'air2', 'm.log.json'), 'utf8'));
    const rows = Array.from({ length: 24 }, (_, i) => passengers.length - 24 + i);
    const actual = rows.map((r) => passengers[r]);
    expect(log.evaluation.persistenceRmse).toBeCloseTo(rmse(rows.map((r) => passengers[r - 1]), actual), 9);
    expect(log.evaluation.seasonalNaiveRmse).toBeCloseTo(rmse(rows.map((r) => passengers[r - 12]), actual), 9);
    // The model's own RMSE, recomputed from the file with ONNX Runtime (log-difference inputs).
    const m = await InferenceModel.open(join(tmp, 'air2', 'm.onnx'), { providers: ['cpu'] });
    const inN = m.metadata!.inputNormalization!;
    const tN = m.metadata!.targetNormalization!;
    const x = new Float32Array(24 * 12);
    rows.forEach((r, n) => {
      for (let t = 0; t < 12; t++) x[n * 12 + t] = (Math.log(passengers[r - 12 + t]) - Math.log(passengers[r - 13 + t]) - inN.mean[0]) / inN.std[0];
    });
    const y = (await m.run(x, { batch: 24, time: 12 })).y;
    await m.release();
    const pred = rows.map((r, n) => passengers[r - 1] * Math.exp(y[n] * tN.std[0] + tN.mean[0]));
    expect(log.evaluation.rmse).toBeCloseTo(rmse(pred, actual), 6);
  });

  it('a char-level model from a text config (vocabulary saved into the model)', () => {
    const cfg = {
      data: { kind: 'text', path: resolve('models/data/tinyshakespeare.txt'), time: 20, maxChars: 20000 },
      model: { layers: [{ kind: 'lstm', units: 16, returnSequences: true }, { kind: 'dense', units: 'vocab', activation: 'softmax' }] },
      training: { epochs: 1, batchSize: 32, optimizer: { type: 'rmsprop', lr: 0.01 } },
      output: { model: 'char.onnx' },
    };
    writeFileSync(join(tmp, 'char.json'), JSON.stringify(cfg));
    const r = rnnx(['train', join(tmp, 'char.json')]);
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(rnnx(['inspect', join(tmp, 'char.onnx'), '--json']).stdout);
    const vocab = d.rnnx.metadata.vocabulary as string[];
    const text = readFileSync('models/data/tinyshakespeare.txt', 'utf8');
    expect(vocab).toEqual([...new Set(text)].sort());
    expect(d.layers[0].inputSize).toBe(vocab.length);
    expect(d.layers[1].units).toBe(vocab.length);
    const log = JSON.parse(readFileSync(join(tmp, 'char.log.json'), 'utf8'));
    expect(log.evaluation.crossEntropy).toBeLessThan(Math.log(vocab.length)); // better than uniform
  });

  it('a sequence classifier from the IndoorMovement zip: exported with sequence_lens, ONNX Runtime agrees with the trainer', () => {
    const out = join(tmp, 'indoor', 'm.onnx');
    const r = rnnx(['train', '--data', 'models/data/IndoorMovement.zip', '--layers', 'gru:8:bidirectional,dense:classes:softmax', '--epochs', '3', '--batch-size', '16', '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('314 sequences (max 129 steps, 4 features, classes -1/1); 220 training, 94 validation');
    const log = JSON.parse(readFileSync(join(tmp, 'indoor', 'm.log.json'), 'utf8'));
    // The held-out accuracy from the exported file (ONNX Runtime, with sequence lengths) equals
    // the native trainer's own validation accuracy after the last epoch, to within one sequence.
    expect(Math.abs(log.evaluation.accuracy - log.epochs[2].valAccuracy)).toBeLessThanOrEqual(1 / 94 + 1e-9);
    expect(log.evaluation.crossEntropy).toBeCloseTo(log.epochs[2].valLoss, 3);
    const d = JSON.parse(rnnx(['inspect', out, '--json']).stdout);
    expect(d.inputs.map((i: { name: string }) => i.name)).toEqual(['x', 'sequence_lens']);
    expect(d.layers[0]).toMatchObject({ op: 'GRU', direction: 'bidirectional', hiddenSize: 8, inputSize: 4, linearBeforeReset: 1 });
    expect(d.layers[1]).toMatchObject({ kind: 'dense', units: 2, activation: 'softmax' });
  });

  it('bad model options are a user error naming the field', () => {
    const r = rnnx(['train', '--data', 'models/data/airline-passengers.csv', '--window', '12', '--layers', 'lstm:0,dense:1', '-o', join(tmp, 'bad.onnx')]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').pop()).toBe('rnnx: --layers (model.layers[0].units) must be a positive integer, got 0');
    expect(existsSync(join(tmp, 'bad.onnx'))).toBe(false);
  });
});

describe('rnnx quickstart', () => {
  it('trains, exports, predicts and beats both naive baselines, in well under two minutes', () => {
    const out = join(tmp, 'qs');
    const t0 = Date.now();
    const r = rnnx(['quickstart', '--out', out]);
    const seconds = (Date.now() - t0) / 1000;
    expect(r.code, r.stderr).toBe(0);
    expect(seconds).toBeLessThan(120);
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(s.testRows).toBe(24);
    expect(s.rmse.persistence).toBeCloseTo(51.782, 2);
    expect(s.rmse.seasonal).toBeCloseTo(49.987, 2);
    expect(s.rmse.model).toBeLessThan(s.rmse.persistence);
    expect(s.rmse.model).toBeLessThan(s.rmse.seasonal);
    expect(r.stdout).toContain('the model beats both baselines');
    for (const f of ['airline.onnx', 'airline-export.onnx', 'airline-forecast.svg', 'airline.log.json', 'airline.loss.svg']) expect(existsSync(join(out, f))).toBe(true);
    expect(s.forecast24).toHaveLength(24);
    // Step 5 served the exported file on loopback: one request per month, merged by the batcher.
    expect(s.served.requests).toBe(24);
    expect(s.served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(s.served.maxAbsDiff).toBeLessThan(1e-3);
  });
});

describe('rnnx bench', () => {
  it('prints inference and training tables and writes consistent JSON', () => {
    const json = join(tmp, 'bench.json');
    const r = rnnx(['bench', 'models/airline/airline.onnx', '--batch', '1,8', '--threads', '1', '--time', '12', '--iterations', '5', '--train-steps', '2', '--json', json]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('inference (ONNX Runtime)');
    expect(r.stdout).toContain('training (rnnx native trainer)');
    const b = JSON.parse(readFileSync(json, 'utf8'));
    expect(b.inference).toHaveLength(2);
    for (const row of b.inference) {
      expect(row.provider).toBe('cpu');
      expect(row.p50Ms).toBeLessThanOrEqual(row.p90Ms);
      expect(row.p90Ms).toBeLessThanOrEqual(row.p99Ms);
      expect(row.sequencesPerSec).toBeCloseTo((row.batch * 1000) / row.meanMs, 6);
    }
    expect(b.training.map((t: { batch: number }) => t.batch)).toEqual([1, 8]);
    for (const t of b.training) expect(t.stepsPerSec).toBeGreaterThan(0);
  });
});

// Serving is inference only (it never loads the addon): npm test runs it; npm run test:sanitize,
// which reruns this file for the addon's sake, skips it (ONNX Runtime under ASan is too slow for it).
describe.skipIf(Boolean(process.env.RNNX_SANITIZE))('rnnx serve', () => {
  it('serves the airline model over HTTP with the same numbers as ONNX Runtime, and drains on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', 'models/airline/airline.onnx', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const line = await new Promise<string>((resolveLine, reject) => {
        let buf = '';
        child.stdout.on('data', (d) => {
          buf += d;
          if (buf.includes('\n')) resolveLine(buf.split('\n')[0]);
        });
        child.on('exit', (code) => reject(new Error(`serve exited with ${code}`)));
        setTimeout(() => reject(new Error('serve did not start')), 30_000);
      });
      const { listening } = JSON.parse(line);
      const input = Array.from({ length: 12 }, (_, t) => [Math.sin(t)]);
      // raw: a model-space window (without it the server takes 13 passenger counts, as rnnx predict does).
      const res = await fetch(`${listening}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input, raw: true }) });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { output: number[]; dims: number[] };
      const m = await InferenceModel.open('models/airline/airline.onnx', { providers: ['cpu'] });
      const want = await m.run([input], {});
      await m.release();
      expect(body.dims).toEqual(want.dims.slice(1)); // one sequence in, its output [F] back
      expect(body.output.flat()[0]).toBeCloseTo(want.y[0], 5);
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
