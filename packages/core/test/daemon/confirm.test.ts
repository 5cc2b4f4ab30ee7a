// confirmLive against scripted endpoints on unix sockets: a daemon coming back from a restart (pings but drops
// /info), one that goes away for good, one slow to answer, one that answers /info with an HTTP error. What is
// asserted is what the apply acts on: confirmed or not, and the reason it gives. The real dockerd's side is in
// live.test.ts.
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confirmLive } from '../../src/daemon/confirm.js';
import { createEngine } from '../../src/daemon/engine.js';
import { DaemonError } from '../../src/errors.js';
import { answer, serve } from '../support/hostile-server.js';

/**
 * What the endpoint does with the n-th request to a path: `reset` drops the connection (ECONNRESET, as a
 * restarting daemon does), `hang` never answers, `500` is an HTTP error, `ok` answers /_ping, `mirror:<url>`
 * answers /info with that one mirror (`mirror:` with none); `<ms>+<step>` does the step after a delay.
 */
type Step = string;

let dir: string;
const servers: Server[] = [];

function act(step: Step, socket: Socket): void {
  const delayed = /^(\d+)\+(.*)$/.exec(step);
  if (delayed) {
    const timer = setTimeout(() => act(delayed[2] ?? '', socket), Number(delayed[1]));
    socket.on('close', () => clearTimeout(timer));
    return;
  }
  if (step === 'reset') socket.destroy();
  else if (step === 'hang') return;
  else if (step === '500') answer(socket, '500 Internal Server Error', '{"message":"boom"}');
  else if (step === 'ok') answer(socket, '200 OK', 'OK');
  else if (step.startsWith('mirror:')) {
    const mirror = step.slice('mirror:'.length);
    const info = { RegistryConfig: { Mirrors: mirror ? [mirror] : [], InsecureRegistryCIDRs: ['127.0.0.0/8'], IndexConfigs: {} } };
    answer(socket, '200 OK', JSON.stringify(info));
  }
}

/** An endpoint that plays `script[path]` one step per request; the last step repeats. */
async function scripted(name: string, script: Record<'/_ping' | '/info', Step[]>): Promise<string> {
  const count: Record<string, number> = {};
  return serve(dir, servers, name, (path, socket) => {
    const target = path.split('?')[0] as '/_ping' | '/info';
    const steps = script[target] ?? ['500'];
    const n = (count[target] = (count[target] ?? 0) + 1);
    act(steps[Math.min(n, steps.length) - 1] ?? '500', socket);
  });
}

beforeAll(async () => {
  dir = await mkdtemp('/tmp/dm-confirm-');
});
afterAll(async () => {
  for (const server of servers) server.close();
  await rm(dir, { recursive: true, force: true });
});

const WANT = { mirrors: ['http://127.0.0.1:5000'], insecureRegistries: [] };
const GOOD = 'mirror:http://127.0.0.1:5000/';
const OLD = 'mirror:http://127.0.0.1:4000/';

