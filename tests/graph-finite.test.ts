// Non-finite initializers (src/graph/finite.ts): every floating-point encoding ONNX allows
// (float32 / float64 raw_data and repeated fields, float16 / bfloat16 as raw_data or int32_data)
// is counted against hand-listed bit patterns, and the message names each tensor.

import { describe, expect, it } from 'vitest';
import { onnx } from '../src/graph/builder.js';
import { assertFiniteInitializers, countNonFinite, describeNonFinite, nonFiniteInitializers } from '../src/graph/finite.js';

const DT = onnx.TensorProto.DataType;

function raw(width: 2 | 4 | 8, values: number[], extraBytes = 0): Uint8Array {
  const bytes = new Uint8Array(values.length * width + extraBytes);
  const dv = new DataView(bytes.buffer);
  values.forEach((v, i) => {
    if (width === 2) dv.setUint16(i * 2, v, true);
    else if (width === 4) dv.setFloat32(i * 4, v, true);
    else dv.setFloat64(i * 8, v, true);
  });
  return bytes;
}

// float16: exponent 0x7c00. 0x7bff is the largest finite half; 0x7f80 is a half NaN.
const HALF = { one: 0x3c00, max: 0x7bff, inf: 0x7c00, ninf: 0xfc00, nan: 0x7e00, bfInf: 0x7f80 };
// bfloat16: exponent 0x7f80. 0x7c00 is a finite bfloat16 (about 2.6e36), 0x7f7f the largest finite.
const BF = { one: 0x3f80, max: 0x7f7f, inf: 0x7f80, ninf: 0xff80, nan: 0x7fc0, halfInf: 0x7c00 };

describe('countNonFinite', () => {
  it('float32 and float64 raw_data: NaN, +Infinity and -Infinity count, the largest finite values do not', () => {
    const vals = [1, NaN, 3.4e38, Infinity, -Infinity, -0, 1e-45];
    expect(countNonFinite({ dataType: DT.FLOAT, rawData: raw(4, vals) })).toEqual({ count: 3, total: 7 });
    expect(countNonFinite({ dataType: DT.DOUBLE, rawData: raw(8, [...vals, 1.7e308]) })).toEqual({ count: 3, total: 8 });
    // A float64 value beyond float32 range is finite as a double: read with the right width.
    expect(countNonFinite({ dataType: DT.DOUBLE, rawData: raw(8, [1e300, -1e300]) })).toEqual({ count: 0, total: 2 });
    // Stray trailing bytes are not a value.
    expect(countNonFinite({ dataType: DT.FLOAT, rawData: raw(4, [NaN, 2], 3) })).toEqual({ count: 1, total: 2 });
    expect(countNonFinite({ dataType: DT.DOUBLE, rawData: raw(8, [Infinity], 7) })).toEqual({ count: 1, total: 1 });
  });

  it('float32 / float64 repeated fields when raw_data is absent or empty', () => {
    expect(countNonFinite({ dataType: DT.FLOAT, floatData: [0, NaN, 2, Infinity] })).toEqual({ count: 2, total: 4 });
    expect(countNonFinite({ dataType: DT.FLOAT, rawData: new Uint8Array(0), floatData: [-Infinity] })).toEqual({ count: 1, total: 1 });
    expect(countNonFinite({ dataType: DT.DOUBLE, doubleData: [1e300, NaN, 5] })).toEqual({ count: 1, total: 3 });
    // Each type reads its own field only.
    expect(countNonFinite({ dataType: DT.DOUBLE, floatData: [NaN] })).toEqual({ count: 0, total: 0 });
    expect(countNonFinite({ dataType: DT.FLOAT, doubleData: [NaN] })).toEqual({ count: 0, total: 0 });
    expect(countNonFinite({ dataType: DT.FLOAT })).toEqual({ count: 0, total: 0 });
  });

  it('float16 and bfloat16 by their own exponent masks, as raw_data and as int32_data', () => {
    const half = [HALF.one, HALF.max, HALF.inf, HALF.ninf, HALF.nan, HALF.bfInf];
    const bf = [BF.one, BF.max, BF.inf, BF.ninf, BF.nan, BF.halfInf];
    // half: inf, -inf, NaN and 0x7f80 (a NaN as a half) → 4 of 6.
    expect(countNonFinite({ dataType: DT.FLOAT16, rawData: raw(2, half) })).toEqual({ count: 4, total: 6 });
    expect(countNonFinite({ dataType: DT.FLOAT16, int32Data: half })).toEqual({ count: 4, total: 6 });
    // bfloat16: inf, -inf, NaN → 3 of 6 (0x7c00 is finite there).
    expect(countNonFinite({ dataType: DT.BFLOAT16, rawData: raw(2, bf) })).toEqual({ count: 3, total: 6 });
    expect(countNonFinite({ dataType: DT.BFLOAT16, int32Data: bf })).toEqual({ count: 3, total: 6 });
    expect(countNonFinite({ dataType: DT.FLOAT16, rawData: raw(2, [HALF.inf], 1) })).toEqual({ count: 1, total: 1 });
    expect(countNonFinite({ dataType: DT.BFLOAT16 })).toEqual({ count: 0, total: 0 });
  });

  it('is null for tensors that are not floating point', () => {
    for (const dataType of [DT.INT32, DT.INT64, DT.UINT8, DT.BOOL, DT.STRING, DT.UNDEFINED]) {
      expect(countNonFinite({ dataType, rawData: raw(4, [NaN]), int32Data: [0x7c00] })).toBeNull();
    }
    expect(countNonFinite({ rawData: raw(4, [NaN]) })).toBeNull();
  });
});

