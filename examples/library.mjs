// @dockmirror/core from plain JavaScript: add a mirror to a daemon.json of your own, list it, verify it, and roll
// the file back to its exact old bytes. No Docker daemon is told (apply: 'none'), so it runs anywhere, as any user.
//
//   node examples/library.mjs [mirror-url] [daemon.json]
//
// With no daemon.json given it works on one in a new temp folder, and removes that folder at the end. Verify's
// live check fails without a daemon that reads the file; the registry API check passes when the mirror answers.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { addMirror, DockmirrorError, listMirrors, rollback, verifyMirror } from '@dockmirror/core';

const mirror = process.argv[2] ?? 'http://127.0.0.1:5000';
const temp = process.argv[3] ? undefined : await mkdtemp(path.join(tmpdir(), 'dockmirror-example-'));
const configFile = process.argv[3] ?? path.join(temp, 'daemon.json');

try {
  if (temp) await writeFile(configFile, '{\n  "debug": true\n}\n');
  const before = await readFile(configFile);

  const added = await addMirror({ mirror, configFile, apply: 'none' });
  console.log(`added ${added.target.url}: changed ${added.changed}, backup ${added.backup}`);

  const list = await listMirrors({ configFile, live: false });
  console.log(`mirrors: ${list.mirrors.join(', ')}; insecure registries: ${list.insecureRegistries.join(', ') || '(none)'}`);

  // `timeout` is in seconds, as the CLI's --timeout (timeoutMs is the same in milliseconds).
  const report = await verifyMirror({ mirror, configFile, timeout: 2 });
  for (const result of report.results) {
    for (const check of result.checks) console.log(`verify ${check.name}: ${check.ok ? 'ok' : 'failed'}, ${check.summary}`);
  }

  await rollback({ configFile, apply: 'none' });
  const after = await readFile(configFile);
  console.log(`rolled back: ${after.equals(before) ? 'the same bytes as before' : 'DIFFERENT bytes'}`);
  process.exitCode = after.equals(before) ? 0 : 1;
} catch (error) {
  // Every failure dockmirror means is a DockmirrorError: a stable code, a message, and a hint.
  if (!(error instanceof DockmirrorError)) throw error;
  console.error(`${error.code}: ${error.message}${error.hint ? `\n  ${error.hint}` : ''}`);
  process.exitCode = 2;
} finally {
  if (temp) await rm(temp, { recursive: true, force: true });
}
