// Data loaders: CSV parsing and errors, windows, stateful layout, text, NPY/JSON tensors and
// the IndoorMovement sequence layout. Expected values are computed by hand or by plain loops here.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { zipSync, strToU8 } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCsv, readNumericTable } from '../src/data/csv.js';
import { UserError } from '../src/data/errors.js';
import { loadSequenceZip } from '../src/data/sequences.js';
import { encodeNpy, loadTensor, parseJsonTensor, parseNpy } from '../src/data/tensor.js';
import { buildVocabulary, encodeText, textDataset } from '../src/data/text.js';
import { computeNormalization, loadCsvSeries, makeStatefulWindows, makeWindows, type Series } from '../src/data/timeseries.js';
import { validateDataset } from '../src/data/dataset.js';

const tmp = mkdtempSync(join(tmpdir(), 'rnnx-data-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function errorOf(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('parseCsv', () => {
  it('handles quotes, embedded commas/newlines, doubled quotes, CRLF, comments, blank lines and BOM', () => {
    const text = '\ufeff# comment\r\na,"b, c"\r\n\r\n"multi\nline",x\n"say ""hi""",2\n';
    const { records, lines } = parseCsv(text, 't.csv');
    expect(records).toEqual([['a', 'b, c'], ['multi\nline', 'x'], ['say "hi"', '2']]);
    expect(lines).toEqual([2, 4, 6]);
  });
  it('rejects an unterminated quote with its row', () => {
    expect(errorOf(() => parseCsv('a,b\n"open,1\n', 'q.csv')).message).toBe('q.csv: row 2: unterminated quoted field');
  });
});

describe('readNumericTable', () => {
  it('reads the airline CSV: header, date column skipped, 144 months', () => {
    const path = 'models/data/airline-passengers.csv';
    const t = loadCsvSeries(path);
    // Independent reading: split lines by hand.
    const raw = readFileSync(path, 'utf8').trim().split('\n').slice(1).map((l) => Number(l.split(',')[1]));
    expect(t.names).toEqual(['Passengers']);
    expect(t.rows).toBe(144);
    expect(Array.from(t.values)).toEqual(raw);
    expect(t.values[0]).toBe(112);
    expect(t.values[143]).toBe(432);
  });
  it('picks columns by name or index', () => {
    const text = 'a,b,c\n1,2,3\n4,5,6\n';
    expect(Array.from(readNumericTable(text, 'x.csv', { columns: ['c', 0] }).values)).toEqual([3, 1, 6, 4]);
    expect(errorOf(() => readNumericTable(text, 'x.csv', { columns: ['d'] })).message).toBe('x.csv: no column named "d"; columns: "a", "b", "c"');
    expect(errorOf(() => readNumericTable(text, 'x.csv', { columns: [3] })).message).toBe('x.csv: column index must be in [0, 2] (0-based), got 3');
  });
  it('names file, row and column of a non-numeric cell', () => {
    const e = errorOf(() => readNumericTable('t,v\n1,2\n2,abc\n', 'air.csv'));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toBe('air.csv: row 3, column 2 ("v"): "abc" is not a number');
  });
  it('names file, row and column of a missing cell', () => {
    expect(errorOf(() => readNumericTable('1,2\n3,\n', 'm.csv')).message).toBe('m.csv: row 2, column 2: missing value');
  });
  it('rejects ragged rows', () => {
    expect(errorOf(() => readNumericTable('a,b\n1,2\n3\n', 'r.csv')).message).toBe('r.csv: row 3 has 1 column, expected 2 as in row 1');
  });
  it('rejects an empty file and a header-only file', () => {
    expect(errorOf(() => readNumericTable('', 'e.csv')).message).toBe('e.csv: the file is empty');
    expect(errorOf(() => readNumericTable('\n# only a comment\n', 'e.csv')).message).toBe('e.csv: the file is empty');
    expect(errorOf(() => readNumericTable('a,b\n', 'h.csv')).message).toBe('h.csv: the file has 0 data rows, need at least 1');
  });
});

