// config/io.ts on its own: the bounded, regular-files-only read, the lenient read a rollback relies on, and the
// write's race check and removal. The end-to-end paths through add and rollback are in read.test.ts.
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readFile, rename, stat, truncate, unlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  MAX_CONFIG_BYTES,
  parseDaemonConfigLeniently,
  readConfigBytes,
  readConfigFile,
  readDaemonConfig,
  readDaemonConfigLeniently,
  resolveWriteTarget,
  writeConfigFile,
} from '../../src/config/io.js';
import { DriftError, InvalidConfigError } from '../../src/errors.js';
import { tempDir } from './preserve.js';

let dir: string;
let done: () => Promise<void>;
let file: string;
beforeEach(async () => {
  ({ dir, done } = await tempDir('dm-io-'));
  file = path.join(dir, 'daemon.json');
});
afterEach(() => done());

const refusal = async (promise: Promise<unknown>): Promise<InvalidConfigError> => {
  const error = await promise.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(InvalidConfigError);
  return error as InvalidConfigError;
};

describe('reading a config file', () => {
  it('reads files far larger than any real daemon.json, up to 64 MiB', async () => {
    expect(MAX_CONFIG_BYTES).toBe(64 * 1024 * 1024);
    // 2 MiB of valid JSON: far past any limit counted in KiB.
    const big = `{"labels": [${Array.from({ length: 40_000 }, (_, i) => `"label-${i}=${'x'.repeat(40)}"`).join(',')}]}`;
    await writeFile(file, big);
    expect((await readConfigFile(file)).bytes.length).toBe(Buffer.byteLength(big));
    expect((await readDaemonConfig(file)).exists).toBe(true);
  });

  it('refuses a file over 64 MiB, naming the limit and what to do', async () => {
    await writeFile(file, '');
    await truncate(file, MAX_CONFIG_BYTES + 1);
    const error = await refusal(readConfigFile(file));
    expect(error.message).toBe(`${file} is larger than 64 MiB.`);
    expect(error.location).toEqual({ file });
    expect(error.hint).toBe('That is no daemon.json; point --config-file at the real one.');
  });

  it('refuses a directory and a FIFO as not regular files, with the hint to name the file itself', async () => {
    const folder = path.join(dir, 'folder.json');
    await mkdir(folder);
    const fifo = path.join(dir, 'fifo.json');
    execFileSync('mkfifo', [fifo]);
    for (const target of [folder, fifo]) {
      const error = await refusal(readConfigBytes(target));
      expect(error.message).toBe(`${target} is not a regular file.`);
      expect(error.location).toEqual({ file: target });
      expect(error.hint).toBe('Point --config-file at the daemon.json file itself.');
    }
  });

  it('reads a missing file as no bytes, and says it did not exist', async () => {
    expect(await readConfigBytes(file)).toBeUndefined();
    expect(await readConfigFile(file)).toEqual({ file, exists: false, bytes: Buffer.alloc(0) });
  });
});

describe('the lenient read a rollback uses', () => {
  it('returns a broken file as it is: its bytes and text, its BOM and line ends, and no mirror keys', async () => {
    const bytes = Buffer.from('\uFEFF{\r\n  "registry-mirrors": ["http://a:1",]\r\n}\r\n');
    await writeFile(file, bytes);
    const doc = await readDaemonConfigLeniently(file);
    expect(doc).toEqual({
      file,
      exists: true,
      bytes,
      text: '{\r\n  "registry-mirrors": ["http://a:1",]\r\n}\r\n',
      bom: true,
      eol: '\r\n',
      indent: { insertSpaces: true, tabSize: 2 },
      mirrors: undefined,
      insecureRegistries: undefined,
    });
  });

  it('keeps LF and no BOM for a broken file written that way, and a U+FEFF inside it as it is', async () => {
    const bytes = Buffer.from('{"debug": tru, "label": "a\uFEFFb"}\n');
    const doc = parseDaemonConfigLeniently({ file, exists: true, bytes });
    expect(doc).toMatchObject({ bom: false, eol: '\n', text: '{"debug": tru, "label": "a\uFEFFb"}\n', mirrors: undefined });
  });

  it('parses a valid file strictly, with its mirrors', async () => {
    const bytes = Buffer.from('{"registry-mirrors": ["http://a:1"]}');
    expect(parseDaemonConfigLeniently({ file, exists: true, bytes }).mirrors).toEqual(['http://a:1']);
  });

  it('reads a missing file as the strict read does: no bytes, no text', () => {
    expect(parseDaemonConfigLeniently({ file, exists: false, bytes: Buffer.alloc(0) })).toMatchObject({ exists: false, text: '' });
  });
});

