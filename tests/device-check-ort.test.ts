// The ONNX Runtime rows of the GPU device check (scripts/lib/ort-check.ts), here on the CPU with
// this repository's onnxruntime-node: the CPU provider must match rnnx's float64 forward pass;
// without a GPU the WebGPU row is information, never a pass it did not earn. The packed layout
// itself is checked by scripts/device-pack.sh and `npm run device:dry-run` (minutes: a CUDA build).

import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ortChecks } from '../scripts/lib/ort-check.js';

const ortDir = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));

describe('device check: ONNX Runtime rows', () => {
  it('CPU provider matches the float64 forward pass; WebGPU without a GPU is reported, not failed', async () => {
    const rows = await ortChecks(ortDir, false);
    expect(rows.map((r) => r.check)).toEqual(['ORT CPU EP (peephole LSTM)', 'ORT WebGPU EP (peephole LSTM)']);
    expect(rows[0].ok, rows[0].detail).toBe(true);
    const err = Number(/rel err vs rnnx float64 forward (\S+)/.exec(rows[0].detail)?.[1]);
    expect(err).toBeGreaterThan(0); // float32 against float64: never bit-equal on this model
    expect(err).toBeLessThanOrEqual(1e-5);
    // Here WebGPU either ran and matched the CPU provider, or is information with the reason.
    if (rows[1].ok === null) expect(rows[1].detail).toMatch(/^unavailable \(no GPU here\): \S/);
    else expect(rows[1].ok, rows[1].detail).toBe(true);
  });

  it('with a GPU expected, a WebGPU provider that cannot start is a failure', async () => {
    const rows = await ortChecks(ortDir, true);
    expect(rows[1].ok === true || (rows[1].ok === false && /^unavailable: /.test(rows[1].detail))).toBe(true);
  });

  it('an onnxruntime-node that does not load is one failed row naming the folder', async () => {
    const rows = await ortChecks('/nonexistent/onnxruntime-node', false);
    expect(rows).toEqual([{ check: 'ORT CPU EP (peephole LSTM)', ok: false, detail: expect.stringMatching(/^onnxruntime-node did not load from \/nonexistent\/onnxruntime-node: Cannot find module/) }]);
  });
});
