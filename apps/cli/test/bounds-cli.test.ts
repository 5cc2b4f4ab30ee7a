// Hostile or broken inputs end in a documented exit code, never exit 1 and never a hang: a deep daemon.json is
// edited (up to 1,000 levels) or refused with exit 3 and its bytes untouched; a presets file that is a FIFO or
// a link to /dev/zero is exit 3 at once; a numeric flag out of range or not a number is exit 2.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockmirror } from './verify-helpers.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-bounds-cli-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const NO_DAEMON = { DOCKER_HOST: 'unix:///nonexistent/dockmirror-test.sock' };

async function box(name: string) {
  const root = path.join(dir, name);
  await mkdir(path.join(root, 'config', 'dockmirror'), { recursive: true });
  const file = path.join(root, 'daemon.json');
  const env = { ...NO_DAEMON, HOME: root, XDG_CONFIG_HOME: path.join(root, 'config'), PATH: '/usr/bin:/bin' };
  const run = async (args: string[]) => {
    const result = await dockmirror([...args, '--config-file', file, '--state-dir', path.join(root, 'state')], env);
    expect(`${result.stdout}${result.stderr}`).not.toMatch(/Unexpected error|Maximum call stack|^\s+at /m);
    return result;
  };
  return { root, file, presets: path.join(root, 'config', 'dockmirror', 'presets.json'), run };
}

describe('a deep daemon.json', () => {
  const deep = (levels: number) => `{\n  "deep": ${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}\n}\n`;

  it('1,000 levels: added to like any other file (exit 0)', async () => {
    const b = await box('deep-1000');
    await writeFile(b.file, deep(1000));
    const run = await b.run(['mirror', 'add', 'https://mirror.example', '--apply', 'none']);
    expect(run.code, run.stderr).toBe(0);
    expect(await readFile(b.file, 'utf8')).toContain('"registry-mirrors": [\n    "https://mirror.example"\n  ]');
  });

  it.each([
    [5_000, 1001, 'nested deeper than 1000 levels'],
    [10_000, 1001, 'nested deeper than 1000 levels'],
    [10_001, 10_001, 'nested deeper than 10000 levels (dockerd refuses it too)'],
  ])('%i levels: exit 3 naming the first bracket too deep, bytes untouched', async (levels, firstBad, message) => {
    const b = await box(`deep-${levels}`);
    const text = deep(levels);
    await writeFile(b.file, text);
    for (const args of [['mirror', 'add', 'https://mirror.example', '--apply', 'none'], ['mirror', 'list', '--no-live'], ['mirror', 'add', 'local', '--dry-run']]) {
      const run = await b.run(args);
      expect(run.code, run.stderr).toBe(3);
      // Line 2 is `  "deep": [[[...`; the root object is level 1, the n-th "[" is level n + 1.
      expect(run.stderr).toContain(`✗ ${b.file}:2:${'  "deep": '.length + firstBad - 1}: ${message}\n`);
      expect(await readFile(b.file, 'utf8')).toBe(text);
    }
    const json = await b.run(['mirror', 'list', '--no-live', '--json']);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'INVALID_CONFIG' } });
  });
});

describe('a presets file that is not a small regular file', () => {
  it('a FIFO: at once a warning naming it, and the built-in presets', async () => {
    const b = await box('fifo');
    execFileSync('mkfifo', [b.presets]);
    const run = await b.run(['presets']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`! The presets file ${b.presets} is not a regular file (a FIFO, a device or a folder). Your presets in it are ignored`);
    expect(run.stdout).toMatch(/^gcr +https:\/\/mirror\.gcr\.io$/m);
  });

  it('a link to /dev/zero: named, for `add <preset>` too, where a user preset is then unknown (exit 2)', async () => {
    const b = await box('zero');
    await symlink('/dev/zero', b.presets);
    for (const [args, code] of [[['presets'], 0], [['mirror', 'add', 'team', '--dry-run'], 2], [['mirror', 'add', 'gcr', '--dry-run'], 0]] as const) {
      const run = await b.run([...args]);
      expect(run.code, run.stderr).toBe(code);
      expect(`${run.stdout}${run.stderr}`).toContain(`${b.presets} is not a regular file`);
    }
  });
});

describe('numeric flags', () => {
  const bad: Array<[string[], string]> = [
    [['mirror', 'add', 'local', '--dry-run', '--timeout', 'abc'], 'timeout'],
    [['mirror', 'add', 'local', '--dry-run', '--timeout', '0'], 'timeout'],
    [['mirror', 'remove', 'local', '--dry-run', '--timeout', '-5'], 'timeout'],
    [['rollback', '--dry-run', '--timeout', '1,5'], 'timeout'],
    [['apply', '--timeout', 'abc'], 'timeout'],
    [['mirror', 'add', 'local', '--dry-run', '--keep-backups', '0'], 'keep-backups'],
    [['mirror', 'add', 'local', '--dry-run', '--keep-backups', 'many'], 'keep-backups'],
    [['mirror', 'add', 'local', '--dry-run', '--port', '65536'], 'port'],
    [['mirror', 'verify', 'local', '--timeout', 'abc'], 'timeout'],
    [['mirror', 'verify', 'local', '--timeout', '-1'], 'timeout'],
    [['mirror', 'verify', 'local', '--timeout', '0'], 'timeout'],
    [['mirror', 'verify', 'local', '--timeout', 'Infinity'], 'timeout'],
    [['mirror', 'verify', 'local', '--timeout', 'NaN'], 'timeout'],
  ];
  // Issue 10: a huge timeout is a typo or "wait forever", not a bug or a usage error: capped, with a note.
  it.each([[['mirror', 'add', 'local', '--dry-run', '--timeout', '99999999999']], [['mirror', 'add', 'local', '--dry-run', '--timeout', '1e10']]])(
    '%j is capped at 3600 s with a note on stderr',
    async (args) => {
      const b = await box(`cap-${args.join('-').replace(/[^\w-]/g, '_')}`);
      const run = await b.run(args);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toContain(`! --timeout ${args.at(-1)} is more than 3600 s; waiting at most 3600 s.`);
    },
  );

  it.each(bad)('%j is a usage error (exit 2), with --json too', async (args, flag) => {
    const b = await box(`flag-${args.join('-').replace(/[^\w-]/g, '_')}`);
    const human = await b.run(args);
    expect(human.code, human.stderr).toBe(2);
    expect(human.stderr).toContain(`Parsing --${flag}`);
    const json = await b.run([...args, '--json']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'USAGE' } });
  });
});
