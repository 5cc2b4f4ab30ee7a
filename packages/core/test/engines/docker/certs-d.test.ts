/**
 * The Docker target on Docker's containerd image store. No Docker 29 runs here: a stand-in Engine answers
 * `GET /info` with recorded shapes (../containerd/fixtures), and the real change pipeline writes real files in a
 * temp certs.d (DOCKMIRROR_DOCKER_CERTS_DIR), never /etc/docker. What dockerd's resolver makes of those files is
 * certs-d-ctr.test.ts's job, with the real containerd.
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { addMirror, getStatus, listMirrors, removeMirror } from '../../../src/index.js';
import { UsageError } from '../../../src/errors.js';
import { certsDirOf, CERTS_DIR_ENV, seeImageStore, storeMatters } from '../../../src/engines/docker/certs-d.js';
import { dockerTarget } from '../../../src/engines/docker/adapter.js';
import { parseHostsToml } from '../../../src/engines/containerd/hosts-toml.js';
import { validateMirror } from '../../../src/mirror/url.js';
import type { ReadFile } from '../../../src/engines/engine.js';
import { isolated, NO_DAEMON } from '../../support/hermetic.js';
import { startStandInEngine, type StandInEngine } from './stand-in-engine.js';

let engine: StandInEngine;
let work: string;
let box: string;
let certs: string;
let daemonJson: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'dm-certs-d-'));
  engine = await startStandInEngine('info-29-containerd-store.json');
});
afterAll(async () => {
  await engine?.stop();
  await rm(work, { recursive: true, force: true });
});

let boxes = 0;
beforeEach(async () => {
  box = path.join(work, `box-${++boxes}`);
  certs = path.join(box, 'certs.d');
  daemonJson = path.join(box, 'daemon.json');
  await mkdir(certs, { recursive: true });
  engine.answer('info-29-containerd-store.json');
  engine.requests.length = 0;
});

/** The options of a call on the stand-in: its own daemon.json, state folder and certs.d. */
const options = (extra: Record<string, unknown> = {}) => ({
  ...isolated(box),
  env: { [CERTS_DIR_ENV]: certs },
  dockerHost: engine.endpoint,
  configFile: daemonJson,
  stateDir: path.join(box, 'state'),
  apply: 'none' as const,
  ...extra,
});
const hostsFile = (registry: string) => path.join(certs, registry, 'hosts.toml');
const exists = (file: string) => stat(file).then(() => true, () => false);
const TWO_HOSTS = '# ops team\nserver = "https://registry-1.docker.io"\n\n[host."https://a.example"]\n  capabilities = ["pull", "resolve"]\n';

describe('where the certs.d hosts.toml files are', () => {
  it('follows the environment override, then moby\'s folder per platform, with the host_port_ spelling on Windows', () => {
    expect(certsDirOf({ platform: 'linux', env: { [CERTS_DIR_ENV]: '/tmp/x/certs.d' } }, false).hostsFile('ghcr.io')).toBe('/tmp/x/certs.d/ghcr.io/hosts.toml');
    expect(certsDirOf({ platform: 'linux', env: {} }, false).hostsFile('ghcr.io')).toBe('/etc/docker/certs.d/ghcr.io/hosts.toml');
    expect(certsDirOf({ platform: 'linux', env: {}, homedir: '/home/u' }, true).hostsFile('quay.io')).toBe('/home/u/.config/docker/certs.d/quay.io/hosts.toml');
    const windows = certsDirOf({ platform: 'win32', env: { ProgramData: 'D:\\PD' } }, false);
    expect(windows.hostsFile('registry.example:5000')).toBe('D:\\PD\\docker\\certs.d\\registry.example_5000_\\hosts.toml');
    expect(windows.owns('D:\\PD\\docker\\certs.d\\registry.example_5000_\\hosts.toml')).toBe(true);
    expect(() => certsDirOf({ platform: 'darwin', env: {} }, false).hostsFile('ghcr.io')).toThrow(UsageError);
  });

  it('owns only <certs.d>/<registry>/hosts.toml, and a registry name cannot leave the folder', () => {
    const dir = certsDirOf({ platform: 'linux', env: { [CERTS_DIR_ENV]: '/c' } }, false);
    expect(dir.owns('/c/ghcr.io/hosts.toml')).toBe(true);
    expect(dir.owns('/c/127.0.0.1_5000_/hosts.toml')).toBe(true);
    for (const other of ['/c/hosts.toml', '/c/_default/hosts.toml', '/c/ghcr.io/x/hosts.toml', '/c/ghcr.io/ca.crt', '/d/ghcr.io/hosts.toml']) expect(dir.owns(other)).toBe(false);
    expect(() => dir.hostsFile('../etc')).toThrow(UsageError);
  });

  it('matters for another registry always, for docker.io only once its hosts.toml exists', async () => {
    const dir = certsDirOf({ platform: 'linux', env: { [CERTS_DIR_ENV]: certs } }, false);
    expect(storeMatters(dir, 'ghcr.io')).toBe(true);
    expect(storeMatters(dir, 'docker.io')).toBe(false);
    await mkdir(path.join(certs, 'docker.io'));
    await writeFile(hostsFile('docker.io'), TWO_HOSTS);
    expect(storeMatters(dir, 'docker.io')).toBe(true);
  });
});

