/**
 * The state folder (backups, journal, lock) is where root keeps the bytes it will later write back into
 * daemon.json, so nobody else may be able to touch it: it must belong to root or the caller, be writable by
 * no one else, and sit in folders only they can write (the ssh rule, see {@link trustedFolder}).
 */
import { lstat, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { UnsafePathError } from '../errors.js';
import { fsError, isCode } from '../support/fs-errors.js';
import { isTrustedUid, trustedFolder } from '../support/trusted-path.js';

/**
 * Checks the state folder `dir` (or a folder inside it) before use; with `create`, makes it (mode 0700) and
 * any missing parents (mode 0755) one level at a time. Without `create`, a folder that does not exist resolves `false`.
 * @throws UnsafePathError when another user owns or may write it or a folder above it.
 */
export async function stateFolder(dir: string, create: boolean): Promise<boolean> {
  if (!create && !(await lstat(dir).then(() => true, () => false))) return false;
  // The folders above it hold other things: /etc/docker on a fresh machine must come out 0755, as dockerd's own
  // packages make it (dockerd and the docker CLI's users read daemon.json there), not 0700 like the state.
  if (create) await trustedFolder(path.dirname(path.resolve(dir)), { what: 'folder of the state folder', create: 0o755 });
  await trustedFolder(dir, { what: 'state folder', strict: true, ...(create ? { create: 0o700 } : {}) });
  return true;
}

/**
 * A folder inside the (already checked) state folder, such as `backups/`: it must be a real folder, never a
 * symlink whoever made it, because root writes backups into it and moves files out of it. With `create`, it
 * is made (mode 0700) when missing; without, a missing one resolves `false`.
 * @throws UnsafePathError for a symlink, a file, or a folder someone else owns or may write.
 */
export async function stateSubfolder(dir: string, create: boolean): Promise<boolean> {
  if (create) {
    await mkdir(dir, { mode: 0o700 }).catch((error: unknown) => {
      if (!isCode(error, 'EEXIST')) throw fsError(error, dir, 'write');
    });
  }
  const info = await lstat(dir).catch((error: unknown) => {
    if (isCode(error, 'ENOENT')) return undefined;
    throw fsError(error, dir, 'read');
  });
  if (!info) return false;
  const why = info.isSymbolicLink()
    ? 'is a symlink'
    : !info.isDirectory()
      ? 'is not a folder'
      : process.getuid !== undefined && !isTrustedUid(info.uid)
        ? `belongs to uid ${info.uid}`
        : process.getuid !== undefined && (info.mode & 0o022) !== 0
          ? `is writable by others (mode ${(info.mode & 0o7777).toString(8)})`
          : undefined;
  if (why) {
    throw new UnsafePathError(`Refusing to use ${dir}: it ${why}; dockmirror keeps its backups only in a folder of its own.`, {
      location: { file: dir },
      hint: `Move ${dir} aside (check what it holds first); dockmirror recreates it.`,
      details: { path: dir, reason: why },
    });
  }
  return true;
}
