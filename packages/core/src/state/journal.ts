import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { MAX_CONFIG_BYTES, resolveWriteTarget, writeDaemonConfig } from '../config/io.js';
import { UnsafePathError } from '../errors.js';
import { writeAtomic } from '../support/atomic-write.js';
import { BoundedReadError, readBounded } from '../support/bounded-read.js';
import { fsError, isCode } from '../support/fs-errors.js';
import { pathKey, samePath } from '../support/same-path.js';
import { stateFolder, stateSubfolder } from './state-folder.js';

/** The state of daemon.json on one side of a change. */
export interface FileState {
  /** Whether the file existed. */
  exists: boolean;
  /** sha256 of its bytes, or `null` when it did not exist. */
  sha256: string | null;
}

/** One dockmirror change, as the journal records it. */
export interface JournalEntry {
  /** Unique, time-ordered id; also the id of the backup taken before the change. */
  id: string;
  /** The operation, e.g. `mirror add` or `rollback`. */
  op: string;
  /** The operation's arguments. */
  args: Record<string, unknown>;
  /** ISO time the change began. */
  time: string;
  /** daemon.json the change wrote. */
  file: string;
  /** The file before the change (the backup holds its bytes). */
  before: FileState & { mode?: number };
  /** The file after the change. */
  after: FileState;
  /** insecure-registries entries dockmirror owns before and after this change. */
  ownedBefore: string[];
  /** insecure-registries entries dockmirror owns after this change (it added them). */
  owned: string[];
  /** `pending` until the write is known to have landed; `aborted` when it was undone or never landed. */
  status: 'pending' | 'committed' | 'aborted';
}

type Record_ = { type: 'begin'; entry: Omit<JournalEntry, 'status'> } | { type: 'commit' | 'abort'; id: string; reason?: string };

/** sha256 of a file's bytes, or `null` for a missing file. */
export function hashBytes(bytes: Buffer | undefined): string | null {
  return bytes === undefined ? null : createHash('sha256').update(bytes).digest('hex');
}

/** A sortable id: time first so ids order like the changes they name. */
export function newEntryId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('.', '');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/**
 * Whether `id` has exactly the form {@link newEntryId} makes. Ids become file names in `backups/`, so one read
 * from a journal or typed by a user is only ever used after this check (no `../`, no slashes, no NUL).
 */
export function isEntryId(id: unknown): id is string {
  return typeof id === 'string' && /^\d{8}T\d{9}Z-[0-9a-f]{6}$/.test(id);
}

/** The journal never legitimately grows past a few hundred KB: it is pruned with the backups. */
const MAX_JOURNAL_BYTES = 16 * 1024 * 1024;

/**
 * The append-only change journal and the backups beside it, in one state folder. Each change appends a
 * `begin` record before daemon.json is written and a `commit` or `abort` record after, each flushed to disk,
 * so a crash at any point leaves a pending entry that {@link Journal.recover} can settle from the file's hash.
 *
 * The folder is checked before anything in it is read or written (see {@link stateFolder}), every file in it
 * is opened without following symlinks, every record is validated before it is believed, and nothing that the
 * journal does not explain is ever deleted: unknown backups and unreadable lines are moved aside.
 */
export class Journal {
  readonly file: string;
  readonly backupsDir: string;
  /** Problems met while reading the journal (unreadable lines, files moved aside), for the command's warnings. */
  readonly warnings: string[] = [];
  #checked: Promise<boolean> | undefined;
  /** Set by {@link Journal.settleInMemory}: the hash pending entries are settled against when read. */
  #settleAgainst: { hash: string | null } | undefined;

  constructor(readonly stateDir: string) {
    this.file = path.join(stateDir, 'journal.jsonl');
    this.backupsDir = path.join(stateDir, 'backups');
  }

  /** Every entry, oldest first, with its settled status. Lines that are not valid records are skipped and reported. */
  async entries(): Promise<JournalEntry[]> {
    const { entries } = await this.read();
    const against = this.#settleAgainst;
    if (!against) return entries;
    return entries.map((e) => (e.status === 'pending' ? { ...e, status: settledStatus(e, against.hash) } : e));
  }

  /**
   * From now on, read pending entries as {@link Journal.recover} would settle them against `current` (a dry run
   * must show what the real run does), without writing anything.
   */
  settleInMemory(current: Buffer | undefined): void {
    this.#settleAgainst = { hash: hashBytes(current) };
  }

