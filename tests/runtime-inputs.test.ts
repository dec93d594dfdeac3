// InferenceModel's input checks (src/runtime/inference.ts): every shape rule of flattenInput and of
// open()'s options, with the exact message (field, value received, what was expected); and run()
// filling in what the caller left out (full sequence lengths, zero states) exactly as if given.
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { GraphBuilder, onnx } from '../src/graph/builder.js';
import { toOnnx } from '../src/graph/export.js';
import { dense, gru, lstm } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';
import { flattenInput, InferenceModel } from '../src/runtime/inference.js';
import { randomizeParams } from './reference/util.js';
import { thrownMessage } from './thrown-message.js';

const message = thrownMessage;

describe('flattenInput: flat Float32Array', () => {
  it('derives the missing dimension, and hands back the array itself', () => {
    const x = Float32Array.from({ length: 12 }, (_, i) => i);
    expect(flattenInput(x, 3, {})).toEqual({ data: x, N: 1, T: 4 });
    expect(flattenInput(x, 3, {}).data).toBe(x);
    expect(flattenInput(x, 3, { batch: 2 })).toEqual({ data: x, N: 2, T: 2 });
    expect(flattenInput(x, 3, { time: 1 })).toEqual({ data: x, N: 4, T: 1 });
    expect(flattenInput(x, 2, { batch: 3, time: 2 })).toEqual({ data: x, N: 3, T: 2 });
    // A time that uses up the whole array: one sequence (12 = 1 · 4 · 3).
    expect(flattenInput(x, 3, { time: 4 })).toEqual({ data: x, N: 1, T: 4 });
  });

  it('names the length and the shape it cannot fit', () => {
    const f = (n: number, I: number, o: object) => message(() => flattenInput(new Float32Array(n), I, o));
    expect(f(7, 3, { batch: 2 })).toBe('run: x has length 7, expected a multiple of batch*features = 6 ([batch=2, time, features=3])');
    expect(f(0, 3, {})).toBe('run: x has length 0, expected a multiple of batch*features = 3 ([batch=1, time, features=3])');
    expect(f(7, 3, { time: 2 })).toBe('run: x has length 7, expected a multiple of time*features = 6 ([batch, time=2, features=3])');
    expect(f(0, 3, { time: 2 })).toBe('run: x has length 0, expected a multiple of time*features = 6 ([batch, time=2, features=3])');
    expect(f(12, 3, { batch: 2, time: 3 })).toBe('run: x has length 12, expected batch*time*features = 18 ([2, 3, 3])');
    expect(f(6, 3, { batch: 0 })).toBe('run: options.batch must be a positive integer, got 0');
    expect(f(6, 3, { batch: 1.5 })).toBe('run: options.batch must be a positive integer, got 1.5');
    expect(f(6, 3, { time: -2 })).toBe('run: options.time must be a positive integer, got -2');
    expect(f(6, 3, { time: '2' })).toBe('run: options.time must be a positive integer, got "2"');
  });

  it('points at the first non-finite element as [n][t][i]', () => {
    const x = new Float32Array(12); // [2, 2, 3]
    x[10] = Number.NaN;
    x[11] = Infinity;
    expect(message(() => flattenInput(x, 3, { batch: 2 }))).toBe('run: x[1][1][1] must be a finite number, got NaN');
    const y = new Float32Array(12);
    y[5] = -Infinity;
    expect(message(() => flattenInput(y, 3, { batch: 2 }))).toBe('run: x[0][1][2] must be a finite number, got -Infinity');
  });
});

