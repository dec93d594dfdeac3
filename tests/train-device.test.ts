// The `device` option of the TypeScript training API on a machine without a usable GPU (CI):
// 'cuda' must refuse with the addon's reason, 'auto' must fall back to the CPU and still train.
import { describe, expect, it } from 'vitest';
import { native } from '../src/native.js';
import { dense, lstm } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';
import { fit } from '../src/train/fit.js';
import { Trainer } from '../src/train/trainer.js';
import type { SequenceDataset } from '../src/data/dataset.js';

const cuda = native().cudaInfo();

function ramp(): SequenceDataset {
  const count = 8, time = 5;
  const x = new Float32Array(count * time);
  const y = new Float32Array(count);
  for (let n = 0; n < count; n++) {
    for (let t = 0; t < time; t++) x[n * time + t] = (n + t) / 10;
    y[n] = x[n * time + time - 1] * 2;
  }
  return { x, count, time, features: 1, y, yShape: [count, 1] };
}

describe.skipIf(cuda.available)(`device option without a usable GPU (here: ${cuda.reason})`, () => {
  it("device 'cuda' throws an Error that says why", () => {
    const model = Model.create({ inputSize: 1, layers: [lstm({ units: 4 }), dense({ units: 1 })] });
    expect(() => new Trainer(model, { loss: 'mse', device: 'cuda' })).toThrow(/cuda/i);
  });

  it("device 'auto' falls back to the CPU with the reason, and trains", async () => {
    const model = Model.create({ inputSize: 1, layers: [lstm({ units: 4 }), dense({ units: 1 })] }, { seed: 3 });
    const trainer = new Trainer(model, { loss: 'mse', device: 'auto' });
    const info = trainer.info();
    trainer.dispose();
    expect(info.backend).toBe('cpu');
    expect(info.deviceReason).toBeTruthy();
    const before = Float32Array.from(model.params);
    const h = await fit(model, ramp(), { epochs: 30, batchSize: 4, optimizer: { type: 'adam', lr: 0.05 }, device: 'auto', shuffle: false });
    expect(h.loss[h.loss.length - 1]).toBeLessThan(h.loss[0]);
    expect(model.params).not.toEqual(before);
  });
});

describe("device 'cuda-emulated' (the CUDA backend's code on the CPU) through the public API", () => {
  it('fit trains as on the CPU, writes model.params at the epoch ends, and refuses emulate without it', async () => {
    const data = ramp();
    const make = () => Model.create({ inputSize: 1, layers: [lstm({ units: 4, zoneoutH: 0.2, recurrentDropout: 0.2 }), dense({ units: 1 })] }, { seed: 3 });
    const cpu = make();
    const emu = make();
    const opts = { epochs: 3, batchSize: 4, optimizer: { type: 'adam' as const, lr: 0.05 }, seed: 4, threads: 1 };
    const seen: number[] = [];
    const hc = await fit(cpu, data, opts);
    const he = await fit(emu, data, { ...opts, device: 'cuda-emulated', callbacks: { onEpochEnd: () => { seen.push(emu.params[0]); } } });
    expect(emu.params).not.toEqual(make().params);
    expect(seen[seen.length - 1]).toBe(emu.params[0]); // the callback saw the epoch's weights
    let num = 0;
    let den = 0;
    for (let i = 0; i < cpu.params.length; i++) {
      num += (emu.params[i] - cpu.params[i]) ** 2;
      den += cpu.params[i] ** 2;
    }
    expect(Math.sqrt(num / den)).toBeLessThan(1e-4);
    expect(Math.abs(he.loss[2] - hc.loss[2]) / hc.loss[2]).toBeLessThan(1e-4);
    const t = new Trainer(emu, { device: 'cuda-emulated', emulate: 'double' });
    expect(t.info()).toMatchObject({ backend: 'cuda-emulated', device: 'cuda-emulated (host emulation, double)' });
    t.dispose();
    expect(() => new Trainer(emu, { emulate: 'double' })).toThrow(/emulate applies to device "cuda-emulated" only, got device "cpu"/);
    expect(() => new Trainer(emu, { device: 'tpu' as never })).toThrow(/device must be one of "cpu", "cuda", "cuda-emulated", "auto", got "tpu"/);
  });
});

describe('default thread count', () => {
  it('follows RNNX_NUM_THREADS and rejects a bad value by name', () => {
    const saved = process.env.RNNX_NUM_THREADS;
    try {
      process.env.RNNX_NUM_THREADS = '1';
      const model = Model.create({ inputSize: 1, layers: [lstm({ units: 2 })] });
      const t = new Trainer(model, { loss: 'mse' });
      expect(t.info().threads).toBe(1);
      t.dispose();
      process.env.RNNX_NUM_THREADS = 'two';
      expect(() => new Trainer(model, { loss: 'mse' })).toThrow(/RNNX_NUM_THREADS must be an integer in \[1, 1024\], got "two"/);
    } finally {
      if (saved === undefined) delete process.env.RNNX_NUM_THREADS;
      else process.env.RNNX_NUM_THREADS = saved;
    }
  });
});
