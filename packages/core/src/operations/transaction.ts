import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { MIRROR_KEYS, checkProducedConfig, type DaemonConfigDocument } from '../config/document.js';
import { readConfigBytes, readDaemonConfig, readDaemonConfigLeniently, writeDaemonConfig } from '../config/io.js';
import { DaemonUnreachableError, DockmirrorError, DriftError, InterruptedError } from '../errors.js';
import { recordedInsecureStillListed } from '../mirror/ownership.js';
import { applyToDaemon, preflightDaemon, refuseWithoutTelling, type ApplyReport, type DaemonHandle } from '../apply/apply.js';
import { registryMismatch } from '../daemon/registry-config.js';
import { Journal, hashBytes, newEntryId, type JournalEntry } from '../state/journal.js';
import { withLock } from '../state/lock.js';
import { keepBackups, locateTarget, lockTimeoutMs, type MutationOptions, type Target } from './options.js';
import { readableState } from './read-only.js';

/** What a planned change wants written. */
export interface PlannedChange {
  /** The new bytes of daemon.json; `undefined` removes the file (rollback to "did not exist"). */
  bytes: Buffer | undefined;
  /** insecure-registries entries dockmirror owns after the change. */
  owned: string[];
  /** Mirror URLs the change may write, for the daemon's version check. */
  newMirrors: string[];
  /** Notes for the user that do not stop the change. */
  warnings: string[];
  /** Set by edits (not restores): everything but the two mirror keys must mean what it meant before. */
  onlyMirrorKeys?: boolean;
  /** Mode for a file that has to be created (a rollback recreating a removed file keeps its old mode). */
  mode?: number;
}

/** What the planner of a change sees. */
export interface PlanContext {
  /** daemon.json as it is now. */
  doc: DaemonConfigDocument;
  /** insecure-registries entries dockmirror recorded as written that the file still lists in some spelling; `ownedInsecureEntries` says which are still its own. */
  owned: string[];
  /** The journal, for rollback. */
  journal: Journal;
}

/** The result of every command that changes daemon.json; `--json` prints exactly this. */
export interface ChangeResult {
  /** Whether daemon.json changed (or, with `dryRun`, would change). */
  changed: boolean;
  /** Whether this was a dry run: nothing was written. */
  dryRun: boolean;
  /** The daemon.json worked on. */
  configFile: string;
  /** The kind of setup the file's location belongs to (the daemon's own setup is in `apply.setup`). */
  configSetup: string;
  /** The state folder holding backups and the journal. */
  stateDir: string;
  /** `registry-mirrors` after the change ([] when absent). */
  mirrors: string[];
  /** `insecure-registries` after the change ([] when absent). */
  insecureRegistries: string[];
  /** Id of the backup holding the bytes from before the change, for `rollback <id>`; `null` when nothing changed. */
  backup: string | null;
  /** Unified diff of the change, for dry runs (empty otherwise, and when nothing changed). */
  diff: string;
  /** Notes that did not stop the change. */
  warnings: string[];
  /** How the running daemon was told, and what it showed afterwards. */
  apply: ApplyReport;
}

/** How {@link runChange} reads the file. */
export interface ChangeSettings {
  /**
   * A restore (rollback): the file is read even when it no longer parses, and an emptied file is not refused
   * here, because the rollback's own drift check decides.
   */
  restore?: boolean;
}

/**
 * Runs one change to daemon.json end to end: lock, settle what an earlier crash left, plan against the current
 * bytes, check the result parses strictly, check the daemon can take it, back up and journal, write atomically,
 * apply and confirm; on any failure after the write, put the old bytes back, apply them again and report.
 */