describe('non-finite initializers of a graph', () => {
  const graph = {
    initializer: [
      { name: 'ok', dataType: DT.FLOAT, rawData: raw(4, [1, 2]) },
      { name: 'one', dataType: DT.FLOAT, rawData: raw(4, [1, NaN, 2]) },
      { name: 'ints', dataType: DT.INT64, int64Data: [1, 2] },
      { name: 'three', dataType: DT.DOUBLE, doubleData: [Infinity, NaN, -Infinity, 0] },
    ],
  };

  it('lists each bad tensor with its count and size, skipping finite and integer ones', () => {
    expect(nonFiniteInitializers(graph)).toEqual([
      { name: 'one', count: 1, total: 3 },
      { name: 'three', count: 3, total: 4 },
    ]);
    expect(nonFiniteInitializers(null)).toEqual([]);
    expect(nonFiniteInitializers({})).toEqual([]);
    expect(nonFiniteInitializers({ initializer: [{ dataType: DT.FLOAT, floatData: [NaN] }] })).toEqual([{ name: '', count: 1, total: 1 }]);
  });

  it('describes them in one line: singular and plural, at most five tensors named', () => {
    expect(describeNonFinite([{ name: 'a', count: 1, total: 3 }, { name: 'b', count: 2, total: 9 }])).toBe(
      'initializer a has 1 non-finite value (NaN or ±Infinity) of 3; initializer b has 2 non-finite values (NaN or ±Infinity) of 9',
    );
    const seven = Array.from({ length: 7 }, (_, i) => ({ name: `t${i}`, count: 1, total: 1 }));
    const text = describeNonFinite(seven);
    expect(text.split('; initializer')).toHaveLength(5);
    expect(text).toContain('initializer t4 has');
    expect(text).not.toContain('t5');
    expect(text.endsWith('; and 2 more tensors')).toBe(true);
    expect(describeNonFinite(seven.slice(0, 5))).not.toContain('more tensors');
  });

  it('assertFiniteInitializers throws naming the source and the tensors, and passes a finite graph', () => {
    expect(() => assertFiniteInitializers(graph, 'model.onnx')).toThrow(
      'model.onnx: initializer one has 1 non-finite value (NaN or ±Infinity) of 3; initializer three has 3 non-finite values (NaN or ±Infinity) of 4; refusing a model with non-finite weights',
    );
    expect(() => assertFiniteInitializers({ initializer: graph.initializer.slice(0, 1) }, 'x')).not.toThrow();
    expect(() => assertFiniteInitializers(undefined, 'x')).not.toThrow();
  });
});
