import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidMirrorError } from '../../src/errors.js';
import { dockerdValidateMirror, goParseUrl, mirrorRulesFor } from '../../src/mirror/net-url.js';
import { validateMirror } from '../../src/mirror/url.js';

const refusal = (input: string, opts = {}): string => {
  try {
    validateMirror(input, opts);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidMirrorError);
    // Every refusal says what to do next.
    expect((error as InvalidMirrorError).hint?.length).toBeGreaterThan(10);
    return `${(error as Error).message} ${(error as InvalidMirrorError).hint ?? ''}`;
  }
  throw new Error(`accepted ${JSON.stringify(input)}`);
};

// Each difference between WHATWG URL (what `new URL` does) and Go's net/url (what dockerd does), both ways.
describe('where WHATWG URL and dockerd part ways, dockmirror sides with dockerd', () => {
  it('tabs and newlines: WHATWG strips them, dockerd refuses the URL, so does dockmirror', () => {
    expect(new URL('http://h\t:5000').host).toBe('h:5000');
    expect(dockerdValidateMirror('http://h\t:5000', 'before-25')).toMatchObject({ accepted: false });
    expect(refusal('http://h\t:5000')).toMatch(/a tab at position 9/);
    expect(refusal('http://h:5000\n')).toMatch(/a line break/);
    expect(refusal(' http://h:5000')).toMatch(/a space at position 1/);
  });
  it('extra slashes after the scheme: WHATWG collapses them, dockerd sees no host', () => {
    expect(new URL('http:///h:5000').host).toBe('h:5000');
    expect(goParseUrl('http:///h:5000')).toMatchObject({ ok: true, url: { rawHost: '', rawPath: '/h:5000' } });
    expect(refusal('http:///h:5000')).toMatch(/no host/);
  });
  it('backslashes: WHATWG reads them as "/", dockerd as a character (refused in a host, opaque after "http:")', () => {
    expect(new URL('http:\\\\h\\v2').href).toBe('http://h/v2');
    expect(dockerdValidateMirror('http://h\\v2', 'before-25')).toMatchObject({ accepted: false });
    expect(dockerdValidateMirror('http:\\\\h', 'before-25')).toEqual({ accepted: true, value: 'http:\\\\h/' });
    expect(refusal('http:\\\\h')).toMatch(/a backslash/);
    expect(refusal('http://h/a\\b', { allowPath: true })).toMatch(/a backslash/);
  });
  it('percent-escapes in the host: WHATWG decodes them, dockerd refuses ASCII ones and keeps the rest undecoded', () => {
    expect(new URL('http://ex%61mple.com').host).toBe('example.com');
    expect(dockerdValidateMirror('http://ex%61mple.com', 'before-25')).toMatchObject({ accepted: false, reason: expect.stringMatching(/invalid URL escape "%61"/) });
    expect(refusal('http://ex%61mple.com')).toMatch(/invalid URL escape "%61"/);
    expect(dockerdValidateMirror('http://%C3%A9.com', 'before-25')).toMatchObject({ accepted: true });
    expect(refusal('http://%C3%A9.com')).toMatch(/a %-escape in the host/);
  });
  it('IDN hosts: WHATWG maps them to xn--, dockerd keeps them as typed, so does dockmirror (with a warning)', () => {
    expect(new URL('http://Bücher.de').host).toBe('xn--bcher-kva.de');
    const m = validateMirror('http://Bücher.de');
    expect(m.url).toBe('http://bücher.de');
    expect(m.warnings.join(' ')).toMatch(/not ASCII: dockerd looks it up as typed/);
  });
  it('default ports and odd IPv4 forms: WHATWG rewrites them, dockerd and dockmirror keep them', () => {
    expect(new URL('http://h:80').host).toBe('h');
    expect(validateMirror('http://h:80')).toMatchObject({ url: 'http://h:80', host: 'h:80' });
    expect(new URL('http://0x7f.1:5000').host).toBe('127.0.0.1:5000');
    expect(validateMirror('http://0x7f.1:5000').url).toBe('http://0x7f.1:5000');
    expect(validateMirror('https://h:443/').url).toBe('https://h:443');
  });
  it('only scheme and host case and one trailing slash change; a path keeps its case', () => {
    expect(validateMirror('HTTP://Mirror.Example:5000/').url).toBe('http://mirror.example:5000');
    expect(validateMirror('https://M.example/Prefix/', { allowPath: true }).url).toBe('https://m.example/Prefix');
    expect(validateMirror('http://[::1]:5000/')).toMatchObject({ url: 'http://[::1]:5000', host: '[::1]:5000' });
  });
  it('refuses what dockerd takes but cannot use, saying why', () => {
    expect(refusal('http://h:')).toMatch(/an empty port/);
    expect(refusal('http://h:99999')).toMatch(/port 99999 is not a TCP port/);
    expect(refusal('http://h?')).toMatch(/a query or fragment/);
    expect(refusal('http://h#')).toMatch(/a query or fragment/);
    expect(refusal('http:h')).toMatch(/no "\/\/" after the scheme/);
    expect(refusal('http://a<b>')).toMatch(/is not a host name/);
    expect(refusal('http://[zz]:1')).toMatch(/not an IPv6 address/);
    expect(refusal('http://h//x', { allowPath: true })).toMatch(/an empty segment/);
    expect(refusal('x'.repeat(3000))).toMatch(/longer than 2048/);
  });
  it('draws its own lines exactly: ports 1-65535, 2048 characters, host characters, IPv6 literals', () => {
    expect(validateMirror('http://h:65535').host).toBe('h:65535');
    expect(validateMirror('http://h:1').host).toBe('h:1');
    expect(refusal('http://h:65536')).toMatch(/port 65536 is not a TCP port/);
    expect(refusal('http://h:0')).toMatch(/port 0 is not a TCP port/);
    expect(refusal('http://h:123456')).toMatch(/port 123456 is not a TCP port/);
    const long = `http://h/${'a'.repeat(2048 - 9)}`;
    expect(validateMirror(long, { allowPath: true }).url).toBe(long);
    expect(refusal(`${long}b`, { allowPath: true })).toMatch(/longer than 2048 characters/);
    expect(refusal(`${long}b`, { allowPath: true })).toMatch(new RegExp(`^Invalid mirror "http://h/a{191}…": `));
    expect(refusal('http://<ab')).toMatch(/"<ab" is not a host name/);
    expect(refusal('http://[1.2.3.4]:5000')).toMatch(/\[1\.2\.3\.4\] is not an IPv6 address/);
    expect(refusal('1http://h')).toMatch(/: not a URL\./);
    expect(refusal('http:/h')).toMatch(/no "\/\/" after the scheme\. Write it as http:\/\/h;/);
    expect(refusal('http:////h')).toMatch(/Write exactly two slashes after the scheme/);
    expect(refusal('http:h:5000')).toMatch(/Write it as http:\/\/h:5000;/);
    expect(refusal('http://h\u00a0')).toMatch(/the character U\+00A0/);
    expect(refusal('http://h\r')).toMatch(/a line break/);
    expect(refusal('HTTPS://u@h')).toMatch(/credentials in the URL/);
  });
  it('judges a path by the daemon version: refused before 25.0, accepted from 25.0, a warning when unknown', () => {
    expect(refusal('https://h/v2', { daemonVersion: '20.10.24' })).toMatch(/Docker 20\.10\.24 is older than 25\.0/);
    expect(validateMirror('https://h/v2', { daemonVersion: '25.0.3' })).toMatchObject({ url: 'https://h/v2', path: '/v2', warnings: [] });
    expect(validateMirror('https://h/v2').warnings.join()).toMatch(/dockerd before 25\.0 refuses/);
    expect(mirrorRulesFor('24.0.9')).toBe('before-25');
    expect(mirrorRulesFor('v25.0.0')).toBe('25');
    expect(mirrorRulesFor('dev')).toBe('25');
    expect(dockerdValidateMirror('https://h/v2', '25')).toEqual({ accepted: true, value: 'https://h/v2/' });
    expect(dockerdValidateMirror('h:5000', '25')).toEqual({ accepted: false, reason: 'no scheme specified' });
  });
});

