/** The trust rule for folders and paths root writes in (the ssh rule), and the state folder's own checks. */
import { spawnSync } from 'node:child_process';
import { chmod, chown, lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DockmirrorError } from '../../src/errors.js';
import { stateFolder, stateSubfolder } from '../../src/state/state-folder.js';
import { writeAtomic } from '../../src/support/atomic-write.js';
import { isTrustedUid, trustedFolder, trustedPath } from '../../src/support/trusted-path.js';

const NOBODY = 65534;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-trust-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function refusal(promise: Promise<unknown>): Promise<DockmirrorError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(DockmirrorError);
  expect((error as DockmirrorError).code).toBe('UNSAFE_PATH');
  return error as DockmirrorError;
}
async function codeOf(promise: Promise<unknown>): Promise<string> {
  return (await refusal(promise)).code;
}

describe('trustedFolder', () => {
  it('accepts root-owned folders and a sticky world-writable one, and creates missing levels with the mode asked', async () => {
    const sticky = path.join(dir, 'sticky');
    await mkdir(sticky);
    await chmod(sticky, 0o1777);
    const made = await trustedFolder(path.join(sticky, 'a', 'b'), { what: 'test folder', create: 0o700 });
    expect(made).toBe(path.join(sticky, 'a', 'b'));
    expect(await readdir(path.join(sticky, 'a'))).toEqual(['b']);
  });

  it('refuses a folder writable by others without the sticky bit, and one owned by another user', async () => {
    const open = path.join(dir, 'open');
    await mkdir(open);
    await chmod(open, 0o777);
    expect(await codeOf(trustedFolder(path.join(open, 'x'), { what: 'test folder', create: 0o700 }))).toBe('UNSAFE_PATH');
    expect(await readdir(open)).toEqual([]);
    const theirs = path.join(dir, 'theirs');
    await mkdir(theirs, { mode: 0o755 });
    await chown(theirs, NOBODY, NOBODY);
    expect(await codeOf(trustedFolder(theirs, { what: 'test folder' }))).toBe('UNSAFE_PATH');
  });

  it('strict: the folder itself may not be group- or world-writable even when sticky', async () => {
    const state = path.join(dir, 'state');
    await mkdir(state);
    await chmod(state, 0o1777);
    expect(await codeOf(trustedFolder(state, { what: 'state folder', strict: true }))).toBe('UNSAFE_PATH');
    await chmod(state, 0o700);
    await expect(trustedFolder(state, { what: 'state folder', strict: true })).resolves.toBe(state);
  });

  it("follows root's symlinks, refuses another user's, and stops a symlink loop", async () => {
    const real = path.join(dir, 'real');
    await mkdir(real);
    await symlink(real, path.join(dir, 'mine'));
    await expect(trustedFolder(path.join(dir, 'mine'), { what: 'test folder' })).resolves.toBe(real);
    await symlink(real, path.join(dir, 'theirs'));
    spawnSync('chown', ['-h', `${NOBODY}:${NOBODY}`, path.join(dir, 'theirs')]);
    expect(await codeOf(trustedFolder(path.join(dir, 'theirs'), { what: 'test folder' }))).toBe('UNSAFE_PATH');
    await symlink(path.join(dir, 'loop-b'), path.join(dir, 'loop-a'));
    await symlink(path.join(dir, 'loop-a'), path.join(dir, 'loop-b'));
    expect(await codeOf(trustedFolder(path.join(dir, 'loop-a'), { what: 'test folder' }))).toBe('UNSAFE_PATH');
  });
});

describe('the reasons given', () => {
  it('names the folder, why, and what to do', async () => {
    const open = path.join(dir, 'open');
    await mkdir(open);
    await chmod(open, 0o775);
    const error = await refusal(trustedFolder(path.join(open, 'x'), { what: 'state folder', create: 0o700 }));
    expect(error.message).toBe(`Refusing to use the state folder: ${open} is writable by others and not sticky (mode 775), so another user could control what is there.`);
    expect(error.hint).toBe(`Use a state folder in folders only root (or you) can write, or fix ${open}'s owner and mode (chown root, chmod go-w).`);
    expect(error.location).toEqual({ file: open });
    expect(error.details).toEqual({ path: open, reason: 'is writable by others and not sticky (mode 775)' });
  });

  it('strict: group-writable and world-writable are told apart', async () => {
    const state = path.join(dir, 'state');
    await mkdir(state);
    await chmod(state, 0o1770);
    expect((await refusal(trustedFolder(state, { what: 'state folder', strict: true }))).details?.reason).toBe('is writable by its group (mode 1770)');
    await chmod(state, 0o1703);
    expect((await refusal(trustedFolder(state, { what: 'state folder', strict: true }))).details?.reason).toBe('is writable by everyone (mode 1703)');
  });

  it('a file on the way is not a folder; a missing folder without create is named', async () => {
    await writeFile(path.join(dir, 'file'), '');
    expect((await refusal(trustedFolder(path.join(dir, 'file', 'x'), { what: 'test folder', create: 0o700 }))).details?.reason).toBe('is not a folder');
    const missing = await refusal(trustedFolder(path.join(dir, 'none', 'x'), { what: 'test folder' }));
    expect(missing.message).toBe(`The test folder ${path.join(dir, 'none')} does not exist.`);
    expect(missing.details).toEqual({ path: path.join(dir, 'none'), reason: 'missing' });
    expect(missing.hint).toBe(`Create ${path.join(dir, 'none')}, or point dockmirror at another test folder.`);
  });

  it('an owner other than root or the caller is named by uid', async () => {
    const theirs = path.join(dir, 'theirs');
    await mkdir(theirs, { mode: 0o755 });
    await chown(theirs, NOBODY, NOBODY);
    expect((await refusal(trustedFolder(theirs, { what: 'test folder' }))).details?.reason).toBe(`belongs to uid ${NOBODY}, not to root or to you`);
  });
});

