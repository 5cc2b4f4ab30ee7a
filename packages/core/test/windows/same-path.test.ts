// Paths compared as each platform's file system compares them (support/same-path.ts), and the journal matching
// one file to another through them. The real NTFS behaviour is tested under Wine (wine-core, windows-cli).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caseInsensitivePaths, pathKey, samePath } from '../../src/support/same-path.js';
import { pipeErrorKind } from '../../src/daemon/pipe-errors.js';
import { fsError, permissionHint } from '../../src/support/fs-errors.js';
import { isolated } from '../support/hermetic.js';

describe('samePath', () => {
  it('Windows: case, separators and dot segments do not matter; the name does', () => {
    expect(samePath('C:\\CI\\Daemon.json', 'c:\\ci\\daemon.json', 'win32')).toBe(true);
    expect(samePath('C:/CI/./x/../Daemon.json', 'c:\\ci\\DAEMON.JSON', 'win32')).toBe(true);
    expect(samePath('C:\\Users\\Zoë\\daemon.json', 'C:\\USERS\\ZOË\\DAEMON.JSON', 'win32')).toBe(true);
    expect(samePath('C:\\CI\\daemon.json', 'D:\\CI\\daemon.json', 'win32')).toBe(false);
    expect(samePath('C:\\CI\\daemon.json', 'C:\\CI\\daemon.json.bak', 'win32')).toBe(false);
  });

  it('macOS: case and Unicode normalisation do not matter (the default APFS volume)', () => {
    expect(samePath('/Users/ada/.docker/Daemon.json', '/users/ADA/.docker/daemon.json', 'darwin')).toBe(true);
    expect(samePath('/Users/Zoe\u0308/daemon.json', '/Users/Zo\u00eb/daemon.json', 'darwin')).toBe(true);
  });

  it('Linux compares bytes (after normalising the path)', () => {
    expect(samePath('/etc/docker/daemon.json', '/etc/docker/Daemon.json', 'linux')).toBe(false);
    expect(samePath('/etc/docker/./daemon.json', '/etc/docker/daemon.json', 'linux')).toBe(true);
    expect(caseInsensitivePaths('linux')).toBe(false);
    expect(caseInsensitivePaths('win32')).toBe(true);
  });

  it('a letter whose capital is longer is left alone, as NTFS does (ß is not SS)', () => {
    expect(samePath('C:\\straße', 'C:\\STRASSE', 'win32')).toBe(false);
    expect(pathKey('C:\\straße', 'win32')).toBe('C:\\STRAßE');
  });

  it('property: a key is stable, and any re-casing of a Windows path names the same file', () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9 _.éÉüÜ-]{1,12}$/).filter((s) => s !== '.' && s !== '..');
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 5 }), fc.array(fc.boolean(), { minLength: 60, maxLength: 60 }), (parts, flips) => {
        const p = `C:\\${parts.join('\\')}`;
        const recased = [...p].map((c, i) => (flips[i % flips.length] ? c.toUpperCase() : c.toLowerCase())).join('');
        expect(pathKey(pathKey(p, 'win32'), 'win32')).toBe(pathKey(p, 'win32'));
        expect(samePath(p, recased, 'win32')).toBe(true);
        expect(samePath(recased, p, 'win32')).toBe(true);
      }),
    );
  });
});

describe('the journal matches a file whatever its spelling, on this platform', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dm-samepath-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('on Linux Daemon.json and daemon.json are two files with two histories', async () => {
    const { Journal } = await import('../../src/state/journal.js');
    const { addMirror } = await import('../../src/index.js');
    const file = path.join(dir, 'daemon.json');
    const state = path.join(dir, 'state');
    await writeFile(file, '{}\n');
    await addMirror({ ...isolated(dir), mirror: 'https://mirror.gcr.io', apply: 'none', configFile: file, stateDir: state });
    const journal = new Journal(state);
    expect(await journal.committed(file)).toHaveLength(1);
    expect(await journal.committed(path.join(dir, '.', 'daemon.json'))).toHaveLength(1);
    expect(await journal.committed(path.join(dir, 'Daemon.json'))).toEqual([]);
  });
});

describe('named-pipe errors', () => {
  it('access denied and busy are told apart, only on a pipe', () => {
    expect(pipeErrorKind('npipe:////./pipe/docker_engine', 'EPERM')).toBe('denied');
    expect(pipeErrorKind('npipe:////./pipe/docker_engine', 'EACCES')).toBe('denied');
    expect(pipeErrorKind('npipe:////./pipe/dockerDesktopLinuxEngine', 'EBUSY')).toBe('busy');
    expect(pipeErrorKind('npipe:////./pipe/docker_engine', 'ENOENT')).toBeUndefined();
    expect(pipeErrorKind('unix:///var/run/docker.sock', 'EACCES')).toBeUndefined();
  });
});

describe('hints that fit the platform', () => {
  it('Windows: an elevated prompt, never sudo; elsewhere sudo', () => {
    const denied = Object.assign(new Error('denied'), { code: 'EPERM' });
    expect(fsError(denied, 'C:\\ProgramData\\docker\\config\\daemon.json', 'write', 'win32').hint).toContain('elevated prompt');
    expect(fsError(denied, 'C:\\ProgramData\\docker\\config\\daemon.json', 'write', 'win32').hint).not.toContain('sudo');
    expect(fsError(denied, '/etc/docker/daemon.json', 'write', 'linux').hint).toContain('sudo');
    expect(permissionHint('C:\\ProgramData\\docker\\config\\daemon.json', { platform: 'win32' })).toContain('Run as administrator');
  });

  it('a busy file is a permission error naming what holds it, on either platform', () => {
    const busy = Object.assign(new Error('busy'), { code: 'EBUSY' });
    expect(fsError(busy, 'C:\\x\\daemon.json', 'read', 'win32')).toMatchObject({ code: 'PERMISSION', details: { errno: 'EBUSY' } });
    expect(fsError(busy, '/x/daemon.json', 'read', 'linux').hint).toContain('fuser or lsof');
  });
});
