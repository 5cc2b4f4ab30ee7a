// Hostile Engine endpoints on unix sockets: one that streams bodies forever, one that never answers, one that
// floods headers, one that is not Docker. Every Engine call must end within its deadline and its byte bound as a
// documented error (DAEMON_ERROR / DAEMON_UNREACHABLE, exit 5), and the CLI must leave daemon.json as it was.
import { execFile } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { Server, Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/daemon/engine.js';
import { DaemonError, DaemonUnreachableError, DockmirrorError, InterruptedError } from '../../src/errors.js';
import { answer, forever, serve, type Behaviour } from '../support/hostile-server.js';

const BIN = resolve(fileURLToPath(import.meta.url), '../../../../../apps/cli/bin/run.js');
const MiB = 1024 * 1024;

let dir: string;
const servers: Server[] = [];
/** Bytes each endless server managed to write before the client hung up. */
const sent: Record<string, number> = {};

const HEAD = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n';

/** One of this file's endpoints (see the support module's serve). */
const listen = (name: string, behaviour: Behaviour): Promise<string> => serve(dir, servers, name, behaviour);

const endpoints: Record<string, string> = {};
/** The connections the `held` endpoint accepted. */
const held: Socket[] = [];

beforeAll(async () => {
  dir = await mkdtemp('/tmp/dm-hostile-');
  const ping = (path: string, socket: Socket): boolean => {
    if (path !== '/_ping') return false;
    answer(socket, '200 OK', 'OK');
    return true;
  };
  // Pings like a daemon, then sends every other body forever: the attack that took `status` to 8 GB.
  endpoints.endless = await listen('endless', (path, socket) => {
    if (!ping(path, socket)) {
      socket.write(HEAD);
      forever(sent, path.startsWith('/images/create') ? 'pull' : 'endless', socket, Buffer.alloc(64 * 1024, '['));
    }
  });
  endpoints.endlessPing = await listen('endless-ping', (_path, socket) => {
    socket.write(HEAD);
    forever(sent, 'endlessPing', socket, Buffer.alloc(64 * 1024, 'O'));
  });
  // Accepts, reads the request, and never says a word.
  endpoints.silent = await listen('silent', () => undefined);
  // The same, keeping each connection for a test to see who closed it.
  endpoints.held = await listen('held', (_path, socket) => void held.push(socket));
  endpoints.headers = await listen('headers', (_path, socket) => {
    socket.write('HTTP/1.1 200 OK\r\n');
    forever(sent, 'headers', socket, Buffer.from(`X-Flood: ${'a'.repeat(1000)}\r\n`));
  });
  // A pull stream of well-formed progress lines that never ends.
  endpoints.progress = await listen('progress', (path, socket) => {
    if (ping(path, socket)) return;
    socket.write(HEAD);
    forever(sent, 'progress', socket, Buffer.from('{"status":"Downloading","progress":"[=>   ]"}\n'.repeat(1000)));
  });
  endpoints.notDocker = await listen('not-docker', (path, socket) => {
    if (path === '/info') answer(socket, '200 OK', '<html>hello</html>');
    else if (path.startsWith('/images/')) answer(socket, '404 Not Found', '{"message":"no such image"}');
    else answer(socket, '500 Internal Server Error', '{"message":"boom"}');
  });
});

afterAll(async () => {
  for (const server of servers) server.close();
  await rm(dir, { recursive: true, force: true });
});

/** The rejection of `promise`, which must be a DockmirrorError. */
async function failure(promise: Promise<unknown>): Promise<DockmirrorError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DockmirrorError);
  return error as DockmirrorError;
}

