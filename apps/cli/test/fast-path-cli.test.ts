// The fast path (src/fast.ts) against oclif, end to end: each command line runs through the built CLI twice, on
// the same files in the same folder, once as it starts by default and once with DOCKMIRROR_NO_FAST_PATH=1 (every
// command through oclif, as before the fast path). Exit code, stdout, stderr and the bytes left in daemon.json
// must be the same, for successes, core's errors (each with its exit code), --json, and the usage errors the fast
// path hands to oclif. No daemon answers here (DOCKER_HOST is a socket nobody listens on); the runs against a
// real dockerd are the other e2e files', which now take the fast path for these commands.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cliEnv, cliHome } from './support/env.js';
import { spawnRun } from './support/spawn.js';

const bin = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'run.js');
const MIRRORS = '{\n  "registry-mirrors": ["https://mirror.gcr.io"],\n  "log-level": "warn"\n}\n';

/** One command line, on a folder holding `daemon.json` (`file`; absent when `undefined`) and `state/`. */
interface Case {
  argv: (dir: string) => string[];
  file?: string | undefined;
  env?: Record<string, string>;
  /** The exit code both paths must give. */
  code: number;
}

const F = (dir: string) => path.join(dir, 'daemon.json');
const S = (dir: string) => path.join(dir, 'state');
const on = (dir: string) => ['--config-file', F(dir), '--state-dir', S(dir)];

const CASES: Record<string, Case> = {
  'mirror list, no live column': { argv: (d) => ['mirror', 'list', '--no-live', ...on(d)], file: MIRRORS, code: 0 },
  'list --json with the live column (no daemon)': { argv: (d) => ['list', '--json', ...on(d)], file: MIRRORS, code: 0 },
  'list of a file that does not exist yet': { argv: (d) => ['list', '--no-live', '--config-file', F(d)], file: undefined, code: 0 },
  'list --engine all with --config-file (a flag conflict)': { argv: (d) => ['mirror', 'list', '--engine', 'all', '--no-live', ...on(d)], file: MIRRORS, code: 2 },
  'list with DOCKMIRROR_CONTENT_TYPE=json': { argv: (d) => ['list', '--no-live', ...on(d)], file: MIRRORS, env: { DOCKMIRROR_CONTENT_TYPE: 'json' }, code: 0 },
  'add, not told': { argv: (d) => ['mirror', 'add', 'http://127.0.0.1:5000', '--apply', 'none', ...on(d)], file: MIRRORS, code: 0 },
  'add --json, --flag=value forms, --no-insecure': {
    argv: (d) => ['add', 'http://127.0.0.1:5000', `--config-file=${F(d)}`, `--state-dir=${S(d)}`, '--apply=none', '--json', '--no-insecure', '--position', 'last'],
    file: MIRRORS,
    code: 0,
  },
  'add a preset, dry run': { argv: (d) => ['add', 'local', '--port', '7999', '--dry-run', ...on(d)], file: MIRRORS, code: 0 },
  'add with the state folder and backups from the environment': {
    argv: (d) => ['add', 'https://m.example', '--apply', 'none', '--config-file', F(d)],
    file: MIRRORS,
    env: { DOCKMIRROR_KEEP_BACKUPS: '2' },
    code: 0,
  },
  'add with a capped --timeout (a note on stderr)': { argv: (d) => ['add', 'http://127.0.0.1:5000', '--timeout', '99999', '--dry-run', ...on(d)], file: MIRRORS, code: 0 },
  'add with no daemon running (written, takes effect when Docker starts)': { argv: (d) => ['add', 'http://127.0.0.1:5000', '--timeout', '1', ...on(d)], file: MIRRORS, code: 0 },
  'add --apply reload when no daemon answers (nothing written)': {
    argv: (d) => ['add', 'http://127.0.0.1:5000', '--apply', 'reload', '--docker-host', 'tcp://127.0.0.1:1', ...on(d)],
    file: MIRRORS,
    code: 5,
  },
  'the same, --json': { argv: (d) => ['add', 'http://127.0.0.1:5000', '--apply', 'reload', '--docker-host', 'tcp://127.0.0.1:1', '--json', ...on(d)], file: MIRRORS, code: 5 },
  'remove, not told': { argv: (d) => ['remove', 'https://mirror.gcr.io', '--apply', 'none', ...on(d)], file: MIRRORS, code: 0 },
  'mirror remove --dry-run --json': { argv: (d) => ['mirror', 'remove', 'https://mirror.gcr.io', '--dry-run', '--json', ...on(d)], file: MIRRORS, code: 0 },
  'remove a mirror the file does not have': { argv: (d) => ['remove', 'https://other.example', '--apply', 'none', ...on(d)], file: MIRRORS, code: 0 },
  'a bad mirror URL': { argv: (d) => ['add', 'ftp://x', ...on(d)], file: MIRRORS, code: 2 },
  'a bad mirror URL, --json': { argv: (d) => ['add', 'ftp://x', '--json', ...on(d)], file: MIRRORS, code: 2 },
  'daemon.json that is not JSON': { argv: (d) => ['add', 'http://127.0.0.1:5000', '--apply', 'none', ...on(d)], file: '{"registry-mirrors": [,]}\n', code: 3 },
  'list of daemon.json that is not JSON': { argv: (d) => ['list', '--no-live', ...on(d)], file: '{\n  "a": 1,\n  "a": 2\n}\n', code: 3 },
  'a config file that is a folder': { argv: (d) => ['list', '--no-live', '--config-file', d], file: MIRRORS, code: 3 },
  status: { argv: (d) => ['status', ...on(d)], file: MIRRORS, code: 0 },
  'status --json': { argv: (d) => ['status', '--json', '--engine', 'docker', ...on(d)], file: MIRRORS, code: 0 },
  // Handed to oclif by the fast path: oclif's own answers.
  'usage: no mirror (oclif reads stdin, then says it is missing)': { argv: (d) => ['add', ...on(d)], file: MIRRORS, code: 2 },
  'usage: an extra argument': { argv: (d) => ['add', 'a', 'b', ...on(d)], file: MIRRORS, code: 2 },
  'usage: an unknown flag': { argv: (d) => ['list', '--bogus', ...on(d)], file: MIRRORS, code: 2 },
  'usage: an unknown flag with --json': { argv: (d) => ['list', '--json', '--bogus', ...on(d)], file: MIRRORS, code: 2 },
  'usage: a value not among the options': { argv: (d) => ['add', 'http://x:1', '--apply', 'sometimes', ...on(d)], file: MIRRORS, code: 2 },
  'usage: a flag given twice': { argv: (d) => ['add', 'http://x:1', '--apply', 'none', '--apply', 'none', ...on(d)], file: MIRRORS, code: 2 },
  'usage: --keep-backups 0': { argv: (d) => ['add', 'http://x:1', '--keep-backups', '0', ...on(d)], file: MIRRORS, code: 2 },
  'usage: a bad DOCKMIRROR_KEEP_BACKUPS': { argv: (d) => ['add', 'http://x:1', '--apply', 'none', ...on(d)], file: MIRRORS, env: { DOCKMIRROR_KEEP_BACKUPS: 'many' }, code: 2 },
  'usage: --timeout 0': { argv: (d) => ['remove', 'http://x:1', '--timeout', '0', ...on(d)], file: MIRRORS, code: 2 },
  'usage: list takes no argument': { argv: (d) => ['mirror', 'list', 'extra', ...on(d)], file: MIRRORS, code: 2 },
  'after --, everything is an argument': { argv: (d) => ['add', ...on(d), '--apply', 'none', '--', 'http://127.0.0.1:5000'], file: MIRRORS, code: 0 },
  help: { argv: () => ['add', '--help'], file: MIRRORS, code: 0 },
};

