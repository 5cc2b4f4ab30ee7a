// What recovery does with what a killed run left, file by file: a change killed between two of its writes is put
// back wholly (and only the files it wrote are touched), a change that settled is left alone, the temp files it
// removes are only its own, and what it cannot read is kept aside with a message that counts it.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, open, readFile, readdir, readlink, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sameMeaningBesidesEmptyKeys } from '../../src/engines/docker/daemon-json.js';
import { UnsafePathError } from '../../src/errors.js';
import { Journal, hashBytes, newEntryId, type NewJournalEntry } from '../../src/state/journal.js';
import { mountTinyDisk } from '../support/tiny-disk.js';

let dir: string;
let stateDir: string;
let journal: Journal;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-recover-'));
  stateDir = path.join(dir, 'state');
  journal = new Journal(stateDir);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const state = (bytes: Buffer | undefined) => ({ exists: bytes !== undefined, sha256: hashBytes(bytes) });
const readCurrent = (file: string) => readFile(file).catch(() => undefined);
const b = (text: string) => Buffer.from(text);

interface Planned {
  file: string;
  before: Buffer | undefined;
  after: Buffer | undefined;
  mode?: number;
  createdDirs?: string[];
}

/** What a run killed after `journal.begin` leaves: a pending entry (with its backups) for writing `files`. */
async function pending(files: Planned[], time = new Date().toISOString()): Promise<NewJournalEntry> {
  const entry: NewJournalEntry = {
    id: newEntryId(),
    op: 'mirror add',
    args: {},
    time,
    files: files.map((f) => ({
      file: f.file,
      before: { ...state(f.before), ...(f.mode === undefined ? {} : { mode: f.mode }) },
      after: state(f.after),
      ...(f.createdDirs ? { createdDirs: f.createdDirs } : {}),
    })),
    ownedBefore: [],
    owned: [],
  };
  await journal.begin(entry, files.map((f) => f.before));
  return entry;
}

const statusOf = async (id: string) => (await new Journal(stateDir).entries()).find((e) => e.id === id)?.status;

describe('a change killed between two of its writes', () => {
  it('is put back wholly: only the files it wrote are rewritten, what it created is removed, modes come back', async () => {
    const [a, bFile, c, e] = ['a.json', 'b.json', 'c.json', 'e.json'].map((n) => path.join(dir, n)) as [string, string, string, string];
    const d1 = path.join(dir, 'd1');
    const d2 = path.join(d1, 'd2');
    const d = path.join(d2, 'hosts.toml');
    await writeFile(a, '{"a": 1}'); // written: holds its new bytes
    await writeFile(bFile, '{"b": 0}'); // not written yet: still its old bytes
    await writeFile(c, '{"c": 0}'); // part of the change, but its bytes do not change
    await mkdir(d2, { recursive: true });
    await writeFile(d, 'server = "x"'); // created, with the two folders above it
    // e.json: the change removed it; it had mode 0640.
    const entry = await pending([
      { file: a, before: b('{"a": 0}'), after: b('{"a": 1}'), mode: 0o644 },
      { file: bFile, before: b('{"b": 0}'), after: b('{"b": 1}'), mode: 0o644 },
      { file: c, before: b('{"c": 0}'), after: b('{"c": 0}'), mode: 0o644 },
      { file: d, before: undefined, after: b('server = "x"'), createdDirs: [d1, d2] },
      { file: e, before: b('{"e": 0}'), after: undefined, mode: 0o640 },
    ]);
    const untouched = { b: (await stat(bFile)).ino, c: (await stat(c)).ino };

    await journal.recover(readCurrent);
    expect(await readFile(a, 'utf8')).toBe('{"a": 0}');
    expect(await readFile(bFile, 'utf8')).toBe('{"b": 0}');
    expect(await readFile(e, 'utf8')).toBe('{"e": 0}');
    expect((await stat(e)).mode & 0o777).toBe(0o640);
    // Files still holding their old bytes are not written at all (same inode: a hard link to them still sees them).
    expect({ b: (await stat(bFile)).ino, c: (await stat(c)).ino }).toEqual(untouched);
    expect(existsSync(d1)).toBe(false);
    expect((await readdir(dir)).sort()).toEqual(['a.json', 'b.json', 'c.json', 'e.json', 'state']);
    expect(await statusOf(entry.id)).toBe('aborted');
    expect(await new Journal(stateDir).hasBackups(entry)).toBe(false);
  });

  it('one file written, one not, one edited since: committed as it is, nothing put back, every backup kept', async () => {
    const [a, bFile, c] = ['a.json', 'b.json', 'c.json'].map((n) => path.join(dir, n)) as [string, string, string];
    await writeFile(a, '{"a": 1}');
    await writeFile(bFile, '{"b": 0}');
    await writeFile(c, '{"edited": true}');
    const entry = await pending([
      { file: a, before: b('{"a": 0}'), after: b('{"a": 1}') },
      { file: bFile, before: b('{"b": 0}'), after: b('{"b": 1}') },
      { file: c, before: b('{"c": 0}'), after: b('{"c": 1}') },
    ]);
    await journal.recover(readCurrent);
    expect(await readFile(a, 'utf8')).toBe('{"a": 1}');
    expect(await readFile(bFile, 'utf8')).toBe('{"b": 0}');
    expect(await readFile(c, 'utf8')).toBe('{"edited": true}');
    expect(await statusOf(entry.id)).toBe('committed');
    expect(await new Journal(stateDir).hasBackups(entry)).toBe(true);
  });
});

