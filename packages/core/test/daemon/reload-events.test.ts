// `GET /events` for reloads against endpoints that are not a well-behaved dockerd: the subscription is bounded
// in line size, line count and time, a forged event of another type is not a reload, and an endpoint that holds
// back its headers cannot hold up the apply. The real dockerd's side is in truth.test.ts.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/daemon/engine.js';
import { DaemonError, DaemonUnreachableError } from '../../src/errors.js';
import { pause, throwIfInterrupted, untilInterrupted } from '../../src/support/interrupt.js';
import { InterruptedError } from '../../src/errors.js';
import { forever } from '../support/hostile-server.js';

let dir: string;
const servers: Server[] = [];
const sent: Record<string, number> = {};
const HEAD = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n';

async function serve(name: string, behaviour: (socket: Socket) => void): Promise<string> {
  const path = join(dir, `${name}.sock`);
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => behaviour(socket));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(path, r));
  return `unix://${path}`;
}

const at: Record<string, string> = {};

beforeAll(async () => {
  dir = await mkdtemp('/tmp/dm-events-');
  at.reload = await serve('reload', (s) => s.write(`${HEAD}{"Type":"daemon","Action":"reload","Actor":{"ID":"x"}}\n`));
  at.forged = await serve('forged', (s) => s.write(`${HEAD}{"Type":"container","Action":"reload"}\n{"Type":"daemon","Action":"reload"`));
  at.longLine = await serve('long-line', (s) => {
    s.write(HEAD);
    forever(sent, 'longLine', s, Buffer.alloc(16 * 1024, '['));
  });
  at.manyLines = await serve('many-lines', (s) => {
    s.write(HEAD);
    forever(sent, 'manyLines', s, Buffer.from('{"Type":"daemon","Action":"other"}\n'.repeat(100)));
  });
  at.silent = await serve('silent', () => undefined);
  at.refused = await serve('refused', (s) => s.end('HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'));
});
afterAll(async () => {
  for (const server of servers) server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('watchReloads', () => {
  it('sees a reload event', async () => {
    const watch = await createEngine(at.reload!).watchReloads(10_000);
    expect(await watch.reloaded(5_000)).toBe(true);
    watch.close();
  });

  it('a reload of another type, or a line never ended, is no reload', async () => {
    const watch = await createEngine(at.forged!).watchReloads(10_000);
    expect(await watch.reloaded(300)).toBe(false);
    watch.close();
    expect(await watch.reloaded(5_000)).toBe(false);
  });

  it('one endless line ends the stream at 64 KiB of it', async () => {
    const watch = await createEngine(at.longLine!).watchReloads(30_000);
    expect(await watch.reloaded(20_000)).toBe(false);
    // Ended by the bound, not by the wait: reading on finds it closed at once, and the sender was cut off.
    expect(await watch.reloaded(60_000)).toBe(false);
    expect(sent.longLine).toBeLessThan(16 * 1024 * 1024);
  });

  it('endless short lines end the stream after 1,000 of them', async () => {
    const watch = await createEngine(at.manyLines!).watchReloads(30_000);
    expect(await watch.reloaded(20_000)).toBe(false);
    expect(await watch.reloaded(60_000)).toBe(false);
    expect(sent.manyLines).toBeLessThan(64 * 1024 * 1024);
  });

  it('headers held back are DAEMON_UNREACHABLE at their own deadline; an HTTP error is DAEMON_ERROR', async () => {
    await expect(createEngine(at.silent!).watchReloads(60_000, 200)).rejects.toBeInstanceOf(DaemonUnreachableError);
    await expect(createEngine(at.refused!).watchReloads(5_000)).rejects.toBeInstanceOf(DaemonError);
    await expect(createEngine(`unix://${dir}/none.sock`).watchReloads(5_000)).rejects.toBeInstanceOf(DaemonUnreachableError);
  });
});

describe('interrupts', () => {
  it('end a wait at once, and leave work that finished alone', async () => {
    const controller = new AbortController();
    const waiting = pause(60_000, controller.signal);
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(InterruptedError);
    await expect(untilInterrupted(Promise.resolve(7), new AbortController().signal)).resolves.toBe(7);
    await expect(untilInterrupted(Promise.reject(new Error('own')), new AbortController().signal)).rejects.toThrow('own');
    await expect(untilInterrupted(Promise.resolve(7), controller.signal)).rejects.toBeInstanceOf(InterruptedError);
    expect(() => throwIfInterrupted(controller.signal)).toThrow('Interrupted; nothing was written.');
    expect(() => throwIfInterrupted(undefined)).not.toThrow();
  });
});
