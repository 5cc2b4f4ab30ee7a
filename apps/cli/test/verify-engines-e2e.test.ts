// `mirror verify --engine containerd|podman` end to end: the built CLI reads the engine's own files, asks the
// mirror's registry API with ?ns=<registry>, and with --pull makes a real pull with the engine's own resolver
// (containerd 1.6's `ctr --hosts-dir`, podman 4.3's `podman pull` by the plain name) from a real docker-registry,
// then removes what it pulled. The rigs keep every pull on this machine (containerd's dead proxy; podman with no
// route out), so a passing pull can only have come from the loopback mirror.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startContainerdMirrorRig, type ContainerdMirrorRig, type TestContainerd } from '../../../packages/core/test/support/containerd.js';
import { startPodmanRig, type PodmanRig } from '../../../packages/core/test/support/podman.js';
import { freePort, pushImage, startRegistry, type TestRegistry } from '../../../packages/core/test/support/registry.js';
import { cliEnv } from './support/env.js';
import { spawnRun, type Run } from './support/spawn.js';
import { dockmirror as dockerCli, seedImage, startTestbed, type Testbed } from './verify-helpers.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'run.js');

interface Check { name: string; ok: boolean; skipped?: boolean; summary: string; why?: string; proof?: { proved: string; how: string; basis: string }; data?: Record<string, unknown> }
interface Result { mirror: string; engine: string; registry: string; ok: boolean; checks: Check[] }
interface Report { ok: boolean; configFile: string; endpoint: string; results: Result[]; engines: { engine: string; registry: string; configFile: string; files: string[]; ok: boolean; results: Result[] }[] }

const report = (run: Run): Report => JSON.parse(run.stdout) as Report;
const check = (result: Result | undefined, name: string): Check => {
  const found = result?.checks.find((c) => c.name === name);
  if (!found) throw new Error(`no ${name} check in ${JSON.stringify(result)}`);
  return found;
};
const noStack = (run: Run): void => expect(`${run.stdout}\n${run.stderr}`).not.toMatch(/^\s+at .+(:\d+:\d+\)?$|\(node:)/m);

