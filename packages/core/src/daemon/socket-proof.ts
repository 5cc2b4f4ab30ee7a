/**
 * Proving which process really serves a Docker endpoint, from what the kernel says rather than what a process
 * claims: a process's argv (`dockerd -H unix:///run/docker.sock`) is written by whoever started it, but the
 * listening socket's inode in /proc/net and the `socket:[inode]` links in /proc/<pid>/fd are the kernel's.
 * Everything here reads /proc synchronously: the files are tiny, made by the kernel on read, and a scan runs on
 * every command, so one syscall per file beats a round trip through the thread pool.
 */
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, realpathSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { basename, dirname, join, posix } from 'node:path';

/** The listening sockets behind an endpoint, as the kernel lists them. */
export interface EndpointSockets {
  /** Socket inodes (`socket:[N]`) listening on the endpoint; empty when none could be found. */
  inodes: Set<number>;
  /** Why the endpoint itself cannot be trusted (a socket file another user owns); then nothing serving it is. */
  problem?: string;
  /** Something worth telling the user that does not stop trust (a socket in a folder others can write). */
  warning?: string;
}

/** The uids a dockerd may run as and still be trusted: root's, and the caller's own (a rootless daemon). */
export function trustedUids(callerUid = process.getuid?.() ?? 0): Set<number> {
  return new Set([0, callerUid]);
}

/** The real, effective, saved and filesystem uids of a process, from `<procRoot>/<pid>/status`. */
export function processUids(procRoot: string, pid: number): number[] | undefined {
  const status = readSmall(join(procRoot, String(pid), 'status'), 64 * 1024);
  const match = status === undefined ? null : /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$/m.exec(status);
  return match ? match.slice(1, 5).map(Number) : undefined;
}

/**
 * Why the uids of a process are not trusted, or `undefined` when all four are root's or the caller's. All four,
 * so a setuid program started by another user (real uid theirs, effective root) is not taken for root's.
 */
export function untrustedUids(uids: number[] | undefined, trusted = trustedUids()): string | undefined {
  if (!uids) return 'its owner could not be read';
  const foreign = uids.find((u) => !trusted.has(u));
  return foreign === undefined ? undefined : `it runs as uid ${foreign}, not root${trusted.size > 1 ? ' or you' : ''}`;
}

/**
 * The listening sockets serving `endpoint` in the network namespace `netDir` lists (`/proc/net`, or
 * `/proc/<pid>/net` for another process's). unix endpoints also have their socket file checked: it must be a
 * socket owned by a trusted uid, or whoever owns it is the one who answers. `undefined` for endpoints that
 * have no local listener to prove (npipe, ssh, a host name).
 */
export function endpointSockets(endpoint: string, netDir: string, trusted = trustedUids()): EndpointSockets | undefined {
  const socketPath = unixSocketPath(endpoint);
  if (socketPath !== undefined) return unixSockets(socketPath, netDir, trusted);
  const tcp = tcpAddress(endpoint);
  return tcp ? tcpSockets(tcp, netDir) : undefined;
}

/**
 * Whether process `pid` holds one of `inodes` among its open files: `true`, `false`, or `'unreadable'` when
 * /proc/<pid>/fd cannot be listed (another user's process, seen by a caller who is not root).
 */
export function holdsSocket(procRoot: string, pid: number, inodes: ReadonlySet<number>): boolean | 'unreadable' {
  const fdDir = join(procRoot, String(pid), 'fd');
  let fds: string[];
  try {
    fds = readdirSync(fdDir);
  } catch {
    return 'unreadable';
  }
  for (const fd of fds) {
    let target: string;
    try {
      target = readlinkSync(join(fdDir, fd));
    } catch {
      continue; // Closed since the listing.
    }
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode !== undefined && inodes.has(Number(inode))) return true;
  }
  return false;
}

/** The socket path of a `unix://` (or `fd://`, systemd's) endpoint; `undefined` for other schemes. */
export function unixSocketPath(endpoint: string): string | undefined {
  if (endpoint.startsWith('fd://')) return '/run/docker.sock';
  if (!endpoint.startsWith('unix://')) return undefined;
  return endpoint.slice('unix://'.length) || '/var/run/docker.sock';
}

/**
 * A socket path with its folder resolved, so `/var/run/docker.sock` and `/run/docker.sock` compare equal. The
 * last component is kept as it is: a symlink to a socket names no listener, so what is behind it stays unproven.
 */
