// The registries.conf edit against the real podman 4.3: pulls through the mirror with no internet, podman's own
// view of the result, drop-ins as podman merges them, and nothing of the host's /etc/containers touched.
import { readdirSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import { effectiveSettings, filesInOrder, locateRegistriesConf, readRegistriesFiles, whereToWrite } from '../../../src/engines/podman/locate.js';
import { podmanRegistries } from '../../../src/engines/podman/podman-info.js';
import { pullWithPodman } from '../../../src/engines/podman/pull.js';
import { applyReason, findRegistriesConfReaders } from '../../../src/engines/podman/services.js';
import { parseRegistriesConf, planRegistriesAdd, planRegistriesRemove, settingsOf } from '../../../src/engines/podman/registries-conf.js';
import type { RunCommand } from '../../../src/presets/run-command.js';
import { SYSTEM_DIR, SAMPLE_REGISTRIES_CONF, startPodmanRig, treeHash, type PodmanRig } from '../../support/podman.js';


let rig: PodmanRig;
let etcBefore: string;
beforeAll(async () => {
  etcBefore = treeHash(SYSTEM_DIR);
  rig = await startPodmanRig();
});
afterAll(() => rig?.stop());

const USER_FILE = (): string => path.join(rig.home, '.config', 'containers', 'registries.conf');
const USER_DROP_INS = (): string => path.join(rig.home, '.config', 'containers', 'registries.conf.d');

/** The rig's podman as the core's process runner, so podman-info.ts parses what the real podman prints. */
const rigRun = (env?: Record<string, string | undefined>): RunCommand => async (_file, args) => {
  const out = await rig.podman(args, env);
  return { stdout: out.stdout, stderr: out.stderr, exitCode: out.code };
};

/** podman's own view, in the settings shape, sorted as podman lists them. */
async function podmanView(env?: Record<string, string | undefined>) {
  const view = await podmanRegistries({ env: {}, run: rigRun(env) });
  if (view.state !== 'ok') throw new Error(`podman info: ${JSON.stringify(view)}`);
  return view.registries;
}

const strip = <T extends { source?: unknown; line?: unknown }>(tables: T[]) => tables.map(({ source: _s, line: _l, ...rest }) => rest);

async function resetFiles(): Promise<void> {
  await rm(rig.registriesConf, { force: true });
  await rm(path.join(rig.home, '.config'), { recursive: true, force: true });
  await rm(path.join(rig.systemDir, 'registries.conf'), { force: true });
  for (const name of readdirSync(rig.systemDropIns)) await rm(path.join(rig.systemDropIns, name), { force: true });
}

const ORIGINAL = SAMPLE_REGISTRIES_CONF;

describe('the edit, with podman reading CONTAINERS_REGISTRIES_CONF', () => {
  it('without the mirror, podman cannot pull docker.io/library/alpine:3.16.2 (no internet)', async () => {
    await resetFiles();
    await writeFile(rig.registriesConf, ORIGINAL);
    const pull = await rig.pullWithPodman(rig.images.alpine.name);
    expect(pull.ok).toBe(false);
    expect(pull.mirrorRequests).toBe(0);
  });

  it('add makes the pull come from the mirror, podman info shows it insecure, and remove undoes it byte for byte', async () => {
    await resetFiles();
    await writeFile(rig.registriesConf, ORIGINAL);
    const before = parseRegistriesConf(rig.registriesConf, await readFile(rig.registriesConf));
    const bytes = planRegistriesAdd(before, { registry: 'docker.io', mirror: { url: rig.registry.url, plainHttp: true } }) as Buffer;
    await writeFile(rig.registriesConf, bytes);
    expect(bytes.toString().startsWith(ORIGINAL)).toBe(true);

    const info = await rig.info();
    expect(info['docker.io']).toMatchObject({ Prefix: 'docker.io', Location: 'docker.io', Mirrors: [{ Location: rig.registry.location, Insecure: true }] });
    const view = await podmanView();
    expect(view).toEqual(settingsOf(parseRegistriesConf(rig.registriesConf, bytes)).sort((a, b) => a.prefix.localeCompare(b.prefix)));

    const pull = await rig.pullWithPodman(rig.images.alpine.name);
    expect(pull.stderr).not.toMatch(/Error/);
    expect(pull.ok).toBe(true);
    expect(pull.mirrorRequests).toBeGreaterThan(0);
    expect((await rig.podman(['image', 'exists', rig.images.alpine.name])).code).toBe(1);

    // An image that was there before the verify pull stays there.
    expect((await rig.podman(['pull', rig.images.alpine.name])).code).toBe(0);
    expect(await pullWithPodman(rig.images.alpine.name, { env: {}, run: rigRun() })).toEqual({ ok: true, wasPresent: true, removed: false, digests: [rig.images.alpine.digest] });
    expect((await rig.podman(['image', 'exists', rig.images.alpine.name])).code).toBe(0);
    expect((await rig.podman(['rmi', rig.images.alpine.name])).code).toBe(0);

    const again = planRegistriesAdd(parseRegistriesConf(rig.registriesConf, bytes), { registry: 'docker.io', mirror: { url: rig.registry.url, plainHttp: true } });
    expect(again).toBeUndefined();
    const removed = planRegistriesRemove(parseRegistriesConf(rig.registriesConf, bytes), rig.registry.url) as Buffer;
    // The table add created stays, with no mirror: the same meaning to podman as no table (rollback restores bytes).
    expect(removed.toString()).toBe(`${ORIGINAL}\n[[registry]]\nprefix = "docker.io"\nlocation = "docker.io"\n`);
    await writeFile(rig.registriesConf, removed);
    const failed = await pullWithPodman(rig.images.alpine.name, { env: {}, run: rigRun() });
    expect(failed).toMatchObject({ ok: false, wasPresent: false, removed: false, error: expect.stringMatching(/^Error: .*registry-1\.docker\.io/) });
  });

  it('the same for ghcr.io/someorg/tool:1 with registry ghcr.io', async () => {
    await resetFiles();
    await writeFile(rig.registriesConf, ORIGINAL);
    expect((await rig.pullWithPodman(rig.images.tool.name)).ok).toBe(false);
    const doc = parseRegistriesConf(rig.registriesConf, await readFile(rig.registriesConf));
    await writeFile(rig.registriesConf, planRegistriesAdd(doc, { registry: 'ghcr.io', mirror: { url: `${rig.registry.url}/`, plainHttp: true } }) as Buffer);
    expect((await rig.info())['ghcr.io']).toMatchObject({ Location: 'ghcr.io', Mirrors: [{ Location: rig.registry.location, Insecure: true }] });
    const pull = await rig.pullWithPodman(rig.images.tool.name);
    expect(pull.ok).toBe(true);
    expect(pull.mirrorRequests).toBeGreaterThan(0);
    // docker.io has no mirror: only the registry that was asked for changed.
    expect((await rig.pullWithPodman(rig.images.alpine.name)).ok).toBe(false);
  });
});

describe('which file, and the effective config, as podman sees them', () => {
  const mirrorTable = (prefix: string, location: string, extra = '') => `[[registry]]\nprefix = "${prefix}"\nlocation = "${prefix}"\n${extra}\n[[registry.mirror]]\nlocation = "${location}"\ninsecure = true\n`;

  it('with CONTAINERS_REGISTRIES_CONF: the drop-ins beside it are ignored, /etc\'s and the home\'s still count', async () => {
    await resetFiles();
    await writeFile(rig.registriesConf, mirrorTable('docker.io', '127.0.0.1:1') + mirrorTable('quay.io', '127.0.0.1:2'));
    await mkdir(`${rig.registriesConf}.d`, { recursive: true });
    await writeFile(path.join(`${rig.registriesConf}.d`, '50-beside.conf'), mirrorTable('docker.io', '127.0.0.1:3'));
    await writeFile(path.join(rig.systemDropIns, '10-system.conf'), mirrorTable('docker.io', '127.0.0.1:4') + mirrorTable('gcr.io', '127.0.0.1:5'));
    await mkdir(USER_DROP_INS(), { recursive: true });
    await writeFile(path.join(USER_DROP_INS(), '20-user.conf'), mirrorTable('gcr.io', '127.0.0.1:6', 'blocked = false'));
    const located = await locateRegistriesConf({ env: rig.env, homedir: rig.home, rootDir: rig.rootDir });
    expect(located).toMatchObject({ main: rig.registriesConf, source: 'env', dropInDirs: [rig.systemDropIns, USER_DROP_INS()] });
    const files = await readRegistriesFiles(located);
    const effective = effectiveSettings(filesInOrder(files));
    expect(strip(effective)).toEqual(await podmanView());
    expect(effective.map((t) => [t.prefix, t.mirrors[0]?.location, path.basename(t.source)])).toEqual([
      ['docker.io', '127.0.0.1:4', '10-system.conf'],
      ['gcr.io', '127.0.0.1:6', '20-user.conf'],
      ['quay.io', '127.0.0.1:2', 'registries.conf'],
    ]);
  });

  it('the user\'s ~/.config/containers/registries.conf replaces /etc\'s, and then /etc\'s drop-ins are not read', async () => {
    await resetFiles();
    await writeFile(path.join(rig.systemDir, 'registries.conf'), mirrorTable('docker.io', '127.0.0.1:1'));
    await writeFile(path.join(rig.systemDropIns, '10-system.conf'), mirrorTable('quay.io', '127.0.0.1:2'));
    await mkdir(USER_DROP_INS(), { recursive: true });
    await writeFile(USER_FILE(), mirrorTable('ghcr.io', '127.0.0.1:3'));
    await writeFile(path.join(USER_DROP_INS(), 'b.conf'), mirrorTable('ghcr.io', '127.0.0.1:4'));
    await writeFile(path.join(USER_DROP_INS(), 'a.conf'), mirrorTable('ghcr.io', '127.0.0.1:5') + mirrorTable('k8s.io', '127.0.0.1:6'));
    const env = { CONTAINERS_REGISTRIES_CONF: undefined };
    const located = await locateRegistriesConf({ env: {}, homedir: rig.home, rootDir: rig.rootDir });
    expect(located).toMatchObject({ main: USER_FILE(), source: 'user', dropInDirs: [USER_DROP_INS()] });
    const effective = effectiveSettings(filesInOrder(await readRegistriesFiles(located)));
    expect(strip(effective)).toEqual(await podmanView(env));
    expect(effective.map((t) => t.mirrors[0]?.location)).toEqual(['127.0.0.1:4', '127.0.0.1:6']);
  });

  it('a symlinked drop-in folder is not read by podman, nor by dockmirror', async () => {
    await resetFiles();
    await writeFile(rig.registriesConf, mirrorTable('docker.io', '127.0.0.1:1'));
    const real = path.join(rig.dir, 'elsewhere.d');
    await mkdir(real, { recursive: true });
    await writeFile(path.join(real, '50.conf'), mirrorTable('docker.io', '127.0.0.1:2'));
    await mkdir(path.dirname(USER_DROP_INS()), { recursive: true });
    const { symlink } = await import('node:fs/promises');
    await symlink(real, USER_DROP_INS());
    const files = await readRegistriesFiles(await locateRegistriesConf({ env: rig.env, homedir: rig.home, rootDir: rig.rootDir }));
    expect(files.notes.join('\n')).toMatch(/is a symlink: podman does not read drop-ins through it/);
    expect(strip(effectiveSettings(filesInOrder(files)))).toEqual(await podmanView());
    expect((await podmanView())[0]?.mirrors[0]?.location).toBe('127.0.0.1:1');
  });

  it('whereToWrite edits the drop-in that replaces the table, so podman sees the old mirrors plus the new one', async () => {
    await resetFiles();
    await writeFile(rig.registriesConf, mirrorTable('docker.io', '127.0.0.1:1'));
    await mkdir(USER_DROP_INS(), { recursive: true });
    const dropIn = path.join(USER_DROP_INS(), '50-corp.conf');
    await writeFile(dropIn, '# corp cache\n' + mirrorTable('docker.io', '127.0.0.1:9'));
    const files = await readRegistriesFiles(await locateRegistriesConf({ env: rig.env, homedir: rig.home, rootDir: rig.rootDir }));
    const target = whereToWrite(files, 'docker.io');
    expect(target.doc.file).toBe(dropIn);
    await writeFile(dropIn, planRegistriesAdd(target.doc, { registry: 'docker.io', mirror: { url: rig.registry.url, plainHttp: true } }) as Buffer);
    expect((await podmanView()).find((t) => t.prefix === 'docker.io')?.mirrors.map((m) => m.location)).toEqual([rig.registry.location, '127.0.0.1:9']);
    const pull = await rig.pullWithPodman(rig.images.alpine.name);
    expect(pull.ok).toBe(true);
    expect(pull.mirrorRequests).toBeGreaterThan(0);
  });

  it('with a named file, a drop-in under /etc that replaces the table is refused, not silently ineffective', async () => {
    await resetFiles();
    await writeFile(rig.registriesConf, '');
    await writeFile(path.join(rig.systemDropIns, '50-vendor.conf'), mirrorTable('docker.io', '127.0.0.1:9'));
    const files = await readRegistriesFiles(await locateRegistriesConf({ env: rig.env, homedir: rig.home, rootDir: rig.rootDir }));
    expect(() => whereToWrite(files, 'docker.io')).toThrow(UsageError);
    expect(() => whereToWrite(files, 'docker.io')).toThrow(/50-vendor\.conf:1: this drop-in replaces the \[\[registry\]\] table for docker\.io/);
    expect(whereToWrite(files, 'ghcr.io').doc.file).toBe(rig.registriesConf);
  });

  it('a new drop-in leaves /etc/containers/registries.conf alone and carries the table it replaces', async () => {
    await resetFiles();
    const main = path.join(rig.systemDir, 'registries.conf');
    const mainText = '# vendor file\n' + mirrorTable('docker.io', '127.0.0.1:8', 'blocked = false');
    await writeFile(main, mainText);
    const env = { CONTAINERS_REGISTRIES_CONF: undefined };
    const files = await readRegistriesFiles(await locateRegistriesConf({ env: {}, homedir: rig.home, rootDir: rig.rootDir }));
    const target = whereToWrite(files, 'docker.io', { dropIn: true });
    expect(target.doc.file).toBe(path.join(rig.systemDropIns, '99-dockmirror.conf'));
    expect(target.seed?.mirrors).toEqual([{ location: '127.0.0.1:8', insecure: true }]);
    await writeFile(target.doc.file, planRegistriesAdd(target.doc, { registry: 'docker.io', mirror: { url: rig.registry.url, plainHttp: true }, ...(target.seed ? { seed: target.seed } : {}) }) as Buffer);
    expect(await readFile(main, 'utf8')).toBe(mainText);
    const view = await podmanView(env);
    expect(view).toEqual([{ prefix: 'docker.io', location: 'docker.io', insecure: false, blocked: false, mirrorByDigestOnly: false, mirrors: [{ location: rig.registry.location, insecure: true }, { location: '127.0.0.1:8', insecure: true }] }]);
    const pull = await rig.pullWithPodman(rig.images.alpine.name, env);
    expect(pull.ok).toBe(true);
    expect(pull.mirrorRequests).toBeGreaterThan(0);
  });
});

describe('podman info as the core reads it', () => {
  it('a file podman refuses makes the view a failure with podman\'s reason, not an exception', async () => {
    await resetFiles();
    await writeFile(rig.registriesConf, '[[registry]]\nlocation = "https://quay.io"\n');
    const view = await podmanRegistries({ env: {}, run: rigRun() });
    expect(view).toEqual({ state: 'failed', message: expect.stringMatching(/^podman info failed: Error: .*URI schemes are not supported/) });
  });
});

describe('what caches registries.conf', () => {
  it('a running podman system service is found by pid and named as needing a restart', async () => {
    const reason = applyReason(await findRegistriesConfReaders());
    expect(reason).toBe('podman, buildah and skopeo read registries.conf on every run: nothing to apply.');
    const service = rig.spawnPodman(['system', 'service', '--time=0', `unix://${path.join(rig.dir, 'podman.sock')}`]);
    const exited = new Promise((resolve) => service.once('exit', resolve));
    try {
      let readers = await findRegistriesConfReaders();
      for (let i = 0; i < 100 && !readers.podmanServices.includes(service.pid as number); i++) {
        await new Promise((r) => setTimeout(r, 100));
        readers = await findRegistriesConfReaders();
      }
      expect(readers.podmanServices).toContain(service.pid);
      expect(applyReason(readers)).toContain(`A running podman system service (pid ${service.pid}) read it when it started: restart it to use the change`);
    } finally {
      if (service.exitCode === null) process.kill(service.pid as number, 'SIGTERM');
      await exited;
    }
  });
});

describe('the host', () => {
  it('nothing under /etc/containers changed', () => {
    expect(treeHash(SYSTEM_DIR)).toBe(etcBefore);
  });
});
