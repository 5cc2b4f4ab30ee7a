/**
 * Attacks on root's dockmirror through its state folder and its writes, and an unkind machine: another user
 * (nobody, through setpriv) prepares folders, symlinks and journals; a 64 KiB tmpfs plays the full disk; a
 * writer truncates daemon.json and pauses. Each test asserts the exit code, that the user's file is intact, and
 * that nothing outside dockmirror's own files was written or deleted.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, mkdtemp, readFile, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cliEnv } from './support/env.js';

const BIN = fileURLToPath(new URL('../bin/run.js', import.meta.url));
const NOBODY = 65534;
const CONFIG = '{\n  "data-root": "/srv/docker",\n  "storage-driver": "overlay2"\n}\n';

let root: string;
let n = 0;
let dir: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'dm-attack-'));
  // nobody must be able to reach the shared folders inside, as on a real machine's /tmp.
  await chmod(root, 0o755);
});
afterAll(() => rm(root, { recursive: true, force: true }));
beforeEach(async () => {
  dir = path.join(root, String(n++));
  await mkdir(dir, { mode: 0o755 });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `dockmirror <args>` on `file` with `--apply none`, as root. */
function add(file: string, mirror: string, extra: string[] = []): Promise<Run> {
  return run(['mirror', 'add', mirror, '--config-file', file, '--apply', 'none', ...extra]);
}

/** Runs a shell snippet as nobody: what any local user can do. */
function asNobody(script: string): void {
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', script], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
}

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** A root-only file elsewhere that an attack would like root to overwrite, leak or delete. */
async function victim(): Promise<{ file: string; check: () => Promise<void> }> {
  const secrets = path.join(dir, 'secrets');
  await mkdir(secrets, { mode: 0o700 });
  const file = path.join(secrets, 'shadow');
  const bytes = Buffer.from('root:$6$secret:19000:0:99999:7:::\n');
  await writeFile(file, bytes, { mode: 0o600 });
  return {
    file,
    check: async () => {
      expect(sha(await readFile(file))).toBe(sha(bytes));
      expect(await readdir(secrets)).toEqual(['shadow']);
    },
  };
}

describe('a state folder another user controls is refused', () => {
  it('a daemon.json in a shared sticky folder: .dockmirror pre-created by nobody, with a symlink to a root-only file', async () => {
    const shared = path.join(dir, 'tmp');
    await mkdir(shared);
    await chmod(shared, 0o1777);
    const file = path.join(shared, 'daemon.json');
    await writeFile(file, CONFIG);
    const target = await victim();
    asNobody(`mkdir -m 755 ${shared}/.dockmirror && ln -s ${target.file} ${shared}/.dockmirror/last-written && ln -s ${target.file} ${shared}/.dockmirror/journal.jsonl`);
    const r = await add(file, 'https://mirror.example');
    expect(r.code, r.stderr).toBe(10);
    expect(r.stderr).toContain(`${shared}/.dockmirror`);
    expect(r.stderr).toContain(`uid ${NOBODY}`);
    expect(await readFile(file, 'utf8')).toBe(CONFIG);
    await target.check();
  });

  it('nobody wins the race for .dockmirror in a sticky folder even when root creates it: still refused', async () => {
    const shared = path.join(dir, 'tmp');
    await mkdir(shared);
    await chmod(shared, 0o1777);
    const file = path.join(shared, 'daemon.json');
    await writeFile(file, CONFIG);
    asNobody(`mkdir -m 777 ${shared}/.dockmirror`);
    const r = await add(file, 'https://mirror.example');
    expect(r.code, r.stderr).toBe(10);
    expect(await readdir(path.join(shared, '.dockmirror'))).toEqual([]);
  });

  it('a folder on the way that nobody may write, and a state folder writable by others, are refused', async () => {
    const file = path.join(dir, 'daemon.json');
    await writeFile(file, CONFIG);
    const open = path.join(dir, 'open');
    await mkdir(open);
    await chown(open, NOBODY, NOBODY);
    let r = await add(file, 'https://mirror.example', ['--state-dir', path.join(open, 'state')]);
    expect(r.code, r.stderr).toBe(10);
    expect(existsSync(path.join(open, 'state'))).toBe(false);
    const loose = path.join(dir, 'loose');
    await mkdir(loose);
    await chmod(loose, 0o777);
    r = await add(file, 'https://mirror.example', ['--state-dir', loose]);
    expect(r.code, r.stderr).toBe(10);
    expect(r.stderr).toContain('mode 777');
    expect(await readdir(loose)).toEqual([]);
    expect(await readFile(file, 'utf8')).toBe(CONFIG);
  });

  it("a daemon.json symlink owned by nobody is not written through, and its folder's trust is checked", async () => {
    const target = await victim();
    const drop = path.join(dir, 'drop');
    await mkdir(drop, { mode: 0o755 });
    const link = path.join(drop, 'daemon.json');
    await symlink(target.file, link);
    await chown(link, NOBODY, NOBODY).catch(() => undefined);
    spawnSync('chown', ['-h', `${NOBODY}:${NOBODY}`, link]);
    expect((await lstat(link)).uid).toBe(NOBODY);
    const r = await add(link, 'https://mirror.example', ['--state-dir', path.join(dir, 'state')]);
    // The victim does not parse as daemon.json (exit 3) or the symlink is refused (exit 10); either way, untouched.
    expect([3, 10]).toContain(r.code);
    await target.check();
    await writeFile(target.file, '{}\n');
    const again = await add(link, 'https://mirror.example', ['--state-dir', path.join(dir, 'state')]);
    expect(again.code, again.stderr).toBe(10);
    expect(again.stderr).toContain('symlink owned by uid 65534');
    expect(await readFile(target.file, 'utf8')).toBe('{}\n');
  });
});

