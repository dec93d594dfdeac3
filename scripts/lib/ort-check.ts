// The ONNX Runtime rows of the device check (scripts/device-check.ts): onnxruntime-node loaded from
// a folder (on the GPU machine, the copy scripts/device-pack.sh packs; in tests, this repository's),
// an exported peephole LSTM run on the CPU provider against rnnx's float64 forward pass, then on
// the WebGPU provider against the CPU provider. The CPU row also proves that the packed
// onnxruntime-node resolves its dependency onnxruntime-common the way an installed one does.

import { createRequire } from 'node:module';
import { toOnnx } from '../../src/graph/export.js';
import { Rng } from '../../src/layers/random.js';
import { dense, lstm } from '../../src/layers/spec.js';
import { Model } from '../../src/model/model.js';
import { native } from '../../src/native.js';
import { allZero, relErr } from './compare.js';
import { randomArray, randomizeParams } from './random-model.js';

/** One row of the device check's table; ok null: information, neither pass nor fail. */
export interface CheckRow {
  check: string;
  ok: boolean | null;
  detail: string;
}

interface OrtTensor {
  data: Float32Array;
}
interface OrtSession {
  run(feeds: Record<string, unknown>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
interface OrtModule {
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
  InferenceSession: { create(bytes: Uint8Array, options: { executionProviders: string[] }): Promise<OrtSession> };
}

const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];

/**
 * The rows for onnxruntime-node in `ortDir` (a package folder). `gpuExpected`: a GPU is there, so
 * a WebGPU provider that cannot start is a failure; without one it is only reported.
 */
export async function ortChecks(ortDir: string, gpuExpected: boolean): Promise<CheckRow[]> {
  let ort: OrtModule;
  try {
    ort = createRequire(import.meta.url)(ortDir) as OrtModule;
  } catch (e) {
    return [{ check: 'ORT CPU EP (peephole LSTM)', ok: false, detail: `onnxruntime-node did not load from ${ortDir}: ${firstLine(e)}` }];
  }
  const [N, T, I] = [4, 10, 8];
  const model = Model.create({ inputSize: I, layers: [lstm({ units: 32, peepholes: true, returnSequences: true }), dense({ units: 2 })] }, { seed: 3 });
  randomizeParams(model, 3, 0.3);
  const bytes = toOnnx(model);
  const x = randomArray(new Rng(1), N * T * I);
  const feeds = { x: new ort.Tensor('float32', x, [N, T, I]) };
  const rows: CheckRow[] = [];
  let yc: Float32Array | null = null;
  try {
    const cpu = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'] });
    yc = (await cpu.run(feeds)).y.data;
    await cpu.release();
    const ref = native().forward(model.spec, model.layout, Float64Array.from(model.params), { x, batch: N, time: T });
    const e = relErr(yc, ref);
    rows.push({ check: 'ORT CPU EP (peephole LSTM)', ok: e <= 1e-5 && !allZero(yc), detail: `rel err vs rnnx float64 forward ${e.toExponential(2)}` });
  } catch (e) {
    rows.push({ check: 'ORT CPU EP (peephole LSTM)', ok: false, detail: firstLine(e) });
  }
  try {
    const gpu = await ort.InferenceSession.create(bytes, { executionProviders: ['webgpu'] });
    const yg = (await gpu.run(feeds)).y.data;
    await gpu.release();
    const e = yc ? relErr(yg, yc) : Infinity;
    rows.push({ check: 'ORT WebGPU EP (peephole LSTM)', ok: e <= 1e-4 && !allZero(yg), detail: `rel err vs CPU EP ${e.toExponential(2)}` });
  } catch (e) {
    rows.push({ check: 'ORT WebGPU EP (peephole LSTM)', ok: gpuExpected ? false : null, detail: `unavailable${gpuExpected ? '' : ' (no GPU here)'}: ${firstLine(e)}` });
  }
  return rows;
}
