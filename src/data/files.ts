// The one home of rnnx's file I/O: bounded reads of regular files, and writes that never leave a
// partial file and never turn a device, a FIFO or a symlink into a regular file. Errors are
// one-line UserErrors naming the path.

import {
  closeSync, fchmodSync, fstatSync, fsyncSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, renameSync,
  statSync, unlinkSync, accessSync, constants as fsConstants, writeSync, type Stats,
} from 'node:fs';
import { open as openAsync } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from './errors.js';

/** A filesystem error as a one-line UserError: `path: cannot read: no such file or directory`. */
export function describeFsError(path: string, e: unknown, verb: string): UserError {
  if (e instanceof UserError) return e;
  const code = (e as NodeJS.ErrnoException)?.code;
  const why =
    code === 'ENOENT' ? 'no such file or directory'
    : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
    : code === 'EISDIR' ? 'is a directory'
    : code === 'ENOTDIR' ? 'a parent is not a directory'
    : code === 'EROFS' ? 'read-only file system'
    : code === 'ENOSPC' ? 'no space left on device'
    : code === 'ENAMETOOLONG' ? 'file name too long'
    : code === 'ELOOP' ? 'too many levels of symbolic links'
    : (e as Error)?.message ?? String(e);
  // The errno code stays reachable for callers that branch on it.
  return Object.assign(new UserError(`${path}: cannot ${verb}: ${why}`, { cause: e }), code ? { code } : {});
}

/**
 * The largest file read whole: protobuf (ONNX) cannot exceed 2 GiB, and a V8 string holds at
 * most 2^29 - 24 UTF-16 units, so text is capped lower.
 */
export const MAX_READ_BYTES = 2 ** 31 - 1;
export const MAX_TEXT_BYTES = 2 ** 29 - 24;

export interface ReadOptions {
  /** Refuse files larger than this (default MAX_READ_BYTES). */
  maxBytes?: number;
}

function kindOf(st: Stats): string {
  return st.isDirectory() ? 'a directory'
    : st.isCharacterDevice() ? 'a character device'
    : st.isBlockDevice() ? 'a block device'
    : st.isFIFO() ? 'a FIFO (named pipe)'
    : st.isSocket() ? 'a socket'
    : 'not a regular file';
}

/** Throws unless `st` is a regular file no larger than `max`: devices such as /dev/zero never end. */
function checkReadable(path: string, st: Stats, max: number): number {
  if (!st.isFile()) throw new UserError(`${path}: cannot read: expected a regular file, got ${kindOf(st)}`);
  if (st.size > max) throw new UserError(`${path}: cannot read: the file is ${st.size} bytes, more than the ${max} bytes rnnx reads`);
  return st.size;
}

