/**
 * A real dockerd (and optionally a real docker-registry) per test file, in its own short temp dir, reachable
 * only on loopback. See /work/shared/reference/testbed.md. Always pair startTestbed with afterAll(stop).
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ctlScript } from './ctl-script.js';
import { writeFakeCommands } from './fakes.js';
import { findProgram, requirePrograms } from './programs.js';

const run = promisify(execFile);

/**
 * The real docker CLI, found on PATH when this module loads (before any fake `docker` is put first): Debian's
 * docker.io puts it at /usr/bin/docker, other installs at /usr/local/bin/docker. The fake `docker` execs it.
 */
export const REAL_DOCKER = findProgram('docker') ?? 'docker';

/** Options of {@link startTestbed}. */
export interface TestbedOptions {
  /** Exact bytes of daemon.json; default `{}\n`. Written verbatim (infrastructure settings are flags, see below). */
  daemonJson?: string;
  /** Also start a docker-registry on a random 127.0.0.1 port. */
  registry?: boolean;
  /** More dockerd flags, e.g. `['--registry-mirror', 'http://127.0.0.1:1']`. */
  extraDaemonArgs?: string[];
}

/** A running test daemon. */
export interface Testbed {
  /** The temp dir holding everything (`/tmp/dm-XXXXXX`). */
  dir: string;
  /** daemon.json of the test daemon (`$dir/daemon.json`). */
  configFile: string;
  /** Its unix socket path. */
  socket: string;
  /** `unix://<socket>`. */
  dockerHost: string;
  /** dockerd's current pid (read from the pid file, so it follows restarts). */
  readonly pid: number;
  /** dockerd's `-p` pid file. */
  pidFile: string;
  /** dockerd's stderr log (appended across restarts). */
  logFile: string;
  /** `http://127.0.0.1:<port>` when a registry was asked for. */
  registryUrl?: string;
  /** The registry port. */
  registryPort?: number;
  /** The exact dockerd argv after `dockerd`. */
  dockerdArgs: string[];
  /** Run the real docker CLI against this daemon; resolves to stdout. */
  docker(args: string[]): Promise<string>;
  /** Remove its containers, stop dockerd and the registry by pid, delete the dir. Idempotent. */
  stop(): Promise<void>;
  /** Stop and start dockerd with the same arguments (containers stop, as on a real restart). */
  restartDaemon(): Promise<void>;
  /** SIGHUP to dockerd. Returns at once: dockerd applies the reload asynchronously. */
  reload(): Promise<void>;
}

/**
 * Start a testbed. dockerd runs with `--config-file $T/daemon.json --data-root $T/data --exec-root $T/exec
 * -H unix://$T/docker.sock -p $T/dockerd.pid` and, as flags so daemon.json stays byte-exact,
 * `--storage-driver vfs --iptables=false --bridge none --shutdown-timeout 2` (the last keeps restarts with a
 * running `sleep` container short). A setting also given in daemon.json would make dockerd refuse to start.
 */
