/**
 * hosts.toml semantics against the real containerd 1.6 and a real registry: what the editor writes is what
 * containerd's resolver (`ctr --hosts-dir`, the CRI plugin's code) pulls through, for docker.io and for a
 * ghcr.io-style `<org>/<repo>`, with `?ns=<upstream>` on each mirror request. Without the file, or after the
 * remove, the pull fails (the dead proxy of the rig keeps it on this machine).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { locateContainerdConfig, parseContainerdConfig, registryConfigOf } from '../../../src/engines/containerd/config-toml.js';
import { hostsDirFor } from '../../../src/engines/containerd/hosts-dir.js';
import { parseHostsToml, planHostsAdd, planHostsRemove, settingsOf } from '../../../src/engines/containerd/hosts-toml.js';
import { pullWithCtr } from '../../../src/engines/containerd/pull.js';
import { checkApi } from '../../../src/verify/check-api.js';
import { countManifestRequests } from '../../../src/verify/access-log.js';
import { startContainerd, type TestContainerd } from '../../support/containerd.js';
import { requirePrograms } from '../../support/programs.js';
import { pushImage, startRegistry, type PushedImage, type TestRegistry } from '../../support/registry.js';

const ALPINE = { repository: 'library/alpine', reference: '3.16.2', familiar: 'alpine:3.16.2', official: true };

let containerd: TestContainerd;
let registry: TestRegistry;
let logFile: string;
let work: string;
let alpine: PushedImage;
let tool: PushedImage;

let impostor: ChildProcess | undefined;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'dm-ctr-pull-'));
  // Started before containerd, so the /proc scan meets it first: nobody's process called containerd, naming a
  // config of its own.
  requirePrograms('the impostor', [{ program: 'setpriv', install: 'util-linux' }, { program: 'python3', install: 'python3' }]);
  impostor = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'bash', '-c', `exec -a containerd python3 -c 'import time; time.sleep(600)' --config ${work}/evil.toml`], { stdio: 'ignore' });
  logFile = path.join(work, 'registry.log');
  [containerd, registry] = await Promise.all([startContainerd(), startRegistry({ accessLog: logFile })]);
  alpine = await pushImage(registry.url, 'library/alpine', '3.16.2');
  tool = await pushImage(registry.url, 'someorg/tool', '1');
});
afterAll(async () => {
  if (impostor?.pid !== undefined && impostor.exitCode === null) process.kill(impostor.pid, 'SIGKILL');
  await Promise.all([containerd?.stop(), registry?.stop()]);
  await rm(work, { recursive: true, force: true });
});

const mirror = () => ({ url: registry.url, plainHttp: true });
const log = () => readFile(logFile, 'utf8');
const pull = (image: string) => pullWithCtr({ address: containerd.address, hostsDir: containerd.hostsDir, image, timeoutMs: 60_000, env: containerd.ctrEnv });

/** Reads the registry's hosts.toml (or an empty one), applies `plan`, writes the result; returns the bytes. */
async function edit(name: string, plan: (doc: ReturnType<typeof parseHostsToml>) => Buffer | undefined): Promise<Buffer | undefined> {
  const dir = hostsDirFor(containerd.hostsDir, name);
  const file = path.join(dir, 'hosts.toml');
  const bytes = await readFile(file).catch(() => undefined);
  const out = plan(parseHostsToml(file, bytes ?? Buffer.alloc(0), { registry: name, exists: bytes !== undefined }));
  if (out) {
    await mkdir(dir, { recursive: true });
    await writeFile(file, out);
  }
  return out;
}