/** The folder's state after a run, with backup ids (a time and a random part) made comparable. */
function snapshot(dir: string): { file: string | undefined; state: string[] } {
  let file: string | undefined;
  try {
    file = readFileSync(F(dir), 'utf8');
  } catch {
    file = undefined;
  }
  let state: string[] = [];
  try {
    state = (readdirSync(S(dir), { recursive: true }) as string[]).map(normalize).sort();
  } catch {
    // No state folder: nothing was written.
  }
  return { file, state };
}

const normalize = (text: string) => text.replace(/\d{8}T\d{9}Z-[0-9a-f]{6}/g, '<backup-id>');

/** Runs `c` on a fresh copy of its folder, through the fast path or (with `oclif`) through oclif. */
async function runCase(dir: string, c: Case, oclif: boolean) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  if (c.file !== undefined) writeFileSync(F(dir), c.file);
  const env = cliEnv({ DOCKER_HOST: `unix://${dir}/no-daemon.sock`, ...c.env, ...(oclif ? { DOCKMIRROR_NO_FAST_PATH: '1' } : {}) });
  const run = await spawnRun(process.execPath, [bin, ...c.argv(dir)], { env });
  return { code: run.code, stdout: normalize(run.stdout), stderr: normalize(run.stderr), ...snapshot(dir) };
}

describe('the fast path gives what oclif gives', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(name, async () => {
      const dir = path.join(cliHome(), 'case');
      const viaOclif = await runCase(dir, c, true);
      const fast = await runCase(dir, c, false);
      expect(fast).toEqual(viaOclif);
      expect(fast.code, fast.stderr).toBe(c.code);
      // No run may show a stack trace.
      expect(`${fast.stdout}\n${fast.stderr}`).not.toMatch(/^\s+at .+(:\d+:\d+\)?$|\(node:)/m);
    });
  }
});