describe('a dry run reads a pending change as recovery will settle it', () => {
  it('even when it did not read one of the change\'s files: an untouched one still counts as untouched', async () => {
    // The change's one real edit never landed (a still holds its old bytes); b was written as it was found.
    const a = path.join(dir, 'a.json');
    const bFile = path.join(dir, 'b.json');
    await writeFile(a, '{"a": 0}');
    await writeFile(bFile, '{"b": 0}');
    const entry = await pending([
      { file: a, before: b('{"a": 0}'), after: b('{"a": 1}') },
      { file: bFile, before: b('{"b": 0}'), after: b('{"b": 0}') },
    ]);
    // The dry run knows only a's bytes.
    const dry = new Journal(stateDir);
    dry.settleInMemory(new Map([[a, b('{"a": 0}')]]));
    const shown = (await dry.entries()).find((e) => e.id === entry.id)?.status;
    await journal.recover(readCurrent);
    expect(await statusOf(entry.id)).toBe('aborted');
    expect(shown).toBe('aborted');
  });

  it('and a file it did not read is taken to hold the change, as the note on settleInMemory says', async () => {
    const a = path.join(dir, 'a.json');
    await writeFile(a, '{"a": 1}');
    const entry = await pending([{ file: a, before: b('{"a": 0}'), after: b('{"a": 1}') }]);
    const dry = new Journal(stateDir);
    dry.settleInMemory(new Map());
    expect((await dry.entries()).find((e) => e.id === entry.id)?.status).toBe('committed');
  });
});

describe('a change killed inside its apply step', () => {
  const file = () => path.join(dir, 'daemon.json');

  it('a file still holding its old bytes is left so, even when they read like the new ones with an empty key', async () => {
    const old = b('{"debug": true, "registry-mirrors": []}\n');
    const next = b('{"debug": true}\n');
    await writeFile(file(), old);
    const entry = await pending([{ file: file(), before: old, after: next }]);
    await journal.saveLastWritten(next);
    await journal.recover(readCurrent, sameMeaningBesidesEmptyKeys);
    expect((await readFile(file())).equals(old)).toBe(true);
    expect(await statusOf(entry.id)).toBe('aborted');
  });

  it('a file holding exactly the bytes written is not written again', async () => {
    const next = b('{"registry-mirrors": ["https://m.example"]}\n');
    await writeFile(file(), next);
    const entry = await pending([{ file: file(), before: b('{}\n'), after: next }]);
    await journal.saveLastWritten(next);
    const { ino } = await stat(file());
    await journal.recover(readCurrent, sameMeaningBesidesEmptyKeys);
    expect((await stat(file())).ino).toBe(ino);
    expect((await readFile(file())).equals(next)).toBe(true);
    expect(await statusOf(entry.id)).toBe('committed');
  });

  it('a change that never landed is aborted in the journal with the reason why', async () => {
    await writeFile(file(), '{}\n');
    const entry = await pending([{ file: file(), before: b('{}\n'), after: b('{"debug": true}\n') }]);
    await journal.recover(readCurrent);
    const last = (await readFile(journal.file, 'utf8')).trimEnd().split('\n').at(-1) as string;
    expect(JSON.parse(last)).toEqual({ type: 'abort', id: entry.id, reason: 'interrupted before its files were written, or they were not changed' });
  });
});

