// The compile cache is an attack surface: Node runs what it finds there. Another user pre-creates
// `$TMPDIR/node-compile-cache` with a planted entry and root runs dockmirror: nothing in it may be used or written,
// and the cache must go to root's own proven folder instead. The check that proves a folder is unit-tested on
// folders that fail each rule.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { buildCacheDir, buildId, KEPT_BUILDS, ownCompileCacheDir, untrustedReason } from '../src/compile-cache.js';

const bin = fileURLToPath(new URL('../bin/run.js', import.meta.url));
const uid = process.getuid?.() ?? -1;
const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];
// The attacks play nobody against root; as any other user they could prove nothing, so they fail, never skip.
const ROOT_ONLY = 'this attack test runs as root (as .ci/run does): run the suite with sudo';
const cleanup: string[] = [];
afterAll(() => cleanup.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** A fresh folder in the passwd home of this uid, so every component above it passes the check. */
function homeDir(): string {
  const dir = mkdtempSync(path.join(userInfo().homedir, '.dm-cache-test-'));
  cleanup.push(dir);
  return dir;
}

/** Every path under `dir` with its size and mtime, to show nothing changed. */
function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .map((entry) => path.join(entry.parentPath, entry.name))
    .map((file) => {
      const info = statSync(file);
      return `${path.relative(dir, file)} ${info.size} ${info.mtimeMs} ${info.uid}`;
    })
    .sort();
}

describe('untrustedReason', () => {
  it('accepts a real folder owned by this uid or root that nobody else can write', () => {
    expect(untrustedReason('/', uid)).toBeUndefined();
    const dir = homeDir();
    chmodSync(dir, 0o700);
    expect(untrustedReason(dir, uid)).toBeUndefined();
  });

  it('refuses a world-writable folder, even a sticky one like /tmp, and anything under it', () => {
    const dir = homeDir();
    chmodSync(dir, 0o777);
    expect(untrustedReason(dir, uid)).toBe(`${dir} is writable by group or others`);
    mkdirSync(path.join(dir, 'inner'), { mode: 0o700 });
    expect(untrustedReason(path.join(dir, 'inner'), uid)).toBe(`${dir} is writable by group or others`);
    expect(untrustedReason('/tmp/node-compile-cache', uid)).toBe('/tmp is writable by group or others');
  });

  it('refuses a group-writable folder', () => {
    const dir = homeDir();
    chmodSync(dir, 0o770);
    expect(untrustedReason(dir, uid)).toMatch(/writable by group or others$/);
  });

  it('refuses a folder owned by another user', () => {
    expect(uid, ROOT_ONLY).toBe(0);
    const dir = homeDir();
    chownSync(dir, 65534, 65534);
    expect(untrustedReason(dir, uid)).toBe(`${dir} is owned by uid 65534`);
  });

  it('refuses a symlink, even to a good folder, and a file', () => {
    const dir = homeDir();
    mkdirSync(path.join(dir, 'real'), { mode: 0o700 });
    symlinkSync(path.join(dir, 'real'), path.join(dir, 'link'));
    expect(untrustedReason(path.join(dir, 'link'), uid)).toBe(`${path.join(dir, 'link')} is a symlink`);
    expect(untrustedReason(path.join(dir, 'link', 'below'), uid)).toBe(`${path.join(dir, 'link')} is a symlink`);
    writeFileSync(path.join(dir, 'file'), '');
    expect(untrustedReason(path.join(dir, 'file'), uid)).toBe(`${path.join(dir, 'file')} is not a folder`);
    expect(untrustedReason('relative/dir', uid)).toBe('relative/dir is not an absolute path');
  });
});

describe('ownCompileCacheDir', () => {
  it('is <passwd home>/.cache/dockmirror/compile-cache, 0700, whatever $HOME says', () => {
    const dir = ownCompileCacheDir();
    expect(dir).toBe(path.join(userInfo().homedir, '.cache', 'dockmirror', 'compile-cache'));
    expect(statSync(dir as string).mode & 0o777).toBe(0o700);
  });
});

