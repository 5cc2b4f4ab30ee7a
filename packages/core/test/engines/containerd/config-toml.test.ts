import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockmirrorError } from '../../../src/errors.js';
import {
  locateContainerdConfig,
  parseContainerdConfig,
  planSetConfigPath,
  refuseInlineMirrors,
  registryConfigOf,
} from '../../../src/engines/containerd/config-toml.js';
import { goFlagValue, scanContainerd } from '../../../src/engines/containerd/containerd-process.js';

const FILE = '/etc/containerd/config.toml';
const doc = (text: string, exists = true) => parseContainerdConfig(FILE, Buffer.from(text), { exists });
const set = (text: string, dir = '/etc/containerd/certs.d', exists = true): string | undefined => planSetConfigPath(doc(text, exists), dir)?.bytes.toString();

function refusal(run: () => unknown): DockmirrorError {
  try {
    run();
  } catch (error) {
    return error as DockmirrorError;
  }
  throw new Error('accepted');
}

describe('registryConfigOf', () => {
  it('reads config_path from the plugin key of each version', () => {
    expect(registryConfigOf(doc('[plugins.cri.registry]\nconfig_path = "/a"'))).toMatchObject({ version: 1, plugin: 'cri', configPath: '/a', hostsDir: '/a' });
    expect(registryConfigOf(doc('version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = "/a:/b"'))).toMatchObject({ version: 2, hostsDirs: ['/a', '/b'], hostsDir: '/a' });
    expect(registryConfigOf(doc('version = 3\n[plugins."io.containerd.cri.v1.images".registry]\nconfig_path = "/c"'))).toMatchObject({ version: 3, plugin: 'io.containerd.cri.v1.images', hostsDir: '/c' });
    // The key of another version is not the one containerd reads.
    expect(registryConfigOf(doc('version = 3\n[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = "/a"')).configPath).toBeUndefined();
    expect(registryConfigOf(doc('version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = ""')).hostsDirs).toEqual([]);
    expect(registryConfigOf(doc('[plugins.cri.registry]\nconfig_path = "C:\\\\a;D:\\\\b"'), { platform: 'win32' }).hostsDirs).toEqual(['C:\\a', 'D:\\b']);
    expect(registryConfigOf(doc('imports = ["/etc/containerd/conf.d/*.toml"]')).imports).toEqual(['/etc/containerd/conf.d/*.toml']);
  });

  it.each([
    ['version = "2"', 1, 11, 'version must be an integer, not string'],
    ['version = 4', 1, 11, 'version 4 is not one containerd knows'],
    ['version = 2\nplugins = 1', 2, 11, 'plugins must be a table, not integer'],
    ['version = 2\n[plugins]\n"io.containerd.grpc.v1.cri" = "x"', 3, 31, 'plugins."io.containerd.grpc.v1.cri" must be a table, not string'],
    ['version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = 1', 3, 15, 'config_path must be a string (a folder), not integer'],
    ['version = 2\n[[plugins."io.containerd.grpc.v1.cri".registry]]', 2, 1, 'plugins."io.containerd.grpc.v1.cri".registry must be a table, not an array of tables'],
    ['imports = "x"', 1, 11, 'imports must be a list of file names'],
    ['version = 2\nversion = 3', 2, 1, 'invalid TOML'],
  ])('%j is refused at %i:%i', (text, line, column, message) => {
    const error = refusal(() => doc(text));
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toContain(`${FILE}:${line}:${column}: ${message}`);
  });
});

