// Attacks on which dockerd root's dockmirror believes. The attacker is `nobody` (setpriv): it starts processes
// named dockerd that claim the real test daemon's socket, with a lower pid than the real one, a config file and
// a pid file of its own, and one that serves a socket of its own. Root's dockmirror must use the real daemon's
// file, never create or write anything in the attacker's folder, and never signal a fake.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runApply } from '../../src/daemon/service.js';
import { distrustPid, scanDockerd } from '../../src/daemon/dockerd-process.js';
import { detectSetup } from '../../src/daemon/setup.js';
import { ApplyError, UsageError } from '../../src/errors.js';
import { addMirror } from '../../src/operations/mirrors.js';
import { locateTarget } from '../../src/operations/options.js';
import { getStatus } from '../../src/operations/status.js';
import { startTestbed, type Testbed } from '../support/testbed.js';
import { startStandInEngine } from '../engines/docker/stand-in-engine.js';

const run = promisify(execFile);
const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];
const BIN = resolve(fileURLToPath(import.meta.url), '../../../../../apps/cli/bin/run.js');

/** A bash "dockerd": argv[0] is dockerd, the rest is whatever its starter claims; a SIGHUP leaves a marker. */
const FAKE_SH = `trap 'echo "hup $$" >> "$MARKER"' HUP
echo $$ > "$PIDOUT"
while :; do sleep 1 & wait $!; done
`;

/** A python "dockerd" answering the Engine API on a socket of its own, as nobody. */
const FAKE_ENGINE_PY = `import json, os, signal, socketserver, sys
from http.server import BaseHTTPRequestHandler
sock = sys.argv[sys.argv.index('-H') + 1][len('unix://'):]
signal.signal(signal.SIGHUP, lambda *a: open(os.environ['MARKER'], 'a').write('hup\\n'))
BODIES = {'/_ping': b'OK', '/version': json.dumps({'Version': '20.10.24', 'ApiVersion': '1.41', 'Os': 'linux'}).encode(),
          '/info': json.dumps({'OperatingSystem': 'Debian', 'SecurityOptions': [], 'RegistryConfig': {'Mirrors': []}}).encode()}
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        body = BODIES.get(self.path.split('?')[0], b'{}')
        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
if os.path.exists(sock): os.unlink(sock)
socketserver.UnixStreamServer(sock, H).serve_forever()
`;

interface Fake {
  pid: number;
  marker: string;
}

let tb: Testbed;
let attacker: string;
let attackerConfig: string;
const fakes: Fake[] = [];
let fake: Fake;
let rootImpostor: Fake;
let engineFake: Fake;
let ownSocket: string;
let before: Record<string, string>;

/** Start `argv` (as nobody unless `asRoot`) with argv[0] set to dockerd; resolves once it runs. */
async function startFake(interpreter: string, script: string, args: string[], name: string, asRoot = false): Promise<Fake> {
  const marker = join(attacker, `${name}.hup`);
  const pidOut = join(attacker, `${name}.started`);
  const launcher = ['bash', '-c', `exec -a dockerd ${interpreter} "$0" "$@"`, script, ...args];
  const child = spawn(asRoot ? launcher[0]! : 'setpriv', asRoot ? launcher.slice(1) : [...NOBODY, ...launcher], {
    detached: true,
    stdio: 'ignore',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', MARKER: marker, PIDOUT: pidOut },
  });
  child.unref();
  const started: Fake = { pid: child.pid ?? -1, marker };
  fakes.push(started);
  for (let i = 0; i < 100 && !(await cmdlineOf(started.pid)).startsWith('dockerd\0'); i++) await sleep(50);
  expect(await cmdlineOf(started.pid)).toMatch(/^dockerd\0/);
  return started;
}

async function cmdlineOf(pid: number): Promise<string> {
  return readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every file in the attacker's folder with its bytes: nothing may appear, change or vanish. */
async function snapshot(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(attacker)).sort()) out[name] = await readFile(join(attacker, name), 'utf8').catch(() => '<not a file>');
  return out;
}

/** A free loopback port. */
function freePort(): Promise<number> {
  return new Promise((done) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => done(port));
    });
  });
}

let tcpPort: number;

