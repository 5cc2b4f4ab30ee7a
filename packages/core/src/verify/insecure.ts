import { BlockList, isIP } from 'node:net';
import { normalizeMirror } from '../mirror/url.js';

/** Where a mirror sits in a list of mirrors: 0-based index, or -1. Compared normalised (case, trailing slash). */
export function mirrorPosition(list: readonly string[], mirror: string): number {
  const want = normalizeMirror(mirror);
  return list.findIndex((m) => normalizeMirror(m) === want);
}

/** Why a registry host counts as insecure (plain HTTP allowed), or `undefined` when it does not. */
export function insecureCoverage(hostPort: string, entries: readonly string[]): string | undefined {
  const host = hostPort.toLowerCase();
  const hostname = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  for (const raw of entries) {
    const entry = raw.trim().replace(/^https?:\/\//i, '').toLowerCase();
    if (entry === host) return `${host} is listed in insecure-registries`;
    const cidr = /^(.+)\/(\d{1,3})$/.exec(entry);
    if (cidr && cidr[1] && isIP(cidr[1]) && isIP(hostname) === isIP(cidr[1])) {
      const list = new BlockList();
      try {
        list.addSubnet(cidr[1], Number(cidr[2]), isIP(cidr[1]) === 6 ? 'ipv6' : 'ipv4');
      } catch {
        continue;
      }
      if (list.check(hostname, isIP(hostname) === 6 ? 'ipv6' : 'ipv4')) return `${hostname} is inside ${entry} from insecure-registries`;
    }
  }
  // dockerd always treats 127.0.0.0/8 as insecure; it resolves names, so localhost counts too.
  if (hostname === 'localhost' || (isIP(hostname) === 4 && hostname.startsWith('127.'))) {
    return `${hostname} is loopback, which dockerd always treats as insecure`;
  }
  return undefined;
}
