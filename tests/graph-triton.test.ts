// Triton model repository export, in process (src/graph/triton.ts; tests/serve-triton.test.ts
// checks the files `rnnx export --triton` writes against Triton's schema through the CLI):
// config.pbtxt against hand-written expected text, the option checks, and the stateful graph
// run by ONNX Runtime with batch-first states against the plain stateful export fed the same
// states transposed.

import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { onnx } from '../src/graph/builder.js';
import { toOnnx } from '../src/graph/export.js';
import { tritonConfig, tritonGraph } from '../src/graph/triton.js';
import { Rng } from '../src/layers/random.js';
import { dense, gru, lstm, rnn } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';
import { maxAbsDiff, randomArray, randomizeParams, spread } from './reference/util.js';

const spec = { inputSize: 3, layers: [lstm({ units: 4, direction: 'bidirectional' as const, returnSequences: true }), gru({ units: 5 }), dense({ units: 2 })] };

describe('tritonConfig', () => {
  it('stateless: dynamic batching, x [-1, I] and a last-step y [F]', () => {
    expect(tritonConfig(spec, { name: 'sensor.v1-a_b' })).toBe(
      [
        'name: "sensor.v1-a_b"',
        'backend: "onnxruntime"',
        'max_batch_size: 64',
        'input [',
        '  { name: "x" data_type: TYPE_FP32 dims: [ -1, 3 ] }',
        ']',
        'output [',
        '  { name: "y" data_type: TYPE_FP32 dims: [ 2 ] }',
        ']',
        'dynamic_batching {',
        '  max_queue_delay_microseconds: 2000',
        '}',
        'instance_group [ { kind: KIND_AUTO count: 1 } ]',
        '',
      ].join('\n'),
    );
  });

  it('stateful: sequence batching with one zero-initialised state per h (and c) of each recurrent layer; a sequence y is [-1, F]', () => {
    const seqSpec = { inputSize: 2, layers: [lstm({ units: 4, direction: 'bidirectional' as const, returnSequences: true }), rnn({ units: 3, returnSequences: true })] };
    const state = (i: string, o: string, dims: string) => [
      '  state {',
      `    input_name: "${i}"`,
      `    output_name: "${o}"`,
      '    data_type: TYPE_FP32',
      `    dims: ${dims}`,
      `    initial_state { name: "zeros" data_type: TYPE_FP32 dims: ${dims} zero_data: true }`,
      '  }',
    ];
    expect(tritonConfig(seqSpec, { name: 'm', stateful: true, maxBatchSize: 8, maxQueueDelayMicroseconds: 0 })).toBe(
      [
        'name: "m"',
        'backend: "onnxruntime"',
        'max_batch_size: 8',
        'input [',
        '  { name: "x" data_type: TYPE_FP32 dims: [ -1, 2 ] }',
        ']',
        'output [',
        '  { name: "y" data_type: TYPE_FP32 dims: [ -1, 3 ] }',
        ']',
        'sequence_batching {',
        '  max_sequence_idle_microseconds: 600000000',
        '  direct { max_queue_delay_microseconds: 0 }',
        ...state('h0_0', 'hT_0', '[ 2, 4 ]'),
        ...state('c0_0', 'cT_0', '[ 2, 4 ]'),
        ...state('h0_1', 'hT_1', '[ 1, 3 ]'),
        '}',
        'instance_group [ { kind: KIND_AUTO count: 1 } ]',
        '',
      ].join('\n'),
    );
  });

  it('refuses a bad name, batch size or queue delay, naming the value', () => {
    for (const name of ['', '.', '..', '../up', 'a b', 'x'.repeat(129), 'ä']) {
      expect(() => tritonConfig(spec, { name }), name).toThrow(`Triton model name must be 1-128 characters of letters, digits, '_', '.' or '-', got ${JSON.stringify(name)}`);
    }
    expect(tritonConfig(spec, { name: 'x'.repeat(128) })).toContain(`name: "${'x'.repeat(128)}"`);
    expect(tritonConfig(spec, { name: '.a' })).toContain('name: ".a"');
    for (const b of [0, -1, 1.5, NaN]) expect(() => tritonConfig(spec, { name: 'm', maxBatchSize: b })).toThrow(`maxBatchSize must be a positive integer, got ${b}`);
    expect(tritonConfig(spec, { name: 'm', maxBatchSize: 1 })).toContain('max_batch_size: 1\n');
    for (const d of [-1, 0.5]) expect(() => tritonConfig(spec, { name: 'm', maxQueueDelayMicroseconds: d })).toThrow(`maxQueueDelayMicroseconds must be an integer >= 0, got ${d}`);
    expect(tritonConfig(spec, { name: 'm', maxQueueDelayMicroseconds: 0 })).toContain('  max_queue_delay_microseconds: 0\n');
  });
});

