import { describe, expect, it } from 'vitest';
import { InvalidConfigError, InvalidMirrorError, UsageError } from '../../../src/errors.js';
import {
  checkProducedRegistries,
  mirrorLocation,
  parseRegistriesConf,
  planRegistriesAdd,
  planRegistriesRemove,
  registryNotes,
  settingsOf,
  type RegistriesConfDocument,
} from '../../../src/engines/podman/registries-conf.js';

const FILE = '/etc/containers/registries.conf';
const doc = (text: string): RegistriesConfDocument => parseRegistriesConf(FILE, Buffer.from(text));
const add = (text: string, url = 'http://127.0.0.1:5000', more: { registry?: string; position?: 'first' | 'last' } = {}): string | undefined =>
  planRegistriesAdd(doc(text), { registry: more.registry ?? 'docker.io', mirror: { url, plainHttp: url.startsWith('http://') }, ...(more.position ? { position: more.position } : {}) })?.toString('utf8');
const refusal = (text: string): InvalidConfigError => {
  try {
    doc(text);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidConfigError);
    return error as InvalidConfigError;
  }
  throw new Error('the file was accepted');
};

describe('reading', () => {
  it('gives each [[registry]] table its meaning, prefix defaulting to location, the registry\'s trailing slashes trimmed', () => {
    const d = doc([
      'unqualified-search-registries = ["docker.io"]',
      '[[registry]]',
      'location = "quay.io/"',
      'insecure = true',
      '[[registry]]',
      'prefix = "docker.io"',
      'location = "docker.io"',
      'mirror-by-digest-only = false',
      '[[registry.mirror]]',
      'location = "127.0.0.1:5000/"',
      'insecure = true',
      '[[registry.mirror]]',
      'location = "mirror.gcr.io"',
      'pull-from-mirror = "tag-only"',
      '',
    ].join('\n'));
    expect(settingsOf(d)).toEqual([
      { prefix: 'quay.io', location: 'quay.io', insecure: true, blocked: false, mirrorByDigestOnly: false, mirrors: [] },
      {
        prefix: 'docker.io', location: 'docker.io', insecure: false, blocked: false, mirrorByDigestOnly: false,
        mirrors: [{ location: '127.0.0.1:5000/', insecure: true }, { location: 'mirror.gcr.io', insecure: false, pullFromMirror: 'tag-only' }],
      },
    ]);
    expect(d.registries.map((r) => r.line)).toEqual([2, 5]);
  });

  it('reads inline registry arrays too', () => {
    expect(settingsOf(doc('registry = [{ location = "a.io", mirror = [{ location = "m:1", insecure = true }] }]\n'))).toEqual([
      { prefix: 'a.io', location: 'a.io', insecure: false, blocked: false, mirrorByDigestOnly: false, mirrors: [{ location: 'm:1', insecure: true }] },
    ]);
  });

  it.each([
    ['a v1 file', '# old\n[registries.search]\nregistries = ["docker.io"]\n', 2, /old v1 format/],
    ['a v1/v2 mix', '[[registry]]\nlocation = "a.io"\n[registries.insecure]\nregistries = ["b.io"]\n', 3, /mixes the v1 format/],
  ])('refuses %s with a hint that says how to convert', (_name, text, line, message) => {
    const error = refusal(text);
    expect(error.message).toMatch(message);
    expect(error.location).toMatchObject({ file: FILE, line });
    expect(error.hint).toContain('unqualified-search-registries');
  });

  it('accepts empty v1 sections, which podman reads as no v1 content', () => {
    expect(settingsOf(doc('[registries.search]\nregistries = []\n[[registry]]\nlocation = "a.io"\n'))).toHaveLength(1);
  });

  it.each([
    ['location = 5', '[[registry]]\nlocation = 5\n', 2, 1, /"registry\.location" must be a string, not a number/],
    ['insecure = "yes"', '[[registry]]\nlocation = "a.io"\n  insecure = "yes"\n', 3, 3, /must be a boolean, not a string/],
    ['a mirror location that is a table', '[[registry]]\nlocation = "a.io"\n[[registry.mirror]]\nlocation = { x = 1 }\n', 4, 1, /must be a string, not a table/],
    ['[registry] as one table', '[registry]\nlocation = "a.io"\n', 1, 1, /"registry" must be an array, not a table/],
    ['a search list of numbers', 'unqualified-search-registries = ["a.io", 3]\n', 1, 42, /must be a string, not a number/],
    ['a date as prefix', '[[registry]]\nprefix = 1979-05-27\nlocation = "a"\n', 2, 1, /not a date\/time/],
  ])('refuses a wrong type (%s) at its line and column', (_name, text, line, column, message) => {
    const error = refusal(text);
    expect(error.message).toMatch(message);
    expect(error.message).toContain(`${FILE}:${line}:${column}:`);
    expect(error.location).toEqual({ file: FILE, line, column });
  });

  it.each([
    ['a scheme in a location', '[[registry]]\nlocation = "https://quay.io"\n', /URI scheme/],
    ['a scheme in a mirror', '[[registry]]\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "http://127.0.0.1:5000"\n', /URI scheme/],
    ['a table with neither', '[[registry]]\ninsecure = true\n', /neither location nor prefix/],
    ['a prefix without location', '[[registry]]\nprefix = "a.io"\n', /has no location/],
    ['a mirror without location', '[[registry]]\nlocation = "a.io"\n[[registry.mirror]]\ninsecure = true\n', /has no location/],
    ['pull-from-mirror on the registry', '[[registry]]\nlocation = "a.io"\npull-from-mirror = "all"\n', /not for the registry/],
    ['a bad pull-from-mirror', '[[registry]]\nlocation = "a.io"\n[[registry.mirror]]\nlocation = "m"\npull-from-mirror = "some"\n', /unsupported pull-from-mirror/],
    ['digest-only with pull-from-mirror', '[[registry]]\nlocation = "a.io"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = "m"\npull-from-mirror = "all"\n', /may not set pull-from-mirror/],
    ['conflicting insecure', '[[registry]]\nlocation = "a.io"\n[[registry]]\nprefix = "a.io/x"\nlocation = "a.io"\ninsecure = true\n', /conflicting insecure/],
    ['a bad wildcard', '[[registry]]\nprefix = "*.a.io/x"\nlocation = "b"\n', /wildcard prefix/],
    ['a bad search registry', 'unqualified-search-registries = ["a.io/x"]\n', /unqualified-search-registries entry/],
    ['a bad short-name-mode', 'short-name-mode = "loose"\n', /short-name-mode/],
    ['invalid TOML', '[[registry]]\nlocation = \n', /invalid TOML/],
    ['a key twice', '[[registry]]\nlocation = "a"\nlocation = "b"\n', /invalid TOML/],
  ])('refuses %s, as podman does', (_name, text, message) => {
    const error = refusal(text);
    expect(error.message).toMatch(message);
    expect(error.message).toMatch(/^\/etc\/containers\/registries\.conf:\d+:\d+: /);
  });

  it('ignores keys podman does not know, as its decoder does', () => {
    expect(settingsOf(doc('x = 1\n[[registry]]\nlocation = "a.io"\nfoo = [1]\n[other]\ny = 2\n'))).toHaveLength(1);
  });
});

