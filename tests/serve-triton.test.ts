// `rnnx export MODEL --triton DIR`: Triton cannot run here, so the generated config.pbtxt is
// checked against Triton's model configuration schema (tests/fixtures/triton/, transcribed from
// triton-inference-server/common's model_config.proto, source noted there): the schema is loaded
// with protobufjs and the text format is parsed by a small parser below, which checks every
// field name against its message, every value against the field's type (enum names, integers,
// strings, booleans, nested messages), repetition and oneof exclusivity. The written graph is
// run with ONNX Runtime: the stateless one equals the model, and the stateful one (batch-first
// state, as Triton's implicit state passes it) continued over two chunks equals one run.

import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import * as ort from 'onnxruntime-node';
import { dense, gru, lstm } from '../src/layers/spec.js';
import { InferenceModel } from '../src/runtime/inference.js';
import { maxAbsDiff } from './reference/util.js';
import { makeModel, randomSequences, runCliCaptured, tempDir } from './serve-helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const root = protobuf.parse(readFileSync('tests/fixtures/triton/model_config.subset.proto', 'utf8'), { keepCase: true }).root;
root.resolveAll();
const ModelConfig = root.lookupType('inference.ModelConfig');

type Token = { kind: 'ident' | 'string' | 'number' | 'punct'; text: string };

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  const re = /\s+|#[^\n]*|("(?:[^"\\]|\\.)*")|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|([{}[\]:,<>])/gy;
  let m: RegExpExecArray | null;
  while (re.lastIndex < text.length) {
    const at = re.lastIndex;
    if (!(m = re.exec(text))) throw new Error(`config.pbtxt: unexpected character ${JSON.stringify(text[at])} at offset ${at}`);
    if (m[1]) out.push({ kind: 'string', text: JSON.parse(m[1]) as string });
    else if (m[2]) out.push({ kind: 'number', text: m[2] });
    else if (m[3]) out.push({ kind: 'ident', text: m[3] });
    else if (m[4]) out.push({ kind: 'punct', text: m[4] });
  }
  return out;
}

/** Parses protobuf text format against `type`; throws naming the field on any mismatch. Returns a plain object. */
function parseText(tokens: Token[], type: protobuf.Type, pos = { i: 0 }, end: string | null = null, where = type.name): Record<string, unknown> {
  const obj: Record<string, unknown> = {};
  const oneofs = new Map<string, string>();
  const next = () => tokens[pos.i++];
  const peek = () => tokens[pos.i];
  while (pos.i < tokens.length && !(peek().kind === 'punct' && peek().text === end)) {
    const nameTok = next();
    if (nameTok.kind !== 'ident') throw new Error(`${where}: expected a field name, got ${JSON.stringify(nameTok.text)}`);
    const field = type.fields[nameTok.text];
    if (!field) throw new Error(`${where}: ${type.fullName} has no field ${JSON.stringify(nameTok.text)}`);
    const path = `${where}.${field.name}`;
    if (field.partOf) {
      const other = oneofs.get(field.partOf.name);
      if (other && other !== field.name) throw new Error(`${path}: oneof ${field.partOf.name} already set by ${other}`);
      oneofs.set(field.partOf.name, field.name);
    }
    if (peek().kind === 'punct' && peek().text === ':') next();
    const value = (): unknown => {
      const t = peek();
      if (field.resolvedType instanceof protobuf.Type) {
        const open = next();
        if (open.kind !== 'punct' || (open.text !== '{' && open.text !== '<')) throw new Error(`${path}: expected a message { ... }, got ${JSON.stringify(open.text)}`);
        const v = parseText(tokens, field.resolvedType, pos, open.text === '{' ? '}' : '>', path);
        next();
        return v;
      }
      next();
      if (field.resolvedType instanceof protobuf.Enum) {
        if (t.kind !== 'ident' || !(t.text in field.resolvedType.values)) throw new Error(`${path}: ${JSON.stringify(t.text)} is not a value of enum ${field.resolvedType.name}`);
        return t.text;
      }
      switch (field.type) {
        case 'string':
          if (t.kind !== 'string') throw new Error(`${path}: expected a string, got ${t.text}`);
          return t.text;
        case 'bool':
          if (t.kind !== 'ident' || !['true', 'false'].includes(t.text)) throw new Error(`${path}: expected true or false, got ${t.text}`);
          return t.text === 'true';
        case 'int32': case 'int64': case 'uint32': case 'uint64': {
          const n = Number(t.text);
          if (t.kind !== 'number' || !Number.isInteger(n) || (field.type.startsWith('u') && n < 0)) throw new Error(`${path}: expected ${field.type}, got ${t.text}`);
          return n;
        }
        case 'float': case 'double':
          if (t.kind !== 'number') throw new Error(`${path}: expected a number, got ${t.text}`);
          return Number(t.text);
        default:
          throw new Error(`${path}: field type ${field.type} is not handled by this test's parser`);
      }
    };
    let v: unknown;
    if (peek().kind === 'punct' && peek().text === '[') {
      next();
      if (!field.repeated) throw new Error(`${path}: a list given for a field that is not repeated`);
      const list: unknown[] = [];
      while (!(peek().kind === 'punct' && peek().text === ']')) {
        list.push(value());
        if (peek().kind === 'punct' && peek().text === ',') next();
      }
      next();
      v = list;
    } else {
      v = value();
    }
    if (field.repeated) obj[field.name] = [...((obj[field.name] as unknown[]) ?? []), ...(Array.isArray(v) ? v : [v])];
    else if (field.name in obj) throw new Error(`${path}: set twice`);
    else obj[field.name] = v;
  }
  return obj;
}

