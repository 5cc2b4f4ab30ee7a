// The proof rules on a fake /proc (the kernel's formats written by hand), for what a real machine cannot stage:
// a forged /proc/net/unix line, a setuid impostor, a caller who cannot read root's fds, tcp listeners.
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { callCandidates, configFileHosts, daemonHosts, distrustPid, dockerdCandidates, hostMatches, scanDockerd } from '../../src/daemon/dockerd-process.js';
import { endpointSockets, unixSocketPath, untrustedUids } from '../../src/daemon/socket-proof.js';

let proc: string;

const UNIX_HEAD = 'Num       RefCount Protocol Flags    Type St Inode Path\n';
const TCP_HEAD = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
const unixLine = (inode: number, path: string, flags = '00010000') => `0000000000000000: 00000002 00000000 ${flags} 0001 01 ${inode} ${path}\n`;
const tcpLine = (local: string, inode: number, st = '0A') => `   0: ${local} 00000000:0000 ${st} 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0000000000000000 100 0 0 10 0\n`;

/** A fake /proc/<pid>: argv, uids, and `socket:[N]` links for the inodes it holds (`fds: false` = unreadable). */
async function fakeProcess(pid: number, argv: string[], uids: number[], inodes: number[] | false = []): Promise<void> {
  const dir = join(proc, String(pid));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'cmdline'), `${argv.join('\0')}\0`);
  await writeFile(join(dir, 'status'), `Name:\tdockerd\nUid:\t${uids.join('\t')}\n`);
  if (inodes === false) return;
  await mkdir(join(dir, 'fd'));
  for (const [i, inode] of inodes.entries()) await symlink(`socket:[${inode}]`, join(dir, 'fd', String(3 + i)));
}

beforeEach(async () => {
  proc = await mkdtemp(join(tmpdir(), 'dm-proof-'));
  await mkdir(join(proc, 'net'));
  await writeFile(join(proc, 'net', 'unix'), UNIX_HEAD);
  await writeFile(join(proc, 'net', 'tcp'), TCP_HEAD);
  await writeFile(join(proc, 'net', 'tcp6'), TCP_HEAD);
});
afterEach(async () => {
  await rm(proc, { recursive: true, force: true });
});

