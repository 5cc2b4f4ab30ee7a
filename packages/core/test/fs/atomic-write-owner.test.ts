// writeAtomic as a user other than root: only root can give a file away, so keeping a config file's owner and
// group must be refused before anything is written, never silently broken. The suite runs as root, so the
// caller's uid is what `process.getuid` answers here, and a chown that really fails comes from dropping the
// effective uid to nobody for the call (this file runs in its own process; it is restored at once).
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PermissionDeniedError } from '../../src/errors.js';
import { writeAtomic } from '../../src/support/atomic-write.js';
import { withoutUids } from '../support/platform.js';

const NOBODY = 65534;
let dir: string;
let target: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-owner-'));
  target = path.join(dir, 'daemon.json');
  await writeFile(target, 'old');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** Runs `work` with `process.getuid()` answering `uid` (and, with `effective`, the effective uid really dropped). */
async function as<T>(uid: number, work: () => Promise<T>, effective?: number): Promise<T> {
  const getuid = process.getuid;
  process.getuid = () => uid;
  if (effective !== undefined) process.seteuid?.(effective);
  try {
    return await work();
  } finally {
    if (effective !== undefined) process.seteuid?.(0);
    process.getuid = getuid;
  }
}

async function refused(work: () => Promise<unknown>): Promise<PermissionDeniedError> {
  const error = await work().then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(PermissionDeniedError);
  expect(await readFile(target, 'utf8')).toBe('old');
  expect(await readdir(dir)).toEqual(['daemon.json']);
  return error as PermissionDeniedError;
}

describe('a caller that is not root', () => {
  it('refuses to replace root\'s file, which would become the caller\'s, before writing a byte', async () => {
    const error = await refused(() => as(1000, () => writeAtomic(target, Buffer.from('new'), { mode: 0o644, owner: { uid: 0, gid: 0 } })));
    expect(error.message).toBe(
      `Cannot keep the owner of ${target}: it belongs to root, and writing it as uid 1000 would make it yours. Nothing was written.`,
    );
    expect(error.location).toEqual({ file: target });
    expect(error.details).toEqual({ errno: 'EPERM', owner: 0, self: 1000 });
    expect(error.hint).toBeTruthy();
  });

  it('names another user\'s uid', async () => {
    const error = await refused(() => as(1000, () => writeAtomic(target, Buffer.from('new'), { mode: 0o644, owner: { uid: 4242, gid: 0 } })));
    expect(error.message).toContain('it belongs to uid 4242, and writing it as uid 1000');
    expect(error.details).toMatchObject({ owner: 4242, self: 1000 });
  });

  it('writes its own file in its own group without giving anything away', async () => {
    await as(1000, () => writeAtomic(target, Buffer.from('new'), { mode: 0o640, owner: { uid: 1000, gid: process.getgid?.() ?? 0 } }));
    expect(await readFile(target, 'utf8')).toBe('new');
    // No chown was made: the file has the writer's real owner (root here), not uid 1000.
    const info = await stat(target);
    expect([info.uid, info.mode & 0o777]).toEqual([0, 0o640]);
  });

  it('its own file in a group it is not in: the chown fails, and that is refused, not a file with another group', async () => {
    await chmod(dir, 0o777);
    const error = await refused(() =>
      as(NOBODY, () => writeAtomic(target, Buffer.from('new'), { mode: 0o644, owner: { uid: NOBODY, gid: 4242 } }), NOBODY),
    );
    expect(error.message).toBe(
      `Cannot keep the group of ${target} (gid 4242): uid ${NOBODY} is not in it, and writing the file would give it another group. Nothing was written.`,
    );
    expect(error.details).toEqual({ errno: 'EPERM', group: 4242, self: NOBODY });
    expect(error.location).toEqual({ file: target });
  });
});

describe('a platform without uids (Windows: no process.getuid or getgid)', () => {
  it('neither refuses the owner asked for nor gives the file to it: the write goes through as is', async () => {
    await withoutUids(() => writeAtomic(target, Buffer.from('new'), { mode: 0o644, owner: { uid: 4242, gid: 4242 } }));
    expect(await readFile(target, 'utf8')).toBe('new');
    // There is no chown to make there: the file keeps the writer's own owner (root here), not uid 4242.
    const info = await stat(target);
    expect([info.uid, info.gid]).toEqual([0, 0]);
    expect(await readdir(dir)).toEqual(['daemon.json']);
  });
});

describe('root', () => {
  it('gives the new file the old one\'s owner and group', async () => {
    await writeAtomic(target, Buffer.from('new'), { mode: 0o600, owner: { uid: NOBODY, gid: 4242 } });
    const info = await stat(target);
    expect([info.uid, info.gid, info.mode & 0o777]).toEqual([NOBODY, 4242, 0o600]);
  });

  it("keeps another uid's ownership of a file in root's own group (gid 0)", async () => {
    await writeAtomic(target, Buffer.from('new'), { mode: 0o644, owner: { uid: NOBODY, gid: 0 } });
    const info = await stat(target);
    expect([info.uid, info.gid]).toEqual([NOBODY, 0]);
  });
});