function canonicalPath(path: string): string {
  try {
    return join(realpathSync(dirname(path)), basename(path));
  } catch {
    return posix.normalize(path).replace(/^\/var\/run\//, '/run/');
  }
}

/** Flags of a listening unix socket in /proc/net/unix (`__SO_ACCEPTCON`). */
const SO_ACCEPTCON = 0x10000;

function unixSockets(socketPath: string, netDir: string, trusted: Set<number>): EndpointSockets {
  const result: EndpointSockets = { inodes: new Set() };
  try {
    const info = statSync(socketPath);
    if (!info.isSocket()) return { ...result, problem: `${socketPath} is not a socket` };
    if (!trusted.has(info.uid)) return { ...result, problem: `the socket ${socketPath} belongs to uid ${info.uid}, not root` };
  } catch {
    // No socket file: nothing answers there, and nothing can be proven to; the inode search below finds none.
  }
  const wanted = canonicalPath(socketPath);
  const warning = folderWarning(dirname(wanted), trusted, `the socket ${socketPath}`);
  if (warning) result.warning = warning;
  const seen = new Map<number, number>();
  for (const line of lines(join(netDir, 'unix'))) {
    // Num RefCount Protocol Flags Type St Inode Path
    const m = /^[0-9a-fA-F]+: [0-9A-F]{8} [0-9A-F]{8} ([0-9A-F]{8}) [0-9A-F]{4} [0-9A-F]{2} +(\d+) (\/.*)$/.exec(line);
    if (!m) continue;
    const inode = Number(m[2]);
    seen.set(inode, (seen.get(inode) ?? 0) + 1);
    // Stryker disable next-line StringLiteral: the group is not optional, so `?? '0'` is never taken
    if ((Number.parseInt(m[1] ?? '0', 16) & SO_ACCEPTCON) === 0) continue;
    // Stryker disable next-line StringLiteral: the group is not optional, so `?? ''` is never taken
    if (canonicalPath(m[3] ?? '') === wanted) result.inodes.add(inode);
  }
  // A path with a newline can forge a line; an inode listed twice is one someone forged, so it proves nothing.
  for (const inode of result.inodes) if ((seen.get(inode) ?? 0) > 1) result.inodes.delete(inode);
  return result;
}

/** A folder other users can write (without the sticky bit), or that another user owns, can swap what is in it. */
export function folderWarning(folder: string, trusted: Set<number>, what: string): string | undefined {
  try {
    const info = lstatSync(folder);
    const sticky = (info.mode & 0o1000) !== 0;
    if (!trusted.has(info.uid)) return `${what} is in ${folder}, which belongs to uid ${info.uid}`;
    if ((info.mode & 0o022) !== 0 && !sticky) return `${what} is in ${folder}, which other users can write`;
  } catch {
    // A folder that cannot be examined holds nothing that is used.
  }
  return undefined;
}

interface TcpAddress {
  /** Literal addresses the endpoint names (`localhost` is both loopbacks). */
  addresses: string[];
  port: number;
}

function tcpAddress(endpoint: string): TcpAddress | undefined {
  const m = /^(?:tcp|http):\/\/(\[[^\]]*\]|[^/:]*)(?::(\d*))?\/?$/.exec(endpoint);
  if (!m) return undefined;
  const host = (m[1] ?? '').replace(/^\[|\]$/g, '');
  const port = Number(m[2] || '2375');
  const addresses = host === 'localhost' || host === '' ? ['127.0.0.1', '::1'] : isIP(host) ? [canonicalAddress(host)] : [];
  return addresses.length > 0 && port > 0 && port < 65536 ? { addresses, port } : undefined;
}

function tcpSockets(want: TcpAddress, netDir: string): EndpointSockets {
  const result: EndpointSockets = { inodes: new Set() };
  const local = localAddresses();
  for (const file of ['tcp', 'tcp6']) {
    for (const line of lines(join(netDir, file))) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const f = line.trim().split(/\s+/);
      if (f[3] !== '0A' || f[9] === undefined) continue; // 0A: TCP_LISTEN
      const [hex, portHex] = (f[1] ?? '').split(':');
      // Stryker disable next-line StringLiteral: parseInt(x, 16) is NaN for '' and for the replacement alike
      if (Number.parseInt(portHex ?? '', 16) !== want.port) continue;
      // Stryker disable next-line StringLiteral: split always gives a first element, so `?? ''` is never taken
      const address = decodeAddress(hex ?? '');
      const wildcard = address === '0.0.0.0' || address === '::';
      if (want.addresses.some((a) => a === address || (wildcard && local.has(a)))) result.inodes.add(Number(f[9]));
    }
  }
  return result;
}

/**
 * /proc/net/tcp addresses are 32-bit words in host byte order (little-endian on every Docker platform). IPv6
 * comes back in the canonical short form WHATWG URL gives, so it compares with {@link canonicalAddress}.
 */
function decodeAddress(hex: string): string {
  // Stryker disable next-line ArrayDeclaration: either fallback decodes to an address no endpoint names
  const bytes = (hex.match(/.{8}/g) ?? []).flatMap((w) => (w.match(/../g) ?? []).reverse()).map((b) => Number.parseInt(b, 16));
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 && bytes[11] === 255) return bytes.slice(12).join('.');
  const groups: string[] = [];
  for (let i = 0; i < bytes.length; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return canonicalAddress(groups.join(':'));
}

/** One spelling per address: IPv6 in URL's canonical form, without brackets; IPv4 as it is. */
function canonicalAddress(address: string): string {
  if (isIP(address) !== 6) return address;
  try {
    // Stryker disable next-line Regex: URL's hostname of an IPv6 address has exactly one [ and one ], at its ends
    return new URL(`http://[${address}]/`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return address;
  }
}

function localAddresses(): Set<string> {
  const found = new Set(['127.0.0.1', '::1']);
  // Stryker disable next-line Regex,StringLiteral: os.networkInterfaces() never puts a %scope in an address, so nothing is replaced
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) found.add(canonicalAddress(a.address.replace(/%.*$/, '')));
  return found;
}

/** Lines of a /proc file, at most `maxBytes` of it (a host with a million sockets must not stall a command). */
function lines(file: string, maxBytes = 16 * 1024 * 1024): string[] {
  return (readSmall(file, maxBytes) ?? '').split('\n');
}

/**
 * The first `maxBytes` of a /proc file, or `undefined` when it cannot be read. readBounded is for files other
 * users can place; these are the kernel's, report size 0, and are read in one pass up to the bound.
 */
export function readSmall(file: string, maxBytes: number): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const buffer = Buffer.alloc(Math.min(maxBytes, 64 * 1024));
    const chunks: Buffer[] = [];
    let total = 0;
    while (total < maxBytes) {
      const length = readSync(fd, buffer, 0, Math.min(buffer.length, maxBytes - total), null);
      if (length === 0) break;
      chunks.push(Buffer.from(buffer.subarray(0, length)));
      total += length;
    }
    return Buffer.concat(chunks).toString('utf8');
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
