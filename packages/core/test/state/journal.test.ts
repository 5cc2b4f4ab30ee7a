import { appendFile, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addMirror } from '../../src/operations/mirrors.js';
import { listBackups, rollback } from '../../src/operations/rollback.js';
import { Journal, hashBytes, newEntryId, type NewJournalEntry } from '../../src/state/journal.js';
import { isolated } from '../support/hermetic.js';

let dir: string;
let file: string;
let stateDir: string;
let journal: Journal;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-journal-'));
  file = path.join(dir, 'daemon.json');
  stateDir = path.join(dir, 'state');
  journal = new Journal(stateDir);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const opts = <T extends object>(extra: T = {} as T) => ({ ...isolated(dir), configFile: file, stateDir, apply: 'none' as const, ...extra });

/** What a run killed after `journal.begin` leaves: a pending entry (and its backup) for a write to `next`. */
async function killedAfterBegin(next: Buffer): Promise<NewJournalEntry> {
  const current = await readFile(file);
  const entry = {
    id: newEntryId(),
    op: 'mirror add',
    args: { mirror: 'https://killed.example' },
    time: new Date().toISOString(),
    files: [{ file, before: { exists: true, sha256: hashBytes(current), mode: 0o644 }, after: { exists: true, sha256: hashBytes(next) } }],
    ownedBefore: [],
    owned: [],
  };
  await journal.saveLastWritten(next);
  await journal.begin(entry, [current]);
  return entry;
}

describe('recover', () => {
  beforeEach(async () => {
    await writeFile(file, '{\n  "debug": true\n}\n');
    await addMirror(opts({ mirror: 'https://a.example' }));
  });

  it('aborts an entry whose write never landed, and removes what the killed writes left', async () => {
    const original = await readFile(file);
    const entry = await killedAfterBegin(Buffer.from('{"never": "landed"}'));
    await writeFile(`${file}.3735928559`, '{"registry-mirrors": ["half');
    await writeFile(path.join(stateDir, 'last-written.12345'), 'x');
    await writeFile(path.join(stateDir, 'journal.jsonl.4242'), 'x');
    await writeFile(path.join(stateDir, 'backups', `${entry.id}.bak.777`), 'x');
    await appendFile(journal.file, '{"type":"begin","entry":{"id":"torn');

    const next = await addMirror(opts({ mirror: 'https://b.example' }));
    expect(next.mirrors).toEqual(['https://b.example', 'https://a.example']);
    const entries = await journal.entries();
    expect(entries.find((e) => e.id === entry.id)).toBeUndefined(); // aborted, then pruned away
    expect(entries.every((e) => e.status === 'committed')).toBe(true);
    expect(await readdir(dir)).toEqual(['daemon.json', 'state']);
    expect((await readdir(stateDir)).sort()).toEqual(['backups', 'journal.jsonl', 'last-written']);
    expect((await readdir(journal.backupsDir)).sort()).toEqual(entries.map((e) => `${e.id}.bak`).sort());
    expect((await readFile(journal.file, 'utf8')).split('\n').filter(Boolean).every((l) => JSON.parse(l))).toBe(true);

    // Back past b.example: exactly the bytes before the killed run; then past a.example too.
    await rollback(opts());
    expect((await readFile(file)).equals(original)).toBe(true);
    await rollback(opts({ id: entries[0]!.id }));
    expect((await readFile(file, 'utf8'))).toBe('{\n  "debug": true\n}\n');
  });

  it('commits an entry whose write landed before the kill, so it can be rolled back', async () => {
    const beforeKill = await readFile(file);
    const landed = Buffer.from('{\n  "debug": true,\n  "registry-mirrors": ["https://k.example", "https://a.example"]\n}\n');
    const entry = await killedAfterBegin(landed);
    await writeFile(file, landed);

    const listed = await addMirror(opts({ mirror: 'https://a.example' })); // nothing to do, but settles the journal
    expect(listed.changed).toBe(false);
    expect((await journal.entries()).find((e) => e.id === entry.id)?.status).toBe('committed');
    expect((await listBackups(opts())).backups[0]?.id).toBe(entry.id);
    await rollback(opts());
    expect((await readFile(file)).equals(beforeKill)).toBe(true);
  });
});

