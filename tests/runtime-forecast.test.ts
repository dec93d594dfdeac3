// The forecast transform on the inference side (src/runtime/forecast.ts), used by `rnnx predict`
// and the server: metadata in and out, the model input built from raw levels, and outputs back
// in the series' units. Every expected value is worked out by hand in the comments.
import { describe, expect, it } from 'vitest';
import {
  denormalizeTargets, forecastExtra, forecastInfo, levelsFromOutput, rowsNeeded, windowBefore, type ForecastInfo,
} from '../src/runtime/forecast.js';

const info = (o: Partial<ForecastInfo>): ForecastInfo => ({ inputColumns: ['a', 'b'], targetColumns: ['a', 'b'], window: 2, horizon: 1, transform: 'none', ...o });

describe('forecast metadata', () => {
  it('reads what rnnx train stores, with the defaults of older files', () => {
    expect(forecastInfo(undefined)).toBeNull();
    expect(forecastInfo({})).toBeNull();
    expect(forecastInfo({ task: 'classify', window: '3' })).toBeNull();
    expect(forecastInfo({ task: 'forecast', inputColumns: '["x","y"]', targetColumns: '["y"]', window: '12', horizon: '3', transform: 'log-difference' }))
      .toEqual({ inputColumns: ['x', 'y'], targetColumns: ['y'], window: 12, horizon: 3, transform: 'log-difference' });
    // No target columns: the inputs are the targets; no horizon: 1; no transform: 'none'.
    expect(forecastInfo({ task: 'forecast', inputColumns: '["x"]', window: '4' }))
      .toEqual({ inputColumns: ['x'], targetColumns: ['x'], window: 4, horizon: 1, transform: 'none' });
    expect(forecastInfo({ task: 'forecast', window: '4' }))
      .toEqual({ inputColumns: [], targetColumns: [], window: 4, horizon: 1, transform: 'none' });
  });

  it('writes string pairs that read back to the same settings', () => {
    const i = info({ inputColumns: ['p', 'q'], targetColumns: ['q'], window: 7, horizon: 2, transform: 'difference' });
    const extra = forecastExtra(i);
    expect(extra).toEqual({ task: 'forecast', inputColumns: '["p","q"]', targetColumns: '["q"]', window: '7', horizon: '2', transform: 'difference' });
    expect(forecastInfo(extra)).toEqual(i);
  });

  it('a window needs one more raw row under the differencing transforms', () => {
    expect(rowsNeeded(info({ window: 5, transform: 'none' }))).toBe(5);
    expect(rowsNeeded(info({ window: 5, transform: 'log' }))).toBe(5);
    expect(rowsNeeded(info({ window: 5, transform: 'difference' }))).toBe(6);
    expect(rowsNeeded(info({ window: 5, transform: 'log-difference' }))).toBe(6);
  });
});

// Raw levels [rows, I = 2], row-major.
const levels = [
  1, 100, // row 0
  3, 90, // row 1
  6, 70, // row 2
  10, 40, // row 3
  15, 20, // row 4
];

describe('windowBefore: the model input for predicting row r', () => {
  it("'none': rows r-T .. r-1 as they are, written at the offset", () => {
    const into = new Float32Array(6).fill(-1);
    windowBefore(levels, 2, 3, info({ window: 2 }), undefined, into, 1);
    expect(Array.from(into)).toEqual([-1, 3, 90, 6, 70, -1]);
  });

  it("'difference' with normalisation: each row minus the one before, then (v - mean) / std per column", () => {
    const into = new Float32Array(5);
    // r = 4, T = 2: rows 2 and 3. Differences: row2 - row1 = [3, -20], row3 - row2 = [4, -30].
    // mean [1, -10], std [2, 5]: [(3-1)/2, (-20+10)/5] = [1, -2]; [(4-1)/2, (-30+10)/5] = [1.5, -4].
    windowBefore(levels, 2, 4, info({ transform: 'difference' }), { mean: [1, -10], std: [2, 5] }, into, 1);
    expect(Array.from(into)).toEqual([0, 1, -2, 1.5, -4]);
  });

  it("'log' and 'log-difference' take logarithms first", () => {
    const log = new Float32Array(2);
    windowBefore(levels, 2, 2, info({ window: 1, transform: 'log' }), undefined, log, 0);
    expect(log[0]).toBeCloseTo(Math.log(3), 6);
    expect(log[1]).toBeCloseTo(Math.log(90), 5);
    const ld = new Float32Array(4);
    // r = 3, T = 2: rows 1 and 2 against rows 0 and 1: log(3/1), log(90/100); log(6/3), log(70/90).
    windowBefore(levels, 2, 3, info({ transform: 'log-difference' }), undefined, ld, 0);
    const want = [Math.log(3), Math.log(0.9), Math.log(2), Math.log(70 / 90)];
    ld.forEach((v, i) => expect(v).toBeCloseTo(want[i], 6));
  });
});

describe('outputs back in the series units', () => {
  it('denormalizeTargets undoes the target normalisation column by column', () => {
    // [count 2, horizon 2 * targets 2]; column j = i % 2: v * std[j] + mean[j].
    const y = Float32Array.of(1, 2, 3, 4, -1, 0, 0.5, -2);
    const out = denormalizeTargets(y, info({ horizon: 2 }), { mean: [10, 20], std: [2, 3] });
    expect(out).toBeInstanceOf(Float64Array);
    expect(Array.from(out)).toEqual([12, 26, 16, 32, 8, 20, 11, 14]);
    expect(Array.from(denormalizeTargets(y, info({ horizon: 2 }), undefined))).toEqual(Array.from(y));
  });

  it("levelsFromOutput: 'difference' adds each step to the level before it (the last raw row, then the previous step)", () => {
    // Targets b then a; inputs a, b. Last row a = 5, b = 100.
    // Step 0: b = 100 + 1, a = 5 + 10; step 1: b = 101 + 2, a = 15 + 20.
    const out = levelsFromOutput([1, 10, 2, 20], info({ targetColumns: ['b', 'a'], horizon: 2, transform: 'difference' }), ['a', 'b'], [5, 100]);
    expect(out).toBeInstanceOf(Float64Array);
    expect(Array.from(out)).toEqual([101, 15, 103, 35]);
  });

  it("levelsFromOutput: 'log-difference' multiplies, 'log' exponentiates, 'none' passes through", () => {
    const ld = levelsFromOutput([Math.log(2), Math.log(3)], info({ targetColumns: ['b'], horizon: 2, transform: 'log-difference' }), ['a', 'b'], [5, 100]);
    expect(ld[0]).toBeCloseTo(200, 9);
    expect(ld[1]).toBeCloseTo(600, 9);
    const log = levelsFromOutput([0, Math.log(7)], info({ targetColumns: ['a'], horizon: 2, transform: 'log' }), ['a', 'b'], [5, 100]);
    expect(log[0]).toBeCloseTo(1, 12);
    expect(log[1]).toBeCloseTo(7, 12);
    expect(Array.from(levelsFromOutput([4, -4], info({ horizon: 1 }), ['a', 'b'], [5, 100]))).toEqual([4, -4]);
  });

  it('a target column that is not an input is inverted against the input at its own position', () => {
    // Target 'z' (j = 0) is not among the inputs: its previous level is lastRow[0] = 7.
    expect(Array.from(levelsFromOutput([1, 2], info({ targetColumns: ['z'], horizon: 2, transform: 'difference' }), ['a'], [7]))).toEqual([8, 10]);
  });
});
