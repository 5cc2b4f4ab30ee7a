// Which dockerd reads a file, and on which socket it is proven to listen, from a /proc laid out by hand with the
// kernel's own proof in it (/proc/net/unix lines and socket:[N] fd links): the endpoint is only ever one the
// kernel shows that very process holding, a pid reused by another program since the listing is nobody's
// reader, and the file is the same file however its path is spelled.
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointScan, findFileReader } from '../../src/daemon/file-reader.js';

const UNIX_HEAD = 'Num       RefCount Protocol Flags    Type St Inode Path\n';
const unixLine = (inode: number, path: string) => `0000000000000000: 00000002 00000000 00010000 0001 01 ${inode} ${path}\n`;

let root: string;
let proc: string;
let sockets: string;

/** A process in the fake /proc: argv, uids (all four the same), and the socket inodes it holds. */
async function process_(pid: number, argv: string[], uid = 0, held: number[] = []): Promise<void> {
  const dir = join(proc, String(pid));
  await mkdir(join(dir, 'fd'), { recursive: true });
  await writeFile(join(dir, 'cmdline'), `${argv.join('\0')}\0`);
  await writeFile(join(dir, 'status'), `Name:\tdockerd\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\n`);
  await symlink('/', join(dir, 'cwd'));
  for (const [i, inode] of held.entries()) await symlink(`socket:[${inode}]`, join(dir, 'fd', String(3 + i)));
}

beforeAll(async () => {
  root = await mkdtemp('/tmp/dm-reader-edges-');
  proc = join(root, 'proc');
  sockets = join(root, 'run');
  await mkdir(join(proc, 'net'), { recursive: true });
  await mkdir(sockets);
  for (const f of ['a.json', 'b.json', 'c.json', 'd.json']) await writeFile(join(root, f), '{}\n');
  await symlink(join(root, 'a.json'), join(root, 'link.json'));
  await writeFile(
    join(proc, 'net', 'unix'),
    UNIX_HEAD + unixLine(900, `${sockets}/a.sock`) + unixLine(901, `${sockets}/b2.sock`) + unixLine(902, '/run/docker.sock') + unixLine(903, `${sockets}/c.sock`),
  );
  // a.json: pid 10 claims two sockets and holds the second.
  await process_(10, ['/usr/bin/dockerd', '--config-file', join(root, 'a.json'), '-H', `unix://${sockets}/none.sock`, '-H', `unix://${sockets}/a.sock`], 0, [900]);
  // b.json: pid 20 claims b2.sock, but pid 21 (reading another file) is the one holding it.
  await process_(20, ['/usr/bin/dockerd', '--config-file', join(root, 'b.json'), '-H', `unix://${sockets}/b2.sock`]);
  await process_(21, ['/usr/bin/dockerd', '--config-file', join(root, 'd.json'), '-H', `unix://${sockets}/b2.sock`], 0, [901]);
  // The default file: a systemd dockerd (-H fd://) proven on /run/docker.sock.
  await process_(30, ['/usr/bin/dockerd', '-H', 'fd://'], 0, [902]);
  // c.json: named by a program that is not dockerd.
  await process_(40, ['/usr/bin/containerd', '--config-file', join(root, 'c.json'), '-H', `unix://${sockets}/c.sock`], 0, [903]);
  // A rootless daemon started without --rootless (uid 1000) still reads its home's file.
  await process_(50, ['dockerd'], 1000);
});
afterAll(() => rm(root, { recursive: true, force: true }));

const find = (file: string, extra: Record<string, unknown> = {}) => findFileReader(file, { procRoot: proc, callerUid: 0, ...extra });