describe('which dockerd is trusted', () => {
  it('takes the holder of the listening socket over a lower pid that only claims it', async () => {
    await writeFile(join(proc, 'net', 'unix'), UNIX_HEAD + unixLine(900, '/tmp/p/docker.sock') + unixLine(901, '/tmp/p/docker.sock', '00000000'));
    await fakeProcess(10, ['dockerd', '-H', 'unix:///tmp/p/docker.sock', '--config-file', '/tmp/evil.json'], [0, 0, 0, 0], [901]);
    await fakeProcess(20, ['/usr/bin/dockerd', '-H', 'unix:///tmp/p/docker.sock'], [0, 0, 0, 0], [900]);
    const scan = await scanDockerd('unix:///tmp/p/docker.sock', proc);
    expect(scan.process?.pid).toBe(20);
    // 901 is a connected socket with the same path (what accept() makes), not the listener.
    expect(scan.untrusted).toEqual([{ pid: 10, reason: 'it does not hold the socket of unix:///tmp/p/docker.sock' }]);
  });

  it('refuses a setuid impostor: real uid another user, effective root', async () => {
    await writeFile(join(proc, 'net', 'unix'), UNIX_HEAD + unixLine(900, '/tmp/p/docker.sock'));
    await fakeProcess(10, ['dockerd', '-H', 'unix:///tmp/p/docker.sock'], [65534, 0, 0, 0], [900]);
    const scan = await scanDockerd('unix:///tmp/p/docker.sock', proc);
    expect(scan.process).toBeUndefined();
    expect(scan.untrusted).toEqual([{ pid: 10, reason: 'it runs as uid 65534, not root' }]);
    expect(untrustedUids([0, 0, 0, 0])).toBeUndefined();
    expect(untrustedUids(undefined)).toBe('its owner could not be read');
  });

  it('an inode listed twice (a path with a newline forging a line) proves nothing', async () => {
    const forged = unixLine(900, 'x\n' + unixLine(800, '/tmp/p/docker.sock').trimEnd());
    await writeFile(join(proc, 'net', 'unix'), UNIX_HEAD + unixLine(800, '/run/docker.sock') + forged);
    await fakeProcess(20, ['dockerd', '-H', 'fd://'], [0, 0, 0, 0], [800]);
    expect((await scanDockerd('unix:///tmp/p/docker.sock', proc)).process).toBeUndefined();
    expect((await scanDockerd('unix:///var/run/docker.sock', proc)).process).toBeUndefined();
  });

  it('does not read past the head of an untrusted argv', async () => {
    const huge = ['dockerd', '-H', 'unix:///tmp/p/docker.sock', ...Array.from({ length: 2000 }, () => 'x'.repeat(1000))];
    await fakeProcess(10, huge, [65534, 65534, 65534, 65534], []);
    const scan = await scanDockerd('unix:///tmp/p/docker.sock', proc);
    expect(scan.untrusted).toEqual([{ pid: 10, reason: 'it runs as uid 65534, not root' }]);
  });

  it("a caller who cannot list root's fds accepts root's dockerd only if its network namespace holds the listener", async () => {
    await writeFile(join(proc, 'net', 'unix'), UNIX_HEAD + unixLine(900, '/tmp/p/docker.sock'));
    // pid 10: a dind-like dockerd, same claim, its own namespace; pid 20: the real one, same namespace.
    await fakeProcess(10, ['dockerd', '-H', 'unix:///tmp/p/docker.sock'], [0, 0, 0, 0], false);
    await mkdir(join(proc, '10', 'net'));
    await writeFile(join(proc, '10', 'net', 'unix'), UNIX_HEAD + unixLine(555, '/tmp/p/docker.sock'));
    await fakeProcess(20, ['dockerd', '-H', 'unix:///tmp/p/docker.sock'], [0, 0, 0, 0], false);
    await mkdir(join(proc, '20', 'net'));
    await writeFile(join(proc, '20', 'net', 'unix'), UNIX_HEAD + unixLine(900, '/tmp/p/docker.sock'));
    const scan = await scanDockerd('unix:///tmp/p/docker.sock', proc);
    expect(scan.process?.pid).toBe(20);
    expect(scan.untrusted).toEqual([{ pid: 10, reason: 'its network namespace does not hold the socket of unix:///tmp/p/docker.sock' }]);
  });

  it('trusts the holder of a socket in a folder others can write, but says so', async () => {
    const open = join(proc, 'open');
    await mkdir(open);
    await chmod(open, 0o777);
    const path = join(open, 'docker.sock');
    await writeFile(join(proc, 'net', 'unix'), UNIX_HEAD + unixLine(900, path));
    await fakeProcess(20, ['dockerd', '-H', `unix://${path}`], [0, 0, 0, 0], [900]);
    const scan = await scanDockerd(`unix://${path}`, proc);
    expect(scan.process?.pid).toBe(20);
    expect(scan.warning).toBe(`the socket ${path} is in ${open}, which other users can write`);
    // With the sticky bit (as /tmp) nobody can replace root's socket: no warning.
    await chmod(open, 0o1777);
    expect((await scanDockerd(`unix://${path}`, proc)).warning).toBeUndefined();
    // Nor in a folder only its owner can write, sticky or not.
    await chmod(open, 0o755);
    expect((await scanDockerd(`unix://${path}`, proc)).warning).toBeUndefined();
  });

  it("a rootless dockerd (the caller's own) is proven inside its own network namespace", async () => {
    const sock = 'unix:///run/user/1000/docker.sock';
    for (const [pid, held] of [[40, [950]], [41, []]] as const) {
      await fakeProcess(pid, ['dockerd', '-H', sock], [1000, 1000, 1000, 1000], [...held]);
      await mkdir(join(proc, String(pid), 'net'));
      await writeFile(join(proc, String(pid), 'net', 'unix'), UNIX_HEAD + unixLine(950, '/run/user/1000/docker.sock'));
    }
    expect((await scanDockerd(sock, proc, 1000)).process?.pid).toBe(40);
    // Root's dockmirror does not trust uid 1000's daemon at all.
    expect((await scanDockerd(sock, proc, 0)).untrusted).toEqual([
      { pid: 40, reason: 'it runs as uid 1000, not root' },
      { pid: 41, reason: 'it runs as uid 1000, not root' },
    ]);
  });

  it('tcp: the listener on the port, on the address or a wildcard, proves the holder', async () => {
    // 127.0.0.1:2375 listening (0A), [::]:2376 listening, 127.0.0.1:2377 established only (01).
    await writeFile(join(proc, 'net', 'tcp'), TCP_HEAD + tcpLine('0100007F:0947', 700) + tcpLine('0100007F:0949', 702, '01'));
    await writeFile(join(proc, 'net', 'tcp6'), TCP_HEAD + tcpLine('00000000000000000000000000000000:0948', 701));
    await fakeProcess(30, ['dockerd', '-H', 'tcp://127.0.0.1:2375', '-H', 'tcp://[::]:2376', '-H', 'tcp://127.0.0.1:2377'], [0, 0, 0, 0], [700, 701, 702]);
    expect((await scanDockerd('tcp://127.0.0.1:2375', proc)).process?.pid).toBe(30);
    expect((await scanDockerd('tcp://localhost:2376', proc)).process?.pid).toBe(30);
    expect((await scanDockerd('tcp://[::1]:2376', proc)).process?.pid).toBe(30);
    expect((await scanDockerd('tcp://127.0.0.1:2377', proc)).process).toBeUndefined();
    // A host name or a remote address names no local listener.
    expect(endpointSockets('tcp://10.255.255.1:2375', join(proc, 'net'))?.inodes.size).toBe(0);
    expect(endpointSockets('tcp://docker.test:2375', join(proc, 'net'))).toBeUndefined();
    expect(endpointSockets('npipe:////./pipe/docker_engine', join(proc, 'net'))).toBeUndefined();
  });

  it('hostMatches never throws on an argv someone else wrote', () => {
    expect(hostMatches('tcp://[', 'tcp://127.0.0.1:2375')).toBe(false);
    expect(hostMatches('tcp://0.0.0.0:2375', 'tcp://[')).toBe(false);
    expect(hostMatches('fd://', 'unix:///var/run/docker.sock')).toBe(true);
  });
});

