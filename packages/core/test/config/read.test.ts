import { execFileSync } from 'node:child_process';
import { chmod, chown, lstat, mkdir, readFile, readdir, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readDaemonConfig } from '../../src/config/io.js';
import { InvalidConfigError, PermissionDeniedError } from '../../src/errors.js';
import { addMirror, listMirrors, removeMirror } from '../../src/operations/mirrors.js';
import { tempDir } from './preserve.js';
import { isolated } from '../support/hermetic.js';

let dir: string;
let done: () => Promise<void>;
let file: string;
let stateDir: string;
beforeEach(async () => {
  ({ dir, done } = await tempDir('dm-read-'));
  file = path.join(dir, 'daemon.json');
  stateDir = path.join(dir, 'state');
});
afterEach(() => done());

const opts = (configFile = file) => ({ ...isolated(dir), configFile, stateDir, apply: 'none' as const });

/** [name, file bytes, line, column, what the message says] */
const refusals: Array<[string, string | Buffer, number, number, RegExp]> = [
  ['a // comment', '{\n  // mirrors below\n  "debug": true\n}\n', 2, 3, /comments are not allowed/],
  ['a /* */ comment', '{\n  "debug": true /* on */\n}\n', 2, 17, /comments are not allowed/],
  ['a comment after the object', '{"debug": true}\n// end\n', 2, 1, /comments are not allowed/],
  ['a trailing comma in an object', '{\n  "debug": true,\n}\n', 3, 1, /trailing comma/],
  ['a trailing comma in an array', '{\n  "registry-mirrors": [\n    "https://a.example",\n  ]\n}\n', 4, 3, /trailing comma/],
  ['a trailing comma, CRLF', '{\r\n  "a": 1,\r\n  "b": [1,]\r\n}\r\n', 3, 11, /trailing comma/],
  ['a duplicate key', '{\n  "debug": true,\n  "debug": false\n}\n', 3, 3, /duplicate key "debug"/],
  ['a duplicate mirror key', '{"registry-mirrors": [], "registry-mirrors": ["https://a.example"]}', 1, 26, /duplicate key "registry-mirrors"/],
  ['a nested duplicate key', '{\n  "log-opts": {\n    "max-size": "10m",\n    "max-size": "20m"\n  }\n}\n', 4, 5, /duplicate key "max-size"/],
  ['a duplicate key in an array of objects', '{"default-address-pools": [{"base": "10.0.0.0/8", "size": 24, "size": 16}]}', 1, 63, /duplicate key "size"/],
  ['a duplicate key spelled with an escape', '{\n  "abc": 1,\n  "\\u0061bc": 2\n}', 3, 3, /duplicate key "abc"/],
  ['a root array', '[\n  "https://a.example"\n]\n', 1, 1, /top level must be a JSON object/],
  ['a root string', '  "https://a.example"\n', 1, 3, /top level must be a JSON object/],
  ['a root number', '\n42\n', 2, 1, /top level must be a JSON object/],
  ['a root null', 'null', 1, 1, /top level must be a JSON object/],
  ['registry-mirrors as a string', '{\n  "registry-mirrors": "https://a.example"\n}\n', 2, 23, /"registry-mirrors" must be an array of strings, not string/],
  ['registry-mirrors as an object', '{"registry-mirrors": {}}', 1, 22, /"registry-mirrors" must be an array of strings, not object/],
  ['registry-mirrors with a number', '{"registry-mirrors": ["https://a", 5]}', 1, 36, /"registry-mirrors" must contain only strings, found number/],
  ['registry-mirrors with a nested list', '{\n\t"registry-mirrors": [\n\t\t["https://a"]\n\t]\n}', 3, 3, /must contain only strings, found array/],
  ['insecure-registries as a string', '{\n  "insecure-registries": "10.0.0.0/8"\n}\n', 2, 26, /"insecure-registries" must be an array of strings, not string/],
  ['insecure-registries with null', '{"insecure-registries": ["a:5000", null]}', 1, 36, /"insecure-registries" must contain only strings, found null/],
  ['insecure-registries with an object', '{"insecure-registries": [{"host": "a"}]}', 1, 26, /"insecure-registries" must contain only strings, found object/],
  ['two values', '{}\n{}\n', 2, 1, /end of file expected/],
  ['single quotes', "{'debug': true}", 1, 2, /invalid JSON/],
  ['a raw tab in a string', '{"labels": ["a\tb"]}', 1, 13, /invalid JSON/],
  ['a bad escape', '{"labels": ["a\\xb"]}', 1, 13, /invalid JSON/],
  ['a leading zero', '{"max-concurrent-downloads": 03}', 1, 31, /invalid JSON/],
  ['invalid UTF-8', Buffer.concat([Buffer.from('{"labels": ["'), Buffer.from([0xc3, 0x28]), Buffer.from('"]}')]), 1, 14, /invalid UTF-8 at byte 13/],
  ['a 3-byte sequence broken in the middle', Buffer.concat([Buffer.from('{\n"a": "x'), Buffer.from([0xe2, 0x82, 0x28]), Buffer.from('"}')]), 2, 8, /invalid UTF-8 at byte 9/],
  ['invalid UTF-8 after a multi-byte character', Buffer.concat([Buffer.from('{\n  "a": "é'), Buffer.from([0xff]), Buffer.from('"\n}')]), 2, 10, /invalid UTF-8 at byte 12/],
  ['invalid UTF-8 after a BOM', Buffer.concat([Buffer.from('\uFEFF{"a": "'), Buffer.from([0xfe]), Buffer.from('"}')]), 1, 8, /invalid UTF-8 at byte 10/],
  ['UTF-8 cut off at the end', Buffer.concat([Buffer.from('{}\n'), Buffer.from([0xe2, 0x82])]), 2, 1, /invalid UTF-8 at byte 3/],
  ['UTF-16', Buffer.from('\uFEFF{"a": 1}', 'utf16le'), 1, 1, /invalid UTF-8 at byte 0/],
];

