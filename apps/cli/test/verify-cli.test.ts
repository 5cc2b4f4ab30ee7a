// `dockmirror add local` and `mirror verify` on a real dockerd 20.10 and a real docker-registry: all checks pass
// through the registry, then fail as they should for a missing image, a stopped registry and a mirror that is in
// daemon.json but not live.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLines, dockmirror, freePort, seedImage, startTestbed, type Testbed } from './verify-helpers.js';

let tb: Testbed;
let digest: string;
let stateDir: string;
let mirror: string;
const ORIGINAL = '{}\n';

beforeAll(async () => {
  tb = await startTestbed({ registry: true, daemonJson: ORIGINAL });
  digest = await seedImage(tb, 'alpine:3.16.2');
  stateDir = await mkdtemp(path.join(tmpdir(), 'dm-verify-state-'));
  mirror = `http://127.0.0.1:${tb.registryPort}`;
});
afterAll(async () => {
  await tb?.stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

const files = () => ['--config-file', tb.configFile, '--state-dir', stateDir];
const cli = (args: string[]) => dockmirror([...args, ...files()], { DOCKER_HOST: tb.dockerHost });
const port = () => String(tb.registryPort);
const ctl = (verb: string) => promisify(execFile)('bash', [path.join(tb.dir, 'ctl.sh'), verb], { timeout: 60_000 });

describe('add local, verify, roll back', () => {
  it('adds the local preset on the registry port and reloads the daemon', async () => {
    const r = await cli(['add', 'local', '--port', port()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`local → ${mirror}`);
    expect(r.stdout).toMatch(/daemon reloaded/);
  });

  it('passes every check with --image and --pull, and says what "Already exists" means', async () => {
    const r = await cli(['mirror', 'verify', 'local', '--port', port(), '--image', 'alpine:3.16.2', '--pull']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const lines = checkLines(r.stdout);
    expect(Object.keys(lines)).toEqual(['config', 'live', 'api', 'image', 'pull']);
    for (const line of Object.values(lines)) expect(line).toMatch(/^✓/);
    expect(lines.api).toMatch(/GET \/v2\/ answered 200 in \d+ ms \(registry\/2\.0\)/);
    expect(lines.live).toMatch(/position 1 of 1/);
    expect(lines.pull).toContain(digest.slice(0, 19));
    expect(r.stdout).toMatch(/"Already exists" means the layer was already in the local store/);
    expect(r.stdout).toMatch(/✓ 1 mirror verified/);
    // Verify cleans up what it pulled.
    expect(await tb.docker(['images', '-q', 'alpine:3.16.2'])).toBe('');
  });

  it('--json gives the same checks, and verify with no mirror checks every mirror in daemon.json', async () => {
    const r = await cli(['mirror', 'verify', '--image', 'alpine:3.16.2', '--pull', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { ok: boolean; configFile: string; results: { mirror: string; checks: { name: string; ok: boolean; data?: Record<string, unknown> }[] }[] };
    expect(report).toMatchObject({ ok: true, configFile: tb.configFile });
    expect(report.results.map((x) => x.mirror)).toEqual([mirror]);
    const pull = report.results[0]!.checks.find((c) => c.name === 'pull');
    expect(pull).toMatchObject({ ok: true, data: { expectedDigest: digest, mirrorDigest: digest, plainDigest: digest } });
  });

  it('fails with exit 6 for an image the mirror does not have, with why and fix', async () => {
    const r = await cli(['mirror', 'verify', 'local', '--port', port(), '--image', 'nginx:1.23', '--pull']);
    expect(r.code).toBe(6);
    const lines = checkLines(r.stdout);
    expect(lines.image).toBe('✗ the mirror does not have nginx:1.23');
    expect(lines.pull).toMatch(/^- skipped: the mirror did not serve the image/);
    expect(r.stdout).toMatch(/^ +why: GET \/v2\/library\/nginx\/manifests\/1\.23 answered 404/m);
    expect(r.stdout).toMatch(/^ +fix: Check the image name and tag/m);
    expect(r.stdout).toMatch(/✗ 1 of 1 mirror failed verification/);
    const json = await cli(['mirror', 'verify', 'local', '--port', port(), '--image', 'nginx:1.23', '--json']);
    expect(json.code).toBe(6);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, results: [{ ok: false, checks: expect.arrayContaining([expect.objectContaining({ name: 'image', ok: false })]) }] });
  });

  // The probe timeout (10 min) is far past the test's own: only a refusal seen at once, not a wait, passes.
  it('fails fast for a stopped registry, without waiting for the timeout', async () => {
    await ctl('registry-stop');
    try {
      const r = await cli(['mirror', 'verify', 'local', '--port', port(), '--image', 'alpine:3.16.2', '--timeout', '600']);
      expect(r.code, r.stdout + r.stderr).toBe(6);
      const lines = checkLines(r.stdout);
      expect(lines.config).toMatch(/^✓/);
      expect(lines.live).toMatch(/^✓/);
      expect(lines.api).toBe('✗ the mirror did not answer GET /v2/');
      expect(r.stdout).toContain(`why: connection refused by 127.0.0.1:${port()}: nothing listens there`);
      expect(r.stdout).toContain('fix: Start the mirror, or correct its host and port.');
    } finally {
      await ctl('registry-start');
    }
  });

  it('fails for a mirror that is in daemon.json but not live (--apply none)', async () => {
    const other = `http://127.0.0.1:${await freePort()}`;
    const added = await cli(['add', other, '--apply', 'none']);
    expect(added.code, added.stderr).toBe(0);
    const r = await cli(['mirror', 'verify', other, '--timeout', '1']);
    expect(r.code).toBe(6);
    const lines = checkLines(r.stdout);
    expect(lines.config).toMatch(/^✓ daemon\.json lists it at position 1 of 2/);
    expect(lines.live).toBe('✗ the running daemon does not use the mirror');
    expect(r.stdout).toMatch(/why: the daemon uses http:\/\/127\.0\.0\.1:\d+\/: the change was not applied, or the reload failed/);
    expect(r.stdout).toMatch(/fix: Apply the change/);
    // Verifying everything: the live mirror still passes, the other fails; the exit code says so.
    const all = await cli(['mirror', 'verify', '--json', '--timeout', '1']);
    expect(all.code).toBe(6);
    const report = JSON.parse(all.stdout) as { results: { mirror: string; ok: boolean }[] };
    expect(report.results.map((x) => [x.mirror, x.ok])).toEqual([[other, false], [mirror, true]]);
  });

  it('rolls back to the original bytes, and verify then fails the config and live checks', async () => {
    // Back to before `add local`, past the later --apply none change too.
    const { backups } = JSON.parse((await cli(['backups', '--json'])).stdout) as { backups: { id: string; op: string; args: { mirror?: string } }[] };
    const first = backups.find((b) => b.op === 'mirror add' && b.args.mirror === mirror);
    const back = await cli(['rollback', first!.id, '--force']);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toMatch(/daemon reloaded/);
    expect(await readFile(tb.configFile, 'utf8')).toBe(ORIGINAL);
    const r = await cli(['mirror', 'verify', 'local', '--port', port()]);
    expect(await readFile(tb.configFile, 'utf8')).toBe(ORIGINAL);
    expect(r.code).toBe(6);
    const lines = checkLines(r.stdout);
    expect(lines.config).toBe('✗ daemon.json does not list the mirror');
    expect(lines.api).toMatch(/^✓/);
    // dockerd applies only the keys present in the file; the original has no registry-mirrors, so the reload
    // after the rollback spells it out as [] for a moment. The mirror is therefore no longer live, and the live
    // check says so from what the daemon really uses.
    expect(lines.live).toBe('✗ the running daemon does not use the mirror');
    expect(JSON.parse(await tb.docker(['info', '--format', '{{json .RegistryConfig.Mirrors}}'])) ?? []).toEqual([]);
    const none = await cli(['mirror', 'verify']);
    expect(none.code).toBe(6);
    expect(none.stderr).toMatch(/No mirror to verify: .* has no registry-mirrors/);
  });
});