describe('one folder per build', () => {
  it("a build's first start makes its folder 0700, keeps the two newest other builds and removes the rest, following no symlink", () => {
    const root = path.join(homeDir(), 'compile-cache');
    mkdirSync(root, { mode: 0o700 });
    // Three older builds, the oldest first, each with an entry.
    ['build-1-2-3', 'build-2-3-4', 'build-3-4-5'].forEach((build, i) => {
      mkdirSync(path.join(root, build, `${process.version}-x64-0-0`), { recursive: true });
      writeFileSync(path.join(root, build, `${process.version}-x64-0-0`, 'entry'), 'old cache');
      utimesSync(path.join(root, build), 1_000 + i, 1_000 + i);
    });
    // What versions before per-build folders left at the top, and links out of the cache, one named as a build
    // and newest of all: only a real folder counts as a build.
    mkdirSync(path.join(root, `${process.version}-x64-0-0`));
    const outside = homeDir();
    writeFileSync(path.join(outside, 'keep'), 'not the cache');
    symlinkSync(outside, path.join(root, 'link'));
    symlinkSync(outside, path.join(root, 'build-9-9-9'));

    const dir = buildCacheDir(root, 'build-4-5-6', uid);
    expect(dir).toBe(path.join(root, 'build-4-5-6'));
    expect(statSync(dir as string).mode & 0o777).toBe(0o700);
    expect(KEPT_BUILDS).toBe(2);
    expect(readdirSync(root).sort()).toEqual(['build-2-3-4', 'build-3-4-5', 'build-4-5-6']);
    expect(readdirSync(path.join(root, 'build-3-4-5', `${process.version}-x64-0-0`))).toEqual(['entry']);
    expect(readdirSync(outside)).toEqual(['keep']);

    // Later starts of the same build only use the folder: what is beside it by then stays.
    mkdirSync(path.join(root, 'build-7-8-9'));
    expect(buildCacheDir(root, 'build-4-5-6', uid)).toBe(dir);
    expect(readdirSync(root).sort()).toEqual(['build-2-3-4', 'build-3-4-5', 'build-4-5-6', 'build-7-8-9']);
  });

  it("a build folder the check refuses is not used, and nothing is removed for it", () => {
    const root = path.join(homeDir(), 'compile-cache');
    mkdirSync(root, { mode: 0o700 });
    mkdirSync(path.join(root, 'build-1-2-3'), { mode: 0o700 });
    mkdirSync(path.join(root, 'build-4-5-6'));
    chmodSync(path.join(root, 'build-4-5-6'), 0o777);
    expect(buildCacheDir(root, 'build-4-5-6', uid)).toBeUndefined();
    expect(readdirSync(root).sort()).toEqual(['build-1-2-3', 'build-4-5-6']);
  });

  it('a build is told by its fast-run.js: a rewritten file is another build, a missing one none', () => {
    const dir = homeDir();
    const file = path.join(dir, 'fast-run.js');
    writeFileSync(file, 'export {};\n');
    const first = buildId(new URL(`file://${file}`));
    expect(first).toMatch(/^build-\d+-11-\d+$/);
    expect(buildId(new URL(`file://${file}`))).toBe(first);
    writeFileSync(`${file}.new`, 'export {};\n');
    renameSync(`${file}.new`, file);
    expect(buildId(new URL(`file://${file}`))).not.toBe(first);
    rmSync(file);
    expect(buildId(new URL(`file://${file}`))).toBeUndefined();
    // The built CLI's own: dist/fast-run.js beside dist/compile-cache.js.
    expect(existsSync(fileURLToPath(new URL('../dist/fast-run.js', import.meta.url)))).toBe(true);
  });
});

describe("the start's own build folder", () => {
  it('is used only while it passes the check: made writable by others, the CLI starts without a cache and writes nothing there', () => {
    const own = path.join(userInfo().homedir, '.cache', 'dockmirror', 'compile-cache');
    const build = buildId(new URL('../dist/fast-run.js', import.meta.url)) as string;
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.NODE_COMPILE_CACHE;
    delete env.NODE_DISABLE_COMPILE_CACHE;
    const start = () => spawnSync(process.execPath, [bin, '--version'], { env, encoding: 'utf8' });
    expect(start().status).toBe(0);
    const dir = path.join(own, build);
    expect(readdirSync(dir).length).toBeGreaterThan(0);
    rmSync(dir, { recursive: true });
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    try {
      const run = start();
      expect(run.status, run.stderr).toBe(0);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      chmodSync(dir, 0o700);
    }
    // Proven again, the same build caches there on its next start.
    expect(start().status).toBe(0);
    expect(readdirSync(dir).some((name) => name.startsWith(`${process.version}-`))).toBe(true);
  });
});

describe('a compile cache planted by another user', () => {
  it('root ignores $TMPDIR/node-compile-cache made by nobody, writes nothing there, and caches in its own folder', () => {
    expect(uid, ROOT_ONLY).toBe(0);
    // The attacker's folder: made by nobody in /tmp, holding a pre-created cache folder with a planted entry.
    const attacker = path.join(tmpdir(), `dm-cache-attack-${process.pid}-${Date.now()}`);
    cleanup.push(attacker);
    execFileSync('setpriv', [...NOBODY, 'mkdir', '-m', '0777', '-p', path.join(attacker, 'node-compile-cache', `${process.version}-planted`)]);
    execFileSync('setpriv', [...NOBODY, 'sh', '-c', `printf planted > '${path.join(attacker, 'node-compile-cache', `${process.version}-planted`, 'entry')}'`]);
    const before = snapshot(attacker);

    const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: attacker, HOME: attacker, NO_COLOR: '1' };
    delete env.NODE_COMPILE_CACHE;
    delete env.NODE_DISABLE_COMPILE_CACHE;
    for (const args of [['--version'], ['presets', '--config-file', path.join(attacker, 'absent.json')]]) {
      const run = spawnSync(process.execPath, [bin, ...args], { env, encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
    }

    // Node would have made `<TMPDIR>/node-compile-cache/<version>-<arch>-<hash>-<uid>/` with entries in it.
    expect(snapshot(attacker)).toEqual(before);
    const own = path.join(userInfo().homedir, '.cache', 'dockmirror', 'compile-cache');
    const build = buildId(new URL('../dist/fast-run.js', import.meta.url)) as string;
    expect(readdirSync(path.join(own, build)).some((name) => name.startsWith(`${process.version}-`))).toBe(true);
  });
});
