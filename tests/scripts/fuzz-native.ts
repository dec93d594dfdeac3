// Property-based fuzzing of every native entry point (tests/fuzz-native.test.ts runs this in a
// child process, so that a crash is a failed test and not a dead test runner):
//   node --import tsx tests/scripts/fuzz-native.ts <seed> <runsPerProperty>
// Each property throws hostile arguments at one entry point (wrong types, lengths and shapes,
// NaN/Inf, huge and negative sizes, detached and shared buffers, getters that throw or detach
// other buffers, concurrent calls, use after dispose) and checks that every call either returns
// a well-formed result or throws an Error: with an RNNX_* code from the addon, or the error a
// getter threw. fast-check reports the seed and the shrunk counterexample of a failure; the last
// stdout line is JSON: { seed, cases, outcomes }.
import fc from 'fast-check';
import { dense, gru, lstm, rnn, type LayerSpec } from '../../src/layers/spec.js';
import { Model } from '../../src/model/model.js';
import { native } from '../../src/native.js';

const seed = Number(process.argv[2] ?? 1);
const numRuns = Number(process.argv[3] ?? 100);
const addon = native();
const outcomes: Record<string, number> = {};
let cases = 0;

class GetterError extends Error {}

/** Calls f; a throw must be an Error carrying an RNNX_* code (or a getter's own error). */
function call(name: string, f: () => unknown, codeRequired = true): { ok: boolean; value?: unknown; code?: string } {
  cases++;
  try {
    const value = f();
    outcomes[`${name}:ok`] = (outcomes[`${name}:ok`] ?? 0) + 1;
    return { ok: true, value };
  } catch (e) {
    return classify(name, e, codeRequired);
  }
}

async function callAsync(name: string, f: () => Promise<unknown>): Promise<{ ok: boolean; value?: unknown; code?: string }> {
  cases++;
  try {
    const value = await f();
    outcomes[`${name}:ok`] = (outcomes[`${name}:ok`] ?? 0) + 1;
    return { ok: true, value };
  } catch (e) {
    return classify(name, e, true);
  }
}

function classify(name: string, e: unknown, codeRequired: boolean) {
  if (e instanceof GetterError) {
    outcomes[`${name}:getter`] = (outcomes[`${name}:getter`] ?? 0) + 1;
    return { ok: false, code: 'getter' };
  }
  if (!(e instanceof Error)) throw new Error(`${name} threw a non-Error: ${String(e)}`);
  const code = (e as Error & { code?: unknown }).code;
  if (codeRequired && (typeof code !== 'string' || !/^RNNX_[A-Z_]+$/.test(code))) {
    throw new Error(`${name} threw without an RNNX_ code: ${e.message}\n${e.stack}`);
  }
  if (!e.message) throw new Error(`${name} threw an empty message`);
  const key = `${name}:${typeof code === 'string' ? code : e.name}`;
  outcomes[key] = (outcomes[key] ?? 0) + 1;
  return { ok: false, code: typeof code === 'string' ? code : e.name };
}

// ---- values --------------------------------------------------------------------------------

function detached(n: number): Float32Array {
  const a = new Float32Array(n);
  structuredClone(a.buffer, { transfer: [a.buffer] });
  return a;
}

// Getters that throw on the keys the addon reads (not enumerable, and not on toString/toJSON, so
// that printing a counterexample does not throw).
const READ_KEYS = new Set(['x', 'y', 'batch', 'time', 'lengths', 'type', 'lr', 'delta', 'layers', 'inputSize', 'total', 'offset', 'size', 'kind', 'units', 'loss', 'optimizer', 'threads', 'h', 'c', 'input']);
const throwingGetter = () => Object.defineProperty({}, 'x', { get() { throw new GetterError('getter'); } });

/** Anything at all, biased to what breaks native code. */
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(undefined, null, Number.NaN, Infinity, -Infinity, -1, 0, -0, 0.5, 1.5, 2 ** 31, 2 ** 32 + 1, 2 ** 53, 1e300, -1e300,
    '', 'abc', true, false, [], [1, 2], 1n, Symbol('s')),
  fc.constantFrom('f32', 'f64', 'i32', 'u8', 'detached', 'shared', 'empty', 'fn', 'obj', 'throwing', 'proxy').map((k) => {
    switch (k) {
      case 'f32': return new Float32Array(7).fill(0.5);
      case 'f64': return new Float64Array(5);
      case 'i32': return new Int32Array(3).fill(2);
      case 'u8': return new Uint8Array(16);
      case 'detached': return detached(12);
      case 'shared': return new Float32Array(new SharedArrayBuffer(64));
      case 'empty': return new Float32Array(0);
      case 'fn': return () => 1;
      case 'obj': return { a: 1 };
      case 'throwing': return throwingGetter();
      default: return new Proxy({}, { get(_t, k) { if (typeof k === 'string' && READ_KEYS.has(k)) throw new GetterError('proxy'); return undefined; } });
    }
  }),
  fc.integer({ min: -5, max: 40 }),
  fc.double({ noNaN: false }),
);