describe('adding a mirror', () => {
  it('creates the docker.io table (location docker.io) with an insecure mirror in an empty file', () => {
    expect(add('')).toBe('[[registry]]\nprefix = "docker.io"\nlocation = "docker.io"\n\n[[registry.mirror]]\nlocation = "127.0.0.1:5000"\ninsecure = true\n');
  });

  it('appends a new table after the rest of the file, keeping it byte for byte (CRLF, no final newline)', () => {
    const text = '# registries\r\nunqualified-search-registries = ["docker.io"] # search\r\n[aliases]\r\n"a" = "docker.io/library/a"';
    expect(add(text, 'https://mirror.gcr.io/', { registry: 'ghcr.io' })).toBe(
      `${text}\r\n\r\n[[registry]]\r\nprefix = "ghcr.io"\r\nlocation = "ghcr.io"\r\n\r\n[[registry.mirror]]\r\nlocation = "mirror.gcr.io"\r\n`,
    );
  });

  it('adds the mirror first in an existing table, after its own keys and their comments, before the other mirrors', () => {
    const text = '[[registry]]\nprefix = "docker.io"\nlocation = "docker.io" # upstream\n\n# our cache\n[[registry.mirror]]\nlocation = "cache:1"\n\n[[registry]]\nlocation = "quay.io"\n';
    expect(add(text)).toBe('[[registry]]\nprefix = "docker.io"\nlocation = "docker.io" # upstream\n\n[[registry.mirror]]\nlocation = "127.0.0.1:5000"\ninsecure = true\n\n# our cache\n[[registry.mirror]]\nlocation = "cache:1"\n\n[[registry]]\nlocation = "quay.io"\n');
  });

  it('adds the mirror last with position last', () => {
    const text = '[[registry]]\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "cache:1" # one\n[[registry]]\nlocation = "quay.io"\n';
    const out = add(text, 'https://m.example', { position: 'last' }) as string;
    expect(out).toBe('[[registry]]\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "cache:1" # one\n\n[[registry.mirror]]\nlocation = "m.example"\n[[registry]]\nlocation = "quay.io"\n');
    expect(settingsOf(doc(out))[0]?.mirrors.map((m) => m.location)).toEqual(['cache:1', 'm.example']);
  });

  it('finds a location-only table, and one whose prefix has a trailing slash, as the registry\'s', () => {
    expect(settingsOf(doc(add('[[registry]]\nlocation = "docker.io"\n') as string))).toHaveLength(1);
    const out = add('[[registry]]\nprefix = "docker.io/"\nlocation = "docker.io"\n') as string;
    expect(settingsOf(doc(out))).toEqual([expect.objectContaining({ prefix: 'docker.io', mirrors: [{ location: '127.0.0.1:5000', insecure: true }] })]);
  });

  it('does not take a docker.io/library table for docker.io, and says it shadows the mirror', () => {
    const text = '[[registry]]\nprefix = "docker.io/library"\nlocation = "docker.io/library"\n';
    const out = add(text) as string;
    expect(settingsOf(doc(out)).map((t) => t.prefix)).toEqual(['docker.io/library', 'docker.io']);
    expect(registryNotes(settingsOf(doc(out)), 'docker.io').join('\n')).toMatch(/prefix "docker\.io\/library" takes images under it/);
    expect(registryNotes(settingsOf(doc('[[registry]]\nlocation = "docker.io.evil"\n')), 'docker.io')).toEqual([]);
  });

  it('edits the first of two tables with the same prefix, the one podman uses', () => {
    const out = add('[[registry]]\nlocation = "docker.io"\n[[registry]]\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "x"\n') as string;
    expect(settingsOf(doc(out)).map((t) => t.mirrors.length)).toEqual([1, 1]);
    expect(settingsOf(doc(out))[0]?.mirrors[0]?.location).toBe('127.0.0.1:5000');
  });

  it('gives undefined when the mirror is already there, and sets insecure when an http mirror lacks it', () => {
    const there = '[[registry]]\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "127.0.0.1:5000"\ninsecure = true\n';
    expect(add(there)).toBeUndefined();
    expect(add(there, 'https://127.0.0.1:5000')).toBeUndefined();
    expect(add('[[registry]]\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "127.0.0.1:5000" # m\n')).toBe('[[registry]]\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "127.0.0.1:5000" # m\ninsecure = true\n');
    expect(add('[[registry]]\nlocation = "docker.io"\n[[registry.mirror]]\ninsecure = false\nlocation = "127.0.0.1:5000"\n')).toBe('[[registry]]\nlocation = "docker.io"\n[[registry.mirror]]\ninsecure = true\nlocation = "127.0.0.1:5000"\n');
  });

  it('carries a replaced table\'s settings and mirrors into a new table (a drop-in)', () => {
    const seed = { prefix: 'docker.io', location: 'registry-1.docker.io', insecure: false, blocked: false, mirrorByDigestOnly: true, mirrors: [{ location: 'old:1', insecure: true }] };
    const out = planRegistriesAdd(doc(''), { registry: 'docker.io', mirror: { url: 'http://new:2', plainHttp: true }, seed })?.toString() as string;
    expect(settingsOf(doc(out))).toEqual([{ ...seed, mirrors: [{ location: 'new:2', insecure: true }, { location: 'old:1', insecure: true }] }]);
  });

  it('refuses a file with a BOM, which podman refuses too', () => {
    expect(() => parseRegistriesConf(FILE, Buffer.from('\uFEFF# c\n'))).toThrow(/1:1: the file starts with a UTF-8 byte order mark/);
  });

  it('refuses to rewrite inline arrays', () => {
    expect(() => add('registry = [{ location = "docker.io" }]\n')).toThrow(/inline array/);
    expect(() => add('registry = [{ location = "quay.io" }]\n')).toThrow(/inline array/);
    expect(() => add('[[registry]]\nlocation = "docker.io"\nmirror = [{ location = "m" }]\n')).toThrow(InvalidConfigError);
  });

  it.each(['http://user:pw@m:1', 'https://m/x?y=1', 'ftp://m', 'http://', 'http://m/a b'])('refuses the mirror %s, which a location cannot hold', (url) => {
    expect(() => add('', url)).toThrow(InvalidMirrorError);
  });

  it('writes a mirror with a path as host:port/path and refuses a registry with a scheme', () => {
    expect(mirrorLocation('https://Mirror.example:8443/docker-hub/')).toBe('Mirror.example:8443/docker-hub');
    expect(() => add('', 'http://m:1', { registry: 'https://ghcr.io' })).toThrow(UsageError);
  });
});

