// No colour where it does not belong: piped output is plain, NO_COLOR=1 is plain even on a terminal, and a
// redirected stderr stays plain while stdout is a terminal. Covers oclif's own output (help, parse errors,
// unknown commands) as well as dockmirror's. A terminal comes from util-linux `script`; without it only the
// piped cases run.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv } from './support/env.js';

const bin = fileURLToPath(new URL('../bin/run.js', import.meta.url));
const ESC = '\u001b[';

let dir = '';
let cases: string[][] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-color-'));
  const small = path.join(dir, 'daemon.json');
  await writeFile(small, '{ "registry-mirrors": ["https://mirror.gcr.io"] }\n');
  cases = [
    ['--help'],
    ['mirror', 'add', '--help'],
    ['mirror', 'add', '--bogus'],
    ['no-such-command'],
    ['mirror', 'list', '--config-file', small],
    ['mirror', 'add', 'local', '--dry-run', '--config-file', path.join(dir, 'new.json')],
    ['mirror', 'list', '--config-file', dir],
  ];
});

afterAll(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

// Variables that force or forbid colour: CI=true (as CI runs here) and a dumb or missing TERM turn it off.
const COLOUR_VARIABLES = ['NO_COLOR', 'FORCE_COLOR', 'NODE_DISABLE_COLORS', 'DEBUG', 'CI', 'CONTINUOUS_INTEGRATION', 'BUILD_NUMBER', 'RUN_ID', 'GITHUB_ACTIONS', 'TERM'];

/** The test runner's environment minus anything that forces or forbids colour, on a colour-capable TERM. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const keep = Object.entries(cliEnv()).filter(([k]) => !COLOUR_VARIABLES.includes(k));
  return { ...Object.fromEntries(keep), TERM: 'xterm-256color', DOCKER_HOST: 'unix:///nonexistent/dockmirror-test.sock', ...extra };
}

function run(file: string, args: string[], extra: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve) => {
    execFile(file, args, { env: env(extra) }, (_error, stdout, stderr) => resolve(`${stdout}${stderr}`));
  });
}

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/** Runs dockmirror on a pseudo-terminal (stdout and stderr), with an optional shell redirection after it. */
function onTerminal(args: string[], extra: Record<string, string> = {}, redirect = ''): Promise<string> {
  const command = `${[process.execPath, bin, ...args].map(quote).join(' ')} ${redirect}`;
  return run('script', ['-qec', command, '/dev/null'], extra);
}

/** script(1) gives the CLI a terminal; without it the terminal tests fail with this, they never skip. */
const NO_SCRIPT = 'script(1) not found or not working: apt-get install bsdutils';
const hasScript = (() => {
  try {
    execFileSync('script', ['-qec', 'true', '/dev/null'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('colour', () => {
  it('piped output has no escape sequences', async () => {
    for (const args of cases) expect(await run(process.execPath, [bin, ...args]), args.join(' ')).not.toContain(ESC);
  });

  it('piped output stays plain with NO_COLOR=1 too', async () => {
    for (const args of cases) expect(await run(process.execPath, [bin, ...args], { NO_COLOR: '1' }), args.join(' ')).not.toContain(ESC);
  });

  it('a terminal gets colour, and NO_COLOR=1 takes it away', async () => {
    expect(hasScript, NO_SCRIPT).toBe(true);
    // Proves the check can see colour at all: oclif's help and dockmirror's marks are coloured on a terminal.
    expect(await onTerminal(['mirror', 'add', '--help'])).toContain(ESC);
    for (const args of cases) expect(await onTerminal(args, { NO_COLOR: '1' }), args.join(' ')).not.toContain(ESC);
  });

  it('stderr redirected to a file is plain while stdout is a terminal', async () => {
    expect(hasScript, NO_SCRIPT).toBe(true);
    const log = path.join(dir, 'stderr.log');
    await onTerminal(['mirror', 'list', '--config-file', dir], {}, `2> ${quote(log)}`);
    const written = await readFile(log, 'utf8');
    expect(written).toContain('is not a regular file');
    expect(written).not.toContain(ESC);
  });
});
