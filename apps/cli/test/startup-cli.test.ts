// What every start of the built CLI loads, and what it must not: oclif's user plugins (code from a folder of the
// user's, which root must never run), the autocomplete plugin for dockmirror's own commands (still there for its
// own command and for help), ES module facades of Node's built-ins, and the real `debug` without DEBUG.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ownCommand } from '../src/run.js';
import { cliEnv, cliHome } from './support/env.js';

const cliDir = fileURLToPath(new URL('..', import.meta.url));
const bin = path.join(cliDir, 'bin', 'run.js');

function dockmirror(args: string[], env: Record<string, string | undefined> = {}) {
  const run = spawnSync(process.execPath, [bin, ...args], { env: cliEnv(env), encoding: 'utf8', timeout: 60_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/**
 * An oclif user plugin as oclif looks for one: `<data dir>/package.json` naming it, the plugin under that
 * folder's node_modules, with an init hook (run on every start) that leaves a file behind.
 */
function plantUserPlugin(dataDir: string): string {
  const marker = path.join(dataDir, 'planted-code-ran');
  const plugin = path.join(dataDir, 'node_modules', 'planted');
  mkdirSync(plugin, { recursive: true });
  writeFileSync(path.join(dataDir, 'package.json'), JSON.stringify({ private: true, oclif: { schema: 1, plugins: [{ name: 'planted', type: 'user' }] }, dependencies: { planted: '1.0.0' } }));
  writeFileSync(path.join(plugin, 'package.json'), JSON.stringify({ name: 'planted', version: '1.0.0', type: 'module', oclif: { hooks: { init: './hook.js' } } }));
  writeFileSync(path.join(plugin, 'hook.js'), `import { writeFileSync } from 'node:fs';\nexport default async function () { writeFileSync(${JSON.stringify(marker)}, 'ran'); }\n`);
  return marker;
}

describe('oclif user plugins', () => {
  it('a plugin planted in the data folder (~/.local/share/dockmirror or $XDG_DATA_HOME) never runs', () => {
    const home = cliHome();
    const inHome = plantUserPlugin(path.join(home, '.local', 'share', 'dockmirror'));
    const xdg = path.join(home, 'xdg-data');
    const inXdg = plantUserPlugin(path.join(xdg, 'dockmirror'));
    const file = path.join(home, 'daemon.json');
    writeFileSync(file, '{}\n');
    for (const args of [['--version'], ['--help'], ['mirror', 'list', '--no-live', '--config-file', file], ['autocomplete', '--help']]) {
      for (const env of [{}, { XDG_DATA_HOME: xdg }]) {
        const run = dockmirror(args, env);
        expect(run.stderr).toBe('');
        expect(run.code).toBe(0);
      }
    }
    expect(existsSync(inHome)).toBe(false);
    expect(existsSync(inXdg)).toBe(false);
  });
});

describe('the autocomplete plugin', () => {
  it('is loaded for its own command and for help, and not needed by dockmirror commands', () => {
    expect(dockmirror(['autocomplete', '--help']).stdout).toContain('autocomplete installation instructions');
    expect(dockmirror(['--help']).stdout).toMatch(/^ {2}autocomplete\s/m);
    expect(dockmirror(['mirror', 'add', '--help']).stdout).toContain('Add a registry mirror to daemon.json');
    // A typo still gets the did-you-mean answer, which knows every command, the plugins' too.
    const typo = dockmirror(['autocompletee']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('"autocompletee" is not a dockmirror command. Did you mean "dockmirror autocomplete"?');
  });

  it('is left out only for a first word that starts a command or topic of the manifest', () => {
    for (const word of ['mirror', 'add', 'remove', 'list', 'verify', 'status', 'rollback', 'backups', 'doctor', 'apply', 'presets']) {
      expect(ownCommand(cliDir, word), word).toBe(true);
    }
    for (const word of [undefined, '--help', '-h', '--version', 'autocomplete', 'help', 'version', 'mirro']) {
      expect(ownCommand(cliDir, word), String(word)).toBe(false);
    }
    expect(ownCommand(path.join(cliHome(), 'no-such-package'), 'mirror')).toBe(false);
  });
});

describe('the bundle', () => {
  const chunks = [
    ...readdirSync(path.join(cliDir, 'dist'), { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile() && entry.name.endsWith('.js'))
      .map((entry) => path.join(entry.parentPath, entry.name)),
  ];

  it('requires every Node built-in instead of importing it (an ES module facade reads all of its exports)', () => {
    expect(chunks.length).toBeGreaterThan(10);
    const imports = chunks.flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/^import [^;]*? from "(node:[^"]+)";$/gm)].map((m) => `${path.basename(file)}: ${m[0]}`),
    );
    // The one import left per chunk is createRequire, the fallback for Node before 22.3.
    expect(imports.filter((line) => !line.endsWith('import { createRequire as __createRequire } from "node:module";'))).toEqual([]);
    expect(imports.length).toBeGreaterThan(0);
  });

  /** Node's built-ins a run of the CLI in `home` loaded, through a module that lists them at exit. */
  function builtinsLoaded(home: string, args: string[]): string[] {
    const report = path.join(home, 'loaded.txt');
    const reporter = path.join(home, 'report-modules.mjs');
    writeFileSync(reporter, `import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(${JSON.stringify(report)}, process.moduleLoadList.join('\\n')));\n`);
    const run = spawnSync(process.execPath, ['--import', reporter, bin, ...args], {
      // No daemon at that socket: the live column says so without a client.
      env: cliEnv({ DOCKER_HOST: `unix://${home}/no-daemon.sock` }),
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    return readFileSync(report, 'utf8').split('\n');
  }

  it('a start that neither hashes nor asks a daemon loads neither node:crypto nor node:http (nor, on the fast path, child_process)', () => {
    const home = cliHome();
    const file = path.join(home, 'list.json');
    writeFileSync(file, '{"registry-mirrors": ["https://mirror.gcr.io"]}\n');
    for (const args of [['--version'], ['mirror', 'list', '--no-live', '--config-file', file], ['mirror', 'list', '--config-file', file]]) {
      const loaded = builtinsLoaded(home, args);
      expect(loaded, args.join(' ')).toContain('NativeModule net');
      expect(loaded.filter((m) => /^NativeModule (crypto|http|https)$/.test(m)), args.join(' ')).toEqual([]);
      // The fast path starts no program for a list, so it has no need of child_process (oclif, for --version, does).
      if (args[0] === 'mirror') expect(loaded, args.join(' ')).not.toContain('NativeModule child_process');
    }
  });

  it('a change of a config file of a few bytes hashes it (for the journal) without loading node:crypto', () => {
    const home = cliHome();
    const file = path.join(home, 'daemon.json');
    writeFileSync(file, '{"debug": true}\n');
    const state = ['--config-file', file, '--state-dir', path.join(home, 'state'), '--apply', 'none'];
    for (const args of [['mirror', 'add', 'https://mirror.gcr.io', ...state], ['mirror', 'remove', 'https://mirror.gcr.io', ...state]]) {
      expect(builtinsLoaded(home, args).filter((m) => m === 'NativeModule crypto'), args.join(' ')).toEqual([]);
    }
    // Both changes were made and journalled: the mirror came and went, and the two entries are committed.
    expect(readFileSync(file, 'utf8')).toMatch(/^\{"debug": true,\s*"registry-mirrors": \[\]\s*\}\n$/);
    const journal = readFileSync(path.join(home, 'state', 'journal.jsonl'), 'utf8');
    expect(journal.match(/"type":"commit"/g)).toHaveLength(2);
  });

  it('a change whose stdout is no terminal never makes process.stdin: it can ask nothing, and stdin costs 2 ms', () => {
    const home = cliHome();
    const file = path.join(home, 'daemon.json');
    writeFileSync(file, '{}\n');
    const report = path.join(home, 'stdin.txt');
    const reporter = path.join(home, 'report-stdin.mjs');
    // process.stdin is a lazy getter: made, it is a ReadStream of /dev/null, and node:fs's stream module comes with it.
    // (The reporter takes node:fs without import: the ES module facade would load that module itself.)
    writeFileSync(reporter, `process.on('exit', () => process.getBuiltinModule('node:fs').writeFileSync(${JSON.stringify(report)}, process.moduleLoadList.join('\\n')));\n`);
    const run = spawnSync(process.execPath, ['--import', reporter, bin, 'mirror', 'add', 'https://mirror.gcr.io', '--apply', 'none', '--config-file', file, '--state-dir', path.join(home, 'state')], {
      env: cliEnv({}),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(run.status, run.stderr).toBe(0);
    expect(readFileSync(report, 'utf8').split('\n')).not.toContain('NativeModule internal/fs/streams');
    expect(readFileSync(file, 'utf8')).toContain('https://mirror.gcr.io');
  });

  it('loads the real `debug` only when DEBUG is set', () => {
    expect(dockmirror(['--version']).stderr).toBe('');
    const debug = dockmirror(['--version'], { DEBUG: 'oclif*' });
    expect(debug.code).toBe(0);
    expect(debug.stderr).toMatch(/oclif:config/);
  });
});

describe('the fast path', () => {
  /** The files of the bundle one run loaded, through a module load hook (every chunk is a file: URL). */
  function loadedFiles(args: string[], env: Record<string, string> = {}): string[] {
    const home = cliHome();
    const report = path.join(home, 'loaded-files.txt');
    const hook = path.join(home, 'report-files.mjs');
    writeFileSync(
      hook,
      `import { registerHooks } from 'node:module';\nimport { writeFileSync } from 'node:fs';\nconst seen = [];\n` +
        `registerHooks({ load(url, context, next) { if (url.startsWith('file:')) seen.push(url); return next(url, context); } });\n` +
        `process.on('exit', () => writeFileSync(${JSON.stringify(report)}, seen.join('\\n')));\n`,
    );
    const run = spawnSync(process.execPath, ['--import', hook, bin, ...args], { env: cliEnv({ DOCKER_HOST: `unix://${home}/no-daemon.sock`, ...env }), encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    return readFileSync(report, 'utf8').split('\n').filter((url) => url.includes('/dist/')).map((url) => fileURLToPath(url));
  }
  // Every part of @oclif/core in the bundle (its main chunk, and the ux chunk the fast path loads for a spinner on
  // a terminal) holds oclif's ExitError, whose code is this string; dockmirror's own code never says it.
  const isOclif = (file: string) => readFileSync(file, 'utf8').includes('EEXIT');

  it('runs mirror list, add, remove and status without loading any of oclif; oclif runs the rest', () => {
    const file = path.join(cliHome(), 'fast.json');
    writeFileSync(file, '{"registry-mirrors": ["https://mirror.gcr.io"]}\n');
    const hot = [
      ['mirror', 'list', '--config-file', file],
      ['list', '--no-live', '--json', '--config-file', file],
      ['add', 'http://127.0.0.1:5000', '--dry-run', '--config-file', file],
      ['mirror', 'remove', 'https://mirror.gcr.io', '--dry-run', '--config-file', file],
      ['status', '--config-file', file],
    ];
    for (const args of hot) {
      const files = loadedFiles(args);
      expect(files.some((f) => f.endsWith(`${path.sep}fast.js`)), args.join(' ')).toBe(true);
      expect(files.filter(isOclif), args.join(' ')).toEqual([]);
    }
    // The same lines with the switch the comparison tests use, and a command with no fast path, do load oclif:
    // the check above can fail.
    expect(loadedFiles(hot[0]!, { DOCKMIRROR_NO_FAST_PATH: '1' }).some(isOclif)).toBe(true);
    expect(loadedFiles(['backups', '--config-file', file]).some(isOclif)).toBe(true);
    expect(loadedFiles(['--version']).some(isOclif)).toBe(true);
  });
});
