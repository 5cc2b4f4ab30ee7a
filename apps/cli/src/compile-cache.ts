/**
 * Where Node's compile cache may live. Node runs what it finds in that folder, so a folder another user can write
 * would let them plant code that root then runs: Node's default, `$TMPDIR/node-compile-cache`, is `/tmp` under
 * sudo. dockmirror uses only `<home>/.cache/dockmirror/compile-cache`, with the home taken from the password
 * database (not `$HOME`, which sudo may keep as the invoking user's), and only after proving every folder on the
 * way is its own. Anything it cannot prove means no cache: a slower start, never someone else's code.
 */
import { lstatSync, mkdirSync, type Stats } from 'node:fs';
import module from 'node:module';
import { userInfo } from 'node:os';
import path from 'node:path';

/** The folders under the home that hold the cache; created 0700 when missing. */
const CACHE_PATH = ['.cache', 'dockmirror', 'compile-cache'];

/**
 * Why `dir` cannot hold root's (or this user's) compile cache, or `undefined` when it can: every component from
 * `/` down must be a real folder (no symlink), owned by `uid` or by root, and writable by neither group nor
 * others. That is what stops anyone else from renaming, replacing or filling any folder on the way.
 */
export function untrustedReason(dir: string, uid: number): string | undefined {
  if (!path.isAbsolute(dir)) return `${dir} is not an absolute path`;
  let current = path.parse(dir).root;
  const parts = path.relative(current, dir).split(path.sep).filter(Boolean);
  for (let i = 0; ; i += 1) {
    let info: Stats;
    try {
      info = lstatSync(current);
    } catch (error) {
      return `${current}: ${(error as NodeJS.ErrnoException).code ?? 'cannot stat'}`;
    }
    if (info.isSymbolicLink()) return `${current} is a symlink`;
    if (!info.isDirectory()) return `${current} is not a folder`;
    if (info.uid !== uid && info.uid !== 0) return `${current} is owned by uid ${info.uid}`;
    if ((info.mode & 0o022) !== 0) return `${current} is writable by group or others`;
    const next = parts[i];
    if (next === undefined) return undefined;
    current = path.join(current, next);
  }
}

/**
 * The compile cache folder for the user this process runs as, created (0700) if missing, or `undefined` when it
 * cannot be proven to be theirs. A handful of lstat calls: cheap enough for every start.
 */
export function ownCompileCacheDir(): string | undefined {
  let home: string;
  let uid: number;
  try {
    ({ homedir: home, uid } = userInfo());
  } catch {
    return undefined; // no password entry for this uid
  }
  if (uid < 0 || !path.isAbsolute(home)) return undefined; // Windows (uid -1) or no usable home
  // The home itself must already be proven before anything is created in it.
  if (untrustedReason(home, uid) !== undefined) return undefined;
  let dir = home;
  for (const part of CACHE_PATH) {
    dir = path.join(dir, part);
    try {
      // One level at a time, never recursive: a missing level is made here, 0700, by this uid.
      mkdirSync(dir, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
    }
  }
  return untrustedReason(dir, uid) === undefined ? dir : undefined;
}

/** Turns Node's compile cache on in {@link ownCompileCacheDir}, or leaves it off. Never throws. */
export function enableOwnCompileCache(): void {
  try {
    const dir = ownCompileCacheDir();
    if (dir !== undefined) module.enableCompileCache?.(dir);
  } catch {
    // A cache is only an optimisation.
  }
}
