// How a Docker config change is rolled out (rollout.ts), against a scripted Engine (test/support/scripted-engine.ts)
// told exactly how to behave: when its `/events` headers come, whether a reload sends its event and takes the
// file, what `/info` answers right after the reload, which containers run. It is reloaded by the plan's command,
// a real `curl` to its socket (or by a fake `systemctl` that runs that curl), as a service manager would tell a
// daemon; nothing on this machine is reloaded, and all traffic stays on unix sockets.
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { readDaemonConfig } from '../../../src/config/io.js';
import type { ApplyPlan } from '../../../src/daemon/service.js';
import { createEngine } from '../../../src/daemon/engine.js';
import { ApplyError, DaemonError, FlagConflictError, InterruptedError, UsageError } from '../../../src/errors.js';
import type { DaemonConnection } from '../../../src/engines/docker/discovery.js';
import {
  applyToDaemon,
  fileTheDaemonReads,
  preflightDaemon,
  refuseConflictsWithoutClient,
  type DaemonHandle,
} from '../../../src/engines/docker/rollout.js';
import { setup } from '../../support/daemon-setup.js';
import { answer } from '../../support/hostile-server.js';
import { isolated } from '../../support/hermetic.js';
import { useScriptedEngine, type ScriptedEngine } from '../../support/scripted-engine.js';

const LOG_HINT = 'journalctl -u docker.service';
const MIRROR = 'http://127.0.0.1:5201';

let dir: string;
let engine: ScriptedEngine;
let endpoint: string;
let file: string;
const fx = useScriptedEngine('dm-rollout-', MIRROR);
beforeEach(() => ({ dir, engine, endpoint, file } = fx));

/** A connection to the engine as discovery would make it, for a systemd setup. */
async function connection(): Promise<DaemonConnection> {
  const client = createEngine(endpoint);
  return { endpoint, endpointSource: 'option', engine: client, version: '20.10.24', info: await client.info(5_000), setup: setup('systemd', { logHint: LOG_HINT }) };
}

async function handle(plan: Partial<ApplyPlan>, options: Record<string, unknown> = {}): Promise<DaemonHandle> {
  const whole: ApplyPlan = { method: 'reload', command: engine.reloadCommand, stopsContainers: false, why: 'test: reload through the stand-in', ...plan };
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
    Object.assign(engine.script, { eventsDelayMs: 300, event: false, take: false });
    const error = await failure(applyToDaemon(await handle({}, { timeoutMs: 1_000 }), { file, after: await readDaemonConfig(file) }));
    expect(error.message).toBe(
      `The Docker daemon did not take the change: mirrors: daemon has [], file asks for [${MIRROR}]. It sent no reload event within 1 s: it refused the reload.`,
    );
    expect(error.details).toMatchObject({ reloadEvent: false, logHint: LOG_HINT, endpoint });
    expect(engine.requests.filter((r) => r.endsWith('/dm/reload'))).toHaveLength(1);
  });

  it('after its reload event, what /info shows within the grace is final: a later change is not waited for', async () => {
    // The event comes at once, but /info shows the file only 5 s later: the apply does not wait the 10 s timeout.
    Object.assign(engine.script, { takeLagMs: 5_000 });
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
    Object.assign(engine.script, { event: false, take: false });
    const progress: string[] = [];
    const options = { timeoutMs: 1_000, onProgress: (m: string) => progress.push(m) };
    const ready = await handle({}, options);
    // No event and no /info answer right after the reload (it times out): the wait is confirmLive's.
    engine.script.infoQueue.push(() => undefined);
    await failure(applyToDaemon(ready, { file, after: await readDaemonConfig(file) }));
    expect(progress[0]).toBe('Reloading the Docker daemon (test: reload through the stand-in)');
    const waits = progress.slice(1);
    expect(waits.length).toBeGreaterThan(0);
    for (const line of waits) expect(line).toMatch(/^Waiting for the daemon to show the change \([01] s\)$/);
  });
});

describe('applyToDaemon: the settings a reload event reports', () => {
  const requestsAfterReload = (): string[] => engine.requests.slice(engine.requests.findIndex((r) => r.endsWith('/dm/reload')) + 1);

  it("an event carrying the file's settings is the proof: no GET /info after the reload", async () => {
    // /info would show the file only 5 s later: confirmed at once, it was not asked.
    Object.assign(engine.script, { reports: 'file', takeLagMs: 5_000 });
    const report = await applyToDaemon(await handle({}, { timeoutMs: 10_000 }), { file, after: await readDaemonConfig(file) });
    expect(report).toMatchObject({ method: 'reload', liveFrom: 'reload event', live: { mirrors: [`${MIRROR}/`], insecureRegistries: [] } });
    expect(requestsAfterReload()).toEqual([]);
  });

  it('an event reporting other settings is no proof: GET /info settles it', async () => {
    Object.assign(engine.script, { reports: { mirrors: ['http://127.0.0.1:5999'], insecure: [] } });
    const report = await applyToDaemon(await handle({}, { timeoutMs: 10_000 }), { file, after: await readDaemonConfig(file) });
    expect(report).toMatchObject({ liveFrom: 'GET /info', live: { mirrors: [`${MIRROR}/`], insecureRegistries: [] } });
    expect(requestsAfterReload()).toEqual(['/info']);
  });

  it('an event reporting other insecure registries is no proof either, and a daemon that never shows the file fails', async () => {
    Object.assign(engine.script, { reports: { mirrors: [MIRROR], insecure: ['10.0.0.1:5000'] }, take: false });
    const error = await failure(applyToDaemon(await handle({}, { timeoutMs: 1_000 }), { file, after: await readDaemonConfig(file) }));
    expect(error.message).toBe(`The Docker daemon did not take the change: mirrors: daemon has [], file asks for [${MIRROR}].`);
    expect(requestsAfterReload()).toContain('/info');
  });
});

