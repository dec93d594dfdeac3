// The suite as Stryker runs it (stryker.config.json): every in-process test file. The CLI tests
// that run `rnnx` in a child process are left out: Stryker cannot see what a child process
// covers, so they would only make each run longer.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, mergeConfig } from 'vitest/config';
import base from '../../vitest.config.ts';

export default mergeConfig(base, defineConfig({
  root: resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'),
  test: {
    exclude: ['tests/cli.test.ts', 'tests/cli-*.test.ts', 'tests/serve-signal.test.ts', '**/node_modules/**'],
  },
}));
