// Docker on the containerd image store, end to end through the built CLI. No Docker 29 runs here: a stand-in
// Engine on a unix socket answers GET /info with the recorded containerd-store (or classic) shape, and the CLI
// writes a temp certs.d named by DOCKMIRROR_DOCKER_CERTS_DIR, never /etc/docker. What containerd's resolver
// makes of the files is packages/core/test/engines/docker/certs-d-ctr.test.ts's part.
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { startStandInEngine, type StandInEngine } from '../../../packages/core/test/engines/docker/stand-in-engine.js';
import { cliEnv } from './support/env.js';
import { spawnRun, type Run } from './support/spawn.js';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'run.js');
let work: string;
let engine: StandInEngine;
let box: string;
let boxes = 0;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'dm-docker-store-e2e-'));
  engine = await startStandInEngine('info-29-containerd-store.json');
});
afterAll(async () => {
  await engine?.stop();
  await rm(work, { recursive: true, force: true });
});
beforeEach(async () => {
  box = path.join(work, `box-${++boxes}`);
  await mkdir(path.join(box, 'certs.d'), { recursive: true });
  engine.answer('info-29-containerd-store.json');
  engine.requests.length = 0;
});

const daemonJson = () => path.join(box, 'daemon.json');
const certs = () => path.join(box, 'certs.d');
const hostsFile = (registry: string) => path.join(certs(), registry, 'hosts.toml');
const exists = (file: string) => stat(file).then(() => true, () => false);

function run(args: string[], certsDir = certs()): Promise<Run> {
  const env = cliEnv({ DOCKER_HOST: engine.endpoint, DOCKMIRROR_DOCKER_CERTS_DIR: certsDir });
  return spawnRun(process.execPath, [bin, ...args, '--config-file', daemonJson(), '--state-dir', path.join(box, 'state')], { env });
}

const GHCR = '# written by dockmirror\nserver = "https://ghcr.io"\n\n[host."https://m.example"]\n  capabilities = ["pull", "resolve"]\n';
const TWO_HOSTS = '# ops\nserver = "https://registry-1.docker.io"\n\n[host."https://a.example"]\n  capabilities = ["pull", "resolve"]\n\n[host."https://b.example"]\n  capabilities = ["pull", "resolve"]\n';

