// The closing line of .ci/run: counted from vitest's JSON report, never green when a file failed outside its
// tests, a test was skipped, the test command failed, or no test ran at all.
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script, no types
import { summarize, summarizeFile } from './summary.mjs';

const SCRIPT = fileURLToPath(new URL('summary.mjs', import.meta.url));
const VITEST = fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url));

type Status = 'passed' | 'failed' | 'skipped' | 'pending' | 'todo';
const test = (title: string, status: Status) => ({ title, fullName: `d ${title}`, status, failureMessages: [] });
const file = (name: string, status: 'passed' | 'failed', tests: ReturnType<typeof test>[], message = '') => ({ name, status, message, assertionResults: tests });
const report = (...files: ReturnType<typeof file>[]) => ({ numTotalTests: files.reduce((n, f) => n + f.assertionResults.length, 0), success: true, testResults: files });

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-ci-summary-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('summarize', () => {
  it('a run where every test passed is green, with the counts', () => {
    const r = summarize(report(file('/r/a.test.ts', 'passed', [test('one', 'passed'), test('two', 'passed')]), file('/r/b.test.ts', 'passed', [test('three', 'passed')])));
    expect(r).toMatchObject({ passed: 3, failed: 0, skipped: 0, green: true, problems: [] });
    expect(r.line).toBe('3 passed, 0 failed, 0 skipped, in 2 files');
  });

  it('a file that failed in beforeAll counts its tests as failed, not skipped, and names the file and why', () => {
    const r = summarize(report(
      file('/r/a.test.ts', 'passed', [test('one', 'passed')]),
      file('/r/live.test.ts', 'failed', [test('x', 'skipped'), test('y', 'skipped')], 'Error: dockerd not found: apt-get install docker.io\n    at x'),
    ));
    expect(r).toMatchObject({ passed: 1, failed: 2, notRun: 2, skipped: 0, failedFiles: 1, green: false });
    expect(r.line).toBe('1 passed, 2 failed (2 did not run: their file failed), 0 skipped, in 2 files (1 failed)');
    expect(r.problems).toEqual([expect.stringMatching(/^failed file: .*live\.test\.ts: Error: dockerd not found: apt-get install docker\.io$/)]);
  });

  it('a file that failed to load, with no test in it, is red', () => {
    const r = summarize(report(file('/r/a.test.ts', 'passed', [test('one', 'passed')]), file('/r/broken.test.ts', 'failed', [], 'SyntaxError: x')));
    expect(r).toMatchObject({ passed: 1, failed: 0, failedFiles: 1, green: false });
    expect(r.problems.join('\n')).toMatch(/broken\.test\.ts: SyntaxError: x \(no test ran\)/);
  });

  it('a failed test is red', () => {
    const r = summarize(report(file('/r/a.test.ts', 'failed', [test('one', 'passed'), test('two', 'failed')])));
    expect(r).toMatchObject({ passed: 1, failed: 1, notRun: 0, green: false });
  });

  it('a skip, a todo or a pending test in a passing file is red: the suite has none', () => {
    for (const status of ['skipped', 'pending', 'todo'] as const) {
      const r = summarize(report(file('/r/a.test.ts', 'passed', [test('one', 'passed'), test('later', status)])));
      expect(r).toMatchObject({ passed: 1, failed: 0, skipped: 1, green: false });
      expect(r.problems).toEqual([expect.stringMatching(/^skipped: .*a\.test\.ts > d later$/)]);
    }
  });

  it('ran no test is never green: an empty report, files with no test, a report that is not one', () => {
    for (const empty of [report(), report(file('/r/a.test.ts', 'passed', [])), {}, null]) {
      const r = summarize(empty);
      expect(r.green, JSON.stringify(empty)).toBe(false);
      expect(r.problems).toContain('ran no test: a green run needs at least one test that ran');
    }
  });

  it('a non-zero exit of the test command is red even with a clean report', () => {
    const r = summarize(report(file('/r/a.test.ts', 'passed', [test('one', 'passed')])), 1);
    expect(r).toMatchObject({ passed: 1, green: false, problems: ['the test command exited 1'] });
  });

  it('no report file (the build failed before vitest ran) is red', () => {
    const r = summarizeFile(path.join(dir, 'absent.json'), 2);
    expect(r.green).toBe(false);
    expect(r.problems).toEqual([expect.stringMatching(/^no vitest report at .*absent\.json \(ENOENT\): ran no test$/), 'the test command exited 2']);
  });
});

describe('node .ci/summary.mjs on a report vitest itself wrote', () => {
  // A real vitest run, so a change in vitest's report format shows here and not as a silently green CI.
  async function vitestReport(name: string, files: Record<string, string>): Promise<{ file: string; status: number | null }> {
    const root = path.join(dir, name);
    await mkdir(root);
    await writeFile(path.join(root, 'vitest.config.mjs'), 'export default {};\n');
    for (const [f, text] of Object.entries(files)) await writeFile(path.join(root, f), text);
    const out = path.join(dir, `${name}.json`);
    const run = spawnSync(process.execPath, [VITEST, 'run', '--root', root, '--passWithNoTests', '--reporter=json', `--outputFile.json=${out}`], { encoding: 'utf8', timeout: 50_000 });
    return { file: out, status: run.status };
  }
  const summary = (file: string, status: number | null) => spawnSync(process.execPath, [SCRIPT, file, String(status)], { encoding: 'utf8' });

  it('exits 1 for a file that failed in beforeAll, which vitest reports as 0 failed', async () => {
    const { file: out, status } = await vitestReport('hook', {
      'ok.test.ts': "import { it, expect } from 'vitest';\nit('one', () => expect(1).toBe(1));\n",
      'live.test.ts': "import { beforeAll, it, expect } from 'vitest';\nbeforeAll(() => { throw new Error('dockerd not found'); });\nit('x', () => expect(1).toBe(1));\nit('y', () => expect(1).toBe(1));\n",
    });
    const r = summary(out, 0);
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toContain('ci: 1 passed, 2 failed (2 did not run: their file failed), 0 skipped, in 2 files (1 failed)\n');
    expect(r.stdout).toMatch(/ci: ✗ failed file: .*live\.test\.ts: .*dockerd not found/);
    expect(r.stdout).toMatch(/ci: ✗ red\n$/);
    expect(status).not.toBe(0);
  }, 60_000);

  it('exits 1 when vitest found no test, though vitest itself exits 0', async () => {
    const { file: out, status } = await vitestReport('empty', {});
    expect(status).toBe(0);
    const r = summary(out, status);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('ci: 0 passed, 0 failed, 0 skipped, in 0 files\n');
    expect(r.stdout).toContain('ci: ✗ ran no test');
  }, 60_000);

  it('exits 0 for a run whose tests all passed', async () => {
    const { file: out, status } = await vitestReport('pass', { 'ok.test.ts': "import { it, expect } from 'vitest';\nit('one', () => expect(1).toBe(1));\n" });
    const r = summary(out, status);
    expect(r.stdout).toBe('ci: 1 passed, 0 failed, 0 skipped, in 1 files\nci: ✓ green\n');
    expect(r.status).toBe(0);
  }, 60_000);
});
