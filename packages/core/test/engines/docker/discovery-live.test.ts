// connectForFile on a real dockerd 20.10: the daemon that reads the file is the one greeted when no endpoint is
// given; a given endpoint is used as it is; and when the file's dockerd runs but nothing answers, the refusal
// names the pid, the socket, the file and the timeout exactly. An endpoint that answers the ping and then hangs
// (a daemon stopped between two calls) is a small server on a unix socket: a real dockerd cannot be made to. So
// are an Engine API answering at another socket than the reader's, and a socket that never answers at all.
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { mkdtemp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDaemon, connectForFile } from '../../../src/engines/docker/discovery.js';
import { DaemonUnreachableError, InterruptedError } from '../../../src/errors.js';
import { startTestbed, type Testbed } from '../../support/testbed.js';

let tb: Testbed;
let home: string;
let hanging: Server;
let hangingSocket: string;
let other: Server;
let otherSocket: string;
let silent: NetServer;
let silentSocket: string;
const held: Socket[] = [];

/** Options as a user with no DOCKER_HOST and no docker context would have them. */
const opts = (extra: Record<string, unknown> = {}) => ({ env: { DOCKER_CONFIG: join(home, '.docker') }, homedir: home, ...extra });

beforeAll(async () => {
  tb = await startTestbed();
  home = await mkdtemp(join(tb.dir, 'home-'));
  hangingSocket = join(tb.dir, 'hangs.sock');
  // Answers the ping, then never answers anything else.
  hanging = createServer((req, res) => {
    if (req.url?.endsWith('/_ping')) res.end('OK');
  });
  await new Promise<void>((resolve) => hanging.listen(hangingSocket, resolve));
  // Another Engine API, on a socket no dockerd holds.
  otherSocket = join(tb.dir, 'other.sock');
  other = createServer((req, res) => {
    if (req.url?.endsWith('/_ping')) return void res.end('OK');
    res.setHeader('content-type', 'application/json');
    if (req.url?.endsWith('/version')) return void res.end(JSON.stringify({ Version: '20.10.99-other', ApiVersion: '1.41', Os: 'linux' }));
    res.end(JSON.stringify({ ServerVersion: '20.10.99-other', OperatingSystem: 'Other', SecurityOptions: [] }));
  });
  await new Promise<void>((resolve) => other.listen(otherSocket, resolve));
  // Accepts connections and never says a word.
  silentSocket = join(tb.dir, 'silent.sock');
  silent = createNetServer((c) => void held.push(c));
  await new Promise<void>((resolve) => silent.listen(silentSocket, resolve));
});
afterAll(async () => {
  for (const c of held) c.destroy();
  await new Promise((resolve) => silent?.close(resolve));
  other?.closeAllConnections();
  await new Promise((resolve) => other?.close(resolve));
  hanging?.closeAllConnections();
  await new Promise((resolve) => hanging?.close(resolve));
  try {
    process.kill(tb.pid, 'SIGCONT');
  } catch {
    // Gone already.
  }
  await tb?.stop();
});

const failure = (work: Promise<unknown>): Promise<unknown> => work.then(() => undefined, (e: unknown) => e);

describe('the daemon greeted', () => {
  it('with no endpoint given, is the dockerd that reads the file, on the socket it is proven to hold', async () => {
    const found = await connectForFile(opts(), tb.configFile, 5_000);
    expect(found.reader).toEqual({ pid: tb.pid, configFile: tb.configFile, endpoint: tb.dockerHost, hosts: [tb.dockerHost] });
    expect(found.connection).toMatchObject({ endpoint: tb.dockerHost, endpointSource: 'dockerd' });
    expect(found.connection?.version).toMatch(/^20\.10\./);
    expect(found.connection?.version).toBe(found.connection?.info.ServerVersion);
    expect(found.connection?.setup).toMatchObject({ kind: 'plain', pid: tb.pid, configFile: tb.configFile });
  });

  it("detects the setup with the caller's environment, not the process's (DOCKMIRROR_SETUP forces the kind)", async () => {
    const found = await connectForFile(opts({ env: { DOCKER_CONFIG: join(home, '.docker'), DOCKMIRROR_SETUP: 'openrc' } }), tb.configFile, 5_000);
    expect(found.connection?.setup.kind).toBe('openrc');
  });

  it('with an endpoint given, is that endpoint, and the reader is still named', async () => {
    const found = await connectForFile(opts({ dockerHost: tb.dockerHost }), tb.configFile, 5_000);
    expect(found.connection).toMatchObject({ endpoint: tb.dockerHost, endpointSource: 'option' });
    expect(found.reader?.pid).toBe(tb.pid);
  });

  it("at another endpoint given, the reader's proof is not taken for it: the setup found names no pid of the reader's", async () => {
    const endpoint = `unix://${otherSocket}`;
    const found = await connectForFile(opts({ dockerHost: endpoint }), tb.configFile, 5_000);
    expect(found.reader?.pid).toBe(tb.pid);
    expect(found.connection).toMatchObject({ endpoint, endpointSource: 'option', version: '20.10.99-other' });
    // Nothing shows a dockerd holding that socket: no pid to signal, and certainly not the reader's.
    expect(found.connection?.setup.pid).toBeUndefined();
  });

  it('for a file no dockerd reads, is the endpoint given, and no reader is named', async () => {
    const found = await connectForFile(opts({ dockerHost: tb.dockerHost }), join(tb.dir, 'other.json'), 5_000);
    expect(found.connection?.endpoint).toBe(tb.dockerHost);
    expect(Object.keys(found).sort()).toEqual(['connection']);
  });

  it('none, for a file no dockerd reads and an endpoint where nothing answers: said so, nothing thrown', async () => {
    const missing = `unix://${tb.dir}/missing.sock`;
    expect(await connectForFile(opts({ dockerHost: missing }), join(tb.dir, 'other.json'), 1_000)).toEqual({
      absent: `no Docker daemon answered at ${missing} and no running dockerd reads ${join(tb.dir, 'other.json')}`,
    });
  });
});