export async function startTestbed(options: TestbedOptions = {}): Promise<Testbed> {
  // Fail the file loudly, naming what to install, before anything is started.
  requirePrograms('the test dockerd', [
    'dockerd', 'containerd', 'curl', 'setsid', 'ldd', 'tar',
    { program: REAL_DOCKER, install: 'docker.io' },
    ...(options.registry ? (['docker-registry'] as const) : []),
  ]);
  // Unix socket paths must stay under 108 bytes, hence /tmp and a short prefix.
  const dir = await mkdtemp('/tmp/dm-');
  const configFile = join(dir, 'daemon.json');
  const socket = join(dir, 'docker.sock');
  const pidFile = join(dir, 'dockerd.pid');
  await writeFile(configFile, options.daemonJson ?? '{}\n');
  const dockerdArgs = [
    ...['--config-file', configFile, '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec')],
    ...['-H', `unix://${socket}`, '-p', pidFile],
    ...['--storage-driver', 'vfs', '--iptables=false', '--bridge', 'none', '--shutdown-timeout', '2'],
    ...(options.extraDaemonArgs ?? []),
  ];
  const registryPort = options.registry ? await freePort() : undefined;
  const ctl = join(dir, 'ctl.sh');
  await writeFile(ctl, ctlScript({ dir, dockerdArgs, realDocker: REAL_DOCKER, ...(registryPort ? { registryPort } : {}) }), {
    mode: 0o755,
  });
  const ctlRun = async (verb: string): Promise<void> => {
    await run('bash', [ctl, verb], { timeout: 90_000 });
  };
  let stopped = false;
  // A worker killed on timeout never runs afterAll; this detached watcher then stops the daemons by pid.
  const watcher = spawn('bash', [ctl, 'watch', String(process.pid)], { detached: true, stdio: 'ignore' });
  watcher.unref();
  const testbed: Testbed = {
    dir,
    configFile,
    socket,
    dockerHost: `unix://${socket}`,
    get pid() {
      return readPid(dir);
    },
    pidFile,
    logFile: join(dir, 'dockerd.log'),
    ...(registryPort ? { registryUrl: `http://127.0.0.1:${registryPort}`, registryPort } : {}),
    dockerdArgs,
    docker: async (args) => (await run(REAL_DOCKER, ['-H', `unix://${socket}`, ...args], { timeout: 120_000 })).stdout,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      try {
        // Its own process group (detached): this takes its `sleep` child along.
        if (watcher.pid) process.kill(-watcher.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
      await ctlRun('stop-all').catch(() => undefined);
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    },
    restartDaemon: () => ctlRun('restart'),
    reload: () => ctlRun('reload'),
  };
  try {
    if (registryPort) {
      const yml = `version: 0.1\nlog: {level: warn}\nstorage: {filesystem: {rootdirectory: ${dir}/registry}}\nhttp: {addr: 127.0.0.1:${registryPort}}\n`;
      await writeFile(join(dir, 'registry.yml'), yml);
      await ctlRun('registry-start');
    }
    await ctlRun('start');
  } catch (error) {
    const log = await readFile(testbed.logFile, 'utf8').catch(() => '');
    await testbed.stop();
    throw new Error(`testbed failed to start: ${String((error as { stderr?: string }).stderr ?? error)}\n${log.slice(-2000)}`, { cause: error });
  }
  return testbed;
}

/** The fakes of {@link writeFakeCommands} for this testbed; returns the directory to put first on PATH. */
export function fakeCommandsDir(testbed: Testbed): Promise<string> {
  return writeFakeCommands(testbed.dir, REAL_DOCKER);
}

/** Lines of `$dir/fake-calls.log` (`<command> <args...>`), empty when no fake ran. */
export async function fakeCalls(testbed: Testbed): Promise<string[]> {
  const text = await readFile(join(testbed.dir, 'fake-calls.log'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean);
}

/**
 * Import a tiny image made of /bin/sleep and its libraries into the test daemon as `ref` (CMD sleeps an
 * hour), so containers can run without internet. Returns the local image ID.
 */
export async function importSleepImage(testbed: Testbed, ref: string): Promise<string> {
  const rootfs = join(testbed.dir, 'rootfs');
  const tar = join(testbed.dir, 'rootfs.tar');
  const { stdout } = await run('ldd', ['/bin/sleep']);
  const libs = [...stdout.matchAll(/(\/\S+)\s+\(0x/g)].map((m) => m[1] ?? '');
  for (const file of ['/bin/sleep', ...libs]) {
    await mkdir(join(rootfs, dirname(file)), { recursive: true });
    await copyFile(file, join(rootfs, file));
  }
  await run('tar', ['-C', rootfs, '-chf', tar, '.']);
  const id = await testbed.docker(['import', '--change', 'CMD ["/bin/sleep","3600"]', tar, ref]);
  return id.trim();
}

/**
 * Put `name` (e.g. `alpine:3.16.2`) into the testbed's registry as `library/<name>`, the path a Docker Hub
 * mirror serves official images from, and remove the local copy. Returns the registry's manifest digest.
 */
export async function seedImage(testbed: Testbed, name = 'alpine:3.16.2'): Promise<string> {
  if (!testbed.registryPort) throw new Error('seedImage needs startTestbed({ registry: true })');
  const [repo = '', tag = 'latest'] = name.split(':');
  const ref = `127.0.0.1:${testbed.registryPort}/library/${repo}:${tag}`;
  await importSleepImage(testbed, ref);
  await testbed.docker(['push', ref]);
  await testbed.docker(['rmi', ref]);
  const res = await fetch(`${testbed.registryUrl}/v2/library/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' },
  });
  const digest = res.headers.get('docker-content-digest');
  if (!res.ok || !digest) throw new Error(`registry has no manifest for ${name} (HTTP ${res.status})`);
  return digest;
}

function readPid(dir: string): number {
  // Synchronous on purpose: `pid` is a getter, and the pid file is tiny.
  const text = readFileSyncSafe(join(dir, 'dockerd.pid')) ?? readFileSyncSafe(join(dir, 'dockerd.lastpid')) ?? '';
  return Number.parseInt(text, 10);
}

function readFileSyncSafe(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** A free loopback port: bind port 0, read it, release it. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
