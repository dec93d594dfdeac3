// File I/O at the boundaries (src/data/files.ts): what a write does to each kind of target
// (regular file, missing file, symlink, character device, FIFO, `-`), temporary names within
// NAME_MAX and the cleanup of a killed writer's temporary files, and reads that refuse special
// or oversized files. Devices are made with mknod in a temp folder (root only), never in /dev.
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync, closeSync, existsSync, openSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync,
  statSync, symlinkSync, truncateSync, utimesSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { checkWritablePath, readBytes, readBytesAsync, readText, tempPathFor, writeFileAtomic } from '../src/data/files.js';
import { UserError } from '../src/data/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'rnnx-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const isRoot = process.getuid?.() === 0;
const hasMkfifo = spawnSync('mkfifo', ['--version']).status === 0;

/** tsx by absolute URL, so that children may run in another folder. */
const TSX = pathToFileURL(resolve('node_modules/tsx/dist/loader.mjs')).href;

function rnnx(args: string[], options: { cwd?: string; timeout?: number } = {}) {
  const r = spawnSync(process.execPath, ['--import', TSX, resolve('src/cli/main.ts'), ...args], {
    cwd: options.cwd ?? process.cwd(),
    timeout: options.timeout ?? 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** A character device with the numbers of /dev/null (1, 3) or /dev/zero (1, 5), made here. */
function mknodChar(name: string, minor: 3 | 5): string {
  const p = join(dir, name);
  const r = spawnSync('mknod', [p, 'c', '1', String(minor)]);
  if (r.status !== 0) throw new Error(`mknod failed: ${r.stderr}`);
  return p;
}

const MODEL = 'tests/fixtures/pytorch_lstm.onnx';
/** An rnnx-written model (export rebuilds from rnnx's metadata). */
const RNNX_MODEL = 'models/airline/airline.onnx';

/**
 * src/data/files.ts loaded afresh inside the calling test. Its name patterns and size caps are
 * module constants: StrykerJS (ignoreStatic) only counts a test as covering them when the test
 * itself loads the module.
 */
async function freshFiles(): Promise<typeof import('../src/data/files.js')> {
  vi.resetModules();
  return import('../src/data/files.js');
}

/** Open descriptors of this process (Linux). */
const openFds = () => readdirSync('/proc/self/fd').length;
const hasProcFd = existsSync('/proc/self/fd');

/** writeFileAtomic with umask 022, as most shells have it. */
function writeAtomicUnderUmask(f: string) {
  // Worker threads (StrykerJS runs vitest in them) cannot set the umask: there, the process's own.
  const old = isMainThread ? process.umask(0o022) : undefined;
  try {
    writeFileAtomic(f, Uint8Array.of(4));
  } finally {
    if (old !== undefined) process.umask(old);
  }
}

describe('writing to each kind of target', () => {
  it('a regular file is replaced atomically and keeps its permissions', () => {
    const f = join(dir, 'plain.bin');
    writeFileSync(f, 'old');
    chmodSync(f, 0o600);
    writeFileAtomic(f, Uint8Array.of(1, 2, 3));
    expect(Array.from(readFileSync(f))).toEqual([1, 2, 3]);
    expect(statSync(f).mode & 0o777).toBe(0o600);
    // Exactly, whatever the umask would make of a new file.
    chmodSync(f, 0o666);
    writeAtomicUnderUmask(f);
    expect(statSync(f).mode & 0o777).toBe(0o666);
    expect(readdirSync(dir).filter((n) => n.includes('plain.bin'))).toEqual(['plain.bin']);
  });

  it.skipIf(!isRoot)('a character device stays a device: written in place, never replaced', () => {
    const dev = mknodChar('null-copy', 3);
    writeFileAtomic(dev, new Uint8Array(1000).fill(7));
    const st = lstatSync(dev);
    expect(st.isCharacterDevice()).toBe(true);
    expect(st.rdev).toBe(statSync('/dev/null').rdev);
    expect(readdirSync(dir).filter((n) => n.includes('null-copy'))).toEqual(['null-copy']);
  });

  it.skipIf(!isRoot)('rnnx export MODEL <a character device> leaves the device a device (exit 0)', () => {
    const dev = mknodChar('export-null', 3);
    const r = rnnx(['export', RNNX_MODEL, dev]);
    expect(r.code, r.stderr).toBe(0);
    expect(lstatSync(dev).isCharacterDevice()).toBe(true);
    expect(lstatSync(dev).rdev).toBe(statSync('/dev/null').rdev);
  });

  it.skipIf(!hasMkfifo)('a FIFO stays a FIFO and its reader gets every byte', async () => {
    const fifo = join(dir, 'pipe');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    // The reader is another process: opening a FIFO for writing waits for one.
    const reader = spawn('cat', [fifo]);
    const chunks: Buffer[] = [];
    reader.stdout.on('data', (c: Buffer) => chunks.push(c));
    const done = new Promise<number | null>((res) => reader.on('close', res));
    const timer = setTimeout(() => reader.kill('SIGKILL'), 20_000);
    const bytes = new Uint8Array(200_000).map((_, i) => (i * 31) & 0xff); // more than a pipe buffer
    writeFileAtomic(fifo, bytes);
    expect(await done).toBe(0);
    clearTimeout(timer);
    expect(Buffer.concat(chunks).equals(Buffer.from(bytes))).toBe(true);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });

  it('a symlink is followed: the link stays, its target is replaced atomically', () => {
    const sub = join(dir, 'links');
    mkdirSync(join(sub, 'real'), { recursive: true });
    writeFileSync(join(sub, 'real', 'model.onnx'), 'old');
    symlinkSync('real/model.onnx', join(sub, 'link.onnx'));
    symlinkSync('link.onnx', join(sub, 'link2.onnx')); // a chain
    writeFileAtomic(join(sub, 'link2.onnx'), Uint8Array.of(9, 8));
    expect(lstatSync(join(sub, 'link2.onnx')).isSymbolicLink()).toBe(true);
    expect(lstatSync(join(sub, 'link.onnx')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(sub, 'link.onnx'))).toBe('real/model.onnx');
    expect(Array.from(readFileSync(join(sub, 'real', 'model.onnx')))).toEqual([9, 8]);
    expect(readdirSync(join(sub, 'real'))).toEqual(['model.onnx']);
  });

  it('a dangling symlink: its target is created, the link stays a link', () => {
    const sub = join(dir, 'dangling');
    mkdirSync(sub);
    symlinkSync('made.bin', join(sub, 'link.bin'));
    writeFileAtomic(join(sub, 'link.bin'), Uint8Array.of(5));
    expect(lstatSync(join(sub, 'link.bin')).isSymbolicLink()).toBe(true);
    expect(Array.from(readFileSync(join(sub, 'made.bin')))).toEqual([5]);
  });

  it('a chain of symlinks is followed as far as the kernel follows one: 40 links, not 41', () => {
    const sub = join(dir, 'chain');
    mkdirSync(sub);
    writeFileSync(join(sub, 'l0'), 'old');
    for (let i = 1; i <= 41; i++) symlinkSync(`l${i - 1}`, join(sub, `l${i}`));
    // The reference is the kernel itself: open(2) resolves 40 links and refuses the 41st.
    expect(readFileSync(join(sub, 'l40'), 'utf8')).toBe('old');
    expect(() => readFileSync(join(sub, 'l41'))).toThrow(expect.objectContaining({ code: 'ELOOP' }));
    checkWritablePath(join(sub, 'l40'));
    writeFileAtomic(join(sub, 'l40'), Uint8Array.of(40));
    expect(Array.from(readFileSync(join(sub, 'l0')))).toEqual([40]);
    expect(lstatSync(join(sub, 'l1')).isSymbolicLink()).toBe(true);
    expect(() => writeFileAtomic(join(sub, 'l41'), Uint8Array.of(41))).toThrow(`${join(sub, 'l41')}: cannot write: too many levels of symbolic links`);
    expect(() => checkWritablePath(join(sub, 'l41'))).toThrow(`${join(sub, 'l41')}: cannot write: too many levels of symbolic links`);
    expect(Array.from(readFileSync(join(sub, 'l0')))).toEqual([40]);
    expect(readdirSync(sub).filter((n) => !/^l\d+$/.test(n))).toEqual([]);
  });

  it('a path that is not a string, or empty, is refused by name', () => {
    for (const bad of [42, undefined, '']) {
      expect(() => writeFileAtomic(bad as unknown as string, Uint8Array.of(1))).toThrow(`path must be a non-empty string, got ${JSON.stringify(bad)}`);
    }
    // Data that is not bytes is refused before anything is written.
    const target = join(dir, 'not-bytes');
    for (const [bad, type] of [['text', 'string'], [[1, 2], 'object'], [undefined, 'undefined']] as const) {
      expect(() => writeFileAtomic(target, bad as unknown as Uint8Array)).toThrow(`${target}: data to write must be a Uint8Array, got ${type}`);
    }
    expect(existsSync(target)).toBe(false);
  });

  it('a write that fails after its temporary file was made leaves nothing behind (a trailing slash: rename fails)', () => {
    const sub = join(dir, 'slash');
    mkdirSync(sub);
    // `out.bin/` names a directory: the temp file is written beside it, then rename(2) says ENOTDIR.
    expect(() => writeFileAtomic(join(sub, 'out.bin') + '/', Uint8Array.of(1, 2))).toThrow(`${join(sub, 'out.bin')}/: cannot write: a parent is not a directory`);
    expect(readdirSync(sub)).toEqual([]);
  });

  it.skipIf(!isRoot)('a block device is refused by name, for writing and for the early check', () => {
    const dev = join(dir, 'blockdev');
    expect(spawnSync('mknod', [dev, 'b', '7', '200']).status).toBe(0);
    const why = `${dev}: cannot write: it is a block device; rnnx writes regular files, character devices and FIFOs`;
    expect(() => writeFileAtomic(dev, Uint8Array.of(1))).toThrow(why);
    expect(() => checkWritablePath(dev)).toThrow(why);
    expect(lstatSync(dev).isBlockDevice()).toBe(true);
  });

  it('checkWritablePath accepts a writable character device and a FIFO without opening either, and creates nothing', () => {
    checkWritablePath('/dev/null');
    if (hasMkfifo) {
      const sub = join(dir, 'check-fifo');
      mkdirSync(sub);
      const fifo = join(sub, 'p');
      expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
      checkWritablePath(fifo); // opening it for writing would block: no reader
      expect(readdirSync(sub)).toEqual(['p']);
      expect(lstatSync(fifo).isFIFO()).toBe(true);
    }
  });

  it('a symlink loop is a named error, not a hang', () => {
    const sub = join(dir, 'loop');
    mkdirSync(sub);
    symlinkSync('b', join(sub, 'a'));
    symlinkSync('a', join(sub, 'b'));
    expect(() => writeFileAtomic(join(sub, 'a'), Uint8Array.of(1))).toThrow(/loop\/a: cannot write: too many levels of symbolic links/);
  });

  it('`-` is standard output for the library and for every CLI output path; no file named "-" appears', () => {
    const cwd = mkdtempSync(join(dir, 'stdout-'));
    const script = join(cwd, 'w.mts');
    writeFileSync(script, `import { writeFileAtomic } from ${JSON.stringify(pathToFileURL(resolve('src/data/files.ts')).href)};\nwriteFileAtomic('-', new TextEncoder().encode('hello\\n'));\n`);
    const lib = spawnSync(process.execPath, ['--import', TSX, script], { cwd, encoding: 'utf8' });
    expect(lib.stderr).toBe('');
    expect(lib.stdout).toBe('hello\n');

    const r = rnnx(['export', resolve(RNNX_MODEL), '-'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(cwd, '-'))).toBe(false);
    // What came out is the model: the same bytes `export` writes to a file.
    const viaFile = join(cwd, 'again.onnx');
    expect(rnnx(['export', resolve(RNNX_MODEL), viaFile]).code).toBe(0);
    expect(Buffer.compare(r.stdout, readFileSync(viaFile))).toBe(0);
  });

  it('/dev/stdout, /dev/fd/1: written through the descriptor, to a pipe or a file opened for appending; /dev/stdout stays a link', () => {
    const cwd = mkdtempSync(join(dir, 'devstdout-'));
    const before = lstatSync('/dev/stdout');
    const script = join(cwd, 'w.mts');
    writeFileSync(script, `import { writeFileAtomic } from ${JSON.stringify(pathToFileURL(resolve('src/data/files.ts')).href)};\nwriteFileAtomic(process.argv[2], new TextEncoder().encode('hello\\n'));\n`);
    for (const target of ['/dev/stdout', '/dev/fd/1']) {
      const piped = spawnSync(process.execPath, ['--import', TSX, script, target], { cwd, encoding: 'utf8' });
      expect(piped.stderr).toBe('');
      expect(piped.stdout).toBe('hello\n');
      // `>> log.txt`: the bytes are appended, the file keeps what it had.
      const log = join(cwd, 'log.txt');
      writeFileSync(log, 'HEAD\n');
      const fd = openSync(log, 'a');
      const appended = spawnSync(process.execPath, ['--import', TSX, script, target], { cwd, stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
      closeSync(fd);
      expect(appended.stderr).toBe('');
      expect(readFileSync(log, 'utf8')).toBe('HEAD\nhello\n');
    }
    const after = lstatSync('/dev/stdout');
    expect([after.ino, after.mode]).toEqual([before.ino, before.mode]);
    expect(readdirSync(cwd).sort()).toEqual(['log.txt', 'w.mts']);
  });

  it('a directory, a socket-like non-file: refused by name', () => {
    mkdirSync(join(dir, 'adir'));
    expect(() => writeFileAtomic(join(dir, 'adir'), Uint8Array.of(1))).toThrow(/adir: cannot write: it is a directory/);
  });
});

describe('temporary names', () => {
  it('a 250-byte file name (and a 255-byte one) can be written: the temp name stays within NAME_MAX', () => {
    for (const len of [250, 255]) {
      const name = 'm'.repeat(len - 5) + '.onnx';
      writeFileAtomic(join(dir, name), Uint8Array.of(len & 0xff));
      expect(readFileSync(join(dir, name))[0]).toBe(len & 0xff);
    }
    // Multi-byte names are cut on character boundaries, in bytes.
    const wide = 'é'.repeat(125) + '.x'; // 252 bytes
    expect(Buffer.byteLength(wide)).toBe(252);
    const tmp = tempPathFor(join(dir, wide));
    expect(Buffer.byteLength(tmp.slice(dir.length + 1))).toBeLessThanOrEqual(255);
    expect(tmp).not.toContain('\ufffd');
    writeFileAtomic(join(dir, wide), Uint8Array.of(1));
    expect(existsSync(join(dir, wide))).toBe(true);
  });

  it('temp files left by a killed writer are removed on the next write to the same folder; live and foreign files stay', async () => {
    const { writeFileAtomic } = await freshFiles();
    const sub = join(dir, 'stale');
    mkdirSync(sub);
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout);
    const old = [
      `.model.onnx.${deadPid}.0123abcd.rnnx-tmp`, // this version's pattern
      `.model.onnx.${deadPid}.89abcdef.tmp`, // the pattern of earlier versions
      `.m.${deadPid}.456789ef.rnnx-tmp`, `.m.${deadPid}.456789ef.tmp`, // one-letter names
    ];
    const oldButAlive = `.model.onnx.${process.pid}.fedcba98.rnnx-tmp`; // a live writer, but a day old: its pid was reused
    const keep = [
      `.other.${process.pid}.01234567.rnnx-tmp`, 'notes.tmp', `.model.onnx.${deadPid}.xyz.tmp`,
      // Names that only resemble the patterns are someone else's: no leading dot, something after
      // the suffix, a pid that is not a number, 7 or 9 hex digits.
      `model.onnx.${deadPid}.0123abcd.rnnx-tmp`, `model.onnx.${deadPid}.89abcdef.tmp`,
      `.model.onnx.${deadPid}.0123abcd.rnnx-tmp.bak`, `.model.onnx.${deadPid}.89abcdef.tmp.bak`,
      '.model.onnx.abc.0123abcd.rnnx-tmp', '.model.onnx.abc.89abcdef.tmp',
      `.model.onnx.${deadPid}.0123abc.rnnx-tmp`, `.model.onnx.${deadPid}.0123abcde.tmp`,
    ];
    for (const n of [...old, oldButAlive, ...keep]) writeFileSync(join(sub, n), 'partial');
    const dayAgo = new Date(Date.now() - 25 * 3600 * 1000);
    utimesSync(join(sub, oldButAlive), dayAgo, dayAgo);
    writeFileAtomic(join(sub, 'next.onnx'), Uint8Array.of(1));
    expect(readdirSync(sub).sort()).toEqual([...keep, 'next.onnx'].sort());
  });
});

describe('reading: regular files only, bounded', () => {
  it('a character device that never ends (/dev/zero) is refused at once', () => {
    const zero = isRoot ? mknodChar('zero-copy', 5) : '/dev/zero';
    expect(() => readBytes(zero)).toThrow(UserError);
    expect(() => readBytes(zero)).toThrow(`${zero}: cannot read: expected a regular file, got a character device`);
    expect(() => readText(zero)).toThrow(/expected a regular file/);
  });

  it.skipIf(!hasMkfifo)('a FIFO with no writer is refused without blocking', () => {
    const fifo = join(dir, 'in-pipe');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    expect(() => readBytes(fifo)).toThrow(`${fifo}: cannot read: expected a regular file, got a FIFO (named pipe)`);
  });

  it('text one byte longer than the longest V8 string is refused before it is read, naming the cap', async () => {
    const { readText } = await freshFiles();
    const f = join(dir, 'huge.txt');
    writeFileSync(f, '');
    const cap = 2 ** 29 - 24; // V8's longest string (UTF-16 units), hand-written here
    truncateSync(f, cap + 1); // sparse: no disk space, no time
    expect(() => readText(f)).toThrow(`${f}: cannot read: the file is ${cap + 1} bytes, more than the ${cap} bytes rnnx reads`);
    expect(() => readText(f, { maxBytes: 2 ** 31 - 1 })).toThrow(`more than the ${cap} bytes rnnx reads`);
  });

  it.skipIf(!hasProcFd)('reads close their descriptor, also when they refuse the file', () => {
    const f = join(dir, 'small.bin');
    writeFileSync(f, 'abc');
    const before = openFds();
    for (let i = 0; i < 20; i++) {
      expect(readText(f)).toBe('abc');
      expect(() => readBytes(f, { maxBytes: 2 })).toThrow(/more than the 2 bytes/);
      expect(() => readBytes('/dev/zero')).toThrow(/expected a regular file/);
    }
    expect(openFds()).toBe(before);
  });

  // sysfs reports a size (4096) larger than what a read returns.
  const SYSFS = '/sys/devices/system/cpu/online';
  const sysfsShort = existsSync(SYSFS) && statSync(SYSFS).isFile() && statSync(SYSFS).size > readFileSync(SYSFS).length;
  it.skipIf(!sysfsShort)('a file shorter than its reported size (sysfs) is read to its real end, sync and async', async () => {
    const want = Array.from(readFileSync(SYSFS)); // Node's own reader as the reference
    expect(Array.from(readBytes(SYSFS))).toEqual(want);
    expect(Array.from(await readBytesAsync(SYSFS))).toEqual(want);
  });

  it('a file over the size cap is refused, naming its size and the cap', () => {
    const f = join(dir, 'eleven.bin');
    writeFileSync(f, 'x'.repeat(11));
    expect(() => readBytes(f, { maxBytes: 10 })).toThrow(`${f}: cannot read: the file is 11 bytes, more than the 10 bytes rnnx reads`);
    expect(readBytes(f, { maxBytes: 11 }).length).toBe(11);
  });

  it.each([
    ['inspect', (dev: string) => ['inspect', dev]],
    ['predict --input', (dev: string) => ['predict', MODEL, '--input', dev]],
    ['predict MODEL', (dev: string) => ['predict', dev, '--input', 'tests/fixtures/pytorch_lstm_x.npy']],
    ['export', (dev: string) => ['export', dev, join(dir, 'never.onnx')]],
    ['serve', (dev: string) => ['serve', dev, '--host', '127.0.0.1', '--port', '0']],
  ])('rnnx %s on an endless character device: exit 1 in a moment, one line naming it', (label, args) => {
    const tag = label.replace(/\W/g, '');
    const zero = isRoot ? mknodChar(`zero-${tag}`, 5) : '/dev/zero';
    // A .npy name for the input (predict picks the reader by extension), pointing at the device.
    const named = join(dir, `zero-${tag}.npy`);
    symlinkSync(zero, named);
    const r = rnnx(args(named), { timeout: 30_000 });
    expect(r.signal).toBeNull();
    expect(r.code, r.stderr).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe(`rnnx: ${named}: cannot read: expected a regular file, got a character device`);
  });
});