describe('the file\'s dockerd runs, but nothing answers', () => {
  it('at the endpoint given: refused, pointing at the socket it listens on', async () => {
    const missing = `unix://${tb.dir}/missing.sock`;
    const error = await failure(connectForFile(opts({ dockerHost: missing }), tb.configFile, 1_500));
    expect(error).toBeInstanceOf(DaemonUnreachableError);
    expect((error as DaemonUnreachableError).message).toBe(
      `dockerd (pid ${tb.pid}) reads ${tb.configFile} and listens on ${tb.dockerHost}, but the endpoint given, ${missing} (from option), does not answer within 1.5 s. Nothing was written.`,
    );
    expect((error as DaemonUnreachableError).hint).toBe(`Point --docker-host at ${tb.dockerHost}, the socket it listens on, and run again.`);
    expect((error as DaemonUnreachableError).details).toEqual({ endpoint: missing, pid: tb.pid, socket: tb.dockerHost, file: tb.configFile });
  });

  it('at an endpoint given that answers the ping and then hangs: the same refusal, not a hang or a lesser error', async () => {
    const endpoint = `unix://${hangingSocket}`;
    const error = await failure(connectForFile(opts({ dockerHost: endpoint }), tb.configFile, 1_000));
    expect(error).toBeInstanceOf(DaemonUnreachableError);
    expect((error as DaemonUnreachableError).message).toBe(
      `dockerd (pid ${tb.pid}) reads ${tb.configFile} and listens on ${tb.dockerHost}, but the endpoint given, ${endpoint} (from option), does not answer within 1 s. Nothing was written.`,
    );
    // With no dockerd reading the file, the hang itself is the error: nothing says which daemon should have answered.
    const alone = await failure(connectForFile(opts({ dockerHost: endpoint }), join(tb.dir, 'other.json'), 1_000));
    expect(alone).toBeInstanceOf(DaemonUnreachableError);
    // Its calls after the ping get at least 3 s, whatever the ping's bound: a slow /info is not a dead daemon.
    expect((alone as DaemonUnreachableError).message).toMatch(new RegExp(`^The Docker daemon at ${endpoint} did not answer GET /(version|info) within 3000 ms\\.$`));
   }, 20_000);

  it('stopped (SIGSTOP) on its own socket: refused, naming the pid, the socket, the file and the timeout, with what to do', async () => {
    const pid = tb.pid;
    process.kill(pid, 'SIGSTOP');
    let error: unknown;
    try {
      // The signal is delivered asynchronously: wait until the kernel shows the whole process stopped.
      await expect.poll(async () => (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.[0], { timeout: 5_000 }).toBe('T');
      error = await failure(connectForFile(opts(), tb.configFile, 1_000));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(error).toBeInstanceOf(DaemonUnreachableError);
    expect((error as DaemonUnreachableError).message).toBe(
      `dockerd (pid ${pid}) reads ${tb.configFile} and runs, but did not answer at ${tb.dockerHost} within 1 s. Nothing was written.`,
    );
    expect((error as DaemonUnreachableError).hint).toBe(
      `Is it stopped or hung (kill -CONT ${pid}; see its log)? Run again once \`docker -H ${tb.dockerHost} info\` answers, or raise --timeout.`,
    );
    expect((error as DaemonUnreachableError).details).toEqual({ endpoint: tb.dockerHost, pid, socket: tb.dockerHost, file: tb.configFile });
  });
});

describe('connectDaemon', () => {
  it('a socket where nothing speaks the Engine API is "no daemon", said before any other call is tried', async () => {
    const endpoint = `unix://${otherSocket.replace('other.sock', 'nothing.sock')}`;
    const closing = createNetServer((c) => c.destroy());
    await new Promise<void>((resolve) => closing.listen(endpoint.slice('unix://'.length), resolve));
    try {
      const error = await failure(connectDaemon(opts({ dockerHost: endpoint }), false));
      expect(error).toBeInstanceOf(DaemonUnreachableError);
      expect((error as DaemonUnreachableError).message).toBe(`No Docker daemon answers at ${endpoint} (from option).`);
    } finally {
      await new Promise((resolve) => closing.close(resolve));
    }
  });

  it('Ctrl-C ends the wait for the ping at once', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const error = await failure(connectDaemon(opts({ dockerHost: `unix://${silentSocket}`, signal: controller.signal }), false));
    expect(error).toBeInstanceOf(InterruptedError);
  });

  it('Ctrl-C ends the wait for a daemon that answered the ping and then hangs', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 500);
    const error = await failure(connectDaemon(opts({ dockerHost: `unix://${hangingSocket}`, signal: controller.signal }), false));
    expect(error).toBeInstanceOf(InterruptedError);
  });
});
