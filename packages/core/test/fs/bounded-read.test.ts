/** readBounded: the one reader of small files someone else may control. */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BoundedReadError, readBounded, readBoundedWithStat } from '../../src/support/bounded-read.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-bounded-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function refusal(promise: Promise<unknown>): Promise<BoundedReadError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(BoundedReadError);
  return error as BoundedReadError;
}

describe('readBounded', () => {
  it('reads a file of exactly the bound, refuses one byte more, and says which bound', async () => {
    const file = path.join(dir, 'f');
    await writeFile(file, 'x'.repeat(100));
    expect((await readBounded(file, { maxBytes: 100 }))?.toString()).toBe('x'.repeat(100));
    const error = await refusal(readBounded(file, { maxBytes: 99 }));
    expect(error.reason).toBe('too-large');
    expect(error.message).toBe(`${file} is larger than 99 bytes`);
    expect(error.maxBytes).toBe(99);
    expect(error.file).toBe(file);
  });

  it('reads an empty file as no bytes and a missing one as undefined', async () => {
    await writeFile(path.join(dir, 'empty'), '');
    expect((await readBounded(path.join(dir, 'empty'), { maxBytes: 10 }))?.length).toBe(0);
    expect(await readBounded(path.join(dir, 'missing'), { maxBytes: 10 })).toBeUndefined();
  });

  it('refuses a FIFO at once (no writer needed) and a device behind a symlink', async () => {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect((await refusal(readBounded(fifo, { maxBytes: 10 }))).reason).toBe('not-regular');
    await symlink('/dev/zero', path.join(dir, 'zero'));
    const error = await refusal(readBounded(path.join(dir, 'zero'), { maxBytes: 10 }));
    expect(error.message).toBe(`${path.join(dir, 'zero')} is not a regular file`);
  });

  it('follows a symlink by default and refuses it with followSymlinks: false', async () => {
    await writeFile(path.join(dir, 'real'), 'bytes');
    await symlink(path.join(dir, 'real'), path.join(dir, 'link'));
    expect((await readBounded(path.join(dir, 'link'), { maxBytes: 10 }))?.toString()).toBe('bytes');
    await expect(readBounded(path.join(dir, 'link'), { maxBytes: 10, followSymlinks: false })).rejects.toMatchObject({ code: 'ELOOP' });
  });

  it('reads a file larger than its first buffer guess to the end (kernel files report size 0)', async () => {
    const read = await readBoundedWithStat('/proc/self/status', { maxBytes: 1 << 20 });
    expect(read?.info.size).toBe(0);
    expect(read?.bytes.toString()).toMatch(/^Name:/);
    expect(read?.bytes.toString()).toContain('\nUid:');
    await expect(readBounded('/proc/self/status', { maxBytes: 10 })).rejects.toBeInstanceOf(BoundedReadError);
    // Past the first page too: a process's memory map is tens of KB, and it is read whole, to its last line.
    const maps = (await readBounded('/proc/self/maps', { maxBytes: 1 << 22 }))?.toString() ?? '';
    expect(maps.length).toBeGreaterThan(4096 * 2);
    expect(maps.endsWith('\n')).toBe(true);
    expect(maps.split('\n').slice(0, -1).every((line) => /^[0-9a-f]+-[0-9a-f]+ /.test(line))).toBe(true);
  });

  it('gives the identity of what it read', async () => {
    const file = path.join(dir, 'f');
    await writeFile(file, 'abc');
    const read = await readBoundedWithStat(file, { maxBytes: 10 });
    expect(read?.info.size).toBe(3);
    expect(read?.info.isFile()).toBe(true);
  });
});
