// The fast path's body runs from a code cache made after a run (src/fast-script.ts). What it may read and write:
// only the proven build folder it is given, one cache per command, 0600, written only when there was none worth
// keeping; a cache V8 refuses is replaced, and a run that did not go the whole way never replaces a whole one.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { buildId } from '../src/compile-cache.js';
import { loadFastRun } from '../src/fast-script.js';
import { cliEnv, cliHome } from './support/env.js';

const cleanup: string[] = [];
afterAll(() => cleanup.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function scratch(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'dm-fast-script-'));
  cleanup.push(dir);
  return dir;
}

/** A script of the fast-run shape whose runPlan says what the plan asks, and shows it was handed its import.meta. */
function script(dir: string): URL {
  const file = path.join(dir, 'fast-run.js');
  writeFileSync(
    file,
    '(function (__import, __importMeta) {\n' +
      'function square(n) { return n * n; }\n' +
      'return { runPlan: async (plan) => square(plan.whole ? 1 : 0) === 1 && /fast-run-\\d+\\.js$/.test(__importMeta.filename) };\n' +
      '})\n',
  );
  return pathToFileURL(file);
}

/** Name, size and change time of each file in `dir`, to tell a kept file from a rewritten one. */
function files(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .map((name) => {
      const info = statSync(path.join(dir, name), { bigint: true });
      return `${name} ${info.mode & 0o777n} ${info.ino} ${info.ctimeNs}`;
    });
}

/** A script of the fast-run shape, and an empty folder for its caches beside it. */
function withCacheFolder(): { file: URL; caches: string } {
  const dir = scratch();
  const caches = path.join(dir, 'build');
  mkdirSync(caches);
  return { file: script(dir), caches };
}

let copies = 0;
/**
 * One start's worth: `file` loaded (from a copy under a name of its own: V8 keeps what one process compiled, by
 * source and name, and would otherwise never look at the cache), run, and its cache kept as the CLI does.
 */
async function run(dir: string | undefined, file: URL, whole: boolean): Promise<boolean> {
  const copy = new URL(`fast-run-${(copies += 1)}.js`, file);
  writeFileSync(copy, readFileSync(file));
  const body = loadFastRun({ id: 'mirror:add' }, { dir, script: copy });
  const wholeWay = await body.runPlan({ whole } as never, {});
  body.keepCache(wholeWay);
  return wholeWay;
}

describe('the fast path code cache', () => {
  it('is written once per command, 0600, and read as it is afterwards', async () => {
    const { file, caches } = withCacheFolder();
    expect(await run(caches, file, true)).toBe(true);
    const first = files(caches);
    expect(first).toEqual([expect.stringMatching(/^fast-mirror-add\.v8 384 /)]);
    expect(await run(caches, file, true)).toBe(true);
    expect(files(caches)).toEqual(first);
  });

  it('a cache V8 refuses is replaced by a good one, and the run goes on', async () => {
    const { file, caches } = withCacheFolder();
    writeFileSync(path.join(caches, 'fast-mirror-add.v8'), 'not a code cache');
    expect(await run(caches, file, true)).toBe(true);
    const written = readFileSync(path.join(caches, 'fast-mirror-add.v8'));
    expect(written.toString()).not.toBe('not a code cache');
    const kept = files(caches);
    expect(await run(caches, file, true)).toBe(true);
    expect(files(caches)).toEqual(kept);
    // Refused and not replaced by this run (it did not go the whole way), it goes, not to be read again.
    writeFileSync(path.join(caches, 'fast-mirror-add.v8'), 'not a code cache');
    expect(await run(caches, file, false)).toBe(false);
    expect(files(caches)).toEqual([expect.stringMatching(/^fast-mirror-add\.partial\.v8 384 /)]);
  });

  it('a run that did not go the whole way leaves a partial cache, which the first whole run replaces, and never a whole one', async () => {
    const { file, caches } = withCacheFolder();
    expect(await run(caches, file, false)).toBe(false);
    const partial = files(caches);
    expect(partial).toEqual([expect.stringMatching(/^fast-mirror-add\.partial\.v8 384 /)]);
    expect(await run(caches, file, false)).toBe(false);
    expect(files(caches)).toEqual(partial);
    expect(await run(caches, file, true)).toBe(true);
    const whole = files(caches);
    expect(whole).toEqual([expect.stringMatching(/^fast-mirror-add\.v8 384 /)]);
    expect(await run(caches, file, false)).toBe(false);
    expect(files(caches)).toEqual(whole);
  });

  it('without a proven folder nothing is read or written', async () => {
    const dir = scratch();
    const file = script(dir);
    expect(await run(undefined, file, true)).toBe(true);
    expect(readdirSync(dir).filter((name) => !name.startsWith('fast-run'))).toEqual([]);
  });
});

describe("the built CLI's fast path", () => {
  const bin = fileURLToPath(new URL('../bin/run.js', import.meta.url));
  const own = path.join(userInfo().homedir, '.cache', 'dockmirror', 'compile-cache', buildId(new URL('../dist/fast-run.js', import.meta.url)) as string);
  const env: NodeJS.ProcessEnv = { ...cliEnv(), NO_COLOR: '1' };
  delete env.NODE_COMPILE_CACHE;
  delete env.NODE_DISABLE_COMPILE_CACHE;
  const list = (config: string) => spawnSync(process.execPath, [bin, 'mirror', 'list', '--no-live', '--config-file', config], { env, encoding: 'utf8' });

  it("caches each hot command in its build's proven folder, and only there", () => {
    const config = path.join(cliHome(), 'cached.json');
    writeFileSync(config, '{"registry-mirrors": ["https://mirror.gcr.io"]}\n');
    const first = list(config);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain('https://mirror.gcr.io');
    const cache = path.join(own, 'fast-mirror-list.v8');
    const made = statSync(cache, { bigint: true });
    expect(made.mode & 0o777n).toBe(0o600n);
    // The next start reads it and leaves it; its answer is the same.
    const second = list(config);
    expect(second.stdout).toBe(first.stdout);
    expect(statSync(cache, { bigint: true }).ctimeNs).toBe(made.ctimeNs);
    // Made writable by others, the folder is not used at all: no cache is read from it or written to it.
    rmSync(own, { recursive: true });
    mkdirSync(own);
    chmodSync(own, 0o777);
    try {
      const refused = list(config);
      expect(refused.stdout).toBe(first.stdout);
      expect(readdirSync(own)).toEqual([]);
    } finally {
      chmodSync(own, 0o700);
    }
    expect(list(config).stdout).toBe(first.stdout);
    expect(readdirSync(own)).toContain('fast-mirror-list.v8');
  });
});