describe('state files are never followed, and their names are never trusted', () => {
  async function changed(): Promise<{ file: string; stateDir: string }> {
    const file = path.join(dir, 'daemon.json');
    const stateDir = path.join(dir, 'state');
    await writeFile(file, CONFIG);
    expect((await add(file, 'https://one.example', ['--state-dir', stateDir])).code).toBe(0);
    return { file, stateDir };
  }

  it('symlinks planted as journal.jsonl or backups/ are refused, and what they point at is untouched', async () => {
    const { file, stateDir } = await changed();
    const target = await victim();
    const before = await readFile(file);
    await rm(path.join(stateDir, 'journal.jsonl'));
    await symlink(target.file, path.join(stateDir, 'journal.jsonl'));
    let r = await add(file, 'https://two.example', ['--state-dir', stateDir]);
    expect(r.code, r.stderr).toBe(10);
    expect((await readFile(file)).equals(before)).toBe(true);
    await rm(path.join(stateDir, 'journal.jsonl'));
    await rm(path.join(stateDir, 'backups'), { recursive: true });
    await symlink(path.dirname(target.file), path.join(stateDir, 'backups'));
    r = await add(file, 'https://two.example', ['--state-dir', stateDir]);
    expect(r.code, r.stderr).toBe(10);
    await target.check();
  });

  it('forged ids (../) in the journal are skipped and set aside, never used as paths; a forged rollback id is refused', async () => {
    const { file, stateDir } = await changed();
    const target = await victim();
    const rel = path.relative(path.join(stateDir, 'backups'), target.file).replace(/\.bak$/, '');
    const forged = { type: 'abort', id: rel };
    const begin = {
      type: 'begin',
      entry: { id: `../../${path.basename(dir)}/secrets/shadow`, op: 'mirror add', args: {}, time: new Date().toISOString(), file, before: { exists: false, sha256: null }, after: { exists: false, sha256: null }, ownedBefore: [], owned: [] },
    };
    await writeFile(path.join(stateDir, 'journal.jsonl'), `${JSON.stringify(begin)}\n${JSON.stringify(forged)}\n`, { flag: 'a' });
    const r = await add(file, 'https://two.example', ['--state-dir', stateDir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('was skipped');
    expect(r.stdout).toContain('journal.rejected');
    await target.check();
    expect(await readFile(path.join(stateDir, 'journal.rejected'), 'utf8')).toContain('secrets/shadow');
    const bad = await run(['rollback', '../../secrets/shadow', '--config-file', file, '--state-dir', stateDir, '--apply', 'none']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('is not a backup id');
    await target.check();
  });

  it('a garbage journal costs no backup: bad lines are reported and kept aside, unknown backups are moved, not deleted', async () => {
    const { file, stateDir } = await changed();
    const backups = await readdir(path.join(stateDir, 'backups'));
    expect(backups).toHaveLength(1);
    await writeFile(path.join(stateDir, 'backups', 'planted.bak'), 'keep me');
    await writeFile(path.join(stateDir, 'journal.jsonl'), `null\n{"type":"begin"}\nnot json\n{"type":"commit","id":"20260101T000000000Z-abcdef"}\n`, { flag: 'a' });
    const r = await add(file, 'https://two.example', ['--state-dir', stateDir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.match(/was skipped/g)).toHaveLength(4);
    expect(r.stdout).toContain('unknown-backups');
    const aside = await readdir(path.join(stateDir, 'unknown-backups'));
    expect(aside).toHaveLength(1);
    expect(await readFile(path.join(stateDir, 'unknown-backups', aside[0]!), 'utf8')).toBe('keep me');
    expect(await readdir(path.join(stateDir, 'backups'))).toEqual(expect.arrayContaining(backups));
    // Both changes are still undoable, one after the other, back to the original bytes.
    for (let i = 0; i < 2; i++) {
      const back = await run(['rollback', '--config-file', file, '--state-dir', stateDir, '--apply', 'none', '--force']);
      expect(back.code, back.stderr).toBe(0);
    }
    expect(await readFile(file, 'utf8')).toContain('https://');
    const history = await run(['backups', '--config-file', file, '--state-dir', stateDir, '--json']);
    expect(history.code).toBe(0);
  });

  it('a backup changed since it was taken is refused by rollback', async () => {
    const { file, stateDir } = await changed();
    const [backup] = await readdir(path.join(stateDir, 'backups'));
    await writeFile(path.join(stateDir, 'backups', backup!), '{"hosts": ["tcp://0.0.0.0:2375"]}\n');
    const before = await readFile(file);
    const r = await run(['rollback', '--config-file', file, '--state-dir', stateDir, '--apply', 'none']);
    expect(r.code, r.stderr).toBe(10);
    expect(r.stderr).toContain('does not hold the bytes');
    expect((await readFile(file)).equals(before)).toBe(true);
  });

  it('a lock that is a folder and a backups/ that is a file are documented refusals, not bugs', async () => {
    const { file, stateDir } = await changed();
    const before = await readFile(file);
    await mkdir(path.join(stateDir, 'lock'));
    let r = await add(file, 'https://two.example', ['--state-dir', stateDir]);
    expect(r.code, r.stderr).toBe(10);
    expect(r.stderr).toContain('is not a regular file (a folder)');
    await rm(path.join(stateDir, 'lock'), { recursive: true });
    await rm(path.join(stateDir, 'backups'), { recursive: true });
    await writeFile(path.join(stateDir, 'backups'), 'x');
    r = await add(file, 'https://two.example', ['--state-dir', stateDir]);
    expect(r.code, r.stderr).toBe(10);
    expect((await readFile(file)).equals(before)).toBe(true);
    expect(await readFile(path.join(stateDir, 'backups'), 'utf8')).toBe('x');
  });

  it('a state folder or daemon.json under /proc fails at once with a documented code', async () => {
    const file = path.join(dir, 'daemon.json');
    await writeFile(file, CONFIG);
    const r = await add(file, 'https://two.example', ['--state-dir', '/proc/dockmirror/state']);
    expect([4, 9, 10]).toContain(r.code);
    const p = await add('/proc/dockmirror/daemon.json', 'https://two.example', ['--state-dir', path.join(dir, 'state')]);
    expect([4, 9, 10]).toContain(p.code);
    expect(await readFile(file, 'utf8')).toBe(CONFIG);
  });
});

describe('a shared state folder', () => {
  it("prunes per file: twenty-five changes to one file keep the other file's only backup", async () => {
    const stateDir = path.join(dir, 'state');
    const a = path.join(dir, 'a.json');
    const b = path.join(dir, 'b.json');
    await writeFile(a, CONFIG);
    await writeFile(b, '{}\n');
    expect((await add(a, 'https://a.example', ['--state-dir', stateDir])).code).toBe(0);
    for (let i = 0; i < 6; i++) expect((await add(b, `https://b${i}.example`, ['--state-dir', stateDir, '--keep-backups', '3'])).code).toBe(0);
    const r = await run(['rollback', '--config-file', a, '--state-dir', stateDir, '--apply', 'none']);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(a, 'utf8')).toBe(CONFIG);
    const listed = JSON.parse((await run(['backups', '--config-file', b, '--state-dir', stateDir, '--json'])).stdout) as { backups: { file: string }[] };
    expect(listed.backups.filter((x) => x.file === b)).toHaveLength(3);
  });
});

describe('an unkind machine', () => {
  let disk: string;
  beforeAll(async () => {
    disk = await mkdtemp(path.join(tmpdir(), 'dm-full-'));
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'tmpfs', disk], { encoding: 'utf8' });
    expect(m.status, `mounting a 64 KiB tmpfs needs root: ${m.stderr}`).toBe(0);
  });
  afterAll(async () => {
    spawnSync('umount', [disk]);
    await rm(disk, { recursive: true, force: true });
  });

  it('a full disk refuses the change (exit 9) and leaves daemon.json byte for byte, with no temp file behind', async () => {
    const file = path.join(disk, 'daemon.json');
    const big = `{\n  "labels": ["${'x'.repeat(30_000)}"]\n}\n`;
    await writeFile(file, big);
    // The backup and journal live off the small disk; the new daemon.json (30 KB) does not fit beside the old one.
    const stateDir = path.join(dir, 'state');
    await writeFile(path.join(disk, 'filler'), Buffer.alloc(64 * 1024 - 30_000 - 16 * 1024));
    const r = await add(file, 'https://mirror.example', ['--state-dir', stateDir]);
    expect(r.code, r.stderr).toBe(9);
    expect(r.stderr).toContain('the disk is full');
    expect(await readFile(file, 'utf8')).toBe(big);
    expect((await readdir(disk)).sort()).toEqual(['daemon.json', 'filler']);
    await rm(path.join(disk, 'filler'));
    const ok = await add(file, 'https://mirror.example', ['--state-dir', stateDir]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(await readFile(file, 'utf8'))['registry-mirrors']).toEqual(['https://mirror.example']);
    await rm(file);
  });

  it('a full disk under the state folder refuses before daemon.json is touched', async () => {
    const file = path.join(dir, 'daemon.json');
    await writeFile(file, CONFIG);
    const stateDir = path.join(disk, 'state');
    await writeFile(path.join(disk, 'filler'), Buffer.alloc(64 * 1024 - 4096));
    const r = await add(file, 'https://mirror.example', ['--state-dir', stateDir]);
    expect(r.code, r.stderr).toBe(9);
    expect(await readFile(file, 'utf8')).toBe(CONFIG);
    await rm(path.join(disk, 'filler'));
    await rm(stateDir, { recursive: true, force: true });
  });

  it('rollback --force restores a daemon.json that no longer parses', async () => {
    const file = path.join(dir, 'daemon.json');
    const stateDir = path.join(dir, 'state');
    await writeFile(file, CONFIG);
    expect((await add(file, 'https://mirror.example', ['--state-dir', stateDir])).code).toBe(0);
    await writeFile(file, '{\n  "data-root": "/srv/do');
    const plain = await run(['rollback', '--config-file', file, '--state-dir', stateDir, '--apply', 'none']);
    expect(plain.code, plain.stderr).toBe(7);
    expect(plain.stderr).toContain('--force');
    const forced = await run(['rollback', '--config-file', file, '--state-dir', stateDir, '--apply', 'none', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(await readFile(file, 'utf8')).toBe(CONFIG);
  });

  it('a writer that truncates, pauses and writes is never read as an empty file', async () => {
    const file = path.join(dir, 'daemon.json');
    const stateDir = path.join(dir, 'state');
    await writeFile(file, CONFIG);
    // Like `cat > daemon.json`: O_TRUNC first, the bytes 400 ms later.
    const writer = spawn(process.execPath, ['-e', `const fs=require('fs');const fd=fs.openSync(${JSON.stringify(file)},'w');setTimeout(()=>{fs.writeSync(fd,${JSON.stringify(CONFIG)});fs.closeSync(fd)},400)`]);
    const written = new Promise((resolve) => writer.on('close', resolve));
    await new Promise((r) => setTimeout(r, 100));
    const r = await add(file, 'https://mirror.example', ['--state-dir', stateDir]);
    await written;
    expect([0, 7]).toContain(r.code);
    const after = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    expect(after['data-root']).toBe('/srv/docker');
    expect(after['storage-driver']).toBe('overlay2');
    if (r.code === 0) expect(after['registry-mirrors']).toEqual(['https://mirror.example']);
    for (const name of await readdir(path.join(stateDir, 'backups'))) {
      expect((await readFile(path.join(stateDir, 'backups', name))).length).toBeGreaterThan(0);
    }
  });

  it('a file left empty where dockmirror last wrote content is refused (exit 7), not edited as {}', async () => {
    const file = path.join(dir, 'daemon.json');
    const stateDir = path.join(dir, 'state');
    await writeFile(file, CONFIG);
    expect((await add(file, 'https://one.example', ['--state-dir', stateDir])).code).toBe(0);
    await writeFile(file, '');
    const old = new Date(Date.now() - 10_000);
    await utimes(file, old, old);
    const r = await add(file, 'https://two.example', ['--state-dir', stateDir]);
    expect(r.code, r.stderr).toBe(7);
    expect(r.stderr).toContain('is empty');
    expect(await readFile(file, 'utf8')).toBe('');
    const back = await run(['rollback', '--config-file', file, '--state-dir', stateDir, '--apply', 'none', '--force']);
    expect(back.code, back.stderr).toBe(0);
    expect(await readFile(file, 'utf8')).toBe(CONFIG);
  });
});
