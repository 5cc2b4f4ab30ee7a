// `mirror verify B --pull` on a real dockerd 20.10 with two live mirrors A and B that both hold the image:
// dockerd takes the plain name from A, so B's pull check fails (exit 6) and says A served it; the report says
// for each check what it proved and how, in the human output briefly and in --json in full.
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushImage, startRegistry, type TestRegistry } from '../../../packages/core/test/support/registry.js';
import { checkLines, dockmirror, startTestbed, type Testbed } from './verify-helpers.js';

let tb: Testbed;
let b: TestRegistry;
let a: string;
let digest: string;

beforeAll(async () => {
  tb = await startTestbed({ registry: true });
  b = await startRegistry({ metrics: true });
  a = tb.registryUrl ?? '';
  digest = (await pushImage(a, 'library/alpine', '3.16.2')).digest;
  await pushImage(b.url, 'library/alpine', '3.16.2');
  await writeFile(tb.configFile, `${JSON.stringify({ 'registry-mirrors': [a, b.url] }, null, 2)}\n`);
  await tb.reload();
  for (let i = 0; i < 50 && !(await tb.docker(['info', '--format', '{{json .RegistryConfig.Mirrors}}'])).includes(b.url); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
});
afterAll(async () => {
  await b?.stop();
  await tb?.stop();
});

const cli = (args: string[]) => dockmirror([...args, '--config-file', tb.configFile, '--state-dir', `${tb.dir}/state`], { DOCKER_HOST: tb.dockerHost });

describe('verify with two live mirrors', () => {
  it('fails B\'s pull check and names A, with B\'s own counter as the proof', async () => {
    const r = await cli(['mirror', 'verify', b.url, '--image', 'alpine:3.16.2', '--pull', '--metrics-url', b.metricsUrl ?? '']);
    expect(r.code, r.stdout + r.stderr).toBe(6);
    const lines = checkLines(r.stdout);
    for (const name of ['config', 'live', 'api', 'image']) expect(lines[name]).toMatch(/^✓/);
    expect(lines.pull).toBe(`✗ the daemon pulled 127.0.0.1:${b.port}/library/alpine:3.16.2 from this mirror, but alpine:3.16.2 from ${a}`);
    expect(r.stdout).toMatch(/why: the mirror's image request counter \(http:\/\/127\.0\.0\.1:\d+\/metrics\) stayed at \d+ during the pull\. Its digest matches/);
    expect(r.stdout).toMatch(/fix: dockerd takes a plain name from the first live mirror that has it: move this mirror before http:\/\/127\.0\.0\.1:\d+ in registry-mirrors \(dockmirror remove http:\/\/127\.0\.0\.1:\d+, then dockmirror add http:\/\/127\.0\.0\.1:\d+\)/);
    // A failed check explains itself with why and fix; how is shown for what passed.
    expect(r.stdout).not.toMatch(/how: 127\.0\.0\.1/);
    expect(r.stdout).toMatch(/^ +how: asked the running daemon \(GET \/info, RegistryConfig\)$/m);
    expect(r.stdout).toMatch(/^ +how: GET \/v2\/library\/alpine\/manifests\/3\.16\.2 from this machine; the digest is its Docker-Content-Digest header$/m);
    expect(r.stdout).not.toMatch(/both sha256/);
    expect(r.stdout).toMatch(/✗ 1 of 1 mirror failed verification/);
  });

  it('--json carries a proof per check, the evidence and who served the pull', async () => {
    const r = await cli(['mirror', 'verify', b.url, '--image', 'alpine:3.16.2', '--pull', '--metrics-url', b.metricsUrl ?? '', '--json']);
    expect(r.code).toBe(6);
    const report = JSON.parse(r.stdout) as { results: { checks: { name: string; ok: boolean; proof?: { proved: string; how: string; basis: string }; data?: Record<string, unknown> }[] }[] };
    const checks = report.results[0]?.checks ?? [];
    for (const c of checks) expect(c.proof, c.name).toMatchObject({ proved: expect.any(String), how: expect.any(String), basis: expect.stringMatching(/^(evidence|inferred)$/) });
    const pull = checks.find((c) => c.name === 'pull');
    expect(pull).toMatchObject({ ok: false, proof: { basis: 'evidence' }, data: { servedBy: a, mirrorDigest: digest, plainDigest: digest, evidence: { source: 'metrics' } } });
  });

  it('verifying A passes, and says the attribution follows from the order', async () => {
    const r = await cli(['mirror', 'verify', a, '--image', 'alpine:3.16.2', '--pull']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(checkLines(r.stdout).pull).toMatch(/^✓ the daemon pulled .* through this mirror \(by the mirror order\), both sha256:/);
    expect(r.stdout).toMatch(/how \(inferred\): .*alpine:3\.16\.2: inferred from dockerd's mirror order: it is first in the daemon's list/);
  });

  it('with A\'s access log, the pass rests on A\'s own word', async () => {
    const r = await cli(['mirror', 'verify', a, '--image', 'alpine:3.16.2', '--pull', '--access-log', `${tb.dir}/registry.log`]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(checkLines(r.stdout).pull).toMatch(/through this mirror \(by the mirror's access log\)/);
    expect(r.stdout).toMatch(/^ +how: .*the mirror's access log \(.*registry\.log\) recorded \d+ manifest requests? for the image during the pull$/m);
  });

  it('refuses --metrics-url without a named mirror (usage, exit 2), and one that is not a URL', async () => {
    const none = await cli(['mirror', 'verify', '--image', 'alpine:3.16.2', '--pull', '--metrics-url', b.metricsUrl ?? '']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--metrics-url belongs to one mirror/);
    const log = await cli(['mirror', 'verify', '--image', 'alpine:3.16.2', '--pull', '--access-log', `${tb.dir}/registry.log`]);
    expect(log.code).toBe(2);
    expect(log.stderr).toMatch(/--access-log belongs to one mirror/);
    const bad = await cli(['mirror', 'verify', b.url, '--image', 'alpine:3.16.2', '--pull', '--metrics-url', 'file:///etc/passwd']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/is not an http\(s\) URL/);
  });
});
