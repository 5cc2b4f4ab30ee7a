import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DriftError, UsageError } from '../../src/errors.js';
import { addMirror, removeMirror } from '../../src/operations/mirrors.js';
import { listBackups, rollback } from '../../src/operations/rollback.js';
import { Journal } from '../../src/state/journal.js';
import { ROLLBACK_CORPUS } from './rollback-corpus.js';
import { isolated } from '../support/hermetic.js';

let dir: string;
let file: string;
let stateDir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-rollback-'));
  file = path.join(dir, 'daemon.json');
  stateDir = path.join(dir, 'state');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

// isolated(): Linux, no DOCKMIRROR_* of the shell, and no home of the host's (docker context, presets).
const opts = <T extends object>(extra: T = {} as T) => ({ ...isolated(dir), configFile: file, stateDir, apply: 'none' as const, ...extra });
const add = (mirror: string, extra: object = {}) => addMirror(opts({ mirror, ...extra }));


describe('rollback --force of a file deleted since', () => {
  it('recreates it with the mode it had', async () => {
    await writeFile(file, '{"debug": true}\n', { mode: 0o640 });
    await chmod(file, 0o640);
    await add('http://10.1.2.3:5000');
    await rm(file);
    await expect(rollback(opts())).rejects.toBeInstanceOf(DriftError);
    await rollback(opts({ force: true }));
    expect(await readFile(file, 'utf8')).toBe('{"debug": true}\n');
    expect((await stat(file)).mode & 0o777).toBe(0o640);
  });
});

describe('rollback is byte-exact', () => {
  it.each(Object.entries(ROLLBACK_CORPUS))('%s: add, rollback, rollback of the rollback, rollback <id>', async (_name, text) => {
    const original = Buffer.from(text, 'utf8');
    await writeFile(file, original);
    const added = await add('http://10.1.2.3:5000');
    expect(added.changed).toBe(true);
    const postAdd = await readFile(file);
    expect(postAdd.equals(original)).toBe(false);

    const undone = await rollback(opts());
    expect(undone.changed).toBe(true);
    expect((await readFile(file)).equals(original)).toBe(true);

    await rollback(opts());
    expect((await readFile(file)).equals(postAdd)).toBe(true);

    await rollback(opts({ id: added.backup! }));
    expect((await readFile(file)).equals(original)).toBe(true);
    expect(await tempFiles()).toEqual([]);
  });
});

