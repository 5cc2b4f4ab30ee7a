import { describe, expect, it } from 'vitest';
import { DaemonUnreachableError, UsageError } from '../../src/errors.js';
import { insecureCoverage, parseImageRef, checkMirror } from '../../src/verify/index.js';

// A closed port: api and image fail at once, which these tests ignore; they look at config and live only.
const mirror = 'http://127.0.0.1:1';
const run = (opts: Omit<Parameters<typeof checkMirror>[0], 'mirror'> & { mirror?: string }) =>
  checkMirror({ mirror, timeoutMs: 2000, ...opts });

describe('config check', () => {
  it('compares normalised and accepts loopback as insecure', async () => {
    const c = (await run({ fileConfig: { mirrors: ['HTTP://127.0.0.1:1/'], insecureRegistries: [] } })).checks[0];
    expect(c).toMatchObject({ name: 'config', ok: true, data: { position: 1, of: 1 } });
    expect(c?.summary).toMatch(/loopback/);
  });
  it('fails an http mirror missing from insecure-registries, with why and fix', async () => {
    const c = (await run({ mirror: 'http://10.1.2.3:7888', fileConfig: { mirrors: ['http://10.1.2.3:7888'], insecureRegistries: ['10.1.2.3:5000'] }, timeoutMs: 300 })).checks[0];
    expect(c).toMatchObject({ ok: false, fix: 'Add "10.1.2.3:7888" to insecure-registries in daemon.json and apply the change.' });
  });
  it('fails when the mirror is not listed', async () => {
    const c = (await run({ fileConfig: { mirrors: ['https://mirror.gcr.io'], insecureRegistries: [] } })).checks[0];
    expect(c).toMatchObject({ ok: false, why: `registry-mirrors has https://mirror.gcr.io but not ${mirror}` });
  });
  it('reports an unreadable file and skips when not given', async () => {
    const failed = await run({ fileConfig: new Error('daemon.json:3: invalid JSON') });
    expect(failed.checks[0]).toMatchObject({ ok: false, why: 'daemon.json:3: invalid JSON' });
    expect((await run({})).checks[0]).toMatchObject({ ok: true, skipped: true });
  });
});

describe('insecureCoverage', () => {
  it('matches host:port, CIDRs, stripped schemes and loopback', () => {
    expect(insecureCoverage('10.1.2.3:7888', ['http://10.1.2.3:7888'])).toMatch(/listed/);
    expect(insecureCoverage('10.1.2.3:7888', ['10.0.0.0/8'])).toMatch(/inside 10\.0\.0\.0\/8/);
    expect(insecureCoverage('0.0.0.0:7888', ['127.0.0.0/8'])).toBeUndefined();
    expect(insecureCoverage('localhost:5000', [])).toMatch(/loopback/);
    expect(insecureCoverage('[fd00::1]:5000', ['fd00::/8'])).toMatch(/inside/);
    expect(insecureCoverage('mirror.lan:5000', ['mirror.lan'])).toBeUndefined();
  });
});

describe('live check', () => {
  it('gives the position and explains a later one', async () => {
    const c = (await run({ live: { mirrors: ['https://mirror.gcr.io/', `${mirror}/`], insecureRegistries: [] } })).checks[1];
    expect(c).toMatchObject({ name: 'live', ok: true, data: { position: 2, of: 2 } });
    expect(c?.summary).toMatch(/in order/);
  });
  it('fails when the daemon lacks it or could not be asked', async () => {
    expect((await run({ live: { mirrors: [], insecureRegistries: [] } })).checks[1]).toMatchObject({ ok: false, why: expect.stringMatching(/not applied/) });
    const error = new DaemonUnreachableError('Cannot reach the daemon at unix:///var/run/docker.sock', { hint: 'Start Docker.' });
    expect((await run({ live: error })).checks[1]).toMatchObject({ ok: false, why: error.message, fix: 'Start Docker.' });
  });
});

describe('parseImageRef', () => {
  it.each([
    ['alpine', 'library/alpine', 'latest', 'alpine:latest'],
    ['alpine:3.16.2', 'library/alpine', '3.16.2', 'alpine:3.16.2'],
    ['library/alpine:3.16.2', 'library/alpine', '3.16.2', 'alpine:3.16.2'],
    ['docker.io/library/alpine', 'library/alpine', 'latest', 'alpine:latest'],
    ['bitnami/redis:7', 'bitnami/redis', '7', 'bitnami/redis:7'],
    [`alpine@sha256:${'a'.repeat(64)}`, 'library/alpine', `sha256:${'a'.repeat(64)}`, `alpine@sha256:${'a'.repeat(64)}`],
  ])('%s', (input, repository, reference, familiar) => {
    expect(parseImageRef(input)).toMatchObject({ repository, reference, familiar });
  });
  it('refuses other registries and bad names', () => {
    expect(() => parseImageRef('ghcr.io/x/y:1')).toThrow(UsageError);
    expect(() => parseImageRef('Alpine')).toThrow(UsageError);
  });
});
