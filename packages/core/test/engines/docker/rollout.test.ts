// How a Docker config change is rolled out (rollout.ts), against a stand-in Engine that can be told exactly how
// to behave: when its `/events` headers come, whether a reload sends its event and takes the file, what `/info`
// answers right after the reload, which containers run. The stand-in is "reloaded" by the plan's command, a
// real `curl` to its socket (or by a fake `systemctl` that runs that curl), so the daemon is told as a service
// manager would tell it; nothing on this machine is reloaded, and all traffic stays on unix sockets.
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readDaemonConfig } from '../../../src/config/io.js';
import type { ApplyPlan } from '../../../src/daemon/service.js';
import { createEngine } from '../../../src/daemon/engine.js';
import { ApplyError, DaemonError, DaemonUnreachableError, FlagConflictError, InterruptedError, LockTimeoutError, UsageError } from '../../../src/errors.js';
import { applyConfig } from '../../../src/operations/apply-config.js';
import { addMirror } from '../../../src/operations/mirrors.js';
import { withLock } from '../../../src/state/lock.js';
import type { DaemonConnection } from '../../../src/engines/docker/discovery.js';
import {
  applyToDaemon,
  fileTheDaemonReads,
  preflightDaemon,
  refuseConflictsWithoutClient,
  type DaemonHandle,
} from '../../../src/engines/docker/rollout.js';
import { setup } from '../../support/daemon-setup.js';
import { answer, serve } from '../../support/hostile-server.js';
import { isolated } from '../../support/hermetic.js';

const LOG_HINT = 'journalctl -u docker.service';
const MIRROR = 'http://127.0.0.1:5201';

/** What the stand-in does; reset before each test. */
interface Behaviour {
  /** Delay before the `/events` response headers. */
  eventsDelayMs: number;
  /** Whether a reload sends the `reload` event. */
  event: boolean;
  /** Whether a reload takes the file (its mirror keys become /info's), and how long after the event. */
  take: boolean;
  takeLagMs: number;
  /** Answers for the next `/info` requests, first one first; an empty queue answers the current settings. */
  infoQueue: ((socket: Socket) => void)[];
  /** The `/containers/json` body; undefined answers 404. */
  containers: string | undefined;
}

let dir: string;
let socketPath: string;
let endpoint: string;
let file: string;
const servers: Server[] = [];
const timers = new Set<NodeJS.Timeout>();
let behaviour: Behaviour;
/** The stand-in's live registry settings. */
let live: { mirrors: string[]; insecure: string[] };
/** Open `/events` subscriptions, and how many were ever opened. */
const events = new Set<Socket>();
let eventsOpened = 0;
let requests: string[] = [];
let savedPath: string | undefined;

function info(): string {
  return JSON.stringify({
    ServerVersion: '20.10.24',
    RegistryConfig: {
      Mirrors: live.mirrors,
      IndexConfigs: Object.fromEntries(live.insecure.map((h) => [h, { Name: h, Secure: false, Official: false }])),
      InsecureRegistryCIDRs: ['127.0.0.0/8'],
    },
  });
}

function later(ms: number, work: () => void): void {
  const timer = setTimeout(() => {
    timers.delete(timer);
    work();
  }, ms);
  timers.add(timer);
}

/** What the stand-in does when told to reload: read the file as dockerd would, then take it and say so. */
function reload(): void {
  const text = readFileSync(file, 'utf8');
  const json = JSON.parse(text) as { 'registry-mirrors'?: string[]; 'insecure-registries'?: string[] };
  const take = (): void => {
    if (json['registry-mirrors']) live.mirrors = json['registry-mirrors'].map((m) => `${m.replace(/\/+$/, '')}/`);
    if (json['insecure-registries']) live.insecure = json['insecure-registries'];
  };
  if (behaviour.take && behaviour.takeLagMs === 0) take();
  if (behaviour.event) for (const s of events) s.write('{"Type":"daemon","Action":"reload","Actor":{"ID":"x"}}\n');
  if (behaviour.take && behaviour.takeLagMs > 0) later(behaviour.takeLagMs, take);
}

