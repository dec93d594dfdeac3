// Writing the CLI's outputs through data/files.ts's writeFileAtomic: regular files through a
// temporary name and a rename (a failed or interrupted command leaves no partial file), devices
// and FIFOs in place, `-` to standard output. Output paths are checked before long work starts,
// so a typo fails in a second, not after training.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { checkWritablePath, describeFsError, writeFileAtomic } from '../data/files.js';
import { UserError } from '../data/errors.js';

/** mkdir -p; EEXIST from it means a component of the path is a file. */
function makeParent(path: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw describeFsError(path, code === 'EEXIST' ? Object.assign(new Error(), { code: 'ENOTDIR' }) : e, 'write');
  }
}

/** Writes a CLI output: `-` is standard output, missing parent folders are created. */
export function writeOutput(path: string, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  if (path !== '-') makeParent(path);
  writeFileAtomic(path, bytes);
}

/**
 * A text table: each column padded to its widest cell, columns two spaces apart, rows joined by
 * newlines. `align(c)` says which side column c lines up on: 'left' (padded at the end, the
 * default) or 'right' (padded at the start, for numbers).
 */
export function formatTable(rows: readonly (readonly string[])[], align: (column: number) => 'left' | 'right' = () => 'left'): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (align(c) === 'left' ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')).join('\n');
}

/** Throws a UserError now if `path` could not be written later. Leaves nothing behind. */
export function checkWritable(path: string): void {
  if (path === '-') return;
  makeParent(path);
  checkWritablePath(path);
}

export { UserError };
