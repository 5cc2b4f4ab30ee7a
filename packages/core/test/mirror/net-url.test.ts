import { describe, expect, it } from 'vitest';
import { dockerdValidateMirror, goParseUrl, type GoUrl } from '../../src/mirror/net-url.js';

// What dockerd 20.10.24 answered for each of these, on the real daemon (dockerd-oracle.test.ts re-checks them
// live): the value it keeps, or `null` for a refusal.
const DOCKERD_20_10: [string, string | null][] = [
  ['http://127.0.0.1:5000', 'http://127.0.0.1:5000/'],
  ['HTTP://Mirror.Example:5000/', 'HTTP://Mirror.Example:5000/'],
  ['http://h:80', 'http://h:80/'],
  ['http://[::1]:5000', 'http://[::1]:5000/'],
  ['http://bücher.de', 'http://bücher.de/'],
  ['http://0x7f.1:5000', 'http://0x7f.1:5000/'],
  ['http://h:', 'http://h:/'],
  ['http://h:99999', 'http://h:99999/'],
  ['http://a<b>', 'http://a<b>/'],
  ['http://%C3%A9.com', 'http://%C3%A9.com/'],
  ['http:h', 'http:h/'],
  ['http:\\\\host', 'http:\\\\host/'],
  ['http://h?', 'http://h?/'],
  ['http://h#', 'http://h#/'],
  ['http://h\t:5000', null],
  ['http://h\n', null],
  [' http://h', null],
  ['http://h ', null],
  ['http:///host', null],
  ['http://host\\v2', null],
  ['http://ex%61mple.com', null],
  ['http://h/v2', null],
  ['http://h//', null],
  ['http://u:p@h', null],
  ['http://@h', null],
  ['http://h/?q=1', null],
  ['http://h/#f', null],
  ['ftp://h', null],
  ['h:5000', null],
];

describe('dockerdValidateMirror, before 25.0', () => {
  it.each(DOCKERD_20_10)('%j → %j', (input, value) => {
    const verdict = dockerdValidateMirror(input, 'before-25');
    expect(verdict).toEqual(value === null ? { accepted: false, reason: expect.any(String) } : { accepted: true, value });
  });
  it('says why it refused, in dockerd\'s words', () => {
    const reason = (s: string) => { const v = dockerdValidateMirror(s, 'before-25'); return v.accepted ? undefined : v.reason; };
    expect(reason('http://h\t:5000')).toBe('not a valid URI: net/url: invalid control character in URL');
    expect(reason('ftp://h')).toBe('unsupported scheme "ftp"');
    expect(reason('h:5000')).toBe('unsupported scheme "h"');
    expect(reason('http://h/v2')).toBe('path, query, or fragment at end of the URI');
    expect(reason('http://u:p@h')).toBe('username/password not allowed in URI');
    expect(reason(':5000')).toBe('not a valid URI: missing protocol scheme');
    expect(reason('a:b/c:d')).toBe('unsupported scheme "a"');
    expect(reason('1http://h')).toBe('not a valid URI: first path segment in URL cannot contain colon');
  });
});

// moby's own TestValidateMirror table for 25.0+, where a path is allowed.
describe('dockerdValidateMirror, 25.0 and later', () => {
  it.each([
    ['http://mirror-1.example.com', 'http://mirror-1.example.com/'],
    ['https://mirror-1.example.com/', 'https://mirror-1.example.com/'],
    ['http://localhost:5000', 'http://localhost:5000/'],
    ['https://127.0.0.1:5000', 'https://127.0.0.1:5000/'],
    ['http://mirror-1.example.com/v1/', 'http://mirror-1.example.com/v1/'],
    ['https://mirror-1.example.com/v1', 'https://mirror-1.example.com/v1/'],
  ])('accepts %j as %j', (input, value) => expect(dockerdValidateMirror(input, '25')).toEqual({ accepted: true, value }));
  it.each([
    ['!invalid!://%as%', 'not a valid URI'],
    ['mirror-1.example.com', 'no scheme specified'],
    ['mirror-1.example.com:5000', 'no scheme specified'],
    ['://h', 'no scheme specified'],
    ['ftp://mirror-1.example.com', 'unsupported scheme'],
    ['http://mirror-1.example.com/?q=foo', 'query or fragment'],
    ['http://mirror-1.example.com/v1/?q=foo#frag', 'query or fragment'],
    ['http://mirror-1.example.com/#frag', 'query or fragment'],
    ['http://user:password@mirror-1.example.com', 'username/password'],
  ])('refuses %j (%s)', (input, why) => {
    const v = dockerdValidateMirror(input, '25');
    expect(v.accepted).toBe(false);
    expect(v.accepted ? '' : v.reason).toContain(why);
  });
});

