// `dockmirror add pyrsia` and `mirror verify pyrsia` with a fake `pyrsia` CLI on PATH and the Pyrsia node
// emulator in front of a real docker-registry, on a real dockerd: the daemon really pulls through the node.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLines, dockmirror, seedImage, startPyrsiaNode, startTestbed, writeFakePyrsiaCli, type PyrsiaNode, type Testbed } from './verify-helpers.js';

let tb: Testbed;
let node: PyrsiaNode;
let buggy: PyrsiaNode;
let digest: string;
let env: Record<string, string>;
const ENTRY = { id: 'b9c4f0e6', package_type: 'Docker', package_specific_id: 'alpine:3.16.2', operation: 'AddArtifact' };

beforeAll(async () => {
  tb = await startTestbed({ registry: true });
  digest = await seedImage(tb, 'alpine:3.16.2');
  node = await startPyrsiaNode({ upstream: tb.registryUrl!, inspectEntries: { 'alpine:3.16.2': [ENTRY] } });
  buggy = await startPyrsiaNode({ upstream: tb.registryUrl!, errorBodyWith200: true });
  const bin = path.join(tb.dir, 'bin');
  const home = path.join(tb.dir, 'home');
  await mkdir(home, { recursive: true });
  // Pyrsia 0.2.4's double quotes, and the bind-all host of the Debian package.
  await writeFakePyrsiaCli(bin, { quotes: 'double', host: '0.0.0.0', port: String(node.port) });
  env = { DOCKER_HOST: tb.dockerHost, PATH: `${bin}:${process.env.PATH ?? ''}`, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config') };
});
afterAll(async () => {
  await node?.close();
  await buggy?.close();
  await tb?.stop();
});

const cli = (args: string[]) => dockmirror([...args, '--config-file', tb.configFile, '--state-dir', path.join(tb.dir, 'state')], env);

describe('pyrsia preset end to end', () => {
  it('add pyrsia finds the node through the pyrsia CLI, dials 127.0.0.1 and reloads', async () => {
    const r = await cli(['add', 'pyrsia']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`pyrsia → ${node.url}`);
    expect(r.stdout).toContain(`pyrsia config --show says host 0.0.0.0, port ${node.port}`);
    expect(r.stdout).toMatch(/using 127\.0\.0\.1 instead of 0\.0\.0\.0/);
    expect(r.stdout).toMatch(/daemon reloaded/);
    expect(r.stdout).toContain(`live mirrors: ${node.url}/`);
  });

  it('verify pyrsia --image --pull passes: real pull through the node, same digest, transparency log shown', async () => {
    node.accessLog.length = 0;
    const r = await cli(['mirror', 'verify', 'pyrsia', '--image', 'alpine:3.16.2', '--pull']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const lines = checkLines(r.stdout);
    for (const line of Object.values(lines)) expect(line).toMatch(/^✓/);
    expect(lines.api).toMatch(/answered 200 in \d+ ms \(looks like a Pyrsia node/);
    expect(lines.image).toContain('alpine:3.16.2 has 1 transparency-log entry');
    expect(r.stdout).toContain(`log: ${JSON.stringify(ENTRY)}`);
    expect(lines.pull).toContain(digest.slice(0, 19));
    const json = JSON.parse((await cli(['mirror', 'verify', 'pyrsia', '--image', 'alpine:3.16.2', '--pull', '--json'])).stdout) as {
      ok: boolean; results: { preset: string; checks: { name: string; data?: Record<string, unknown> }[] }[];
    };
    expect(json.ok).toBe(true);
    expect(json.results[0]!.preset).toBe('pyrsia');
    const checks = Object.fromEntries(json.results[0]!.checks.map((c) => [c.name, c.data]));
    expect(checks.image).toMatchObject({ digest, digestSource: 'body', inspectLog: { entries: [ENTRY] } });
    expect(checks.pull).toMatchObject({ mirrorDigest: digest, plainDigest: digest });
    // The daemon itself fetched the manifest from the node (docker's user agent), not only verify's probe.
    expect(node.accessLog.some((l) => l.includes('"GET /v2/library/alpine/manifests/3.16.2 HTTP/1.1" 200') && l.includes('docker/'))).toBe(true);
  });

  it('fails (exit 6) for an image the node does not have, and says it is not in the log', async () => {
    const r = await cli(['mirror', 'verify', 'pyrsia', '--image', 'alpine:9.9', '--pull']);
    expect(r.code).toBe(6);
    const lines = checkLines(r.stdout);
    expect(lines.image).toBe('✗ the mirror does not have alpine:9.9; alpine:9.9 is not in the Pyrsia transparency log');
    expect(r.stdout).toMatch(/why: GET \/v2\/library\/alpine\/manifests\/9\.9 answered 404/);
  });

  it('fails (exit 6) for a node that answers 200 with an errors body', async () => {
    const added = await cli(['add', 'pyrsia', '--port', String(buggy.port)]);
    expect(added.code, added.stderr).toBe(0);
    const r = await cli(['mirror', 'verify', 'pyrsia', '--port', String(buggy.port), '--image', 'alpine:9.9', '--json']);
    expect(r.code).toBe(6);
    const report = JSON.parse(r.stdout) as { ok: boolean; results: { mirror: string; checks: { name: string; ok: boolean; summary: string; why?: string }[] }[] };
    expect(report.ok).toBe(false);
    expect(report.results[0]!.mirror).toBe(buggy.url);
    const byName = Object.fromEntries(report.results[0]!.checks.map((c) => [c.name, c]));
    expect(byName.config?.ok && byName.live?.ok && byName.api?.ok).toBe(true);
    expect(byName.image).toMatchObject({ ok: false, summary: expect.stringContaining('answered 200 for alpine:9.9 but sent no manifest') });
    expect(byName.image?.why).toMatch(/the body is an error, not a manifest: MANIFEST_UNKNOWN/);
  });
});
