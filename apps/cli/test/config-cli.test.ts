import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv } from './support/env.js';

const cliDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = path.resolve(cliDir, '..', '..');
const bin = path.join(cliDir, 'bin', 'run.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A temp home, no DOCKMIRROR_* or Docker setting from the machine running the tests, and no colour. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  // Never reach a real daemon (other test files start some): with --apply none and --no-live none is needed.
  return cliEnv({ DOCKER_HOST: 'unix:///nonexistent/dockmirror-test.sock', ...extra });
}

async function spawnRun(command: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<Run> {
  const run = await new Promise<Run>((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? repoRoot, env: cleanEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  // No output of any command may carry a stack trace.
  expect(`${run.stdout}\n${run.stderr}`).not.toMatch(/^\s+at .+(:\d+:\d+\)?$|\(node:)/m);
  return run;
}

beforeAll(() => {
  if (!existsSync(path.join(cliDir, 'dist', 'commands', 'mirror', 'add.js'))) {
    throw new Error('Build first: npx tsc -p packages/core/tsconfig.json && npx tsc -p apps/cli/tsconfig.json');
  }
});

const sandboxes: string[] = [];
afterAll(() => Promise.all(sandboxes.map((dir) => rm(dir, { recursive: true, force: true }))));

/** A temp daemon.json and state folder for one test (tests run concurrently, so nothing is shared). */
async function sandbox() {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-cli-'));
  // Removed after all tests: with concurrent tests the global onTestFinished may fire for a neighbour.
  sandboxes.push(dir);
  const file = path.join(dir, 'daemon.json');
  const stateDir = path.join(dir, 'state');
  /** Runs the built CLI on this test's daemon.json. */
  const dm = (...args: string[]) => spawnRun(process.execPath, [bin, ...args, '--config-file', file, '--state-dir', stateDir]);
  /** A change that never tells any daemon. */
  const mutate = (...args: string[]) => dm(...args, '--apply', 'none');
  const bytes = () => readFile(file);
  return { dir, file, stateDir, dm, mutate, bytes };
}

describe.concurrent('successful commands', () => {
  it('add: exit 0, says what it did, and writes exactly the expected bytes', async () => {
    const { file, stateDir, dm, mutate, bytes } = await sandbox();
    await writeFile(file, '{\n\t"debug": true\n}');
    const run = await mutate('add', 'http://127.0.0.1:5000/');
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain(`✓ Added http://127.0.0.1:5000 in ${file}\n`);
    expect(run.stdout).toContain('  mirrors: http://127.0.0.1:5000\n');
    expect(run.stdout).toContain('  insecure registries: 127.0.0.1:5000\n');
    expect(run.stdout).toMatch(/ {2}backup: \d{8}T\d+Z-[0-9a-f]{6} \(undo with: dockmirror rollback\)/);
    expect((await bytes()).toString()).toBe(
      '{\n\t"debug": true,\n\t"registry-mirrors": [\n\t\t"http://127.0.0.1:5000"\n\t],\n\t"insecure-registries": [\n\t\t"127.0.0.1:5000"\n\t]\n}',
    );
  });

  it('add of a mirror already there: exit 0, nothing changed, same bytes', async () => {
    const { file, stateDir, dm, mutate, bytes } = await sandbox();
    const text = '{"registry-mirrors": ["https://MIRROR.gcr.io"]}\r\n';
    await writeFile(file, text);
    const run = await mutate('mirror', 'add', 'https://mirror.gcr.io/');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`✓ ${file} already says that; nothing changed.`);
    expect((await bytes()).toString()).toBe(text);
    expect(existsSync(path.join(stateDir, 'backups'))).toBe(false);
  });

  it('add --position last and --no-insecure', async () => {
    const { file, stateDir, dm, mutate, bytes } = await sandbox();
    await writeFile(file, '\uFEFF{ "registry-mirrors": [ "https://a.example" ] }\n');
    expect((await mutate('mirror', 'add', 'http://10.0.0.5:5000', '--position', 'last', '--no-insecure')).code).toBe(0);
    expect((await bytes()).toString()).toBe('\uFEFF{ "registry-mirrors": [ "https://a.example", "http://10.0.0.5:5000" ] }\n');
  });

  it('remove: takes the mirror and the insecure entry dockmirror added, keeps the user\'s', async () => {
    const { file, stateDir, dm, mutate, bytes } = await sandbox();
    await writeFile(file, '{\r\n  "insecure-registries": [\r\n    "10.0.0.0/8"\r\n  ]\r\n}\r\n');
    expect((await mutate('add', 'http://reg.example:5000')).code).toBe(0);
    const run = await mutate('mirror', 'remove', 'HTTP://reg.example:5000/');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`✓ Removed HTTP://reg.example:5000/ in ${file}`);
    expect(run.stdout).toContain('  mirrors: (none)');
    expect((await bytes()).toString()).toBe('{\r\n  "insecure-registries": [\r\n    "10.0.0.0/8"\r\n  ],\r\n  "registry-mirrors": []\r\n}\r\n');
    const again = await mutate('remove', 'http://reg.example:5000');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('nothing changed');
  });

  it('list: the file\'s mirrors and insecure registries, and which entries dockmirror added', async () => {
    const { file, stateDir, dm, mutate, bytes } = await sandbox();
    await writeFile(file, '{"registry-mirrors": ["https://a.example"], "insecure-registries": ["10.0.0.0/8"]}');
    await mutate('add', 'http://127.0.0.1:5000', '--position', 'last');
    const run = await dm('mirror', 'list', '--no-live');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      `${file}\nregistry-mirrors:\n  1. https://a.example\n  2. http://127.0.0.1:5000\ninsecure-registries:\n  - 10.0.0.0/8\n  - 127.0.0.1:5000 (added by dockmirror)\n`,
    );
    const json = await dm('mirror', 'list', '--no-live', '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({
      configFile: file,
      exists: true,
      mirrors: ['https://a.example', 'http://127.0.0.1:5000'],
      insecureRegistries: ['10.0.0.0/8', '127.0.0.1:5000'],
      ownedInsecureRegistries: ['127.0.0.1:5000'],
    });
  });

  it('list of a missing file: empty lists, and the file is not created', async () => {
    const { file, stateDir, dm, mutate, bytes } = await sandbox();
    const run = await dm('mirror', 'list', '--no-live');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${file} (does not exist yet)\nregistry-mirrors:\n  (none)\ninsecure-registries:\n  (none)\n`);
    expect(existsSync(file)).toBe(false);
  });

  it('--json prints the core result', async () => {
    const { file, stateDir, dm, mutate, bytes } = await sandbox();
    await writeFile(file, '{}');
    const run = await mutate('add', 'http://127.0.0.1:5000', '--json');
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(result).toMatchObject({
      changed: true,
      dryRun: false,
      configFile: file,
      stateDir,
      mirrors: ['http://127.0.0.1:5000'],
      insecureRegistries: ['127.0.0.1:5000'],
      warnings: [],
      apply: { method: 'none' },
    });
    expect(result.backup).toMatch(/^\d{8}T\d+Z-[0-9a-f]{6}$/);
    // The diff is computed for dry runs only (it costs tens of ms on a 1 MB file), but the field is always there.
    expect(typeof result.diff).toBe('string');
    const again = JSON.parse((await mutate('add', 'http://127.0.0.1:5000', '--json')).stdout) as Record<string, unknown>;
    expect(again).toMatchObject({ changed: false, backup: null, diff: '' });
  });

  it('--dry-run prints a unified diff and writes nothing, not even state', async () => {
    const { file, stateDir, dm, mutate, bytes } = await sandbox();
    const text = '{\n    "debug": true\n}\n';
    await writeFile(file, text);
    const run = await mutate('add', 'https://mirror.gcr.io', '--dry-run');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`--- ${file}\tbefore\n+++ ${file}\tafter\n@@ -1,3 +1,6 @@\n {\n-    "debug": true\n+    "debug": true,\n+    "registry-mirrors": [\n+        "https://mirror.gcr.io"\n+    ]\n }\n`);
    expect(run.stdout).toContain('(dry run: nothing was written)');
    expect((await bytes()).toString()).toBe(text);
    expect(existsSync(stateDir)).toBe(false);
  });

  it('--dry-run on a missing file creates nothing', async () => {
    const { file, stateDir, dm, mutate, bytes } = await sandbox();
    const run = await mutate('add', 'https://mirror.gcr.io', '--dry-run', '--json');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ changed: true, dryRun: true, backup: null });
    expect(existsSync(file)).toBe(false);
    expect(existsSync(stateDir)).toBe(false);
  });

  it('a mirror with a path is written with a warning', async () => {
    const { file, stateDir, dm, mutate, bytes } = await sandbox();
    const run = await mutate('add', 'https://mirror.example.com/proxy/');
    expect(run.code).toBe(0);
    expect(run.stdout + run.stderr).toMatch(/path.*25\.0/);
    expect(JSON.parse((await bytes()).toString())).toEqual({ 'registry-mirrors': ['https://mirror.example.com/proxy'] });
  });

  it('DOCKMIRROR_CONFIG_FILE picks the file when --config-file is not given', async () => {
    const { file, stateDir, dm, mutate, bytes } = await sandbox();
    const run = await spawnRun(process.execPath, [bin, 'add', 'https://a.example', '--apply', 'none', '--state-dir', stateDir], {
      env: { DOCKMIRROR_CONFIG_FILE: file },
    });
    expect(run.code).toBe(0);
    expect(JSON.parse((await bytes()).toString())).toEqual({ 'registry-mirrors': ['https://a.example'] });
  });
});

describe.concurrent('refusals', () => {
  it.each([
    ['127.0.0.1:5000', /no scheme/],
    ['ftp://mirror.example.com', /unsupported scheme ftp/],
    ['https://user:pw@mirror.example.com', /credentials/],
    ['https://mirror.example.com/?a=1', /query or fragment/],
    ['https://mirror.example.com?', /query or fragment/],
    ['https://mirror.example.com#x', /query or fragment/],
  ])('invalid mirror %s: exit 2, nothing written', async (mirror, why) => {
    const { file, stateDir, dm, mutate, bytes } = await sandbox();
    const text = '{"debug": true}';
    await writeFile(file, text);
    const run = await mutate('add', mirror);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(why);
    expect(run.stderr).toMatch(/^✗ /);
    expect(run.stderr).toContain('→ ');
    expect((await bytes()).toString()).toBe(text);
    expect(existsSync(stateDir)).toBe(false);
  });

  const invalid: Array<[string, string | Buffer, string]> = [
    ['a // comment', '{\n  // note\n  "debug": true\n}\n', '2:3'],
    ['a /* */ comment', '{"debug": /* x */ true}', '1:11'],
    ['a trailing comma in an object', '{\n  "debug": true,\n}\n', '3:1'],
    ['a trailing comma in an array', '{"registry-mirrors": ["https://a.example",]}', '1:43'],
    ['a duplicate key', '{\n  "debug": true,\n  "debug": false\n}\n', '3:3'],
    ['a nested duplicate key', '{"log-opts": {"max-size": "1m", "max-size": "2m"}}', '1:33'],
    ['a root array', '[]', '1:1'],
    ['a root string', '"x"', '1:1'],
    ['a root number', '1', '1:1'],
    ['a root null', 'null', '1:1'],
    ['registry-mirrors not an array', '{"registry-mirrors": "https://a.example"}', '1:22'],
    ['registry-mirrors with a number', '{"registry-mirrors": [1]}', '1:23'],
    ['insecure-registries not an array', '{\n  "insecure-registries": {}\n}', '2:26'],
    ['insecure-registries with a boolean', '{"insecure-registries": ["a:1", true]}', '1:33'],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), '1:7'],
  ];
  it.each(invalid)('%s: exit 3 with file:line:col, nothing written', async (_name, content, position) => {
    const { file, dm, mutate, bytes } = await sandbox();
    await writeFile(file, content);
    const before = await bytes();
    const run = await mutate('add', 'https://a.example');
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`✗ ${file}:${position}: `);
    expect(run.stderr).toMatch(/\n {2}→ \S/);
    const list = await dm('mirror', 'list', '--no-live');
    expect(list.code).toBe(3);
    expect(list.stderr).toContain(`${file}:${position}: `);
    expect((await bytes()).equals(before)).toBe(true);
  });

  it('remove and --dry-run refuse an invalid file the same way', async () => {
    const { file, mutate, bytes } = await sandbox();
    await writeFile(file, '{\n  "registry-mirrors": ["https://a.example"],\n}\n');
    for (const args of [['remove', 'https://a.example'], ['mirror', 'add', 'https://b.example', '--dry-run']]) {
      const run = await mutate(...args);
      expect(run.code).toBe(3);
      expect(run.stderr).toContain(`✗ ${file}:3:1: invalid JSON: property name expected (a trailing comma?)`);
      expect(run.stderr).toContain(`→ Fix ${file} by hand (dockerd would refuse it too), then run dockmirror again.`);
    }
    expect((await bytes()).toString()).toBe('{\n  "registry-mirrors": ["https://a.example"],\n}\n');
  });

  it('--json carries the error with its location', async () => {
    const { file, stateDir, dm, mutate, bytes } = await sandbox();
    await writeFile(file, '{"a": 1,}');
    const run = await mutate('add', 'https://a.example', '--json');
    expect(run.code).toBe(3);
    expect(JSON.parse(run.stdout)).toEqual({
      error: expect.objectContaining({ code: 'INVALID_CONFIG', location: { file, line: 1, column: 9 }, hint: expect.any(String) }),
    });
  });

  it('a directory: exit 3', async () => {
    const { file, stateDir, dm, mutate, bytes } = await sandbox();
    await mkdir(file);
    const run = await mutate('add', 'https://a.example');
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(`✗ ${file} is not a regular file.`);
  });

  it('a FIFO: exit 3, without hanging', async () => {
    const { file, stateDir, dm, mutate, bytes } = await sandbox();
    execFileSync('mkfifo', [file]);
    const run = await mutate('add', 'https://a.example');
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(`✗ ${file} is not a regular file.`);
  }, 10_000);

  it('an immutable file (EPERM): exit 4 with the exact sudo command, nothing written', async () => {
    const { file, stateDir, dm, mutate, bytes } = await sandbox();
    const text = '{\n  "debug": true\n}\n';
    await writeFile(file, text);
    execFileSync('chattr', ['+i', file]);
    try {
      const run = await mutate('mirror', 'add', 'https://a.example', '--position', 'last');
      expect(run.code).toBe(4);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain(`✗ Permission denied: cannot write ${file}.`);
      expect(run.stderr).toContain(
        `→ Run it again as root: sudo dockmirror mirror add https://a.example --position last --apply none --config-file ${file} --state-dir ${stateDir}`,
      );
      expect((await bytes()).toString()).toBe(text);
      const json = await mutate('add', 'https://a.example', '--json');
      expect(json.code).toBe(4);
      expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'PERMISSION', location: { file } } });
    } finally {
      execFileSync('chattr', ['-i', file]);
    }
  });

  it.each([
    [['add'], /Missing 1 required arg/],
    [['add', 'https://a.example', '--bogus'], /Nonexistent flag: --bogus/],
    [['add', 'https://a.example', '--position', 'middle'], /Expected --position=middle to be one of: first, last/],
  ])('bad usage %j: exit 2', async (args, why) => {
    const { file, stateDir, dm, mutate, bytes } = await sandbox();
    const run = await mutate(...args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(why);
    expect(existsSync(file)).toBe(false);
  });
});

describe('the root package', () => {
  it('npx dockmirror runs the built CLI', async () => {
    const run = await spawnRun('npx', ['--no-install', 'dockmirror', '--help'], { cwd: repoRoot });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('$ dockmirror [COMMAND]');
    expect(run.stdout).toMatch(/\n {2}mirror\s/);
    expect(run.stdout).toMatch(/\n {2}add\s/);
  });
});
