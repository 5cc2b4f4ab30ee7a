// Issue 13, the first hour: what a new user trips on, run as they would run it. The built CLI is spawned;
// exit codes, output and file bytes are asserted. Runs as nobody use setpriv (root only, as .ci/run runs).
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv } from './support/env.js';
import { dockmirrorAsNobody, nodeForNobody } from './support/nobody.js';
import { spawnRun } from './support/spawn.js';

const cliDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(cliDir, 'bin', 'run.js');
const NO_DAEMON = 'unix:///nonexistent/dockmirror-test.sock';
const version = (JSON.parse(await readFile(path.join(cliDir, 'package.json'), 'utf8')) as { version: string }).version;

/** Runs a program with the CLI tests' environment (no daemon). */
const runWith = (command: string, args: string[], env: NodeJS.ProcessEnv = cliEnv({ DOCKER_HOST: NO_DAEMON })) => spawnRun(command, args, { env });

const dm = (...args: string[]) => runWith(process.execPath, [bin, ...args]);

let dir = '';
let nobody: Awaited<ReturnType<typeof nodeForNobody>> | undefined;
beforeAll(async () => {
  if (!existsSync(path.join(cliDir, 'oclif.manifest.json'))) throw new Error('Build first: npm run build');
  dir = await mkdtemp(path.join(tmpdir(), 'dm-first-hour-'));
  await chmod(dir, 0o755);
  nobody = await nodeForNobody();
});
afterAll(async () => {
  await nobody?.remove();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A fresh folder in this file's temp folder, readable by everyone (nobody's runs need to reach it). */
async function box(name: string): Promise<string> {
  const b = path.join(dir, name);
  await mkdir(b, { mode: 0o755 });
  await chmod(b, 0o755);
  return b;
}

describe('help and version, as in other CLIs', () => {
  it('help, -h and --help print the same help, listing the commands', async () => {
    const [help, short, long] = await Promise.all([dm('help'), dm('-h'), dm('--help')]);
    for (const run of [help, short, long]) {
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain('USAGE\n  $ dockmirror [COMMAND]');
      for (const id of ['add', 'list', 'remove', 'rollback', 'status', 'help', 'version']) expect(run.stdout).toMatch(new RegExp(`^  ${id}( |$)`, 'm'));
    }
    expect(short.stdout).toBe(long.stdout);
    expect(help.stdout).toBe(long.stdout);
  });

  it('-v, --version and version print the version', async () => {
    for (const run of await Promise.all([dm('-v'), dm('--version'), dm('version')])) {
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`^dockmirror/${version.replaceAll('.', '\\.')} linux-x64 node-v\\d+\\.\\d+\\.\\d+\\n$`));
    }
  });

  it('help <command> shows that command', async () => {
    const run = await dm('help', 'mirror', 'add');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('$ dockmirror mirror add MIRROR');
  });
});

describe('a typo', () => {
  it.each([
    [['ad', 'local'], 'ad', 'add'],
    [['mirror', 'lst'], 'mirror lst', 'mirror list'],
    [['rollbak'], 'rollbak', 'rollback'],
  ])('%j suggests the command meant, exit 2, and runs nothing', async (args, typed, meant) => {
    const file = path.join(await box(`typo-${typed.replace(' ', '-')}`), 'daemon.json');
    const run = await dm(...args, '--config-file', file, '--apply', 'none');
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`✗ "${typed}" is not a dockmirror command. Did you mean "dockmirror ${meant}"?\n  → Run dockmirror help for the list of commands.\n`);
    expect(existsSync(file)).toBe(false);
  });

  it('a word like no command: no guess', async () => {
    const run = await dm('xyzzyq');
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('✗ "xyzzyq" is not a dockmirror command.\n  → Run dockmirror help for the list of commands.\n');
  });
});

describe('dockmirror list', () => {
  it('is mirror list', async () => {
    const file = path.join(await box('list'), 'daemon.json');
    await writeFile(file, '{"registry-mirrors": ["https://a.example"], "insecure-registries": ["10.0.0.0/8"]}\n');
    const [short, long] = await Promise.all([dm('list', '--no-live', '--config-file', file), dm('mirror', 'list', '--no-live', '--config-file', file)]);
    expect(short.code, short.stderr).toBe(0);
    expect(short.stdout).toBe(`${file}\nregistry-mirrors:\n  1. https://a.example\ninsecure-registries:\n  - 10.0.0.0/8\n`);
    expect(short).toEqual(long);
  });
});