describe('recover after a kill inside the apply step', () => {
  beforeEach(async () => {
    await writeFile(file, '{\n  "debug": true\n}\n');
  });

  it('puts the exact new bytes back when the file still has the absent keys spelled out as []', async () => {
    const original = await readFile(file);
    const landed = Buffer.from('{\n  "debug": true,\n  "registry-mirrors": ["https://k.example"]\n}\n');
    const entry = await killedAfterBegin(landed);
    // What applyToDaemon writes for a reload while "insecure-registries" is absent.
    await writeFile(file, '{\n  "debug": true,\n  "registry-mirrors": ["https://k.example"]\n,"insecure-registries":[]}');

    await addMirror(opts({ mirror: 'https://k.example' })); // nothing to add; settles the journal
    expect((await readFile(file)).equals(landed)).toBe(true);
    expect((await journal.entries()).find((e) => e.id === entry.id)?.status).toBe('committed');
    await rollback(opts());
    expect((await readFile(file)).equals(original)).toBe(true);
  });

  it('keeps the backup when the file holds something else, so rollback --force can still restore', async () => {
    const original = await readFile(file);
    const entry = await killedAfterBegin(Buffer.from('{"registry-mirrors": ["https://k.example"]}'));
    await writeFile(file, '{"edited": "by hand"}');

    // The rollback's own recovery settles the entry first; the file then differs from what dockmirror wrote.
    await expect(rollback(opts())).rejects.toMatchObject({ code: 'DRIFT' });
    expect((await journal.entries()).find((e) => e.id === entry.id)?.status).toBe('committed');
    expect((await stat(journal.backupPath(entry.id))).isFile()).toBe(true);
    await rollback(opts({ force: true }));
    expect((await readFile(file)).equals(original)).toBe(true);
  });
});

describe('prune', () => {
  it('leaves every committed entry with its backup, and no backup without an entry', async () => {
    await writeFile(file, '{}');
    for (let i = 0; i < 6; i++) await addMirror(opts({ mirror: `https://m${i}.example`, keepBackups: 2 }));
    const entries = await journal.entries();
    expect(entries).toHaveLength(2);
    for (const e of entries) expect((await stat(journal.backupPath(e.id))).isFile()).toBe(true);
    expect(await readdir(journal.backupsDir)).toHaveLength(2);
  });
});

describe('backups while a change is pending', () => {
  beforeEach(async () => {
    await writeFile(file, '{\n  "debug": true\n}\n');
    await addMirror(opts({ mirror: 'https://a.example' }));
  });

  it('lists an interrupted change first, as pending, and leaves out a pending entry that wrote nothing new (an apply)', async () => {
    const [committed] = (await listBackups(opts())).backups;
    const current = await readFile(file);
    // An `apply` killed mid-way: its entry is pending, but its bytes are the file's own.
    const applyEntry = {
      id: newEntryId(new Date(Date.now() + 1_000)),
      op: 'apply',
      args: {},
      time: new Date().toISOString(),
      files: [{ file, before: { exists: true, sha256: hashBytes(current), mode: 0o644 }, after: { exists: true, sha256: hashBytes(current) } }],
      ownedBefore: [],
      owned: [],
    };
    await journal.begin(applyEntry, [current]);
    const interrupted = await killedAfterBegin(Buffer.from('{"registry-mirrors": ["https://k.example"]}\n'));
    const { backups } = await listBackups(opts());
    expect(backups.map((b) => [b.id, b.status, b.op])).toEqual([
      [interrupted.id, 'pending', 'mirror add'],
      [committed?.id, 'committed', 'mirror add'],
    ]);
    expect(backups[0]).toMatchObject({ file, files: [file], existed: true, path: journal.backupPath(interrupted.id), args: { mirror: 'https://killed.example' } });
  });

  it('a change that created the file lists no backup path: restoring it removes the file', async () => {
    await rm(file);
    await rm(stateDir, { recursive: true });
    await addMirror(opts({ mirror: 'https://a.example' }));
    const [created] = (await listBackups(opts())).backups;
    expect(created).toMatchObject({ existed: false, path: null, status: 'committed' });
  });
});