  /**
   * The committed entries for `file`, oldest first; the last is the change the next plain `rollback` undoes.
   * A state folder shared by several files (one `--state-dir`) keeps their histories apart this way.
   */
  async committed(file: string): Promise<JournalEntry[]> {
    return (await this.entries()).filter((e) => e.status === 'committed' && samePath(e.file, file));
  }

  /** Path of the backup that holds the bytes from before change `id`. */
  backupPath(id: string): string {
    if (!isEntryId(id)) throw new UnsafePathError(`Refusing the backup id ${JSON.stringify(id)}: it is not one dockmirror makes.`, { hint: 'Run `dockmirror backups` to see the ids there are.' });
    return path.join(this.backupsDir, `${id}.bak`);
  }

  /** Whether the backup of change `id` is there (a regular file, not a symlink). */
  async hasBackup(id: string): Promise<boolean> {
    return lstat(this.backupPath(id)).then((info) => info.isFile(), () => false);
  }

  /** Stores the before-bytes as a backup (keeping the file's mode) and records the change as pending. */
  async begin(entry: Omit<JournalEntry, 'status'>, beforeBytes: Buffer | undefined): Promise<void> {
    if (beforeBytes !== undefined) {
      await this.ensureBackupsDir();
      await writeAtomic(this.backupPath(entry.id), beforeBytes, { mode: (entry.before.mode ?? 0o644) & 0o777 });
    }
    await this.append({ type: 'begin', entry });
  }

  /** Marks a pending change as landed. */
  async commit(id: string): Promise<void> {
    await this.append({ type: 'commit', id });
  }

  /** Marks a pending change as undone, and drops its backup (the file holds those bytes again). */
  async abort(id: string, reason: string): Promise<void> {
    await this.append({ type: 'abort', id, reason });
    await rm(this.backupPath(id), { force: true });
  }

  /**
   * Keeps a copy of the bytes about to be written, so a later drift refusal can show what changed since. Only
   * for display: {@link Journal.readLastWritten} checks it against the journal's hash before trusting it.
   */
  async saveLastWritten(bytes: Buffer | undefined): Promise<void> {
    await this.ensureFolder(true);
    await writeAtomic(path.join(this.stateDir, 'last-written'), bytes ?? Buffer.alloc(0), { mode: 0o600 });
  }

  /** The bytes dockmirror last wrote, if the stored copy has hash `sha256`; `null` when unknown. */
  async readLastWritten(sha256: string | null): Promise<Buffer | undefined | null> {
    if (sha256 === null) return undefined;
    const bytes = await this.readStateFile(path.join(this.stateDir, 'last-written'), MAX_CONFIG_BYTES).catch(() => undefined);
    return bytes && hashBytes(bytes) === sha256 ? bytes : null;
  }

  /** Reads the bytes a backup holds; `undefined` means "the file did not exist". */
  async readBackup(entry: JournalEntry): Promise<Buffer | undefined> {
    if (!entry.before.exists) return undefined;
    const file = this.backupPath(entry.id);
    const bytes = await this.readStateFile(file, MAX_CONFIG_BYTES);
    if (bytes === undefined) throw fsError(Object.assign(new Error('missing'), { code: 'ENOENT' }), file, 'read');
    if (hashBytes(bytes) !== entry.before.sha256) {
      throw new UnsafePathError(`The backup ${file} does not hold the bytes its journal entry recorded (sha256 differs); it was changed since it was taken.`, {
        location: { file },
        hint: 'Restore from another backup (`dockmirror backups`), or inspect that file by hand.',
      });
    }
    return bytes;
  }

