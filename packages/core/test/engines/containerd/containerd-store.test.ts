/**
 * Docker's containerd image store. No Docker 29 runs here, so detection is tested on /info answers: one
 * recorded from this testbed's dockerd 20.10, the others written in the shapes moby's source gives (each
 * fixture's "//" says which). The merge rule is moby's `mergeLegacyConfig`, as a table.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dockerCertsDir, effectiveMirrors, imageStoreOf } from '../../../src/engines/docker/containerd-store.js';
import { parseHostsToml } from '../../../src/engines/containerd/hosts-toml.js';

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8'));

describe('imageStoreOf', () => {
  it.each([
    ['info-20.10-vfs.json', 'classic'],
    ['info-28-overlay2.json', 'classic'],
    ['info-29-containerd-store.json', 'containerd'],
    ['info-desktop-containerd-store.json', 'containerd'],
  ])('%s is the %s store', (name, store) => {
    expect(imageStoreOf(fixture(name))).toBe(store);
  });

  it.each([
    undefined, null, 'x', 42, {}, { DriverStatus: 'driver-type' }, { DriverStatus: [['driver-type']] },
    { DriverStatus: [['driver-type', 'io.containerd.snapshotter.v2']] }, { DriverStatus: [['Driver-Type', 'io.containerd.snapshotter.v1']] },
    { DriverStatus: ['driver-type', 'io.containerd.snapshotter.v1'] }, { Driver: 'overlayfs' },
  ])('odd answer %j reads as the classic store', (info) => {
    expect(imageStoreOf(info)).toBe('classic');
  });
});

describe('dockerCertsDir', () => {
  it('is the folder moby\'s registry.CertsDir names on each platform', () => {
    expect(dockerCertsDir({ platform: 'linux', env: {} })).toBe('/etc/docker/certs.d');
    expect(dockerCertsDir({ platform: 'linux', env: {}, homedir: '/home/u', rootless: true })).toBe('/home/u/.config/docker/certs.d');
    expect(dockerCertsDir({ platform: 'linux', env: { XDG_CONFIG_HOME: '/x/cfg' }, homedir: '/home/u', rootless: true })).toBe('/x/cfg/docker/certs.d');
    expect(dockerCertsDir({ platform: 'linux', env: { XDG_CONFIG_HOME: 'relative' }, homedir: '/home/u', rootless: true })).toBe('/home/u/.config/docker/certs.d');
    expect(dockerCertsDir({ platform: 'win32', env: { ProgramData: 'D:\\PD' } })).toBe('D:\\PD\\docker\\certs.d');
    expect(dockerCertsDir({ platform: 'win32', env: {} })).toBe('C:\\ProgramData\\docker\\certs.d');
    expect(dockerCertsDir({ platform: 'darwin', env: {} })).toBeUndefined();
  });
});

describe('effectiveMirrors (moby mergeLegacyConfig)', () => {
  const hosts = (registry: string, text: string) => parseHostsToml(`/etc/docker/certs.d/${registry}/hosts.toml`, Buffer.from(text), { registry });
  const json = ['https://mirror.gcr.io/', 'http://10.0.0.1:5000'];
  const urls = (r: ReturnType<typeof effectiveMirrors>) => r.mirrors.map((m) => `${m.from}:${m.url}`);

  it.each([
    ['docker.io, no hosts.toml: daemon.json mirrors, then the upstream', 'docker.io', undefined, json, ['daemon.json:https://mirror.gcr.io', 'daemon.json:http://10.0.0.1:5000'], 'daemon.json', true, 0],
    ['docker.io, hosts.toml with only server: still daemon.json layered on it', 'docker.io', 'server = "https://registry-1.docker.io"', json, ['daemon.json:https://mirror.gcr.io', 'daemon.json:http://10.0.0.1:5000'], 'daemon.json', true, 0],
    ['docker.io, hosts.toml with one [host]: two hosts, daemon.json ignored', 'docker.io', '[host."http://127.0.0.1:5000"]\ncapabilities = ["pull", "resolve"]', json, ['hosts.toml:http://127.0.0.1:5000'], 'hosts.toml', false, 2],
    ['docker.io, two [host]s in file order', 'docker.io', '[host."https://b"]\n[host."http://a:1"]\ncapabilities = ["pull"]', [], ['hosts.toml:https://b', 'hosts.toml:http://a:1'], 'hosts.toml', false, 0],
    ['docker.io, a push-only host counts as a host but is never pulled from', 'docker.io', '[host."https://push.example.com"]\ncapabilities = ["push"]', json, [], 'hosts.toml', false, 2],
    ['ghcr.io, daemon.json mirrors never apply', 'ghcr.io', undefined, json, [], 'none', true, 2],
    ['ghcr.io, its hosts.toml decides', 'ghcr.io', '[host."http://127.0.0.1:5000"]', json, ['hosts.toml:http://127.0.0.1:5000'], 'hosts.toml', false, 2],
    ['docker.io, nothing anywhere', 'docker.io', undefined, [], [], 'none', true, 0],
  ] as const)('%s', (_name, registry, text, daemonJsonMirrors, expected, decidedBy, infoIsLive, ignored) => {
    const result = effectiveMirrors({ registry, daemonJsonMirrors, ...(text === undefined ? {} : { hostsDoc: hosts(registry, text) }) });
    expect(urls(result)).toEqual(expected);
    expect(result.decidedBy).toBe(decidedBy);
    expect(result.infoIsLive).toBe(infoIsLive);
    expect(result.ignored).toHaveLength(ignored);
  });

  it('keeps hosts.toml\'s upstream and plain-HTTP setting, and says why daemon.json was ignored', () => {
    const result = effectiveMirrors({ registry: 'docker.io', daemonJsonMirrors: ['https://m'], hostsDoc: hosts('docker.io', 'server = "https://up.example.com"\n[host."http://127.0.0.1:5000"]') });
    expect(result.server).toBe('https://up.example.com');
    expect(result.mirrors[0]).toEqual({ url: 'http://127.0.0.1:5000', plainHttp: true, from: 'hosts.toml' });
    expect(result.ignored[0]?.reason).toMatch(/names a host, so dockerd ignores daemon.json's mirrors for docker.io/);
    expect(effectiveMirrors({ registry: 'docker.io', daemonJsonMirrors: ['http://x:1/'] }).mirrors[0]).toEqual({ url: 'http://x:1', plainHttp: true, from: 'daemon.json' });
  });

  it('reads the mirrors /info claims on the containerd store, and shows they are not live next to a hosts.toml', () => {
    const info = fixture('info-29-containerd-store.json') as { RegistryConfig: { Mirrors: string[] } };
    expect(imageStoreOf(info)).toBe('containerd');
    const live = effectiveMirrors({ registry: 'docker.io', daemonJsonMirrors: info.RegistryConfig.Mirrors, hostsDoc: hosts('docker.io', '[host."http://127.0.0.1:5000"]') });
    expect(live.infoIsLive).toBe(false);
    expect(live.mirrors.map((m) => m.url)).not.toContain('https://mirror.gcr.io');
  });
});