export async function runChange(
  op: string,
  args: Record<string, unknown>,
  options: MutationOptions,
  plan: (context: PlanContext) => Promise<PlannedChange | undefined>,
  settings: ChangeSettings = {},
): Promise<ChangeResult> {
  const target = await locateTarget(options);
  const journal = new Journal(target.stateDir);
  const read = settings.restore ? readDaemonConfigLeniently : readDaemonConfig;
  if (options.dryRun) {
    const doc = await read(target.located.path);
    // What the real run's recovery would make of an interrupted change, without writing it: a pending entry
    // counts as it will be settled, so the dry run shows what the real run does.
    journal.settleInMemory(doc.exists ? doc.bytes : undefined);
    const owned = await readableState(() => recordedInsecureStillListed(journal, doc), [], target.stateDir, 'the dry run counts no insecure-registries entry as added by dockmirror', journal.warnings);
    const planned = await plan({ doc, owned, journal });
    const after = planned?.bytes === undefined ? undefined : checkProducedConfig(doc.file, planned.bytes);
    const diff = planned ? await unifiedDiff(doc.file, doc.exists ? doc.bytes : undefined, planned.bytes) : '';
    // A dry run asks no daemon, but a flag conflict is visible from /proc and the unit files: say it now rather
    // than show a change the real run would refuse.
    if (planned && after) {
      await refuseWithoutTelling(options, { file: doc.file, after, newMirrors: planned.newMirrors }).catch((error: unknown) => {
        if (!(error instanceof DockmirrorError)) throw error;
        planned.warnings.push(`A real run would refuse this: ${error.message}`);
      });
    }
    return { ...result(target, doc, planned, after, { dryRun: true, backup: null, apply: { method: 'none', reason: 'dry run' } }, journal), diff };
  }
  return withLock(
    target.stateDir,
    async () => {
      const file = target.located.path;
      await journal.recover(await readBytes(file), file);
      const doc = await settledRead(file, read, journal, !settings.restore);
      const owned = await recordedInsecureStillListed(journal, doc);
      const planned = await plan({ doc, owned, journal });
      if (!planned || sameBytes(doc, planned.bytes)) {
        // An explicit --apply reload|restart means "and make the daemon use it": the file may already say so
        // while the live config does not (a hand edit, a run that could not reach the daemon).
        const explicit = options.apply === 'reload' || options.apply === 'restart';
        const apply = explicit ? await applyFileAsIs(options, doc, owned, journal) : { method: 'none' as const, reason: 'nothing changed' };
        return result(target, doc, undefined, doc, { dryRun: false, backup: null, apply }, journal);
      }
      const after = planned.bytes === undefined ? undefined : checkProducedConfig(file, planned.bytes);
      if (planned.onlyMirrorKeys && after) assertOnlyMirrorKeysChanged(doc, after.value);
      const daemon = await preflightDaemon(options, { file, after, newMirrors: planned.newMirrors });
      const entry: Omit<JournalEntry, 'status'> = {
        id: newEntryId(),
        op,
        args,
        time: new Date().toISOString(),
        file,
        before: { exists: doc.exists, sha256: hashBytes(doc.exists ? doc.bytes : undefined), mode: await modeOf(file) },
        after: { exists: planned.bytes !== undefined, sha256: hashBytes(planned.bytes) },
        ownedBefore: owned,
        owned: planned.owned,
      };
      await journal.saveLastWritten(planned.bytes);
      await journal.begin(entry, doc.exists ? doc.bytes : undefined);
      let report: ApplyReport;
      let told = false;
      try {
        await writeDaemonConfig(file, planned.bytes, { expect: doc, ...(planned.mode === undefined ? {} : { mode: planned.mode }) });
        told = true;
        report = await applyToDaemon(daemon, { file, after });
      } catch (error) {
        // Ctrl-C: stop now, restore nothing, and leave the entry pending; the next run settles it from the file.
        if (error instanceof InterruptedError) throw interruptedChange(error, file, told, entry.id);
        const backup = doc.exists ? journal.backupPath(entry.id) : undefined;
        const restored = await restoreAfterFailure(daemon, file, doc, error, { told, backup });
        // Aborting drops the backup; while the file may still hold the new bytes, that backup is the only copy of
        // the old ones. Left pending, the next run's recovery commits it, and `rollback` restores from it.
        // The original error is what the user needs; a journal that cannot be written is settled by the next run.
        if (restored) await journal.abort(entry.id, error instanceof Error ? error.message : String(error)).catch(() => undefined);
        throw error;
      }
      await journal.commit(entry.id);
      await journal.prune(keepBackups(options));
      return result(target, doc, planned, after, { dryRun: false, backup: entry.id, apply: report }, journal);
    },
    { timeoutMs: lockTimeoutMs(options), ...(options.signal ? { signal: options.signal } : {}) },
  );
}

/** The one line an interrupted change leaves: what the file and the daemon hold, the backup, and what to run. */
function interruptedChange(error: InterruptedError, file: string, written: boolean, backup: string): InterruptedError {
  if (!written) return error;
  const daemon = typeof error.details?.daemon === 'string' ? error.details.daemon : 'was not told';
  return Object.assign(error, {
    message: `Interrupted: ${file} holds the change (backup ${backup}) and the daemon ${daemon}. Run \`dockmirror apply\` to make the daemon load the file, or \`dockmirror rollback\` to undo it.`,
    details: { ...error.details, file, written, backup },
  });
}

/**
 * Makes the daemon load daemon.json as it is now, unchanged, when its live registry settings differ from what
 * the file means (an absent key means `[]`). Runs under the lock. A journal entry with the same bytes before and
 * after covers the moment the reload has the absent keys spelled out as `[]`: a run killed then has its exact
 * bytes put back by the next run's recovery, and the entry never becomes a rollback target.
 * @throws DaemonUnreachableError when no daemon can be told; ApplyError when it does not take the file.
 */
