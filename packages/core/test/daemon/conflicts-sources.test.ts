// Which places findFlagConflicts looks at for each setup, and how it reads them: the unit (only under systemd or
// rootless, the user unit for rootless), the init defaults file (only the one that setup's init reads), and the
// running command line (not repeating what a file already says). A flag missed is a dockerd that will not start;
// a flag from a file the setup never reads is a change refused for nothing.
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFlagConflicts, parseSystemctlCat, splitWords } from '../../src/daemon/conflicts.js';
import type { DaemonSetup, SetupKind } from '../../src/daemon/setup.js';

const base = { logHint: '', restartStopsContainers: true, canReload: true };
const setup = (kind: SetupKind, extra: Partial<DaemonSetup> = {}): DaemonSetup => ({ ...base, kind, ...extra });

/** A unit whose ExecStart sets a mirror flag and expands DOCKER_OPTS. */
const UNIT = '# /lib/systemd/system/docker.service\n[Service]\nExecStart=/usr/bin/dockerd --registry-mirror=https://unit $DOCKER_OPTS\n';
const unitCat = async (): Promise<string> => UNIT;

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'dm-conflict-src-'));
  // Both init defaults files set a flag, so a setup that reads the wrong one is seen to.
  await mkdir(join(root, 'etc/default'), { recursive: true });
  await mkdir(join(root, 'etc/conf.d'), { recursive: true });
  await writeFile(join(root, 'etc/default/docker'), 'DOCKER_OPTS="--insecure-registry default.test:5000"\n');
  await writeFile(join(root, 'etc/conf.d/docker'), 'DOCKER_OPTS="--insecure-registry confd.test:5000"\n');
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const sources = async (s: DaemonSetup, systemctlCat = unitCat, rootDir = root) =>
  (await findFlagConflicts(s, { systemctlCat, rootDir })).map((c) => `${c.source}: ${c.flag} ${c.values.join(',')}`);

describe('which files each setup reads', () => {
  it('systemd: the unit, and /etc/default/docker only when the unit expands DOCKER_OPTS', async () => {
    expect(await sources(setup('systemd'))).toEqual([
      '/lib/systemd/system/docker.service: --registry-mirror https://unit',
      '/etc/default/docker (DOCKER_OPTS): --insecure-registry default.test:5000',
    ]);
    const plainUnit = async () => '# /lib/systemd/system/docker.service\nExecStart=/usr/bin/dockerd -H fd://\n';
    expect(await sources(setup('systemd'), plainUnit)).toEqual([]);
  });

  it('rootless: the user unit, never the system-wide defaults file', async () => {
    expect(await sources(setup('rootless'))).toEqual(['/lib/systemd/system/docker.service: --registry-mirror https://unit']);
  });

  it.each(['openrc', 'sysvinit', 'snap', 'plain', 'desktop'] as const)('%s: no systemd unit is read, even when one is offered', async (kind) => {
    const found = await sources(setup(kind));
    expect(found.filter((line) => line.includes('docker.service'))).toEqual([]);
  });

  it('sysvinit reads /etc/default/docker, OpenRC /etc/conf.d/docker, snap and plain neither', async () => {
    expect(await sources(setup('sysvinit'))).toEqual(['/etc/default/docker (DOCKER_OPTS): --insecure-registry default.test:5000']);
    expect(await sources(setup('openrc'))).toEqual(['/etc/conf.d/docker (DOCKER_OPTS): --insecure-registry confd.test:5000']);
    expect(await sources(setup('snap'))).toEqual([]);
    expect(await sources(setup('plain'))).toEqual([]);
  });
});

