import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LockTimeoutError } from '../../src/errors.js';
import { addMirror } from '../../src/operations/mirrors.js';
import { withLock } from '../../src/state/lock.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-lock-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** The pid of a process that has just exited. */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;
const lockOf = (pid: number) => JSON.stringify({ pid, host: hostname(), time: new Date().toISOString() });

describe('withLock', () => {
  it('runs callers one after another', async () => {
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 8 }, () =>
        withLock(dir, async () => {
          most = Math.max(most, ++inside);
          await sleep(3);
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
    expect(await readdir(dir)).toEqual([]);
  });

  it('takes over at once a lock whose process is gone', async () => {
    await writeFile(path.join(dir, 'lock'), lockOf(deadPid()));
    const started = Date.now();
    expect(await withLock(dir, async () => 'ran', { timeoutMs: 5_000 })).toBe('ran');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('gives up after the configured wait when a live process holds the lock', async () => {
    await writeFile(path.join(dir, 'lock'), lockOf(process.pid));
    const started = Date.now();
    const error = await withLock(dir, async () => 'ran', { timeoutMs: 400 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect((error as LockTimeoutError).message).toContain(`pid ${process.pid}`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('lockTimeoutMs and DOCKMIRROR_LOCK_TIMEOUT bound the wait of a change', async () => {
    const stateDir = path.join(dir, 'state');
    const base = { configFile: path.join(dir, 'daemon.json'), stateDir, apply: 'none' as const, mirror: 'https://a.example' };
    await withLock(stateDir, async () => {
      for (const extra of [{ env: {}, lockTimeoutMs: 300 }, { env: { DOCKMIRROR_LOCK_TIMEOUT: '0.3' } }]) {
        const started = Date.now();
        await expect(addMirror({ ...base, ...extra })).rejects.toMatchObject({ code: 'LOCKED' });
        expect(Date.now() - started).toBeLessThan(1_500);
      }
    });
  });

  // Several waiters judging one dead lock at once used to delete each other's fresh locks: two ran together,
  // or a lock was put back after its owner had released it and every later caller waited out the timeout.
  it('lets exactly one of many waiters take over a dead lock', async () => {
    const pid = deadPid();
    for (let round = 0; round < 30; round++) {
      const stateDir = path.join(dir, String(round));
      await withLock(stateDir, async () => undefined);
      await writeFile(path.join(stateDir, 'lock'), lockOf(pid));
      let inside = 0;
      let most = 0;
      await Promise.all(
        Array.from({ length: 6 }, () =>
          withLock(
            stateDir,
            async () => {
              most = Math.max(most, ++inside);
              await sleep(1);
              inside--;
            },
            { timeoutMs: 5_000 },
          ),
        ),
      );
      expect(most).toBe(1);
      expect(await readdir(stateDir)).toEqual([]);
    }
  }, 60_000);
});