describe('add --registry ghcr.io on the containerd image store', () => {
  it('writes certs.d/ghcr.io/hosts.toml byte for byte, says nothing needs applying, and rollback removes the file and its folder', async () => {
    const json = '{\n  "debug": true\n}\n';
    await writeFile(daemonJson(), json);
    const add = await run(['add', 'https://m.example', '--registry', 'ghcr.io']);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toContain(`✓ Added https://m.example in ${hostsFile('ghcr.io')}\n`);
    expect(add.stdout).toContain('✓ dockerd reads certs.d hosts.toml files on every pull: nothing to apply, no reload or restart\n');
    expect(add.stdout).not.toContain('daemon not told');
    expect(await readFile(hostsFile('ghcr.io'), 'utf8')).toBe(GHCR);
    expect(await readFile(daemonJson(), 'utf8')).toBe(json);
    expect(engine.requests.some((r) => !r.startsWith('GET '))).toBe(false);

    const again = await run(['add', 'https://m.example', '--registry', 'ghcr.io', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ changed: false, registry: 'ghcr.io' });

    const list = await run(['mirror', 'list', '--registry', 'ghcr.io', '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).engines[0].registries).toEqual([{ registry: 'ghcr.io', mirrors: [{ url: 'https://m.example', plainHttp: false }] }]);

    const back = await run(['rollback']);
    expect(back.code, back.stderr).toBe(0);
    expect(await exists(path.join(certs(), 'ghcr.io'))).toBe(false);
    expect(await exists(certs())).toBe(true);
    expect(await readFile(daemonJson(), 'utf8')).toBe(json);
  });

  it('on the classic store is refused (exit 2), naming the store it saw, and nothing is written', async () => {
    engine.answer('info-20.10-vfs.json');
    const add = await run(['add', 'https://m.example', '--registry', 'ghcr.io']);
    expect(add.code).toBe(2);
    expect(add.stderr).toContain("daemon.json's registry-mirrors only mirror docker.io, so Docker cannot mirror ghcr.io that way");
    expect(add.stderr).toContain('uses the classic image store (GET /info: storage driver "vfs", no containerd snapshotter)');
    expect(add.stderr).toContain('--engine containerd');
    expect(add.stderr).not.toMatch(/\n\s+at /);
    expect(await exists(path.join(certs(), 'ghcr.io'))).toBe(false);
    expect(await exists(daemonJson())).toBe(false);
  });
});

describe('docker.io when its certs.d hosts.toml names two hosts', () => {
  it('add edits that hosts.toml (daemon.json untouched), status and mirror list show what pulls use, rollback restores it', async () => {
    const json = '{"registry-mirrors": ["https://json.example"]}\n';
    await writeFile(daemonJson(), json);
    await mkdir(path.join(certs(), 'docker.io'));
    await writeFile(hostsFile('docker.io'), TWO_HOSTS);
    engine.answer('info-29-containerd-store.json', ['https://json.example/']);

    const add = await run(['add', 'https://m.example', '--json']);
    expect(add.code, add.stderr).toBe(0);
    const result = JSON.parse(add.stdout) as { engines: { files: string[] }[]; mirrors: string[]; warnings: string[]; apply: { method: string; live?: unknown } };
    expect(result.engines[0]?.files).toEqual([hostsFile('docker.io')]);
    expect(result.mirrors).toEqual(['https://m.example', 'https://a.example', 'https://b.example']);
    expect(result.apply).toEqual({ method: 'none', reason: 'dockerd reads certs.d hosts.toml files on every pull: nothing to apply, no reload or restart' });
    expect(result.warnings.join('\n')).toContain("ignores daemon.json's registry-mirrors");
    expect(await readFile(daemonJson(), 'utf8')).toBe(json);
    expect(await readFile(hostsFile('docker.io'), 'utf8')).toBe(
      '# ops\nserver = "https://registry-1.docker.io"\n\n[host."https://m.example"]\n  capabilities = ["pull", "resolve"]\n\n[host."https://a.example"]\n  capabilities = ["pull", "resolve"]\n\n[host."https://b.example"]\n  capabilities = ["pull", "resolve"]\n',
    );

    const status = await run(['status']);
    expect(status.code, status.stderr).toBe(0);
    // daemon.json's view from /info is not shown as live; what pulls use is.
    expect(status.stdout).toMatch(/^mirrors {6}file: https:\/\/json\.example$/m);
    expect(status.stdout).toMatch(/^pulls use {4}https:\/\/m\.example, https:\/\/a\.example, https:\/\/b\.example \(containerd image store; decided by hosts\.toml\)$/m);
    const statusJson = JSON.parse((await run(['status', '--json'])).stdout) as { daemon: { imageStore: string; effective: { infoIsLive: boolean; ignored: { url: string }[] } } };
    expect(statusJson.daemon).toMatchObject({ imageStore: 'containerd', effective: { infoIsLive: false, ignored: [{ url: 'https://json.example' }] } });

    const list = await run(['mirror', 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain("live: GET /info shows only daemon.json's view, which docker.io pulls do not use");
    expect(list.stdout).not.toContain('yes');
    const listJson = JSON.parse((await run(['mirror', 'list', '--json'])).stdout) as { effective: { mirrors: { url: string; from: string }[] } };
    expect(listJson.effective.mirrors.map((m) => m.url)).toEqual(['https://m.example', 'https://a.example', 'https://b.example']);

    const back = await run(['rollback']);
    expect(back.code, back.stderr).toBe(0);
    expect(await readFile(hostsFile('docker.io'), 'utf8')).toBe(TWO_HOSTS);
    expect(await readFile(daemonJson(), 'utf8')).toBe(json);
  });
});

describe('a certs.d another user can write (the attacker is nobody)', () => {
  const asNobody = (script: string) =>
    new Promise<number | null>((resolve) => {
      const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', script], { stdio: 'ignore' });
      child.on('close', resolve);
    });

  it.each([
    ['a folder of its own', (dir: string) => `mkdir ${dir}/ghcr.io`],
    ['a symlink to root\'s folder', (dir: string, roots: string) => `ln -s ${roots} ${dir}/ghcr.io`],
  ])('with ghcr.io planted as %s: the write is refused (exit 10), and nothing is written anywhere', async (_what, plant) => {
    // A sticky folder everyone may write, like /tmp, outside this file's own (0700) temp folder.
    const shared = await mkdtemp(path.join(tmpdir(), 'dm-shared-certs.d-'));
    await chmod(shared, 0o1777);
    onTestFinished(() => rm(shared, { recursive: true, force: true }));
    const roots = path.join(box, 'roots-folder');
    await mkdir(roots);
    expect(await asNobody(plant(shared, roots))).toBe(0);
    const add = await run(['add', 'https://m.example', '--registry', 'ghcr.io'], shared);
    expect(add.code, add.stderr).toBe(10);
    expect(add.stderr).toContain(path.join(shared, 'ghcr.io'));
    expect(await readdir(roots)).toEqual([]);
    expect(await exists(path.join(shared, 'ghcr.io', 'hosts.toml'))).toBe(false);
  });
});
