// The in-memory form every data loader produces and `fit` consumes: batch-first, packed,
// zero-padded past each sequence's length.

export interface SequenceDataset {
  /** Inputs [count, time, features], row-major; steps past lengths[i] are zeros. */
  x: Float32Array;
  count: number;
  time: number;
  features: number;
  /** Valid length of each sequence, 1..time. Absent: every sequence is `time` long. */
  lengths?: Int32Array;
  /**
   * Targets. Regression: Float32Array [count, time, outputs] (per step) or [count, outputs] (last step).
   * Classification (softmax cross-entropy): Int32Array of class indices [count, time] or [count].
   * Binary cross-entropy: Float32Array of 0/1 values, shaped as regression.
   */
  y: Float32Array | Int32Array;
  /** Shape of y: [count, time, outputs] | [count, outputs] | [count, time] | [count]. */
  yShape: number[];
}

/** Throws an Error naming the field when the dataset's buffers disagree with its shape. */
export function validateDataset(d: SequenceDataset, name = 'dataset'): void {
  const posInt = (field: string, v: number) => {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`${name}.${field} must be a positive integer, got ${v}`);
  };
  posInt('count', d.count);
  posInt('time', d.time);
  posInt('features', d.features);
  if (!(d.x instanceof Float32Array)) throw new Error(`${name}.x must be a Float32Array`);
  const xLen = d.count * d.time * d.features;
  if (d.x.length !== xLen) throw new Error(`${name}.x must have length count*time*features = ${xLen}, got ${d.x.length}`);
  if (d.lengths) {
    if (!(d.lengths instanceof Int32Array) || d.lengths.length !== d.count) {
      throw new Error(`${name}.lengths must be an Int32Array of length ${d.count}`);
    }
    for (let i = 0; i < d.count; i++) {
      const l = d.lengths[i];
      if (l < 1 || l > d.time) throw new Error(`${name}.lengths[${i}] must be in [1, ${d.time}], got ${l}`);
    }
  }
  if (!Array.isArray(d.yShape) || d.yShape.length < 1 || d.yShape[0] !== d.count) {
    throw new Error(`${name}.yShape must start with count = ${d.count}, got ${JSON.stringify(d.yShape)}`);
  }
  const yLen = d.yShape.reduce((a, b) => a * b, 1);
  if (d.y.length !== yLen) throw new Error(`${name}.y must have length ${yLen} (yShape ${JSON.stringify(d.yShape)}), got ${d.y.length}`);
}
