// The closing line of .ci/run, from vitest's JSON report. Green only when tests ran and every one of them passed:
// vitest counts the tests of a file that failed in beforeAll as skipped ("0 failed, 21 skipped"), a file that
// fails to load has no tests at all, and a run that found no test file reports success. Here every test whose
// status is not "passed" is failed or skipped, a failed file is failed even without a failed test, a skip is not
// green either (the suite has none by rule), and "ran no test" is a failure.
// Usage: node .ci/summary.mjs <report.json> [exit status of the test command]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Counts a vitest JSON report (`--reporter=json`). `exitStatus` is the test command's own status; a non-zero
 * one is never green, whatever the report says.
 * @returns the counts, the closing `line`, the `problems` behind a red result, and whether it is `green`.
 */
export function summarize(report, exitStatus = 0) {
  const files = Array.isArray(report?.testResults) ? report.testResults : [];
  const counts = { passed: 0, failed: 0, skipped: 0, notRun: 0 };
  const problems = [];
  for (const file of files) {
    const name = path.relative(process.cwd(), String(file.name ?? '?'));
    const tests = Array.isArray(file.assertionResults) ? file.assertionResults : [];
    const fileFailed = file.status !== 'passed';
    for (const test of tests) {
      if (test.status === 'passed') counts.passed++;
      else if (test.status === 'failed') counts.failed++;
      // A test that did not run because its file failed (beforeAll, a crash) is a failure, not a skip.
      else if (fileFailed) counts.notRun++;
      else {
        counts.skipped++;
        problems.push(`skipped: ${name} > ${test.fullName ?? test.title}`);
      }
    }
    if (fileFailed) {
      const why = String(file.message ?? '').split('\n')[0] || 'failed outside its tests';
      problems.push(`failed file: ${name}: ${why}${tests.length === 0 ? ' (no test ran)' : ''}`);
    }
  }
  const failedFiles = files.filter((f) => f.status !== 'passed').length;
  const ran = counts.passed + counts.failed;
  if (files.length === 0 || ran === 0) problems.push('ran no test: a green run needs at least one test that ran');
  if (exitStatus !== 0) problems.push(`the test command exited ${exitStatus}`);
  const failed = counts.failed + counts.notRun;
  const line =
    `${counts.passed} passed, ${failed} failed${counts.notRun ? ` (${counts.notRun} did not run: their file failed)` : ''}, ` +
    `${counts.skipped} skipped, in ${files.length} files${failedFiles ? ` (${failedFiles} failed)` : ''}`;
  return { ...counts, failed, failedFiles, files: files.length, line, problems, green: problems.length === 0 };
}

/** Reads the report at `file`; a missing or unreadable one is a red result of its own. */
export function summarizeFile(file, exitStatus = 0) {
  let report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    const problems = [`no vitest report at ${file} (${error.code ?? error.message}): ran no test`];
    if (exitStatus !== 0) problems.push(`the test command exited ${exitStatus}`);
    return { passed: 0, failed: 0, skipped: 0, notRun: 0, failedFiles: 0, files: 0, line: '0 passed, 0 failed, 0 skipped, in 0 files', problems, green: false };
  }
  return summarize(report, exitStatus);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [file, status = '0'] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node .ci/summary.mjs <vitest report.json> [exit status]');
    process.exit(2);
  }
  const result = summarizeFile(file, Number(status));
  console.log(`ci: ${result.line}`);
  for (const problem of result.problems) console.log(`ci: ✗ ${problem}`);
  console.log(result.green ? 'ci: ✓ green' : 'ci: ✗ red');
  process.exit(result.green ? 0 : 1);
}
