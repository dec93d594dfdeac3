// Tensors on disk (src/data/tensor.ts) in detail: every .npy dtype and format version read back to
// the values written here byte by byte, each refusal with its exact message, JSON tensors and
// their messages, tensorToNested, and loadTensor by extension.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeNpy, loadTensor, parseJsonTensor, parseNpy, tensorToNested } from '../src/data/tensor.js';
import { UserError } from '../src/data/errors.js';
import { thrownMessage } from './thrown-message.js';

const tmp = mkdtempSync(join(tmpdir(), 'rnnx-tensor-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const message = (f: () => unknown) => thrownMessage(f, UserError);

/** An .npy file: magic, version, header length (uint16 for 1.0, uint32 for 2.0/3.0), header, data. */
function npy(dict: string, data: Uint8Array, version = 1): Uint8Array {
  const pre = version === 1 ? 10 : 12;
  const total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  const header = dict.padEnd(total - pre - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, header.length, true);
  else dv.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[pre + i] = header.charCodeAt(i);
  out.set(data, total);
  return out;
}
const dict = (descr: string, shape: string, fortran = 'False') => `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`;

/** Little-endian bytes of `values` written with DataView setter `set` of `size` bytes. */
function bytesOf(values: number[], size: number, set: (dv: DataView, p: number, v: number) => void): Uint8Array {
  const b = new Uint8Array(values.length * size);
  const dv = new DataView(b.buffer);
  values.forEach((v, i) => set(dv, i * size, v));
  return b;
}

describe('.npy dtypes and versions', () => {
  it('reads every supported dtype exactly, as float32 or int32', () => {
    const f4 = parseNpy(npy(dict('<f4', '(2, 2)'), bytesOf([1.5, -2.25, 1e-3, 3e38], 4, (d, p, v) => d.setFloat32(p, v, true))), 'a.npy');
    expect(f4.dims).toEqual([2, 2]);
    expect(f4.data).toBeInstanceOf(Float32Array);
    expect(Array.from(f4.data)).toEqual([1.5, -2.25, Math.fround(1e-3), Math.fround(3e38)]);
    const f8 = parseNpy(npy(dict('<f8', '(3,)'), bytesOf([0.1, -7, 2.5], 8, (d, p, v) => d.setFloat64(p, v, true))), 'b.npy');
    expect([f8.dims, f8.data instanceof Float32Array, Array.from(f8.data)]).toEqual([[3], true, [Math.fround(0.1), -7, 2.5]]);
    const i4 = parseNpy(npy(dict('<i4', '(3,)'), bytesOf([-5, 70000, 2 ** 31 - 1], 4, (d, p, v) => d.setInt32(p, v, true))), 'c.npy');
    expect([i4.data instanceof Int32Array, Array.from(i4.data)]).toEqual([true, [-5, 70000, 2 ** 31 - 1]]);
    const i1 = parseNpy(npy(dict('|i1', '(3,)'), new Uint8Array(Int8Array.of(-128, 0, 127).buffer)), 'd.npy');
    expect([i1.data instanceof Float32Array, Array.from(i1.data)]).toEqual([true, [-128, 0, 127]]);
    const u1 = parseNpy(npy(dict('|u1', '(3,)'), Uint8Array.of(0, 128, 255)), 'e.npy');
    expect([u1.data instanceof Float32Array, Array.from(u1.data)]).toEqual([true, [0, 128, 255]]);
    const i8 = parseNpy(npy(dict('<i8', '(2,)'), bytesOf([-3, 12], 8, (d, p, v) => d.setBigInt64(p, BigInt(v), true))), 'f.npy');
    expect([i8.data instanceof Int32Array, Array.from(i8.data)]).toEqual([true, [-3, 12]]);
    expect(message(() => parseNpy(npy(dict('<i8', '(1,)'), bytesOf([0], 8, (d, p) => d.setBigInt64(p, -(2n ** 31n) - 1n, true))), 'g.npy')))
      .toBe('g.npy: element 0 (<i8) is -2147483649, outside the int32 range [-2147483648, 2147483647] rnnx reads');
  });

  it('format versions 2.0 and 3.0 (4-byte header length), a scalar shape, and data after the header', () => {
    for (const version of [2, 3]) {
      const t = parseNpy(npy(dict('<f4', '(1, 2)'), bytesOf([4, 5], 4, (d, p, v) => d.setFloat32(p, v, true)), version), 'v.npy');
      expect([t.dims, Array.from(t.data)]).toEqual([[1, 2], [4, 5]]);
    }
    const scalar = parseNpy(npy(dict('<f4', '()'), bytesOf([9], 4, (d, p, v) => d.setFloat32(p, v, true))), 's.npy');
    expect([scalar.dims, Array.from(scalar.data)]).toEqual([[], [9]]);
    const empty = parseNpy(npy(dict('<f4', '(0, 3)'), new Uint8Array()), 'z.npy');
    expect([empty.dims, empty.data.length]).toEqual([[0, 3], 0]);
    // Extra bytes after the data are ignored.
    expect(Array.from(parseNpy(npy(dict('|u1', '(2,)'), Uint8Array.of(1, 2, 3, 4)), 'x.npy').data)).toEqual([1, 2]);
  });

  it('headers laid out by other writers: any whitespace around the colons, none at all', () => {
    // NumPy reads the header as a Python literal, so `'descr' : '<f4'` and `'descr':'<f4'` are the same dict.
    const f4 = bytesOf([1.5, -2], 4, (d, p, v) => d.setFloat32(p, v, true));
    for (const header of [
      "{'descr' : '<f4', 'fortran_order' : False, 'shape' : (2,), }",
      "{'descr':'<f4','fortran_order':False,'shape':(2,)}",
      "{'descr'\t:\t\t'<f4', 'fortran_order':  False, 'shape':\t(2,)}",
    ]) {
      const t = parseNpy(npy(header, f4), 'w.npy');
      expect([t.dims, Array.from(t.data)], header).toEqual([[2], [1.5, -2]]);
    }
  });

  it('names what is wrong with the file', () => {
    const four = bytesOf([1, 2, 3, 4], 4, (d, p, v) => d.setFloat32(p, v, true));
    for (const version of [0, 4]) {
      expect(message(() => parseNpy(npy(dict('<f4', '(4,)'), four, version), 'v.npy'))).toBe(`v.npy: .npy format version ${version}.0 is not supported; expected 1.0, 2.0 or 3.0`);
    }
    expect(message(() => parseNpy(Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0), 'short.npy'))).toBe('short.npy: not a NumPy .npy file (bad magic bytes)');
    const bad = npy(dict('<f4', '(4,)'), four);
    bad[1] = 0x4f;
    expect(message(() => parseNpy(bad, 'm.npy'))).toBe('m.npy: not a NumPy .npy file (bad magic bytes)');
    // Version 2 needs 12 bytes before the header.
    expect(message(() => parseNpy(Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0, 0, 0, 0), 'p.npy'))).toBe('p.npy: truncated: the file ends inside the .npy preamble (11 bytes)');
    expect(message(() => parseNpy(npy(dict('<f4', '(4,)', 'True'), four), 'f.npy'))).toBe('f.npy: fortran_order arrays are not supported; save with C order (np.ascontiguousarray)');
    expect(message(() => parseNpy(npy("{'descr': '<f4', 'shape': (4,), }", four), 'h.npy')))
      .toBe(`h.npy: malformed .npy header "{'descr': '<f4', 'shape': (4,), }": expected the fields descr, fortran_order and shape`);
    expect(message(() => parseNpy(npy("{'fortran_order': False, 'shape': (4,), }", four), 'h.npy'))).toMatch(/^h\.npy: malformed \.npy header /);
    expect(message(() => parseNpy(npy("{'descr': '<f4', 'fortran_order': False, }", four), 'h.npy'))).toMatch(/^h\.npy: malformed \.npy header /);
    expect(message(() => parseNpy(npy(dict('>f4', '(4,)'), four), 'd.npy')))
      .toBe('d.npy: dtype ">f4" is not supported; expected little-endian float32 (<f4), float64 (<f8), int32 (<i4), int64 (<i8), int8 (|i1) or uint8 (|u1)');
    expect(message(() => parseNpy(npy(dict('<f4', '(5,)'), four), 't.npy'))).toBe('t.npy: truncated: shape (5) of <f4 needs 20 bytes of data, the file has 16');
    expect(message(() => parseNpy(npy(dict('<f4', '(2, 3)'), four), 't.npy'))).toBe('t.npy: truncated: shape (2, 3) of <f4 needs 24 bytes of data, the file has 16');
    expect(message(() => parseNpy(npy(dict('<f4', `(${Array(64).fill(1).join(', ')})`), four), 'r.npy'))).toBe('(no error)');
    expect(message(() => parseNpy(npy(dict('<f4', `(${Array(65).fill(1).join(', ')})`), four), 'r.npy'))).toBe('r.npy: .npy header field shape has 65 dimensions, expected at most 64');
    expect(message(() => parseNpy(npy(dict('<f4', '(65536, 32768)'), four), 'n.npy'))).toBe('n.npy: .npy header field shape (65536, 32768) holds 2147483648 elements, more than rnnx reads (2^31 - 1)');
    expect(message(() => parseNpy(npy(dict('<f4', '(2, x)'), four), 'n.npy'))).toBe('n.npy: .npy header field shape must hold non-negative integers, got "x" in (2, x)');
  });

  it('names a non-finite element and a float64 beyond float32', () => {
    expect(message(() => parseNpy(npy(dict('<f4', '(3,)'), bytesOf([1, Number.NaN, 2], 4, (d, p, v) => d.setFloat32(p, v, true))), 'n.npy')))
      .toBe('n.npy: element 1 (<f4) is NaN; expected finite numbers');
    expect(message(() => parseNpy(npy(dict('<f8', '(2,)'), bytesOf([1, -Infinity], 8, (d, p, v) => d.setFloat64(p, v, true))), 'n.npy')))
      .toBe('n.npy: element 1 (<f8) is -Infinity; expected finite numbers');
    expect(message(() => parseNpy(npy(dict('<f8', '(2,)'), bytesOf([1e39, 1], 8, (d, p, v) => d.setFloat64(p, v, true))), 'n.npy')))
      .toBe('n.npy: element 0 (<f8) is 1e+39, outside the float32 range rnnx computes in; expected finite numbers');
  });
});