describe('one listing of /proc per call', () => {
  it('lists the pids whose argv[0] is dockerd, lowest first, and a scan given them looks at nothing else', async () => {
    await writeFile(join(proc, 'net', 'unix'), UNIX_HEAD + unixLine(900, '/tmp/p/docker.sock'));
    await fakeProcess(30, ['/usr/bin/dockerd', '-H', 'unix:///tmp/p/docker.sock'], [0, 0, 0, 0], [900]);
    await fakeProcess(7, ['bash', '-c', 'dockerd'], [0, 0, 0, 0]);
    await fakeProcess(12, ['dockerd', '-H', 'unix:///tmp/q/docker.sock'], [0, 0, 0, 0]);
    await mkdir(join(proc, 'self'));
    // Read one after another into one buffer: a kernel thread's empty argv after a long one sees none of its
    // bytes, and neither does a short argv after a long dockerd's.
    await fakeProcess(40, [`/opt/${'x'.repeat(5000)}/java`, '-jar'], [0, 0, 0, 0]);
    await fakeProcess(41, [], [0, 0, 0, 0]);
    await writeFile(join(proc, '41', 'cmdline'), '');
    await fakeProcess(42, ['/usr/bin/dockerd', '--config-file', 'x'.repeat(5000)], [0, 0, 0, 0]);
    await fakeProcess(43, ['sh'], [0, 0, 0, 0]);
    // An argv[0] that fills the head is decided on the head, as before: exactly 4 KiB ends in /dockerd, one
    // byte more is cut to /docker.
    await fakeProcess(44, [`/${'y'.repeat(4087)}/dockerd`], [0, 0, 0, 0]);
    await fakeProcess(47, [`/${'y'.repeat(4088)}/dockerd`], [0, 0, 0, 0]);
    await fakeProcess(45, ['/usr/bin/dockerd-rootless.sh'], [0, 0, 0, 0]);
    await fakeProcess(46, ['/usr/bin/dockerd/'], [0, 0, 0, 0]);
    expect(dockerdCandidates(proc)).toEqual([12, 30, 42, 44, 46]);
    for (const pid of [40, 41, 42, 43, 44, 45, 46, 47]) await rm(join(proc, String(pid)), { recursive: true });
    expect(dockerdCandidates(proc)).toEqual([12, 30]);
    expect(dockerdCandidates(join(proc, 'missing'))).toBeUndefined();
    // The same answer as listing /proc itself, from the list.
    expect((await scanDockerd('unix:///tmp/p/docker.sock', proc, 0, [12, 30])).process?.pid).toBe(30);
    // Only the candidates given are looked at: the list is what the call saw, and a scan adds nothing to it.
    expect((await scanDockerd('unix:///tmp/p/docker.sock', proc, 0, [12])).process).toBeUndefined();
  });

  it('one call lists /proc once: its steps share the listing, another call lists again', async () => {
    await fakeProcess(30, ['/usr/bin/dockerd', '-H', 'unix:///tmp/p/docker.sock'], [0, 0, 0, 0]);
    const call = {};
    expect(callCandidates(call, proc)).toEqual([30]);
    await fakeProcess(12, ['dockerd'], [0, 0, 0, 0]);
    // The same call (locating the file, then finding its daemon) sees what it saw: one look at /proc.
    expect(callCandidates(call, proc)).toEqual([30]);
    expect(callCandidates({}, proc)).toEqual([12, 30]);
    // Another /proc is another listing, even for the same call.
    expect(callCandidates(call, join(proc, 'missing'))).toBeUndefined();
  });

  it('a candidate whose pid was reused by another program since the listing is not taken', async () => {
    await writeFile(join(proc, 'net', 'unix'), UNIX_HEAD + unixLine(900, '/tmp/p/docker.sock'));
    await fakeProcess(30, ['/usr/bin/dockerd', '-H', 'unix:///tmp/p/docker.sock'], [0, 0, 0, 0], [900]);
    const candidates = dockerdCandidates(proc);
    await writeFile(join(proc, '30', 'cmdline'), 'sleep\0-H\0unix:///tmp/p/docker.sock\0');
    expect((await scanDockerd('unix:///tmp/p/docker.sock', proc, 0, candidates)).process).toBeUndefined();
  });
});

