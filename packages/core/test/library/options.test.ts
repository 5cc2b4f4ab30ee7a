// The public functions called as plain JavaScript would call them: through the built package, with options a
// program got wrong. Each mistake is a UsageError naming the option, never a TypeError from deep inside, and
// nothing is written. `timeout` (seconds, as the README's "camelCase names of the CLI flags" says) and
// `timeoutMs` mean the same.
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as core from '@dockmirror/core';
import { isolated } from '../support/hermetic.js';

let dir = '';
let file = '';
const BYTES = '{ "debug": true }\n';
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-options-'));
  file = path.join(dir, 'daemon.json');
  await writeFile(file, BYTES);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Calls `run` as untyped JavaScript and returns the UsageError it must reject with. */
async function usageError(run: () => Promise<unknown>): Promise<core.DockmirrorError> {
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(core.UsageError);
  expect((error as core.DockmirrorError).code).toBe('USAGE');
  return error as core.DockmirrorError;
}

const js = core as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;

describe('options checked at the boundary', () => {
  it('addMirror without mirror: UsageError naming "mirror", file untouched', async () => {
    const error = await usageError(() => js.addMirror!({ ...isolated(dir), configFile: file, apply: 'none' }));
    expect(error.message).toBe('addMirror() needs the option "mirror".');
    expect(error.hint).toContain("addMirror({ mirror: 'https://mirror.gcr.io' })");
    expect(await readFile(file, 'utf8')).toBe(BYTES);
    expect(existsSync(path.join(dir, '.dockmirror'))).toBe(false);
  });

  it('removeMirror with no options at all, or a string for options', async () => {
    expect((await usageError(() => js.removeMirror!())).message).toBe('removeMirror() takes an options object, not undefined.');
    expect((await usageError(() => js.addMirror!('https://mirror.gcr.io'))).message).toBe('addMirror() takes an options object, not "https://mirror.gcr.io".');
  });

  it.each([
    ['addMirror', { mirror: 42 }, 'addMirror(): option "mirror" must be a string, not 42.'],
    ['addMirror', { mirror: 'gcr', apply: 'yes' }, 'addMirror(): option "apply" must be one of "auto", "reload", "restart", "none", not "yes".'],
    ['addMirror', { mirror: 'local', port: '5000' }, 'addMirror(): option "port" must be a whole number, 1 to 65535, not "5000".'],
    ['addMirror', { mirror: 'gcr', position: 'top' }, 'addMirror(): option "position" must be one of "first", "last", not "top".'],
    ['addMirror', { mirror: 'gcr', dryRun: 'true' }, 'addMirror(): option "dryRun" must be true or false, not "true".'],
    ['addMirror', { mirror: 'gcr', keepBackups: 0 }, 'addMirror(): option "keepBackups" must be a whole number, 1 or more, not 0.'],
    ['addMirror', { mirror: 'gcr', timeout: -1 }, 'addMirror(): option "timeout" must be a number above 0, not -1.'],
    ['addMirror', { mirror: 'gcr', signal: {} }, 'addMirror(): option "signal" must be an AbortSignal, not an object.'],
    ['rollback', { force: 1 }, 'rollback(): option "force" must be true or false, not 1.'],
    ['listMirrors', { configFile: ['a'] }, 'listMirrors(): option "configFile" must be a string, not an array.'],
    ['verifyMirror', { timeoutMs: Number.NaN }, 'verifyMirror(): option "timeoutMs" must be a number above 0, not NaN.'],
    ['getStatus', { env: 'PATH=/bin' }, 'getStatus(): option "env" must be an object, not "PATH=/bin".'],
    ['listBackups', { stateDir: 7 }, 'listBackups(): option "stateDir" must be a string, not 7.'],
  ])('%s(%j): %s', async (name, options, message) => {
    const error = await usageError(() => js[name]!({ ...isolated(dir), configFile: file, ...options }));
    expect(error.message).toBe(message);
    expect(await readFile(file, 'utf8')).toBe(BYTES);
  });

  it('timeout and timeoutMs that disagree are refused; agreeing ones are fine', async () => {
    const error = await usageError(() => js.addMirror!({ ...isolated(dir), configFile: file, mirror: 'gcr', apply: 'none', timeout: 2, timeoutMs: 5000 }));
    expect(error.message).toBe('addMirror(): "timeout" (2 s) and "timeoutMs" (5000 ms) disagree.');
    const dry = (await core.addMirror({ ...isolated(dir), configFile: file, mirror: 'gcr', dryRun: true, apply: 'none', timeout: 2, timeoutMs: 2000 })) as core.ChangeResult;
    expect(dry.changed).toBe(true);
    expect(await readFile(file, 'utf8')).toBe(BYTES);
  });

  it('resolveMirrorTarget and readDaemonConfig check their first argument', async () => {
    expect((await usageError(() => js.resolveMirrorTarget!(undefined))).message).toBe('resolveMirrorTarget() takes a mirror URL or preset name as a string, not undefined.');
    expect((await usageError(() => js.readDaemonConfig!(undefined))).message).toBe('readDaemonConfig() takes the path of daemon.json, not undefined.');
  });
});

describe('timeout in seconds, as the README and the CLI say it', () => {
  it('verifyMirror({ timeout: 0.3 }) bounds each probe as timeoutMs: 300 does', async () => {
    // A loopback server that accepts and never answers: only the timeout ends the probe, and the check names it.
    const server = net.createServer(() => {}).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const mirror = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
      const report = await core.verifyMirror({ ...isolated(dir), configFile: file, mirror, timeout: 0.3 });
      const api = report.results[0]!.checks.find((c) => c.name === 'api')!;
      expect(api.ok).toBe(false);
      expect(api.why).toMatch(/^no answer from 127\.0\.0\.1:\d+ within 300 ms$/);
    } finally {
      server.close();
    }
  });
});