describe('encodeNpy', () => {
  it('writes format 1.0 with a padded header: float32 as <f4, int32 as <i4, 1-D shapes with a trailing comma', () => {
    const one = encodeNpy({ data: Int32Array.of(3, -4, 5), dims: [3] });
    const headerLen = one[8] + 256 * one[9];
    expect([one[6], one[7]]).toEqual([1, 0]);
    expect((10 + headerLen) % 64).toBe(0);
    const header = new TextDecoder().decode(one.subarray(10, 10 + headerLen));
    expect(header.trimEnd()).toBe("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }");
    expect(header.endsWith(' \n')).toBe(true);
    expect(one.length).toBe(10 + headerLen + 12);
    const back = parseNpy(one, 'i.npy');
    expect([back.data instanceof Int32Array, back.dims, Array.from(back.data)]).toEqual([true, [3], [3, -4, 5]]);
    const two = encodeNpy({ data: Float32Array.of(1, 2, 3, 4, 5, 6), dims: [1, 2, 3] });
    const h2 = new TextDecoder().decode(two.subarray(10, 10 + two[8] + 256 * two[9]));
    expect(h2.trimEnd()).toBe("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3), }");
    // A view into a larger buffer writes only its own elements.
    const view = Float32Array.of(9, 1, 2, 9).subarray(1, 3);
    expect(Array.from(parseNpy(encodeNpy({ data: view, dims: [2] }), 'v.npy').data)).toEqual([1, 2]);
  });
});

