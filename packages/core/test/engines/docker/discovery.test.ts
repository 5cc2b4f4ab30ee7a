// Greeting the daemon when none answers: a strict connection names the endpoint and where it came from, a
// lenient one gives nothing, and a unix endpoint with no socket behind it is known missing without a connect.
// And what a greeting keeps: the docker context an endpoint came from and the platform asked for (a stand-in
// Engine answers there), and the sockets a file's dockerd claims when it is proven on none of them (a process of
// ours whose argv[0] is dockerd: the real /proc is read, and nothing holds the sockets it names); and a greeting
// within one listing of /proc or slower, to such a process that stops listening while it answers.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LISTING_FRESH_MS } from '../../../src/daemon/dockerd-process.js';
import { connectDaemon, connectForFile, refuseForbiddenSocket, socketMissing } from '../../../src/engines/docker/discovery.js';
import { DaemonUnreachableError } from '../../../src/errors.js';
import { writeContext } from '../../support/docker-context.js';
import { isolated } from '../../support/hermetic.js';
import { startStandInEngine } from './stand-in-engine.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-discovery-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('no daemon answering', () => {
  it('is a DaemonUnreachableError naming the endpoint and its source, with what to do', async () => {
    const endpoint = `unix://${dir}/nobody.sock`;
    const error = await connectDaemon({ ...isolated(dir), dockerHost: endpoint }, false).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DaemonUnreachableError);
    expect((error as DaemonUnreachableError).message).toBe(`No Docker daemon answers at ${endpoint} (from option).`);
    expect((error as DaemonUnreachableError).hint).toBe('Start Docker, or point --docker-host / DOCKER_HOST at the running daemon, or pass --apply none.');
    expect((error as DaemonUnreachableError).details).toEqual({ endpoint });
  });

  it('is nothing at all for a lenient caller', async () => {
    expect(await connectDaemon({ ...isolated(dir), dockerHost: `unix://${dir}/nobody.sock` }, true)).toBeUndefined();
  });
});

describe('socketMissing', () => {
  it('knows a unix endpoint with nothing behind it, and judges nothing else', async () => {
    const present = path.join(dir, 'present.sock');
    await writeFile(present, '');
    expect(socketMissing(`unix://${dir}/absent.sock`)).toBe(true);
    expect(socketMissing(`unix://${present}`)).toBe(false);
    expect(socketMissing('tcp://127.0.0.1:1')).toBe(false);
    expect(socketMissing('npipe:////./pipe/docker_engine')).toBe(false);
  });
});

describe('refuseForbiddenSocket', () => {
  it('refuses nothing it cannot call forbidden: a missing socket (said elsewhere), a TCP endpoint, systemd\'s fd://', () => {
    expect(() => refuseForbiddenSocket(`unix://${dir}/absent.sock`)).not.toThrow();
    expect(() => refuseForbiddenSocket('tcp://127.0.0.1:1')).not.toThrow();
    expect(() => refuseForbiddenSocket('fd://')).not.toThrow();
  });
});

describe('what the greeting keeps', () => {
  it('the docker context the endpoint came from decides the setup (orbstack), when nothing else names it', async () => {
    const engine = await startStandInEngine('info-28-overlay2.json');
    try {
      const config = path.join(dir, 'context-docker');
      await writeContext(config, 'orbstack', engine.endpoint);
      const connection = await connectDaemon({ ...isolated(dir), dockerHost: undefined, env: { DOCKER_CONFIG: config, DOCKER_CONTEXT: 'orbstack' } }, false);
      expect(connection).toMatchObject({ endpoint: engine.endpoint, endpointSource: 'context' });
      expect(connection?.setup.kind).toBe('orbstack');
    } finally {
      await engine.stop();
    }
  });

  it('the platform asked for decides the setup, not the one this runs on', async () => {
    const engine = await startStandInEngine('info-28-overlay2.json');
    try {
      const connection = await connectDaemon({ ...isolated(dir), dockerHost: engine.endpoint, platform: 'win32' }, false);
      expect(connection?.setup.kind).toBe('windows-engine');
    } finally {
      await engine.stop();
    }
  });
});

describe("a file's dockerd that is proven on none of the sockets it claims", () => {
  let child: ChildProcess;
  let file: string;
  let a: string;
  let b: string;
  beforeAll(async () => {
    file = path.join(dir, 'claims.json');
    await writeFile(file, '{}\n');
    [a, b] = [`unix://${dir}/a.sock`, `unix://${dir}/b.sock`];
    child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)', '--', '--config-file', file, '-H', a, '-H', b], { argv0: 'dockerd', stdio: 'ignore' });
    await new Promise<void>((resolve, reject) => child.once('spawn', resolve).once('error', reject));
  });
  afterAll(() => {
    child?.kill();
  });

  it('is refused naming them all', async () => {
    const missing = `unix://${dir}/missing.sock`;
    const error = await connectForFile({ ...isolated(dir), dockerHost: missing }, file, 1_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DaemonUnreachableError);
    expect((error as DaemonUnreachableError).message).toBe(
      `dockerd (pid ${child.pid}) reads ${file} and listens on ${a}, ${b}, but the endpoint given, ${missing} (from option), does not answer within 1 s. Nothing was written.`,
    );
    expect((error as DaemonUnreachableError).details).toEqual({ endpoint: missing, pid: child.pid, socket: `${a}, ${b}`, file });
  });
});