// Pieces of mirror-like strings, hostile ones included, so the generator reaches every branch of both parsers.
const piece = <T extends string>(...xs: T[]) => fc.constantFrom(...xs);
const hostChar = fc.constantFrom(...'abcXYZ019.-_~!$&\'()*+,;=<>"%[]:@ \t\\/?#éü'.split(''));
const mirrorLike = fc.tuple(
  piece('', ' ', '\t'),
  piece('http', 'HTTP', 'https', 'HttpS', 'ftp', 'h', '1http', ''),
  piece('://', ':/', ':///', ':', ':\\\\', '//'),
  piece('', 'u@', 'u:p@', '@'),
  fc.oneof(piece('127.0.0.1', 'Mirror.Example', '[::1]', 'bücher.de', 'ex%61mple', '%C3%A9', ''), fc.string({ unit: hostChar, maxLength: 8 })),
  piece('', ':5000', ':', ':80', ':99999', ':0', ':abc'),
  piece('', '/', '//', '/v2', '/v2/', '/a b', '/%2F', '/%zz', '/a\\b', '/Pre/Fix/'),
  piece('', '?', '#', '?a=1', '#f', '\n', ' '),
).map((parts) => parts.join(''));

describe('normalizeMirror', () => {
  it('compares scheme and host without ASCII case, and the path and non-ASCII letters as typed', async () => {
    const { normalizeMirror } = await import('../../src/mirror/url.js');
    expect(normalizeMirror(' HTTP://A.Example:5000/ ')).toBe('http://a.example:5000');
    expect(normalizeMirror('http://h/Path/')).toBe('http://h/Path');
    expect(normalizeMirror('http://Ü.example')).toBe('http://Ü.example');
    expect(normalizeMirror('x http://A/')).toBe('x http://A');
  });
});