describe('planSetConfigPath', () => {
  it('adds one line under the existing registry table, in its indentation', () => {
    const text = '# mine\nversion = 2\n\n[plugins."io.containerd.grpc.v1.cri".registry] # reg\n    [plugins."io.containerd.grpc.v1.cri".registry.headers]\n    x = ["y"]\n';
    expect(set(text)).toBe('# mine\nversion = 2\n\n[plugins."io.containerd.grpc.v1.cri".registry] # reg\n  config_path = "/etc/containerd/certs.d"\n    [plugins."io.containerd.grpc.v1.cri".registry.headers]\n    x = ["y"]\n');
    const body = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n\tfoo = 1\n';
    expect(set(body)).toBe('version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n\tconfig_path = "/etc/containerd/certs.d"\n\tfoo = 1\n');
  });

  it('appends the table when there is none, and writes a new file from scratch', () => {
    expect(set('version = 2\nroot = "/var/lib/containerd"')).toBe('version = 2\nroot = "/var/lib/containerd"\n\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n');
    expect(set('version = 3\r\n')).toBe('version = 3\r\n\r\n[plugins."io.containerd.cri.v1.images".registry]\r\n  config_path = "/etc/containerd/certs.d"\r\n');
    expect(set('', '/etc/containerd/certs.d', false)).toBe('# written by dockmirror\nversion = 2\n\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n');
  });

  it('fills an empty config_path, keeps the BOM, and says a restart is needed', () => {
    const bytes = Buffer.from('\uFEFFversion = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = "" # later\n');
    const change = planSetConfigPath(parseContainerdConfig(FILE, bytes), '/x');
    expect(change?.needsRestart).toBe(true);
    expect(change?.bytes.toString()).toBe('\uFEFFversion = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = "/x" # later\n');
  });

  it('is undefined when config_path is already that folder, and refuses to repoint another one', () => {
    const text = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = "/a"\n';
    expect(set(text, '/a')).toBeUndefined();
    expect(refusal(() => set(text, '/b'))).toMatchObject({ code: 'USAGE', hint: expect.stringContaining('/a') });
    expect(refusal(() => set('', 'relative/dir'))).toMatchObject({ code: 'USAGE' });
  });

  it('refuses inline mirrors and configs.tls, naming the line, as containerd would fail with both', () => {
    const mirrors = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]\nendpoint = ["https://m"]\n';
    const error = refusal(() => set(mirrors));
    expect(error.code).toBe('FLAG_CONFLICT');
    expect(error.message).toContain(`${FILE}:3:1: this config.toml sets inline registry.mirrors (for docker.io)`);
    expect(error.hint).toMatch(/hosts\.toml/);
    const tls = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry.configs."r.example.com".tls]\ninsecure_skip_verify = true\n';
    expect(refusal(() => set(tls)).code).toBe('FLAG_CONFLICT');
    // auth alone is not refused.
    expect(() => refuseInlineMirrors(doc('version = 2\n[plugins."io.containerd.grpc.v1.cri".registry.configs."r".auth]\nusername = "u"\n'))).not.toThrow();
  });

  it('refuses a registry written as an inline table', () => {
    expect(refusal(() => set('version = 2\n[plugins."io.containerd.grpc.v1.cri"]\nregistry = { headers = {} }\n'))).toMatchObject({ code: 'USAGE', location: { line: 3, column: 1 } });
  });

  it('on random config files, inserts one run of bytes and changes only config_path', () => {
    const line = fc.constantFrom('# a comment', '', 'oom_score = 0', '[grpc]\n  address = "/run/c.sock"', '[plugins."io.containerd.grpc.v1.cri".containerd]\n  snapshotter = "overlayfs"', '[plugins."io.containerd.grpc.v1.cri".registry]\n  # keep', '[plugins."io.containerd.grpc.v1.cri".registry.headers]\n  a = ["b"]');
    fc.assert(fc.property(fc.uniqueArray(line, { maxLength: 6 }), fc.constantFrom('\n', '\r\n'), fc.boolean(), (lines, eol, last) => {
      const body = ['version = 2', ...lines].join('\n').replaceAll('\n', eol) + (last ? eol : '');
      const before = Buffer.from(body);
      const out = planSetConfigPath(parseContainerdConfig(FILE, before), '/etc/containerd/certs.d')?.bytes as Buffer;
      let prefix = 0;
      while (before[prefix] === out[prefix] && prefix < before.length) prefix++;
      expect(out.subarray(out.length - (before.length - prefix)).equals(before.subarray(prefix))).toBe(true);
      expect(registryConfigOf(parseContainerdConfig(FILE, out)).hostsDir).toBe('/etc/containerd/certs.d');
    }), { numRuns: 300 });
  });
});

