// A narrowed suite for one Stryker run: only the test files named in RNNX_MUTATION_TESTS
// (comma-separated paths or globs). Stryker's command line has no option for the vitest config
// file, so point a copy of stryker.config.json at this one ("vitest": {"configFile":
// "scripts/mutation/vitest.narrow.config.ts", "related": false}), save it as
// reports/stryker-narrow.json, then e.g.
//   RNNX_MUTATION_TESTS=tests/graph-finite.test.ts,tests/model-io.test.ts \
//     npx stryker run reports/stryker-narrow.json --mutate src/graph/finite.ts
// The score is then a lower bound (other files might kill more). Written with defineConfig alone:
// vitest's mergeConfig appends to `include` instead of replacing it.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const files = (process.env.RNNX_MUTATION_TESTS ?? '').split(',').map((f) => f.trim()).filter(Boolean);
if (files.length === 0) throw new Error('RNNX_MUTATION_TESTS must name the test files, comma-separated');

export default defineConfig({
  root: resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'),
  test: {
    include: files,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
