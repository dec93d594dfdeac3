// src/native.ts's loading errors: an addon that is missing or fails to load throws NoNativeError
// (code RNNX_NO_NATIVE, a UserError) whose one-line message gives the fix; training reports it.
// Each case runs in a child process, so the addon this test process may have loaded is not reused.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function child(code: string, env: Record<string, string>): { status: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000,
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

const PROBE = `
import { native, NoNativeError } from './src/native.ts';
import { UserError } from './src/data/errors.ts';
try { native(); console.log(JSON.stringify({ loaded: true })); }
catch (e) { console.log(JSON.stringify({ code: e.code, noNative: e instanceof NoNativeError, user: e instanceof UserError, message: e.message })); }
`;

describe('addon loader', () => {
  it('an addon that fails to load gives RNNX_NO_NATIVE with a one-line fix, not a crash', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnx-loader-'));
    const bad = join(dir, 'broken.node');
    writeFileSync(bad, 'not an ELF file');
    const r = child(PROBE, { RNNX_NATIVE_PATH: bad });
    expect(r.status).toBe(0);
    const res = JSON.parse(r.out.trim());
    expect(res).toMatchObject({ code: 'RNNX_NO_NATIVE', noNative: true, user: true });
    expect(res.message).toContain(bad);
    expect(res.message).toMatch(/Fix: install a C\+\+17 compiler, make and Python 3, then run `npm rebuild rnnx`/);
    expect(res.message).not.toContain('\n');
  });

  it('RNNX_NATIVE_PATH naming a missing file is an error naming the variable and the value', () => {
    const r = child(PROBE, { RNNX_NATIVE_PATH: 'no/such/addon.node' });
    const res = JSON.parse(r.out.trim());
    expect(res.message).toMatch(/RNNX_NATIVE_PATH must name an existing .node file, got "no\/such\/addon.node"/);
  });

  it('the package addon (build/ or prebuilds/) loads through node-gyp-build', () => {
    const r = child(PROBE, { RNNX_NATIVE_PATH: '' });
    expect(JSON.parse(r.out.trim())).toEqual({ loaded: true });
  });

  it('training with a broken addon fails with RNNX_NO_NATIVE; inference from rnnx/inference still runs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnx-loader-'));
    const bad = join(dir, 'broken.node');
    writeFileSync(bad, 'not an ELF file');
    const code = `
import { Model, lstm, dense, fit, toOnnx } from './src/index.ts';
import { InferenceModel } from './src/inference.ts';
const m = Model.create({ inputSize: 1, layers: [lstm({ units: 2 }), dense({ units: 1 })] }, { seed: 1 });
const im = await InferenceModel.open(toOnnx(m), { providers: ['cpu'] });
const r = await im.run(new Float32Array([0.5, -0.5]), { batch: 1, time: 2 });
await im.release();
const err = await fit(m, { x: new Float32Array(2), count: 1, time: 2, features: 1, y: new Float32Array(1), yShape: [1, 1] }, { epochs: 1 }).catch((e) => e);
console.log(JSON.stringify({ y: r.y.length, code: err?.code }));
`;
    const r = child(code, { RNNX_NATIVE_PATH: bad });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.out.trim().split('\n').at(-1)!)).toEqual({ y: 1, code: 'RNNX_NO_NATIVE' });
  });
});
