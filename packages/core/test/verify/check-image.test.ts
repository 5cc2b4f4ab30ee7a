// verify's image check against a registry written by hand on loopback: what it asks for, which answers prove a
// manifest (a Pyrsia node answers 200 with an error body), which digest it reports, and what each failure says.
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { checkImage, MANIFEST_ACCEPT } from '../../src/verify/check-image.js';
import { parseImageRef } from '../../src/verify/image-ref.js';

interface Answer {
  status: number;
  body: string;
  headers?: Record<string, string>;
}
let answer: Answer;
let asked: { url: string; headers: IncomingHttpHeaders }[];
let server: Server;
let mirror: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    asked.push({ url: req.url ?? '', headers: req.headers });
    res.writeHead(answer.status, answer.headers ?? {});
    res.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  asked = [];
});

const alpine = parseImageRef('alpine:3.16.2');
const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', layers: [] });
const sha = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;

describe('what it asks', () => {
  it('GETs the manifest with every manifest type docker accepts, and ?ns= only for another registry', async () => {
    answer = { status: 200, body: manifest };
    await checkImage(mirror, alpine, 2_000);
    await checkImage(mirror, alpine, 2_000, 'ghcr.io');
    expect(asked.map((a) => a.url)).toEqual(['/v2/library/alpine/manifests/3.16.2', '/v2/library/alpine/manifests/3.16.2?ns=ghcr.io']);
    expect(asked[0]?.headers.accept).toBe(MANIFEST_ACCEPT);
    expect(MANIFEST_ACCEPT.split(', ')).toEqual([
      'application/vnd.docker.distribution.manifest.v2+json',
      'application/vnd.docker.distribution.manifest.list.v2+json',
      'application/vnd.oci.image.manifest.v1+json',
      'application/vnd.oci.image.index.v1+json',
    ]);
  });
});

describe('a manifest', () => {
  it('reports the Docker-Content-Digest header as the digest, and the body\'s media type', async () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    answer = { status: 200, body: manifest, headers: { 'docker-content-digest': digest, 'content-type': 'application/json' } };
    const { check, digest: got } = await checkImage(mirror, alpine, 2_000);
    expect(got).toBe(digest);
    expect(check).toMatchObject({
      name: 'image',
      ok: true,
      data: { reference: 'alpine:3.16.2', path: '/v2/library/alpine/manifests/3.16.2', status: 200, digest, digestSource: 'header', mediaType: 'application/vnd.docker.distribution.manifest.v2+json' },
      proof: { proved: `the mirror serves alpine:3.16.2 as ${digest}`, basis: 'evidence' },
    });
    expect(check.proof?.how).toBe('GET /v2/library/alpine/manifests/3.16.2 from this machine; the digest is its Docker-Content-Digest header');
    expect(check.summary).toMatch(/^the mirror serves alpine:3\.16\.2 \(sha256:aaaaaaaaaaaa…, \d+ ms\)$/);
  });

  it('without a digest header, the sha256 of the body; without a media type in the body, the content type', async () => {
    const body = JSON.stringify({ schemaVersion: 2, layers: [] });
    answer = { status: 200, body, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } };
    const { check, digest } = await checkImage(mirror, alpine, 2_000);
    expect(digest).toBe(sha(body));
    expect(check.data).toMatchObject({ digestSource: 'body', mediaType: 'application/vnd.oci.image.manifest.v1+json' });
    expect(check.proof?.how).toContain('the sha256 of the body (no digest header)');
  });

  it('neither in the body nor a header: no media type', async () => {
    answer = { status: 200, body: JSON.stringify({ schemaVersion: 2 }) };
    const { check } = await checkImage(mirror, alpine, 2_000);
    expect(check.ok).toBe(true);
    expect((check.data as { mediaType?: string }).mediaType).toBeUndefined();
  });
});