describe('removing a mirror', () => {
  it('is the inverse of adding it, byte for byte, wherever it was added', () => {
    const texts = [
      '[[registry]]\nprefix = "docker.io"\nlocation = "docker.io" # upstream\n\n# our cache\n[[registry.mirror]]\nlocation = "cache:1"\n\n[[registry]]\nlocation = "quay.io"\n',
      '[[registry]]\r\nlocation = "docker.io"\r\n',
      '[[registry]]\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "c:1"',
    ];
    for (const text of texts) {
      for (const position of ['first', 'last'] as const) {
        const added = add(text, 'http://127.0.0.1:5000', { position }) as string;
        expect(planRegistriesRemove(doc(added), 'http://127.0.0.1:5000')?.toString()).toBe(text);
      }
    }
  });

  it('removes the mirror from the named registry only, and gives undefined when it is not listed', () => {
    const text = '[[registry]]\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "m:1"\n[[registry]]\nlocation = "ghcr.io"\n[[registry.mirror]]\nlocation = "m:1"\n';
    const out = planRegistriesRemove(doc(text), 'http://m:1', { registry: 'ghcr.io' })?.toString() as string;
    expect(settingsOf(doc(out)).map((t) => t.mirrors.length)).toEqual([1, 0]);
    expect(settingsOf(doc(planRegistriesRemove(doc(text), 'http://m:1')?.toString() as string)).map((t) => t.mirrors.length)).toEqual([0, 0]);
    expect(planRegistriesRemove(doc(text), 'http://other:1')).toBeUndefined();
  });

  it('removes a mirror table at the top of an otherwise empty document without leaving blank lines', () => {
    const d = doc('[[registry]]\nlocation = "a"\n[[registry.mirror]]\nlocation = "m"\n');
    expect(planRegistriesRemove(d, 'm')?.toString()).toBe('[[registry]]\nlocation = "a"\n');
  });
});

