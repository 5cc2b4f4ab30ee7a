import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';

/** A full disk on demand: a 64 KiB tmpfs (mode 0755) of the test file's own. Needs root, as the suite runs. */
export async function mountTinyDisk(): Promise<{ dir: string; unmount: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-tiny-disk-'));
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'tmpfs', dir], { encoding: 'utf8' });
  expect(m.status, `mounting a 64 KiB tmpfs needs root: ${m.stderr}`).toBe(0);
  return {
    dir,
    unmount: async () => {
      spawnSync('umount', [dir]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A disk whose device stops taking writes on demand: ext4 on a loop device over a sparse 64 MiB image that lies in
 * a 2 MiB tmpfs. After `fail()` that tmpfs is full, so every block the device has not stored yet fails to be
 * written (a file's data with ENOSPC, a journal commit with EIO), while a write that only reaches the page cache
 * still succeeds: only a flush finds out, as with a failing disk. Needs root, as the suite runs.
 */
export async function mountFailingDisk(): Promise<{ dir: string; fail: () => Promise<void>; unmount: () => Promise<void> }> {
  const back = await mkdtemp(path.join(tmpdir(), 'dm-failing-back-'));
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-failing-disk-'));
  const run = (...argv: string[]): string => {
    const r = spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8' });
    expect(r.status, `${argv.join(' ')} (needs root): ${r.stderr}`).toBe(0);
    return r.stdout.trim();
  };
  run('mount', '-t', 'tmpfs', '-o', 'size=2m,mode=0755', 'tmpfs', back);
  const image = path.join(back, 'image');
  run('truncate', '-s', '64M', image);
  const device = run('losetup', '--find', '--show', image);
  run('mkfs.ext4', '-q', '-b', '4096', '-E', 'lazy_itable_init=1,lazy_journal_init=1,nodiscard', device);
  run('mount', device, dir);
  return {
    dir,
    fail: async () => {
      run('sync', '-f', dir); // what was written so far is on the device
      spawnSync('dd', ['if=/dev/zero', `of=${path.join(back, 'filler')}`, 'bs=64k']); // ends with ENOSPC
    },
    unmount: async () => {
      spawnSync('umount', [dir]);
      spawnSync('losetup', ['-d', device]);
      spawnSync('umount', [back]);
      await rm(dir, { recursive: true, force: true });
      await rm(back, { recursive: true, force: true });
    },
  };
}
