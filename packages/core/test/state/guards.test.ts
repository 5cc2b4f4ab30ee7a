// The guards of the change pipeline that no normal edit reaches: a daemon.json emptied behind dockmirror's back
// is never edited as {}, and an edit that would touch more than the mirror keys is never written.
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addMirror } from '../../src/operations/mirrors.js';
import { runChange } from '../../src/change/pipeline.js';
import { dockerRequest } from '../support/change.js';
import { Journal } from '../../src/state/journal.js';
import { isolated } from '../support/hermetic.js';

let dir: string;
let file: string;
let stateDir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-guards-'));
  file = path.join(dir, 'daemon.json');
  stateDir = path.join(dir, 'state');
});
afterEach(() => rm(dir, { recursive: true, force: true }));
const opts = () => ({ ...isolated(dir), configFile: file, stateDir, apply: 'none' as const });

/** Empties daemon.json as an editor's truncate would, long enough ago that it is not taken for a write in progress. */
async function emptyLongAgo(): Promise<void> {
  await writeFile(file, '');
  const past = new Date(Date.now() - 60_000);
  await utimes(file, past, past);
}

describe('an emptied daemon.json', () => {
  it('is refused with DRIFT when dockmirror last left it with content, and stays empty', async () => {
    await writeFile(file, '{\n  "debug": true\n}\n');
    await addMirror({ ...opts(), mirror: 'https://a.example' });
    await emptyLongAgo();
    const error = await addMirror({ ...opts(), mirror: 'https://b.example' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'DRIFT', location: { file }, details: { emptied: true } });
    expect((error as Error).message).toMatch(new RegExp(`^${file.replaceAll('.', '\\.')} is empty, but dockmirror last left it with content \\(mirror add, .+\\)`));
    // What to do next: wait for the other writer, get the content back, or say the emptiness is meant.
    expect((error as { hint?: string }).hint).toBe(
      'If another program is writing it, run again when it is done. To get the content back: dockmirror rollback --force. If you emptied it on purpose, delete the file (a missing file means no settings) and run again.',
    );
    expect(await readFile(file, 'utf8')).toBe('');
    expect((await new Journal(stateDir).entries()).map((e) => e.status)).toEqual(['committed']);
  });

  it('is edited as {} when dockmirror never wrote content there', async () => {
    await emptyLongAgo();
    await addMirror({ ...opts(), mirror: 'https://a.example' });
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ 'registry-mirrors': ['https://a.example'] });
  });
});

describe('a daemon.json caught mid-write (truncated, then written)', () => {
  it('is waited for: the edit keeps what the other writer wrote', async () => {
    await writeFile(file, '');
    // Another program truncated it a moment ago and writes its content 300 ms later (`cat > daemon.json`).
    const writer = new Promise<void>((resolve) => setTimeout(() => void writeFile(file, '{\n  "debug": true\n}\n').then(resolve), 300));
    await addMirror({ ...opts(), mirror: 'https://a.example' });
    await writer;
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ debug: true, 'registry-mirrors': ['https://a.example'] });
  });

  it('an empty file that stays empty is believed once it has settled, and edited as {}', async () => {
    await writeFile(file, '');
    await addMirror({ ...opts(), mirror: 'https://a.example' });
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ 'registry-mirrors': ['https://a.example'] });
  });

  it('an empty file with a time in the future is not waited for forever', async () => {
    await writeFile(file, '');
    const future = new Date(Date.now() + 3_600_000);
    await utimes(file, future, future);
    await addMirror({ ...opts(), mirror: 'https://a.example' });
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ 'registry-mirrors': ['https://a.example'] });
  });

  it('a file with only a BOM and blanks counts as empty: refused where dockmirror last left content', async () => {
    await writeFile(file, '{\n  "debug": true\n}\n');
    await addMirror({ ...opts(), mirror: 'https://a.example' });
    await writeFile(file, '\uFEFF \n');
    const past = new Date(Date.now() - 60_000);
    await utimes(file, past, past);
    await expect(addMirror({ ...opts(), mirror: 'https://b.example' })).rejects.toMatchObject({ code: 'DRIFT', details: { emptied: true } });
    expect(await readFile(file, 'utf8')).toBe('\uFEFF \n');
  });
});

describe('the last check before writing an edit', () => {
  it('refuses an edit that changes a key other than the mirror keys, writes nothing and journals nothing', async () => {
    const bytes = '{\n  "debug": true\n}\n';
    await writeFile(file, bytes);
    const change = runChange(await dockerRequest(opts()), async () => ({
      writes: [{ file, bytes: Buffer.from('{\n  "debug": false,\n  "registry-mirrors": ["https://m.example"]\n}\n') }],
      owned: [],
      newMirrors: ['https://m.example'],
      warnings: [],
      edit: true,
    }));
    await expect(change).rejects.toMatchObject({ code: 'UNEXPECTED', location: { file }, message: expect.stringMatching(/would have changed more than the mirror keys; nothing was written/) });
    expect(await readFile(file, 'utf8')).toBe(bytes);
    expect(await new Journal(stateDir).entries()).toEqual([]);
  });
});

describe('no daemon answering', () => {
  it('is no reason not to write: --apply auto writes and says the change takes effect when Docker starts', async () => {
    await writeFile(file, '{}\n');
    const result = await addMirror({ ...opts(), apply: 'auto', mirror: 'https://a.example' });
    expect(result.apply).toEqual({
      method: 'none',
      reason: `no Docker daemon answered at unix:///nonexistent/dockmirror-test.sock and no running dockerd reads ${file}; the change takes effect when Docker starts`,
    });
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ 'registry-mirrors': ['https://a.example'] });
  });

  it('but --apply reload refuses before writing, and says nothing was written', async () => {
    await writeFile(file, '{}\n');
    const error = await addMirror({ ...opts(), apply: 'reload', mirror: 'https://a.example' }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'DAEMON_UNREACHABLE',
      message: `No Docker daemon answers: no Docker daemon answered at unix:///nonexistent/dockmirror-test.sock and no running dockerd reads ${file}. Nothing was written.`,
      hint: 'Start Docker, or point --docker-host / DOCKER_HOST at the running daemon, or pass --apply none.',
    });
    expect(await readFile(file, 'utf8')).toBe('{}\n');
    expect(await new Journal(stateDir).entries()).toEqual([]);
  });
});

describe('an endpoint dockmirror cannot use', () => {
  it('is refused before writing, and the refusal says that nothing was written', async () => {
    await writeFile(file, '{}\n');
    for (const [dockerHost, why] of [
      ['ssh://build-host', 'uses a scheme dockmirror cannot speak'],
      ['tcp://', 'names no host'],
    ] as const) {
      const error = await addMirror({ ...opts(), apply: 'auto', dockerHost, mirror: 'https://a.example' }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'USAGE', message: `Docker endpoint "${dockerHost}" ${why}. Nothing was written.` });
    }
    expect(await readFile(file, 'utf8')).toBe('{}\n');
    expect(await new Journal(stateDir).entries()).toEqual([]);
  });
});

describe('a path mirror with --apply none', () => {
  it('is written when no running dockerd reads the file: there is no version to hold it against', async () => {
    await writeFile(file, '{}\n');
    const result = await addMirror({ ...opts(), mirror: 'https://m.example/prefix' });
    expect(result.apply).toEqual({ method: 'none', reason: '--apply none: the daemon was not told' });
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ 'registry-mirrors': ['https://m.example/prefix'] });
  });
});