describe('the temp files recovery removes', () => {
  it('only regular files of the config file’s exact temp name, modified since the change began', async () => {
    const file = path.join(dir, 'daemon.json');
    await writeFile(file, '{}\n');
    const time = '2026-06-01T12:00:10.000Z';
    const since = (Date.parse(time) - 1_000) / 1_000;
    const at = async (name: string, seconds: number) => {
      await writeFile(path.join(dir, name), 'x');
      await utimes(path.join(dir, name), seconds, seconds);
    };
    await at('daemon.json.111', since); // a killed write of this change (the second before it counts)
    await at('daemon.json.222', since - 1); // older than the change: not its own
    await at('daemonXjson.333', since + 5); // not the temp name: `.` is a dot, not any character
    await writeFile(path.join(dir, 'target'), 'kept');
    await symlink(path.join(dir, 'target'), path.join(dir, 'daemon.json.444')); // a symlink is never removed
    await pending([{ file, before: b('{}\n'), after: b('{"debug": true}\n') }], time);
    await writeFile(path.join(stateDir, 'journalXjsonl.5'), 'x');
    await writeFile(path.join(stateDir, 'last-written.6'), 'x');

    await journal.recover(readCurrent);
    expect((await readdir(dir)).sort()).toEqual(['daemon.json', 'daemon.json.222', 'daemon.json.444', 'daemonXjson.333', 'state', 'target']);
    expect((await lstat(path.join(dir, 'daemon.json.444'))).isSymbolicLink()).toBe(true);
    expect((await readdir(stateDir)).sort()).toEqual(['backups', 'journal.jsonl', 'journalXjsonl.5']);
  });

  it('a backups folder that is a symlink is refused before anything in what it points at is removed', async () => {
    await mkdir(stateDir, { mode: 0o700 });
    const elsewhere = path.join(dir, 'elsewhere');
    await mkdir(elsewhere);
    await writeFile(path.join(elsewhere, '20261201T120000000Z-abcdef.bak.12'), 'not ours');
    await symlink(elsewhere, journal.backupsDir);
    await expect(journal.recover(readCurrent)).rejects.toMatchObject({ code: 'UNSAFE_PATH', location: { file: journal.backupsDir } });
    expect(await readdir(elsewhere)).toEqual(['20261201T120000000Z-abcdef.bak.12']);
  });
});

describe('what recovery cannot read is kept aside and counted', () => {
  const aside = () => path.join(stateDir, 'journal.rejected');

  it('a journal of one bad line is left empty, the line in journal.rejected, and the message says one line', async () => {
    await mkdir(stateDir, { mode: 0o700 });
    await writeFile(journal.file, 'junk\n');
    await journal.recover(readCurrent);
    expect(await readFile(journal.file, 'utf8')).toBe('');
    expect(await readFile(aside(), 'utf8')).toBe('junk\n');
    expect(journal.warnings).toContain(`Moved 1 unreadable journal line to ${aside()}.`);
  });

  it('the journal keeps exactly its good lines, and a prune in the same run does not bring the bad ones back', async () => {
    const file = path.join(dir, 'daemon.json');
    await writeFile(file, '{}\n');
    const kept = await pending([{ file, before: b('{}\n'), after: b('{"a": 1}\n') }]);
    await journal.commit(kept.id);
    const good = await readFile(journal.file, 'utf8');
    await writeFile(journal.file, `${good}null\n`);
    // A change that never landed, begun after the bad line: recovery aborts it and the prune drops it.
    const lost = await pending([{ file, before: b('{}\n'), after: b('{"b": 2}\n') }]);
    const recovering = new Journal(stateDir);
    await recovering.recover(readCurrent);
    await recovering.prune(10);
    expect(await readFile(journal.file, 'utf8')).toBe(good);
    expect(await readFile(aside(), 'utf8')).toBe('null\n');
    expect((await new Journal(stateDir).entries()).map((e) => e.id)).toEqual([kept.id]);
    expect(lost.id).not.toBe(kept.id);
  });

  it('one backup no entry names is moved aside, and the message says one backup', async () => {
    await mkdir(path.join(stateDir, 'backups'), { recursive: true, mode: 0o700 });
    await writeFile(path.join(journal.backupsDir, 'stray.bak'), 'stray');
    await journal.recover(readCurrent);
    expect(journal.warnings).toEqual([`Moved 1 backup that no journal entry names to ${path.join(stateDir, 'unknown-backups')}.`]);
  });

  it('a backup that cannot be moved aside stops recovery with an error naming it, and stays where it was', async () => {
    await mkdir(path.join(stateDir, 'backups'), { recursive: true, mode: 0o700 });
    // The name it would get in unknown-backups/ (a timestamp in front) is longer than a file name may be.
    const name = `${'x'.repeat(246)}.bak`;
    await writeFile(path.join(journal.backupsDir, name), 'stray');
    const error = await journal.recover(readCurrent).catch((e: unknown) => e);
    expect(error).toMatchObject({ location: { file: path.join(journal.backupsDir, name) } });
    expect((error as Error).message).toMatch(new RegExp(`^Cannot write ${path.join(journal.backupsDir, name)}: `));
    expect(await readdir(journal.backupsDir)).toEqual([name]);
  });
});

