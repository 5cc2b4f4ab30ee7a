import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidConfigError, UsageError } from '../../src/errors.js';
import { DIAL_RULES, dialHost, listPresets, loadUserPresets, resolveMirrorTarget, userPresetsPath } from '../../src/presets/index.js';

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-resolve-'));
  file = path.join(dir, 'presets.json');
});
afterEach(() => rm(dir, { recursive: true, force: true }));
const opts = () => ({ platform: 'linux' as const, env: { PATH: path.join(dir, 'empty') }, homedir: dir, presetsFile: file });

describe('bind to dial rules', () => {
  it.each([
    ['0.0.0.0', 'native', '127.0.0.1'], ['::', 'native', '127.0.0.1'], ['[::]', 'native', '127.0.0.1'], ['', 'native', '127.0.0.1'],
    ['localhost', 'native', '127.0.0.1'], ['127.0.0.1', 'native', '127.0.0.1'], ['10.0.0.2', 'native', '10.0.0.2'],
    ['localhost', 'desktop', '0.0.0.0'], ['127.0.0.1', 'desktop', '0.0.0.0'], ['0.0.0.0', 'desktop', '0.0.0.0'], ['192.168.1.9', 'desktop', '192.168.1.9'],
  ] as const)('%s on %s dials %s', (bind, engine, dial) => {
    expect(dialHost(bind, engine).host).toBe(dial);
  });
  it('every rule says why', () => {
    for (const rule of DIAL_RULES) expect(rule.why.length).toBeGreaterThan(20);
  });
  it('brackets IPv6 in the URL', async () => {
    expect((await resolveMirrorTarget('pyrsia', { ...opts(), host: '::1' })).url).toBe('http://[::1]:7888');
  });
});

describe('resolveMirrorTarget', () => {
  it('passes URLs through, normalised', async () => {
    expect(await resolveMirrorTarget('HTTPS://Mirror.Example.com/', opts())).toEqual({ url: 'https://mirror.example.com', reasons: ['given as a URL'] });
  });
  it('resolves local and gcr', async () => {
    expect((await resolveMirrorTarget('local', opts())).url).toBe('http://127.0.0.1:5000');
    expect((await resolveMirrorTarget('local', { ...opts(), port: 5001 })).url).toBe('http://127.0.0.1:5001');
    expect((await resolveMirrorTarget('GCR', opts())).url).toBe('https://mirror.gcr.io');
  });
  it('refuses flags that do not apply, and bad ports', async () => {
    await expect(resolveMirrorTarget('gcr', { ...opts(), port: 1 })).rejects.toBeInstanceOf(UsageError);
    await expect(resolveMirrorTarget('http://x:1', { ...opts(), host: 'y' })).rejects.toBeInstanceOf(UsageError);
    await expect(resolveMirrorTarget('local', { ...opts(), port: 'abc' })).rejects.toBeInstanceOf(UsageError);
  });
  it('lists presets in the error for an unknown name', async () => {
    const error = await resolveMirrorTarget('nope', opts()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message).toBe('Unknown preset "nope". Presets: pyrsia, local, gcr.');
    expect((error as UsageError).hint).toBe('Give one of the presets, or a full mirror URL such as https://mirror.example.com.');
  });
});

describe('user presets file', () => {
  it('adds user presets to resolve and list', async () => {
    await writeFile(file, JSON.stringify({ corp: { url: 'https://Mirror.Corp.example/', description: 'Corporate mirror' } }, null, 2));
    expect(await resolveMirrorTarget('corp', opts())).toMatchObject({ url: 'https://mirror.corp.example', preset: 'corp' });
    const list = await listPresets(opts());
    expect(list.map((p) => [p.name, p.source, p.url])).toEqual([
      ['pyrsia', 'built-in', 'http://127.0.0.1:7888'], ['local', 'built-in', 'http://127.0.0.1:5000'],
      ['gcr', 'built-in', 'https://mirror.gcr.io'], ['corp', 'user', 'https://mirror.corp.example'],
    ]);
  });
  it('reports invalid JSON with file and line: loadUserPresets throws, resolving warns and keeps the built-ins', async () => {
    await writeFile(file, '{\n  "a": { "url": "https://a.example" },\n  "b": {\n}\n');
    const error = await loadUserPresets(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect((error as InvalidConfigError).location).toMatchObject({ file, line: 5 });
    expect((error as InvalidConfigError).cause).toBeDefined();
    const gcr = await resolveMirrorTarget('gcr', opts());
    expect(gcr.url).toBe('https://mirror.gcr.io');
    expect(gcr.warnings).toEqual([`${file}:5: invalid JSON (CloseBraceExpected). Your presets in it are ignored until it is fixed; the built-in presets work as before.`]);
    // A user preset is then unknown, and the hint says why.
    const unknown = (await resolveMirrorTarget('a', opts()).catch((e: unknown) => e)) as UsageError;
    expect(unknown).toBeInstanceOf(UsageError);
    expect(unknown.hint).toBe(gcr.warnings![0]);
    expect((await listPresets(opts())).map((p) => p.name)).toEqual(['pyrsia', 'local', 'gcr']);
  });
  it('reports a bad URL at its line', async () => {
    await writeFile(file, '{\n  "a": {\n    "url": "ftp://a.example"\n  }\n}\n');
    const error = (await loadUserPresets(file).catch((e: unknown) => e)) as InvalidConfigError;
    expect(error.location).toMatchObject({ line: 3 });
    expect(error.message).toMatch(/unsupported scheme ftp/);
    expect((await resolveMirrorTarget('local', opts())).warnings?.[0]).toMatch(new RegExp(`^${file.replaceAll('.', '\\.')}:3: preset "a": .*unsupported scheme ftp`));
  });
  it('refuses to shadow a built-in silently (a warning, the built-in stays), allows an explicit override with a note', async () => {
    await writeFile(file, '{\n  "gcr": { "url": "https://other.example" }\n}\n');
    const error = (await loadUserPresets(file).catch((e: unknown) => e)) as InvalidConfigError;
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect(error.location).toMatchObject({ line: 2 });
    const builtin = await resolveMirrorTarget('gcr', opts());
    expect(builtin.url).toBe('https://mirror.gcr.io');
    expect(builtin.warnings?.[0]).toMatch(/:2: preset "gcr" has the name of a built-in preset/);
    await writeFile(file, JSON.stringify({ gcr: { url: 'https://other.example', override: true } }));
    const t = await resolveMirrorTarget('gcr', opts());
    expect(t.url).toBe('https://other.example');
    expect(t.warnings).toBeUndefined();
    expect(t.reasons[0]).toMatch(/overrides the built-in/);
    expect((await listPresets(opts())).find((p) => p.name === 'gcr')?.source).toBe('user');
  });
  it('lives in the platform config dir', () => {
    expect(userPresetsPath({ platform: 'linux', env: { XDG_CONFIG_HOME: '/xdg' }, homedir: '/h' })).toBe('/xdg/dockmirror/presets.json');
    expect(userPresetsPath({ platform: 'linux', env: {}, homedir: '/h' })).toBe('/h/.config/dockmirror/presets.json');
    expect(userPresetsPath({ platform: 'darwin', env: {}, homedir: '/Users/u' })).toBe('/Users/u/Library/Application Support/dockmirror/presets.json');
    expect(userPresetsPath({ platform: 'win32', env: { APPDATA: 'C:\\Users\\u\\AppData\\Roaming' }, homedir: 'C:\\Users\\u' }))
      .toBe('C:\\Users\\u\\AppData\\Roaming\\dockmirror\\presets.json');
  });
});
