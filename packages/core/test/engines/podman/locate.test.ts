// Which registries.conf files count, read through folders only root controls; attacks run as nobody. The real
// podman's agreement with these rules is in podman-real.test.ts.
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidConfigError, UnsafePathError } from '../../../src/errors.js';
import {
  DROP_IN_NAME,
  effectiveSettings,
  filesInOrder,
  locateRegistriesConf,
  readRegistriesFiles,
  whereToWrite,
} from '../../../src/engines/podman/locate.js';
import { parseRegistriesConf, planRegistriesAdd } from '../../../src/engines/podman/registries-conf.js';

const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];
let dir: string;
let root: string;
let home: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-podman-locate-'));
  await chmod(dir, 0o755);
  root = path.join(dir, 'root');
  home = path.join(dir, 'home');
  await mkdir(path.join(root, 'etc', 'containers', 'registries.conf.d'), { recursive: true });
  await mkdir(home);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const etc = (...p: string[]): string => path.join(root, 'etc', 'containers', ...p);
const userDir = (...p: string[]): string => path.join(home, '.config', 'containers', ...p);
const table = (prefix: string, mirror: string): string => `[[registry]]\nprefix = "${prefix}"\nlocation = "${prefix}"\n[[registry.mirror]]\nlocation = "${mirror}"\n`;
const locate = (extra: { configFile?: string; env?: NodeJS.ProcessEnv } = {}) => locateRegistriesConf({ env: extra.env ?? {}, homedir: home, rootDir: root, ...(extra.configFile ? { configFile: extra.configFile } : {}) });

describe('locating', () => {
  it('takes --config-file, then CONTAINERS_REGISTRIES_CONF, then the user file, then /etc\'s', async () => {
    const env = { CONTAINERS_REGISTRIES_CONF: path.join(dir, 'env.conf') };
    expect(await locate({ configFile: 'rel/flag.conf', env })).toEqual({ main: path.resolve('rel/flag.conf'), source: 'flag', dropInDirs: [etc('registries.conf.d'), userDir('registries.conf.d')], systemDir: etc() });
    expect(await locate({ env })).toMatchObject({ main: env.CONTAINERS_REGISTRIES_CONF, source: 'env' });
    expect(await locate()).toEqual({ main: etc('registries.conf'), source: 'system', dropInDirs: [etc('registries.conf.d'), userDir('registries.conf.d')], systemDir: etc() });
    await mkdir(userDir(), { recursive: true });
    await writeFile(userDir('registries.conf'), '');
    expect(await locate()).toEqual({ main: userDir('registries.conf'), source: 'user', dropInDirs: [userDir('registries.conf.d')], systemDir: etc() });
  });

  it('does not consult XDG_CONFIG_HOME, as podman 4.3 does not', async () => {
    const xdg = path.join(dir, 'xdg');
    await mkdir(path.join(xdg, 'containers'), { recursive: true });
    await writeFile(path.join(xdg, 'containers', 'registries.conf'), '');
    expect((await locate({ env: { XDG_CONFIG_HOME: xdg } })).source).toBe('system');
  });

  it('a user file that is a dangling symlink does not count (podman stats it through the link)', async () => {
    await mkdir(userDir(), { recursive: true });
    await symlink(path.join(dir, 'nowhere'), userDir('registries.conf'));
    expect((await locate()).source).toBe('system');
  });
});

