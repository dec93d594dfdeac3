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
