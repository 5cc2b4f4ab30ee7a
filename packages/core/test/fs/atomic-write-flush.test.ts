// writeAtomic's flushes on a disk that fails them: the page cache takes every write, so only fsync finds out that
// the device did not store the bytes (see mountFailingDisk). A flush of the new bytes that fails must leave the
// target as it was; a flush of the rename that fails must be reported as such, not taken for success; and a write asked
// not to be durable makes no flush at all, so the same disk does not fail it.
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WriteFailedError } from '../../src/errors.js';
import { writeAtomic } from '../../src/support/atomic-write.js';
import { mountFailingDisk } from '../support/tiny-disk.js';

let disk: Awaited<ReturnType<typeof mountFailingDisk>>;
let target: string;
beforeEach(async () => {
  disk = await mountFailingDisk();
  target = path.join(disk.dir, 'daemon.json');
  await writeFile(target, 'old');
});
afterEach(() => disk.unmount());

const failure = (work: Promise<unknown>): Promise<unknown> => work.then(() => undefined, (e: unknown) => e);
const entries = async (): Promise<string[]> => (await readdir(disk.dir)).filter((name) => name !== 'lost+found');

describe('a disk that does not store what is written', () => {
  it('the new bytes cannot be flushed: the write fails and the target keeps its bytes', async () => {
    await disk.fail();
    const error = await failure(writeAtomic(target, Buffer.from('new'), { mode: 0o644 }));
    expect(error).toBeInstanceOf(WriteFailedError);
    expect((error as WriteFailedError).message).toBe(`Cannot write ${target}: the disk is full (ENOSPC); nothing was changed.`);
    expect(await readFile(target, 'utf8')).toBe('old');
    expect(await entries()).toEqual(['daemon.json']);
  });

  it('the rename cannot be flushed: reported, not taken for a success, and saying the target has the new bytes', async () => {
    const error = await failure(writeAtomic(target, Buffer.from('new'), { mode: 0o644, beforeRename: disk.fail }));
    expect(error).toBeInstanceOf(WriteFailedError);
    // The one failure after the rename: marked, so that a caller restoring after a failure puts this file back too.
    expect((error as WriteFailedError).details).toEqual({ errno: 'EIO', replaced: true });
    expect((error as WriteFailedError).message).toBe(
      `${target} was replaced, but flushing its folder to disk failed (EIO): the new bytes may not survive a power cut.`,
    );
    expect(await readFile(target, 'utf8')).toBe('new');
  });

  it('durable: false flushes nothing, so the same disk takes the write', async () => {
    await disk.fail();
    await writeAtomic(target, Buffer.from('new'), { mode: 0o644, durable: false });
    expect(await readFile(target, 'utf8')).toBe('new');
    expect(await entries()).toEqual(['daemon.json']);
  });
});
