/**
 * Docker's certs.d folder as part of the Docker target: on the containerd image store dockerd resolves every
 * registry with containerd's hosts.toml code, reading `<certs.d>/<registry>/hosts.toml` on every pull. This
 * module says which image store the daemon that reads daemon.json uses (asked only when it matters), where its
 * hosts.toml files are, and what a pull of a registry really uses there (containerd-store.ts's merge rule).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readConfigFile, type ConfigBytes } from '../../config/io.js';
import { DockmirrorError, UsageError } from '../../errors.js';
import { daemonTimeoutMs, type MutationOptions } from '../../operations/options.js';
import { hostsDirFor, isRegistryName, listHostsFiles, unspell } from '../containerd/hosts-dir.js';
import { parseHostsToml, type HostsDocument } from '../containerd/hosts-toml.js';
import { DEFAULT_REGISTRY, type ReadFile } from '../engine.js';
import { dockerCertsDir, effectiveMirrors, imageStoreOf, type EffectiveMirrors, type ImageStore } from './containerd-store.js';
import { connectForFile, type FileDaemon } from './discovery.js';

/**
 * Names the certs.d folder instead of the platform's, from the call's environment: for tests, which must never
 * touch the real /etc/docker, and for a dockerd whose certs.d was moved by a bind mount.
 */
export const CERTS_DIR_ENV = 'DOCKMIRROR_DOCKER_CERTS_DIR';

/** The certs.d folder of one Docker target, and its hosts.toml files. */
export interface CertsDir {
  /** The folder; `undefined` on macOS, where dockerd runs inside Docker Desktop's VM. */
  dir: string | undefined;
  /** `<certs.d>/<registry folder>/hosts.toml`, the folder spelled as dockerd looks it up on this platform. */
  hostsFile(registry: string): string;
  /** Whether `file` is a hosts.toml of a registry folder of this certs.d. */
  owns(file: string): boolean;
  /** Parses one hosts.toml strictly, for the registry its folder names. */
  parse(raw: ConfigBytes): HostsDocument;
  /** The registry's hosts.toml as read for the change, when it exists; else `undefined`. */
  existing(files: ReadonlyMap<string, ReadFile>, registry: string): HostsDocument | undefined;
  /** The registry's hosts.toml as read, or an empty one to create. */
  docOf(files: ReadonlyMap<string, ReadFile>, registry: string): HostsDocument;
  /** Every registry's hosts.toml in the folder (none on macOS). */
  list(): Promise<string[]>;
}

/**
 * The certs.d folder the dockerd behind this daemon.json reads: {@link CERTS_DIR_ENV}, else moby's
 * `registry.CertsDir` for the platform (rootless: the user's config folder).
 */
export function certsDirOf(options: Pick<MutationOptions, 'env' | 'platform' | 'homedir'>, rootless: boolean): CertsDir {
  const env = options.env ?? process.env;
  const platform = options.platform ?? process.platform;
  const given = env[CERTS_DIR_ENV];
  const dir = given ? path.resolve(given) : dockerCertsDir({ platform, env, rootless, ...(options.homedir ? { homedir: options.homedir } : {}) });
  const p = platform === 'win32' ? path.win32 : path.posix;
  const registryOf = (file: string): string => unspell(p.basename(p.dirname(file)));
  const hostsFile = (registry: string): string => {
    if (dir === undefined) {
      throw new UsageError(`Docker Desktop keeps certs.d inside its VM, so dockmirror cannot write ${registry}'s hosts.toml from macOS.`, {
        hint: 'Mirror docker.io through daemon.json (Settings > Docker Engine), or configure the registry inside the VM.',
      });
    }
    return p.join(hostsDirFor(dir, registry, { platform }), 'hosts.toml');
  };
  const owns = (file: string): boolean =>
    dir !== undefined && p.basename(file) === 'hosts.toml' && p.dirname(p.dirname(file)) === dir && isRegistryName(registryOf(file));
  const parse = (raw: ConfigBytes): HostsDocument => parseHostsToml(raw.file, raw.bytes, { registry: registryOf(raw.file), exists: raw.exists });
  const existing = (files: ReadonlyMap<string, ReadFile>, registry: string): HostsDocument | undefined => {
    if (dir === undefined) return undefined;
    const doc = files.get(hostsFile(registry))?.doc as HostsDocument | undefined;
    return doc?.exists ? doc : undefined;
  };
  const docOf = (files: ReadonlyMap<string, ReadFile>, registry: string): HostsDocument => {
    const file = hostsFile(registry);
    return (files.get(file)?.doc as HostsDocument | undefined) ?? parseHostsToml(file, Buffer.alloc(0), { registry, exists: false });
  };
  const list = async (): Promise<string[]> => (dir === undefined ? [] : listHostsFiles(dir));
  return { dir, hostsFile, owns, parse, existing, docOf, list };
}

