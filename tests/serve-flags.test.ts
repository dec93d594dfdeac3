// `rnnx serve` and the stand-alone entry (src/serve/main.ts) take the same tuning flags, from one
// table, with the same checks: a timeout beyond setTimeout's range is refused, not overflowed.

import yargs from 'yargs';
import { describe, expect, it } from 'vitest';
import { buildParser } from '../src/cli/app.js';
import { parseServeFlag, SERVE_FLAGS, serveFlagOptions, serveSecrets, type ServeFlag } from '../src/serve/flags.js';
import { exposureWarning } from '../src/serve/http.js';
import { runCliCaptured } from './serve-helpers.js';
import { parseServeArgs } from '../src/serve/main.js';

const tuning = [
  '--max-queue', '4', '--timeout-ms', '100', '--max-body-bytes', '1000', '--max-streams', '2',
  '--idle-timeout-ms', '5000', '--max-buffered-body-bytes', '9000', '--max-batch', '8', '--max-wait-ms', '1.5',
  '--max-time', '500', '--max-batch-bytes', '4096', '--max-queue-bytes', '8192', '--drain-timeout-ms', '700',
  '--workers', '0', '--threads', '1', '--memory-budget-bytes', '123456', '--body-timeout-ms', '800', '--request-timeout-ms', '900',
];
const expected = {
  maxQueue: 4, timeoutMs: 100, maxBodyBytes: 1000, maxStreams: 2, idleTimeoutMs: 5000, maxBufferedBodyBytes: 9000,
  maxBatch: 8, maxWaitMs: 1.5, maxTime: 500, maxBatchBytes: 4096, maxQueueBytes: 8192, drainTimeoutMs: 700,
  workers: 0, intraOpNumThreads: 1, memoryBudgetBytes: 123456, bodyTimeoutMs: 800, requestTimeoutMs: 900,
};

