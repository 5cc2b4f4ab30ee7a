import { defineConfig } from 'vitest/config';

// What `npm run mutate` runs against each mutant: the core tests only. They import the TypeScript sources that
// Stryker mutates; the CLI tests spawn the built bundle, which a mutant never reaches, so they could kill nothing.
export default defineConfig({
  test: {
    root: 'packages/core',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
  },
});
