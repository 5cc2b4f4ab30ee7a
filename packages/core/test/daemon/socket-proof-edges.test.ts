// The edges of the kernel's proof, on a fake /proc (the kernel's formats written by hand): what a process could
// hold that looks like a socket but is not one, which TCP listeners serve an address and which do not, the
// uids a non-root caller trusts, and socket folders another user controls.
import { chown, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hostMatches, scanDockerd } from '../../src/daemon/dockerd-process.js';
import { endpointSockets, folderWarning, holdsSocket, processUids, readSmall, trustedUids, untrustedUids } from '../../src/daemon/socket-proof.js';

const NOBODY = 65534;
let proc: string;

const UNIX_HEAD = 'Num       RefCount Protocol Flags    Type St Inode Path\n';
const TCP_HEAD = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
const unixLine = (inode: number, path: string, flags = '00010000') => `0000000000000000: 00000002 00000000 ${flags} 0001 01 ${inode} ${path}\n`;
const tcpLine = (local: string, inode: number, st = '0A') => `   0: ${local} 00000000:0000 ${st} 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0000000000000000 100 0 0 10 0\n`;

async function fakeProcess(pid: number, argv: string[], uids: number[], links: string[] = []): Promise<void> {
  const dir = join(proc, String(pid));
  await mkdir(join(dir, 'fd'), { recursive: true });
  await writeFile(join(dir, 'cmdline'), `${argv.join('\0')}\0`);
  await writeFile(join(dir, 'status'), `Name:\tdockerd\nUmask:\t0022\nUid:\t${uids.join('\t')}\nGid:\t0\t0\t0\t0\n`);
  for (const [i, link] of links.entries()) await symlink(link, join(dir, 'fd', String(3 + i)));
}

const inodes = (endpoint: string): number[] => [...(endpointSockets(endpoint, join(proc, 'net'))?.inodes ?? [])].sort();

beforeEach(async () => {
  proc = await mkdtemp(join(tmpdir(), 'dm-proof-edges-'));
  await mkdir(join(proc, 'net'));
  await writeFile(join(proc, 'net', 'unix'), UNIX_HEAD);
  await writeFile(join(proc, 'net', 'tcp'), TCP_HEAD);
  await writeFile(join(proc, 'net', 'tcp6'), TCP_HEAD);
});
afterEach(() => rm(proc, { recursive: true, force: true }));

describe('what proves a process holds the socket', () => {
  it('only the kernel\'s socket:[N] link: an open file whose name ends in socket:[N] proves nothing', async () => {
    await writeFile(join(proc, 'net', 'unix'), UNIX_HEAD + unixLine(900, '/tmp/p/docker.sock'));
    await fakeProcess(10, ['dockerd', '-H', 'unix:///tmp/p/docker.sock'], [0, 0, 0, 0], ['/tmp/evil/socket:[900]', 'pipe:[900]']);
    await fakeProcess(20, ['dockerd', '-H', 'unix:///tmp/p/docker.sock'], [0, 0, 0, 0], ['/dev/null', 'socket:[901]', 'socket:[900]']);
    expect(holdsSocket(proc, 10, new Set([900]))).toBe(false);
    expect(holdsSocket(proc, 20, new Set([900]))).toBe(true);
    const scan = await scanDockerd('unix:///tmp/p/docker.sock', proc, 0);
    expect(scan.process?.pid).toBe(20);
    expect(scan.untrusted).toEqual([{ pid: 10, reason: 'it does not hold the socket of unix:///tmp/p/docker.sock' }]);
  });

  it('a process whose fds cannot be listed is "unreadable", not "does not hold"', async () => {
    await fakeProcess(10, ['dockerd'], [0, 0, 0, 0]);
    await rm(join(proc, '10', 'fd'), { recursive: true });
    expect(holdsSocket(proc, 10, new Set([900]))).toBe('unreadable');
  });
});

describe('the uids believed', () => {
  it('a caller who is not root trusts root and itself, and names the others as "not root or you"', async () => {
    expect([...trustedUids(1000)].sort()).toEqual([0, 1000]);
    expect([...trustedUids(0)]).toEqual([0]);
    expect(untrustedUids([1000, 1000, 1000, 1000], trustedUids(1000))).toBeUndefined();
    expect(untrustedUids([1000, 0, 0, NOBODY], trustedUids(1000))).toBe(`it runs as uid ${NOBODY}, not root or you`);
    expect(untrustedUids([1000, 0, 0, 0], trustedUids(0))).toBe('it runs as uid 1000, not root');
  });

  it('reads all four uids of the status line, and nothing from a status without one', async () => {
    await fakeProcess(10, ['dockerd'], [1, 2, 3, 4]);
    expect(processUids(proc, 10)).toEqual([1, 2, 3, 4]);
    await writeFile(join(proc, '10', 'status'), 'Name:\tdockerd\nUid:\t0\t0\t0\n');
    expect(processUids(proc, 10)).toBeUndefined();
    expect(processUids(proc, 11)).toBeUndefined();
  });

  it('a process that names itself like a Uid line (the kernel prints its name as it is) is read by its real one', async () => {
    await fakeProcess(10, ['dockerd'], [1000, 1000, 1000, 1000]);
    await writeFile(join(proc, '10', 'status'), 'Name:\tUid: 0 0 0 0\nUmask:\t0022\nUid:\t1000\t1000\t1000\t1000\nGid:\t0\t0\t0\t0\n');
    expect(processUids(proc, 10)).toEqual([1000, 1000, 1000, 1000]);
    expect(untrustedUids(processUids(proc, 10), trustedUids(0))).toBe('it runs as uid 1000, not root');
  });
});

