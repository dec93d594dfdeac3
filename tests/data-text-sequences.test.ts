// Text datasets (src/data/text.ts) and the IndoorMovement-style sequence archives
// (src/data/sequences.ts) in detail: one-hot rows, sequence starts within [from, to), each option
// of the archive reader, and each refusal with its message. Expected values are listed by hand.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { strToU8, zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../src/data/errors.js';
import { loadSequenceZip, readArchive } from '../src/data/sequences.js';
import { encodeText, oneHot, textDataset } from '../src/data/text.js';
import { thrownMessage } from './thrown-message.js';

const tmp = mkdtempSync(join(tmpdir(), 'rnnx-text-seq-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const message = (f: () => unknown) => thrownMessage(f, UserError);

/** Index of the 1 in each one-hot row of x [rows, vocab]. */
const hot = (x: Float32Array, vocab: number) => Array.from({ length: x.length / vocab }, (_, r) => x.subarray(r * vocab, (r + 1) * vocab).indexOf(1));

describe('text', () => {
  it('oneHot: one row per code, a single 1 at the code', () => {
    expect(Array.from(oneHot([2, 0, 1], 3))).toEqual([0, 0, 1, 1, 0, 0, 0, 1, 0]);
    expect(oneHot([], 4).length).toBe(0);
  });

  it('windows within [from, to): x the codes, y the next ones', () => {
    const codes = Int32Array.from({ length: 10 }, (_, i) => i);
    // from 1, to 8, T 2, stride 3: starts 1 and 4 (7 + 3 > 8).
    const d = textDataset(codes, 10, { time: 2, stride: 3, from: 1, to: 8 });
    expect([d.count, d.time, d.features, d.yShape]).toEqual([2, 2, 10, [2, 2]]);
    expect(hot(d.x, 10)).toEqual([1, 2, 4, 5]);
    expect(Array.from(d.y)).toEqual([2, 3, 5, 6]);
    // Default stride T, default range the whole text: starts 0, 3, 6 (6 + 4 = 10).
    const all = textDataset(codes, 10, { time: 3 });
    expect(hot(all.x, 10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(Array.from(all.y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Exactly T + 1 characters: one sequence.
    expect(textDataset(codes, 10, { time: 4, from: 5, to: 10 }).count).toBe(1);
  });

  it('stateful layout starts at `from`', () => {
    const codes = Int32Array.from({ length: 20 }, (_, i) => i % 10);
    // 12 characters from 4: 2 streams of floor(11 / 2) = 5, two chunks of 2 each: starts 4, 9, then 6, 11.
    const d = textDataset(codes, 10, { time: 2, layout: 'stateful', batchSize: 2, from: 4, to: 16 });
    expect(d.count).toBe(4);
    expect(hot(d.x, 10)).toEqual([4, 5, 9, 0, 6, 7, 1, 2]);
    expect(message(() => textDataset(codes, 10, { time: 2, layout: 'stateful' }))).toBe('batchSize must be a positive integer, got 0');
    expect(message(() => textDataset(codes, 10, { time: 3, layout: 'stateful', batchSize: 2, to: 5 })))
      .toBe('text has 5 steps: too short for 2 streams of at least one window of 3 (+1); need 7');
  });

  it('names a bad time, stride or a text too short', () => {
    const codes = new Int32Array(5);
    expect(message(() => textDataset(codes, 2, { time: 0 }))).toBe('time must be a positive integer, got 0');
    expect(message(() => textDataset(codes, 2, { time: 1.5 }))).toBe('time must be a positive integer, got 1.5');
    expect(message(() => textDataset(codes, 2, { time: 2, stride: 0 }))).toBe('stride must be a positive integer, got 0');
    expect(message(() => textDataset(codes, 2, { time: 2, stride: 2.5 }))).toBe('stride must be a positive integer, got 2.5');
    expect(message(() => textDataset(codes, 2, { time: 5 }))).toBe('text has 5 characters, need at least 6 for one sequence of 5 plus its next character');
    expect(message(() => textDataset(codes, 2, { time: 2, from: 3 }))).toBe('text has 2 characters, need at least 3 for one sequence of 2 plus its next character');
  });

  it('a character outside the vocabulary on the first line, after a tab', () => {
    expect(message(() => encodeText('a\tz', ['\t', 'a'], 'in.txt'))).toBe('in.txt: line 1, column 3: character "z" (U+007A) is not in the model\'s vocabulary of 2 characters');
    expect(message(() => encodeText('a\n\n😀', ['\n', 'a']))).toBe('text: line 3, column 1: character "😀" (U+1F600) is not in the model\'s vocabulary of 2 characters');
  });
});

/** Writes `files` as a zip and as a folder; returns both paths. */
function archive(name: string, files: Record<string, string>): [string, string] {
  const bytes = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, strToU8(v)]));
  const zip = join(tmp, `${name}.zip`);
  writeFileSync(zip, zipSync(bytes));
  const folder = join(tmp, name);
  for (const [k, v] of Object.entries(files)) {
    mkdirSync(dirname(join(folder, k)), { recursive: true });
    writeFileSync(join(folder, k), v);
  }
  return [zip, folder];
}

describe('readArchive', () => {
  it('lists files by relative /-path from a folder (nested) or a zip (without folders and __MACOSX)', () => {
    const [zip, folder] = archive('list', { 'a.csv': '1', 'd/e/b.csv': '2' });
    for (const src of [zip, folder]) {
      const m = readArchive(src);
      expect([...m.keys()].sort()).toEqual(['a.csv', 'd/e/b.csv']);
      expect(new TextDecoder().decode(m.get('d/e/b.csv'))).toBe('2');
    }
    const mac = join(tmp, 'mac.zip');
    writeFileSync(mac, zipSync({ 'x/': new Uint8Array(), 'x/a.csv': strToU8('1'), '__MACOSX/x/._a.csv': strToU8('junk') }));
    expect([...readArchive(mac).keys()]).toEqual(['x/a.csv']);
    const notZip = join(tmp, 'not.zip');
    writeFileSync(notZip, 'plain text');
    expect(message(() => readArchive(notZip))).toMatch(new RegExp(`^${notZip.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a readable zip archive \\(.+\\)$`));
  });
});

describe('loadSequenceZip options and refusals', () => {
  it('targets at the root, groups off, a custom sequence pattern; files in other folders ignored', () => {
    const [zip, folder] = archive('root', {
      'run-7.csv': '0.5,1\n1.5,2\n',
      'run-9.csv': 'a,b\n3,4\n',
      'run-8.csv': '5,6\n7,8\n9,10\n',
      'sub/run-8.csv': '9,9\n',
      'labels_target.csv': 'id,label\n9,2\n7,5\n8,2\n',
      'g_DatasetGroup.csv': '7,1\n8,1\n9,1\n',
    });
    for (const src of [zip, folder]) {
      const r = loadSequenceZip(src, { sequencePattern: /-(\d+)\.csv$/, groups: null });
      expect(Array.from(r.ids)).toEqual([9, 7, 8]);
      expect(r.classes).toEqual([2, 5]);
      expect(Array.from(r.dataset.y)).toEqual([0, 1, 0]);
      expect(Array.from(r.dataset.lengths!)).toEqual([1, 2, 3]);
      expect(Array.from(r.dataset.x)).toEqual([3, 4, 0, 0, 0, 0, 0.5, 1, 1.5, 2, 0, 0, 5, 6, 7, 8, 9, 10]);
      expect(r.dataset.yShape).toEqual([3]);
      expect(r.groups).toBeUndefined();
      // Groups by default from the *DatasetGroup.csv entry; by name when given.
      expect(Array.from(loadSequenceZip(src, { sequencePattern: /-(\d+)\.csv$/ }).groups!)).toEqual([1, 1, 1]);
      expect(Array.from(loadSequenceZip(src, { sequencePattern: /-(\d+)\.csv$/, groups: 'g_DatasetGroup.csv', targets: 'labels_target.csv' }).groups!)).toEqual([1, 1, 1]);
    }
  });

  it('names the archive and the entry of each problem', () => {
    const check = (files: Record<string, string>, o: Parameters<typeof loadSequenceZip>[1], want: (src: string) => string) => {
      for (const src of archive(`bad${Math.random().toString(36).slice(2, 8)}`, files)) expect(message(() => loadSequenceZip(src, o))).toBe(want(src));
    };
    const seqs = { 'd/s_1.csv': '1,2\n', 'd/s_2.csv': '3,4\n' };
    check(seqs, {}, (s) => `${s}: no targets file (a name ending in _target.csv); pass the targets option`);
    const [several] = archive('several', { ...seqs, 'd/a_target.csv': '1,1\n', 'd/b_target.csv': '1,1\n' });
    expect(message(() => loadSequenceZip(several))).toBe(`${several}: several targets files (d/a_target.csv, d/b_target.csv); choose one`);
    check({ ...seqs, 'd/a_target.csv': '1,1\n' }, { targets: 'x_target.csv' }, (s) => `${s}: no targets file "x_target.csv" in it`);
    check({ ...seqs, 'd/t_target.csv': '1,1\n1,0\n' }, {}, (s) => `${s}:d/t_target.csv: row 2, column 1: duplicate sequence id 1`);
    check({ ...seqs, 'd/t_target.csv': '1.5,1\n' }, {}, (s) => `${s}:d/t_target.csv: row 1, column 1: sequence id must be an integer, got 1.5`);
    check({ 'd/s_1.csv': '1,2\n', 'd/s_2.csv': '3,4,5\n', 'd/t_target.csv': '1,1\n2,0\n' }, {}, (s) => `${s}:d/s_2.csv: row 1 has 3 numeric columns, expected 2 as in the other sequences`);
    check({ ...seqs, 'd/t_target.csv': '1,1\n2,0\n', 'g/x_DatasetGroup.csv': '1,1\n' }, {}, (s) => `${s}:g/x_DatasetGroup.csv: no group for sequence 2`);
    check({ ...seqs, 'd/t_target.csv': '1,1\n2,0\n' }, { groups: 'groups.csv' }, (s) => `${s}: no groups file "groups.csv" in it`);
    // Targets chosen by a name that matches several entries' endings: the exact path wins.
    const [zip] = archive('exact', { ...seqs, 'd/t_target.csv': '1,1\n2,0\n', 'e/d/t_target.csv': '1,1\n' });
    expect(loadSequenceZip(zip, { targets: 'd/t_target.csv' }).dataset.count).toBe(2);
    expect(loadSequenceZip(zip, { targets: 't_target.csv' }).dataset.count).toBe(2);
  });
});
