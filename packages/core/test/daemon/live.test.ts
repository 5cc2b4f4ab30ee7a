// Real dockerd 20.10 + docker-registry on loopback: reload, confirm, and the reload facts dockmirror relies on.
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMethodFor, runApply } from '../../src/daemon/service.js';
import { confirmLive } from '../../src/daemon/confirm.js';
import { createEngine, type Engine } from '../../src/daemon/engine.js';
import type { ExpectedRegistry } from '../../src/daemon/registry-config.js';
import { detectSetup } from '../../src/daemon/setup.js';
import { DaemonUnreachableError } from '../../src/errors.js';
import { fakeCalls, fakeCommandsDir, importSleepImage, seedImage, startTestbed, type Testbed } from '../support/testbed.js';

let tb: Testbed;
let engine: Engine;

/** Write daemon.json, SIGHUP through the same path the product uses, and confirm. */
async function applyFile(content: object, expected: ExpectedRegistry, timeoutMs = 5_000) {
  await writeFile(tb.configFile, `${JSON.stringify(content, null, 2)}\n`);
  const setup = await detectSetup({ endpoint: tb.dockerHost, info: await engine.info(), env: {} });
  await runApply(applyMethodFor(setup, 'auto'));
  return confirmLive(engine, expected, timeoutMs);
}

beforeAll(async () => {
  tb = await startTestbed({ registry: true });
  engine = createEngine(tb.dockerHost);
});
afterAll(async () => {
  await tb?.stop();
});

describe('engine against a real dockerd', () => {
  it('pings, reads version, info and the live registry config', async () => {
    expect(await engine.ping(2_000)).toBe(true);
    expect((await engine.version()).Version).toMatch(/^\d+\.\d+/);
    expect(await engine.liveRegistry()).toEqual({ mirrors: [], insecureRegistries: [] });
    expect(await engine.inspectImage('nothing/here:1')).toBeUndefined();
    expect(await engine.removeImage('nothing/here:1')).toBe(false);
  });

  it('reports an endpoint nobody listens on as unreachable, naming it', async () => {
    const dead = createEngine(`unix://${tb.dir}/nope.sock`);
    expect(await dead.ping(500)).toBe(false);
    await expect(dead.info(500)).rejects.toBeInstanceOf(DaemonUnreachableError);
    await expect(dead.info(500)).rejects.toThrow(`${tb.dir}/nope.sock`);
  });

  it('detects a hand-started dockerd as plain, with its pid, config file and log', async () => {
    const setup = await detectSetup({ endpoint: tb.dockerHost, info: await engine.info(), env: {} });
    expect(setup).toMatchObject({ kind: 'plain', pid: tb.pid, configFile: tb.configFile, pidFile: tb.pidFile, canReload: true });
    expect(setup.logHint).toContain(tb.logFile);
  });
});

describe('reload through SIGHUP', () => {
  it('applies a mirror and an insecure registry, confirmed from /info', async () => {
    const mirror = `${tb.registryUrl}`;
    const before = await engine.liveRegistry();
    const started = performance.now();
    const result = await applyFile(
      { 'registry-mirrors': [mirror], 'insecure-registries': ['reg.test:5000'] },
      { mirrors: [mirror], insecureRegistries: ['reg.test:5000'] },
    );
    const outside = performance.now() - started;
    expect(before.mirrors).not.toContain(`${mirror}/`);
    expect(result.mismatch).toBeUndefined();
    expect(result.ok).toBe(true);
    expect(result.live).toEqual({ mirrors: [`${mirror}/`], insecureRegistries: ['reg.test:5000'] });
    // The wait it reports (printed as "live after N ms") is its own, measured inside the call: never more than
    // the call took as seen from outside. How fast a reload is belongs to `npm run bench`, not to a test.
    expect(result.elapsedMs).toBeGreaterThanOrEqual(0);
    expect(result.elapsedMs).toBeLessThanOrEqual(Math.ceil(outside));
  });

  it('keeps a running container running (same pid and StartedAt)', async () => {
    await importSleepImage(tb, 'dm-sleep:1');
    const id = (await tb.docker(['run', '-d', '--network', 'none', 'dm-sleep:1'])).trim();
    const state = async () => JSON.parse(await tb.docker(['inspect', '--format', '{{json .State}}', id])) as Record<string, unknown>;
    const before = await state();
    const result = await applyFile({ 'registry-mirrors': ['http://127.0.0.1:1'] }, { mirrors: ['http://127.0.0.1:1'] });
    expect(result.ok).toBe(true);
    const after = await state();
    expect(after).toMatchObject({ Running: true, Pid: before.Pid, StartedAt: before.StartedAt });
    expect((await engine.listRunningContainers()).map((c) => c.id)).toContain(id);
    await tb.docker(['rm', '-f', id]);
  });

  it('reports a mismatch when dockerd rejects the file (a failed reload is only logged)', async () => {
    await applyFile({ 'registry-mirrors': ['http://127.0.0.1:2'] }, { mirrors: ['http://127.0.0.1:2'] });
    const result = await applyFile({ 'registry-mirrors': ['ftp://bad.example'] }, { mirrors: ['ftp://bad.example'] }, 1_000);
    expect(result.ok).toBe(false);
    expect(result.mismatch).toContain('mirrors');
    expect(result.live?.mirrors).toEqual(['http://127.0.0.1:2/']);
  });

  it('clears mirrors only with "registry-mirrors": [] — deleting the key keeps the old ones live', async () => {
    const set = await applyFile({ 'registry-mirrors': ['http://127.0.0.1:3'] }, { mirrors: ['http://127.0.0.1:3'] });
    expect(set.ok).toBe(true);
    // dockerd only applies keys present in the file, so a file without the key leaves the old mirrors in place.
    const deleted = await applyFile({}, { mirrors: []}, 1_000);
    expect(deleted.ok).toBe(false);
    expect(deleted.live?.mirrors).toEqual(['http://127.0.0.1:3/']);
    // The same holds for insecure-registries: set by the first test, absent from every file since, still live.
    expect(deleted.live?.insecureRegistries).toEqual(['reg.test:5000']);
    const cleared = await applyFile({ 'registry-mirrors': [], 'insecure-registries': [] }, { mirrors: [], insecureRegistries: [] });
    expect(cleared.ok).toBe(true);
    expect(cleared.live).toEqual({ mirrors: [], insecureRegistries: [] });
  });
});

