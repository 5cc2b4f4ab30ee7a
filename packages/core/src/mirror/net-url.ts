/**
 * The URL rules dockerd applies to a mirror: Go's `net/url.Parse` (as of Go 1.19, which builds dockerd 20.10.24)
 * and moby's `registry.ValidateMirror`. WHATWG URL parsing (Node's `URL`) is not Go's: it strips tabs and
 * newlines, collapses extra slashes after a special scheme, reads `\` as `/`, percent-decodes and IDN-maps
 * hosts and drops default ports. None of that happens in dockerd, so none of it may happen here.
 * @module
 */

/** What `net/url.Parse` makes of a string, as far as ValidateMirror looks at it. */
export interface GoUrl {
  /** `Scheme`, lowercased as Go does. */
  scheme: string;
  /** `Opaque`: what follows `scheme:` when it does not start with `/` (`http:host`). */
  opaque: string;
  /** `User != nil`: an `@` in the authority, even with nothing before it. */
  hasUser: boolean;
  /** The authority's host[:port] as written (Go's `Host` is this, unescaped). */
  rawHost: string;
  /** The path as written (Go's `Path` is this, unescaped). */
  rawPath: string;
  /** `RawQuery`. */
  rawQuery: string;
  /** `Fragment`, as written. */
  fragment: string;
}

/** The outcome of {@link goParseUrl}. */
export type GoParse = { ok: true; url: GoUrl } | { ok: false; error: string };

const isAlpha = (c: string): boolean => /^[A-Za-z]$/.test(c);
const isHex = (c: string | undefined): boolean => c !== undefined && /^[0-9A-Fa-f]$/.test(c);

/** Characters Go's `shouldEscape(c, encodeHost)` lets stand in a host (ASCII only; other bytes pass). */
const HOST_ASCII_OK = /^[A-Za-z0-9\-_.~!$&'()*+,;=:[\]<>"]$/;

/** Go's `url.Parse`, reduced to the fields ValidateMirror reads. Works on UTF-16 units: every non-ASCII unit is a byte ≥ 0x80 to Go. */
export function goParseUrl(raw: string): GoParse {
  const hashAt = raw.indexOf('#');
  const u = hashAt < 0 ? raw : raw.slice(0, hashAt);
  const fragment = hashAt < 0 ? '' : raw.slice(hashAt + 1);
  if (/[\x00-\x1f\x7f]/.test(u)) return { ok: false, error: 'net/url: invalid control character in URL' };
  let scheme = '';
  let rest = u;
  for (let i = 0; i < u.length; i++) {
    const c = u.charAt(i);
    if (isAlpha(c)) continue;
    if (/^[0-9+.-]$/.test(c)) {
      if (i === 0) break;
      continue;
    }
    if (c === ':') {
      if (i === 0) return { ok: false, error: 'missing protocol scheme' };
      scheme = u.slice(0, i).toLowerCase();
      rest = u.slice(i + 1);
    }
    break;
  }
  let rawQuery = '';
  if (rest.endsWith('?') && rest.split('?').length === 2) rest = rest.slice(0, -1);
  else if (rest.includes('?')) [rest, rawQuery] = [rest.slice(0, rest.indexOf('?')), rest.slice(rest.indexOf('?') + 1)];
  const empty = { scheme, opaque: '', hasUser: false, rawHost: '', rawPath: '', rawQuery, fragment };
  if (!rest.startsWith('/')) {
    if (scheme !== '') return checkFragment({ ...empty, opaque: rest });
    const colon = rest.indexOf(':');
    const slash = rest.indexOf('/');
    if (colon >= 0 && (slash < 0 || colon < slash)) return { ok: false, error: 'first path segment in URL cannot contain colon' };
  }
  let url: GoUrl = { ...empty, rawPath: rest };
  if (rest.startsWith('//') && (scheme !== '' || !rest.startsWith('///'))) {
    let authority = rest.slice(2);
    let path = '';
    const slash = authority.indexOf('/');
    if (slash >= 0) [authority, path] = [authority.slice(0, slash), authority.slice(slash)];
    const at = authority.lastIndexOf('@');
    const host = at < 0 ? authority : authority.slice(at + 1);
    const hostError = checkHost(host);
    if (hostError) return { ok: false, error: hostError };
    if (at >= 0) {
      const user = authority.slice(0, at);
      if (!/^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/.test(user)) return { ok: false, error: 'net/url: invalid userinfo' };
      const escape = badEscape(user);
      if (escape) return { ok: false, error: `invalid URL escape "${escape}"` };
    }
    url = { ...url, hasUser: at >= 0, rawHost: host, rawPath: path };
  }
  const escape = badEscape(url.rawPath);
  if (escape) return { ok: false, error: `invalid URL escape "${escape}"` };
  return checkFragment(url);
}

function checkFragment(url: GoUrl): GoParse {
  const escape = badEscape(url.fragment);
  return escape ? { ok: false, error: `invalid URL escape "${escape}"` } : { ok: true, url };
}

/** Go's `parseHost`: an optional `:digits` port, and `unescape(host, encodeHost)`. */
function checkHost(host: string): string | undefined {
  let zoneAt = -1;
  if (host.startsWith('[')) {
    const close = host.lastIndexOf(']');
    if (close < 0) return "missing ']' in host";
    const port = host.slice(close + 1);
    if (!/^(:\d*)?$/.test(port)) return `invalid port ${JSON.stringify(port)} after host`;
    zoneAt = host.slice(0, close).indexOf('%25');
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0 && !/^:\d*$/.test(host.slice(colon))) return `invalid port ${JSON.stringify(host.slice(colon))} after host`;
  }
  for (let i = 0; i < host.length; i++) {
    const c = host.charAt(i);
    const inZone = zoneAt >= 0 && i >= zoneAt && i < host.lastIndexOf(']');
    if (c === '%') {
      if (!isHex(host[i + 1]) || !isHex(host[i + 2])) return `invalid URL escape ${JSON.stringify(host.slice(i, i + 3))}`;
      // Only non-ASCII bytes may be escaped in a host; %25 is the one ASCII exception (RFC 6874 zones).
      if (!inZone && Number.parseInt(host.charAt(i + 1), 16) < 8 && host.slice(i, i + 3) !== '%25') return `invalid URL escape ${JSON.stringify(host.slice(i, i + 3))}`;
      i += 2;
      continue;
    }
    if (c.charCodeAt(0) < 0x80 && !HOST_ASCII_OK.test(c)) return `invalid character ${JSON.stringify(c)} in host name`;
  }
  return undefined;
}