beforeAll(async () => {
  tcpPort = await freePort();
  tb = await startTestbed({ extraDaemonArgs: ['-H', `tcp://127.0.0.1:${tcpPort}`] });
  attacker = await mkdtemp('/tmp/dm-attacker-');
  await chown(attacker, 65534, 65534);
  await chmod(attacker, 0o755);
  attackerConfig = join(attacker, 'daemon.json');
  await writeFile(attackerConfig, `{"hosts": ["unix://${tb.socket}"]}\n`);
  await writeFile(join(attacker, 'fake.sh'), FAKE_SH);
  await writeFile(join(attacker, 'engine.py'), FAKE_ENGINE_PY);
  await writeFile(join(attacker, 'fake.pid'), '');
  for (const f of ['daemon.json', 'fake.sh', 'engine.py', 'fake.pid']) await chown(join(attacker, f), 65534, 65534);
  const claims = ['-H', `unix://${tb.socket}`, '--config-file', attackerConfig, '-p', join(attacker, 'fake.pid')];
  fake = await startFake('bash', join(attacker, 'fake.sh'), claims, 'fake');
  // A root process that calls itself dockerd and claims the socket, but does not hold it (a dind dockerd seen
  // from the host looks like this).
  rootImpostor = await startFake('bash', join(attacker, 'fake.sh'), [...claims.slice(0, 2), '--config-file', join(attacker, 'root-impostor.json')], 'root-impostor', true);
  ownSocket = join(attacker, 'own.sock');
  engineFake = await startFake('python3', join(attacker, 'engine.py'), ['-H', `unix://${ownSocket}`, '--config-file', attackerConfig], 'engine');
  for (let i = 0; i < 100 && !existsSync(ownSocket); i++) await sleep(50);
  // The fakes first, then the real daemon: the fakes have the lower pids, as after a daemon restart.
  await tb.restartDaemon();
  before = await snapshot();
}, 120_000);