describe('the image store, from the recorded GET /info answers', () => {
  it.each([
    ['info-29-containerd-store.json', 'containerd'],
    ['info-desktop-containerd-store.json', 'containerd'],
    ['info-28-overlay2.json', 'classic'],
    ['info-20.10-vfs.json', 'classic'],
  ] as const)('%s is the %s store', async (fixture, store) => {
    engine.answer(fixture);
    const seen = await seeImageStore(options(), daemonJson);
    expect(seen.store).toBe(store);
    expect(seen.seen).toContain(store === 'containerd' ? 'io.containerd.snapshotter.v1' : 'classic image store');
    expect(seen.found.connection?.endpoint).toBe(engine.endpoint);
  });

  it('is unknown, and said so, when no daemon answers', async () => {
    const seen = await seeImageStore(options({ dockerHost: NO_DAEMON }), daemonJson);
    expect(seen.store).toBeUndefined();
    expect(seen.seen).toMatch(/cannot tell which image store/);
  });

  it('is not asked on the common path: docker.io without a hosts.toml sends nothing to the daemon', async () => {
    const result = await addMirror({ ...options(), mirror: 'https://m.example' });
    expect(result.changed).toBe(true);
    expect(engine.requests).toEqual([]);
    expect(JSON.parse(await readFile(daemonJson, 'utf8'))).toEqual({ 'registry-mirrors': ['https://m.example'] });
  });
});