describe('a torn last line', () => {
  it('is cut off the journal on disk, so the next record starts a line of its own', async () => {
    const file = path.join(dir, 'daemon.json');
    const entry = await pending([{ file, before: undefined, after: b('{}\n') }]);
    await writeFile(file, '{}\n');
    const good = await readFile(journal.file, 'utf8');
    await writeFile(journal.file, `${good}{"type":"commit","id":"2026`);
    const recovering = new Journal(stateDir);
    await recovering.recover(readCurrent);
    const lines = (await readFile(journal.file, 'utf8')).split('\n');
    expect(lines.slice(0, -2).join('\n') + '\n').toBe(good);
    expect(JSON.parse(lines.at(-2) as string)).toEqual({ type: 'commit', id: entry.id });
    expect(lines.at(-1)).toBe('');
    expect(recovering.warnings).toEqual([]);
  });

  it('after a blank line is still only a torn line', async () => {
    const file = path.join(dir, 'daemon.json');
    await pending([{ file, before: undefined, after: b('{}\n') }]);
    const good = await readFile(journal.file, 'utf8');
    await writeFile(journal.file, `${good}\n{"type":"commit","id":"2026`);
    const reading = new Journal(stateDir);
    expect((await reading.entries()).map((e) => e.status)).toEqual(['pending']);
    expect(reading.warnings).toEqual([]);
  });
});

describe('prune', () => {
  it('counts only committed changes towards the backups kept, and rewrites the journal only when it drops something', async () => {
    const file = path.join(dir, 'daemon.json');
    const change = async (from: string, to: string) => {
      const e = await pending([{ file, before: b(from), after: b(to) }]);
      await journal.commit(e.id);
      return e;
    };
    const c1 = await change('{}\n', '{"a": 1}\n');
    const c2 = await change('{"a": 1}\n', '{"a": 2}\n');
    const withTwo = await readFile(journal.file, 'utf8');
    const undone = await pending([{ file, before: b('{"a": 2}\n'), after: b('{"a": 3}\n') }]);
    await journal.abort(undone.id, 'test');

    await journal.prune(2);
    expect((await journal.committed(file)).map((e) => e.id)).toEqual([c1.id, c2.id]);
    // Exactly the lines of the two kept changes: no blank line where the dropped ones were.
    expect(await readFile(journal.file, 'utf8')).toBe(withTwo);
    const { ino } = await stat(journal.file);
    await journal.prune(2);
    expect((await stat(journal.file)).ino).toBe(ino);
    expect(await readFile(journal.file, 'utf8')).toBe(withTwo);
  });

  it('a journal that pruned reads later records other processes append', async () => {
    const file = path.join(dir, 'daemon.json');
    const undone = await pending([{ file, before: b('{}\n'), after: b('{"a": 1}\n') }]);
    await journal.abort(undone.id, 'test');
    await journal.prune(2);
    const other = new Journal(stateDir);
    const later = await pending([{ file, before: b('{}\n'), after: b('{"a": 2}\n') }]);
    await other.commit(later.id);
    expect((await journal.entries()).map((e) => [e.id, e.status])).toEqual([[later.id, 'committed']]);
  });
});

describe('settling in memory (a dry run)', () => {
  it('re-settles only pending entries: one already aborted stays so whatever the file now holds', async () => {
    const file = path.join(dir, 'daemon.json');
    const next = b('{"a": 1}\n');
    const undone = await pending([{ file, before: b('{}\n'), after: next }]);
    await journal.abort(undone.id, 'test');
    const dry = new Journal(stateDir);
    dry.settleInMemory(new Map([[file, next]]));
    expect((await dry.entries()).map((e) => e.status)).toEqual(['aborted']);
  });
});