describe('isTrustedUid', () => {
  it('trusts root and the caller only', () => {
    expect(isTrustedUid(0, 1000)).toBe(true);
    expect(isTrustedUid(1000, 1000)).toBe(true);
    expect(isTrustedUid(1001, 1000)).toBe(false);
    expect(isTrustedUid(NOBODY)).toBe(false);
  });
});

describe('trustedPath', () => {
  it("follows the file's own trusted symlinks to the real file, and refuses another user's", async () => {
    await writeFile(path.join(dir, 'real.json'), '{}');
    await symlink(path.join(dir, 'real.json'), path.join(dir, 'a.json'));
    await symlink('a.json', path.join(dir, 'b.json'));
    const found = await trustedPath(path.join(dir, 'b.json'), { what: 'test folder' });
    expect(found.path).toBe(path.join(dir, 'real.json'));
    expect(found.info?.isFile()).toBe(true);
    spawnSync('chown', ['-h', `${NOBODY}:${NOBODY}`, path.join(dir, 'a.json')]);
    expect((await refusal(trustedPath(path.join(dir, 'b.json'), { what: 'test folder' }))).details?.reason).toBe(`is a symlink owned by uid ${NOBODY}`);
  });

  it('a dangling symlink resolves to the path it names, with nothing there', async () => {
    await symlink(path.join(dir, 'later.json'), path.join(dir, 'link.json'));
    expect(await trustedPath(path.join(dir, 'link.json'), { what: 'test folder' })).toEqual({ path: path.join(dir, 'later.json'), info: undefined });
  });

  it('a symlink loop on the file itself is refused', async () => {
    await symlink(path.join(dir, 'y'), path.join(dir, 'x'));
    await symlink(path.join(dir, 'x'), path.join(dir, 'y'));
    expect((await refusal(trustedPath(path.join(dir, 'x'), { what: 'test folder' }))).details?.reason).toBe('is part of a symlink loop');
  });
});

describe('the state folder', () => {
  it('is created 0700, its missing parents 0755 (a fresh /etc/docker), and a missing one is reported without create', async () => {
    const state = path.join(dir, 'a', 'state');
    expect(await stateFolder(state, false)).toBe(false);
    expect(await readdir(dir)).toEqual([]);
    expect(await stateFolder(state, true)).toBe(true);
    expect((await stat(state)).mode & 0o7777).toBe(0o700);
    expect((await stat(path.join(dir, 'a'))).mode & 0o7777).toBe(0o755);
  });

  it.each([
    ['a symlink', async (p: string) => symlink(dir, p), 'is a symlink'],
    ['a file', async (p: string) => writeFile(p, ''), 'is not a folder'],
    ['owned by nobody', async (p: string) => { await mkdir(p, { mode: 0o700 }); await chown(p, NOBODY, NOBODY); }, `belongs to uid ${NOBODY}`],
    ['group-writable', async (p: string) => { await mkdir(p); await chmod(p, 0o770); }, 'is writable by others (mode 770)'],
  ])('a subfolder that is %s is refused, with or without create', async (_, make, reason) => {
    const sub = path.join(dir, 'backups');
    await make(sub);
    for (const create of [false, true]) {
      const error = await refusal(stateSubfolder(sub, create));
      expect(error.details?.reason).toBe(reason);
      expect(error.message).toBe(`Refusing to use ${sub}: it ${reason}; dockmirror keeps its backups only in a folder of its own.`);
    }
  });

  it('a subfolder is created 0700 once and found after', async () => {
    const sub = path.join(dir, 'backups');
    expect(await stateSubfolder(sub, false)).toBe(false);
    expect(await stateSubfolder(sub, true)).toBe(true);
    expect(await stateSubfolder(sub, true)).toBe(true);
    expect((await stat(sub)).mode & 0o7777).toBe(0o700);
  });
});

describe('writeAtomic', () => {
  it('gives the new file the mode and owner asked for, and leaves only it', async () => {
    const target = path.join(dir, 'f');
    await writeAtomic(target, Buffer.from('new'), { mode: 0o640, owner: { uid: NOBODY, gid: NOBODY } });
    const info = await stat(target);
    expect([info.mode & 0o7777, info.uid, info.gid]).toEqual([0o640, NOBODY, NOBODY]);
    expect(await readdir(dir)).toEqual(['f']);
  });

  it('writes an empty file, and replaces a symlink planted at the target rather than writing through it', async () => {
    await writeFile(path.join(dir, 'victim'), 'keep');
    await symlink(path.join(dir, 'victim'), path.join(dir, 'f'));
    await writeAtomic(path.join(dir, 'f'), Buffer.alloc(0), { mode: 0o600 });
    expect((await stat(path.join(dir, 'f'))).size).toBe(0);
    expect(await readFile(path.join(dir, 'victim'), 'utf8')).toBe('keep');
    expect((await lstat(path.join(dir, 'f'))).isSymbolicLink()).toBe(false);
  });
});
