// When telling the engine fails after the files were written, the pipeline puts every written file back (last
// written first), removes the folders the change made, tells the engine again, and says all of it in the error.
// Driven in-process through the pipeline's own source, with the two-file engine of the crash tests and an apply
// that fails in each of the ways an engine can.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChange } from '../../src/change/pipeline.js';
import type { EngineTarget, PreparedApply } from '../../src/engines/engine.js';
import { ApplyError, DaemonError, DockmirrorError, InterruptedError } from '../../src/errors.js';
import { Journal } from '../../src/state/journal.js';
import { withLock } from '../../src/state/lock.js';
import { createPatch } from 'diff';

const program = fileURLToPath(new URL('../support/two-file-engine.mjs', import.meta.url));
let twoFileTarget: (dir: string) => EngineTarget;
let root: string;
beforeAll(async () => {
  ({ twoFileTarget } = (await import(program)) as { twoFileTarget: (dir: string) => EngineTarget });
  root = await mkdtemp(path.join(tmpdir(), 'dm-restore-files-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

let n = 0;
/** A fresh folder whose a.json holds counter 1 (b/c.json does not exist yet), and its two-file target. */
async function fixture(): Promise<{ dir: string; a: string; c: string }> {
  const dir = path.join(root, String(n++));
  await mkdir(dir);
  await writeFile(path.join(dir, 'a.json'), '{"n":1}\n');
  return { dir, a: path.join(dir, 'a.json'), c: path.join(dir, 'b', 'c.json') };
}

/** One change of both files (or only a.json) through `runChange`, whose engine's apply is `prepared`. */
function change(dir: string, prepared: PreparedApply, files: 'both' | 'a' = 'both', options: { dryRun?: boolean; signal?: AbortSignal } = {}) {
  const target = { ...twoFileTarget(dir), prepare: async () => prepared } as EngineTarget;
  const request = { op: 'increment', args: {}, options: { apply: 'auto' as const, ...options }, targets: [target], registry: 'docker.io', stateDir: target.stateDir };
  return runChange(request, async () => ({
    writes: target.files('docker.io').slice(0, files === 'both' ? 2 : 1).map((file) => ({ file, bytes: Buffer.from('{"n":2}\n') })),
    owned: [],
    newMirrors: [],
    warnings: [],
    edit: false,
  }));
}

const failing = (error: Error, reapply?: PreparedApply['reapply']): PreparedApply => ({
  tellsEngine: true,
  apply: async () => {
    throw error;
  },
  ...(reapply ? { reapply } : {}),
});

async function failure(promise: Promise<unknown>): Promise<DockmirrorError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(DockmirrorError);
  return error as DockmirrorError;
}

describe('an apply that fails after both files were written', () => {
  it('puts both back, removes the folder the change made, tells the engine again, and says so', async () => {
    const { dir, a, c } = await fixture();
    const error = await failure(change(dir, failing(new ApplyError('the daemon refused the change.'), async () => ({ method: 'reload', reason: 'again' }))));
    expect(error.message).toBe(`the daemon refused the change. ${a}, ${c} were restored to their previous bytes, and the daemon is confirmed back on them.`);
    expect(error.details).toMatchObject({ restored: true, reapplied: { method: 'reload', reason: 'again' } });
    expect(await readFile(a, 'utf8')).toBe('{"n":1}\n');
    expect(existsSync(c)).toBe(false);
    expect(existsSync(path.join(dir, 'b'))).toBe(false);
    // Restored, so the entry is aborted: nothing to roll back.
    expect((await new Journal(path.join(dir, 'state')).entries()).map((e) => e.status)).toEqual(['aborted']);
  });

  it('a daemon that refuses the old files too (no reload event) is said to be running on neither', async () => {
    const { dir } = await fixture();
    const refused = Object.assign(new DaemonError('no reload event'), { details: { reloadEvent: false, mismatch: 'the reload was not acted on' } });
    const error = await failure(change(dir, failing(new ApplyError('apply failed.'), async () => {
      throw refused;
    })));
    expect(error.message).toMatch(/were restored to their previous bytes, but the daemon refused to reload them too \(the reload was not acted on\): its log says why\.$/);
    expect(error.details).toMatchObject({ restored: true, reapplyFailed: 'the reload was not acted on' });
  });

  it('a daemon that cannot be told again is said so, with what to check', async () => {
    const { dir } = await fixture();
    const error = await failure(change(dir, failing(new ApplyError('apply failed.'), async () => {
      throw new Error('socket closed');
    })));
    expect(error.message).toMatch(/, but the daemon did not take them either \(socket closed\): check that Docker is running\.$/);
    expect(error.details).toMatchObject({ restored: true, reapplyFailed: 'socket closed' });
  });

  it('an engine that was not being told: the files are put back, and the message stays the engine\'s own', async () => {
    const { dir, a } = await fixture();
    const error = await failure(change(dir, { tellsEngine: false, apply: async () => {
      throw new ApplyError('the check failed.', { details: { step: 'check' } });
    } }));
    expect(error.message).toBe('the check failed.');
    expect(error.details).toEqual({ step: 'check', restored: true });
    expect(await readFile(a, 'utf8')).toBe('{"n":1}\n');
  });
});

describe('an apply that fails after one file was written', () => {
  it('says it in the singular', async () => {
    const { dir, a } = await fixture();
    const error = await failure(change(dir, failing(new ApplyError('refused.'), async () => ({ method: 'reload', reason: 'again' })), 'a'));
    expect(error.message).toBe(`refused. ${a} was restored to its previous bytes, and the daemon is confirmed back on them.`);
  });
});

/** An apply that fails after replacing the folder b/ by a file: b/c.json can then be neither removed nor written. */
const blockedRestore = (dir: string): PreparedApply => ({
  tellsEngine: true,
  apply: async () => {
    await rm(path.join(dir, 'b'), { recursive: true });
    await writeFile(path.join(dir, 'b'), 'in the way');
    throw new ApplyError('refused.');
  },
});

describe('when putting the files back fails too', () => {
  it('names the backup that holds the old bytes, keeps the entry for rollback, and restores the last written first', async () => {
    const { dir, a, c } = await fixture();
    const error = await failure(change(dir, blockedRestore(dir)));
    const journal = new Journal(path.join(dir, 'state'));
    const [entry] = await journal.entries();
    expect(error.message).toMatch(
      new RegExp(`^refused\\. Restoring ${a.replaceAll('.', '\\.')}, ${c.replaceAll('.', '\\.')} failed too \\(.+\\); its previous bytes are kept in ${journal.backupPath(entry?.id ?? '').replaceAll('.', '\\.')}: run \`dockmirror rollback\` once that is fixed\\.$`),
    );
    expect(error.details).toMatchObject({ restoreFailed: expect.any(String) });
    expect(error.details).not.toHaveProperty('restored');
    // b/c.json is put back first, and failed: a.json still holds the change, and the entry stays for rollback.
    expect(await readFile(a, 'utf8')).toBe('{"n":2}\n');
    expect(entry?.status).toBe('pending');
  });

  it('says the first file did not exist before when it did not', async () => {
    const dir = path.join(root, String(n++));
    await mkdir(dir);
    const error = await failure(change(dir, blockedRestore(dir)));
    expect(error.message).toMatch(/failed too \(.+\); it did not exist before: run `dockmirror rollback` once that is fixed\.$/);
  });
});

describe('an apply interrupted (Ctrl-C) after both files were written', () => {
  it('restores nothing, leaves the entry pending, and says what the files hold and what to run', async () => {
    const { dir, a, c } = await fixture();
    const error = await failure(change(dir, { tellsEngine: true, apply: async () => {
      throw new InterruptedError('Interrupted.');
    } }));
    const [entry] = await new Journal(path.join(dir, 'state')).entries();
    expect(error).toBeInstanceOf(InterruptedError);
    expect(error.message).toBe(
      `Interrupted: ${a}, ${c} hold the change (backup ${entry?.id}) and the daemon was not told. Run \`dockmirror apply\` to make the daemon load the file, or \`dockmirror rollback\` to undo it.`,
    );
    expect(error.details).toEqual({ file: a, files: [a, c], written: true, backup: entry?.id });
    expect(entry?.status).toBe('pending');
    expect(await readFile(a, 'utf8')).toBe('{"n":2}\n');
    expect(await readFile(c, 'utf8')).toBe('{"n":2}\n');
  });

  it('names what the daemon was told when the engine says so, in the singular for one file', async () => {
    const { dir, a } = await fixture();
    const error = await failure(change(dir, { tellsEngine: true, apply: async () => {
      throw new InterruptedError('Interrupted.', { details: { daemon: 'got SIGHUP' } });
    } }, 'a'));
    expect(error.message).toMatch(new RegExp(`^Interrupted: ${a.replaceAll('.', '\\.')} holds the change \\(backup [^)]+\\) and the daemon got SIGHUP\\. `));
  });
});

describe('a dry run of two files', () => {
  it('shows one diff per file, in order, tells no engine, and writes nothing', async () => {
    const { dir, a, c } = await fixture();
    let prepared = false;
    const result = await change(dir, { tellsEngine: true, apply: async () => {
      prepared = true;
      return { method: 'reload', reason: 'told' };
    } }, 'both', { dryRun: true });
    expect(result.diff).toBe(createPatch(a, '{"n":1}\n', '{"n":2}\n', 'before', 'after') + createPatch(c, '', '{"n":2}\n', 'before', 'after'));
    expect(result.apply).toEqual({ method: 'none', reason: 'dry run' });
    expect(result).toMatchObject({ changed: true, dryRun: true, backup: null });
    expect(prepared).toBe(false);
    expect(await readFile(a, 'utf8')).toBe('{"n":1}\n');
    expect(existsSync(path.join(dir, 'b'))).toBe(false);
    expect(existsSync(path.join(dir, 'state'))).toBe(false);
  });
});

describe('a change that changes nothing', () => {
  it('writes nothing, journals nothing, and tells no engine', async () => {
    const { dir, a } = await fixture();
    await writeFile(path.join(dir, 'a.json'), '{"n":2}\n');
    await mkdir(path.join(dir, 'b'));
    await writeFile(path.join(dir, 'b', 'c.json'), '{"n":2}\n');
    let told = false;
    const result = await change(dir, { tellsEngine: true, apply: async () => {
      told = true;
      return { method: 'reload', reason: 'told' };
    } });
    expect(result).toMatchObject({ changed: false, backup: null, apply: { method: 'none', reason: 'nothing changed' } });
    expect(result.engines.map((e) => e.apply)).toEqual([{ method: 'none', reason: 'nothing changed' }]);
    expect(told).toBe(false);
    expect(await new Journal(path.join(dir, 'state')).entries()).toEqual([]);
    expect(await readFile(a, 'utf8')).toBe('{"n":2}\n');
  });
});

describe('waiting for another dockmirror', () => {
  it('Ctrl-C during the wait for the lock stops at once, having written nothing', async () => {
    const { dir, a } = await fixture();
    let release: () => void = () => undefined;
    let taken: () => void = () => undefined;
    const lockTaken = new Promise<void>((resolve) => (taken = resolve));
    // Another dockmirror holds the lock (this process: a live pid, so it is waited for, not taken over).
    const held = withLock(path.join(dir, 'state'), () => new Promise<void>((resolve) => {
      release = resolve;
      taken();
    }));
    await lockTaken;
    const controller = new AbortController();
    const waiting = change(dir, { tellsEngine: false, apply: async () => ({ method: 'none', reason: 'x' }) }, 'both', { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const error = await failure(waiting);
    expect(error).toBeInstanceOf(InterruptedError);
    expect(error.message).toBe('Interrupted; nothing was written.');
    expect(await readFile(a, 'utf8')).toBe('{"n":1}\n');
    release();
    await held;
  });
});

describe('a change the engine takes', () => {
  it('is committed under its backup id, with each engine\'s report', async () => {
    const { dir, a, c } = await fixture();
    const result = await change(dir, { tellsEngine: true, apply: async () => ({ method: 'reload', reason: 'told' }) });
    const [entry] = await new Journal(path.join(dir, 'state')).entries();
    expect(result).toMatchObject({ changed: true, dryRun: false, backup: entry?.id, apply: { method: 'reload', reason: 'told' } });
    expect(result.engines).toEqual([expect.objectContaining({ files: [a, c], apply: { method: 'reload', reason: 'told' } })]);
    expect(entry?.status).toBe('committed');
  });

  it('a plan that writes a file it never read is a bug, caught before anything is written', async () => {
    const { dir, a } = await fixture();
    const target = twoFileTarget(dir);
    const stray = path.join(dir, 'stray.json');
    const request = { op: 'increment', args: {}, options: { apply: 'none' as const }, targets: [target], registry: 'docker.io', stateDir: target.stateDir };
    const run = runChange(request, async () => ({ writes: [{ file: stray, bytes: Buffer.from('{}') }], owned: [], newMirrors: [], warnings: [], edit: false }));
    await expect(run).rejects.toThrow(`the change plans a write to ${stray}, which it did not read`);
    expect(existsSync(stray)).toBe(false);
    expect(await readFile(a, 'utf8')).toBe('{"n":1}\n');
  });
});
