import { DriftError, UsageError } from '../errors.js';
import { Journal, hashBytes, isEntryId } from '../state/journal.js';
import { readableState } from './read-only.js';
import { locateTarget, type CommonOptions, type MutationOptions } from './options.js';
import { runChange, unifiedDiff, type ChangeResult } from './transaction.js';

/** Options of {@link rollback}. */
export interface RollbackOptions extends MutationOptions {
  /** The backup to restore; default: the one from before the most recent change. */
  id?: string;
  /** Restore even though daemon.json changed since dockmirror last wrote it (`--force`). */
  force?: boolean;
}

/**
 * Restores daemon.json byte for byte as it was before the most recent dockmirror change (or before change
 * `id`); a file that did not exist is removed. Refuses with {@link DriftError} when the file changed since
 * dockmirror wrote it, unless `force`. The rollback is journaled itself, so it can be rolled back too.
 */
export async function rollback(options: RollbackOptions = {}): Promise<ChangeResult> {
  if (options.id !== undefined && !isEntryId(options.id)) {
    throw new UsageError(`${JSON.stringify(options.id)} is not a backup id (they look like 20261126T161143123Z-a1b2c3).`, {
      hint: 'Run `dockmirror backups` to see the ids there are.',
    });
  }
  return runChange('rollback', { id: options.id ?? null, force: options.force ?? false }, options, async ({ doc, journal }) => {
    const committed = await journal.committed(doc.file);
    const latest = committed.at(-1);
    if (!latest) {
      throw new UsageError(`Nothing to roll back: no dockmirror change is recorded in ${journal.stateDir}.`, {
        hint: 'dockmirror can only undo changes it made; pass --state-dir if they were made with another one.',
      });
    }
    const wanted = options.id ? committed.find((e) => e.id === options.id) : latest;
    if (!wanted || (wanted.before.exists && !(await journal.hasBackup(wanted.id)))) {
      throw new UsageError(`No backup ${options.id ? JSON.stringify(options.id) : `of the latest change (${latest.id})`} for ${doc.file} in ${journal.stateDir}.`, {
        hint: 'Run `dockmirror backups` to see the backups there are.',
      });
    }
    const current = doc.exists ? doc.bytes : undefined;
    if (hashBytes(current) !== latest.after.sha256 && !options.force) {
      const written = await journal.readLastWritten(latest.after.sha256);
      throw new DriftError(`${doc.file} changed since dockmirror last wrote it (${latest.op}, ${latest.time}).`, {
        location: { file: doc.file },
        hint: 'Rolling back would lose that edit. Check the diff; run again with --force to restore anyway.',
        details: { diff: written === null ? null : await unifiedDiff(doc.file, written, current), lastChange: latest.id },
      });
    }
    return {
      bytes: await journal.readBackup(wanted),
      owned: wanted.ownedBefore,
      newMirrors: [],
      warnings: [],
      ...(wanted.before.mode === undefined ? {} : { mode: wanted.before.mode }),
    };
  }, { restore: true });
}

/** One stored backup. */
export interface BackupInfo {
  /** The id to pass to `rollback`. */
  id: string;
  /** When the change it precedes was made (ISO). */
  time: string;
  /** The operation that change was, e.g. `mirror add`. */
  op: string;
  /** The operation's arguments. */
  args: Record<string, unknown>;
  /** The daemon.json it belongs to. */
  file: string;
  /** Whether daemon.json existed before that change (if not, restoring removes it). */
  existed: boolean;
  /** Where the backup's bytes are, or `null` when the file did not exist. */
  path: string | null;
  /**
   * `pending` for a change that was interrupted (Ctrl-C, a kill) and not settled yet: the next command settles
   * it from the file, and `rollback` then restores this backup like any other.
   */
  status: 'committed' | 'pending';
}

/** Lists the backups in the state folder, newest first, an interrupted (pending) change among them. Reads only. */
export async function listBackups(options: CommonOptions = {}): Promise<{ stateDir: string; backups: BackupInfo[]; warnings: string[] }> {
  const target = await locateTarget(options);
  const journal = new Journal(target.stateDir);
  const warnings: string[] = [];
  const all = await readableState(() => journal.entries(), [], target.stateDir, 'no backups can be listed', warnings);
  // A pending entry that wrote no new bytes (`apply`) has nothing to restore; any other is an interrupted change.
  const entries = all.filter(
    (e) => e.status === 'committed' || (e.status === 'pending' && (e.before.sha256 !== e.after.sha256 || e.before.exists !== e.after.exists)),
  );
  const present = await Promise.all(entries.map((e) => !e.before.exists || journal.hasBackup(e.id)));
  const backups = entries
    .filter((_, i) => present[i])
    .reverse()
    .map((e) => ({
      id: e.id,
      time: e.time,
      op: e.op,
      args: e.args,
      file: e.file,
      existed: e.before.exists,
      path: e.before.exists ? journal.backupPath(e.id) : null,
      status: e.status === 'pending' ? ('pending' as const) : ('committed' as const),
    }));
  return { stateDir: target.stateDir, backups, warnings };
}
