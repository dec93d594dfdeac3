// Each rejection of the dataset validator and the file helpers, with its exact message: the field
// named, the value received and what was expected (the project's error standard). Written to kill
// the mutants StrykerJS found alive in src/data (npm run test:mutation).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCsv, parseNumberCell, readNumericTable, resolveColumn } from '../src/data/csv.js';
import { validateDataset, type SequenceDataset } from '../src/data/dataset.js';
import { isUserError, UserError } from '../src/data/errors.js';
import { describeFsError, isDirectory, readBytes, readText } from '../src/data/files.js';
import { thrownMessage } from './thrown-message.js';

const tmp = mkdtempSync(join(tmpdir(), 'rnnx-data-errors-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** 2 sequences of 3 steps, 2 features, per-step regression targets with 1 output. */
function good(): SequenceDataset {
  return { x: new Float32Array(12), count: 2, time: 3, features: 2, lengths: Int32Array.of(3, 1), y: new Float32Array(6), yShape: [2, 3, 1] };
}

const message = thrownMessage;

describe('validateDataset', () => {
  it('accepts a consistent dataset, with or without lengths, and lengths at both ends of [1, time]', () => {
    expect(() => validateDataset(good())).not.toThrow();
    expect(() => validateDataset({ ...good(), lengths: undefined })).not.toThrow();
    expect(() => validateDataset({ ...good(), lengths: Int32Array.of(1, 3) })).not.toThrow();
    expect(() => validateDataset({ ...good(), y: new Int32Array(2), yShape: [2] })).not.toThrow();
  });

  it('names the field, the value and the expectation', () => {
    const cases: [Partial<SequenceDataset>, string][] = [
      [{ count: 0 }, 'train.count must be a positive integer, got 0'],
      [{ count: 1.5 }, 'train.count must be a positive integer, got 1.5'],
      [{ time: -1 }, 'train.time must be a positive integer, got -1'],
      [{ features: 0 }, 'train.features must be a positive integer, got 0'],
      [{ x: new Float64Array(12) as unknown as Float32Array }, 'train.x must be a Float32Array'],
      [{ x: new Float32Array(11) }, 'train.x must have length count*time*features = 12, got 11'],
      [{ lengths: Int32Array.of(3) }, 'train.lengths must be an Int32Array of length 2'],
      [{ lengths: [3, 1] as unknown as Int32Array }, 'train.lengths must be an Int32Array of length 2'],
      [{ lengths: Int32Array.of(3, 0) }, 'train.lengths[1] must be in [1, 3], got 0'],
      [{ lengths: Int32Array.of(4, 1) }, 'train.lengths[0] must be in [1, 3], got 4'],
      [{ yShape: [] }, 'train.yShape must start with count = 2, got []'],
      [{ yShape: [3, 3, 1] }, 'train.yShape must start with count = 2, got [3,3,1]'],
      [{ yShape: '2' as unknown as number[] }, 'train.yShape must start with count = 2, got "2"'],
      // An array-like shape (a typed array) is not an array, even with the right numbers in it.
      [{ yShape: Int32Array.of(2, 3, 1) as unknown as number[] }, 'train.yShape must start with count = 2, got {"0":2,"1":3,"2":1}'],
      [{ y: new Float32Array(5) }, 'train.y must have length 6 (yShape [2,3,1]), got 5'],
    ];
    for (const [change, expected] of cases) expect(message(() => validateDataset({ ...good(), ...change }, 'train'))).toBe(expected);
    expect(message(() => validateDataset({ ...good(), count: 0 }))).toBe('dataset.count must be a positive integer, got 0');
  });
});

describe('file helpers', () => {
  const err = (code: string, msg = 'low-level text') => Object.assign(new Error(msg), { code });

  it('turns filesystem error codes into one-line reasons, keeping the cause', () => {
    const cases: [string, string][] = [
      ['ENOENT', 'no such file or directory'],
      ['EACCES', 'permission denied'],
      ['EPERM', 'permission denied'],
      ['EISDIR', 'is a directory'],
      ['ENOTDIR', 'a parent is not a directory'],
      ['EROFS', 'read-only file system'],
      ['ENOSPC', 'no space left on device'],
      ['ENAMETOOLONG', 'file name too long'],
      ['ELOOP', 'too many levels of symbolic links'],
      ['EIO', 'low-level text'],
    ];
    for (const [code, why] of cases) {
      const cause = err(code);
      const e = describeFsError('/d/f.csv', cause, 'read');
      expect(e).toBeInstanceOf(UserError);
      expect(e.message).toBe(`/d/f.csv: cannot read: ${why}`);
      expect(e.cause).toBe(cause);
      // The errno code stays on the error for callers that branch on it.
      expect((e as UserError & { code?: string }).code).toBe(code);
    }
    expect(describeFsError('p', 'plain', 'write').message).toBe('p: cannot write: plain');
    expect(Object.hasOwn(describeFsError('p', new Error('no code'), 'write'), 'code')).toBe(false);
    expect(describeFsError('p', undefined, 'write').message).toBe('p: cannot write: undefined');
  });

  it('reads bytes and UTF-8 text; a missing file or a directory is a UserError naming the path', () => {
    const f = join(tmp, 'é.txt');
    writeFileSync(f, 'héllo\n');
    expect(readText(f)).toBe('héllo\n');
    expect(Array.from(readBytes(f))).toEqual(Array.from(Buffer.from('héllo\n')));
    expect(isDirectory(tmp)).toBe(true);
    expect(isDirectory(f)).toBe(false);
    const missing = join(tmp, 'missing.csv');
    // A UserError with the exact message (and the errno code where the OS gave one).
    const userError = (message: string, extra: object = {}) => expect.objectContaining({ name: 'UserError', message, ...extra });
    expect(() => readText(missing)).toThrow(userError(`${missing}: cannot read: no such file or directory`, { code: 'ENOENT' }));
    expect(() => readBytes(tmp)).toThrow(userError(`${tmp}: cannot read: expected a regular file, got a directory`));
    expect(() => isDirectory(missing)).toThrow(userError(`${missing}: cannot read: no such file or directory`));
  });

  it('UserError is named and recognised; other errors are not user errors', () => {
    const e = new UserError('bad', { cause: 1 });
    expect(e.name).toBe('UserError');
    expect(e.cause).toBe(1);
    expect(isUserError(e)).toBe(true);
    expect(isUserError(new Error('bug'))).toBe(false);
    expect(isUserError('text')).toBe(false);
  });
});

describe('CSV details', () => {
  it('parseCsv: other delimiters, kept comment lines, spaces after a closing quote, empty fields, CR line ends, no final newline', () => {
    expect(parseCsv('a;b\n1;"2" \t\n', 's.csv', { delimiter: ';' }).records).toEqual([['a', 'b'], ['1', '2']]);
    expect(parseCsv('a\tb\n', 't.csv', { delimiter: '\t' }).records).toEqual([['a', 'b']]);
    expect(parseCsv('#x,1\n%c\n2,3', 'c.csv', { comment: null }).records).toEqual([['#x', '1'], ['%c'], ['2', '3']]);
    const pct = parseCsv('%c\n#x,1\n', 'c.csv', { comment: '%' });
    expect(pct.records).toEqual([['#x', '1']]);
    expect(pct.lines).toEqual([2]);
    expect(parseCsv(',,\n"",x,\n', 'e.csv').records).toEqual([['', '', ''], ['', 'x', '']]);
    expect(parseCsv('1,2\r3,4\r\n\r\n5,6', 'r.csv')).toEqual({ records: [['1', '2'], ['3', '4'], ['5', '6']], lines: [1, 2, 4] });
    expect(parseCsv('', 'z.csv')).toEqual({ records: [], lines: [] });
    expect(message(() => parseCsv('a', 'd.csv', { delimiter: ';;' }))).toBe('delimiter must be one character, got ";;"');
    expect(message(() => parseCsv('a,b\n"q"x,1\n', 'q.csv'))).toBe('q.csv: row 2, column 1: unexpected "x" after a closing quote');
    expect(message(() => parseCsv('a,"b\nc"d\n', 'q.csv'))).toBe('q.csv: row 2, column 2: unexpected "d" after a closing quote');
  });

  it('parseNumberCell trims, names the column (1-based) and rejects non-finite text', () => {
    expect(parseNumberCell(' 2.5e1 ', 'f', 3, 0)).toBe(25);
    expect(message(() => parseNumberCell(' ', 'f', 3, 1, 'v'))).toBe('f: row 3, column 2 ("v"): missing value');
    expect(message(() => parseNumberCell('Infinity', 'f', 4, 0))).toBe('f: row 4, column 1: "Infinity" is not a number');
    expect(message(() => parseNumberCell('NaN', 'f', 4, 2))).toBe('f: row 4, column 3: "NaN" is not a number');
  });

  it('readNumericTable: header detection, names without a header, indices, lines and minRows', () => {
    const noHeader = readNumericTable('# c\n1,x,2\n3,y,4\n', 'n.csv');
    expect(noHeader).toEqual({ file: 'n.csv', names: ['column 1', 'column 3'], indices: [0, 2], rows: 2, values: Float64Array.of(1, 2, 3, 4), lines: [2, 3], header: [] });
    // A header with a numeric name is taken as data unless header: true says otherwise.
    const forced = readNumericTable(' a , 2020\n1,2\n', 'h.csv', { header: true });
    expect(forced.names).toEqual(['a', '2020']);
    expect(forced.header).toEqual(['a', '2020']);
    expect(readNumericTable('1,2\n3,4\n', 'h.csv', { header: false }).rows).toBe(2);
    expect(message(() => readNumericTable('a,b\n1,2\n', 'h.csv', { header: false, columns: [0] }))).toBe('h.csv: row 1, column 1: "a" is not a number');
    expect(message(() => readNumericTable('a,b\n1,2\n', 'm.csv', { minRows: 2 }))).toBe('m.csv: the file has 1 data row, need at least 2');
    expect(message(() => readNumericTable('a,b\n1,2,3\n', 'r.csv'))).toBe('r.csv: row 2 has 3 columns, expected 2 as in row 1');
    expect(message(() => readNumericTable('d,e\nx,y\n', 'w.csv'))).toBe('w.csv: row 2: no numeric column found; choose columns explicitly');
  });

  it('resolveColumn: indices as numbers or digit strings, header names that are digits, and what exists', () => {
    expect(resolveColumn('1', ['a', 'b'], 2, 'f')).toBe(1);
    expect(resolveColumn('0', ['x', '0'], 2, 'f')).toBe(1);
    expect(resolveColumn(1, ['a', 'b'], 2, 'f')).toBe(1);
    expect(message(() => resolveColumn(-1, [], 2, 'f'))).toBe('f: column index must be in [0, 1] (0-based), got -1');
    expect(message(() => resolveColumn(0.5, [], 2, 'f'))).toBe('f: column index must be in [0, 1] (0-based), got 0.5');
    expect(message(() => resolveColumn('2', [], 2, 'f'))).toBe('f: column index must be in [0, 1] (0-based), got 2');
    expect(message(() => resolveColumn('v', [], 2, 'f'))).toBe('f: no column named "v"; columns: (the file has no header row; use 0-based indices)');
  });
});

describe('CSV edge cases', () => {
  it('a closing quote before CRLF, a comment with CRLF, a header with an empty name, and an explicitly empty column list', () => {
    expect(parseCsv('"a","b"\r\n# c\r\n"1",2\r\n', 'q.csv')).toEqual({ records: [['a', 'b'], ['1', '2']], lines: [1, 3] });
    // An empty cell is not a number, so a first row of names with an empty one is still a header.
    const t = readNumericTable(',a\n1,2\n', 'e.csv');
    expect([t.header, t.names, t.rows, Array.from(t.values)]).toEqual([['', 'a'], ['', 'a'], 1, [1, 2]]);
    expect(readNumericTable('x,1\ny,2\n', 'c.csv', { columns: [] }).indices).toEqual([1]);
  });

  it('resolveColumn: only strings made entirely of digits are indices', () => {
    expect(resolveColumn('10', [], 12, 'f')).toBe(10);
    expect(resolveColumn('a1', ['x', 'a1'], 2, 'f')).toBe(1);
    expect(resolveColumn('1a', ['1a', 'b'], 2, 'f')).toBe(0);
  });
});
