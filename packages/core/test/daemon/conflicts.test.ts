import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findFlagConflicts, parseSystemctlCat, registryFlagsIn, splitWords } from '../../src/daemon/conflicts.js';
import type { DaemonSetup } from '../../src/daemon/setup.js';

const base = { logHint: '', restartStopsContainers: true, canReload: true };
let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'dm-conflicts-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('flag parsing', () => {
  it('reads every spelling of the registry flags', () => {
    const argv = ['--registry-mirror=https://a', '--registry-mirror', 'https://b', '--insecure-registry', 'r:5000', '--insecure-registry=10.0.0.0/8', '--debug'];
    expect(registryFlagsIn(argv, 'x')).toEqual([
      { flag: '--registry-mirror', key: 'registry-mirrors', values: ['https://a', 'https://b'], source: 'x' },
      { flag: '--insecure-registry', key: 'insecure-registries', values: ['r:5000', '10.0.0.0/8'], source: 'x' },
    ]);
    expect(registryFlagsIn(['--registry-mirrors-x=1', '-H', 'fd://'], 'x')).toEqual([]);
  });

  it('splits quoted words like systemd does', () => {
    expect(splitWords(`/usr/bin/dockerd --registry-mirror="https://a b" 'x y' $DOCKER_OPTS`)).toEqual([
      '/usr/bin/dockerd',
      '--registry-mirror=https://a b',
      'x y',
      '$DOCKER_OPTS',
    ]);
  });

  it('takes the effective ExecStart from systemctl cat, with its file', () => {
    const cat = [
      '# /lib/systemd/system/docker.service',
      '[Service]',
      'ExecStart=/usr/bin/dockerd -H fd:// --registry-mirror=https://old',
      '',
      '# /etc/systemd/system/docker.service.d/override.conf',
      '[Service]',
      'ExecStart=',
      'ExecStart=/usr/bin/dockerd -H fd:// \\',
      '  --registry-mirror https://new --insecure-registry=r:1',
    ].join('\n');
    const exec = parseSystemctlCat(cat);
    expect(exec?.source).toBe('/etc/systemd/system/docker.service.d/override.conf');
    expect(registryFlagsIn(exec?.args ?? [], exec?.source ?? '').map((c) => c.values)).toEqual([['https://new'], ['r:1']]);
    expect(parseSystemctlCat('# /x\nExecStart=\n')).toBeUndefined();
  });
});

describe('findFlagConflicts', () => {
  it('reports a unit file and DOCKER_OPTS under systemd, not repeating the command line', async () => {
    await mkdir(join(root, 'etc/default'), { recursive: true });
    await writeFile(join(root, 'etc/default/docker'), '# DOCKER_OPTS="--registry-mirror=https://commented"\nDOCKER_OPTS="--insecure-registry r:5000"\n');
    const setup: DaemonSetup = {
      ...base,
      kind: 'systemd',
      pid: 42,
      cmdline: ['/usr/bin/dockerd', '-H', 'fd://', '--registry-mirror=https://m', '--insecure-registry', 'r:5000'],
    };
    const systemctlCat = async () => '# /lib/systemd/system/docker.service\n[Service]\nExecStart=/usr/bin/dockerd -H fd:// --registry-mirror=https://m $DOCKER_OPTS\n';
    expect(await findFlagConflicts(setup, { systemctlCat, rootDir: root })).toEqual([
      { flag: '--registry-mirror', key: 'registry-mirrors', values: ['https://m'], source: '/lib/systemd/system/docker.service' },
      { flag: '--insecure-registry', key: 'insecure-registries', values: ['r:5000'], source: '/etc/default/docker (DOCKER_OPTS)' },
    ]);
  });

  it('reports the running command line when the unit no longer says so', async () => {
    const setup: DaemonSetup = { ...base, kind: 'systemd', pid: 42, cmdline: ['/usr/bin/dockerd', '--registry-mirror', 'https://stale'] };
    const conflicts = await findFlagConflicts(setup, { systemctlCat: async () => '# /lib/systemd/system/docker.service\nExecStart=/usr/bin/dockerd -H fd://\n' });
    expect(conflicts).toEqual([{ flag: '--registry-mirror', key: 'registry-mirrors', values: ['https://stale'], source: 'dockerd command line (pid 42)' }]);
  });

  it('reads /etc/conf.d/docker under OpenRC and tolerates a failing systemctl', async () => {
    await mkdir(join(root, 'etc/conf.d'), { recursive: true });
    await writeFile(join(root, 'etc/conf.d/docker'), 'DOCKER_OPTS="--registry-mirror=https://o"\n');
    expect((await findFlagConflicts({ ...base, kind: 'openrc' }, { rootDir: root }))[0]?.source).toBe('/etc/conf.d/docker (DOCKER_OPTS)');
    const failing = async () => {
      throw new Error('systemctl: not found');
    };
    expect(await findFlagConflicts({ ...base, kind: 'systemd' }, { systemctlCat: failing, rootDir: root })).toEqual([]);
  });
});
