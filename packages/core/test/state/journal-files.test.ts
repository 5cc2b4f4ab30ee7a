// The journal's own files as evidence that may have been tampered with: a backup id that dockmirror never made, a
// backup changed since it was taken, and a journal that is not a plain file of a sane size are all refused with a
// message that names the file and a hint that says what to do, and daemon.json is left as it was.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UnsafePathError } from '../../src/errors.js';
import { addMirror } from '../../src/operations/mirrors.js';
import { Journal } from '../../src/state/journal.js';
import { isolated } from '../support/hermetic.js';

let dir: string;
let file: string;
let stateDir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-journal-files-'));
  file = path.join(dir, 'daemon.json');
  stateDir = path.join(dir, 'state');
});
afterEach(() => rm(dir, { recursive: true, force: true }));
const opts = () => ({ ...isolated(dir), configFile: file, stateDir, apply: 'none' as const });

describe('backups', () => {
  it('a backup id dockmirror never makes is refused by name, with where to find the real ones', () => {
    const journal = new Journal(stateDir);
    const error = (() => {
      try {
        journal.backupPath('../../etc/shadow');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(UnsafePathError);
    expect((error as UnsafePathError).message).toBe('Refusing the backup id "../../etc/shadow": it is not one dockmirror makes.');
    expect((error as UnsafePathError).hint).toBe('Run `dockmirror backups` to see the ids there are.');
    // An id is the whole name: one that only ends like an id would climb out of the backups folder.
    for (const forged of ['../20261201T120000000Z-abcdef', 'x20261201T120000000Z-abcdef', '20261201T120000000Z-abcdef/..', '20261201T120000000Z-abcdeg']) {
      expect(() => journal.backupPath(forged), forged).toThrow(UnsafePathError);
    }
    expect(() => journal.backupPath('20261201T120000000Z-abcdef', -1)).toThrow(new RangeError('backup index -1'));
    expect(() => journal.backupPath('20261201T120000000Z-abcdef', 0.5)).toThrow(RangeError);
    expect(journal.backupPath('20261201T120000000Z-abcdef', 0)).toBe(path.join(stateDir, 'backups', '20261201T120000000Z-abcdef.bak'));
  });

  it('a backup changed since it was taken is refused: the file, why, and what to do instead', async () => {
    await writeFile(file, '{\n  "debug": true\n}\n');
    await addMirror({ ...opts(), mirror: 'https://a.example' });
    const journal = new Journal(stateDir);
    const [entry] = await journal.entries();
    const backup = journal.backupPath(entry!.id);
    expect((await journal.readBackup(entry!))?.toString()).toBe('{\n  "debug": true\n}\n');
    await writeFile(backup, '{\n  "debug": false\n}\n');
    const error = await journal.readBackup(entry!).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsafePathError);
    expect((error as UnsafePathError).message).toBe(
      `The backup ${backup} does not hold the bytes its journal entry recorded (sha256 differs); it was changed since it was taken.`,
    );
    expect((error as UnsafePathError).location).toEqual({ file: backup });
    expect((error as UnsafePathError).hint).toBe('Restore from another backup (`dockmirror backups`), or inspect that file by hand.');
    // A missing backup is a read error that names it, not "the file did not exist".
    await rm(backup);
    const missing = await journal.readBackup(entry!).catch((e: unknown) => e);
    expect(missing).toMatchObject({ message: `Cannot read ${backup}: missing`, location: { file: backup }, hint: 'Check the path and the disk, then try again.' });
  });
});

describe('the journal file', () => {
  it('a torn last line (an append a kill cut short) is no damage: it is neither an entry nor a warning', async () => {
    await writeFile(file, '{}\n');
    await addMirror({ ...opts(), mirror: 'https://a.example' });
    const journalFile = path.join(stateDir, 'journal.jsonl');
    const good = await readFile(journalFile, 'utf8');
    await writeFile(journalFile, `${good}{"type":"begin","entry":{"id":"2026`);
    const journal = new Journal(stateDir);
    expect((await journal.entries()).map((e) => e.status)).toEqual(['committed']);
    expect(journal.warnings).toEqual([]);
  });

  it('a change with no file, or a before-state missing for one, is a bug: refused before anything is written', async () => {
    const journal = new Journal(stateDir);
    const entry = { id: '20261201T120000000Z-abcdef', op: 'mirror add', args: {}, time: new Date().toISOString(), ownedBefore: [], owned: [] };
    const one = { file, before: { exists: true, sha256: 'x' }, after: { exists: true, sha256: 'y' } };
    await expect(journal.begin({ ...entry, files: [] }, [])).rejects.toThrow(new RangeError('a change needs one before-state per file'));
    await expect(journal.begin({ ...entry, files: [one] }, [])).rejects.toThrow(new RangeError('a change needs one before-state per file'));
    expect(existsSync(stateDir)).toBe(false);
  });
  it('reading a journal that is not there yet (list, status, backups) creates no state folder and no backups folder', async () => {
    const journal = new Journal(stateDir);
    expect(await journal.entries()).toEqual([]);
    expect(await journal.committed(file)).toEqual([]);
    expect(existsSync(stateDir)).toBe(false);
    // A state folder with a journal but no backups yet: reading it adds nothing to it.
    await mkdir(stateDir, { mode: 0o700 });
    await writeFile(path.join(stateDir, 'journal.jsonl'), '', { mode: 0o600 });
    expect(await new Journal(stateDir).entries()).toEqual([]);
    expect(await readdir(stateDir)).toEqual(['journal.jsonl']);
  });

  it('a state folder whose path runs through a file does not exist either: nothing is listed', async () => {
    await writeFile(file, '{}\n');
    const journal = new Journal(path.join(file, 'state'));
    expect(await journal.entries()).toEqual([]);
    expect(journal.warnings).toEqual([]);
    expect(await readFile(file, 'utf8')).toBe('{}\n');
  });

  it('a journal that is not a regular file is refused, and no change is made', async () => {
    await writeFile(file, '{}\n');
    await mkdir(path.join(stateDir, 'journal.jsonl'), { recursive: true });
    const journalFile = path.join(stateDir, 'journal.jsonl');
    const error = await addMirror({ ...opts(), mirror: 'https://a.example' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsafePathError);
    expect((error as UnsafePathError).message).toBe(`Refusing to read ${journalFile}: it is not a regular file.`);
    expect((error as UnsafePathError).location).toEqual({ file: journalFile });
    expect((error as UnsafePathError).hint).toBe(`Move ${journalFile} aside; dockmirror only reads state files it wrote.`);
    expect(await readFile(file, 'utf8')).toBe('{}\n');
  });

  it('a journal larger than its bound (16 MiB) is refused with the bound, and no change is made', async () => {
    await writeFile(file, '{}\n');
    await addMirror({ ...opts(), mirror: 'https://a.example' });
    const journalFile = path.join(stateDir, 'journal.jsonl');
    // Sparse: 16 MiB and one byte that take no disk.
    await truncate(journalFile, 16 * 1024 * 1024 + 1);
    const before = await readFile(file, 'utf8');
    const error = await new Journal(stateDir).entries().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsafePathError);
    expect((error as UnsafePathError).message).toBe(`Refusing to read ${journalFile}: it is larger than ${16 * 1024 * 1024} bytes.`);
    expect((error as UnsafePathError).hint).toBe(`Move ${journalFile} aside; dockmirror only reads state files it wrote.`);
    await expect(addMirror({ ...opts(), mirror: 'https://b.example' })).rejects.toBeInstanceOf(UnsafePathError);
    expect(await readFile(file, 'utf8')).toBe(before);
  });
});
