import { isIP } from 'node:net';
import { InvalidMirrorError } from '../errors.js';
import { dockerdValidateMirror, goParseUrl, mirrorRulesFor, type MirrorRules } from './net-url.js';

/** The result of checking a mirror URL the way dockerd's ValidateMirror does. */
export interface ValidatedMirror {
  /**
   * The URL as dockmirror writes it: exactly as typed, but for dockerd's own normalisation: lowercase scheme
   * and host (ASCII letters only) and no trailing slash (dockerd adds one).
   */
  url: string;
  /** `host[:port]` of the mirror as typed (ASCII-lowercased), the form `insecure-registries` entries take. */
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
   * not known: a path is allowed with a warning. `daemonVersion` sets it from the daemon's version.
   */
  allowPath?: boolean;
  /** The `Version` of the daemon that will read the file (`GET /version`), e.g. `20.10.24`. */
  daemonVersion?: string;
}

/** Longer than any mirror URL anyone writes; bounds the work on hostile input. */
const MAX_MIRROR_URL = 2048;

const asciiLower = (s: string): string => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());

/**
 * Checks a mirror URL as dockerd's ValidateMirror does on Go's `net/url` (see net-url.ts), never with WHATWG
 * URL, and returns the form to write. Throws {@link InvalidMirrorError} for anything that dockerd would refuse
 * at start or reload, and for a few things it accepts but cannot use (no host, a port out of range, an empty
 * `?` or `#`, `%`-escapes or odd characters in the host, spaces, backslashes). Nothing is trimmed or decoded.
 */