describe('checking what dockmirror produced', () => {
  const before = doc('[[registry]]\nlocation = "docker.io"\n[[registry]]\nlocation = "quay.io"\n');
  it('accepts a change to one registry\'s mirrors', () => {
    const bytes = planRegistriesAdd(before, { registry: 'quay.io', mirror: { url: 'http://m:1', plainHttp: true } }) as Buffer;
    expect(settingsOf(checkProducedRegistries(before, bytes, 'quay.io'))[1]?.mirrors).toHaveLength(1);
  });

  it.each([
    ['another key', '[[registry]]\nlocation = "docker.io"\n[[registry]]\nlocation = "quay.io"\nx = 1\n[a]\nb = 1\n', /outside the \[\[registry\]\] tables/],
    ['a registry setting', '[[registry]]\nlocation = "docker.io"\ninsecure = true\n[[registry]]\nlocation = "quay.io"\n', /settings of the registry docker\.io/],
    ['two registries', '[[registry]]\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "m"\n[[registry]]\nlocation = "quay.io"\n[[registry.mirror]]\nlocation = "m"\n', /more than one registry/],
    ['unparsable bytes', '[[registry]\n', /a file podman would refuse/],
    ['a table removed', '[[registry]]\nlocation = "docker.io"\n', /number of \[\[registry\]\] tables/],
  ])('refuses %s as a bug, before writing', (_name, text, message) => {
    expect(() => checkProducedRegistries(before, Buffer.from(text))).toThrow(message);
  });

  it('refuses a change to another registry than the one asked for', () => {
    const bytes = planRegistriesAdd(before, { registry: 'quay.io', mirror: { url: 'http://m:1', plainHttp: true } }) as Buffer;
    expect(() => checkProducedRegistries(before, bytes, 'docker.io')).toThrow(/instead of docker\.io/);
  });
});
