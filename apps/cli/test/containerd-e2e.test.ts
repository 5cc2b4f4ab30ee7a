// `--engine containerd` end to end: the built CLI edits a real containerd 1.6's hosts.toml files, and a real
// `ctr --hosts-dir` pull (containerd's own resolver) then comes from a real registry, with ?ns=<upstream> in its
// log; rollback puts every file back and the pull fails again (the rig's dead proxy keeps it on this machine).
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startContainerdMirrorRig, type ContainerdMirrorRig, type TestContainerd } from '../../../packages/core/test/support/containerd.js';
import type { TestRegistry } from '../../../packages/core/test/support/registry.js';
import { cliEnv } from './support/env.js';
import { spawnRun, type Run } from './support/spawn.js';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'run.js');
let containerd: TestContainerd;
let registry: TestRegistry;
let work: string;
let logFile: string;

let rig: ContainerdMirrorRig | undefined;

beforeAll(async () => {
  rig = await startContainerdMirrorRig('dm-ctd-e2e-');
  ({ containerd, registry, work, logFile } = rig);
});
afterAll(() => rig?.stop());

function run(args: string[], configFile = containerd.configFile): Promise<Run> {
  const env = cliEnv({ DOCKER_HOST: 'unix:///nonexistent/dockmirror-test.sock' });
  return spawnRun(process.execPath, [bin, ...args, '--engine', 'containerd', '--config-file', configFile, '--state-dir', path.join(work, 'state')], { env });
}

const hostsFile = (registryName: string) => path.join(containerd.hostsDir, registryName, 'hosts.toml');
const pull = async (image: string) => (await containerd.ctr(['images', 'pull', '--hosts-dir', containerd.hostsDir, image])).code === 0;
const exists = (file: string) => stat(file).then(() => true, () => false);

