// Crash-capable scenarios of tests/native-buffers.test.ts, run in a child process
// (node --expose-gc --import tsx tests/scripts/buffer-scenarios.ts <scenario> [repeats]): each starts an async
// step, then disposes the trainer or transfers a buffer the step uses, drops every reference,
// forces collections and allocates, and prints one JSON line with how the step settled.
// On a build that writes into or reads from freed memory this dies by a signal (or abort).
import { dense, lstm } from '../../src/layers/spec.js';
import { Model } from '../../src/model/model.js';
import { Trainer } from '../../src/train/index.js';
import { Rng } from '../../src/layers/random.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

const I = 32, H = 192, N = 8, T = 30;  // 1 MB of weights: malloc'ed apart, unmapped when freed

function setup() {
  const model = Model.create({ inputSize: I, layers: [lstm({ units: H }), dense({ units: 1 })] }, { seed: 1 });
  const rng = new Rng(5);
  const x = Float32Array.from({ length: N * T * I }, () => rng.normal() * 0.5);
  const y = Float32Array.from({ length: N }, () => rng.normal());
  const lengths = Int32Array.from({ length: N }, (_, i) => T - (i % 5));
  return { model, batch: { x, y, lengths, batch: N, time: T } };
}

// Item 3's batch: a wide input and per-step targets, so that x and y are large allocations, and a
// small network, so that the step is short.
const B = { I: 96, H: 24, N: 48, T: 100, F: 24 };
function setupBatch() {
  const model = Model.create({ inputSize: B.I, layers: [lstm({ units: B.H, returnSequences: true }), dense({ units: B.F })] }, { seed: 2 });
  const rng = new Rng(6);
  const x = Float32Array.from({ length: B.N * B.T * B.I }, () => rng.normal() * 0.5);
  const y = Float32Array.from({ length: B.N * B.T * B.F }, () => rng.normal());
  const lengths = Int32Array.from({ length: B.N }, (_, i) => B.T - (i % 7));
  return { model, batch: { x, y, lengths, batch: B.N, time: B.T } };
}

// Collections and allocations that reuse whatever memory was just released: blocks of the sizes
// the scenario released, filled with values a step would notice (and some large ones).
// V8 frees array buffer memory on a background sweeper: pause a little after each collection.
async function churn(sizes: number[] = []) {
  const keep: ArrayBuffer[] = [];
  for (let i = 0; i < 6; i++) {
    gc!();
    await new Promise((r) => setTimeout(r, 3));
    for (const bytes of sizes) keep.push(new Float32Array(bytes / 4).fill(1e6 * (i + 1)).buffer);
    const junk = new Float32Array(1 << 20).fill(i + 1);
    junk[0] = 0;
  }
  return keep.length;
}

function settle(p: Promise<{ loss: number }>): Promise<Record<string, unknown>> {
  return p.then(
    (r) => ({ settled: 'resolved', loss: r.loss }),
    (e: Error & { code?: string }) => ({ settled: 'rejected', code: e.code, message: e.message }),
  );
}

async function run(scenario: string): Promise<Record<string, unknown>> {
let out: Record<string, unknown>;
if (scenario === 'dispose') {
  // Item 1: dispose() while the step runs, then drop the model and trainer.
  let s: ReturnType<typeof setup> | null = setup();
  let t: Trainer | null = new Trainer(s.model, { threads: 1 });
  const p = settle(t.step(s.batch, 1e-3));  // handled now: the churn below awaits
  t.dispose();
  t = null;
  s = null;
  await churn();
  out = await p;
} else if (scenario === 'params') {
  // Item 2: the parameter buffer transferred away while the step runs; the new owner dropped.
  const s = setup();
  const t = new Trainer(s.model, { threads: 1 });
  const p = settle(t.step(s.batch, 1e-3));  // handled now: the churn below awaits
  const movedLength = structuredClone(s.model.params.buffer as ArrayBuffer, { transfer: [s.model.params.buffer as ArrayBuffer] }).byteLength;
  await churn();
  out = { ...(await p), movedLength, paramsLength: s.model.params.length };
  t.dispose();
} else if (scenario === 'batch') {
  // Item 3: x, y and lengths transferred away (and collected) while the step runs. The loss must be
  // the one a second trainer computes from an untouched copy of the same batch.
  const s = setupBatch();
  const ref = setupBatch();
  const t = new Trainer(s.model, { threads: 1 });
  const p = settle(t.step(s.batch, 1e-3));  // handled now: the churn below awaits
  const sizes = [s.batch.x, s.batch.y, s.batch.lengths].map((a) => a.byteLength);
  for (const a of [s.batch.x, s.batch.y, s.batch.lengths]) structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
  await churn(sizes);
  out = await p;
  const rt = new Trainer(ref.model, { threads: 1 });
  out.referenceLoss = (await rt.step(ref.batch, 1e-3)).loss;
  out.sameParams = Buffer.from(s.model.params.buffer).equals(Buffer.from(ref.model.params.buffer));
  rt.dispose();
  t.dispose();
} else {
  throw new Error(`unknown scenario ${scenario}`);
}
return out;
}

const repeats = Number(process.argv[3] ?? 1);
for (let i = 0; i < repeats; i++) process.stdout.write(JSON.stringify(await run(process.argv[2])) + '\n');
