// Writing the CLI's outputs: every file goes through a temporary name and a rename (the
// graph module's writeFileAtomic), so a failed or interrupted command leaves no partial file.
// Output paths are checked before long work starts, so a typo fails in a second, not after training.

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic } from '../graph/io.js';
import { describeFsError } from '../data/files.js';
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

export function writeOutput(path: string, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  makeParent(path);
  try {
    writeFileAtomic(path, bytes);
  } catch (e) {
    const cause = (e as Error).cause ?? e;
    const code = (e as NodeJS.ErrnoException).code ?? /\b(E[A-Z]+)\b/.exec((e as Error).message)?.[1];
    throw describeFsError(path, code ? Object.assign(new Error((e as Error).message), { code }) : cause, 'write');
  }
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
  const probe = join(dirname(path), `.${basename(path)}.${process.pid}.probe`);
  makeParent(path);
  try {
    writeFileSync(probe, '');
  } catch (e) {
    throw describeFsError(path, e, 'write');
  } finally {
    try {
      rmSync(probe, { force: true });
    } catch {
      // nothing was created (the parent is not a directory)
    }
  }
}

export { UserError };
