// `--engine podman` end to end: the built CLI edits registries.conf and the real podman 4.3 pulls through the
// mirror with no internet. The CLI runs in the rig's mount namespace (packages/core/test/support/podman.ts), so it
// sees the same /etc/containers as podman: the rig's, never the host's, which is hashed before and after.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_DIR, SAMPLE_REGISTRIES_CONF, startPodmanRig, treeHash, type PodmanRig } from '../../../packages/core/test/support/podman.js';
import { cliEnv } from './support/env.js';

const BIN = fileURLToPath(new URL('../bin/run.js', import.meta.url));


let rig: PodmanRig;
let etcBefore: string;
beforeAll(async () => {
  etcBefore = treeHash(SYSTEM_DIR);
  rig = await startPodmanRig();
});
afterAll(() => rig?.stop());

/** Runs the built CLI as podman would see things: the rig's HOME and CONTAINERS_REGISTRIES_CONF unless removed. */
async function dockmirror(args: string[], env: Record<string, string | undefined> = {}) {
  const childEnv = cliEnv({ HOME: rig.home, XDG_CONFIG_HOME: undefined, CONTAINERS_REGISTRIES_CONF: rig.registriesConf, ...env });
  for (const [k, v] of Object.entries(childEnv)) if (v === undefined) delete childEnv[k];
  const run = await rig.exec(process.execPath, [BIN, ...args], childEnv);
  expect(`${run.stdout}\n${run.stderr}`).not.toMatch(/^\s+at .+(:\d+:\d+\)?$|\(node:)/m);
  return run;
}

const json = (stdout: string) => JSON.parse(stdout) as Record<string, unknown>;

const ORIGINAL = SAMPLE_REGISTRIES_CONF;

async function reset(bytes: string = ORIGINAL): Promise<void> {
  await rm(path.join(rig.dir, '.dockmirror'), { recursive: true, force: true });
  await writeFile(rig.registriesConf, bytes);
}

