// The native GEMM (native/gemm/gemm.cc + per-ISA micro-kernels) against a plain float64 reference
// written here, for every kernel this CPU can run, and the thread pool's documented semantics.
// Needs the addon's GEMM exports (rnnx::registerGemmExports); RNNX_NATIVE_PATH may point at a
// standalone build.
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../src/layers/random.js';
import { nativeGemm } from '../src/native.js';

const addon = nativeGemm();
const bestKernel = addon.gemmKernelName();
const kernels = addon.gemmAvailableKernels();
afterAll(() => addon.gemmSelectKernel(bestKernel));

type Arr = Float32Array | Float64Array;
type Ctor = Float32ArrayConstructor | Float64ArrayConstructor;

interface Case {
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  alpha: number;
  beta: number;
  padA: number;
  padB: number;
  padC: number;
}

function fill(n: number, rng: Rng, ctor: Ctor): Arr {
  const a = new ctor(n);
  for (let i = 0; i < n; i++) a[i] = rng.range(-1, 1);
  return a;
}

/** Operands for a case; C's padding columns hold a sentinel that must survive. */
function operands(c: Case, rng: Rng, ctor: Ctor) {
  const lda = (c.transA ? c.M : c.K) + c.padA;
  const ldb = (c.transB ? c.K : c.N) + c.padB;
  const ldc = c.N + c.padC;
  const A = fill(Math.max(1, (c.transA ? c.K : c.M) * lda), rng, ctor);
  const B = fill(Math.max(1, (c.transB ? c.N : c.K) * ldb), rng, ctor);
  const C = fill(Math.max(1, c.M * ldc), rng, ctor);
  for (let i = 0; i < c.M; i++) for (let j = c.N; j < ldc; j++) C[i * ldc + j] = 12345;
  return { A, B, C, lda, ldb, ldc };
}

/**
 * Checks C against alpha·op(A)·op(B) + beta·C0 computed in float64, within the worst-case
 * rounding bound of a length-K dot product in precision u: (K + 3)·u·(|alpha|·Σ|a·b| + |beta·c0|).
 */
function expectClose(c: Case, A: Arr, lda: number, B: Arr, ldb: number, C0: Arr, C: Arr, ldc: number, u: number, label: string) {
  for (let i = 0; i < c.M; i++) {
    for (let j = 0; j < ldc; j++) {
      const got = C[i * ldc + j];
      if (j >= c.N) {
        if (got !== 12345) throw new Error(`${label}: C[${i},${j}] (padding past N) was overwritten with ${got}`);
        continue;
      }
      let acc = 0;
      let mag = 0;
      for (let k = 0; k < c.K; k++) {
        const a = c.transA ? A[k * lda + i] : A[i * lda + k];
        const b = c.transB ? B[j * ldb + k] : B[k * ldb + j];
        acc += a * b;
        mag += Math.abs(a * b);
      }
      const c0 = C0[i * ldc + j];
      const want = c.alpha * acc + (c.beta === 0 ? 0 : c.beta * c0);
      const bound = (c.K + 3) * u * (Math.abs(c.alpha) * mag + Math.abs(c.beta * c0)) + 1e-300;
      if (!(Math.abs(got - want) <= bound)) {
        throw new Error(`${label}: C[${i},${j}] = ${got}, expected ${want} (error ${Math.abs(got - want)} > bound ${bound})`);
      }
    }
  }
}

// Odd sizes around the register tiles (14×32, 6×16, 4×8), a K past the 256 cache block, and
// N = 1 (the matrix-vector path). Row counts that the driver splits into unequal panels (15 → 8 + 7,
// 16 → 8 + 8, 29 → 10 + 10 + 9 with 14-row tiles) and K not a multiple of 4 (the packer's 4 × 4 blocks).
const SHAPES: [number, number, number][] = [
  [1, 1, 1], [7, 33, 257], [257, 7, 33], [33, 257, 7], [64, 64, 64], [15, 31, 300], [1, 257, 33], [257, 1, 7],
  [14, 32, 1], [29, 65, 513], [300, 1, 41], [16, 40, 70],
];
const SCALARS: [number, number][] = [[1, 0], [-0.75, 1], [0.5, 0.25], [2, -1]];

function cases(): Case[] {
  const out: Case[] = [];
  let n = 0;
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      for (const [M, N, K] of SHAPES) {
        const [alpha, beta] = SCALARS[n % SCALARS.length];
        out.push({ transA, transB, M, N, K, alpha, beta, padA: (n * 3) % 5, padB: (n * 7) % 4, padC: n % 3 });
        n++;
      }
    }
  }
  return out;
}

const name = (c: Case) => `${c.transA ? 'Aᵀ' : 'A'}·${c.transB ? 'Bᵀ' : 'B'} ${c.M}x${c.N}x${c.K} alpha=${c.alpha} beta=${c.beta}`;

