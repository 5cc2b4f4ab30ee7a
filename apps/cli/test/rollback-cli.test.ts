import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ROLLBACK_CORPUS } from '../../../packages/core/test/state/rollback-corpus.js';
import { cliEnv } from './support/env.js';

// Spawns the built binary: build first (npx tsc -p packages/core && npx tsc -p apps/cli && oclif manifest).
const BIN = fileURLToPath(new URL('../bin/run.js', import.meta.url));

let dir: string;
let file: string;
let stateDir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-cli-rollback-'));
  file = path.join(dir, 'daemon.json');
  stateDir = path.join(dir, 'state');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** The environment of every run: a temp home, no DOCKMIRROR_* or Docker setting from the shell, no colour. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return cliEnv(extra);
}

/** Runs `dockmirror <args>` on the test's file and state folder; `killAfterMs` SIGKILLs it after that delay. */
function run(args: string[], options: { env?: Record<string, string>; killAfterMs?: number } = {}): Promise<Run> {
  const mutating = ['add', 'remove', 'rollback'].includes(args[0] === 'mirror' ? args[1]! : args[0]!);
  const target = ['--config-file', file, '--state-dir', stateDir];
  const argv = [BIN, ...args, ...target, ...(mutating ? ['--apply', 'none'] : [])];
  const started = Date.now();
  const child = spawn(process.execPath, argv, { env: cleanEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = options.killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.killAfterMs);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

interface Record_ {
  type: 'begin' | 'commit' | 'abort';
  id?: string;
  entry?: { id: string; before: { exists: boolean }; after: { sha256: string | null } };
}

/** The journal's entries with their settled status, read the way core reads it. */
async function journalEntries(): Promise<{ id: string; status: string; beforeExists: boolean; after: string | null }[]> {
  const text = await readFile(path.join(stateDir, 'journal.jsonl'), 'utf8').catch(() => '');
  const byId = new Map<string, { id: string; status: string; beforeExists: boolean; after: string | null }>();
  for (const line of text.split('\n').filter(Boolean)) {
    const r = JSON.parse(line) as Record_;
    if (r.type === 'begin') byId.set(r.entry!.id, { id: r.entry!.id, status: 'pending', beforeExists: r.entry!.before.exists, after: r.entry!.after.sha256 });
    else if (byId.has(r.id!)) byId.get(r.id!)!.status = r.type === 'commit' ? 'committed' : 'aborted';
  }
  return [...byId.values()];
}

/** Temp files a killed write could leave beside daemon.json or in the state folder. */
async function leftovers(): Promise<string[]> {
  const list = async (d: string) => (await readdir(d).catch(() => [] as string[])).map((n) => path.join(d, n));
  const all = [...(await list(dir)), ...(await list(stateDir)), ...(await list(path.join(stateDir, 'backups')))];
  return all.filter((p) => /\.\d+$/.test(p) || /\.stale-|\.takeover$|[/\\]lock$/.test(p));
}

/** Nothing pending; every committed entry has its backup, every backup its entry; the newest matches the file. */
async function expectConsistent(): Promise<void> {
  const all = await journalEntries();
  expect(all.filter((e) => e.status === 'pending')).toEqual([]);
  const entries = all.filter((e) => e.status === 'committed');
  const backups = new Set(await readdir(path.join(stateDir, 'backups')).catch(() => [] as string[]));
  for (const e of entries) expect(e.beforeExists ? backups.has(`${e.id}.bak`) : true).toBe(true);
  expect([...backups].filter((b) => !entries.some((e) => `${e.id}.bak` === b))).toEqual([]);
  const current = existsSync(file) ? createHash('sha256').update(await readFile(file)).digest('hex') : null;
  expect(entries.at(-1)?.after).toBe(current);
}


describe('dockmirror rollback', () => {
  it.each(Object.entries(ROLLBACK_CORPUS))('%s: byte-exact rollback, rollback of the rollback, rollback <id>', async (_name, text) => {
    await writeFile(file, text);
    const added = await run(['mirror', 'add', 'http://10.1.2.3:5000', '--json']);
    expect(added.code, added.stderr).toBe(0);
    const addId = (JSON.parse(added.stdout) as { backup: string }).backup;
    const postAdd = await readFile(file);

    const undone = await run(['rollback']);
    expect(undone.code, undone.stderr).toBe(0);
    expect(undone.stdout).toContain('Rolled back');
    expect((await readFile(file)).equals(Buffer.from(text))).toBe(true);

    expect((await run(['rollback'])).code).toBe(0);
    expect((await readFile(file)).equals(postAdd)).toBe(true);

    expect((await run(['rollback', addId])).code).toBe(0);
    expect((await readFile(file)).equals(Buffer.from(text))).toBe(true);
    expect(await leftovers()).toEqual([]);
    await expectConsistent();
  });

  it('removes a file that did not exist before, with the folder it made for it, and puts both back on the next rollback', async () => {
    file = path.join(dir, 'docker', 'daemon.json');
    expect((await run(['mirror', 'add', 'https://mirror.example'])).code).toBe(0);
    const created = await readFile(file);
    expect((await run(['rollback'])).code).toBe(0);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(path.dirname(file))).toBe(false);
    await expectConsistent();
    const listed = JSON.parse((await run(['backups', '--json'])).stdout) as { backups: { op: string; existed: boolean }[] };
    expect(listed.backups.map((b) => [b.op, b.existed])).toEqual([['rollback', true], ['mirror add', false]]);
    expect((await run(['rollback'])).code).toBe(0);
    expect((await readFile(file)).equals(created)).toBe(true);
  });

  it('refuses with exit 7, a diff and a --force hint when the file was edited by hand', async () => {
    const original = '{\n  "debug": true\n}\n';
    await writeFile(file, original);
    expect((await run(['mirror', 'add', 'https://mirror.example'])).code).toBe(0);
    const edited = (await readFile(file, 'utf8')).replace('"debug": true', '"debug": false');
    await writeFile(file, edited);

    const refused = await run(['rollback']);
    expect(refused.code).toBe(7);
    expect(refused.stderr).toContain('changed since dockmirror last wrote it');
    expect(refused.stderr).toContain('-  "debug": true,');
    expect(refused.stderr).toContain('+  "debug": false,');
    expect(refused.stderr).toContain('--force');
    expect(await readFile(file, 'utf8')).toBe(edited);

    const json = await run(['rollback', '--json']);
    expect(json.code).toBe(7);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'DRIFT', details: { diff: expect.stringContaining('+  "debug": false,') } } });

    const dry = await run(['rollback', '--force', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('-  "registry-mirrors": [');
    expect(dry.stdout).toContain('dry run');
    expect(await readFile(file, 'utf8')).toBe(edited);

    expect((await run(['rollback', '--force'])).code).toBe(0);
    expect(await readFile(file, 'utf8')).toBe(original);
    await expectConsistent();
  });

  it('keeps the file mode in the backup and after the restore', async () => {
    await writeFile(file, '{}\n');
    await chmod(file, 0o600);
    const id = (JSON.parse((await run(['mirror', 'add', 'https://mirror.example', '--json'])).stdout) as { backup: string }).backup;
    expect((await stat(path.join(stateDir, 'backups', `${id}.bak`))).mode & 0o777).toBe(0o600);
    expect((await run(['rollback'])).code).toBe(0);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });
});

