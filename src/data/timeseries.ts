// Time series from CSV columns: per-column normalisation, sliding windows (length T, stride s,
// horizon h) and the stateful layout, where row j of each batch continues row j of the
// previous batch so that a stateful model can carry its state across batches.

import type { Normalization } from '../model/types.js';
import type { SequenceDataset } from './dataset.js';
import { readNumericTable, resolveColumn, type ColumnRef, type NumericTable, type NumericTableOptions } from './csv.js';
import { UserError } from './errors.js';
import { readText } from './files.js';

/** A multivariate series, row-major [rows, names.length], float64. */
export interface Series {
  /** Where it came from, for error messages. */
  file: string;
  names: string[];
  rows: number;
  values: Float64Array;
}

/** Reads the selected numeric columns of a CSV file (see readNumericTable for the options). */
export function loadCsvSeries(path: string, options: NumericTableOptions = {}): NumericTable {
  return readNumericTable(readText(path), path, options);
}

/** Indices into `series.names` of the given columns (names, or 0-based positions among the series' columns). */
export function seriesColumns(series: Series, refs: ColumnRef[] | undefined): number[] {
  if (!refs || refs.length === 0) return series.names.map((_, i) => i);
  return refs.map((r) => {
    if (typeof r === 'string' && series.names.includes(r)) return series.names.indexOf(r);
    return resolveColumn(r, series.names, series.names.length, series.file);
  });
}

/**
 * Mean and standard deviation of each column over rows [from, to). A constant column gets
 * std 1, so normalising it gives zeros rather than NaN.
 */
export function computeNormalization(series: Series, columns: number[], from = 0, to = series.rows): Normalization {
  if (!(to > from)) throw new UserError(`${series.file}: no rows to compute normalisation statistics from (rows ${from}..${to})`);
  const k = series.names.length;
  const mean: number[] = [];
  const std: number[] = [];
  for (const c of columns) {
    let s = 0;
    for (let r = from; r < to; r++) s += series.values[r * k + c];
    const m = s / (to - from);
    let v = 0;
    for (let r = from; r < to; r++) v += (series.values[r * k + c] - m) ** 2;
    const sd = Math.sqrt(v / (to - from));
    mean.push(m);
    std.push(sd > 1e-12 ? sd : 1);
  }
  return { mean, std };
}

export function normalizeValue(v: number, norm: Normalization | undefined, j: number): number {
  return norm ? (v - norm.mean[j]) / norm.std[j] : v;
}

export function denormalizeValue(v: number, norm: Normalization | undefined, j: number): number {
  return norm ? v * norm.std[j] + norm.mean[j] : v;
}

export interface WindowOptions {
  /** Window length T (steps fed to the model). */
  window: number;
  /** Steps between window starts (s). Default 1. */
  stride?: number;
  /** Forecast horizon h: targets are the next h steps after the window. Default 1. */
  horizon?: number;
  /** Input columns (indices into the series). Default: all. */
  inputColumns?: number[];
  /** Target columns. Default: the input columns. */
  targetColumns?: number[];
  /**
   * 'last' (default): y [count, h * targets], the h steps after the window, step-major.
   * 'sequence': y [count, T, targets], for each step t the value h steps later (seq-to-seq).
   */
  targets?: 'last' | 'sequence';
  /** Applied to the input columns (same order as inputColumns). */
  inputNormalization?: Normalization;
  /** Applied to the target columns. */
  targetNormalization?: Normalization;
  /** Use only rows [from, to) of the series. Default: all. */
  from?: number;
  to?: number;
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v <= 0) throw new UserError(`${name} must be a positive integer, got ${v}`);
  return v;
}

interface Resolved {
  T: number;
  h: number;
  inCols: number[];
  outCols: number[];
  from: number;
  to: number;
}

function resolve(series: Series, o: WindowOptions): Resolved {
  const T = positiveInt('window', o.window);
  const h = positiveInt('horizon', o.horizon ?? 1);
  const inCols = o.inputColumns ?? series.names.map((_, i) => i);
  const outCols = o.targetColumns ?? inCols;
  const from = o.from ?? 0;
  const to = o.to ?? series.rows;
  return { T, h, inCols, outCols, from, to };
}

/** Fills x and y for windows starting at the given rows (each needs rows start .. start+T-1+h). */
function fill(series: Series, starts: number[], r: Resolved, o: WindowOptions): SequenceDataset {
  const { T, h, inCols, outCols } = r;
  const k = series.names.length;
  const count = starts.length;
  const I = inCols.length;
  const O = outCols.length;
  const x = new Float32Array(count * T * I);
  const seq = (o.targets ?? 'last') === 'sequence';
  const y = new Float32Array(seq ? count * T * O : count * h * O);
  const v = series.values;
  starts.forEach((start, n) => {
    for (let t = 0; t < T; t++) {
      const row = start + t;
      for (let j = 0; j < I; j++) x[(n * T + t) * I + j] = normalizeValue(v[row * k + inCols[j]], o.inputNormalization, j);
      if (seq) {
        for (let j = 0; j < O; j++) y[(n * T + t) * O + j] = normalizeValue(v[(row + h) * k + outCols[j]], o.targetNormalization, j);
      }
    }
    if (!seq) {
      for (let s = 0; s < h; s++) {
        const row = start + T + s;
        for (let j = 0; j < O; j++) y[(n * h + s) * O + j] = normalizeValue(v[row * k + outCols[j]], o.targetNormalization, j);
      }
    }
  });
  return { x, count, time: T, features: I, y, yShape: seq ? [count, T, O] : [count, h * O] };
}

