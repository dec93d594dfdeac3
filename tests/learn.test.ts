// It learns: seeded end-to-end training runs on the native step, each judged on held-out data
// with metrics computed here from the addon's forward pass (not from the training loss).
//   - LSTM on the adding problem (T = 50) to MSE < 0.01 (a trivial predictor, always 1, scores ≈ 0.17)
//   - GRU with sequence_lens on IndoorMovement, > 70% accuracy on a seeded random 25% held out
//   - peephole LSTM on a timing task: the output switches on 12 or 24 steps (chosen by the pulse's
//     height) after a pulse, with silent input in between: a clock in the cell state

import { describe, expect, it } from 'vitest';
import type { SequenceDataset } from '../src/data/dataset.js';
import { loadSequenceZip } from '../src/data/sequences.js';
import { Rng } from '../src/layers/random.js';
import { dense, gru, lstm } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';
import { fit } from '../src/train/fit.js';
import { predict } from '../src/train/trainer.js';

function subset(d: SequenceDataset, rows: number[]): SequenceDataset {
  const per = d.y.length / d.count;
  const x = new Float32Array(rows.length * d.time * d.features);
  const y = d.y instanceof Int32Array ? new Int32Array(rows.length * per) : new Float32Array(rows.length * per);
  const lengths = d.lengths ? new Int32Array(rows.length) : undefined;
  rows.forEach((r, i) => {
    x.set(d.x.subarray(r * d.time * d.features, (r + 1) * d.time * d.features), i * d.time * d.features);
    y.set(d.y.subarray(r * per, (r + 1) * per), i * per);
    if (lengths) lengths[i] = d.lengths![r];
  });
  return { x, count: rows.length, time: d.time, features: d.features, lengths, y, yShape: [rows.length, ...d.yShape.slice(1)] };
}

describe('it learns', () => {
  it('LSTM solves the adding problem (T = 50) to held-out MSE < 0.01', async () => {
    const T = 50;
    const make = (count: number, seed: number): SequenceDataset => {
      const rng = new Rng(seed);
      const x = new Float32Array(count * T * 2);
      const y = new Float32Array(count);
      for (let n = 0; n < count; n++) {
        const a = rng.int(T / 2);
        const b = T / 2 + rng.int(T / 2);
        for (let t = 0; t < T; t++) {
          const v = rng.uniform();
          x[(n * T + t) * 2] = v;
          if (t === a || t === b) {
            x[(n * T + t) * 2 + 1] = 1;
            y[n] += v;
          }
        }
      }
      return { x, count, time: T, features: 2, y, yShape: [count, 1] };
    };
    const train = make(3200, 1);
    const val = make(500, 5); // decides when to stop
    const test = make(500, 2); // never seen before the final measurement
    const m = Model.create({ inputSize: 2, layers: [lstm({ units: 32 }), dense({ units: 1 })] }, { seed: 1 });
    const h = await fit(m, train, {
      epochs: 20, batchSize: 32, optimizer: { type: 'adam', lr: 0.01 }, clipNorm: 1, seed: 3, validation: val,
      callbacks: { onEpochEnd: (l) => l.valLoss! > 0.004 }, // stop once comfortably below the bar
    });
    const mseOn = (d: SequenceDataset): number => {
      const p = predict(m, d.x, { batch: d.count, time: T, threads: 2 });
      let s = 0;
      for (let n = 0; n < d.count; n++) s += (p[n] - d.y[n]) ** 2;
      return s / d.count;
    };
    expect(mseOn(val)).toBeCloseTo(h.valLoss[h.valLoss.length - 1], 4); // fit's validation loss is the plain MSE
    expect(mseOn(test)).toBeLessThan(0.01);
  });

  it('GRU with sequence_lens classifies IndoorMovement above 70% held-out accuracy', async () => {
    const { dataset } = loadSequenceZip('models/data/IndoorMovement.zip');
    const rows = Array.from({ length: dataset.count }, (_, i) => i);
    new Rng(42).shuffle(rows);
    const nTest = Math.round(dataset.count * 0.25);
    const test = subset(dataset, rows.slice(0, nTest));
    const train = subset(dataset, rows.slice(nTest));
    const m = Model.create({ inputSize: 4, layers: [gru({ units: 32 }), dense({ units: 2, activation: 'softmax' })] }, { seed: 7 });
    await fit(m, train, { epochs: 40, batchSize: 16, optimizer: { type: 'adam', lr: 0.005 }, clipNorm: 1, seed: 1 });
    const p = predict(m, test.x, { batch: test.count, time: test.time, lengths: test.lengths, threads: 2 });
    let correct = 0;
    for (let n = 0; n < test.count; n++) {
      const cls = p[2 * n + 1] > p[2 * n] ? 1 : 0;
      if (cls === test.y[n]) correct++;
    }
    expect(correct / test.count).toBeGreaterThan(0.7);
  });

  it('a peephole LSTM learns a timing task that needs the cell state', async () => {
    // One pulse at t0 in [0, 10) whose height (0.5 or 1) selects the delay D (12 or 24); target 1
    // from t0 + D on, else 0. The input is silent after the pulse, so switching at the right step
    // means keeping a clock and the chosen delay in the cell state.
    const T = 40;
    const make = (count: number, seed: number): SequenceDataset => {
      const rng = new Rng(seed);
      const x = new Float32Array(count * T);
      const y = new Float32Array(count * T);
      for (let n = 0; n < count; n++) {
        const t0 = rng.int(10);
        const long = rng.int(2) === 1;
        x[n * T + t0] = long ? 1 : 0.5;
        for (let t = t0 + (long ? 24 : 12); t < T; t++) y[n * T + t] = 1;
      }
      return { x, count, time: T, features: 1, y, yShape: [count, T, 1] };
    };
    const train = make(1024, 3);
    const val = make(200, 5); // decides when to stop
    const test = make(200, 4); // never seen before the final measurement
    const m = Model.create({ inputSize: 1, layers: [lstm({ units: 12, peepholes: true, returnSequences: true }), dense({ units: 1, activation: 'sigmoid' })] }, { seed: 2 });
    await fit(m, train, {
      epochs: 60, batchSize: 32, loss: 'binaryCrossentropy', optimizer: { type: 'adam', lr: 0.02 }, clipNorm: 1, seed: 2, validation: val,
      callbacks: { onEpochEnd: (l) => l.valAccuracy! < 0.999 },
    });
    const p = predict(m, test.x, { batch: test.count, time: T });
    let exact = 0;
    let stepsRight = 0;
    for (let n = 0; n < test.count; n++) {
      let ok = true;
      for (let t = 0; t < T; t++) {
        const right = (p[n * T + t] > 0.5) === (test.y[n * T + t] > 0.5);
        stepsRight += right ? 1 : 0;
        ok &&= right;
      }
      exact += ok ? 1 : 0;
    }
    expect(stepsRight / (test.count * T)).toBeGreaterThan(0.99);
    expect(exact / test.count).toBeGreaterThan(0.9); // the switch lands on the exact step
  });
});
