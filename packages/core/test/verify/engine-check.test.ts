// The engines' verify without an engine: image names of any registry, the config check against the files'
// mirror lists, and the api and image checks asked of a real docker-registry with ?ns=<registry>.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkEngineMirror, mirrorUrlOf } from '../../src/verify/engine-check.js';
import { parseRegistryImage } from '../../src/verify/image-ref.js';
import { attributePlainPull } from '../../src/verify/pull-source.js';
import { pushImage, startRegistry, type TestRegistry } from '../support/registry.js';

describe('parseRegistryImage', () => {
  it.each([
    ['docker.io/library/alpine:3.16.2', 'docker.io', { repository: 'library/alpine', reference: '3.16.2', name: 'docker.io/library/alpine:3.16.2', familiar: 'alpine:3.16.2', official: true }],
    ['alpine', 'docker.io', { repository: 'library/alpine', reference: 'latest', name: 'docker.io/library/alpine:latest' }],
    ['index.docker.io/someorg/x:1', 'docker.io', { repository: 'someorg/x', name: 'docker.io/someorg/x:1', official: false }],
    ['ghcr.io/someorg/tool:1', 'ghcr.io', { repository: 'someorg/tool', reference: '1', name: 'ghcr.io/someorg/tool:1', familiar: 'ghcr.io/someorg/tool:1', official: false }],
    ['someorg/tool:1', 'ghcr.io', { repository: 'someorg/tool', name: 'ghcr.io/someorg/tool:1' }],
    ['tool', 'registry.example:5000', { repository: 'tool', reference: 'latest', name: 'registry.example:5000/tool:latest' }],
    [`quay.io/a/b@sha256:${'a'.repeat(64)}`, 'quay.io', { repository: 'a/b', reference: `sha256:${'a'.repeat(64)}`, name: `quay.io/a/b@sha256:${'a'.repeat(64)}` }],
  ])('%s of %s', (input, registry, expected) => {
    expect(parseRegistryImage(input, registry)).toMatchObject({ registry, ...expected });
  });

  it('refuses an image of another registry, naming both', () => {
    expect(() => parseRegistryImage('docker.io/library/alpine', 'ghcr.io')).toThrow(/an image of docker\.io, and the mirrors verified are ghcr\.io's/);
    expect(() => parseRegistryImage('ghcr.io/a/b', 'docker.io')).toThrow(/an image of ghcr\.io/);
    expect(() => parseRegistryImage('ghcr.io/A/b', 'ghcr.io')).toThrow('Cannot check image "ghcr.io/A/b": not a valid repository name.');
  });

  it('gives back the name it was given, for any repository and tag of any registry', () => {
    const part = fc.stringMatching(/^[a-z0-9]{1,8}(?:[._-][a-z0-9]{1,4})?$/);
    fc.assert(fc.property(fc.constantFrom('ghcr.io', 'quay.io', 'r.example:5000'), fc.array(part, { minLength: 1, maxLength: 3 }), fc.stringMatching(/^\w[\w.-]{0,10}$/), (registry, parts, tag) => {
      const name = `${registry}/${parts.join('/')}:${tag}`;
      const ref = parseRegistryImage(name, registry);
      expect(ref.name).toBe(name);
      expect(`${ref.repository}:${ref.reference}`).toBe(`${parts.join('/')}:${tag}`);
    }));
  });
});

describe('mirrorUrlOf', () => {
  it('gives registries.conf locations their scheme, and keeps hosts.toml URLs', () => {
    expect(mirrorUrlOf({ url: '127.0.0.1:5000', plainHttp: true })).toBe('http://127.0.0.1:5000');
    expect(mirrorUrlOf({ url: 'Mirror.Example/path', plainHttp: false })).toBe('https://mirror.example/path');
    expect(mirrorUrlOf({ url: 'http://127.0.0.1:5000/', plainHttp: true })).toBe('http://127.0.0.1:5000');
  });
});

describe('attributePlainPull with an engine\'s file order', () => {
  it('says whose order it inferred from', () => {
    const evidence = { source: 'none' as const, why: 'nothing from the mirror itself was read' };
    const order = { engine: 'containerd', list: "containerd's hosts.toml" };
    expect(attributePlainPull({ mirror: 'http://a', livePosition: 0, earlier: [], evidence, order }).how).toBe(`inferred from containerd's mirror order: it is first in containerd's hosts.toml; ${evidence.why}`);
    expect(attributePlainPull({ mirror: 'http://a', livePosition: -1, earlier: [], evidence, order })).toMatchObject({ byThisMirror: false, how: "containerd's hosts.toml does not name this mirror, so the plain name cannot come through it" });
    // Docker's words are unchanged without an order.
    expect(attributePlainPull({ mirror: 'http://a', livePosition: 0, earlier: [], evidence }).how).toBe(`inferred from dockerd's mirror order: it is first in the daemon's list; ${evidence.why}`);
  });
});

describe('checkEngineMirror on a real registry', () => {
  let registry: TestRegistry;
  let dir: string;
  let log: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dm-engine-check-'));
    log = path.join(dir, 'access.log');
    registry = await startRegistry({ accessLog: log });
    await pushImage(registry.url, 'someorg/tool', '1');
  });
  afterAll(async () => {
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const base = () => ({ engine: 'podman' as const, mirror: registry.url, registry: 'ghcr.io', files: ['/x/registries.conf'], timeoutMs: 5000, pullTimeoutMs: 5000 });

  it('passes config, api and image, asking with ?ns=ghcr.io; no pull without one', async () => {
    const result = await checkEngineMirror({ ...base(), listed: [{ url: `127.0.0.1:${registry.port}`, plainHttp: true }], image: parseRegistryImage('ghcr.io/someorg/tool:1', 'ghcr.io') });
    expect(result).toMatchObject({ ok: true, engine: 'podman', registry: 'ghcr.io' });
    expect(result.checks.map((c) => [c.name, c.ok, c.skipped ?? false])).toEqual([['config', true, false], ['live', true, true], ['api', true, false], ['image', true, false], ['pull', true, true]]);
    const text = await readFile(log, 'utf8');
    expect(text).toMatch(/"GET \/v2\/\?ns=ghcr\.io HTTP\/1\.1" 200/);
    expect(text).toMatch(/"GET \/v2\/someorg\/tool\/manifests\/1\?ns=ghcr\.io HTTP\/1\.1" 200/);
  });

  it('fails config when the files do not list the mirror, or list it over TLS', async () => {
    const missing = await checkEngineMirror({ ...base(), listed: [{ url: 'other.example', plainHttp: false }] });
    expect(missing.checks[0]).toMatchObject({ name: 'config', ok: false, why: `podman has https://other.example for ghcr.io, not ${registry.url}` });
    const tls = await checkEngineMirror({ ...base(), listed: [{ url: `127.0.0.1:${registry.port}`, plainHttp: false }] });
    expect(tls.checks[0]).toMatchObject({ name: 'config', ok: false, summary: 'registries.conf lists the mirror for ghcr.io, but over TLS' });
    expect(tls.ok).toBe(false);
  });
});
