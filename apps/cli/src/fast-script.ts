/**
 * Loads the fast path's body (dist/fast-run.js, src/fast-run.ts built as one script) with a V8 code cache made
 * after a run, not before. Node's compile cache is written when a module is compiled, so it holds only the
 * top-level code, and every function a command runs is compiled again on every start: about a fifth of a
 * `mirror add`'s instructions here. A cache made once the command has run holds those functions too.
 *
 * One cache per hot command (`fast-<command>.v8`), in this build's compile cache folder, and only once
 * enableOwnCompileCache proved that folder (compile-cache.ts): V8 runs what it finds there, so a folder anyone
 * else could write would let them plant code for root to run. The folder is named for one build of fast-run.js,
 * which ties each cache to the bytes it was made from (V8 itself checks only their length, its version and its
 * flags). A cache V8 refuses, or none, means compiling as usual and writing a new one; a change that wrote
 * nothing leaves a `.partial` one, replaced by the first run that went the whole way. Nothing here ever fails a
 * command: a cache is only an optimisation.
 */
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastPlan } from './fast.js';
import type { runPlan } from './fast-run.js';
import { ownBuildCacheDir } from './compile-cache.js';

/** What the fast path's body gives its loader. */
export interface FastRun {
  /** src/fast-run.ts's runPlan; resolves whether the command went the whole way (a change that wrote). */
  runPlan: typeof runPlan;
}

/** The fast path's body, loaded, and what to do once it has run. */
export interface LoadedFastRun extends FastRun {
  /** Writes the code cache this run made, when there was none worth keeping; never throws. */
  keepCache(wholeWay: boolean): void;
}

/** The script: `(function (__import, __importMeta) { ...; return { runPlan }; })` (scripts/bundle.mjs). */
const SCRIPT = new URL('./fast-run.js', import.meta.url);

/** The cache files of `plan`'s command in `dir`: a whole run's, and one that did not go the whole way. */
function cacheFiles(dir: string, plan: Pick<FastPlan, 'id'>): { whole: string; partial: string } {
  const base = path.join(dir, `fast-${plan.id.replace(':', '-')}`);
  return { whole: `${base}.v8`, partial: `${base}.partial.v8` };
}

/** Reads a file, or `undefined`. */
function readIfThere(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Where {@link loadFastRun} looks; injectable for tests. */
export interface LoadFastRunOptions {
  /** The script; default dist/fast-run.js beside this module. */
  script?: URL;
  /** The proven folder of the code caches, or `undefined` for none; default {@link ownBuildCacheDir}. */
  dir?: string | undefined;
}

/** Loads dist/fast-run.js for `plan`, with its command's code cache when there is one. */
export function loadFastRun(plan: Pick<FastPlan, 'id'>, options: LoadFastRunOptions = {}): LoadedFastRun {
  const vm = process.getBuiltinModule('node:vm');
  const file = options.script ?? SCRIPT;
  const dir = 'dir' in options ? options.dir : ownBuildCacheDir();
  const files = dir === undefined ? undefined : cacheFiles(dir, plan);
  const whole = files && readIfThere(files.whole);
  const cache = whole ?? (files && readIfThere(files.partial));
  const filename = fileURLToPath(file);
  const script = new vm.Script(readFileSync(file, 'utf8'), { filename, ...(cache ? { cachedData: cache } : {}) });
  const meta = { url: file.href, filename, dirname: path.dirname(filename) };
  const factory = script.runInThisContext() as (load: (specifier: string) => Promise<unknown>, meta: object) => FastRun;
  const body = factory((specifier) => import(new URL(specifier, file).href), meta);
  return {
    runPlan: body.runPlan,
    keepCache: (wholeWay) => {
      if (!files) return;
      // Kept: a whole run's cache V8 took, or a partial one V8 took when this run was no more than that.
      const rejected = cache !== undefined && script.cachedDataRejected === true;
      if (cache !== undefined && !rejected && (whole !== undefined || !wholeWay)) return;
      try {
        // A refused cache (another Node, other flags) goes, so it is not read again.
        if (rejected) unlinkSync(whole !== undefined ? files.whole : files.partial);
        const target = wholeWay ? files.whole : files.partial;
        const temp = `${target}.${process.pid}`;
        writeFileSync(temp, script.createCachedData(), { mode: 0o600, flag: 'wx' });
        renameSync(temp, target);
        if (wholeWay && whole === undefined && cache !== undefined) unlinkSync(files.partial);
      } catch {
        // A full disk, or a race with another start of the same build: the next start tries again.
      }
    },
  };
}