// Small networks covering every layer kind and option the parsers read.
const layerSets: LayerSpec[][] = [
  [lstm({ units: 3 }), dense({ units: 2 })],
  [gru({ units: 2, returnSequences: true, direction: 'bidirectional' }), dense({ units: 3, activation: 'softmax' })],
  [rnn({ units: 2, activation: 'relu', returnSequences: true }), lstm({ units: 2, peepholes: true, clip: 1 })],
];
const models = layerSets.map((layers, i) => Model.create({ inputSize: 2, layers }, { seed: i + 1 }));

interface Valid {
  model: Model;
  batch: Record<string, unknown>;
  options: Record<string, unknown>;
}

function validCase(mi: number, N: number, T: number, withLengths: boolean): Valid {
  const model = models[mi];
  const F = model.outputSize;
  const ce = mi === 1;
  const rows = model.returnsSequences ? N * T : N;
  const x = new Float32Array(N * T * 2).map((_, i) => Math.sin(i));
  const y = ce ? new Int32Array(rows).map((_, i) => i % F) : new Float32Array(rows * F).map((_, i) => Math.cos(i));
  const batch: Record<string, unknown> = { x, y, batch: N, time: T };
  if (withLengths) batch.lengths = Int32Array.from({ length: N }, (_, i) => 1 + (i % T));
  return { model, batch, options: { loss: { type: ce ? 'crossentropy' : 'mse' }, optimizer: { type: 'adam' }, threads: 1 } };
}

const validArb = fc.record({ mi: fc.integer({ min: 0, max: 2 }), N: fc.integer({ min: 1, max: 4 }), T: fc.integer({ min: 1, max: 5 }), lengths: fc.boolean() })
  .map(({ mi, N, T, lengths }) => validCase(mi, N, T, lengths));

const BATCH_KEYS = ['x', 'y', 'lengths', 'batch', 'time'];
const OPTION_KEYS = ['loss', 'optimizer', 'clipNorm', 'clipValue', 'l2', 'outputDropout', 'seed', 'tbptt', 'stateful', 'threads', 'device', 'training', 'initialState'];

/** No edit half of the time, so that the valid paths run too. */
function maybe<T>(a: fc.Arbitrary<T[]>): fc.Arbitrary<T[]> {
  return fc.oneof(fc.constant([] as T[]), a);
}

