/**
 * What the Docker target writes in certs.d is what containerd's resolver pulls through. dockerd on the
 * containerd image store resolves with that same code (moby `daemon/hosts.go` hands certs.d to containerd's
 * `remotes/docker/config`), and no Docker 29 runs here, so the real containerd 1.6 stands in for it:
 * `ctr --hosts-dir <certs.d>` pulls from the mirror after the Docker target's add (the daemon that asked being a
 * stand-in Engine with the recorded containerd-store /info), and no longer after its remove.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMirror, removeMirror } from '../../../src/index.js';
import { CERTS_DIR_ENV } from '../../../src/engines/docker/certs-d.js';
import { pullWithCtr } from '../../../src/engines/containerd/pull.js';
import { startContainerd, type TestContainerd } from '../../support/containerd.js';
import { isolated } from '../../support/hermetic.js';
import { pushImage, startRegistry, type PushedImage, type TestRegistry } from '../../support/registry.js';
import { startStandInEngine, type StandInEngine } from './stand-in-engine.js';

let containerd: TestContainerd;
let registry: TestRegistry;
let engine: StandInEngine;
let work: string;
let logFile: string;
let tool: PushedImage;
let alpine: PushedImage;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'dm-certs-d-ctr-'));
  logFile = path.join(work, 'registry.log');
  [containerd, registry, engine] = await Promise.all([startContainerd(), startRegistry({ accessLog: logFile }), startStandInEngine('info-29-containerd-store.json')]);
  tool = await pushImage(registry.url, 'someorg/tool', '1');
  alpine = await pushImage(registry.url, 'library/alpine', '3.16.2');
});
afterAll(async () => {
  await Promise.all([containerd?.stop(), registry?.stop(), engine?.stop()]);
  await rm(work, { recursive: true, force: true });
});

/** The Docker target's options: its certs.d is the folder containerd's resolver reads. */
const options = () => ({
  ...isolated(work),
  env: { [CERTS_DIR_ENV]: containerd.hostsDir },
  dockerHost: engine.endpoint,
  configFile: path.join(work, 'daemon.json'),
  stateDir: path.join(work, 'state'),
  apply: 'none' as const,
});
const pull = (image: string) => pullWithCtr({ address: containerd.address, hostsDir: containerd.hostsDir, image, timeoutMs: 60_000, env: containerd.ctrEnv });

describe('certs.d written by the Docker target, read by containerd\'s resolver', () => {
  it('ghcr.io: the pull fails, comes from the mirror with ?ns=ghcr.io after add --registry ghcr.io, and fails after the remove', async () => {
    expect((await pull('ghcr.io/someorg/tool:1')).ok).toBe(false);
    const added = await addMirror({ ...options(), mirror: registry.url, registry: 'ghcr.io' });
    expect(added.engines[0]?.files).toEqual([path.join(containerd.hostsDir, 'ghcr.io', 'hosts.toml')]);
    const pulled = await pull('ghcr.io/someorg/tool:1');
    expect(pulled.ok, pulled.summary).toBe(true);
    expect(pulled.digest).toBe(tool.digest);
    expect(await readFile(logFile, 'utf8')).toMatch(/"HEAD \/v2\/someorg\/tool\/manifests\/1\?ns=ghcr\.io HTTP\/1\.1" 200 .*"containerd\/1\.6/);
    await removeMirror({ ...options(), mirror: registry.url, registry: 'ghcr.io' });
    expect((await pull('ghcr.io/someorg/tool:1')).ok).toBe(false);
  });

  it('docker.io with a hosts.toml that names a (dead) host: the add goes there, and the pull then reaches the mirror', async () => {
    const dir = path.join(containerd.hostsDir, 'docker.io');
    await mkdir(dir, { recursive: true });
    const original = 'server = "https://registry-1.docker.io"\n\n[host."http://127.0.0.1:9"]\n  capabilities = ["pull", "resolve"]\n';
    await writeFile(path.join(dir, 'hosts.toml'), original);
    expect((await pull('docker.io/library/alpine:3.16.2')).ok).toBe(false);
    const added = await addMirror({ ...options(), mirror: registry.url });
    expect(added.engines[0]?.files).toEqual([path.join(dir, 'hosts.toml')]);
    const pulled = await pull('docker.io/library/alpine:3.16.2');
    expect(pulled.ok, pulled.summary).toBe(true);
    expect(pulled.digest).toBe(alpine.digest);
    expect(await readFile(logFile, 'utf8')).toMatch(/\/v2\/library\/alpine\/manifests\/3\.16\.2\?ns=docker\.io HTTP\/1\.1" 200/);
    await removeMirror({ ...options(), mirror: registry.url });
    expect(await readFile(path.join(dir, 'hosts.toml'), 'utf8')).toBe(original);
    expect((await pull('docker.io/library/alpine:3.16.2')).ok).toBe(false);
  });
});
