// The forecast transform, inference side: a raw window in the series' units → the model's input
// (transform, then the stored normalisation), and the model's output → the series' units. Used by
// `rnnx predict` (src/cli/forecast.ts) and by the server, so both answer the same numbers.

import type { Normalization } from '../model/types.js';
import { denormalizeValue, invertTransform, normalizeValue, transformLag, type SeriesTransform } from '../data/timeseries.js';

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

/** Rows a window needs before the predicted row: T, plus one for differences. */
export function rowsNeeded(info: ForecastInfo): number {
  return info.window + transformLag(info.transform);
}

/**
 * The model input for predicting level row r: rows r-T .. r-1 in the model's (transformed,
 * normalised) space, computed from raw levels [rows, I] row-major, written at `into[offset..]`.
 */
export function windowBefore(levels: ArrayLike<number>, I: number, r: number, info: ForecastInfo, norm: Normalization | undefined, into: Float32Array, offset: number): void {
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

/** Model outputs [count, horizon * targets] → derived-space values with the target normalisation undone. */
export function denormalizeTargets(y: ArrayLike<number>, info: ForecastInfo, target: Normalization | undefined): Float64Array {
  const k = info.targetColumns.length;
  const out = new Float64Array(y.length);
  for (let i = 0; i < out.length; i++) out[i] = denormalizeValue(y[i], target, i % k);
  return out;
}

/**
 * One output row's `horizon` steps back in levels, [horizon * targets]: step s of target j is
 * inverted against the level one row before it (the last raw row for s = 0, the previous step's
 * prediction after), exactly what a recursive forecast appends. `lastRow` holds the I input levels
 * of the window's last row; `y` is derived-space (denormalizeTargets).
 */
export function levelsFromOutput(y: ArrayLike<number>, info: ForecastInfo, inputNames: readonly string[], lastRow: ArrayLike<number>): Float64Array {
  const O = info.targetColumns.length;
  const cols = info.targetColumns.map((c, j) => {
    const i = inputNames.indexOf(c);
    return i >= 0 ? i : j;
  });
  const prev = Array.from(lastRow);
  const out = new Float64Array(info.horizon * O);
  for (let s = 0; s < info.horizon; s++) {
    const row = new Array<number>(prev.length).fill(NaN);
    for (let j = 0; j < O; j++) {
      row[cols[j]] = invertTransform(info.transform, y[s * O + j], prev[cols[j]]);
      out[s * O + j] = row[cols[j]];
    }
    for (let i = 0; i < prev.length; i++) prev[i] = row[i];
  }
  return out;
}