/** The first malformed `%` escape (Go's `unescape` refuses it), or `undefined`. */
function badEscape(s: string): string | undefined {
  for (let i = s.indexOf('%'); i >= 0; i = s.indexOf('%', i + 1)) {
    if (!isHex(s[i + 1]) || !isHex(s[i + 2])) return s.slice(i, i + 3);
    i += 2;
  }
  return undefined;
}

/** Which ValidateMirror a daemon runs: before 25.0 a path is refused; 25.0 accepts one and wants `://`. */
export type MirrorRules = 'before-25' | '25';

/** The rules of the daemon with this `Version` (`GET /version`); an unparseable one (dev build) counts as new. */
export function mirrorRulesFor(serverVersion: string): MirrorRules {
  const major = Number.parseInt(/^v?(\d+)\./.exec(serverVersion)?.[1] ?? '', 10);
  return Number.isNaN(major) || major >= 25 ? '25' : 'before-25';
}

/** What dockerd's ValidateMirror answers: the value it keeps, or its refusal. */
export type DockerdVerdict = { accepted: true; value: string } | { accepted: false; reason: string };

/** moby's `registry.ValidateMirror` under the given rules, on Go's parse of `raw`. */
export function dockerdValidateMirror(raw: string, rules: MirrorRules): DockerdVerdict {
  if (rules === '25') {
    const sep = raw.indexOf('://');
    if (sep <= 0) return { accepted: false, reason: 'no scheme specified' };
  }
  const parsed = goParseUrl(raw);
  if (!parsed.ok) return { accepted: false, reason: `not a valid URI: ${parsed.error}` };
  const u = parsed.url;
  if (u.scheme !== 'http' && u.scheme !== 'https') return { accepted: false, reason: `unsupported scheme ${JSON.stringify(u.scheme)}` };
  if (rules === 'before-25' && u.rawPath !== '' && u.rawPath !== '/') return { accepted: false, reason: 'path, query, or fragment at end of the URI' };
  if (u.rawQuery !== '' || u.fragment !== '') return { accepted: false, reason: 'query or fragment at end of the URI' };
  if (u.hasUser) return { accepted: false, reason: 'username/password not allowed in URI' };
  return { accepted: true, value: `${raw.replace(/\/$/, '')}/` };
}