describe('a closed pipe', () => {
  it('mirror list | head -1: the first line, then a quiet exit 0', async () => {
    const file = path.join(await box('pipe'), 'daemon.json');
    // More than a pipe holds (64 KiB), so the CLI is still writing when head has gone.
    const mirrors = Array.from({ length: 4000 }, (_, i) => `https://mirror-${i}.example`);
    await writeFile(file, JSON.stringify({ 'registry-mirrors': mirrors }));
    const script = `"${process.execPath}" "${bin}" mirror list --no-live --config-file "${file}" | head -1; echo "exit \${PIPESTATUS[0]}"`;
    const run = await runWith('bash', ['-c', script]);
    expect(run.stdout).toBe(`${file}\nexit 0\n`);
    expect(run.stderr).toBe('');
  });
});

describe('shell completion', () => {
  it('bash offers each command once; a note says dockmirror is not on PATH', async () => {
    const home = await box('completion');
    const env = cliEnv({ HOME: home, XDG_CACHE_HOME: path.join(home, '.cache'), DOCKER_HOST: NO_DAEMON, PATH: '/usr/bin:/bin' });
    const run = await runWith(process.execPath, [bin, 'autocomplete', 'bash'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('! dockmirror is not on your PATH, and completion only works for a command the shell finds there.');
    const functions = path.join(home, '.cache', 'dockmirror', 'autocomplete', 'functions', 'bash', 'dockmirror.bash');
    const complete = async (...words: string[]) => {
      const script = `source '${functions}'; COMP_WORDS=(dockmirror ${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length}; _dockmirror_autocomplete; printf '%s\\n' "\${COMPREPLY[@]}"`;
      return (await runWith('bash', ['-c', script])).stdout.trim().split('\n');
    };
    const top = await complete('');
    expect(top.filter((w) => w === 'mirror')).toEqual(['mirror']);
    expect(new Set(top).size).toBe(top.length);
    expect(top).toEqual(expect.arrayContaining(['add', 'list', 'mirror', 'remove', 'rollback', 'status', 'help', 'version', 'autocomplete']));
    expect(await complete('mirror', '')).toEqual(['add', 'list', 'remove', 'verify']);
  });

  it('no note when dockmirror is on PATH', async () => {
    const home = await box('completion-path');
    const binDir = path.join(home, 'bin');
    await mkdir(binDir);
    await writeFile(path.join(binDir, 'dockmirror'), '#!/bin/sh\n', { mode: 0o755 });
    const env = cliEnv({ HOME: home, XDG_CACHE_HOME: path.join(home, '.cache'), DOCKER_HOST: NO_DAEMON, PATH: `${binDir}:/usr/bin:/bin` });
    const run = await runWith(process.execPath, [bin, 'autocomplete', 'bash'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toContain('not on your PATH');
  });
});

describe('remove of the last mirror', () => {
  it('explains the [] it leaves, and rollback <id of the add> gets the exact old bytes back', async () => {
    const b = await box('remove-last');
    const file = path.join(b, 'daemon.json');
    const original = '{\n  "debug": true\n}\n';
    await writeFile(file, original);
    const flags = ['--config-file', file, '--state-dir', path.join(b, 'state'), '--apply', 'none'];
    const added = await dm('add', 'https://mirror.gcr.io', ...flags, '--json');
    expect(added.code, added.stderr).toBe(0);
    const addId = (JSON.parse(added.stdout) as { backup: string }).backup;
    const removed = await dm('remove', 'https://mirror.gcr.io', ...flags);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toContain('note: "registry-mirrors": [] stays in the file, where the key may have been absent before: a reload applies only\n');
    expect(removed.stdout).toContain(`run dockmirror rollback <id>\n      with the id of that add in dockmirror backups`);
    expect(await readFile(file, 'utf8')).toBe('{\n  "debug": true,\n  "registry-mirrors": []\n}\n');
    const back = await dm('rollback', addId, ...flags);
    expect(back.code, back.stderr).toBe(0);
    expect(await readFile(file, 'utf8')).toBe(original);
  });

  it('no note while mirrors remain', async () => {
    const b = await box('remove-one');
    const file = path.join(b, 'daemon.json');
    await writeFile(file, '{"registry-mirrors": ["https://a.example", "https://b.example"]}\n');
    const run = await dm('remove', 'https://a.example', '--config-file', file, '--state-dir', path.join(b, 'state'), '--apply', 'none');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).not.toContain('note:');
  });
});

describe('a daemon.json folder created by dockmirror', () => {
  it('is 0755 as dockerd\'s packages make /etc/docker; the state folder in it stays 0700', async () => {
    const b = await box('fresh-etc');
    const file = path.join(b, 'etc', 'docker', 'daemon.json');
    const run = await dm('add', 'https://mirror.gcr.io', '--config-file', file, '--apply', 'none');
    expect(run.code, run.stderr).toBe(0);
    expect((await stat(path.join(b, 'etc'))).mode & 0o7777).toBe(0o755);
    expect((await stat(path.join(b, 'etc', 'docker'))).mode & 0o7777).toBe(0o755);
    expect((await stat(path.join(b, 'etc', 'docker', '.dockmirror'))).mode & 0o7777).toBe(0o700);
    expect((await stat(file)).mode & 0o7777).toBe(0o644);
  });
});

describe('read-only commands as a user who is not root', () => {
  let b = '';
  let file = '';
  const original = '{\n  "debug": true\n}\n';
  let written = '';
  beforeAll(async () => {
    // Root's daemon.json (0644) with root's state folder beside it (0700), after a change by root.
    b = await box('read-only');
    file = path.join(b, 'daemon.json');
    await writeFile(file, original, { mode: 0o644 });
    const added = await dm('add', 'http://127.0.0.1:5000', '--config-file', file, '--apply', 'none');
    expect(added.code, added.stderr).toBe(0);
    expect((await stat(path.join(b, '.dockmirror'))).mode & 0o777).toBe(0o700);
    written = await readFile(file, 'utf8');
  });
  const asNobody = (...args: string[]) => dockmirrorAsNobody(nobody!.node, [...args, '--config-file', file], { HOME: path.join(b, 'nobody-home'), DOCKER_HOST: NO_DAEMON });
  const warning = (missing: string) => `! Cannot read dockmirror's state folder ${path.join(b, '.dockmirror')} as uid 65534 (Permission denied: cannot read ${path.join(b, '.dockmirror', 'journal.jsonl')}), so ${missing}. Run it with sudo to see that too.\n`;

  it('mirror list: the file\'s lists, and a warning about what it could not read', async () => {
    const run = await asNobody('mirror', 'list', '--no-live');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe(`${file}\nregistry-mirrors:\n  1. http://127.0.0.1:5000\ninsecure-registries:\n  - 127.0.0.1:5000\n`);
    expect(run.stderr).toBe(warning('which insecure-registries entries dockmirror added is not shown'));
    const json = JSON.parse((await asNobody('mirror', 'list', '--no-live', '--json')).stdout) as { ownedInsecureRegistries: string[]; warnings: string[] };
    expect(json.ownedInsecureRegistries).toEqual([]);
    expect(json.warnings).toHaveLength(1);
  });

  it('backups: exit 0, saying why none can be listed', async () => {
    const run = await asNobody('backups');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(warning('no backups can be listed'));
  });

  it('status: exit 0, the file\'s mirrors, and the state folder it could not read', async () => {
    const run = await asNobody('status');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('mirrors      file: http://127.0.0.1:5000\n');
    expect(run.stdout).toContain(`✗ state folder: Permission denied: cannot read ${path.join(b, '.dockmirror', 'journal.jsonl')}.\n`);
  });

  it('add --dry-run: the diff, with the warning; nothing written', async () => {
    const run = await asNobody('add', 'https://mirror.gcr.io', '--dry-run');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(warning('the dry run counts no insecure-registries entry as added by dockmirror'));
    expect(run.stdout).toContain('+    "https://mirror.gcr.io",\n');
    expect(await readFile(file, 'utf8')).toBe(written);
  });

  it('a real add is still refused (exit 4) with the sudo line, and writes nothing', async () => {
    const run = await asNobody('add', 'https://mirror.gcr.io', '--apply', 'none');
    expect(run.code).toBe(4);
    expect(run.stderr).toContain(`→ Run it again as root: sudo dockmirror add https://mirror.gcr.io --apply none --config-file ${file}`);
    expect(await readFile(file, 'utf8')).toBe(written);
  });
});

describe('the owner of daemon.json', () => {
  it('a user who may write the folder is refused (exit 4) rather than take over root\'s file', async () => {
    const b = await box('owner');
    const folder = path.join(b, 'docker');
    await mkdir(folder, { mode: 0o755 });
    await chown(folder, 65534, 65534);
    const file = path.join(folder, 'daemon.json');
    await writeFile(file, '{}\n', { mode: 0o644 });
    const state = path.join(b, 'state');
    await mkdir(state, { mode: 0o700 });
    await chown(state, 65534, 65534);
    const run = await dockmirrorAsNobody(nobody!.node, ['add', 'https://mirror.gcr.io', '--apply', 'none', '--config-file', file, '--state-dir', state], {
      HOME: path.join(b, 'home'),
      DOCKER_HOST: NO_DAEMON,
    });
    expect(run.code, run.stderr).toBe(4);
    expect(run.stderr).toContain(`✗ Cannot keep the owner of ${file}: it belongs to root, and writing it as uid 65534 would make it yours. Nothing was written.\n`);
    expect(run.stderr).toContain('→ Run it again as root: sudo dockmirror add');
    const info = await stat(file);
    expect([info.uid, info.mode & 0o7777]).toEqual([0, 0o644]);
    expect(await readFile(file, 'utf8')).toBe('{}\n');
    expect(await readdir(folder)).toEqual(['daemon.json']);
  });
});

describe('the permission hint for a file in the home folder', () => {
  async function homeBox(name: string) {
    const home = path.join(await box(name), 'home');
    await mkdir(home, { mode: 0o755 });
    await chown(home, 65534, 65534);
    return home;
  }
  const run = (home: string, file: string) =>
    dockmirrorAsNobody(nobody!.node, ['add', 'https://mirror.gcr.io', '--apply', 'none', '--config-file', file], { HOME: home, DOCKER_HOST: NO_DAEMON });

  it('root\'s file in the user\'s ~/.docker: take it back with chown, not sudo', async () => {
    const home = await homeBox('hint-owner');
    await mkdir(path.join(home, '.docker'), { mode: 0o700 });
    await chown(path.join(home, '.docker'), 65534, 65534);
    const file = path.join(home, '.docker', 'daemon.json');
    await writeFile(file, '{}\n', { mode: 0o644 });
    const r = await run(home, file);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`→ It is in your home folder, so it should be yours: take it back with sudo chown nobody '${file}' rather than running dockmirror with sudo, which would leave it root's.\n`);
    expect(r.stderr).not.toContain('sudo dockmirror');
  });

  it('a ~/.docker folder of root\'s (EACCES on the write): the same hint', async () => {
    const home = await homeBox('hint-folder');
    await mkdir(path.join(home, '.docker'), { mode: 0o755 });
    const file = path.join(home, '.docker', 'daemon.json');
    await writeFile(file, '{}\n', { mode: 0o644 });
    await chown(file, 65534, 65534);
    const r = await run(home, file);
    expect(r.code).toBe(4);
    // The state folder could not be made in root's ~/.docker: that folder is the one to take back.
    expect(r.stderr).toContain(`→ It is in your home folder, so it should be yours: take it back with sudo chown nobody '${path.join(home, '.docker')}'`);
    expect(await readFile(file, 'utf8')).toBe('{}\n');
  });
});

describe("the README's Quick start, as written, from this clone", () => {
  it('its first commands (after npm ci) print the dry run for the pyrsia preset', async () => {
    const readme = await readFile(path.join(cliDir, '..', '..', 'README.md'), 'utf8');
    const block = /## Quick start[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const lines = block.split('\n').map((line) => line.replace(/\s+#.*$/, '').trim());
    expect(lines[0]).toBe('npm ci');
    const [define, dryRun] = [lines[1]!, lines[2]!];
    expect(define).toMatch(/^DM=/);
    expect(dryRun).toBe('$DM add pyrsia --dry-run');
    // The file is named by the environment (the README's commands mean the machine's own daemon.json).
    const file = path.join(await box('quick-start'), 'daemon.json');
    const env = cliEnv({ DOCKER_HOST: NO_DAEMON, DOCKMIRROR_CONFIG_FILE: file, PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin` });
    const child = await spawnRun('bash', ['-c', `set -eu\n${define}\n${dryRun}`], { cwd: path.join(cliDir, '..', '..'), env });
    expect(child.code, child.stderr).toBe(0);
    expect(child.stdout).toContain('pyrsia → http://127.0.0.1:7888\n');
    expect(child.stdout).toContain('+    "http://127.0.0.1:7888"');
    expect(child.stdout).toContain('(dry run: nothing was written)');
    expect(existsSync(file)).toBe(false);
  });
});
