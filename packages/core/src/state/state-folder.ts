/**
 * The state folder (backups, journal, lock) is where root keeps the bytes it will later write back into
 * daemon.json, so nobody else may be able to touch it: it must belong to root or the caller, be writable by
 * no one else, and sit in folders only they can write (the ssh rule, see {@link trustedFolder}).
 */
import { lstat } from 'node:fs/promises';
import { trustedFolder } from '../support/trusted-path.js';

/**
 * Checks the state folder `dir` (or a folder inside it) before use; with `create`, makes it (mode 0700) and
 * any missing parents one level at a time. Without `create`, a folder that does not exist resolves `false`.
 * @throws UnsafePathError when another user owns or may write it or a folder above it.
 */
export async function stateFolder(dir: string, create: boolean): Promise<boolean> {
  if (!create && !(await lstat(dir).then(() => true, () => false))) return false;
  await trustedFolder(dir, { what: 'state folder', strict: true, ...(create ? { create: 0o700 } : {}) });
  return true;
}
