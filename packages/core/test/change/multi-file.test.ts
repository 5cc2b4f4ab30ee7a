// A change that writes several files: a crash at any moment leaves every file wholly old or wholly new, the
// next run's recovery makes them agree again, parallel runs lose no change, and rollback restores every file
// and removes the folder the change created. The pipeline runs from the built package here, in child
// processes that are killed at random moments, and in this process from its source (recovery included).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChange } from '../../src/change/pipeline.js';
import type { EngineTarget } from '../../src/engines/engine.js';
import { planRollback } from '../../src/operations/rollback.js';
import { Journal, hashBytes, newEntryId } from '../../src/state/journal.js';

const program = fileURLToPath(new URL('../support/two-file-engine.mjs', import.meta.url));
type TwoFiles = {
  incrementWith(pipeline: typeof runChange, dir: string, pad?: number): Promise<{ changed: boolean; backup: string | null; engines: { files: string[] }[] }>;
  counters(dir: string): Promise<[number, number]>;
  twoFileTarget(dir: string): Record<string, unknown>;
};
let engine: TwoFiles;
let root: string;
/** One change in this process, through the pipeline's source (the child processes run the build). */
const increment = (dir: string, pad?: number) => engine.incrementWith(runChange, dir, pad);
beforeAll(async () => {
  engine = (await import(program)) as TwoFiles;
  root = await mkdtemp(path.join(tmpdir(), 'dm-multi-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** Runs the program for `changes` increments (0: until killed), killed after `killAfterMs` if given. */
function runProgram(dir: string, changes: number, killAfterMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [program, dir, String(changes)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
  });
}

/** `rollback` of the two-file engine: rollback()'s own plan, through the same pipeline. */
async function rollbackTwoFiles(dir: string, id?: string): Promise<void> {
  const target = engine.twoFileTarget(dir) as unknown as EngineTarget;
  const request = { op: 'rollback', args: {}, options: { apply: 'none' as const }, targets: [target], registry: 'docker.io', stateDir: target.stateDir };
  await runChange(request, planRollback([target], id ? { id } : {}), { restore: true });
}

describe('a change of two files', () => {
  it('writes both, backs up both, and rollback restores both and removes the folder it made', async () => {
    const dir = path.join(root, 'rollback');
    const first = await increment(dir, 10);
    expect(first.engines[0]?.files).toEqual([path.join(dir, 'a.json'), path.join(dir, 'b', 'c.json')]);
    expect(await engine.counters(dir)).toEqual([1, 1]);
    await increment(dir, 10);
    expect(await engine.counters(dir)).toEqual([2, 2]);
    await rollbackTwoFiles(dir);
    expect(await engine.counters(dir)).toEqual([1, 1]);
    await rollbackTwoFiles(dir, first.backup as string);
    expect(existsSync(path.join(dir, 'a.json'))).toBe(false);
    expect(existsSync(path.join(dir, 'b'))).toBe(false);
    expect((await readdir(dir)).sort()).toEqual(['state']);
  });

  it('killed between its two writes: the next run puts the written file back, so both are wholly old', async () => {
    const dir = path.join(root, 'partial');
    await increment(dir, 10);
    const [a, c] = [path.join(dir, 'a.json'), path.join(dir, 'b', 'c.json')];
    const old = await readFile(a);
    const next = Buffer.from('{"n":2}\n');
    const journal = new Journal(path.join(dir, 'state'));
    const state = (bytes: Buffer) => ({ exists: true, sha256: hashBytes(bytes) });
    await journal.begin(
      { id: newEntryId(), op: 'increment', args: {}, time: new Date().toISOString(), files: [a, c].map((file) => ({ file, before: { ...state(old), mode: 0o644 }, after: state(next) })), ownedBefore: [], owned: [] },
      [old, old],
    );
    await writeFile(a, next); // the first rename landed, the second never happened
    await journal.recover(async (file) => readFile(file));
    expect((await readFile(a)).equals(old)).toBe(true);
    expect((await readFile(c)).equals(old)).toBe(true);
    expect((await journal.entries()).map((e) => e.status)).toEqual(['committed', 'aborted']);
  });

  it('SIGKILL at random moments: after the next run, both files always hold the same change, and no temp file is left', async () => {
    const dir = path.join(root, 'crash');
    await increment(dir);
    const counts = { kills: 0, split: 0 };
    for (let i = 0; i < 24; i++) {
      const r = await runProgram(dir, 0, 150 + Math.random() * 350);
      expect(r.signal, r.stderr).toBe('SIGKILL');
      counts.kills += 1;
      const [a, b] = await engine.counters(dir);
      // Killed between the two renames: the first file is one change ahead until recovery puts it back.
      if (a !== b) {
        counts.split += 1;
        expect(a).toBe(b + 1);
      }
      await increment(dir);
      const [a2, b2] = await engine.counters(dir);
      expect(a2).toBe(b2);
      const leftovers = [...(await readdir(dir)), ...(await readdir(path.join(dir, 'b')))].filter((n) => /\.\d+$/.test(n));
      expect(leftovers).toEqual([]);
    }
    expect(counts.kills).toBe(24);
  }, 120_000);

  it('four processes at once: every change lands, one after another, and the files agree', async () => {
    const dir = path.join(root, 'parallel');
    await increment(dir);
    const runs = await Promise.all([0, 1, 2, 3].map(() => runProgram(dir, 5)));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    expect(await engine.counters(dir)).toEqual([21, 21]);
  }, 120_000);
});
