// Property-based fuzzing of every file reader (ONNX, CSV, JSON, NPY) with fast-check: a fixed
// seed (RNNX_FUZZ_SEED replays another; fast-check prints the seed and path of a failure) and a
// fixed case count. A reader either returns a consistent value or throws a checked error naming
// its file; a TypeError / RangeError (unguarded code) or a crash is a failure. Readers that can
// crash the process (ONNX Runtime's native code) run in a child process.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCsv, readNumericTable } from '../src/data/csv.js';
import { parseJsonTensor, parseNpy } from '../src/data/tensor.js';
import { isUserError } from '../src/data/errors.js';
import { parseModelProto, readRnnxInfo } from '../src/graph/io.js';
import { modelFromOnnx } from '../src/model/model.js';
import { describeOnnx, formatDescription } from '../src/cli/describe-onnx.js';
import { FUZZ_SEED, damagedBytes, hostileOnnx, isBugError } from './fuzz/mutate.js';

const dir = mkdtempSync(join(tmpdir(), 'rnnx-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const AIRLINE = readFileSync('models/airline/airline.onnx');
const RUNS = { csv: 400, json: 400, npy: 500, onnx: 800, child: 200 };
/** Cases run, by reader (the report in the lead's note counts them). */
const counted: Record<string, number> = {};
afterAll(() => process.stdout.write(`fuzz cases run (seed ${FUZZ_SEED}): ${JSON.stringify(counted)}\n`));

function check<T>(name: string, arb: fc.Arbitrary<T>, numRuns: number, body: (v: T) => void) {
  counted[name] = 0;
  fc.assert(
    fc.property(arb, (v) => {
      counted[name]++;
      body(v);
    }),
    { seed: FUZZ_SEED, numRuns },
  );
}

/** `f` returns, or throws a UserError whose message starts with `file`. */
function userErrorOrValue<T>(file: string, f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    if (!isUserError(e) || !(e as Error).message.startsWith(file)) throw e;
    return undefined;
  }
}

const product = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

describe('CSV', () => {
  const cell = fc.oneof(fc.double().map(String), fc.integer().map(String), fc.constantFrom('', ' ', 'NaN', 'Infinity', '-', '1e400', '"1,5"', '"a""b"', '"unterminated', 'x', '#', '\ufeff'));
  const csvText = fc.array(fc.array(cell, { minLength: 1, maxLength: 5 }), { maxLength: 12 }).chain((rows) =>
    fc.tuple(fc.constant(rows), fc.constantFrom('\n', '\r\n', '\r'), fc.boolean()).map(([r, nl, header]) => (header ? 'a,b,c,d,e' + nl : '') + r.map((x) => x.join(',')).join(nl)),
  );
  const text = fc.oneof(csvText, fc.string({ maxLength: 200 }), fc.string({ unit: fc.constantFrom(...'0123456789.,-e"\n\r# \tNaI'), maxLength: 200 }));
  const columns = fc.option(fc.array(fc.oneof(fc.constantFrom('a', 'b', 'zz', '0', '7', '-1'), fc.integer({ min: -2, max: 6 })), { maxLength: 3 }), { nil: undefined });

  it('readNumericTable: a rectangular table of finite numbers, or a UserError naming the file', () => {
    check('csv', fc.tuple(text, columns, fc.constantFrom<boolean | 'auto'>(true, false, 'auto')), RUNS.csv, ([t, cols, header]) => {
      const table = userErrorOrValue('f.csv', () => readNumericTable(t, 'f.csv', { columns: cols, header }));
      if (!table) return;
      expect(table.values.length).toBe(table.rows * table.names.length);
      expect(table.lines.length).toBe(table.rows);
      expect(table.values.every(Number.isFinite)).toBe(true);
    });
    // Records always keep their lines, whatever the text.
    check('csv-records', fc.string({ maxLength: 300 }), 200, (t) => {
      const r = userErrorOrValue('g.csv', () => parseCsv(t, 'g.csv'));
      if (r) expect(r.lines.length).toBe(r.records.length);
    });
  });
});

describe('JSON tensors', () => {
  // Nested arrays, sometimes ragged, sometimes deep, with hostile leaves.
  const leaf = fc.oneof({ arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }), weight: 4 }, { arbitrary: fc.jsonValue({ maxDepth: 2 }), weight: 1 });
  const nested = fc.letrec<{ node: unknown }>((tie) => ({ node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('node'), { maxLength: 4 })) })).node;
  const deep = fc.tuple(fc.integer({ min: 1, max: 6000 }), fc.constantFrom('1', '[]', '"a"', 'null')).map(([d, inner]) => '['.repeat(d) + inner + ']'.repeat(d));
  const text = fc.oneof(nested.map((v) => JSON.stringify(v)), fc.json({ maxDepth: 4 }), deep, fc.string({ maxLength: 60 }), nested.map((v) => JSON.stringify({ data: v })));

  it('parseJsonTensor: data of product(dims) finite numbers, or a UserError naming the file', () => {
    check('json', text, RUNS.json, (t) => {
      const tensor = userErrorOrValue('f.json', () => parseJsonTensor(t, 'f.json'));
      if (!tensor) return;
      expect(tensor.dims.length).toBeGreaterThan(0);
      expect(tensor.data.length).toBe(product(tensor.dims));
      expect(Array.from(tensor.data).every(Number.isFinite)).toBe(true);
    });
  });
});