describe('pulling through the test registry as a mirror', () => {
  it('pulls alpine:3.16.2 by its Hub name through the mirror, with the registry digest', async () => {
    const digest = await seedImage(tb, 'alpine:3.16.2');
    const result = await applyFile({ 'registry-mirrors': [`${tb.registryUrl}`] }, { mirrors: [`${tb.registryUrl}`] });
    expect(result.ok).toBe(true);
    await engine.pull('alpine:3.16.2', 30_000);
    const image = await engine.inspectImage('alpine:3.16.2');
    expect(image?.repoDigests).toContain(`alpine@${digest}`);
    expect(await engine.removeImage('alpine:3.16.2')).toBe(true);
    expect(await engine.inspectImage('alpine:3.16.2')).toBeUndefined();
  });

  it('rejects a pull the mirror cannot serve with the daemon message', async () => {
    await expect(engine.pull('library/not-seeded:1', 30_000)).rejects.toThrow(/not-seeded/);
  });
});

describe('confirming a change live', () => {
  it('asks /info straight away when the daemon answers (a reload), and pings only a daemon that does not', async () => {
    const calls: string[] = [];
    const counted = (target: Engine): Engine =>
      new Proxy(target, {
        get: (object, key, receiver) => {
          const value = Reflect.get(object, key, receiver) as unknown;
          return typeof value === 'function' ? (...args: unknown[]) => (calls.push(String(key)), (value as (...a: unknown[]) => unknown).apply(object, args)) : value;
        },
      });
    const now = await engine.liveRegistry();
    expect((await confirmLive(counted(engine), now, 5_000)).ok).toBe(true);
    expect(calls).toEqual(['liveRegistry']);
    calls.length = 0;
    const dead = await confirmLive(counted(createEngine(`unix://${tb.dir}/nope.sock`)), now, 300);
    expect(dead).toMatchObject({ ok: false, mismatch: `the daemon at unix://${tb.dir}/nope.sock did not answer /_ping within 300 ms` });
    expect(calls).toEqual(['liveRegistry', 'waitForPing']);
  });
});

describe('fake service managers drive the real daemon', () => {
  it('`systemctl reload docker` (fake) reloads the test dockerd', async () => {
    const bin = await fakeCommandsDir(tb);
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
    const setup = await detectSetup({ endpoint: tb.dockerHost, info: await engine.info(), env: { DOCKMIRROR_SETUP: 'systemd' } });
    const plan = applyMethodFor(setup, 'auto');
    expect(plan.command).toEqual(['systemctl', 'reload', 'docker']);
    await writeFile(tb.configFile, '{"registry-mirrors": ["http://127.0.0.1:4"]}\n');
    await runApply(plan, { env });
    expect((await confirmLive(engine, { mirrors: ['http://127.0.0.1:4'] }, 5_000)).ok).toBe(true);
    expect(await fakeCalls(tb)).toContain('systemctl reload docker');
  });

  it('`systemctl restart docker` (fake) restarts it: new pid, config live after the restart', async () => {
    const bin = await fakeCommandsDir(tb);
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
    const oldPid = tb.pid;
    const setup = await detectSetup({ endpoint: tb.dockerHost, info: await engine.info(), env: { DOCKMIRROR_SETUP: 'systemd' } });
    await writeFile(tb.configFile, '{"registry-mirrors": ["http://127.0.0.1:5"]}\n');
    await runApply(applyMethodFor(setup, 'restart'), { env });
    expect((await confirmLive(engine, { mirrors: ['http://127.0.0.1:5'] }, 20_000)).ok).toBe(true);
    expect(tb.pid).not.toBe(oldPid);
    expect(await fakeCalls(tb)).toContain('systemctl restart docker');
  });
});
