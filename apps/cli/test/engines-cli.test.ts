// --engine and --registry from the CLI: what every engine shares, with Docker's daemon.json (the other engines'
// own suites drive real containerd and podman).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv } from './support/env.js';
import { spawnRun, type Run } from './support/spawn.js';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'run.js');
let dir: string;
let file: string;
const original = '{\n  "debug": true\n}\n';
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-engines-cli-'));
  file = path.join(dir, 'daemon.json');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function run(args: string[]): Promise<Run> {
  const env = cliEnv({ DOCKER_HOST: 'unix:///nonexistent/dockmirror-test.sock' });
  return spawnRun(process.execPath, [bin, ...args, '--config-file', file, '--state-dir', path.join(dir, 'state')], { env });
}

describe('--registry', () => {
  it.each([
    ['https://ghcr.io', 'it has a scheme', '--registry ghcr.io'],
    ['ghcr.io/org', 'it has a path', 'as it appears in image names'],
    ['../../etc', 'it has a path', 'as it appears in image names'],
    ['..', 'only letters, digits', 'as it appears in image names'],
    ['ghcr.io:99999', 'port is out of range', 'as it appears in image names'],
  ])('%s is refused (exit 2) with what to write instead, and the file is untouched', async (registry, why, hint) => {
    await writeFile(file, original);
    const r = await run(['add', 'https://m.example', '--registry', registry, '--apply', 'none']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(why);
    expect(r.stderr).toContain(hint);
    expect(await readFile(file, 'utf8')).toBe(original);
  });

  it('another registry than docker.io is refused for daemon.json, saying why and what works', async () => {
    await writeFile(file, original);
    const r = await run(['add', 'https://m.example', '--registry', 'ghcr.io', '--apply', 'none']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("daemon.json's registry-mirrors only mirror docker.io");
    expect(r.stderr).toContain('--engine containerd');
    expect(await readFile(file, 'utf8')).toBe(original);
  });

  it('Docker Hub by another name is docker.io', async () => {
    await writeFile(file, original);
    const r = await run(['add', 'https://m.example', '--registry', 'Index.Docker.IO', '--apply', 'none', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { registry: string; engine: string; engines: { engine: string; files: string[] }[] };
    expect(result).toMatchObject({ registry: 'docker.io', engine: 'docker', engines: [{ engine: 'docker', files: [file] }] });
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ debug: true, 'registry-mirrors': ['https://m.example'] });
  });
});

describe('--engine all', () => {
  it('with --config-file is refused (exit 2): the file belongs to one engine', async () => {
    await writeFile(file, original);
    const r = await run(['add', 'https://m.example', '--engine', 'all', '--apply', 'none']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--config-file names one engine's file");
    expect(await readFile(file, 'utf8')).toBe(original);
  });
});

describe('mirror list and status per engine', () => {
  it('list --registry docker.io --json gives every engine, per registry', async () => {
    await writeFile(file, '{"registry-mirrors": ["http://127.0.0.1:5000", "https://b.example"]}\n');
    const r = await run(['mirror', 'list', '--registry', 'docker.io', '--no-live', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const list = JSON.parse(r.stdout) as { engines: unknown[] };
    expect(list.engines).toEqual([
      {
        engine: 'docker',
        configFile: file,
        configSetup: expect.any(String),
        files: [file],
        registries: [{ registry: 'docker.io', mirrors: [{ url: 'http://127.0.0.1:5000', plainHttp: true }, { url: 'https://b.example', plainHttp: false }] }],
      },
    ]);
    const human = await run(['mirror', 'list', '--registry', 'docker.io', '--no-live']);
    expect(human.stdout).toContain(`docker: ${file}\n  docker.io:\n    1. http://127.0.0.1:5000 (plain HTTP)\n    2. https://b.example\n`);
  });

  it('status --engine docker adds the per-registry view to the usual status', async () => {
    await writeFile(file, '{"registry-mirrors": ["https://b.example"]}\n');
    const r = await run(['status', '--engine', 'docker']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`docker: ${file}\n  docker.io:\n    1. https://b.example\n`);
    const json = JSON.parse((await run(['status', '--engine', 'docker', '--json'])).stdout) as { engines: { registries: unknown[] }[] };
    expect(json.engines[0]?.registries).toEqual([{ registry: 'docker.io', mirrors: [{ url: 'https://b.example', plainHttp: false }] }]);
  });
});