describe('--registry ghcr.io on the containerd image store', () => {
  it('writes certs.d/ghcr.io/hosts.toml, tells dockerd nothing, and the remove takes the file and its folder away', async () => {
    await writeFile(daemonJson, '{"debug": true}\n');
    const added = await addMirror({ ...options({ apply: 'auto' }), mirror: 'https://m.example', registry: 'ghcr.io' });
    expect(added.changed).toBe(true);
    expect(added.engines[0]?.files).toEqual([hostsFile('ghcr.io')]);
    expect(added.apply).toMatchObject({ method: 'none', reason: expect.stringContaining('dockerd reads certs.d hosts.toml files on every pull') });
    expect(await readFile(hostsFile('ghcr.io'), 'utf8')).toBe('# written by dockmirror\nserver = "https://ghcr.io"\n\n[host."https://m.example"]\n  capabilities = ["pull", "resolve"]\n');
    expect((await stat(hostsFile('ghcr.io'))).mode & 0o777).toBe(0o644);
    expect(await readFile(daemonJson, 'utf8')).toBe('{"debug": true}\n');
    // Asked once (ping, version, info): never a reload, a restart or anything else.
    expect(engine.requests.every((r) => /^GET .*\/(_ping|version|info)$/.test(r))).toBe(true);
    expect(engine.requests.filter((r) => r.endsWith('/info'))).toHaveLength(1);

    // Again with an explicit --apply reload: nothing changed, and daemon.json, never read, is not reloaded as is.
    const again = await addMirror({ ...options({ apply: 'reload' }), mirror: 'https://m.example', registry: 'ghcr.io' });
    expect(again.changed).toBe(false);
    expect(again.apply).toMatchObject({ method: 'none' });
    expect(await readFile(daemonJson, 'utf8')).toBe('{"debug": true}\n');
    expect(engine.requests.every((r) => /^GET .*\/(_ping|version|info)$/.test(r))).toBe(true);

    const removed = await removeMirror({ ...options(), mirror: 'https://m.example', registry: 'ghcr.io' });
    expect(removed.changed).toBe(true);
    expect(await exists(path.join(certs, 'ghcr.io'))).toBe(false);
    expect(await exists(certs)).toBe(true);
  });

  it('keeps a hand-written hosts.toml byte for byte around the new host', async () => {
    await mkdir(path.join(certs, 'quay.io'));
    const original = '# quay via the office\nserver = "https://quay.io"\n\n[host."https://office.example"]\n  capabilities = ["pull", "resolve"]\n';
    await writeFile(hostsFile('quay.io'), original);
    await addMirror({ ...options(), mirror: 'https://m.example', registry: 'quay.io', position: 'last' });
    const now = await readFile(hostsFile('quay.io'), 'utf8');
    expect(now.startsWith(original)).toBe(true);
    await removeMirror({ ...options(), mirror: 'https://m.example', registry: 'quay.io' });
    expect(await readFile(hostsFile('quay.io'), 'utf8')).toBe(original);
  });

  it.each([
    ['info-28-overlay2.json', /classic image store \(GET \/info: storage driver "overlay2"/],
    ['info-20.10-vfs.json', /classic image store \(GET \/info: storage driver "vfs"/],
  ] as const)('on %s is refused, naming the store it saw, and writes nothing', async (fixture, said) => {
    engine.answer(fixture);
    const refused = await addMirror({ ...options(), mirror: 'https://m.example', registry: 'ghcr.io' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UsageError);
    expect((refused as Error).message).toMatch(said);
    expect((refused as Error).message).toContain("daemon.json's registry-mirrors only mirror docker.io");
    expect(await exists(path.join(certs, 'ghcr.io'))).toBe(false);
    expect(await exists(daemonJson)).toBe(false);
  });
});

describe('docker.io when certs.d/docker.io/hosts.toml names hosts', () => {
  it('adds the mirror to that hosts.toml, leaves daemon.json alone, and never shows daemon.json\'s view as live', async () => {
    await writeFile(daemonJson, '{"registry-mirrors": ["https://json.example"]}\n');
    await mkdir(path.join(certs, 'docker.io'));
    await writeFile(hostsFile('docker.io'), TWO_HOSTS);
    engine.answer('info-29-containerd-store.json', ['https://json.example/']);
    const added = await addMirror({ ...options(), mirror: 'https://m.example' });
    expect(added.engines[0]?.files).toEqual([hostsFile('docker.io')]);
    expect(added.mirrors).toEqual(['https://m.example', 'https://a.example']);
    expect(added.warnings.join('\n')).toMatch(/ignores daemon\.json's registry-mirrors: the mirror goes in that hosts\.toml/);
    expect(await readFile(daemonJson, 'utf8')).toBe('{"registry-mirrors": ["https://json.example"]}\n');
    expect(await readFile(hostsFile('docker.io'), 'utf8')).toBe('# ops team\nserver = "https://registry-1.docker.io"\n\n[host."https://m.example"]\n  capabilities = ["pull", "resolve"]\n\n[host."https://a.example"]\n  capabilities = ["pull", "resolve"]\n');

    const list = await listMirrors({ ...options() });
    expect(list.effective).toMatchObject({ decidedBy: 'hosts.toml', infoIsLive: false, mirrors: [{ url: 'https://m.example' }, { url: 'https://a.example' }] });
    expect(list.live).toMatchObject({ error: expect.stringContaining("GET /info shows only daemon.json's view") });
    expect(list.engines[0]?.registries[0]).toEqual({ registry: 'docker.io', mirrors: [{ url: 'https://m.example', plainHttp: false }, { url: 'https://a.example', plainHttp: false }] });

    const status = await getStatus({ ...options() });
    expect(status.daemon).toMatchObject({ reachable: true, imageStore: 'containerd', effective: { decidedBy: 'hosts.toml', infoIsLive: false, ignored: [{ url: 'https://json.example' }] } });

    // A mirror that is only in daemon.json is removed there (it was ignored; now it is gone too).
    const removed = await removeMirror({ ...options(), mirror: 'https://json.example' });
    expect(removed.engines[0]?.files).toEqual([daemonJson]);
    const fromHosts = await removeMirror({ ...options(), mirror: 'https://m.example' });
    expect(fromHosts.engines[0]?.files).toEqual([hostsFile('docker.io')]);
    expect(await readFile(hostsFile('docker.io'), 'utf8')).toBe(TWO_HOSTS);
  });

  it('with a hosts.toml that names no host, daemon.json\'s mirrors apply (moby\'s merge), so the mirror goes there', async () => {
    await mkdir(path.join(certs, 'docker.io'));
    await writeFile(hostsFile('docker.io'), 'server = "https://registry-1.docker.io"\n');
    const added = await addMirror({ ...options(), mirror: 'https://m.example' });
    expect(added.engines[0]?.files).toEqual([daemonJson]);
    expect(await readFile(hostsFile('docker.io'), 'utf8')).toBe('server = "https://registry-1.docker.io"\n');
    const list = await listMirrors({ ...options() });
    expect(list.effective).toMatchObject({ decidedBy: 'daemon.json', infoIsLive: true });
    expect(list.live).not.toHaveProperty('error');
  });

  it('on the classic store, a docker.io hosts.toml means nothing to dockerd: daemon.json is edited as always', async () => {
    engine.answer('info-20.10-vfs.json');
    await mkdir(path.join(certs, 'docker.io'));
    await writeFile(hostsFile('docker.io'), TWO_HOSTS);
    const added = await addMirror({ ...options(), mirror: 'https://m.example' });
    expect(added.engines[0]?.files).toEqual([daemonJson]);
    expect(await readFile(hostsFile('docker.io'), 'utf8')).toBe(TWO_HOSTS);
    expect((await listMirrors({ ...options() })).effective).toBeUndefined();
  });
});

describe('which file a docker.io add goes to (property)', () => {
  it('hosts.toml exactly when it names a host, and the other file keeps its bytes', async () => {
    await mkdir(path.join(certs, 'docker.io'));
    await writeFile(hostsFile('docker.io'), TWO_HOSTS);
    const target = await dockerTarget(options());
    const host = fc.integer({ min: 1, max: 250 }).map((n) => `https://h${n}.example`);
    await fc.assert(
      fc.property(fc.uniqueArray(host, { maxLength: 3 }), fc.uniqueArray(host, { maxLength: 3 }), fc.integer({ min: 251, max: 400 }), (hosts, json, n) => {
        const text = `server = "https://registry-1.docker.io"\n${hosts.map((h) => `\n[host."${h}"]\n  capabilities = ["pull", "resolve"]\n`).join('')}`;
        const hostsRaw = { file: hostsFile('docker.io'), exists: true, bytes: Buffer.from(text) };
        const jsonRaw = { file: daemonJson, exists: true, bytes: Buffer.from(JSON.stringify({ 'registry-mirrors': json })) };
        const files = new Map<string, ReadFile>([
          [daemonJson, { raw: jsonRaw, doc: target.parse(jsonRaw, { lenient: false }) }],
          [hostsRaw.file, { raw: hostsRaw, doc: parseHostsToml(hostsRaw.file, hostsRaw.bytes, { registry: 'docker.io' }) }],
        ]);
        const url = `https://m${n}.example`;
        const plan = target.planAdd(files, { registry: 'docker.io', mirror: validateMirror(url), position: 'first', insecure: true }, []);
        expect(plan?.writes.map((w) => w.file)).toEqual([hosts.length > 0 ? hostsRaw.file : daemonJson]);
        expect(target.summary(files, 'docker.io').mirrors).toEqual(hosts.length > 0 ? hosts : json);
        expect(target.effective(files)?.infoIsLive).toBe(hosts.length === 0);
      }),
      { numRuns: 200 },
    );
  });
});