describe('JSON tensors', () => {
  it('reads nested arrays, or an object with a data field, as float32', () => {
    expect(parseJsonTensor('[1, 2.5]', 'a.json')).toEqual({ data: Float32Array.of(1, 2.5), dims: [2] });
    expect(parseJsonTensor('{"data": [[[1], [2]]], "note": 1}', 'a.json')).toEqual({ data: Float32Array.of(1, 2), dims: [1, 2, 1] });
  });

  it('names what is wrong, describing values without printing them whole', () => {
    const m = (s: string) => message(() => parseJsonTensor(s, 'j.json'));
    expect(m('[1,')).toMatch(/^j\.json: not valid JSON \(.+\)$/);
    expect(m('5')).toBe('j.json: expected nested arrays of numbers, got number');
    expect(m('{"x": 1}')).toBe('j.json: expected nested arrays of numbers, got object');
    expect(m('[[1], []]')).toBe('j.json: element [1]: expected an array of 1 elements (the array is ragged), got 0 elements');
    expect(m('[[], []]')).toBe('j.json: empty array at depth 1');
    expect(m('[]')).toBe('j.json: empty array at depth 0');
    expect(m('[[1], 2]')).toBe('j.json: element [1]: expected an array of 1 elements (the array is ragged), got 2');
    expect(m('[1, [2]]')).toBe('j.json: element [1]: an array of 1 elements is not a number');
    expect(m('[1, {"a": 1}]')).toBe('j.json: element [1]: an object is not a number');
    expect(m('[1, null]')).toBe('j.json: element [1]: null is not a number');
    expect(m(`[1, "${'x'.repeat(50)}"]`)).toBe(`j.json: element [1]: "${'x'.repeat(39)}… is not a number`);
    expect(m(`[1, "${'x'.repeat(38)}"]`)).toBe(`j.json: element [1]: "${'x'.repeat(38)}" is not a number`);
    expect(m('[[1, 2], [3, 1e39]]')).toBe('j.json: element [1][1]: 1e+39 is outside the float32 range (±3.4028234663852886e38)');
    expect(m('['.repeat(64) + '1' + ']'.repeat(64))).toBe('(no error)');
    expect(m('['.repeat(65) + '1' + ']'.repeat(65))).toBe('j.json: arrays nested deeper than 64 levels; a tensor has at most 64 dimensions');
  });

  it('tensorToNested writes the nested arrays back', () => {
    expect(tensorToNested({ data: Float32Array.of(1, 2, 3, 4, 5, 6), dims: [2, 3] })).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(tensorToNested({ data: Int32Array.of(1, 2, 3, 4, 5, 6), dims: [3, 1, 2] })).toEqual([[[1, 2]], [[3, 4]], [[5, 6]]]);
    expect(tensorToNested({ data: Float32Array.of(7), dims: [] })).toBe(7);
  });
});

describe('loadTensor', () => {
  it('chooses the reader by extension, in any case, and names an unknown one', () => {
    const n = join(tmp, 'T.NPY');
    writeFileSync(n, encodeNpy({ data: Float32Array.of(1, 2), dims: [1, 2] }));
    expect(loadTensor(n)).toEqual({ data: Float32Array.of(1, 2), dims: [1, 2] });
    const j = join(tmp, 'T.Json');
    writeFileSync(j, '[[3, 4]]');
    expect(loadTensor(j)).toEqual({ data: Float32Array.of(3, 4), dims: [1, 2] });
    const c = join(tmp, 't.csv');
    writeFileSync(c, '1,2\n');
    expect(message(() => loadTensor(c))).toBe(`${c}: unknown tensor format; expected a .npy or .json file`);
  });
});