describe('TCP listeners', () => {
  it('port 65535 is a port, 0 and 65536 are none', async () => {
    await writeFile(join(proc, 'net', 'tcp'), TCP_HEAD + tcpLine('0100007F:FFFF', 700) + tcpLine('0100007F:0000', 701));
    expect(inodes('tcp://127.0.0.1:65535')).toEqual([700]);
    expect(endpointSockets('tcp://127.0.0.1:65536', join(proc, 'net'))).toBeUndefined();
    expect(endpointSockets('tcp://127.0.0.1:0', join(proc, 'net'))).toBeUndefined();
    // No host is both loopbacks; no port is 2375.
    await writeFile(join(proc, 'net', 'tcp'), TCP_HEAD + tcpLine('0100007F:0947', 702));
    expect(inodes('tcp://:2375')).toEqual([702]);
    expect(inodes('http://127.0.0.1:/')).toEqual([702]);
  });

  it('a wildcard listener serves the local addresses only, not an address of another machine', async () => {
    await writeFile(join(proc, 'net', 'tcp'), TCP_HEAD + tcpLine('00000000:0947', 700));
    expect(inodes('tcp://127.0.0.1:2375')).toEqual([700]);
    expect(inodes('tcp://10.255.255.1:2375')).toEqual([]);
  });

  it('an address listener serves that address only', async () => {
    await writeFile(join(proc, 'net', 'tcp'), TCP_HEAD + tcpLine('0100007F:0947', 700));
    await writeFile(join(proc, 'net', 'tcp6'), TCP_HEAD + tcpLine('00000000000000000000000001000000:0948', 701));
    expect(inodes('tcp://127.0.0.1:2375')).toEqual([700]);
    expect(inodes('tcp://[::1]:2375')).toEqual([]);
    expect(inodes('tcp://[::1]:2376')).toEqual([701]);
    expect(inodes('tcp://127.0.0.1:2376')).toEqual([]);
    // localhost is both loopbacks.
    expect(inodes('tcp://localhost:2376')).toEqual([701]);
  });

  it('an IPv6 address is compared in one spelling, however the endpoint writes it', async () => {
    await writeFile(join(proc, 'net', 'tcp6'), TCP_HEAD + tcpLine('00000000000000000000000001000000:0948', 701));
    expect(inodes('tcp://[::0:1]:2376')).toEqual([701]);
    expect(inodes('tcp://[0:0:0:0:0:0:0:1]:2376')).toEqual([701]);
  });

  it('an endpoint that is not exactly tcp://host[:port][/] names no listener to prove', async () => {
    await writeFile(join(proc, 'net', 'tcp'), TCP_HEAD + tcpLine('0100007F:0947', 700));
    expect(inodes('tcp://127.0.0.1:2375/')).toEqual([700]);
    expect(endpointSockets('ssh://tcp://127.0.0.1:2375', join(proc, 'net'))).toBeUndefined();
    expect(endpointSockets('tcp://127.0.0.1:2375/v1.41', join(proc, 'net'))).toBeUndefined();
  });

  it('an IPv4 address listened on through IPv6 (::ffff:127.0.0.1) is that IPv4 address', async () => {
    await writeFile(join(proc, 'net', 'tcp6'), TCP_HEAD + tcpLine('0000000000000000FFFF00000100007F:0947', 700));
    expect(inodes('tcp://127.0.0.1:2375')).toEqual([700]);
    expect(inodes('tcp://[::1]:2375')).toEqual([]);
  });

  it('an IPv6 address only partly like an IPv4-mapped one (::ffff:a.b.c.d) stays IPv6', async () => {
    // ::ff:7f00:1, ::ff00:7f00:1 and 1::ffff:7f00:1, as /proc/net/tcp6 prints them (32-bit words, little-endian).
    const partly = ['0000000000000000FF0000000100007F', '000000000000000000FF00000100007F', '0000010000000000FFFF00000100007F'];
    await writeFile(join(proc, 'net', 'tcp6'), TCP_HEAD + partly.map((hex, i) => tcpLine(`${hex}:0947`, 700 + i)).join(''));
    expect(inodes('tcp://[::ff:7f00:1]:2375')).toEqual([700]);
    expect(inodes('tcp://[::ff00:7f00:1]:2375')).toEqual([701]);
    expect(inodes('tcp://[1::ffff:7f00:1]:2375')).toEqual([702]);
    expect(inodes('tcp://127.0.0.1:2375')).toEqual([]);
  });

  it('a bracket inside the brackets is no address: only the outer pair is taken off', async () => {
    await writeFile(join(proc, 'net', 'tcp6'), TCP_HEAD + tcpLine('00000000000000000000000001000000:0947', 701));
    expect(inodes('tcp://[::1]:2375')).toEqual([701]);
    expect(endpointSockets('tcp://[[::1]:2375', join(proc, 'net'))).toBeUndefined();
  });

  it('only listening sockets count, and a line without an inode is skipped', async () => {
    const noInode = '   1: 0100007F:0947 00000000:0000 0A 00000000:00000000\n';
    await writeFile(join(proc, 'net', 'tcp'), TCP_HEAD + noInode + tcpLine('0100007F:0947', 700, '01') + tcpLine('0100007F:0947', 701));
    expect(inodes('tcp://127.0.0.1:2375')).toEqual([701]);
  });
});