describe('applyToDaemon: the live check right after a reload without an event', () => {
  it('an /info that times out then is left to the wait for the change, which reports what it saw', async () => {
    // The first /info after the reload answers after 2 s, past this call's 1 s; the next ones at once.
    Object.assign(engine.script, { event: false, take: false });
    const ready = await handle({}, { timeoutMs: 1_000 });
    engine.script.infoQueue.push((socket) => engine.later(2_000, () => answer(socket, '200 OK', engine.info())));
    const error = await failure(applyToDaemon(ready, { file, after: await readDaemonConfig(file) }));
    expect(error.message).toBe(`The Docker daemon did not take the change: mirrors: daemon has [], file asks for [${MIRROR}].`);
    expect(error.details).not.toHaveProperty('reloadEvent');
  });

  it('an /info the daemon answers with an error is an apply failure that says so, with the log hint', async () => {
    // It took the file but sent no event, and refused the /info right after: that error is not swallowed.
    Object.assign(engine.script, { event: false });
    const ready = await handle({}, { timeoutMs: 1_000 });
    engine.script.infoQueue.push((socket) => answer(socket, '500 Internal Server Error', '{"message":"info is broken"}'));
    const error = await failure(applyToDaemon(ready, { file, after: await readDaemonConfig(file) }));
    expect(error.cause).toBeInstanceOf(DaemonError);
    expect((error.cause as Error).message).toBe('The Docker daemon refused GET /info: info is broken');
    expect(error).toMatchObject({
      message: 'Applying the change failed: The Docker daemon refused GET /info: info is broken',
      hint: `Look at the daemon's log: ${LOG_HINT}`,
      details: { logHint: LOG_HINT, endpoint },
    });
    // The daemon did take the file: only the answer was refused.
    expect(engine.live.mirrors).toEqual([`${MIRROR}/`]);
  });
});

describe('applyToDaemon: a restart', () => {
  it('is confirmed by waiting for the daemon to show the file, not judged by a reload event', async () => {
    // The restart command returns while the old daemon still answers; the restarted one shows the file 4 s later.
    Object.assign(engine.script, { event: false, takeLagMs: 4_000 });
    const report = await applyToDaemon(await handle({ method: 'restart', stopsContainers: true, why: 'test: restart' }, { timeoutMs: 10_000 }), {
      file,
      after: await readDaemonConfig(file),
    });
    expect(report).toMatchObject({ method: 'restart', reason: 'test: restart', live: { mirrors: [`${MIRROR}/`], insecureRegistries: [] } });
    expect(engine.eventsOpened).toBe(0);
  });

  it('writes nothing: a file without mirror keys, in a folder dockmirror will not write to, is restarted on as it is', async () => {
    // A folder other users can write: dockmirror refuses to write there, but a restart needs no write.
    const open = `${file}.open`;
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
    const after = await readDaemonConfig(`${file}.absent.json`);
    const blocked = path.join(file, 'daemon.json');
    const error = await applyToDaemon(await handle({}, { timeoutMs: 60_000 }), { file: blocked, after }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain(`${file} is not a folder`);
    expect(engine.eventsOpened).toBe(1);
    // Not left open until its own 63 s deadline.
    await expect.poll(() => engine.events.size, { timeout: 3_000 }).toBe(0);
    expect(engine.requests.filter((r) => r.endsWith('/dm/reload'))).toEqual([]);
  });

  it('Ctrl-C while the service command runs ends that command, and says the daemon was sent the restart', async () => {
    const pidFile = `${file}.command.pid`;
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
    stateDir: `${file}.state`,
    timeoutMs: 5_000,
    ...extra,
  });
  const context = async () => ({ file, after: await readDaemonConfig(file), newMirrors: [MIRROR] });

  it('a daemon not seen in /proc, of a kind whose default file is another one, is still told about this file', async () => {
    // Running containers: a reload stops none, so nobody is asked.
    engine.script.containers = JSON.stringify([{ Id: 'a'.repeat(64), Names: ['/web'] }]);
    const ready = await preflightDaemon(options(), await context());
    expect(ready).toMatchObject({ kind: 'apply', plan: { method: 'reload', command: ['systemctl', 'reload', 'docker'] } });
    const started = performance.now();
    const report = await applyToDaemon(ready, { file, after: await readDaemonConfig(file) });
    // The wait it reports is its own, measured inside the call: never more than the call took from outside.
    expect(report.elapsedMs).toBeGreaterThanOrEqual(0);
    expect(report.elapsedMs).toBeLessThanOrEqual(Math.ceil(performance.now() - started));
    expect(report).toMatchObject({ method: 'reload', endpoint, setup: 'systemd', live: { mirrors: [`${MIRROR}/`], insecureRegistries: [] } });
    expect(engine.live.mirrors).toEqual([`${MIRROR}/`]);
  });

  it('asks before a restart naming each running container, by its name or else its short id', async () => {
    engine.script.containers = JSON.stringify([{ Id: 'a'.repeat(64), Names: ['/web'] }, { Id: `${'b'.repeat(12)}${'c'.repeat(52)}`, Names: [] }]);
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
    const home = `${file}.home`;
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

function alive(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== undefined && state !== 'Z';
  } catch {
    return false;
  }
}
