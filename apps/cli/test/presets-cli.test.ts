// `dockmirror presets`: every preset, the URL it resolves to here and why; user presets from the config dir.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockmirror, writeFakePyrsiaCli } from './verify-helpers.js';

let dir: string;
let env: Record<string, string>;
const presetsFile = () => path.join(dir, 'config', 'dockmirror', 'presets.json');

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-presets-'));
  await writeFakePyrsiaCli(path.join(dir, 'bin'), { quotes: 'single', host: 'localhost', port: '17888' });
  env = { HOME: dir, XDG_CONFIG_HOME: path.join(dir, 'config'), PATH: `${path.join(dir, 'bin')}:${process.env.PATH ?? ''}` };
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const cli = (args: string[]) => dockmirror([...args, '--config-file', path.join(dir, 'daemon.json')], env);

describe('dockmirror presets', () => {
  it('lists the built-in presets with their URL here and the reasons', async () => {
    const r = await cli(['presets']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^pyrsia +http:\/\/127\.0\.0\.1:17888$/m);
    expect(r.stdout).toMatch(/· pyrsia config --show says host localhost, port 17888/);
    expect(r.stdout).toMatch(/· native engine: using 127\.0\.0\.1 instead of localhost/);
    expect(r.stdout).toMatch(/^local +http:\/\/127\.0\.0\.1:5000$/m);
    expect(r.stdout).toMatch(/^gcr +https:\/\/mirror\.gcr\.io$/m);
    expect(r.stdout).toContain(`user presets: ${presetsFile()}`);
  });

  it('--json returns the presets with url, source and reasons, user presets last', async () => {
    await mkdir(path.dirname(presetsFile()), { recursive: true });
    await writeFile(presetsFile(), JSON.stringify({ team: { url: 'https://mirror.team.example/', description: 'Team cache' } }));
    const r = await cli(['presets', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { presetsFile: string; engineKind: string; presets: { name: string; url: string; source: string; reasons: string[] }[] };
    expect(report).toMatchObject({ presetsFile: presetsFile(), engineKind: 'native' });
    expect(report.presets.map((p) => [p.name, p.url, p.source])).toEqual([
      ['pyrsia', 'http://127.0.0.1:17888', 'built-in'],
      ['local', 'http://127.0.0.1:5000', 'built-in'],
      ['gcr', 'https://mirror.gcr.io', 'built-in'],
      ['team', 'https://mirror.team.example', 'user'],
    ]);
    expect(report.presets[3]!.reasons[0]).toBe(`user preset from ${presetsFile()}`);
  });

  it('refuses a user preset that differs from a built-in only by case (it would shadow it): a warning, the built-ins stay', async () => {
    await writeFile(presetsFile(), JSON.stringify({ GCR: { url: 'https://evil.example' } }));
    const r = await cli(['presets']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/preset "GCR" has the name of a built-in preset/);
    expect(r.stdout).toMatch(/^gcr +https:\/\/mirror\.gcr\.io$/m);
    expect(r.stdout).not.toContain('evil.example');
    await writeFile(presetsFile(), JSON.stringify({ GCR: { url: 'https://mine.example', override: true } }));
    const ok = JSON.parse((await cli(['presets', '--json'])).stdout) as { presets: { name: string; url: string; source: string }[] };
    expect(ok.presets.map((p) => [p.name, p.url, p.source])).toEqual([
      ['pyrsia', 'http://127.0.0.1:17888', 'built-in'],
      ['local', 'http://127.0.0.1:5000', 'built-in'],
      ['GCR', 'https://mine.example', 'user'],
    ]);
  });

  it('a broken presets file: a warning naming file and line, then the built-ins for presets, add and remove', async () => {
    const broken = '{\n  "team": { "url": "https://mirror.team.example" },\n  "oops": { "url": "https://x.example", }\n}\n';
    await writeFile(presetsFile(), broken);
    const warning = `! ${presetsFile()}:3: invalid JSON (PropertyNameExpected). Your presets in it are ignored until it is fixed; the built-in presets work as before.`;
    const listed = await cli(['presets']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stderr).toBe(`${warning}\n`);
    expect(listed.stdout).toMatch(/^gcr +https:\/\/mirror\.gcr\.io$/m);
    const json = JSON.parse((await cli(['presets', '--json'])).stdout) as { presets: { name: string }[]; warnings: string[] };
    expect(json.presets.map((p) => p.name)).toEqual(['pyrsia', 'local', 'gcr']);
    expect(json.warnings).toEqual([warning.slice(2)]);
    const added = await cli(['add', 'gcr', '--dry-run']);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain(`${warning}\ngcr → https://mirror.gcr.io\n`);
    expect(added.stdout).toContain('+  "registry-mirrors": [');
    // The user's own preset is what the file would have given: the hint says why it is unknown.
    const team = await cli(['add', 'team', '--dry-run']);
    expect(team.code).toBe(2);
    expect(team.stderr).toContain('✗ Unknown preset "team". Presets: pyrsia, local, gcr.\n');
    expect(team.stderr).toContain(`→ ${warning.slice(2)}`);
  });
});
