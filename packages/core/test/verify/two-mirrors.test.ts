// Two live mirrors on a real dockerd 20.10, both holding the same image: dockerd takes the plain name from the
// first, so verifying the second must not pass its pull check, and says which mirror served it. The second
// registry exports distribution's Prometheus metrics, the mirror's own word on whether a pull reached it.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/daemon/engine.js';
import { checkMirror, type Check } from '../../src/verify/index.js';
import { pushImage, startRegistry, type TestRegistry } from '../support/registry.js';
import { startTestbed, type Testbed } from '../support/testbed.js';

let tb: Testbed;
let engine: Engine;
let b: TestRegistry;
let a: string;
let digest: string;
const IMAGE = 'alpine:3.16.2';

async function useMirrors(mirrors: string[]): Promise<void> {
  await writeFile(tb.configFile, `${JSON.stringify({ 'registry-mirrors': mirrors }, null, 2)}\n`);
  await tb.reload();
  for (let i = 0; i < 50; i++) {
    if ((await engine.liveRegistry()).mirrors.join(' ') === mirrors.map((m) => `${m}/`).join(' ')) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`mirrors ${mirrors.join(', ')} never went live`);
}

async function verifyPull(mirror: string, metricsUrl?: string, accessLog?: string): Promise<Check> {
  const r = await checkMirror({ mirror, image: IMAGE, pull: true, fresh: true, engine, live: await engine.liveRegistry(),
    ...(metricsUrl ? { metricsUrl } : {}), ...(accessLog ? { accessLog } : {}) });
  const pull = r.checks.find((c) => c.name === 'pull');
  if (!pull) throw new Error('no pull check');
  expect(r.ok).toBe(pull.ok);
  return pull;
}

beforeAll(async () => {
  tb = await startTestbed({ registry: true });
  engine = createEngine(tb.dockerHost);
  b = await startRegistry({ metrics: true });
  a = tb.registryUrl ?? '';
  // The same bytes in both: equal digests, so only the path can tell the mirrors apart.
  digest = (await pushImage(a, 'library/alpine', '3.16.2')).digest;
  expect((await pushImage(b.url, 'library/alpine', '3.16.2')).digest).toBe(digest);
});
afterAll(async () => {
  await b?.stop();
  await tb?.stop();
});

describe('verify with two live mirrors that both hold the image', () => {
  it('fails the second mirror\'s pull check: its own counter did not move, and A served the plain name', async () => {
    await useMirrors([a, b.url]);
    const pull = await verifyPull(b.url, b.metricsUrl);
    expect(pull.ok).toBe(false);
    expect(pull.summary).toBe(`the daemon pulled 127.0.0.1:${b.port}/library/alpine:3.16.2 from this mirror, but alpine:3.16.2 from ${a}`);
    expect(pull.data).toMatchObject({ servedBy: a, mirrorDigest: digest, plainDigest: digest, earlierMirrors: [{ mirror: a, serves: true }] });
    const evidence = pull.data?.evidence as { source: string; before: number; after: number };
    expect(evidence.source).toBe('metrics');
    expect(evidence.after).toBe(evidence.before);
    expect(pull.proof).toMatchObject({ basis: 'evidence' });
    expect(pull.why).toMatch(/stayed at \d+ during the pull\. Its digest matches, which every faithful mirror gives/);
    expect(pull.fix).toContain(`move this mirror before ${a} in registry-mirrors`);
  });

  it('without the counters it still names A, and says the attribution was inferred from the order', async () => {
    const pull = await verifyPull(b.url);
    expect(pull).toMatchObject({ ok: false, data: { servedBy: a, evidence: { source: 'none' } }, proof: { basis: 'inferred' } });
    expect(pull.why).toContain(`dockerd asks its mirrors in order, and ${a} (position 1, before this one) serves the image`);
  });

  it('passes the first mirror, by order, and says so', async () => {
    const pull = await verifyPull(a);
    expect(pull).toMatchObject({ ok: true, data: { servedBy: a, earlierMirrors: [] }, proof: { basis: 'inferred' } });
    expect(pull.summary).toMatch(/through this mirror \(by the mirror order\)/);
  });

  it('passes the second registry once it is first, and its counter shows the pull', async () => {
    await useMirrors([b.url, a]);
    const pull = await verifyPull(b.url, b.metricsUrl);
    expect(pull).toMatchObject({ ok: true, data: { servedBy: b.url }, proof: { basis: 'evidence' } });
    const evidence = pull.data?.evidence as { before: number; after: number };
    expect(evidence.after).toBeGreaterThan(evidence.before);
    expect(pull.summary).toMatch(/by the mirror's counter/);
  });

  it('reads the first registry\'s own access log: it recorded the pull while first, and nothing once second', async () => {
    const log = `${tb.dir}/registry.log`;
    const second = await verifyPull(a, undefined, log);
    expect(second).toMatchObject({ ok: false, data: { servedBy: b.url, evidence: { source: 'access-log', url: log } }, proof: { basis: 'evidence' } });
    expect(second.why).toContain(`the mirror's access log (${log}) recorded no manifest request for the image during the pull`);
    await useMirrors([a, b.url]);
    const first = await verifyPull(a, undefined, log);
    expect(first).toMatchObject({ ok: true, data: { servedBy: a, evidence: { source: 'access-log' } }, proof: { basis: 'evidence' } });
    expect(first.summary).toMatch(/by the mirror's access log/);
    const unreadable = await verifyPull(a, undefined, `${tb.dir}/no-such.log`);
    expect(unreadable).toMatchObject({ ok: true, proof: { basis: 'inferred' }, data: { evidence: { source: 'none', why: expect.stringMatching(/access log could not be read: .*does not exist/) } } });
  });

  it('passes the second mirror while the first is down: dockerd fell back to it, and its counter says so', async () => {
    await useMirrors([a, b.url]);
    const ctl = (verb: string) => promisify(execFile)('bash', [`${tb.dir}/ctl.sh`, verb], { timeout: 60_000 });
    await ctl('registry-stop');
    try {
      const pull = await verifyPull(b.url, b.metricsUrl);
      expect(pull).toMatchObject({ ok: true, data: { servedBy: b.url, earlierMirrors: [{ mirror: a, serves: false }] }, proof: { basis: 'evidence' } });
    } finally {
      await ctl('registry-start');
    }
  });
});
