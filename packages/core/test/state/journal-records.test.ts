/**
 * The journal believes nothing it did not write: each field of a record is checked, and what fails is reported
 * by line, kept aside, and never acted on. Backups are checked against their recorded hashes.
 */
import { lstat, mkdir, readFile, readdir, rm, symlink, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DockmirrorError } from '../../src/errors.js';
import { addMirror } from '../../src/operations/mirrors.js';
import { Journal, hashBytes, newEntryId, type JournalEntry } from '../../src/state/journal.js';
import { isolated } from '../support/hermetic.js';

let dir: string;
let file: string;
let stateDir: string;
let journal: Journal;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-records-'));
  file = path.join(dir, 'daemon.json');
  stateDir = path.join(dir, 'state');
  journal = new Journal(stateDir);
  await writeFile(file, '{}\n');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const entry = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: newEntryId(),
  op: 'mirror add',
  args: {},
  time: new Date().toISOString(),
  file,
  before: { exists: true, sha256: 'a'.repeat(64), mode: 0o644 },
  after: { exists: false, sha256: null },
  ownedBefore: [],
  owned: ['127.0.0.1:5000'],
  ...over,
});
const line = (value: unknown) => JSON.stringify(value);

async function journalWith(lines: string[]): Promise<void> {
  await mkdir(stateDir, { mode: 0o700 });
  await writeFile(journal.file, `${lines.join('\n')}\n`);
}

