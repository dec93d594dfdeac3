// Property-based fuzzing of every native entry point (tests/scripts/fuzz-native.ts), in a child
// process so that a crash fails this test instead of killing the runner. Fixed seeds and a
// bounded number of runs keep it reproducible and fast; a failure prints the seed, and
//   node --import tsx tests/scripts/fuzz-native.ts <seed> <runs>
// replays it (FUZZ_DEBUG=1 prints every case, FUZZ_PATH=<path> replays one).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const SEEDS = [20260101, 9];
const RUNS = 1000;

describe('fuzzing the native entry points', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: ${RUNS} runs per property never crash and every error carries a code`, () => {
      // Under npm run test:sanitize, ASan checks every call, but LeakSanitizer's exit-time scan is off
      // for this child: its stop-the-world tracer crashes on this process (thousands of V8
      // objects with finalizers); the other test files check the same entry points for leaks.
      const env = process.env.RNNX_SANITIZE ? { ...process.env, ASAN_OPTIONS: `${process.env.ASAN_OPTIONS ?? ''}:detect_leaks=0` } : process.env;
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'tests/scripts/fuzz-native.ts', String(seed), String(RUNS)], { encoding: 'utf8', timeout: 170_000, env });
      const what = `fuzz seed ${seed} (replay: node --import tsx tests/scripts/fuzz-native.ts ${seed} ${RUNS}): status ${r.status}, signal ${r.signal}\n${r.stderr.slice(0, 6000)}`;
      expect(r.signal, what).toBeNull();
      expect(r.status, what).toBe(0);
      const report = JSON.parse(r.stdout.trim().split('\n').pop()!) as { seed: number; cases: number; outcomes: Record<string, number> };
      console.log(`fuzz seed ${seed}: ${report.cases} native calls`);
      expect(report.seed).toBe(seed);
      expect(report.cases).toBeGreaterThan(8 * RUNS);
      // The valid paths ran too, not only the refusals.
      for (const k of ['forward:ok', 'computeGradients:ok', 'Trainer.step:ok', 'Trainer.stepSync:ok', 'Trainer(cuda-emulated).step:ok', 'Trainer(cuda-emulated).gradients:ok', 'gemm:ok']) {
        expect(report.outcomes[k] ?? 0, k).toBeGreaterThan(0);
      }
      for (const k of ['RNNX_INVALID_ARGUMENT', 'RNNX_DETACHED', 'RNNX_INVALID_STATE']) {
        expect(Object.keys(report.outcomes).some((o) => o.endsWith(`:${k}`)), k).toBe(true);
      }
    });
  }
});