describe('gemm kernels', () => {
  it('reports the best kernel the CPU supports', () => {
    expect(kernels).toContain('portable');
    expect(kernels[kernels.length - 1]).toBe('portable');
    expect(bestKernel).toBe(kernels[0]);
    // When the main addon is loaded, its CPUID probe must agree with the dispatch.
    const probe = (addon as unknown as { cpuFeatures?: () => { avx2: boolean; fma: boolean; avx512f: boolean } }).cpuFeatures;
    if (probe) {
      const f = probe();
      expect(kernels.includes('avx512')).toBe(f.avx512f && f.avx2 && f.fma);
      expect(kernels.includes('avx2')).toBe(f.avx2 && f.fma);
    }
  });

  for (const kernel of kernels) {
    it(`float32 ${kernel}: every transposition, odd sizes, strides, alpha/beta, packed B, 1-2 threads`, () => {
      addon.gemmSelectKernel(kernel);
      expect(addon.gemmKernelName()).toBe(kernel);
      const rng = new Rng(11);
      let n = 0;
      for (const c of cases()) {
        for (const packed of [false, true]) {
          const { A, B, C, lda, ldb, ldc } = operands(c, rng, Float32Array);
          const C0 = C.slice();
          const threads = 1 + (n++ % 2);
          addon.gemm(c.transA, c.transB, c.M, c.N, c.K, c.alpha, A, lda, B, ldb, c.beta, C, ldc, threads, packed);
          expectClose(c, A, lda, B, ldb, C0, C, ldc, 2 ** -24, `${kernel} ${name(c)} packed=${packed} threads=${threads}`);
        }
      }
    });
  }

  it('float64 (portable): every transposition, odd sizes, strides, alpha/beta, packed B', () => {
    const rng = new Rng(12);
    let n = 0;
    for (const c of cases()) {
      const { A, B, C, lda, ldb, ldc } = operands(c, rng, Float64Array);
      const C0 = C.slice();
      const threads = 1 + (n % 2);
      const packed = n++ % 3 === 0;
      addon.gemm(c.transA, c.transB, c.M, c.N, c.K, c.alpha, A, lda, B, ldb, c.beta, C, ldc, threads, packed);
      expectClose(c, A, lda, B, ldb, C0, C, ldc, 2 ** -53, `float64 ${name(c)} packed=${packed}`);
    }
  });

  it('handles empty products, K = 0, alpha = 0 and beta = 0 over NaN', () => {
    for (const ctor of [Float32Array, Float64Array] as Ctor[]) {
      const C = new ctor([1, 2, 3, 4, 5, 6]);
      addon.gemm(false, false, 0, 3, 4, 1, new ctor(1), 4, new ctor(12), 3, 0, C, 3);
      addon.gemm(false, false, 2, 0, 4, 1, new ctor(8), 4, new ctor(1), 1, 0, C, 3);
      expect(Array.from(C)).toEqual([1, 2, 3, 4, 5, 6]);
      addon.gemm(false, false, 2, 3, 0, 1, new ctor(1), 1, new ctor(1), 3, 2, C, 3); // K = 0: C = beta·C
      expect(Array.from(C)).toEqual([2, 4, 6, 8, 10, 12]);
      addon.gemm(true, true, 2, 3, 5, 0, new ctor(10), 2, new ctor(15), 5, -1, C, 3); // alpha = 0
      expect(Array.from(C)).toEqual([-2, -4, -6, -8, -10, -12]);
      const nan = new ctor(6).fill(NaN);
      const A = new ctor([1, 2, 3, 4]); // 2x2
      const B = new ctor([1, 0, 1, 0, 1, 1]); // 2x3
      addon.gemm(false, false, 2, 3, 2, 1, A, 2, B, 3, 0, nan, 3, 2);
      expect(Array.from(nan)).toEqual([1, 2, 3, 3, 4, 7]);
    }
  });

  for (const kernel of kernels) {
    it(`float32 ${kernel}: results are bit-identical for 1, 2 and 3 threads and with packed B`, () => {
      addon.gemmSelectKernel(kernel);
      const rng = new Rng(13);
      // The training-step shapes (scaled down where the portable kernel would be slow) and an odd one.
      const shapes: [boolean, boolean, number, number, number][] = [
        [false, true, 64, 1024, 256], [false, false, 64, 256, 1024], [true, false, 448, 64, 700],
        [true, true, 333, 301, 290], [false, true, 1000, 256, 64], [false, false, 3000, 1, 256], [true, false, 256, 1, 3000],
      ];
      for (const [transA, transB, M, N, K] of shapes) {
        const c: Case = { transA, transB, M, N, K, alpha: 0.5, beta: 0.25, padA: 1, padB: 2, padC: 3 };
        const { A, B, C, lda, ldb, ldc } = operands(c, rng, Float32Array);
        const results: Uint32Array[] = [];
        for (const [threads, packed] of [[1, false], [2, false], [3, false], [1, true], [2, true]] as [number, boolean][]) {
          const out = C.slice();
          addon.gemm(transA, transB, M, N, K, c.alpha, A, lda, B, ldb, c.beta, out, ldc, threads, packed);
          results.push(new Uint32Array(out.buffer));
        }
        for (let r = 1; r < results.length; r++) {
          const diff = results[r].findIndex((v, i) => v !== results[0][i]);
          if (diff >= 0) throw new Error(`${kernel} ${name(c)}: run ${r} differs from 1 thread at element ${diff}`);
        }
      }
    });
  }

  it('rejects bad arguments with errors naming them', () => {
    const f32 = (n: number) => new Float32Array(n);
    expect(() => addon.gemm(false, false, 2, 2, 3, 1, f32(6), 2, f32(6), 2, 0, f32(4), 2)).toThrow(/lda must be an integer in \[3, .*got 2/);
    expect(() => addon.gemm(false, false, 2, 2, 3, 1, f32(5), 3, f32(6), 2, 0, f32(4), 2)).toThrow(/A has 5 elements, need at least 6/);
    expect(() => addon.gemm(false, true, 2, 2, 3, 1, f32(6), 3, f32(6), 2, 0, f32(4), 2)).toThrow(/ldb must be an integer in \[3/);
    expect(() => addon.gemm(false, false, 2, 2, 3, 1, f32(6), 3, f32(6), 2, 0, f32(3), 2)).toThrow(/C has 3 elements, need at least 4/);
    expect(() => addon.gemm(false, false, 2, 2, 3, 1, f32(6), 3, new Float64Array(6), 2, 0, f32(4), 2)).toThrow(/A, B and C must all be Float32Array or all Float64Array/);
    expect(() => addon.gemm(false, false, -1, 2, 3, 1, f32(6), 3, f32(6), 2, 0, f32(4), 2)).toThrow(/M must be an integer .*got -1/);
    expect(() => addon.gemm(false, false, 2.5, 2, 3, 1, f32(6), 3, f32(6), 2, 0, f32(4), 2)).toThrow(/M must be an integer .*got 2.5/);
    expect(() => addon.gemm(false, false, 2, 2, 3, NaN, f32(6), 3, f32(6), 2, 0, f32(4), 2)).toThrow(/alpha must be a finite number/);
    expect(() => addon.gemm(false, false, 2, 2, 3, 1, [1, 2] as unknown as Float32Array, 3, f32(6), 2, 0, f32(4), 2)).toThrow(/A must be a Float32Array or Float64Array/);
    expect(() => addon.gemm(false, false, 2, 2, 3, 1, f32(6), 3, f32(6), 2, 0, f32(4), 2, 0)).toThrow(/threads must be an integer in \[1, 256\], got 0/);
    expect(() => addon.gemmSelectKernel('sse9')).toThrow(/kernel "sse9" is not available on this CPU \(available: .*portable\)/);
    expect(addon.gemmKernelName()).toBe(addon.gemmKernelName()); // still usable
  });
});

describe('thread pool', () => {
  // The documented split: chunk i starts at begin + grain·floor(i·G/size), G = ceil((end-begin)/grain).
  function expectedChunks(threads: number, begin: number, end: number, grain: number): number[] {
    const G = Math.ceil((end - begin) / grain);
    const bound = (i: number) => (i >= threads ? end : Math.min(end, begin + grain * Math.floor((i * G) / threads)));
    const out: number[] = [];
    for (let i = 0; i < threads; i++) if (bound(i) < bound(i + 1)) out.push(bound(i), bound(i + 1));
    return out;
  }

  it('splits [begin, end) statically into grain-aligned chunks, each run once', () => {
    for (const [threads, begin, end, grain] of [[2, 0, 10, 3], [2, 0, 1, 1], [3, 5, 100, 7], [2, -7, 9, 4], [4, 0, 3, 1], [1, 0, 50, 8], [2, 0, 1025, 32]]) {
      const { chunks, threadsUsed } = addon.threadPoolChunks(threads, begin, end, grain);
      const want = expectedChunks(threads, begin, end, grain);
      expect(Array.from(chunks)).toEqual(want);
      // Threads claim chunks at run time: a worker the OS has not scheduled yet leaves its chunk
      // to the caller, so anywhere from one thread to one per chunk may have run them.
      expect(threadsUsed).toBeGreaterThanOrEqual(Math.min(1, want.length));
      expect(threadsUsed).toBeLessThanOrEqual(want.length / 2);
    }
    expect(addon.threadPoolChunks(2, 5, 5, 1).chunks.length).toBe(0);
  });

  it('rethrows a worker exception on the caller and stays usable', () => {
    expect(() => addon.threadPoolThrow(2, 1)).toThrow(/failure in chunk 1/);
    expect(() => addon.threadPoolThrow(2, 0)).toThrow(/failure in chunk 0/);
    expect(() => addon.threadPoolThrow(3, 2)).toThrow(/failure in chunk 2/);
  });

  it('runs a nested ParallelFor serially instead of deadlocking', () => {
    expect(addon.threadPoolNested(2, 40)).toBe(1600);
  });
});
