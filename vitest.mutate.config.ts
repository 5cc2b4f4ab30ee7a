import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// What `npm run mutate` runs against each mutant: the core tests only. They import the TypeScript sources that
// Stryker mutates; the CLI tests spawn the built bundle, which a mutant never reaches, so they could kill nothing.
// They run hermetic, as in `npm test`: a temp HOME, no host DOCKER_HOST, docker context or DOCKMIRROR_*.
const hermetic = fileURLToPath(new URL('packages/core/test/support/hermetic-setup.ts', import.meta.url));

export default defineConfig({
  test: {
    root: 'packages/core',
    include: ['test/**/*.test.ts'],
    setupFiles: [hermetic],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
  },
});
