// Forecasting with a trained model through ONNX Runtime: n-step recursive forecasts (each
// prediction is appended to the window that produces the next), one-step-ahead backtests, and
// the naive baselines a forecaster must beat. Shared by `rnnx predict` and the quickstart.

import type { InferenceModel } from '../runtime/inference.js';
import { denormalizeTargets, levelsFromOutput, rowsNeeded, windowBefore, type ForecastInfo, type Norms } from '../runtime/forecast.js';
import { invertTransform, type Series } from '../data/timeseries.js';
import { UserError } from '../data/errors.js';

// The transform itself lives in src/runtime/forecast.ts (the server uses it too).
export { forecastExtra, forecastInfo, rowsNeeded, type ForecastInfo, type Norms } from '../runtime/forecast.js';

/** What the forecasting helpers need of a model: a batch-first run (an InferenceModel, or a served model). */
export type ForecastRunner = Pick<InferenceModel, 'run'>;

/** Runs the windows ending before each row in `rows`; returns the raw derived-space outputs [count, O] (target normalisation undone). */
async function predictRows(model: ForecastRunner, levels: ArrayLike<number>, I: number, rows: number[], info: ForecastInfo, norms: Norms): Promise<{ y: Float64Array; O: number }> {
  const T = info.window;
  const x = new Float32Array(rows.length * T * I);
  rows.forEach((r, n) => windowBefore(levels, I, r, info, norms.input, x, n * T * I));
  const r = await model.run(x, { batch: rows.length, time: T });
  if (r.dims.length !== 2) throw new UserError(`the model outputs [${r.dims.join(', ')}]; a forecaster outputs [batch, horizon * targets]`);
  return { y: denormalizeTargets(r.y, info, norms.target), O: r.dims[1] };
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
    const lv = levelsFromOutput(y, info, series.names, levels.slice((r - 1) * I, r * I));
    for (let s = 0; s < info.horizon && out.length < steps * O; s++) {
      const row = new Array<number>(I).fill(NaN);
      for (let j = 0; j < O; j++) {
        const col = targetIdx[j] >= 0 ? targetIdx[j] : j;
        row[col] = lv[s * O + j];
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