describe('the unit from `systemctl cat` itself', () => {
  let bin: string;
  let saved: string | undefined;
  beforeAll(async () => {
    // A fake systemctl (there is no systemd here): the user manager's unit sets another mirror than the system's.
    bin = await mkdtemp(join(tmpdir(), 'dm-fake-systemctl-'));
    const script = `#!/bin/sh
if [ "$1" = --user ]; then shift; scope=user; else scope=system; fi
[ "$1 $2" = "cat docker" ] || exit 1
printf '# /%s/docker.service\\nExecStart=/usr/bin/dockerd --registry-mirror=https://%s-unit\\n' "$scope" "$scope"
`;
    await writeFile(join(bin, 'systemctl'), script);
    await chmod(join(bin, 'systemctl'), 0o755);
    saved = process.env.PATH;
    process.env.PATH = `${bin}:${saved ?? ''}`;
  });
  afterAll(async () => {
    process.env.PATH = saved;
    await rm(bin, { recursive: true, force: true });
  });

  it('is the system unit under systemd and the user unit (--user) when rootless', async () => {
    const none = join(root, 'nothing-here');
    expect(await findFlagConflicts(setup('systemd'), { rootDir: none })).toEqual([
      { flag: '--registry-mirror', key: 'registry-mirrors', values: ['https://system-unit'], source: '/system/docker.service' },
    ]);
    expect(await findFlagConflicts(setup('rootless'), { rootDir: none })).toEqual([
      { flag: '--registry-mirror', key: 'registry-mirrors', values: ['https://user-unit'], source: '/user/docker.service' },
    ]);
  });
});

describe('the running command line', () => {
  it('names the pid, or "?" when it is not known', async () => {
    const cmdline = ['/usr/bin/dockerd', '--registry-mirror', 'https://run'];
    expect(await sources(setup('plain', { cmdline, pid: 7 }))).toEqual(['dockerd command line (pid 7): --registry-mirror https://run']);
    expect(await sources(setup('plain', { cmdline }))).toEqual(['dockerd command line (pid ?): --registry-mirror https://run']);
  });

  it('skips argv[0], which is only the program name', async () => {
    expect(await sources(setup('plain', { cmdline: ['--registry-mirror=https://argv0', '-H', 'fd://'], pid: 7 }))).toEqual([]);
  });

  it('is reported unless a file already gives the same flag the same values, in the same order', async () => {
    const unit = async () => '# /u.service\nExecStart=/usr/bin/dockerd --registry-mirror=https://a --registry-mirror=https://b\n';
    const with_ = (args: string[]) => sources(setup('systemd', { cmdline: ['/usr/bin/dockerd', ...args], pid: 9 }), unit);
    expect(await with_(['--registry-mirror=https://a', '--registry-mirror=https://b'])).toEqual(['/u.service: --registry-mirror https://a,https://b']);
    // The same characters in one value, or in another order, or under the other flag, are other settings.
    expect(await with_(['--registry-mirror=https://ahttps://b'])).toEqual([
      '/u.service: --registry-mirror https://a,https://b',
      'dockerd command line (pid 9): --registry-mirror https://ahttps://b',
    ]);
    expect(await with_(['--registry-mirror=https://b', '--registry-mirror=https://a'])).toHaveLength(2);
    expect(await with_(['--insecure-registry=https://a', '--insecure-registry=https://b'])).toEqual([
      '/u.service: --registry-mirror https://a,https://b',
      'dockerd command line (pid 9): --insecure-registry https://a,https://b',
    ]);
  });
});

