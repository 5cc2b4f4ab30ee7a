import { describe, expect, it } from 'vitest';
import { DockmirrorError } from '../../../src/errors.js';
import { checkRegistryName, hostsDirFor } from '../../../src/engines/containerd/hosts-dir.js';
import {
  checkProducedHosts,
  parseHostsToml,
  planHostsAdd,
  planHostsRemove,
  settingsOf,
  type HostsDocument,
} from '../../../src/engines/containerd/hosts-toml.js';

const FILE = '/etc/containerd/certs.d/docker.io/hosts.toml';
const doc = (text: string, registry = 'docker.io', exists = true): HostsDocument => parseHostsToml(FILE, Buffer.from(text), { registry, exists });
const local = { url: 'http://127.0.0.1:5000', plainHttp: true };
const added = (text: string, position?: 'first' | 'last', registry = 'docker.io'): string | undefined =>
  planHostsAdd(doc(text, registry), { mirror: local, ...(position ? { position } : {}) })?.toString('utf8');

function refusal(text: string): DockmirrorError {
  try {
    doc(text);
  } catch (error) {
    return error as DockmirrorError;
  }
  throw new Error(`accepted: ${text}`);
}

describe('settingsOf', () => {
  it('gives the upstream and the hosts in file order, as containerd tries them', () => {
    const settings = settingsOf(doc([
      'server = "https://registry-1.docker.io"',
      '[host."https://mirror.example.com"]',
      '  capabilities = ["pull", "Resolve"]',
      '[host."mirror.example.com".header]',
      '  x = "y"',
      '[host."http://10.0.0.1:5000"]',
      '  skip_verify = true',
      '',
    ].join('\n')));
    expect(settings).toEqual({
      registry: 'docker.io',
      server: 'https://registry-1.docker.io',
      mirrors: [
        { url: 'https://mirror.example.com', plainHttp: false, capabilities: ['pull', 'resolve'] },
        { url: 'https://mirror.example.com', plainHttp: false, capabilities: ['pull', 'resolve', 'push'] },
        { url: 'http://10.0.0.1:5000', plainHttp: true, capabilities: ['pull', 'resolve', 'push'] },
      ],
    });
  });

  it('falls back to the registry\'s default upstream when server is not set', () => {
    expect(settingsOf(doc('', 'docker.io', false)).server).toBe('https://registry-1.docker.io');
    expect(settingsOf(doc('', 'ghcr.io', false)).server).toBe('https://ghcr.io');
    expect(settingsOf(doc('', 'localhost:5000', false)).server).toBe('http://localhost:5000');
    expect(settingsOf(doc('server = "quay.io"', 'quay.io')).server).toBe('https://quay.io');
  });
});