describe('distrustPid: the check right before a SIGHUP', () => {
  it('accepts the dockerd that holds the endpoint\'s socket, and names why any other pid is refused', async () => {
    await writeFile(join(proc, 'net', 'unix'), UNIX_HEAD + unixLine(900, '/tmp/p/docker.sock') + unixLine(901, '/tmp/q/docker.sock'));
    await fakeProcess(20, ['/usr/bin/dockerd', '-H', 'unix:///tmp/p/docker.sock'], [0, 0, 0, 0], [900]);
    await fakeProcess(21, ['sleep', '1000'], [0, 0, 0, 0]);
    await fakeProcess(22, ['dockerd', '-H', 'unix:///tmp/p/docker.sock'], [65534, 65534, 65534, 65534], [900]);
    await fakeProcess(23, ['dockerd', '-H', 'unix:///tmp/q/docker.sock'], [0, 0, 0, 0], [901]);
    expect(await distrustPid(20, 'unix:///tmp/p/docker.sock', proc, 0)).toBeUndefined();
    // Without an endpoint (a daemon found by its pid file), a trusted dockerd is enough.
    expect(await distrustPid(20, undefined, proc, 0)).toBeUndefined();
    expect(await distrustPid(21, 'unix:///tmp/p/docker.sock', proc, 0)).toBe('it is not a running dockerd');
    expect(await distrustPid(99, 'unix:///tmp/p/docker.sock', proc, 0)).toBe('it is not a running dockerd');
    expect(await distrustPid(22, 'unix:///tmp/p/docker.sock', proc, 0)).toBe('it runs as uid 65534, not root');
    expect(await distrustPid(23, 'unix:///tmp/p/docker.sock', proc, 0)).toBe('it does not serve unix:///tmp/p/docker.sock');
  });

  it('a dockerd whose status cannot be read is not believed', async () => {
    await fakeProcess(20, ['/usr/bin/dockerd'], [0, 0, 0, 0], []);
    await rm(join(proc, '20', 'status'));
    expect(await distrustPid(20, 'unix:///tmp/p/docker.sock', proc, 0)).toBe('its owner could not be read');
  });

  it('an endpoint with no listener, or one /proc cannot show, proves nothing; only a dockerd claiming it is named', async () => {
    await fakeProcess(20, ['/usr/bin/dockerd', '-H', 'unix:///tmp/p/docker.sock', '-H', 'npipe:////./pipe/dm'], [0, 0, 0, 0], [900]);
    await fakeProcess(21, ['/usr/bin/dockerd', '-H', 'unix:///tmp/q/docker.sock'], [0, 0, 0, 0], [900]);
    const none = await scanDockerd('unix:///tmp/p/docker.sock', proc, 0);
    expect(none.process).toBeUndefined();
    expect(none.untrusted).toEqual([{ pid: 20, reason: 'no socket listens on unix:///tmp/p/docker.sock' }]);
    // A named pipe has no listener /proc could show.
    const pipe = await scanDockerd('npipe:////./pipe/dm', proc, 0);
    expect(pipe.process).toBeUndefined();
    expect(pipe.untrusted).toEqual([{ pid: 20, reason: 'nothing shows it serves npipe:////./pipe/dm' }]);
  });

  it('an untrusted process that exits mid-scan is named only when it claimed the endpoint', async () => {
    await fakeProcess(10, ['dockerd', '-H', 'unix:///tmp/p/docker.sock'], [0, 0, 0, 0]);
    await fakeProcess(11, ['dockerd', '-H', 'unix:///tmp/q/docker.sock'], [0, 0, 0, 0]);
    // Its status is gone (the process exited between the listing and the look at its uids).
    await rm(join(proc, '10', 'status'));
    await rm(join(proc, '11', 'status'));
    const scan = await scanDockerd('unix:///tmp/p/docker.sock', proc, 0);
    expect(scan.untrusted).toEqual([{ pid: 10, reason: 'its owner could not be read' }]);
  });
});

