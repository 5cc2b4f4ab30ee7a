// A clone on a Node older than 22 (Debian 12's is 20): `npm ci` stops at once, before it installs or builds
// anything, saying which Node the tree needs (the root .npmrc sets engine-strict), and the CLI run on such a Node
// says in one line what to install instead of a SyntaxError or ERR_MODULE_NOT_FOUND.
//
// The real old Node is /usr/bin/node on this machine and on CI (.ci/run puts Node 24 first on PATH and leaves
// Debian's Node 20 in place), or DOCKMIRROR_TEST_OLD_NODE. Without one the tests fail, naming what is missing:
// they are never skipped. npm runs with a temp cache and user config, and stops before it would fetch anything.
// (npm's own `node-version` setting cannot stand in for the real thing: npm 11 no longer applies it to engines.)
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const cliDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = path.resolve(cliDir, '..', '..');
const OLD_NODE = process.env.DOCKMIRROR_TEST_OLD_NODE ?? '/usr/bin/node';
const NPM = '/usr/bin/npm';
const RANGE = '^22.22.2 || ^24.15.0 || >=26';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { ...options, maxBuffer: 16 << 20 }, (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
  });
}

let work = '';
let oldVersion = '';
beforeAll(async () => {
  if (!existsSync(OLD_NODE)) throw new Error(`No old Node at ${OLD_NODE}: install Debian's nodejs (Node 20), or set DOCKMIRROR_TEST_OLD_NODE to a Node older than 22`);
  oldVersion = (await run(OLD_NODE, ['-p', 'process.version'], { cwd: repoRoot, env: {} })).stdout.trim();
  if (!(Number(oldVersion.slice(1).split('.')[0]) < 22)) {
    throw new Error(`${OLD_NODE} is ${oldVersion}, not older than 22: set DOCKMIRROR_TEST_OLD_NODE to a Node 20 to test what such a user meets`);
  }
  if (!existsSync(NPM)) throw new Error(`No npm at ${NPM}: the test runs it as a user of the machine's Node would`);
  work = await mkdtemp(path.join(tmpdir(), 'dm-old-node-'));
}, 60_000);
afterAll(() => (work ? rm(work, { recursive: true, force: true }) : undefined));

/** A copy of what `npm ci` reads (the manifests, the lock file and .npmrc), with a node_modules already there. */
async function checkout(name: string): Promise<string> {
  const dir = path.join(work, name);
  for (const file of ['package.json', 'package-lock.json', '.npmrc', 'apps/cli/package.json', 'packages/core/package.json']) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await copyFile(path.join(repoRoot, file), path.join(dir, file));
  }
  await mkdir(path.join(dir, 'node_modules'));
  await writeFile(path.join(dir, 'node_modules', 'KEEP'), '');
  return dir;
}

/** npm's environment: a temp cache and user config, no settings of the npm running the tests. */
function npmEnv(dir: string, pathFirst: string): NodeJS.ProcessEnv {
  return { PATH: `${pathFirst}:/usr/bin:/bin`, HOME: dir, npm_config_cache: path.join(dir, '.npm-cache'), npm_config_userconfig: path.join(dir, '.npmrc-user'), NO_COLOR: '1' };
}

/** What every refusal must show: npm's engine error naming the range, nothing installed, nothing warned before. */
function expectRefused(ci: Run, dir: string, actual: string): Promise<void> {
  expect(ci.code).not.toBe(0);
  expect(ci.stdout).toBe('');
  expect(ci.stderr.split('\n')[0]).toBe('npm error code EBADENGINE');
  expect(ci.stderr).toContain(`npm error notsup Required: {"node":"${RANGE}"}\n`);
  expect(ci.stderr).toContain(`npm error notsup Actual:   {"node":"${actual}"`);
  expect(ci.stderr).not.toContain('EBADENGINE Unsupported engine {'); // no dependency's warning came first
  return readdir(path.join(dir, 'node_modules')).then((left) => expect(left).toEqual(['KEEP']));
}

describe('npm ci on an old Node', () => {
  it('the real old Node: refused at once, nothing installed, no half-built tree', async () => {
    const dir = await checkout('real');
    const ci = await run(NPM, ['ci', '--no-audit', '--no-fund'], { cwd: dir, env: npmEnv(dir, path.dirname(OLD_NODE)) });
    await expectRefused(ci, dir, oldVersion);
  });

  it('README says which Node, and how to get it', async () => {
    const readme = await readFile(path.join(repoRoot, 'README.md'), 'utf8');
    expect(readme).toContain('nvm install 24');
    expect(readme).toMatch(/Node 22\.22\.2 or newer/);
  });
});

describe('the CLI on an old Node', () => {
  it('one line saying what to install, exit 1, for --help and any command', async () => {
    for (const args of [['--help'], ['mirror', 'list', '--no-live']]) {
      const cli = await run(OLD_NODE, [path.join(cliDir, 'bin', 'run.js'), ...args], { cwd: work, env: { PATH: '/usr/bin:/bin', HOME: work } });
      expect(cli.code).toBe(1);
      expect(cli.stdout).toBe('');
      expect(cli.stderr).toBe(
        `dockmirror needs Node.js 22 or newer; this is ${oldVersion}. Install Node 24 (nvm install 24, or your distribution's nodejs 24 package) and run it with that node.\n`,
      );
    }
  });
});
