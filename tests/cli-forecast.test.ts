// Forecasting that tells the truth: the config schema (whole config checked before training),
// flag equivalents, baselines on the held-out rows, early stopping on by default and reported,
// `rnnx init`, `predict --backtest -o` and the `--model` alias.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configSchema, validateConfig, type TrainConfig } from '../src/cli/config.js';
import { configFromArgs, baselineForecasts } from '../src/cli/commands/train.js';
import { detectSeason, forecastColumn, suggest } from '../src/cli/commands/init.js';
import { modelFlagAsPositional } from '../src/cli/app.js';
import { loadCsvSeries } from '../src/data/timeseries.js';

const tmp = mkdtempSync(join(tmpdir(), 'rnnx-forecast-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function rnnx(args: string[], cwd?: string) {
  const main = resolve('src/cli/main.ts');
  const r = spawnSync(process.execPath, ['--import', 'tsx', main, ...args], { encoding: 'utf8', timeout: 170_000, cwd });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

const airlineCsv = resolve('models/data/airline-passengers.csv');
const passengers = readFileSync(airlineCsv, 'utf8').trim().split('\n').slice(1).map((l) => Number(l.split(',')[1]));
const rmse = (a: number[], b: number[]) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0) / a.length);

function airlineConfig(): TrainConfig {
  const c = JSON.parse(readFileSync('models/airline/config.json', 'utf8'));
  c.data.path = airlineCsv;
  return c;
}

describe('config schema: the whole config is checked before anything is read or trained', () => {
  it('every shipped config is valid', () => {
    for (const dir of readdirSync('models')) {
      if (!statSync(join('models', dir)).isDirectory()) continue;
      for (const f of readdirSync(join('models', dir)).filter((f) => /config.*\.json$/.test(f))) {
        expect(() => validateConfig(JSON.parse(readFileSync(join('models', dir, f), 'utf8')), f), f).not.toThrow();
      }
    }
    expect(configSchema().schema.$schema).toContain('json-schema.org');
  });

  // Issue 9 items 8 and 13: each a one-line user error naming the file and the field, exit 1,
  // before training starts (no epoch line, no file written).
  const cases: [string, (c: any) => void, string][] = [
    ['seed 1.5', (c) => (c.training.seed = 1.5), 'training.seed must be a non-negative integer, got 1.5'],
    ['seed "abc"', (c) => (c.training.seed = 'abc'), 'training.seed must be a non-negative integer, got "abc"'],
    ['testRows -5', (c) => (c.data.testRows = -5), 'data.testRows must be a non-negative integer, got -5'],
    ['validationRows 1.5', (c) => (c.data.validationRows = 1.5), 'data.validationRows must be a non-negative integer, got 1.5'],
    ['units 1e6', (c) => (c.model.layers[0].units = 1e6), 'model.layers[0].units must be a positive integer <= 8192, got 1000000'],
    ['testRows "24"', (c) => (c.data.testRows = '24'), 'data.testRows must be a non-negative integer, got "24"'],
    ['a misspelt field', (c) => (c.data.testrows = 24), 'data.testrows: unknown field; known fields of data: kind, path, columns'],
    ['a bad transform', (c) => (c.data.transform = 'logarithm'), 'data.transform must be one of "none", "log", "difference", "log-difference", got "logarithm"'],
    ['a bad earlyStopping', (c) => (c.training.earlyStopping = { patience: -1 }), 'training.earlyStopping.patience must be a non-negative integer, got -1'],
  ];
  it.each(cases)('%s: exit 1 naming file and field, before training', (_name, edit, message) => {
    const c = airlineConfig();
    edit(c);
    const out = join(tmp, `bad-${_name.replace(/\W+/g, '-')}.onnx`);
    c.output.model = out;
    const file = join(tmp, `bad-${_name.replace(/\W+/g, '-')}.json`);
    writeFileSync(file, JSON.stringify(c));
    const r = rnnx(['train', file]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.signal).toBeNull();
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`rnnx: ${file}: ${message}`);
    expect(r.stdout).toBe('');
    expect(existsSync(out)).toBe(false);
  });

  it('flags go through the same schema and the error names the flag', () => {
    const r = rnnx(['train', '--data', airlineCsv, '--window', '12', '--layers', 'lstm:4,dense:1', '--test-rows', 'abc', '-o', join(tmp, 'f.onnx')]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('rnnx: --test-rows (data.testRows) must be a non-negative integer, got "abc"');
    const t = rnnx(['train', '--data', airlineCsv, '--window', '12', '--layers', 'lstm:4,dense:1', '--transform', 'sqrt', '-o', join(tmp, 'f.onnx')]);
    expect(t.stderr.trim()).toBe('rnnx: --transform (data.transform) must be one of "none", "log", "difference", "log-difference", got "sqrt"');
  });

  it('every forecasting field has a flag: flags give the same config as the file', () => {
    const file = airlineConfig();
    const { config } = configFromArgs({
      data: airlineCsv, columns: 'Passengers', window: '12', horizon: '1', stride: '1', transform: 'log-difference', 'test-rows': '24',
      'validation-rows': '12', season: '12', layers: 'lstm:32,dense:1', epochs: '150', 'batch-size': '16', optimizer: 'adam', lr: '0.003',
      loss: 'mse', seed: '1', out: 'airline.onnx', 'early-stopping': false,
    });
    expect(config.data).toEqual(file.data);
    expect(config.training).toEqual({ ...file.training, shuffle: undefined, earlyStopping: false, optimizer: { type: 'adam', lr: 0.003 } } as never);
    expect(config.model.layers).toEqual(file.model.layers);
  });

  it('rnnx train --help lists the schema, transforms, losses, optimizers and the config fields', () => {
    const r = rnnx(['train', '--help']);
    expect(r.code).toBe(0);
    for (const s of ['schemas/train-config.schema.json', 'log-difference', 'binaryCrossentropy', 'rmsprop', 'data.testRows:', 'data.season:', '--test-rows', '--validation-rows', '--transform', '--season', 'training.earlyStopping']) {
      expect(r.stdout).toContain(s);
    }
    expect(existsSync('schemas/train-config.schema.json')).toBe(true);
  });
});