export async function applyFileAsIs(options: MutationOptions, doc: DaemonConfigDocument, owned: string[], journal: Journal): Promise<ApplyReport> {
  const file = doc.file;
  const daemon = await preflightDaemon(options, { file, after: doc, newMirrors: doc.mirrors ?? [] });
  if (daemon.kind === 'skip') {
    throw new DaemonUnreachableError(`No daemon was told to load ${file}: ${daemon.reason}.`, {
      hint: 'Start Docker, or point --docker-host at the daemon that reads this file, then run `dockmirror apply`.',
      details: { file, reason: daemon.reason },
    });
  }
  const { connection } = daemon;
  const liveBefore = await connection.engine.liveRegistry();
  const mismatch = registryMismatch(liveBefore, { mirrors: doc.mirrors ?? [], insecureRegistries: doc.insecureRegistries ?? [] });
  if (mismatch === undefined) {
    return { method: 'none', reason: 'the daemon already uses what the file says', endpoint: connection.endpoint, setup: connection.setup.kind, live: liveBefore };
  }
  const bytes = doc.exists ? doc.bytes : undefined;
  const state = { exists: doc.exists, sha256: hashBytes(bytes) };
  const entry: Omit<JournalEntry, 'status'> = {
    id: newEntryId(),
    op: 'apply',
    args: {},
    time: new Date().toISOString(),
    file,
    before: { ...state, mode: await modeOf(file) },
    after: state,
    ownedBefore: owned,
    owned,
  };
  await journal.saveLastWritten(bytes);
  await journal.begin(entry, undefined);
  try {
    return await applyToDaemon(daemon, { file, after: doc, what: 'file' });
  } catch (error) {
    if (error instanceof InterruptedError) {
      const what = typeof error.details?.daemon === 'string' ? error.details.daemon : 'was not told';
      Object.assign(error, { message: `Interrupted: ${file} is unchanged and the daemon ${what}. Run \`dockmirror apply\` again to make it load the file.` });
    }
    throw error;
  } finally {
    // The file holds its own bytes again (applyToDaemon puts them back): nothing to keep, nothing to roll back.
    await journal.abort(entry.id, 'apply: daemon.json unchanged').catch(() => undefined);
  }
}

/** How long an empty daemon.json must have stayed empty before it is believed (an editor may be mid-write). */
const SETTLE_MS = 1_000;

/**
 * Reads daemon.json for a change, refusing to mistake a file caught mid-write for an empty one: a writer that
 * truncates, pauses and writes (`cat >`, `echo >`, many editors) leaves it empty for a moment. An empty file
 * younger than {@link SETTLE_MS} is read again until it settles; with `refuseEmptied`, one that stays empty
 * where dockmirror last wrote content is refused, never edited as `{}` (which would drop every other setting).
 */
async function settledRead(
  file: string,
  read: (file: string) => Promise<DaemonConfigDocument>,
  journal: Journal,
  refuseEmptied: boolean,
): Promise<DaemonConfigDocument> {
  let doc = await read(file);
  while (doc.exists && doc.text.trim() === '') {
    const info = await stat(file).catch(() => undefined);
    const age = info ? Date.now() - info.mtimeMs : Infinity;
    if (!(age >= 0 && age < SETTLE_MS)) break;
    await sleep(Math.min(100, SETTLE_MS - age + 1));
    doc = await read(file);
  }
  if (refuseEmptied && doc.exists && doc.text.trim() === '') {
    const last = (await journal.committed(file)).at(-1);
    if (last?.after.exists && last.after.sha256 !== hashBytes(doc.bytes)) {
      throw new DriftError(`${file} is empty, but dockmirror last left it with content (${last.op}, ${last.time}): another program may be writing it, or it was emptied by mistake. Nothing was written.`, {
        location: { file },
        hint: 'If another program is writing it, run again when it is done. To get the content back: dockmirror rollback --force. If you emptied it on purpose, delete the file (a missing daemon.json means {}) and run again.',
        details: { emptied: true, lastChange: last.id },
      });
    }
  }
  return doc;
}

/**
 * Puts the old bytes back after a failed write or apply and, when the daemon was already being told, tells it
 * again so it runs on the old config. What happened on the way back is added to the original error: to its
 * message when the daemon was involved (the user must know whether Docker is back on the old config), and
 * always to its details.
 */