  /**
   * Settles what a killed run left: a pending entry becomes committed when the file holds its "after" bytes,
   * aborted otherwise; a torn journal line is cut off; temp files of killed atomic writes are removed. Lines
   * that are not valid records go to `journal.rejected`, and backups that no entry names go to
   * `unknown-backups/`: neither is deleted. Runs under the lock, before any new change.
   */
  async recover(current: Buffer | undefined, configFile: string): Promise<void> {
    await this.ensureFolder(true);
    await this.cutTornLine();
    const { entries, rejected } = await this.read();
    if (rejected.length > 0) await this.setAside(rejected);
    const currentHash = hashBytes(current);
    for (const entry of entries.filter((e) => e.status === 'pending')) {
      const settled = settledStatus(entry, currentHash);
      if (entry.after.sha256 !== currentHash && entry.before.sha256 !== currentHash) {
        // Stopped while the apply step had the absent keys spelled out as []: put the exact bytes back.
        const written = await this.readLastWritten(entry.after.sha256);
        if (written && current && sameMeaningBesidesEmptyKeys(current, written)) await writeDaemonConfig(configFile, written);
      }
      // Any content but the old bytes is the change or an edit made since: the entry is committed so its backup
      // (the only copy of the old bytes) is kept and `rollback --force` can restore them.
      if (settled === 'aborted') await this.abort(entry.id, 'interrupted before daemon.json was written, or it was not changed');
      else await this.commit(entry.id);
      const target = await resolveWriteTarget(configFile).catch(() => undefined);
      if (target) await removeTempFiles(path.dirname(target), path.basename(target), Date.parse(entry.time) - 1_000);
    }
    // Our own atomic writes (last-written, a pruned journal) killed midway; we hold the lock, so none is live.
    for (const base of ['last-written', 'journal.jsonl']) await removeTempFiles(this.stateDir, base, 0);
    if (await this.hasFolder(this.backupsDir)) await removeTempFiles(this.backupsDir, '\\d{8}T\\d{9}Z-[0-9a-f]{6}\\.bak', 0, true);
    await this.moveUnknownBackups(new Set(entries.map((e) => `${e.id}.bak`)));
  }

  /**
   * Removes each file's oldest backups beyond `keep`, never the one its next rollback needs (its newest committed
   * change's), and drops journal entries whose backups are gone. Counted per daemon.json, so files sharing one
   * state folder never prune each other's history.
   */
  async prune(keep: number): Promise<void> {
    const all = await this.entries();
    const byFile = new Map<string, JournalEntry[]>();
    for (const entry of all.filter((e) => e.status === 'committed')) byFile.set(pathKey(entry.file), [...(byFile.get(pathKey(entry.file)) ?? []), entry]);
    const excess = [...byFile.values()].flatMap((entries) => entries.slice(0, Math.max(0, entries.length - Math.max(keep, 1))));
    const dropped = [...excess, ...all.filter((e) => e.status === 'aborted')];
    if (dropped.length === 0) return;
    const droppedIds = new Set(dropped.map((e) => e.id));
    const text = (await this.readStateFile(this.file, MAX_JOURNAL_BYTES))?.toString('utf8') ?? '';
    // Lines this version cannot read are kept as they are: pruning only removes what it understands.
    const kept = text.split('\n').filter((line) => {
      if (!line) return false;
      const record = parseRecord(line);
      return typeof record === 'string' || !droppedIds.has(record.type === 'begin' ? record.entry.id : record.id);
    });
    await writeAtomic(this.file, Buffer.from(`${kept.join('\n')}\n`), { mode: 0o600 });
    // Only now that no entry names them: a crash in between leaves backups no entry names, which the next
    // recover moves aside, never a committed entry whose backup is gone.
    await Promise.all(dropped.map((e) => rm(this.backupPath(e.id), { force: true })));
  }

  private async read(): Promise<{ entries: JournalEntry[]; rejected: string[] }> {
    if (!(await this.ensureFolder(false))) return { entries: [], rejected: [] };
    const text = (await this.readStateFile(this.file, MAX_JOURNAL_BYTES))?.toString('utf8') ?? '';
    const byId = new Map<string, JournalEntry>();
    const rejected: string[] = [];
    const lines = text.split('\n');
    // A last line without its newline is a torn append, not damage: recover cuts it off.
    if (lines.at(-1) !== '') lines.pop();
    lines.forEach((line, index) => {
      if (line === '') return;
      const record = parseRecord(line);
      const problem = typeof record === 'string' ? record : record.type !== 'begin' && !byId.has(record.id) ? 'it settles a change no begin record names' : undefined;
      if (problem !== undefined || typeof record === 'string') {
        rejected.push(line);
        this.note(`${this.file} line ${index + 1} was skipped: ${problem}.`);
        return;
      }
      if (record.type === 'begin') byId.set(record.entry.id, { ...record.entry, status: 'pending' });
      else (byId.get(record.id) as JournalEntry).status = record.type === 'commit' ? 'committed' : 'aborted';
    });
    return { entries: [...byId.values()], rejected };
  }

