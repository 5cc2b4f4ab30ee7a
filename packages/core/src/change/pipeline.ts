/**
 * The one change pipeline every engine's change runs through: lock, settle what an earlier crash left, read
 * every file strictly, plan, check the produced bytes, prepare each engine, back up and journal every file,
 * write each atomically, apply and confirm; on any failure after the first write, put every file's old bytes
 * back, tell the engines again and report. It knows no engine: an {@link EngineTarget} reads, plans, checks
 * and applies its own files.
 */
import { lstat, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readConfigFile, writeConfigFile, type ConfigBytes } from '../config/io.js';
import { DockmirrorError, DriftError, InterruptedError } from '../errors.js';
import type { ApplyReport } from '../engines/docker/rollout.js';
import type { EngineId, EngineTarget, PlannedWrite, PreparedApply, ReadFile } from '../engines/engine.js';
import { Journal, hashBytes, newEntryId, removeEmptyFolders, type JournalFile } from '../state/journal.js';
import { withLock } from '../state/lock.js';
import { keepBackups, lockTimeoutMs, type MutationOptions } from '../operations/options.js';
import { isCode } from '../support/fs-errors.js';
import { blank } from '../support/text.js';
import { readableState } from '../state/read-only.js';

/** What a planned change wants written. */
export interface PlannedChange {
  /** The files to write, in order; `bytes: undefined` removes one. */
  writes: PlannedWrite[];
  /** Settings dockmirror owns after the change (Docker: the insecure-registries entries it added). */
  owned: string[];
  /** Mirror URLs the change may write, for the engines' version checks. */
  newMirrors: string[];
  /** Notes for the user that do not stop the change. */
  warnings: string[];
  /** Set by edits (not restores): everything but mirror settings must mean what it meant before. */
  edit?: boolean;
}

/** What the planner of a change sees. */
export interface PlanContext {
  /** Every file of the change's engines, as it is now. */
  files: ReadonlyMap<string, ReadFile>;
  /** Settings dockmirror recorded as its own that the files still hold (see mirror/ownership.ts). */
  owned: string[];
  /** The journal, for rollback. */
  journal: Journal;
  /** Reads one more file (a rollback's files of another registry), so it can be written and backed up. */
  read(file: string): Promise<ReadFile>;
}

/** One engine's part of a change's result. */
export interface EngineChange {
  /** The engine. */
  engine: EngineId;
  /** Its main config file. */
  configFile: string;
  /** The kind of setup that file belongs to. */
  configSetup: string;
  /** The files of this engine the change wrote (or, with `dryRun`, would write). */
  files: string[];
  /** How the engine was told, and what it showed afterwards. */
  apply: ApplyReport;
}

/** The result of every command that changes config files; `--json` prints exactly this. */
export interface ChangeResult {
  /** Whether any file changed (or, with `dryRun`, would change). */
  changed: boolean;
  /** Whether this was a dry run: nothing was written. */
  dryRun: boolean;
  /** The first engine of the change (the one its top-level fields describe). */
  engine: EngineId;
  /** The upstream registry whose mirrors changed. */
  registry: string;
  /** The first engine's main config file (daemon.json for Docker). */
  configFile: string;
  /** The kind of setup the file's location belongs to (the daemon's own setup is in `apply.setup`). */
  configSetup: string;
  /** The state folder holding backups and the journal. */
  stateDir: string;
  /** The first engine's mirrors of `registry` after the change ([] when none). */
  mirrors: string[];
  /** Docker's `insecure-registries` after the change ([] when absent, and for other engines). */
  insecureRegistries: string[];
  /** Id of the backup holding the bytes from before the change, for `rollback <id>`; `null` when nothing changed. */
  backup: string | null;
  /** Unified diff of the change, for dry runs (empty otherwise, and when nothing changed). */
  diff: string;
  /** Notes that did not stop the change. */
  warnings: string[];
  /** How the first engine was told, and what it showed afterwards. */
  apply: ApplyReport;
  /** Every engine of the change, the first included. */
  engines: EngineChange[];
}

/** How {@link runChange} reads the files. */
export interface ChangeSettings {
  /**
   * A restore (rollback): files are read even when they no longer parse, and an emptied file is not refused
   * here, because the rollback's own drift check decides.
   */
  restore?: boolean;
}

/** The pieces of a change every part of the pipeline needs. */
export interface ChangeRequest {
  /** The operation, e.g. `mirror add`, recorded in the journal. */
  op: string;
  /** Its arguments, recorded in the journal. */
  args: Record<string, unknown>;
  /** The caller's options. */
  options: MutationOptions;
  /** The engines the change is for, each located once; the first one is the change's own. */
  targets: EngineTarget[];
  /** The upstream registry whose mirrors change. */
  registry: string;
  /** The state folder. */
  stateDir: string;
}

