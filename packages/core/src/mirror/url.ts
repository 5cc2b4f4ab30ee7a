import { InvalidMirrorError } from '../errors.js';

/** The result of checking a mirror URL the way dockerd's ValidateMirror does. */
export interface ValidatedMirror {
  /** The URL as dockmirror writes it: lowercase scheme and host, no trailing slash. */
  url: string;
  /** `host[:port]` of the mirror, the form `insecure-registries` entries take. */
  host: string;
  /** Whether the mirror speaks plain HTTP (and so needs an insecure-registries entry). */
  insecure: boolean;
  /** The path prefix after the host, if any (only dockerd 25.0+ accepts one). */
  path: string | undefined;
  /** Things the user should know that do not stop the change. */
  warnings: string[];
}

/** Options for {@link validateMirror}. */
export interface ValidateMirrorOptions {
  /**
   * Whether the target daemon accepts a path after the host (dockerd 25.0+). `undefined` means the daemon is
   * not known: a path is allowed with a warning.
   */
  allowPath?: boolean;
}

/**
 * Checks a mirror URL as dockerd's ValidateMirror does and returns its normalised form. Throws
 * {@link InvalidMirrorError} for anything dockerd would refuse at start, so a bad mirror never reaches the file.
 */
export function validateMirror(input: string, options: ValidateMirrorOptions = {}): ValidatedMirror {
  const raw = input.trim();
  const fail = (why: string, hint: string): never => {
    throw new InvalidMirrorError(`Invalid mirror ${JSON.stringify(input)}: ${why}.`, {
      hint,
      details: { mirror: input },
    });
  };
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    fail('no scheme', `Write it with a scheme, e.g. https://${raw || 'mirror.example.com'} or http://${raw || '127.0.0.1:5000'}.`);
  }
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch (cause) {
    throw new InvalidMirrorError(`Invalid mirror ${JSON.stringify(input)}: not a URL.`, {
      cause,
      hint: 'Give a URL such as https://mirror.example.com or http://127.0.0.1:5000.',
    });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    fail(`unsupported scheme ${parsed.protocol.slice(0, -1)}`, 'dockerd accepts only http:// and https:// mirrors.');
  }
  if (!parsed.hostname) fail('no host', 'Give the host name or IP address of the mirror.');
  if (parsed.username || parsed.password) {
    fail('credentials in the URL', 'Remove user:password@; log in with `docker login <mirror-host>` instead.');
  }
  // URL drops an empty "?" or "#", which dockerd would still refuse, so look at the raw text too.
  if (parsed.search || parsed.hash || /[?#]/.test(raw)) {
    fail('a query or fragment', 'Remove everything from "?" or "#" on.');
  }
  const path = parsed.pathname.replace(/\/+$/, '');
  const warnings: string[] = [];
  if (path) {
    if (options.allowPath === false) {
      fail(`a path (${path})`, 'This Docker daemon is older than 25.0 and refuses mirror paths; use the mirror\'s root URL.');
    }
    if (options.allowPath === undefined) {
      warnings.push(`The mirror has a path (${path}); dockerd before 25.0 refuses such mirrors.`);
    }
  }
  const url = `${parsed.protocol}//${parsed.host}${path}`;
  return { url, host: parsed.host, insecure: parsed.protocol === 'http:', path: path || undefined, warnings };
}

/**
 * Compare a mirror the way a human means it: scheme and host are case-insensitive and the trailing slash is
 * dockerd's decoration. dockerd 20.10 itself keeps the case it was given (`HTTP://Mirror:5000` stays so).
 */
export function normalizeMirror(url: string): string {
  const trimmed = url.trim();
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/i.exec(trimmed);
  if (!match) return trimmed.replace(/\/+$/, '');
  const [, scheme = '', host = '', rest = ''] = match;
  return `${scheme.toLowerCase()}${host.toLowerCase()}${rest}`.replace(/\/+$/, '');
}

/** Normalise an insecure-registries entry as dockerd does: strip `http(s)://`, canonicalise IPv4 CIDRs. */
export function normalizeInsecureEntry(entry: string): string {
  const stripped = entry.trim().replace(/^https?:\/\//i, '');
  const cidr = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(stripped);
  if (!cidr) return stripped.toLowerCase();
  const octets = cidr.slice(1, 5).map(Number);
  const bits = Number(cidr[5]);
  if (bits > 32 || octets.some((o) => o > 255)) return stripped;
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const network = bits === 0 ? 0 : Number((BigInt(address) >> BigInt(32 - bits)) << BigInt(32 - bits));
  const parts = [24, 16, 8, 0].map((shift) => (network >>> shift) & 255);
  return `${parts.join('.')}/${bits}`;
}