describe('writing a config file', () => {
  it('removes the file for "did not exist", and a file already gone is no error', async () => {
    await writeFile(file, '{}');
    await writeConfigFile(file, undefined);
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(writeConfigFile(file, undefined)).resolves.toBeUndefined();
  });

  it('a removal that fails for another reason than ENOENT is an error, and the thing stays', async () => {
    await mkdir(file);
    await expect(writeConfigFile(file, undefined)).rejects.toMatchObject({ code: expect.any(String) });
    expect((await stat(file)).isDirectory()).toBe(true);
  });

  describe('refuses to overwrite an edit made since the read', () => {
    const planned = Buffer.from('{"registry-mirrors": ["http://m:1"]}\n');

    it('the same bytes written again since (a new inode)', async () => {
      await writeFile(file, '{}\n');
      const doc = await readDaemonConfig(file);
      await writeFile(`${file}.other`, '{}\n');
      await rename(`${file}.other`, file);
      await expect(writeConfigFile(file, planned, { expect: doc })).rejects.toBeInstanceOf(DriftError);
      expect(await readFile(file, 'utf8')).toBe('{}\n');
    });

    it('a new inode with the same bytes and the same mtime (a copy renamed over it)', async () => {
      // A whole second, which both files can hold exactly: only the inode tells them apart.
      const when = 1_800_000_000;
      await writeFile(file, '{}\n');
      await utimes(file, when, when);
      const doc = await readDaemonConfig(file);
      await writeFile(`${file}.other`, '{}\n');
      await utimes(`${file}.other`, when, when);
      await rename(`${file}.other`, file);
      expect((await stat(file)).mtimeMs).toBe(when * 1000);
      await expect(writeConfigFile(file, planned, { expect: doc })).rejects.toBeInstanceOf(DriftError);
      expect(await readFile(file, 'utf8')).toBe('{}\n');
    });

    it('the same inode and size, another mtime', async () => {
      await writeFile(file, '{}\n');
      const doc = await readDaemonConfig(file);
      await utimes(file, new Date(2_000_000_000_000), new Date(2_000_000_000_000));
      const error = await writeConfigFile(file, planned, { expect: doc }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DriftError);
      expect((error as DriftError).message).toBe(
        `${file} changed while dockmirror was changing it: another program wrote it at the same moment. Nothing was written.`,
      );
      expect((error as DriftError).location).toEqual({ file });
      expect((error as DriftError).details).toEqual({ raced: true });
      expect(await readFile(file, 'utf8')).toBe('{}\n');
    });

    it('a file created since it was read as missing', async () => {
      const doc = await readDaemonConfig(file);
      await writeFile(file, '{"debug": true}\n');
      await expect(writeConfigFile(file, planned, { expect: doc })).rejects.toBeInstanceOf(DriftError);
      expect(await readFile(file, 'utf8')).toBe('{"debug": true}\n');
    });

    it('a file deleted since it was read', async () => {
      await writeFile(file, '{}\n');
      const doc = await readDaemonConfig(file);
      await unlink(file);
      await expect(writeConfigFile(file, planned, { expect: doc })).rejects.toBeInstanceOf(DriftError);
      await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it('bytes never read through the checked reader', async () => {
      await writeFile(file, '{}\n');
      await expect(writeConfigFile(file, planned, { expect: { bytes: Buffer.from('{}\n') } })).rejects.toBeInstanceOf(DriftError);
      expect(await readFile(file, 'utf8')).toBe('{}\n');
    });

    it('and writes when nothing changed, in both cases: a file that existed and one that did not', async () => {
      await writeFile(file, '{}\n');
      await writeConfigFile(file, planned, { expect: await readDaemonConfig(file) });
      expect((await readFile(file)).equals(planned)).toBe(true);
      const fresh = path.join(dir, 'fresh.json');
      await writeConfigFile(fresh, planned, { expect: await readDaemonConfig(fresh) });
      expect((await readFile(fresh)).equals(planned)).toBe(true);
    });

    it('a removal is refused the same way when the file changed', async () => {
      await writeFile(file, '{}\n');
      const doc = await readDaemonConfig(file);
      await writeFile(file, '{"debug": true}\n');
      await expect(writeConfigFile(file, undefined, { expect: doc })).rejects.toBeInstanceOf(DriftError);
      expect(await readFile(file, 'utf8')).toBe('{"debug": true}\n');
    });
  });
});

describe('where a write lands', () => {
  it('creates missing folders only for a write, never for a removal or a plain look', async () => {
    const deep = path.join(dir, 'a', 'b', 'daemon.json');
    await expect(resolveWriteTarget(deep)).rejects.toThrow();
    await expect(stat(path.join(dir, 'a'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(writeConfigFile(deep, undefined)).rejects.toThrow();
    await expect(stat(path.join(dir, 'a'))).rejects.toMatchObject({ code: 'ENOENT' });
    await writeConfigFile(deep, Buffer.from('{}\n'));
    expect(await readFile(deep, 'utf8')).toBe('{}\n');
    expect((await stat(path.join(dir, 'a'))).mode & 0o777).toBe(0o755);
  });

  it('names the file\'s folder when another user could swap it', async () => {
    const open = path.join(dir, 'open');
    await mkdir(open, { mode: 0o777 });
    await chmod(open, 0o777);
    await expect(resolveWriteTarget(path.join(open, 'daemon.json'))).rejects.toThrow(/folder of daemon\.json/);
  });
});
