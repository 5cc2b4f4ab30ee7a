/**
 * The lock's judgement of other owners: what counts as alive, what may be taken over, and what it refuses. Each
 * test pins one decision by its outcome (who holds the lock, which error, which files are left), not by time:
 * a wait that should run out is given a short lock timeout, and one that should not is given a long one.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DockmirrorError } from '../../src/errors.js';
import { withLock } from '../../src/state/lock.js';

let dir: string;
let lock: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-lock-guards-'));
  lock = path.join(dir, 'lock');
});
afterEach(async () => {
  spawnSync('chattr', ['-i', dir]);
  await rm(dir, { recursive: true, force: true });
});

const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;
const owner = (pid: unknown, host: unknown = hostname()) => JSON.stringify({ pid, host, time: new Date().toISOString() });
/** Never reached when the lock is taken: the long wait shows the takeover did not depend on the wait running out. */
const LONG = { timeoutMs: 50_000 };
const SHORT = { timeoutMs: 150 };

async function refusal(promise: Promise<unknown>): Promise<DockmirrorError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(DockmirrorError);
  return error as DockmirrorError;
}

async function makeOld(file: string): Promise<void> {
  const old = new Date(Date.now() - 60_000);
  await utimes(file, old, old);
}

describe('a lock held by a live process', () => {
  it('is waited for, and the wait running out is LOCKED naming the owner, the lock file and what to do', async () => {
    await writeFile(lock, owner(process.pid));
    const error = await refusal(withLock(dir, async () => 'ran', SHORT));
    expect(error.code).toBe('LOCKED');
    expect(error.message).toBe(`Another dockmirror process (pid ${process.pid}) is still changing this daemon.json.`);
    expect(error.location).toEqual({ file: lock });
    expect(error.hint).toBe(`Wait for it to finish and try again. If no dockmirror is running, delete ${lock}.`);
    expect((error.details?.owner as { pid: number }).pid).toBe(process.pid);
    // The live owner's lock is still there, untouched.
    expect(JSON.parse(execFileSync('cat', [lock], { encoding: 'utf8' })).pid).toBe(process.pid);
  });

  it('on another host cannot be judged by pid: even a pid dead here is waited for', async () => {
    await writeFile(lock, owner(deadPid(), `${hostname()}-elsewhere`));
    expect((await refusal(withLock(dir, async () => 'ran', SHORT))).code).toBe('LOCKED');
  });
});

describe('a lock that can be taken over at once', () => {
  it.each([0, -7])('an owner pid of %i is no process (and kill(0) would signal our own group)', async (pid) => {
    await writeFile(lock, owner(pid));
    await expect(withLock(dir, async () => 'ran', LONG)).resolves.toBe('ran');
    expect(await readdir(dir)).toEqual([]);
  });

  it('a half-written lock is waited for while fresh and taken over once old', async () => {
    await writeFile(lock, '{"pid": 12');
    expect((await refusal(withLock(dir, async () => 'ran', SHORT))).code).toBe('LOCKED');
    await makeOld(lock);
    await expect(withLock(dir, async () => 'ran', LONG)).resolves.toBe('ran');
  });

  it.each([
    ['a pid that is no integer', JSON.stringify({ pid: '1', host: hostname(), time: 't' })],
    ['no host', JSON.stringify({ pid: 1, time: 't' })],
    ['no time', JSON.stringify({ pid: 1, host: hostname() })],
  ])('an owner record with %s is not believed: waited for while fresh, taken over once old', async (_, text) => {
    // pid 1 is alive: believing the record would wait forever.
    await writeFile(lock, text);
    expect((await refusal(withLock(dir, async () => 'ran', SHORT))).code).toBe('LOCKED');
    await makeOld(lock);
    await expect(withLock(dir, async () => 'ran', LONG)).resolves.toBe('ran');
  });

  it('a takeover guard left by a dead process is cleared, and the dead lock then taken', async () => {
    await writeFile(lock, owner(deadPid()));
    await writeFile(`${lock}.takeover`, owner(deadPid()));
    await expect(withLock(dir, async () => 'ran', LONG)).resolves.toBe('ran');
    expect(await readdir(dir)).toEqual([]);
  });

  it('a takeover guard held by a live process is left alone, and the dead lock not taken meanwhile', async () => {
    await writeFile(lock, owner(deadPid()));
    await writeFile(`${lock}.takeover`, owner(process.pid));
    expect((await refusal(withLock(dir, async () => 'ran', SHORT))).code).toBe('LOCKED');
    expect(existsSync(`${lock}.takeover`)).toBe(true);
    expect(existsSync(lock)).toBe(true);
  });
});

describe('what the lock refuses', () => {
  it.each([
    ['a folder', (file: string) => mkdir(file)],
    ['a symlink', (file: string) => symlink('/etc/passwd', file)],
    ['a special file', (file: string) => Promise.resolve(execFileSync('mkfifo', [file]))],
  ])('a lock that is %s: UNSAFE_PATH, and it is left as it is', async (kind, make) => {
    await make(lock);
    const error = await refusal(withLock(dir, async () => 'ran', LONG));
    expect(error.code).toBe('UNSAFE_PATH');
    expect(error.message).toContain(`is not a regular file (${kind})`);
    expect(error.hint).toBe(`Check that no dockmirror is running, then remove ${lock}.`);
    expect(await readdir(dir)).toEqual(['lock']);
  });

  it('a lock that cannot be created for another reason is that error at once, not a wait', async () => {
    execFileSync('chattr', ['+i', dir]);
    const error = await refusal(withLock(dir, async () => 'ran', LONG));
    expect(error.code).toBe('PERMISSION');
    expect(error.location).toEqual({ file: lock });
  });

  it('is released when the work throws, and the error is the work’s', async () => {
    const boom = new Error('boom');
    await expect(withLock(dir, () => Promise.reject(boom), LONG)).rejects.toBe(boom);
    expect(await readdir(dir)).toEqual([]);
  });
});