  /** Moves unreadable lines out of the journal into `journal.rejected`, so they are kept but no longer in the way. */
  private async setAside(rejected: string[]): Promise<void> {
    const aside = path.join(this.stateDir, 'journal.rejected');
    await this.appendLine(aside, `${rejected.join('\n')}\n`);
    const drop = new Set(rejected);
    const text = (await this.readStateFile(this.file, MAX_JOURNAL_BYTES))?.toString('utf8') ?? '';
    const kept = text.split('\n').filter((line) => line !== '' && !drop.has(line));
    await writeAtomic(this.file, Buffer.from(kept.length ? `${kept.join('\n')}\n` : ''), { mode: 0o600 });
    this.note(`Moved ${rejected.length} unreadable journal line${rejected.length === 1 ? '' : 's'} to ${aside}.`);
  }

  /** Backups no entry names are moved to `unknown-backups/`, never deleted: they may be the only copy of something. */
  private async moveUnknownBackups(known: Set<string>): Promise<void> {
    if (!(await this.hasFolder(this.backupsDir))) return;
    const names = await readdir(this.backupsDir);
    const unknown = names.filter((name) => !known.has(name));
    if (unknown.length === 0) return;
    const aside = path.join(this.stateDir, 'unknown-backups');
    await stateSubfolder(aside, true);
    for (const name of unknown) {
      // rename moves a symlink itself, never what it points at.
      await rename(path.join(this.backupsDir, name), path.join(aside, `${Date.now()}-${name}`)).catch((error: unknown) => {
        throw fsError(error, path.join(this.backupsDir, name), 'write');
      });
    }
    this.note(`Moved ${unknown.length} backup${unknown.length === 1 ? '' : 's'} that no journal entry names to ${aside}.`);
  }

  private note(message: string): void {
    if (!this.warnings.includes(message)) this.warnings.push(message);
  }

  /** Checks the state folder once per journal; `false` when it does not exist and `create` is not set. */
  private async ensureFolder(create: boolean): Promise<boolean> {
    if (create) {
      const made = stateFolder(this.stateDir, true).then(() => true);
      this.#checked = made;
      return made;
    }
    this.#checked ??= stateFolder(this.stateDir, false);
    return this.#checked;
  }

  private async ensureBackupsDir(): Promise<void> {
    await this.ensureFolder(true);
    await stateSubfolder(this.backupsDir, true);
  }

  private async hasFolder(dir: string): Promise<boolean> {
    return stateSubfolder(dir, false);
  }

  /** A state file, read without following a symlink and within `maxBytes`; `undefined` when missing. */
  private async readStateFile(file: string, maxBytes: number): Promise<Buffer | undefined> {
    try {
      return await readBounded(file, { maxBytes, followSymlinks: false });
    } catch (error) {
      if (error instanceof BoundedReadError) {
        throw new UnsafePathError(`Refusing to read ${file}: ${error.reason === 'too-large' ? `it is larger than ${maxBytes} bytes` : 'it is not a regular file'}.`, {
          location: { file },
          hint: `Move ${file} aside; dockmirror only reads state files it wrote.`,
        });
      }
      throw fsError(error, file, 'read');
    }
  }

  private async append(record: Record_): Promise<void> {
    await this.ensureFolder(true);
    await this.appendLine(this.file, `${JSON.stringify(record)}\n`);
  }

  /** Appends and flushes; a failed append (full disk) is cut back off, so no half record is left to merge with the next. */
  private async appendLine(file: string, text: string): Promise<void> {
    let handle;
    try {
      handle = await open(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | (constants.O_NOFOLLOW ?? 0), 0o600);
    } catch (error) {
      throw fsError(error, file, 'write');
    }
    const { size } = await handle.stat();
    try {
      const bytes = Buffer.from(text);
      for (let offset = 0; offset < bytes.length; ) {
        const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
        if (bytesWritten === 0) throw Object.assign(new Error('no bytes written'), { code: 'ENOSPC' });
        offset += bytesWritten;
      }
      await handle.sync();
    } catch (error) {
      await handle.truncate(size).catch(() => undefined);
      throw fsError(error, file, 'write');
    } finally {
      await handle.close();
    }
  }