describe('flattenInput: nested arrays', () => {
  it('packs [N][T][I] row-major', () => {
    const r = flattenInput([[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 10], [11, 12]]], 2, { batch: 2, time: 3 });
    expect([r.N, r.T]).toEqual([2, 3]);
    expect(r.data).toBeInstanceOf(Float32Array);
    expect(Array.from(r.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('names the element and what it should be', () => {
    const f = (x: unknown, o: object = {}) => message(() => flattenInput(x as never, 2, o));
    expect(f(null)).toBe('run: x must be a Float32Array or nested arrays [batch][time][features], got null');
    expect(f(5)).toBe('run: x must be a Float32Array or nested arrays [batch][time][features], got number');
    expect(f([])).toBe('run: x must hold at least one sequence, got an empty array');
    expect(f([[]])).toBe('run: x[0] must be a non-empty array of time steps, got []');
    expect(f([7])).toBe('run: x[0] must be a non-empty array of time steps, got 7');
    expect(f([[[1, 2]]], { batch: 2 })).toBe('run: options.batch is 2 but x holds 1 sequences');
    expect(f([[[1, 2]]], { time: 3 })).toBe('run: options.time is 3 but x[0] holds 1 steps');
    expect(f([[[1, 2]], 'ab'])).toBe('run: x[1] must be an array of 1 time steps (all sequences as long as x[0]; pad and pass sequenceLens), got string');
    expect(f([[[1, 2]], [[1, 2], [3, 4]]])).toBe('run: x[1] must be an array of 1 time steps (all sequences as long as x[0]; pad and pass sequenceLens), got 2 steps');
    expect(f([[[1, 2], 5]])).toBe('run: x[0][1] must be an array of 2 features, got 5');
    expect(f([[[1, 2], [1, 2, 3]]])).toBe('run: x[0][1] must be an array of 2 features, got 3 features');
    expect(f([[[1, '2']]])).toBe('run: x[0][0][1] must be a finite number, got "2"');
    expect(f([[[1, undefined]]])).toBe('run: x[0][0][1] must be a finite number, got undefined');
    expect(f([[[1, 2]], [[Infinity, 2]]])).toBe('run: x[1][0][0] must be a finite number, got Infinity');
  });
});

describe('InferenceModel.open options', () => {
  const bytes = toOnnx(Model.create({ inputSize: 2, layers: [gru({ units: 2 })] }));
  it('checks the source, thread counts and log level before reading the model', async () => {
    const err = (source: unknown, o: object = {}) => InferenceModel.open(source as never, o).then(() => '(no error)', (e: Error) => e.message);
    expect(await err(5)).toBe('InferenceModel.open: source must be a path or a Uint8Array, got number');
    expect(await err(bytes, { intraOpNumThreads: -1 })).toBe('InferenceModel.open: intraOpNumThreads must be a non-negative integer, got -1');
    expect(await err(bytes, { interOpNumThreads: 1.5 })).toBe('InferenceModel.open: interOpNumThreads must be a non-negative integer, got 1.5');
    expect(await err(bytes, { logSeverityLevel: 5 })).toBe('InferenceModel.open: logSeverityLevel must be an integer in [0, 4], got 5');
    expect(await err(bytes, { logSeverityLevel: -1 })).toBe('InferenceModel.open: logSeverityLevel must be an integer in [0, 4], got -1');
    expect(await err(bytes, { logSeverityLevel: 2.5 })).toBe('InferenceModel.open: logSeverityLevel must be an integer in [0, 4], got 2.5');
    // The edges of the ranges pass the checks: the next complaint is about the bytes.
    for (const logSeverityLevel of [0, 4]) {
      expect(await err(Uint8Array.of(1, 2, 3), { intraOpNumThreads: 0, interOpNumThreads: 0, logSeverityLevel })).toMatch(/^model bytes /);
    }
    const ok = await InferenceModel.open(bytes, { providers: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 });
    expect(ok.provider).toBe('cpu');
    // The level holds for runs too (ONNX Runtime's run options log at their own level otherwise).
    const session = (ok as unknown as { session: { run: (...a: unknown[]) => Promise<unknown> } }).session;
    const spy = vi.spyOn(session, 'run');
    await ok.runRaw({ x: new ort.Tensor('float32', new Float32Array(2), [1, 1, 2]) });
    expect(spy.mock.calls[0][1]).toEqual({ logSeverityLevel: 3 });
    await ok.release();
    await ok.release(); // twice is harmless
    await expect(ok.runRaw({})).rejects.toThrow('InferenceModel: the session was released');
  });

  it('passes both thread counts on to ONNX Runtime: a count it refuses fails the session, naming the field', async () => {
    // 2^40 is a non-negative integer (rnnx's own check passes) that ONNX Runtime rejects.
    for (const field of ['intraOpNumThreads', 'interOpNumThreads']) {
      const e = await InferenceModel.open(bytes, { providers: ['cpu'], [field]: 2 ** 40 }).then(() => null, (err: Error) => err);
      expect(e?.message).toMatch(new RegExp(`^InferenceModel\\.open: no provider could load model bytes: cpu: session creation failed: .*'${field}' is invalid`));
    }
  });
});

describe('run fills in what the caller leaves out', () => {
  const opened: InferenceModel[] = [];
  afterAll(async () => {
    for (const m of opened) await m.release();
  });
  const open = async (m: Model, o: { sequenceLens?: boolean; stateful?: boolean }) => {
    const im = await InferenceModel.open(toOnnx(m, o), { providers: ['cpu'] });
    opened.push(im);
    return im;
  };

  it('no sequenceLens on a graph that takes them: every sequence runs its full length', async () => {
    const m = Model.create({ inputSize: 2, layers: [lstm({ units: 3, returnSequences: true }), dense({ units: 2 })] }, { seed: 1 });
    randomizeParams(m, 2, 0.5);
    const im = await open(m, { sequenceLens: true });
    expect(im.hasSequenceLens).toBe(true);
    const x = Float32Array.from({ length: 2 * 3 * 2 }, (_, i) => Math.sin(i));
    const implicit = await im.run(x, { batch: 2 });
    const explicit = await im.run(x, { batch: 2, sequenceLens: Int32Array.of(3, 3) });
    expect(Array.from(implicit.y)).toEqual(Array.from(explicit.y));
    const shorter = await im.run(x, { batch: 2, sequenceLens: [3, 1] });
    expect(Array.from(shorter.y)).not.toEqual(Array.from(implicit.y));
    expect(implicit.dims).toEqual([2, 3, 2]);
    expect(implicit.state).toBeUndefined();
    await expect(im.run(x, { batch: 2, sequenceLens: 'ab' as never })).rejects.toThrow('run: options.sequenceLens must be an Int32Array or number[] of length 2, got string');
    await expect(im.run(x, { batch: 2, sequenceLens: [3, 0] })).rejects.toThrow('run: options.sequenceLens[1] must be an integer in [1, 3], got 0');
    await expect(im.run(x, { batch: 2, sequenceLens: [1.5, 3] })).rejects.toThrow('run: options.sequenceLens[0] must be an integer in [1, 3], got 1.5');
  });

  it('no state on a stateful graph: zeros; the final state is returned per layer (h only for a GRU)', async () => {
    const m = Model.create({ inputSize: 2, layers: [gru({ units: 3, returnSequences: true }), lstm({ units: 2 })] }, { seed: 3 });
    randomizeParams(m, 4, 0.5);
    const im = await open(m, { stateful: true });
    expect(im.isStateful).toBe(true);
    expect(im.stateSlots).toEqual([
      { hIn: 'h0_0', hOut: 'hT_0', cIn: null, cOut: null, directions: 1, hidden: 3 },
      { hIn: 'h0_1', hOut: 'hT_1', cIn: 'c0_1', cOut: 'cT_1', directions: 1, hidden: 2 },
    ]);
    const x = Float32Array.from({ length: 4 * 2 }, (_, i) => Math.cos(i));
    const zeros = [{ h: new Float32Array(3) }, { h: new Float32Array(2), c: new Float32Array(2) }];
    const implicit = await im.run(x, { batch: 1 });
    const explicit = await im.run(x, { batch: 1, state: zeros });
    expect(Array.from(implicit.y)).toEqual(Array.from(explicit.y));
    expect(implicit.state!.map((s) => Object.keys(s).sort())).toEqual([['h'], ['c', 'h']]);
    expect(implicit.state![0].h.length).toBe(3);
    expect(implicit.state![1].c!.length).toBe(2);
    // The last-step output of the last (LSTM) layer is its final h.
    expect(Array.from(implicit.y)).toEqual(Array.from(implicit.state![1].h));
    // A layer left out of the array (a hole, undefined) starts from zeros as well, the others as given.
    const holed = await im.run(x, { batch: 1, state: [undefined as never, zeros[1]] });
    expect(Array.from(holed.y)).toEqual(Array.from(implicit.y));
    const carried = await im.run(x, { batch: 1, state: implicit.state });
    expect(Array.from(carried.y)).not.toEqual(Array.from(implicit.y));
    await expect(im.run(x, { batch: 1, state: {} as never })).rejects.toThrow('run: options.state must be an array of 2 layer states, got object');
    await expect(im.run(x, { batch: 1, state: [zeros[0], { h: new Float32Array(2), c: [0, 0] as never }] }))
      .rejects.toThrow('run: options.state[1].c must be a Float32Array of length 2 ([1, 1, 2] = [directions, batch, hidden]), got object');
  });
});

describe('graphs rnnx did not write', () => {
  const open = async (build: (g: GraphBuilder) => void) => {
    const g = new GraphBuilder();
    build(g);
    return InferenceModel.open(onnx.ModelProto.encode(g.build()).finish(), { providers: ['cpu'] });
  };

  it('the feature count comes from a fixed last dimension of a 3-D x; run works with rnnx names', async () => {
    const im = await open((g) => g.output(g.input('x', 'float', ['n', 't', 2]), 'y', ['n', 't', 2]));
    try {
      expect([im.inputSize, im.hasSequenceLens, im.isStateful, im.info]).toEqual([2, false, false, null]);
      const r = await im.run([[[1, 2], [3, 4]]]);
      expect([r.dims, Array.from(r.y)]).toEqual([[1, 2, 2], [1, 2, 3, 4]]);
    } finally {
      await im.release();
    }
    for (const shape of [['n', 2], ['n', 't', 'f']]) {
      const free = await open((g) => g.output(g.input('x', 'float', shape), 'y', shape));
      try {
        expect(free.inputSize).toBeNull();
        await expect(free.run([[[1, 2]]])).rejects.toThrow('run: the graph input x has no fixed feature dimension; use runRaw');
      } finally {
        await free.release();
      }
    }
  });

  it('a state input must have fixed directions and hidden size', async () => {
    const build = (h: (string | number)[]) => (g: GraphBuilder) => {
      g.output(g.input('x', 'float', ['n', 't', 2]), 'y', ['n', 't', 2]);
      g.output(g.input('h0_0', 'float', h), 'hT_0', h);
    };
    const ok = await open(build([1, 'n', 3]));
    try {
      expect(ok.stateSlots).toEqual([{ hIn: 'h0_0', hOut: 'hT_0', cIn: null, cOut: null, directions: 1, hidden: 3 }]);
    } finally {
      await ok.release();
    }
    for (const h of [['d', 'n', 3], [1, 'n', 'h'], [1, 3]]) {
      await expect(open(build(h))).rejects.toThrow('model input h0_0 must be declared [directions, batch, hidden] with fixed directions and hidden');
    }
  });

  it('a dimension with neither a value nor a name is unknown, not 0', async () => {
    const free = await open((g) => g.output(g.input('x', 'float', ['n', 't', null]), 'y', ['n', 't', null]));
    try {
      expect(free.inputSize).toBeNull();
    } finally {
      await free.release();
    }
    const state = (g: GraphBuilder) => {
      g.output(g.input('x', 'float', ['n', 't', 2]), 'y', ['n', 't', 2]);
      g.output(g.input('h0_0', 'float', [1, 'n', null]), 'hT_0', [1, 'n', null]);
    };
    await expect(open(state)).rejects.toThrow('model input h0_0 must be declared [directions, batch, hidden] with fixed directions and hidden');
  });
});
