// How an interrupted change is settled: by recover() on disk, and by settleInMemory() for a dry run, the same way.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Journal, hashBytes, newEntryId, settledStatus, type NewJournalEntry } from '../../src/state/journal.js';
import { daemonTimeoutMs } from '../../src/operations/options.js';

const OLD = Buffer.from('{}\n');
const NEW = Buffer.from('{"registry-mirrors": ["https://m.example"]}\n');
const EDIT = Buffer.from('{"debug": true}\n');
const state = (bytes: Buffer | undefined) => ({ exists: bytes !== undefined, sha256: hashBytes(bytes) });

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp('/tmp/dm-settle-');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('settledStatus', () => {
  const change = { before: state(OLD), after: state(NEW) };
  it.each([
    ['the new bytes', NEW, 'committed'],
    ['the old bytes', OLD, 'aborted'],
    ['an edit since (its undo needs the backup)', EDIT, 'committed'],
    ['no file where one was written', undefined, 'committed'],
  ] as const)('a change whose file now holds %s is %s', (_what, current, expected) => {
    expect(settledStatus(change, hashBytes(current))).toBe(expected);
  });

  it('a change that wrote the bytes it found (apply) is always aborted: nothing to undo', () => {
    const same = { before: state(OLD), after: state(OLD) };
    for (const current of [OLD, NEW, undefined]) expect(settledStatus(same, hashBytes(current))).toBe('aborted');
    // A file created where none was is a change, even though "before" had no bytes.
    expect(settledStatus({ before: state(undefined), after: state(OLD) }, hashBytes(OLD))).toBe('committed');
    expect(settledStatus({ before: state(undefined), after: state(undefined) }, null)).toBe('aborted');
  });
});

describe('settleInMemory', () => {
  it('reads a pending entry as recover() will settle it, and writes nothing', async () => {
    const stateDir = join(dir, 'a');
    const file = join(dir, 'daemon.json');
    await writeFile(file, NEW);
    const entry: NewJournalEntry = {
      id: newEntryId(),
      op: 'mirror add',
      args: {},
      time: new Date().toISOString(),
      files: [{ file, before: state(OLD), after: state(NEW) }],
      ownedBefore: [],
      owned: [],
    };
    await new Journal(stateDir).begin(entry, [OLD]);
    expect(await new Journal(stateDir).committed(file)).toEqual([]);
    const dry = new Journal(stateDir);
    dry.settleInMemory(new Map([[file, NEW]]));
    expect((await dry.committed(file)).map((e) => e.id)).toEqual([entry.id]);
    const asOld = new Journal(stateDir);
    asOld.settleInMemory(new Map([[file, OLD]]));
    expect((await asOld.entries()).map((e) => e.status)).toEqual(['aborted']);
    // On disk it is still pending; recover() settles it the same way.
    expect((await new Journal(stateDir).entries()).map((e) => e.status)).toEqual(['pending']);
    const real = new Journal(stateDir);
    await real.recover(async () => NEW);
    expect((await real.committed(file)).map((e) => e.id)).toEqual([entry.id]);
  });
});

describe('daemonTimeoutMs', () => {
  it('defaults to 60 s, and keeps any value within 1 ms and an hour', () => {
    expect(daemonTimeoutMs({})).toBe(60_000);
    expect(daemonTimeoutMs({ timeoutMs: Number.NaN })).toBe(60_000);
    expect(daemonTimeoutMs({ timeoutMs: 0 })).toBe(1);
    expect(daemonTimeoutMs({ timeoutMs: 1500.4 })).toBe(1500);
    expect(daemonTimeoutMs({ timeoutMs: 3_600_000 })).toBe(3_600_000);
    expect(daemonTimeoutMs({ timeoutMs: Number.POSITIVE_INFINITY })).toBe(3_600_000);
  });
});