describe('add, pull, add again, rollback: docker.io', () => {
  it('pulls fail before any add', async () => {
    expect(await pull('docker.io/library/alpine:3.16.2')).toBe(false);
  });

  it('add writes <config_path>/docker.io/hosts.toml and the real pull comes from the mirror, with ?ns=docker.io', async () => {
    const r = await run(['add', registry.url, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { changed: boolean; engine: string; mirrors: string[]; apply: { method: string; reason: string }; engines: { files: string[] }[] };
    expect(result).toMatchObject({ changed: true, engine: 'containerd', mirrors: [registry.url], apply: { method: 'none' } });
    expect(result.apply.reason).toMatch(/reads hosts\.toml on every pull/);
    expect(result.engines[0]?.files).toEqual([hostsFile('docker.io')]);
    expect(await readFile(hostsFile('docker.io'), 'utf8')).toContain(`[host."${registry.url}"]\n  capabilities = ["pull", "resolve"]\n`);
    expect(await pull('docker.io/library/alpine:3.16.2')).toBe(true);
    expect(await readFile(logFile, 'utf8')).toMatch(/"HEAD \/v2\/library\/alpine\/manifests\/3\.16\.2\?ns=docker\.io HTTP\/1\.1" 200/);
  });

  it('a second add changes nothing', async () => {
    const before = await readFile(hostsFile('docker.io'));
    const r = await run(['add', `${registry.url}/`, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ changed: false, backup: null });
    expect((await readFile(hostsFile('docker.io'))).equals(before)).toBe(true);
  });

  it('mirror list shows containerd\'s mirrors per registry from the hosts.toml files', async () => {
    await mkdir(path.join(containerd.hostsDir, 'not a registry'), { recursive: true });
    const r = await run(['mirror', 'list', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const list = JSON.parse(r.stdout) as { mirrors: string[]; engines: { engine: string; registries: unknown[] }[] };
    expect(list.mirrors).toEqual([registry.url]);
    expect(list.engines).toMatchObject([{ engine: 'containerd', registries: [{ registry: 'docker.io', mirrors: [{ url: registry.url, plainHttp: true }] }] }]);
    await rm(path.join(containerd.hostsDir, 'not a registry'), { recursive: true });
  });

  it('rollback removes the file and the folder it made, and the pull fails again', async () => {
    await containerd.ctr(['images', 'rm', 'docker.io/library/alpine:3.16.2']);
    const r = await run(['rollback', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(await exists(hostsFile('docker.io'))).toBe(false);
    expect(await exists(path.dirname(hostsFile('docker.io')))).toBe(false);
    expect(await exists(containerd.hostsDir)).toBe(true);
    expect(await pull('docker.io/library/alpine:3.16.2')).toBe(false);
  });
});

describe('--registry ghcr.io', () => {
  it('mirrors ghcr.io/<org>/<repo> through its own hosts.toml, with ?ns=ghcr.io; rollback undoes it', async () => {
    expect(await pull('ghcr.io/someorg/tool:1')).toBe(false);
    const r = await run(['add', registry.url, '--registry', 'ghcr.io', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ registry: 'ghcr.io', mirrors: [registry.url] });
    expect(await readFile(hostsFile('ghcr.io'), 'utf8')).toContain('server = "https://ghcr.io"');
    expect(await pull('ghcr.io/someorg/tool:1')).toBe(true);
    expect(await readFile(logFile, 'utf8')).toMatch(/"HEAD \/v2\/someorg\/tool\/manifests\/1\?ns=ghcr\.io HTTP\/1\.1" 200/);
    await containerd.ctr(['images', 'rm', 'ghcr.io/someorg/tool:1']);
    expect((await run(['rollback'])).code).toBe(0);
    expect(await exists(path.dirname(hostsFile('ghcr.io')))).toBe(false);
    expect(await pull('ghcr.io/someorg/tool:1')).toBe(false);
  });
});

describe('an existing hosts.toml', () => {
  const original = '# office hosts for Docker Hub\nserver = "https://registry-1.docker.io" # upstream\n\n# the old cache, gone since the move\n[host."http://127.0.0.1:9"]\n  capabilities = ["pull", "resolve"]\n';

  it('keeps its comments; the mirror added last is reached after the dead first host; rollback gives back the bytes', async () => {
    await mkdir(path.dirname(hostsFile('docker.io')), { recursive: true });
    await writeFile(hostsFile('docker.io'), original);
    const r = await run(['add', registry.url, '--position', 'last']);
    expect(r.code, r.stderr).toBe(0);
    const written = await readFile(hostsFile('docker.io'), 'utf8');
    expect(written).toBe(`${original}\n[host."${registry.url}"]\n  capabilities = ["pull", "resolve"]\n`);
    expect(await pull('docker.io/library/alpine:3.16.2')).toBe(true);
    await containerd.ctr(['images', 'rm', 'docker.io/library/alpine:3.16.2']);
    expect((await run(['rollback'])).code).toBe(0);
    expect(await readFile(hostsFile('docker.io'), 'utf8')).toBe(original);
    expect(await pull('docker.io/library/alpine:3.16.2')).toBe(false);
  });

  it('a broken one is refused with exit 3 and file:line:column, and left untouched', async () => {
    const broken = `${original}  skip_verify = "yes"\n`;
    await writeFile(hostsFile('docker.io'), broken);
    const r = await run(['add', registry.url]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`${hostsFile('docker.io')}:7:17`);
    expect(r.stderr).toContain('skip_verify must be true or false');
    expect(await readFile(hostsFile('docker.io'), 'utf8')).toBe(broken);
    await rm(path.dirname(hostsFile('docker.io')), { recursive: true });
  });
});

describe('config.toml without config_path', () => {
  it('sets it with a minimal edit beside the hosts.toml, says containerd needs a restart, and rollback undoes both', async () => {
    const dir = path.join(work, 'etc-containerd');
    await mkdir(dir);
    const configFile = path.join(dir, 'config.toml');
    const config = '# mine\nversion = 2\n\n[plugins."io.containerd.grpc.v1.cri".registry]\n  # nothing yet\n';
    await writeFile(configFile, config);
    const r = await run(['add', registry.url, '--json'], configFile);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { apply: { reason: string }; warnings: string[]; engines: { files: string[] }[] };
    expect(result.engines[0]?.files).toEqual([path.join(dir, 'certs.d', 'docker.io', 'hosts.toml'), configFile]);
    expect(result.apply.reason).toMatch(/restart containerd/);
    expect(result.warnings.join(' ')).toMatch(/restart containerd/);
    expect(await readFile(configFile, 'utf8')).toBe(config.replace('registry]\n', `registry]\n  config_path = "${dir}/certs.d"\n`));
    expect((await run(['rollback'], configFile)).code).toBe(0);
    expect(await readFile(configFile, 'utf8')).toBe(config);
    expect(await exists(path.join(dir, 'certs.d'))).toBe(false);
  });

  it('refuses inline registry.mirrors with exit 5, explaining, and writes nothing', async () => {
    const configFile = path.join(work, 'inline.toml');
    const config = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]\n  endpoint = ["https://m.example"]\n';
    await writeFile(configFile, config);
    const r = await run(['add', registry.url], configFile);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('containerd refuses to combine with config_path');
    expect(await readFile(configFile, 'utf8')).toBe(config);
    expect(await exists(path.join(work, 'certs.d'))).toBe(false);
  });
});

describe('files another user controls (the attacker is nobody)', () => {
  const asNobody = (script: string) =>
    new Promise<number | null>((resolve) => {
      const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', script], { stdio: 'ignore' });
      child.on('close', resolve);
    });
  let shared: string;
  beforeAll(async () => {
    // A sticky folder everyone may write, like /tmp: fine in itself, but what nobody makes in it is nobody's.
    shared = await mkdtemp(path.join(tmpdir(), 'dm-ctd-shared-'));
    await chmod(shared, 0o1777);
  });
  afterAll(() => rm(shared, { recursive: true, force: true }));

  it('a config.toml in nobody\'s folder is not believed: exit 10, nothing written where its config_path points', async () => {
    // It points root at a folder root would happily write in: only the file's own trust stops the write.
    const evil = path.join(shared, 'evil');
    const target = path.join(work, 'roots-folder');
    await mkdir(target);
    const code = await asNobody(`mkdir ${evil} && printf 'version = 2\\n[plugins."io.containerd.grpc.v1.cri".registry]\\n  config_path = "${target}"\\n' > ${evil}/config.toml`);
    expect(code).toBe(0);
    const r = await run(['add', registry.url], path.join(evil, 'config.toml'));
    expect(r.code).toBe(10);
    expect(r.stderr).toContain(evil);
    expect(await exists(path.join(target, 'docker.io'))).toBe(false);
  });

  it('root\'s config.toml whose config_path is nobody\'s folder: the write is refused with exit 10', async () => {
    const theirs = path.join(shared, 'theirs');
    expect(await asNobody(`mkdir ${theirs}`)).toBe(0);
    const configFile = path.join(work, 'points-at-nobody.toml');
    await writeFile(configFile, `version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "${theirs}"\n`);
    const r = await run(['add', registry.url], configFile);
    expect(r.code).toBe(10);
    expect(await exists(path.join(theirs, 'docker.io'))).toBe(false);
  });
});
