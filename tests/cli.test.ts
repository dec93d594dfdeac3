// End-to-end tests of the rnnx command: each spawns `node --import tsx src/cli/main.ts ...` and
// checks exit codes, messages, the files written and the numbers in them. Expected numbers come
// from independent sources: PyTorch (tests/fixtures, made by scripts/make-pytorch-fixture.py),
// the onnx Python library's reading of those files, and ONNX Runtime driven directly from here.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseNpy } from '../src/data/tensor.js';
import { onnx } from '../src/graph/builder.js';

const tmp = mkdtempSync(join(tmpdir(), 'rnnx-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function rnnx(args: string[], input?: string) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', input, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const CHAR = 'models/shakespeare/char-lstm.onnx';

/** One line on stderr starting with "rnnx: ", exit 1, no stack. */
function expectUserError(r: ReturnType<typeof rnnx>, ...parts: string[]) {
  expect(r.code, r.stderr).toBe(1);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0].startsWith('rnnx: ')).toBe(true);
  for (const p of parts) expect(lines[0]).toContain(p);
}

describe('help and exit codes', () => {
  it.each(['train', 'export', 'inspect', 'predict', 'generate', 'bench', 'serve', 'quickstart'])('%s --help shows usage and examples', (cmd) => {
    const r = rnnx([cmd, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`rnnx ${cmd}`);
    expect(r.stdout).toContain('Examples:');
  });
  it('an unknown command or option is a user error (exit 1, one line)', () => {
    expectUserError(rnnx(['frobnicate']), 'frobnicate');
    expectUserError(rnnx(['inspect', 'x.onnx', '--bogus-flag']), 'bogus-flag');
  });
  it('--verbose adds the stack trace to a user error', () => {
    const r = rnnx(['inspect', 'missing.onnx', '--verbose']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('rnnx: missing.onnx: cannot read: no such file or directory');
    expect(r.stderr).toContain('    at ');
  });
});

describe('inspect', () => {
  const expected = JSON.parse(readFileSync('tests/fixtures/pytorch_expected.json', 'utf8'));
  it.each(['pytorch_lstm.onnx', 'pytorch_gru.onnx'])('describes the PyTorch export %s as PyTorch and the onnx library see it', (name) => {
    const want = expected[name];
    const r = rnnx(['inspect', `tests/fixtures/${name}`, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d.producer.name).toBe(want.producer);
    expect(d.opsets).toEqual([{ domain: 'ai.onnx', version: want.opset }]);
    expect(d.inputs.map((i: { name: string; shape: unknown }) => ({ name: i.name, shape: i.shape }))).toEqual(want.inputs);
    expect(d.outputs.map((i: { name: string; shape: unknown }) => ({ name: i.name, shape: i.shape }))).toEqual(want.outputs);
    const rec = d.layers.filter((l: { kind: string }) => l.kind !== 'dense');
    expect(rec.map((l: Record<string, unknown>) => ({ op: l.op, hiddenSize: l.hiddenSize, inputSize: l.inputSize, directions: l.directions, parameters: l.parameters }))).toEqual(
      want.recurrent.map((l: Record<string, unknown>) => ({ op: l.op, hiddenSize: l.hiddenSize, inputSize: l.inputSize, directions: l.directions, parameters: l.parameters })),
    );
    expect(d.parameters).toBe(want.parameters);
    expect(d.rnnx).toBeUndefined();
  });
  it('prints a readable table for a PyTorch LSTM', () => {
    const r = rnnx(['inspect', 'tests/fixtures/pytorch_lstm.onnx']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/0\s+LSTM\s+forward\s+8\s+5\s+480/);
    expect(r.stdout).toMatch(/1\s+LSTM\s+forward\s+8\s+8\s+576/);
    expect(r.stdout).toMatch(/2\s+Gemm\s+3\s+8\s+27/);
    expect(r.stdout).toContain('parameters: 1083');
    expect(r.stdout).toContain('x  float32  [batch, time, 5]');
  });
  it('rejects a file that is not ONNX', () => {
    expectUserError(rnnx(['inspect', 'package.json']), 'package.json: not an ONNX model');
  });
});

describe('predict on a foreign (PyTorch) model', () => {
  it('NPY in, JSON out: matches PyTorch within 1e-5', () => {
    const r = rnnx(['predict', 'tests/fixtures/pytorch_lstm.onnx', '-i', 'tests/fixtures/pytorch_lstm_x.npy']);
    expect(r.code, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as number[][];
    const want = parseNpy(readFileSync('tests/fixtures/pytorch_lstm_y.npy'), 'y');
    expect(want.dims).toEqual([2, 3]);
    got.flat().forEach((v, i) => expect(Math.abs(v - want.data[i])).toBeLessThan(1e-5));
  });
  it('NPY out round-trips; JSON input works too', () => {
    const x = parseNpy(readFileSync('tests/fixtures/pytorch_lstm_x.npy'), 'x');
    const nested = Array.from({ length: 2 }, (_, n) => Array.from({ length: 7 }, (_, t) => Array.from(x.data.subarray((n * 7 + t) * 5, (n * 7 + t + 1) * 5))));
    writeFileSync(join(tmp, 'x.json'), JSON.stringify(nested));
    const out = join(tmp, 'y.npy');
    const r = rnnx(['predict', 'tests/fixtures/pytorch_lstm.onnx', '-i', join(tmp, 'x.json'), '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    const got = parseNpy(readFileSync(out), out);
    const want = parseNpy(readFileSync('tests/fixtures/pytorch_lstm_y.npy'), 'y');
    expect(got.dims).toEqual([2, 3]);
    Array.from(got.data).forEach((v, i) => expect(Math.abs(v - want.data[i])).toBeLessThan(1e-5));
  });
});

describe('bad input: exit 1, one line naming file/row/column, no partial output', () => {
  const write = (name: string, text: string | Uint8Array) => {
    const p = join(tmp, name);
    writeFileSync(p, text);
    return p;
  };
  const noOutput = (p: string) => {
    expect(existsSync(p)).toBe(false);
    expect(readdirSync(tmp).filter((f) => f.includes('.tmp') || f.includes('.probe'))).toEqual([]);
  };
  const trainArgs = (data: string, out: string) => ['train', '--data', data, '--window', '3', '--layers', 'lstm:4,dense:1', '--epochs', '1', '-o', out];

  it('a CSV with a non-numeric cell', () => {
    const data = write('nonnum.csv', 'Month,Passengers\n1949-01,112\n1949-02,118\n1949-03,abc\n1949-04,129\n');
    const out = join(tmp, 'nonnum.onnx');
    expectUserError(rnnx(trainArgs(data, out)), `${data}: row 4, column 2 ("Passengers"): "abc" is not a number`);
    noOutput(out);
  });
  it('a CSV with a missing cell', () => {
    const data = write('missing.csv', 'a,b\n1,2\n3,\n5,6\n');
    const out = join(tmp, 'missing.onnx');
    expectUserError(rnnx(trainArgs(data, out)), `${data}: row 3, column 2 ("b"): missing value`);
    noOutput(out);
  });
  it('a CSV with ragged rows', () => {
    const data = write('ragged.csv', 'a,b\n1,2\n3,4,5\n5,6\n');
    const out = join(tmp, 'ragged.onnx');
    expectUserError(rnnx(trainArgs(data, out)), `${data}: row 3 has 3 columns, expected 2 as in row 1`);
    noOutput(out);
  });
  it('an empty file', () => {
    const data = write('empty.csv', '');
    const out = join(tmp, 'empty.onnx');
    expectUserError(rnnx(trainArgs(data, out)), `${data}: the file is empty`);
    noOutput(out);
  });
  it('a window longer than the series', () => {
    const data = write('short.csv', 'v\n1\n2\n3\n4\n');
    const out = join(tmp, 'short.onnx');
    expectUserError(rnnx(['train', '--data', data, '--window', '10', '--layers', 'lstm:4,dense:1', '--epochs', '1', '-o', out]), data, 'window 10 + horizon 1 needs at least 11');
    noOutput(out);
  });
  it('a text shorter than one training sequence names the file and the part that is short', () => {
    const data = write('tiny.txt', 'abc');
    const out = join(tmp, 'tiny.onnx');
    expectUserError(rnnx(['train', '--data', data, '--window', '10', '--layers', 'lstm:4,dense:3:softmax', '--epochs', '1', '-o', out]),
      `${data}: the training part (first 95%) has 2 characters, need at least 11`);
    noOutput(out);
  });
  it('a bad field in a config file names the config file', () => {
    const config = JSON.parse(readFileSync('models/airline/config.json', 'utf8'));
    config.data.window = 'x';
    config.data.path = join(process.cwd(), 'models/data/airline-passengers.csv');
    const out = join(tmp, 'cfg-x.onnx');
    config.output.model = out;
    const file = write('cfg-x.json', JSON.stringify(config));
    expectUserError(rnnx(['train', file]), `${file}: data.window must be a positive integer, got "x"`);
    noOutput(out);
  });
  it('a model for a different feature count', () => {
    const x = write('three.json', JSON.stringify([[[1, 2, 3], [4, 5, 6]]]));
    const out = join(tmp, 'three-out.json');
    expectUserError(rnnx(['predict', 'tests/fixtures/pytorch_lstm.onnx', '-i', x, '-o', out]), `${x}: the model expects 5 features per step, the input has 3`);
    noOutput(out);
  });
  it('an rnnx model file cut just before its metadata: refused, never run without its normalisation', () => {
    const full = readFileSync('models/airline/airline.onnx');
    const proto = onnx.ModelProto.decode(full);
    proto.metadataProps = [];
    const cut = onnx.ModelProto.encode(proto).finish();
    expect(Buffer.compare(full.subarray(0, cut.length), Buffer.from(cut))).toBe(0); // a true prefix of the file
    const model = write('cut-airline.onnx', Buffer.from(cut));
    const out = join(tmp, 'cut-pred.csv');
    expectUserError(rnnx(['predict', model, '-i', 'models/data/airline-passengers.csv', '-o', out]), `${model}: producer_name is "rnnx" but metadata_props has none of the rnnx keys`, 'truncated');
    noOutput(out);
  });
  it('text with characters outside the vocabulary', () => {
    const out = join(tmp, 'gen.txt');
    expectUserError(rnnx(['generate', CHAR, '--seed', 'ROMEO: café', '-n', '10', '-o', out]), '--seed: line 1, column 11: character "é" (U+00E9) is not in the model\'s vocabulary');
    noOutput(out);
  });
  it('an unwritable output path', () => {
    const file = write('plainfile', 'x');
    const out = join(file, 'y.json'); // a path below a regular file: ENOTDIR even for root
    expectUserError(rnnx(['predict', 'tests/fixtures/pytorch_lstm.onnx', '-i', 'tests/fixtures/pytorch_lstm_x.npy', '-o', out]), `${out}: cannot write`);
    expect(readFileSync(file, 'utf8')).toBe('x');
  });
});