export function validateMirror(input: string, options: ValidateMirrorOptions = {}): ValidatedMirror {
  const shown = JSON.stringify(input.length > 200 ? `${input.slice(0, 200)}…` : input);
  const fail = (why: string, hint: string, cause?: string): never => {
    throw new InvalidMirrorError(`Invalid mirror ${shown}: ${why}.`, { hint, details: { mirror: input.slice(0, MAX_MIRROR_URL), ...(cause ? { dockerd: cause } : {}) } });
  };
  if (input.length > MAX_MIRROR_URL) fail(`longer than ${MAX_MIRROR_URL} characters`, 'Give the mirror\'s root URL.');
  const blank = /[\s\x00-\x1f\x7f\u00a0\u2028\u2029\ufeff]/u.exec(input);
  if (blank) {
    const what = blank[0] === ' ' ? 'a space' : blank[0] === '\t' ? 'a tab' : blank[0] === '\n' || blank[0] === '\r' ? 'a line break' : `the character U+${blank[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}`;
    fail(`${what} at position ${blank.index + 1}`, 'dockerd does not strip spaces, tabs or line breaks (a browser would): write the URL without them.');
  }
  if (input.includes('\\')) fail('a backslash', 'dockerd reads "\\" as a character, not as "/" (a browser would): use "/".');
  const schemeMatch = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(input);
  if (!schemeMatch && /^[A-Za-z][A-Za-z0-9+.-]*:(?!\d)/.test(input) && !input.includes('://')) {
    fail('no "//" after the scheme', `Write it as ${input.replace(/:\/*/, '://')}; dockerd does not add the slashes (a browser would).`);
  }
  if (!schemeMatch) {
    if (!input.includes('://')) fail('no scheme', `Write it with a scheme, e.g. https://${input || 'mirror.example.com'} or http://${input || '127.0.0.1:5000'}.`);
    fail('not a URL', 'Give a URL such as https://mirror.example.com or http://127.0.0.1:5000.');
  }
  const scheme = (schemeMatch?.[1] ?? '').toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') fail(`unsupported scheme ${scheme}`, 'dockerd accepts only http:// and https:// mirrors.');
  if (/[?#]/.test(input)) fail('a query or fragment', 'Remove everything from "?" or "#" on.');
  const parsed = goParseUrl(input);
  if (!parsed.ok) fail(`not a URL dockerd can read (${parsed.error})`, 'Give a URL such as https://mirror.example.com or http://127.0.0.1:5000.', parsed.error);
  const u = parsed.ok ? parsed.url : undefined;
  const rawHost = u?.rawHost ?? '';
  const rawPath = u?.rawPath ?? '';
  if (u?.hasUser) fail('credentials in the URL', 'Remove user:password@; log in with `docker login <mirror-host>` instead.');
  if (!rawHost) {
    const slashes = /^[A-Za-z][A-Za-z0-9+.-]*:\/{3,}/.test(input);
    fail('no host', slashes ? 'Write exactly two slashes after the scheme: dockerd does not collapse extra ones (a browser would).' : 'Give the host name or IP address of the mirror.');
  }
  const hostError = checkHostName(rawHost);
  if (hostError) fail(hostError.why, hostError.hint);
  // Before the one trailing slash is dropped: `//` would otherwise become `/`, a mirror dockerd 25 reads differently.
  if (rawPath.includes('//')) fail(`an empty segment in the path (${rawPath})`, 'Write the path with single slashes.');
  const path = rawPath === '/' ? '' : rawPath.replace(/\/$/, '');
  const allowPath = options.allowPath ?? (options.daemonVersion === undefined ? undefined : mirrorRulesFor(options.daemonVersion) === '25');
  const warnings: string[] = [];
  if (path) {
    if (allowPath === false) {
      const version = options.daemonVersion ? `Docker ${options.daemonVersion}` : 'This Docker daemon';
      fail(`a path (${path})`, `${version} is older than 25.0 and refuses mirror paths; use the mirror's root URL.`);
    }
    if (allowPath === undefined) warnings.push(`The mirror has a path (${path}); dockerd before 25.0 refuses such mirrors.`);
  }
  if (/[^\x00-\x7f]/.test(rawHost)) {
    warnings.push(`The host ${rawHost} is not ASCII: dockerd looks it up as typed, with no IDN mapping (a browser would use its xn-- form).`);
  }
  const host = asciiLower(rawHost);
  const url = `${scheme}://${host}${path}`;
  const rules: MirrorRules = allowPath === false ? 'before-25' : '25';
  // Belt and braces: what is written must be what dockerd accepts, and mean what the user typed.
  const verdict = dockerdValidateMirror(url, rules);
  if (!verdict.accepted) fail(`dockerd would refuse it (${verdict.reason})`, 'Give a URL such as https://mirror.example.com or http://127.0.0.1:5000.', verdict.reason);
  return { url, host, insecure: scheme === 'http', path: path || undefined, warnings };
}

/** dockmirror's rule for the host (Go lets more through, none of which can be dialled): a name, IPv4 or [IPv6], and a port 1-65535. */
function checkHostName(rawHost: string): { why: string; hint: string } | undefined {
  const m = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(rawHost);
  const name = m?.[1] ?? '';
  const port = m?.[2];
  if (port !== undefined && (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)) {
    return { why: port === '' ? 'an empty port' : `port ${port} is not a TCP port`, hint: 'Give a port from 1 to 65535, or none.' };
  }
  if (name.includes('%')) {
    return { why: `a %-escape in the host (${name})`, hint: 'dockerd does not decode escapes in a host as a browser does: write the host itself.' };
  }
  if (name.startsWith('[')) {
    if (isIP(name.slice(1, -1)) !== 6) return { why: `${name} is not an IPv6 address`, hint: 'Write an IPv6 address in brackets, e.g. http://[::1]:5000.' };
    return undefined;
  }
  if (!name || !/^[A-Za-z0-9._~\-\u0080-\uffff]+$/u.test(name)) {
    return { why: name ? `${JSON.stringify(name)} is not a host name or IP address` : 'no host', hint: 'Give the host name or IP address of the mirror.' };
  }
  return undefined;
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
  // ASCII only, as validateMirror writes it: a non-ASCII host is compared as typed.
  return `${asciiLower(scheme)}${asciiLower(host)}${rest}`.replace(/\/+$/, '');
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
