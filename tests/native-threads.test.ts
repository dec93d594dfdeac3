// Training results do not depend on the thread count. The recurrent kernels split a pass's batch
// rows into one block per thread (cells/recurrent.h ForRowBlocks) once a step's recurrent product
// is large enough, and the thread pool hands blocks, GEMM tiles and optimizer ranges to whichever
// thread claims them first; every one of those splits must leave each value computed by the same
// operations. The shapes here are large enough to take the split (rows × gates·H·H ≥ 2e6
// multiply-adds per step) and use every per-row feature: ragged sequence lengths, both
// directions, dropout, recurrent dropout, zoneout, peepholes, clip.
import { describe, expect, it } from 'vitest';
import { dense, gru, lstm, rnn, type LayerSpec } from '../src/layers/spec.js';
import { Trainer } from '../src/train/trainer.js';
import { makeCase } from './train-helpers.js';

const N = 32;
const T = 12;
// Row n is valid for a different number of steps (1..T), so blocks hold ragged rows.
const lengths = Array.from({ length: N }, (_, n) => T - ((n * 7) % T));

const CASES: [string, LayerSpec[]][] = [
  ['LSTM peepholes, clip, zoneout h and c, recurrent dropout, bidirectional', [
    lstm({ units: 128, direction: 'bidirectional', returnSequences: true, peepholes: true, clip: 2, zoneoutH: 0.2, zoneoutC: 0.1, recurrentDropout: 0.2, dropout: 0.1 }),
    dense({ units: 2 }),
  ]],
  ['GRU linearBeforeReset 0, zoneout, recurrent dropout, reverse', [
    gru({ units: 160, direction: 'reverse', returnSequences: true, linearBeforeReset: 0, zoneoutH: 0.2, recurrentDropout: 0.2 }),
    dense({ units: 2 }),
  ]],
  ['GRU linearBeforeReset 1, last step only', [gru({ units: 160, zoneoutH: 0.1 }), dense({ units: 2 })]],
  ['RNN relu, recurrent dropout', [rnn({ units: 256, activation: 'relu', returnSequences: true, recurrentDropout: 0.2 }), dense({ units: 2 })]],
];

async function train(layers: LayerSpec[], threads: number): Promise<{ params: Float32Array; losses: number[] }> {
  const c = makeCase(layers, { N, T, I: 5, lengths, loss: { type: 'mse' }, seed: 5 });
  const t = new Trainer(c.model, { loss: 'mse', optimizer: { type: 'adam', lr: 0.01 }, threads, seed: 3 });
  const losses: number[] = [];
  try {
    for (let s = 0; s < 3; s++) losses.push((await t.step(c.batch)).loss);
  } finally {
    t.dispose();
  }
  return { params: c.model.params.slice(), losses };
}

describe('training is bit-identical for 1, 2 and 3 threads', () => {
  for (const [name, layers] of CASES) {
    it(name, async () => {
      const one = await train(layers, 1);
      expect(one.losses.every((l) => Number.isFinite(l) && l > 0)).toBe(true);
      for (const threads of [2, 3]) {
        const other = await train(layers, threads);
        expect(other.losses).toEqual(one.losses);
        const a = new Uint32Array(one.params.buffer);
        const b = new Uint32Array(other.params.buffer);
        const diff = a.findIndex((v, i) => v !== b[i]);
        expect(diff, `${threads} threads: params[${diff}] differs`).toBe(-1);
      }
    });
  }
});
