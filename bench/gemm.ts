// `npm run bench -- gemm [--rounds N] [--threads N] [--kernels avx512,avx2,portable] [--cases step_fwd,dW]`
//
// Float GEMM throughput (GFLOP/s) of every kernel this CPU can run, on the products that dominate
// the LSTM N=64 T=100 I=64 H=256 training step, next to ONNX Runtime's own Gemm on the same shape
// and transposition with the same thread count, measured in the same run:
//   step_fwd    h·Rᵀ      [64,256]×[1024,256]ᵀ     (every time step, forward)
//   step_bwd    dG·R      [64,1024]×[1024,256]     (every time step, backward)
//   input_proj  X·Wᵀ      [6400,64]×[1024,64]ᵀ     (all steps at once)
//   dW          dGᵀ·X     [6400,1024]ᵀ×[6400,64]   (weight gradient over all steps)
//   dR          dGᵀ·Hprev [6400,1024]ᵀ×[6400,256]
// and the same five for the big LSTM N=256 T=100 I=128 H=512 (big_*; the per-step ones on a
// 128-row block, what each of 2 threads multiplies).
// The per-step cases also run "packed": R packed once (PackedB) as the trainer does, against
// ONNX Runtime with B as a constant initializer (which it pre-packs too).
// Ours is timed inside the addon (gemmTime); ONNX Runtime per session.run of a graph holding r
// copies of the node (r chosen so one run is about a millisecond of work), divided by r, so its
// per-run overhead is amortised. Each side keeps its best of --rounds rounds (rounds alternate
// sides; the machine is shared, so the best round is the least disturbed one).
// Writes bench-results/gemm.json records {name, value, unit, reference, referenceValue, ratio}.

import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { GraphBuilder, onnx, type Value } from '../src/graph/builder.js';
import { Rng } from '../src/layers/random.js';
import { nativeGemm } from '../src/native.js';
import { median, printTable, round2, round3, writeResults, type BenchRecord } from './report.js';

interface Case {
  id: string;
  what: string;
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  packed: boolean;
}

const CASES: Case[] = [
  { id: 'step_fwd', what: 'h·Rᵀ', transA: false, transB: true, M: 64, N: 1024, K: 256, packed: false },
  { id: 'step_fwd_packed', what: 'h·Rᵀ, R packed', transA: false, transB: true, M: 64, N: 1024, K: 256, packed: true },
  { id: 'step_bwd', what: 'dG·R', transA: false, transB: false, M: 64, N: 256, K: 1024, packed: false },
  { id: 'step_bwd_packed', what: 'dG·R, R packed', transA: false, transB: false, M: 64, N: 256, K: 1024, packed: true },
  { id: 'input_proj', what: 'X·Wᵀ', transA: false, transB: true, M: 6400, N: 1024, K: 64, packed: false },
  { id: 'dW', what: 'dGᵀ·X', transA: true, transB: false, M: 1024, N: 64, K: 6400, packed: false },
  { id: 'dR', what: 'dGᵀ·Hprev', transA: true, transB: false, M: 1024, N: 256, K: 6400, packed: false },
  // LSTM N=256 T=100 I=128 H=512: per-step products on one thread's block of 128 rows.
  { id: 'big_step_fwd', what: 'h·Rᵀ, R packed', transA: false, transB: true, M: 128, N: 2048, K: 512, packed: true },
  { id: 'big_step_bwd', what: 'dG·R, R packed', transA: false, transB: false, M: 128, N: 512, K: 2048, packed: true },
  { id: 'big_input_proj', what: 'X·Wᵀ', transA: false, transB: true, M: 25600, N: 2048, K: 128, packed: false },
  { id: 'big_dW', what: 'dGᵀ·X', transA: true, transB: false, M: 2048, N: 128, K: 25600, packed: false },
  { id: 'big_dR', what: 'dGᵀ·Hprev', transA: true, transB: false, M: 2048, N: 512, K: 25600, packed: false },
];

function randomArray(n: number, rng: Rng): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.range(-1, 1);
  return a;
}

