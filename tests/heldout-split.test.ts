// The held-out split of a forecaster, checked directly: which windows exist, which rows the
// normalisation statistics come from, and where the training / validation / test boundaries fall
// once a differencing transform has consumed its lag. Expected values are listed by hand or
// computed here with plain loops from the raw CSV values, never with the code under test.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { prepareData, type CsvDataConfig } from '../src/cli/config.js';
import {
  computeNormalization, denormalizeValue, invertTransform, makeStatefulWindows, makeWindows, normalizeValue, SERIES_TRANSFORMS, seriesColumns, statefulStarts,
  checkTransformDomain, transformLag, transformSeries, type Series,
} from '../src/data/timeseries.js';

const tmp = mkdtempSync(join(tmpdir(), 'rnnx-heldout-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const AIRLINE = 'models/data/airline-passengers.csv';
const passengers = readFileSync(AIRLINE, 'utf8').trim().split('\n').slice(1).map((l) => Number(l.split(',')[1]));

/** Mean and population std of `v` over [from, to), two-pass in float64. */
function stats(v: number[], from: number, to: number): { mean: number; std: number } {
  let s = 0;
  for (let i = from; i < to; i++) s += v[i];
  const mean = s / (to - from);
  let q = 0;
  for (let i = from; i < to; i++) q += (v[i] - mean) ** 2;
  return { mean, std: Math.sqrt(q / (to - from)) };
}

function writeCsv(name: string, cols: Record<string, number[]>): string {
  const names = Object.keys(cols);
  const rows = cols[names[0]].length;
  const lines = [names.join(',')];
  for (let r = 0; r < rows; r++) lines.push(names.map((n) => String(cols[n][r])).join(','));
  const p = join(tmp, name);
  writeFileSync(p, lines.join('\n') + '\n');
  return p;
}

describe('makeWindows keeps the last window', () => {
  // Row r holds r (column a) and 100 + r (column b): every value names its own row.
  const rows = 10;
  const values = new Float64Array(rows * 2);
  for (let r = 0; r < rows; r++) {
    values[r * 2] = r;
    values[r * 2 + 1] = 100 + r;
  }
  const series: Series = { file: 'ten.csv', names: ['a', 'b'], rows, values };

  it('window 3, stride 1, horizon 2 on 10 rows: 6 windows, the last starting at row 5 with its last target row 9', () => {
    const d = makeWindows(series, { window: 3, stride: 1, horizon: 2, inputColumns: [0], targetColumns: [1] });
    // Hand-listed: window n covers rows n, n+1, n+2 and targets rows n+3, n+4 (column b = 100 + row).
    expect(d.count).toBe(6);
    expect(d.yShape).toEqual([6, 2]);
    expect(Array.from(d.x)).toEqual([0, 1, 2, 1, 2, 3, 2, 3, 4, 3, 4, 5, 4, 5, 6, 5, 6, 7]);
    expect(Array.from(d.y)).toEqual([103, 104, 104, 105, 105, 106, 106, 107, 107, 108, 108, 109]);
  });

  it('the last start on the stride grid is kept when its targets end exactly at the range end', () => {
    // stride 2, window 2, horizon 2 on rows [0, 10): starts 0, 2, 4, 6; the last needs rows 6..9.
    const d = makeWindows(series, { window: 2, stride: 2, horizon: 2, inputColumns: [0], targetColumns: [0] });
    expect(d.count).toBe(4);
    expect(Array.from(d.x)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(Array.from(d.y)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    // Within a sub-range [from, to): window 3 + horizon 1 on rows [2, 8) → starts 2, 3, 4 (the last targets row 7).
    const sub = makeWindows(series, { window: 3, horizon: 1, inputColumns: [0], from: 2, to: 8 });
    expect(Array.from(sub.y)).toEqual([5, 6, 7]);
  });

  it('sequence targets: the last window still ends h rows before the range end', () => {
    const d = makeWindows(series, { window: 3, horizon: 2, inputColumns: [0], targets: 'sequence' });
    expect(d.count).toBe(6);
    expect(d.yShape).toEqual([6, 3, 1]);
    expect(Array.from(d.y.subarray(15, 18))).toEqual([7, 8, 9]);
  });
});

describe('normalisation statistics come from the training rows only', () => {
  const rows = 40;
  const testRows = 6;
  const validationRows = 5;
  const trainEnd = rows - testRows - validationRows; // 29
  // Two columns with distinct, non-trivial levels and spreads.
  const a = Array.from({ length: rows }, (_, r) => 10 + Math.sin(r * 0.7) * 3 + r * 0.1);
  const b = Array.from({ length: rows }, (_, r) => -2 + Math.cos(r * 1.3) * 0.5 + (r % 4));

  const prepare = (path: string, extra: Partial<CsvDataConfig> = {}) =>
    prepareData({ kind: 'csv', path, window: 4, horizon: 1, targetColumns: ['b'], testRows, validationRows, ...extra });

  it('mean and std of rows [0, rows − test − val), for inputs and targets', () => {
    const d = prepare(writeCsv('norm.csv', { a, b }));
    const sa = stats(a, 0, trainEnd);
    const sb = stats(b, 0, trainEnd);
    const inN = d.metadata.inputNormalization!;
    const outN = d.metadata.targetNormalization!;
    expect(inN.mean[0]).toBeCloseTo(sa.mean, 12);
    expect(inN.std[0]).toBeCloseTo(sa.std, 12);
    expect(inN.mean[1]).toBeCloseTo(sb.mean, 12);
    expect(inN.std[1]).toBeCloseTo(sb.std, 12);
    expect(outN.mean).toHaveLength(1);
    expect(outN.mean[0]).toBeCloseTo(sb.mean, 12);
    expect(outN.std[0]).toBeCloseTo(sb.std, 12);
    // The training windows are normalised with those statistics: first input of window 0 is row 0.
    expect(d.train.x[0]).toBeCloseTo((a[0] - sa.mean) / sa.std, 5);
    // Window 4 + horizon 1 over training rows [0, 29): starts 0..24, 25 windows; the last targets row 28.
    expect(d.train.count).toBe(25);
    expect(d.train.y[24] * sb.std + sb.mean).toBeCloseTo(b[28], 4);
  });

  it('unchanged when every held-out value is set to 1e6', () => {
    const base = prepare(writeCsv('norm-base.csv', { a, b }));
    const poison = (v: number[]) => v.map((x, r) => (r >= trainEnd ? 1e6 : x));
    const moved = prepare(writeCsv('norm-poisoned.csv', { a: poison(a), b: poison(b) }));
    expect(moved.metadata.inputNormalization).toEqual(base.metadata.inputNormalization);
    expect(moved.metadata.targetNormalization).toEqual(base.metadata.targetNormalization);
    expect(Array.from(moved.train.x)).toEqual(Array.from(base.train.x));
    expect(Array.from(moved.train.y)).toEqual(Array.from(base.train.y));
  });

  it('with a differencing transform: statistics of the differences whose target rows are training rows', () => {
    const d = prepare(writeCsv('norm-diff.csv', { a, b }), { transform: 'difference' });
    // Derived row i = level[i + 1] − level[i]; training targets are derived rows [0, trainEnd − 1).
    const da = a.slice(1).map((v, i) => v - a[i]);
    const s = stats(da, 0, trainEnd - 1);
    expect(d.metadata.inputNormalization!.mean[0]).toBeCloseTo(s.mean, 12);
    expect(d.metadata.inputNormalization!.std[0]).toBeCloseTo(s.std, 12);
  });
});

describe('held-out boundaries with log-difference (airline, test 24, validation 12, window 12)', () => {
  const d = prepareData({
    kind: 'csv', path: AIRLINE, columns: ['Passengers'], window: 12, transform: 'log-difference',
    testRows: 24, validationRows: 12, normalize: false,
  });
  const growth = (r: number) => Math.fround(Math.log(passengers[r]) - Math.log(passengers[r - 1]));

  it('144 months: 95 training windows, the last targeting log(p[107]) − log(p[106])', () => {
    expect(passengers).toHaveLength(144);
    expect(d.train.count).toBe(95);
    expect(d.train.yShape).toEqual([95, 1]);
    expect(d.train.y[94]).toBe(growth(107));
    // Its inputs are the 12 growth rates before: levels 95..106 over their previous months.
    expect(Array.from(d.train.x.subarray(94 * 12, 95 * 12))).toEqual(Array.from({ length: 12 }, (_, i) => growth(95 + i)));
    expect(d.train.y[0]).toBe(growth(13));
  });

  it('validation targets are months 108..119: starting right after training, ending before the test rows', () => {
    const v = d.validation!;
    expect(v.count).toBe(12);
    expect(v.y[0]).toBe(growth(108));
    expect(v.y[11]).toBe(growth(119));
    expect(d.forecast!.testRows).toBe(24);
  });

  it('validationRows 0 (no validation split): the training targets end at log(p[119]) − log(p[118])', () => {
    // validationRows must be explicit: a CSV forecaster holds out validation rows by default.
    const t = prepareData({ kind: 'csv', path: AIRLINE, columns: ['Passengers'], window: 12, transform: 'log-difference', testRows: 24, validationRows: 0, normalize: false });
    expect(t.validation).toBeUndefined();
    expect(t.train.count).toBe(107);
    expect(t.train.y[106]).toBe(growth(119));
  });
});

describe('series helpers around the split', () => {
  const s: Series = { file: 'f.csv', names: ['a', 'b', '2'], rows: 4, values: Float64Array.of(1, 10, 5, 2, 20, 5, 4, 40, 5, 8, 80, 5) };

  it('seriesColumns: all by default, names, then 0-based indices', () => {
    expect(seriesColumns(s, undefined)).toEqual([0, 1, 2]);
    expect(seriesColumns(s, [])).toEqual([0, 1, 2]);
    expect(seriesColumns(s, ['b', 0, '2'])).toEqual([1, 0, 2]);
    expect(() => seriesColumns(s, ['z'])).toThrow('f.csv: no column named "z"; columns: "a", "b", "2"');
  });

  it('computeNormalization: a constant column gets std 1; an empty range names the rows', () => {
    const n = computeNormalization(s, [2, 0], 1, 3);
    expect(n.mean).toEqual([5, 3]);
    expect(n.std).toEqual([1, 1]);
    expect(computeNormalization(s, [1]).std[0]).toBeCloseTo(stats([10, 20, 40, 80], 0, 4).std, 12);
    expect(() => computeNormalization(s, [0], 2, 2)).toThrow('f.csv: no rows to compute normalisation statistics from (rows 2..2)');
    expect(normalizeValue(7, { mean: [0, 3], std: [1, 2] }, 1)).toBe(2);
    expect(denormalizeValue(2, { mean: [0, 3], std: [1, 2] }, 1)).toBe(7);
    expect(normalizeValue(7, undefined, 1)).toBe(7);
    expect(denormalizeValue(7, undefined, 1)).toBe(7);
  });

  it('window options are positive integers, named in the error', () => {
    expect(() => makeWindows(s, { window: 0 })).toThrow('window must be a positive integer, got 0');
    expect(() => makeWindows(s, { window: 2, horizon: 1.5 })).toThrow('horizon must be a positive integer, got 1.5');
    expect(() => makeWindows(s, { window: 2, stride: -1 })).toThrow('stride must be a positive integer, got -1');
    expect(() => makeWindows(s, { window: 2, horizon: 2, from: 1 })).toThrow('f.csv: window 2 + horizon 2 needs at least 4 rows, the series has 3');
  });

  it('statefulStarts: streams, chunks, the extra rows and the error', () => {
    // 11 steps, 1 extra: streams of floor(10 / 2) = 5 steps, 2 chunks of 2 each: batch 0 then batch 1.
    expect(statefulStarts(11, 2, 2, 1)).toEqual([0, 5, 2, 7]);
    expect(statefulStarts(4, 2, 1, 2)).toEqual([0]);
    expect(() => statefulStarts(4, 2, 2, 1, 'text')).toThrow('text has 4 steps: too short for 2 streams of at least one window of 2 (+1); need 5');
    expect(() => statefulStarts(4, 0, 1, 0)).toThrow('window must be a positive integer, got 0');
    expect(() => statefulStarts(4, 1, 0, 0)).toThrow('batchSize must be a positive integer, got 0');
  });

  it('transforms: log, differences, their lag, the row named on a non-positive value, and the inverse', () => {
    expect(SERIES_TRANSFORMS.map(transformLag)).toEqual([0, 0, 1, 1]);
    expect(transformSeries(s, 'none')).toBe(s);
    const log = transformSeries(s, 'log');
    expect(log.rows).toBe(4);
    expect(log.values[3]).toBe(Math.log(2));
    const diff = transformSeries(s, 'difference');
    expect(diff.rows).toBe(3);
    expect(Array.from(diff.values.subarray(0, 3))).toEqual([1, 10, 0]);
    const ld = transformSeries(s, 'log-difference');
    expect(ld.values[4]).toBe(Math.log(40) - Math.log(20));
    const bad: Series & { lines?: number[] } = { ...s, values: Float64Array.of(1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1), lines: [2, 3, 5, 6] };
    expect(() => transformSeries(bad, 'log')).toThrow('f.csv: row 3, column "b": the log transform needs positive values, got 0');
    expect(() => transformSeries({ ...bad, lines: undefined }, 'log-difference')).toThrow('f.csv: row 2, column "b": the log-difference transform needs positive values, got 0');
    expect(transformSeries(bad, 'difference').values[1]).toBe(-1);
    // checkTransformDomain from a row (predict checks only the rows it reads); a negative start is row 0.
    expect(() => checkTransformDomain(bad, 'log', 1)).toThrow('f.csv: row 3, column "b": the log transform needs positive values, got 0');
    expect(() => checkTransformDomain(bad, 'log-difference', 2)).not.toThrow();
    expect(() => checkTransformDomain(s, 'log', -3)).not.toThrow();
    expect(() => checkTransformDomain(bad, 'log', -3)).toThrow('f.csv: row 3, column "b"');
    expect(() => checkTransformDomain(bad, 'difference')).not.toThrow();
    expect(() => checkTransformDomain(bad, 'none')).not.toThrow();
    expect(() => transformSeries({ file: 'one.csv', names: ['a'], rows: 1, values: Float64Array.of(3) }, 'difference')).toThrow('one.csv: the difference transform needs at least 2 rows, the series has 1');
    expect(invertTransform('none', 3, 100)).toBe(3);
    expect(invertTransform('log', 0.5, 100)).toBe(Math.exp(0.5));
    expect(invertTransform('difference', 3, 100)).toBe(103);
    expect(invertTransform('log-difference', 0.1, 100)).toBe(100 * Math.exp(0.1));
  });
});

describe('window layouts with several target columns (Stryker survivors of src/data/timeseries.ts)', () => {
  // Row r: a = r, b = 100 + r, c = 200 + r.
  const rows = 8;
  const s: Series = { file: 'w.csv', names: ['a', 'b', 'c'], rows, values: Float64Array.from({ length: rows * 3 }, (_, i) => Math.floor(i / 3) + 100 * (i % 3)) };

  it('last-step targets: h steps of two target columns, step-major, with a horizon longer than the window', () => {
    const d = makeWindows(s, { window: 2, horizon: 4, inputColumns: [0], targetColumns: [2, 1] });
    // need 6 rows: starts 0..2; targets rows start+2..start+5, each [c, b].
    expect(d.count).toBe(3);
    expect(d.yShape).toEqual([3, 8]);
    expect(Array.from(d.y.subarray(0, 8))).toEqual([202, 102, 203, 103, 204, 104, 205, 105]);
    expect(Array.from(d.y.subarray(16, 24))).toEqual([204, 104, 205, 105, 206, 106, 207, 107]);
  });

  it('sequence targets of two columns: for each step the values h rows later', () => {
    const d = makeWindows(s, { window: 3, horizon: 2, inputColumns: [1, 0], targetColumns: [2, 1], targets: 'sequence' });
    expect(d.count).toBe(4);
    expect(d.yShape).toEqual([4, 3, 2]);
    expect(Array.from(d.x.subarray(0, 6))).toEqual([100, 0, 101, 1, 102, 2]);
    expect(Array.from(d.y.subarray(0, 6))).toEqual([202, 102, 203, 103, 204, 104]);
    expect(Array.from(d.y.subarray(18, 24))).toEqual([205, 105, 206, 106, 207, 107]);
  });

  it('a series exactly one window plus horizon long gives one window', () => {
    const d = makeWindows(s, { window: 6, horizon: 2, inputColumns: [0] });
    expect(d.count).toBe(1);
    expect(Array.from(d.y)).toEqual([6, 7]);
  });

  it('stateful windows inside a sub-range, and the default name in the error', () => {
    const d = makeStatefulWindows(s, { window: 2, batchSize: 1, horizon: 1, inputColumns: [0], from: 3, to: 8 });
    // Rows [3, 8): one stream of 4 steps (one is the target shift), 2 chunks starting at rows 3 and 5.
    expect(d.count).toBe(2);
    expect(Array.from(d.x)).toEqual([3, 4, 5, 6]);
    expect(Array.from(d.y)).toEqual([4, 5, 6, 7]);
    expect(() => statefulStarts(2, 2, 1, 1)).toThrow('series has 2 steps: too short for 1 streams of at least one window of 2 (+1); need 3');
  });

  it('differences of a two-row series: one row, and no more values than rows', () => {
    const two: Series = { file: 't.csv', names: ['a', 'b'], rows: 2, values: Float64Array.of(1, 5, 4, 3) };
    const d = transformSeries(two, 'difference');
    expect(d.rows).toBe(1);
    expect(Array.from(d.values)).toEqual([3, -2]);
  });
});