const series = (rows: number[][], names = rows[0].map((_, i) => `c${i}`)): Series => ({
  file: 's.csv',
  names,
  rows: rows.length,
  values: Float64Array.from(rows.flat()),
});

describe('windows', () => {
  // Two columns: c0 = t, c1 = 100 + 10 t.
  const s = series(Array.from({ length: 10 }, (_, t) => [t, 100 + 10 * t]));

  it('takes windows of length T every s steps with horizon h (last-step targets)', () => {
    const d = makeWindows(s, { window: 3, stride: 2, horizon: 2, inputColumns: [0, 1], targetColumns: [1] });
    validateDataset(d);
    // Starts 0, 2, 4 (the window plus two targets must fit into 10 rows: start <= 5).
    expect([d.count, d.time, d.features]).toEqual([3, 3, 2]);
    expect(d.yShape).toEqual([3, 2]);
    expect(Array.from(d.x.subarray(0, 6))).toEqual([0, 100, 1, 110, 2, 120]);
    expect(Array.from(d.x.subarray(12, 18))).toEqual([4, 140, 5, 150, 6, 160]);
    // Targets of window n: c1 at rows start+3, start+4.
    expect(Array.from(d.y)).toEqual([130, 140, 150, 160, 170, 180]);
  });

  it('per-step targets h ahead and normalisation with saved statistics', () => {
    const norm = computeNormalization(s, [0], 0, 10);
    expect(norm.mean[0]).toBeCloseTo(4.5, 12);
    expect(norm.std[0]).toBeCloseTo(Math.sqrt(8.25), 12); // population std of 0..9
    const d = makeWindows(s, { window: 4, stride: 3, horizon: 1, inputColumns: [0], targets: 'sequence', inputNormalization: norm, targetNormalization: norm });
    expect(d.yShape).toEqual([2, 4, 1]);
    const z = (v: number) => (v - 4.5) / Math.sqrt(8.25);
    expect(Array.from(d.x.subarray(4, 8))).toEqual([3, 4, 5, 6].map((v) => Math.fround(z(v))));
    expect(Array.from(d.y.subarray(4, 8))).toEqual([4, 5, 6, 7].map((v) => Math.fround(z(v))));
  });

  it('rejects a window longer than the series', () => {
    const e = errorOf(() => makeWindows(s, { window: 10, horizon: 1 }));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toBe('s.csv: window 10 + horizon 1 needs at least 11 rows, the series has 10');
  });

  it('stateful layout: row j of each batch continues row j of the previous batch', () => {
    const long = series(Array.from({ length: 50 }, (_, t) => [t]));
    const B = 3;
    const T = 4;
    const d = makeStatefulWindows(long, { window: T, batchSize: B, horizon: 1 });
    // 3 streams of floor(49/3) = 16 steps, 4 chunks each.
    expect(d.count).toBe(12);
    for (let b = 0; b + 1 < d.count / B; b++) {
      for (let j = 0; j < B; j++) {
        const last = d.x[(b * B + j) * T + T - 1];
        const next = d.x[((b + 1) * B + j) * T];
        expect(next).toBe(last + 1);
      }
    }
    // Streams start 16 apart; targets are the next value.
    expect([d.x[0], d.x[T], d.x[2 * T]]).toEqual([0, 16, 32]);
    expect(Array.from(d.y.subarray(0, T))).toEqual([1, 2, 3, 4]);
  });
});