describe('tritonGraph', () => {
  // The GRU's final state is both the features the dense layer reads and the state output hT_1.
  const model = Model.create(spec, { seed: 1 });
  randomizeParams(model, 2);
  const N = 2;
  const T = 5;
  const x = randomArray(new Rng(3), N * T * 3);

  async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
    const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    try {
      return (await s.run(feeds)) as Record<string, ort.Tensor>;
    } finally {
      await s.release();
    }
  }
  /** [A, B, H] → [B, A, H]. */
  const swap = (t: ort.Tensor) => {
    const [a, b, h] = t.dims;
    const src = t.data as Float32Array;
    const out = new Float32Array(src.length);
    for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) for (let k = 0; k < h; k++) out[(j * a + i) * h + k] = src[(i * b + j) * h + k];
    return new ort.Tensor('float32', out, [b, a, h]);
  };

  it('stateless: the plain export, same outputs', async () => {
    const feeds = { x: new ort.Tensor('float32', x, [N, T, 3]) };
    const got = await run(tritonGraph(model, {}), feeds);
    const want = await run(toOnnx(model), feeds);
    expect(Object.keys(got)).toEqual(['y']);
    expect(maxAbsDiff(got.y.data as Float32Array, want.y.data as Float32Array)).toBe(0);
  });

  it('stateful: states in and out are [N, D, H]; fed the transposed states it equals the stateful export', async () => {
    const rng = new Rng(4);
    // Nonzero initial states, batch-first for Triton, [D, N, H] for the plain export.
    const tri: Record<string, ort.Tensor> = {
      x: new ort.Tensor('float32', x, [N, T, 3]),
      h0_0: new ort.Tensor('float32', randomArray(rng, N * 2 * 4), [N, 2, 4]),
      c0_0: new ort.Tensor('float32', randomArray(rng, N * 2 * 4), [N, 2, 4]),
      h0_1: new ort.Tensor('float32', randomArray(rng, N * 1 * 5), [N, 1, 5]),
    };
    const plain = { x: tri.x, h0_0: swap(tri.h0_0), c0_0: swap(tri.c0_0), h0_1: swap(tri.h0_1) };
    const bytes = tritonGraph(model, { stateful: true, opset: 17 });
    const got = await run(bytes, tri);
    const want = await run(toOnnx(model, { stateful: true, opset: 17 }), plain);
    expect(got.hT_0.dims).toEqual([N, 2, 4]);
    expect(got.cT_0.dims).toEqual([N, 2, 4]);
    expect(got.hT_1.dims).toEqual([N, 1, 5]);
    expect(spread(got.y.data as Float32Array)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(got.y.data as Float32Array, want.y.data as Float32Array)).toBeLessThanOrEqual(1e-6);
    for (const k of ['hT_0', 'cT_0', 'hT_1']) expect(maxAbsDiff(got[k].data as Float32Array, swap(want[k]).data as Float32Array), k).toBeLessThanOrEqual(1e-6);
    // The declared shapes are batch-first too, and the opset is the one asked for.
    const proto = onnx.ModelProto.decode(bytes);
    expect(proto.opsetImport.map((o) => Number(o.version))).toEqual([17]);
    const decl = (vs: NonNullable<NonNullable<ReturnType<typeof onnx.ModelProto.decode>['graph']>['input']>) => vs.filter((v) => /^[hc][0T]_/.test(v.name ?? '')).map((v) => [v.name, v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue))]);
    expect(decl(proto.graph!.input ?? [])).toEqual([['h0_0', ['batch', 2, 4]], ['c0_0', ['batch', 2, 4]], ['h0_1', ['batch', 1, 5]]]);
    expect(decl(proto.graph!.output ?? [])).toEqual([['hT_0', ['batch', 2, 4]], ['cT_0', ['batch', 2, 4]], ['hT_1', ['batch', 1, 5]]]);
  });

  it('stateful: one named Transpose per state at each end, for layer numbers past 9 too', () => {
    // Eleven one-unit RNN layers: states h0_0 .. h0_10 and hT_0 .. hT_10.
    const deep = Model.create({ inputSize: 1, layers: Array.from({ length: 11 }, (_, i) => rnn({ units: 1, returnSequences: i < 10 })) }, { seed: 1 });
    const p = onnx.ModelProto.decode(tritonGraph(deep, { stateful: true }));
    const g = p.graph!;
    const names = Array.from({ length: 11 }, (_, k) => k);
    const transposes = (nodes: typeof g.node) => (nodes ?? []).map((n) => [n.opType, n.name, n.input, n.output, (n.attribute ?? []).map((a) => [a.name, (a.ints ?? []).map(Number)])]);
    expect(transposes(g.node!.slice(0, 11))).toEqual(names.map((k) => ['Transpose', `triton_h0_${k}`, [`h0_${k}`], [`h0_${k}_dnh`], [['perm', [1, 0, 2]]]]));
    expect(transposes(g.node!.slice(-11))).toEqual(names.map((k) => ['Transpose', `triton_hT_${k}`, [`hT_${k}_dnh`], [`hT_${k}`], [['perm', [1, 0, 2]]]]));
    // Each RNN node reads the transposed h0 and writes the Y_h that the end Transpose reads.
    const rnns = g.node!.filter((n) => n.opType === 'RNN');
    expect(rnns.map((n) => [n.input![5], n.output![1]])).toEqual(names.map((k) => [`h0_${k}_dnh`, `hT_${k}_dnh`]));
    const dims = (v: { type?: { tensorType?: { shape?: { dim?: { dimParam?: string | null; dimValue?: unknown }[] | null } | null } | null } | null }) => v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
    expect(g.input!.slice(1).map((v) => [v.name, dims(v)])).toEqual(names.map((k) => [`h0_${k}`, ['batch', 1, 1]]));
    expect(g.output!.slice(1).map((v) => [v.name, dims(v)])).toEqual(names.map((k) => [`hT_${k}`, ['batch', 1, 1]]));
    // Nothing else is added: the stateful export's nodes, in order, between the two sets of Transposes.
    const plain = onnx.ModelProto.decode(toOnnx(deep, { stateful: true })).graph!.node!;
    expect(g.node!.slice(11, -11).map((n) => n.opType)).toEqual(plain.map((n) => n.opType));
    expect(g.node!).toHaveLength(plain.length + 22);
  });

  it('stateful config: states for the recurrent layers only, numbered among them', () => {
    const text = tritonConfig({ inputSize: 2, layers: [gru({ units: 3 }), dense({ units: 2 })] }, { name: 'm', stateful: true });
    expect(text.split('\n').filter((l) => l.includes('_name:'))).toEqual(['    input_name: "h0_0"', '    output_name: "hT_0"']);
  });
});