/** Runs one change end to end; see the module comment. */
export async function runChange(
  request: ChangeRequest,
  plan: (context: PlanContext) => Promise<PlannedChange | undefined>,
  settings: ChangeSettings = {},
): Promise<ChangeResult> {
  const { options, targets, stateDir } = request;
  const journal = new Journal(stateDir);
  const reader = new FileReader(targets, settings.restore ?? false);
  const first = targets[0] as EngineTarget;
  const allFiles = targets.flatMap((t) => t.files(request.registry));
  if (options.dryRun) {
    const files = await reader.readAll(allFiles);
    // What the real run's recovery would make of an interrupted change, without writing it: a pending entry
    // counts as it will be settled, so the dry run shows what the real run does.
    journal.settleInMemory(new Map([...files].map(([file, read]) => [file, read.raw.exists ? read.raw.bytes : undefined])));
    // A user who is not root may dry-run a world-readable file without reading root's state folder.
    const owned = await readableState(() => recordedOwned(first, files, journal), [], stateDir, 'the dry run counts no insecure-registries entry as added by dockmirror', journal.warnings);
    const context = { files, owned, journal, read: (file: string) => reader.readOne(file, journal) };
    const planned = await plan(context);
    const changes = planned ? await checked(reader, context.files, planned) : [];
    const diff = (await Promise.all(changes.map((c) => unifiedDiff(c.file, c.before.raw.exists ? c.before.raw.bytes : undefined, c.bytes)))).join('');
    if (planned && changes.length > 0) {
      // A dry run tells no engine, but a flag conflict is visible from /proc and the unit files: say it now
      // rather than show a change the real run would refuse.
      const after = afterFiles(reader, context.files, changes);
      for (const target of involved(targets, changes)) {
        await target.checkQuietly?.(after, planned.newMirrors).catch((error: unknown) => {
          if (!(error instanceof DockmirrorError)) throw error;
          planned.warnings.push(`A real run would refuse this: ${error.message}`);
        });
      }
    }
    const apply = { method: 'none' as const, reason: 'dry run' };
    return { ...result(request, context.files, changes, planned, { dryRun: true, backup: null, reports: new Map(), fallback: apply }, journal, reader), diff };
  }
  // Abandons, when the run ends, whatever a target warmed up and prepare did not use (see EngineTarget.warmUp).
  const warm = new AbortController();
  return withLock(
    stateDir,
    async () => {
      for (const target of targets) target.warmUp?.(warm.signal);
      await journal.recover(async (file) => bytesOf(await readConfigFile(file).catch(() => undefined)), first.respelled?.bind(first));
      const files = await reader.readAll(allFiles, journal);
      const context = { files, owned: await recordedOwned(first, files, journal), journal, read: (file: string) => reader.readOne(file, journal) };
      const planned = await plan(context);
      const changes = planned ? await checked(reader, context.files, planned) : [];
      if (!planned || changes.length === 0) {
        const explicit = options.apply === 'reload' || options.apply === 'restart';
        const asIs = explicit ? await first.applyAsIs?.(context.files, context.owned, journal) : undefined;
        const apply = asIs ?? { method: 'none' as const, reason: 'nothing changed' };
        return result(request, context.files, [], planned, { dryRun: false, backup: null, reports: new Map([[first.engine, apply]]), fallback: apply }, journal, reader);
      }
      const after = afterFiles(reader, context.files, changes);
      const prepared = new Map<EngineTarget, PreparedApply>();
      for (const target of involved(targets, changes)) prepared.set(target, await target.prepare(after, planned.newMirrors));
      const entryFiles: JournalFile[] = await Promise.all(
        changes.map(async (c) => ({
          file: c.file,
          before: { exists: c.before.raw.exists, sha256: hashBytes(bytesOf(c.before.raw)), mode: await modeOf(c.file) },
          after: { exists: c.bytes !== undefined, sha256: hashBytes(c.bytes) },
          ...(c.bytes !== undefined ? createdDirs(await missingFolders(c.file)) : {}),
        })),
      );
      const id = newEntryId();
      await journal.saveLastWritten((changes[0] as CheckedWrite).bytes);
      await journal.begin(
        { id, op: request.op, args: request.args, time: new Date().toISOString(), files: entryFiles, ownedBefore: context.owned, owned: planned.owned },
        changes.map((c) => bytesOf(c.before.raw)),
      );
      const written: CheckedWrite[] = [];
      const told = new Set<EngineTarget>();
      const reports = new Map<EngineId, ApplyReport>();
      try {
        for (const change of changes) {
          await writeConfigFile(change.file, change.bytes, { expect: change.before.raw, ...(change.mode === undefined ? {} : { mode: change.mode }) }).catch(
            (error: unknown) => {
              // Only a failed folder flush comes after the rename: that file has the new bytes, and is put back too.
              if (error instanceof DockmirrorError && error.details?.replaced === true) written.push(change);
              throw error;
            },
          );
          written.push(change);
          if (change.bytes === undefined) await removeEmptyFolders(change.removeDirs ?? []);
        }
        for (const [target, apply] of prepared) {
          if (apply.tellsEngine) told.add(target);
          reports.set(target.engine, await apply.apply(after));
        }
      } catch (error) {
        // Ctrl-C: stop now, restore nothing, and leave the entry pending; the next run settles it from the files.
        if (error instanceof InterruptedError) throw interruptedChange(error, written.map((c) => c.file), id);
        const restored = await restoreAfterFailure(error, { written, told, prepared, reader, files: context.files, journal, id, entryFiles });
        // Aborting drops the backups; while a file may still hold the new bytes, its backup is the only copy of
        // the old ones. Left pending, the next run's recovery settles it, and `rollback` restores from it.
        if (restored) await journal.abort(id, error instanceof Error ? error.message : String(error)).catch(() => undefined);
        throw error;
      }
      await journal.commit(id);
      await journal.prune(keepBackups(options));
      return result(request, context.files, changes, planned, { dryRun: false, backup: id, reports, fallback: { method: 'none', reason: 'nothing to tell' } }, journal, reader);
    },
    { timeoutMs: lockTimeoutMs(options), ...(options.signal ? { signal: options.signal } : {}) },
  ).finally(() => warm.abort());
}

