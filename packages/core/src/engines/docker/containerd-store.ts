/**
 * Docker Engine on the containerd image store (the default for fresh installs from Engine 29): how to recognise
 * it from `GET /info`, where its certs.d hosts.toml files live, and which mirrors a pull really uses there.
 * dockerd then resolves registries with containerd's hosts.toml code and layers daemon.json's
 * `registry-mirrors` on top only in one case (moby `daemon/hosts.go`, `mergeLegacyConfig`), while `/info` keeps
 * showing daemon.json's view either way.
 */
import os from 'node:os';
import path from 'node:path';
import { settingsOf, type HostsDocument } from '../containerd/hosts-toml.js';
import type { EffectiveMirrors } from './effective-mirrors.js';

export type { EffectiveMirror, EffectiveMirrors } from './effective-mirrors.js';

/** The snapshotter plugin type dockerd reports as `driver-type` when images live in containerd. */
export const CONTAINERD_SNAPSHOTTER = 'io.containerd.snapshotter.v1';

/** Which image store a dockerd uses. */
export type ImageStore = 'containerd' | 'classic';

/**
 * The image store from a `GET /info` answer: `containerd` when `DriverStatus` holds
 * `["driver-type", "io.containerd.snapshotter.v1"]` (moby's `LayerStoreStatus` on that store), else `classic`
 * (graph drivers report their own status pairs, or none). Never throws on odd input: the daemon may be old,
 * or not a Docker at all.
 */
export function imageStoreOf(info: unknown): ImageStore {
  const status = typeof info === 'object' && info !== null ? (info as { DriverStatus?: unknown }).DriverStatus : undefined;
  if (!Array.isArray(status)) return 'classic';
  const found = status.some((pair) => Array.isArray(pair) && pair[0] === 'driver-type' && pair[1] === CONTAINERD_SNAPSHOTTER);
  return found ? 'containerd' : 'classic';
}

/** Inputs of {@link dockerCertsDir}; injectable so every platform is testable anywhere. */
export interface CertsDirOptions {
  /** Defaults to `process.platform`. */
  platform?: NodeJS.Platform;
  /** Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Defaults to `os.homedir()`. */
  homedir?: string;
  /** A rootless dockerd (rootlesskit) reads the user's config folder instead. */
  rootless?: boolean;
}

/**
 * The certs.d folder dockerd reads hosts.toml from (moby `registry.CertsDir`): `/etc/docker/certs.d`; rootless
 * `$XDG_CONFIG_HOME/docker/certs.d` (else `~/.config/docker/certs.d`); Windows `%ProgramData%\docker\certs.d`.
 * `undefined` on macOS, where the daemon runs inside Docker Desktop's VM.
 */
export function dockerCertsDir(options: CertsDirOptions = {}): string | undefined {
  const platform = options.platform ?? process.platform;
  const env = options.env ?? process.env;
  if (platform === 'win32') return path.win32.join(env.ProgramData ?? env.PROGRAMDATA ?? 'C:\\ProgramData', 'docker', 'certs.d');
  if (platform === 'darwin') return undefined;
  if (options.rootless) {
    // Go's os.UserConfigDir: $XDG_CONFIG_HOME when set (and absolute), else $HOME/.config.
    const xdg = env.XDG_CONFIG_HOME;
    const base = xdg && path.posix.isAbsolute(xdg) ? xdg : path.posix.join(options.homedir ?? os.homedir(), '.config');
    return path.posix.join(base, 'docker', 'certs.d');
  }
  return '/etc/docker/certs.d';
}

/** Inputs of {@link effectiveMirrors}. */
export interface EffectiveMirrorsInput {
  /** The registry pulled from, e.g. `docker.io`. */
  registry: string;
  /** daemon.json's `registry-mirrors` (as dockerd loaded them). */
  daemonJsonMirrors: readonly string[];
  /** The registry's certs.d hosts.toml, when it exists and parses (containerd skips one that does not parse). */
  hostsDoc?: HostsDocument;
}

/**
 * moby's merge rule. containerd's resolver lists each `[host]` of the hosts.toml, then the upstream, as hosts.
 * With two or more (that is, at least one `[host]`), dockerd uses them as they are and ignores daemon.json's
 * mirrors for the registry. With one (no hosts.toml, or one with only `server`), daemon.json's mirrors are
 * put in front of it, for docker.io only. Hosts without pull or resolve capability are never pulled from.
 */
export function effectiveMirrors(input: EffectiveMirrorsInput): EffectiveMirrors {
  const { registry, daemonJsonMirrors, hostsDoc } = input;
  const settings = hostsDoc ? settingsOf(hostsDoc) : undefined;
  const server = settings?.server ?? (registry === 'docker.io' ? 'https://registry-1.docker.io' : `https://${registry}`);
  const hosts = settings?.mirrors ?? [];
  const json = daemonJsonMirrors.map((url) => url.replace(/\/+$/, ''));
  if (hosts.length > 0) {
    const reason = `${hostsDoc?.file ?? 'hosts.toml'} names ${hosts.length === 1 ? 'a host' : `${hosts.length} hosts`}, so dockerd ignores daemon.json's mirrors for ${registry}`;
    return {
      registry,
      server,
      decidedBy: 'hosts.toml',
      mirrors: hosts
        .filter((h) => h.capabilities.includes('pull') || h.capabilities.includes('resolve'))
        .map((h) => ({ url: h.url, plainHttp: h.plainHttp, from: 'hosts.toml' as const })),
      ignored: json.map((url) => ({ url, reason })),
      infoIsLive: false,
    };
  }
  if (registry !== 'docker.io') {
    const reason = `daemon.json's registry-mirrors apply to docker.io only; mirror ${registry} in its hosts.toml`;
    return { registry, server, decidedBy: 'none', mirrors: [], ignored: json.map((url) => ({ url, reason })), infoIsLive: true };
  }
  return {
    registry,
    server,
    decidedBy: json.length > 0 ? 'daemon.json' : 'none',
    mirrors: json.map((url) => ({ url, plainHttp: /^http:\/\//i.test(url), from: 'daemon.json' as const })),
    ignored: [],
    infoIsLive: true,
  };
}