describe('refusals name the file, line and column, and write nothing', () => {
  it.each(refusals)('%s', async (_name, content, line, column, message) => {
    const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
    await writeFile(file, bytes, { mode: 0o640 });
    const error = await addMirror({ ...opts(), mirror: 'http://127.0.0.1:5000' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidConfigError);
    const e = error as InvalidConfigError;
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.location).toEqual({ file, line, column });
    expect(e.message).toContain(`${file}:${line}:${column}: `);
    expect(e.message).toMatch(message);
    expect(e.hint).toBeTruthy();
    expect((await readFile(file)).equals(bytes)).toBe(true);
    expect((await stat(file)).mode & 0o777).toBe(0o640);
    expect(await readdir(dir)).toEqual(expect.not.arrayContaining([expect.stringMatching(/^daemon\.json\./)]));
    // The other entry points refuse the same way.
    await expect(removeMirror({ ...opts(), mirror: 'http://127.0.0.1:5000' })).rejects.toMatchObject({ code: 'INVALID_CONFIG', location: { file, line, column } });
    await expect(listMirrors(opts())).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
    await expect(addMirror({ ...opts(), mirror: 'https://a.example', dryRun: true })).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
    expect((await readFile(file)).equals(bytes)).toBe(true);
  });
});

describe('files that are not files', () => {
  it('a directory is refused', async () => {
    await mkdir(file);
    const error = await addMirror({ ...opts(), mirror: 'https://a.example' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect((error as InvalidConfigError).location).toEqual({ file });
    expect((error as Error).message).toContain(`${file} is not a regular file`);
    expect(await readdir(file)).toEqual([]);
  });

  it('a FIFO is refused without blocking on it', async () => {
    execFileSync('mkfifo', [file]);
    const error = await addMirror({ ...opts(), mirror: 'https://a.example' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect((error as Error).message).toContain('is not a regular file');
    await expect(listMirrors(opts())).rejects.toBeInstanceOf(InvalidConfigError);
    expect((await lstat(file)).isFIFO()).toBe(true);
  }, 5_000);
});

describe('missing and blank files', () => {
  it('a missing file reads as {} and add creates it and its folders', async () => {
    const deep = path.join(dir, 'etc', 'docker', 'daemon.json');
    expect(await listMirrors(opts(deep))).toMatchObject({ exists: false, mirrors: [], insecureRegistries: [] });
    const result = await addMirror({ ...opts(deep), mirror: 'https://a.example' });
    expect(result.changed).toBe(true);
    expect(await readFile(deep, 'utf8')).toBe('{\n  "registry-mirrors": [\n    "https://a.example"\n  ]\n}\n');
    expect((await stat(deep)).mode & 0o777).toBe(0o644);
    expect((await stat(path.dirname(deep))).mode & 0o777).toBe(0o755);
  });

  it.each([
    ['empty', ''],
    ['whitespace', ' \n\t\r\n'],
    ['BOM only', '\uFEFF'],
  ])('a %s file reads as {}', async (_name, text) => {
    await writeFile(file, text);
    const doc = await readDaemonConfig(file);
    expect(doc).toMatchObject({ exists: true, mirrors: undefined, insecureRegistries: undefined });
  });

  it('a file with a BOM is read', async () => {
    await writeFile(file, '\uFEFF{"registry-mirrors": ["https://a.example"]}');
    expect((await listMirrors(opts())).mirrors).toEqual(['https://a.example']);
  });
});

describe('how the file is written', () => {
  it('a symlinked daemon.json has its target written and stays a link', async () => {
    await mkdir(path.join(dir, 'real'));
    const target = path.join(dir, 'real', 'daemon.json');
    await writeFile(target, '{"debug": true}\n', { mode: 0o600 });
    await symlink('real/daemon.json', file);
    await addMirror({ ...opts(), mirror: 'https://a.example' });
    expect((await lstat(file)).isSymbolicLink()).toBe(true);
    expect(await readlink(file)).toBe('real/daemon.json');
    expect(await readFile(target, 'utf8')).toBe('{"debug": true,"registry-mirrors": ["https://a.example"]}\n');
    expect((await stat(target)).mode & 0o777).toBe(0o600);
    expect(await readdir(path.join(dir, 'real'))).toEqual(['daemon.json']);
  });

  it('a dangling symlink gets its target created', async () => {
    await symlink(path.join(dir, 'later', 'daemon.json'), file);
    await addMirror({ ...opts(), mirror: 'https://a.example' });
    expect((await lstat(file)).isSymbolicLink()).toBe(true);
    expect(JSON.parse(await readFile(path.join(dir, 'later', 'daemon.json'), 'utf8'))).toEqual({ 'registry-mirrors': ['https://a.example'] });
  });

  it('keeps the file mode and owner', async () => {
    await writeFile(file, '{}\n');
    await chmod(file, 0o600);
    await chown(file, 4242, 4343);
    await addMirror({ ...opts(), mirror: 'https://a.example' });
    const info = await stat(file);
    expect(info.mode & 0o7777).toBe(0o600);
    expect([info.uid, info.gid]).toEqual([4242, 4343]);
    await chmod(file, 0o640);
    await removeMirror({ ...opts(), mirror: 'https://a.example' });
    expect((await stat(file)).mode & 0o7777).toBe(0o640);
  });

  it('an immutable file (EPERM) is a PermissionDeniedError and stays as it was', async () => {
    const bytes = Buffer.from('{\n  "debug": true\n}\n');
    await writeFile(file, bytes);
    execFileSync('chattr', ['+i', file]);
    try {
      const error = await addMirror({ ...opts(), mirror: 'https://a.example' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermissionDeniedError);
      const e = error as PermissionDeniedError;
      expect(e.code).toBe('PERMISSION');
      expect(e.message).toContain(file);
      expect(e.location).toEqual({ file });
      expect(e.details).toMatchObject({ errno: 'EPERM' });
      expect(e.hint).toMatch(/sudo/);
      expect((await readFile(file)).equals(bytes)).toBe(true);
      expect(await readdir(dir)).toEqual(expect.not.arrayContaining([expect.stringMatching(/^daemon\.json\./)]));
      // Nothing is left claiming the change happened.
      expect((await listMirrors(opts())).mirrors).toEqual([]);
    } finally {
      execFileSync('chattr', ['-i', file]);
    }
  });

  it('an immutable folder (the temp file cannot be made) is a PermissionDeniedError too', async () => {
    const folder = path.join(dir, 'etc-docker');
    const inside = path.join(folder, 'daemon.json');
    await mkdir(folder);
    await writeFile(inside, '{}\n');
    execFileSync('chattr', ['+i', folder]);
    try {
      await expect(addMirror({ ...opts(inside), mirror: 'https://a.example' })).rejects.toMatchObject({ code: 'PERMISSION', location: { file: inside } });
      expect(await readdir(folder)).toEqual(['daemon.json']);
      expect(await readFile(inside, 'utf8')).toBe('{}\n');
    } finally {
      execFileSync('chattr', ['-i', folder]);
    }
  });

  it('a failed write records no ownership: an insecure entry the user adds later stays theirs', async () => {
    await writeFile(file, '{}\n');
    execFileSync('chattr', ['+i', file]);
    try {
      await expect(addMirror({ ...opts(), mirror: 'http://reg.example:5000' })).rejects.toBeInstanceOf(PermissionDeniedError);
    } finally {
      execFileSync('chattr', ['-i', file]);
    }
    await writeFile(file, '{"registry-mirrors": ["http://reg.example:5000"], "insecure-registries": ["reg.example:5000"]}');
    expect((await listMirrors(opts())).ownedInsecureRegistries).toEqual([]);
    await removeMirror({ ...opts(), mirror: 'http://reg.example:5000' });
    expect(await readFile(file, 'utf8')).toBe('{"registry-mirrors": [], "insecure-registries": ["reg.example:5000"]}');
  });
});