describe('reading', () => {
  it('reads the drop-ins of each folder in byte order of their names, only *.conf, no subfolders', async () => {
    await writeFile(etc('registries.conf'), table('docker.io', 'main:1'));
    await writeFile(etc('registries.conf.d', 'b.conf'), table('docker.io', 'b:1'));
    await writeFile(etc('registries.conf.d', 'B.conf'), table('docker.io', 'B:1'));
    await writeFile(etc('registries.conf.d', 'c.conf.bak'), 'not toml [');
    await mkdir(etc('registries.conf.d', 'sub.conf'));
    await mkdir(userDir('registries.conf.d'), { recursive: true });
    await writeFile(userDir('registries.conf.d', 'a.conf'), table('quay.io', 'u:1'));
    const files = await readRegistriesFiles(await locate());
    expect(filesInOrder(files).map((d) => path.relative(dir, d.file))).toEqual([
      'root/etc/containers/registries.conf', 'root/etc/containers/registries.conf.d/B.conf', 'root/etc/containers/registries.conf.d/b.conf', 'home/.config/containers/registries.conf.d/a.conf',
    ]);
    expect(effectiveSettings(filesInOrder(files)).map((t) => [t.prefix, t.mirrors[0]?.location, path.basename(t.source), t.line])).toEqual([
      ['docker.io', 'b:1', 'b.conf', 1], ['quay.io', 'u:1', 'a.conf', 1],
    ]);
  });

  it('reads a missing main file as empty, and refuses a broken drop-in with its file:line:column', async () => {
    await writeFile(etc('registries.conf.d', '10.conf'), '[[registry]]\nlocation = "https://x"\n');
    await expect(readRegistriesFiles(await locate())).rejects.toThrow(new RegExp(`^${etc('registries.conf.d', '10.conf')}:2:1: invalid location`));
    await writeFile(etc('registries.conf.d', '10.conf'), '');
    const files = await readRegistriesFiles(await locate());
    expect(files.main.toml.exists).toBe(false);
  });

  it('refuses a main file that is a folder, or too large', async () => {
    await mkdir(etc('registries.conf'));
    await expect(readRegistriesFiles(await locate())).rejects.toThrow(InvalidConfigError);
    await rm(etc('registries.conf'), { recursive: true });
    await writeFile(etc('registries.conf'), Buffer.alloc(5 * 1024 * 1024, 0x23));
    await expect(readRegistriesFiles(await locate())).rejects.toThrow(/larger than 4 MiB/);
  });
});

describe('attacks (the attacker is nobody)', () => {
  it('a drop-in folder symlinked by another user is refused', async () => {
    const evil = path.join(dir, 'evil.d');
    await mkdir(userDir(), { recursive: true });
    await chmod(userDir(), 0o777);
    execFileSync('setpriv', [...NOBODY, 'ln', '-s', evil, userDir('registries.conf.d')]);
    await chmod(userDir(), 0o755);
    const error = await readRegistriesFiles(await locate()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsafePathError);
    expect((error as UnsafePathError).message).toMatch(/registries\.conf\.d is a symlink owned by uid 65534/);
  });

  it('a drop-in folder another user owns, and a drop-in that is their symlink, are refused', async () => {
    await chown(etc('registries.conf.d'), 65534, 65534);
    await expect(readRegistriesFiles(await locate())).rejects.toThrow(/belongs to uid 65534/);
    await chown(etc('registries.conf.d'), 0, 0);
    await writeFile(path.join(dir, 'target.conf'), table('docker.io', 'evil:1'));
    await chmod(etc('registries.conf.d'), 0o777);
    execFileSync('setpriv', [...NOBODY, 'ln', '-s', path.join(dir, 'target.conf'), etc('registries.conf.d', '50.conf')]);
    await chmod(etc('registries.conf.d'), 0o755);
    await expect(readRegistriesFiles(await locate())).rejects.toThrow(UnsafePathError);
  });

  it('a main file in a folder others may write is refused', async () => {
    await chmod(etc(), 0o777);
    await expect(readRegistriesFiles(await locate())).rejects.toThrow(/writable by others/);
  });

  it('a FIFO as a drop-in does not block the read', async () => {
    execFileSync('mkfifo', [etc('registries.conf.d', '50.conf')]);
    await expect(readRegistriesFiles(await locate())).rejects.toThrow(/not a regular file/);
  });
});

