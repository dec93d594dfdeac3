// `rnnx init data.csv`: writes a starting `rnnx train` config for a CSV series, with choices the
// data allows: a log transform only for positive values, differences only for a trend, a season
// only where the autocorrelation peaks, and held-out test and validation rows so that training
// stops early and the result is scored against the naive baselines.

import { existsSync } from 'node:fs';
import { basename, dirname, relative, resolve } from 'node:path';
import { UserError } from '../../data/errors.js';
import { loadCsvSeries, type Series, type SeriesTransform } from '../../data/timeseries.js';
import { CONFIG_SCHEMA_PATH, DEFAULT_PATIENCE, defaultHeldOutRows, validateConfig, type TrainConfig } from '../config.js';
import { checkWritable, writeOutput } from '../output.js';
import { packageRoot } from '../package-root.js';

/** Season lengths tried when none is given: quarterly, weekly, monthly, hourly-daily, weekly-yearly, daily-yearly. */
const SEASON_CANDIDATES = [4, 7, 12, 24, 52, 365];

export interface Suggestion {
  transform: SeriesTransform;
  season?: number;
  window: number;
  testRows: number;
  validationRows: number;
  /** Why each choice was made, for the user. */
  reasons: string[];
}

function autocorrelation(x: ArrayLike<number>, lag: number): number {
  const n = x.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i];
  mean /= n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    den += (x[i] - mean) ** 2;
    if (i + lag < n) num += (x[i] - mean) * (x[i + lag] - mean);
  }
  return den > 0 ? num / den : 0;
}

/** Residuals of a least-squares line through x (removes a linear trend). */
function detrend(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const tm = (n - 1) / 2;
  let xm = 0;
  for (let i = 0; i < n; i++) xm += x[i];
  xm /= n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (i - tm) * (x[i] - xm);
    sxx += (i - tm) ** 2;
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  return Float64Array.from({ length: n }, (_, i) => x[i] - xm - slope * (i - tm));
}

/**
 * The season whose autocorrelation peaks: high at the lag (> 0.3) and well above half the lag
 * (a plain slowly-varying series is high at every short lag, a seasonal one dips half-way).
 * Checked on the detrended levels and on the first differences; null when nothing peaks.
 */
export function detectSeason(x: ArrayLike<number>): { season: number; acf: number } | null {
  const versions = [detrend(x), Float64Array.from({ length: Math.max(0, x.length - 1) }, (_, i) => x[i + 1] - x[i])];
  let best: { season: number; acf: number; score: number } | null = null;
  for (const s of SEASON_CANDIDATES) {
    if (s * 3 > x.length) continue;
    for (const v of versions) {
      const at = autocorrelation(v, s);
      const score = at - autocorrelation(v, Math.round(s / 2));
      if (at > 0.3 && score > 0.3 && (!best || score > best.score)) best = { season: s, acf: at, score };
    }
  }
  return best && { season: best.season, acf: best.acf };
}

/** Transform, season, window and held-out rows for one column of a series. */
export function suggest(values: ArrayLike<number>, season?: number): Suggestion {
  const n = values.length;
  const reasons: string[] = [];
  let min = Infinity;
  let mean = 0;
  for (let i = 0; i < n; i++) {
    min = Math.min(min, values[i]);
    mean += values[i];
  }
  mean /= n;
  let sd = 0;
  for (let i = 0; i < n; i++) sd += (values[i] - mean) ** 2;
  sd = Math.sqrt(sd / n);
  // A trend: the last fifth's mean is far from the first fifth's, relative to the spread.
  const k = Math.max(1, Math.floor(n / 5));
  let head = 0;
  let tail = 0;
  for (let i = 0; i < k; i++) {
    head += values[i];
    tail += values[n - k + i];
  }
  const shift = Math.abs(tail - head) / k;
  const trend = sd > 0 && shift > 0.5 * sd;
  const positive = min > 0;
  let transform: SeriesTransform = 'none';
  if (trend && positive) transform = 'log-difference';
  else if (trend) transform = 'difference';
  reasons.push(
    trend
      ? `transform ${transform}: the level moves by ${+(shift / sd).toFixed(2)} standard deviations from the first fifth to the last (a trend)${positive ? ', all values are positive' : `; not log: the series has values <= 0 (min ${min})`}`
      : `transform none: no trend (the first and last fifths differ by ${+(shift / (sd || 1)).toFixed(2)} standard deviations)`,
  );
  let s = season;
  if (s === undefined) {
    const found = detectSeason(values);
    if (found) {
      s = found.season;
      reasons.push(`season ${s}: the autocorrelation peaks there (${found.acf.toFixed(2)})`);
    } else reasons.push('no season: the autocorrelation has no clear peak at 4, 7, 12, 24, 52 or 365 rows');
  } else reasons.push(`season ${s}: given`);
  const window = s !== undefined && s <= 52 ? Math.max(s, 4) : s !== undefined ? 30 : 12;
  reasons.push(`window ${window}${s !== undefined && s > 52 ? ` (shorter than the season ${s}: the seasonal-naive baseline covers it)` : ''}`);
  let held = defaultHeldOutRows(n);
  if (s !== undefined && s <= 52 && held >= s) held = Math.round(held / s) * s; // whole seasons
  reasons.push(`last ${held} rows for test, the ${held} before them for validation and early stopping`);
  return { transform, season: s, window, testRows: held, validationRows: held, reasons };
}