describe('NPY', () => {
  const dimToken = fc.oneof(fc.integer({ min: 0, max: 6 }).map(String), fc.constantFrom('-1', '-7', '3.5', '1e3', '0x10', '', 'L', '99999999999', '4294967296', '2147483648'));
  const header = fc.record({
    descr: fc.constantFrom('<f4', '<f8', '<i4', '<i8', '|i1', '|u1', '>f4', '<f2', '|b1', 'garbage', ''),
    fortran: fc.constantFrom('False', 'True', 'maybe'),
    shape: fc.array(dimToken, { maxLength: 5 }),
    version: fc.constantFrom(1, 1, 1, 2, 3, 0, 9),
  });
  const npyFile = fc.tuple(header, fc.uint8Array({ maxLength: 400 })).map(([h, data]) => {
    const shape = h.shape.length === 1 ? `(${h.shape[0]},)` : `(${h.shape.join(', ')})`;
    const dict = `{'descr': '${h.descr}', 'fortran_order': ${h.fortran}, 'shape': ${shape}, }`;
    const pre = h.version === 1 ? 10 : 12;
    const total = Math.ceil((pre + dict.length + 1) / 64) * 64;
    const text = dict.padEnd(total - pre - 1, ' ') + '\n';
    const out = new Uint8Array(total + data.length);
    out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, h.version, 0]);
    const dv = new DataView(out.buffer);
    if (h.version === 1) dv.setUint16(8, text.length, true);
    else dv.setUint32(8, text.length, true);
    for (let i = 0; i < text.length; i++) out[pre + i] = text.charCodeAt(i);
    out.set(data, total);
    return out;
  });
  const valid = new Uint8Array(readFileSync('tests/fixtures/pytorch_lstm_x.npy'));
  const file = fc.oneof(npyFile, damagedBytes(valid));

  it('parseNpy: data of product(dims) values, or a UserError naming the file', () => {
    check('npy', file, RUNS.npy, (bytes) => {
      const t = userErrorOrValue('f.npy', () => parseNpy(bytes, 'f.npy'));
      if (!t) return;
      expect(t.dims.every((d) => Number.isInteger(d) && d >= 0)).toBe(true);
      expect(t.data.length).toBe(product(t.dims));
      expect(Array.from(t.data).every(Number.isFinite)).toBe(true);
    });
  });
});

describe('ONNX (JavaScript readers, in process)', () => {
  it('modelFromOnnx, readRnnxInfo and inspect: a model, or a checked error naming the file', () => {
    check('onnx', hostileOnnx(AIRLINE), RUNS.onnx, (bytes) => {
      for (const read of [() => modelFromOnnx(bytes, 'f.onnx'), () => readRnnxInfo(parseModelProto(bytes, 'f.onnx'), 'f.onnx')]) {
        try {
          read();
        } catch (e) {
          if (isBugError(e) || !(e as Error).message.includes('f.onnx')) throw e;
        }
      }
      const d = userErrorOrValue('f.onnx', () => describeOnnx(bytes, 'f.onnx'));
      if (d) {
        expect(typeof formatDescription(d)).toBe('string');
        expect(typeof JSON.stringify(d)).toBe('string');
      }
    });
  });
});

describe('ONNX through ONNX Runtime and the CLI (child process: a crash must not take the runner down)', () => {
  it('InferenceModel.open/run, rnnx inspect and rnnx predict never crash and give only user errors', () => {
    const cases = join(dir, 'onnx');
    mkdirSync(cases);
    const samples = fc.sample(hostileOnnx(AIRLINE), { seed: FUZZ_SEED, numRuns: RUNS.child });
    samples.forEach((b, i) => writeFileSync(join(cases, `case-${String(i).padStart(4, '0')}.onnx`), b));
    // A short series: enough rows for the model's window, quick to forecast.
    const csv = join(dir, 'series.csv');
    writeFileSync(csv, readFileSync('models/data/airline-passengers.csv', 'utf8').split('\n').slice(0, 40).join('\n') + '\n');
    const tsx = pathToFileURL(resolve('node_modules/tsx/dist/loader.mjs')).href;
    const r = spawnSync(process.execPath, ['--import', tsx, 'tests/fuzz/runtime-child.ts', cases, csv], { encoding: 'utf8', timeout: 240_000, maxBuffer: 64 * 1024 * 1024 });
    const last = r.stderr.trim().split('\n').filter((l) => l.startsWith('start ')).pop();
    const where = `seed ${FUZZ_SEED}; last case started: ${last ?? '(none)'}; replay: RNNX_FUZZ_SEED=${FUZZ_SEED} npx vitest run tests/fuzz-readers.test.ts`;
    expect(r.signal, where).toBeNull();
    expect(r.status, `${where}\n${r.stderr.slice(-2000)}`).toBe(0);
    const result = JSON.parse(r.stdout.split('\n').find((l) => l.startsWith('result '))!.slice(7));
    counted.child = result.cases;
    expect(result.cases).toBe(RUNS.child);
    expect(result.failures, where).toEqual([]);
    // No ONNX Runtime log line slipped out between the case markers.
    expect(r.stderr.split('\n').filter((l) => l && !l.startsWith('start ')), where).toEqual([]);
  });
});