describe('text', () => {
  it('builds a sorted vocabulary, one-hot inputs and next-char targets', () => {
    const text = 'abcab\nba';
    const vocab = buildVocabulary(text);
    expect(vocab).toEqual(['\n', 'a', 'b', 'c']);
    const codes = encodeText(text, vocab);
    expect(Array.from(codes)).toEqual([1, 2, 3, 1, 2, 0, 2, 1]);
    const d = textDataset(codes, vocab.length, { time: 3, stride: 2 });
    validateDataset(d);
    expect([d.count, d.time, d.features]).toEqual([3, 3, 4]); // starts 0, 2, 4
    expect(Array.from(d.x.subarray(0, 4))).toEqual([0, 1, 0, 0]);
    expect(Array.from(d.y)).toEqual([2, 3, 1, 1, 2, 0, 0, 2, 1]);
  });
  it('stateful text layout continues rows across batches', () => {
    const codes = Int32Array.from({ length: 41 }, (_, i) => i % 7);
    const d = textDataset(codes, 7, { time: 5, layout: 'stateful', batchSize: 2 });
    // streams of 20 chars: 4 chunks x 2 rows.
    expect(d.count).toBe(8);
    const argmax = (n: number, t: number) => Array.from(d.x.subarray((n * 5 + t) * 7, (n * 5 + t + 1) * 7)).indexOf(1);
    for (let b = 0; b < 3; b++) for (let j = 0; j < 2; j++) expect(argmax((b + 1) * 2 + j, 0)).toBe(d.y[(b * 2 + j) * 5 + 4]);
  });
  it('names line and column of a character outside the vocabulary', () => {
    const e = errorOf(() => encodeText('ab\ncé', ['\n', 'a', 'b', 'c'], 'seed.txt'));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toBe('seed.txt: line 2, column 2: character "é" (U+00E9) is not in the model\'s vocabulary of 4 characters');
  });
});

describe('tensors', () => {
  it('reads NPY files written by NumPy (float32, float64, int32)', () => {
    // tests/fixtures/npy/*.npy were written by scripts/make-pytorch-fixture.py with NumPy:
    // np.arange(24).reshape(2,3,4) * 0.5 - 3 in each dtype (int32: np.arange(24).reshape(2,3,4) - 7).
    const expected = Array.from({ length: 24 }, (_, i) => i * 0.5 - 3);
    for (const name of ['f4', 'f8']) {
      const t = loadTensor(`tests/fixtures/npy/arange_${name}.npy`);
      expect(t.dims).toEqual([2, 3, 4]);
      expect(t.data).toBeInstanceOf(Float32Array);
      expect(Array.from(t.data)).toEqual(expected);
    }
    const i = loadTensor('tests/fixtures/npy/arange_i4.npy');
    expect(i.data).toBeInstanceOf(Int32Array);
    expect(Array.from(i.data)).toEqual(Array.from({ length: 24 }, (_, k) => k - 7));
  });
  it('writes NPY that reads back, header aligned to 64 bytes', () => {
    const t = { data: Float32Array.from([1.5, -2, 3.25, 0, 7, 8]), dims: [2, 3] };
    const bytes = encodeNpy(t);
    const headerLen = bytes[8] + 256 * bytes[9];
    expect((10 + headerLen) % 64).toBe(0);
    const back = parseNpy(bytes, 'b.npy');
    expect(back.dims).toEqual([2, 3]);
    expect(Array.from(back.data)).toEqual(Array.from(t.data));
  });
  it('reads JSON nested arrays and rejects ragged ones', () => {
    expect(parseJsonTensor('[[1,2],[3,4],[5,6]]', 'a.json')).toEqual({ data: Float32Array.from([1, 2, 3, 4, 5, 6]), dims: [3, 2] });
    expect(errorOf(() => parseJsonTensor('[[1,2],[3]]', 'r.json')).message).toBe('r.json: element [1]: expected an array of 2 elements (the array is ragged), got 1 elements');
    expect(errorOf(() => parseJsonTensor('[[1,"x"]]', 'n.json')).message).toBe('n.json: element [0][1]: "x" is not a number');
    expect(errorOf(() => parseNpy(new Uint8Array(20), 'z.npy')).message).toBe('z.npy: not a NumPy .npy file (bad magic bytes)');
  });
  it('names a .npy file cut inside its header or its data', () => {
    const whole = readFileSync('tests/fixtures/npy/arange_f4.npy');
    const headerEnd = 10 + whole.readUInt16LE(8);
    expect(errorOf(() => parseNpy(whole.subarray(0, headerEnd - 20), 'cut.npy')).message).toBe('cut.npy: truncated: the .npy header is ' + whole.readUInt16LE(8) + ' bytes, the file ends 20 bytes before its end');
    expect(errorOf(() => parseNpy(whole.subarray(0, whole.length - 4), 'cut.npy')).message).toMatch(/^cut\.npy: truncated: shape \(.*\) of <f4 needs \d+ bytes of data, the file has \d+$/);
  });
});