describe('a begin record is believed only when every field has its form', () => {
  it('a well-formed one is an entry, pending until settled', async () => {
    const good = entry();
    await journalWith([line({ type: 'begin', entry: good })]);
    // A record from before changes could write several files has its one file as the first.
    expect(await journal.entries()).toEqual([{ ...good, files: [{ file: good.file, before: good.before, after: good.after }], status: 'pending' }]);
    expect(journal.warnings).toEqual([]);
  });

  it('a change of several files lists them all, the first also as `file`', async () => {
    const good = entry();
    const hosts = { file: '/etc/containerd/certs.d/ghcr.io/hosts.toml', before: { exists: false, sha256: null }, after: { exists: true, sha256: 'b'.repeat(64) }, createdDirs: ['/etc/containerd/certs.d/ghcr.io'] };
    const files = [{ file: good.file, before: good.before, after: good.after }, hosts];
    await journalWith([line({ type: 'begin', entry: { ...good, files } })]);
    const [read] = await journal.entries();
    expect(read?.files).toEqual(files);
    expect(read?.file).toBe(good.file);
  });

  it.each([
    ['files (empty)', []],
    ['files (a relative path)', [{ file: 'hosts.toml', before: { exists: false, sha256: null }, after: { exists: false, sha256: null } }]],
    ['files (a bad state)', [{ file: '/x/hosts.toml', before: { exists: true, sha256: 'x' }, after: { exists: false, sha256: null } }]],
    ['files (a created folder outside the file)', [{ file: '/x/hosts.toml', before: { exists: false, sha256: null }, after: { exists: false, sha256: null }, createdDirs: ['/etc'] }]],
    ['files (too many)', Array.from({ length: 65 }, (_, i) => ({ file: `/x/${i}`, before: { exists: false, sha256: null }, after: { exists: false, sha256: null } }))],
    ['files (one good, one not)', [{ file: '/x/a', before: { exists: false, sha256: null }, after: { exists: false, sha256: null } }, { file: 'b', before: { exists: false, sha256: null }, after: { exists: false, sha256: null } }]],
    ['files (one of two created folders outside the file)', [{ file: '/x/y/hosts.toml', before: { exists: false, sha256: null }, after: { exists: false, sha256: null }, createdDirs: ['/x', '/etc'] }]],
  ])('a bad %s: skipped', async (_, files) => {
    await journalWith([line({ type: 'begin', entry: { ...entry(), files } })]);
    expect(await journal.entries()).toEqual([]);
    expect(journal.warnings).toEqual([`${journal.file} line 1 was skipped: its entry is malformed.`]);
  });

  it.each([
    ['64 files, the most a change writes', { files: Array.from({ length: 64 }, (_, i) => ({ file: `/x/${i}`, before: { exists: false, sha256: null }, after: { exists: false, sha256: null } })) }],
    ['a mode of 0', { before: { exists: true, sha256: 'a'.repeat(64), mode: 0 } }],
    ['a mode of 07777', { before: { exists: true, sha256: 'a'.repeat(64), mode: 0o7777 } }],
    ['created folders all above the file', { files: [{ file: '/x/y/hosts.toml', before: { exists: false, sha256: null }, after: { exists: false, sha256: null }, createdDirs: ['/x', '/x/y'] }] }],
  ])('a record with %s is believed', async (_, over) => {
    await journalWith([line({ type: 'begin', entry: entry(over) })]);
    expect(await journal.entries()).toHaveLength(1);
    expect(journal.warnings).toEqual([]);
  });

  it.each([
    ['op', { op: 7 }],
    ['args', { args: 'x' }],
    ['args (an array)', { args: [] }],
    ['time', { time: 1 }],
    ['file (relative)', { file: 'daemon.json' }],
    ['file (missing)', { file: undefined }],
    ['before.exists', { before: { exists: 'yes', sha256: 'a'.repeat(64) } }],
    ['before.sha256 (short)', { before: { exists: true, sha256: 'abc' } }],
    ['before.sha256 (upper case)', { before: { exists: true, sha256: 'A'.repeat(64) } }],
    ['before.sha256 (something in front)', { before: { exists: true, sha256: `x${'a'.repeat(64)}` } }],
    ['before.sha256 (something after)', { before: { exists: true, sha256: `${'a'.repeat(64)}x` } }],
    ['before.sha256 (set for a missing file)', { before: { exists: false, sha256: 'a'.repeat(64) } }],
    ['before.mode (not an integer)', { before: { exists: true, sha256: 'a'.repeat(64), mode: 1.5 } }],
    ['before.mode (negative)', { before: { exists: true, sha256: 'a'.repeat(64), mode: -1 } }],
    ['before.mode (too large)', { before: { exists: true, sha256: 'a'.repeat(64), mode: 0o10000 } }],
    ['after', { after: null }],
    ['ownedBefore', { ownedBefore: [1] }],
    ['owned', { owned: 'x' }],
  ])('a bad %s: skipped, with the line named', async (_, over) => {
    await journalWith([line({ type: 'begin', entry: entry() }), line({ type: 'begin', entry: entry(over) })]);
    expect(await journal.entries()).toHaveLength(1);
    expect(journal.warnings).toEqual([`${journal.file} line 2 was skipped: its entry is malformed.`]);
  });

  it.each([
    ['not JSON', '{', 'it is not JSON'],
    ['not a record', '"x"', 'it is not a record'],
    ['null', 'null', 'it is not a record'],
    ['of an unknown type', line({ type: 'erase', id: newEntryId() }), 'its type is unknown'],
    ['without an entry', line({ type: 'begin' }), 'it has no entry'],
    ['with a forged id', line({ type: 'begin', entry: entry({ id: '../../etc/shadow' }) }), 'its id is not one dockmirror makes'],
    ['settling a forged id', line({ type: 'commit', id: '../x' }), 'its id is not one dockmirror makes'],
    ['settling a change never begun', line({ type: 'abort', id: newEntryId() }), 'it settles a change no begin record names'],
  ])('a line %s is skipped with its reason', async (_, text, reason) => {
    await journalWith([text]);
    expect(await journal.entries()).toEqual([]);
    expect(journal.warnings).toEqual([`${journal.file} line 1 was skipped: ${reason}.`]);
  });

  it('commit and abort settle their entries; the same warning is given once', async () => {
    const a = entry();
    const b = entry();
    await journalWith([line({ type: 'begin', entry: a }), line({ type: 'begin', entry: b }), line({ type: 'commit', id: a.id }), line({ type: 'abort', id: b.id, reason: 'x' }), 'junk']);
    expect((await journal.entries()).map((e) => e.status)).toEqual(['committed', 'aborted']);
    await journal.entries();
    expect(journal.warnings).toHaveLength(1);
  });
});