/** A planned write whose bytes passed the engine's checks, with the file as it was read. */
interface CheckedWrite extends PlannedWrite {
  before: ReadFile;
  after: ReadFile;
}

/** Reads and parses the change's files through the engine that owns each, once per file per call. */
class FileReader {
  readonly read = new Map<string, ReadFile>();

  constructor(
    private readonly targets: EngineTarget[],
    private readonly lenient: boolean,
  ) {}

  ownerOf(file: string): EngineTarget | undefined {
    return this.targets.find((t) => t.owns(file));
  }

  async readAll(files: string[], journal?: Journal): Promise<Map<string, ReadFile>> {
    for (const file of files) await this.readOne(file, journal);
    return new Map(files.map((file) => [file, this.read.get(file) as ReadFile]));
  }

  /** Reads one file; with `journal` (a real run), an empty file caught mid-write is waited for and refused. */
  async readOne(file: string, journal?: Journal): Promise<ReadFile> {
    const known = this.read.get(file);
    if (known) return known;
    const raw = journal ? await settledRead(file, journal, !this.lenient) : await readConfigFile(file);
    const owner = this.ownerOf(file);
    const read = { raw, doc: owner ? this.parse(owner, raw) : undefined };
    this.read.set(file, read);
    return read;
  }

  parse(owner: EngineTarget, raw: ConfigBytes): unknown {
    return owner.parse(raw, { lenient: this.lenient });
  }
}

/** The settings the first engine recorded as its own that its files still hold (none for most engines). */
async function recordedOwned(first: EngineTarget, files: ReadonlyMap<string, ReadFile>, journal: Journal): Promise<string[]> {
  return (await first.recordedOwned?.(files, journal)) ?? [];
}

/** Checks each planned write with the engine that owns the file, and drops writes that change nothing. */
async function checked(reader: FileReader, files: ReadonlyMap<string, ReadFile>, planned: PlannedChange): Promise<CheckedWrite[]> {
  const out: CheckedWrite[] = [];
  for (const write of planned.writes) {
    const before = files.get(write.file) ?? reader.read.get(write.file);
    if (!before) throw new Error(`the change plans a write to ${write.file}, which it did not read`);
    if (sameBytes(before.raw, write.bytes)) continue;
    const owner = reader.ownerOf(write.file);
    const raw = { file: write.file, exists: write.bytes !== undefined, bytes: write.bytes ?? Buffer.alloc(0) };
    let doc: unknown;
    if (owner) doc = write.bytes === undefined ? owner.parse(raw, { lenient: false }) : owner.checkProduced(write.file, before, write.bytes, { edit: planned.edit ?? false });
    out.push({ ...write, before, after: { raw, doc } });
  }
  return out;
}

