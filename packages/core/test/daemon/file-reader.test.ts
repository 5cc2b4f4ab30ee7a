// Which dockerd reads a file, from a /proc laid out by hand: the rule (its last --config-file, relative to its
// working folder, else the default file of root or of a rootless daemon) and who is believed (root's or the
// caller's processes only, never another user's, whatever its argv says).
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFileReader } from '../../src/daemon/file-reader.js';

let root: string;
let proc: string;

/** A process in the fake /proc: argv, uids (all four the same), and a working folder. */
async function process_(pid: number, argv: string[], uid = 0, cwd = '/'): Promise<void> {
  const dir = join(proc, String(pid));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'cmdline'), `${argv.join('\0')}\0`);
  await writeFile(join(dir, 'status'), `Name:\tdockerd\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\n`);
  await symlink(cwd, join(dir, 'cwd'));
}

beforeAll(async () => {
  root = await mkdtemp('/tmp/dm-reader-');
  proc = join(root, 'proc');
  await mkdir(join(root, 'work'), { recursive: true });
  for (const f of ['a.json', 'b.json', 'work/rel.json']) await writeFile(join(root, f), '{}\n');
  await process_(10, ['/usr/bin/dockerd', '--config-file', join(root, 'a.json'), '-H', 'unix:///nowhere/a.sock']);
  // Another user's process naming b.json is never believed; the lowest trusted pid wins for a.json.
  await process_(11, ['/usr/bin/dockerd', `--config-file=${join(root, 'b.json')}`], 65534);
  await process_(12, ['/usr/bin/dockerd', '--config-file', join(root, 'a.json')]);
  // A relative --config-file is read from the daemon's working folder, as dockerd resolves it.
  await process_(13, ['dockerd', '--config-file', 'rel.json'], 0, join(root, 'work'));
  // The last --config-file counts; a program that is not dockerd is no daemon.
  await process_(14, ['/usr/bin/dockerd', '--config-file', join(root, 'b.json'), '--config-file', join(root, 'work', 'last.json')]);
  await process_(15, ['/usr/bin/containerd', '--config-file', join(root, 'b.json')]);
  await process_(16, ['/usr/bin/dockerd', '--rootless'], 1000);
  await process_(17, ['/usr/bin/dockerd', '-H', 'fd://']);
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('findFileReader', () => {
  it('finds the lowest trusted pid whose --config-file is the file, with its claimed hosts', async () => {
    expect(await findFileReader(join(root, 'a.json'), { procRoot: proc, callerUid: 0 })).toEqual({
      pid: 10,
      configFile: join(root, 'a.json'),
      hosts: ['unix:///nowhere/a.sock'],
    });
  });

  it('never believes another user, and a later --config-file replaces an earlier one', async () => {
    expect(await findFileReader(join(root, 'b.json'), { procRoot: proc, callerUid: 0 })).toBeUndefined();
    expect((await findFileReader(join(root, 'work', 'last.json'), { procRoot: proc, callerUid: 0 }))?.pid).toBe(14);
  });

  it('resolves a relative --config-file against the daemon working folder', async () => {
    expect(await findFileReader(join(root, 'work', 'rel.json'), { procRoot: proc, callerUid: 0 })).toMatchObject({
      pid: 13,
      configFile: join(root, 'work', 'rel.json'),
      hosts: ['unix:///var/run/docker.sock'],
    });
  });

  it("a rootless daemon of the caller's own reads its home's file; root's default is /etc/docker/daemon.json", async () => {
    const home = join(root, 'home');
    const file = join(home, '.config', 'docker', 'daemon.json');
    await mkdir(join(home, '.config', 'docker'), { recursive: true });
    await writeFile(file, '{}\n');
    expect((await findFileReader(file, { procRoot: proc, callerUid: 1000, homedir: home }))?.pid).toBe(16);
    // Seen by root, uid 1000 is another user: not believed.
    expect(await findFileReader(file, { procRoot: proc, callerUid: 0, homedir: home })).toBeUndefined();
    expect(await findFileReader('/etc/docker/daemon.json', { procRoot: proc, callerUid: 0, homedir: home })).toMatchObject({ pid: 17, hosts: ['fd://'] });
  });

  it('a relative --config-file of a daemon whose working folder cannot be seen names no file', async () => {
    await process_(30, ['dockerd', '--config-file', 'hidden.json'], 0, join(root, 'work'));
    await rm(join(proc, '30', 'cwd'));
    await writeFile(join(root, 'work', 'hidden.json'), '{}\n');
    // Not pid 30: which file it reads is unknown, so it is nobody's reader.
    expect(await findFileReader(join(root, 'work', 'hidden.json'), { procRoot: proc, callerUid: 0 })).toBeUndefined();
  });

  it('nothing when /proc cannot be read', async () => {
    expect(await findFileReader(join(root, 'a.json'), { procRoot: join(root, 'missing') })).toBeUndefined();
  });
});
