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