describe('where to write', () => {
  const files = async (extra?: { env?: NodeJS.ProcessEnv }) => readRegistriesFiles(await locate(extra));

  it('creates the table in the main file when no file has one', async () => {
    await writeFile(etc('registries.conf'), table('quay.io', 'q:1'));
    const target = whereToWrite(await files(), 'docker.io');
    expect(target.doc.file).toBe(etc('registries.conf'));
    expect(target.why).toMatch(/created in the main file/);
  });

  it('edits the last drop-in that defines the table, so the effective config is the old one plus the mirror', async () => {
    await writeFile(etc('registries.conf'), table('docker.io', 'main:1'));
    await writeFile(etc('registries.conf.d', '10.conf'), table('docker.io', 'ten:1'));
    await writeFile(etc('registries.conf.d', '20.conf'), table('docker.io', 'twenty:1') + table('quay.io', 'q:1'));
    const read = await files();
    const target = whereToWrite(read, 'docker.io');
    expect(target.doc.file).toBe(etc('registries.conf.d', '20.conf'));
    const edited = parseRegistriesConf(target.doc.file, planRegistriesAdd(target.doc, { registry: 'docker.io', mirror: { url: 'http://new:1', plainHttp: true } }) as Buffer);
    const noLine = <T extends { line: number }>(tables: T[]) => tables.map(({ line: _l, ...t }) => t);
    const before = noLine(effectiveSettings(filesInOrder(read)));
    const after = noLine(effectiveSettings(filesInOrder(read).map((d) => (d === target.doc ? edited : d))));
    expect(after).toEqual(before.map((t) => (t.prefix === 'docker.io' ? { ...t, mirrors: [{ location: 'new:1', insecure: true }, ...t.mirrors] } : t)));
  });

  it('with dropIn, writes dockmirror\'s own drop-in carrying the main file\'s table', async () => {
    await writeFile(etc('registries.conf'), '[[registry]]\nlocation = "docker.io"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = "m:1"\ninsecure = true\n');
    const read = await files();
    const target = whereToWrite(read, 'docker.io', { dropIn: true });
    expect(target.doc.file).toBe(etc('registries.conf.d', DROP_IN_NAME));
    expect(target.doc.toml.exists).toBe(false);
    const bytes = planRegistriesAdd(target.doc, { registry: 'docker.io', mirror: { url: 'https://new', plainHttp: false }, ...(target.seed ? { seed: target.seed } : {}) }) as Buffer;
    const after = effectiveSettings([...filesInOrder(read), parseRegistriesConf(target.doc.file, bytes)]);
    expect(after).toEqual([expect.objectContaining({ prefix: 'docker.io', mirrorByDigestOnly: true, mirrors: [{ location: 'new', insecure: false }, { location: 'm:1', insecure: true }] })]);
  });

  it('with a named file, edits it (never /etc), and refuses when an /etc drop-in replaces the table', async () => {
    const named = path.join(dir, 'named.conf');
    await writeFile(named, table('docker.io', 'n:1'));
    expect(whereToWrite(await files({ env: { CONTAINERS_REGISTRIES_CONF: named } }), 'docker.io', { dropIn: true }).doc.file).toBe(named);
    await writeFile(etc('registries.conf.d', '50.conf'), table('docker.io', 'vendor:1'));
    const read = await files({ env: { CONTAINERS_REGISTRIES_CONF: named } });
    expect(() => whereToWrite(read, 'docker.io')).toThrow(/50\.conf:1: this drop-in replaces the \[\[registry\]\] table for docker\.io/);
    await mkdir(userDir('registries.conf.d'), { recursive: true });
    await writeFile(userDir('registries.conf.d', '60.conf'), table('docker.io', 'user:1'));
    expect(whereToWrite(await files({ env: { CONTAINERS_REGISTRIES_CONF: named } }), 'docker.io').doc.file).toBe(userDir('registries.conf.d', '60.conf'));
  });
});