describe('ctr --hosts-dir with the files dockmirror writes', () => {
  it('docker.io: fails without a hosts.toml, comes from the mirror with ?ns=docker.io after an add, fails again after the remove', async () => {
    const before = await pull('docker.io/library/alpine:3.16.2');
    expect(before.ok).toBe(false);
    expect(countManifestRequests(await log(), ALPINE)).toBe(0);

    await edit('docker.io', (doc) => planHostsAdd(doc, { mirror: mirror() }));
    const after = await pull('docker.io/library/alpine:3.16.2');
    expect(after.summary).toMatch(/^ctr pulled/);
    expect(after.digest).toBe(alpine.digest);
    expect(await log()).toMatch(/"HEAD \/v2\/library\/alpine\/manifests\/3\.16\.2\?ns=docker\.io HTTP\/1\.1" 200 .*"containerd\/1\.6/);
    expect(countManifestRequests(await log(), ALPINE)).toBeGreaterThan(0);

    const removed = await edit('docker.io', (doc) => planHostsRemove(doc, registry.url));
    expect(removed?.toString()).toBe('# written by dockmirror\nserver = "https://registry-1.docker.io"\n');
    expect((await pull('docker.io/library/alpine:3.16.2')).ok).toBe(false);
  });

  it('ghcr.io/<org>/<repo>: the same through the registry\'s own folder, with ?ns=ghcr.io', async () => {
    expect((await pull('ghcr.io/someorg/tool:1')).ok).toBe(false);
    await edit('ghcr.io', (doc) => planHostsAdd(doc, { mirror: mirror() }));
    const after = await pull('ghcr.io/someorg/tool:1');
    expect(after.ok).toBe(true);
    expect(after.digest).toBe(tool.digest);
    expect(await log()).toMatch(/"HEAD \/v2\/someorg\/tool\/manifests\/1\?ns=ghcr\.io HTTP\/1\.1" 200 .*"containerd\/1\.6/);
    await edit('ghcr.io', (doc) => planHostsRemove(doc, registry.url));
    expect((await pull('ghcr.io/someorg/tool:1')).ok).toBe(false);
  });

  it('an existing file keeps its comments and dead first host; added last, the mirror is reached after it', async () => {
    const dead = 'http://127.0.0.1:9';
    const dir = hostsDirFor(containerd.hostsDir, 'docker.io');
    await mkdir(dir, { recursive: true });
    const original = `# the office's hosts\nserver = "https://registry-1.docker.io"\n\n# gone since the move\n[host."${dead}"]\n  capabilities = ["pull", "resolve"]\n`;
    await writeFile(path.join(dir, 'hosts.toml'), original);
    const written = (await edit('docker.io', (doc) => planHostsAdd(doc, { mirror: mirror(), position: 'last' }))) as Buffer;
    expect(written.toString().startsWith(original)).toBe(true);
    expect(settingsOf(parseHostsToml('/x', written, { registry: 'docker.io' })).mirrors.map((m) => m.url)).toEqual([dead, registry.url]);
    expect((await pull('docker.io/library/alpine:3.16.2')).ok).toBe(true);
    const back = await edit('docker.io', (doc) => planHostsRemove(doc, registry.url));
    expect(back?.toString()).toBe(original);
    expect((await pull('docker.io/library/alpine:3.16.2')).ok).toBe(false);
  });

  it('a hosts.toml dockmirror refuses is one containerd cannot use either: the pull fails', async () => {
    const dir = hostsDirFor(containerd.hostsDir, 'docker.io');
    const broken = `[host."${registry.url}"]\n  capabilities = ["pull", "resolve"]\n  skip_verify = "yes"\n`;
    await writeFile(path.join(dir, 'hosts.toml'), broken);
    expect(() => parseHostsToml(path.join(dir, 'hosts.toml'), Buffer.from(broken), { registry: 'docker.io' })).toThrow(/hosts\.toml:3:17: .*skip_verify must be true or false/);
    expect((await pull('docker.io/library/alpine:3.16.2')).ok).toBe(false);
    await rm(dir, { recursive: true });
  });

  it('pullWithCtr says why it could not pull, without throwing', async () => {
    const base = { address: containerd.address, hostsDir: containerd.hostsDir, timeoutMs: 30_000 };
    expect(await pullWithCtr({ ...base, image: 'alpine:3.16.2' })).toMatchObject({ ok: false, summary: expect.stringContaining('not a fully qualified image') });
    expect(await pullWithCtr({ ...base, image: 'docker.io/library/alpine:3.16.2', env: { PATH: '/nonexistent' } })).toMatchObject({ ok: false, summary: 'no pull with ctr: ctr is not on PATH' });
    const failed = await pullWithCtr({ ...base, image: 'ghcr.io/someorg/none:1', env: containerd.ctrEnv });
    expect(failed.ok).toBe(false);
    expect(failed.summary).toMatch(/^ctr could not pull ghcr.io\/someorg\/none:1: /);
    // The verify namespace is left empty: the pulled image was removed again.
    expect((await containerd.ctr(['--namespace', 'dockmirror-verify', 'images', 'ls', '-q'])).stdout.trim()).toBe('');
  });

  it('the registry API check asks with ?ns=<registry>', async () => {
    const { check } = await checkApi(registry.url, 5000, 'ghcr.io');
    expect(check.ok).toBe(true);
    expect(await log()).toMatch(/"GET \/v2\/\?ns=ghcr\.io HTTP\/1\.1" 200/);
  });
});

describe('finding this containerd\'s config.toml in /proc', () => {
  it('trusts root\'s containerd and its --config, and passes over one that nobody started', async () => {
    const pid = impostor?.pid as number;
    expect(pid).toBeLessThan(containerd.pid);
    let seen = '';
    for (let i = 0; i < 50 && !seen.startsWith('containerd'); i++) {
      seen = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (!seen.startsWith('containerd')) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(seen.startsWith('containerd')).toBe(true);
    // A /proc holding just these two processes (links to the kernel's own entries), so other containerds on
    // the machine do not decide the answer.
    const proc = path.join(work, 'proc');
    await mkdir(proc);
    await symlink(`/proc/${pid}`, path.join(proc, String(pid)));
    await symlink(`/proc/${containerd.pid}`, path.join(proc, String(containerd.pid)));
    const located = locateContainerdConfig({ rootDir: path.join(work, 'empty-root'), procRoot: proc, callerUid: 0 });
    expect(located).toMatchObject({ path: containerd.configFile, source: 'process', pid: containerd.pid });
    expect(located.ignored).toEqual([{ pid, reason: 'it runs as uid 65534, not root' }]);
    const config = registryConfigOf(parseContainerdConfig(located.path, await readFile(located.path)));
    expect(config).toMatchObject({ version: 2, hostsDir: containerd.hostsDir });
  });
});