/** Reads a whole regular file, refusing special files and files over `maxBytes`. */
export function readBytes(path: string, options: ReadOptions = {}): Uint8Array {
  const max = options.maxBytes ?? MAX_READ_BYTES;
  let fd: number | null = null;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer before fstat can refuse it.
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    const size = checkReadable(path, fstatSync(fd), max);
    const out = new Uint8Array(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, out, off, size - off, null);
      if (n === 0) break; // the file shrank while being read
      off += n;
    }
    return off === size ? out : out.subarray(0, off);
  } catch (e) {
    throw describeFsError(path, e, 'read');
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** readBytes without blocking the event loop (for servers opening models). */
export async function readBytesAsync(path: string, options: ReadOptions = {}): Promise<Uint8Array> {
  const max = options.maxBytes ?? MAX_READ_BYTES;
  let fh: Awaited<ReturnType<typeof openAsync>> | null = null;
  try {
    fh = await openAsync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    const size = checkReadable(path, await fh.stat(), max);
    const out = new Uint8Array(size);
    let off = 0;
    while (off < size) {
      const { bytesRead } = await fh.read(out, off, size - off, null);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return off === size ? out : out.subarray(0, off);
  } catch (e) {
    throw describeFsError(path, e, 'read');
  } finally {
    await fh?.close();
  }
}

export function readText(path: string, options: ReadOptions = {}): string {
  return new TextDecoder('utf-8').decode(readBytes(path, { maxBytes: Math.min(options.maxBytes ?? MAX_TEXT_BYTES, MAX_TEXT_BYTES) }));
}

export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch (e) {
    throw describeFsError(path, e, 'read');
  }
}

// ---- writing ----

/** Linux NAME_MAX: the longest file name (one path component), in bytes. */
const NAME_MAX = 255;
const TEMP_SUFFIX = '.rnnx-tmp';
/** `.<stem>.<pid>.<8 hex>.rnnx-tmp`; the stem is the target's name cut to fit NAME_MAX. */
const TEMP_PATTERN = /^\..*\.(\d+)\.[0-9a-f]{8}\.rnnx-tmp$/;
/** The pattern rnnx used before (`.<name>.<pid>.<8 hex>.tmp`), still cleaned when stale. */
const OLD_TEMP_PATTERN = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/;
/** A temp file whose writer is alive is still stale after this long (its pid was reused). */
const STALE_AFTER_MS = 24 * 3600 * 1000;

/** The longest prefix of `s` whose UTF-8 encoding fits in `bytes`, never splitting a character. */
function truncateUtf8(s: string, bytes: number): string {
  let used = 0;
  let out = '';
  for (const ch of s) {
    const n = Buffer.byteLength(ch);
    if (used + n > bytes) break;
    used += n;
    out += ch;
  }
  return out;
}

/** A fresh temporary name beside `path`, within NAME_MAX however long the target's name is. */
export function tempPathFor(path: string): string {
  const tail = `.${process.pid}.${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`;
  const stem = truncateUtf8(basename(path), NAME_MAX - 1 - Buffer.byteLength(tail));
  return join(dirname(path), `.${stem}${tail}`);
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, owned by someone else
  }
}

/**
 * Removes temporary files of rnnx's naming pattern in `dir` left by a process that died mid-write
 * (kill -9, power loss): their writer's pid is gone, or they are older than a day. Best effort.
 */
export function cleanStaleTemps(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const now = Date.now();
  for (const name of names) {
    const m = TEMP_PATTERN.exec(name) ?? OLD_TEMP_PATTERN.exec(name);
    if (!m) continue;
    const full = join(dir, name);
    try {
      const st = lstatSync(full);
      if (!st.isFile()) continue;
      if (processAlive(Number(m[1])) && now - st.mtimeMs < STALE_AFTER_MS) continue;
      unlinkSync(full);
    } catch {
      // gone already, or not ours to remove
    }
  }
}

/**
 * The open file descriptor a path names: `-` and /dev/stdout are 1, /dev/stderr 2, /dev/fd/N and
 * /proc/self/fd/N are N. Such a path is written through the descriptor the process already
 * holds, so output redirected by the shell (`>`, `>>`, a pipe) lands where the shell sent it.
 */
function descriptorOf(path: string): number | null {
  if (path === '-' || path === '/dev/stdout') return 1;
  if (path === '/dev/stderr') return 2;
  const m = /^\/(?:dev|proc\/self)\/fd\/(\d+)$/.exec(path);
  return m ? Number(m[1]) : null;
}

/** Linux's MAXSYMLINKS: a path resolves through at most this many symlinks, the next is ELOOP. */
const MAX_SYMLINKS = 40;

/** Where a write to `path` really goes: symlinks followed (the link stays a link), and what is there. */
function resolveTarget(path: string): { target: string; st: Stats | null } {
  let p = path;
  // MAX_SYMLINKS links followed, then one more lstat for what the last one names.
  for (let hops = 0; hops <= MAX_SYMLINKS; hops++) {
    let st: Stats;
    try {
      st = lstatSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { target: p, st: null };
      throw e;
    }
    if (!st.isSymbolicLink()) return { target: p, st };
    p = resolve(dirname(p), readlinkSync(p));
  }
  throw Object.assign(new Error('too many levels of symbolic links'), { code: 'ELOOP' });
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) {
    try {
      off += writeSync(fd, bytes, off, bytes.length - off);
    } catch (e) {
      // A non-blocking pipe (stdout of a pipeline) that is momentarily full: try again.
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    }
  }
}