describe('confirmLive', () => {
  it('a daemon that answers /_ping but keeps dropping /info is not confirmed, and the wait still ends at the deadline', async () => {
    const endpoint = await scripted('drops-info', { '/_ping': ['ok'], '/info': ['reset'] });
    const ticks: string[] = [];
    const result = await confirmLive(createEngine(endpoint), WANT, 1_500, { intervalMs: 50, onTick: (_ms, why) => ticks.push(why) });
    expect(result.ok).toBe(false);
    expect(result.mismatch).toBe(`Cannot reach the Docker daemon at ${endpoint} (ECONNRESET).`);
    expect(result.live).toBeUndefined();
    // Every tick reports the dropped connection, the last reason seen.
    expect(ticks.length).toBeGreaterThan(0);
    expect(new Set(ticks)).toEqual(new Set([result.mismatch]));
  });

  it('a daemon that drops /info and then stops answering /_ping is reported as not answering /_ping', async () => {
    const endpoint = await scripted('goes-away', { '/_ping': ['ok', 'reset'], '/info': ['reset'] });
    const result = await confirmLive(createEngine(endpoint), WANT, 1_500, { intervalMs: 50 });
    expect(result).toMatchObject({ ok: false, mismatch: `the daemon at ${endpoint} did not answer /_ping within 1500 ms` });
  });

  it('after a mismatch, a dropped /info is checked with /_ping again before it counts as a passing blip', async () => {
    // Back from a restart with the old config, then gone: the ping that follows the dropped /info fails, so the
    // /info that would have matched afterwards is never asked.
    const endpoint = await scripted('mismatch-then-gone', { '/_ping': ['ok', 'reset'], '/info': ['reset', OLD, 'reset', GOOD] });
    const result = await confirmLive(createEngine(endpoint), WANT, 1_500, { intervalMs: 50 });
    expect(result).toMatchObject({ ok: false, mismatch: `the daemon at ${endpoint} did not answer /_ping within 1500 ms` });
  });

  it('a restarting daemon that refuses for a while and then comes back with the change is confirmed', async () => {
    const endpoint = await scripted('restarting', { '/_ping': ['reset', 'reset', 'reset', 'ok'], '/info': ['reset', GOOD] });
    const result = await confirmLive(createEngine(endpoint), WANT, 10_000);
    expect(result).toMatchObject({ ok: true, live: { mirrors: ['http://127.0.0.1:5000/'] } });
  });

  it('a daemon that goes away late in the wait is waited for only until the deadline, not that long again', async () => {
    // /info shows the old config after 600 ms, then drops; /_ping refuses six times, then answers. Within the
    // 300 ms left there is room for three pings at most, so the daemon is reported gone.
    const endpoint = await scripted('late-gone', { '/_ping': ['reset', 'reset', 'reset', 'reset', 'reset', 'reset', 'ok'], '/info': [`600+${OLD}`, 'reset', GOOD] });
    const result = await confirmLive(createEngine(endpoint), WANT, 1_000, { intervalMs: 100 });
    expect(result).toMatchObject({ ok: false, mismatch: `the daemon at ${endpoint} did not answer /_ping within 1000 ms` });
  });

  it('reports the last live settings it read and why they differ', async () => {
    const endpoint = await scripted('old-config', { '/_ping': ['ok'], '/info': [OLD] });
    const ticks: number[] = [];
    const result = await confirmLive(createEngine(endpoint), WANT, 600, { intervalMs: 100, onTick: (ms) => ticks.push(ms) });
    expect(result).toMatchObject({
      ok: false,
      live: { mirrors: ['http://127.0.0.1:4000/'], insecureRegistries: [] },
      mismatch: 'mirrors: daemon has [http://127.0.0.1:4000/], file asks for [http://127.0.0.1:5000]',
    });
    expect(ticks.length).toBeGreaterThan(0);
  });

  it('an HTTP error from /info is no reason to keep waiting: it is thrown', async () => {
    const endpoint = await scripted('info-500', { '/_ping': ['ok'], '/info': ['500'] });
    await expect(confirmLive(createEngine(endpoint), WANT, 5_000)).rejects.toBeInstanceOf(DaemonError);
  });

  it('a daemon slow to answer /info (busy after a restart) is waited for within the deadline', async () => {
    const endpoint = await scripted('slow', { '/_ping': ['ok'], '/info': [`1000+${GOOD}`] });
    const result = await confirmLive(createEngine(endpoint), WANT, 8_000);
    expect(result).toMatchObject({ ok: true, live: { mirrors: ['http://127.0.0.1:5000/'] } });
  });

  it('an /info answer that comes only after the deadline does not confirm the change', async () => {
    // The first /info takes half the time and shows the old config; the next is held back past what is left.
    const endpoint = await scripted('too-late', { '/_ping': ['ok'], '/info': [`3000+${OLD}`, `3500+${GOOD}`] });
    const result = await confirmLive(createEngine(endpoint), WANT, 6_000, { intervalMs: 100 });
    expect(result.ok).toBe(false);
  }, 20_000);
});