describe('DOCKER_OPTS', () => {
  const optsFrom = async (text: string) => {
    const dir = await mkdtemp(join(tmpdir(), 'dm-opts-'));
    try {
      await mkdir(join(dir, 'etc/default'), { recursive: true });
      await writeFile(join(dir, 'etc/default/docker'), text);
      return (await findFlagConflicts(setup('sysvinit'), { rootDir: dir })).map((c) => `${c.flag} ${c.values.join(',')}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  it('takes the last assignment, with or without export, single-quoted or not, CRLF or LF', async () => {
    expect(await optsFrom('DOCKER_OPTS="--registry-mirror=https://first"\nDOCKER_OPTS="--registry-mirror=https://last"\n')).toEqual([
      '--registry-mirror https://last',
    ]);
    expect(await optsFrom("  export DOCKER_OPTS='--insecure-registry r:1 --registry-mirror https://m'\r\n")).toEqual([
      '--registry-mirror https://m',
      '--insecure-registry r:1',
    ]);
    expect(await optsFrom('DOCKER_OPTS=--registry-mirror=https://bare\r\nOTHER=1\r\n')).toEqual(['--registry-mirror https://bare']);
    expect(await optsFrom('export \t DOCKER_OPTS="--registry-mirror=https://spaced"\n')).toEqual(['--registry-mirror https://spaced']);
  });

  it('ignores commented and other variables, an empty value, and a file too large to be a defaults file', async () => {
    expect(await optsFrom('#DOCKER_OPTS="--registry-mirror=https://c"\nMY_DOCKER_OPTS="--registry-mirror=https://o"\n')).toEqual([]);
    expect(await optsFrom('DOCKER_OPTS=\n')).toEqual([]);
    // Just under 1 MiB is still read; over it, the file is not believed to be one.
    const line = 'DOCKER_OPTS="--registry-mirror=https://big"\n';
    expect(await optsFrom(`${'#'.repeat(1024 * 1024 - line.length - 1)}\n${line}`)).toEqual(['--registry-mirror https://big']);
    expect(await optsFrom(`${'#'.repeat(1024 * 1024)}\n${line}`)).toEqual([]);
  });
});

describe('parseSystemctlCat', () => {
  it('strips the ExecStart prefixes systemd knows (-@+!:) and keeps the command', () => {
    expect(parseSystemctlCat('ExecStart=-/usr/bin/dockerd -H fd://')?.args).toEqual(['/usr/bin/dockerd', '-H', 'fd://']);
    expect(parseSystemctlCat('ExecStart=@+!:/usr/bin/dockerd')?.args).toEqual(['/usr/bin/dockerd']);
    expect(parseSystemctlCat('  ExecStart =  /usr/bin/dockerd  ')?.args).toEqual(['/usr/bin/dockerd']);
    // A prefix with no command is still the empty ExecStart= that resets the list.
    expect(parseSystemctlCat('ExecStart=/usr/bin/dockerd --registry-mirror=https://m\nExecStart=-  ')).toBeUndefined();
  });

  it('names docker.service when no file header came first, and takes only `# /path` lines as headers', () => {
    expect(parseSystemctlCat('ExecStart=/usr/bin/dockerd')?.source).toBe('docker.service');
    expect(parseSystemctlCat('# /etc/x.conf  \nExecStart=/usr/bin/dockerd')?.source).toBe('/etc/x.conf');
    expect(parseSystemctlCat('# /etc/x.conf\n# not a path\n#/etc/y.conf\nExecStart=/usr/bin/dockerd')?.source).toBe('/etc/x.conf');
    expect(parseSystemctlCat('x # /etc/z.conf\nExecStart=/usr/bin/dockerd')?.source).toBe('docker.service');
    // A comment that starts like a path but goes on is a comment, not a file header.
    expect(parseSystemctlCat('# /etc/x.conf\n# /usr/bin/dockerd is started with flags\nExecStart=/usr/bin/dockerd')?.source).toBe('/etc/x.conf');
  });

  it('joins CRLF continuation lines, and ExecStartPre or a commented ExecStart is not ExecStart', () => {
    const exec = parseSystemctlCat('# /a\r\nExecStart=/usr/bin/dockerd \\\r\n  --registry-mirror=https://m\r\nExecStartPre=/bin/true\r\n#ExecStart=/bin/false\r\n');
    expect(exec).toEqual({ source: '/a', args: ['/usr/bin/dockerd', '--registry-mirror=https://m'] });
    // A continuation joins as a word break even with no space around the backslash.
    expect(parseSystemctlCat('ExecStart=/usr/bin/dockerd\\\n--registry-mirror=https://m')?.args).toEqual(['/usr/bin/dockerd', '--registry-mirror=https://m']);
    expect(parseSystemctlCat('')).toBeUndefined();
  });
});

describe('splitWords', () => {
  it('unescapes inside double quotes only, and joins adjacent pieces into one word', () => {
    expect(splitWords('a "b \\" c" \'d \\e\' f"g"\'h\' "" x')).toEqual(['a', 'b " c', 'd \\e', 'fgh', '', 'x']);
    expect(splitWords('   ')).toEqual([]);
    expect(splitWords('one')).toEqual(['one']);
    expect(splitWords('"a""b" c')).toEqual(['ab', 'c']);
  });
});