/** true when column j steps by the same amount every row: a year or an index, not something to forecast. */
function isCounter(series: Series, j: number): boolean {
  const k = series.names.length;
  const v = (r: number) => series.values[r * k + j];
  if (series.rows < 3) return false;
  const step = v(1) - v(0);
  if (step === 0) return false;
  for (let r = 2; r < series.rows; r++) if (Math.abs(v(r) - v(r - 1) - step) > 1e-9 * Math.max(1, Math.abs(step))) return false;
  return true;
}

/** The first numeric column that is not a counter (a year or index column); the first column if all are. */
export function forecastColumn(series: Series): string {
  const j = series.names.findIndex((_, i) => !isCounter(series, i));
  return series.names[Math.max(j, 0)];
}

/** A complete config for `series` (one target column), with paths relative to `configPath`. */
export function initConfig(series: Series, column: string, csvPath: string, configPath: string, season?: number): { config: TrainConfig & { $schema: string }; reasons: string[] } {
  const j = series.names.indexOf(column);
  const k = series.names.length;
  const values = Float64Array.from({ length: series.rows }, (_, r) => series.values[r * k + j]);
  const sg = suggest(values, season);
  if (series.rows - sg.testRows - sg.validationRows < sg.window + 2) {
    throw new UserError(`${csvPath}: ${series.rows} rows are too few for a window of ${sg.window} plus ${sg.testRows} test and ${sg.validationRows} validation rows`);
  }
  const dir = dirname(resolve(configPath));
  const stem = basename(csvPath).replace(/\.csv$/i, '');
  const config = {
    $schema: relative(dir, resolve(packageRoot(), CONFIG_SCHEMA_PATH)),
    name: `${stem} forecaster`,
    data: {
      kind: 'csv' as const,
      path: relative(dir, resolve(csvPath)),
      columns: [column],
      window: sg.window,
      horizon: 1,
      transform: sg.transform,
      testRows: sg.testRows,
      validationRows: sg.validationRows,
      ...(sg.season !== undefined ? { season: sg.season } : {}),
    },
    model: { layers: [{ kind: 'lstm', units: 32 }, { kind: 'dense', units: 1 }] },
    training: {
      epochs: 200,
      batchSize: 32,
      optimizer: { type: 'adam', lr: 0.003 },
      loss: 'mse',
      seed: 1,
      earlyStopping: { patience: DEFAULT_PATIENCE, restoreBestWeights: true },
    },
    output: { model: `${stem}.onnx` },
  };
  return { config, reasons: sg.reasons };
}

export default function init(argv: Record<string, unknown>): void {
  const csv = String(argv.data);
  if (!/\.csv$/i.test(csv)) throw new UserError(`${csv}: rnnx init takes a .csv time series`);
  const stem = basename(csv).replace(/\.csv$/i, '');
  const out = argv.out === undefined ? `${stem}.config.json` : String(argv.out);
  const toStdout = out === '-';
  if (!toStdout && existsSync(out) && !argv.force) throw new UserError(`${out} exists; pass --force to overwrite it or -o another path`);
  if (!toStdout) checkWritable(out);
  const season = argv.season === undefined ? undefined : Number(argv.season);
  if (season !== undefined && !(Number.isInteger(season) && season >= 2)) throw new UserError(`--season must be an integer >= 2, got ${String(argv.season)}`);
  const columns = argv.columns === undefined ? undefined : String(argv.columns).split(',').map((c) => c.trim()).filter(Boolean);
  if (columns && columns.length !== 1) throw new UserError(`--columns: rnnx init writes a config for one column, got ${columns.length} (${columns.join(', ')})`);
  const series = loadCsvSeries(csv, columns ? { columns } : {});
  const column = columns ? series.names[0] : forecastColumn(series);
  const { config, reasons } = initConfig(series, column, csv, toStdout ? 'config.json' : out, season);
  validateConfig(config, out);
  const text = JSON.stringify(config, null, 2) + '\n';
  if (toStdout) process.stdout.write(text);
  else writeOutput(out, text);
  process.stderr.write(`${toStdout ? 'config' : `wrote ${out}`}: column ${JSON.stringify(column)} of ${csv}, ${series.rows} rows\n${reasons.map((r) => `  ${r}\n`).join('')}${toStdout ? '' : `next: rnnx train ${out}\n`}`);
}
