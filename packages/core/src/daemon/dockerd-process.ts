/**
 * Finding the dockerd process behind an endpoint by scanning /proc. Several daemons can run on one machine
 * (tests, dind, rootless next to rootful), and any user can start a process called `dockerd` that claims any
 * `-H`, so a process is trusted only when it is root's (or the caller's own, for a rootless daemon) and the
 * kernel shows it holding the socket the endpoint listens on. Only a trusted process ever names a file, a
 * folder or a signal target.
 */
import { closeSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { basename, join, posix } from 'node:path';
import { readBounded } from '../support/bounded-read.js';
import { type EndpointSockets, endpointSockets, holdsSocket, processUids, readSmall, trustedUids, untrustedUids } from './socket-proof.js';

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

/** A process named dockerd that claims the endpoint but was not trusted, and why: shown so users see why it was passed over. */
export interface UntrustedDockerd {
  /** Its pid. */
  pid: number;
  /** Why it was not trusted, e.g. `it runs as uid 65534, not root`. */
  reason: string;
}

/** What a /proc scan found behind an endpoint. */
export interface DockerdScan {
  /** The trusted dockerd serving the endpoint, if one is visible. */
  process?: DockerdProcess;
  /** dockerd processes that claim the endpoint on their command line but were not trusted. */
  untrusted: UntrustedDockerd[];
  /** A doubt about the endpoint itself (its socket in a folder others can write), or why nothing could be trusted. */
  warning?: string;
}

/** Canonical form of a unix socket path for comparison: `/var/run` is a symlink to `/run` on modern systems. */
function canonicalSocket(endpoint: string): string | undefined {
  if (endpoint === 'fd://' || endpoint.startsWith('fd://')) return '/run/docker.sock';
  if (!endpoint.startsWith('unix://')) return undefined;
  const path = posix.normalize(endpoint.slice('unix://'.length) || '/var/run/docker.sock');
  return path.replace(/^\/var\/run\//, '/run/');
}

/**
 * Does a dockerd `-H` value claim `endpoint`? tcp matches on port when dockerd listens on every address. A
 * claim only: the argv is whatever its starter wrote; {@link scanDockerd} proves the socket. Never throws.
 */
export function hostMatches(daemonHost: string, endpoint: string): boolean {
  const a = canonicalSocket(daemonHost);
  const b = canonicalSocket(endpoint);
  if (a !== undefined || b !== undefined) return a === b;
  if (!/^(tcp|http):\/\//.test(daemonHost) || !/^(tcp|http):\/\//.test(endpoint)) return daemonHost === endpoint;
  try {
    const d = new URL(daemonHost.replace(/^tcp:/, 'http:'));
    const e = new URL(endpoint.replace(/^tcp:/, 'http:'));
    if ((d.port || '2375') !== (e.port || '2375')) return false;
    const wildcard = ['0.0.0.0', '[::]', ''].includes(d.hostname);
    return wildcard || d.hostname === e.hostname;
  } catch {
    return false; // Another process's argv may hold anything.
  }
}

/** The hosts a dockerd serves: its `-H` flags, else the default socket (or the config file's `hosts`). */
export function daemonHosts(cmdline: readonly string[], configHosts: readonly string[] = []): string[] {
  const hosts = flagValues(cmdline, '--host', '-H');
  if (hosts.length > 0) return hosts;
  return configHosts.length > 0 ? [...configHosts] : ['unix:///var/run/docker.sock'];
}

/**
 * The pids in `<procRoot>` whose argv[0] is dockerd, lowest first: the one listing of /proc a call needs, passed
 * to every scan of that call ({@link scanDockerd}, findFileReader) so each looks only at these. A list, not a
 * verdict: each scan still reads every candidate's uids, argv and sockets itself before trusting it.
 * `undefined` when `procRoot` cannot be listed.
 */
export function dockerdCandidates(procRoot = '/proc'): number[] | undefined {
  let entries: string[];
  try {
    entries = readdirSync(procRoot);
  } catch {
    return undefined;
  }
  const pids = entries.filter((e) => /^\d+$/.test(e)).map(Number).sort((a, b) => a - b);
  return pids.filter((pid) => dockerdArgvHead(procRoot, pid) !== undefined);
}

/**
 * How long one listing of /proc stays good for the rest of a call: the daemon answers in milliseconds, and a
 * call that took longer may be looking at a daemon restarted with another pid since.
 */
export const LISTING_FRESH_MS = 1_000;

const listings = new WeakMap<object, { procRoot: string; at: number; candidates: number[] | undefined }>();

/**
 * {@link dockerdCandidates}, listed once per call: `call` is the call's options object, so the steps of one
 * command (locating the file, finding the daemon that reads it, the status's live column) share one listing
 * of /proc while it is fresh ({@link LISTING_FRESH_MS}), and each scan still checks every candidate itself.
 */
export function callCandidates(call: object, procRoot = '/proc'): number[] | undefined {
  const known = listings.get(call);
  if (known && known.procRoot === procRoot && Date.now() - known.at < LISTING_FRESH_MS) return known.candidates;
  const candidates = dockerdCandidates(procRoot);
  listings.set(call, { procRoot, at: Date.now(), candidates });
  return candidates;
}

/**
 * Scan `<procRoot>` for dockerd processes and keep the one that is trusted and proven to serve `endpoint`.
 * Cheap on purpose (it runs on every command): only the first bytes of each argv are read, and only a process
 * named dockerd with trusted uids has its fds listed. `candidates` (from {@link dockerdCandidates}, earlier in
 * the same call) spares listing /proc again.
 */
export async function scanDockerd(
  endpoint: string,
  procRoot = '/proc',
  callerUid = process.getuid?.() ?? 0,
  candidates: readonly number[] | undefined = dockerdCandidates(procRoot),
): Promise<DockerdScan> {
  const untrusted: UntrustedDockerd[] = [];
  if (candidates === undefined) return { untrusted };
  const trusted = trustedUids(callerUid);
  const sockets = endpointSockets(endpoint, join(procRoot, 'net'), trusted);
  for (const pid of candidates) {
    const head = dockerdArgvHead(procRoot, pid);
    if (!head) continue;
    // The uid first: an untrusted process's argv is never read past its head.
    const uids = processUids(procRoot, pid);
    const foreign = untrustedUids(uids, trusted);
    const cmdline = foreign === undefined ? readCmdline(procRoot, pid) : undefined;
    const reason =
      cmdline && uids
        ? await distrust({ procRoot, pid, uids, cmdline, endpoint, sockets, trusted, callerUid })
        : claimed(head, endpoint, foreign ?? 'it exited');
    if (reason !== undefined || !cmdline) {
      if (reason !== undefined && reason !== NOT_OURS) untrusted.push({ pid, reason });
      continue;
    }
    const cgroup = readSmall(join(procRoot, String(pid), 'cgroup'), 64 * 1024);
    const stderr = readLink(join(procRoot, String(pid), 'fd', '2'));
    const found: DockerdProcess = {
      pid,
      cmdline,
      ...(cgroup === undefined ? {} : { cgroup }),
      ...(stderr?.startsWith('/') ? { stderrPath: stderr } : {}),
    };
    return { process: found, untrusted, ...(sockets?.warning ? { warning: sockets.warning } : {}) };
  }
  const warning = sockets?.problem ?? sockets?.warning;
  return { untrusted, ...(warning ? { warning } : {}) };
}

/**
 * Why process `pid` must not be signalled or believed as the dockerd behind `endpoint`, or `undefined` when it
 * may. Used again right before a SIGHUP, since a pid can be reused between the scan and the signal.
 */
export async function distrustPid(
  pid: number,
  endpoint: string | undefined,
  procRoot = '/proc',
  callerUid = process.getuid?.() ?? 0,
): Promise<string | undefined> {
  if (!dockerdArgvHead(procRoot, pid)) return 'it is not a running dockerd';
  const trusted = trustedUids(callerUid);
  const uids = processUids(procRoot, pid);
  const foreign = untrustedUids(uids, trusted);
  if (foreign !== undefined) return foreign;
  const cmdline = readCmdline(procRoot, pid);
  if (!cmdline || !uids) return 'it is not a running dockerd';
  if (endpoint === undefined) return undefined;
  const sockets = endpointSockets(endpoint, join(procRoot, 'net'), trusted);
  const reason = await distrust({ procRoot, pid, uids, cmdline, endpoint, sockets, trusted, callerUid });
  return reason === NOT_OURS ? `it does not serve ${endpoint}` : reason;
}

/** A dockerd that neither claims nor serves the endpoint: not worth a line to the user. */
const NOT_OURS = '';

/** `reason` when the argv head claims the endpoint, else {@link NOT_OURS}. */
function claimed(head: string[], endpoint: string, reason: string): string {
  return flagValues(head, '--host', '-H').some((h) => hostMatches(h, endpoint)) ? reason : NOT_OURS;
}

/** What {@link distrust} weighs about one process whose uids are already trusted. */
interface Candidate {
  procRoot: string;
  pid: number;
  uids: number[];
  cmdline: string[];
  endpoint: string;
  /** The endpoint's listeners in the caller's network namespace. */
  sockets: EndpointSockets | undefined;
  trusted: Set<number>;
  callerUid: number;
}

/** Why a process with trusted uids is still not the dockerd behind the endpoint, or `undefined` when it is. */
async function distrust(c: Candidate): Promise<string | undefined> {
  const { procRoot, pid, cmdline, endpoint, sockets, trusted } = c;
  const claims = flagValues(cmdline, '--host', '-H').some((h) => hostMatches(h, endpoint));
  if (!sockets) return claims ? `nothing shows it serves ${endpoint}` : NOT_OURS;
  if (sockets.problem) return claims ? sockets.problem : NOT_OURS;
  const holds = sockets.inodes.size > 0 ? holdsSocket(procRoot, pid, sockets.inodes) : false;
  if (holds === true) return undefined;
  if (holds === 'unreadable') {
    // A caller who is not root cannot list root's fds. Then the process must claim the endpoint and its network
    // namespace must hold the very listener (a dind dockerd has its own namespace, and its own socket).
    const configHosts = claims ? [] : await configFileHosts(cmdline);
    if (!daemonHosts(cmdline, configHosts).some((h) => hostMatches(h, endpoint))) return NOT_OURS;
    const theirs = endpointSockets(endpoint, join(procRoot, String(pid), 'net'), trusted);
    if ([...(theirs?.inodes ?? [])].some((i) => sockets.inodes.has(i))) return undefined;
    return `its network namespace does not hold the socket of ${endpoint}`;
  }
  // A rootless dockerd listens inside rootlesskit's network namespace, so its socket is listed there, not here.
  // Only the caller's own process is looked at that way: its fds are readable and prove the holding.
  if (c.callerUid !== 0 && c.uids.every((u) => u === c.callerUid)) {
    const theirs = endpointSockets(endpoint, join(procRoot, String(pid), 'net'), trusted);
    if (theirs && !theirs.problem && theirs.inodes.size > 0 && holdsSocket(procRoot, pid, theirs.inodes) === true) return undefined;
  }
  if (!claims) return NOT_OURS;
  return sockets.inodes.size === 0 ? `no socket listens on ${endpoint}` : `it does not hold the socket of ${endpoint}`;
}

/** The argv head (first 4 KiB) when argv[0] is dockerd: another user's argv can be megabytes long. */
export function dockerdArgvHead(procRoot: string, pid: number): string[] | undefined {
  const file = join(procRoot, String(pid), 'cmdline');
  if (!argv0IsDockerd(file)) return undefined;
  const argv = readSmall(file, ARGV_HEAD_BYTES)?.split('\0');
  return argv?.[0] !== undefined && basename(argv[0]) === 'dockerd' ? argv : undefined;
}

/** How much of an argv {@link dockerdArgvHead} reads. */
const ARGV_HEAD_BYTES = 4096;
/** One buffer for every {@link argv0IsDockerd}: the listing of /proc reads each process's argv head in turn. */
const headBuffer = Buffer.allocUnsafe(ARGV_HEAD_BYTES);

/**
 * Whether the argv in `file` starts with a dockerd, from one read into a shared buffer. Every process on the
 * machine is looked at, and almost none is dockerd: reading argv[0] alone (up to its NUL) is enough to pass it
 * by, without a second read to the end, a copy or decoding the rest. When argv[0] does not end within the first
 * read, the answer is yes, and {@link dockerdArgvHead} reads and decides as before.
 */
function argv0IsDockerd(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const length = readSync(fd, headBuffer, 0, ARGV_HEAD_BYTES, null);
    const end = headBuffer.indexOf(0);
    if (end < 0 || end >= length) return length > 0;
    return basename(headBuffer.toString('utf8', 0, end)) === 'dockerd';
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The argv of a trusted process whose argv[0] is dockerd; a real dockerd's fits well within 1 MiB. */
export function readCmdline(procRoot: string, pid: number): string[] | undefined {
  const raw = readSmall(join(procRoot, String(pid), 'cmdline'), 1024 * 1024);
  if (raw === undefined) return undefined;
  return raw.split('\0').filter((a, i, all) => a !== '' || i < all.length - 1);
}

function readLink(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** `hosts` from a trusted daemon's config file: without `-H` flags that is where dockerd takes its sockets from. */
export async function configFileHosts(cmdline: readonly string[]): Promise<string[]> {
  if (flagValues(cmdline, '--host', '-H').length > 0) return [];
  const file = flagValues(cmdline, '--config-file').at(-1) ?? '/etc/docker/daemon.json';
  try {
    const bytes = await readBounded(file, { maxBytes: 1024 * 1024 });
    const parsed = JSON.parse((bytes?.toString('utf8') ?? '').replace(/^\uFEFF/, '')) as { hosts?: unknown };
    return Array.isArray(parsed.hosts) ? parsed.hosts.filter((h): h is string => typeof h === 'string') : [];
  } catch {
    return [];
  }
}
