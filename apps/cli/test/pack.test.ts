// What a stranger gets from the registry: both packages packed, installed with production dependencies only
// into an empty folder, and run from there. Catches a missing `files` entry, an import of a dev-only package,
// and a stale or incomplete oclif manifest. Needs the build (`npm run build`) and the npm registry or its cache.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { glob, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv } from './support/env.js';

const cliDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = path.resolve(cliDir, '..', '..');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A user's shell: no npm_* settings of the `npm test` running us, no NODE_ENV=test, no dockmirror settings, and a
 * temp HOME for dockmirror. npm keeps the real user's config and cache (the install is offline-first from it).
 */
function userEnv(): NodeJS.ProcessEnv {
  const keep = Object.entries(cliEnv()).filter(([k]) => !/^npm_/i.test(k) && !['NODE_ENV', 'INIT_CWD'].includes(k));
  const userHome = userInfo().homedir;
  return {
    ...Object.fromEntries(keep),
    npm_config_userconfig: path.join(userHome, '.npmrc'),
    npm_config_cache: path.join(userHome, '.npm'),
    DOCKER_HOST: 'unix:///nonexistent/dockmirror-test.sock',
  };
}

// `npx --no --`: never fetch a package of that name from the registry, and pass every flag to dockmirror.
function run(command: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: userEnv(), maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

let work = '';
let app = '';
let contents = new Map<string, string[]>();

beforeAll(async () => {
  if (!existsSync(path.join(cliDir, 'oclif.manifest.json')) || !existsSync(path.join(repoRoot, 'packages/core/dist/index.js'))) {
    throw new Error('Build first: npm run build');
  }
  work = await mkdtemp(path.join(tmpdir(), 'dm-pack-'));
  app = path.join(work, 'app');
  // Scripts off: the test checks what the build left, it does not rebuild.
  const packed = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work, '-w', '@dockmirror/core', '-w', 'dockmirror'], repoRoot);
  expect(packed.code, packed.stderr).toBe(0);
  const packs = JSON.parse(packed.stdout) as { name: string; filename: string; files: { path: string }[] }[];
  contents = new Map(packs.map((p) => [p.name, p.files.map((f) => f.path)]));
  const tarballs = packs.map((p) => path.join(work, p.filename));
  await mkdir(app);
  await writeFile(path.join(app, 'package.json'), '{ "name": "pack-check", "private": true }\n');
  const installed = await run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', ...tarballs], app);
  expect(installed.code, installed.stderr).toBe(0);
}, 300_000);

afterAll(() => (work ? rm(work, { recursive: true, force: true }) : undefined));

describe('the packed packages, installed with production dependencies only', () => {
  it('npx dockmirror --help lists every command', async () => {
    const help = await run('npx', ['--no', '--', 'dockmirror', '--help'], app);
    expect(help.code, help.stderr).toBe(0);
    for (const id of ['mirror', 'status', 'rollback', 'backups', 'autocomplete']) expect(help.stdout).toContain(id);
  });

  it('every command in the sources is in the shipped manifest, for this version, and loads', async () => {
    const installedCli = path.join(app, 'node_modules', 'dockmirror');
    const manifest = JSON.parse(await readFile(path.join(installedCli, 'oclif.manifest.json'), 'utf8')) as {
      version: string;
      commands: Record<string, unknown>;
    };
    const pjson = JSON.parse(await readFile(path.join(installedCli, 'package.json'), 'utf8')) as { version: string };
    // oclif ignores a manifest of another version and globs dist/ instead: slower, and untested.
    expect(manifest.version).toBe(pjson.version);
    const ids: string[] = [];
    for await (const file of glob('src/commands/**/*.ts', { cwd: cliDir })) ids.push(file.slice('src/commands/'.length, -3).split(path.sep).join(':'));
    expect(ids.length).toBeGreaterThan(0);
    expect(Object.keys(manifest.commands)).toEqual(expect.arrayContaining(ids));
    // --help loads each command's module: a file left out of `files` or a dev-only import fails here.
    const helps = await Promise.all(ids.map((id) => run('npx', ['--no', '--', 'dockmirror', ...id.split(':'), '--help'], app)));
    helps.forEach((h, i) => expect(h.code, `${ids[i]}: ${h.stderr}`).toBe(0));
  });

  it('npx dockmirror add local --dry-run prints a diff and writes nothing', async () => {
    const file = path.join(work, 'daemon.json');
    const add = await run('npx', ['--no', '--', 'dockmirror', 'add', 'local', '--dry-run', '--config-file', file], app);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toContain('+++');
    expect(add.stdout).toContain('+    "http://127.0.0.1:5000"');
    expect(existsSync(file)).toBe(false);
  });

  it('shell completion is installed with it', async () => {
    const completion = await run('npx', ['--no', '--', 'dockmirror', 'autocomplete', '--help'], app);
    expect(completion.code, completion.stderr).toBe(0);
    expect(completion.stdout).toContain('autocomplete');
  });

  it("import('@dockmirror/core') works and exposes the API", async () => {
    const code = "const m = await import('@dockmirror/core'); console.log(typeof m.addMirror, m.validateMirror('https://m.example').url)";
    const imported = await run(process.execPath, ['--input-type=module', '-e', code], app);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout.trim()).toBe('function https://m.example');
  });

  it('each tarball carries its README and the LICENSE', () => {
    for (const name of ['@dockmirror/core', 'dockmirror']) {
      expect(contents.get(name), name).toEqual(expect.arrayContaining(['README.md', 'LICENSE', 'package.json']));
    }
    expect(existsSync(path.join(app, 'node_modules', 'dockmirror', 'LICENSE'))).toBe(true);
    expect(existsSync(path.join(app, 'node_modules', '@dockmirror', 'core', 'README.md'))).toBe(true);
  });

  it('no development package came along', () => {
    for (const dev of ['rolldown', 'typescript', 'vitest', 'oclif']) expect(existsSync(path.join(app, 'node_modules', dev)), dev).toBe(false);
  });
});
