import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { checkMirror, type Check, type VerifyResult } from '../../src/verify/index.js';
import { startPyrsiaNode, type PyrsiaNode } from '../support/pyrsia-node.js';
import { freePort, pushImage, startRegistry, type PushedImage, type TestRegistry } from '../support/registry.js';

let registry: TestRegistry;
let pushed: PushedImage;
let node: PyrsiaNode;
let buggyNode: PyrsiaNode;

beforeAll(async () => {
  registry = await startRegistry();
  pushed = await pushImage(registry.url, 'library/alpine', '3.16.2');
  await pushImage(registry.url, 'someone/tool', '1.0');
  node = await startPyrsiaNode({ upstream: registry.url });
  buggyNode = await startPyrsiaNode({ upstream: registry.url, errorBodyWith200: true });
});
afterAll(async () => {
  await node?.close();
  await buggyNode?.close();
  await registry?.stop();
});

const check = (result: VerifyResult, name: Check['name']): Check => {
  const found = result.checks.find((c) => c.name === name);
  if (!found) throw new Error(`no ${name} check`);
  return found;
};

describe('checkMirror against a real registry', () => {
  it('passes api and image, with the registry digest', async () => {
    const r = await checkMirror({ mirror: `${registry.url}/`, image: 'alpine:3.16.2',
      fileConfig: { mirrors: [registry.url.toUpperCase().replace('HTTP', 'http')], insecureRegistries: [] },
      live: { mirrors: [`${registry.url}/`], insecureRegistries: [] } });
    expect(r.mirror).toBe(registry.url);
    expect(r.ok).toBe(true);
    expect(r.checks.map((c) => c.name)).toEqual(['config', 'live', 'api', 'image', 'pull']);
    expect(check(r, 'api').data).toMatchObject({ status: 200, apiVersion: 'registry/2.0', pyrsiaLike: false });
    expect(check(r, 'image').data).toMatchObject({ digest: pushed.digest, digestSource: 'header' });
    expect(check(r, 'image').data?.inspectLog).toBeUndefined();
    expect(check(r, 'pull')).toMatchObject({ ok: true, skipped: true });
    expect(r.notes.join(' ')).toMatch(/Already exists/);
  });

  it('fails the image check for a missing image with why and fix', async () => {
    const image = check(await checkMirror({ mirror: registry.url, image: 'library/nginx' }), 'image');
    expect(image).toMatchObject({ ok: false, summary: 'the mirror does not have nginx:latest' });
    expect(image.why).toMatch(/404: MANIFEST_UNKNOWN/);
    expect(image.fix).toBe('Check the image name and tag; a pull-through cache or Pyrsia node fetches it on first use, so retry shortly.');
  });

  // The probe timeout is far past the test's own, so only a refusal seen at once (not a timeout) passes.
  it('fails api fast for a stopped registry and a closed port', async () => {
    const gone = await startRegistry();
    await gone.stop();
    for (const mirror of [gone.url, `http://127.0.0.1:${await freePort()}`]) {
      const r = await checkMirror({ mirror, image: 'alpine:3.16.2', timeoutMs: 10 * 60_000 });
      expect(r.ok).toBe(false);
      expect(check(r, 'api')).toMatchObject({ ok: false, why: expect.stringMatching(/connection refused/) });
      expect(check(r, 'image').ok).toBe(false);
    }
  }, 20_000);

  it('times out a mirror that accepts but never answers', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const r = await checkMirror({ mirror: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, image: 'alpine', timeoutMs: 300 });
      expect(check(r, 'api')).toMatchObject({ ok: false, why: expect.stringMatching(/no answer from 127\.0\.0\.1:\d+ within 300 ms/) });
      expect(check(r, 'image').ok).toBe(false);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  }, 10_000);

  it('refuses pull without an image or an engine', async () => {
    await expect(checkMirror({ mirror: registry.url, pull: true })).rejects.toBeInstanceOf(UsageError);
    await expect(checkMirror({ mirror: registry.url, pull: true, image: 'alpine' })).rejects.toBeInstanceOf(UsageError);
  });
});

describe('checkMirror against the Pyrsia node emulator', () => {
  it('passes api (GET only, no version header) and image with the body digest', async () => {
    node.setInspectEntries({});
    const r = await checkMirror({ mirror: node.url, image: 'alpine:3.16.2' });
    expect(check(r, 'api')).toMatchObject({ ok: true, data: { pyrsiaLike: true } });
    expect(check(r, 'image').data).toMatchObject({ digest: pushed.digest, digestSource: 'body' });
    expect(check(r, 'image').ok).toBe(true);
    // An empty transparency log is reported, not failed.
    expect(check(r, 'image').summary).toMatch(/alpine:3\.16\.2 is not in the Pyrsia transparency log/);
    expect(node.accessLog.some((l) => /^INFO pyrsia_registry > 127\.0\.0\.1:\d+ "GET \/v2\/ HTTP\/1\.1" 200/.test(l))).toBe(true);
    expect(node.accessLog.some((l) => l.includes('"POST /inspect/docker HTTP/1.1" 200'))).toBe(true);
  });

  it('shows the inspect-log entry', async () => {
    const entry = { id: 'abc', package_type: 'Docker', package_specific_id: 'alpine:3.16.2', artifact_hash: pushed.digest };
    node.setInspectEntries({ 'alpine:3.16.2': [entry] });
    const image = check(await checkMirror({ mirror: node.url, image: 'alpine:3.16.2', preset: 'pyrsia' }), 'image');
    expect(image.summary).toMatch(/1 transparency-log entry/);
    expect(image.data?.inspectLog).toEqual({ entries: [entry], summary: 'alpine:3.16.2 has 1 transparency-log entry' });
  });

  it('detects a 200 whose body is an error (the known Pyrsia bug)', async () => {
    const image = check(await checkMirror({ mirror: buggyNode.url, image: 'alpine:9.9' }), 'image');
    expect(image.ok).toBe(false);
    expect(image.summary).toMatch(/^the mirror answered 200 for alpine:9\.9 but sent no manifest; alpine:9\.9 is not in the Pyrsia/);
    expect(image.why).toMatch(/the body is an error, not a manifest: MANIFEST_UNKNOWN/);
    expect(image.data).toMatchObject({ status: 200 });
  });

  it('fails non-official images, which a Pyrsia node does not route', async () => {
    const image = check(await checkMirror({ mirror: node.url, image: 'someone/tool:1.0' }), 'image');
    expect(image).toMatchObject({ ok: false, why: expect.stringMatching(/answered 500/), fix: expect.stringMatching(/official images/) });
  });

  it('a plain 404 for a missing image', async () => {
    const image = check(await checkMirror({ mirror: node.url, image: 'alpine:9.9' }), 'image');
    expect(image).toMatchObject({ ok: false, data: { status: 404 } });
  });
});
