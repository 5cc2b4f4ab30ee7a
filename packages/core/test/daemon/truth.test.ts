// Issue 10, the daemon half, on a real dockerd 20.10: the daemon that reads the file is the one told, a change it
// cannot be told is refused before writing, `apply` makes it load the file, a rejected reload is known from the
// missing reload event, and an interrupted change leaves a journal that rollback (and its dry run) settles.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerdCandidates } from '../../src/daemon/dockerd-process.js';
import { endpointScan, findFileReader } from '../../src/daemon/file-reader.js';
import { detectSetup } from '../../src/daemon/setup.js';
import { createEngine } from '../../src/daemon/engine.js';
import { ApplyError, DaemonUnreachableError, InterruptedError, InvalidMirrorError } from '../../src/errors.js';
import { applyConfig } from '../../src/operations/apply-config.js';
import { addMirror } from '../../src/operations/mirrors.js';
import { listBackups, rollback } from '../../src/operations/rollback.js';
import { Journal } from '../../src/state/journal.js';
import { getStatus } from '../../src/operations/status.js';
import { runDoctor } from '../../src/operations/doctor.js';
import { startTestbed, type Testbed } from '../support/testbed.js';

const ORIGINAL = '{\n  "labels": ["dm=truth"]\n}\n';

let tb: Testbed;
let home: string;
let n = 0;

/** Options as a user with no DOCKER_HOST and no docker context would have them; a fresh state folder each. */
function opts(extra: Record<string, unknown> = {}) {
  return { configFile: tb.configFile, stateDir: join(tb.dir, `state-${++n}`), env: { DOCKER_CONFIG: join(home, '.docker') }, homedir: home, ...extra };
}

async function live() {
  return createEngine(tb.dockerHost).liveRegistry(5_000);
}

/** Live registry settings cleared (a reload keeps what an absent key had, so they are spelled out), then `bytes`. */
async function reset(bytes = ORIGINAL): Promise<void> {
  await writeFile(tb.configFile, '{"labels": ["dm=truth"], "registry-mirrors": [], "insecure-registries": []}\n');
  await tb.reload();
  await expect.poll(async () => live(), { timeout: 5_000 }).toEqual({ mirrors: [], insecureRegistries: [] });
  await writeFile(tb.configFile, bytes);
  if (!bytes.includes('registry-mirrors')) return;
  await tb.reload();
  // A SIGHUP is applied asynchronously: wait until it is, or the next write to the file races the reload.
  const mirrors = (JSON.parse(bytes) as { 'registry-mirrors': string[] })['registry-mirrors'].map((m) => `${m}/`);
  await expect.poll(async () => (await live()).mirrors, { timeout: 5_000 }).toEqual(mirrors);
}

beforeAll(async () => {
  tb = await startTestbed({ daemonJson: ORIGINAL });
  home = await mkdtemp(join(tb.dir, 'home-'));
});
afterAll(async () => {
  try {
    process.kill(tb.pid, 'SIGCONT');
  } catch {
    // Gone already.
  }
  await tb?.stop();
});

