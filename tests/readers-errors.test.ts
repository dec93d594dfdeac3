// Hostile files through every reader: non-finite weights (Model.load, InferenceModel.open,
// inspect, predict), corrupted metadata, a zero under a log transform, JSON nested 5,000 deep,
// .npy headers with negative dimensions and int64 values past int32, and ONNX Runtime's own log
// lines. Each CLI case must exit 1 with one line naming the file and what is wrong (exit 2
// would be "internal error").
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { onnx, type ModelProto } from '../src/graph/builder.js';
import { loadModel, Model, modelFromOnnx } from '../src/model/model.js';
import { InferenceModel } from '../src/runtime/inference.js';
import { parseJsonTensor, parseNpy } from '../src/data/tensor.js';
import { UserError } from '../src/data/errors.js';
import { describeOnnx, formatDescription } from '../src/cli/describe-onnx.js';

const dir = mkdtempSync(join(tmpdir(), 'rnnx-readers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const TSX = pathToFileURL(resolve('node_modules/tsx/dist/loader.mjs')).href;
const AIRLINE = 'models/airline/airline.onnx';
const AIRLINE_CSV = 'models/data/airline-passengers.csv';

function rnnx(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', TSX, 'src/cli/main.ts', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function expectUserError(r: ReturnType<typeof rnnx>, ...parts: (string | RegExp)[]) {
  expect(r.signal).toBeNull();
  expect(r.code, r.stderr).toBe(1);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0].startsWith('rnnx: ')).toBe(true);
  for (const p of parts) {
    if (typeof p === 'string') expect(lines[0]).toContain(p);
    else expect(lines[0]).toMatch(p);
  }
}

/** A copy of an .onnx file with `edit` applied to its decoded proto. */
function edited(src: string, name: string, edit: (p: ModelProto) => void): string {
  const proto = onnx.ModelProto.decode(readFileSync(src));
  edit(proto);
  const f = join(dir, name);
  writeFileSync(f, onnx.ModelProto.encode(proto).finish());
  return f;
}

/** Sets float32 element `i` of initializer `name` (raw_data) to `v`. */
function poke(p: ModelProto, name: string, i: number, v: number) {
  const t = p.graph!.initializer!.find((x) => x.name === name)!;
  const raw = Uint8Array.from(t.rawData!);
  new DataView(raw.buffer).setFloat32(i * 4, v, true);
  t.rawData = raw;
}

function editMetadata(p: ModelProto, f: (m: Record<string, any>) => void) {
  const prop = p.metadataProps.find((q) => q.key === 'rnnx.metadata')!;
  const m = JSON.parse(prop.value!);
  f(m);
  prop.value = JSON.stringify(m);
}