/** The files as they will be once the change is written, parsed by their engines. */
function afterFiles(reader: FileReader, files: ReadonlyMap<string, ReadFile>, changes: CheckedWrite[]): Map<string, ReadFile> {
  const after = new Map([...reader.read, ...files]);
  for (const change of changes) after.set(change.file, change.after);
  return after;
}

/** The engines whose files a change writes, in the change's order. */
function involved(targets: EngineTarget[], changes: CheckedWrite[]): EngineTarget[] {
  return targets.filter((t) => changes.some((c) => t.owns(c.file)));
}

/** How long an empty file must have stayed empty before it is believed (an editor may be mid-write). */
const SETTLE_MS = 1_000;

/**
 * Reads a config file for a change, refusing to mistake a file caught mid-write for an empty one: a writer that
 * truncates, pauses and writes (`cat >`, `echo >`, many editors) leaves it empty for a moment. An empty file
 * younger than {@link SETTLE_MS} is read again until it settles; with `refuseEmptied`, one that stays empty
 * where dockmirror last wrote content is refused, never edited as empty (which would drop every other setting).
 */
async function settledRead(file: string, journal: Journal, refuseEmptied: boolean): Promise<ConfigBytes> {
  let raw = await readConfigFile(file);
  const empty = (r: ConfigBytes) => r.exists && blank(r.bytes);
  while (empty(raw)) {
    const info = await stat(file).catch(() => undefined);
    const age = info ? Date.now() - info.mtimeMs : Infinity;
    if (!(age >= 0 && age < SETTLE_MS)) break;
    await sleep(Math.min(100, SETTLE_MS - age + 1));
    raw = await readConfigFile(file);
  }
  if (refuseEmptied && empty(raw)) {
    const last = (await journal.committed(file)).at(-1);
    const mine = last?.files.find((f) => f.file === file);
    if (last && mine?.after.exists && mine.after.sha256 !== hashBytes(raw.bytes)) {
      throw new DriftError(`${file} is empty, but dockmirror last left it with content (${last.op}, ${last.time}): another program may be writing it, or it was emptied by mistake. Nothing was written.`, {
        location: { file },
        hint: 'If another program is writing it, run again when it is done. To get the content back: dockmirror rollback --force. If you emptied it on purpose, delete the file (a missing file means no settings) and run again.',
        details: { emptied: true, lastChange: last.id },
      });
    }
  }
  return raw;
}

/** The one line an interrupted change leaves: what the files and the engine hold, the backup, and what to run. */
function interruptedChange(error: InterruptedError, written: string[], backup: string): InterruptedError {
  if (written.length === 0) return error;
  const daemon = typeof error.details?.daemon === 'string' ? error.details.daemon : 'was not told';
  const holds = written.length === 1 ? `${written[0]} holds the change` : `${written.join(', ')} hold the change`;
  return Object.assign(error, {
    message: `Interrupted: ${holds} (backup ${backup}) and the daemon ${daemon}. Run \`dockmirror apply\` to make the daemon load the file, or \`dockmirror rollback\` to undo it.`,
    details: { ...error.details, file: written[0], files: written, written: true, backup },
  });
}

/**
 * Puts every written file's old bytes back after a failed write or apply and, for each engine that was being
 * told, tells it again so it runs on the old config. What happened on the way back is added to the original
 * error: to its message when an engine was involved (the user must know what it runs on now), and always to
 * its details.
 */