function fsyncDir(dir: string): void {
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // not supported here (e.g. Windows); the data itself is already synced
  }
}

/**
 * Writes `bytes` to `path` the way each kind of target needs:
 * - `-` (standard output), /dev/stdout, /dev/stderr, /dev/fd/N: through that open descriptor;
 * - a regular file or nothing yet: atomically, through a temporary file in the same directory
 *   that is written, fsynced and renamed over the target (readers see the old file or the new
 *   one, never a partial one; the old file's permissions are kept);
 * - a symlink: followed, and its final target replaced atomically (the link stays);
 * - a character device or a FIFO (/dev/null, /dev/stdout, a named pipe): written in place, so
 *   the device stays a device;
 * - anything else (directory, socket, block device): refused.
 * Stale temporary files of a killed writer in the same directory are removed first. Throws a
 * UserError naming `path`; on failure no temporary file is left.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  if (typeof path !== 'string' || path === '') throw new UserError(`path must be a non-empty string, got ${JSON.stringify(path)}`);
  if (!(bytes instanceof Uint8Array)) throw new UserError(`${path}: data to write must be a Uint8Array, got ${typeof bytes}`);
  const fdOut = descriptorOf(path);
  if (fdOut !== null) {
    try {
      writeAll(fdOut, bytes);
    } catch (e) {
      throw describeFsError(path === '-' ? 'standard output' : path, e, 'write');
    }
    return;
  }
  let fd: number | null = null;
  let tmp: string | null = null;
  try {
    const { target, st } = resolveTarget(path);
    if (st && (st.isCharacterDevice() || st.isFIFO())) {
      // O_APPEND-free, no O_CREAT: the node exists and must stay what it is.
      fd = openSync(target, fsConstants.O_WRONLY);
      writeAll(fd, bytes);
      closeSync(fd);
      fd = null;
      return;
    }
    if (st && !st.isFile()) throw new UserError(`${path}: cannot write: it is ${kindOf(st)}; rnnx writes regular files, character devices and FIFOs`);
    const dir = dirname(target);
    cleanStaleTemps(dir);
    tmp = tempPathFor(target);
    fd = openSync(tmp, 'wx', 0o644);
    // The replacement keeps the old file's permissions exactly (open's mode is cut by the umask);
    // never its set-user/group-id bits.
    if (st) fchmodSync(fd, st.mode & 0o777);
    writeAll(fd, bytes);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, target);
    tmp = null;
    fsyncDir(dir);
  } catch (e) {
    if (fd !== null) {
      try {
        closeSync(fd);
      } catch {
        // already failing; the original error is the one to report
      }
    }
    if (tmp !== null) {
      try {
        unlinkSync(tmp);
      } catch {
        // the temp file was never created, or is gone already
      }
    }
    throw describeFsError(path, e, 'write');
  }
}

/**
 * Throws a UserError now if `path` could not be written later (a typo should fail in a second,
 * not after training). Leaves nothing behind; never opens a FIFO (that would block).
 */
export function checkWritablePath(path: string): void {
  try {
    const fdOut = descriptorOf(path);
    if (fdOut !== null) {
      fstatSync(fdOut); // EBADF when the descriptor is not open
      return;
    }
    const { target, st } = resolveTarget(path);
    if (st && (st.isCharacterDevice() || st.isFIFO())) {
      accessSync(target, fsConstants.W_OK);
      return;
    }
    if (st && !st.isFile()) throw new UserError(`${path}: cannot write: it is ${kindOf(st)}; rnnx writes regular files, character devices and FIFOs`);
    const probe = tempPathFor(target);
    closeSync(openSync(probe, 'wx', 0o600));
    unlinkSync(probe);
  } catch (e) {
    throw describeFsError(path, e, 'write');
  }
}