describe('the Engine client against hostile endpoints', () => {
  it('an endless /info body stops at 8 MiB as DAEMON_ERROR, with memory bounded', async () => {
    const peakBefore = process.resourceUsage().maxRSS;
    const engine = createEngine(endpoints.endless!);
    expect(await engine.ping(2_000)).toBe(true);
    for (const call of [() => engine.info(30_000), () => engine.version(30_000), () => engine.liveRegistry(30_000)]) {
      const error = await failure(call());
      expect(error).toBeInstanceOf(DaemonError);
      expect(error.code).toBe('DAEMON_ERROR');
      expect(error.message).toContain(`more than ${8 * MiB} bytes`);
      expect(error.hint).toContain('really a Docker daemon');
    }
    // The client hung up soon after the bound: the server got to write little more than 8 MiB (socket buffers).
    expect(sent.endless).toBeGreaterThan(8 * MiB);
    expect(sent.endless).toBeLessThan(24 * MiB);
    // maxRSS is in KiB; the old client grew to gigabytes on the same stream.
    expect(process.resourceUsage().maxRSS - peakBefore).toBeLessThan(256 * 1024);
  });

  it('a smaller bound can be asked for, and holds', async () => {
    const error = await failure(createEngine(endpoints.endless!, { maxBodyBytes: 4096 }).info(30_000));
    expect(error.message).toContain('more than 4096 bytes');
  });

  it('an endless /_ping is no daemon: ping is false, and nothing is buffered', async () => {
    expect(await createEngine(endpoints.endlessPing!).ping(5_000)).toBe(false);
    expect(sent.endlessPing).toBeLessThan(16 * MiB);
  });

  it('a daemon that never answers is DAEMON_UNREACHABLE at the deadline', async () => {
    const engine = createEngine(endpoints.silent!);
    expect(await engine.ping(300)).toBe(false);
    const error = await failure(engine.info(300));
    expect(error).toBeInstanceOf(DaemonUnreachableError);
    expect(error.message).toBe(`The Docker daemon at ${endpoints.silent} did not answer GET /info within 300 ms.`);
    expect((await failure(engine.pull('alpine:3', 300))).code).toBe('DAEMON_UNREACHABLE');
  });

  it("the engine's signal ends a call in flight as INTERRUPTED, closing its connection, and refuses the next", async () => {
    const stop = new AbortController();
    const engine = createEngine(endpoints.held!, { signal: stop.signal });
    const call = failure(engine.info(60_000));
    const watch = engine.watchReloads(60_000, 60_000).then(() => undefined, (e: unknown) => e);
    while (held.length < 2) await new Promise((r) => setTimeout(r, 10));
    stop.abort();
    expect(await call).toBeInstanceOf(InterruptedError);
    expect(await watch).toBeInstanceOf(InterruptedError);
    // Both connections were closed by the client: the endpoint never answers, so nothing else could end them.
    await Promise.all(held.map((socket) => (socket.destroyed ? undefined : new Promise((closed) => socket.once('close', closed)))));
    expect(await failure(engine.version(60_000))).toBeInstanceOf(InterruptedError);
    expect(await engine.watchReloads(60_000, 60_000).then(() => undefined, (e: unknown) => e)).toBeInstanceOf(InterruptedError);
    expect(held).toHaveLength(2);
  });

  it('a call that ends leaves no listener on the signal', async () => {
    const stop = new AbortController();
    const engine = createEngine(endpoints.notDocker!, { signal: stop.signal });
    await failure(engine.info());
    await failure(engine.watchReloads(5_000));
    expect(getEventListeners(stop.signal, 'abort')).toEqual([]);
  });

  it('a header flood is DAEMON_ERROR, not a crash', async () => {
    const error = await failure(createEngine(endpoints.headers!).info(30_000));
    expect(error.code).toBe('DAEMON_ERROR');
    expect(error.message).toContain('did not answer GET /info in HTTP');
  });

  it('a pull stream: one endless line is bounded, endless lines end at the pull deadline', async () => {
    const long = await failure(createEngine(endpoints.endless!, { pullTimeoutMs: 60_000 }).pull('alpine:3.16.2'));
    expect(long.code).toBe('DAEMON_ERROR');
    expect(long.message).toContain('a progress line of more than');
    expect(sent.pull).toBeLessThan(24 * MiB);
    const peakBefore = process.resourceUsage().maxRSS;
    const endless = await failure(createEngine(endpoints.progress!).pull('alpine:3.16.2', 1_500));
    expect(endless.code).toBe('DAEMON_UNREACHABLE');
    expect(endless.message).toContain('did not answer pull alpine:3.16.2 within 1500 ms');
    expect(sent.progress).toBeGreaterThan(MiB);
    expect(process.resourceUsage().maxRSS - peakBefore).toBeLessThan(256 * 1024);
  });

  it('what is not Docker JSON is DAEMON_ERROR; HTTP errors keep their status', async () => {
    const engine = createEngine(endpoints.notDocker!);
    expect((await failure(engine.info())).message).toContain("something that is not Docker's JSON");
    const refused = await failure(engine.version());
    expect(refused).toMatchObject({ code: 'DAEMON_ERROR', details: { statusCode: 500 } });
    expect(refused.message).toBe('The Docker daemon refused GET /version: boom');
    expect(await engine.inspectImage('x/y:1')).toBeUndefined();
    expect(await engine.removeImage('x/y:1')).toBe(false);
  });
});

