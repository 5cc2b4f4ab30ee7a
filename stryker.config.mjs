// `npm run mutate`: mutation testing of the modules that hold dockmirror's guarantees (see the README). Incremental:
// a rerun tests only mutants in code or tests that changed since the last run (reports/stryker-incremental.json).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.ts' },
  checkers: ['typescript'],
  tsconfigFile: 'packages/core/tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: 'perTest',
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  concurrency: 2,
  timeoutMS: 20_000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 80, break: null },
  ignoreStatic: true,
  mutate: [
    // the change pipeline, journal, lock and recovery
    'packages/core/src/change/*.ts',
    'packages/core/src/operations/rollback.ts',
    'packages/core/src/operations/apply-config.ts',
    'packages/core/src/state/*.ts',
    'packages/core/src/support/*.ts',
    'packages/core/src/config/io.ts',
    // apply, confirm and restore; flag-conflict and version checks; daemon discovery and trust
    'packages/core/src/engines/docker/*.ts',
    'packages/core/src/daemon/service.ts',
    'packages/core/src/daemon/confirm.ts',
    'packages/core/src/daemon/conflicts.ts',
    'packages/core/src/daemon/dockerd-process.ts',
    // verify's pull and image checks, and which mirror served a pull
    'packages/core/src/verify/check-pull.ts',
    'packages/core/src/verify/check-image.ts',
    'packages/core/src/verify/pull-source.ts',
    // mirror URLs judged as dockerd judges them, and who owns an insecure entry
    'packages/core/src/mirror/*.ts',
    // the daemon that reads the file
    'packages/core/src/daemon/file-reader.ts',
    'packages/core/src/daemon/socket-proof.ts',
  ],
};
