/**
 * The one atomic write: a temp file beside the target, every byte written (a short write is continued, never
 * ignored), owner and mode set, flushed, read back and compared, and only then renamed over the target. A full
 * disk or a failing device therefore leaves the target exactly as it was, and so does a `beforeRename` check
 * that finds the target changed under us.
 */
import { constants } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { type DockmirrorError, PermissionDeniedError } from '../errors.js';
import { fsError, isCode, permissionHint } from './fs-errors.js';

/** Options of {@link writeAtomic}. */
export interface AtomicWriteOptions {
  /** Mode of the new file. */
  mode: number;
  /** Owner of the new file (kept from the file it replaces); only root may give a file away. */
  owner?: { uid: number; gid: number };
  /** Runs once the temp file is complete and checked, just before the rename; throwing cancels the write. */
  beforeRename?: () => Promise<void>;
  /**
   * Whether the new bytes and the rename are flushed to disk before this returns (default true). Only for a
   * file whose loss or tearing in a power cut is detected where it is read (the journal's copy of the last
   * bytes written is checked against its hash): atomicity against a killed process stays either way.
   */
  durable?: boolean;
}

/**
 * Replaces `target` with `bytes` atomically. The temp file is created exclusively and without following
 * symlinks, so nothing planted in the folder is written through. Its name, `<name>.<digits>`, is the pattern
 * the journal's recovery removes after a crash.
 * @throws WriteFailedError (disk full, I/O error, read-back mismatch), PermissionDeniedError (also when the
 *   owner cannot be kept), or whatever `beforeRename` throws, with the target untouched; or, when only the
 *   folder's flush after the rename fails, the same kinds with `details.replaced`: the target has the new bytes.
 */
export async function writeAtomic(target: string, bytes: Buffer, options: AtomicWriteOptions): Promise<void> {
  if (options.owner) refuseForeignOwner(target, options.owner);
  // Ten digits, only to be unique: the name need not be secret, since the file is created exclusively and
  // without following symlinks (a name taken is an error, never a write elsewhere). Math.random spares every
  // write the load of node:crypto.
  const temp = `${target}.${Math.floor(1e9 + Math.random() * 9e9)}`;
  // Stryker disable next-line LogicalOperator: without O_NOFOLLOW, O_CREAT|O_EXCL still refuses a symlink at the temp name
  const flags = constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);
  let created = false;
  try {
    const handle = await open(temp, flags, 0o600);
    created = true;
    try {
      for (let offset = 0; offset < bytes.length; ) {
        const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset, offset);
        // write(2) returning 0 for a non-empty buffer means no room, even if no errno came with it.
        if (bytesWritten === 0) throw Object.assign(new Error('no bytes written'), { code: 'ENOSPC' });
        offset += bytesWritten;
      }
      if (options.owner) await keepOwner(handle, target, options.owner);
      await handle.chmod(options.mode);
      if (options.durable !== false) await handle.sync();
      await checkReadBack(handle, bytes);
    } finally {
      await handle.close();
    }
    await options.beforeRename?.();
    await renameRetrying(temp, target);
    // Stryker disable next-line BooleanLiteral: nothing after the rename can throw, so `created` is not read again
    created = false;
  } catch (error) {
    if (created) await unlink(temp).catch(() => undefined);
    throw fsError(error, target, 'write');
  }
  if (options.durable !== false) await syncFolder(path.dirname(target)).catch((error: DockmirrorError) => {
    throw replacedUnflushed(error, target);
  });
}

/**
 * A folder flush that failed after the rename: unlike every other failure, the target already holds the new
 * bytes (that a power cut may still lose). The error keeps its kind and hint but says so, and `details.replaced`
 * tells a caller that restores after a failure that this file, too, is to be put back.
 */
function replacedUnflushed(error: DockmirrorError, target: string): DockmirrorError {
  return Object.assign(error, {
    message: `${target} was replaced, but flushing its folder to disk failed (${String(error.details?.errno)}): the new bytes may not survive a power cut.`,
    details: { ...error.details, replaced: true },
  });
}

