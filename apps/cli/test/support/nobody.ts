/**
 * Running the built CLI as nobody (uid 65534), the way a user who is not root runs it. The Node running the tests
 * may sit where nobody cannot reach it (Node 24 under root's 0700 home, as .ci/run installs it), so it is
 * hard-linked (copied across file systems) into a temp folder nobody can read. Needs root, as .ci/run runs.
 */
import { spawnSync } from 'node:child_process';
import { chmod, copyFile, link, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnRun, type Run } from './spawn.js';

/** The built CLI. */
const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));

/** setpriv's arguments for nobody with no groups. */
export const AS_NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];

/** A Node that nobody can run, and a function that removes it. Throws, naming the cause, when there is none. */
export async function nodeForNobody(): Promise<{ node: string; remove: () => Promise<void> }> {
  if (process.getuid?.() !== 0) throw new Error('these tests play nobody through setpriv and need root (as .ci/run runs them): run the suite with sudo');
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-nobody-node-'));
  await chmod(dir, 0o755);
  const node = path.join(dir, 'node');
  await link(process.execPath, node).catch(() => copyFile(process.execPath, node));
  await chmod(node, 0o755);
  const check = spawnSync('setpriv', [...AS_NOBODY, node, '-e', 'process.stdout.write(process.version)'], { encoding: 'utf8' });
  if (check.stdout !== process.version) throw new Error(`nobody cannot run ${node}: ${check.stderr || check.error?.message}`);
  return { node, remove: () => rm(dir, { recursive: true, force: true }) };
}

export type { Run } from './spawn.js';

/** Runs `dockmirror <args>` as nobody with exactly `env` (plus NO_COLOR). */
export function dockmirrorAsNobody(node: string, args: string[], env: Record<string, string>): Promise<Run> {
  return spawnRun('setpriv', [...AS_NOBODY, node, BIN, ...args], { env: { PATH: '/usr/bin:/bin', NO_COLOR: '1', ...env } });
}