/** A valid case with 0-3 fields of the batch / options replaced by hostile values or mutated. */
const mutated = fc.record({
  v: validArb,
  batchEdits: maybe(fc.array(fc.tuple(fc.constantFrom(...BATCH_KEYS), fc.oneof(hostile, fc.constantFrom('nan-inside', 'short', 'long', 'lengths-0', 'lengths-big', 'label-big', 'detach', 'share'))), { minLength: 1, maxLength: 2 })),
  optionEdits: maybe(fc.array(fc.tuple(fc.constantFrom(...OPTION_KEYS), fc.oneof(hostile, fc.record({ type: fc.oneof(hostile, fc.constantFrom('sgd', 'adam', 'huber', 'mse')), delta: hostile, beta1: hostile, lr: hostile }))), { minLength: 1, maxLength: 2 })),
  specEdit: fc.option(fc.tuple(fc.constantFrom('inputSize', 'units', 'kind', 'direction', 'total', 'offset', 'layers'), hostile), { freq: 4 }),
}).map(({ v, batchEdits, optionEdits, specEdit }) => {
  const batch = { ...v.batch };
  for (const [k, e] of batchEdits) {
    const cur = batch[k];
    if (typeof e === 'string' && ['nan-inside', 'short', 'long', 'lengths-0', 'lengths-big', 'label-big', 'detach', 'share'].includes(e)) {
      if (ArrayBuffer.isView(cur) && cur.byteLength > 0) {  // (0: empty, or detached by an earlier edit)
        const a = cur as Float32Array | Int32Array;
        if (e === 'nan-inside') { const c = a.slice(); c[c.length - 1] = Number.NaN; batch[k] = c; }
        if (e === 'short') batch[k] = a.slice(0, Math.max(0, a.length - 1));
        if (e === 'long') { const c = new (a.constructor as Float32ArrayConstructor)(a.length + 1); c.set(a as Float32Array); batch[k] = c; }
        if (e === 'lengths-0' || e === 'lengths-big' || e === 'label-big') { const c = a.slice(); c[0] = e === 'lengths-0' ? 0 : 1e6; batch[k] = c; }
        if (e === 'detach') { const c = a.slice(); structuredClone(c.buffer, { transfer: [c.buffer] }); batch[k] = c; }
        if (e === 'share') { const c = new (a.constructor as Float32ArrayConstructor)(new SharedArrayBuffer(a.byteLength)); c.set(a as Float32Array); batch[k] = c; }
      } else {
        batch[k] = e;
      }
    } else {
      batch[k] = e;
    }
  }
  const options: Record<string, unknown> = { ...v.options };
  for (const [k, e] of optionEdits) {
    // A valid thread count starts threads: keep fuzzed counts small or invalid.
    options[k] = k === 'threads' && typeof e === 'number' && Number.isInteger(e) && e > 4 && e <= 1024 ? 2 : e;
  }
  let spec: unknown = v.model.spec;
  let layout: unknown = v.model.layout;
  if (specEdit) {
    const [k, e] = specEdit;
    const s = structuredClone(v.model.spec) as unknown as Record<string, unknown> & { layers: Record<string, unknown>[] };
    const l = structuredClone(v.model.layout) as unknown as Record<string, unknown> & { layers: Record<string, Record<string, unknown>>[] };
    if (k === 'inputSize') s.inputSize = e;
    else if (k === 'units' || k === 'kind' || k === 'direction') s.layers[0][k] = e;
    else if (k === 'total') l.total = e;
    else if (k === 'offset') l.layers[0].W = { ...l.layers[0].W, offset: e };
    else s.layers = e as never;
    spec = s;
    layout = l;
  }
  return { model: v.model, spec, layout, batch, options };
});

// ---- properties ----------------------------------------------------------------------------

/** A printable summary (typed arrays by type and length; fast-check's printer throws on detached ones). */
function describe(v: unknown): string {
  return JSON.stringify(v, (_k, x) => ArrayBuffer.isView(x) ? `${x.constructor.name}(${x.byteLength > 0 ? (x as Float32Array).length : 'empty or detached'})`
    : typeof x === 'bigint' || typeof x === 'symbol' || typeof x === 'function' ? String(x) : typeof x === 'number' && !Number.isFinite(x) ? String(x) : x);
}

const finiteArray = (a: unknown) => (a instanceof Float32Array || a instanceof Float64Array) && a.every(Number.isFinite);

function checkResult(name: string, r: { ok: boolean; value?: unknown }) {
  if (!r.ok) return;
  const v = r.value as Record<string, unknown>;
  if (name === 'forward' && !finiteArray(v)) throw new Error('forward returned a non-finite output for finite inputs');
  if (name === 'computeGradients' && (!Number.isFinite(v.loss) || !finiteArray(v.grads))) throw new Error('computeGradients returned non-finite values');
}

