// trustedFolder where the ssh rule does not apply or cannot make a folder: on Windows, where ownership works
// differently, it only resolves and creates (Windows cannot run here, so process.platform answers win32 for the
// call: trustedFolder reads nothing else of the platform), and so on a platform with no uids (no process.getuid);
// a folder that cannot be created because the file system is read-only (a real read-only tmpfs, as /etc is on an
// immutable host) is said to be so, not "missing"; and symlink chains are followed as far as Linux follows them
// (40 hops), relative links from where they are.
import { spawnSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DockmirrorError, PermissionDeniedError } from '../../src/errors.js';
import { trustedFolder, trustedPath } from '../../src/support/trusted-path.js';
import { onWindows, withoutUids } from '../support/platform.js';

const NOBODY = 65534;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-trust-edges-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const failure = (work: Promise<unknown>): Promise<unknown> => work.then(() => undefined, (e: unknown) => e);

describe('on Windows', () => {
  it('judges no owner or mode: a folder of another uid that anyone can write is used as it is', async () => {
    const theirs = path.join(dir, 'theirs');
    await mkdir(theirs);
    await chmod(theirs, 0o777);
    await chown(theirs, NOBODY, NOBODY);
    await expect(onWindows(() => trustedFolder(theirs, { what: 'test folder', strict: true }))).resolves.toBe(theirs);
  });

  it('creates every missing level at once with the mode asked, and returns the resolved path', async () => {
    const relative = path.relative(process.cwd(), path.join(dir, 'a', 'b', 'c'));
    const made = await onWindows(() => trustedFolder(relative, { what: 'test folder', create: 0o700 }));
    expect(made).toBe(path.join(dir, 'a', 'b', 'c'));
    expect((await stat(made)).isDirectory()).toBe(true);
    expect((await stat(path.join(dir, 'a'))).mode & 0o777).toBe(0o700);
  });

  it('without create, a missing folder is named back and nothing is made', async () => {
    const missing = path.join(dir, 'missing');
    await expect(onWindows(() => trustedFolder(missing, { what: 'test folder' }))).resolves.toBe(missing);
    expect(await readdir(dir)).toEqual([]);
  });

  it('a file in the way of the folder to create is reported, naming the folder', async () => {
    await writeFile(path.join(dir, 'file'), 'x');
    const target = path.join(dir, 'file', 'sub');
    const error = await onWindows(() => failure(trustedFolder(target, { what: 'test folder', create: 0o700 })));
    expect(error).toBeInstanceOf(DockmirrorError);
    expect((error as DockmirrorError).message).toBe(`Cannot write ${target}: a folder on its path is a file.`);
  });
});

describe('a platform without uids (no process.getuid, not win32)', () => {
  it('judges no owner or mode either: a folder of another uid that anyone can write is used as it is', async () => {
    const theirs = path.join(dir, 'theirs');
    await mkdir(theirs);
    await chmod(theirs, 0o777);
    await chown(theirs, NOBODY, NOBODY);
    await expect(withoutUids(() => trustedFolder(theirs, { what: 'test folder', strict: true }))).resolves.toBe(theirs);
  });

  it("follows a file's symlink whoever owns it", async () => {
    await writeFile(path.join(dir, 'real'), 'x');
    await symlink(path.join(dir, 'real'), path.join(dir, 'theirs'));
    spawnSync('chown', ['-h', `${NOBODY}:${NOBODY}`, path.join(dir, 'theirs')]);
    const found = await withoutUids(() => trustedPath(path.join(dir, 'theirs'), { what: 'test file' }));
    expect(found.path).toBe(path.join(dir, 'real'));
    expect(found.info?.isFile()).toBe(true);
  });
});

