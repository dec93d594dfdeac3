// Each rejection of the dataset validator and the file helpers, with its exact message: the field
// named, the value received and what was expected (the project's error standard). Written to kill
// the mutants StrykerJS found alive in src/data (npm run test:mutation).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateDataset, type SequenceDataset } from '../src/data/dataset.js';
import { isUserError, UserError } from '../src/data/errors.js';
import { describeFsError, isDirectory, readBytes, readText } from '../src/data/files.js';

const tmp = mkdtempSync(join(tmpdir(), 'rnnx-data-errors-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** 2 sequences of 3 steps, 2 features, per-step regression targets with 1 output. */
function good(): SequenceDataset {
  return { x: new Float32Array(12), count: 2, time: 3, features: 2, lengths: Int32Array.of(3, 1), y: new Float32Array(6), yShape: [2, 3, 1] };
}

function message(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  return '(no error)';
}

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
      ['EIO', 'low-level text'],
    ];
    for (const [code, why] of cases) {
      const cause = err(code);
      const e = describeFsError('/d/f.csv', cause, 'read');
      expect(e).toBeInstanceOf(UserError);
      expect(e.message).toBe(`/d/f.csv: cannot read: ${why}`);
      expect(e.cause).toBe(cause);
    }
    expect(describeFsError('p', 'plain', 'write').message).toBe('p: cannot write: plain');
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
    expect(() => readText(missing)).toThrow(new UserError(`${missing}: cannot read: no such file or directory`));
    expect(() => readBytes(tmp)).toThrow(new UserError(`${tmp}: cannot read: is a directory`));
    expect(() => isDirectory(missing)).toThrow(new UserError(`${missing}: cannot read: no such file or directory`));
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