/** Whether a call about `registry` must know the image store: another registry, or docker.io with a hosts.toml. */
export function storeMatters(certs: CertsDir, registry: string): boolean {
  if (registry !== DEFAULT_REGISTRY) return true;
  return certs.dir !== undefined && existsSync(certs.hostsFile(DEFAULT_REGISTRY));
}

/** The image store as the daemon that reads daemon.json reported it, and the discovery that asked it. */
export interface SeenStore {
  /** The store; `undefined` when no daemon answered. */
  store: ImageStore | undefined;
  /** What was seen, for messages: the daemon and its `GET /info`, or why none answered. */
  seen: string;
  /** The daemon discovery made to ask, reused by the apply so the call discovers once. */
  found: FileDaemon;
}

/**
 * Asks the daemon that reads `file` (the same discovery a change's apply makes, {@link connectForFile}) which
 * image store it uses, from its `GET /info`.
 * @throws DaemonUnreachableError when a dockerd reads the file but does not answer (as a change would).
 */
export async function seeImageStore(options: MutationOptions, file: string): Promise<SeenStore> {
  const found = await connectForFile(options, file, daemonTimeoutMs(options));
  const connection = found.connection;
  if (!connection) return { store: undefined, seen: `${found.absent ?? 'no Docker daemon answered'}, so dockmirror cannot tell which image store it uses`, found };
  const store = imageStoreOf(connection.info);
  const driver = (connection.info as { Driver?: unknown }).Driver;
  const shown = typeof driver === 'string' && driver !== '' ? `storage driver ${JSON.stringify(driver.slice(0, 100))}` : 'no storage driver named';
  const seen = store === 'containerd'
    ? `dockerd ${connection.version} at ${connection.endpoint} uses the containerd image store (GET /info: DriverStatus driver-type io.containerd.snapshotter.v1)`
    : `dockerd ${connection.version} at ${connection.endpoint} uses the classic image store (GET /info: ${shown}, no containerd snapshotter)`;
  return { store, seen, found };
}

/**
 * Refuses a registry other than docker.io on a daemon not seen to use the containerd image store: its pulls
 * then go through dockerd's own resolver, which reads only daemon.json's `registry-mirrors`, for docker.io.
 * @throws UsageError (exit 2) naming the store seen.
 */
export function refuseOtherRegistry(registry: string, store: SeenStore | undefined, certs: CertsDir): void {
  if (registry === DEFAULT_REGISTRY || store?.store === 'containerd') return;
  const where = certs.dir === undefined ? 'certs.d/' + registry + '/hosts.toml' : certs.hostsFile(registry);
  throw new UsageError(`daemon.json's registry-mirrors only mirror docker.io, so Docker cannot mirror ${registry} that way: ${store?.seen ?? 'the image store is unknown'}. Nothing was written.`, {
    hint: `Mirrors for ${registry} need Docker's containerd image store (then dockmirror writes ${where}, which dockerd reads on every pull), or use --engine containerd for containerd's own pulls.`,
  });
}

/**
 * What a pull of `registry` uses on the containerd image store, from daemon.json's mirrors and the registry's
 * hosts.toml as read (moby's merge rule, {@link effectiveMirrors}).
 */
export function effectiveOf(certs: CertsDir, files: ReadonlyMap<string, ReadFile>, registry: string, daemonJsonMirrors: readonly string[]): EffectiveMirrors {
  const hostsDoc = certs.existing(files, registry);
  return effectiveMirrors({ registry, daemonJsonMirrors, ...(hostsDoc ? { hostsDoc } : {}) });
}

/**
 * What a docker.io pull uses on the containerd image store, for `status` and `mirror list`: daemon.json's
 * mirrors merged with certs.d's docker.io hosts.toml as it is on disk. A hosts.toml that does not parse counts
 * as absent, as containerd's resolver skips it.
 */
export async function effectiveOnDisk(options: Pick<MutationOptions, 'env' | 'platform' | 'homedir'>, rootless: boolean, daemonJsonMirrors: readonly string[]): Promise<EffectiveMirrors> {
  const certs = certsDirOf(options, rootless);
  const files = new Map<string, ReadFile>();
  if (certs.dir !== undefined) {
    const raw = await readConfigFile(certs.hostsFile(DEFAULT_REGISTRY)).catch(() => undefined);
    if (raw?.exists) {
      try {
        files.set(raw.file, { raw, doc: certs.parse(raw) });
      } catch (error) {
        if (!(error instanceof DockmirrorError)) throw error;
      }
    }
  }
  return effectiveOf(certs, files, DEFAULT_REGISTRY, daemonJsonMirrors);
}
