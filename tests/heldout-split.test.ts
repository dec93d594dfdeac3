// The held-out split of a forecaster, checked directly: which windows exist, which rows the
// normalisation statistics come from, and where the training / validation / test boundaries fall
// once a differencing transform has consumed its lag. Expected values are listed by hand or
// computed here with plain loops from the raw CSV values, never with the code under test.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { prepareData, type CsvDataConfig } from '../src/cli/config.js';
import { makeWindows, type Series } from '../src/data/timeseries.js';

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

  it('no validation split: the training targets end at log(p[119]) − log(p[118])', () => {
    const t = prepareData({ kind: 'csv', path: AIRLINE, columns: ['Passengers'], window: 12, transform: 'log-difference', testRows: 24, normalize: false });
    expect(t.validation).toBeUndefined();
    expect(t.train.count).toBe(107);
    expect(t.train.y[106]).toBe(growth(119));
  });
});