describe('what an endpoint names', () => {
  it('fd:// is systemd\'s /run/docker.sock and unix:// alone the default socket', () => {
    expect(unixSocketPath('fd://')).toBe('/run/docker.sock');
    expect(unixSocketPath('fd://3')).toBe('/run/docker.sock'); // one of systemd's sockets, by number
    expect(unixSocketPath('unix://')).toBe('/var/run/docker.sock');
    expect(unixSocketPath('unix:///tmp/a.sock')).toBe('/tmp/a.sock');
    expect(unixSocketPath('tcp://127.0.0.1:2375')).toBeUndefined();
  });

  it('a path that is not a socket proves nothing, and says so', async () => {
    const notSocket = join(proc, 'plain.sock');
    await writeFile(notSocket, '');
    expect(endpointSockets(`unix://${notSocket}`, join(proc, 'net'))).toEqual({ inodes: new Set(), problem: `${notSocket} is not a socket` });
  });

  it('a TCP endpoint without a port is 2375', async () => {
    await writeFile(join(proc, 'net', 'tcp'), TCP_HEAD + tcpLine('0100007F:0947', 700) + tcpLine('0100007F:0948', 701));
    expect([...(endpointSockets('tcp://127.0.0.1', join(proc, 'net'))?.inodes ?? [])]).toEqual([700]);
    expect([...(endpointSockets('tcp://127.0.0.1:2376', join(proc, 'net'))?.inodes ?? [])]).toEqual([701]);
  });

  it('only a /var/run at the start of a socket path is /run', () => {
    expect(hostMatches('unix:///srv/var/run/d.sock', 'unix:///srv/run/d.sock')).toBe(false);
    expect(hostMatches('unix:///var/run/d.sock', 'unix:///run/d.sock')).toBe(true);
  });
});

describe('a dockerd without -H serves the hosts its config file names', () => {
  it('reads "hosts" from its --config-file (strings only), else nothing', async () => {
    const file = join(proc, 'daemon.json');
    await writeFile(file, '\uFEFF{"hosts": ["unix:///tmp/x.sock", 5, "tcp://127.0.0.1:2375"]}');
    expect(await configFileHosts(['dockerd', '--config-file', file])).toEqual(['unix:///tmp/x.sock', 'tcp://127.0.0.1:2375']);
    expect(daemonHosts(['dockerd', '--config-file', file], await configFileHosts(['dockerd', '--config-file', file]))).toEqual([
      'unix:///tmp/x.sock',
      'tcp://127.0.0.1:2375',
    ]);
    // -H on the command line wins: the file's hosts are not even read.
    expect(await configFileHosts(['dockerd', '-H', 'unix:///a.sock', '--config-file', file])).toEqual([]);
    await writeFile(file, '{"hosts": "unix:///tmp/x.sock"}');
    expect(await configFileHosts(['dockerd', '--config-file', file])).toEqual([]);
    await writeFile(file, '{"hosts": [');
    expect(await configFileHosts(['dockerd', '--config-file', file])).toEqual([]);
    expect(await configFileHosts(['dockerd', '--config-file', join(proc, 'missing.json')])).toEqual([]);
  });
});
