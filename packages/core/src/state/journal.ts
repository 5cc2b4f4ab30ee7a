import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rm, stat, truncate } from 'node:fs/promises';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import writeFileAtomic from 'write-file-atomic';
import { fsError, isCode, resolveWriteTarget, writeDaemonConfig } from '../config/io.js';

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
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('.', '').replace('Z', 'Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/**
 * The append-only change journal and the backups beside it, in one state folder. Each change appends a
 * `begin` record before daemon.json is written and a `commit` or `abort` record after, each flushed to disk,
 * so a crash at any point leaves a pending entry that {@link Journal.recover} can settle from the file's hash.
 */
export class Journal {
  readonly file: string;
  readonly backupsDir: string;

  constructor(readonly stateDir: string) {
    this.file = path.join(stateDir, 'journal.jsonl');
    this.backupsDir = path.join(stateDir, 'backups');
  }

  /** Every entry, oldest first, with its settled status. A torn last line (crash mid-append) is ignored. */
  async entries(): Promise<JournalEntry[]> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if (isCode(error, 'ENOENT')) return [];
      throw fsError(error, this.file, 'read');
    }
    const byId = new Map<string, JournalEntry>();
    for (const line of text.split('\n')) {
      let record: Record_;
      try {
        record = JSON.parse(line) as Record_;
      } catch {
        continue;
      }
      if (record.type === 'begin') byId.set(record.entry.id, { ...record.entry, status: 'pending' });
      else {
        const entry = byId.get(record.id);
        if (entry) entry.status = record.type === 'commit' ? 'committed' : 'aborted';
      }
    }
    return [...byId.values()];
  }

  /**
   * The committed entries for `file`, oldest first; the last is the change the next plain `rollback` undoes.
   * A state folder shared by several files (one `--state-dir`) keeps their histories apart this way.
   */
  async committed(file: string): Promise<JournalEntry[]> {
    return (await this.entries()).filter((e) => e.status === 'committed' && e.file === file);
  }

  /** Path of the backup that holds the bytes from before change `id`. */
  backupPath(id: string): string {
    return path.join(this.backupsDir, `${id}.bak`);
  }

  /** Stores the before-bytes as a backup (keeping the file's mode) and records the change as pending. */
  async begin(entry: Omit<JournalEntry, 'status'>, beforeBytes: Buffer | undefined): Promise<void> {
    if (beforeBytes !== undefined) {
      await mkdir(this.backupsDir, { recursive: true, mode: 0o700 });
      await writeFileAtomic(this.backupPath(entry.id), beforeBytes, { fsync: true, mode: entry.before.mode ?? 0o644 });
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
    await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(path.join(this.stateDir, 'last-written'), bytes ?? Buffer.alloc(0), { mode: 0o600 });
  }

  /** The bytes dockmirror last wrote, if the stored copy has hash `sha256`; `null` when unknown. */
  async readLastWritten(sha256: string | null): Promise<Buffer | undefined | null> {
    if (sha256 === null) return undefined;
    const bytes = await readFile(path.join(this.stateDir, 'last-written')).catch(() => undefined);
    return bytes && hashBytes(bytes) === sha256 ? bytes : null;
  }

  /** Reads the bytes a backup holds; `undefined` means "the file did not exist". */
  async readBackup(entry: JournalEntry): Promise<Buffer | undefined> {
    if (!entry.before.exists) return undefined;
    try {
      return await readFile(this.backupPath(entry.id));
    } catch (error) {
      throw fsError(error, this.backupPath(entry.id), 'read');
    }
  }

  /**
   * Settles what a killed run left: a pending entry becomes committed when the file holds its "after" bytes,
   * aborted otherwise; a torn journal line is cut off; temp files of killed atomic writes and backups that no
   * entry names are removed. Runs under the lock, before any new change.
   */
  async recover(current: Buffer | undefined, configFile: string): Promise<void> {
    await this.cutTornLine();
    const entries = await this.entries();
    const currentHash = hashBytes(current);
    for (const entry of entries.filter((e) => e.status === 'pending')) {
      if (entry.after.sha256 === currentHash) await this.commit(entry.id);
      else if (entry.before.sha256 === currentHash) await this.abort(entry.id, 'interrupted before daemon.json was written');
      else {
        // Stopped while the apply step had the absent keys spelled out as []: put the exact new bytes back. Any
        // other content is an edit made since; the entry stays committed so its backup (the only copy of the
        // old bytes) is kept and `rollback --force` can restore them.
        const written = await this.readLastWritten(entry.after.sha256);
        if (written && current && sameMeaningBesidesEmptyKeys(current, written)) await writeDaemonConfig(configFile, written);
        await this.commit(entry.id);
      }
      const target = await resolveWriteTarget(configFile);
      await removeTempFiles(path.dirname(target), path.basename(target), Date.parse(entry.time) - 1_000);
    }
    // Our own atomic writes (last-written, a pruned journal) killed midway; we hold the lock, so none is live.
    for (const base of ['last-written', 'journal.jsonl']) await removeTempFiles(this.stateDir, base, 0);
    const known = new Set(entries.map((e) => `${e.id}.bak`));
    const files = await readdir(this.backupsDir).catch(() => [] as string[]);
    await Promise.all(files.filter((f) => !known.has(f)).map((f) => rm(path.join(this.backupsDir, f), { force: true })));
  }

  /**
   * Removes the oldest backups beyond `keep`, never the one the next rollback needs (the newest committed
   * change's), and drops journal entries whose backups are gone (keeping the newest, which carries ownership).
   */
  async prune(keep: number): Promise<void> {
    const all = await this.entries();
    const entries = all.filter((e) => e.status === 'committed');
    const protectedId = entries.at(-1)?.id;
    const excess = entries.slice(0, Math.max(0, entries.length - Math.max(keep, 1)));
    const dropped = [...excess.filter((e) => e.id !== protectedId), ...all.filter((e) => e.status === 'aborted')];
    if (dropped.length === 0) return;
    const droppedIds = new Set(dropped.map((e) => e.id));
    const text = await readFile(this.file, 'utf8');
    const kept = text.split('\n').filter((line) => {
      if (!line) return false;
      try {
        const record = JSON.parse(line) as Record_;
        return !droppedIds.has(record.type === 'begin' ? record.entry.id : record.id);
      } catch {
        return false;
      }
    });
    await writeFileAtomic(this.file, `${kept.join('\n')}\n`, { fsync: true, mode: 0o600 });
    // Only now that no entry names them: a crash in between leaves orphan backups (removed by the next
    // recover), never a committed entry whose backup is gone.
    await Promise.all(dropped.map((e) => rm(this.backupPath(e.id), { force: true })));
  }

  private async append(record: Record_): Promise<void> {
    try {
      await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
      const handle = await open(this.file, 'a', 0o600);
      try {
        await handle.writeFile(`${JSON.stringify(record)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (error) {
      throw fsError(error, this.file, 'write');
    }
  }

  private async cutTornLine(): Promise<void> {
    const text = await readFile(this.file, 'utf8').catch(() => '');
    if (text && !text.endsWith('\n')) await truncate(this.file, Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1)));
  }
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

/** Removes `<base>.<digits>` files (write-file-atomic's temp names) modified since `sinceMs` in `dir`. */
async function removeTempFiles(dir: string, base: string, sinceMs: number): Promise<void> {
  const pattern = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.\\d+$`);
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names.filter((n) => pattern.test(n))) {
    const info = await stat(path.join(dir, name)).catch(() => undefined);
    if (info?.isFile() && info.mtimeMs >= sinceMs) await rm(path.join(dir, name), { force: true });
  }
}