function route(url: string, socket: Socket): void {
  requests.push(url);
  if (/\/_ping$/.test(url)) return void socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK');
  if (/\/version$/.test(url)) return answer(socket, '200 OK', JSON.stringify({ Version: '20.10.24', ApiVersion: '1.41', MinAPIVersion: '1.12', Os: 'linux' }));
  if (/\/info$/.test(url)) {
    const next = behaviour.infoQueue.shift();
    return next ? next(socket) : answer(socket, '200 OK', info());
  }
  if (/\/events\?/.test(url)) {
    return later(behaviour.eventsDelayMs, () => {
      if (socket.destroyed) return;
      eventsOpened += 1;
      events.add(socket);
      socket.once('close', () => events.delete(socket));
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n');
    });
  }
  if (/\/containers\/json/.test(url) && behaviour.containers !== undefined) return answer(socket, '200 OK', behaviour.containers);
  if (/\/dm\/reload$/.test(url)) {
    reload();
    return answer(socket, '200 OK', '{}');
  }
  answer(socket, '404 Not Found', '{"message":"not in the stand-in"}');
}

/** The stand-in's reload, as a service manager's command: a real curl to its socket. */
const curlReload = (): string[] => ['curl', '-sf', '--unix-socket', socketPath, 'http://docker/dm/reload'];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-rollout-'));
  endpoint = await serve(dir, servers, 'engine', (url, socket) => route(url, socket));
  socketPath = endpoint.slice('unix://'.length);
  // A fake systemctl: `reload docker` reloads the stand-in, `cat` prints $dir/unit.txt when there is one.
  const bin = path.join(dir, 'bin');
  await mkdir(bin);
  await writeFile(
    path.join(bin, 'systemctl'),
    `#!/bin/sh
echo "systemctl $*" >> ${JSON.stringify(path.join(dir, 'calls.log'))}
case "$*" in
  *reload*|*restart*) exec ${curlReload().map((w) => `'${w}'`).join(' ')} ;;
  *cat*) [ -f ${JSON.stringify(path.join(dir, 'unit.txt'))} ] && cat ${JSON.stringify(path.join(dir, 'unit.txt'))} ;;
esac
exit 0
`,
  );
  await chmod(path.join(bin, 'systemctl'), 0o755);
  // The apply step and the flag-conflict check run systemctl from this process's PATH.
  savedPath = process.env.PATH;
  process.env.PATH = `${bin}:${savedPath ?? ''}`;
});
afterAll(async () => {
  process.env.PATH = savedPath;
  for (const s of events) s.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
beforeEach(async () => {
  behaviour = { eventsDelayMs: 0, event: true, take: true, takeLagMs: 0, infoQueue: [], containers: '[]' };
  live = { mirrors: [], insecure: [] };
  requests = [];
  eventsOpened = 0;
  file = path.join(dir, `daemon-${++n}.json`);
  await writeFile(file, `{\n  "registry-mirrors": ["${MIRROR}"],\n  "insecure-registries": []\n}\n`);
  await rm(path.join(dir, 'unit.txt'), { force: true });
});
afterEach(() => {
  for (const timer of timers) clearTimeout(timer);
  timers.clear();
  for (const s of events) s.destroy();
});

/** A connection to the stand-in as discovery would make it, for a systemd setup. */
async function connection(): Promise<DaemonConnection> {
  const engine = createEngine(endpoint);
  return { endpoint, endpointSource: 'option', engine, version: '20.10.24', info: await engine.info(5_000), setup: setup('systemd', { logHint: LOG_HINT }) };
}

async function handle(plan: Partial<ApplyPlan>, options: Record<string, unknown> = {}): Promise<DaemonHandle> {
  const whole: ApplyPlan = { method: 'reload', command: curlReload(), stopsContainers: false, why: 'test: reload through the stand-in', ...plan };
  return { kind: 'apply', options: { ...isolated(dir), ...options }, connection: await connection(), plan: whole };
}

const failure = async (work: Promise<unknown>): Promise<ApplyError> => {
  const error = await work.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ApplyError);
  return error as ApplyError;
};

describe('applyToDaemon: a reload and its event', () => {
  it('a reload refused is known from the missing event even when the /events headers come late', async () => {
    // Headers after 300 ms: well within the subscription's own 2 s for them, whatever the --timeout.
    Object.assign(behaviour, { eventsDelayMs: 300, event: false, take: false });
    const error = await failure(applyToDaemon(await handle({}, { timeoutMs: 1_000 }), { file, after: await readDaemonConfig(file) }));
    expect(error.message).toBe(
      `The Docker daemon did not take the change: mirrors: daemon has [], file asks for [${MIRROR}]. It sent no reload event within 1 s: it refused the reload.`,
    );
    expect(error.details).toMatchObject({ reloadEvent: false, logHint: LOG_HINT, endpoint });
    expect(requests.filter((r) => r.endsWith('/dm/reload'))).toHaveLength(1);
  });

  it('after its reload event, what /info shows within the grace is final: a later change is not waited for', async () => {
    // The event comes at once, but /info shows the file only 5 s later: the apply does not wait the 10 s timeout.
    Object.assign(behaviour, { takeLagMs: 5_000 });
    const error = await failure(applyToDaemon(await handle({}, { timeoutMs: 10_000 }), { file, after: await readDaemonConfig(file) }));
    const mismatch = `mirrors: daemon has [], file asks for [${MIRROR}]`;
    expect(error).toMatchObject({
      message: `The Docker daemon did not take the change: ${mismatch}.`,
      hint: `Look at the daemon's log: ${LOG_HINT}`,
      details: {
        live: { mirrors: [], insecureRegistries: [] },
        expected: { mirrors: [MIRROR], insecureRegistries: [] },
        mismatch,
        logHint: LOG_HINT,
        endpoint,
      },
    });
    expect(error.details).not.toHaveProperty('reloadEvent');
  });

  it('while it waits for the daemon to show the change, it says so, in whole seconds', async () => {
    Object.assign(behaviour, { event: false, take: false });
    const progress: string[] = [];
    const options = { timeoutMs: 1_000, onProgress: (m: string) => progress.push(m) };
    const ready = await handle({}, options);
    // No event and no /info answer right after the reload (it times out): the wait is confirmLive's.
    behaviour.infoQueue.push(() => undefined);
    await failure(applyToDaemon(ready, { file, after: await readDaemonConfig(file) }));
    expect(progress[0]).toBe('Reloading the Docker daemon (test: reload through the stand-in)');
    const waits = progress.slice(1);
    expect(waits.length).toBeGreaterThan(0);
    for (const line of waits) expect(line).toMatch(/^Waiting for the daemon to show the change \([01] s\)$/);
  });
});

describe('applyToDaemon: the live check right after a reload without an event', () => {
  it('an /info that times out then is left to the wait for the change, which reports what it saw', async () => {
    // The first /info after the reload answers after 2 s, past this call's 1 s; the next ones at once.
    Object.assign(behaviour, { event: false, take: false });
    const ready = await handle({}, { timeoutMs: 1_000 });
    behaviour.infoQueue.push((socket) => later(2_000, () => answer(socket, '200 OK', info())));
    const error = await failure(applyToDaemon(ready, { file, after: await readDaemonConfig(file) }));
    expect(error.message).toBe(`The Docker daemon did not take the change: mirrors: daemon has [], file asks for [${MIRROR}].`);
    expect(error.details).not.toHaveProperty('reloadEvent');
  });

  it('an /info the daemon answers with an error is an apply failure that says so, with the log hint', async () => {
    // It took the file but sent no event, and refused the /info right after: that error is not swallowed.
    Object.assign(behaviour, { event: false });
    const ready = await handle({}, { timeoutMs: 1_000 });
    behaviour.infoQueue.push((socket) => answer(socket, '500 Internal Server Error', '{"message":"info is broken"}'));
    const error = await failure(applyToDaemon(ready, { file, after: await readDaemonConfig(file) }));
    expect(error.cause).toBeInstanceOf(DaemonError);
    expect((error.cause as Error).message).toBe('The Docker daemon refused GET /info: info is broken');
    expect(error).toMatchObject({
      message: 'Applying the change failed: The Docker daemon refused GET /info: info is broken',
      hint: `Look at the daemon's log: ${LOG_HINT}`,
      details: { logHint: LOG_HINT, endpoint },
    });
    // The daemon did take the file: only the answer was refused.
    expect(live.mirrors).toEqual([`${MIRROR}/`]);
  });
});

describe('applyToDaemon: a restart', () => {
  it('is confirmed by waiting for the daemon to show the file, not judged by a reload event', async () => {
    // The restart command returns while the old daemon still answers; the restarted one shows the file 4 s later.
    Object.assign(behaviour, { event: false, takeLagMs: 4_000 });
    const report = await applyToDaemon(await handle({ method: 'restart', stopsContainers: true, why: 'test: restart' }, { timeoutMs: 10_000 }), {
      file,
      after: await readDaemonConfig(file),
    });
    expect(report).toMatchObject({ method: 'restart', reason: 'test: restart', live: { mirrors: [`${MIRROR}/`], insecureRegistries: [] } });
    expect(eventsOpened).toBe(0);
  });

  it('writes nothing: a file without mirror keys, in a folder dockmirror will not write to, is restarted on as it is', async () => {
    // A folder other users can write: dockmirror refuses to write there, but a restart needs no write.
    const open = path.join(dir, `open-${n}`);
    await mkdir(open);
    await chmod(open, 0o777);
    const bare = path.join(open, 'daemon.json');
    await writeFile(bare, '{"labels": ["dm=restart"]}\n');
    const after = await readDaemonConfig(bare);
    const plan = { method: 'restart' as const, command: ['true'], stopsContainers: true, why: 'test: restart' };
    const report = await applyToDaemon(await handle(plan, { timeoutMs: 1_000 }), { file: bare, after });
    expect(report).toMatchObject({ method: 'restart', live: { mirrors: [], insecureRegistries: [] } });
    expect(await readFile(bare, 'utf8')).toBe('{"labels": ["dm=restart"]}\n');
  });
});

describe('applyToDaemon: failures around the command', () => {
  it('a failed spelled-out write closes the reload subscription and tells the daemon nothing', async () => {
    // A file with no mirror keys, under a path whose folder is a regular file: the brief `[]` write cannot be made.
    const after = await readDaemonConfig(path.join(dir, `absent-${n}.json`));
    const blocked = path.join(file, 'daemon.json');
    const error = await applyToDaemon(await handle({}, { timeoutMs: 60_000 }), { file: blocked, after }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain(`${file} is not a folder`);
    expect(eventsOpened).toBe(1);
    // Not left open until its own 63 s deadline.
    await expect.poll(() => events.size, { timeout: 3_000 }).toBe(0);
    expect(requests.filter((r) => r.endsWith('/dm/reload'))).toEqual([]);
  });

  it('Ctrl-C while the service command runs ends that command, and says the daemon was sent the restart', async () => {
    const pidFile = path.join(dir, `command-${n}.pid`);
    const controller = new AbortController();
    const plan = { method: 'restart' as const, command: ['sh', '-c', `echo $$ > '${pidFile}'; exec sleep 30`], stopsContainers: true, why: 'test' };
    const progress: string[] = [];
    const options = { timeoutMs: 5_000, signal: controller.signal, onProgress: (m: string) => progress.push(m) };
    const running = applyToDaemon(await handle(plan, options), { file, after: await readDaemonConfig(file) });
    const settled = running.then(() => undefined, (e: unknown) => e);
    await expect.poll(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', { timeout: 5_000 }).toBe(true);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    try {
      controller.abort();
      const error = await settled;
      expect(error).toBeInstanceOf(InterruptedError);
      expect((error as InterruptedError).details).toMatchObject({ interrupted: true, daemon: 'was sent a restart but not yet seen to take it' });
      expect(progress).toEqual(['Restarting the Docker daemon (test)']);
      // The command (the `sleep` it became) got the abort's signal and is gone, not left running for 30 s.
      await expect.poll(() => alive(pid), { timeout: 3_000 }).toBe(false);
    } finally {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });

  it("a failed command's own hint is kept, and the daemon's log is added to it", async () => {
    const plan = { method: 'restart' as const, command: ['dm-no-such-command', 'restart'], stopsContainers: true, why: 'test' };
    const error = await failure(applyToDaemon(await handle(plan, { timeoutMs: 5_000 }), { file, after: await readDaemonConfig(file) }));
    expect(error).toMatchObject({
      message: '`dm-no-such-command restart` failed (command not found)',
      hint: `Install dm-no-such-command or choose another apply method. Look at the daemon's log: ${LOG_HINT}`,
      details: { command: ['dm-no-such-command', 'restart'], logHint: LOG_HINT, endpoint },
    });
  });
});

describe('preflightDaemon', () => {
  const options = (extra: Record<string, unknown> = {}) => ({
    ...isolated(dir),
    dockerHost: endpoint,
    env: { DOCKMIRROR_SETUP: 'systemd' },
    stateDir: path.join(dir, `state-${n}`),
    timeoutMs: 5_000,
    ...extra,
  });
  const context = async () => ({ file, after: await readDaemonConfig(file), newMirrors: [MIRROR] });

  it('a daemon not seen in /proc, of a kind whose default file is another one, is still told about this file', async () => {
    // Running containers: a reload stops none, so nobody is asked.
    behaviour.containers = JSON.stringify([{ Id: 'a'.repeat(64), Names: ['/web'] }]);
    const ready = await preflightDaemon(options(), await context());
    expect(ready).toMatchObject({ kind: 'apply', plan: { method: 'reload', command: ['systemctl', 'reload', 'docker'] } });
    const started = performance.now();
    const report = await applyToDaemon(ready, { file, after: await readDaemonConfig(file) });
    // The wait it reports is its own, measured inside the call: never more than the call took from outside.
    expect(report.elapsedMs).toBeGreaterThanOrEqual(0);
    expect(report.elapsedMs).toBeLessThanOrEqual(Math.ceil(performance.now() - started));
    expect(report).toMatchObject({ method: 'reload', endpoint, setup: 'systemd', live: { mirrors: [`${MIRROR}/`], insecureRegistries: [] } });
    expect(live.mirrors).toEqual([`${MIRROR}/`]);
  });

  it('asks before a restart naming each running container, by its name or else its short id', async () => {
    behaviour.containers = JSON.stringify([{ Id: 'a'.repeat(64), Names: ['/web'] }, { Id: `${'b'.repeat(12)}${'c'.repeat(52)}`, Names: [] }]);
    const questions: string[] = [];
    const confirm = async (question: string) => (questions.push(question), false);
    const error = await preflightDaemon(options({ apply: 'restart', confirm }), await context()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe('Not applied: a restart would stop 2 running container(s): web, bbbbbbbbbbbb. Nothing was written.');
    expect(questions).toEqual(['Applying needs a restart (systemd service: restart requested) that stops 2 running container(s): web, bbbbbbbbbbbb. Continue?']);
  });

  it('an endpoint refused for a reason that merely mentions "Nothing was written." still ends with it', async () => {
    const odd = 'tcp://127.0.0.1:2375/Nothing was written.';
    const error = await preflightDaemon(options({ dockerHost: odd }), await context()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(`Docker endpoint "${odd}" has a path, which dockmirror does not support. Nothing was written.`);
  });
});

describe('fileTheDaemonReads: the setup default', () => {
  it("is the given platform's, not this host's", () => {
    const home = path.join(dir, 'home');
    expect(fileTheDaemonReads(setup('systemd'), { env: {}, platform: 'darwin', homedir: home })).toBe(path.join(home, '.docker', 'daemon.json'));
    expect(fileTheDaemonReads(setup('windows-engine'), { env: { ProgramData: 'D:\\Data' }, platform: 'win32', homedir: home })).toBe('D:\\Data\\docker\\config\\daemon.json');
  });

  it("is a Desktop's or a rootless daemon's own on Linux", () => {
    const home = path.join(dir, 'home');
    expect(fileTheDaemonReads(setup('desktop'), { env: {}, platform: 'linux', homedir: home })).toBe(path.join(home, '.docker', 'daemon.json'));
    expect(fileTheDaemonReads(setup('rootless'), { env: {}, platform: 'linux', homedir: home })).toBe(path.join(home, '.config', 'docker', 'daemon.json'));
  });
});

describe('refuseConflictsWithoutClient', () => {
  it('judges no daemon when the endpoint cannot be resolved (a docker context that does not exist)', async () => {
    // A rootless unit whose dockerd gets --registry-mirror, and this very file as the rootless default: if any
    // daemon were judged, this file's registry-mirrors would conflict with that flag.
    const home = path.join(dir, `home-${n}`);
    const rootlessFile = path.join(home, '.config', 'docker', 'daemon.json');
    await mkdir(path.dirname(rootlessFile), { recursive: true });
    await writeFile(rootlessFile, `{"registry-mirrors": ["${MIRROR}"]}\n`);
    await writeFile(path.join(dir, 'unit.txt'), '# /home/u/.config/systemd/user/docker.service\n[Service]\nExecStart=/usr/bin/dockerd-rootless.sh --registry-mirror http://flag.example\n');
    const after = await readDaemonConfig(rootlessFile);
    const env = { DOCKMIRROR_SETUP: 'rootless', DOCKER_CONFIG: path.join(home, '.docker') };
    // The same setup with an endpoint that resolves is refused: the test's conflict is real.
    const judged = await refuseConflictsWithoutClient({ platform: 'linux', homedir: home, env, dockerHost: `unix://${dir}/none.sock` }, { file: rootlessFile, after }).catch((e: unknown) => e);
    expect(judged).toBeInstanceOf(FlagConflictError);
    await expect(
      refuseConflictsWithoutClient({ platform: 'linux', homedir: home, env: { ...env, DOCKER_CONTEXT: 'gone' } }, { file: rootlessFile, after }),
    ).resolves.toBeUndefined();
    expect(await readFile(rootlessFile, 'utf8')).toContain(MIRROR);
  });
});

describe('applyConfig', () => {
  const options = (extra: Record<string, unknown> = {}) => ({
    ...isolated(dir),
    dockerHost: endpoint,
    env: { DOCKMIRROR_SETUP: 'systemd' },
    configFile: file,
    stateDir: path.join(dir, `state-${n}`),
    timeoutMs: 5_000,
    ...extra,
  });

  it('--apply none is taken as auto; the result describes the file, with what reading the journal met', async () => {
    const stateDir = path.join(dir, `state-${n}`);
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    await writeFile(path.join(stateDir, 'journal.jsonl'), 'not a journal line\n');
    const result = await applyConfig(options({ apply: 'none' }));
    const apply = {
      method: 'reload',
      reason: 'systemd service: reload sends SIGHUP to dockerd',
      endpoint,
      setup: 'systemd',
      live: { mirrors: [`${MIRROR}/`], insecureRegistries: [] },
      elapsedMs: expect.any(Number),
    };
    expect(result).toEqual({
      changed: false,
      dryRun: false,
      engine: 'docker',
      registry: 'docker.io',
      configFile: file,
      configSetup: 'custom',
      stateDir,
      mirrors: [MIRROR],
      insecureRegistries: [],
      backup: null,
      diff: '',
      warnings: [
        `${path.join(stateDir, 'journal.jsonl')} line 1 was skipped: it is not JSON.`,
        `Moved 1 unreadable journal line to ${path.join(stateDir, 'journal.rejected')}.`,
      ],
      apply,
      engines: [{ engine: 'docker', configFile: file, configSetup: 'custom', files: [], apply }],
    });
    expect(live.mirrors).toEqual([`${MIRROR}/`]);
  });

  it('a file without the keys: the result lists none, and the live settings are cleared', async () => {
    await writeFile(file, '{"labels": ["dm=apply"]}\n');
    live = { mirrors: ['http://127.0.0.1:5298/'], insecure: ['reg.test:5298'] };
    const result = await applyConfig(options());
    expect(result).toMatchObject({ mirrors: [], insecureRegistries: [], apply: { method: 'reload', live: { mirrors: [], insecureRegistries: [] } } });
    expect(await readFile(file, 'utf8')).toBe('{"labels": ["dm=apply"]}\n');
  });

  it('with no daemon to tell, --apply none and no --apply both say the file was not loaded by any', async () => {
    const none = `unix://${dir}/none.sock`;
    for (const apply of ['none', undefined]) {
      const error = await applyConfig(options({ dockerHost: none, ...(apply ? { apply } : {}) })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DaemonUnreachableError);
      const reason = `no Docker daemon answered at ${none} and no running dockerd reads ${file}; the change takes effect when Docker starts`;
      expect((error as Error).message).toBe(`No daemon was told to load ${file}: ${reason}.`);
    }
  });

  it('--apply restart is kept: the daemon is restarted, not reloaded', async () => {
    const result = await applyConfig(options({ apply: 'restart', yes: true }));
    expect(result.apply).toMatchObject({ method: 'restart', reason: 'systemd service: restart requested', live: { mirrors: [`${MIRROR}/`] } });
    expect(await readFile(path.join(dir, 'calls.log'), 'utf8')).toContain('systemctl restart docker\n');
  });

  it('first settles a change killed while the file had its brief reload spelling: the exact bytes are back, and applied', async () => {
    // A change stopped as the daemon was about to be told leaves its journal entry pending.
    const bytes = '{\n  "labels": ["dm=apply"]\n}\n';
    await writeFile(file, bytes);
    const controller = new AbortController();
    const stopped = await addMirror({
      ...options({ signal: controller.signal, onProgress: (m: string) => m.startsWith('Reloading') && controller.abort() }),
      mirror: MIRROR,
      insecure: false,
    }).catch((e: unknown) => e);
    expect(stopped).toBeInstanceOf(InterruptedError);
    const changed = await readFile(file, 'utf8');
    expect(changed).toContain(MIRROR);
    // As a kill at that moment would leave it: the absent key spelled out as [] for the reload.
    const spelled = JSON.stringify({ ...JSON.parse(changed), 'insecure-registries': [] });
    await writeFile(file, spelled);
    const result = await applyConfig(options());
    expect(await readFile(file, 'utf8')).toBe(changed);
    expect(result).toMatchObject({ mirrors: [MIRROR], insecureRegistries: [], apply: { method: 'reload', live: { mirrors: [`${MIRROR}/`] } } });
  });

  it('waits for the lock only as long as it was told, and stops waiting at Ctrl-C', async () => {
    const stateDir = path.join(dir, `state-${n}`);
    let release = (): void => undefined;
    const held = new Promise<void>((r) => (release = r));
    let holding = (): void => undefined;
    const locked = new Promise<void>((r) => (holding = r));
    const holder = withLock(stateDir, async () => {
      holding();
      await held;
    });
    await locked;
    try {
      await expect(applyConfig(options({ lockTimeoutMs: 300 }))).rejects.toBeInstanceOf(LockTimeoutError);
      const controller = new AbortController();
      const waiting = applyConfig(options({ lockTimeoutMs: 20_000, signal: controller.signal })).then(() => undefined, (e: unknown) => e);
      setTimeout(() => controller.abort(), 200);
      expect(await waiting).toBeInstanceOf(InterruptedError);
    } finally {
      release();
      await holder;
    }
    expect(requests.filter((r) => r.endsWith('/dm/reload'))).toEqual([]);
  });
});

function alive(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== undefined && state !== 'Z';
  } catch {
    return false;
  }
}