describe('unix sockets', () => {
  it('reads the kernel\'s lines as it prints them: the inode padded to five columns', async () => {
    await writeFile(join(proc, 'net', 'unix'), `${UNIX_HEAD}0000000000000000: 00000002 00000000 00010000 0001 01   900 /tmp/p/docker.sock\n`);
    expect(inodes('unix:///tmp/p/docker.sock')).toEqual([900]);
  });

  it('a socket path that holds a whole line (no newline needed) forges nothing: a path must start the field', async () => {
    const forged = `x ${unixLine(800, '/tmp/p/docker.sock').trimEnd()}`;
    await writeFile(join(proc, 'net', 'unix'), `${UNIX_HEAD}0000000000000000: 00000002 00000000 00010000 0001 01 900 ${forged}\n`);
    expect(inodes('unix:///tmp/p/docker.sock')).toEqual([]);
    await fakeProcess(20, ['dockerd', '-H', 'unix:///tmp/p/docker.sock'], [0, 0, 0, 0], ['socket:[800]']);
    expect((await scanDockerd('unix:///tmp/p/docker.sock', proc, 0)).process).toBeUndefined();
  });

  it('a socket whose folder cannot be resolved is compared by its spelling, /var/run being /run', async () => {
    await writeFile(
      join(proc, 'net', 'unix'),
      UNIX_HEAD + unixLine(900, '/run/dm-no-such-folder/docker.sock') + unixLine(901, '/srv/run/dm-no-such-folder/docker.sock'),
    );
    expect(inodes('unix:///var/run/dm-no-such-folder/docker.sock')).toEqual([900]);
    expect(inodes('unix:///run/dm-no-such-folder/./docker.sock')).toEqual([900]);
    // Only a /var/run at the start is /run.
    expect(inodes('unix:///srv/var/run/dm-no-such-folder/docker.sock')).toEqual([]);
    expect(inodes('unix:///srv/run/dm-no-such-folder/docker.sock')).toEqual([901]);
  });

  it('a folder another user owns is said to be theirs', async () => {
    const theirs = join(proc, 'theirs');
    await mkdir(theirs, { mode: 0o755 });
    await chown(theirs, NOBODY, NOBODY);
    expect(folderWarning(theirs, trustedUids(0), 'the socket x')).toBe(`the socket x is in ${theirs}, which belongs to uid ${NOBODY}`);
    expect(folderWarning(join(proc, 'missing'), trustedUids(0), 'the socket x')).toBeUndefined();
    expect(endpointSockets(`unix://${theirs}/docker.sock`, join(proc, 'net'))?.warning).toBe(
      `the socket ${theirs}/docker.sock is in ${theirs}, which belongs to uid ${NOBODY}`,
    );
  });
});

describe('readSmall', () => {
  it('reads up to the bound and no further, across reads larger than one buffer', async () => {
    const file = join(proc, 'big');
    await writeFile(file, 'a'.repeat(200_000));
    expect(readSmall(file, 100)).toBe('a'.repeat(100));
    expect(readSmall(file, 150_000)?.length).toBe(150_000);
    expect(readSmall(file, 1_000_000)?.length).toBe(200_000);
    expect(readSmall(join(proc, 'missing'), 100)).toBeUndefined();
  });
});

describe('what a -H claims (hostMatches)', () => {
  it('only a tcp:// or http:// at the start makes a TCP claim: a pipe or socket path that holds one elsewhere is compared as it is', () => {
    expect(hostMatches('npipe:////./pipe/http://x', 'tcp://127.0.0.1:2375')).toBe(false);
    expect(hostMatches('tcp://0.0.0.0:2375', 'npipe:////./pipe/http://x')).toBe(false);
    expect(hostMatches('npipe:////./pipe/dm', 'npipe:////./pipe/dm')).toBe(true);
  });

  it('tcp: is read as http: at the start only, so a host named tcp is that host', () => {
    expect(hostMatches('http://tcp:2375', 'tcp://tcp:2375')).toBe(true);
    expect(hostMatches('tcp://tcp:2375', 'http://tcp:2375')).toBe(true);
    expect(hostMatches('tcp://tcp:2375', 'tcp://other:2375')).toBe(false);
  });
});
