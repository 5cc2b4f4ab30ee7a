/**
 * In-process tests of the guarantees behind every write: the checked atomic write,
 * the race check before the rename, and the journal's refusal to believe a malformed record. They run against
 * the source, so a change that breaks one of these checks fails here without a rebuild.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readDaemonConfig, writeConfigFile } from '../../src/config/io.js';
import { DockmirrorError } from '../../src/errors.js';
import { addMirror } from '../../src/operations/mirrors.js';
import { runChange } from '../../src/change/pipeline.js';
import type { DaemonConfigDocument } from '../../src/config/document.js';
import { dockerRequest } from '../support/change.js';
import { Journal, isEntryId, newEntryId } from '../../src/state/journal.js';
import { writeAtomic } from '../../src/support/atomic-write.js';
import { isolated } from '../support/hermetic.js';
import { mountTinyDisk } from '../support/tiny-disk.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-integrity-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(DockmirrorError);
  return (error as DockmirrorError).code;
}

describe('writeAtomic on a full disk', () => {
  let disk: string;
  let unmount: () => Promise<void>;
  beforeAll(async () => {
    ({ dir: disk, unmount } = await mountTinyDisk());
  });
  afterAll(() => unmount());

  it('throws WRITE_FAILED, keeps the target, and leaves no temp file', async () => {
    const target = path.join(disk, 'daemon.json');
    await writeFile(target, 'old bytes');
    expect(await codeOf(writeAtomic(target, Buffer.alloc(100_000, 'x'), { mode: 0o644 }))).toBe('WRITE_FAILED');
    expect(await readFile(target, 'utf8')).toBe('old bytes');
    expect(await readdir(disk)).toEqual(['daemon.json']);
  });

  it('a throwing beforeRename cancels the write and removes the temp file', async () => {
    const target = path.join(dir, 'f');
    await writeFile(target, 'old');
    const refusal = new DockmirrorError('DRIFT', 'changed');
    await expect(writeAtomic(target, Buffer.from('new'), { mode: 0o600, beforeRename: () => Promise.reject(refusal) })).rejects.toBe(refusal);
    expect(await readFile(target, 'utf8')).toBe('old');
    expect(await readdir(dir)).toEqual(['f']);
  });
});

describe('the race check before the rename', () => {
  it('an edit made while the change is being planned is kept, and the change refused with DRIFT', async () => {
    const file = path.join(dir, 'daemon.json');
    const stateDir = path.join(dir, 'state');
    await writeFile(file, '{"debug": false}\n');
    const racer = '{"debug": true, "data-root": "/srv"}\n';
    const change = runChange(await dockerRequest({ configFile: file, stateDir, apply: 'none', ...isolated(dir) }), async ({ files }) => {
      const doc = files.get(file)?.doc as DaemonConfigDocument;
      await writeFile(file, racer);
      return { writes: [{ file, bytes: Buffer.from(`${doc.text.trimEnd().slice(0, -1)}, "registry-mirrors": ["https://m.example"]}\n`) }], owned: [], newMirrors: [], warnings: [] };
    });
    const error = (await change.then(() => undefined, (e: unknown) => e)) as DockmirrorError;
    expect(error.code).toBe('DRIFT');
    expect(error.details?.raced).toBe(true);
    expect(await readFile(file, 'utf8')).toBe(racer);
    // The refused change is settled: the next change goes through on the racer's content.
    await addMirror({ mirror: 'https://m.example', configFile: file, stateDir, apply: 'none', ...isolated(dir) });
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ debug: true, 'data-root': '/srv', 'registry-mirrors': ['https://m.example'] });
  });

  it('a file created since it was read as missing is not overwritten, and one removed since is not recreated', async () => {
    const file = path.join(dir, 'daemon.json');
    const missing = await readDaemonConfig(file);
    await writeFile(file, '{"theirs": 1}\n');
    expect(await codeOf(writeConfigFile(file, Buffer.from('{}\n'), { expect: missing }))).toBe('DRIFT');
    expect(await readFile(file, 'utf8')).toBe('{"theirs": 1}\n');
    const present = await readDaemonConfig(file);
    await rm(file);
    expect(await codeOf(writeConfigFile(file, Buffer.from('{}\n'), { expect: present }))).toBe('DRIFT');
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('journal records', () => {
  it('ids have exactly the form dockmirror makes', () => {
    expect(isEntryId(newEntryId())).toBe(true);
    for (const bad of ['../x', '20261126T161143123Z-a1b2c3/..', '20261126T161143123Z-A1B2C3', '', 7, null, '20261126T161143123Z-a1b2c3\n']) {
      expect(isEntryId(bad)).toBe(false);
    }
  });

  it('malformed records are skipped with a warning naming the line, and valid ones around them still count', async () => {
    const stateDir = path.join(dir, 'state');
    const file = path.join(dir, 'daemon.json');
    await writeFile(file, '{}\n');
    await addMirror({ mirror: 'https://m.example', configFile: file, stateDir, apply: 'none', ...isolated(dir) });
    const journalFile = path.join(stateDir, 'journal.jsonl');
    const good = await readFile(journalFile, 'utf8');
    const id = newEntryId();
    const bad = [
      'null',
      '[]',
      '{"type":"begin"}',
      JSON.stringify({ type: 'begin', entry: { id, op: 'x', args: {}, time: 't', file: 'relative.json', before: { exists: false, sha256: null }, after: { exists: false, sha256: null }, ownedBefore: [], owned: [] } }),
      JSON.stringify({ type: 'begin', entry: { id, op: 'x', args: {}, time: 't', file, before: { exists: true, sha256: 'zz' }, after: { exists: false, sha256: null }, ownedBefore: [], owned: [] } }),
      JSON.stringify({ type: 'commit', id: '../../etc/passwd' }),
      JSON.stringify({ type: 'abort', id }),
    ];
    await writeFile(journalFile, `${bad.join('\n')}\n${good}`);
    const journal = new Journal(stateDir);
    const entries = await journal.entries();
    expect(entries.map((e) => e.status)).toEqual(['committed']);
    expect(journal.warnings).toHaveLength(bad.length);
    expect(journal.warnings[5]).toContain('line 6');
  });
});
