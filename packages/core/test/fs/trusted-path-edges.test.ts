// trustedFolder where the ssh rule does not apply or cannot make a folder: on Windows, where ownership works
// differently, it only resolves and creates (Windows cannot run here, so process.platform answers win32 for the
// call: trustedFolder reads nothing else of the platform); and a folder that cannot be created because the file
// system is read-only (a real read-only tmpfs, as /etc is on an immutable host) is said to be so, not "missing".
import { spawnSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DockmirrorError, PermissionDeniedError } from '../../src/errors.js';
import { trustedFolder } from '../../src/support/trusted-path.js';

const NOBODY = 65534;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-trust-edges-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function onWindows<T>(work: () => Promise<T>): Promise<T> {
  const platform = Object.getOwnPropertyDescriptor(process, 'platform') as PropertyDescriptor;
  Object.defineProperty(process, 'platform', { ...platform, value: 'win32' });
  try {
    return await work();
  } finally {
    Object.defineProperty(process, 'platform', platform);
  }
}

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
