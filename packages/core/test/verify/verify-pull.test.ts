import { writeFile } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/daemon/engine.js';
import { checkMirror, type Check } from '../../src/verify/index.js';
import { startPyrsiaNode, type PyrsiaNode } from '../support/pyrsia-node.js';
import { seedImage, startTestbed, type Testbed } from '../support/testbed.js';

// A real dockerd with a real registry; Docker Hub is unreachable here, so a plain pull can only come via a mirror.
let tb: Testbed;
let engine: Engine;
let digest: string;
let node: PyrsiaNode;

async function useMirror(mirror: string): Promise<void> {
  await writeFile(tb.configFile, `${JSON.stringify({ 'registry-mirrors': [mirror] }, null, 2)}\n`);
  await tb.reload();
  for (let i = 0; i < 50; i++) {
    if ((await engine.liveRegistry()).mirrors.includes(`${mirror}/`)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`mirror ${mirror} never went live`);
}

const pullCheck = (checks: Check[]): Check | undefined => checks.find((c) => c.name === 'pull');

beforeAll(async () => {
  tb = await startTestbed({ registry: true });
  engine = createEngine(tb.dockerHost);
  digest = await seedImage(tb, 'alpine:3.16.2');
  node = await startPyrsiaNode({ upstream: tb.registryUrl ?? '', accessLogFile: `${tb.dir}/pyrsia.log` });
});
afterAll(async () => {
  await node?.close();
  await tb?.stop();
});

describe('pull check against a real daemon', () => {
  it('pulls through the registry mirror with matching digests and removes what it added', async () => {
    const mirror = tb.registryUrl ?? '';
    await useMirror(mirror);
    const r = await checkMirror({ mirror, image: 'alpine:3.16.2', pull: true, engine, live: await engine.liveRegistry() });
    const pull = pullCheck(r.checks);
    expect(pull).toMatchObject({ ok: true, data: { expectedDigest: digest, mirrorDigest: digest, plainDigest: digest } });
    // What it pulled it removes again, and says so: both names, the mirror's own and the plain one.
    expect(pull?.data).toMatchObject({
      mirrorRef: `127.0.0.1:${tb.registryPort}/library/alpine:3.16.2`,
      plainRef: 'alpine:3.16.2',
      removedFirst: [],
      alreadyLocal: [],
      cleanedUp: [`127.0.0.1:${tb.registryPort}/library/alpine:3.16.2`, 'alpine:3.16.2'],
    });
    expect(pull?.data).not.toHaveProperty('cleanupError');
    expect(r.ok).toBe(true);
    expect(await engine.inspectImage('alpine:3.16.2')).toBeUndefined();
    expect(await engine.inspectImage(`127.0.0.1:${tb.registryPort}/library/alpine:3.16.2`)).toBeUndefined();
  });

  it('keeps an image the user already had, and with fresh pulls it again', async () => {
    const mirror = tb.registryUrl ?? '';
    await engine.pull('alpine:3.16.2');
    const kept = pullCheck((await checkMirror({ mirror, image: 'alpine:3.16.2', pull: true, engine, live: await engine.liveRegistry() })).checks);
    expect(kept).toMatchObject({ ok: true, data: { alreadyLocal: ['alpine:3.16.2'] } });
    expect(await engine.inspectImage('alpine:3.16.2')).toBeDefined();
    const fresh = pullCheck((await checkMirror({ mirror, image: 'alpine:3.16.2', pull: true, fresh: true, engine, live: await engine.liveRegistry() })).checks);
    expect(fresh).toMatchObject({ ok: true, data: { removedFirst: ['alpine:3.16.2'] } });
    expect(await engine.inspectImage('alpine:3.16.2')).toBeDefined();
    await engine.removeImage('alpine:3.16.2');
  });

  it('pulls through the Pyrsia node emulator (no digest header, schema 2 only)', async () => {
    await useMirror(node.url);
    const r = await checkMirror({ mirror: node.url, image: 'alpine:3.16.2', pull: true, engine, live: await engine.liveRegistry() });
    expect(r.checks.find((c) => c.name === 'image')?.data).toMatchObject({ digest, digestSource: 'body' });
    expect(pullCheck(r.checks)).toMatchObject({ ok: true, data: { plainDigest: digest } });
    expect(node.accessLog.some((l) => l.includes('"GET /v2/library/alpine/manifests/3.16.2 HTTP/1.1" 200') && l.includes('docker/'))).toBe(true);
  });

  // A mirror that tells the verifier one digest and serves the daemon another: only the pull shows it.
  it('fails the pull check when the daemon got other bytes than the mirror claims to serve', async () => {
    const claimed = `sha256:${'0'.repeat(64)}`;
    const proxy = createServer((req, res) => {
      const upstream = request({ host: '127.0.0.1', port: tb.registryPort, path: req.url, method: req.method, headers: req.headers }, (up) => {
        const headers = { ...up.headers };
        const fromDaemon = /^docker\//.test(req.headers['user-agent'] ?? '');
        if (!fromDaemon && req.url?.includes('/manifests/') && headers['docker-content-digest']) headers['docker-content-digest'] = claimed;
        res.writeHead(up.statusCode ?? 502, headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const mirror = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      await useMirror(mirror);
      const r = await checkMirror({ mirror, image: 'alpine:3.16.2', pull: true, engine, live: await engine.liveRegistry() });
      expect(r.checks.find((c) => c.name === 'image')?.data).toMatchObject({ digest: claimed, digestSource: 'header' });
      const pull = pullCheck(r.checks);
      // The pull by the mirror's own name already shows the lie, so the plain name is never pulled.
      expect(pull).toMatchObject({ ok: false, data: { expectedDigest: claimed, mirrorDigest: digest } });
      expect(pull?.data).not.toHaveProperty('plainDigest');
      expect(pull?.why).toBe(`127.0.0.1:${(proxy.address() as AddressInfo).port}/library/alpine:3.16.2 has ${digest}, the mirror serves ${claimed} to this machine`);
      expect(pull).toMatchObject({
        summary: 'the daemon got a different image from the mirror than the mirror serves here',
        proof: { proved: 'the daemon and this machine see different images on the mirror', how: 'only this mirror can serve a name that carries its host', basis: 'evidence' },
        fix: 'The daemon may reach another host by this name (DNS, proxy, Docker Desktop VM): check from where the daemon runs.',
      });
      expect(r.ok).toBe(false);
    } finally {
      proxy.close();
      await engine.removeImage('alpine:3.16.2').catch(() => undefined);
    }
  });

  it('fails the pull check, saying what to make sure of, when the daemon cannot pull by the mirror\'s own name', async () => {
    // The mirror serves this machine, but turns the daemon away: the daemon does not reach it.
    const proxy = createServer((req, res) => {
      if (/^docker\//.test(req.headers['user-agent'] ?? '')) {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'not for you' }] }));
        return;
      }
      const upstream = request({ host: '127.0.0.1', port: tb.registryPort, path: req.url, method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const port = (proxy.address() as AddressInfo).port;
    const mirror = `http://127.0.0.1:${port}`;
    try {
      await useMirror(mirror);
      const r = await checkMirror({ mirror, image: 'alpine:3.16.2', pull: true, engine, live: await engine.liveRegistry() });
      expect(r.checks.find((c) => c.name === 'image')?.ok).toBe(true);
      const pull = pullCheck(r.checks);
      const mirrorRef = `127.0.0.1:${port}/library/alpine:3.16.2`;
      expect(pull).toMatchObject({
        ok: false,
        summary: `the daemon could not pull ${mirrorRef}`,
        proof: { proved: 'the daemon did not reach the mirror by its own name', how: `the daemon's pull of ${mirrorRef} failed`, basis: 'evidence' },
        fix: `Make sure "127.0.0.1:${port}" is in insecure-registries and reachable from the daemon (on Docker Desktop, from its VM).`,
        data: { mirrorRef, plainRef: 'alpine:3.16.2' },
      });
      expect(pull?.why).toBeTruthy();
      expect(pull?.data).not.toHaveProperty('plainDigest');
      expect(r.ok).toBe(false);
      expect(await engine.inspectImage(mirrorRef)).toBeUndefined();
    } finally {
      proxy.close();
    }
  });

  it('proves the pull reached the Pyrsia node from its own access log', async () => {
    await useMirror(node.url);
    const r = await checkMirror({ mirror: node.url, image: 'alpine:3.16.2', pull: true, fresh: true, engine, live: await engine.liveRegistry(), accessLog: `${tb.dir}/pyrsia.log` });
    const pull = pullCheck(r.checks);
    expect(pull).toMatchObject({ ok: true, proof: { basis: 'evidence' }, data: { servedBy: node.url, evidence: { source: 'access-log' } } });
    const evidence = pull?.data?.evidence as { before: number; after: number };
    expect(evidence.after).toBeGreaterThan(evidence.before);
  });
});
