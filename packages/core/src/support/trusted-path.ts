/**
 * Deciding whether a folder is safe for root to write in, the way ssh judges `~/.ssh`: every folder on the way
 * must belong to root or to the user running dockmirror, and none may be writable by anyone else unless it is
 * sticky (like /tmp, where others cannot rename or delete what is ours). A symlink on the way is followed only
 * when it too belongs to root or the caller. Only then can nobody swap a folder, plant a symlink or pre-create
 * a file between our checks and our writes.
 */
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { UnsafePathError } from '../errors.js';
import { fsError, isCode } from './fs-errors.js';

/** Symlink hops allowed on one path, as Linux allows (ELOOP past 40). */
const MAX_HOPS = 40;

/** The uids whose files root may trust: root's own, and the user running dockmirror. */
export function isTrustedUid(uid: number, self: number | undefined = process.getuid?.()): boolean {
  return uid === 0 || uid === self;
}

/** Whether a folder's mode lets someone other than its owner add, rename or remove entries in it. */
function othersMayWrite(info: Stats): boolean {
  return (info.mode & 0o022) !== 0 && (info.mode & 0o1000) === 0;
}

/** Options of {@link trustedFolder}. */
export interface TrustedFolderOptions {
  /** Create missing folders with this mode, one level at a time (never a recursive mkdir). */
  create?: number;
  /** What the folder is, for messages (e.g. "state folder"). */
  what: string;
  /**
   * The folder itself must belong to the caller (or root) and be writable by nobody else, sticky or not:
   * for dockmirror's own state folder. Ancestors are judged by the ssh rule either way.
   */
  strict?: boolean;
}

/**
 * Checks (and with `create`, makes) a folder that root will write in, and returns its real path. Throws
 * {@link UnsafePathError} naming the first folder or symlink someone else controls, and what to do.
 * On Windows, where ownership works differently, it only resolves and creates.
 */
export async function trustedFolder(dir: string, options: TrustedFolderOptions): Promise<string> {
  const target = path.resolve(dir);
  if (process.platform === 'win32' || process.getuid === undefined) {
    if (options.create !== undefined) await mkdir(target, { recursive: true, mode: options.create }).catch((e: unknown) => {
      throw fsError(e, target, 'write');
    });
    return target;
  }
  const pending = target.split('/').filter(Boolean);
  let current = '/';
  let hops = 0;
  checkFolder(current, lstatOf(current), options, false);
  while (pending.length > 0) {
    const name = pending.shift() as string;
    const next = path.join(current, name);
    let info = lstatOf(next);
    if (info === undefined) {
      if (options.create === undefined) throw missing(next, options);
      try {
        await mkdir(next, { mode: options.create });
      } catch (error) {
        // Someone else made it in between: judge what is there now like anything else.
        if (!isCode(error, 'EEXIST')) throw fsError(error, next, 'write');
      }
      info = lstatOf(next);
      if (info === undefined) throw missing(next, options);
    }
    if (info.isSymbolicLink()) {
      if (!isTrustedUid(info.uid)) throw unsafe(next, `is a symlink owned by uid ${info.uid}`, options);
      if (++hops > MAX_HOPS) throw unsafe(next, 'is part of a symlink loop', options);
      const link = readlinkSync(next);
      pending.unshift(...path.resolve(current, link).split('/').filter(Boolean));
      current = '/';
      continue;
    }
    checkFolder(next, info, options, pending.length === 0);
    current = next;
  }
  return current;
}

/**
 * The real path of `file`, reached only through folders {@link trustedFolder} accepts and through symlinks
 * owned by root or the caller, with the lstat of what is there (`undefined` when nothing is).
 * @throws UnsafePathError naming the folder or symlink another user controls.
 */
export async function trustedPath(file: string, options: TrustedFolderOptions): Promise<{ path: string; info: Stats | undefined }> {
  let candidate = path.resolve(file);
  for (let hops = 0; ; hops++) {
    const dir = await trustedFolder(path.dirname(candidate), options);
    const full = path.join(dir, path.basename(candidate));
    const info = lstatOf(full);
    if (!info?.isSymbolicLink()) return { path: full, info };
    if (process.getuid !== undefined && !isTrustedUid(info.uid)) throw unsafe(full, `is a symlink owned by uid ${info.uid}`, options);
    if (hops >= MAX_HOPS) throw unsafe(full, 'is part of a symlink loop', options);
    candidate = path.resolve(dir, readlinkSync(full));
  }
}

function checkFolder(dir: string, info: Stats | undefined, options: TrustedFolderOptions, last: boolean): void {
  if (info === undefined) throw missing(dir, options);
  if (!info.isDirectory()) throw unsafe(dir, 'is not a folder', options);
  if (!isTrustedUid(info.uid)) throw unsafe(dir, `belongs to uid ${info.uid}, not to root or to you`, options);
  if (last && options.strict && (info.mode & 0o022) !== 0) {
    throw unsafe(dir, `is writable by ${info.mode & 0o002 ? 'everyone' : 'its group'} (mode ${(info.mode & 0o7777).toString(8)})`, options);
  }
  if (othersMayWrite(info)) throw unsafe(dir, `is writable by others and not sticky (mode ${(info.mode & 0o7777).toString(8)})`, options);
}

// Synchronous on purpose: each folder on the way is one lstat of a local path, and a change proves half a dozen
// paths; awaited one by one, the thread-pool round trips cost more than the calls themselves.
function lstatOf(file: string): Stats | undefined {
  try {
    return lstatSync(file);
  } catch (error) {
    if (isCode(error, 'ENOENT')) return undefined;
    throw fsError(error, file, 'read');
  }
}

function unsafe(where: string, why: string, options: TrustedFolderOptions): UnsafePathError {
  return new UnsafePathError(`Refusing to use the ${options.what}: ${where} ${why}, so another user could control what is there.`, {
    location: { file: where },
    hint: `Use a ${options.what} in folders only root (or you) can write, or fix ${where}'s owner and mode (chown root, chmod go-w).`,
    details: { path: where, reason: why },
  });
}

function missing(where: string, options: TrustedFolderOptions): UnsafePathError {
  return new UnsafePathError(`The ${options.what} ${where} does not exist.`, {
    location: { file: where },
    hint: `Create ${where}, or point dockmirror at another ${options.what}.`,
    details: { path: where, reason: 'missing' },
  });
}