function readConfig(path: string): Record<string, any> {
  const tokens = tokenize(readFileSync(path, 'utf8'));
  const pos = { i: 0 };
  const cfg = parseText(tokens, ModelConfig, pos);
  expect(pos.i).toBe(tokens.length);
  // protobufjs agrees it is a ModelConfig (fromObject drops nothing we wrote).
  expect(ModelConfig.verify(ModelConfig.toObject(ModelConfig.fromObject(cfg)))).toBeNull();
  return cfg;
}

async function cli(args: string[]): Promise<string> {
  const r = await runCliCaptured(args);
  expect(r.code, r.stderr).toBe(0);
  return r.stderr;
}

describe('the test\'s own text-format check', () => {
  it('refuses unknown fields, wrong types, bad enum values, lists for singular fields and two oneof members', () => {
    const bad = [
      ['name: "m" max_batch: 4', /has no field "max_batch"/],
      ['max_batch_size: "4"', /expected int32/],
      ['input [ { name: "x" data_type: FP32 } ]', /"FP32" is not a value of enum DataType/],
      ['name: [ "a", "b" ]', /not repeated/],
      ['dynamic_batching { } sequence_batching { }', /oneof scheduling_choice already set/],
      ['sequence_batching { state { input_name: "h" dims: [ 1.5 ] } }', /expected int64/],
    ] as const;
    for (const [text, message] of bad) expect(() => parseText(tokenize(text), ModelConfig), text).toThrow(message);
  });
});

