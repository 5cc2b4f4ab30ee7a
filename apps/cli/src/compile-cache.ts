/**
 * Where Node's compile cache may live. Node runs what it finds in that folder, so a folder another user can write
 * would let them plant code that root then runs: Node's default, `$TMPDIR/node-compile-cache`, is `/tmp` under
 * sudo. dockmirror uses only `<home>/.cache/dockmirror/compile-cache`, with the home taken from the password
 * database (not `$HOME`, which sudo may keep as the invoking user's), and only after proving every folder on the
 * way is its own. Anything it cannot prove means no cache: a slower start, never someone else's code.
 */
import { lstatSync, mkdirSync, readdirSync, rmSync, statSync, type Stats } from 'node:fs';
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

/** How many other builds' folders a build's first start keeps, newest first (see {@link buildCacheDir}). */
export const KEPT_BUILDS = 2;

/**
 * The folder of one build's cache inside `root` (a proven {@link ownCompileCacheDir}), made 0700 when missing, or
 * `undefined` when it cannot be proven. Node never removes an entry, and every build's chunks are new files, so one
 * shared folder would keep every upgrade's (and every rebuild's) cache for good: 85 MB on a developer's machine
 * here. So each build has its own folder, and the first start of a build removes all but the {@link KEPT_BUILDS}
 * newest other build folders (and anything else at the top, such as what older versions left there). Two
 * installs used in turn (a global one and a project's, or a build and the baseline `npm run bench` times it
 * against) each keep their cache; a fourth build's first start removes the oldest.
 */
export function buildCacheDir(root: string, build: string, uid: number): string | undefined {
  const dir = path.join(root, build);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
    return untrustedReason(dir, uid) === undefined ? dir : undefined;
  }
  // Only this uid can write `root` (it was proven), so nothing in it is anyone else's; rm unlinks a symlink
  // rather than following it, and lstat tells a folder from a link to one.
  const others = readdirSync(root)
    .filter((name) => name !== build)
    .map((name) => ({ name, info: lstatSync(path.join(root, name), { throwIfNoEntry: false }) }));
  const kept = new Set(
    others
      .filter(({ name, info }) => name.startsWith('build-') && info?.isDirectory())
      .sort((a, b) => (b.info as Stats).mtimeMs - (a.info as Stats).mtimeMs)
      .slice(0, KEPT_BUILDS)
      .map(({ name }) => name),
  );
  for (const { name } of others) if (!kept.has(name)) rmSync(path.join(root, name), { recursive: true, force: true });
  return untrustedReason(dir, uid) === undefined ? dir : undefined;
}

/**
 * Which build of the CLI this is, as a folder name: the inode, size and mtime of `file` (dist/fast-run.js). A new
 * install or build writes new files, so the name changes with each; `undefined` when the file cannot be seen.
 * The fast path's code cache (src/fast-script.ts) is only valid for the bytes it was made from, and V8 checks
 * no more than their length: this name is what ties each cache to one fast-run.js.
 */
export function buildId(file: URL = new URL('./fast-run.js', import.meta.url)): string | undefined {
  try {
    const info = statSync(file, { bigint: true });
    return `build-${info.ino}-${info.size}-${info.mtimeNs}`;
  } catch {
    return undefined;
  }
}

/** The build folder {@link enableOwnCompileCache} proved, for the fast path's own cache (src/fast-script.ts). */
let provenBuildDir: string | undefined;

/**
 * The folder of this build's compile cache, once {@link enableOwnCompileCache} proved it (every folder from `/`
 * is this user's or root's, none writable by others), or `undefined`: no cache may then be read or written.
 */
export function ownBuildCacheDir(): string | undefined {
  return provenBuildDir;
}

/**
 * Turns Node's compile cache on in this build's folder of {@link ownCompileCacheDir}, or leaves it off. Never
 * throws. Every start after a build's first finds its folder there, and one walk from `/` proves the whole path
 * (the same check the slower way ends with): only a folder that is missing or refused goes the slower way, which
 * proves the home before it makes anything in it.
 */
export function enableOwnCompileCache(): void {
  try {
    const build = buildId();
    if (build === undefined) return;
    const { homedir: home, uid } = userInfo();
    const known = path.isAbsolute(home) ? path.join(home, ...CACHE_PATH, build) : undefined;
    if (known !== undefined && uid >= 0 && untrustedReason(known, uid) === undefined) {
      provenBuildDir = known;
    } else {
      const root = ownCompileCacheDir();
      provenBuildDir = root === undefined ? undefined : buildCacheDir(root, build, process.geteuid?.() ?? -1);
    }
    if (provenBuildDir !== undefined) module.enableCompileCache?.(provenBuildDir);
  } catch {
    // A cache is only an optimisation; no password entry for this uid ends here too.
  }
}