/**
 * Sliding windows: window n covers rows [from + n*s, from + n*s + T) and its targets follow it.
 * Throws a UserError when the series is too short for one window plus the horizon.
 */
export function makeWindows(series: Series, options: WindowOptions): SequenceDataset {
  const r = resolve(series, options);
  const s = positiveInt('stride', options.stride ?? 1);
  // Both target modes reach h rows past the window's last step: T + h rows per window.
  const need = r.T + r.h;
  const rows = r.to - r.from;
  if (rows < need) {
    throw new UserError(`${series.file}: window ${r.T} + horizon ${r.h} needs at least ${need} rows, the series has ${rows}`);
  }
  const starts: number[] = [];
  for (let start = r.from; start + need <= r.to; start += s) starts.push(start);
  return fill(series, starts, r, options);
}

/**
 * Start offsets for the stateful layout: the range is cut into `batchSize` contiguous streams,
 * each cut into consecutive chunks of `window`; the result lists batch 0 (chunk 0 of streams
 * 0..B-1), then batch 1 (chunk 1 of each stream)... so row j of batch b+1 continues row j of batch b.
 * `extra` steps past each chunk must exist (the target shift).
 */
export function statefulStarts(length: number, window: number, batchSize: number, extra: number, what = 'series'): number[] {
  positiveInt('window', window);
  positiveInt('batchSize', batchSize);
  const streamLen = Math.floor((length - extra) / batchSize);
  const chunks = Math.floor(streamLen / window);
  if (chunks < 1) {
    throw new UserError(`${what} has ${length} steps: too short for ${batchSize} streams of at least one window of ${window} (+${extra}); need ${batchSize * window + extra}`);
  }
  const starts: number[] = [];
  for (let c = 0; c < chunks; c++) for (let j = 0; j < batchSize; j++) starts.push(j * streamLen + c * window);
  return starts;
}

/** Stateful layout of a series with per-step targets h steps ahead (y [count, T, targets]). */
export function makeStatefulWindows(series: Series, options: Omit<WindowOptions, 'stride' | 'targets'> & { batchSize: number }): SequenceDataset {
  const r = resolve(series, options);
  const starts = statefulStarts(r.to - r.from, r.T, options.batchSize, r.h, series.file).map((s) => s + r.from);
  return fill(series, starts, r, { ...options, targets: 'sequence' });
}

/**
 * Transforms a forecaster may learn on instead of raw levels: 'log' (multiplicative trend and
 * season become additive), 'difference' (x[t] - x[t-1]: removes a trend), 'log-difference'
 * (growth rates). Differenced series are one row shorter: derived row i belongs to original row i+1.
 */
export type SeriesTransform = 'none' | 'log' | 'difference' | 'log-difference';
export const SERIES_TRANSFORMS: readonly SeriesTransform[] = ['none', 'log', 'difference', 'log-difference'];

/** Rows the transform consumes at the start (1 for differences). */
export function transformLag(t: SeriesTransform): number {
  return t === 'difference' || t === 'log-difference' ? 1 : 0;
}

/**
 * Throws a UserError naming file, row and column when a value is outside what transform `t`
 * accepts (the logarithmic transforms need positive values). Checks rows [from, series.rows).
 */
export function checkTransformDomain(s: Series & { lines?: number[] }, t: SeriesTransform, from = 0): void {
  if (t !== 'log' && t !== 'log-difference') return;
  const k = s.names.length;
  for (let i = Math.max(0, from) * k; i < s.values.length; i++) {
    const v = s.values[i];
    if (!(v > 0)) {
      const r = Math.floor(i / k);
      throw new UserError(`${s.file}: row ${s.lines?.[r] ?? r + 1}, column ${JSON.stringify(s.names[i % k])}: the ${t} transform needs positive values, got ${v}`);
    }
  }
}

export function transformSeries(s: Series & { lines?: number[] }, t: SeriesTransform): Series {
  if (t === 'none') return s;
  const k = s.names.length;
  const useLog = t === 'log' || t === 'log-difference';
  checkTransformDomain(s, t);
  const level = new Float64Array(s.values.length);
  for (let i = 0; i < level.length; i++) level[i] = useLog ? Math.log(s.values[i]) : s.values[i];
  if (transformLag(t) === 0) return { file: s.file, names: s.names, rows: s.rows, values: level };
  if (s.rows < 2) throw new UserError(`${s.file}: the ${t} transform needs at least 2 rows, the series has ${s.rows}`);
  const values = new Float64Array((s.rows - 1) * k);
  for (let i = 0; i < values.length; i++) values[i] = level[i + k] - level[i];
  return { file: s.file, names: s.names, rows: s.rows - 1, values };
}

/** Level at a row from the model's derived-space prediction `p` and the true level one row before. */
export function invertTransform(t: SeriesTransform, p: number, previousLevel: number): number {
  switch (t) {
    case 'none':
      return p;
    case 'log':
      return Math.exp(p);
    case 'difference':
      return previousLevel + p;
    case 'log-difference':
      return previousLevel * Math.exp(p);
  }
}