  private async cutTornLine(): Promise<void> {
    const text = (await this.readStateFile(this.file, MAX_JOURNAL_BYTES))?.toString('utf8') ?? '';
    if (!text || text.endsWith('\n')) return;
    const handle = await open(this.file, constants.O_WRONLY | (constants.O_NOFOLLOW ?? 0));
    try {
      await handle.truncate(Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1)));
    } finally {
      await handle.close();
    }
  }
}

/**
 * A journal line as a record, or why it is not one. Every field is checked for type and form, because the
 * record's id names a file and its hashes decide what recovery does to daemon.json.
 */
function parseRecord(line: string): Record_ | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'it is not JSON';
  }
  if (!isObject(value)) return 'it is not a record';
  if (value.type === 'commit' || value.type === 'abort') {
    if (!isEntryId(value.id)) return 'its id is not one dockmirror makes';
    return { type: value.type, id: value.id, ...(typeof value.reason === 'string' ? { reason: value.reason } : {}) };
  }
  if (value.type !== 'begin') return 'its type is unknown';
  const entry = value.entry;
  if (!isObject(entry)) return 'it has no entry';
  if (!isEntryId(entry.id)) return 'its id is not one dockmirror makes';
  const ok =
    typeof entry.op === 'string' &&
    isObject(entry.args) &&
    typeof entry.time === 'string' &&
    typeof entry.file === 'string' &&
    path.isAbsolute(entry.file) &&
    isFileState(entry.before) &&
    isFileState(entry.after) &&
    (entry.before.mode === undefined || (Number.isInteger(entry.before.mode) && (entry.before.mode as number) >= 0 && (entry.before.mode as number) <= 0o7777)) &&
    isStrings(entry.ownedBefore) &&
    isStrings(entry.owned);
  return ok ? { type: 'begin', entry: entry as unknown as Omit<JournalEntry, 'status'> } : 'its entry is malformed';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function isFileState(value: unknown): value is FileState & { mode?: unknown } {
  return (
    isObject(value) &&
    typeof value.exists === 'boolean' &&
    (value.exists ? typeof value.sha256 === 'string' && /^[0-9a-f]{64}$/.test(value.sha256) : value.sha256 === null)
  );
}

/**
 * How recovery settles a pending entry against the file's current hash: committed when the file holds its new
 * bytes (or anything else: an edit since, whose undo needs the backup), aborted when it still holds the old
 * ones, and always aborted for a change that wrote the same bytes it found (`apply`), which nothing undoes.
 */
export function settledStatus(entry: Pick<JournalEntry, 'before' | 'after'>, currentHash: string | null): 'committed' | 'aborted' {
  if (entry.before.sha256 === entry.after.sha256 && entry.before.exists === entry.after.exists) return 'aborted';
  if (entry.after.sha256 === currentHash) return 'committed';
  return entry.before.sha256 === currentHash ? 'aborted' : 'committed';
}

/** Whether `current` says what `written` says once absent mirror keys are read as `[]`. */
function sameMeaningBesidesEmptyKeys(current: Buffer, written: Buffer): boolean {
  const parse = (bytes: Buffer): Record<string, unknown> | undefined => {
    try {
      const text = bytes.toString('utf8').replace(/^\uFEFF/, '');
      return { 'registry-mirrors': [], 'insecure-registries': [], ...(text.trim() ? (JSON.parse(text) as object) : {}) };
    } catch {
      return undefined;
    }
  };
  const a = parse(current);
  const b = parse(written);
  return a !== undefined && b !== undefined && isDeepStrictEqual(a, b);
}

/**
 * Removes `<base>.<digits>` files (the atomic write's temp names) modified since `sinceMs` in `dir`; `base` is a
 * regular expression when `pattern` is set. Only regular files: a symlink planted under such a name is left.
 */
async function removeTempFiles(dir: string, base: string, sinceMs: number, pattern = false): Promise<void> {
  const match = new RegExp(`^${pattern ? base : base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.\\d+$`);
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names.filter((n) => match.test(n))) {
    const info = await lstat(path.join(dir, name)).catch(() => undefined);
    if (info?.isFile() && info.mtimeMs >= sinceMs) await rm(path.join(dir, name), { force: true });
  }
}
