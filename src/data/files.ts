// File reading shared by the loaders and the CLI, with errors a user understands.

import { readFileSync, statSync } from 'node:fs';
import { UserError } from './errors.js';

/** A filesystem error as a one-line UserError: `path: cannot read: no such file or directory`. */
export function describeFsError(path: string, e: unknown, verb: string): UserError {
  const code = (e as NodeJS.ErrnoException)?.code;
  const why =
    code === 'ENOENT' ? 'no such file or directory'
    : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
    : code === 'EISDIR' ? 'is a directory'
    : code === 'ENOTDIR' ? 'a parent is not a directory'
    : code === 'EROFS' ? 'read-only file system'
    : (e as Error)?.message ?? String(e);
  return new UserError(`${path}: cannot ${verb}: ${why}`, { cause: e });
}

export function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw describeFsError(path, e, 'read');
  }
}

export function readText(path: string): string {
  return new TextDecoder('utf-8').decode(readBytes(path));
}

export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch (e) {
    throw describeFsError(path, e, 'read');
  }
}