describe('an empty path segment', () => {
  it('is refused before the trailing slash is dropped: http://h// is no http://h/ to dockerd 25 (found by the property below)', () => {
    for (const input of ['http://127.0.0.1//', 'http://127.0.0.1/a//', 'http://127.0.0.1//a']) {
      expect(() => validateMirror(input, { daemonVersion: '25.0.0' }), input).toThrow(/an empty segment in the path/);
    }
    expect(validateMirror('http://127.0.0.1/a/', { daemonVersion: '25.0.0' }).url).toBe('http://127.0.0.1/a');
  });
});

describe('validateMirror, property tests', () => {
  const rules = [{ opts: { daemonVersion: '20.10.24' }, rules: 'before-25' as const }, { opts: { daemonVersion: '25.0.0' }, rules: '25' as const }];
  it.each(rules)('never accepts what dockerd ($rules) refuses, and writes only what was typed up to case and one slash', ({ opts, rules: r }) => {
    fc.assert(fc.property(fc.oneof(mirrorLike, fc.string({ maxLength: 40 })), (input) => {
      let url: string;
      try {
        url = validateMirror(input, opts).url;
      } catch (error) {
        return error instanceof InvalidMirrorError;
      }
      const typed = dockerdValidateMirror(input, r);
      const written = dockerdValidateMirror(url, r);
      if (!typed.accepted || !written.accepted) return false;
      // Same meaning to dockerd, up to ASCII case of scheme and host.
      if (typed.value.toLowerCase() !== written.value.toLowerCase()) return false;
      // Character for character the input, but for lowercasing before the path and one dropped trailing slash.
      const expected = input.endsWith('/') ? input.slice(0, -1) : input;
      const authorityEnd = url.indexOf('/', url.indexOf('://') + 3);
      const cut = authorityEnd < 0 ? url.length : authorityEnd;
      return url.length === expected.length && [...url].every((c, i) => c === expected[i] || (i < cut && c === expected[i]?.toLowerCase()));
    }), { numRuns: 3000 });
  });
  it('is idempotent: what it writes, it accepts unchanged', () => {
    fc.assert(fc.property(mirrorLike, (input) => {
      try {
        const { url } = validateMirror(input, { allowPath: true });
        return validateMirror(url, { allowPath: true }).url === url;
      } catch (error) {
        return error instanceof InvalidMirrorError;
      }
    }), { numRuns: 2000 });
  });
  it('keeps the host as Go reads it: never decoded, IDN-mapped or stripped of a port, only ASCII-lowercased', () => {
    fc.assert(fc.property(mirrorLike, (input) => {
      try {
        const m = validateMirror(input, { allowPath: true });
        const go = goParseUrl(input);
        return go.ok && m.host === go.url.rawHost.replace(/[A-Z]/g, (c) => c.toLowerCase());
      } catch (error) {
        return error instanceof InvalidMirrorError;
      }
    }), { numRuns: 2000 });
  });
});