describe('locating config.toml', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dm-ctd-locate-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** A /proc entry as the kernel shows it: argv NUL-separated, the four uids in status, the cwd link. */
  async function fakeProc(root: string, pid: number, argv: string[], uid = 0, cwd = '/'): Promise<void> {
    const p = path.join(root, String(pid));
    await mkdir(p, { recursive: true });
    await writeFile(path.join(p, 'cmdline'), `${argv.join('\0')}\0`);
    await writeFile(path.join(p, 'status'), `Name:\tcontainerd\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\n`);
    await symlink(cwd, path.join(p, 'cwd'));
  }

  it('takes --config-file, then /etc/containerd/config.toml under the root, then a trusted process\'s --config', async () => {
    const root = path.join(dir, 'root');
    const proc = path.join(dir, 'proc');
    await fakeProc(proc, 10, ['/usr/bin/containerd', '-c', '/bad.toml'], 65534);
    await fakeProc(proc, 20, ['/usr/bin/containerd', '--config=/var/run/docker/containerd/containerd.toml'], 0);
    await fakeProc(proc, 24, ['/usr/bin/dockerd', '--exec-root', '/tmp/x/exec'], 0);
    await fakeProc(proc, 25, ['containerd', '--config', '/tmp/x/exec/containerd/containerd.toml'], 0);
    await writeFile(path.join(proc, '25', 'stat'), '25 (contain erd)) S 24 25 25 0 -1');
    await fakeProc(proc, 30, ['containerd', '-config', 'conf/c.toml', '--log-level', 'debug'], 0, '/srv');
    expect(locateContainerdConfig({ configFile: 'x.toml', rootDir: root, procRoot: proc })).toMatchObject({ path: path.resolve('x.toml'), source: 'option' });
    expect(locateContainerdConfig({ rootDir: root, procRoot: proc, callerUid: 0 })).toEqual({
      path: '/srv/conf/c.toml',
      source: 'process',
      pid: 30,
      reason: 'the running containerd (pid 30) was started with --config',
      ignored: [
        { pid: 10, reason: 'it runs as uid 65534, not root' },
        { pid: 20, reason: expect.stringContaining('dockerd runs for itself') },
        { pid: 25, reason: expect.stringContaining('dockerd runs for itself') },
      ],
    });
    await mkdir(path.join(root, 'etc', 'containerd'), { recursive: true });
    await writeFile(path.join(root, 'etc', 'containerd', 'config.toml'), '');
    expect(locateContainerdConfig({ rootDir: root, procRoot: proc })).toMatchObject({ path: path.join(root, 'etc/containerd/config.toml'), source: 'default' });
  });

  it('falls back to the default path when nothing runs', () => {
    expect(locateContainerdConfig({ rootDir: path.join(dir, 'none'), procRoot: path.join(dir, 'no-proc') })).toMatchObject({
      path: path.join(dir, 'none', 'etc/containerd/config.toml'),
      source: 'default',
      reason: expect.stringContaining('runs on its defaults'),
    });
    expect(scanContainerd(path.join(dir, 'no-proc'))).toEqual({ ignored: [] });
  });

  it('reads Go flag spellings, the last one winning, never glued short flags', () => {
    expect(goFlagValue(['containerd', '-c', '/a', '--config=/b'], ['config', 'c'])).toBe('/b');
    expect(goFlagValue(['containerd', '--c=/a'], ['config', 'c'])).toBe('/a');
    expect(goFlagValue(['containerd', '-c/a'], ['config', 'c'])).toBeUndefined();
    expect(goFlagValue(['containerd', '--', '-c', '/a'], ['config', 'c'])).toBeUndefined();
    expect(goFlagValue(['containerd', '-c'], ['config', 'c'])).toBeUndefined();
  });
});
