import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// What `npm run mutate` runs against each mutant: the core tests only. They import the TypeScript sources that
// Stryker mutates; the CLI tests spawn the built bundle, which a mutant never reaches, so they could kill nothing.
// They run hermetic, as in `npm test`: a temp HOME, no host DOCKER_HOST, docker context or DOCKMIRROR_*.
const hermetic = fileURLToPath(new URL('packages/core/test/support/hermetic-setup.ts', import.meta.url));

// MUTATE_LEAN=1 leaves out the slowest files, the property and oracle tests of the config editors (up to 30 s
// for each mutant they cover): a run then takes far less time, and its score, with fewer tests, is a lower bound.
const lean = process.env.MUTATE_LEAN
  ? [
      'test/config/edit.test.ts',
      'test/config/strict-reader.test.ts',
      'test/engines/podman/registries-oracle.test.ts',
      'test/engines/podman/podman-real.test.ts',
      'test/engines/podman/registries-property.test.ts',
      'test/engines/containerd/hosts-toml.property.test.ts',
      'test/library/types.test.ts',
    ]
  : [];

export default defineConfig({
  test: {
    root: 'packages/core',
    include: ['test/**/*.test.ts'],
    exclude: lean,
    setupFiles: [hermetic],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
  },
});