async function restoreAfterFailure(
  daemon: DaemonHandle,
  file: string,
  doc: DaemonConfigDocument,
  error: unknown,
  { told, backup }: { told: boolean; backup: string | undefined },
): Promise<boolean> {
  // A write that failed left the old file in place (the temp file is never renamed over it): nothing to undo.
  if (!told) return true;
  const details = error instanceof DockmirrorError ? (error.details ?? {}) : {};
  const reason = (e: unknown): string => {
    if (e instanceof InterruptedError) return 'interrupted';
    if (e instanceof DockmirrorError && typeof e.details?.mismatch === 'string') return e.details.mismatch;
    return e instanceof Error ? e.message : String(e);
  };
  let outcome: string;
  let restored = false;
  try {
    await writeDaemonConfig(file, doc.exists ? doc.bytes : undefined);
    restored = true;
    details.restored = true;
    outcome = `${file} was restored to its previous bytes`;
    if (daemon.kind === 'apply') {
      try {
        details.reapplied = await applyToDaemon(daemon, { file, after: doc, recovering: true });
        outcome += ', and the daemon is confirmed back on them';
      } catch (reapplyError) {
        details.reapplyFailed = reason(reapplyError);
        // A daemon that answered but sent no reload event refused the old file too: it is running, on neither.
        const refused = reapplyError instanceof DockmirrorError && reapplyError.details?.reloadEvent === false;
        outcome += refused
          ? `, but the daemon refused to reload them too (${reason(reapplyError)}): its log says why`
          : `, but the daemon did not take them either (${reason(reapplyError)}): check that Docker is running`;
      }
    }
  } catch (restoreError) {
    details.restoreFailed = reason(restoreError);
    const where = backup ? `its previous bytes are kept in ${backup}` : 'it did not exist before';
    outcome = `Restoring ${file} failed too (${reason(restoreError)}); ${where}: run \`dockmirror rollback\` once that is fixed`;
  }
  if (error instanceof DockmirrorError) {
    if (!error.details) Object.assign(error, { details });
    if (daemon.kind === 'apply') Object.assign(error, { message: `${error.message} ${outcome}.` });
  }
  return restored;
}

/**
 * The last line of defence of "never touch anything else": before writing an edit, the new file's meaning
 * outside `registry-mirrors` and `insecure-registries` must equal the old one's.
 */
function assertOnlyMirrorKeysChanged(doc: DaemonConfigDocument, after: Record<string, unknown>): void {
  const others = (value: Record<string, unknown>) => Object.fromEntries(Object.entries(value).filter(([key]) => !MIRROR_KEYS.includes(key as never)));
  const before = doc.text.trim() === '' ? {} : (JSON.parse(doc.text) as Record<string, unknown>);
  if (!isDeepStrictEqual(others(before), others(after))) {
    throw new DockmirrorError('UNEXPECTED', `${doc.file}: the edit would have changed more than the mirror keys; nothing was written.`, {
      location: { file: doc.file },
      hint: 'This is a bug in dockmirror: please report it with the file (the original is untouched).',
    });
  }
}

/** The raw bytes of a file, or `undefined` when it does not exist (or is no regular file: the reader refuses that). */
export async function readBytes(file: string): Promise<Buffer | undefined> {
  return (await readConfigBytes(file).catch((error: unknown) => {
    if (error instanceof DockmirrorError && error.code === 'INVALID_CONFIG') return undefined;
    throw error;
  }))?.bytes;
}

/** A unified diff between two versions of daemon.json. The diff library loads only when a diff is shown. */
export async function unifiedDiff(file: string, before: Buffer | undefined, after: Buffer | undefined): Promise<string> {
  const { createPatch } = await import('diff');
  const text = (bytes: Buffer | undefined) => (bytes === undefined ? '' : bytes.toString('utf8'));
  return createPatch(file, text(before), text(after), 'before', 'after');
}

function sameBytes(doc: DaemonConfigDocument, bytes: Buffer | undefined): boolean {
  if (bytes === undefined) return !doc.exists;
  return doc.exists && doc.bytes.equals(bytes);
}

async function modeOf(file: string): Promise<number | undefined> {
  return stat(file).then((s) => s.mode & 0o7777, () => undefined);
}

function result(
  target: Target,
  doc: DaemonConfigDocument,
  planned: PlannedChange | undefined,
  after: DaemonConfigDocument | undefined,
  extra: { dryRun: boolean; backup: string | null; apply: ApplyReport },
  journal: Journal,
): ChangeResult {
  const changed = planned !== undefined && !sameBytes(doc, planned.bytes);
  if (!changed) after = doc;
  return {
    changed,
    dryRun: extra.dryRun,
    configFile: doc.file,
    configSetup: target.located.setup,
    stateDir: target.stateDir,
    mirrors: after?.mirrors ?? [],
    insecureRegistries: after?.insecureRegistries ?? [],
    backup: extra.backup,
    // A diff of a 1 MB file costs tens of ms; only a dry run, whose whole point is the diff, pays for it.
    diff: '',
    warnings: [...journal.warnings, ...(planned?.warnings ?? [])],
    apply: extra.apply,
  };
}
