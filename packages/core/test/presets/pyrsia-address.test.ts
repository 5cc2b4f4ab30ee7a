import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parsePyrsiaConfigShow, pyrsiaCliConfigPath, resolveMirrorTarget } from '../../src/presets/index.js';
import { pyrsiaConfigShowText, writeFakePyrsiaCli } from '../support/pyrsia-node.js';

let dir: string;
let bin: string;
let home: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-presets-'));
  bin = path.join(dir, 'bin');
  home = path.join(dir, 'home');
  await mkdir(bin, { recursive: true });
  await mkdir(home, { recursive: true });
});
afterEach(() => rm(dir, { recursive: true, force: true }));

// Only the temp bin dir is on PATH, so the real runCommand finds the fake CLI or nothing at all.
const linux = () => ({ platform: 'linux' as const, env: { PATH: bin }, homedir: home, presetsFile: path.join(dir, 'none.json') });

describe('parsePyrsiaConfigShow', () => {
  it('reads single quotes (<= 0.2.3) and double quotes (0.2.4)', () => {
    expect(parsePyrsiaConfigShow(pyrsiaConfigShowText({ quotes: 'single', host: '0.0.0.0', port: '7888' }))).toEqual({ host: '0.0.0.0', port: 7888 });
    expect(parsePyrsiaConfigShow(pyrsiaConfigShowText({ quotes: 'double', host: 'node.lan', port: '9000' }))).toEqual({ host: 'node.lan', port: 9000 });
  });
  it('recognises the error texts printed with exit 0', () => {
    expect(parsePyrsiaConfigShow(pyrsiaConfigShowText({ error: 'no-node' })).error).toMatch(/^No Node Configured/);
    expect(parsePyrsiaConfigShow(pyrsiaConfigShowText({ error: 'no-config-path' })).error).toMatch(/^Error retrieving config file path/);
  });
  it('ignores an out-of-range port', () => {
    expect(parsePyrsiaConfigShow("host = 'h'\nport = '70000'\n")).toEqual({ host: 'h', port: undefined });
  });
});

describe('pyrsia preset resolution order', () => {
  it('uses pyrsia config --show and turns a bind-all host into loopback on a native engine', async () => {
    await writeFakePyrsiaCli(bin, { quotes: 'single', host: '0.0.0.0', port: '7888' });
    const t = await resolveMirrorTarget('pyrsia', { ...linux(), engineKind: 'native' });
    expect(t).toMatchObject({ url: 'http://127.0.0.1:7888', preset: 'pyrsia' });
    expect(t.reasons).toContain('pyrsia config --show says host 0.0.0.0, port 7888');
    expect(t.reasons.join('\n')).toMatch(/using 127\.0\.0\.1 instead of 0\.0\.0\.0/);
  });

  it('lets flags win over the CLI, field by field', async () => {
    await writeFakePyrsiaCli(bin, { quotes: 'double', host: '10.1.2.3', port: '7888' });
    expect((await resolveMirrorTarget('pyrsia', { ...linux(), port: 9000 })).url).toBe('http://10.1.2.3:9000');
    expect((await resolveMirrorTarget('pyrsia', { ...linux(), host: '10.9.9.9', port: '7000' })).url).toBe('http://10.9.9.9:7000');
  });

  it('falls back to the CLI config file when the CLI reports an error', async () => {
    await writeFakePyrsiaCli(bin, { error: 'no-node' });
    const xdg = path.join(dir, 'xdg');
    await mkdir(path.join(xdg, 'pyrsia-cli'), { recursive: true });
    await writeFile(path.join(xdg, 'pyrsia-cli', 'default-config.toml'), 'host = "192.168.7.7"\nport = "7889"\n');
    const t = await resolveMirrorTarget('pyrsia', { ...linux(), env: { PATH: bin, XDG_CONFIG_HOME: xdg } });
    expect(t.url).toBe('http://192.168.7.7:7889');
    expect(t.reasons[0]).toMatch(/^pyrsia config --show failed: No Node Configured/);
    expect(t.reasons[1]).toContain(path.join(xdg, 'pyrsia-cli', 'default-config.toml'));
  });

  it('reads the macOS config file location', async () => {
    const file = pyrsiaCliConfigPath({ platform: 'darwin', env: {}, homedir: home });
    expect(file).toBe(path.join(home, 'Library', 'Application Support', 'rs.pyrsia-cli', 'default-config.toml'));
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, "host = 'localhost'\nport = '7890'\n");
    expect((await resolveMirrorTarget('pyrsia', { ...linux(), platform: 'darwin' })).url).toBe('http://127.0.0.1:7890');
  });

  it('uses defaults when there is no CLI and no config', async () => {
    const native = await resolveMirrorTarget('pyrsia', linux());
    expect(native.url).toBe('http://127.0.0.1:7888');
    expect(native.reasons).toContain('pyrsia CLI not found on PATH');
    expect(native.reasons.join('\n')).toMatch(/defaults fill in host localhost, port 7888/);
    expect((await resolveMirrorTarget('pyrsia', { ...linux(), engineKind: 'desktop' })).url).toBe('http://0.0.0.0:7888');
  });

  it('ignores a broken config file with a reason', async () => {
    const file = pyrsiaCliConfigPath({ platform: 'linux', env: {}, homedir: home });
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, 'host = \n');
    const t = await resolveMirrorTarget('pyrsia', linux());
    expect(t.url).toBe('http://127.0.0.1:7888');
    expect(t.reasons.join('\n')).toMatch(/not valid TOML/);
  });
});

describe('pyrsiaCliConfigPath', () => {
  it('follows each platform', () => {
    expect(pyrsiaCliConfigPath({ platform: 'linux', env: { XDG_CONFIG_HOME: '/x' }, homedir: '/h' })).toBe('/x/pyrsia-cli/default-config.toml');
    expect(pyrsiaCliConfigPath({ platform: 'linux', env: { XDG_CONFIG_HOME: 'rel' }, homedir: '/h' })).toBe('/h/.config/pyrsia-cli/default-config.toml');
    expect(pyrsiaCliConfigPath({ platform: 'win32', env: { APPDATA: 'C:\\Users\\u\\AppData\\Roaming' }, homedir: 'C:\\Users\\u' }))
      .toBe('C:\\Users\\u\\AppData\\Roaming\\pyrsia-cli\\config\\default-config.toml');
  });
});