async function restoreAfterFailure(
  error: unknown,
  state: {
    written: CheckedWrite[];
    told: Set<EngineTarget>;
    prepared: Map<EngineTarget, PreparedApply>;
    reader: FileReader;
    files: ReadonlyMap<string, ReadFile>;
    journal: Journal;
    id: string;
    entryFiles: JournalFile[];
  },
): Promise<boolean> {
  // A write that failed before its rename left its old file in place (the temp file is never renamed over it).
  if (state.written.length === 0) return true;
  const details = error instanceof DockmirrorError ? (error.details ?? {}) : {};
  const reason = (e: unknown): string => {
    if (e instanceof InterruptedError) return 'interrupted';
    if (e instanceof DockmirrorError && typeof e.details?.mismatch === 'string') return e.details.mismatch;
    return e instanceof Error ? e.message : String(e);
  };
  const names = state.written.map((c) => c.file).join(', ');
  let outcome: string;
  let restored = false;
  try {
    for (const change of [...state.written].reverse()) {
      await writeConfigFile(change.file, bytesOf(change.before.raw));
      const recorded = state.entryFiles.find((f) => f.file === change.file);
      if (!change.before.raw.exists) await removeEmptyFolders(recorded?.createdDirs ?? []);
    }
    restored = true;
    details.restored = true;
    outcome = `${names} ${state.written.length === 1 ? 'was' : 'were'} restored to ${state.written.length === 1 ? 'its' : 'their'} previous bytes`;
    for (const target of state.told) {
      const reapply = state.prepared.get(target)?.reapply;
      if (!reapply) continue;
      try {
        details.reapplied = await reapply(new Map([...state.reader.read, ...state.files]));
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
    const first = state.written[0] as CheckedWrite;
    const where = first.before.raw.exists ? `its previous bytes are kept in ${state.journal.backupPath(state.id)}` : 'it did not exist before';
    outcome = `Restoring ${names} failed too (${reason(restoreError)}); ${where}: run \`dockmirror rollback\` once that is fixed`;
  }
  if (error instanceof DockmirrorError) {
    if (!error.details) Object.assign(error, { details });
    // So is a file the failed write had replaced: its message says it holds the new bytes, which no longer holds.
    if (state.told.size > 0 || details.replaced === true) Object.assign(error, { message: `${error.message} ${outcome}.` });
  }
  return restored;
}

/** A unified diff between two versions of a file. The diff library loads only when a diff is shown. */
export async function unifiedDiff(file: string, before: Buffer | undefined, after: Buffer | undefined): Promise<string> {
  const { createPatch } = await import('diff');
  const text = (bytes: Buffer | undefined) => (bytes === undefined ? '' : bytes.toString('utf8'));
  return createPatch(file, text(before), text(after), 'before', 'after');
}

/** The bytes of a file as read, or `undefined` when it did not exist. */
export function bytesOf(raw: ConfigBytes | undefined): Buffer | undefined {
  return raw?.exists ? raw.bytes : undefined;
}

function sameBytes(raw: ConfigBytes, bytes: Buffer | undefined): boolean {
  if (bytes === undefined) return !raw.exists;
  return raw.exists && raw.bytes.equals(bytes);
}

async function modeOf(file: string): Promise<number | undefined> {
  return stat(file).then((s) => s.mode & 0o7777, () => undefined);
}

/** The folders a write of `file` will create, outermost first (none when its folder exists). */
async function missingFolders(file: string): Promise<string[]> {
  const missing: string[] = [];
  for (let dir = path.dirname(file); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const exists = await lstat(dir).then(() => true, (error: unknown) => !isCode(error, 'ENOENT'));
    if (exists) break;
    missing.unshift(dir);
  }
  return missing;
}

function createdDirs(dirs: string[]): { createdDirs?: string[] } {
  return dirs.length > 0 ? { createdDirs: dirs } : {};
}

function result(
  request: ChangeRequest,
  files: ReadonlyMap<string, ReadFile>,
  changes: CheckedWrite[],
  planned: PlannedChange | undefined,
  extra: { dryRun: boolean; backup: string | null; reports: Map<EngineId, ApplyReport>; fallback: ApplyReport },
  journal: Journal,
  reader: FileReader,
): ChangeResult {
  const first = request.targets[0] as EngineTarget;
  const after = afterFiles(reader, files, changes);
  const mine = (target: EngineTarget) => new Map([...after].filter(([file]) => target.owns(file)));
  const summary = first.summary(mine(first), request.registry);
  const engines = request.targets.map((target) => ({
    engine: target.engine,
    configFile: target.configFile,
    configSetup: target.setup,
    files: changes.filter((c) => target.owns(c.file)).map((c) => c.file),
    apply: extra.reports.get(target.engine) ?? (extra.dryRun ? extra.fallback : { method: 'none' as const, reason: changes.some((c) => target.owns(c.file)) ? 'nothing to tell' : 'nothing changed' }),
  }));
  return {
    changed: changes.length > 0,
    dryRun: extra.dryRun,
    engine: first.engine,
    registry: request.registry,
    configFile: first.configFile,
    configSetup: first.setup,
    stateDir: request.stateDir,
    mirrors: summary.mirrors,
    insecureRegistries: summary.insecureRegistries,
    backup: extra.backup,
    // A diff of a 1 MB file costs tens of ms; only a dry run, whose whole point is the diff, pays for it.
    diff: '',
    warnings: [...journal.warnings, ...(planned?.warnings ?? [])],
    apply: extra.reports.get(first.engine) ?? extra.fallback,
    engines,
  };
}