describe('the endpoint of the reader', () => {
  it('is the first of its claimed sockets the kernel shows it holding, and its scan is kept for the setup detection', async () => {
    const reader = await find(join(root, 'a.json'));
    expect(reader).toEqual({
      pid: 10,
      configFile: join(root, 'a.json'),
      endpoint: `unix://${sockets}/a.sock`,
      hosts: [`unix://${sockets}/none.sock`, `unix://${sockets}/a.sock`],
    });
    expect(endpointScan(reader)?.process?.pid).toBe(10);
    expect(endpointScan(undefined)).toBeUndefined();
  });

  it('is none when the socket it claims is held by another dockerd: the reader is named, without an endpoint', async () => {
    const reader = await find(join(root, 'b.json'));
    expect(reader).toEqual({ pid: 20, configFile: join(root, 'b.json'), hosts: [`unix://${sockets}/b2.sock`] });
    expect(endpointScan(reader)).toBeUndefined();
  });

  it("fd:// is systemd's /run/docker.sock", async () => {
    expect(await find('/etc/docker/daemon.json')).toMatchObject({ pid: 30, endpoint: 'unix:///run/docker.sock', hosts: ['fd://'] });
  });
});

describe('which process and which file', () => {
  it('the file named through a symlink is the file its dockerd reads', async () => {
    expect((await find(join(root, 'link.json')))?.pid).toBe(10);
  });

  it('a listed pid that is no dockerd now (reused since the listing) is nobody\'s reader', async () => {
    expect(await find(join(root, 'c.json'), { candidates: [40] })).toBeUndefined();
    expect((await find(join(root, 'a.json'), { candidates: [40, 10] }))?.pid).toBe(10);
    // No listing at all (no /proc to list): no reader.
    expect(await find(join(root, 'a.json'), { candidates: undefined })).toBeUndefined();
  });

  it("a caller's own daemon reads its home's file, with or without --rootless", async () => {
    const home = join(root, 'home');
    expect(await find(join(home, '.config', 'docker', 'daemon.json'), { callerUid: 1000, homedir: home })).toMatchObject({ pid: 50 });
  });
});

describe('which file a dockerd reads', () => {
  /** Runs `work` with pid `pid` added to the fake /proc (and listed alone), then takes it away again. */
  async function withProcess<T>(pid: number, argv: string[], work: () => Promise<T>, uid = 0, held: number[] = []): Promise<T> {
    await process_(pid, argv, uid, held);
    try {
      return await work();
    } finally {
      await rm(join(proc, String(pid)), { recursive: true, force: true });
    }
  }

  it('root\'s dockerd started with --rootless reads the home\'s file, not /etc/docker/daemon.json', async () => {
    const home = join(root, 'home');
    const file = join(home, '.config', 'docker', 'daemon.json');
    const reader = await withProcess(70, ['dockerd', '--rootless'], () => find(file, { homedir: home, candidates: [70] }));
    expect(reader).toMatchObject({ pid: 70, configFile: file });
    expect(await withProcess(70, ['dockerd', '--rootless'], () => find('/etc/docker/daemon.json', { homedir: home, candidates: [70] }))).toBeUndefined();
  });

  it('an absolute --config-file is that file even when the working folder cannot be seen', async () => {
    const file = join(root, 'a.json');
    const reader = await withProcess(80, ['dockerd', '--config-file', file], async () => {
      await rm(join(proc, '80', 'cwd'));
      return find(file, { candidates: [80] });
    });
    expect(reader).toMatchObject({ pid: 80, configFile: file });
  });

  it("fd://3 (one of systemd's sockets, by number) is /run/docker.sock as fd:// is", async () => {
    const file = join(root, 'd.json');
    const argv = ['/usr/bin/dockerd', '--config-file', file, '-H', 'fd://3'];
    const reader = await withProcess(60, argv, () => find(file, { candidates: [60] }), 0, [902]);
    expect(reader).toEqual({ pid: 60, configFile: file, endpoint: 'unix:///run/docker.sock', hosts: ['fd://3'] });
  });
});

describe('off Linux', () => {
  it('a /proc given is read all the same (the real one only on Linux: see truth.test.ts)', async () => {
    const platform = Object.getOwnPropertyDescriptor(process, 'platform') as PropertyDescriptor;
    Object.defineProperty(process, 'platform', { ...platform, value: 'darwin' });
    try {
      expect((await find(join(root, 'a.json')))?.pid).toBe(10);
    } finally {
      Object.defineProperty(process, 'platform', platform);
    }
  });
});
