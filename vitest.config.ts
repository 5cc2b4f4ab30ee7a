import { defineConfig } from 'vitest/config';

// One vitest run covers every workspace. Real-daemon tests start their own dockerd per file, so files run
// in parallel only as far as the machine's two cores allow.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'core',
          root: 'packages/core',
          include: ['test/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'cli',
          root: 'apps/cli',
          include: ['test/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
    maxWorkers: 2,
  },
});