describe('recovery keeps what it cannot read', () => {
  it('moves bad lines to journal.rejected and out of the journal, and says so', async () => {
    await addMirror({ mirror: 'https://a.example', configFile: file, stateDir, apply: 'none', ...isolated(dir) });
    const good = await readFile(journal.file, 'utf8');
    await writeFile(journal.file, `${good}null\nnot json\n`);
    const result = await addMirror({ mirror: 'https://b.example', configFile: file, stateDir, apply: 'none', ...isolated(dir) });
    expect(await readFile(path.join(stateDir, 'journal.rejected'), 'utf8')).toBe('null\nnot json\n');
    expect(await readFile(journal.file, 'utf8')).not.toContain('not json');
    expect(result.warnings).toContain(`Moved 2 unreadable journal lines to ${path.join(stateDir, 'journal.rejected')}.`);
    const again = await addMirror({ mirror: 'https://c.example', configFile: file, stateDir, apply: 'none', ...isolated(dir) });
    expect(again.warnings).toEqual([]);
  });

  it('moves a backup no entry names (a symlink too, as the link) to unknown-backups/, keeping its bytes', async () => {
    await addMirror({ mirror: 'https://a.example', configFile: file, stateDir, apply: 'none', ...isolated(dir) });
    await writeFile(path.join(journal.backupsDir, 'stray.bak'), 'stray bytes');
    await symlink('/etc/hostname', path.join(journal.backupsDir, 'link.bak'));
    const result = await addMirror({ mirror: 'https://b.example', configFile: file, stateDir, apply: 'none', ...isolated(dir) });
    expect(result.warnings).toContain(`Moved 2 backups that no journal entry names to ${path.join(stateDir, 'unknown-backups')}.`);
    const aside = (await readdir(path.join(stateDir, 'unknown-backups'))).sort();
    expect(aside).toHaveLength(2);
    expect(aside.every((n) => /^\d+-(stray|link)\.bak$/.test(n))).toBe(true);
    const stray = aside.find((n) => n.endsWith('stray.bak'))!;
    expect(await readFile(path.join(stateDir, 'unknown-backups', stray), 'utf8')).toBe('stray bytes');
    expect((await lstat(path.join(stateDir, 'unknown-backups', aside.find((n) => n.endsWith('link.bak'))!))).isSymbolicLink()).toBe(true);
    expect((await readdir(journal.backupsDir)).length).toBe((await journal.entries()).length);
  });
});

describe('backups', () => {
  async function committed(): Promise<JournalEntry> {
    await addMirror({ mirror: 'https://a.example', configFile: file, stateDir, apply: 'none', ...isolated(dir) });
    return (await journal.entries())[0]!;
  }

  it('a backup is read only when it holds the bytes its entry hashed', async () => {
    const e = await committed();
    expect((await journal.readBackup(e))?.toString()).toBe('{}\n');
    expect(hashBytes(Buffer.from('{}\n'))).toBe(e.before.sha256);
    await writeFile(journal.backupPath(e.id), '{"hosts": ["tcp://0.0.0.0:2375"]}');
    const error = (await journal.readBackup(e).catch((x: unknown) => x)) as DockmirrorError;
    expect(error.code).toBe('UNSAFE_PATH');
    expect(error.location).toEqual({ file: journal.backupPath(e.id) });
  });

  it('a backup that is gone is an error naming it; one that is a symlink is not there', async () => {
    const e = await committed();
    await rm(journal.backupPath(e.id));
    expect(await journal.hasBackups(e)).toBe(false);
    await expect(journal.readBackup(e)).rejects.toMatchObject({ location: { file: journal.backupPath(e.id) } });
    await symlink(path.join(dir, 'daemon.json'), journal.backupPath(e.id));
    expect(await journal.hasBackups(e)).toBe(false);
    await expect(journal.readBackup(e)).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
  });

  it('an id not of dockmirror’s form is never turned into a path', () => {
    expect(() => journal.backupPath('../../etc/passwd')).toThrow(DockmirrorError);
  });

  it('abort drops the backup of the change it settles, and only that one', async () => {
    const e = await committed();
    const other = { ...e, id: newEntryId() };
    await journal.begin(other, [Buffer.from('{}\n')]);
    await journal.abort(other.id, 'test');
    expect(await journal.hasBackups(other)).toBe(false);
    expect(await journal.hasBackups(e)).toBe(true);
    expect((await journal.entries()).map((x) => x.status)).toEqual(['committed', 'aborted']);
  });

  it('prune keeps each file’s newest backups in a shared folder, never another file’s', async () => {
    const other = path.join(dir, 'other.json');
    await writeFile(other, '{}\n');
    await addMirror({ mirror: 'https://o.example', configFile: other, stateDir, apply: 'none', ...isolated(dir) });
    for (let i = 0; i < 4; i++) await addMirror({ mirror: `https://m${i}.example`, configFile: file, stateDir, apply: 'none', ...isolated(dir), keepBackups: 2 });
    expect((await journal.committed(other)).length).toBe(1);
    expect((await journal.committed(file)).length).toBe(2);
    expect(await readdir(journal.backupsDir)).toHaveLength(3);
  });
});
