import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Native training uses both cores itself; running files in parallel would only fight over them.
    fileParallelism: false,
    pool: 'forks',
  },
});