describe('serve flags', () => {
  it('src/serve/main.ts takes every shared flag', () => {
    expect(parseServeArgs(['m.onnx', '--port', '0', ...tuning])).toMatchObject({ modelPath: 'm.onnx', port: 0, ...expected });
    expect(SERVE_FLAGS.length).toBe(Object.keys(expected).length);
  });

  it('`rnnx serve` takes the same flags (it refused --max-queue, --timeout-ms and --max-body-bytes before)', async () => {
    let argv: Record<string, unknown> | null = null;
    await buildParser(yargs(['serve', 'm.onnx', ...tuning]), () => (a) => {
      argv = a;
    }).parseAsync();
    expect(argv).not.toBeNull();
    expect(serveFlagOptions(argv!)).toEqual(expected);
  });

  it('`rnnx serve --help` explains every shared flag and names its default', async () => {
    const help = await new Promise<string>((resolve) => {
      buildParser(yargs(), () => () => {}).exitProcess(false).parse(['serve', '--help'], {}, (_e: unknown, _a: unknown, out: string) => resolve(out));
    });
    for (const f of SERVE_FLAGS) {
      // The flag's entry: from its name to the next flag's (yargs wraps long descriptions).
      const m = new RegExp(`--${f.flag} +([\\s\\S]*?)\\[string\\]`).exec(help);
      expect(m, f.flag).not.toBeNull();
      const text = m![1].replace(/\s+/g, ' ').trim();
      expect(text, f.flag).toMatch(/^[A-Z]\S* .{10,}\(default[ :]/);
    }
  });

  it('bad values name the flag, the value and what was expected, in both', async () => {
    expect(() => parseServeArgs(['m.onnx', '--timeout-ms', '1e10'])).toThrow('--timeout-ms must be a number of milliseconds > 0 and <= 2147483647, got "1e10"');
    expect(() => parseServeArgs(['m.onnx', '--max-queue', '0'])).toThrow('--max-queue must be an integer in [1, 1000000], got "0"');
    expect(() => parseServeArgs(['m.onnx', '--max-wait-ms', 'soon'])).toThrow('--max-wait-ms must be a number in [0, 60000], got "soon"');
    // Every numeric flag is bounded: --workers 100000 used to start 100000 threads and kill the process.
    expect(() => parseServeArgs(['m.onnx', '--workers', '100000'])).toThrow(/--workers must be an integer in \[0, \d+\], got "100000"/);
    expect(() => parseServeArgs(['m.onnx', '--max-batch', '1e9'])).toThrow('--max-batch must be an integer in [1, 4096], got "1e9"');
    for (const f of SERVE_FLAGS) expect(Number.isFinite(f.max), f.flag).toBe(true);
    const r = await runCliCaptured(['serve', 'models/airline/airline.onnx', '--port', '0', '--timeout-ms', '1e10']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--timeout-ms must be a number of milliseconds > 0 and <= 2147483647, got "1e10"/);
  });

  it('secrets come from a file\'s first line or the environment; short ones are refused', () => {
    const files: Record<string, string> = { '/t': 'token-from-file-0123456789\nignored\n', '/k': `${'k'.repeat(40)}\n`, '/empty': '\n' };
    const read = (p: string) => {
      if (!(p in files)) throw new Error('ENOENT');
      return files[p];
    };
    expect(serveSecrets({ 'token-file': '/t', 'state-key-file': '/k' }, {}, read)).toEqual({ token: 'token-from-file-0123456789', stateKey: 'k'.repeat(40) });
    expect(serveSecrets({}, { RNNX_SERVE_TOKEN: 'env-token-0123456789', RNNX_STATE_KEY: 'e'.repeat(32) }, read)).toEqual({ token: 'env-token-0123456789', stateKey: 'e'.repeat(32) });
    expect(serveSecrets({}, {}, read)).toEqual({ token: undefined, stateKey: undefined });
    expect(() => serveSecrets({ 'token-file': '/missing' }, {}, read)).toThrow('--token-file /missing: cannot read: ENOENT');
    expect(() => serveSecrets({ 'token-file': '/empty' }, {}, read)).toThrow(/the file is empty/);
    expect(() => serveSecrets({}, { RNNX_SERVE_TOKEN: 'short' }, read)).toThrow('the bearer token must be at least 16 characters');
    expect(() => serveSecrets({}, { RNNX_STATE_KEY: 'short' }, read)).toThrow('the state key must be at least 32 characters');
  });

  it('each kind of flag accepts exactly its range, from a string or a number', () => {
    const flag = (name: string): ServeFlag => SERVE_FLAGS.find((f) => f.flag === name)!;
    const err = (m: string) => new RangeError(`custom: ${m}`);
    // int: integers in [min, max], both ends included.
    const batch = flag('max-batch');
    expect([parseServeFlag(batch, '1'), parseServeFlag(batch, 4096), parseServeFlag(batch, ' 7 ')]).toEqual([1, 4096, 7]);
    for (const bad of ['0', '4097', '2.5', '', '  ', 'x', null, true]) {
      expect(() => parseServeFlag(batch, bad), String(bad)).toThrow(`--max-batch must be an integer in [1, 4096], got ${JSON.stringify(bad)}`);
    }
    const workers = flag('workers');
    expect(parseServeFlag(workers, '0')).toBe(0);
    expect(() => parseServeFlag(workers, '-1')).toThrow(/--workers must be an integer in \[0, /);
    // number: finite numbers in [min, max].
    const wait = flag('max-wait-ms');
    expect([parseServeFlag(wait, '0'), parseServeFlag(wait, '0.25'), parseServeFlag(wait, 60_000)]).toEqual([0, 0.25, 60_000]);
    for (const bad of ['-0.5', '60000.5', 'Infinity', NaN]) expect(() => parseServeFlag(wait, bad)).toThrow(`--max-wait-ms must be a number in [0, 60000], got ${JSON.stringify(bad)}`);
    // ms: 0 < v <= max.
    const timeout = flag('timeout-ms');
    expect([parseServeFlag(timeout, '0.5'), parseServeFlag(timeout, 2_147_483_647)]).toEqual([0.5, 2_147_483_647]);
    for (const bad of ['0', '-1', '2147483648', 'NaN']) expect(() => parseServeFlag(timeout, bad)).toThrow(`--timeout-ms must be a number of milliseconds > 0 and <= 2147483647, got ${JSON.stringify(bad)}`);
    // Absent: undefined, not an error; the caller's error type is used.
    expect(parseServeFlag(batch, undefined)).toBeUndefined();
    expect(() => parseServeFlag(batch, '0', err)).toThrow(RangeError);
    expect(() => parseServeFlag(batch, '0', err)).toThrow('custom: --max-batch must be an integer in [1, 4096], got "0"');
    // Only the flags given become options.
    expect(serveFlagOptions({ 'max-batch': '3', 'unknown-flag': '5' })).toEqual({ maxBatch: 3 });
    expect(serveFlagOptions({})).toEqual({});
    expect(() => serveFlagOptions({ 'max-queue': '0' }, err)).toThrow('custom: --max-queue must be an integer in [1, 1000000], got "0"');
  });

  it('secrets: the first line trimmed (CRLF too), the file before the environment, the exact minimum lengths', () => {
    const files: Record<string, string> = { '/crlf': '  token-with-crlf-0123  \r\nsecond', '/k32': 'k'.repeat(32), '/t16': 't'.repeat(16), '/blank': '   \nsecond line' };
    const read = (p: string) => files[p];
    expect(serveSecrets({ 'token-file': '/crlf' }, { RNNX_SERVE_TOKEN: 'env-token-0123456789' }, read)).toEqual({ token: 'token-with-crlf-0123', stateKey: undefined });
    expect(serveSecrets({ 'token-file': '/t16', 'state-key-file': '/k32' }, { RNNX_STATE_KEY: 'e'.repeat(40) }, read)).toEqual({ token: 't'.repeat(16), stateKey: 'k'.repeat(32) });
    // An empty variable counts as unset.
    expect(serveSecrets({}, { RNNX_SERVE_TOKEN: '', RNNX_STATE_KEY: '' }, read)).toEqual({ token: undefined, stateKey: undefined });
    expect(() => serveSecrets({}, { RNNX_SERVE_TOKEN: 't'.repeat(15) }, read)).toThrow('the bearer token must be at least 16 characters (e.g. `openssl rand -hex 32`), got 15');
    expect(() => serveSecrets({}, { RNNX_STATE_KEY: 'k'.repeat(31) }, read)).toThrow('the state key must be at least 32 characters (e.g. `openssl rand -hex 32`), got 31');
    expect(() => serveSecrets({ 'state-key-file': '/blank' }, {}, read)).toThrow('--state-key-file /blank: the file is empty; put the secret on its first line');
    const err = (m: string) => new RangeError(m);
    expect(() => serveSecrets({ 'state-key-file': '/gone' }, {}, () => { throw new Error('EACCES'); }, err)).toThrow(RangeError);
    expect(() => serveSecrets({ 'state-key-file': '/gone' }, {}, () => { throw 'plain'; })).toThrow('--state-key-file /gone: cannot read: plain');
    expect(() => serveSecrets({}, { RNNX_SERVE_TOKEN: 'short' }, read, err)).toThrow(RangeError);
    expect(() => serveSecrets({}, { RNNX_STATE_KEY: 'short' }, read, err)).toThrow(RangeError);
    expect(() => serveSecrets({ 'token-file': '/blank' }, {}, read, err)).toThrow(RangeError);
  });

  it('binding beyond loopback without a token warns; loopback or a token does not', () => {
    expect(exposureWarning('0.0.0.0', false)).toMatch(/beyond this machine, without authentication/);
    expect(exposureWarning('::', false)).toMatch(/without authentication/);
    expect(exposureWarning('0.0.0.0', true)).toBeNull();
    for (const h of ['127.0.0.1', '127.0.0.2', '::1', 'localhost']) expect(exposureWarning(h, false)).toBeNull();
  });

  it('`rnnx serve --workers 100000` is refused with exit code 1, not started', async () => {
    const r = await runCliCaptured(['serve', 'models/airline/airline.onnx', '--port', '0', '--workers', '100000']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--workers must be an integer in \[0, \d+\], got "100000"/);
  });
});

describe('src/serve/main.ts arguments', () => {
  it('model paths, port, host and providers; signals handled; secrets from the environment', () => {
    const saved = { token: process.env.RNNX_SERVE_TOKEN, key: process.env.RNNX_STATE_KEY };
    process.env.RNNX_SERVE_TOKEN = 'env-token-0123456789';
    delete process.env.RNNX_STATE_KEY;
    try {
      expect(parseServeArgs(['a.onnx', 'repo', '--host', '::1', '--port', '65535', '--providers', 'cuda,cpu'])).toEqual({
        modelPath: ['a.onnx', 'repo'], port: 65535, host: '::1', providers: ['cuda', 'cpu'], token: 'env-token-0123456789', stateKey: undefined, handleSignals: true,
      });
      expect(parseServeArgs(['a.onnx'])).toEqual({ modelPath: 'a.onnx', port: undefined, host: undefined, providers: undefined, token: 'env-token-0123456789', stateKey: undefined, handleSignals: true });
    } finally {
      if (saved.token === undefined) delete process.env.RNNX_SERVE_TOKEN;
      else process.env.RNNX_SERVE_TOKEN = saved.token;
      if (saved.key !== undefined) process.env.RNNX_STATE_KEY = saved.key;
    }
  });

  it('refusals name the flag and the value; no model path shows the usage with every shared flag', () => {
    for (const port of ['-1', '65536', '1.5', 'http']) {
      expect(() => parseServeArgs(['a.onnx', `--port=${port}`]), port).toThrow(`--port must be an integer in [0, 65535], got ${JSON.stringify(port)}`);
    }
    expect(() => parseServeArgs(['a.onnx', '--providers', 'bogus'])).toThrow(/^--providers must be one or more of cpu, .*got "bogus"$/);
    let message = '';
    try {
      parseServeArgs(['--port', '1']);
    } catch (e) {
      message = (e as Error).message;
    }
    const [first, usage, flags] = message.split('\n');
    expect(first).toBe('expected at least one model path');
    expect(usage).toBe('usage: serve MODEL.onnx|REPOSITORY... [--token-file F] [--state-key-file F] [--port N] [--host H] [--providers cuda,webgpu,cpu]');
    expect(flags.trim().split(/(?<=\]) /)).toEqual(SERVE_FLAGS.map((f) => `[--${f.flag} ${f.kind === 'int' ? 'N' : 'MS'}]`));
    expect(flags).toContain('[--max-batch N]');
    expect(flags).toContain('[--timeout-ms MS]');
  });
});

describe('flag parsing edges', () => {
  /** What `fn` throws (vitest's toThrow(string) passes even when `undefined` is thrown). */
  const thrown = (fn: () => unknown): unknown => {
    try {
      fn();
    } catch (e) {
      return e;
    }
    return 'nothing thrown';
  };

  it('without a makeError, refusals are Errors carrying the message', () => {
    const batch = SERVE_FLAGS.find((f) => f.flag === 'max-batch')!;
    const e = thrown(() => parseServeFlag(batch, '0'));
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toBe('--max-batch must be an integer in [1, 4096], got "0"');
    const s = thrown(() => serveSecrets({}, { RNNX_SERVE_TOKEN: 'short' }, () => ''));
    expect(s).toBeInstanceOf(Error);
    expect((s as Error).message).toBe('the bearer token must be at least 16 characters (e.g. `openssl rand -hex 32`), got 5');
  });

  it('an empty or blank value is no number, even where 0 is allowed (Number("") is 0)', () => {
    const workers = SERVE_FLAGS.find((f) => f.flag === 'workers')!;
    expect(parseServeFlag(workers, ' 0 ')).toBe(0);
    for (const blank of ['', '   ', '\t']) {
      const e = thrown(() => parseServeFlag(workers, blank));
      expect(e, JSON.stringify(blank)).toBeInstanceOf(Error);
      expect((e as Error).message).toBe(`--workers must be an integer in [0, ${workers.max}], got ${JSON.stringify(blank)}`);
    }
  });

  it('flags not given leave no key at all in the options', () => {
    expect(Object.keys(serveFlagOptions({ 'max-batch': '3' }))).toEqual(['maxBatch']);
    expect(Object.keys(serveFlagOptions({}))).toEqual([]);
  });
});