const parsed = (s: string): GoUrl => {
  const r = goParseUrl(s);
  if (!r.ok) throw new Error(r.error);
  return r.url;
};
const error = (s: string): string => {
  const r = goParseUrl(s);
  return r.ok ? 'parsed' : r.error;
};

describe('goParseUrl: net/url.Parse field by field', () => {
  it('splits scheme (lowercased), authority, path, query and fragment', () => {
    expect(parsed('HtTp://u:p@Host:5000/a/b?x=1#frag')).toEqual({ scheme: 'http', opaque: '', hasUser: true, rawHost: 'Host:5000', rawPath: '/a/b', rawQuery: 'x=1', fragment: 'frag' });
    expect(parsed('http://h')).toEqual({ scheme: 'http', opaque: '', hasUser: false, rawHost: 'h', rawPath: '', rawQuery: '', fragment: '' });
    expect(parsed('http://h/')).toMatchObject({ rawHost: 'h', rawPath: '/' });
    expect(parsed('http://h:5000/x/y')).toMatchObject({ rawHost: 'h:5000', rawPath: '/x/y' });
  });
  it('keeps a lone trailing "?" out of the query (ForceQuery), and cuts at the first "?" otherwise', () => {
    expect(parsed('http://h/p?')).toMatchObject({ rawPath: '/p', rawQuery: '' });
    expect(parsed('http://h/p??')).toMatchObject({ rawPath: '/p', rawQuery: '?' });
    expect(parsed('http://h/p?a?b')).toMatchObject({ rawPath: '/p', rawQuery: 'a?b' });
  });
  it('cuts the fragment at the first "#", before anything else', () => {
    expect(parsed('http://h/p#a#b')).toMatchObject({ rawPath: '/p', fragment: 'a#b' });
    expect(parsed('http://h#?x')).toMatchObject({ rawHost: 'h', rawQuery: '', fragment: '?x' });
    expect(parsed('http://h/#')).toMatchObject({ rawPath: '/', fragment: '' });
    // A control character after "#" is not checked (only the part before it is).
    expect(parsed('http://h#\t')).toMatchObject({ fragment: '\t' });
  });
  it('reads "scheme:rest" without a leading slash as opaque, and "scheme:/p" as a path without host', () => {
    expect(parsed('http:h:5000')).toMatchObject({ scheme: 'http', opaque: 'h:5000', rawHost: '', rawPath: '' });
    expect(parsed('http:\\\\h')).toMatchObject({ opaque: '\\\\h' });
    expect(parsed('http:/h')).toMatchObject({ opaque: '', rawHost: '', rawPath: '/h' });
    expect(parsed('http:///h')).toMatchObject({ rawHost: '', rawPath: '/h' });
    expect(parsed('http:')).toMatchObject({ scheme: 'http', opaque: '', rawPath: '' });
  });
  it('without a scheme: a path, unless its first segment has a colon; "//" starts an authority, "///" does not', () => {
    expect(parsed('//h:1/p')).toMatchObject({ scheme: '', rawHost: 'h:1', rawPath: '/p' });
    expect(parsed('///h')).toMatchObject({ scheme: '', rawHost: '', rawPath: '///h' });
    expect(parsed('a/b:c')).toMatchObject({ scheme: '', rawPath: 'a/b:c' });
    expect(error('1a:b')).toBe('first path segment in URL cannot contain colon');
    expect(error('-h:5000')).toBe('first path segment in URL cannot contain colon');
    expect(parsed('h.example')).toMatchObject({ scheme: '', rawPath: 'h.example' });
    expect(parsed('')).toMatchObject({ scheme: '', rawPath: '' });
  });
  it('takes letters, then letters, digits, "+", "-" and "." as the scheme; anything else means no scheme', () => {
    expect(parsed('a1+.-b://h')).toMatchObject({ scheme: 'a1+.-b', rawHost: 'h' });
    expect(parsed('a_b/c')).toMatchObject({ scheme: '', rawPath: 'a_b/c' });
    expect(parsed('a b/c')).toMatchObject({ scheme: '' });
    expect(error(':x')).toBe('missing protocol scheme');
    expect(error('a_b:c')).toBe('first path segment in URL cannot contain colon');
  });
  it('refuses control characters before the fragment, DEL included, but not other bytes', () => {
    for (const c of ['\x00', '\x01', '\t', '\n', '\r', '\x1f', '\x7f']) expect(error(`http://h/${c}`)).toBe('net/url: invalid control character in URL');
    expect(parsed('http://h/ ')).toMatchObject({ rawPath: '/ ' });
    expect(parsed('http://h/é')).toMatchObject({ rawPath: '/é' });
  });
  it('checks the port: ":" and digits only, after the last colon or after "]"', () => {
    expect(parsed('http://h:')).toMatchObject({ rawHost: 'h:' });
    expect(parsed('http://h:0123456')).toMatchObject({ rawHost: 'h:0123456' });
    expect(error('http://h:5a')).toBe('invalid port ":5a" after host');
    expect(error('http://h:1:2:x')).toBe('invalid port ":x" after host');
    expect(error('http://h::')).toBe('parsed');
    expect(parsed('http://[::1]:5000')).toMatchObject({ rawHost: '[::1]:5000' });
    expect(parsed('http://[::1]')).toMatchObject({ rawHost: '[::1]' });
    expect(error('http://[::1]x')).toBe('invalid port "x" after host');
    expect(error('http://[::1')).toBe("missing ']' in host");
    expect(parsed('http://[zz]')).toMatchObject({ rawHost: '[zz]' });
  });
  it('lets only Go\'s host characters stand in a host, and any non-ASCII one', () => {
    expect(parsed(`http://a-b_c.d~!$&'()*+,;=<>"x`)).toMatchObject({ rawHost: `a-b_c.d~!$&'()*+,;=<>"x` });
    for (const c of [' ', '\\', '^', '`', '{', '|', '}']) expect(error(`http://a${c}b`)).toBe(`invalid character ${JSON.stringify(c)} in host name`);
    expect(parsed('http://ü.example')).toMatchObject({ rawHost: 'ü.example' });
  });
  it('allows %-escapes in a host only for bytes from 0x80, and %25; anywhere, an escape needs two hex digits', () => {
    expect(parsed('http://%C3%A9')).toMatchObject({ rawHost: '%C3%A9' });
    expect(parsed('http://%80%fF')).toMatchObject({ rawHost: '%80%fF' });
    expect(parsed('http://a%25b')).toMatchObject({ rawHost: 'a%25b' });
    expect(error('http://%7F')).toBe('invalid URL escape "%7F"');
    expect(error('http://%41')).toBe('invalid URL escape "%41"');
    expect(error('http://%0a')).toBe('invalid URL escape "%0a"');
    expect(error('http://a%')).toBe('invalid URL escape "%"');
    expect(error('http://a%4')).toBe('invalid URL escape "%4"');
    expect(error('http://a%g0')).toBe('invalid URL escape "%g0"');
    expect(error('http://h/%zz')).toBe('invalid URL escape "%zz"');
    expect(error('http://h/%4')).toBe('invalid URL escape "%4"');
    expect(error('http://h/%2F%41%')).toBe('invalid URL escape "%"');
    expect(parsed('http://h/%2F%41')).toMatchObject({ rawPath: '/%2F%41' });
    expect(error('http://h#%x')).toBe('invalid URL escape "%x"');
    expect(error('http:o#%')).toBe('invalid URL escape "%"');
    expect(parsed('http://[fe80::1%25en0]:1')).toMatchObject({ rawHost: '[fe80::1%25en0]:1' });
    expect(parsed('http://[fe80::1%25%41]')).toMatchObject({ rawHost: '[fe80::1%25%41]' });
  });
  it('splits user info at the last "@", and checks its characters and escapes', () => {
    expect(parsed('http://a@b@h')).toMatchObject({ hasUser: true, rawHost: 'h' });
    expect(parsed('http://@h')).toMatchObject({ hasUser: true, rawHost: 'h' });
    expect(parsed('http://u:p%41@h')).toMatchObject({ hasUser: true });
    expect(error('http://u p@h')).toBe('net/url: invalid userinfo');
    expect(error('http://ü@h')).toBe('net/url: invalid userinfo');
    expect(error('http://u%4@h')).toBe('invalid URL escape "%4"');
    expect(error('http://u@h^')).toBe('invalid character "^" in host name');
  });
});