describe('non-finite weights are refused, naming the tensor and the count', () => {
  const bad = edited(AIRLINE, 'nan-weights.onnx', (p) => {
    poke(p, 'layers.0.R', 5, NaN);
    poke(p, 'layers.0.R', 6, Infinity);
    poke(p, 'layers.0.R', 4000, -Infinity);
    poke(p, 'layers.1.b', 0, NaN);
  });
  const what = /initializer layers\.0\.R has 3 non-finite values \(NaN or ±Infinity\) of 4096; initializer layers\.1\.b has 1 non-finite value \(NaN or ±Infinity\) of 1/;

  it('Model.load and loadModel', () => {
    expect(() => Model.load(bad)).toThrow(what);
    expect(() => loadModel(bad)).toThrow(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
    // The untouched file loads: the check looks at values, not at the file.
    expect(loadModel(AIRLINE).params.every(Number.isFinite)).toBe(true);
  });

  it('InferenceModel.open, unless the caller allows non-finite weights', async () => {
    await expect(InferenceModel.open(bad, { providers: ['cpu'] })).rejects.toThrow(what);
    await expect(InferenceModel.open(readFileSync(bad), { providers: ['cpu'] })).rejects.toThrow(what);
    const m = await InferenceModel.open(bad, { providers: ['cpu'], allowNonFiniteWeights: true });
    const r = await m.run(new Float32Array(12).fill(0.1), { batch: 1 });
    expect(Number.isNaN(r.y[0])).toBe(true); // what the check protects from
    await m.release();
  });

  it('float_data storage too (a foreign file)', () => {
    const f = edited('tests/fixtures/pytorch_lstm.onnx', 'float-data.onnx', (p) => {
      const t = p.graph!.initializer!.find((x) => x.name === 'head.bias')!;
      t.rawData = new Uint8Array(0);
      t.floatData = [1, Infinity, 3];
    });
    const d = describeOnnx(readFileSync(f), f);
    expect(d.nonFinite).toEqual([{ name: 'head.bias', count: 1, total: 3 }]);
  });

  it('rnnx inspect describes the file, then exits 1 naming the tensors', () => {
    const r = rnnx(['inspect', bad]);
    expect(r.stdout).toContain('layers:');
    expect(r.stdout).toMatch(/NON-FINITE WEIGHTS: initializer layers\.0\.R has 3/);
    expectUserError(r, bad, what);
    const j = rnnx(['inspect', bad, '--json']);
    expect(JSON.parse(j.stdout).nonFinite).toEqual([
      { name: 'layers.0.R', count: 3, total: 4096 },
      { name: 'layers.1.b', count: 1, total: 1 },
    ]);
    expect(j.code).toBe(1);
  });

  it('rnnx predict exits 1 and writes nothing', () => {
    const out = join(dir, 'never.csv');
    expectUserError(rnnx(['predict', bad, '--input', AIRLINE_CSV, '-o', out]), bad, what);
    expect(() => readFileSync(out)).toThrow();
  });
});

describe('corrupted files and data: exit 1, one line naming file and field', () => {
  it("inspect on a graph cut down to no inputs and no outputs (was: Cannot read properties of undefined (reading 'map'))", () => {
    const bytes = readFileSync(edited(AIRLINE, 'no-io.onnx', (p) => {
      p.graph!.input = [];
      p.graph!.output = [];
    }));
    const text = formatDescription(describeOnnx(bytes, 'no-io.onnx'));
    expect(text).toMatch(/inputs:\n {2}\(none\)\noutputs:\n {2}\(none\)\n/);
    expect(text).toContain('LSTM');
  });

  it('forecast metadata that is not JSON', () => {
    const f = edited(AIRLINE, 'bad-extra.onnx', (p) => editMetadata(p, (m) => (m.extra.inputColumns = '["Passengers"')));
    expectUserError(rnnx(['predict', f, '--input', AIRLINE_CSV]), `${f}: metadata_props rnnx.metadata extra`);
  });

  it('forecast metadata with a bad window', () => {
    const f = edited(AIRLINE, 'bad-window.onnx', (p) => editMetadata(p, (m) => (m.extra.window = '-3')));
    expectUserError(rnnx(['predict', f, '--input', AIRLINE_CSV]), `${f}: metadata_props rnnx.metadata extra.window must be a positive integer, got "-3"`);
  });

  it('normalisation metadata of the wrong type: predict refuses, inspect still describes', () => {
    const f = edited(AIRLINE, 'bad-norm.onnx', (p) => editMetadata(p, (m) => (m.inputNormalization = { mean: 'abc', std: { a: 1 } })));
    expectUserError(rnnx(['predict', f, '--input', AIRLINE_CSV]), `${f}: metadata_props rnnx.metadata inputNormalization must be`);
    const r = rnnx(['inspect', f]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('input normalisation: mean [], std []');
  });

  it('a zero under the log-difference transform names the row and the column', () => {
    const rows = readFileSync(AIRLINE_CSV, 'utf8').trimEnd().split('\n');
    rows[rows.length - 3] = '"1960-10",0';
    const csv = join(dir, 'zero.csv');
    writeFileSync(csv, rows.join('\n') + '\n');
    expectUserError(rnnx(['predict', AIRLINE, '--input', csv]), `${csv}: row ${rows.length - 2}, column "Passengers": the log-difference transform needs positive values, got 0`);
    // A negative value further back than the forecast reads is not the forecast's business...
    rows[rows.length - 3] = '"1960-10",461';
    rows[3] = '"1949-03",-5';
    writeFileSync(csv, rows.join('\n') + '\n');
    expect(rnnx(['predict', AIRLINE, '--input', csv]).code).toBe(0);
    // ...but the backtest reads it.
    expectUserError(rnnx(['predict', AIRLINE, '--input', csv, '--backtest', '130']), `${csv}: row 4, column "Passengers"`);
  });

  it('JSON nested 5,000 deep', () => {
    const f = join(dir, 'deep.json');
    writeFileSync(f, '['.repeat(5000) + '1' + ']'.repeat(5000));
    expectUserError(rnnx(['predict', 'tests/fixtures/pytorch_lstm.onnx', '--input', f]), `${f}: arrays nested deeper than 64 levels`);
    // Deep garbage inside an element is described, not printed whole.
    expect(() => parseJsonTensor(`[[1], [${'['.repeat(5000)}${']'.repeat(5000)}]]`, 'x.json')).toThrow('x.json: element [1][0]: an array of 1 elements is not a number');
  });

  it('an .npy header with a negative dimension', () => {
    const f = join(dir, 'neg.npy');
    writeFileSync(f, npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 3, 5), }", new Uint8Array(60)));
    expectUserError(rnnx(['predict', 'tests/fixtures/pytorch_lstm.onnx', '--input', f]), `${f}: .npy header field shape must hold non-negative integers, got "-1"`);
  });
});

/** An .npy file (format 1.0) with the given header dict and data bytes. */
function npy(dict: string, data: Uint8Array): Uint8Array {
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  const header = dict.padEnd(total - 11, ' ') + '\n';
  const out = new Uint8Array(total + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(data, total);
  return out;
}

describe('.npy values and shapes', () => {
  const i8 = (values: bigint[]) => {
    const data = new Uint8Array(values.length * 8);
    values.forEach((v, i) => new DataView(data.buffer).setBigInt64(i * 8, v, true));
    return npy(`{'descr': '<i8', 'fortran_order': False, 'shape': (${values.length},), }`, data);
  };

  it('<i8 values inside int32 are read exactly; one outside is refused, never wrapped', () => {
    expect(Array.from(parseNpy(i8([0n, -(2n ** 31n), 2n ** 31n - 1n, 42n]), 'a.npy').data)).toEqual([0, -(2 ** 31), 2 ** 31 - 1, 42]);
    expect(() => parseNpy(i8([1n, 2n ** 31n]), 'b.npy')).toThrow('b.npy: element 1 (<i8) is 2147483648, outside the int32 range [-2147483648, 2147483647] rnnx reads');
    expect(() => parseNpy(i8([-(2n ** 40n)]), 'c.npy')).toThrow(UserError);
  });

  it('<i8 out of range through the CLI: exit 1', () => {
    const f = join(dir, 'big.npy');
    const data = new Uint8Array(5 * 8);
    new DataView(data.buffer).setBigInt64(16, 2n ** 40n, true);
    writeFileSync(f, npy("{'descr': '<i8', 'fortran_order': False, 'shape': (1, 1, 5), }", data));
    expectUserError(rnnx(['predict', 'tests/fixtures/pytorch_lstm.onnx', '--input', f]), `${f}: element 2 (<i8) is 1099511627776`);
  });

  it.each([
    ['(3.5, 2)', /shape must hold non-negative integers, got "3\.5"/],
    ['(100000, 100000)', /holds 10000000000 elements, more than rnnx reads/],
    [`(${Array(65).fill(1).join(', ')})`, /shape has 65 dimensions, expected at most 64/],
  ])('shape %s is refused by name', (shape, msg) => {
    expect(() => parseNpy(npy(`{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`, new Uint8Array(8)), 'd.npy')).toThrow(msg);
  });
});

describe("ONNX Runtime's own log lines never reach stderr", () => {
  it('a graph that makes ONNX Runtime warn (an unused initializer): InferenceModel is silent', () => {
    // The PyTorch export with one weight no node reads: ONNX Runtime warns that it removes it.
    const f = edited('tests/fixtures/pytorch_lstm.onnx', 'unused.onnx', (p) => {
      p.graph!.initializer!.push(onnx.TensorProto.create({ name: 'unused_weight', dataType: 1, dims: [2], floatData: [1, 2] }));
    });
    const script = join(dir, 'open.mts');
    writeFileSync(script, `import { InferenceModel } from ${JSON.stringify(pathToFileURL(resolve('src/runtime/inference.ts')).href)};
const m = await InferenceModel.open(${JSON.stringify(f)}, { providers: ['cpu'] });
const r = await m.run(new Float32Array(2 * 4 * 5).fill(0.5), { batch: 2 });
console.log(JSON.stringify(r.dims));
await m.release();
`);
    const r = spawnSync(process.execPath, ['--import', TSX, script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([2, 3]);
    expect(r.stderr).toBe('');
  });

  it('modelFromOnnx names the file for a non-finite weight in bytes too', () => {
    const proto = onnx.ModelProto.decode(readFileSync(AIRLINE));
    poke(proto, 'layers.0.W', 0, NaN);
    expect(() => modelFromOnnx(onnx.ModelProto.encode(proto).finish(), 'bytes.onnx')).toThrow(/^bytes\.onnx: initializer layers\.0\.W has 1 non-finite value/);
  });
});