describe('nothing to undo', () => {
  it('refuses with a usage error naming the state folder, and writes nothing', async () => {
    const bytes = '{\n  "debug": true\n}\n';
    await writeFile(file, bytes);
    const error = await rollback(opts()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect(error).toMatchObject({ code: 'USAGE', message: `Nothing to roll back: no dockmirror change is recorded in ${stateDir}.`, hint: expect.stringMatching(/--state-dir/) });
    expect(await readFile(file, 'utf8')).toBe(bytes);
    expect((await listBackups(opts())).backups).toEqual([]);
  });

  it('refuses an id that is not a backup of this file, and one that is not an id at all', async () => {
    await writeFile(file, '{}\n');
    await add('https://a.example');
    const after = await readFile(file, 'utf8');
    await expect(rollback(opts({ id: '20261126T161143123Z-a1b2c3' }))).rejects.toMatchObject({
      code: 'USAGE',
      message: `No backup "20261126T161143123Z-a1b2c3" for ${file} in ${stateDir}.`,
      hint: 'Run `dockmirror backups` to see the backups there are.',
    });
    await expect(rollback(opts({ id: '../../etc/passwd' }))).rejects.toMatchObject({
      code: 'USAGE',
      message: '"../../etc/passwd" is not a backup id (they look like 20261126T161143123Z-a1b2c3).',
      hint: 'Run `dockmirror backups` to see the ids there are.',
    });
    expect(await readFile(file, 'utf8')).toBe(after);
  });
});

describe('a backup that is gone', () => {
  it('is named as missing, with the id, and nothing is written', async () => {
    await writeFile(file, '{}\n');
    await add('https://a.example');
    const after = await readFile(file, 'utf8');
    const [latest] = (await listBackups(opts())).backups;
    await rm(latest!.path!);
    // A change whose backup is gone is no backup: it is not listed, and rollback says so.
    expect((await listBackups(opts())).backups).toEqual([]);
    const error = await rollback(opts()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message).toBe(`No backup of the latest change (${latest!.id}) for ${file} in ${stateDir}.`);
    expect(await readFile(file, 'utf8')).toBe(after);
  });
});

describe('missing file', () => {
  it('add creates the file, rollback removes it, and the state beside it stays usable', async () => {
    const nested = path.join(dir, 'etc', 'docker', 'daemon.json');
    const local = { ...isolated(dir), configFile: nested, apply: 'none' as const };
    const added = await addMirror({ ...local, mirror: 'https://mirror.example' });
    expect(added.stateDir).toBe(path.join(dir, 'etc', 'docker', '.dockmirror'));
    const created = await readFile(nested);

    await rollback(local);
    await expect(stat(nested)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(path.dirname(nested))).toEqual(['.dockmirror']);
    const { backups } = await listBackups(local);
    expect(backups.map((b) => [b.op, b.existed])).toEqual([['rollback', true], ['mirror add', false]]);
    expect(backups[1]!.path).toBeNull();

    await rollback(local);
    expect((await readFile(nested)).equals(created)).toBe(true);
    await rollback(local);
    await expect(stat(nested)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(path.dirname(nested))).toEqual(['.dockmirror']);
  });
});

describe('drift', () => {
  const original = '{\n  "debug": true\n}\n';
  it('refuses with a diff and a --force hint, and leaves the file alone', async () => {
    await writeFile(file, original);
    await add('https://mirror.example');
    const edited = (await readFile(file, 'utf8')).replace('"debug": true', '"debug": false');
    await writeFile(file, edited);
    const before = (await new Journal(stateDir).entries()).length;

    const error = await rollback(opts()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DriftError);
    const drift = error as DriftError;
    expect(drift.code).toBe('DRIFT');
    const [entry] = await new Journal(stateDir).entries();
    expect(drift.message).toBe(`${file} changed since dockmirror last wrote it (mirror add, ${entry?.time}).`);
    expect(drift.location).toEqual({ file });
    expect(drift.details?.lastChange).toBe(entry?.id);
    expect(drift.hint).toBe('Rolling back would lose that edit. Check the diff; run again with --force to restore anyway.');
    expect(drift.details?.diff).toContain('-  "debug": true,');
    expect(drift.details?.diff).toContain('+  "debug": false,');
    expect(await readFile(file, 'utf8')).toBe(edited);
    expect((await new Journal(stateDir).entries()).length).toBe(before);

    await rollback(opts({ force: true }));
    expect(await readFile(file, 'utf8')).toBe(original);
  });

  it('--dry-run shows the diff and writes nothing', async () => {
    await writeFile(file, original);
    await add('https://mirror.example');
    const postAdd = await readFile(file);
    const journalBefore = await readFile(path.join(stateDir, 'journal.jsonl'));
    const result = await rollback(opts({ dryRun: true }));
    expect(result).toMatchObject({ dryRun: true, changed: true, backup: null });
    expect(result.diff).toContain('-  "registry-mirrors": [');
    expect((await readFile(file)).equals(postAdd)).toBe(true);
    expect((await readFile(path.join(stateDir, 'journal.jsonl'))).equals(journalBefore)).toBe(true);
  });
});

describe('backups', () => {
  it('keep the mode of the file they copy, and the restore keeps it too', async () => {
    await writeFile(file, '{}\n');
    await chmod(file, 0o640);
    const added = await add('https://mirror.example');
    expect((await stat(path.join(stateDir, 'backups', `${added.backup}.bak`))).mode & 0o777).toBe(0o640);
    await rollback(opts());
    expect((await stat(file)).mode & 0o777).toBe(0o640);
  });

  it('are listed newest first with id, time, op and file', async () => {
    await writeFile(file, '{}\n');
    const ids = [];
    for (const m of ['https://a.example', 'https://b.example', 'https://c.example']) ids.push((await add(m)).backup);
    const { backups } = await listBackups(opts());
    expect(backups.map((b) => b.id)).toEqual(ids.reverse());
    expect(backups[0]).toMatchObject({ op: 'mirror add', file, args: { mirror: 'https://c.example' }, existed: true });
    expect(Date.parse(backups[0]!.time)).toBeGreaterThanOrEqual(Date.parse(backups[2]!.time));
  });

  it('keeps the last 20 by default, keepBackups or DOCKMIRROR_KEEP_BACKUPS otherwise', async () => {
    await writeFile(file, '{}\n');
    for (let i = 0; i < 23; i++) await add(`https://m${i}.example`);
    expect((await listBackups(opts())).backups).toHaveLength(20);
    expect(await readdir(path.join(stateDir, 'backups'))).toHaveLength(20);
    await add('https://n0.example', { keepBackups: 3 });
    expect((await listBackups(opts())).backups).toHaveLength(3);
    await addMirror({ ...opts(), env: { DOCKMIRROR_KEEP_BACKUPS: '2' }, mirror: 'https://n1.example' });
    expect((await listBackups(opts())).backups).toHaveLength(2);
    expect(await readdir(path.join(stateDir, 'backups'))).toHaveLength(2);
  });

  it('never prunes the backup the next rollback needs (keep = 1)', async () => {
    await writeFile(file, '{}\n');
    await add('https://a.example', { keepBackups: 1 });
    const afterA = await readFile(file);
    await add('https://b.example', { keepBackups: 1 });
    const afterB = await readFile(file);
    expect((await listBackups(opts())).backups).toHaveLength(1);
    await rollback(opts({ keepBackups: 1 }));
    expect((await readFile(file)).equals(afterA)).toBe(true);
    await rollback(opts({ keepBackups: 1 }));
    expect((await readFile(file)).equals(afterB)).toBe(true);
  });
});

describe('mirror remove and ownership', () => {
  it('removes only the insecure entry dockmirror added, even after pruning', async () => {
    const original = '{\n  "insecure-registries": ["10.0.0.5:5000"]\n}\n';
    await writeFile(file, original);
    await add('http://10.0.0.5:5000', { keepBackups: 1 });
    await add('http://10.9.9.9:5000', { keepBackups: 1 });
    expect((await add('https://other.example', { keepBackups: 1 })).insecureRegistries).toEqual(['10.0.0.5:5000', '10.9.9.9:5000']);

    const a = await removeMirror(opts({ mirror: 'http://10.9.9.9:5000', keepBackups: 1 }));
    expect(a.insecureRegistries).toEqual(['10.0.0.5:5000']);
    const b = await removeMirror(opts({ mirror: 'http://10.0.0.5:5000', keepBackups: 1 }));
    expect(b.insecureRegistries).toEqual(['10.0.0.5:5000']);
    expect(b.mirrors).toEqual(['https://other.example']);
  });
});

async function tempFiles(): Promise<string[]> {
  const names = [...(await readdir(dir)), ...(await readdir(stateDir)), ...(await readdir(path.join(stateDir, 'backups')))];
  return names.filter((n) => /\.\d+$/.test(n) || n.includes('.stale-') || n.endsWith('.takeover'));
}