afterAll(async () => {
  for (const f of fakes) {
    try {
      process.kill(-f.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  await tb?.stop();
  if (attacker) await rm(attacker, { recursive: true, force: true });
});

describe('fake dockerd processes of another user', () => {
  it('have lower pids than the real daemon, and claim its socket', async () => {
    expect(fake.pid).toBeLessThan(tb.pid);
    expect(rootImpostor.pid).toBeLessThan(tb.pid);
    expect(await cmdlineOf(fake.pid)).toContain(`unix://${tb.socket}`);
  });

  it('are passed over by the /proc scan, which finds the real daemon and says why', async () => {
    const scan = await scanDockerd(tb.dockerHost);
    expect(scan.process?.pid).toBe(tb.pid);
    expect(scan.process?.cmdline).toContain(tb.configFile);
    expect(scan.untrusted).toEqual(
      expect.arrayContaining([
        { pid: fake.pid, reason: 'it runs as uid 65534, not root' },
        { pid: rootImpostor.pid, reason: `it does not hold the socket of ${tb.dockerHost}` },
      ]),
    );
    const setup = await detectSetup({ endpoint: tb.dockerHost, env: {} });
    expect(setup).toMatchObject({ kind: 'plain', pid: tb.pid, configFile: tb.configFile, pidFile: tb.pidFile });
    expect(setup.untrustedDaemons?.map((d) => d.pid)).toEqual(expect.arrayContaining([fake.pid, rootImpostor.pid]));
    expect(setup.logHint).toContain(tb.logFile);
    const status = await getStatus({ dockerHost: tb.dockerHost, env: {} });
    expect(status.configFile).toBe(tb.configFile);
    expect(status.daemon).toMatchObject({ reachable: true, setup: 'plain' });
    expect(status.daemon.reachable && status.daemon.untrustedDaemons).toContainEqual({ pid: fake.pid, reason: 'it runs as uid 65534, not root' });
  });

  it('never name the file: without --config-file, dockmirror edits the real daemon.json', async () => {
    const target = await locateTarget({ dockerHost: tb.dockerHost, env: {} });
    expect(target.located.path).toBe(tb.configFile);
    expect(target.stateDir).toBe(join(tb.dir, '.dockmirror'));
  });

  it('root add (core) changes and reloads the real daemon only; the fakes get no signal and no file', async () => {
    const result = await addMirror({ mirror: 'http://127.0.0.1:1', dockerHost: tb.dockerHost, env: {}, apply: 'auto', timeoutMs: 10_000 });
    expect(result.apply).toMatchObject({ method: 'reload', setup: 'plain', live: { mirrors: ['http://127.0.0.1:1/'] } });
    expect(await readFile(tb.configFile, 'utf8')).toContain('http://127.0.0.1:1');
    expect(JSON.parse(await tb.docker(['info', '--format', '{{json .RegistryConfig.Mirrors}}']))).toEqual(['http://127.0.0.1:1/']);
    for (const f of [fake, rootImpostor, engineFake]) {
      expect(alive(f.pid)).toBe(true);
      expect(existsSync(f.marker)).toBe(false);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('the built CLI, as root, does the same', async () => {
    const env = { PATH: process.env.PATH ?? '', HOME: tb.dir, NO_COLOR: '1' };
    const { stdout } = await run(process.execPath, [BIN, 'add', 'http://127.0.0.1:2', '--docker-host', tb.dockerHost], { env, timeout: 60_000 });
    expect(stdout).toContain(`SIGHUP to pid ${tb.pid}`);
    expect(await readFile(tb.configFile, 'utf8')).toContain('http://127.0.0.1:2');
    expect(existsSync(fake.marker) || existsSync(rootImpostor.marker)).toBe(false);
    expect(await snapshot()).toEqual(before);
    const status = await run(process.execPath, [BIN, 'status', '--docker-host', tb.dockerHost], { env, timeout: 60_000 });
    expect(status.stdout).toContain(`! ignored dockerd pid ${fake.pid}: it runs as uid 65534, not root`);
  });

  it('a SIGHUP plan naming a fake, or a pid file that names one, never signals it', async () => {
    const plan = (pid: number, pidFile?: string) => ({
      method: 'reload' as const,
      command: { signal: 'SIGHUP' as const, pid, endpoint: tb.dockerHost, ...(pidFile ? { pidFile } : {}) },
      stopsContainers: false,
      why: '',
    });
    await expect(runApply(plan(fake.pid))).rejects.toThrow(/pid \d+: it runs as uid 65534/);
    await expect(runApply(plan(rootImpostor.pid))).rejects.toThrow(/does not hold the socket/);
    await expect(runApply(plan(engineFake.pid))).rejects.toBeInstanceOf(ApplyError);
    // The attacker's own pid file names the fake; it sits in a folder nobody owns, so it is not even read.
    await writeFile(join(attacker, 'fake.pid'), `${fake.pid}\n`);
    await expect(runApply(plan(fake.pid, join(attacker, 'fake.pid')))).rejects.toThrow(/belongs to uid 65534/);
    // A root-owned pid file naming the fake: the fake is refused, the real pid from the scan is used.
    const evil = join(tb.dir, 'evil.pid');
    await writeFile(evil, `${fake.pid}\n`);
    expect((await runApply(plan(tb.pid, evil))).ran).toEqual(['kill', '-HUP', String(tb.pid)]);
    await writeFile(join(attacker, 'fake.pid'), '');
    expect(await distrustPid(tb.pid, tb.dockerHost)).toBeUndefined();
    for (const f of [fake, rootImpostor, engineFake]) {
      expect(alive(f.pid)).toBe(true);
      expect(existsSync(f.marker)).toBe(false);
    }
  });
});

describe('a tcp endpoint', () => {
  it('is proven through /proc/net/tcp: the real daemon holds the listener, the fakes do not', async () => {
    const scan = await scanDockerd(`tcp://127.0.0.1:${tcpPort}`);
    expect(scan.process?.pid).toBe(tb.pid);
    expect((await scanDockerd(`tcp://localhost:${tcpPort}`)).process?.pid).toBe(tb.pid);
    // Nothing listens on the next port: no process, whatever argv claims it.
    expect((await scanDockerd(`tcp://127.0.0.1:${tcpPort === 65535 ? 1 : tcpPort + 1}`)).process).toBeUndefined();
  });
});

describe('a fake dockerd of another user serving a socket of its own', () => {
  it('answers the Engine API, but is not trusted: no pid, no file, and the socket owner is named', async () => {
    const endpoint = `unix://${ownSocket}`;
    const scan = await scanDockerd(endpoint);
    expect(scan.process).toBeUndefined();
    expect(scan.untrusted).toContainEqual({ pid: engineFake.pid, reason: 'it runs as uid 65534, not root' });
    expect(scan.warning).toBe(`the socket ${ownSocket} belongs to uid 65534, not root`);
    const setup = await detectSetup({ endpoint, env: {} });
    expect(setup.pid).toBeUndefined();
    expect(setup.kind).toBe('unknown');
    expect(setup.trustWarning).toContain('uid 65534');
    expect((await locateTarget({ dockerHost: endpoint, env: {} })).located.path).not.toContain(attacker);
  });

  it('root add against it with a named file refuses to apply: no signal, the attacker folder untouched', async () => {
    const file = join(tb.dir, 'other.json');
    await writeFile(file, '{}\n');
    const env = { PATH: process.env.PATH ?? '', HOME: tb.dir, NO_COLOR: '1' };
    const args = [BIN, 'add', 'http://127.0.0.1:3', '--docker-host', `unix://${ownSocket}`, '--config-file', file, '--state-dir', join(tb.dir, 'st')];
    const failed = await run(process.execPath, args, { env, timeout: 60_000 }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed.code).toBe(2);
    expect(failed.stderr).toContain('could not be detected');
    expect(await readFile(file, 'utf8')).toBe('{}\n');
    expect(alive(engineFake.pid)).toBe(true);
    expect(existsSync(engineFake.marker)).toBe(false);
    expect(await snapshot()).toEqual(before);
  });
});

describe('a file one trusted dockerd reads, and an endpoint another one serves', () => {
  it('a change to the file through the other endpoint is refused before writing, naming both pids and the socket to use', async () => {
    // A root "dockerd" with an Engine API on a socket of its own: trusted, and proven to serve that socket.
    const socket = join(tb.dir, 'other-engine.sock');
    const other = await startFake('/usr/bin/python3', join(attacker, 'engine.py'), ['-H', `unix://${socket}`], 'other-engine', true);
    for (let i = 0; i < 100 && !existsSync(socket); i++) await sleep(50);
    const bytes = await readFile(tb.configFile, 'utf8');
    const options = { configFile: tb.configFile, dockerHost: `unix://${socket}`, stateDir: join(tb.dir, 'st-two'), env: {}, homedir: tb.dir, timeoutMs: 10_000 };
    const error = await addMirror({ ...options, mirror: 'http://127.0.0.1:4' }).catch((e: unknown) => e);
    try {
      expect(error).toBeInstanceOf(UsageError);
      expect(error).toMatchObject({
        message: `dockerd (pid ${tb.pid}) reads ${tb.configFile}, but unix://${socket} is another daemon (pid ${other.pid}). Nothing was written.`,
        hint: `Tell the daemon that reads the file: --docker-host ${tb.dockerHost}.`,
        details: { pid: tb.pid, endpoint: `unix://${socket}`, otherPid: other.pid },
      });
      expect(await readFile(tb.configFile, 'utf8')).toBe(bytes);
      expect(existsSync(other.marker)).toBe(false);
    } finally {
      process.kill(-other.pid, 'SIGKILL');
    }
  });
});

describe('a file a trusted dockerd reads, and an endpoint whose daemon cannot be seen from here', () => {
  it('is not taken for another daemon: the endpoint gets the benefit of the doubt (and its own refusal)', async () => {
    // A stand-in Engine: it answers the API, but no dockerd process serves its socket, so its pid is unknown.
    const standIn = await startStandInEngine('info-20.10-vfs.json');
    try {
      const bytes = await readFile(tb.configFile, 'utf8');
      const options = { configFile: tb.configFile, dockerHost: standIn.endpoint, stateDir: join(tb.dir, 'st-unseen'), env: {}, homedir: tb.dir, timeoutMs: 10_000 };
      const error = await addMirror({ ...options, mirror: 'http://127.0.0.1:4' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UsageError);
      expect((error as Error).message).not.toContain('is another daemon');
      expect((error as Error).message).toMatch(/^Cannot (reload|apply changes to) this Docker daemon/);
      expect(await readFile(tb.configFile, 'utf8')).toBe(bytes);
    } finally {
      await standIn.stop();
    }
  });
});