describe('mirror verify --engine containerd', () => {
  let containerd: TestContainerd;
  let registry: TestRegistry;
  let work: string;
  let logFile: string;

  let rig: ContainerdMirrorRig | undefined;

  beforeAll(async () => {
    rig = await startContainerdMirrorRig('dm-verify-ctd-');
    ({ containerd, registry, work, logFile } = rig);
  });
  afterAll(() => rig?.stop());

  /** The built CLI on the rig's containerd; ctr (spawned by the CLI) gets the rig's dead proxy. */
  const run = (args: string[]): Promise<Run> => {
    const env = cliEnv({ ...containerd.ctrEnv, DOCKER_HOST: 'unix:///nonexistent/dockmirror-test.sock' });
    return spawnRun(process.execPath, [BIN, ...args, '--engine', 'containerd', '--config-file', containerd.configFile, '--state-dir', path.join(work, 'state')], { env });
  };
  const log = async (): Promise<string> => readFile(logFile, 'utf8').catch(() => '');
  const verifyImages = async (): Promise<string> => (await containerd.ctr(['--namespace', 'dockmirror-verify', 'images', 'ls', '-q'])).stdout.trim();

  it('after add, verify --pull makes a real ctr --hosts-dir pull through the mirror, with ?ns=docker.io, and removes it', async () => {
    const add = await run(['add', registry.url]);
    expect(add.code, add.stderr).toBe(0);
    const before = (await log()).length;
    const r = await run(['mirror', 'verify', '--pull', '--image', 'docker.io/library/alpine:3.16.2', '--json']);
    noStack(r);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const out = report(r);
    expect(out).toMatchObject({ ok: true, configFile: containerd.configFile, endpoint: containerd.address });
    expect(out.engines).toHaveLength(1);
    expect(out.engines[0]).toMatchObject({ engine: 'containerd', registry: 'docker.io', ok: true, files: [path.join(containerd.hostsDir, 'docker.io', 'hosts.toml')] });
    const result = out.results[0];
    expect(result).toMatchObject({ mirror: registry.url, engine: 'containerd', registry: 'docker.io', ok: true });
    expect(result?.checks.map((c) => c.name)).toEqual(['config', 'live', 'api', 'image', 'pull']);
    expect(check(result, 'config')).toMatchObject({ ok: true, proof: { basis: 'evidence' } });
    expect(check(result, 'live')).toMatchObject({ ok: true, skipped: true });
    const pull = check(result, 'pull');
    expect(pull).toMatchObject({ ok: true, proof: { basis: 'inferred' } });
    expect(pull.proof?.how).toContain(`--hosts-dir ${containerd.hostsDir}`);
    expect(pull.summary).toContain('removed docker.io/library/alpine:3.16.2 from containerd namespace dockmirror-verify');
    const during = (await log()).slice(before);
    expect(during).toMatch(/"GET \/v2\/\?ns=docker\.io HTTP\/1\.1" 200/);
    // The pull itself, by containerd's resolver: it alone sends HEAD for the manifest.
    expect(during).toMatch(/"HEAD \/v2\/library\/alpine\/manifests\/3\.16\.2\?ns=docker\.io HTTP\/1\.1" 200/);
    expect(await verifyImages()).toBe('');
  });

  it('with the mirror named and --access-log, the pull is proved by the mirror\'s own log, not inferred', async () => {
    const r = await run(['mirror', 'verify', registry.url, '--pull', '--image', 'docker.io/library/alpine:3.16.2', '--access-log', logFile, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const pull = check(report(r).results[0], 'pull');
    expect(pull).toMatchObject({ ok: true, proof: { basis: 'evidence' } });
    expect(pull.proof?.how).toMatch(/access log .* recorded \d+ manifest requests? for the image during the pull/);
  });

  it('--registry ghcr.io: the same for ghcr.io/someorg/tool:1, with ?ns=ghcr.io', async () => {
    const add = await run(['add', registry.url, '--registry', 'ghcr.io']);
    expect(add.code, add.stderr).toBe(0);
    const before = (await log()).length;
    const r = await run(['mirror', 'verify', '--registry', 'ghcr.io', '--pull', '--image', 'ghcr.io/someorg/tool:1', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const result = report(r).results[0];
    expect(result).toMatchObject({ engine: 'containerd', registry: 'ghcr.io', ok: true });
    expect(check(result, 'pull').ok).toBe(true);
    const during = (await log()).slice(before);
    expect(during).toMatch(/"GET \/v2\/\?ns=ghcr\.io HTTP\/1\.1" 200/);
    expect(during).toMatch(/"HEAD \/v2\/someorg\/tool\/manifests\/1\?ns=ghcr\.io HTTP\/1\.1" 200/);
    expect(await verifyImages()).toBe('');
  });

  it('--pull for another registry than docker.io without --image is a usage error saying so', async () => {
    const r = await run(['mirror', 'verify', '--registry', 'ghcr.io', '--pull']);
    noStack(r);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--pull needs --image for ghcr\.io/);
  });

  it('an image of another registry than the one verified is a usage error', async () => {
    const r = await run(['mirror', 'verify', '--registry', 'ghcr.io', '--image', 'docker.io/library/alpine:3.16.2']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/an image of docker\.io, and the mirrors verified are ghcr\.io's/);
  });

  it('a mirror that does not answer fails api (exit 6), naming it, while the mirror before it passes', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const add = await run(['add', dead, '--position', 'last']);
    expect(add.code, add.stderr).toBe(0);
    const r = await run(['mirror', 'verify', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(6);
    const out = report(r);
    expect(out.ok).toBe(false);
    const bad = out.results.find((x) => x.mirror === dead);
    expect(bad).toMatchObject({ ok: false, engine: 'containerd' });
    expect(check(bad, 'config').ok).toBe(true);
    expect(check(bad, 'api')).toMatchObject({ ok: false, summary: 'the mirror did not answer GET /v2/' });
    expect(out.results.find((x) => x.mirror === registry.url)?.ok).toBe(true);
    const human = await run(['mirror', 'verify']);
    expect(human.code).toBe(6);
    expect(human.stdout).toContain(`✗ ${dead}`);
    expect(human.stdout).toContain('containerd · docker.io');
    expect(human.stdout).toContain('1 of 2 mirrors failed verification');
    expect((await run(['remove', dead])).code).toBe(0);
  });

  it('a mirror the files do not list fails config, and its pull fails (nothing else can serve it here)', async () => {
    const other = await startRegistry();
    try {
      await pushImage(other.url, 'library/alpine', '3.16.2');
      const r = await run(['mirror', 'verify', other.url, '--registry', 'quay.io', '--pull', '--image', 'quay.io/library/alpine:3.16.2', '--json']);
      expect(r.code, r.stdout + r.stderr).toBe(6);
      const result = report(r).results[0];
      expect(check(result, 'config')).toMatchObject({ ok: false, summary: 'hosts.toml does not list the mirror for quay.io' });
      expect(check(result, 'api').ok).toBe(true);
      expect(check(result, 'pull')).toMatchObject({ ok: false });
    } finally {
      await other.stop();
    }
  });
});

describe('mirror verify --engine podman', () => {
  let rig: PodmanRig;
  beforeAll(async () => {
    rig = await startPodmanRig();
  });
  afterAll(() => rig?.stop());

  /** The built CLI in the rig's namespace, with podman's environment, so it and the podman it runs see the rig's files. */
  const dockmirror = async (args: string[]): Promise<Run> => {
    // No DOCKER_CONFIG: podman reads it for credentials, and fails on one that does not exist.
    const env = cliEnv({ ...rig.env, XDG_CONFIG_HOME: undefined, DOCKER_CONFIG: undefined });
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
    const out = await rig.exec(process.execPath, [BIN, ...args, '--engine', 'podman'], env);
    noStack(out);
    return out;
  };
  const log = async (): Promise<string> => readFile(rig.registry.accessLog, 'utf8').catch(() => '');
  const present = async (image: string): Promise<boolean> => (await rig.podman(['image', 'exists', image])).code === 0;

  it('after add, verify --pull makes a real podman pull by the plain name through the mirror, and removes the image', async () => {
    await writeFile(rig.registriesConf, 'unqualified-search-registries = ["docker.io"]\n');
    const add = await dockmirror(['add', rig.registry.url]);
    expect(add.code, add.stderr).toBe(0);
    const before = (await log()).length;
    const r = await dockmirror(['mirror', 'verify', '--pull', '--image', rig.images.alpine.name, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const out = report(r);
    expect(out).toMatchObject({ ok: true, configFile: rig.registriesConf, endpoint: 'podman' });
    const result = out.results[0];
    expect(result).toMatchObject({ mirror: rig.registry.url, engine: 'podman', registry: 'docker.io', ok: true });
    const pull = check(result, 'pull');
    expect(pull).toMatchObject({ ok: true, data: { engineDigests: expect.arrayContaining([rig.images.alpine.digest]) } });
    expect(pull.proof?.how).toContain(`podman pull ${rig.images.alpine.name}`);
    expect(pull.summary).toContain('removed docker.io/library/alpine:3.16.2 again');
    const during = (await log()).slice(before);
    expect(during).toMatch(/"GET \/v2\/\?ns=docker\.io HTTP\/1\.1" 200/);
    // podman's own request: containers/image sends no ?ns.
    expect(during).toMatch(/"(GET|HEAD) \/v2\/library\/alpine\/manifests\/3\.16\.2 HTTP\/1\.1" 200/);
    expect(await present(rig.images.alpine.name)).toBe(false);
  });

  it('--registry ghcr.io: the same for ghcr.io/someorg/tool:1, proved by the access log', async () => {
    const add = await dockmirror(['add', rig.registry.url, '--registry', 'ghcr.io']);
    expect(add.code, add.stderr).toBe(0);
    const r = await dockmirror(['mirror', 'verify', rig.registry.url, '--registry', 'ghcr.io', '--pull', '--image', rig.images.tool.name, '--access-log', rig.registry.accessLog, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const result = report(r).results[0];
    expect(result).toMatchObject({ engine: 'podman', registry: 'ghcr.io', ok: true });
    expect(check(result, 'pull')).toMatchObject({ ok: true, proof: { basis: 'evidence' } });
    expect(await present(rig.images.tool.name)).toBe(false);
  });

  it('a mirror that does not answer fails api (exit 6), naming it, and its pull is not tried', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const add = await dockmirror(['add', dead, '--position', 'last']);
    expect(add.code, add.stderr).toBe(0);
    const r = await dockmirror(['mirror', 'verify', '--pull', '--image', rig.images.alpine.name, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(6);
    const bad = report(r).results.find((x) => x.mirror === dead);
    expect(check(bad, 'config').ok).toBe(true);
    expect(check(bad, 'api')).toMatchObject({ ok: false, summary: 'the mirror did not answer GET /v2/' });
    expect(check(bad, 'pull')).toMatchObject({ skipped: true });
    expect(report(r).results.find((x) => x.mirror === rig.registry.url)?.ok).toBe(true);
    const human = await dockmirror(['mirror', 'verify']);
    expect(human.code).toBe(6);
    expect(human.stdout).toContain(`✗ ${dead}`);
  });
});

describe('mirror verify --engine docker', () => {
  let tb: Testbed;
  let stateDir: string;
  beforeAll(async () => {
    tb = await startTestbed({ registry: true, daemonJson: '{}\n' });
    await seedImage(tb, 'alpine:3.16.2');
    stateDir = await mkdtemp(path.join(tmpdir(), 'dm-verify-docker-'));
  });
  afterAll(async () => {
    await tb?.stop();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });
  const cli = (args: string[]) => dockerCli([...args, '--config-file', tb.configFile, '--state-dir', stateDir], { DOCKER_HOST: tb.dockerHost });

  it('is Docker\'s verify (config, live, api, image, the daemon\'s pull), with the per-engine part added', async () => {
    const mirror = `http://127.0.0.1:${tb.registryPort}`;
    expect((await cli(['add', mirror])).code).toBe(0);
    const plain = await cli(['mirror', 'verify', '--image', 'alpine:3.16.2', '--pull', '--json']);
    const r = await cli(['mirror', 'verify', '--engine', 'docker', '--image', 'alpine:3.16.2', '--pull', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const out = report(r);
    const before = JSON.parse(plain.stdout) as Report;
    expect(before.engines).toBeUndefined();
    expect(out).toMatchObject({ ok: true, configFile: before.configFile, endpoint: before.endpoint });
    expect(out.engines).toMatchObject([{ engine: 'docker', registry: 'docker.io', configFile: tb.configFile, files: [tb.configFile], ok: true }]);
    const result = out.results[0];
    expect(result).toMatchObject({ mirror, engine: 'docker', registry: 'docker.io', ok: true });
    expect(result?.checks.map((c) => [c.name, c.ok, c.skipped ?? false])).toEqual(before.results[0]?.checks.map((c) => [c.name, c.ok, c.skipped ?? false]));
    expect(check(result, 'live').skipped).toBeUndefined();
    expect(check(result, 'pull').data).toMatchObject({ mirrorRef: `127.0.0.1:${tb.registryPort}/library/alpine:3.16.2`, plainRef: 'alpine:3.16.2' });
  });
});
