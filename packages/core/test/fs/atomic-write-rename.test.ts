// writeAtomic's last two steps, the rename and the flush of the folder, when they do not go through. A target
// another program holds is staged for real: a file bind-mounted over the target makes rename(2) fail with EBUSY
// until it is unmounted (as a program holding the file makes MoveFileEx fail on Windows); a folder a caller may
// not write or read comes from dropping the effective uid to nobody for a moment (this file runs in its own
// process; root is restored at once). Windows itself cannot run here, so its retry is driven with
// process.platform set to win32 for the call: the retry is the only thing in writeAtomic that reads it.
// A folder flushed is let go of at once: a disk of its own (a tiny tmpfs) unmounts right after the write.
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DockmirrorError, PermissionDeniedError } from '../../src/errors.js';
import { RENAME_RETRY_MS, writeAtomic } from '../../src/support/atomic-write.js';
import { onWindows } from '../support/platform.js';
import { mountTinyDisk } from '../support/tiny-disk.js';

const NOBODY = 65534;
let dir: string;
let target: string;
let holder: string;
const mounted = new Set<string>();

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-rename-'));
  holder = await mkdtemp(path.join(tmpdir(), 'dm-rename-holder-'));
  target = path.join(dir, 'daemon.json');
  await writeFile(target, 'old');
  await writeFile(path.join(holder, 'held'), 'holder');
});
afterEach(async () => {
  process.seteuid?.(0);
  for (const at of mounted) spawnSync('umount', [at]);
  mounted.clear();
  await rm(dir, { recursive: true, force: true });
  await rm(holder, { recursive: true, force: true });
});

/** Holds `file` as a busy mount point (rename onto it fails with EBUSY) for `ms`; resolves once released. */
function hold(file: string, ms: number): Promise<void> {
  const m = spawnSync('mount', ['--bind', path.join(holder, 'held'), file], { encoding: 'utf8' });
  expect(m.status, `a bind mount needs root: ${m.stderr}`).toBe(0);
  mounted.add(file);
  return new Promise((resolve) => {
    setTimeout(() => {
      spawnSync('umount', [file]);
      mounted.delete(file);
      resolve();
    }, ms);
  });
}

/** Runs `work` as uid nobody: process.getuid answers it and the effective uid really is it. */
async function asNobody<T>(work: () => Promise<T>): Promise<T> {
  const getuid = process.getuid;
  process.getuid = () => NOBODY;
  process.seteuid?.(NOBODY);
  try {
    return await work();
  } finally {
    process.seteuid?.(0);
    process.getuid = getuid;
  }
}

/** A beforeRename that drops the effective uid to nobody, so the rename is refused until root is back `ms` later. */
function renameAsNobodyFor(ms: number): { beforeRename: () => Promise<void>; regained: Promise<void> } {
  let regain!: () => void;
  const regained = new Promise<void>((resolve) => (regain = resolve));
  return {
    beforeRename: async () => {
      process.seteuid?.(NOBODY);
      setTimeout(() => {
        process.seteuid?.(0);
        regain();
      }, ms);
    },
    regained,
  };
}

const failure = (work: Promise<unknown>): Promise<unknown> => work.then(() => undefined, (e: unknown) => e);

describe('a target another program holds (rename fails with EBUSY)', () => {
  it('on Linux is reported at once, not waited for: the target keeps its bytes and no temp file is left', async () => {
    // Released after two seconds: a write that waited for it would succeed, and that would be wrong here.
    const released = hold(target, 2_000);
    const error = await failure(writeAtomic(target, Buffer.from('new'), { mode: 0o644 }));
    await released;
    expect(error).toBeInstanceOf(PermissionDeniedError);
    expect((error as PermissionDeniedError).message).toBe(`Cannot write ${target}: another program has it open and locked (EBUSY).`);
    expect((error as PermissionDeniedError).hint).toBe('Find the process holding it (fuser or lsof), let it finish, then run the command again.');
    expect(await readFile(target, 'utf8')).toBe('old');
    expect(await readdir(dir)).toEqual(['daemon.json']);
  });

  it('on Windows is retried while it is held for a moment, and then written', async () => {
    const released = hold(target, 200);
    await onWindows(() => writeAtomic(target, Buffer.from('new'), { mode: 0o644 }));
    await released;
    expect(await readFile(target, 'utf8')).toBe('new');
    expect(await readdir(dir)).toEqual(['daemon.json']);
  });

  it(`on Windows, one held for good is reported after the bounded retry (${RENAME_RETRY_MS} ms), with what to close`, async () => {
    // Released well after the retry gave up: a retry without its bound would end up writing the file.
    const released = hold(target, RENAME_RETRY_MS + 1_500);
    const error = await onWindows(() => failure(writeAtomic(target, Buffer.from('new'), { mode: 0o644 })));
    await released;
    expect(error).toBeInstanceOf(PermissionDeniedError);
    expect((error as PermissionDeniedError).details).toEqual({ errno: 'EBUSY' });
    expect((error as PermissionDeniedError).hint).toBe(
      "Close the program holding it (Docker Desktop's settings, an editor, a backup or antivirus scan), then run the command again.",
    );
    expect(await readFile(target, 'utf8')).toBe('old');
    expect(await readdir(dir)).toEqual(['daemon.json']);
  });
});

