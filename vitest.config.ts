import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Every test file runs with a temp HOME and without the host's DOCKER_HOST, docker context or DOCKMIRROR_*.
const hermetic = fileURLToPath(new URL('packages/core/test/support/hermetic-setup.ts', import.meta.url));

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
          setupFiles: [hermetic],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'cli',
          root: 'apps/cli',
          include: ['test/**/*.test.ts'],
          setupFiles: [hermetic],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        // The Ansible collection, driven by real ansible-core (integrations/ansible/test/support/ansible.ts).
        test: {
          name: 'ansible',
          root: 'integrations/ansible',
          include: ['test/**/*.test.ts'],
          setupFiles: [hermetic],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        // .ci/run's closing line (.ci/summary.mjs) decides whether CI is green; it is tested like the rest.
        test: {
          name: 'ci',
          root: '.ci',
          include: ['*.test.ts'],
          setupFiles: [hermetic],
          testTimeout: 60_000,
        },
      },
    ],
    maxWorkers: 2,
  },
});
