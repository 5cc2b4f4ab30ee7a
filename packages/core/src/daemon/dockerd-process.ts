/**
 * Finding the dockerd process behind an endpoint by scanning /proc. Several daemons can run on one machine
 * (tests, dind, rootless next to rootful), so the process is matched by the socket it serves, not by name.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';

/** A dockerd process found in /proc. */
export interface DockerdProcess {
  /** Its pid. */
  pid: number;
  /** Its argv. */
  cmdline: string[];
  /** Contents of `/proc/<pid>/cgroup`, when readable. */
  cgroup?: string;
  /** Where its stderr goes (`/proc/<pid>/fd/2`), when that is a file path. */
  stderrPath?: string;
}

/**
 * Values of a dockerd flag in an argv, in any of the spellings dockerd's flag parser accepts:
 * `--flag=v`, `--flag v`, and for one-letter aliases `-H v`, `-H=v`, `-Hv`.
 */
export function flagValues(args: readonly string[], long: string, short?: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    for (const name of short ? [long, short] : [long]) {
      if (arg === name) {
        const next = args[i + 1];
        if (next !== undefined) values.push(next);
        i++;
      } else if (arg.startsWith(`${name}=`)) {
        values.push(arg.slice(name.length + 1));
      } else if (name === short && arg.startsWith(name) && !arg.startsWith('--')) {
        values.push(arg.slice(name.length));
      }
    }
  }
  return values;
}

/** Canonical form of a unix socket path for comparison: `/var/run` is a symlink to `/run` on modern systems. */
function canonicalSocket(endpoint: string): string | undefined {
  if (endpoint === 'fd://' || endpoint.startsWith('fd://')) return '/run/docker.sock';
  if (!endpoint.startsWith('unix://')) return undefined;
  const path = posix.normalize(endpoint.slice('unix://'.length) || '/var/run/docker.sock');
  return path.replace(/^\/var\/run\//, '/run/');
}

/** Does a dockerd `-H` value serve `endpoint`? tcp matches on port when dockerd listens on every address. */
export function hostMatches(daemonHost: string, endpoint: string): boolean {
  const a = canonicalSocket(daemonHost);
  const b = canonicalSocket(endpoint);
  if (a !== undefined || b !== undefined) return a === b;
  if (!/^(tcp|http):\/\//.test(daemonHost) || !/^(tcp|http):\/\//.test(endpoint)) return daemonHost === endpoint;
  const d = new URL(daemonHost.replace(/^tcp:/, 'http:'));
  const e = new URL(endpoint.replace(/^tcp:/, 'http:'));
  if ((d.port || '2375') !== (e.port || '2375')) return false;
  const wildcard = ['0.0.0.0', '[::]', ''].includes(d.hostname);
  return wildcard || d.hostname === e.hostname;
}

/** The hosts a dockerd serves: its `-H` flags, else the default socket (or the config file's `hosts`). */
export function daemonHosts(cmdline: readonly string[], configHosts: readonly string[] = []): string[] {
  const hosts = flagValues(cmdline, '--host', '-H');
  if (hosts.length > 0) return hosts;
  return configHosts.length > 0 ? [...configHosts] : ['unix:///var/run/docker.sock'];
}

/** Scan `<procRoot>/<pid>/cmdline` for dockerd processes serving `endpoint`; the lowest pid wins. */
export async function findDockerdProcess(endpoint: string, procRoot = '/proc'): Promise<DockerdProcess | undefined> {
  let entries: string[];
  try {
    entries = await readdir(procRoot);
  } catch {
    return undefined;
  }
  const pids = entries.filter((e) => /^\d+$/.test(e)).map(Number).sort((a, b) => a - b);
  for (const pid of pids) {
    const raw = await readFile(join(procRoot, String(pid), 'cmdline'), 'utf8').catch(() => '');
    const cmdline = raw.split('\0').filter((a, i, all) => a !== '' || i < all.length - 1);
    if (!cmdline[0] || basename(cmdline[0]) !== 'dockerd') continue;
    const configHosts = await configFileHosts(cmdline);
    if (!daemonHosts(cmdline, configHosts).some((h) => hostMatches(h, endpoint))) continue;
    const cgroup = await readFile(join(procRoot, String(pid), 'cgroup'), 'utf8').catch(() => undefined);
    const stderr = await readlink(join(procRoot, String(pid), 'fd', '2')).catch(() => undefined);
    return {
      pid,
      cmdline,
      ...(cgroup === undefined ? {} : { cgroup }),
      ...(stderr?.startsWith('/') ? { stderrPath: stderr } : {}),
    };
  }
  return undefined;
}

/** `hosts` from the daemon's config file: without `-H` flags that is where dockerd takes its sockets from. */
async function configFileHosts(cmdline: readonly string[]): Promise<string[]> {
  if (flagValues(cmdline, '--host', '-H').length > 0) return [];
  const file = flagValues(cmdline, '--config-file').at(-1) ?? '/etc/docker/daemon.json';
  try {
    const parsed = JSON.parse((await readFile(file, 'utf8')).replace(/^\uFEFF/, '')) as { hosts?: unknown };
    return Array.isArray(parsed.hosts) ? parsed.hosts.filter((h): h is string => typeof h === 'string') : [];
  } catch {
    return [];
  }
}