describe('loadSequenceZip', () => {
  it('reads the shipped IndoorMovement zip: 314 sequences, 13197 steps, labels -1/+1 → 0/1, groups', () => {
    const { dataset: d, groups, classes, ids } = loadSequenceZip('models/data/IndoorMovement.zip');
    validateDataset(d);
    expect([d.count, d.features]).toEqual([314, 4]);
    // The figures the dataset's own description gives (models/data/IndoorMovement.names.txt).
    expect(d.lengths!.reduce((a, b) => a + b, 0)).toBe(13197);
    expect(d.time).toBe(Math.max(...d.lengths!));
    expect(classes).toEqual([-1, 1]);
    const y = d.y as Int32Array;
    expect(y).toBeInstanceOf(Int32Array);
    expect(y.filter((v) => v === 1).length).toBe(158);
    expect(y.filter((v) => v === 0).length).toBe(156);
    expect(ids[0]).toBe(1);
    expect(groups!.filter((g) => g === 2).length).toBe(106);
    // First row of sequence 1: -0.90476,-0.48,0.28571,0.3 (dataset/MovementAAL_RSS_1.csv).
    expect(Array.from(d.x.subarray(0, 4))).toEqual([-0.90476, -0.48, 0.28571, 0.3].map(Math.fround));
    // Padding: steps past each length are zero.
    for (let i = 0; i < d.count; i++) {
      const L = d.lengths![i];
      expect(d.x.subarray((i * d.time + L) * 4, (i + 1) * d.time * 4).every((v) => v === 0)).toBe(true);
    }
  });

  it('reads the same layout from a small zip and from a folder', () => {
    const files = {
      'data/seq_1.csv': strToU8('#a,b\n1,2\n3,4\n5,6\n'),
      'data/seq_2.csv': strToU8('7,8\n'),
      'data/seq_3.csv': strToU8('9,10\n11,12\n'),
      'data/x_target.csv': strToU8('#id,label\n2,-1\n1,1\n3,-1\n'),
      'groups/x_DatasetGroup.csv': strToU8('1,1\n2,2\n3,2\n'),
    };
    const zip = join(tmp, 'small.zip');
    writeFileSync(zip, zipSync(files));
    for (const [name, bytes] of Object.entries(files)) {
      mkdirSync(dirname(join(tmp, 'folder', name)), { recursive: true });
      writeFileSync(join(tmp, 'folder', name), bytes);
    }
    for (const src of [zip, join(tmp, 'folder')]) {
      const r = loadSequenceZip(src);
      // Targets-file order: ids 2, 1, 3.
      expect(Array.from(r.ids)).toEqual([2, 1, 3]);
      expect(Array.from(r.dataset.lengths!)).toEqual([1, 3, 2]);
      expect(r.dataset.time).toBe(3);
      expect(Array.from(r.dataset.x)).toEqual([7, 8, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 0, 0]);
      expect(Array.from(r.dataset.y)).toEqual([0, 1, 0]);
      expect(Array.from(r.groups!)).toEqual([2, 1, 2]);
    }
  });

  it('names the file and row of a bad cell inside the archive, and a missing sequence file', () => {
    const bad = join(tmp, 'bad.zip');
    writeFileSync(bad, zipSync({ 'd/s_1.csv': strToU8('1,2\n3,x\n'), 'd/s_target.csv': strToU8('1,1\n') }));
    expect(errorOf(() => loadSequenceZip(bad)).message).toBe(`${bad}:d/s_1.csv: row 2, column 2: "x" is not a number`);
    const missing = join(tmp, 'missing.zip');
    writeFileSync(missing, zipSync({ 'd/s_1.csv': strToU8('1,2\n'), 'd/s_target.csv': strToU8('1,1\n2,-1\n') }));
    expect(errorOf(() => loadSequenceZip(missing)).message).toBe(`${missing}: sequence 2 is listed in d/s_target.csv but no file d/…_2.csv exists`);
  });
});