describe('a folder that cannot be created', () => {
  it('on a read-only file system is reported as read-only, naming the folder, not as missing', async () => {
    const ro = path.join(dir, 'ro');
    await mkdir(ro);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k,mode=0755', 'tmpfs', ro], { encoding: 'utf8' });
    expect(m.status, `mounting a read-only tmpfs needs root: ${m.stderr}`).toBe(0);
    try {
      const target = path.join(ro, 'state');
      const error = await failure(trustedFolder(target, { what: 'state folder', create: 0o700 }));
      expect(error).toBeInstanceOf(PermissionDeniedError);
      expect((error as PermissionDeniedError).message).toBe(`Cannot write ${target}: the file system is read-only.`);
    } finally {
      spawnSync('umount', [ro]);
    }
  });
});

/** A chain of `length` relative symlinks in `dir`, hop-1 -> hop-2 -> ... -> `end`; returns the first link. */
async function chain(length: number, end: string): Promise<string> {
  for (let i = length; i >= 1; i--) await symlink(i === length ? end : `hop-${i + 1}`, path.join(dir, `hop-${i}`));
  return path.join(dir, 'hop-1');
}

describe('symlink chains', () => {
  it('a folder reached through 40 relative symlinks (as many as Linux follows) is used; through 41 it is refused', async () => {
    await mkdir(path.join(dir, 'real'));
    await expect(trustedFolder(await chain(40, 'real'), { what: 'test folder' })).resolves.toBe(path.join(dir, 'real'));
    await rm(path.join(dir, 'hop-1'));
    await symlink('hop-0', path.join(dir, 'hop-1'));
    await symlink('hop-2', path.join(dir, 'hop-0'));
    const error = await failure(trustedFolder(path.join(dir, 'hop-1'), { what: 'test folder' }));
    expect((error as DockmirrorError).details).toEqual({ path: expect.stringMatching(/hop-\d+$/), reason: 'is part of a symlink loop' });
  });

  it('a file reached through 40 relative symlinks is found; through 41 it is refused', async () => {
    await writeFile(path.join(dir, 'real.json'), '{}');
    const found = await trustedPath(await chain(40, 'real.json'), { what: 'test folder' });
    expect(found.path).toBe(path.join(dir, 'real.json'));
    await rm(path.join(dir, 'hop-1'));
    await symlink('hop-0', path.join(dir, 'hop-1'));
    await symlink('hop-2', path.join(dir, 'hop-0'));
    const error = await failure(trustedPath(path.join(dir, 'hop-1'), { what: 'test folder' }));
    expect((error as DockmirrorError).details).toEqual({ path: expect.stringMatching(/hop-\d+$/), reason: 'is part of a symlink loop' });
  });
});

describe("another user's symlink on the way to a folder", () => {
  it('is refused, naming it and its owner', async () => {
    await mkdir(path.join(dir, 'real'));
    await symlink(path.join(dir, 'real'), path.join(dir, 'theirs'));
    spawnSync('chown', ['-h', `${NOBODY}:${NOBODY}`, path.join(dir, 'theirs')]);
    const error = await failure(trustedFolder(path.join(dir, 'theirs', 'sub'), { what: 'test folder', create: 0o700 }));
    expect((error as DockmirrorError).details).toEqual({ path: path.join(dir, 'theirs'), reason: `is a symlink owned by uid ${NOBODY}` });
    expect(await readdir(path.join(dir, 'real'))).toEqual([]);
  });
});

describe('a name the file system cannot hold', () => {
  it('is an error naming it, not a missing folder (and nothing is created)', async () => {
    const long = path.join(dir, 'x'.repeat(300));
    for (const create of [undefined, 0o700]) {
      const error = await failure(trustedFolder(long, { what: 'test folder', ...(create === undefined ? {} : { create }) }));
      expect(error).toBeInstanceOf(DockmirrorError);
      expect((error as DockmirrorError).message).toMatch(new RegExp(`^Cannot read ${long}: .*ENAMETOOLONG`));
    }
    expect(await readdir(dir)).toEqual([]);
  });
});
