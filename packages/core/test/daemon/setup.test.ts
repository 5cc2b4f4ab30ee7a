import { appendFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flagValues } from '../../src/daemon/dockerd-process.js';
import { detectSetup } from '../../src/daemon/setup.js';
import { UsageError } from '../../src/errors.js';

let base: string;
let proc: string;
let root: string;

/**
 * A fake /proc/<pid> with argv, cgroup and stderr, owned by root, that really holds a listening socket for each
 * unix `-H` it names (fd:// is systemd's /run/docker.sock; no -H is the default socket), as the kernel shows it.
 */
async function fakeProcess(pid: number, argv: string[], cgroup = '0::/\n', stderr?: string): Promise<void> {
  const dir = join(proc, String(pid));
  await mkdir(join(dir, 'fd'), { recursive: true });
  await writeFile(join(dir, 'cmdline'), `${argv.join('\0')}\0`);
  await writeFile(join(dir, 'cgroup'), cgroup);
  await writeFile(join(dir, 'status'), `Name:\t${argv[0]}\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n`);
  if (stderr) await symlink(stderr, join(dir, 'fd', '2'));
  const hosts = flagValues(argv, '--host', '-H');
  for (const [i, host] of (hosts.length > 0 ? hosts : ['unix:///var/run/docker.sock']).entries()) {
    const path = host.startsWith('fd://') ? '/run/docker.sock' : host.replace(/^unix:\/\//, '');
    const inode = pid * 100 + i;
    await appendFile(join(proc, 'net', 'unix'), `0000000000000000: 00000002 00000000 00010000 0001 01 ${inode} ${path}\n`);
    await symlink(`socket:[${inode}]`, join(dir, 'fd', String(10 + i)));
  }
}

/** Marker paths under the fake root (`/run/systemd/system`, `/etc/init.d/docker`...). */
async function markers(...paths: string[]): Promise<void> {
  for (const p of paths) await mkdir(join(root, p), { recursive: true });
}

const detect = (endpoint: string, extra: Partial<Parameters<typeof detectSetup>[0]> = {}) =>
  detectSetup({ endpoint, procRoot: proc, rootDir: root, env: {}, platform: 'linux', ...extra });

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'dm-setup-'));
  proc = join(base, 'proc');
  root = join(base, 'root');
  await mkdir(join(proc, 'net'), { recursive: true });
  await writeFile(join(proc, 'net', 'unix'), 'Num       RefCount Protocol Flags    Type St Inode Path\n');
  await mkdir(root);
  await fakeProcess(1, ['/sbin/init']);
  await fakeProcess(77, ['bash']);
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('detectSetup', () => {
  it('systemd: default socket via fd://, cgroup docker.service', async () => {
    await markers('run/systemd/system', 'etc/init.d/docker');
    await fakeProcess(500, ['/usr/bin/dockerd', '-H', 'fd://', '--containerd=/run/containerd/containerd.sock'], '0::/system.slice/docker.service\n');
    const s = await detect('unix:///var/run/docker.sock', { info: { LiveRestoreEnabled: true } });
    expect(s).toMatchObject({ kind: 'systemd', pid: 500, logHint: 'journalctl -u docker.service', canReload: true, restartStopsContainers: false });
  });

  it('picks the dockerd serving our socket when several run', async () => {
    await markers('run/systemd/system');
    await fakeProcess(500, ['/usr/bin/dockerd', '-H', 'fd://'], '0::/system.slice/docker.service\n');
    await fakeProcess(600, ['dockerd', '--config-file', '/tmp/t/daemon.json', '-H', 'unix:///tmp/t/docker.sock', '-p', '/tmp/t/d.pid'], '0::/user.slice\n', '/tmp/t/dockerd.log');
    const s = await detect('unix:///tmp/t/docker.sock');
    expect(s).toMatchObject({ kind: 'plain', pid: 600, configFile: '/tmp/t/daemon.json', pidFile: '/tmp/t/d.pid', canReload: true });
    expect(s.logHint).toBe('dockerd (pid 600) writes its log to /tmp/t/dockerd.log');
  });

  it('plain: a hand-started dockerd on its own socket, even with /etc/init.d/docker present', async () => {
    await markers('etc/init.d/docker');
    await fakeProcess(600, ['dockerd', '--host=unix:///tmp/x.sock']);
    expect(await detect('unix:///tmp/x.sock')).toMatchObject({ kind: 'plain', pid: 600, pidFile: '/var/run/docker.pid' });
  });

  it('rootless from info SecurityOptions', async () => {
    const s = await detect('unix:///run/user/1000/docker.sock', { info: { SecurityOptions: ['name=seccomp,profile=default', 'name=rootless'] } });
    expect(s).toMatchObject({ kind: 'rootless', logHint: 'journalctl --user -u docker.service', canReload: true });
  });

  it('snap from the dockerd path', async () => {
    await markers('run/systemd/system');
    await fakeProcess(700, ['/snap/docker/2904/bin/dockerd', '--config-file=/var/snap/docker/2904/config/daemon.json', '--pidfile', '/var/snap/docker/2904/run/docker.pid']);
    const s = await detect('unix:///var/run/docker.sock');
    expect(s).toMatchObject({ kind: 'snap', pid: 700, configFile: '/var/snap/docker/2904/config/daemon.json', pidFile: '/var/snap/docker/2904/run/docker.pid' });
  });

  it('openrc and sysvinit from marker paths', async () => {
    await fakeProcess(800, ['/usr/bin/dockerd', '-p', '/run/docker.pid']);
    await markers('etc/init.d/docker');
    expect(await detect('unix:///var/run/docker.sock')).toMatchObject({ kind: 'sysvinit', pid: 800, logHint: '/var/log/docker.log' });
    await markers('run/openrc');
    expect(await detect('unix:///run/docker.sock')).toMatchObject({ kind: 'openrc', pid: 800, pidFile: '/run/docker.pid' });
  });

  it('desktop from info, on any platform', async () => {
    const info = { OperatingSystem: 'Docker Desktop' };
    expect(await detect('unix:///Users/u/.docker/run/docker.sock', { info, platform: 'darwin' })).toMatchObject({
      kind: 'desktop',
      restartStopsContainers: true,
      canReload: false,
    });
    expect((await detect('npipe:////./pipe/dockerDesktopLinuxEngine', { info, platform: 'win32' })).logHint).toContain('LOCALAPPDATA');
  });

  it('windows-engine on win32 without Desktop', async () => {
    const s = await detect('npipe:////./pipe/docker_engine', { platform: 'win32', info: { OperatingSystem: 'Windows Server 2022' } });
    expect(s).toMatchObject({ kind: 'windows-engine', canReload: false, restartStopsContainers: true });
  });

  it('unknown: a remote or foreign socket with no visible process', async () => {
    await markers('run/systemd/system');
    expect((await detect('tcp://10.0.0.5:2375')).kind).toBe('unknown');
    expect((await detect('unix:///tmp/mounted.sock')).kind).toBe('unknown');
    expect((await detect('unix:///x', { platform: 'darwin' })).kind).toBe('unknown');
  });

  it('systemd for the default socket when the process is not visible', async () => {
    await markers('run/systemd/system');
    expect(await detect('unix:///var/run/docker.sock')).toMatchObject({ kind: 'systemd', canReload: true });
  });

  it('DOCKMIRROR_SETUP forces the kind and is validated', async () => {
    await fakeProcess(600, ['dockerd', '-H', 'unix:///tmp/x.sock']);
    expect(await detect('unix:///tmp/x.sock', { env: { DOCKMIRROR_SETUP: 'snap' } })).toMatchObject({ kind: 'snap', pid: 600 });
    await expect(detect('unix:///tmp/x.sock', { env: { DOCKMIRROR_SETUP: 'nope' } })).rejects.toBeInstanceOf(UsageError);
  });
});
