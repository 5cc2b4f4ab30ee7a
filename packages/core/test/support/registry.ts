/**
 * A real docker-registry (distribution 2.8) on a random loopback port, and a way to push a small but real image
 * into it with plain registry API calls, so verify tests need no dockerd. The layer is a valid gzipped tar and the
 * config carries its diff_id, so a real daemon can pull the image too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { requirePrograms } from './programs.js';

/** A running registry. */
export interface TestRegistry {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** The port. */
  port: number;
  /** Its Prometheus endpoint (`http.debug.addr` + `prometheus.enabled`), when started with `metrics`. */
  metricsUrl?: string;
  /** Stops the registry (by its pid) and removes its storage. */
  stop(): Promise<void>;
}

/** A free loopback port (closed again before use, so a tiny race is possible). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Options of {@link startRegistry}. */
export interface RegistryOptions {
  /** Also serve distribution's debug address with Prometheus metrics on another loopback port. */
  metrics?: boolean;
  /** Write the registry's access log (its stdout: one line per request) to this file. */
  accessLog?: string;
}

/** Starts `docker-registry serve` with storage in a fresh temp dir and waits until `/v2/` answers. */
export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  requirePrograms('the test registry', ['docker-registry']);
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-registry-'));
  const port = await freePort();
  const debugPort = options.metrics ? await freePort() : undefined;
  const yml = path.join(dir, 'config.yml');
  const debug = debugPort === undefined ? '' : `, debug: {addr: 127.0.0.1:${debugPort}, prometheus: {enabled: true, path: /metrics}}`;
  await writeFile(yml, `version: 0.1\nstorage: {filesystem: {rootdirectory: ${dir}/data}}\nhttp: {addr: 127.0.0.1:${port}${debug}}\nlog: {level: error}\n`);
  const metricsUrl = debugPort === undefined ? undefined : `http://127.0.0.1:${debugPort}/metrics`;
  const log = options.accessLog === undefined ? undefined : await open(options.accessLog, 'a');
  const child: ChildProcess = spawn('docker-registry', ['serve', yml], { stdio: ['ignore', log?.fd ?? 'ignore', 'ignore'] });
  await log?.close();
  // A spawn failure (ENOENT, EACCES) shows as the exit below, with its reason, not as an uncaught error event.
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.pid !== undefined) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      process.kill(child.pid, 'SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null || spawnError) break;
    try {
      if ((await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(500) })).ok) return { url, port, ...(metricsUrl ? { metricsUrl } : {}), stop };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const exit = spawnError ? `: ${spawnError.message}` : child.exitCode !== null ? `: it exited with status ${child.exitCode}` : ' within 10 s';
  await stop();
  throw new Error(`docker-registry did not start on ${url}${exit}`);
}

/** What {@link pushImage} stored. */
export interface PushedImage {
  /** Manifest digest (the registry's Docker-Content-Digest). */
  digest: string;
  /** The manifest bytes as pushed. */
  manifest: Buffer;
}

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Pushes a one-file image as `<repository>:<tag>` (e.g. `library/alpine`, `3.16.2`). */
export async function pushImage(registry: string, repository: string, tag: string, content = `${repository}:${tag}\n`): Promise<PushedImage> {
  const tar = tarOneFile('hello.txt', Buffer.from(content));
  const layer = gzipSync(tar);
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: { Cmd: ['/hello.txt'] },
    rootfs: { type: 'layers', diff_ids: [sha(tar)] },
  }));
  await uploadBlob(registry, repository, layer);
  await uploadBlob(registry, repository, config);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: sha(config) },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: layer.length, digest: sha(layer) }],
  }));
  const res = await fetch(`${registry}/v2/${repository}/manifests/${tag}`, {
    method: 'PUT', headers: { 'content-type': 'application/vnd.docker.distribution.manifest.v2+json' }, body: manifest,
  });
  if (res.status !== 201) throw new Error(`manifest PUT answered ${res.status}: ${await res.text()}`);
  return { digest: res.headers.get('docker-content-digest') ?? sha(manifest), manifest };
}

async function uploadBlob(registry: string, repository: string, blob: Buffer): Promise<void> {
  const start = await fetch(`${registry}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
  const location = start.headers.get('location');
  if (start.status !== 202 || !location) throw new Error(`blob upload start answered ${start.status}`);
  const target = new URL(location, registry);
  target.searchParams.set('digest', sha(blob));
  const put = await fetch(target, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: blob });
  if (put.status !== 201) throw new Error(`blob PUT answered ${put.status}: ${await put.text()}`);
}

/** A ustar archive holding one regular file. */
function tarOneFile(name: string, data: Buffer): Buffer {
  const header = Buffer.alloc(512);
  const field = (value: string, offset: number, length: number): void => void header.write(value, offset, length, 'ascii');
  field(name, 0, 100);
  field('0000755\0', 100, 8);
  field('0000000\0', 108, 8);
  field('0000000\0', 116, 8);
  field(`${data.length.toString(8).padStart(11, '0')}\0`, 124, 12);
  field('00000000000\0', 136, 12);
  field('        ', 148, 8);
  field('0', 156, 1);
  field('ustar\0', 257, 6);
  field('00', 263, 2);
  const sum = header.reduce((a, b) => a + b, 0);
  field(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  const padding = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([header, data, padding, Buffer.alloc(1024)]);
}