describe('baselines on the held-out rows', () => {
  it('persistence, seasonal naive and the training mean match a direct computation', () => {
    const series = loadCsvSeries(airlineCsv, { columns: ['Passengers'] });
    const rows = Array.from({ length: 24 }, (_, i) => 120 + i);
    const b = baselineForecasts(series, 0, rows, 108, 12);
    expect(b.map((x) => x.name)).toEqual(['persistence (previous row)', 'seasonal naive (12 rows back)', 'training mean']);
    const mean = passengers.slice(0, 108).reduce((a, v) => a + v, 0) / 108;
    rows.forEach((r, i) => {
      expect(b[0].predicted[i]).toBe(passengers[r - 1]);
      expect(b[1].predicted[i]).toBe(passengers[r - 12]);
      expect(b[2].predicted[i]).toBeCloseTo(mean, 9);
    });
    expect(baselineForecasts(series, 0, rows, 108).map((x) => x.name)).toEqual(['persistence (previous row)', 'training mean']);
  });

  it('a model that loses to the training mean is told so plainly, in the table and the log', () => {
    // Independent noise: nothing beats the mean in expectation; one epoch at a tiny rate leaves the net untrained.
    let s = 12345;
    const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
    const csv = join(tmp, 'noise.csv');
    writeFileSync(csv, 'v\n' + Array.from({ length: 200 }, () => (10 + 4 * rand()).toFixed(3)).join('\n') + '\n');
    const out = join(tmp, 'noise', 'm.onnx');
    const r = rnnx(['train', '--data', csv, '--window', '5', '--layers', 'lstm:8,dense:1', '--epochs', '1', '--lr', '0.00001', '--test-rows', '40', '--validation-rows', '20', '--quiet', '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    const log = JSON.parse(readFileSync(join(tmp, 'noise', 'm.log.json'), 'utf8'));
    const ev = log.evaluation;
    const values = readFileSync(csv, 'utf8').trim().split('\n').slice(1).map(Number);
    const actual = values.slice(160);
    const mean = values.slice(0, 140).reduce((a, v) => a + v, 0) / 140;
    expect(ev.trainingMeanRmse).toBeCloseTo(rmse(actual.map(() => mean), actual), 9);
    expect(ev.persistenceRmse).toBeCloseTo(rmse(values.slice(159, 199), actual), 9);
    expect(ev.table.map((t: { name: string }) => t.name)).toEqual(['rnnx lstm(8) → dense(1)', 'persistence (previous row)', 'training mean']);
    expect(ev.rmse).toBeGreaterThan(ev.trainingMeanRmse);
    expect(ev.beatsBaselines).toBe(false);
    expect(ev.bestBaseline).toBe('training mean');
    expect(r.stdout).toContain('The model does NOT beat the best baseline: training mean has RMSE');
    expect(r.stdout).toMatch(/^held-out: last 40 rows \(one-step-ahead\) +RMSE +MAE$/m);
    expect(r.stdout).toMatch(/^training mean +[\d.]+ +[\d.]+$/m);
  });
});

describe('early stopping: on by default for forecasters, and reported', () => {
  it('stops on the validation rows, restores the best epoch and says so', () => {
    const out = join(tmp, 'es', 'm.onnx');
    const r = rnnx(['train', '--data', airlineCsv, '--window', '12', '--transform', 'log-difference', '--season', '12', '--test-rows', '24', '--validation-rows', '24',
      '--layers', 'lstm:16,dense:1', '--epochs', '300', '--lr', '0.01', '--quiet', '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    const log = JSON.parse(readFileSync(join(tmp, 'es', 'm.log.json'), 'utf8'));
    const val: number[] = log.epochs.map((e: { valLoss: number }) => e.valLoss);
    const best = val.indexOf(Math.min(...val)) + 1;
    const m = /stopped at epoch (\d+)\/300: no improvement in validation loss for 10 epochs; restored epoch (\d+) \(lowest validation loss\)/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(Number(m![1])).toBe(val.length);
    expect(Number(m![2])).toBe(best);
    expect(val.length - best).toBe(10);
    expect(r.stdout).toContain('early stopping on by default');
    expect(log.stop).toMatchObject({ epochsRun: val.length, stoppedEarly: true, restoredEpoch: best, earlyStopping: { patience: 10, restoreBestWeights: true, defaulted: true } });
    expect(r.stdout).toMatch(/^seasonal naive \(12 rows back\) /m);
  });

  it('without held-out rows: no dangling summary, and no early stopping', () => {
    const out = join(tmp, 'plain', 'm.onnx');
    const r = rnnx(['train', '--data', airlineCsv, '--window', '12', '--layers', 'lstm:4,dense:1', '--epochs', '3', '--test-rows', '0', '--validation-rows', '0', '--quiet', '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^trained in [\d.]+s: ran all 3 epochs \(no validation rows: no early stopping\)$/);
    expect(r.stdout).not.toMatch(/; *$/m);
  });
});

describe('rnnx init', () => {
  it('chooses a transform the data allows, a season where the autocorrelation peaks, and skips counters', () => {
    const n = 240;
    const seasonal = Array.from({ length: n }, (_, i) => 100 + i + 10 * Math.sin((2 * Math.PI * i) / 12));
    expect(suggest(seasonal).transform).toBe('log-difference');
    expect(detectSeason(seasonal)?.season).toBe(12);
    const withZeros = seasonal.map((v, i) => (i === 5 ? 0 : v));
    expect(suggest(withZeros).transform).toBe('difference'); // trend, but log needs positive values
    const flat = Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * i) / 7) + 0.01 * (i % 3));
    expect(suggest(flat).transform).toBe('none');
    expect(detectSeason(flat)?.season).toBe(7);
    let s = 7;
    const noise = Array.from({ length: n }, () => ((s = (s * 48271) % 2147483647) / 2147483647));
    expect(detectSeason(noise)).toBeNull();
    expect(forecastColumn({ file: 'x', names: ['year', 'temp'], rows: 3, values: Float64Array.from([1880, 0.1, 1881, -0.2, 1882, 0.05]) })).toBe('temp');
  });

  it('writes a valid config that trains and is scored against the baselines; refuses to overwrite', () => {
    const dir = join(tmp, 'init');
    mkdirSync(dir, { recursive: true });
    const csv = join(dir, 'counts.csv');
    // Daily counts with zeros and a weekly cycle: no log transform is allowed.
    let seed = 99;
    const noise = () => ((seed = (seed * 48271) % 2147483647) / 2147483647) * 3 - 1.5;
    writeFileSync(csv, 'day,count\n' + Array.from({ length: 300 }, (_, i) => `${i},${Math.max(0, Math.round(5 + 4 * Math.sin((2 * Math.PI * i) / 7) + noise()))}`).join('\n') + '\n');
    const cfgPath = join(dir, 'cfg', 'config.json');
    const r = rnnx(['init', csv, '-o', cfgPath]);
    expect(r.code, r.stderr).toBe(0);
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
    expect(cfg.data).toMatchObject({ kind: 'csv', columns: ['count'], transform: 'none', season: 7, window: 7 });
    expect(resolve(dir, 'cfg', cfg.data.path)).toBe(csv);
    expect(cfg.training.earlyStopping).toEqual({ patience: 10, restoreBestWeights: true });
    expect(() => validateConfig(cfg, cfgPath)).not.toThrow();
    expect(r.stderr).toContain('next: rnnx train');
    const again = rnnx(['init', csv, '-o', cfgPath]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe(`rnnx: ${cfgPath} exists; pass --force to overwrite it or -o another path`);
    const t = rnnx(['train', cfgPath, '--epochs', '30', '--quiet']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/^seasonal naive \(7 rows back\) /m);
    expect(t.stdout).toMatch(/The model (beats every baseline|does NOT beat the best baseline)/);
    expect(existsSync(join(dir, 'cfg', 'counts.onnx'))).toBe(true);
  });
});

describe('predict --backtest -o and the --model alias', () => {
  it('--model is moved to the positional of every command that takes a model', () => {
    expect(modelFlagAsPositional(['predict', '--model', 'm.onnx', '-i', 'x.csv'])).toEqual(['predict', 'm.onnx', '-i', 'x.csv']);
    expect(modelFlagAsPositional(['export', '--model=m.onnx', 'o.onnx'])).toEqual(['export', 'm.onnx', 'o.onnx']);
    expect(modelFlagAsPositional(['--verbose', 'serve', '--port', '0', '--model', 'm.onnx'])).toEqual(['--verbose', 'serve', 'm.onnx', '--port', '0']);
    expect(modelFlagAsPositional(['train', '--model', 'x'])).toEqual(['train', '--model', 'x']);
  });

  it('writes the backtest rows (row, actual, predicted) and the forecast; --model works like the positional', () => {
    const out = join(tmp, 'bt.csv');
    const model = 'models/airline/airline.onnx';
    const r = rnnx(['predict', '--model', model, '-i', airlineCsv, '--backtest', '24', '--steps', '3', '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('row,kind,actual,predicted');
    const bt = lines.slice(1, 25).map((l) => l.split(','));
    const fc = lines.slice(25).map((l) => l.split(','));
    expect(bt).toHaveLength(24);
    expect(fc).toHaveLength(3);
    bt.forEach((c, n) => {
      expect(c[1]).toBe('backtest');
      expect(Number(c[0])).toBe(120 + n);
      expect(Number(c[2])).toBe(passengers[120 + n]);
    });
    // The shipped model's held-out RMSE, as recorded in its training log, from the written rows.
    const log = JSON.parse(readFileSync('models/airline/airline.log.json', 'utf8'));
    expect(rmse(bt.map((c) => Number(c[3])), bt.map((c) => Number(c[2])))).toBeCloseTo(log.evaluation.rmse, 3);
    expect(fc.map((c) => [Number(c[0]), c[1], c[2]])).toEqual([[144, 'forecast', ''], [145, 'forecast', ''], [146, 'forecast', '']]);
    const positional = rnnx(['predict', model, '-i', airlineCsv, '--steps', '3']);
    const flag = rnnx(['predict', '--model', model, '-i', airlineCsv, '--steps', '3']);
    expect(flag.code).toBe(0);
    expect(flag.stdout).toBe(positional.stdout);
    expect(flag.stdout.trim().split('\n').slice(1).map((l) => l.split(',')[1])).toEqual(fc.map((c) => c[3]));
    const insp = rnnx(['inspect', '--model', model, '--json']);
    expect(insp.code, insp.stderr).toBe(0);
    expect(JSON.parse(insp.stdout).rnnx).toBeDefined();
  });

  it('README examples write under out/, never over tracked files', () => {
    const readme = readFileSync('README.md', 'utf8');
    const cmds = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1].split('\n')).filter((l) => /^\s*(npx )?rnnx (train|init|predict)\b/.test(l));
    expect(cmds.length).toBeGreaterThan(3);
    for (const c of cmds) {
      const outs = [...c.matchAll(/(?:-o|--out|--output|--plot|--log)\s+(\S+)/g)].map((m) => m[1]);
      if (/rnnx train models\//.test(c) || /rnnx (init|predict)/.test(c) && /(-o|--plot)\s/.test(c)) expect(outs.length, c).toBeGreaterThan(0);
      for (const o of outs) expect(o.startsWith('out/'), c).toBe(true);
    }
  });
});