describe('on Windows, which rename failures are waited for', () => {
  it('EACCES (a scan holding the file) is retried, and the file written once it is let go', async () => {
    const { beforeRename, regained } = renameAsNobodyFor(200);
    await chmod(dir, 0o755); // nobody may not add or rename entries here: EACCES until root is back
    await onWindows(() => writeAtomic(target, Buffer.from('new'), { mode: 0o644, beforeRename }));
    await regained;
    expect(await readFile(target, 'utf8')).toBe('new');
    expect(await readdir(dir)).toEqual(['daemon.json']);
  });

  it('EPERM (Docker Desktop holding the file) is retried, and the file written once it is let go', async () => {
    const { beforeRename, regained } = renameAsNobodyFor(200);
    await chmod(dir, 0o1777); // sticky: nobody may not rename root's files here, EPERM until root is back
    await onWindows(() => writeAtomic(target, Buffer.from('new'), { mode: 0o644, beforeRename }));
    await regained;
    expect(await readFile(target, 'utf8')).toBe('new');
    expect(await readdir(dir)).toEqual(['daemon.json']);
  });

  it('a folder in the way of the rename is no program holding the file: reported at once', async () => {
    let released!: Promise<void>;
    const beforeRename = async (): Promise<void> => {
      await rm(target);
      await mkdir(target);
      await writeFile(path.join(target, 'inside'), 'x');
      released = new Promise((resolve) => setTimeout(() => void rm(target, { recursive: true }).then(() => resolve()), 2_000));
    };
    const error = await onWindows(() => failure(writeAtomic(target, Buffer.from('new'), { mode: 0o644, beforeRename })));
    await released;
    expect(error).toBeInstanceOf(DockmirrorError);
    expect((error as DockmirrorError).message).toBe(`Cannot write ${target}: it is a folder, not a file.`);
    // The temp file is gone, and nothing took the folder's place.
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('flushing the rename', () => {
  it('a folder whose rename cannot be flushed (not readable by the writer) is an error, not a silent success', async () => {
    await chmod(dir, 0o733); // nobody may create and rename here, but not open the folder to fsync it
    const error = await asNobody(() => failure(writeAtomic(target, Buffer.from('new'), { mode: 0o644 })));
    expect(error).toBeInstanceOf(PermissionDeniedError);
    expect((error as PermissionDeniedError).message).toBe(
      `${target} was replaced, but flushing its folder to disk failed (EACCES): the new bytes may not survive a power cut.`,
    );
    expect((error as PermissionDeniedError).details).toEqual({ errno: 'EACCES', replaced: true });
    // The rename itself went through; only its flush is not assured.
    expect(await readFile(target, 'utf8')).toBe('new');
  });

  it('lets go of the folder once it is flushed: a disk just written to can be unmounted at once', async () => {
    const disk = await mountTinyDisk();
    let umount: SpawnSyncReturns<string> | undefined;
    try {
      const file = path.join(disk.dir, 'daemon.json');
      await writeAtomic(file, Buffer.from('new'), { mode: 0o644 });
      expect(await readFile(file, 'utf8')).toBe('new');
      umount = spawnSync('umount', [disk.dir], { encoding: 'utf8' });
    } finally {
      // A descriptor left open would keep the disk busy: let it go lazily rather than leave a mount behind.
      if (umount?.status !== 0) spawnSync('umount', ['-l', disk.dir]);
      await disk.unmount();
    }
    expect(umount.status, umount.stderr).toBe(0);
  });

  it('durable: false does not flush the folder, so the same write succeeds', async () => {
    await chmod(dir, 0o733);
    await asNobody(() => writeAtomic(target, Buffer.from('new'), { mode: 0o644, durable: false }));
    expect(await readFile(target, 'utf8')).toBe('new');
    expect(await readdir(dir)).toEqual(['daemon.json']);
  });
});
