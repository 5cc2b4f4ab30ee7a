import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyMirror } from '../../src/index.js';
import { UsageError, VerificationError } from '../../src/errors.js';
import { freePort } from '../support/registry.js';
import { isolated } from '../support/hermetic.js';

let dir: string;
let configFile: string;
let dockerHost: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-verify-op-'));
  configFile = path.join(dir, 'daemon.json');
  dockerHost = `unix://${path.join(dir, 'no-daemon.sock')}`;
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('verifyMirror (the operation)', () => {
  it('verifies every mirror in the file; one dockerd would refuse fails alone; no daemon fails live', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    await writeFile(configFile, JSON.stringify({ 'registry-mirrors': ['127.0.0.1:5000', closed] }));
    // A probe timeout far past the test's own: a refused connection and a missing socket must fail at once.
    const report = await verifyMirror({ ...isolated(dir), configFile, dockerHost, timeoutMs: 10 * 60_000 });
    expect(report).toMatchObject({ ok: false, configFile, endpoint: dockerHost });
    expect(report.results.map((r) => r.mirror)).toEqual(['127.0.0.1:5000', closed]);
    expect(report.results[0]!.checks).toMatchObject([{ name: 'config', ok: false, summary: 'daemon.json lists a mirror dockerd would refuse' }]);
    const checks = Object.fromEntries(report.results[1]!.checks.map((c) => [c.name, c]));
    expect(checks.config?.ok).toBe(true);
    expect(checks.live).toMatchObject({ ok: false, why: expect.stringMatching(/Cannot reach the Docker daemon/) });
    expect(checks.api).toMatchObject({ ok: false, why: expect.stringMatching(/connection refused/) });
  }, 10_000);

  it('refuses to run without a mirror to verify, and --pull without an image', async () => {
    await writeFile(configFile, '{}\n');
    await expect(verifyMirror({ ...isolated(dir), configFile, dockerHost })).rejects.toBeInstanceOf(VerificationError);
    await expect(verifyMirror({ ...isolated(dir), configFile, dockerHost, mirror: 'gcr', pull: true })).rejects.toBeInstanceOf(UsageError);
    await expect(verifyMirror({ ...isolated(dir), configFile, dockerHost, mirror: 'nope' })).rejects.toThrow(/Unknown preset "nope"/);
  });
});
