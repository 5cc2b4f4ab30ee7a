// writeAtomic's temp file when something is already at its name: someone who can write the folder planted a file
// or a symlink there. The name is random (`<target>.<10 digits>`), so to plant at it this file fixes the digits:
// Math.random answers one number here, the only thing faked; the file system is real. The read-back
// check is shown by a second writer that appends to the temp file as soon as inotify reports it created, or
// overwrites one byte of it once its write is reported (fs.watch in this process, whose callback runs before the
// write's later steps complete), as a device that did not store what was written would leave it.
import { closeSync, openSync, watch, writeSync } from 'node:fs';
import { lstat, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DockmirrorError } from '../../src/errors.js';
import { writeAtomic } from '../../src/support/atomic-write.js';

// writeAtomic's name is 1e9 + Math.random() * 9e9, rounded down: 0.5 gives these digits exactly.
const DIGITS = 5_500_000_000;

let dir: string;
let target: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-temp-'));
  target = path.join(dir, 'daemon.json');
  await writeFile(target, 'old');
  vi.spyOn(Math, 'random').mockReturnValue(0.5);
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

const failure = (work: Promise<unknown>): Promise<unknown> => work.then(() => undefined, (e: unknown) => e);

describe('a file already at the temp name', () => {
  it('is neither written through nor removed: the write is refused and the target keeps its bytes', async () => {
    const planted = `${target}.${DIGITS}`;
    await writeFile(planted, 'planted');
    const error = await failure(writeAtomic(target, Buffer.from('new'), { mode: 0o644 }));
    expect(error).toBeInstanceOf(DockmirrorError);
    expect((error as DockmirrorError).message).toContain(`Cannot write ${target}:`);
    expect(await readFile(planted, 'utf8')).toBe('planted');
    expect(await readFile(target, 'utf8')).toBe('old');
    expect((await readdir(dir)).sort()).toEqual(['daemon.json', `daemon.json.${DIGITS}`]);
  });

  it('a symlink there is not followed: what it points at keeps its bytes, and the symlink stays', async () => {
    const victim = path.join(dir, 'victim');
    await writeFile(victim, 'keep');
    await symlink(victim, `${target}.${DIGITS}`);
    expect(await failure(writeAtomic(target, Buffer.from('new'), { mode: 0o644 }))).toBeInstanceOf(DockmirrorError);
    expect(await readFile(victim, 'utf8')).toBe('keep');
    expect((await lstat(`${target}.${DIGITS}`)).isSymbolicLink()).toBe(true);
    expect(await readFile(target, 'utf8')).toBe('old');
  });

  it('once nothing is there, the same name is used and the write goes through', async () => {
    await writeAtomic(target, Buffer.from('new'), { mode: 0o644 });
    expect(await readFile(target, 'utf8')).toBe('new');
    expect(await readdir(dir)).toEqual(['daemon.json']);
  });
});

/**
 * A second writer: the first time inotify reports the write's temp file (with `event`, or any), it changes the
 * file in place with `tamper`. `outcome()` is 'tampered', or 'too late' if the temp file was already gone.
 */
function tamperWithTemp(event: 'change' | undefined, tamper: (fd: number) => void): { outcome: () => string | undefined; close: () => void } {
  let outcome: string | undefined;
  const watcher = watch(dir, (seen, name) => {
    if (outcome !== undefined || (event !== undefined && seen !== event) || name !== `daemon.json.${DIGITS}`) return;
    outcome = 'too late';
    // Not opened if it is gone: then the write got past its read-back before this ran, and the test says so.
    const fd = openSync(path.join(dir, name), 'r+');
    try {
      tamper(fd);
      outcome = 'tampered';
    } finally {
      closeSync(fd);
    }
  });
  return { outcome: () => outcome, close: () => watcher.close() };
}

describe('the read-back before the rename', () => {
  it('a temp file that does not hold exactly the bytes written is never renamed into place', async () => {
    const junk = Buffer.alloc(64, 'j');
    // As soon as the temp file is created, junk is appended past the bytes to come.
    const second = tamperWithTemp(undefined, (fd) => writeSync(fd, junk, 0, junk.length, 1_000));
    try {
      const error = await failure(writeAtomic(target, Buffer.from('{"new": true}\n'), { mode: 0o644 }));
      expect(second.outcome()).toBe('tampered');
      expect(error).toBeInstanceOf(DockmirrorError);
      expect((error as DockmirrorError).code).toBe('WRITE_FAILED');
      expect((error as DockmirrorError).message).toBe(`Cannot write ${target}: the disk reported an I/O error (EIO); nothing was changed.`);
      expect(await readFile(target, 'utf8')).toBe('old');
      expect(await readdir(dir)).toEqual(['daemon.json']);
    } finally {
      second.close();
    }
  });

  it('nor is one of the right length whose bytes differ', async () => {
    // On the first change to the temp file (its write), one byte is overwritten in place: the length stays.
    const second = tamperWithTemp('change', (fd) => writeSync(fd, Buffer.from('X'), 0, 1, 0));
    try {
      const error = await failure(writeAtomic(target, Buffer.from('{"new": true}\n'), { mode: 0o644 }));
      expect(second.outcome()).toBe('tampered');
      expect((error as DockmirrorError).code).toBe('WRITE_FAILED');
      expect((error as DockmirrorError).message).toBe(`Cannot write ${target}: the disk reported an I/O error (EIO); nothing was changed.`);
      expect(await readFile(target, 'utf8')).toBe('old');
      expect(await readdir(dir)).toEqual(['daemon.json']);
    } finally {
      second.close();
    }
  });
});