describe('strict reading', () => {
  it.each([
    ['server = 1', 1, 10, 'server must be a string'],
    ['server = "a"\nserver = "b"', 2, 1, 'invalid TOML'],
    ['[host."http://a"]\ncapabilities = "pull"', 2, 16, 'must be a list of capabilities'],
    ['[host."http://a"]\ncapabilities = ["pull", "pul"]', 2, 25, 'unknown capability "pul"'],
    ['[host."http://a"]\ncapabilities = ["pull", 1]', 2, 25, 'found integer'],
    ['[host."http://a"]\nskip_verify = "yes"', 2, 15, 'must be true or false, not string'],
    ['[host."http://a"]\nca = 1', 2, 6, 'must be a file name or a list of file names'],
    ['[host."http://a"]\nca = ["a", 2]', 2, 12, 'found integer'],
    ['[host."http://a"]\nclient = [["a"]]', 2, 11, 'two file names'],
    ['[host."http://a"]\nclient = 3', 2, 10, 'client must be'],
    ['[host."http://a".header]\nx = 1', 2, 5, 'must be a string or a list of strings'],
    ['[host."http://a"]\nheader = "x"', 2, 10, 'must be a table of header values'],
    ['[host."http://a"]\ndial_timeout = "soon"', 2, 16, 'ParseDuration'],
    ['[host."http://a"]\noverride_path = 1', 2, 17, 'must be true or false'],
    ['host = 1', 1, 8, 'must be a table of [host."<url>"] tables'],
    ['host."http://a" = 1', 1, 19, 'must be a table of host settings'],
    ['[[host."http://a"]]', 1, 1, 'not an array of tables'],
    ['[host."http://a".ca]', 1, 1, 'must be a file name or a list of file names, not a table'],
    ['skip_verify = 0', 1, 15, 'skip_verify must be true or false'],
    ['[host."http://a"]\ncapabilities = ["pull"', 2, 23, 'invalid TOML'],
  ])('%j is refused at line %i column %i', (text, line, column, message) => {
    const error = refusal(text);
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toContain(`${FILE}:${line}:${column}: `);
    expect(error.message).toContain(message);
    expect(error.location).toMatchObject({ file: FILE, line, column });
    expect(error.hint).toMatch(/containerd/);
  });

  it('accepts every field in the forms containerd decodes, and ignores keys it does not know', () => {
    const text = [
      'server = "https://registry-1.docker.io"',
      'capabilities = ["pull", "resolve", "push"]',
      'unknown = { any = [1, "x"] }',
      '[header]',
      '  x = ["a", "b"]',
      '[host."https://m.example.com"]',
      '  capabilities = ["pull", "resolve", "referrers"]',
      '  ca = ["/a.crt", "b.crt"]',
      '  client = ["/c.pem", ["/d.cert", "/d.key"]]',
      '  skip_verify = false',
      '  override_path = true',
      '  dial_timeout = "1m30.5s"',
      '[host."https://n.example.com"]',
      '  header.authorization = "Basic x"',
      '[host."https://m.example.com".header]',
      '  y = "z"',
      '',
    ].join('\n');
    expect(settingsOf(doc(text)).mirrors.map((m) => m.url)).toEqual(['https://m.example.com', 'https://n.example.com']);
  });
});

