/**
 * A real containerd (Debian's 1.6) with its own root, state, socket and config.toml whose `config_path` is a
 * fresh certs.d folder (testbed.md), started once per test file and stopped by its pid. `ctr` runs with a dead
 * loopback proxy in its environment, so a pull that is not served by a loopback mirror fails at once and sends
 * nothing off the machine (Go never proxies loopback addresses, so the test registry is reached directly).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { requirePrograms } from './programs.js';
import { freePort, pushImage, startRegistry, type TestRegistry } from './registry.js';

/** A running containerd. */
export interface TestContainerd {
  /** Its temp folder (root, state, socket, config, log). */
  dir: string;
  /** Its pid. */
  pid: number;
  /** Its gRPC socket. */
  address: string;
  /** Its config.toml. */
  configFile: string;
  /** The `config_path` folder its config.toml names. */
  hostsDir: string;
  /** The environment ctr runs with: the dead proxy, and no proxy for loopback. */
  ctrEnv: NodeJS.ProcessEnv;
  /** Runs `ctr --address <socket> <args>`; resolves with its exit code and output (never rejects on exit codes). */
  ctr(args: string[], timeoutMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Stops containerd by pid, unmounts what it mounted and removes the folder. */
  stop(): Promise<void>;
}

/** Starts containerd and waits until `ctr version` answers on its socket. A failure says why, loudly. */
export async function startContainerd(): Promise<TestContainerd> {
  requirePrograms('the test containerd', ['containerd', { program: 'ctr', install: 'containerd' }, { program: 'umount', install: 'mount' }]);
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-containerd-'));
  const hostsDir = path.join(dir, 'certs.d');
  await mkdir(hostsDir);
  const address = path.join(dir, 'containerd.sock');
  const configFile = path.join(dir, 'config.toml');
  await writeFile(configFile, [
    'version = 2',
    `root = "${dir}/root"`,
    `state = "${dir}/state"`,
    '[grpc]',
    `  address = "${address}"`,
    '[ttrpc]',
    `  address = "${address}.ttrpc"`,
    '[debug]',
    `  address = "${dir}/debug.sock"`,
    '[plugins."io.containerd.grpc.v1.cri".registry]',
    `  config_path = "${hostsDir}"`,
    '',
  ].join('\n'));
  const log = openSync(path.join(dir, 'containerd.log'), 'a');
  const child: ChildProcess = spawn('containerd', ['--config', configFile], { stdio: ['ignore', log, log] });
  closeSync(log);
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error));
  const deadProxy = `http://127.0.0.1:${await freePort()}`;
  const ctrEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HTTPS_PROXY: deadProxy,
    HTTP_PROXY: deadProxy,
    NO_PROXY: '127.0.0.1,localhost',
  };
  const ctr: TestContainerd['ctr'] = (args, timeoutMs = 60_000) =>
    new Promise((resolve) => {
      execFile('ctr', ['--address', address, ...args], { env: ctrEnv, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout, stderr });
      });
    });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      process.kill(child.pid, 'SIGTERM');
      await exited;
    }
    // containerd leaves its snapshot and shm mounts behind; they must go before the folder can.
    for (const mounted of [path.join(dir, 'root'), path.join(dir, 'state')]) {
      await new Promise((resolve) => execFile('umount', ['-R', mounted], () => resolve(undefined)));
    }
    await rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 150; i++) {
    if (spawnError || child.exitCode !== null) break;
    if ((await ctr(['version'], 5000)).code === 0) {
      return { dir, pid: child.pid as number, address, configFile, hostsDir, ctrEnv, ctr, stop };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const logText = (await readFile(path.join(dir, 'containerd.log'), 'utf8').catch(() => '')).slice(-2000);
  const why = spawnError ? spawnError.message : child.exitCode !== null ? `it exited with status ${child.exitCode}` : 'it did not answer within 15 s';
  await stop();
  throw new Error(`containerd did not start: ${why}\n${logText}`);
}

/** A containerd beside a real registry seeded with the two images the engine tests pull, and the registry's log. */
export interface ContainerdMirrorRig {
  containerd: TestContainerd;
  registry: TestRegistry;
  /** A temp folder of the rig's own, removed by `stop`. */
  work: string;
  /** The registry's access log, to see which requests (and `?ns=`) reached the mirror. */
  logFile: string;
  /** Stops both and removes `work`. */
  stop(): Promise<void>;
}

/** Starts a {@link ContainerdMirrorRig} with `library/alpine:3.16.2` and `someorg/tool:1` in its registry. */
export async function startContainerdMirrorRig(prefix: string): Promise<ContainerdMirrorRig> {
  const work = await mkdtemp(path.join(tmpdir(), prefix));
  const logFile = path.join(work, 'registry.log');
  const [containerd, registry] = await Promise.all([startContainerd(), startRegistry({ accessLog: logFile })]);
  await pushImage(registry.url, 'library/alpine', '3.16.2');
  await pushImage(registry.url, 'someorg/tool', '1');
  return {
    containerd,
    registry,
    work,
    logFile,
    stop: async () => {
      await Promise.all([containerd.stop(), registry.stop()]);
      await rm(work, { recursive: true, force: true });
    },
  };
}