describe('dockmirror backups', () => {
  it('lists id, time, op and file newest first, and as JSON', async () => {
    await writeFile(file, '{}\n');
    const ids: string[] = [];
    for (const m of ['https://a.example', 'https://b.example']) {
      ids.push((JSON.parse((await run(['mirror', 'add', m, '--json'])).stdout) as { backup: string }).backup);
    }
    const human = await run(['backups']);
    const lines = human.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^${ids[1]}\\s+\\d{4}-\\d\\d-\\d\\dT\\S+Z\\s+mirror add https://b\\.example\\s+${file}$`));
    expect(lines[1]).toContain(ids[0]);
    const json = JSON.parse((await run(['backups', '--json'])).stdout) as { backups: { id: string; op: string; file: string; time: string }[] };
    expect(json.backups.map((b) => b.id)).toEqual([ids[1], ids[0]]);
    expect(json.backups[0]).toMatchObject({ op: 'mirror add', file });
  });

  it('DOCKMIRROR_KEEP_BACKUPS=1 prunes, but never the backup the next rollback needs', async () => {
    await writeFile(file, '{}\n');
    const env = { DOCKMIRROR_KEEP_BACKUPS: '1' };
    expect((await run(['mirror', 'add', 'https://a.example'], { env })).code).toBe(0);
    const afterA = await readFile(file);
    expect((await run(['mirror', 'add', 'https://b.example'], { env })).code).toBe(0);
    expect(await readdir(path.join(stateDir, 'backups'))).toHaveLength(1);
    expect((await run(['rollback'], { env })).code).toBe(0);
    expect((await readFile(file)).equals(afterA)).toBe(true);
    await expectConsistent();
  });
});