describe('200 without a manifest is not a manifest', () => {
  it.each([
    ['an error body (Pyrsia)', JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'not yet' }] }), 'the body is an error, not a manifest: MANIFEST_UNKNOWN not yet'],
    ['an error body with a code only', JSON.stringify({ errors: [{ code: 'UNKNOWN' }] }), 'the body is an error, not a manifest: UNKNOWN'],
    ['an error list beside a schemaVersion', JSON.stringify({ schemaVersion: 2, errors: [] }), 'the body is an error, not a manifest: '],
    ['no schemaVersion', JSON.stringify({ layers: [] }), 'the body is not a manifest'],
    ['a string schemaVersion', JSON.stringify({ schemaVersion: '2' }), 'the body is not a manifest'],
    ['an array', JSON.stringify([{ schemaVersion: 2 }]), 'the body is not a manifest'],
    ['null', 'null', 'the body is not a manifest'],
    ['not JSON', '<html>ok</html>', 'the body is not a manifest'],
  ])('%s', async (_name, body, why) => {
    answer = { status: 200, body };
    const { check, digest } = await checkImage(mirror, alpine, 2_000);
    expect(digest).toBeUndefined();
    expect(check).toMatchObject({ ok: false, summary: 'the mirror answered 200 for alpine:3.16.2 but sent no manifest', why });
    expect(check.fix).toContain('retry in a minute');
  });
});

describe('the other answers', () => {
  it('404 names the registry\'s error when it sent one', async () => {
    answer = { status: 404, body: JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }) };
    expect((await checkImage(mirror, alpine, 2_000)).check).toMatchObject({
      ok: false,
      summary: 'the mirror does not have alpine:3.16.2',
      why: 'GET /v2/library/alpine/manifests/3.16.2 answered 404: MANIFEST_UNKNOWN manifest unknown',
    });
    answer = { status: 404, body: '' };
    expect((await checkImage(mirror, alpine, 2_000)).check.why).toBe('GET /v2/library/alpine/manifests/3.16.2 answered 404');
  });

  it('401 asks for credentials', async () => {
    answer = { status: 401, body: '' };
    expect((await checkImage(mirror, alpine, 2_000)).check).toEqual({
      name: 'image',
      ok: false,
      data: { reference: 'alpine:3.16.2', path: '/v2/library/alpine/manifests/3.16.2', status: 401, latencyMs: expect.any(Number), errors: undefined },
      summary: 'the mirror wants credentials for alpine:3.16.2',
      why: 'GET /v2/library/alpine/manifests/3.16.2 answered 401',
      fix: 'Run docker login for the mirror host; dockmirror does not send credentials.',
    });
  });

  it('another status is a failure, with a fix that depends on whether the image is official', async () => {
    answer = { status: 500, body: JSON.stringify({ errors: [{ code: 7, message: '' }] }) };
    expect((await checkImage(mirror, alpine, 2_000)).check).toMatchObject({
      ok: false,
      summary: 'the mirror failed to serve alpine:3.16.2',
      why: 'GET /v2/library/alpine/manifests/3.16.2 answered 500: 7',
      fix: "Check the mirror's log for the error.",
    });
    answer = { status: 502, body: '' };
    const other = await checkImage(mirror, parseImageRef('someorg/tool:1'), 2_000);
    expect(other.check.why).toBe('GET /v2/someorg/tool/manifests/1 answered 502');
    expect(other.check.fix).toBe('A Pyrsia node serves only official images (library/...): pick one of those.');
  });

  it('a manifest body with another status than 200 is no manifest, and an error whose message is not text shows its code', async () => {
    answer = { status: 500, body: JSON.stringify({ schemaVersion: 2, errors: [{ code: 'BROKEN', message: 5 }] }) };
    const broken = await checkImage(mirror, alpine, 2_000);
    expect(broken.digest).toBeUndefined();
    expect(broken.check).toMatchObject({ ok: false, why: 'GET /v2/library/alpine/manifests/3.16.2 answered 500: BROKEN' });
    answer = { status: 203, body: manifest };
    expect((await checkImage(mirror, alpine, 2_000)).check).toMatchObject({ ok: false, summary: 'the mirror failed to serve alpine:3.16.2' });
  });

  it('a mirror that does not answer is named, with why', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { check } = await checkImage(`http://127.0.0.1:${port}`, alpine, 2_000);
    expect(check).toMatchObject({ name: 'image', ok: false, summary: 'could not ask the mirror for alpine:3.16.2' });
    expect(check.why).toBeTruthy();
  });
});