// A graph with `copies` independent Gemm nodes on the same operands (optimisation off, so they
// are not merged): one run does `copies` products.
async function ortSession(ort: typeof import('onnxruntime-node'), c: Case, copies: number, B: Float32Array, threads: number) {
  const g = new GraphBuilder();
  const a = g.input('A', 'float', c.transA ? [c.K, c.M] : [c.M, c.K]);
  const bDims = c.transB ? [c.N, c.K] : [c.K, c.N];
  const b: Value = c.packed ? g.floatInitializer('B', B, bDims) : g.input('B', 'float', bDims);
  for (let r = 0; r < copies; r++) {
    const [y] = g.node('Gemm', [a, b], [{ elemType: 'float', shape: [c.M, c.N] }], {
      transA: { int: c.transA ? 1 : 0 },
      transB: { int: c.transB ? 1 : 0 },
    });
    g.output(y!, `Y${r}`, [c.M, c.N]);
  }
  const bytes = onnx.ModelProto.encode(g.build({ opset: 14 })).finish();
  return ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'disabled',
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      rounds: { type: 'string', default: '7' },
      threads: { type: 'string', default: '2' },
      kernels: { type: 'string' },
      cases: { type: 'string' },
    },
    allowPositionals: false,
  });
  const rounds = Number(values.rounds);
  const threads = Number(values.threads);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got ${values.rounds}`);
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`--threads must be a positive integer, got ${values.threads}`);

  const addon = nativeGemm();
  const ort = await import('onnxruntime-node');
  const best = addon.gemmKernelName();
  const available = addon.gemmAvailableKernels();
  const kernels = values.kernels ? values.kernels.split(',') : available;
  for (const k of kernels) {
    if (!available.includes(k)) throw new Error(`--kernels: ${k} is not available on this CPU (available: ${available.join(', ')})`);
  }
  const cases = values.cases ? CASES.filter((c) => values.cases!.split(',').includes(c.id)) : CASES;
  if (cases.length === 0) throw new Error(`--cases matched nothing; known: ${CASES.map((c) => c.id).join(', ')}`);

  const records: BenchRecord[] = [];
  const rows: string[][] = [];
  const rng = new Rng(7);
  const targetSeconds = 0.06; // per round and side
  try {
    for (const c of cases) {
      const flop = 2 * c.M * c.N * c.K;
      const A = randomArray(c.M * c.K, rng);
      const B = randomArray(c.K * c.N, rng);
      const C = new Float32Array(c.M * c.N);
      const lda = c.transA ? c.M : c.K;
      const ldb = c.transB ? c.K : c.N;
      const copies = Math.max(1, Math.round(2e8 / flop));
      const session = await ortSession(ort, c, copies, B, threads);
      const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
        A: new ort.Tensor('float32', A, c.transA ? [c.K, c.M] : [c.M, c.K]),
      };
      if (!c.packed) feeds.B = new ort.Tensor('float32', B, c.transB ? [c.N, c.K] : [c.K, c.N]);
      const fetches: Record<string, InstanceType<typeof ort.Tensor>> = {};
      for (let r = 0; r < copies; r++) fetches[`Y${r}`] = new ort.Tensor('float32', new Float32Array(c.M * c.N), [c.M, c.N]);

      // Warm up both sides (first runs allocate, pack, spin up threads) and size the loops.
      const t0 = performance.now();
      await session.run(feeds, fetches);
      const ortRuns = Math.max(2, Math.ceil(targetSeconds / Math.max(1e-6, (performance.now() - t0) / 1000)));
      const ours = new Map<string, { reps: number; best: number }>();
      for (const k of kernels) {
        addon.gemmSelectKernel(k);
        const t = addon.gemmTime(c.transA, c.transB, c.M, c.N, c.K, A, lda, B, ldb, C, c.N, threads, 2, c.packed);
        ours.set(k, { reps: Math.max(2, Math.ceil(targetSeconds / Math.max(1e-7, t[1]))), best: Infinity });
      }
      let ortBest = Infinity;
      for (let round = 0; round < rounds; round++) {
        const s = performance.now();
        for (let i = 0; i < ortRuns; i++) await session.run(feeds, fetches);
        ortBest = Math.min(ortBest, (performance.now() - s) / 1000 / (ortRuns * copies));
        await sleep(50); // let ONNX Runtime's spinning workers settle before timing ours
        // Rotate the kernel order so none always runs first after ONNX Runtime.
        for (let j = 0; j < kernels.length; j++) {
          const k = kernels[(j + round) % kernels.length];
          addon.gemmSelectKernel(k);
          const o = ours.get(k)!;
          const times = addon.gemmTime(c.transA, c.transB, c.M, c.N, c.K, A, lda, B, ldb, C, c.N, threads, o.reps, c.packed);
          o.best = Math.min(o.best, times.reduce((a, b) => a + b, 0) / times.length);
        }
      }
      await session.release();
      const refName = `onnxruntime Gemm${c.packed ? ' (B constant, pre-packed)' : ''}, ${threads} thread${threads > 1 ? 's' : ''}`;
      const refGflops = flop / ortBest / 1e9;
      for (const k of kernels) {
        const gflops = flop / ours.get(k)!.best / 1e9;
        records.push({
          name: `gemm.${c.id}.${k}.t${threads}`,
          value: round2(gflops),
          unit: 'GFLOP/s',
          reference: refName,
          referenceValue: round2(refGflops),
          ratio: round3(gflops / refGflops),
        });
        rows.push([c.id, `${c.M}x${c.N}x${c.K}`, c.what, k, gflops.toFixed(1), refGflops.toFixed(1), (gflops / refGflops).toFixed(2)]);
      }
    }

    // Thread-pool dispatch: a ParallelFor with a trivial body, median of many.
    addon.threadPoolDispatchTime(threads, 1000);
    const dispatch = median(Array.from(addon.threadPoolDispatchTime(threads, 20000))) * 1e6;
    records.push({ name: `threadpool.dispatch.t${threads}`, value: round3(dispatch), unit: 'us (median)', reference: null, referenceValue: null, ratio: null });
    rows.push(['dispatch', '-', 'ParallelFor, empty body', `${threads} threads`, `${dispatch.toFixed(2)} us`, '-', '-']);
  } finally {
    addon.gemmSelectKernel(best);
  }

  console.log(`gemm: kernels ${kernels.join(', ')} (default ${best}), ${threads} threads, best of ${rounds} rounds`);
  printTable(['case', 'MxNxK', 'product', 'kernel', 'GFLOP/s', 'ORT GFLOP/s', 'ratio'], rows);
  writeResults('gemm', records);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await run(process.argv.slice(2));
}
