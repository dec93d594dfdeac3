// Seeded non-trivial weights and inputs for checks that compare two implementations of the same
// network. Shared by the tests (through tests/reference/util.ts) and scripts/device-check.ts,
// which scripts/device-pack.sh bundles for the GPU machine: scripts never import tests/.

import { Rng } from '../../src/layers/random.js';
import type { Model } from '../../src/model/model.js';

/**
 * Overwrites every parameter of `model` with seeded uniform values: weights in ±scale, biases in
 * ±0.5 and peepholes in ±1, so that no path of the equations (biases, peepholes, forget bias) is
 * left at its zero initial value and a wrong gate order or layout shows up in the outputs.
 */
export function randomizeParams(model: Model, seed: number, scale = 0.5): void {
  const rng = new Rng(seed);
  model.layout.layers.forEach((_, i) => {
    const p = model.layerParams(i);
    const fill = (a: Float32Array, s: number) => {
      for (let k = 0; k < a.length; k++) a[k] = rng.range(-s, s);
    };
    if (p.kind === 'dense') {
      fill(p.W, scale * 1.5);
      fill(p.b, 0.5);
    } else {
      fill(p.W, scale);
      fill(p.R, scale);
      fill(p.B, 0.5);
      if (p.P) fill(p.P, 1);
    }
  });
}

export function randomArray(rng: Rng, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.range(-scale, scale);
  return a;
}
