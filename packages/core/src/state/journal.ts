import { constants } from 'node:fs';
import { lstat, open, readdir, rename, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { MAX_CONFIG_BYTES, resolveWriteTarget, writeConfigFile } from '../config/io.js';
import { UnsafePathError } from '../errors.js';
import { writeAtomic } from '../support/atomic-write.js';
import { BoundedReadError, readBounded } from '../support/bounded-read.js';
import { fsError, isCode, unlinkIfPresent } from '../support/fs-errors.js';
import { pathKey, samePath } from '../support/same-path.js';
import { sha256Hex } from '../support/sha256.js';
import { stateFolder, stateSubfolder } from './state-folder.js';

/** The state of one config file on one side of a change. */
export interface FileState {
  /** Whether the file existed. */
  exists: boolean;
  /** sha256 of its bytes, or `null` when it did not exist. */
  sha256: string | null;
}

/** One file a change wrote: its path and its state before and after. */
export interface JournalFile {
  /** The config file. */
  file: string;
  /** The file before the change (the backup holds its bytes). */
  before: FileState & { mode?: number };
  /** The file after the change. */
  after: FileState;
  /** Folders the change created for the file, outermost first; rollback removes them again when they are empty. */
  createdDirs?: string[];
}

/**
 * One dockmirror change, as the journal records it. A change may write several files (one per engine, or a
 * config and its hosts.toml); `file`, `before` and `after` describe the first of them, the one the change is
 * listed under, and `files` all of them, the first included.
 */
export interface JournalEntry {
  /** Unique, time-ordered id; also the id of the backup taken before the change. */
  id: string;
  /** The operation, e.g. `mirror add` or `rollback`. */
  op: string;
  /** The operation's arguments. */
  args: Record<string, unknown>;
  /** ISO time the change began. */
  time: string;
  /** The first file the change wrote (daemon.json when Docker took part). */
  file: string;
  /** The file before the change (the backup holds its bytes). */
  before: FileState & { mode?: number };
  /** The file after the change. */
  after: FileState;
  /** Every file the change wrote, the first one included; backup `i` holds the bytes of `files[i]` from before. */
  files: JournalFile[];
  /** Settings dockmirror added beside a mirror and so owns, before this change (Docker: insecure-registries entries). */
  ownedBefore: string[];
  /** Settings dockmirror owns after this change (it added them). */
  owned: string[];
  /** `pending` until the write is known to have landed; `aborted` when it was undone or never landed. */
  status: 'pending' | 'committed' | 'aborted';
}

/** A change as it is begun: the first file's fields are taken from `files[0]`. */
export type NewJournalEntry = Omit<JournalEntry, 'status' | 'file' | 'before' | 'after'>;

type Record_ = { type: 'begin'; entry: Omit<JournalEntry, 'status'> } | { type: 'commit' | 'abort'; id: string; reason?: string };

/** sha256 of a file's bytes, or `null` for a missing file. */
export function hashBytes(bytes: Buffer | undefined): string | null {
  return bytes === undefined ? null : sha256Hex(bytes);
}

/**
 * A sortable id: time first so ids order like the changes they name. The suffix only tells apart two ids of the
 * same millisecond; it need not be secret (ids name files in the state folder, which only root can enter, and are
 * made under its lock), so Math.random serves, without loading node:crypto for it.
 */
export function newEntryId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('.', '');
  return `${stamp}-${Math.floor(Math.random() * 0x1000000).toString(16).padStart(6, '0')}`;
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
 * `begin` record before daemon.json is written and a `commit` or `abort` record after. The begin record (and
 * an abort) is flushed to disk, so a crash at any point leaves a pending entry that {@link Journal.recover}
 * can settle from the file's hash; the commit is not, since that settling re-derives it (see commit).
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
  /** Set by {@link Journal.settleInMemory}: the hashes pending entries are settled against when read. */
  #settleAgainst: ((file: string) => string | null | undefined) | undefined;
  /**
   * The journal's text as this process last read or wrote it, kept from {@link Journal.recover} on: recovery
   * runs under the lock, so until the change ends no other process writes the journal, and reading it again
   * (the owned entries, prune) would only read these bytes back. `undefined` until then: without the lock
   * every read goes to the file.
   */
  #held: string | undefined;

  constructor(readonly stateDir: string) {
    this.file = path.join(stateDir, 'journal.jsonl');
    this.backupsDir = path.join(stateDir, 'backups');
  }

  /** Every entry, oldest first, with its settled status. Lines that are not valid records are skipped and reported. */
  async entries(): Promise<JournalEntry[]> {
    const { entries } = await this.read();
    const against = this.#settleAgainst;
    if (!against) return entries;
    // A change killed between two writes is read as undone: recovery puts its written files back.
    return entries.map((e) => (e.status === 'pending' ? { ...e, status: settledStatusOf(e, against) === 'committed' ? 'committed' : 'aborted' } : e));
  }

  /**
   * From now on, read pending entries as {@link Journal.recover} would settle them against the files' current
   * bytes (a dry run must show what the real run does), without writing anything. `current` maps a file to its
   * bytes; a file it does not know is read as holding the change.
   */
  settleInMemory(current: ReadonlyMap<string, Buffer | undefined>): void {
    const hashes = new Map([...current].map(([file, bytes]) => [file, hashBytes(bytes)]));
    this.#settleAgainst = (file) => hashes.get(file);
  }

  /**
   * The committed entries that wrote `file`, oldest first; the last is the change the next plain `rollback`
   * undoes. A state folder shared by several files (one `--state-dir`) keeps their histories apart this way.
   */
  async committed(file: string): Promise<JournalEntry[]> {
    return (await this.entries()).filter((e) => e.status === 'committed' && e.files.some((f) => samePath(f.file, file)));
  }

  /** Path of the backup that holds the bytes of the change's `index`th file from before change `id`. */
  backupPath(id: string, index = 0): string {
    if (!isEntryId(id)) throw new UnsafePathError(`Refusing the backup id ${JSON.stringify(id)}: it is not one dockmirror makes.`, { hint: 'Run `dockmirror backups` to see the ids there are.' });
    if (!Number.isInteger(index) || index < 0) throw new RangeError(`backup index ${index}`);
    // The first file keeps the name backups had before changes could write several files.
    return path.join(this.backupsDir, index === 0 ? `${id}.bak` : `${id}.${index}.bak`);
  }

  /** Whether every backup change `entry` needs is there (regular files, not symlinks). */
  async hasBackups(entry: Pick<JournalEntry, 'id' | 'files'>): Promise<boolean> {
    const present = await Promise.all(
      entry.files.map((f, i) => !f.before.exists || lstat(this.backupPath(entry.id, i)).then((info) => info.isFile(), () => false)),
    );
    return present.every(Boolean);
  }

  /** Stores each file's before-bytes as a backup (keeping its mode) and records the change as pending. */
  async begin(entry: NewJournalEntry, beforeBytes: (Buffer | undefined)[]): Promise<void> {
    const [first] = entry.files;
    if (!first || beforeBytes.length !== entry.files.length) throw new RangeError('a change needs one before-state per file');
    for (const [index, bytes] of beforeBytes.entries()) {
      if (bytes === undefined) continue;
      await this.ensureBackupsDir();
      await writeAtomic(this.backupPath(entry.id, index), bytes, { mode: ((entry.files[index] as JournalFile).before.mode ?? 0o644) & 0o777 });
    }
    await this.append({ type: 'begin', entry: toRecord(entry) });
  }

  /**
   * Marks a pending change as landed. The one record not flushed to disk: if a power cut loses it, the entry is
   * pending again, and {@link Journal.recover} settles it from the files' hashes to what this record says (the
   * files hold their new bytes, each write was flushed before this), so the flush would buy nothing.
   */
  async commit(id: string): Promise<void> {
    // Stryker disable next-line BooleanLiteral: flushing the commit record as well only adds an fsync; no outcome differs
    await this.append({ type: 'commit', id }, false);
  }

  /** Marks a pending change as undone, and drops its backups (the files hold those bytes again). */
  async abort(id: string, reason: string): Promise<void> {
    await this.append({ type: 'abort', id, reason });
    await this.dropBackups(id);
  }

  /** Removes every backup of change `id` (the first file's and the numbered others'). */
  private async dropBackups(id: string): Promise<void> {
    const names = await readdir(this.backupsDir).catch(() => [] as string[]);
    const mine = names.filter((name) => name === `${id}.bak` || new RegExp(`^${id}\\.\\d+\\.bak$`).test(name));
    await Promise.all(mine.map((name) => unlinkIfPresent(path.join(this.backupsDir, name))));
  }

  /**
   * Keeps a copy of the bytes about to be written, so a later drift refusal can show what changed since. Only
   * for display: {@link Journal.readLastWritten} checks it against the journal's hash before trusting it.
   */
  async saveLastWritten(bytes: Buffer | undefined): Promise<void> {
    await this.ensureFolder(true);
    // Not flushed: a copy a power cut lost or tore fails readLastWritten's hash check and is not used (a drift
    // refusal then shows no diff, recovery leaves a reload's `[]` spelling, which means the same), never trusted.
    // Stryker disable next-line BooleanLiteral: a durable write of this copy only adds fsyncs; no outcome differs
    await writeAtomic(path.join(this.stateDir, 'last-written'), bytes ?? Buffer.alloc(0), { mode: 0o600, durable: false });
  }

  /** The bytes dockmirror last wrote, if the stored copy has hash `sha256`; `null` when unknown. */
  async readLastWritten(sha256: string | null): Promise<Buffer | undefined | null> {
    if (sha256 === null) return undefined;
    const bytes = await this.readStateFile(path.join(this.stateDir, 'last-written'), MAX_CONFIG_BYTES).catch(() => undefined);
    return bytes && hashBytes(bytes) === sha256 ? bytes : null;
  }

  /** Reads the bytes the backup of the change's `index`th file holds; `undefined` means "the file did not exist". */
  async readBackup(entry: Pick<JournalEntry, 'id' | 'files'>, index = 0): Promise<Buffer | undefined> {
    const before = entry.files[index]?.before;
    if (!before?.exists) return undefined;
    const file = this.backupPath(entry.id, index);
    const bytes = await this.readStateFile(file, MAX_CONFIG_BYTES);
    // Stryker disable next-line ObjectLiteral: fsError has no case for ENOENT on a read, so the error is the same without the code
    if (bytes === undefined) throw fsError(Object.assign(new Error('missing'), { code: 'ENOENT' }), file, 'read');
    if (hashBytes(bytes) !== before.sha256) {
      throw new UnsafePathError(`The backup ${file} does not hold the bytes its journal entry recorded (sha256 differs); it was changed since it was taken.`, {
        location: { file },
        hint: 'Restore from another backup (`dockmirror backups`), or inspect that file by hand.',
      });
    }
    return bytes;
  }

  /**
   * Settles what a killed run left: a pending entry becomes committed when its files hold their "after" bytes,
   * aborted when they all still hold the old ones; a change killed between writing two of its files has the
   * written ones put back from their backups, so every file is wholly old again. A torn journal line is cut
   * off, and temp files of killed atomic writes are removed. Lines that are not valid records go to
   * `journal.rejected`, and backups that no entry names go to `unknown-backups/`: neither is deleted. Runs
   * under the lock, before any new change. `readCurrent` reads a config file's bytes (`undefined`: missing);
   * `respelled` tells whether the first file's current bytes are the engine's temporary spelling of the bytes
   * it last wrote during an apply (Docker writes absent keys as `[]` for a reload), to be put back exactly.
   */
  async recover(
    readCurrent: (file: string) => Promise<Buffer | undefined>,
    respelled?: (current: Buffer, written: Buffer) => boolean,
  ): Promise<void> {
    // Stryker disable next-line BooleanLiteral: recover runs under withLock, which made and checked this folder; an existing one is checked alike either way
    await this.ensureFolder(true);
    this.#held = await this.cutTornLine();
    const { entries, rejected } = await this.read();
    if (rejected.length > 0) await this.setAside(rejected);
    for (const entry of entries.filter((e) => e.status === 'pending')) {
      const current = await Promise.all(entry.files.map((f) => readCurrent(f.file)));
      const hashes = new Map(entry.files.map((f, i) => [f.file, hashBytes(current[i])]));
      let settled = settledStatusOf(entry, (file) => hashes.get(file));
      const first = current[0];
      if (respelled && first && entry.after.sha256 !== hashBytes(first) && entry.before.sha256 !== hashBytes(first)) {
        // Stopped while the apply step had the file in its temporary spelling: put the exact bytes back.
        const written = await this.readLastWritten(entry.after.sha256);
        if (written && respelled(first, written)) await writeConfigFile(entry.file, written);
      }
      if (settled === 'partial') {
        await this.restoreFiles(entry, current);
        settled = 'aborted';
      }
      // Any content but the old bytes is the change or an edit made since: the entry is committed so its backup
      // (the only copy of the old bytes) is kept and `rollback --force` can restore them.
      if (settled === 'aborted') await this.abort(entry.id, 'interrupted before its files were written, or they were not changed');
      else await this.commit(entry.id);
      for (const { file } of entry.files) {
        const target = await resolveWriteTarget(file).catch(() => undefined);
        if (target) await removeTempFiles(path.dirname(target), path.basename(target), Date.parse(entry.time) - 1_000);
      }
    }
    // Our own atomic writes (last-written, a pruned journal) killed midway; we hold the lock, so none is live.
    for (const base of ['last-written', 'journal.jsonl']) await removeTempFiles(this.stateDir, base, 0);
    if (await this.hasFolder(this.backupsDir)) await removeTempFiles(this.backupsDir, '\\d{8}T\\d{9}Z-[0-9a-f]{6}(\\.\\d+)?\\.bak', 0, true);
    await this.moveUnknownBackups(new Set(entries.flatMap((e) => e.files.map((_, i) => path.basename(this.backupPath(e.id, i))))));
  }

  /**
   * Puts back the old bytes of every file a half-done change wrote (those holding their "after" bytes), and
   * removes the folders it created for them when they are empty again.
   */
  private async restoreFiles(entry: JournalEntry, current: (Buffer | undefined)[]): Promise<void> {
    for (const [index, f] of entry.files.entries()) {
      if (hashBytes(current[index]) !== f.after.sha256 || f.after.sha256 === f.before.sha256) continue;
      await writeConfigFile(f.file, await this.readBackup(entry, index), f.before.mode === undefined ? {} : { mode: f.before.mode });
      // Stryker disable next-line ArrayDeclaration: rmdir of that relative, absent name fails at once and stops, as an empty list does
      if (!f.before.exists) await removeEmptyFolders(f.createdDirs ?? []);
    }
  }

  /**
   * Removes each file's oldest backups beyond `keep`, never the one its next rollback needs (its newest committed
   * change's), and drops journal entries whose backups are gone. Counted per daemon.json, so files sharing one
   * state folder never prune each other's history.
   */
  async prune(keep: number): Promise<void> {
    const all = await this.entries();
    // Counted by the file each change is listed under (its first).
    const byFile = new Map<string, JournalEntry[]>();
    for (const entry of all.filter((e) => e.status === 'committed')) byFile.set(pathKey(entry.file), [...(byFile.get(pathKey(entry.file)) ?? []), entry]);
    const excess = [...byFile.values()].flatMap((entries) => entries.slice(0, Math.max(0, entries.length - Math.max(keep, 1))));
    const dropped = [...excess, ...all.filter((e) => e.status === 'aborted')];
    if (dropped.length === 0) return;
    const droppedIds = new Set(dropped.map((e) => e.id));
    const text = await this.journalText();
    // Lines this version cannot read are kept as they are: pruning only removes what it understands.
    const kept = text.split('\n').filter((line) => {
      if (!line) return false;
      const record = parseRecord(line);
      return typeof record === 'string' || !droppedIds.has(record.type === 'begin' ? record.entry.id : record.id);
    });
    await this.rewrite(`${kept.join('\n')}\n`);
    // Only now that no entry names them: a crash in between leaves backups no entry names, which the next
    // recover moves aside, never a committed entry whose backup is gone.
    await Promise.all(dropped.map((e) => this.dropBackups(e.id)));
  }

  private async read(): Promise<{ entries: JournalEntry[]; rejected: string[] }> {
    // Stryker disable next-line ArrayDeclaration: only recover reads `rejected`, and it has made the folder first, so this return never reaches it
    if (!(await this.ensureFolder(false))) return { entries: [], rejected: [] };
    const text = await this.journalText();
    const byId = new Map<string, JournalEntry>();
    const rejected: string[] = [];
    const lines = text.split('\n');
    // A last line without its newline is a torn append, not damage: recover cuts it off.
    // Stryker disable next-line StringLiteral: with that text the pop runs for any real last element, and popping a last '' drops only an empty line read() skips
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
    const text = await this.journalText();
    const kept = text.split('\n').filter((line) => line !== '' && !drop.has(line));
    await this.rewrite(kept.length ? `${kept.join('\n')}\n` : '');
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

  private async append(record: Record_, flush = true): Promise<void> {
    await this.ensureFolder(true);
    const line = `${JSON.stringify(record)}\n`;
    await this.appendLine(this.file, line, flush);
    if (this.#held !== undefined) this.#held += line;
  }

  /** The journal's text: the one this process holds under the lock (see #held), else read from the file. */
  private async journalText(): Promise<string> {
    // Stryker disable next-line StringLiteral: a missing journal is read only by read(), which drops a text without a newline as a torn line
    return this.#held ?? (await this.readStateFile(this.file, MAX_JOURNAL_BYTES))?.toString('utf8') ?? '';
  }

  /** Replaces the journal atomically (flushed: prune drops backups once no entry names them, only after this). */
  private async rewrite(text: string): Promise<void> {
    await writeAtomic(this.file, Buffer.from(text), { mode: 0o600 });
    if (this.#held !== undefined) this.#held = text;
  }

  /**
   * Appends and, with `flush`, flushes: a begin record must be on disk before the file it names is written, so
   * that a power cut leaves a pending entry to settle. A failed append (full disk) is cut back off, so no half
   * record is left to merge with the next.
   */
  private async appendLine(file: string, text: string, flush = true): Promise<void> {
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
        // Stryker disable next-line StringLiteral,ObjectLiteral: write(2) of a non-empty buffer writes a byte or fails, so this error is never made
        if (bytesWritten === 0) throw Object.assign(new Error('no bytes written'), { code: 'ENOSPC' });
        offset += bytesWritten;
      }
      if (flush) await handle.sync();
    } catch (error) {
      await handle.truncate(size).catch(() => undefined);
      throw fsError(error, file, 'write');
    } finally {
      await handle.close();
    }
  }

  /** Cuts off a torn last line; returns the journal's text as it is then. */
  private async cutTornLine(): Promise<string> {
    const text = (await this.readStateFile(this.file, MAX_JOURNAL_BYTES))?.toString('utf8') ?? '';
    if (!text || text.endsWith('\n')) return text;
    const kept = text.slice(0, text.lastIndexOf('\n') + 1);
    // Stryker disable next-line LogicalOperator: readStateFile just refused a symlink at this path, under the lock, so none is opened here
    const handle = await open(this.file, constants.O_WRONLY | (constants.O_NOFOLLOW ?? 0));
    try {
      await handle.truncate(Buffer.byteLength(kept));
    } finally {
      await handle.close();
    }
    return kept;
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
    // Stryker disable next-line ObjectLiteral: nothing reads an abort's reason back (read and prune use only type and id)
    return { type: value.type, id: value.id, ...(typeof value.reason === 'string' ? { reason: value.reason } : {}) };
  }
  if (value.type !== 'begin') return 'its type is unknown';
  const entry = value.entry;
  if (!isObject(entry)) return 'it has no entry';
  if (!isEntryId(entry.id)) return 'its id is not one dockmirror makes';
  // Entries from before changes could write several files have no `files`: their one file is the first.
  const files = entry.files === undefined ? [{ file: entry.file, before: entry.before, after: entry.after }] : entry.files;
  const ok =
    typeof entry.op === 'string' &&
    isObject(entry.args) &&
    typeof entry.time === 'string' &&
    Array.isArray(files) &&
    files.length > 0 &&
    files.length <= MAX_FILES_PER_CHANGE &&
    files.every(isJournalFile) &&
    isStrings(entry.ownedBefore) &&
    isStrings(entry.owned);
  if (!ok) return 'its entry is malformed';
  const [first] = files as JournalFile[] as [JournalFile];
  return {
    type: 'begin',
    entry: { ...(entry as unknown as Omit<JournalEntry, 'status'>), files: files as JournalFile[], file: first.file, before: first.before, after: first.after },
  };
}

/** No change writes more files than this (a few per engine); a record naming more is not one of ours. */
const MAX_FILES_PER_CHANGE = 64;

function isJournalFile(value: unknown): value is JournalFile {
  if (!isObject(value) || typeof value.file !== 'string' || !path.isAbsolute(value.file)) return false;
  if (!isFileState(value.before) || !isFileState(value.after)) return false;
  const mode = value.before.mode;
  if (mode !== undefined && !(Number.isInteger(mode) && (mode as number) >= 0 && (mode as number) <= 0o7777)) return false;
  const dirs = value.createdDirs;
  return dirs === undefined || (isStrings(dirs) && dirs.every((d) => path.isAbsolute(d) && (value.file as string).startsWith(`${d}${path.sep}`)));
}

/** The record written for a new entry: the first file's fields beside `files`, as every version reads them. */
function toRecord(entry: NewJournalEntry): Omit<JournalEntry, 'status'> {
  const first = entry.files[0] as JournalFile;
  return { ...entry, file: first.file, before: first.before, after: first.after };
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

/**
 * {@link settledStatus} for a change of several files, given each file's current hash (`undefined`: unknown,
 * read as holding the change). `partial` is a change killed between two of its writes: some files hold their
 * new bytes and every other still holds its old ones, so putting the new ones back makes it wholly undone.
 */
function settledStatusOf(entry: JournalEntry, hashOf: (file: string) => string | null | undefined): 'committed' | 'aborted' | 'partial' {
  // A file whose bytes are unknown (a dry run's map holds only the files it read) is read as holding the change:
  // as the file, not as a verdict, so that a file the change left as it was still counts as aborted, as
  // recovery finds it.
  const now = (f: JournalFile): string | null => {
    const hash = hashOf(f.file);
    return hash === undefined ? f.after.sha256 : hash;
  };
  if (entry.files.every((f) => settledStatus(f, now(f)) === 'aborted')) return 'aborted';
  const changed = entry.files.filter((f) => f.before.sha256 !== f.after.sha256 || f.before.exists !== f.after.exists);
  const atAfter = changed.filter((f) => now(f) === f.after.sha256);
  const atBefore = changed.filter((f) => now(f) === f.before.sha256);
  if (atAfter.length > 0 && atBefore.length > 0 && atAfter.length + atBefore.length === changed.length) return 'partial';
  return 'committed';
}

/** Removes the given folders, innermost first, as long as they are empty; a folder with anything in it stays. */
export async function removeEmptyFolders(dirs: readonly string[]): Promise<void> {
  for (const dir of [...dirs].reverse()) {
    const removed = await rmdir(dir).then(() => true, () => false);
    if (!removed) return;
  }
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
    if (info?.isFile() && info.mtimeMs >= sinceMs) await unlinkIfPresent(path.join(dir, name));
  }
}