describe('planHostsAdd', () => {
  it('writes a new file from scratch with the upstream as server', () => {
    expect(planHostsAdd(doc('', 'docker.io', false), { mirror: local })?.toString()).toBe(
      '# written by dockmirror\nserver = "https://registry-1.docker.io"\n\n[host."http://127.0.0.1:5000"]\n  capabilities = ["pull", "resolve"]\n',
    );
    expect(planHostsAdd(doc('', 'ghcr.io', false), { mirror: { url: 'https://m.example.com/ghcr', plainHttp: false } })?.toString()).toBe(
      '# written by dockmirror\nserver = "https://ghcr.io"\n\n[host."https://m.example.com/ghcr"]\n  capabilities = ["pull", "resolve"]\n',
    );
  });

  const existing = [
    '# docker.io mirrors', 'server = "https://registry-1.docker.io" # upstream', '', '# the office cache',
    '[host."https://cache.example.com"]', '    capabilities = ["pull", "resolve"] # no push', '', '# end', '',
  ].join('\n');

  it('puts the mirror first, above the comment that belongs to the first host, in the file\'s indentation', () => {
    expect(added(existing)).toBe([
      '# docker.io mirrors', 'server = "https://registry-1.docker.io" # upstream', '',
      '[host."http://127.0.0.1:5000"]', '    capabilities = ["pull", "resolve"]', '',
      '# the office cache', '[host."https://cache.example.com"]', '    capabilities = ["pull", "resolve"] # no push', '', '# end', '',
    ].join('\n'));
  });

  it('puts the mirror last, after the last host and before what follows it', () => {
    expect(added(existing, 'last')).toBe([
      '# docker.io mirrors', 'server = "https://registry-1.docker.io" # upstream', '', '# the office cache',
      '[host."https://cache.example.com"]', '    capabilities = ["pull", "resolve"] # no push', '',
      '[host."http://127.0.0.1:5000"]', '    capabilities = ["pull", "resolve"]', '', '# end', '',
    ].join('\n'));
  });

  it('appends to a file without hosts, adding the missing line ending', () => {
    expect(added('server = "https://registry-1.docker.io"')).toBe(
      'server = "https://registry-1.docker.io"\n\n[host."http://127.0.0.1:5000"]\n  capabilities = ["pull", "resolve"]\n',
    );
  });

  it('finds the top of a file that starts with a blank line and a comment (found by the property test: it looped)', () => {
    expect(added('\n# top\n[host."https://a"]\n')).toBe('\n[host."http://127.0.0.1:5000"]\n  capabilities = ["pull", "resolve"]\n\n# top\n[host."https://a"]\n');
  });

  it('keeps CRLF and the BOM', () => {
    const bytes = Buffer.from('\uFEFFserver = "https://registry-1.docker.io"\r\n\r\n[host."https://a.example.com"]\r\n  capabilities = ["pull"]\r\n');
    const out = planHostsAdd(parseHostsToml(FILE, bytes, { registry: 'docker.io' }), { mirror: local, position: 'last' }) as Buffer;
    expect(out.toString()).toBe(`${bytes.toString()}\r\n[host."http://127.0.0.1:5000"]\r\n  capabilities = ["pull", "resolve"]\r\n`);
    expect(out.subarray(0, 3).toString('hex')).toBe('efbbbf');
  });

  it('is idempotent: the same mirror spelled another way is already there', () => {
    const once = added(existing) as string;
    for (const url of ['http://127.0.0.1:5000', 'HTTP://127.0.0.1:5000/', 'http://127.0.0.1:5000/v2']) {
      expect(planHostsAdd(doc(once), { mirror: { url, plainHttp: true }, position: 'last' })).toBeUndefined();
    }
  });

  it('refuses a URL whose scheme disagrees with plainHttp, and URLs that cannot be a key', () => {
    expect(() => planHostsAdd(doc(''), { mirror: { url: 'http://a:5000', plainHttp: false } })).toThrow(/plain HTTP/);
    expect(() => planHostsAdd(doc(''), { mirror: { url: 'https://a', plainHttp: true } })).toThrow(/not plain HTTP/);
    for (const url of ['ftp://a', 'http://a b', 'http://a"]\nx', 'http://', 'http://a?x=1']) {
      expect(() => planHostsAdd(doc(''), { mirror: { url, plainHttp: true } })).toThrow(/cannot be a containerd mirror/);
    }
  });

  it('refuses to edit hosts written as dotted keys or inline tables, naming where', () => {
    for (const text of ['host."http://a".capabilities = ["pull"]', 'host = { "http://a" = { capabilities = ["pull"] } }', '[host]\n"http://a" = { skip_verify = true }']) {
      expect(() => planHostsAdd(doc(text), { mirror: local })).toThrow(/:1:1: this file defines hosts with dotted keys|:2:1: this file/);
    }
  });
});

describe('planHostsRemove', () => {
  it('removes the table and its subtables, and nothing else', () => {
    const text = [
      'server = "https://registry-1.docker.io"', '', '[host."https://a.example.com"]', '  capabilities = ["pull"]', '',
      '# ours', '[host."http://127.0.0.1:5000"]', '  capabilities = ["pull", "resolve"]', '', '[host."https://b.example.com"]', '',
      '[host."http://127.0.0.1:5000".header]', '  x = "y"', '',
    ].join('\n');
    expect(planHostsRemove(doc(text), 'http://127.0.0.1:5000/')?.toString()).toBe([
      'server = "https://registry-1.docker.io"', '', '[host."https://a.example.com"]', '  capabilities = ["pull"]', '',
      '# ours', '[host."https://b.example.com"]', '',
    ].join('\n'));
  });

  it('is undefined when the mirror is not there', () => {
    expect(planHostsRemove(doc('[host."https://a"]'), 'http://127.0.0.1:5000')).toBeUndefined();
    expect(planHostsRemove(doc('', 'docker.io', false), 'http://127.0.0.1:5000')).toBeUndefined();
  });

  it('undoes an add byte for byte, first and last', () => {
    const text = '# top\nserver = "https://registry-1.docker.io"\n[host."https://a"]\n  capabilities = ["pull"]\n\n\n';
    for (const position of ['first', 'last'] as const) {
      const once = added(text, position) as string;
      expect(planHostsRemove(doc(once), local.url)?.toString()).toBe(text);
    }
  });
});

