import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DockmirrorError, LockTimeoutError } from '../../src/errors.js';
import { addMirror } from '../../src/operations/mirrors.js';
import { withLock } from '../../src/state/lock.js';
import { isolated } from '../support/hermetic.js';
import { mountTinyDisk } from '../support/tiny-disk.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-lock-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** The pid of a process that has just exited. */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;
/** A lock wait far longer than any test here may run. */
const FOREVER = 10 * 60_000;
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

  // No clock: the wait is configured far longer than the test may run, so a lock that is not taken over at once
  // shows up as a test timeout (a failure), not as a slow pass.
  it('takes over at once a lock whose process is gone', async () => {
    await writeFile(path.join(dir, 'lock'), lockOf(deadPid()));
    const held = await withLock(dir, async () => JSON.parse(await readFile(path.join(dir, 'lock'), 'utf8')) as { pid: number }, { timeoutMs: FOREVER });
    expect(held.pid).toBe(process.pid);
    expect(await readdir(dir)).toEqual([]);
  }, 10_000);

  // DOCKMIRROR_LOCK_TIMEOUT=0 (no wait) still takes over a lock whose process is gone: that needs no waiting.
  it('takes over a dead lock even with no time to wait', async () => {
    await writeFile(path.join(dir, 'lock'), lockOf(deadPid()));
    expect(await withLock(dir, async () => 'ran', { timeoutMs: 0 })).toBe('ran');
    expect(await readdir(dir)).toEqual([]);
  }, 10_000);

  // The wait running out while a live process holds the takeover guard of a lock left half-written long ago: the
  // error's details (shown by --json) name that lock's owner as unknown, with no pid and no time.
  it('a long half-written lock that another process is taking over is reported with no owner pid or time', async () => {
    const lock = path.join(dir, 'lock');
    await writeFile(lock, '{"pid": 12');
    const past = new Date(Date.now() - 60_000);
    await utimes(lock, past, past);
    await writeFile(path.join(dir, 'lock.takeover'), lockOf(process.pid));
    const error = await withLock(dir, async () => 'ran', { timeoutMs: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect((error as LockTimeoutError).details).toEqual({ owner: { pid: -1, host: hostname(), time: '' } });
    expect(await readFile(lock, 'utf8')).toBe('{"pid": 12');
  }, 10_000);

  it('clears a takeover guard left by a dead process, then takes over the dead lock', async () => {
    const pid = deadPid();
    await writeFile(path.join(dir, 'lock'), lockOf(pid));
    await writeFile(path.join(dir, 'lock.takeover'), lockOf(pid));
    expect(await withLock(dir, async () => readdir(dir), { timeoutMs: FOREVER })).toEqual(['lock']);
    expect(await readdir(dir)).toEqual([]);
  }, 10_000);

  it('waits for a live owner and runs only after it released the lock', async () => {
    const events: string[] = [];
    let waiter: Promise<void> | undefined;
    await withLock(dir, async () => {
      events.push('owner in');
      waiter = withLock(dir, async () => void events.push('waiter in'), { timeoutMs: FOREVER });
      // Long enough for the waiter to find the lock taken several times over.
      await sleep(300);
      events.push('owner out');
    });
    await waiter;
    expect(events).toEqual(['owner in', 'owner out', 'waiter in']);
  }, 10_000);

  it('gives up after the configured wait when a live process holds the lock, and leaves it alone', async () => {
    const bytes = lockOf(process.pid);
    await writeFile(path.join(dir, 'lock'), bytes);
    let ran = false;
    const error = await withLock(dir, async () => void (ran = true), { timeoutMs: 400 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect(error).toMatchObject({ code: 'LOCKED', location: { file: path.join(dir, 'lock') }, details: { owner: { pid: process.pid } } });
    expect((error as LockTimeoutError).message).toContain(`pid ${process.pid}`);
    expect((error as LockTimeoutError).hint).toContain(`delete ${path.join(dir, 'lock')}`);
    expect(ran).toBe(false);
    expect(await readFile(path.join(dir, 'lock'), 'utf8')).toBe(bytes);
  }, 10_000);

  it('a lock deleted by hand while its holder works (as the timeout hint allows) does not turn the work into a failure', async () => {
    const lock = path.join(dir, 'lock');
    const result = await withLock(dir, async () => {
      await rm(lock);
      return 'ran';
    });
    expect(result).toBe('ran');
    expect(await readdir(dir)).toEqual([]);
  });

  it('a lock from another host is never judged by pid: it is waited out, not taken over', async () => {
    const bytes = JSON.stringify({ pid: deadPid(), host: `not-${hostname()}`, time: new Date().toISOString() });
    await writeFile(path.join(dir, 'lock'), bytes);
    await expect(withLock(dir, async () => 'ran', { timeoutMs: 200 })).rejects.toBeInstanceOf(LockTimeoutError);
    expect(await readFile(path.join(dir, 'lock'), 'utf8')).toBe(bytes);
  }, 10_000);

  it('a half-written lock is waited for while fresh, and taken over once it has stayed half-written for long', async () => {
    const lock = path.join(dir, 'lock');
    await writeFile(lock, '{"pid": 12');
    const error = await withLock(dir, async () => 'ran', { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect((error as LockTimeoutError).message).toContain('pid unknown');
    const past = new Date(Date.now() - 60_000);
    await utimes(lock, past, past);
    expect(await withLock(dir, async () => 'ran', { timeoutMs: FOREVER })).toBe('ran');
    expect(await readdir(dir)).toEqual([]);
  }, 10_000);

  // The default wait is 120 s; the test may run 10 s, so only a bound that reached the lock lets it pass.
  it('lockTimeoutMs and DOCKMIRROR_LOCK_TIMEOUT bound the wait of a change', async () => {
    const stateDir = path.join(dir, 'state');
    const base = { ...isolated(dir), configFile: path.join(dir, 'daemon.json'), stateDir, apply: 'none' as const, mirror: 'https://a.example' };
    await withLock(stateDir, async () => {
      for (const extra of [{ env: {}, lockTimeoutMs: 300 }, { env: { DOCKMIRROR_LOCK_TIMEOUT: '0.3' } }]) {
        await expect(addMirror({ ...base, ...extra })).rejects.toMatchObject({ code: 'LOCKED' });
      }
    });
    expect(existsSync(path.join(dir, 'daemon.json'))).toBe(false);
  }, 10_000);

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

describe('the lock on a full disk', () => {
  it('is refused with WRITE_FAILED before any work runs, and no owner-less lock is left to hold up later runs', async () => {
    const disk = await mountTinyDisk();
    try {
      const state = path.join(disk.dir, 'state');
      // Filled to the last block; a file name still fits (tmpfs counts inodes apart), its content no longer does.
      await writeFile(path.join(disk.dir, 'filler'), Buffer.alloc(256 * 1024)).catch(() => undefined);
      let ran = false;
      const error = await withLock(state, async () => {
        ran = true;
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DockmirrorError);
      expect((error as DockmirrorError).code).toBe('WRITE_FAILED');
      expect((error as Error).message).toContain(path.join(state, 'lock'));
      expect(ran).toBe(false);
      expect(await readdir(state)).toEqual([]);
    } finally {
      await disk.unmount();
    }
  });
});