describe('dockmirror add --engine podman', () => {
  it('makes podman pull docker.io/library/alpine:3.16.2 from the mirror; a second add changes nothing; rollback undoes it', async () => {
    await reset();
    expect((await rig.pullWithPodman(rig.images.alpine.name)).ok).toBe(false);
    const add = await dockmirror(['add', rig.registry.url, '--engine', 'podman', '--json']);
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    const result = json(add.stdout);
    expect(result).toMatchObject({ changed: true, engine: 'podman', registry: 'docker.io', configFile: rig.registriesConf, configSetup: 'custom', mirrors: [rig.registry.location], insecureRegistries: [] });
    expect((result.apply as { method: string; reason: string })).toMatchObject({ method: 'none', reason: expect.stringMatching(/^podman, buildah and skopeo read registries\.conf on every run: nothing to apply\./) });
    const after = await readFile(rig.registriesConf, 'utf8');
    expect(after.startsWith(ORIGINAL)).toBe(true);
    expect(after.slice(ORIGINAL.length)).toBe(`\n[[registry]]\nprefix = "docker.io"\nlocation = "docker.io"\n\n[[registry.mirror]]\nlocation = "${rig.registry.location}"\ninsecure = true\n`);
    expect((await rig.info())['docker.io']).toMatchObject({ Mirrors: [{ Location: rig.registry.location, Insecure: true }] });
    const pull = await rig.pullWithPodman(rig.images.alpine.name);
    expect(pull.ok).toBe(true);
    expect(pull.mirrorRequests).toBeGreaterThan(0);

    const again = await dockmirror(['add', rig.registry.url, '--engine', 'podman', '--json']);
    expect(again.code).toBe(0);
    expect(json(again.stdout)).toMatchObject({ changed: false, backup: null });
    expect(await readFile(rig.registriesConf, 'utf8')).toBe(after);

    const list = await dockmirror(['mirror', 'list', '--engine', 'podman', '--json']);
    expect(list.code).toBe(0);
    expect(json(list.stdout)).toMatchObject({ configFile: rig.registriesConf, mirrors: [rig.registry.location] });
    // podman's own view (podman info), beside the file's: the mirror, plain HTTP.
    const view = (json(list.stdout).engines as { engineView?: unknown }[])[0]?.engineView;
    expect(view).toEqual({ registries: expect.arrayContaining([{ registry: 'docker.io', mirrors: [{ url: rig.registry.location, plainHttp: true }] }]) });
    expect((await dockmirror(['mirror', 'list', '--engine', 'podman'])).stdout).toContain('podman itself reports the same');

    const rollback = await dockmirror(['rollback', '--engine', 'podman', '--json']);
    expect(rollback.stderr).toBe('');
    expect(rollback.code).toBe(0);
    expect(await readFile(rig.registriesConf, 'utf8')).toBe(ORIGINAL);
    expect((await rig.pullWithPodman(rig.images.alpine.name)).ok).toBe(false);
  });

  it('--registry ghcr.io makes podman pull ghcr.io/someorg/tool:1 from the mirror; remove takes it out again', async () => {
    await reset();
    const add = await dockmirror(['add', rig.registry.url, '--engine', 'podman', '--registry', 'ghcr.io', '--position', 'last']);
    expect(add.code).toBe(0);
    expect(add.stdout).toContain(rig.registry.url);
    expect((await rig.info())['ghcr.io']).toMatchObject({ Location: 'ghcr.io', Mirrors: [{ Location: rig.registry.location, Insecure: true }] });
    const pull = await rig.pullWithPodman(rig.images.tool.name);
    expect(pull.ok).toBe(true);
    expect(pull.mirrorRequests).toBeGreaterThan(0);
    const remove = await dockmirror(['remove', rig.registry.url, '--engine', 'podman', '--registry', 'ghcr.io', '--json']);
    expect(remove.code).toBe(0);
    expect(json(remove.stdout)).toMatchObject({ changed: true, mirrors: [] });
    expect((await rig.pullWithPodman(rig.images.tool.name)).ok).toBe(false);
  });

  it('--dry-run prints the diff and writes nothing', async () => {
    await reset();
    const run = await dockmirror(['add', rig.registry.url, '--engine', 'podman', '--dry-run']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`+location = "${rig.registry.location}"`);
    expect(await readFile(rig.registriesConf, 'utf8')).toBe(ORIGINAL);
  });

  it.each([
    ['a v1 file', '[registries.search]\nregistries = ["docker.io"]\n', /:1:1: the file is in the old v1 format/],
    ['a v1/v2 mix', '[[registry]]\nlocation = "quay.io"\n[registries.insecure]\nregistries = ["localhost:5000"]\n', /:3:1: the file mixes the v1 format/],
    ['broken TOML', '[[registry]]\nlocation = "quay.io\n', /:2:\d+: invalid TOML/],
    ['a scheme in a location', '[[registry]]\nlocation = "https://quay.io"\n', /:2:1: invalid location "https:\/\/quay\.io"/],
  ])('refuses %s with exit 3 and file:line:column, leaving it untouched', async (_name, bytes, message) => {
    await reset(bytes);
    const run = await dockmirror(['add', rig.registry.url, '--engine', 'podman']);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(rig.registriesConf);
    expect(run.stderr).toMatch(message);
    expect(await readFile(rig.registriesConf, 'utf8')).toBe(bytes);
  });

  it('edits the drop-in whose table podman uses, and refuses (exit 2) one under /etc it may not touch', async () => {
    await reset('[[registry]]\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "127.0.0.1:1"\n');
    const userDropIns = path.join(rig.home, '.config', 'containers', 'registries.conf.d');
    await mkdir(userDropIns, { recursive: true });
    const dropIn = path.join(userDropIns, '50-corp.conf');
    const corp = '# corp\n[[registry]]\nprefix = "docker.io"\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "127.0.0.1:2"\n';
    await writeFile(dropIn, corp);
    const system = path.join(rig.systemDropIns, '50-vendor.conf');
    try {
      const run = await dockmirror(['add', rig.registry.url, '--engine', 'podman', '--json']);
      expect(run.code).toBe(0);
      expect(json(run.stdout)).toMatchObject({ changed: true, mirrors: [rig.registry.location, '127.0.0.1:2'], engines: [{ engine: 'podman', files: [dropIn] }] });
      expect((await readFile(dropIn, 'utf8')).startsWith('# corp\n')).toBe(true);
      expect((await rig.pullWithPodman(rig.images.alpine.name)).mirrorRequests).toBeGreaterThan(0);
      await rm(dropIn);
      await writeFile(system, corp);
      const before = await readFile(rig.registriesConf, 'utf8');
      const refused = await dockmirror(['add', rig.registry.url, '--engine', 'podman']);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('/etc/containers/registries.conf.d/50-vendor.conf:2: this drop-in replaces the [[registry]] table for docker.io');
      expect(await readFile(rig.registriesConf, 'utf8')).toBe(before);
      expect(await readFile(system, 'utf8')).toBe(corp);
    } finally {
      await rm(path.join(rig.home, '.config'), { recursive: true, force: true });
      await rm(system, { force: true });
    }
  });

  it('after a hand edit broke the file, rollback refuses (drift, exit 7) and rollback --force restores it', async () => {
    await reset();
    expect((await dockmirror(['add', rig.registry.url, '--engine', 'podman'])).code).toBe(0);
    await writeFile(rig.registriesConf, '[[registry]]\nlocation = \n');
    const add = await dockmirror(['add', 'https://mirror.gcr.io', '--engine', 'podman']);
    expect(add.code).toBe(3);
    expect(add.stderr).toMatch(/registries\.conf:\d+:\d+: invalid TOML/);
    const refused = await dockmirror(['rollback', '--engine', 'podman']);
    expect(refused.code).toBe(7);
    expect(await readFile(rig.registriesConf, 'utf8')).toBe('[[registry]]\nlocation = \n');
    const forced = await dockmirror(['rollback', '--engine', 'podman', '--force']);
    expect(forced.stderr).toBe('');
    expect(forced.code).toBe(0);
    expect(await readFile(rig.registriesConf, 'utf8')).toBe(ORIGINAL);
  });

  it('without CONTAINERS_REGISTRIES_CONF, edits the /etc/containers/registries.conf podman reads (the rig\'s), with its state beside it', async () => {
    await reset();
    const system = path.join(rig.systemDir, 'registries.conf');
    await writeFile(system, ORIGINAL);
    try {
      const run = await dockmirror(['add', rig.registry.url, '--engine', 'podman', '--json'], { CONTAINERS_REGISTRIES_CONF: undefined });
      expect(run.stderr).toBe('');
      expect(json(run.stdout)).toMatchObject({ changed: true, configFile: '/etc/containers/registries.conf', configSetup: 'podman-system', stateDir: '/etc/containers/.dockmirror' });
      expect((await readFile(system, 'utf8')).startsWith(ORIGINAL)).toBe(true);
      expect((await rig.pullWithPodman(rig.images.alpine.name, { CONTAINERS_REGISTRIES_CONF: undefined })).ok).toBe(true);
    } finally {
      await rm(system, { force: true });
      await rm(path.join(rig.systemDir, '.dockmirror'), { recursive: true, force: true });
    }
  });

  it('left nothing under the host\'s /etc/containers changed', () => {
    expect(treeHash(SYSTEM_DIR)).toBe(etcBefore);
  });
});