describe('the dockerd that reads the file', () => {
  it('is found from /proc by its --config-file, with the socket it is proven to hold', async () => {
    expect(await findFileReader(tb.configFile)).toEqual({ pid: tb.pid, configFile: tb.configFile, endpoint: tb.dockerHost, hosts: [tb.dockerHost] });
    expect(await findFileReader(join(tb.dir, 'other.json'))).toBeUndefined();
  });

  it('is not looked for off Linux, where /proc is not the kernel\'s (unless a /proc is given)', async () => {
    const platform = Object.getOwnPropertyDescriptor(process, 'platform') as PropertyDescriptor;
    Object.defineProperty(process, 'platform', { ...platform, value: 'darwin' });
    try {
      expect(await findFileReader(tb.configFile)).toBeUndefined();
      expect((await findFileReader(tb.configFile, { procRoot: '/proc' }))?.pid).toBe(tb.pid);
    } finally {
      Object.defineProperty(process, 'platform', platform);
    }
  });

  it("hands the scan that proved its socket to the call's setup detection, which then reads no /proc of its own", async () => {
    const candidates = dockerdCandidates();
    expect(candidates).toContain(tb.pid);
    const reader = await findFileReader(tb.configFile, { candidates });
    const scan = endpointScan(reader);
    expect(scan?.process?.pid).toBe(tb.pid);
    // A /proc that does not exist: a rescan would find no dockerd, so the pid can only come from the scan given.
    const nowhere = join(tb.dir, 'no-proc');
    const info = await createEngine(tb.dockerHost).info(5_000);
    expect(await detectSetup({ endpoint: tb.dockerHost, info, env: {}, procRoot: nowhere, scan })).toMatchObject({ kind: 'plain', pid: tb.pid, configFile: tb.configFile });
    expect((await detectSetup({ endpoint: tb.dockerHost, info, env: {}, procRoot: nowhere })).pid).toBeUndefined();
    // Another file's reader proves nothing, and a reader found without a socket has no scan to hand on.
    expect(endpointScan(await findFileReader(join(tb.dir, 'other.json'), { candidates }))).toBeUndefined();
  });

  it('is the one told when DOCKER_HOST is unset and it listens on a socket of its own', async () => {
    await reset();
    const result = await addMirror(opts({ mirror: 'http://127.0.0.1:5101', timeoutMs: 10_000 }));
    // dockerd 20.10's reload event carries the settings it applied: they are the proof, and /info agrees.
    expect(result.apply).toMatchObject({ method: 'reload', endpoint: tb.dockerHost, liveFrom: 'reload event', live: { mirrors: ['http://127.0.0.1:5101/'] } });
    expect((await live()).mirrors).toEqual(['http://127.0.0.1:5101/']);
  });

  it('stopped (SIGSTOP): the change is refused before writing, naming the pid, the socket and the file', async () => {
    await reset();
    const pid = tb.pid;
    process.kill(pid, 'SIGSTOP');
    let error: unknown;
    try {
      // The signal is delivered asynchronously: wait until the kernel shows the whole process stopped.
      await expect.poll(async () => (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.[0], { timeout: 5_000 }).toBe('T');
      error = await addMirror(opts({ mirror: 'http://127.0.0.1:5102', timeoutMs: 1_500 })).catch((e: unknown) => e);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(error).toBeInstanceOf(DaemonUnreachableError);
    const message = (error as Error).message;
    expect(message).toContain(`dockerd (pid ${pid}) reads ${tb.configFile}`);
    expect(message).toContain(tb.dockerHost);
    expect(message).toMatch(/\. Nothing was written\.$/);
    expect(message.split('Nothing was written').length).toBe(2);
    expect(message).not.toContain('takes effect when Docker starts');
    expect(await readFile(tb.configFile, 'utf8')).toBe(ORIGINAL);
  });

  it('--apply none waits for a stopped dockerd no longer than --timeout: the version check it cannot make is skipped', async () => {
    await reset();
    const pid = tb.pid;
    process.kill(pid, 'SIGSTOP');
    // Resumed 3 s later: past this call's 2 s, within the 5 s a probe may take at most, and before a second
    // call started after the 2 s could give up.
    const resume = setTimeout(() => process.kill(pid, 'SIGCONT'), 3_000);
    let result: Awaited<ReturnType<typeof addMirror>>;
    try {
      await expect.poll(async () => (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.[0], { timeout: 5_000 }).toBe('T');
      result = await addMirror(opts({ mirror: 'https://mirror.example.com/prefix', apply: 'none', timeoutMs: 2_000 }));
    } finally {
      clearTimeout(resume);
      process.kill(pid, 'SIGCONT');
    }
    // Written without the check (its daemon would refuse this path mirror at its next reload or start).
    expect(result.apply).toEqual({ method: 'none', reason: '--apply none: the daemon was not told' });
    expect(await readFile(tb.configFile, 'utf8')).toContain('https://mirror.example.com/prefix');
    await writeFile(tb.configFile, ORIGINAL);
  });

  it('a --docker-host socket that is not there, while it runs: refused before writing, pointing at its socket', async () => {
    await reset();
    const missing = `unix://${tb.dir}/missing.sock`;
    const error = await addMirror(opts({ mirror: 'http://127.0.0.1:5103', dockerHost: missing, timeoutMs: 1_000 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DaemonUnreachableError);
    expect((error as Error).message).toContain(`the endpoint given, ${missing} (from option), does not answer`);
    expect((error as Error).message.split('Nothing was written').length).toBe(2);
    expect((error as DaemonUnreachableError).hint).toContain(`--docker-host at ${tb.dockerHost}`);
    expect(await readFile(tb.configFile, 'utf8')).toBe(ORIGINAL);
  });

  it('a path mirror its 20.10 would reject is refused before writing, the version named', async () => {
    await reset();
    const { Version } = await createEngine(tb.dockerHost).version(5_000);
    for (const apply of ['auto', 'reload'] as const) {
      const error = await addMirror(opts({ mirror: 'https://mirror.example.com/prefix', apply })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidMirrorError);
      expect((error as Error).message).toBe(`Docker ${Version} does not accept a mirror URL with a path: https://mirror.example.com/prefix`);
    }
    expect(await readFile(tb.configFile, 'utf8')).toBe(ORIGINAL);
    expect((await live()).mirrors).toEqual([]);
  });

  it('--apply none still refuses a path mirror its 20.10 would reject', async () => {
    await reset();
    const error = await addMirror(opts({ mirror: 'https://mirror.example.com/prefix', apply: 'none' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidMirrorError);
    expect((error as Error).message).toContain(`dockerd pid ${tb.pid}, which reads ${tb.configFile}`);
    expect(await readFile(tb.configFile, 'utf8')).toBe(ORIGINAL);
    // Paths a browser's parser would fold into "/" are still paths to dockerd, which refuses them at its next reload.
    const { Version } = await createEngine(tb.dockerHost).version(5_000);
    for (const mirror of ['http://127.0.0.1:5301/.', 'http://127.0.0.1:5301/a/..', 'http://127.0.0.1:5301/%2e']) {
      const folded = await addMirror(opts({ mirror, apply: 'none' })).catch((e: unknown) => e);
      expect(folded).toBeInstanceOf(InvalidMirrorError);
      expect((folded as Error).message).toBe(
        `Docker ${Version} does not accept a mirror URL with a path: ${mirror} (the version of dockerd pid ${tb.pid}, which reads ${tb.configFile}). Nothing was written.`,
      );
      expect(await readFile(tb.configFile, 'utf8')).toBe(ORIGINAL);
    }
    // A plain host is fine with --apply none, and the daemon is left alone.
    const ok = await addMirror(opts({ mirror: 'https://mirror.example.com', apply: 'none' }));
    expect(ok.apply).toEqual({ method: 'none', reason: '--apply none: the daemon was not told' });
    expect((await live()).mirrors).toEqual([]);
  });
});

describe('apply', () => {
  it('after a hand edit: the daemon loads what the file says, confirmed live', async () => {
    await reset();
    const edited = '{\n  "labels": ["dm=truth"],\n  "registry-mirrors": ["http://127.0.0.1:5104"]\n}\n';
    await writeFile(tb.configFile, edited);
    expect((await getStatus(opts())).pending).toContain('http://127.0.0.1:5104');
    const doctor = await runDoctor(opts());
    expect(doctor.findings.map((f) => f.fix).join('\n')).toContain('dockmirror apply');
    const result = await applyConfig(opts({ timeoutMs: 10_000 }));
    expect(result.apply).toMatchObject({ method: 'reload', live: { mirrors: ['http://127.0.0.1:5104/'] } });
    expect(await readFile(tb.configFile, 'utf8')).toBe(edited);
    // Again: nothing to do.
    expect((await applyConfig(opts({ timeoutMs: 10_000 }))).apply).toMatchObject({ method: 'none', reason: 'the daemon already uses what the file says' });
  });

  it('after a hand removal of the key: the live mirrors are cleared and the bytes are kept', async () => {
    await reset('{\n  "registry-mirrors": ["http://127.0.0.1:5105"]\n}\n');
    await expect.poll(async () => (await live()).mirrors, { timeout: 5_000 }).toEqual(['http://127.0.0.1:5105/']);
    await writeFile(tb.configFile, ORIGINAL);
    const state = opts({ timeoutMs: 10_000 });
    const result = await applyConfig(state);
    expect(result.apply).toMatchObject({ liveFrom: 'reload event', live: { mirrors: [], insecureRegistries: [] } });
    expect(await live()).toEqual({ mirrors: [], insecureRegistries: [] });
    expect(await readFile(tb.configFile, 'utf8')).toBe(ORIGINAL);
    // The apply left nothing to roll back: its journal entry, same bytes before and after, is closed.
    expect((await listBackups(state)).backups).toEqual([]);
    const entries = await new Journal(state.stateDir).entries();
    expect(entries.map((e) => [e.op, e.status])).toEqual([['apply', 'aborted']]);
    expect(await readFile(join(state.stateDir, 'journal.jsonl'), 'utf8')).toContain('"reason":"apply: daemon.json unchanged"');
    expect(entries[0]?.files[0]?.before.sha256).toBe(entries[0]?.files[0]?.after.sha256);
    // The mode is recorded too, so a recovery would put the file back as it was.
    expect(entries[0]?.files[0]?.before.mode).toBe((await stat(tb.configFile)).mode & 0o7777);
    // Now the daemon has what the file (no mirror keys at all) means: nothing more to do.
    expect((await applyConfig(opts({ timeoutMs: 10_000 }))).apply).toMatchObject({ method: 'none', reason: 'the daemon already uses what the file says' });
  });

  it('an insecure registry live that the file no longer lists is a difference too, and is cleared', async () => {
    await reset('{\n  "registry-mirrors": ["http://127.0.0.1:5119"],\n  "insecure-registries": ["reg.test:5119"]\n}\n');
    await expect.poll(async () => (await live()).insecureRegistries, { timeout: 5_000 }).toEqual(['reg.test:5119']);
    const bytes = '{\n  "registry-mirrors": ["http://127.0.0.1:5119"]\n}\n';
    await writeFile(tb.configFile, bytes);
    const result = await applyConfig(opts({ timeoutMs: 10_000 }));
    expect(result.apply).toMatchObject({ method: 'reload', live: { mirrors: ['http://127.0.0.1:5119/'], insecureRegistries: [] } });
    expect(await readFile(tb.configFile, 'utf8')).toBe(bytes);
  });

  it('after the file was deleted by hand: the live settings are cleared and the file stays absent', async () => {
    await reset('{\n  "registry-mirrors": ["http://127.0.0.1:5118"]\n}\n');
    await rm(tb.configFile);
    try {
      const result = await applyConfig(opts({ timeoutMs: 10_000 }));
      expect(result.apply).toMatchObject({ method: 'reload', live: { mirrors: [], insecureRegistries: [] } });
      expect(await live()).toEqual({ mirrors: [], insecureRegistries: [] });
      // The reload saw the keys spelled out as []; afterwards there is no file again, not an empty one.
      expect(existsSync(tb.configFile)).toBe(false);
    } finally {
      await writeFile(tb.configFile, ORIGINAL);
    }
  });

  it('add --apply reload of a mirror the file already has applies it when the live config differs', async () => {
    const bytes = '{\n  "registry-mirrors": ["http://127.0.0.1:5106"]\n}\n';
    await reset();
    await writeFile(tb.configFile, bytes);
    const result = await addMirror(opts({ mirror: 'http://127.0.0.1:5106', insecure: false, apply: 'reload', timeoutMs: 10_000 }));
    expect(result.changed).toBe(false);
    expect(result.apply.method).toBe('reload');
    expect((await live()).mirrors).toEqual(['http://127.0.0.1:5106/']);
    // Without an explicit --apply, an unchanged file is left alone as before, live config and all.
    await reset(bytes);
    await writeFile(tb.configFile, bytes.replace('5106', '5116'));
    const quiet = await addMirror(opts({ mirror: 'http://127.0.0.1:5116', insecure: false, timeoutMs: 10_000 }));
    expect(quiet.apply).toEqual({ method: 'none', reason: 'nothing changed' });
    expect((await live()).mirrors).toEqual(['http://127.0.0.1:5106/']);
  });

  it('a reload dockerd refuses is known from its missing reload event, not after the whole timeout', async () => {
    await reset();
    const bad = '{"debug": "yes", "registry-mirrors": ["http://127.0.0.1:5107"]}\n';
    await writeFile(tb.configFile, bad);
    const error = await applyConfig(opts({ timeoutMs: 60_000 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplyError);
    expect((error as Error).message).toContain('It sent no reload event within 3 s: it refused the reload.');
    expect((error as ApplyError).details).toMatchObject({ reloadEvent: false });
    // What it saw and what it wanted, and where the daemon's log is (which says why it refused).
    const { logHint } = await detectSetup({ endpoint: tb.dockerHost, env: {} });
    expect(logHint).toContain(tb.logFile);
    expect(error).toMatchObject({
      message: 'The Docker daemon did not take the file: mirrors: daemon has [], file asks for [http://127.0.0.1:5107]. It sent no reload event within 3 s: it refused the reload.',
      hint: `Look at the daemon's log: ${logHint}`,
      details: {
        live: { mirrors: [], insecureRegistries: [] },
        expected: { mirrors: ['http://127.0.0.1:5107'], insecureRegistries: [] },
        mismatch: 'mirrors: daemon has [], file asks for [http://127.0.0.1:5107]',
        reloadEvent: false,
        logHint,
        endpoint: tb.dockerHost,
      },
    });
    expect(await readFile(tb.configFile, 'utf8')).toBe(bad);
    expect((await live()).mirrors).toEqual([]);
  });

  it('a change to a file the daemon refuses anyway: restored, and the message says the daemon refused both', async () => {
    await reset('{\n  "registry-mirrors": ["http://127.0.0.1:5113"]\n}\n');
    await tb.reload();
    await expect.poll(async () => (await live()).mirrors, { timeout: 5_000 }).toEqual(['http://127.0.0.1:5113/']);
    // Not what the daemon runs, and not a file it takes: the old bytes cannot be confirmed live either.
    const bad = '{"debug": "yes", "registry-mirrors": ["http://127.0.0.1:5114"]}\n';
    await writeFile(tb.configFile, bad);
    const error = await addMirror(opts({ mirror: 'http://127.0.0.1:5112', timeoutMs: 30_000 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplyError);
    expect((error as Error).message).toContain('was restored to its previous bytes, but the daemon refused to reload them too');
    expect((error as Error).message).not.toContain('check that Docker is running');
    expect(await readFile(tb.configFile, 'utf8')).toBe(bad);
  });

  it('with no daemon that reads the file and none answering: exit-5 kind of error, not success', async () => {
    const file = join(tb.dir, 'nobody-reads.json');
    await writeFile(file, '{"registry-mirrors": ["http://127.0.0.1:5108"]}\n');
    const none = `unix://${tb.dir}/none.sock`;
    const error = await applyConfig(opts({ configFile: file, dockerHost: none, timeoutMs: 1_000 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DaemonUnreachableError);
    const reason = `no Docker daemon answered at ${none} and no running dockerd reads ${file}; the change takes effect when Docker starts`;
    expect(error).toMatchObject({
      message: `No daemon was told to load ${file}: ${reason}.`,
      hint: 'Start Docker, or point --docker-host at the daemon that reads this file, then run `dockmirror apply`.',
      details: { file, reason },
    });
  });

  it('--apply none is taken as auto (apply is the telling), and the result describes the file, which is unchanged', async () => {
    await reset();
    const edited = '{\n  "labels": ["dm=truth"],\n  "registry-mirrors": ["http://127.0.0.1:5115"],\n  "insecure-registries": ["reg.test:5115"]\n}\n';
    await writeFile(tb.configFile, edited);
    const state = opts({ apply: 'none', timeoutMs: 10_000 });
    const started = performance.now();
    const result = await applyConfig(state);
    // The wait it reports is its own, measured inside the call: never more than the call took from outside.
    expect(result.apply.elapsedMs).toBeLessThanOrEqual(Math.ceil(performance.now() - started));
    const apply = {
      method: 'reload',
      reason: `dockerd without a service manager: SIGHUP to pid ${tb.pid}`,
      endpoint: tb.dockerHost,
      setup: 'plain',
      live: { mirrors: ['http://127.0.0.1:5115/'], insecureRegistries: ['reg.test:5115'] },
      liveFrom: 'reload event',
      elapsedMs: expect.any(Number),
    };
    expect(result).toEqual({
      changed: false,
      dryRun: false,
      engine: 'docker',
      registry: 'docker.io',
      configFile: tb.configFile,
      configSetup: result.configSetup,
      stateDir: state.stateDir,
      mirrors: ['http://127.0.0.1:5115'],
      insecureRegistries: ['reg.test:5115'],
      backup: null,
      diff: '',
      warnings: [],
      apply,
      engines: [{ engine: 'docker', configFile: tb.configFile, configSetup: result.configSetup, files: [], apply }],
    });
    expect(typeof result.configSetup).toBe('string');
    expect(await readFile(tb.configFile, 'utf8')).toBe(edited);
    expect((await listBackups(state)).backups).toEqual([]);
  });

  it('interrupted before the daemon is told: the file keeps its exact bytes, and the message says what to run', async () => {
    await reset();
    // No insecure-registries key: the reload would spell it out as [] for a moment; the interrupt comes then.
    const edited = '{\n  "labels": ["dm=truth"],\n  "registry-mirrors": ["http://127.0.0.1:5117"]\n}\n';
    await writeFile(tb.configFile, edited);
    const controller = new AbortController();
    const seen: string[] = [];
    const state = opts({
      timeoutMs: 10_000,
      signal: controller.signal,
      onProgress: (message: string) => {
        if (message.startsWith('Reloading')) {
          seen.push(message);
          controller.abort();
        }
      },
    });
    const error = await applyConfig(state).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InterruptedError);
    expect((error as Error).message).toBe(
      `Interrupted: ${tb.configFile} is unchanged and the daemon was not told. Run \`dockmirror apply\` again to make it load the file.`,
    );
    expect(seen).toEqual([`Reloading the Docker daemon (dockerd without a service manager: SIGHUP to pid ${tb.pid})`]);
    expect(await readFile(tb.configFile, 'utf8')).toBe(edited);
    expect((await live()).mirrors).toEqual([]);
    expect((await listBackups(state)).backups).toEqual([]);
  });
});

describe('status and doctor for a file no daemon reads', () => {
  it('say which file the daemon reads, and the fix names the env var as an env var', async () => {
    const file = join(tb.dir, 'elsewhere.json');
    await writeFile(file, '{"registry-mirrors": ["http://127.0.0.1:5109"]}\n');
    const env = { DOCKER_CONFIG: join(home, '.docker'), DOCKMIRROR_CONFIG_FILE: file };
    const status = await getStatus({ dockerHost: tb.dockerHost, env, homedir: home, stateDir: join(tb.dir, 'state-env') });
    expect(status.configReason).toBe('set by DOCKMIRROR_CONFIG_FILE');
    expect(status.daemon).toMatchObject({ reachable: true, readsOtherFile: tb.configFile });
    expect(status.pending).toBeNull();
    const doctor = await runDoctor({ dockerHost: tb.dockerHost, env, homedir: home, stateDir: join(tb.dir, 'state-env') });
    const finding = doctor.findings.find((f) => f.problem.startsWith('No running dockerd reads'));
    expect(finding?.fix).toContain('Unset the environment variable DOCKMIRROR_CONFIG_FILE');
    expect(doctor.findings.map((f) => f.fix).join('\n')).not.toContain('Reload Docker');
  });
});

describe('an interrupted change', () => {
  it('says what the file and the daemon hold, stays settleable, and rollback --dry-run settles it as rollback does', async () => {
    await reset();
    const controller = new AbortController();
    const state = opts({
      timeoutMs: 10_000,
      signal: controller.signal,
      // Ctrl-C at the moment the daemon is about to be told.
      onProgress: (message: string) => {
        if (message.startsWith('Reloading')) controller.abort();
      },
    });
    const error = await addMirror({ ...state, mirror: 'http://127.0.0.1:5110' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InterruptedError);
    const { backups } = await listBackups(state);
    expect(backups).toHaveLength(1);
    expect(backups[0]).toMatchObject({ status: 'pending', op: 'mirror add' });
    expect((error as Error).message).toBe(
      `Interrupted: ${tb.configFile} holds the change (backup ${backups[0]?.id}) and the daemon was not told. Run \`dockmirror apply\` to make the daemon load the file, or \`dockmirror rollback\` to undo it.`,
    );
    const changed = await readFile(tb.configFile, 'utf8');
    expect(changed).toContain('http://127.0.0.1:5110');
    // The lock was released: a dry run and the real rollback both get it.
    const plain = { configFile: state.configFile, stateDir: state.stateDir, env: state.env, homedir: home, timeoutMs: 10_000 };
    const dry = await rollback({ ...plain, dryRun: true });
    expect(dry.changed).toBe(true);
    expect(dry.diff).toContain('-    "http://127.0.0.1:5110"');
    expect(await readFile(tb.configFile, 'utf8')).toBe(changed);
    const real = await rollback(plain);
    expect(real.changed).toBe(true);
    expect(await readFile(tb.configFile, 'utf8')).toBe(ORIGINAL);
    expect((await live()).mirrors).toEqual([]);
  });

  it('before the daemon is asked: nothing is written', async () => {
    await reset();
    const controller = new AbortController();
    controller.abort();
    const error = await addMirror(opts({ mirror: 'http://127.0.0.1:5111', signal: controller.signal })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InterruptedError);
    expect((error as Error).message).toBe('Interrupted; nothing was written.');
    expect(await readFile(tb.configFile, 'utf8')).toBe(ORIGINAL);
  });
});
