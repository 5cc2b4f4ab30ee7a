// `npm run mutate`: mutation testing of the modules that hold dockmirror's guarantees (see the README). Incremental:
// a rerun tests only mutants in code or tests that changed since the last run.
//
// The modules come in groups, one per guarantee. A whole run takes hours on a two-core machine, so
// `MUTATE_GROUP=<name> npm run mutate` runs one group, with its own incremental file and report under
// reports/mutation/<name>/: groups can be run one at a time, in any order, and each rerun stays incremental.

/** The groups: name -> the source files whose mutants it tests. */
export const groups = {
  // the change pipeline, journal, lock and recovery, and rollback
  pipeline: [
    'packages/core/src/change/pipeline.ts',
    'packages/core/src/state/journal.ts',
    'packages/core/src/state/lock.ts',
    'packages/core/src/state/state-folder.ts',
    'packages/core/src/operations/rollback.ts',
  ],
  // apply, confirm and restore; flag-conflict and version checks
  apply: [
    'packages/core/src/daemon/service.ts',
    'packages/core/src/daemon/confirm.ts',
    'packages/core/src/engines/docker/rollout.ts',
    'packages/core/src/engines/docker/apply-as-is.ts',
    'packages/core/src/operations/apply-config.ts',
    'packages/core/src/daemon/conflicts.ts',
  ],
  // verify's pull and image checks, and which mirror served a pull
  verify: [
    'packages/core/src/verify/check-pull.ts',
    'packages/core/src/verify/check-image.ts',
    'packages/core/src/verify/pull-source.ts',
  ],
  // the Engine client: HTTP/1.1 framing, the bounds on what an endpoint sends, reload events and the live view
  'engine-client': [
    'packages/core/src/daemon/http1.ts',
    'packages/core/src/daemon/engine-http.ts',
    'packages/core/src/daemon/registry-config.ts',
  ],
  // daemon discovery and the trust checks: which process reads the file, which paths root may follow and write
  trust: [
    'packages/core/src/daemon/dockerd-process.ts',
    'packages/core/src/engines/docker/discovery.ts',
    'packages/core/src/support/trusted-path.ts',
    'packages/core/src/daemon/socket-proof.ts',
    'packages/core/src/daemon/file-reader.ts',
    'packages/core/src/config/io.ts',
    'packages/core/src/support/atomic-write.ts',
  ],
};

const group = process.env.MUTATE_GROUP;
if (group !== undefined && !(group in groups)) {
  throw new Error(`MUTATE_GROUP=${group} is not a group; the groups are: ${Object.keys(groups).join(', ')}`);
}
const out = group ? `reports/mutation/${group}` : 'reports/mutation';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  // Forks, as in `npm test`: a test may change its process's effective uid for a moment (the owner tests of
  // atomic-write run a chown as nobody), which worker threads do not allow.
  vitest: { configFile: 'vitest.mutate.config.ts', pool: 'forks' },
  checkers: ['typescript'],
  tsconfigFile: 'packages/core/tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: 'perTest',
  incremental: true,
  incrementalFile: `${out}/incremental.json`,
  concurrency: 2,
  // A mutant that turns a wait endless is detected by its timeout; a long one only slows the run down.
  timeoutMS: 5_000,
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  htmlReporter: { fileName: `${out}/index.html` },
  jsonReporter: { fileName: `${out}/mutation.json` },
  thresholds: { high: 90, low: 80, break: null },
  ignoreStatic: true,
  mutate: group ? groups[group] : Object.values(groups).flat(),
};
