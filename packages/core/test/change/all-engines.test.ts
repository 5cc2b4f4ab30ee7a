// --engine all: one change writes every engine's file found under the machine's root, with a backup of each;
// a second add changes nothing; one rollback puts every file back byte for byte and removes the folder the
// change created. The root, /proc and home are the test's own, so no host file is read.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMirror } from '../../src/operations/mirrors.js';
import { rollback } from '../../src/operations/rollback.js';
import { isolated } from '../support/hermetic.js';

let dir: string;
let root: string;
const files: Record<string, string> = {};
const original: Record<string, string> = {};
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-all-'));
  root = path.join(dir, 'root');
  const certs = path.join(root, 'etc', 'containerd', 'certs.d');
  files.docker = path.join(root, 'etc', 'docker', 'daemon.json');
  files.containerd = path.join(root, 'etc', 'containerd', 'config.toml');
  files.podman = path.join(root, 'etc', 'containers', 'registries.conf');
  original.docker = '{\n  "debug": true\n}\n';
  original.containerd = `# ours\nversion = 2\n\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "${certs}"\n`;
  original.podman = '# mine\nunqualified-search-registries = ["docker.io"]\n';
  for (const engine of ['docker', 'containerd', 'podman']) {
    await mkdir(path.dirname(files[engine]!), { recursive: true });
    await writeFile(files[engine]!, original[engine]!);
  }
  await mkdir(path.join(dir, 'proc'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const opts = () => ({ ...isolated(dir), isRoot: true, rootDir: root, procRoot: path.join(dir, 'proc'), engine: 'all' as const, apply: 'none' as const });
const hostsToml = () => path.join(root, 'etc', 'containerd', 'certs.d', 'docker.io', 'hosts.toml');

describe('--engine all', () => {
  it('adds the mirror to every engine found, in one change with one backup id', async () => {
    const result = await addMirror({ ...opts(), mirror: 'http://127.0.0.1:5000' });
    expect(result.engines.map((e) => [e.engine, e.files])).toEqual([
      ['docker', [files.docker]],
      ['containerd', [hostsToml()]],
      ['podman', [files.podman]],
    ]);
    expect(JSON.parse(await readFile(files.docker!, 'utf8'))).toEqual({ debug: true, 'registry-mirrors': ['http://127.0.0.1:5000'], 'insecure-registries': ['127.0.0.1:5000'] });
    expect(await readFile(hostsToml(), 'utf8')).toContain('[host."http://127.0.0.1:5000"]');
    expect(await readFile(files.podman!, 'utf8')).toMatch(/^# mine\nunqualified-search-registries = \["docker.io"\]\n[\s\S]*\[\[registry\.mirror\]\]\nlocation = "127\.0\.0\.1:5000"\ninsecure = true\n/);
    expect(await readFile(files.containerd!, 'utf8')).toBe(original.containerd);
    const state = path.join(root, 'etc', 'docker', '.dockmirror');
    expect((await readdir(path.join(state, 'backups'))).sort()).toEqual([`${result.backup}.2.bak`, `${result.backup}.bak`]);
  });

  it('a second add changes nothing', async () => {
    const again = await addMirror({ ...opts(), mirror: 'http://127.0.0.1:5000' });
    expect(again.changed).toBe(false);
    expect(again.backup).toBeNull();
  });

  it('one rollback puts every file back byte for byte, and removes the folders it made for hosts.toml', async () => {
    await rollback(opts());
    for (const engine of ['docker', 'containerd', 'podman']) expect(await readFile(files[engine]!, 'utf8')).toBe(original[engine]);
    // certs.d did not exist either (config_path named it): both folders the change made are gone, nothing more.
    expect(existsSync(path.join(root, 'etc', 'containerd', 'certs.d'))).toBe(false);
    expect((await readdir(path.join(root, 'etc', 'containerd'))).sort()).toEqual(['config.toml']);
  });

  it('a change that one engine\'s file needs tells only that engine, and writes only its file', async () => {
    await addMirror({ ...opts(), mirror: 'http://127.0.0.1:5000' });
    const docker = await readFile(files.docker!, 'utf8');
    const hosts = await readFile(hostsToml(), 'utf8');
    await writeFile(files.podman!, original.podman!);
    const again = await addMirror({ ...opts(), mirror: 'http://127.0.0.1:5000' });
    expect(again.changed).toBe(true);
    expect(again.engines.map((e) => [e.engine, e.files, e.apply.reason])).toEqual([
      ['docker', [], 'nothing changed'],
      ['containerd', [], 'nothing changed'],
      ['podman', [files.podman], expect.not.stringMatching(/^nothing changed$/)],
    ]);
    expect(await readFile(files.docker!, 'utf8')).toBe(docker);
    expect(await readFile(hostsToml(), 'utf8')).toBe(hosts);
    expect(await readFile(files.podman!, 'utf8')).toContain('location = "127.0.0.1:5000"');
  });
});
