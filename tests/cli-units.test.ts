// In-process unit tests of CLI helpers: progress output (terminal and plain), layer flags,
// the SVG plot, sampling, and the error → exit code mapping.
import { describe, expect, it } from 'vitest';
import { parseLayers, splitSequences } from '../src/cli/config.js';
import { reportError, UserError } from '../src/cli/errors.js';
import { sampleIndex } from '../src/cli/commands/generate.js';
import { Progress } from '../src/cli/progress.js';
import { linePlot, niceTicks } from '../src/cli/svg.js';
import { Rng } from '../src/layers/random.js';

describe('Progress', () => {
  it('on a terminal: a bar redrawn in place with loss, steps/s and ETA, then the epoch line', () => {
    let out = '';
    const p = new Progress(2, 4, true, (s) => (out += s));
    p.epochBegin();
    for (let s = 1; s <= 4; s++) p.batch(0, s, 1 / s);
    p.epochEnd({ epoch: 0, loss: 0.5, valLoss: 0.75, seconds: 0.2, stepsPerSec: 20 });
    expect(out).toContain('\r\x1b[Kepoch 1/2 ');
    expect(out).toMatch(/100%  loss 0\.2500  val —  [\d.]+ steps\/s  ETA /);
    expect(out).toMatch(/epoch 1\/2  loss 0\.5000  val_loss 0\.7500  20\.0 steps\/s  0\.20s  ETA \S+\n$/);
  });
  it('not on a terminal: one plain line per epoch, no carriage returns', () => {
    let out = '';
    const p = new Progress(3, 10, false, (s) => (out += s));
    for (let e = 0; e < 3; e++) {
      for (let s = 1; s <= 10; s++) p.batch(e, s, 1);
      p.epochEnd({ epoch: e, loss: 1 / (e + 1), valAccuracy: 0.5, seconds: 1, stepsPerSec: 10 });
    }
    expect(out.split('\n').filter(Boolean)).toEqual([
      'epoch 1/3  loss 1.0000  val_loss —  val_acc 50.0%  10.0 steps/s  1.00s',
      'epoch 2/3  loss 0.5000  val_loss —  val_acc 50.0%  10.0 steps/s  1.00s',
      'epoch 3/3  loss 0.3333  val_loss —  val_acc 50.0%  10.0 steps/s  1.00s',
    ]);
  });
});

describe('parseLayers', () => {
  it('reads kind:units:flags', () => {
    expect(parseLayers('gru:64:bidirectional:seq, lstm:32,dense:classes:softmax')).toEqual([
      { kind: 'gru', units: 64, direction: 'bidirectional', returnSequences: true },
      { kind: 'lstm', units: 32 },
      { kind: 'dense', units: 'classes', activation: 'softmax' },
    ]);
  });
  it('names an unknown flag', () => {
    expect(() => parseLayers('lstm:8:sideways')).toThrow('--layers: layer 0 ("lstm:8:sideways"): unknown flag "sideways"');
  });
});

describe('splitSequences', () => {
  it('stratified random split keeps the class balance and is seeded', () => {
    const y = Int32Array.from({ length: 100 }, (_, i) => (i < 40 ? 0 : 1));
    const a = splitSequences(y, undefined, { kind: 'sequences', path: 'p', validationFraction: 0.25, splitSeed: 3 });
    expect(a.validation.filter((i) => y[i] === 0)).toHaveLength(10);
    expect(a.validation.filter((i) => y[i] === 1)).toHaveLength(15);
    expect(new Set([...a.train, ...a.validation]).size).toBe(100);
    expect(splitSequences(y, undefined, { kind: 'sequences', path: 'p', validationFraction: 0.25, splitSeed: 3 })).toEqual(a);
    expect(splitSequences(y, undefined, { kind: 'sequences', path: 'p', validationFraction: 0.25, splitSeed: 4 }).validation).not.toEqual(a.validation);
  });
  it('group split holds out whole groups', () => {
    const g = Int32Array.from([1, 2, 3, 3, 1, 2]);
    const s = splitSequences(new Int32Array(6), g, { kind: 'sequences', path: 'p', split: 'groups', validationGroups: [3] });
    expect(s.validation).toEqual([2, 3]);
    expect(s.train).toEqual([0, 1, 4, 5]);
  });
});

describe('SVG plot', () => {
  it('nice ticks are 1/2/5 steps covering the range', () => {
    expect(niceTicks(0, 10, 5)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(0.13, 0.97, 4)).toEqual([0.2, 0.4, 0.6, 0.8]);
  });
  it('maps points to the plot box and escapes names', () => {
    const svg = linePlot([{ name: 'a<b', x: [0, 10], y: [0, 100] }], { width: 200, height: 100 });
    // Margins left 70, right 20, top 16, bottom 50 → x 70..180 and y 16..50 (34 px). The y range
    // is 0..100 padded by 5% each side, plus, per legend row, 6% of the range padded below:
    // 6% of 105 = 6.3 on top: -5 .. 111.3, a span of 116.3.
    const d = /<path d="M([\d.]+),([\d.]+)L([\d.]+),([\d.]+)"/.exec(svg)!;
    // Coordinates are written with one decimal.
    const near = (got: string, want: number) => expect(Math.abs(Number(got) - want)).toBeLessThanOrEqual(0.051);
    near(d[1], 70);
    near(d[3], 180);
    near(d[2], 50 - (5 / 116.3) * 34);
    near(d[4], 16 + (11.3 / 116.3) * 34);
    expect(svg).toContain('a&lt;b');
  });
});

describe('sampleIndex', () => {
  it('samples in proportion to p^(1/T)', () => {
    const rng = new Rng(5);
    const counts = [0, 0, 0];
    for (let i = 0; i < 20000; i++) counts[sampleIndex([0.2, 0.3, 0.5], 1, rng)]++;
    expect(counts[0] / 20000).toBeCloseTo(0.2, 1);
    expect(counts[2] / 20000).toBeCloseTo(0.5, 1);
    // T = 0.5 squares the probabilities: 0.04 : 0.09 : 0.25.
    const c2 = [0, 0, 0];
    for (let i = 0; i < 20000; i++) c2[sampleIndex([0.2, 0.3, 0.5], 0.5, rng)]++;
    expect(c2[2] / 20000).toBeCloseTo(0.25 / 0.38, 1);
  });
});

describe('reportError', () => {
  it('user errors: exit 1, one line, stack only when verbose', () => {
    let out = '';
    expect(reportError(new UserError('a.csv: row 2, column 1: missing value'), false, (s) => (out += s))).toBe(1);
    expect(out).toBe('rnnx: a.csv: row 2, column 1: missing value\n');
    out = '';
    reportError(new UserError('x'), true, (s) => (out += s));
    expect(out.split('\n').length).toBeGreaterThan(2);
  });
  it('other errors are internal: exit 2', () => {
    let out = '';
    expect(reportError(new TypeError('boom'), false, (s) => (out += s))).toBe(2);
    expect(out).toBe('rnnx: internal error: boom (run with --verbose for the stack trace)\n');
  });
});
