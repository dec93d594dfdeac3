// The shipped example models (models/*): acceptance figures recomputed here from the model files
// with ONNX Runtime and plain loops (not with the CLI's own evaluation code), plus the CLI
// commands that use them: inspect, export, predict (forecast + plot), generate.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InferenceModel } from '../src/runtime/inference.js';
import { loadSequenceZip } from '../src/data/sequences.js';
import { splitSequences } from '../src/cli/config.js';

const tmp = mkdtempSync(join(tmpdir(), 'rnnx-cli-models-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function rnnx(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const AIRLINE = 'models/airline/airline.onnx';
const CHAR = 'models/shakespeare/char-lstm.onnx';
const INDOOR = 'models/indoor-movement/bigru.onnx';
const passengers = readFileSync('models/data/airline-passengers.csv', 'utf8').trim().split('\n').slice(1).map((l) => Number(l.split(',')[1]));

/** One-step-ahead predictions of the given rows, computed here from the file's metadata. */
async function airlinePredictions(path: string, rows: number[]): Promise<number[]> {
  const m = await InferenceModel.open(path, { providers: ['cpu'] });
  const extra = m.metadata!.extra!;
  const T = Number(extra.window);
  const transform = extra.transform;
  const inN = m.metadata!.inputNormalization!;
  const tN = m.metadata!.targetNormalization!;
  const log = transform === 'log' || transform === 'log-difference';
  const diff = transform === 'difference' || transform === 'log-difference';
  const f = (v: number) => (log ? Math.log(v) : v);
  const x = new Float32Array(rows.length * T);
  rows.forEach((r, n) => {
    for (let t = 0; t < T; t++) {
      const q = r - T + t;
      const d = diff ? f(passengers[q]) - f(passengers[q - 1]) : f(passengers[q]);
      x[n * T + t] = (d - inN.mean[0]) / inN.std[0];
    }
  });
  const out = await m.run(x, { batch: rows.length, time: T });
  await m.release();
  return rows.map((r, n) => {
    const p = out.y[n] * tN.std[0] + tN.mean[0];
    const prev = passengers[r - 1];
    return transform === 'none' ? p : transform === 'log' ? Math.exp(p) : transform === 'difference' ? prev + p : prev * Math.exp(p);
  });
}

const rmse = (a: number[], b: number[]) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0) / a.length);