async function main() {
  const params = { seed, numRuns, endOnFailure: true, ...(process.env.FUZZ_PATH ? { path: process.env.FUZZ_PATH } : {}) };

  // forward / computeGradients with float32 and float64 params, hostile params too.
  fc.assert(fc.property(mutated, fc.oneof(fc.constant('f32'), fc.constant('f64'), hostile), (m, p) => {
    const P = p === 'f32' ? m.model.params.slice() : p === 'f64' ? Float64Array.from(m.model.params) : p;
    if (process.env.FUZZ_DEBUG) console.error(describe([m.spec === m.model.spec ? 'spec' : m.spec, m.layout === m.model.layout ? 'layout' : m.layout, m.batch, m.options, p]));
    checkResult('forward', call('forward', () => addon.forward(m.spec as never, m.layout as never, P as never, m.batch as never, m.options as never)));
    checkResult('computeGradients', call('computeGradients', () => addon.computeGradients(m.spec as never, m.layout as never, P as never, m.batch as never, m.options as never)));
  }), params);

  // Trainer: construction, every method, sync and async, concurrent calls, use after dispose,
  // the parameter buffer detached between calls.
  await fc.assert(fc.asyncProperty(mutated, fc.array(fc.constantFrom('step', 'stepSync', 'evaluate', 'evaluateSync', 'predict', 'resetStates', 'info', 'dispose', 'concurrent', 'detachParams', 'disposeDuring'), { minLength: 1, maxLength: 5 }), fc.oneof(fc.constant(0.01), hostile), async (m, ops, lr) => {
    const own = m.model.params.slice();
    const made = call('Trainer', () => new addon.Trainer(m.spec as never, m.layout as never, own, { ...m.options, device: 'cpu' } as never));
    if (!made.ok) return;
    const t = made.value as InstanceType<typeof addon.Trainer>;
    for (const op of ops) {
      if (op === 'step') await callAsync('Trainer.step', () => t.step(m.batch as never, lr as never));
      else if (op === 'evaluate') await callAsync('Trainer.evaluate', () => t.evaluate(m.batch as never));
      else if (op === 'stepSync') call('Trainer.stepSync', () => t.stepSync(m.batch as never, lr as never));
      else if (op === 'evaluateSync') call('Trainer.evaluateSync', () => t.evaluateSync(m.batch as never));
      else if (op === 'predict') call('Trainer.predict', () => t.predict(m.batch as never));
      else if (op === 'resetStates') call('Trainer.resetStates', () => t.resetStates());
      else if (op === 'info') call('Trainer.info', () => t.info());
      else if (op === 'dispose') call('Trainer.dispose', () => t.dispose());
      else if (op === 'detachParams') structuredClone(own.buffer, { transfer: [own.buffer] });
      else if (op === 'concurrent') {
        const first = callAsync('Trainer.step', () => t.step(m.batch as never, 0.01));
        const second = call('Trainer.stepSync(concurrent)', () => t.stepSync(m.batch as never, 0.01));
        if (second.ok) throw new Error('stepSync ran while an async step was running');
        await first;
      } else if (op === 'disposeDuring') {
        const p = callAsync('Trainer.step', () => t.step(m.batch as never, 0.01));
        call('Trainer.dispose', () => t.dispose());
        const r = await p;
        if (r.ok) throw new Error('a step whose trainer was disposed while it ran resolved');
      }
    }
    if (own.length > 0 && !own.every(Number.isFinite)) throw new Error('the trainer left a non-finite weight in the parameter buffer');
    t.dispose();
  }), { ...params, numRuns: Math.max(1, Math.round(numRuns / 2)) });

  // The same Trainer on device 'cuda-emulated' (the CUDA backend's code on the CPU): the same
  // inputs, its own methods, the weights kept off the model's buffer until read (syncParams),
  // the buffer written or detached between calls, dispose while a step runs.
  await fc.assert(fc.asyncProperty(mutated, fc.constantFrom<unknown>('float', 'double', 'triple', 1, undefined), fc.array(fc.constantFrom('step', 'stepSync', 'evaluate', 'gradients', 'output', 'getParams', 'syncParams', 'predict', 'writeParams', 'detachParams', 'dispose', 'disposeDuring', 'info'), { maxLength: 5 }), fc.oneof(fc.constant(0.01), hostile), async (m, emulate, ops, lr) => {
    const own = m.model.params.slice();
    const made = call('Trainer(cuda-emulated)', () => new addon.Trainer(m.spec as never, m.layout as never, own, { ...m.options, device: 'cuda-emulated', emulate } as never));
    if (!made.ok) return;
    const t = made.value as InstanceType<typeof addon.Trainer>;
    for (const op of ops) {
      if (op === 'step') await callAsync('Trainer(cuda-emulated).step', () => t.step(m.batch as never, lr as never));
      else if (op === 'stepSync') call('Trainer(cuda-emulated).stepSync', () => t.stepSync(m.batch as never, lr as never));
      else if (op === 'evaluate') await callAsync('Trainer(cuda-emulated).evaluate', () => t.evaluate(m.batch as never));
      else if (op === 'gradients') checkResult('computeGradients', call('Trainer(cuda-emulated).gradients', () => t.gradients(m.batch as never)));
      else if (op === 'output') call('Trainer(cuda-emulated).output', () => t.output());
      else if (op === 'getParams') call('Trainer(cuda-emulated).getParams', () => t.getParams());
      else if (op === 'syncParams') call('Trainer(cuda-emulated).syncParams', () => t.syncParams());
      else if (op === 'predict') call('Trainer(cuda-emulated).predict', () => t.predict(m.batch as never));
      else if (op === 'info') call('Trainer(cuda-emulated).info', () => t.info());
      else if (op === 'writeParams') { if (own.length > 0) own[0] = 0.5; }
      else if (op === 'detachParams') structuredClone(own.buffer, { transfer: [own.buffer] });
      else if (op === 'dispose') call('Trainer(cuda-emulated).dispose', () => t.dispose());
      else if (op === 'disposeDuring') {
        const p = callAsync('Trainer(cuda-emulated).step', () => t.step(m.batch as never, 0.01));
        call('Trainer(cuda-emulated).dispose', () => t.dispose());
        const r = await p;
        if (r.ok) throw new Error('a step whose trainer was disposed while it ran resolved');
      }
    }
    t.dispose();
    if (own.length > 0 && !own.every(Number.isFinite)) throw new Error('the trainer left a non-finite weight in the parameter buffer');
  }), { ...params, numRuns: Math.max(1, Math.round(numRuns / 2)) });

  // The GEMM and thread-pool test exports: small sizes, hostile everything else.
  const small = fc.oneof(fc.integer({ min: 0, max: 6 }), hostile);
  const mat = fc.oneof(fc.integer({ min: 0, max: 40 }).map((n) => new Float32Array(n).fill(0.25)), fc.integer({ min: 0, max: 40 }).map((n) => new Float64Array(n)), hostile);
  fc.assert(fc.property(fc.tuple(fc.oneof(fc.boolean(), hostile), fc.oneof(fc.boolean(), hostile), small, small, small, fc.oneof(fc.double(), hostile), mat, small, mat, small, fc.oneof(fc.double(), hostile), mat, small, fc.oneof(fc.integer({ min: 1, max: 3 }), hostile), fc.oneof(fc.boolean(), hostile)), (args) => {
    call('gemm', () => (addon.gemm as (...a: unknown[]) => void)(...args), false);
    const [ta, tb, M, N, K, , A, lda, B, ldb, , C, ldc, threads, packed] = args;
    // The same sizes with well-formed operands, so that the kernels run too (and the result is checked).
    const dims = [M, N, K].map((d) => (typeof d === 'number' && Number.isInteger(d) && d >= 0 && d <= 6 ? d : 3));
    const [a, b, c] = [new Float32Array(64).fill(1), new Float32Array(64).fill(2), new Float32Array(64)];
    const r = call('gemm', () => addon.gemm(false, false, dims[0], dims[1], dims[2], 1, a, 8, b, 8, 0, c, 8, 1, packed === true), false);
    if (r.ok && dims[0] > 0 && dims[1] > 0 && c[0] !== 2 * dims[2]) throw new Error(`gemm computed ${c[0]}, expected ${2 * dims[2]}`);
    call('gemmTime', () => (addon.gemmTime as (...a: unknown[]) => void)(ta, tb, M, N, K, A, lda, B, ldb, C, ldc, threads, 1, packed), false);
  }), params);
  fc.assert(fc.property(fc.oneof(fc.integer({ min: 1, max: 4 }), hostile), fc.oneof(fc.integer({ min: -50, max: 50 }), hostile), fc.oneof(fc.integer({ min: -50, max: 50 }), hostile), fc.oneof(fc.integer({ min: 1, max: 8 }), hostile), (threads, a, b, c) => {
    call('threadPoolChunks', () => addon.threadPoolChunks(threads as never, a as never, b as never, c as never), false);
    call('threadPoolThrow', () => addon.threadPoolThrow(threads as never, a as never), false);
    call('threadPoolNested', () => addon.threadPoolNested(threads as never, typeof b === 'number' && b > 64 ? 64 : b as never), false);
    call('threadPoolDispatchTime', () => addon.threadPoolDispatchTime(threads as never, typeof c === 'number' && c > 3 ? 3 : c as never), false);
    call('gemmSelectKernel', () => addon.gemmSelectKernel(a as never), false);
  }), params);
  addon.gemmSelectKernel(addon.gemmAvailableKernels()[0]);
  for (const f of ['cpuFeatures', 'gemmKernel', 'cudaInfo', 'gemmKernelName', 'gemmAvailableKernels'] as const) call(f, () => (addon[f] as () => unknown)());

  process.stdout.write(JSON.stringify({ seed, cases, outcomes }) + '\n');
}

await main();