describe('the CLI against hostile endpoints', () => {
  const cli = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      execFile(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', HOME: dir, NO_COLOR: '1' }, timeout: 120_000 }, (error, stdout, stderr) =>
        done({ code: error ? Number(error.code) : 0, stdout, stderr }),
      );
    });

  it('add against an endless endpoint exits 5, names the bound, and leaves daemon.json as it was', async () => {
    const file = join(dir, 'daemon.json');
    const bytes = '{\n  "data-root": "/var/lib/x"\n}\n';
    await writeFile(file, bytes);
    const add = await cli(['add', 'http://127.0.0.1:5000', '--config-file', file, '--state-dir', join(dir, 'state'), '--docker-host', endpoints.endless!]);
    expect(add.code).toBe(5);
    expect(add.stderr).toContain(`more than ${8 * MiB} bytes`);
    expect(add.stderr).not.toMatch(/\n\s+at /);
    expect(await readFile(file, 'utf8')).toBe(bytes);
  });

  it('add --apply reload against a silent endpoint exits 5 with the endpoint named, file untouched', async () => {
    // With --apply auto a daemon that does not answer is one that is not running: the file is changed for the
    // next start, as documented. Asked to reload, dockmirror must refuse.
    const file = join(dir, 'silent.json');
    await writeFile(file, '{}\n');
    // The first probe waits --timeout too (a hung daemon is not a stopped one), so keep it short here.
    const args = ['add', 'http://127.0.0.1:5000', '--config-file', file, '--state-dir', join(dir, 'state2'), '--apply', 'reload', '--timeout', '2'];
    const add = await cli([...args, '--docker-host', endpoints.silent!]);
    expect(add.code).toBe(5);
    expect(add.stderr).toContain(endpoints.silent);
    expect(await readFile(file, 'utf8')).toBe('{}\n');
  });

  it('status against an endless endpoint reports the daemon as unusable instead of exhausting memory', async () => {
    const file = join(dir, 'status.json');
    await writeFile(file, '{}\n');
    const status = await cli(['status', '--config-file', file, '--state-dir', join(dir, 'state3'), '--docker-host', endpoints.endless!]);
    // status reports an unusable daemon as part of the status (as for one that is not running).
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`more than ${8 * MiB} bytes`);
  });

  it.each(['tcp://', 'tcp://:2375', 'tcp://127.0.0.1:abc'])('--docker-host %s is a usage error (exit 2) with a hint', async (endpoint) => {
    const file = join(dir, 'usage.json');
    await writeFile(file, '{}\n');
    const add = await cli(['add', 'http://127.0.0.1:5000', '--config-file', file, '--state-dir', join(dir, 'state4'), '--docker-host', endpoint]);
    expect(add.code).toBe(2);
    expect(add.stderr).toContain(`Docker endpoint "${endpoint}"`);
    expect(add.stderr).toContain('tcp://HOST:PORT');
    expect(await readFile(file, 'utf8')).toBe('{}\n');
  });
});