describe('dockmirror mirror remove', () => {
  it('takes out only the insecure entry dockmirror added', async () => {
    await writeFile(file, '{\n  "insecure-registries": ["10.0.0.5:5000"]\n}\n');
    for (const m of ['http://10.0.0.5:5000', 'http://10.9.9.9:5000']) expect((await run(['mirror', 'add', m])).code).toBe(0);
    const list = JSON.parse((await run(['mirror', 'list', '--json'])).stdout) as { ownedInsecureRegistries: string[] };
    expect(list.ownedInsecureRegistries).toEqual(['10.9.9.9:5000']);
    for (const m of ['http://10.0.0.5:5000', 'http://10.9.9.9:5000']) expect((await run(['mirror', 'remove', m])).code).toBe(0);
    const doc = JSON.parse(await readFile(file, 'utf8')) as Record<string, string[]>;
    expect(doc['insecure-registries']).toEqual(['10.0.0.5:5000']);
    expect(doc['registry-mirrors']).toEqual([]);
  });
});

describe('concurrency', () => {
  it('8 processes adding at once: every mirror lands, one after another', async () => {
    await writeFile(file, '{\n  "debug": true\n}\n');
    const mirrors = Array.from({ length: 8 }, (_, i) => `http://10.0.${i}.1:5000`);
    const runs = await Promise.all(mirrors.map((m) => run(['mirror', 'add', m])));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(await readFile(file, 'utf8')) as Record<string, string[]>;
    expect([...doc['registry-mirrors']!].sort()).toEqual([...mirrors].sort());
    expect(doc['insecure-registries']).toHaveLength(8);
    const entries = await journalEntries();
    expect(entries.filter((e) => e.status === 'committed')).toHaveLength(8);
    await expectConsistent();
    expect(await leftovers()).toEqual([]);
  });

  // No clock: the lock wait (10 min) is far past the 20 s this run may take before it is killed, so a lock that is
  // waited out instead of taken over ends as a SIGKILL, not as a slow pass.
  it('takes over a lock left by a dead process at once', async () => {
    await writeFile(file, '{}\n');
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;
    await mkdir(stateDir, { recursive: true });
    await writeFile(path.join(stateDir, 'lock'), JSON.stringify({ pid: deadPid, host: hostname(), time: new Date().toISOString() }));
    const r = await run(['mirror', 'add', 'https://mirror.example'], { env: { DOCKMIRROR_LOCK_TIMEOUT: '600' }, killAfterMs: 20_000 });
    expect(r.signal).toBeNull();
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ 'registry-mirrors': ['https://mirror.example'] });
    expect(existsSync(path.join(stateDir, 'lock'))).toBe(false);
  }, 30_000);

  it('gives up with exit 8 after DOCKMIRROR_LOCK_TIMEOUT when a live process holds the lock', async () => {
    await writeFile(file, '{}\n');
    await mkdir(stateDir, { recursive: true });
    const lock = JSON.stringify({ pid: process.pid, host: hostname(), time: new Date().toISOString() });
    await writeFile(path.join(stateDir, 'lock'), lock);
    // The default wait is 120 s: only a DOCKMIRROR_LOCK_TIMEOUT that reached the lock ends this before the kill.
    const r = await run(['mirror', 'add', 'https://mirror.example'], { env: { DOCKMIRROR_LOCK_TIMEOUT: '1' }, killAfterMs: 20_000 });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(8);
    expect(r.stderr).toContain(`pid ${process.pid}`);
    expect(r.stderr).toContain(path.join(stateDir, 'lock'));
    expect(await readFile(file, 'utf8')).toBe('{}\n');
    expect(await readFile(path.join(stateDir, 'lock'), 'utf8')).toBe(lock);
  }, 30_000);
});