describe('rnnx export --triton', () => {
  const I = 3;
  const { path } = makeModel(tmp.dir, 'sensor', I, [lstm({ units: 6, returnSequences: true }), gru({ units: 5 }), dense({ units: 2 })], 8);
  const xs = randomSequences(4, 2, I, 9, 9);
  const x = new Float32Array([...xs[0], ...xs[1]]);

  it('stateless: config.pbtxt valid against the schema with dynamic batching, and the graph equals the model', async () => {
    const dir = join(tmp.dir, 'repo');
    expect(await cli(['export', path, '--triton', dir])).toMatch(/wrote .*sensor\/config\.pbtxt/);
    const cfg = readConfig(join(dir, 'sensor', 'config.pbtxt'));
    expect(cfg).toMatchObject({
      name: 'sensor', backend: 'onnxruntime', max_batch_size: 64,
      input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [-1, I] }],
      output: [{ name: 'y', data_type: 'TYPE_FP32', dims: [2] }],
      dynamic_batching: { max_queue_delay_microseconds: 2000 },
    });
    const graph = await InferenceModel.open(join(dir, 'sensor', '1', 'model.onnx'), { intraOpNumThreads: 1 });
    const orig = await InferenceModel.open(path, { intraOpNumThreads: 1 });
    try {
      expect(graph.inputNames).toEqual(['x']);
      expect(maxAbsDiff((await graph.run(x, { batch: 2 })).y, (await orig.run(x, { batch: 2 })).y)).toBeLessThanOrEqual(1e-6);
    } finally {
      await graph.release();
      await orig.release();
    }
  });

  it('stateful: sequence batching with implicit state named like the graph; batch-first state continued over two chunks equals one run', async () => {
    const dir = join(tmp.dir, 'repo-stateful');
    await cli(['export', path, '--triton', dir, '--stateful', '--name', 'sensor_seq', '--max-batch', '8']);
    const cfg = readConfig(join(dir, 'sensor_seq', 'config.pbtxt'));
    expect(cfg.max_batch_size).toBe(8);
    expect(cfg.dynamic_batching).toBeUndefined();
    const states = cfg.sequence_batching.state as { input_name: string; output_name: string; dims: number[]; initial_state: { zero_data: boolean }[] }[];
    expect(states.map((s) => [s.input_name, s.output_name, s.dims])).toEqual([['h0_0', 'hT_0', [1, 6]], ['c0_0', 'cT_0', [1, 6]], ['h0_1', 'hT_1', [1, 5]]]);
    expect(states.every((s) => s.initial_state[0].zero_data === true)).toBe(true);

    const session = await ort.InferenceSession.create(join(dir, 'sensor_seq', '1', 'model.onnx'), { intraOpNumThreads: 1 });
    const orig = await InferenceModel.open(path, { intraOpNumThreads: 1 });
    try {
      // Every state the config names is a graph input and output, batch first: [N, D, H].
      for (const s of states) {
        expect(session.inputNames).toContain(s.input_name);
        expect(session.outputNames).toContain(s.output_name);
      }
      const N = 2;
      const zeros = (h: number) => new ort.Tensor('float32', new Float32Array(N * h), [N, 1, h]);
      const chunk = (t0: number, t1: number) => {
        const out = new Float32Array(N * (t1 - t0) * I);
        for (let b = 0; b < N; b++) out.set(xs[b].subarray(t0 * I, t1 * I), b * (t1 - t0) * I);
        return new ort.Tensor('float32', out, [N, t1 - t0, I]);
      };
      const first = await session.run({ x: chunk(0, 4), h0_0: zeros(6), c0_0: zeros(6), h0_1: zeros(5) });
      const second = await session.run({ x: chunk(4, 9), h0_0: first.hT_0, c0_0: first.cT_0, h0_1: first.hT_1 });
      expect(first.hT_0.dims).toEqual([N, 1, 6]);
      const whole = await orig.run(x, { batch: N });
      expect(maxAbsDiff(second.y.data as Float32Array, whole.y)).toBeLessThanOrEqual(1e-5);
    } finally {
      await session.release();
      await orig.release();
    }
  });

  it('refuses OUT together with --triton, and a bad model name', async () => {
    const both = await runCliCaptured(['export', path, join(tmp.dir, 'x.onnx'), '--triton', tmp.dir]);
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/not both/);
    const badName = await runCliCaptured(['export', path, '--triton', tmp.dir, '--name', '../up']);
    expect(badName.code).toBe(1);
    expect(badName.stderr).toMatch(/Triton model name must be/);
  });
});
