// The pull check's less travelled paths, each against a real dockerd and a real registry: the plain name failing
// after the mirror's own name worked, a mirror that gives the plain name another image, an image named by digest,
// a copy that cannot be removed afterwards, and counters that cannot be read. The testbed's dockerd sends every
// registry but loopback to a dead proxy, so a plain pull no mirror serves fails at once.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/daemon/engine.js';
import { checkMirror, type Check } from '../../src/verify/index.js';
import { seedImage, startTestbed, type Testbed } from '../support/testbed.js';

let tb: Testbed;
let engine: Engine;
let digest: string;
let otherDigest: string;
let mirror: string;
let mirrorRef: string;

async function useMirrors(mirrors: string[]): Promise<void> {
  await writeFile(tb.configFile, `${JSON.stringify({ 'registry-mirrors': mirrors }, null, 2)}\n`);
  await tb.reload();
  const want = mirrors.map((m) => `${m}/`);
  for (let i = 0; i < 50; i++) {
    if (JSON.stringify((await engine.liveRegistry()).mirrors) === JSON.stringify(want)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`mirrors ${mirrors.join(', ')} never went live`);
}

async function pullCheck(options: Partial<Parameters<typeof checkMirror>[0]> = {}): Promise<Check> {
  const r = await checkMirror({ mirror, image: 'alpine:3.16.2', pull: true, engine, live: await engine.liveRegistry(), ...options });
  const pull = r.checks.find((c) => c.name === 'pull');
  if (!pull) throw new Error(`no pull check in ${JSON.stringify(r.checks)}`);
  return pull;
}

/** A server on loopback; closed in the test's finally. */
async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

beforeAll(async () => {
  tb = await startTestbed({ registry: true });
  engine = createEngine(tb.dockerHost);
  digest = await seedImage(tb, 'alpine:3.16.2');
  mirror = tb.registryUrl ?? '';
  mirrorRef = `127.0.0.1:${tb.registryPort}/library/alpine:3.16.2`;
  // A second image in the same repository, with another digest: the same one plus a label.
  const context = await mkdtemp(path.join(tmpdir(), 'dm-build-'));
  try {
    await writeFile(path.join(context, 'Dockerfile'), `FROM ${mirrorRef}\nLABEL dockmirror.test=other\n`);
    await tb.docker(['pull', mirrorRef]);
    await tb.docker(['build', '-q', '-t', `127.0.0.1:${tb.registryPort}/library/alpine:other`, context]);
    await tb.docker(['push', `127.0.0.1:${tb.registryPort}/library/alpine:other`]);
    await tb.docker(['rmi', `127.0.0.1:${tb.registryPort}/library/alpine:other`, mirrorRef]);
  } finally {
    await rm(context, { recursive: true, force: true });
  }
  const res = await fetch(`${mirror}/v2/library/alpine/manifests/other`, {
    method: 'HEAD',
    headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' },
  });
  otherDigest = res.headers.get('docker-content-digest') ?? '';
  if (!otherDigest || otherDigest === digest) throw new Error(`the second image has digest ${otherDigest}`);
});
afterAll(async () => {
  await tb?.stop();
});

describe('pull check: the less travelled paths', () => {
  it('fails when the plain name cannot be pulled, though the mirror\'s own name could, and removes what it pulled', async () => {
    await useMirrors([]);
    const pull = await pullCheck();
    expect(pull).toMatchObject({
      ok: false,
      summary: 'the daemon could not pull alpine:3.16.2',
      proof: {
        proved: 'the daemon reaches the mirror by its own name, but could not pull alpine:3.16.2',
        how: 'only this mirror can serve a name that carries its host',
        basis: 'evidence',
      },
      fix: 'Check that the mirror is live in the daemon (the live check) and the daemon log for the pull.',
      data: { mirrorDigest: digest, cleanedUp: [mirrorRef, 'alpine:3.16.2'] },
    });
    // The daemon's own words, first line only: the dead proxy refused it.
    expect(pull.why).toMatch(/^.{20,}127\.0\.0\.1:1.*connection refused/);
    expect(pull.why).not.toContain('\n');
    expect(pull.data?.plainDigest).toBeUndefined();
    expect(await engine.inspectImage(mirrorRef)).toBeUndefined();
  });

  it('pulls an image named by its digest, by the mirror\'s name with @ and by the plain one', async () => {
    await useMirrors([mirror]);
    const pull = await pullCheck({ image: `alpine@${digest}` });
    const byDigest = `127.0.0.1:${tb.registryPort}/library/alpine@${digest}`;
    expect(pull).toMatchObject({ ok: true, data: { mirrorRef: byDigest, plainRef: `alpine@${digest}`, mirrorDigest: digest, plainDigest: digest } });
    expect(pull.proof?.how.startsWith(`${byDigest}: only this mirror can serve a name that carries its host; alpine@${digest}: `)).toBe(true);
    expect(await engine.inspectImage(byDigest)).toBeUndefined();
  });

  it('says which copy it could not remove, and removes the rest', async () => {
    await useMirrors([mirror]);
    const failing: Engine = Object.create(engine) as Engine;
    failing.removeImage = async (ref: string) => {
      if (ref === mirrorRef) throw new Error('image is being used by a running container');
      return engine.removeImage(ref);
    };
    const pull = await pullCheck({ engine: failing });
    expect(pull.ok).toBe(true);
    expect(pull.data).toMatchObject({
      cleanupError: `could not remove ${mirrorRef}: image is being used by a running container`,
      cleanedUp: ['alpine:3.16.2'],
    });
    expect(await engine.inspectImage(mirrorRef)).toBeDefined();
    await engine.removeImage(mirrorRef);
  });

  it('fails when the mirror answers the verifier with one image and the daemon\'s plain pull with another', async () => {
    // Forwards everything, but the daemon's second manifest request (the plain name's) gets the other tag's.
    let daemonManifests = 0;
    const { server, url } = await listen((req, res) => {
      let target = req.url ?? '/';
      if (/^docker\//.test(req.headers['user-agent'] ?? '') && target.includes('/manifests/3.16.2') && ++daemonManifests > 1) {
        target = target.replace('/manifests/3.16.2', '/manifests/other');
      }
      const upstream = request({ host: '127.0.0.1', port: tb.registryPort, path: target, method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    try {
      await useMirrors([url]);
      const pull = await pullCheck({ mirror: url });
      expect(daemonManifests).toBeGreaterThan(1);
      expect(pull).toMatchObject({
        ok: false,
        summary: 'the daemon got a different image than the mirror serves',
        why: `alpine:3.16.2 has ${otherDigest}, the mirror serves ${digest}`,
        proof: { proved: 'the plain name did not give the mirror\'s image', basis: 'inferred' },
        fix: 'The pull came from elsewhere (dockerd falls back to Docker Hub when a mirror fails): check the daemon log.',
        data: { mirrorDigest: digest, plainDigest: otherDigest },
      });
    } finally {
      server.close();
      await useMirrors([mirror]);
    }
  });

  it('says the counters could not be read, with the reason, when they answer before the pull and fail after it', async () => {
    await useMirrors([mirror]);
    let reads = 0;
    const { server, url } = await listen((_req, res) => {
      reads += 1;
      if (reads === 1) {
        res.end('registry_http_requests_total{code="200",handler="manifest",method="get"} 3\n');
      } else {
        res.writeHead(500);
        res.end();
      }
    });
    try {
      const pull = await pullCheck({ metricsUrl: `${url}/metrics` });
      expect(pull.data?.evidence).toEqual({ source: 'none', why: `the mirror's counters could not be read: GET ${url}/metrics answered 500` });
    } finally {
      server.close();
    }
  });

  it('names the access log, with the reason, when it cannot be read', async () => {
    await useMirrors([mirror]);
    const missing = path.join(tb.dir, 'no-such-access.log');
    const pull = await pullCheck({ accessLog: missing });
    const evidence = pull.data?.evidence as { source: string; why: string };
    expect(evidence.source).toBe('none');
    expect(evidence.why.startsWith('the mirror\'s access log could not be read: ')).toBe(true);
    expect(evidence.why).toContain(missing);
  });
});
