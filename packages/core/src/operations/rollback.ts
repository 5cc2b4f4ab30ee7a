import { DriftError, UsageError } from '../errors.js';
import { Journal, hashBytes, isEntryId } from '../state/journal.js';
import { runChange, unifiedDiff, type ChangeResult, type PlanContext, type PlannedChange } from '../change/pipeline.js';
import { DEFAULT_REGISTRY, type EngineTarget } from '../engines/engine.js';
import { engineTargets, type EngineOptions } from '../engines/registry.js';
import { readableState } from '../state/read-only.js';
import { locateTarget, type CommonOptions, type MutationOptions } from './options.js';

/** Options of {@link rollback}. */
export interface RollbackOptions extends MutationOptions, EngineOptions {
  /** The backup to restore; default: the one from before the most recent change. */
  id?: string;
  /** Restore even though daemon.json changed since dockmirror last wrote it (`--force`). */
  force?: boolean;
}

/**
 * Restores every file of the most recent dockmirror change (or of change `id`) byte for byte as it was before
 * it; a file that did not exist is removed, with the folders the change created for it. Refuses with
 * {@link DriftError} when a file changed since dockmirror wrote it, unless `force`. The rollback is journaled
 * itself, so it can be rolled back too.
 */
export async function rollback(options: RollbackOptions = {}): Promise<ChangeResult> {
  if (options.id !== undefined && !isEntryId(options.id)) {
    throw new UsageError(`${JSON.stringify(options.id)} is not a backup id (they look like 20261126T161143123Z-a1b2c3).`, {
      hint: 'Run `dockmirror backups` to see the ids there are.',
    });
  }
  const targets = await engineTargets(options);
  const first = targets[0];
  if (!first) throw new UsageError('No container engine was found on this machine.', { hint: 'Name one with --engine docker|containerd|podman.' });
  const request = { op: 'rollback', args: { id: options.id ?? null, force: options.force ?? false }, options, targets, registry: DEFAULT_REGISTRY, stateDir: first.stateDir };
  return runChange(request, planRollback(targets, options), { restore: true });
}

/**
 * The plan of a rollback for the given engines: the latest committed change that wrote one of their files (or
 * change `id`), refused when a file it wrote changed since, unless `force`; every file of the change goes back
 * to its backup, and a file that did not exist is removed with the folders the change created for it.
 */
export function planRollback(targets: EngineTarget[], options: Pick<RollbackOptions, 'id' | 'force'>): (context: PlanContext) => Promise<PlannedChange> {
  const first = targets[0] as EngineTarget;
  return async ({ journal, read }) => {
    const committed = (await journal.entries()).filter((e) => e.status === 'committed' && e.files.some((f) => targets.some((t) => t.owns(f.file))));
    const latest = committed.at(-1);
    if (!latest) {
      throw new UsageError(`Nothing to roll back: no dockmirror change is recorded in ${journal.stateDir}.`, {
        hint: 'dockmirror can only undo changes it made; pass --state-dir if they were made with another one.',
      });
    }
    const wanted = options.id ? committed.find((e) => e.id === options.id) : latest;
    if (!wanted || !(await journal.hasBackups(wanted))) {
      throw new UsageError(`No backup ${options.id ? JSON.stringify(options.id) : `of the latest change (${latest.id})`} for ${first.configFile} in ${journal.stateDir}.`, {
        hint: 'Run `dockmirror backups` to see the backups there are.',
      });
    }
    for (const f of latest.files) {
      const now = await read(f.file);
      const current = now.raw.exists ? now.raw.bytes : undefined;
      if (hashBytes(current) === f.after.sha256 || options.force) continue;
      const written = f.file === latest.file ? await journal.readLastWritten(latest.after.sha256) : null;
      throw new DriftError(`${f.file} changed since dockmirror last wrote it (${latest.op}, ${latest.time}).`, {
        location: { file: f.file },
        hint: 'Rolling back would lose that edit. Check the diff; run again with --force to restore anyway.',
        details: { diff: written === null ? null : await unifiedDiff(f.file, written, current), lastChange: latest.id },
      });
    }
    const writes = [];
    for (const [index, f] of wanted.files.entries()) {
      await read(f.file);
      writes.push({
        file: f.file,
        bytes: await journal.readBackup(wanted, index),
        ...(f.before.mode === undefined ? {} : { mode: f.before.mode }),
        ...(f.createdDirs ? { removeDirs: f.createdDirs } : {}),
      });
    }
    return { writes, owned: wanted.ownedBefore, newMirrors: [], warnings: [] };
  };
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
  /** The file it is listed under (the change's first; daemon.json for Docker). */
  file: string;
  /** Every file the change wrote, the first included. */
  files: string[];
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
  const present = await Promise.all(entries.map((e) => journal.hasBackups(e)));
  const backups = entries
    .filter((_, i) => present[i])
    .reverse()
    .map((e) => ({
      id: e.id,
      time: e.time,
      op: e.op,
      args: e.args,
      file: e.file,
      files: e.files.map((f) => f.file),
      existed: e.before.exists,
      path: e.before.exists ? journal.backupPath(e.id) : null,
      status: e.status === 'pending' ? ('pending' as const) : ('committed' as const),
    }));
  return { stateDir: target.stateDir, backups, warnings };
}
