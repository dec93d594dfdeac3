// Forecasting with a trained model through ONNX Runtime: n-step recursive forecasts (each
// prediction is appended to the window that produces the next), one-step-ahead backtests, and
// the naive baselines a forecaster must beat. Shared by `rnnx predict` and the quickstart.

import type { Normalization } from '../model/types.js';
import type { InferenceModel } from '../runtime/inference.js';
import { denormalizeValue, invertTransform, normalizeValue, transformLag, type Series, type SeriesTransform } from '../data/timeseries.js';
import { UserError } from '../data/errors.js';

/** What `rnnx train` stores in metadata.extra for a CSV forecaster (all values are strings). */
export interface ForecastInfo {
  inputColumns: string[];
  targetColumns: string[];
  window: number;
  horizon: number;
  /** What the model sees instead of raw levels (see SeriesTransform). */
  transform: SeriesTransform;
}

export function forecastInfo(extra: Record<string, string> | undefined): ForecastInfo | null {
  if (!extra || extra.task !== 'forecast') return null;
  return {
    inputColumns: JSON.parse(extra.inputColumns ?? '[]'),
    targetColumns: JSON.parse(extra.targetColumns ?? extra.inputColumns ?? '[]'),
    window: Number(extra.window),
    horizon: Number(extra.horizon ?? 1),
    transform: (extra.transform ?? 'none') as SeriesTransform,
  };
}

export function forecastExtra(info: ForecastInfo): Record<string, string> {
  return {
    task: 'forecast',
    inputColumns: JSON.stringify(info.inputColumns),
    targetColumns: JSON.stringify(info.targetColumns),
    window: String(info.window),
    horizon: String(info.horizon),
    transform: info.transform,
  };
}

export interface Norms {
  input?: Normalization;
  target?: Normalization;
}

/**
 * The model input for predicting level row r: rows r-T .. r-1 in the model's (transformed,
 * normalised) space, computed from raw levels [rows, I] row-major.
 */
function windowBefore(levels: ArrayLike<number>, I: number, r: number, info: ForecastInfo, norm: Normalization | undefined, into: Float32Array, offset: number): void {
  const useLog = info.transform === 'log' || info.transform === 'log-difference';
  const lag = transformLag(info.transform);
  const f = (v: number) => (useLog ? Math.log(v) : v);
  for (let t = 0; t < info.window; t++) {
    const q = r - info.window + t;
    for (let j = 0; j < I; j++) {
      const v = f(levels[q * I + j]) - (lag ? f(levels[(q - 1) * I + j]) : 0);
      into[offset + t * I + j] = normalizeValue(v, norm, j);
    }
  }
}

/** Rows a window needs before the predicted row: T, plus one for differences. */
export function rowsNeeded(info: ForecastInfo): number {
  return info.window + transformLag(info.transform);
}

/** What the forecasting helpers need of a model: a batch-first run (an InferenceModel, or a served model). */
export type ForecastRunner = Pick<InferenceModel, 'run'>;

/** Runs the windows ending before each row in `rows`; returns the raw derived-space outputs [count, O] (target normalisation undone). */
async function predictRows(model: ForecastRunner, levels: ArrayLike<number>, I: number, rows: number[], info: ForecastInfo, norms: Norms): Promise<{ y: Float64Array; O: number }> {
  const T = info.window;
  const x = new Float32Array(rows.length * T * I);
  rows.forEach((r, n) => windowBefore(levels, I, r, info, norms.input, x, n * T * I));
  const r = await model.run(x, { batch: rows.length, time: T });
  if (r.dims.length !== 2) throw new UserError(`the model outputs [${r.dims.join(', ')}]; a forecaster outputs [batch, horizon * targets]`);
  const O = r.dims[1];
  const k = info.targetColumns.length;
  const y = new Float64Array(r.y.length);
  for (let i = 0; i < y.length; i++) y[i] = denormalizeValue(r.y[i], norms.target, i % k);
  return { y, O };
}

/**
 * Forecasts `steps` rows past the end of `series` (columns = the model's inputs, raw levels).
 * Predictions are fed back as inputs when steps exceed the horizon, which needs targets equal to inputs.
 */
export async function recursiveForecast(model: ForecastRunner, series: Series, info: ForecastInfo, steps: number, norms: Norms): Promise<Float64Array> {
  const I = series.names.length;
  const O = info.targetColumns.length;
  const need = rowsNeeded(info);
  if (series.rows < need) throw new UserError(`${series.file}: the model reads windows of ${info.window} rows${need > info.window ? ' (plus one for the difference)' : ''}, the series has ${series.rows}`);
  const recursive = steps > info.horizon;
  if (recursive && JSON.stringify(info.targetColumns) !== JSON.stringify(info.inputColumns)) {
    throw new UserError(`--steps ${steps} needs a recursive forecast, which feeds predictions back as inputs; this model predicts ${info.targetColumns.join(', ')} from ${info.inputColumns.join(', ')}, so at most --steps ${info.horizon}`);
  }
  const targetIdx = info.targetColumns.map((c) => series.names.indexOf(c));
  const levels = Array.from(series.values);
  const out: number[] = [];
  while (out.length < steps * O) {
    const r = levels.length / I;
    const { y } = await predictRows(model, levels, I, [r], info, norms);
    for (let s = 0; s < info.horizon && out.length < steps * O; s++) {
      const prevRow = levels.length / I - 1;
      const row = new Array<number>(I).fill(NaN);
      for (let j = 0; j < O; j++) {
        const col = targetIdx[j] >= 0 ? targetIdx[j] : j;
        row[col] = invertTransform(info.transform, y[s * O + j], levels[prevRow * I + col]);
        out.push(row[col]);
      }
      levels.push(...row);
    }
  }
  return Float64Array.from(out);
}

/** One-step-ahead predictions (first target) of the last `last` rows, each from the true rows before it. */
export async function backtest(model: ForecastRunner, series: Series, info: ForecastInfo, last: number, norms: Norms): Promise<{ predicted: Float64Array; actual: Float64Array; rows: number[] }> {
  const I = series.names.length;
  if (!(Number.isInteger(last) && last > 0)) throw new UserError(`--backtest must be a positive integer, got ${last}`);
  const need = rowsNeeded(info) + last;
  if (series.rows < need) throw new UserError(`${series.file}: a backtest of the last ${last} rows needs ${need} rows, the series has ${series.rows}`);
  const rows = Array.from({ length: last }, (_, n) => series.rows - last + n);
  const { y, O } = await predictRows(model, series.values, I, rows, info, norms);
  const col = Math.max(series.names.indexOf(info.targetColumns[0]), 0);
  const predicted = Float64Array.from(rows, (r, n) => invertTransform(info.transform, y[n * O], series.values[(r - 1) * I + col]));
  const actual = Float64Array.from(rows, (r) => series.values[r * I + col]);
  return { predicted, actual, rows };
}

export function rmse(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s / a.length);
}

/** Persistence (value one step earlier) and seasonal-naive (value `season` steps earlier) forecasts of the given rows of column j. */
export function naiveForecasts(series: Series, j: number, rows: number[], season: number): { persistence: Float64Array; seasonal: Float64Array } {
  const k = series.names.length;
  const at = (r: number) => series.values[r * k + j];
  return {
    persistence: Float64Array.from(rows, (r) => at(r - 1)),
    seasonal: Float64Array.from(rows, (r) => at(r - season)),
  };
}
