import { closeSync, openSync, writeSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LockTimeoutError, UnsafePathError } from '../errors.js';
import { interrupted } from '../support/interrupt.js';
import { readBounded } from '../support/bounded-read.js';
import { fsError, isCode, unlinkIfPresent } from '../support/fs-errors.js';
import { stateFolder } from './state-folder.js';

/** Options for {@link withLock}. */
export interface LockOptions {
  /** How long to wait for another dockmirror process, in milliseconds (default 120 s). */
  timeoutMs?: number;
  /** Stops the wait at once (Ctrl-C) with an InterruptedError; nothing was written then. */
  signal?: AbortSignal;
}

interface Owner {
  pid: number;
  host: string;
  time: string;
}

/**
 * Runs `work` while holding an exclusive lock file in the state folder, so dockmirror processes working on one
 * daemon.json run one after another. The lock records its owner's pid: a lock whose process is gone (SIGKILL,
 * power loss) is taken over at once instead of after a staleness delay, which is why this is not an
 * mtime-based lock library. Waiting is bounded by `timeoutMs`.
 */
export async function withLock<T>(stateDir: string, work: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const lockFile = path.join(stateDir, 'lock');
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  await stateFolder(stateDir, true);
  let delay = 5;
  for (;;) {
    if (await tryCreate(lockFile)) break;
    const owner = await readOwner(lockFile);
    if (owner && !isAlive(owner) && (await takeOver(lockFile, owner))) continue;
    if (Date.now() >= deadline) {
      throw new LockTimeoutError(
        `Another dockmirror process (pid ${owner?.pid ?? 'unknown'}) is still changing this daemon.json.`,
        {
          location: { file: lockFile },
          hint: `Wait for it to finish and try again. If no dockmirror is running, delete ${lockFile}.`,
          details: { owner },
        },
      );
    }
    if (options.signal?.aborted) throw interrupted();
    await sleep(delay);
    // Stryker disable next-line ArithmeticOperator: the back-off only sets how long each wait is; every wait ends at the same checks
    delay = Math.min(delay * 2, 100);
  }
  try {
    return await work();
  } finally {
    await unlinkIfPresent(lockFile);
  }
}

async function tryCreate(lockFile: string): Promise<boolean> {
  // Synchronous on purpose: three calls on a local file, each quicker than a thread-pool round trip, and
  // FileHandle.writeFile's first use costs a millisecond of every change.
  let fd: number;
  try {
    // O_EXCL: an existing file, folder or symlink under that name is never opened, only reported as taken.
    fd = openSync(lockFile, 'wx', 0o600);
  } catch (error) {
    if (isCode(error, 'EEXIST')) return false;
    throw fsError(error, lockFile, 'write');
  }
  try {
    const owner: Owner = { pid: process.pid, host: os.hostname(), time: new Date().toISOString() };
    const bytes = Buffer.from(JSON.stringify(owner));
    // A disk that fills up in the middle takes part of the bytes and says no more: that is a full disk too.
    // Stryker disable next-line ConditionalExpression,EqualityOperator: a short write of 80 bytes cannot be made on a test disk (tmpfs fills by 4 KiB pages)
    if (writeSync(fd, bytes) !== bytes.length) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
    closeSync(fd);
    return true;
  } catch (error) {
    // A full disk: a lock without an owner would make every later run wait; take it back.
    try {
      closeSync(fd);
    } catch {
      // closed already, or the close failed too: the lock goes either way
    }
    await unlinkIfPresent(lockFile);
    throw fsError(error, lockFile, 'write');
  }
}

async function readOwner(lockFile: string): Promise<Owner | undefined> {
  const info = await lstat(lockFile).catch(() => undefined);
  if (info && !info.isFile()) {
    throw new UnsafePathError(`The lock ${lockFile} is not a regular file (${info.isDirectory() ? 'a folder' : info.isSymbolicLink() ? 'a symlink' : 'a special file'}); dockmirror did not make it.`, {
      location: { file: lockFile },
      hint: `Check that no dockmirror is running, then remove ${lockFile}.`,
    });
  }
  try {
    const parsed = JSON.parse((await readBounded(lockFile, { maxBytes: 4096, followSymlinks: false }))?.toString('utf8') ?? '') as Partial<Owner>;
    if (Number.isInteger(parsed.pid) && typeof parsed.host === 'string' && typeof parsed.time === 'string') return parsed as Owner;
  } catch {
    // judged below
  }
  // Missing (just released) or half-written (its owner is between open and write): not ours to judge yet,
  // unless it has been half-written for long, which means the owner died in between.
  if (info && Date.now() - info.mtimeMs > 2_000) return { pid: -1, host: os.hostname(), time: '' };
  return undefined;
}

function isAlive(owner: Owner): boolean {
  // A lock from another host (shared folder) cannot be judged by pid; treat it as alive and let the wait run out.
  if (owner.host !== os.hostname()) return true;
  if (owner.pid <= 0) return false;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (error) {
    return isCode(error, 'EPERM');
  }
}

async function takeOver(lockFile: string, stale: Owner): Promise<boolean> {
  // Judging a lock dead and deleting it must be one step: two processes that both judged it dead could
  // otherwise delete, one after the other, the old lock and then the fresh lock a third process just took, and
  // two processes would hold it at once. A second lock file (held for a few milliseconds) makes that one step.
  const guard = `${lockFile}.takeover`;
  if (!(await tryCreate(guard))) {
    const holder = await readOwner(guard);
    if (holder && !isAlive(holder)) await unlinkIfPresent(guard);
    return false;
  }
  try {
    const current = await readOwner(lockFile);
    if (!current || current.pid !== stale.pid || current.time !== stale.time) return true;
    await unlinkIfPresent(lockFile);
    return true;
  } finally {
    await unlinkIfPresent(guard);
  }
}