describe('crash test', () => {
  it('SIGKILL at random moments of `mirror add` on a 1 MB file never tears it, and the next run repairs', async () => {
    const labels: string[] = [];
    for (let n = 0, size = 0; size < 1_000_000; n++) {
      labels.push(`label-${n}=${'x'.repeat(40)}`);
      size += labels[n]!.length + 6; // quotes, comma, indent
    }
    await writeFile(file, `${JSON.stringify({ debug: true, 'registry-mirrors': ['https://base.example'], labels }, null, 2)}\n`);
    expect((await stat(file)).size).toBeGreaterThan(1_000_000);
    const env = { DOCKMIRROR_KEEP_BACKUPS: '5' };
    // Strict JSON.parse: throws on a torn file. The labels are the megabyte no run may lose.
    const state = async () => {
      const doc = JSON.parse(await readFile(file, 'utf8')) as { 'registry-mirrors': string[]; labels: string[] };
      expect(doc.labels).toHaveLength(labels.length);
      return doc['registry-mirrors'];
    };

    // Kills spread over a run's whole life, so track how long a full run takes now (other work may load the machine).
    const recent: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await run(['mirror', 'add', `https://warmup${i}.example`], { env });
      expect(r.code, r.stderr).toBe(0);
      recent.push(r.ms);
    }
    const lifetime = () => [...recent.slice(-5)].sort((a, b) => a - b)[Math.floor(Math.min(recent.length, 5) / 2)]!;

    const counts = { kills: 0, killedOld: 0, killedNew: 0, finished: 0 };
    const started = Date.now();
    // ~40 s on an idle two-core machine; the time cap only guards against a machine loaded by other work.
    for (let i = 0; counts.kills < 42 && Date.now() - started < 100_000; i++) {
      const mirror = `http://10.${Math.floor(i / 250)}.${i % 250}.7:5000`;
      const before = await state();
      // Every other kill aims at the last third of the run, where the reading, backup, write and journal happen
      // (node's start-up takes the rest); the others spread over the whole run.
      const life = lifetime();
      const from = i % 2 ? life * 0.65 : 0;
      const delay = from + Math.random() * (life * 1.1 - from);
      const r = await run(['mirror', 'add', mirror], { env, killAfterMs: delay });
      const killed = r.signal === 'SIGKILL';
      const what = `iteration ${i}, ${killed ? `killed after ${delay.toFixed(0)} ms` : 'finished'}`;
      if (!killed) expect(r.code, `${what}: ${r.stderr}`).toBe(0);
      const after = await state();
      const landed = JSON.stringify(after) !== JSON.stringify(before);
      if (landed) expect(after, what).toEqual([mirror, ...before]);
      if (!killed) counts.finished++;
      else if (landed) counts.killedNew++;
      else counts.killedOld++;
      counts.kills += killed ? 1 : 0;

      const next = await run(['mirror', 'add', mirror], { env });
      expect(next.code, `${what}, next run: ${next.stderr}`).toBe(0);
      recent.push(next.ms);
      expect(await state(), `${what}, after the next run`).toEqual([mirror, ...before]);
      expect(await leftovers(), what).toEqual([]);
      await expectConsistent();
    }
    console.log(`crash test: ${JSON.stringify(counts)}, add lifetime ~${lifetime()} ms, ${Date.now() - started} ms`);
    expect(counts.kills).toBeGreaterThanOrEqual(40);
    expect(counts.killedOld).toBeGreaterThan(0);
  }, 150_000);
});
