/**
 * Which folder under a hosts directory (containerd's `config_path`, Docker's certs.d) holds one registry's
 * hosts.toml. containerd's `hostPaths` tries `host_port_` first, then `host:port`, then `_default`; on Windows it
 * drops every `:` from both spellings. The registry name comes from the user, so it is checked to be a plain
 * `host[:port]` before it becomes part of a path root writes.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../../errors.js';

const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOST = `(?:${LABEL}(?:\\.${LABEL})*|\\[[0-9A-Fa-f:.]+\\])`;
/** A registry as an image reference names it: a DNS name or bracketed IPv6 address, with an optional port. */
const REGISTRY = new RegExp(`^${HOST}(?::[0-9]{1,5})?$`);

/**
 * Checks that `registry` is a `host[:port]` (e.g. `docker.io`, `ghcr.io`, `127.0.0.1:5000`, `[::1]:5000`) and
 * returns it. Anything that could leave the hosts folder or name another one (`..`, `/`, `\`, NUL, `_default`,
 * an empty name, a scheme) is a {@link UsageError}.
 */
export function checkRegistryName(registry: string): string {
  const port = /:([0-9]+)$/.exec(registry)?.[1];
  if (registry.length > 255 || !REGISTRY.test(registry) || (port !== undefined && Number(port) > 65535)) {
    throw new UsageError(`${JSON.stringify(registry.slice(0, 300))} is not a registry name.`, {
      hint: 'Give the registry as host or host:port, the way image names start, e.g. --registry ghcr.io or --registry 127.0.0.1:5000.',
    });
  }
  return registry;
}

/** containerd's `hostDirectory`: the last `:port` spelled `_port_` (the only spelling Windows can hold). */
export function portFolderName(registry: string): string {
  const colon = registry.lastIndexOf(':');
  return colon > 0 && !registry.endsWith(']') ? `${registry.slice(0, colon)}_${registry.slice(colon + 1)}_` : registry;
}

/** Inputs of {@link hostsDirFor}. */
export interface HostsDirOptions {
  /** Defaults to `process.platform`: Windows paths and spelling. */
  platform?: NodeJS.Platform;
  /** Folder existence probe; defaults to `fs.existsSync`. */
  exists?: (dir: string) => boolean;
}

/**
 * The folder whose hosts.toml the engine reads for `registry` under `hostsDir`. On Linux that is an existing
 * `host_port_` folder (containerd looks there first), else `host:port`; on Windows always the colon-free
 * `host_port_`. `docker.io` and other names without a port are the same in every spelling.
 */
export function hostsDirFor(hostsDir: string, registry: string, options: HostsDirOptions = {}): string {
  checkRegistryName(registry);
  const windows = (options.platform ?? process.platform) === 'win32';
  const p = windows ? path.win32 : path.posix;
  const exists = options.exists ?? existsSync;
  const spelled = portFolderName(registry);
  if (windows) return p.join(hostsDir, spelled.replaceAll(':', ''));
  if (spelled !== registry && exists(p.join(hostsDir, spelled))) return p.join(hostsDir, spelled);
  return p.join(hostsDir, registry);
}

/** Whether `name` is a registry name {@link checkRegistryName} accepts. */
export function isRegistryName(name: string): boolean {
  try {
    checkRegistryName(name);
    return true;
  } catch {
    return false;
  }
}

/** The registry a hosts folder is for: containerd's `host_port_` spelling back to `host:port`. */
export function unspell(folder: string): string {
  const match = /^(.+)_(\d{1,5})_$/.exec(folder);
  return match ? `${match[1]}:${match[2]}` : folder;
}

/** At most this many registry folders are listed from a hosts directory (`mirror list`, `status`). */
const MAX_LISTED_REGISTRIES = 1000;

/**
 * The hosts.toml of every registry folder under `hostsDir`, sorted, at most 1000: only folders named like a
 * registry (anything else is no registry the engine would look up); none when the folder cannot be read.
 */
export async function listHostsFiles(hostsDir: string): Promise<string[]> {
  const names = await readdir(hostsDir).catch(() => [] as string[]);
  const registries = names.filter((n) => n !== '_default' && isRegistryName(unspell(n)));
  return registries.sort().slice(0, MAX_LISTED_REGISTRIES).map((n) => path.join(hostsDir, n, 'hosts.toml'));
}