describe('airline forecaster (models/airline)', () => {
  it('one-step-ahead RMSE on the last 24 months is below persistence and seasonal naive', async () => {
    const rows = Array.from({ length: 24 }, (_, i) => passengers.length - 24 + i);
    const actual = rows.map((r) => passengers[r]);
    const model = rmse(await airlinePredictions(AIRLINE, rows), actual);
    const persistence = rmse(rows.map((r) => passengers[r - 1]), actual);
    const seasonal = rmse(rows.map((r) => passengers[r - 12]), actual);
    expect(persistence).toBeCloseTo(51.78, 1);
    expect(seasonal).toBeCloseTo(49.99, 1);
    expect(model).toBeLessThan(persistence);
    expect(model).toBeLessThan(seasonal);
  });

  it('predict: a recursive 24-step forecast (first step = the one-step prediction) and an SVG', async () => {
    const out = join(tmp, 'forecast.csv');
    const plot = join(tmp, 'forecast.svg');
    const r = rnnx(['predict', AIRLINE, '-i', 'models/data/airline-passengers.csv', '--steps', '24', '-o', out, '--plot', plot, '--backtest', '24']);
    expect(r.code, r.stderr).toBe(0);
    // With --backtest: 24 backtest rows (row, actual, one-step prediction), then the 24-step forecast.
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('row,kind,actual,predicted');
    expect(lines).toHaveLength(49);
    const backtestRows = lines.slice(1, 25).map((l) => l.split(','));
    const oneStep = await airlinePredictions(AIRLINE, backtestRows.map((c) => Number(c[0])));
    backtestRows.forEach((c, n) => {
      expect(c[1]).toBe('backtest');
      expect(Number(c[2])).toBe(passengers[120 + n]);
      expect(Number(c[3])).toBeCloseTo(oneStep[n], 2);
    });
    const forecastRows = lines.slice(25).map((l) => l.split(','));
    expect(forecastRows.every((c) => c[1] === 'forecast' && c[2] === '')).toBe(true);
    const values = forecastRows.map((c) => Number(c[3]));
    expect(forecastRows[0][0]).toBe('144');
    // Step 1 predicts row 144 from the true rows: same as the independent one-step computation.
    const [first] = await airlinePredictions(AIRLINE, [144]);
    expect(values[0]).toBeCloseTo(first, 2);
    // A plausible forecast: positive, same order of magnitude as 1960 (390-622).
    for (const v of values) expect(v > 300 && v < 1000).toBe(true);
    const svg = readFileSync(plot, 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<path /g)?.length).toBe(2);
    expect(r.stderr).toMatch(/one-step-ahead RMSE over the last 24 rows: \d/);
  });

  it('inspect describes the rnnx file: layers, sizes, normalisation, opset', () => {
    const r = rnnx(['inspect', AIRLINE, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout);
    const spec = d.rnnx.spec;
    expect(d.layers.map((l: { kind: string }) => l.kind)).toEqual(spec.layers.map((l: { kind: string }) => l.kind));
    expect(d.layers[0].hiddenSize).toBe(spec.layers[0].units);
    expect(d.layers[0].inputSize).toBe(1);
    expect(d.inputs[0]).toEqual({ name: 'x', type: 'float32', shape: ['batch', 'time', 1] });
    expect(d.rnnx.metadata.inputNormalization.mean).toHaveLength(1);
    const text = rnnx(['inspect', AIRLINE]).stdout;
    expect(text).toContain('input normalisation: mean [');
  });

  it('export --stateful --sequence-lens --opset 17 keeps the numbers', async () => {
    const out = join(tmp, 'air-stateful.onnx');
    const r = rnnx(['export', AIRLINE, out, '--stateful', '--sequence-lens', '--opset', '17']);
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(rnnx(['inspect', out, '--json']).stdout);
    expect(d.opsets[0].version).toBe(17);
    expect(d.inputs.map((i: { name: string }) => i.name).sort()).toEqual(['c0_0', 'h0_0', 'sequence_lens', 'x']);
    expect(d.outputs.map((i: { name: string }) => i.name).sort()).toEqual(['cT_0', 'hT_0', 'y']);
    const rows = [140, 141, 142, 143];
    const a = await airlinePredictions(AIRLINE, rows);
    const b = await airlinePredictions(out, rows);
    b.forEach((v, i) => expect(v).toBeCloseTo(a[i], 4));
  });

  it('export refuses a foreign file (no rnnx metadata) and leaves no output', () => {
    const out = join(tmp, 'foreign.onnx');
    const r = rnnx(['export', 'tests/fixtures/pytorch_lstm.onnx', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('tests/fixtures/pytorch_lstm.onnx');
    expect(existsSync(out)).toBe(false);
  });
});

describe('char-level LSTM (models/shakespeare)', () => {
  it.each([CHAR, 'models/shakespeare/char-lstm-2x128.onnx'])('%s: validation cross-entropy on the held-out last 5% is at most 1.7 nats per character', async (file) => {
    const m = await InferenceModel.open(file, { providers: ['cpu'] });
    const vocab = m.metadata!.vocabulary!;
    const text = Array.from(readFileSync('models/data/tinyshakespeare.txt', 'utf8'));
    const from = Math.floor(text.length * 0.95);
    const index = new Map(vocab.map((c, i) => [c, i]));
    const codes = text.slice(from).map((c) => index.get(c)!);
    const T = Number(m.metadata!.extra!.time); // the sequence length it was trained on (100, or 50 for 2x128)
    expect(T).toBeGreaterThanOrEqual(50);
    const V = vocab.length;
    const count = Math.floor((codes.length - 1) / T);
    let nll = 0;
    let n = 0;
    const B = 64;
    for (let s = 0; s < count; s += B) {
      const b = Math.min(B, count - s);
      const x = new Float32Array(b * T * V);
      for (let i = 0; i < b; i++) for (let t = 0; t < T; t++) x[(i * T + t) * V + codes[(s + i) * T + t]] = 1;
      const r = await m.run(x, { batch: b, time: T });
      for (let i = 0; i < b; i++) {
        for (let t = 0; t < T; t++) {
          const next = codes[(s + i) * T + t + 1];
          nll -= Math.log(r.y[(i * T + t) * V + next]);
          n++;
        }
      }
    }
    await m.release();
    const ce = nll / n;
    expect(n).toBeGreaterThan(50_000);
    expect(ce).toBeLessThanOrEqual(1.7);
    // Far below the unigram entropy of the text (about 3.3 nats): the model learned context.
    expect(ce).toBeLessThan(2.5);
  });

  it('generate prints text from the vocabulary, reproducibly with --random-seed', () => {
    const args = ['generate', CHAR, '--seed', 'ROMEO:', '-n', '200', '-t', '0.7', '--random-seed', '42'];
    const a = rnnx(args);
    expect(a.code, a.stderr).toBe(0);
    const b = rnnx(args);
    expect(b.stdout).toBe(a.stdout);
    const text = a.stdout.replace(/\n$/, '');
    expect(text.startsWith('ROMEO:')).toBe(true);
    expect(Array.from(text).length).toBe(206);
    // Plausible English-like text: mostly letters and spaces, several distinct words.
    const letters = Array.from(text).filter((c) => /[a-zA-Z ]/.test(c)).length;
    expect(letters / 206).toBeGreaterThan(0.75);
    expect(new Set(text.split(/\s+/)).size).toBeGreaterThan(15);
  });
});

describe('IndoorMovement classifier (models/indoor-movement)', () => {
  it('accuracy on the held-out stratified random 30% split is at least 70%', async () => {
    const config = JSON.parse(readFileSync('models/indoor-movement/config.json', 'utf8'));
    const { dataset: d, groups } = loadSequenceZip('models/data/IndoorMovement.zip');
    const { validation } = splitSequences(d.y, groups, { ...config.data, path: 'IndoorMovement.zip' });
    const m = await InferenceModel.open(INDOOR, { providers: ['cpu'] });
    const step = d.time * d.features;
    const x = new Float32Array(validation.length * step);
    validation.forEach((i, n) => x.set(d.x.subarray(i * step, (i + 1) * step), n * step));
    const lens = Int32Array.from(validation, (i) => d.lengths![i]);
    const r = await m.run(x, { batch: validation.length, time: d.time, sequenceLens: lens });
    await m.release();
    let correct = 0;
    validation.forEach((i, n) => {
      const pred = r.y[n * 2 + 1] > r.y[n * 2] ? 1 : 0;
      if (pred === d.y[i]) correct++;
    });
    const acc = correct / validation.length;
    expect(validation.length).toBe(94);
    expect(acc).toBeGreaterThanOrEqual(0.7);
  });

  it('predict reads one sequence from a CSV (the archive\'s own file) and prints class probabilities', async () => {
    const { unzipSync } = await import('fflate');
    const entries = unzipSync(readFileSync('models/data/IndoorMovement.zip'));
    const csv = join(tmp, 'MovementAAL_RSS_1.csv');
    writeFileSync(csv, entries['dataset/MovementAAL_RSS_1.csv']);
    const r = rnnx(['predict', INDOOR, '-i', csv]);
    expect(r.code, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as number[][];
    expect(got).toHaveLength(1);
    expect(got[0][0] + got[0][1]).toBeCloseTo(1, 5);
    const { dataset: d } = loadSequenceZip('models/data/IndoorMovement.zip');
    const L = d.lengths![0];
    const m = await InferenceModel.open(INDOOR, { providers: ['cpu'] });
    const want = await m.run(d.x.slice(0, L * d.features), { batch: 1, time: L });
    await m.release();
    expect(got[0][0]).toBeCloseTo(want.y[0], 5);
    expect(got[0][1]).toBeCloseTo(want.y[1], 5);
  });

  it('the group-split model: accuracy at least 70% on dataset group 3 (an environment never seen in training)', async () => {
    const { dataset: d, groups } = loadSequenceZip('models/data/IndoorMovement.zip');
    const held = Array.from(groups!).map((g, i) => (g === 3 ? i : -1)).filter((i) => i >= 0);
    expect(held).toHaveLength(104);
    const m = await InferenceModel.open('models/indoor-movement/bigru-groups.onnx', { providers: ['cpu'] });
    const step = d.time * d.features;
    const x = new Float32Array(held.length * step);
    held.forEach((i, n) => x.set(d.x.subarray(i * step, (i + 1) * step), n * step));
    const r = await m.run(x, { batch: held.length, time: d.time, sequenceLens: Int32Array.from(held, (i) => d.lengths![i]) });
    await m.release();
    const correct = held.filter((i, n) => (r.y[n * 2 + 1] > r.y[n * 2] ? 1 : 0) === d.y[i]).length;
    expect(correct / held.length).toBeGreaterThanOrEqual(0.7);
  });
});
