/**
 * A Pyrsia node's config names the address it LISTENS on; a registry mirror needs an address dockerd can DIAL.
 * The two differ, and how depends on where the engine runs. All the rules live in {@link DIAL_RULES} so they can
 * be read (and changed) in one place.
 */

/** Where the Docker engine runs: on this machine, or in Docker Desktop's VM. */
export type EngineKind = 'native' | 'desktop';

/** How a configured host is classified before a rule is picked. */
export type HostClass = 'bind-all' | 'localhost' | 'loopback' | 'other';

/** One row of the bind-to-dial table. */
export interface DialRule {
  /** The engine setup the rule applies to. */
  engine: EngineKind;
  /** The kinds of configured host it applies to. */
  hosts: readonly HostClass[];
  /** The host to dial instead, or `undefined` to keep the configured one. */
  dial: string | undefined;
  /** Why, in words a user can check. */
  why: string;
}

/** The bind-to-dial rules, first match wins. */
export const DIAL_RULES: readonly DialRule[] = [
  {
    engine: 'native',
    hosts: ['bind-all'],
    dial: '127.0.0.1',
    why: 'a bind-all address means "listen everywhere" and is not an address to connect to; on this machine the node answers on 127.0.0.1',
  },
  {
    engine: 'native',
    hosts: ['localhost'],
    dial: '127.0.0.1',
    why: 'dockerd may resolve localhost to ::1 while the node listens on IPv4 only',
  },
  {
    engine: 'desktop',
    hosts: ['bind-all', 'localhost', 'loopback'],
    dial: '0.0.0.0',
    why: "Docker Desktop runs the engine in a VM where localhost is the VM itself; Pyrsia's documented working setup is http://0.0.0.0:<port>",
  },
];

const BIND_ALL = new Set(['', '0.0.0.0', '::', '[::]']);

/** Classifies a configured host (case-insensitive, brackets allowed around IPv6). */
export function classifyHost(host: string): HostClass {
  const h = host.trim().toLowerCase();
  if (BIND_ALL.has(h)) return 'bind-all';
  if (h === 'localhost') return 'localhost';
  if (/^127(\.\d{1,3}){3}$/.test(h) || h === '::1' || h === '[::1]') return 'loopback';
  return 'other';
}

/** The outcome of {@link dialHost}. */
export interface DialChoice {
  /** The host to put in the mirror URL. */
  host: string;
  /** Why it was chosen (or kept). */
  reason: string;
}

/** Picks the host dockerd should dial for a configured (bind) host, with the reason. */
export function dialHost(configured: string, engine: EngineKind): DialChoice {
  const cls = classifyHost(configured);
  const rule = DIAL_RULES.find((r) => r.engine === engine && r.hosts.includes(cls));
  const shown = configured.trim() === '' ? '(empty)' : configured.trim();
  if (!rule || rule.dial === undefined) {
    return { host: configured.trim(), reason: `dialing ${shown} as configured (${engine} engine)` };
  }
  if (rule.dial === configured.trim()) {
    return { host: rule.dial, reason: `keeping ${shown}: ${rule.why}` };
  }
  return { host: rule.dial, reason: `using ${rule.dial} instead of ${shown}: ${rule.why}` };
}

/** Formats host and port for a URL, bracketing IPv6 literals. */
export function hostPort(host: string, port: number): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `${h}:${port}`;
}