describe('one listing of /proc for the call, while it is fresh', () => {
  // A dockerd of ours (argv[0] dockerd) on its own socket, going away during the call: it answers the ping at
  // once; /version and /info are asked with it, before the call lists /proc (while the daemon works on them).
  // 300 ms after both were asked (the listing is long done) it stops listening, and answers them DELAY ms later.
  const script = `
    const http = require('node:http');
    const socket = process.argv.at(-1).slice('unix://'.length);
    const asked = [];
    const server = http.createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url.endsWith('/_ping')) return void res.end('OK');
      asked.push([req.url, res]);
      if (asked.length < 2) return;
      setTimeout(() => server.close(), 300);
      setTimeout(() => {
        for (const [url, r] of asked) r.end(JSON.stringify(url.endsWith('/version')
          ? { Version: '20.10.99', ApiVersion: '1.41', Os: 'linux' }
          : { ServerVersion: '20.10.99', OperatingSystem: 'Stand-in', SecurityOptions: [] }));
      }, 300 + Number(process.env.DELAY));
    });
    server.listen(socket, () => process.stdout.write('ready\\n'));`;

  /** connectForFile to such a dockerd, reading `name`, that answers after `delay` ms. */
  async function greetGoing(name: string, delay: number): Promise<{ pid: number | undefined; found: Awaited<ReturnType<typeof connectForFile>> }> {
    const file = path.join(dir, `${name}.json`);
    await writeFile(file, '{}\n');
    const endpoint = `unix://${dir}/${name}.sock`;
    const child = spawn(process.execPath, ['-e', script, '--', '--config-file', file, '-H', endpoint], {
      argv0: 'dockerd',
      env: { ...process.env, DELAY: String(delay) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await once(child.stdout as NodeJS.ReadableStream, 'data');
      const found = await connectForFile({ ...isolated(dir), dockerHost: endpoint }, file, 5_000);
      // Before the greeting, /proc showed this pid holding the socket: the reader is proven on it.
      expect(found.reader).toMatchObject({ pid: child.pid, endpoint });
      expect(found.connection?.version).toBe('20.10.99');
      return { pid: child.pid, found };
    } finally {
      child.kill();
    }
  }

  it('a quick greeting keeps what the call saw: the setup is the dockerd proven on the socket', async () => {
    const { pid, found } = await greetGoing('quick', 0);
    expect(found.connection?.setup.pid).toBe(pid);
  });

  it('a greeting slower than that is followed by a fresh look: the dockerd no longer listening is not the setup\'s', async () => {
    const { found } = await greetGoing('slow', LISTING_FRESH_MS);
    expect(found.connection?.setup.pid).toBeUndefined();
  });
});

describe('a greeting asks for everything at once', () => {
  // An Engine that answers nothing until it was asked /_ping, /version and /info: a greeting that waited for the
  // ping before asking the rest would get no answer at all.
  async function allAtOnce(name: string): Promise<{ endpoint: string; asked: string[]; close: () => Promise<void> }> {
    const socket = path.join(dir, `${name}.sock`);
    const asked: string[] = [];
    const held: [string, import('node:http').ServerResponse][] = [];
    const { createServer } = await import('node:http');
    const server = createServer((req, res) => {
      asked.push(req.url ?? '');
      held.push([req.url ?? '', res]);
      if (held.length < 3) return;
      for (const [url, r] of held.splice(0)) {
        r.end(url.endsWith('/_ping') ? 'OK' : JSON.stringify(url.endsWith('/version') ? { Version: '20.10.99', ApiVersion: '1.41', Os: 'linux' } : { ServerVersion: '20.10.99' }));
      }
    });
    await new Promise<void>((r) => server.listen(socket, r));
    return {
      endpoint: `unix://${socket}`,
      asked,
      close: () => new Promise((r) => server.close(() => r())),
    };
  }

  it('so the daemon works on /info while /proc is read', async () => {
    const engine = await allAtOnce('at-once');
    try {
      const found = await connectForFile({ ...isolated(dir), dockerHost: engine.endpoint }, path.join(dir, 'nobody-reads.json'), 2_000);
      expect(found.connection?.version).toBe('20.10.99');
      expect(engine.asked.sort()).toEqual(['/_ping', '/info', '/version']);
    } finally {
      await engine.close();
    }
  });
});