describe('the journal’s own files', () => {
  it('the copy of the last bytes written is given back only for their hash; for "no file", no bytes', async () => {
    const written = b('{"registry-mirrors": ["https://m.example"]}\n');
    await journal.saveLastWritten(written);
    expect((await journal.readLastWritten(hashBytes(written)))?.equals(written)).toBe(true);
    expect(await journal.readLastWritten(hashBytes(b('{}\n')))).toBeNull();
    expect(await journal.readLastWritten(null)).toBeUndefined();
  });

  it('a change that only creates files can be begun in a state folder that does not exist yet', async () => {
    const file = path.join(dir, 'daemon.json');
    const entry = await pending([{ file, before: undefined, after: b('{}\n') }]);
    expect((await journal.entries()).map((e) => [e.id, e.status])).toEqual([[entry.id, 'pending']]);
    // No backup was needed, so there is no backups folder.
    expect(await readdir(stateDir)).toEqual(['journal.jsonl']);
    await journal.recover(readCurrent);
    expect((await readdir(stateDir)).sort()).toEqual(['journal.jsonl']);
  });

  it('a backup replaced by a symlink is refused even when what it points at holds the right bytes', async () => {
    const file = path.join(dir, 'daemon.json');
    const entry = await pending([{ file, before: b('{}\n'), after: b('{"a": 1}\n') }]);
    const copy = path.join(dir, 'copy.bak');
    await writeFile(copy, '{}\n');
    await rm(journal.backupPath(entry.id));
    await symlink(copy, journal.backupPath(entry.id));
    const error = await journal.readBackup(entry).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsafePathError);
    expect((error as UnsafePathError).message).toBe(`Refusing to read ${journal.backupPath(entry.id)}: it is a symlink, and dockmirror does not follow symlinks there.`);
  });

  it('a journal that is a symlink is never appended through', async () => {
    await mkdir(stateDir, { mode: 0o700 });
    const outside = path.join(dir, 'outside.txt');
    await writeFile(outside, 'keep\n');
    await symlink(outside, journal.file);
    await expect(journal.commit(newEntryId())).rejects.toMatchObject({ code: 'UNSAFE_PATH', location: { file: journal.file } });
    expect(await readFile(outside, 'utf8')).toBe('keep\n');
  });

  it('a record that cannot be written (a full disk) is an error naming the journal, never a silent loss', async () => {
    await mkdir(stateDir, { mode: 0o700 });
    execFileSync('mknod', [journal.file, 'c', '1', '7']); // /dev/full: every write fails with ENOSPC
    await expect(journal.commit(newEntryId())).rejects.toMatchObject({
      message: `Cannot write ${journal.file}: the disk is full (ENOSPC); nothing was changed.`,
      location: { file: journal.file },
    });
  });

  it('no handle on the journal is left open once a record is appended or a torn line cut off', async () => {
    const handlesOn = async (file: string) => {
      const targets = await Promise.all((await readdir('/proc/self/fd')).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
      return targets.filter((t) => t === file).length;
    };
    const file = path.join(dir, 'daemon.json');
    await pending([{ file, before: undefined, after: b('{}\n') }]);
    expect(await handlesOn(journal.file)).toBe(0);
    await writeFile(journal.file, `${await readFile(journal.file, 'utf8')}{"type":"commit","id":"2026`);
    await new Journal(stateDir).recover(async () => undefined);
    expect(await handlesOn(journal.file)).toBe(0);
  });
});

describe('a journal on a disk that fills up mid-record', () => {
  let disk: Awaited<ReturnType<typeof mountTinyDisk>>;
  beforeAll(async () => {
    disk = await mountTinyDisk();
  });
  afterAll(() => disk.unmount());

  it('a record only partly written is cut back off, and the error says the disk is full', async () => {
    const onDisk = new Journal(path.join(disk.dir, 'state'));
    await mkdir(onDisk.stateDir, { mode: 0o700 });
    // A journal whose last page has room for 10 more bytes, on a disk with no free page: the record's first
    // bytes land, the rest cannot.
    const page = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }));
    const text = `${'x'.repeat(page - 11)}\n`;
    await writeFile(onDisk.file, text, { mode: 0o600 });
    expect(page - Buffer.byteLength(text)).toBe(10);
    const filler = await open(path.join(disk.dir, 'filler'), 'w');
    const chunk = Buffer.alloc(page, 1);
    await (async () => {
      for (;;) await filler.write(chunk);
    })().catch((e: unknown) => expect(e).toMatchObject({ code: 'ENOSPC' }));
    await filler.close();

    await expect(onDisk.commit(newEntryId())).rejects.toMatchObject({
      message: `Cannot write ${onDisk.file}: the disk is full (ENOSPC); nothing was changed.`,
    });
    expect(await readFile(onDisk.file, 'utf8')).toBe(text);
  });
});
