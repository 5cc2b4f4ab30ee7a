// An engine whose every change writes two files, a.json and b/c.json (b/ made by the first change), both
// holding the same counter: after any crash and the next run's recovery, the two must agree. Used in-process
// by the tests and, as a program, by the crash and concurrency tests:
//   node two-file-engine.mjs <dir> <changes>   runs <changes> increments, one change each (0: forever).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const dist = new URL('../../dist/', import.meta.url);
const { runChange } = await import(new URL('change/pipeline.js', dist).href);

/** The engine target for a folder: two JSON files with a counter `n` each. */
export function twoFileTarget(dir) {
  const files = [path.join(dir, 'a.json'), path.join(dir, 'b', 'c.json')];
  const parse = (raw) => (raw.exists ? JSON.parse(raw.bytes.toString('utf8')) : { n: 0 });
  return {
    engine: 'containerd',
    configFile: files[0],
    setup: 'test',
    stateDir: path.join(dir, 'state'),
    files: () => files,
    listedFiles: async () => files,
    owns: (file) => files.includes(file),
    parse: (raw) => parse(raw),
    settings: () => [],
    summary: () => ({ mirrors: [], insecureRegistries: [] }),
    planAdd: () => undefined,
    planRemove: () => undefined,
    checkProduced: (_file, _before, bytes) => JSON.parse(bytes.toString('utf8')),
    prepare: async () => ({ tellsEngine: false, apply: async () => ({ method: 'none', reason: 'nothing to tell' }) }),
  };
}

/** One change: both files get the counter plus one (and `pad` bytes, so writes take a moment). */
export async function increment(dir, pad = 20_000) {
  return incrementWith(runChange, dir, pad);
}

/**
 * {@link increment} through the given pipeline: the tests pass the pipeline's TypeScript source, so that what
 * they check in-process (recovery after a kill above all) is the code a mutation run changes, not the build.
 */
export async function incrementWith(runChange, dir, pad = 20_000) {
  const target = twoFileTarget(dir);
  const request = { op: 'increment', args: {}, options: { apply: 'none', lockTimeoutMs: 60_000 }, targets: [target], registry: 'docker.io', stateDir: target.stateDir };
  return runChange(request, async ({ files }) => {
    const n = files.get(target.files()[0]).doc.n + 1;
    const bytes = Buffer.from(`${JSON.stringify({ n, pad: 'x'.repeat(pad) })}\n`);
    return { writes: target.files().map((file) => ({ file, bytes })), owned: [], newMirrors: [], warnings: [], edit: false };
  });
}

/** The two counters as the files hold them now (0 for a missing file). */
export async function counters(dir) {
  const read = async (file) => JSON.parse(await readFile(file, 'utf8').catch(() => '{"n":0}')).n;
  const [a, b] = twoFileTarget(dir).files();
  return [await read(a), await read(b)];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [dir, count] = process.argv.slice(2);
  for (let i = 0; Number(count) === 0 || i < Number(count); i++) await increment(dir);
}