describe('checkProducedHosts', () => {
  it('accepts what the planners produce', () => {
    const before = doc('server = "https://registry-1.docker.io"\n[host."https://a"]\n');
    const after = checkProducedHosts(before, planHostsAdd(before, { mirror: local }) as Buffer);
    expect(settingsOf(after).mirrors.map((m) => m.url)).toEqual(['http://127.0.0.1:5000', 'https://a']);
    expect(checkProducedHosts(after, planHostsRemove(after, local.url) as Buffer).hosts).toHaveLength(1);
  });

  it.each([
    ['bytes that do not parse', 'server = \n', /does not parse/],
    ['a change to a key outside the host tables', 'server = "https://other"\n[host."https://a"]\n', /changes outside/],
    ['no change at all', 'server = "https://registry-1.docker.io"\n[host."https://a"]\n', /0 hosts/],
    ['two hosts added', 'server = "https://registry-1.docker.io"\n[host."http://b"]\n[host."http://c"]\n[host."https://a"]\n', /2 hosts/],
    ['a host changed on the way', 'server = "https://registry-1.docker.io"\n[host."http://b"]\ncapabilities = ["pull", "resolve"]\n[host."https://a"]\nskip_verify = true\n', /changes outside/],
    ['a mirror without its capabilities', 'server = "https://registry-1.docker.io"\n[host."http://b"]\n[host."https://a"]\n', /without capabilities/],
  ])('refuses %s as a bug', (_name, bytes, message) => {
    const before = doc('server = "https://registry-1.docker.io"\n[host."https://a"]\n');
    expect(() => checkProducedHosts(before, Buffer.from(bytes))).toThrow(message);
    expect(() => checkProducedHosts(before, Buffer.from(bytes))).toThrow(expect.objectContaining({ code: 'UNEXPECTED', hint: expect.stringContaining('bug') }));
  });
});

describe('hostsDirFor', () => {
  const none = (): boolean => false;
  it('names the folder containerd reads', () => {
    expect(hostsDirFor('/etc/containerd/certs.d', 'docker.io', { platform: 'linux', exists: none })).toBe('/etc/containerd/certs.d/docker.io');
    expect(hostsDirFor('/c', '127.0.0.1:5000', { platform: 'linux', exists: none })).toBe('/c/127.0.0.1:5000');
    expect(hostsDirFor('/c', '127.0.0.1:5000', { platform: 'linux', exists: (d) => d === '/c/127.0.0.1_5000_' })).toBe('/c/127.0.0.1_5000_');
    expect(hostsDirFor('C:\\ProgramData\\docker\\certs.d', 'reg.example.com:5000', { platform: 'win32', exists: none })).toBe('C:\\ProgramData\\docker\\certs.d\\reg.example.com_5000_');
    expect(hostsDirFor('C:\\c', 'ghcr.io', { platform: 'win32' })).toBe('C:\\c\\ghcr.io');
    expect(hostsDirFor('/c', '[::1]:5000', { platform: 'linux', exists: none })).toBe('/c/[::1]:5000');
  });

  it.each(['..', '.', '', 'a/b', '../etc', 'a\\b', 'a\0b', '_default', 'http://ghcr.io', 'ghcr.io/', 'a..b', '-a.io', 'a:99999', 'a:', ' ghcr.io', 'x'.repeat(300)])(
    'refuses %j as a registry name',
    (name) => {
      expect(() => checkRegistryName(name)).toThrow(/is not a registry name/);
      expect(() => hostsDirFor('/c', name)).toThrow(expect.objectContaining({ code: 'USAGE' }));
    },
  );
});