/**
 * How long a Windows rename is retried in all: Docker Desktop, an editor or an antivirus scan that has the target
 * open makes MoveFileEx fail for a moment with EPERM, EACCES or EBUSY (as graceful-fs retries, but bounded to a
 * few seconds so a file held for good is reported, with what to do, instead of hanging the command).
 */
export const RENAME_RETRY_MS = 3_000;

const TRANSIENT_RENAME = new Set(['EPERM', 'EACCES', 'EBUSY']);

/**
 * `rename`, retried with backoff (10 ms doubling to 250 ms) on Windows while the target is held, up to
 * {@link RENAME_RETRY_MS}. Elsewhere these errors are final at once: a POSIX rename is never blocked by a reader.
 */
async function renameRetrying(from: string, to: string): Promise<void> {
  const deadline = Date.now() + RENAME_RETRY_MS;
  // Stryker disable next-line MethodExpression,ArithmeticOperator: the backoff changes only when retries happen, not the outcome
  for (let delay = 10; ; delay = Math.min(delay * 2, 250)) {
    try {
      await rename(from, to);
      return;
    } catch (error) {
      // Stryker disable next-line StringLiteral: any code that is not EPERM, EACCES or EBUSY is final alike
      const code = (error as { code?: string }).code ?? '';
      // Stryker disable next-line ArithmeticOperator: moves the end of the retry by at most one delay: timing only
      if (process.platform !== 'win32' || !TRANSIENT_RENAME.has(code) || Date.now() + delay > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/**
 * Only root can give a file away. Anyone else who may write the folder could still rename a new file over one
 * of root's, and that file would be theirs: the promise that owner and mode are kept would be broken without a
 * word. So a file owned by another uid is refused before anything is written.
 */
function refuseForeignOwner(target: string, owner: { uid: number; gid: number }): void {
  const self = process.getuid?.();
  if (self === undefined || self === 0 || owner.uid === self) return;
  throw new PermissionDeniedError(`Cannot keep the owner of ${target}: it belongs to ${owner.uid === 0 ? 'root' : `uid ${owner.uid}`}, and writing it as uid ${self} would make it yours. Nothing was written.`, {
    location: { file: target },
    hint: permissionHint(target),
    details: { errno: 'EPERM', owner: owner.uid, self },
  });
}

/** Gives the temp file the owner of the file it replaces; a group the caller is not in is refused, as above. */
async function keepOwner(handle: import('node:fs/promises').FileHandle, target: string, owner: { uid: number; gid: number }): Promise<void> {
  const self = process.getuid?.();
  if (self === undefined) return;
  if (self !== 0 && owner.gid === process.getgid?.()) return; // a new file already has this uid and gid
  try {
    await handle.chown(owner.uid, owner.gid);
  } catch (error) {
    if (!isCode(error, 'EPERM')) throw error;
    throw new PermissionDeniedError(`Cannot keep the group of ${target} (gid ${owner.gid}): uid ${self} is not in it, and writing the file would give it another group. Nothing was written.`, {
      cause: error,
      location: { file: target },
      hint: permissionHint(target),
      details: { errno: 'EPERM', group: owner.gid, self },
    });
  }
}

/** The temp file must hold exactly `bytes`: a device that lost a write must not have it renamed into place. */
async function checkReadBack(handle: import('node:fs/promises').FileHandle, bytes: Buffer): Promise<void> {
  const back = Buffer.alloc(bytes.length + 1);
  let length = 0;
  for (;;) {
    const { bytesRead } = await handle.read(back, length, back.length - length, length);
    if (bytesRead === 0 || (length += bytesRead) === back.length) break;
  }
  if (length !== bytes.length || !back.subarray(0, length).equals(bytes)) {
    throw Object.assign(new Error(`read back ${length} bytes that differ from the ${bytes.length} written`), { code: 'EIO' });
  }
}

/** Flushes the rename itself; file systems and platforms that cannot sync a folder are fine without it. */
async function syncFolder(dir: string): Promise<void> {
  try {
    const handle = await open(dir, constants.O_RDONLY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (!isCode(error, 'EISDIR') && !isCode(error, 'EINVAL') && !isCode(error, 'EPERM') && !isCode(error, 'EBADF')) throw fsError(error, dir, 'write');
  }
}
